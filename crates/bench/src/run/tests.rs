use super::*;

#[test]
fn the_listening_line_gives_the_address() {
    let addr =
        parse_listening_line("listening on http://127.0.0.1:41234 (1981 reachable pages)").unwrap();
    assert_eq!(addr, "127.0.0.1:41234".parse().unwrap());
    assert!(parse_listening_line("starting up").is_err());
    assert!(parse_listening_line("listening on http://localhost (1 reachable pages)").is_err());
}

#[test]
fn usage_survives_the_trip_through_json() {
    let usage = Usage {
        wall: Duration::from_micros(1_500_000),
        cpu: Duration::from_micros(2_250_000),
        max_rss_kib: 81_920,
        exit_code: Some(0),
    };
    let text = usage_to_json(&usage).to_string();
    assert_eq!(usage_from_json(&text).unwrap(), usage);
    assert!(usage_from_json("{}").is_err());
}

#[test]
fn output_is_counted_against_the_ground_truth() {
    let truth: BTreeSet<String> = ["/", "/p/1", "/p/2", "/p/3"]
        .into_iter()
        .map(String::from)
        .collect();
    let jsonl = r#"{"url":"http://h:1/","status":200,"error":null}
{"url":"http://h:1/p/1","status":200,"error":null}
{"url":"http://h:1/p/1","status":200,"error":null}
{"url":"http://h:1/robots.txt","status":404,"error":null}
{"url":"http://h:1/p/2","status":null,"error":{"kind":"timeout","message":"x"}}
{"url":"http://other:1/p/3","status":200,"error":null}
"#;
    let output = analyse_output(jsonl, &site_urls("http://h:1", &truth)).unwrap();
    assert_eq!(
        output,
        CrawlOutput {
            records: 6,
            distinct: 5,
            ok: 4,
            errors: 1,
            covered: 3,
            truth: 4,
        }
    );
    assert_eq!(output.duplicates(), 1);
    assert!((output.coverage() - 0.75).abs() < 1e-12);
    assert!(analyse_output("not json\n", &site_urls("http://h:1", &truth)).is_err());
}

fn paths(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|path| (*path).to_owned()).collect()
}

#[test]
fn the_virtual_hosts_line_is_checked() {
    let line = "virtual hosts h0.test … h999.test on port 41234 (e.g. http://h0.test:41234/)";
    check_vhosts_line(line, 1000, 41234).unwrap();
    assert!(check_vhosts_line(line, 100, 41234).is_err());
    assert!(check_vhosts_line(line, 1000, 41235).is_err());
    assert!(
        check_vhosts_line("listening on http://127.0.0.1:1 (1 reachable pages)", 2, 1).is_err()
    );
}

#[test]
fn every_virtual_host_gets_a_seed_a_resolve_and_its_pages() {
    assert_eq!(
        vhost_seeds(3, 8080),
        "http://h0.test:8080/\nhttp://h1.test:8080/\nhttp://h2.test:8080/\n"
    );
    assert_eq!(
        resolve_config(2, 8080, "127.0.0.1".parse().unwrap()),
        "resolve = [\n  \"h0.test:8080:127.0.0.1\",\n  \"h1.test:8080:127.0.0.1\",\n]\n"
    );
    let urls = vhost_urls(2, 8080, &paths(&["/", "/p/1"]));
    let expected: HashSet<String> = [
        "http://h0.test:8080/",
        "http://h0.test:8080/p/1",
        "http://h1.test:8080/",
        "http://h1.test:8080/p/1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(urls, expected);
}

#[test]
fn output_on_virtual_hosts_is_counted_per_host() {
    let truth = vhost_urls(2, 9, &paths(&["/", "/p/1"]));
    // The same path on another host is another page; a host beyond the
    // site's and the default host are not pages of it.
    let jsonl = r#"{"url":"http://h0.test:9/","status":200,"error":null}
{"url":"http://h1.test:9/","status":200,"error":null}
{"url":"http://h1.test:9/p/1","status":200,"error":null}
{"url":"http://h1.test:9/p/1","status":200,"error":null}
{"url":"http://h2.test:9/p/1","status":200,"error":null}
{"url":"http://127.0.0.1:9/p/1","status":200,"error":null}
"#;
    let output = analyse_output(jsonl, &truth).unwrap();
    assert_eq!(output.covered, 3);
    assert_eq!(output.truth, 4);
    assert_eq!(output.duplicates(), 1);
}

#[test]
fn crawl_arguments_lift_or_keep_politeness_by_mode() {
    let plain = crawl_args(&Options::default(), "s.txt", "o.jsonl", None);
    assert_eq!(
        plain.join(" "),
        "crawl s.txt -o o.jsonl -c 64 --quiet --per-host-concurrency 64 --per-host-rate 0"
    );
    let rate = Options {
        per_host_rate: 1000.0,
        max_pages: Some(5001),
        ..Options::default()
    };
    assert_eq!(
        crawl_args(&rate, "s.txt", "o.jsonl", None).join(" "),
        "crawl s.txt -o o.jsonl -c 64 --quiet --per-host-concurrency 64 --per-host-rate 1000 \
         --max-pages 5001"
    );
    let options = Options {
        concurrency: 256,
        many_hosts: Some(ManyHosts {
            hosts: 2,
            rate: 2.0,
            per_host_concurrency: 2,
        }),
        ..Options::default()
    };
    let many = crawl_args(&options, "s.txt", "o.jsonl", Some("trawl.toml"));
    assert_eq!(
        many.join(" "),
        "crawl s.txt -o o.jsonl -c 256 --quiet --per-host-concurrency 2 --per-host-rate 2 \
         --config trawl.toml"
    );
    let half = Options {
        many_hosts: Some(ManyHosts {
            hosts: 2,
            rate: 0.5,
            per_host_concurrency: 1,
        }),
        ..Options::default()
    };
    assert!(
        crawl_args(&half, "s", "o", Some("t"))
            .join(" ")
            .contains("--per-host-concurrency 1 --per-host-rate 0.5 ")
    );
}

#[test]
fn listen_overflows_are_read_from_proc_net_netstat() {
    let netstat = "\
TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops
TcpExt: 0 0 389 389
IpExt: InNoRoutes ListenOverflows
IpExt: 0 7
";
    assert_eq!(listen_overflows(netstat), Some(389));
    assert_eq!(listen_overflows("IpExt: A\nIpExt: 1\n"), None);
    assert_eq!(listen_overflows("TcpExt: A B\nTcpExt: 1 2\n"), None);
    assert_eq!(listen_overflows(""), None);
}
