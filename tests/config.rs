//! End-to-end tests of the config file, the `TRAWL_*` variables, their
//! precedence and `trawl config`, with the real binary.

mod common;

use std::path::Path;

use common::{
    FAST, Run, Site, read_records, trawl, trawl_command, wait_bounded, workdir, write_seeds,
};
use trawl_testsite::SiteConfig;

/// A 20-page site: more pages than any `max_pages` below.
fn site() -> Site {
    Site::start(SiteConfig {
        pages: 20,
        links_per_page: 3,
        seed: 11,
        ..SiteConfig::default()
    })
}

/// The settings of [`FAST`] as config keys, and the output beside them.
const FAST_KEYS: &str = "quiet = true\nper_host_rate = 0\nper_host_concurrency = 8\n\
                         concurrency = 16\noutput = \"crawl.jsonl\"\n";

/// `trawl ARGS` in `dir` with these environment variables.
fn trawl_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = trawl_command(dir, args);
    command.envs(env.iter().copied());
    wait_bounded(command.spawn().expect("spawn trawl"), common::RUN_LIMIT)
}

/// Pages the site served (robots.txt is not a page).
fn pages_served(site: &Site) -> usize {
    site.site
        .requests()
        .iter()
        .filter(|request| request.path != "/robots.txt")
        .count()
}

fn assert_ran(run: &Run) {
    assert!(
        run.status.success(),
        "exit {:?}\n{}",
        run.status,
        run.stderr
    );
}

fn assert_refused(run: &Run, message: &str) {
    assert_eq!(run.status.code(), Some(2), "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains(message),
        "stderr should contain {message:?}:\n{}",
        run.stderr
    );
}

#[test]
fn a_trawl_toml_in_the_working_directory_changes_the_crawl() {
    let site = site();
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    std::fs::write(
        dir.path().join("trawl.toml"),
        format!("# a polite crawl, but short\nmax_pages = 3\n{FAST_KEYS}"),
    )
    .unwrap();
    let run = trawl(dir.path(), &["crawl"]);
    assert_ran(&run);
    assert_eq!(run.stderr, "", "quiet = true: no summary");
    assert_eq!(read_records(&dir.path().join("crawl.jsonl")).len(), 3);
    assert_eq!(pages_served(&site), 3, "the server saw three page requests");
}

#[test]
fn the_environment_overrides_the_file_and_a_flag_overrides_the_environment() {
    let site = site();
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    std::fs::write(
        dir.path().join("trawl.toml"),
        format!("max_pages = 3\n{FAST_KEYS}"),
    )
    .unwrap();
    let run = trawl_env(dir.path(), &["crawl"], &[("TRAWL_MAX_PAGES", "5")]);
    assert_ran(&run);
    assert_eq!(read_records(&dir.path().join("crawl.jsonl")).len(), 5);
    assert_eq!(pages_served(&site), 5);

    let run = trawl_env(
        dir.path(),
        &["crawl", "--fresh", "--max-pages", "2"],
        &[("TRAWL_MAX_PAGES", "5")],
    );
    assert_ran(&run);
    assert_eq!(read_records(&dir.path().join("crawl.jsonl")).len(), 2);
    assert_eq!(pages_served(&site), 5 + 2);
}

#[test]
fn no_config_ignores_the_file() {
    let site = site();
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    // Not even read: its mistake would stop trawl.
    std::fs::write(
        dir.path().join("trawl.toml"),
        "max_pages = 3\nno_such_key = 1\n",
    )
    .unwrap();
    let mut args = vec!["crawl", "--no-config", "-o", "crawl.jsonl"];
    args.extend_from_slice(FAST);
    let run = trawl(dir.path(), &args);
    assert_ran(&run);
    let pages = site.site.reachable().len();
    assert!(pages > 3);
    assert_eq!(read_records(&dir.path().join("crawl.jsonl")).len(), pages);
}

#[test]
fn config_and_trawl_config_choose_the_file() {
    let site = site();
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    std::fs::write(dir.path().join("trawl.toml"), "max_pages = 3\n").unwrap();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    std::fs::write(
        dir.path().join("conf/short.toml"),
        format!("max_pages = 2\n{FAST_KEYS}"),
    )
    .unwrap();
    let run = trawl(dir.path(), &["crawl", "--config", "conf/short.toml"]);
    assert_ran(&run);
    assert_eq!(read_records(&dir.path().join("crawl.jsonl")).len(), 2);

    std::fs::write(
        dir.path().join("conf/one.toml"),
        format!("max_pages = 1\nfresh = true\n{FAST_KEYS}"),
    )
    .unwrap();
    let run = trawl_env(dir.path(), &["crawl"], &[("TRAWL_CONFIG", "conf/one.toml")]);
    assert_ran(&run);
    assert_eq!(read_records(&dir.path().join("crawl.jsonl")).len(), 1);
    assert_eq!(pages_served(&site), 2 + 1);

    let run = trawl(dir.path(), &["crawl", "--config", "conf/missing.toml"]);
    assert_refused(
        &run,
        "trawl: error: cannot read the config file conf/missing.toml (--config):",
    );
}

