//! Many `trawl crawl` processes sharing one crawl through Redis
//! (`--frontier`), end to end: the real binary, the test site counting
//! every request it serves, and a `redis-server` of the test's own on a
//! free loopback port, killed by PID at the end. A missing `redis-server`
//! fails these tests (see `TEST_REDIS_SERVER`).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{Run, Site, read_records, trawl, trawl_command, wait_bounded, workdir, write_seeds};
use trawl_frontier_redis::server::TestServer;
use trawl_testsite::SiteConfig;

/// Starts `trawl crawl --frontier ... --crawl-id CRAWL -o OUTPUT` in `dir`.
fn worker(dir: &Path, redis: &TestServer, crawl: &str, output: &str, extra: &[&str]) -> Child {
    let url = redis.url();
    let mut args = vec![
        "crawl",
        "seeds.txt",
        "-o",
        output,
        "--quiet",
        "--frontier",
        &url,
        "--crawl-id",
        crawl,
    ];
    args.extend_from_slice(extra);
    trawl_command(dir, &args).spawn().expect("spawn trawl")
}

/// Starts `n` workers writing `w0.jsonl`, `w1.jsonl`, ... and waits for
/// them all (each bounded).
fn crawl_with(n: usize, dir: &Path, redis: &TestServer, crawl: &str, extra: &[&str]) -> Vec<Run> {
    let children: Vec<Child> = (0..n)
        .map(|i| worker(dir, redis, crawl, &format!("w{i}.jsonl"), extra))
        .collect();
    children
        .into_iter()
        .map(|child| wait_bounded(child, common::RUN_LIMIT))
        .collect()
}

fn assert_all_succeeded(runs: &[Run]) {
    for (i, run) in runs.iter().enumerate() {
        assert!(
            run.status.success(),
            "worker {i} exited with {:?}; stderr:\n{}",
            run.status,
            run.stderr
        );
    }
}

/// Every record of outputs `w0.jsonl` .. `w{n-1}.jsonl`, as (URL, worker).
fn recorded(dir: &Path, n: usize) -> Vec<(String, usize)> {
    (0..n)
        .flat_map(|i| {
            read_records(&dir.join(format!("w{i}.jsonl")))
                .into_iter()
                .map(move |record| (record["url"].as_str().unwrap().to_owned(), i))
        })
        .collect()
}

/// Server-side hits per path, robots.txt left out.
fn page_hits(site: &Site) -> HashMap<String, usize> {
    let mut hits = HashMap::new();
    for request in site.site.requests() {
        if request.path != "/robots.txt" {
            *hits.entry(request.path).or_default() += 1;
        }
    }
    hits
}

fn reachable_urls(site: &Site) -> BTreeSet<String> {
    site.site.reachable().into_keys().collect()
}

fn redis(dir: &Path) -> TestServer {
    TestServer::start(dir).expect("redis-server for the distributed tests")
}

const FAST: &[&str] = &[
    "--per-host-rate",
    "0",
    "--delay-factor",
    "0",
    "--per-host-concurrency",
    "4",
    "-c",
    "8",
];

#[test]
fn three_workers_cover_the_site_and_fetch_each_page_exactly_once() {
    let site = Site::start(SiteConfig {
        pages: 150,
        latency: Duration::from_millis(5),
        ..SiteConfig::default()
    });
    let dir = workdir();
    let server = redis(dir.path());
    write_seeds(dir.path(), &[&site.url("/")]);
    let runs = crawl_with(3, dir.path(), &server, "once", FAST);
    assert_all_succeeded(&runs);

    let records = recorded(dir.path(), 3);
    let mut union = BTreeSet::new();
    for (url, worker) in &records {
        assert!(
            union.insert(url.clone()),
            "{url} recorded twice (again by worker {worker})"
        );
    }
    assert_eq!(
        union,
        reachable_urls(&site),
        "the union of the outputs is the crawl"
    );
    let hits = page_hits(&site);
    let twice: Vec<_> = hits.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "pages not fetched exactly once: {twice:?}"
    );
    assert_eq!(hits.len(), union.len());
    assert_eq!(
        site.site.hits("/robots.txt"),
        1,
        "robots.txt once for the whole crawl, shared through Redis"
    );
}

