use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;

use super::*;
use crate::cli::{Command, CrawlArgs};

/// A scratch folder whose `trawl.toml` (if any) is the default file.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(file: Option<&str>) -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(text) = file {
            std::fs::write(dir.path().join(DEFAULT_FILE), text).expect("write trawl.toml");
        }
        Scratch { dir }
    }

    fn default_file(&self) -> PathBuf {
        self.dir.path().join(DEFAULT_FILE)
    }

    /// `path:line`, as the file's origin shows.
    fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.default_file().display())
    }

    fn resolve(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Resolved, LayerError> {
        let argv: Vec<OsString> = ["trawl"].iter().chain(args).map(OsString::from).collect();
        let first = Cli::command()
            .try_get_matches_from(&argv)
            .expect("the real command line parses");
        let env = env
            .iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value)));
        resolve(&argv, &first, env, &self.default_file())
    }

    fn crawl(&self, args: &[&str], env: &[(&str, &str)]) -> (CrawlArgs, Report) {
        let resolved = self
            .resolve(args, env)
            .unwrap_or_else(|error| panic!("resolve {args:?}: {error}"));
        match resolved.cli.command {
            Command::Crawl(args) | Command::Config(args) => (args, resolved.report),
            other => panic!("not a crawl: {other:?}"),
        }
    }

    fn error(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        match self.resolve(args, env) {
            Ok(_) => panic!("{args:?} {env:?} should be refused"),
            Err(error) => error.0,
        }
    }
}

fn file_origin(path: &Path, line: usize) -> Origin {
    Origin::File {
        path: path.display().to_string(),
        line,
    }
}

#[test]
fn every_flag_has_a_key_and_a_variable() {
    let keys = keys();
    let names: Vec<&str> = keys.iter().map(|key| key.name.as_str()).collect();
    for expected in [
        "seeds",
        "output",
        "per_host_rate",
        "max_depth",
        "ignore_robots",
        "include",
        "header",
        "field",
        "auth",
        "allow_address",
        "warc_max_size",
        "quiet",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"config") && !names.contains(&"no_config"));
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "key names are unique");
    let kind = |name: &str| keys.iter().find(|key| key.name == name).unwrap().kind;
    assert_eq!(kind("ignore_robots"), Kind::Switch);
    assert_eq!(kind("header"), Kind::List);
    assert_eq!(kind("max_depth"), Kind::Value);
    assert_eq!(kind("seeds"), Kind::Value);
    let header = keys.iter().find(|key| key.name == "header").unwrap();
    assert_eq!(header.env_var(), "TRAWL_HEADER");
    assert_eq!(header.flag(), "--header");
    assert!(
        keys.iter().all(|key| key.env_var() != CONFIG_VAR),
        "TRAWL_CONFIG is not a setting"
    );
}

#[test]
fn other_commands_are_left_alone() {
    // Even a broken trawl.toml and variables do not touch `trawl man`.
    let scratch = Scratch::new(Some("nonsense = 1\n"));
    let resolved = scratch
        .resolve(&["man"], &[("TRAWL_MAX_PAGES", "lots")])
        .expect("man is not a crawl");
    assert!(matches!(resolved.cli.command, Command::Man));
}

#[test]
fn without_file_or_variables_everything_is_a_default() {
    let scratch = Scratch::new(None);
    let (args, report) = scratch.crawl(&["crawl"], &[]);
    assert_eq!(report.file, FileUse::Absent);
    assert!(
        report
            .entries
            .iter()
            .all(|entry| entry.origin == Origin::Default)
    );
    assert_eq!(args.per_host_rate, 2.0);
    assert_eq!(args.seeds, PathBuf::from("seeds.txt"));
}

#[test]
fn levels_override_in_order_default_file_env_flag() {
    let scratch = Scratch::new(Some("max_pages = 3\nmax_depth = 1\nretries = 5\n"));
    let (args, report) = scratch.crawl(&["crawl"], &[]);
    assert_eq!(args.max_pages, Some(3));
    assert_eq!(args.max_depth, Some(1));
    assert_eq!(
        report.origin("max_pages"),
        &file_origin(&scratch.default_file(), 1)
    );
    assert_eq!(report.origin("max_redirects"), &Origin::Default);

    let env = [("TRAWL_MAX_PAGES", "4"), ("TRAWL_RETRIES", "6")];
    let (args, report) = scratch.crawl(&["crawl"], &env);
    assert_eq!(
        (args.max_pages, args.max_depth, args.retries),
        (Some(4), Some(1), 6)
    );
    assert_eq!(
        report.origin("max_pages"),
        &Origin::Env {
            var: "TRAWL_MAX_PAGES".into()
        }
    );

    let (args, report) = scratch.crawl(&["crawl", "--max-pages", "5"], &env);
    assert_eq!((args.max_pages, args.retries), (Some(5), 6));
    assert_eq!(
        report.origin("max_pages"),
        &Origin::CommandLine {
            flag: Some("--max-pages".into())
        }
    );
}