#[test]
fn mistakes_stop_trawl_before_any_request_naming_file_line_and_key() {
    let site = site();
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let cases: &[(&str, &str)] = &[
        (
            "max_pages = 3\nper_host_rates = 1\n",
            "trawl: error: trawl.toml:2: per_host_rates: unknown key; did you mean 'per_host_rate'?",
        ),
        (
            "max_pages = 3\n\nper_host_rate = \"fast\"\n",
            "trawl: error: trawl.toml:3: per_host_rate: invalid value 'fast': invalid float literal",
        ),
        // A check of trawl's own, after clap's: still the file's line.
        (
            "quiet = true\ndelay_factor = 500\n",
            "trawl: error: trawl.toml:2: delay_factor: invalid value '500': must be between 0 (off) and 100",
        ),
        (
            "include = [\n  \"^http\",\n  \"(\",\n]\n",
            "trawl: error: trawl.toml:3: include: invalid pattern '(':",
        ),
        (
            "[crawl]\nmax_pages = 3\n",
            "trawl: error: trawl.toml:1: crawl: the config file has no tables or sections",
        ),
    ];
    for (text, message) in cases {
        std::fs::write(dir.path().join("trawl.toml"), text).unwrap();
        let run = trawl(dir.path(), &["crawl"]);
        assert_refused(&run, message);
    }
    std::fs::write(dir.path().join("trawl.toml"), "max_pages = 3\n").unwrap();
    let run = trawl_env(dir.path(), &["crawl"], &[("TRAWL_PER_HOST_RATE", "-1")]);
    assert_refused(
        &run,
        "trawl: error: environment variable TRAWL_PER_HOST_RATE: invalid value '-1'",
    );
    let run = trawl_env(dir.path(), &["crawl"], &[("TRAWL_MAX_PAGE", "3")]);
    assert_refused(
        &run,
        "trawl: error: environment variable TRAWL_MAX_PAGE: no such setting; did you mean TRAWL_MAX_PAGES?",
    );
    assert!(site.site.requests().is_empty(), "no request was made");
    assert!(!dir.path().join("output").exists(), "no output was made");
}

#[test]
fn trawl_config_shows_each_setting_and_where_it_came_from() {
    let site = site();
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    std::fs::write(
        dir.path().join("trawl.toml"),
        "max_pages = 3\nper_host_rate = 0.5\nmax_depth = 4\ninclude = [\"^http\"]\n\
         auth = [\"127.0.0.1=me:s3cret\"]\n",
    )
    .unwrap();
    let run = trawl_env(
        dir.path(),
        &["config", "--max-depth", "2"],
        &[("TRAWL_PER_HOST_RATE", "0.25"), ("TRAWL_SITEMAPS", "true")],
    );
    assert_ran(&run);
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    for expected in [
        "# config file: trawl.toml (in the working directory)",
        "seeds = \"seeds.txt\"  # default",
        "max_pages = 3  # trawl.toml:1",
        "per_host_rate = 0.25  # env TRAWL_PER_HOST_RATE",
        "max_depth = 2  # flag --max-depth",
        "include = [\"^http\"]  # trawl.toml:4",
        "sitemaps = true  # env TRAWL_SITEMAPS",
        "auth = [\"127.0.0.1=me:***\"]  # trawl.toml:5",
        "concurrency = 32  # default",
        "# max_pages_per_host is not set  # default",
    ] {
        assert!(
            lines.contains(&expected),
            "no line {expected:?} in\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("s3cret"));
    assert!(
        site.site.requests().is_empty(),
        "trawl config makes no request"
    );
    assert!(!dir.path().join("output").exists(), "nor any output");

    // The listing is itself a config file that gives the same settings.
    std::fs::write(dir.path().join("copy.toml"), &run.stdout).unwrap();
    let again = trawl(dir.path(), &["config", "--config", "copy.toml"]);
    assert_ran(&again);
    let values = |text: &str| -> Vec<String> {
        text.lines()
            .skip(1)
            .map(|line| line.split("  # ").next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(values(&again.stdout), values(&run.stdout));

    // trawl config refuses what crawl would refuse.
    let run = trawl(dir.path(), &["config", "--per-host-rate=-1"]);
    assert_refused(&run, "trawl: error: invalid --per-host-rate value `-1`");
    assert!(
        run.stdout
            .contains("per_host_rate = -1  # flag --per-host-rate")
    );
}
