use super::*;

fn parse_strs(args: &[&str]) -> Result<Command> {
    parse(args.iter().map(|s| (*s).to_owned()))
}

#[test]
fn no_arguments_give_the_defaults() {
    assert_eq!(parse_strs(&[]).unwrap(), Command::Bench(Options::default()));
    let defaults = Options::default();
    assert_eq!(defaults.pages, 20_000);
    assert_eq!(defaults.page_bytes, 20_000);
    assert_eq!(defaults.links, 10);
    assert_eq!(defaults.concurrency, 64);
    assert_eq!(defaults.seed, 1);
    assert_eq!(defaults.trawl, PathBuf::from("target/release/trawl"));
    assert_eq!(defaults.baseline, None);
}

#[test]
fn every_flag_is_read() {
    let command = parse_strs(&[
        "--pages",
        "2000",
        "--page-bytes",
        "512",
        "--links",
        "3",
        "--seed",
        "7",
        "--concurrency",
        "8",
        "--trawl",
        "/x/trawl",
        "--testsite",
        "/x/site",
        "--baseline",
        "/old/trawl",
        "--timeout",
        "30",
        "--trawl-arg=--delay-factor=0",
        "--trawl-arg",
        "--retries",
        "--rounds=5",
        "--delay-factor",
        "1.5",
        "--profile=realistic",
        "--json",
    ])
    .unwrap();
    assert_eq!(
        command,
        Command::Bench(Options {
            pages: 2000,
            page_bytes: 512,
            links: 3,
            seed: 7,
            concurrency: 8,
            trawl: PathBuf::from("/x/trawl"),
            testsite: PathBuf::from("/x/site"),
            baseline: Some(PathBuf::from("/old/trawl")),
            timeout: Duration::from_secs(30),
            trawl_args: vec!["--delay-factor=0".into(), "--retries".into()],
            json: true,
            rounds: 5,
            delay_factor: 1.5,
            profile: PageProfile::Realistic,
            ..Options::default()
        })
    );
}

#[test]
fn the_real_pages_mode_takes_a_folder_a_start_and_a_limit() {
    let parse = |args: &[&str]| parse(args.iter().map(|arg| arg.to_string()));
    match parse(&["--dir", "/docs", "--start", "/std/index.html"]).unwrap() {
        Command::Bench(options) => {
            assert_eq!(options.dir, Some(PathBuf::from("/docs")));
            assert_eq!(options.start, "/std/index.html");
            assert_eq!(options.max_pages, Some(20_000), "a limit by default");
        }
        other => panic!("{other:?}"),
    }
    match parse(&["--dir", "/docs", "--max-pages", "500"]).unwrap() {
        Command::Bench(options) => assert_eq!(options.max_pages, Some(500)),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["--dir", "/docs", "--start", "std"]).is_err());
    assert!(parse(&["--dir", "/docs", "--hosts", "10"]).is_err());
    assert!(parse(&["--dir", "/docs", "--max-pages", "many"]).is_err());
}

#[test]
fn the_peer_is_a_single_host_measurement() {
    let parse = |args: &[&str]| parse(args.iter().map(|arg| arg.to_string()));
    match parse(&["--peer", "/x/spider-peer"]).unwrap() {
        Command::Bench(options) => {
            assert_eq!(options.peer, Some(PathBuf::from("/x/spider-peer")))
        }
        other => panic!("{other:?}"),
    }
    for mode in [["--hosts", "10"], ["--rates", "1,2"]] {
        let error = parse(&["--peer", "p", mode[0], mode[1]]).unwrap_err();
        assert!(error.to_string().contains("single-host"), "{error}");
    }
}

