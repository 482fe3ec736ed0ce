//! End-to-end tests of `trawl crawl` against the test site.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use common::{FAST, Site, parse_lines, read_records, trawl, unique_urls, workdir, write_seeds};
use trawl_testsite::{PageProfile, SiteConfig};

fn site(pages: usize, links_per_page: usize) -> Site {
    Site::start(SiteConfig {
        pages,
        links_per_page,
        seed: 7,
        ..SiteConfig::default()
    })
}

/// The server saw each of `urls` requested exactly once.
fn assert_each_requested_once(site: &Site, urls: &HashSet<String>) {
    for url in urls {
        let path = url.trim_start_matches(&site.site.base_url());
        assert_eq!(
            site.site.hits(path),
            1,
            "{path} requested more than once or never"
        );
    }
}

fn args<'a>(seeds: &'a str, output: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["crawl", seeds, "-o", output];
    args.extend_from_slice(FAST);
    args.extend_from_slice(extra);
    args
}

/// Crawls `seeds.txt` into `crawl.jsonl` with a single request in flight,
/// the rate limit lifted: the tightest pipeline, where a stall would show.
fn crawl_one_request_at_a_time(dir: &std::path::Path) -> common::Run {
    trawl(
        dir,
        &[
            "crawl",
            "seeds.txt",
            "-o",
            "crawl.jsonl",
            "--quiet",
            "--per-host-rate",
            "0",
            "-c",
            "1",
            "--per-host-concurrency",
            "1",
        ],
    )
}

#[test]
fn crawls_every_reachable_page_of_a_2000_page_site_exactly_once() {
    let site = site(2000, 10);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(dir.path(), &args("seeds.txt", "out/crawl.jsonl", &[]));
    assert!(
        run.status.success(),
        "exit {:?}\n{}",
        run.status,
        run.stderr
    );
    let records = read_records(&dir.path().join("out/crawl.jsonl"));
    let crawled = unique_urls(&records);
    let truth = site.site.reachable();
    let expected: HashSet<String> = truth.keys().cloned().collect();
    assert_eq!(
        crawled.len(),
        expected.len(),
        "missing: {:?}",
        expected.difference(&crawled).take(5).collect::<Vec<_>>()
    );
    assert_eq!(crawled, expected);
    for record in &records {
        let url = record["url"].as_str().unwrap();
        assert_eq!(record["status"], 200, "{record}");
        assert_eq!(record["error"], serde_json::Value::Null, "{record}");
        assert_eq!(
            record["depth"].as_u64(),
            truth.get(url).map(|d| u64::from(*d)),
            "depth of {url} must be its shortest link distance"
        );
        assert_eq!(record["content_type"], "text/html");
        assert!(
            record["title"].as_str().unwrap().starts_with("Page "),
            "{record}"
        );
    }
    // Every page was requested once: the server agrees with the JSONL.
    assert_each_requested_once(&site, &expected);
    assert!(
        !records
            .iter()
            .any(|r| r["url"].as_str().unwrap().contains("outside.invalid"))
    );
    assert!(run.stderr.contains("crawled") || run.stderr.is_empty());
}

/// Pages each bigger than the whole `--max-buffered` budget, many fetches
/// in flight: every body waits for the budget to itself and the crawl
/// still ends with every page fetched once and kept whole.
#[test]
fn pages_bigger_than_the_body_budget_are_crawled_whole_and_once() {
    let site = Site::start(SiteConfig {
        pages: 40,
        links_per_page: 4,
        seed: 7,
        page_bytes: 300 * 1024,
        profile: PageProfile::Uniform,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &args("seeds.txt", "crawl.jsonl", &["--max-buffered", "256K"]),
    );
    assert!(
        run.status.success(),
        "exit {:?}\n{}",
        run.status,
        run.stderr
    );
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let expected: HashSet<String> = site.site.reachable().keys().cloned().collect();
    assert_eq!(unique_urls(&records), expected);
    assert_eq!(records.len(), expected.len(), "one record per page");
    for record in &records {
        assert_eq!(record["status"], 200, "{record}");
        assert_eq!(record["error"], serde_json::Value::Null, "{record}");
        assert!(record["bytes"].as_u64().unwrap() > 256 * 1024, "{record}");
        assert!(!record["links"].as_array().unwrap().is_empty(), "{record}");
    }
    assert_each_requested_once(&site, &expected);
}

#[test]
fn records_validate_against_the_json_schema() {
    let site = site(60, 5);
    let dir = workdir();
    write_seeds(
        dir.path(),
        &[
            &site.url("/"),
            &site.url("/fault/status/404"),
            &site.url("/fault/redirect-chain/3"),
            &site.url("/fault/no-content-type"),
        ],
    );
    let run = trawl(dir.path(), &args("seeds.txt", "crawl.jsonl", &[]));
    assert!(run.status.success(), "{}", run.stderr);
    let schema_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/record.schema.json"
    ))
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert!(records.len() > 60);
    for record in &records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{record} violates the schema: {errors:?}"
        );
    }
    let not_found = records
        .iter()
        .find(|r| r["url"].as_str().unwrap().ends_with("/fault/status/404"))
        .unwrap();
    assert_eq!(not_found["status"], 404);
    assert_eq!(not_found["error"]["kind"], "http");
    let redirected = records
        .iter()
        .find(|r| {
            r["url"]
                .as_str()
                .unwrap()
                .ends_with("/fault/redirect-chain/3")
        })
        .unwrap();
    assert_eq!(
        redirected["redirects"].as_array().unwrap().len(),
        3,
        "{redirected}"
    );
    assert!(
        redirected["final_url"]
            .as_str()
            .unwrap()
            .ends_with("/fault/redirect-chain/0")
    );
    assert_eq!(redirected["status"], 200);
    let sniffed = records
        .iter()
        .find(|r| {
            r["url"]
                .as_str()
                .unwrap()
                .ends_with("/fault/no-content-type")
        })
        .unwrap();
    assert!(
        sniffed["title"].is_string(),
        "HTML without Content-Type is sniffed and parsed: {sniffed}"
    );
}