#[test]
fn a_flag_given_its_default_value_still_beats_the_file() {
    // clap issue 6162's trap in reverse: `--per-host-rate 2` equals the
    // default, and must still win over the file's 0.5.
    let scratch = Scratch::new(Some("per_host_rate = 0.5\noutput = \"x.jsonl\"\n"));
    let (args, _) = scratch.crawl(&["crawl", "--per-host-rate", "2"], &[]);
    assert_eq!(args.per_host_rate, 2.0);
    // ... and a clap default never hides a file's value.
    assert_eq!(args.output, PathBuf::from("x.jsonl"));
    let (args, _) = scratch.crawl(&["crawl"], &[("TRAWL_PER_HOST_RATE", "2")]);
    assert_eq!(args.per_host_rate, 2.0);
}

#[test]
fn repeatable_flags_are_replaced_by_a_higher_level_not_extended() {
    let scratch = Scratch::new(Some("include = [\"^a\", \"^b\"]\nheader = \"X-A: 1\"\n"));
    let (args, _) = scratch.crawl(&["crawl"], &[]);
    assert_eq!(args.include, ["^a", "^b"]);
    assert_eq!(args.headers, ["X-A: 1"], "one string is a list of one");

    let env = [("TRAWL_INCLUDE", "^c\r\n\n^d\n")];
    let (args, _) = scratch.crawl(&["crawl"], &env);
    assert_eq!(args.include, ["^c", "^d"], "one item per line");
    let (args, _) = scratch.crawl(&["crawl", "--include", "^e"], &env);
    assert_eq!(args.include, ["^e"]);
    assert_eq!(args.headers, ["X-A: 1"]);
}

#[test]
fn switches_can_be_turned_off_by_a_higher_level() {
    let scratch = Scratch::new(Some("ignore_robots = true\nsitemaps = true\n"));
    let (args, _) = scratch.crawl(&["crawl"], &[]);
    assert!(args.ignore_robots && args.sitemaps);
    let (args, report) = scratch.crawl(&["crawl"], &[("TRAWL_IGNORE_ROBOTS", "false")]);
    assert!(!args.ignore_robots && args.sitemaps);
    assert_eq!(
        report.origin("ignore_robots"),
        &Origin::Env {
            var: "TRAWL_IGNORE_ROBOTS".into()
        }
    );
    for on in ["1", "yes", "TRUE", "on"] {
        let (args, _) = Scratch::new(None).crawl(&["crawl"], &[("TRAWL_QUIET", on)]);
        assert!(args.quiet, "{on}");
    }
    let (args, _) = scratch.crawl(
        &["crawl", "--ignore-robots"],
        &[("TRAWL_IGNORE_ROBOTS", "0")],
    );
    assert!(args.ignore_robots);
}

#[test]
fn the_seeds_positional_has_a_key_too() {
    let scratch = Scratch::new(Some("seeds = \"-odd name.txt\"\n"));
    let (args, _) = scratch.crawl(&["crawl", "--quiet"], &[]);
    assert_eq!(args.seeds, PathBuf::from("-odd name.txt"));
    let (args, report) = scratch.crawl(&["crawl", "mine.txt"], &[("TRAWL_SEEDS", "env.txt")]);
    assert_eq!(args.seeds, PathBuf::from("mine.txt"));
    assert_eq!(report.origin("seeds"), &Origin::CommandLine { flag: None });
    let (args, _) = scratch.crawl(&["crawl", "--quiet"], &[("TRAWL_SEEDS", "env.txt")]);
    assert_eq!(args.seeds, PathBuf::from("env.txt"));
}