#[test]
fn help_wins_and_mentions_every_flag() {
    assert_eq!(
        parse_strs(&["--pages", "5", "--help"]).unwrap(),
        Command::Help
    );
    assert_eq!(parse_strs(&["-h"]).unwrap(), Command::Help);
    for flag in [
        "--pages",
        "--page-bytes",
        "--links",
        "--seed",
        "--concurrency",
        "--trawl",
        "--testsite",
        "--baseline",
        "--timeout",
        "--trawl-arg",
        "--json",
        "--hosts",
        "--per-host-rate",
        "--per-host-concurrency",
        "--delay-factor",
        "--profile",
        "--rates",
        "--rate-seconds",
    ] {
        assert!(HELP.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn bad_input_is_an_error() {
    for args in [
        &["--pages"][..],
        &["--pages", "many"],
        &["--pages", "-1"],
        &["--pages", "0"],
        &["--concurrency", "0"],
        &["--frobnicate", "1"],
        &["--hosts", "0"],
        &["--hosts", "1"],
        &["--hosts", "many"],
        &["--hosts", "10", "--per-host-rate", "0"],
        &["--hosts", "10", "--per-host-rate", "-2"],
        &["--hosts", "10", "--per-host-rate", "NaN"],
        &["--hosts", "10", "--per-host-rate", "inf"],
        &["--hosts", "10", "--per-host-concurrency", "0"],
        &["--per-host-rate", "2"],
        &["--per-host-concurrency", "2"],
    ] {
        assert!(parse_strs(args).is_err(), "{args:?} should fail");
    }
}

fn many_hosts(command: Command) -> (Options, ManyHosts) {
    match command {
        Command::Bench(options) => {
            let many = options.many_hosts.clone().expect("many-hosts mode");
            (options, many)
        }
        other => panic!("not a benchmark: {other:?}"),
    }
}

#[test]
fn the_single_host_mode_measures_realistic_pages_at_default_pacing() {
    let Command::Bench(options) = parse_strs(&[]).unwrap() else {
        panic!("not a benchmark");
    };
    assert_eq!(options.profile, PageProfile::Realistic);
    assert_eq!(options.delay_factor, 1.0);
    let (options, _) = many_hosts(
        parse_strs(&[
            "--hosts",
            "10",
            "--profile",
            "realistic",
            "--delay-factor",
            "1",
        ])
        .unwrap(),
    );
    assert_eq!(
        (options.profile, options.delay_factor),
        (PageProfile::Realistic, 1.0),
        "explicit flags win"
    );
}

#[test]
fn hosts_turns_on_the_many_hosts_mode_with_its_defaults() {
    let (options, many) = many_hosts(parse_strs(&["--hosts", "1000"]).unwrap());
    assert_eq!(
        many,
        ManyHosts {
            hosts: 1000,
            rate: 2.0,
            per_host_concurrency: 2,
        }
    );
    assert_eq!(options.pages, 20);
    assert_eq!(options.page_bytes, 2000);
    assert_eq!(options.concurrency, 256);
    assert_eq!(options.profile, PageProfile::Uniform);
    assert_eq!(options.delay_factor, 0.0);
    // The rest keeps the ordinary defaults.
    assert_eq!(options.links, 10);
    assert_eq!(options.seed, 1);
    assert_eq!(options.timeout, Duration::from_secs(600));
}

#[test]
fn explicit_flags_win_over_the_many_hosts_defaults_in_any_order() {
    let (options, many) = many_hosts(
        parse_strs(&[
            "--pages",
            "50",
            "--hosts=100",
            "--per-host-rate",
            "0.5",
            "--page-bytes=700",
            "--concurrency",
            "64",
            "--per-host-concurrency",
            "1",
            "--json",
        ])
        .unwrap(),
    );
    assert_eq!(
        many,
        ManyHosts {
            hosts: 100,
            rate: 0.5,
            per_host_concurrency: 1,
        }
    );
    assert_eq!(options.pages, 50);
    assert_eq!(options.page_bytes, 700);
    assert_eq!(options.concurrency, 64);
    assert!(options.json);
}

#[test]
fn rates_turn_on_the_rate_mode_with_its_defaults() {
    let Command::Bench(options) = parse_strs(&["--rates", "1,100, 1000,0"]).unwrap() else {
        panic!("a benchmark");
    };
    assert_eq!(options.rates, Some(vec![1.0, 100.0, 1000.0, 0.0]));
    assert_eq!((options.pages, options.page_bytes), (60_000, 2000));
    assert_eq!(options.rate_seconds, 5);
    let Command::Bench(options) =
        parse_strs(&["--pages=10", "--rates=5", "--rate-seconds", "2"]).unwrap()
    else {
        panic!("a benchmark");
    };
    assert_eq!((options.pages, options.rate_seconds), (10, 2));
    assert!(parse_strs(&["--rates", "1,x"]).is_err());
    assert!(parse_strs(&["--rates", "-1"]).is_err());
    assert!(parse_strs(&["--rates", "1", "--hosts", "2"]).is_err());
    assert!(parse_strs(&["--rates", "1", "--rate-seconds", "0"]).is_err());
    assert!(parse_strs(&["--delay-factor", "-1"]).is_err());
    assert!(parse_strs(&["--profile", "fancy"]).is_err());
}

#[test]
fn measure_mode_takes_the_rest_verbatim() {
    assert_eq!(
        parse_strs(&[MEASURE, "60", "/bin/trawl", "crawl", "--json", "-q"]).unwrap(),
        Command::Measure {
            timeout: Duration::from_secs(60),
            program: PathBuf::from("/bin/trawl"),
            args: vec!["crawl".into(), "--json".into(), "-q".into()],
        }
    );
    assert!(parse_strs(&[MEASURE, "soon", "/bin/true"]).is_err());
    assert!(parse_strs(&[MEASURE, "60"]).is_err());
}