#[test]
fn max_depth_is_honoured_exactly() {
    let site = site(2000, 4);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &args("seeds.txt", "crawl.jsonl", &["--max-depth", "2"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let crawled = unique_urls(&read_records(&dir.path().join("crawl.jsonl")));
    let expected: HashSet<String> = site.site.reachable_within(2).into_iter().collect();
    assert!(
        expected.len() > 5 && expected.len() < 1000,
        "a meaningful cut: {}",
        expected.len()
    );
    assert_eq!(crawled, expected);
}

#[test]
fn max_pages_is_honoured_exactly() {
    let site = site(500, 10);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &args("seeds.txt", "crawl.jsonl", &["--max-pages", "37"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let crawled = unique_urls(&records);
    assert_eq!(records.len(), 37);
    let truth = site.site.reachable();
    assert!(crawled.iter().all(|url| truth.contains_key(url)));
    let page_requests = site
        .site
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/p/") || r.path == "/")
        .count();
    assert_eq!(
        page_requests, 37,
        "the server saw exactly as many page requests as records"
    );
}

#[test]
fn host_scope_and_patterns_limit_what_is_fetched() {
    let site = site(300, 6);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &args("seeds.txt", "crawl.jsonl", &["--exclude", r"/p/\d*7$"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let crawled = unique_urls(&records);
    assert!(
        crawled
            .iter()
            .all(|url| url.starts_with(&site.site.base_url())),
        "host scope: only the seed's host"
    );
    assert!(
        !crawled.iter().any(|url| url.ends_with('7')),
        "excluded URLs were fetched"
    );
    let all_links: HashSet<&str> = records
        .iter()
        .flat_map(|r| r["links"].as_array().unwrap())
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        all_links
            .iter()
            .any(|link| link.contains("outside.invalid")),
        "out-of-scope links are still reported as links"
    );
    assert!(site.site.requests().iter().all(|r| !r.path.ends_with('7')));
}

#[test]
fn a_bad_seed_line_stops_before_any_request() {
    let site = site(10, 2);
    let dir = workdir();
    write_seeds(
        dir.path(),
        &["# seeds", &site.url("/"), "", "ftp://127.0.0.1/file"],
    );
    let run = trawl(dir.path(), &["crawl", "seeds.txt", "--quiet"]);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("seeds.txt:4"),
        "error names file and line: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ftp://127.0.0.1/file"),
        "{}",
        run.stderr
    );
    assert!(
        site.site.requests().is_empty(),
        "no request before the seeds are valid"
    );

    write_seeds(dir.path(), &["http://127.0.0.1:1/ok", "not a url at all"]);
    let run = trawl(dir.path(), &["crawl", "seeds.txt"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("seeds.txt:2"), "{}", run.stderr);

    let run = trawl(dir.path(), &["crawl", "missing.txt"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("missing.txt"), "{}", run.stderr);

    write_seeds(dir.path(), &["# only comments", "   "]);
    let run = trawl(dir.path(), &["crawl", "seeds.txt"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("no URLs"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2_and_version_works() {
    let dir = workdir();
    let run = trawl(dir.path(), &["--version"]);
    assert!(run.status.success());
    assert!(run.stdout.starts_with("trawl "), "{}", run.stdout);
    let run = trawl(dir.path(), &["crawl", "--concurrency", "0"]);
    assert_eq!(run.status.code(), Some(2));
    write_seeds(dir.path(), &["http://127.0.0.1:1/"]);
    let run = trawl(dir.path(), &["crawl", "--include", "(unclosed"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("--include"), "{}", run.stderr);
}

#[test]
fn writes_to_stdout_with_dash() {
    let site = site(40, 3);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(dir.path(), &args("seeds.txt", "-", &[]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = parse_lines(&run.stdout);
    let crawled = unique_urls(&records);
    let expected: HashSet<String> = site.site.reachable().keys().cloned().collect();
    assert_eq!(crawled, expected);
    assert!(
        !dir.path().join("output").exists(),
        "nothing written to the default file"
    );
}

#[test]
fn an_unreachable_server_is_a_record_not_a_crash() {
    let (_refusing, port) = common::refusing_port();
    let dir = workdir();
    let seed = format!("http://127.0.0.1:{port}/");
    write_seeds(dir.path(), &[&seed]);
    let run = trawl(dir.path(), &["crawl", "--connect-timeout", "5"]);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let records = read_records(&dir.path().join("output/crawl.jsonl"));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["url"], seed);
    assert_eq!(records[0]["error"]["kind"], "connect");
    assert_eq!(records[0]["status"], serde_json::Value::Null);
    assert!(
        run.stderr.contains("connect ×1"),
        "summary lists the error: {}",
        run.stderr
    );
}

#[test]
fn an_unwritable_output_fails_before_any_request() {
    let site = site(10, 2);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    std::fs::write(dir.path().join("blocker"), "a file, not a folder").unwrap();
    let run = trawl(
        dir.path(),
        &["crawl", "-o", "blocker/crawl.jsonl", "--quiet"],
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("blocker/crawl.jsonl"), "{}", run.stderr);
    assert!(site.site.requests().is_empty());
}

#[test]
fn pages_linking_to_hundreds_of_new_pages_do_not_deadlock_at_concurrency_1() {
    let site = site(1500, 250);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = crawl_one_request_at_a_time(dir.path());
    assert!(run.status.success(), "{}", run.stderr);
    let crawled = unique_urls(&read_records(&dir.path().join("crawl.jsonl")));
    let expected: HashSet<String> = site.site.reachable().keys().cloned().collect();
    assert_eq!(crawled, expected);
}

#[test]
fn per_host_rate_spaces_requests_on_the_server() {
    let site = site(200, 5);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let rate = 10.0;
    let run = trawl(
        dir.path(),
        &[
            "crawl",
            "seeds.txt",
            "-o",
            "crawl.jsonl",
            "--quiet",
            "--per-host-rate",
            "10",
            "--per-host-concurrency",
            "4",
            "--max-pages",
            "25",
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let times: Vec<_> = site
        .site
        .requests()
        .iter()
        .filter(|r| r.path != "/robots.txt")
        .map(|r| r.at)
        .collect();
    assert_eq!(times.len(), 25);
    // However slow the machine, a limiter of R per second never lets more
    // than R + 1 requests arrive within one second (burst of one).
    let window = rate as usize + 1;
    for i in 0..times.len() - window {
        let span = times[i + window].duration_since(times[i]);
        assert!(
            span >= Duration::from_millis(950),
            "{} requests within {span:?}",
            window + 1
        );
    }
}

#[test]
fn redirect_targets_are_fetched_once() {
    let site = site(10, 2);
    let dir = workdir();
    // The chain ends at /fault/redirect-chain/0; seeding it too must not
    // fetch it a second time.
    write_seeds(
        dir.path(),
        &[
            &site.url("/fault/redirect-chain/2"),
            &site.url("/fault/redirect-chain/0"),
        ],
    );
    let run = crawl_one_request_at_a_time(dir.path());
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(site.site.hits("/fault/redirect-chain/0"), 1, "{records:?}");
    let seen: BTreeSet<&str> = records
        .iter()
        .map(|r| r["final_url"].as_str().unwrap())
        .collect();
    assert!(seen.iter().any(|u| u.ends_with("/fault/redirect-chain/0")));
}

#[test]
fn a_queue_and_seen_set_larger_than_their_memory_budgets_spill_and_still_cover_the_site() {
    let site = site(2000, 10);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &args(
            "seeds.txt",
            "out/crawl.jsonl",
            // The seen-set goes to disk too, merged every 100 URLs.
            &["--max-queue-in-memory", "50", "--max-seen-in-memory", "100"],
        ),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("out/crawl.jsonl"));
    let crawled = unique_urls(&records);
    let expected: HashSet<String> = site.site.reachable().keys().cloned().collect();
    assert_eq!(crawled, expected);
    assert_eq!(records.len(), expected.len(), "one record per URL");
    assert_each_requested_once(&site, &expected);
    assert!(
        !dir.path().join("out/crawl.state").exists(),
        "spill file and state are gone after a finished crawl"
    );
}

#[test]
fn virtual_hosts_are_crawled_through_resolve_overrides() {
    let site = Site::start(SiteConfig {
        pages: 60,
        links_per_page: 4,
        hosts: 5,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let resolves = vhost_seeds_and_resolves(&site, 5, dir.path());
    let mut arguments = args("seeds.txt", "crawl.jsonl", &[]);
    arguments.extend(resolves.iter().map(String::as_str));
    let run = trawl(dir.path(), &arguments);
    assert!(run.status.success(), "{}", run.stderr);
    let crawled = unique_urls(&read_records(&dir.path().join("crawl.jsonl")));
    let mut expected = HashSet::new();
    for k in 0..5 {
        expected.extend(site.site.reachable_on_vhost(k));
    }
    assert_eq!(crawled, expected);
    let hosts: HashSet<Option<String>> = site
        .site
        .requests()
        .iter()
        .map(|r| r.host.clone())
        .collect();
    assert_eq!(
        hosts.len(),
        5,
        "every request carried one of the five virtual host names: {hosts:?}"
    );
}

/// Seeds `dir` with the root of each of the site's first `hosts` virtual
/// hosts and returns the `--resolve HOST:PORT:127.0.0.1` overrides that
/// reach them.
fn vhost_seeds_and_resolves(site: &Site, hosts: usize, dir: &std::path::Path) -> Vec<String> {
    let seeds: Vec<String> = (0..hosts).map(|k| site.site.vhost_url(k, "/")).collect();
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    write_seeds(dir, &seed_refs);
    let port = site.site.addr().port();
    (0..hosts)
        .flat_map(|k| {
            [
                "--resolve".to_owned(),
                format!("{}:{port}:127.0.0.1", trawl_testsite::TestSite::vhost(k)),
            ]
        })
        .collect()
}

/// Crawls `hosts` virtual hosts of 3 pages with `limit` (an `ulimit`
/// command run by `sh` before it execs trawl) in force: the site, the run
/// and its records.
fn crawl_hosts_under(hosts: usize, limit: &str) -> (Site, common::Run, Vec<serde_json::Value>) {
    let site = Site::start(SiteConfig {
        pages: 3,
        links_per_page: 2,
        hosts,
        profile: PageProfile::Uniform,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let resolves = vhost_seeds_and_resolves(&site, hosts, dir.path());
    let mut arguments = args("seeds.txt", "crawl.jsonl", &[]);
    arguments.extend(resolves.iter().map(String::as_str));
    let command = common::trawl_command(dir.path(), &arguments);
    let mut limited = std::process::Command::new("sh");
    limited
        .arg("-c")
        .arg(format!("{limit} && exec \"$0\" \"$@\""))
        .arg(command.get_program())
        .args(command.get_args())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => limited.env(name, value),
            None => limited.env_remove(name),
        };
    }
    let run = common::wait_bounded(limited.spawn().expect("sh runs"), common::RUN_LIMIT);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    (site, run, records)
}

/// Every host keeps a keep-alive connection for a while, so a crawl of a
/// few hundred hosts needs more open files than the soft limit many
/// systems start programs with (1,024, or less): trawl raises its soft
/// limit to the hard one. Here the soft limit is 256 and 400 hosts are
/// crawled: no record may fail to connect.
#[test]
fn a_low_soft_open_files_limit_does_not_stop_a_crawl_of_many_hosts() {
    const HOSTS: usize = 400;
    let (site, run, records) = crawl_hosts_under(HOSTS, "ulimit -Sn 256");
    assert!(run.status.success(), "{}", run.stderr);
    let failed: Vec<&serde_json::Value> =
        records.iter().filter(|r| !r["error"].is_null()).collect();
    assert!(
        failed.is_empty(),
        "{} failed, first {:?}",
        failed.len(),
        failed.first()
    );
    let mut expected = HashSet::new();
    for k in 0..HOSTS {
        expected.extend(site.site.reachable_on_vhost(k));
    }
    assert_eq!(unique_urls(&records), expected);
    assert!(!run.stderr.contains("out of open files"), "{}", run.stderr);
}

/// Past the hard limit connections fail as `connect` records, and the
/// user is told once why and what to do.
#[test]
fn running_out_of_open_files_is_explained_once() {
    let (_site, run, records) = crawl_hosts_under(120, "ulimit -n 64");
    assert!(run.status.success(), "{}", run.stderr);
    let out_of_files = records
        .iter()
        .filter(|r| {
            r["error"]["kind"] == "connect"
                && r["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Too many open files"))
        })
        .count();
    assert!(
        out_of_files > 0,
        "no record ran out of files: {}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("out of open files").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ulimit -Hn"), "{}", run.stderr);
}