#[test]
fn values_keep_their_types_and_odd_characters() {
    let scratch = Scratch::new(Some(
        "concurrency = 0x10\nmax_body = 1048576\nper_host_rate = 1e-1\n\
         user_agent = \"bot/1 (--quiet; x=y)\"\noutput = \"-\"\n",
    ));
    let (args, _) = scratch.crawl(&["crawl"], &[]);
    assert_eq!(args.concurrency, 16);
    assert_eq!(args.max_body, "1048576");
    assert_eq!(args.per_host_rate, 0.1);
    assert_eq!(args.user_agent, "bot/1 (--quiet; x=y)");
    assert!(!args.quiet);
    assert_eq!(args.output, PathBuf::from("-"));
}

#[test]
fn choosing_the_file() {
    let scratch = Scratch::new(Some("max_pages = 1\n"));
    let other = scratch.dir.path().join("other.toml");
    std::fs::write(&other, "max_pages = 2\n").unwrap();
    let other_text = other.display().to_string();

    let (args, report) = scratch.crawl(&["crawl", "--no-config"], &[("TRAWL_CONFIG", &other_text)]);
    assert_eq!((args.max_pages, &report.file), (None, &FileUse::Disabled));
    let (args, _) = scratch.crawl(&["crawl", "--config", &other_text], &[]);
    assert_eq!(args.max_pages, Some(2));
    let (args, report) = scratch.crawl(&["crawl"], &[("TRAWL_CONFIG", &other_text)]);
    assert_eq!(args.max_pages, Some(2));
    assert_eq!(
        report.file,
        FileUse::Read {
            path: other_text.clone(),
            chosen_by: CONFIG_VAR
        }
    );
    assert_eq!(report.origin("max_pages"), &file_origin(&other, 1));
    let (args, _) = scratch.crawl(&["crawl"], &[("TRAWL_CONFIG", "")]);
    assert_eq!(args.max_pages, Some(1), "an empty TRAWL_CONFIG is unset");

    let missing = scratch
        .dir
        .path()
        .join("missing.toml")
        .display()
        .to_string();
    let error = scratch.error(&["crawl", "--config", &missing], &[]);
    assert!(
        error.starts_with(&format!("cannot read the config file {missing} (--config)")),
        "{error}"
    );
    let error = scratch.error(&["crawl"], &[("TRAWL_CONFIG", &missing)]);
    assert!(error.contains("(TRAWL_CONFIG)"), "{error}");
    // --no-config still applies the environment.
    let (args, _) = scratch.crawl(&["crawl", "--no-config"], &[("TRAWL_MAX_PAGES", "7")]);
    assert_eq!(args.max_pages, Some(7));
}

#[test]
fn file_mistakes_name_the_file_the_line_and_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "max_pages = 3\n\nper_host_rate = \"fast\"\n",
            ":3: per_host_rate: invalid value 'fast': invalid float literal",
        ),
        (
            "# comment\nper_host_rates = 1\n",
            ":2: per_host_rates: unknown key; did you mean 'per_host_rate'?",
        ),
        (
            "per-host-rate = 1\n",
            ":1: per-host-rate: unknown key; did you mean 'per_host_rate'?",
        ),
        (
            "scope = \"planet\"\n",
            ":1: scope: invalid value 'planet': possible values: host, domain, any",
        ),
        (
            "concurrency = 0\n",
            ":1: concurrency: invalid value '0': 0 is not in 1..=100000",
        ),
        ("max_depth = -1\n", ":1: max_depth: invalid value '-1'"),
        (
            "ignore_robots = \"yes\"\n",
            ":1: ignore_robots: expected true or false",
        ),
        (
            "max_pages = [1, 2]\n",
            ":1: max_pages: takes one value, not a list",
        ),
        (
            "user_agent = true\n",
            ":1: user_agent: expected a string or a number",
        ),
        (
            "include = [\n  \"^a\",\n  1979-05-27,\n]\n",
            ":3: include: expected a string or a number, not a date",
        ),
        (
            "\n[crawl]\nmax_pages = 3\n",
            ":2: crawl: the config file has no tables",
        ),
        (
            "max_pages = 3\nmax_pages = 4\n",
            ":2: not valid TOML: duplicate key",
        ),
        ("max_pages = \n", ":1: not valid TOML"),
    ];
    for (text, expected) in cases {
        let scratch = Scratch::new(Some(text));
        let error = scratch.error(&["crawl"], &[]);
        let expected = format!("{}{expected}", scratch.default_file().display());
        assert!(
            error.starts_with(&expected),
            "{text:?}:\n  got  {error}\n  want {expected}"
        );
    }
}

