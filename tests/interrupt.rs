//! Ctrl-C: the first stops taking URLs and lets requests in flight finish;
//! the second stops at once. Either way every line written is whole.

mod common;

use std::time::Duration;

use common::{
    RUN_LIMIT, Site, pause, read_records, send_signal, trawl_command, unique_urls, wait_bounded,
    wait_for_lines, workdir, write_seeds,
};
use trawl_testsite::SiteConfig;

/// A 3,000-page site answering each request after `latency`, and trawl
/// crawling it into `crawl.jsonl` with `concurrency` requests in flight
/// (the site and the folder live as long as the caller keeps them).
fn start_crawl(
    latency: Duration,
    concurrency: &str,
) -> (Site, tempfile::TempDir, std::process::Child) {
    let site = Site::start(SiteConfig {
        pages: 3000,
        links_per_page: 8,
        latency,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let child = trawl_command(
        dir.path(),
        &[
            "crawl",
            "-o",
            "crawl.jsonl",
            "--per-host-rate",
            "0",
            "--per-host-concurrency",
            concurrency,
            "-c",
            concurrency,
        ],
    )
    .spawn()
    .expect("spawn trawl");
    (site, dir, child)
}

#[test]
fn first_ctrl_c_finishes_in_flight_requests_and_prints_the_summary() {
    let (site, dir, mut child) = start_crawl(Duration::from_millis(40), "4");
    let output = dir.path().join("crawl.jsonl");
    wait_for_lines(&output, 20, &mut child);
    send_signal(child.id(), "INT");
    let run = wait_bounded(child, RUN_LIMIT);
    assert_eq!(run.status.code(), Some(130), "{}", run.stderr);
    assert!(
        run.stderr.contains("interrupted after"),
        "summary printed: {}",
        run.stderr
    );
    let records = read_records(&output);
    let crawled = unique_urls(&records);
    assert!(
        crawled.len() >= 20 && crawled.len() < site.site.reachable().len(),
        "{}",
        crawled.len()
    );
    // Requests in flight at the interrupt were allowed to finish: every
    // request the server answered has its record.
    let page_requests = site
        .site
        .requests()
        .iter()
        .filter(|r| r.path != "/robots.txt")
        .count();
    assert_eq!(page_requests, records.len());
}

#[test]
fn second_ctrl_c_stops_at_once_without_half_lines() {
    let (_site, dir, mut child) = start_crawl(Duration::from_millis(400), "8");
    let output = dir.path().join("crawl.jsonl");
    wait_for_lines(&output, 3, &mut child);
    send_signal(child.id(), "INT");
    pause(Duration::from_millis(200));
    send_signal(child.id(), "INT");
    let run = wait_bounded(child, RUN_LIMIT);
    assert_eq!(run.status.code(), Some(130), "{}", run.stderr);
    let records = read_records(&output);
    unique_urls(&records);
    assert!(records.len() >= 3);
}