#[test]
fn max_pages_holds_for_the_whole_crawl() {
    let site = Site::start(SiteConfig {
        pages: 200,
        latency: Duration::from_millis(5),
        ..SiteConfig::default()
    });
    let dir = workdir();
    let server = redis(dir.path());
    write_seeds(dir.path(), &[&site.url("/")]);
    let mut args = FAST.to_vec();
    args.extend(["--max-pages", "25"]);
    let runs = crawl_with(3, dir.path(), &server, "limit", &args);
    assert_all_succeeded(&runs);
    assert_eq!(
        recorded(dir.path(), 3).len(),
        25,
        "25 records over all workers"
    );
    assert_eq!(page_hits(&site).values().sum::<usize>(), 25);
}

/// Request starts as the server saw them, sorted.
fn page_times(site: &Site) -> Vec<Instant> {
    let mut times: Vec<Instant> = site
        .site
        .requests()
        .into_iter()
        .filter(|request| request.path != "/robots.txt")
        .map(|request| request.at)
        .collect();
    times.sort();
    times
}

/// The most requests in any window of `window` (a window opened at each
/// request).
fn busiest_window(times: &[Instant], window: Duration) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|at| **at - times[i] < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[test]
fn the_per_host_rate_holds_over_three_workers() {
    let site = Site::start(SiteConfig {
        pages: 24,
        links_per_page: 4,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let server = redis(dir.path());
    write_seeds(dir.path(), &[&site.url("/")]);
    // 5 requests a second to the one host, whatever the number of workers;
    // each process alone would allow 5, three of them 15.
    let args = [
        "--per-host-rate",
        "5",
        "--delay-factor",
        "0",
        "--per-host-concurrency",
        "4",
    ];
    let runs = crawl_with(3, dir.path(), &server, "rate", &args);
    assert_all_succeeded(&runs);
    let times = page_times(&site);
    assert!(times.len() >= 20, "{} pages", times.len());
    let busiest = busiest_window(&times, Duration::from_secs(1));
    assert!(
        busiest <= 7,
        "{busiest} requests within one second (rate 5/s over all workers)"
    );
    let median = median(gaps(&times));
    assert!(
        median >= Duration::from_millis(150),
        "requests a median {median:?} apart (rate 5/s: 200 ms)"
    );
}

#[test]
fn a_crawl_delay_holds_over_three_workers() {
    let site = Site::start(SiteConfig {
        pages: 8,
        links_per_page: 3,
        robots_txt: Some("User-agent: *\nCrawl-delay: 0.6\n".into()),
        ..SiteConfig::default()
    });
    let dir = workdir();
    let server = redis(dir.path());
    write_seeds(dir.path(), &[&site.url("/")]);
    let args = [
        "--per-host-rate",
        "0",
        "--delay-factor",
        "0",
        "--per-host-concurrency",
        "4",
    ];
    let runs = crawl_with(3, dir.path(), &server, "delay", &args);
    assert_all_succeeded(&runs);
    let times = page_times(&site);
    assert_eq!(times.len(), reachable_urls(&site).len());
    assert_eq!(site.site.hits("/robots.txt"), 1, "read once, by the probe");
    // The first request is the host's probe, sent before any worker read
    // robots.txt; from then on the delay is global. The bounds allow a
    // request to reach the wire a little after its claim; three workers
    // each keeping the delay only for themselves would send them about
    // 0.2 s apart.
    let all = gaps(&times);
    for gap in &all {
        assert!(
            *gap >= Duration::from_millis(300),
            "requests {gap:?} apart under a Crawl-delay of 0.6 s; all: {all:?}"
        );
    }
    let median = median(all.clone());
    assert!(
        median >= Duration::from_millis(500),
        "requests a median {median:?} apart under a Crawl-delay of 0.6 s; all: {all:?}"
    );
}

#[test]
fn an_unreachable_redis_is_a_clear_error_with_exit_1() {
    let dir = workdir();
    write_seeds(dir.path(), &["http://127.0.0.1:9/"]);
    let (_refusing, port) = common::refusing_port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let started = Instant::now();
    let run = trawl(
        dir.path(),
        &[
            "crawl",
            "-o",
            "out.jsonl",
            "--quiet",
            "--frontier",
            &url,
            "--crawl-id",
            "x",
        ],
    );
    assert_eq!(run.status.code(), Some(1), "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach Redis") && run.stderr.contains(&url),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(60), "no hang");

    let status = trawl(
        dir.path(),
        &["status", "--frontier", &url, "--crawl-id", "x"],
    );
    assert_eq!(status.status.code(), Some(1), "{}", status.stderr);
    let bad = trawl(
        dir.path(),
        &["crawl", "--frontier", "http://x", "--crawl-id", "x"],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("--frontier"), "{}", bad.stderr);
}

#[test]
fn status_reports_a_finished_crawl_and_fresh_clears_it() {
    let site = Site::start(SiteConfig {
        pages: 30,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let server = redis(dir.path());
    write_seeds(dir.path(), &[&site.url("/")]);
    let runs = crawl_with(1, dir.path(), &server, "seen", FAST);
    assert_all_succeeded(&runs);
    let url = server.url();
    let status = trawl(
        dir.path(),
        &["status", "--frontier", &url, "--crawl-id", "seen"],
    );
    assert!(status.status.success(), "{}", status.stderr);
    let done = reachable_urls(&site).len();
    for line in [
        "(finished)".to_owned(),
        "queued   0".to_owned(),
        "leased   0".to_owned(),
        format!("done     {done}"),
        "hosts    1".to_owned(),
        "workers  1 seen".to_owned(),
    ] {
        assert!(
            status.stdout.contains(&line),
            "{line:?} in:\n{}",
            status.stdout
        );
    }
    // Run again: the crawl is over, nothing is fetched.
    let before = site.site.requests().len();
    let again = crawl_with(1, dir.path(), &server, "seen", FAST);
    assert_all_succeeded(&again);
    assert_eq!(
        page_hits(&site).values().sum::<usize>(),
        done,
        "nothing refetched"
    );
    assert!(
        site.site.requests().len() - before <= 1,
        "at most robots.txt"
    );
    // --fresh starts the crawl id over.
    let mut fresh = FAST.to_vec();
    fresh.push("--fresh");
    let over = crawl_with(1, dir.path(), &server, "seen", &fresh);
    assert_all_succeeded(&over);
    assert_eq!(page_hits(&site).values().sum::<usize>(), 2 * done);
    let missing = trawl(
        dir.path(),
        &["status", "--frontier", &url, "--crawl-id", "nope"],
    );
    assert!(missing.stdout.contains("not found"), "{}", missing.stdout);
}

#[test]
fn a_killed_worker_s_leases_are_fetched_by_the_others() {
    let site = Site::start(SiteConfig {
        pages: 120,
        latency: Duration::from_millis(40),
        ..SiteConfig::default()
    });
    let dir = workdir();
    let server = redis(dir.path());
    write_seeds(dir.path(), &[&site.url("/")]);
    let mut args = FAST.to_vec();
    args.extend(["--lease-time", "2"]);
    let mut first = worker(dir.path(), &server, "kill", "w0.jsonl", &args);
    common::wait_for_lines(&dir.path().join("w0.jsonl"), 10, &mut first);
    common::send_signal(first.id(), "KILL");
    let killed_at = Instant::now();
    let _ = first.wait();
    let others: Vec<Child> = (1..3)
        .map(|i| worker(dir.path(), &server, "kill", &format!("w{i}.jsonl"), &args))
        .collect();
    let runs: Vec<Run> = others
        .into_iter()
        .map(|child| wait_bounded(child, common::RUN_LIMIT))
        .collect();
    assert_all_succeeded(&runs);

    // The killed worker comes back with --resume: a half-written last line
    // (as a kill mid-write leaves) is cut, the finished crawl fetches
    // nothing more, and it exits 0.
    let torn = dir.path().join("w0.jsonl");
    let mut text = std::fs::read(&torn).unwrap();
    text.extend_from_slice(b"{\"url\":\"http://half");
    std::fs::write(&torn, text).unwrap();
    let before = site.site.requests().len();
    let mut resume = args.clone();
    resume.push("--resume");
    let back = wait_bounded(
        worker(dir.path(), &server, "kill", "w0.jsonl", &resume),
        common::RUN_LIMIT,
    );
    assert_all_succeeded(&[back]);
    assert_eq!(site.site.requests().len(), before, "the crawl was over");

    let records = recorded(dir.path(), 3);
    let union: BTreeSet<String> = records.iter().map(|(url, _)| url.clone()).collect();
    assert_eq!(
        union,
        reachable_urls(&site),
        "nothing the killed worker held is lost"
    );
    let survivors: Vec<&String> = records
        .iter()
        .filter(|(_, worker)| *worker > 0)
        .map(|(url, _)| url)
        .collect();
    let unique: BTreeSet<&String> = survivors.iter().copied().collect();
    assert_eq!(
        unique.len(),
        survivors.len(),
        "the live workers record each URL once"
    );
    // A page fetched twice was first fetched by the killed worker: only
    // what it had in flight (or fetched, unacked) is fetched again.
    let mut first_hit: HashMap<String, (usize, Instant)> = HashMap::new();
    for request in site.site.requests() {
        if request.path == "/robots.txt" {
            continue;
        }
        let entry = first_hit.entry(request.path).or_insert((0, request.at));
        entry.0 += 1;
        entry.1 = entry.1.min(request.at);
    }
    for (path, (hits, first)) in &first_hit {
        assert!(*hits <= 2, "{path} fetched {hits} times");
        if *hits == 2 {
            assert!(
                *first < killed_at,
                "{path} fetched twice, first after the kill"
            );
        }
    }
}

#[test]
fn a_redis_restart_mid_crawl_loses_nothing() {
    let site = Site::start(SiteConfig {
        pages: 300,
        latency: Duration::from_millis(30),
        ..SiteConfig::default()
    });
    let dir = workdir();
    let mut server = TestServer::start_durable(dir.path()).expect("redis-server with an AOF");
    write_seeds(dir.path(), &[&site.url("/")]);
    let mut args = FAST.to_vec();
    args.extend(["--lease-time", "3"]);
    let mut children: Vec<Child> = (0..2)
        .map(|i| {
            worker(
                dir.path(),
                &server,
                "restart",
                &format!("w{i}.jsonl"),
                &args,
            )
        })
        .collect();
    // Mid-crawl: some records written, both workers still running.
    let deadline = Instant::now() + Duration::from_secs(60);
    let written = || (0..2).map(|i| common::line_count(&dir.path().join(format!("w{i}.jsonl"))));
    while written().sum::<usize>() < 10 {
        assert!(
            Instant::now() < deadline,
            "fewer than 10 records after 60 s"
        );
        for child in &mut children {
            assert!(child.try_wait().unwrap().is_none(), "a worker ended early");
        }
        common::pause(Duration::from_millis(20));
    }
    server.restart().expect("redis-server restarts");
    let runs: Vec<Run> = children
        .into_iter()
        .map(|child| wait_bounded(child, common::RUN_LIMIT))
        .collect();
    assert_all_succeeded(&runs);
    assert!(
        runs.iter().any(|run| run.stderr.contains("unavailable")),
        "the outage is logged; stderr: {:?}",
        runs.iter().map(|run| &run.stderr).collect::<Vec<_>>()
    );
    let union: BTreeSet<String> = recorded(dir.path(), 2)
        .into_iter()
        .map(|(url, _)| url)
        .collect();
    assert_eq!(union, reachable_urls(&site), "every page recorded");
    let hits = page_hits(&site);
    assert!(hits.values().all(|n| *n <= 2), "{hits:?}");
}