#[test]
fn variable_mistakes_name_the_variable() {
    let scratch = Scratch::new(None);
    let cases: &[(&str, &str, &str)] = &[
        (
            "TRAWL_PER_HOST_RATE",
            "fast",
            "environment variable TRAWL_PER_HOST_RATE: invalid value 'fast': invalid float literal",
        ),
        (
            "TRAWL_MAX_PAGE",
            "3",
            "environment variable TRAWL_MAX_PAGE: no such setting; did you mean TRAWL_MAX_PAGES?",
        ),
        (
            "TRAWL_IGNORE_ROBOTS",
            "sure",
            "environment variable TRAWL_IGNORE_ROBOTS: invalid value 'sure': expected true or false",
        ),
        (
            "TRAWL_SCOPE",
            "planet",
            "environment variable TRAWL_SCOPE: invalid value 'planet': possible values",
        ),
        (
            "TRAWL_IO_THREADS",
            "0",
            "environment variable TRAWL_IO_THREADS: invalid value '0'",
        ),
    ];
    for (var, value, expected) in cases {
        let error = scratch.error(&["crawl"], &[(var, value)]);
        assert!(
            error.starts_with(expected),
            "{var}={value}:\n  got  {error}\n  want {expected}"
        );
    }
    // Other variables are none of trawl's business; empty ones are unset.
    let (args, _) = scratch.crawl(
        &["crawl"],
        &[("TRAWLER", "x"), ("PATH", "/bin"), ("TRAWL_MAX_PAGES", "")],
    );
    assert_eq!(args.max_pages, None);
}

#[test]
fn the_combined_settings_still_get_clap_cross_checks() {
    let scratch = Scratch::new(Some("warc_cdx = \"x.cdxj\"\n"));
    let error = scratch.error(&["crawl"], &[]);
    assert!(error.contains("--warc <PATH>"), "{error}");
    assert!(
        error.contains(&scratch.default_file().display().to_string()),
        "{error}"
    );
    let (args, _) = scratch.crawl(&["crawl", "--warc", "x.warc"], &[]);
    assert_eq!(args.warc_cdx, Some(PathBuf::from("x.cdxj")));
    let error = scratch.error(&["crawl", "--fresh"], &[("TRAWL_RESUME", "true")]);
    assert!(
        error.contains("--fresh") && error.contains("TRAWL_RESUME"),
        "{error}"
    );
}

#[test]
fn flag_check_errors_are_restated_for_their_origin() {
    let scratch = Scratch::new(Some(
        "per_host_rate = -1\ninclude = [\n  \"ok\",\n  \"(\",\n]\n",
    ));
    let (args, report) = scratch.crawl(&["crawl"], &[]);
    let error = crate::config::CrawlConfig::from_args(&args, None).unwrap_err();
    assert_eq!(
        report.explain(&error),
        format!("{}: include: {}", scratch.at(4), error.parts().unwrap().1)
    );
    let (args, report) = scratch.crawl(&["crawl", "--include", "x"], &[]);
    let error = crate::config::CrawlConfig::from_args(&args, None).unwrap_err();
    assert_eq!(
        report.explain(&error),
        format!(
            "{}: per_host_rate: invalid value '-1': must be 0 (unlimited) or a positive number",
            scratch.at(1)
        )
    );
    let (args, report) = scratch.crawl(
        &["crawl"],
        &[("TRAWL_PER_HOST_RATE", "-2"), ("TRAWL_INCLUDE", "x")],
    );
    let error = crate::config::CrawlConfig::from_args(&args, None).unwrap_err();
    assert_eq!(
        report.explain(&error),
        "environment variable TRAWL_PER_HOST_RATE: invalid value '-2': must be 0 (unlimited) or a positive number"
    );
    let (args, report) = scratch.crawl(&["crawl", "--per-host-rate=-3", "--include", "x"], &[]);
    let error = crate::config::CrawlConfig::from_args(&args, None).unwrap_err();
    assert_eq!(
        report.explain(&error),
        error.to_string(),
        "a flag's error is unchanged"
    );
}

#[test]
fn the_report_is_a_valid_config_file_that_reads_back_the_same() {
    let scratch = Scratch::new(Some(
        "max_pages = 3\ninclude = [\"a\\\"b\", 'c\\d']\nuser_agent = \"x\\ty\"\nsitemaps = true\n",
    ));
    let (args, report) = scratch.crawl(
        &["crawl", "--per-host-rate", "0.25", "-H", "X-A: 1"],
        &[("TRAWL_MAX_DEPTH", "2")],
    );
    let text = report.render();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("# config file: "), "{}", lines[0]);
    assert_eq!(lines.len(), keys().len() + 1, "one line a setting:\n{text}");
    let line = |name: &str| {
        *lines
            .iter()
            .find(|line| {
                line.starts_with(&format!("{name} = ")) || line.starts_with(&format!("# {name} "))
            })
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"))
    };
    assert_eq!(
        line("max_pages"),
        format!("max_pages = 3  # {}", scratch.at(1))
    );
    assert_eq!(line("max_depth"), "max_depth = 2  # env TRAWL_MAX_DEPTH");
    assert_eq!(
        line("per_host_rate"),
        "per_host_rate = 0.25  # flag --per-host-rate"
    );
    assert_eq!(line("header"), "header = [\"X-A: 1\"]  # flag --header");
    assert_eq!(line("concurrency"), "concurrency = 32  # default");
    assert_eq!(line("output"), "output = \"output/crawl.jsonl\"  # default");
    assert_eq!(line("ignore_robots"), "ignore_robots = false  # default");
    assert_eq!(
        line("max_pages_per_host"),
        "# max_pages_per_host is not set  # default"
    );
    assert_eq!(line("seeds"), "seeds = \"seeds.txt\"  # default");

    // Fed back as a file, it gives the same arguments.
    let copy = Scratch::new(Some(&text));
    let (again, again_report) = copy.crawl(&["crawl"], &[]);
    assert_eq!(format!("{again:?}"), format!("{args:?}"));
    assert_eq!(
        again_report.origin("concurrency"),
        &file_origin(&copy.default_file(), 4)
    );
}

#[test]
fn the_report_masks_credentials() {
    let scratch = Scratch::new(Some(
        "auth = [\"a.example=me:s3cret\"]\nheader = [\"Cookie: id=s3cret\", \"authorization : Bearer s3cret\", \"X-A: b\"]\nproxy = \"socks5h://me:s3cret@127.0.0.1:1080\"\nfrontier = \"redis://:s3cret@10.0.0.5:6379/0\"\ncrawl_id = \"c\"\n",
    ));
    let (_, report) = scratch.crawl(&["config"], &[]);
    let text = report.render();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("auth = [\"a.example=me:***\"]"), "{text}");
    assert!(
        text.contains("proxy = \"socks5h://***@127.0.0.1:1080\""),
        "{text}"
    );
    assert!(
        text.contains("frontier = \"redis://***@10.0.0.5:6379/0\""),
        "{text}"
    );
    assert!(
        text.contains(
            "header = [\"Cookie: [redacted]\", \"authorization : [redacted]\", \"X-A: b\"]"
        ),
        "{text}"
    );
}

#[test]
fn scalars_are_written_as_toml() {
    assert_eq!(toml_scalar("32"), "32");
    assert_eq!(toml_scalar("-1.5"), "-1.5");
    assert_eq!(toml_scalar("10M"), "\"10M\"");
    assert_eq!(toml_scalar("1."), "\"1.\"");
    assert_eq!(toml_scalar("inf"), "\"inf\"");
    assert_eq!(toml_scalar(""), "\"\"");
    assert_eq!(toml_string("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
}

#[test]
fn line_numbers_count_from_one() {
    let lines = LineIndex::new("a\nb\nc");
    assert_eq!(lines.line(0), 1);
    assert_eq!(lines.line(1), 1, "the newline ends its own line");
    assert_eq!(lines.line(2), 2);
    assert_eq!(lines.line(99), 3);
}

mod properties {
    use proptest::prelude::*;

    proptest! {
        /// Any text as a config file: settings, or an error that names
        /// the file and a line, never a panic.
        #[test]
        fn any_file_gives_settings_or_a_located_error(
            lines in proptest::collection::vec(prop_oneof![
                Just("per_host_rate = 0.5".to_owned()),
                Just("max_depth = 3".to_owned()),
                Just("ignore_robots = true".to_owned()),
                Just("include = [\"a\", \"b\"]".to_owned()),
                Just("[crawl]".to_owned()),
                Just("per_host_rate = \"fast\"".to_owned()),
                Just("max_depht = 3".to_owned()),
                "[a-z_]{1,12} = [0-9]{1,4}",
                "\\PC{0,30}",
            ], 0..8),
        ) {
            let text = lines.join("\n");
            let keys = super::super::keys();
            if let Err(error) = super::super::file::parse("trawl.toml", &text, &keys) {
                prop_assert!(error.to_string().starts_with("trawl.toml:"), "{}", error);
            }
        }
    }
}
