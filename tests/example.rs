//! `examples/crawl_site.rs`, the library's worked example, crawls the test
//! site through the library API: one JSON record per page on stdout, each
//! page requested once.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{RUN_LIMIT, Site, parse_lines, unique_urls, wait_bounded};
use trawl_testsite::SiteConfig;

/// `cargo test` builds the examples beside the test binaries.
fn example_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("test binary path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile_dir.join("examples").join("crawl_site")
}

#[test]
fn crawl_site_example_crawls_every_page_once() {
    let site = Site::start(SiteConfig {
        pages: 300,
        links_per_page: 4,
        ..SiteConfig::default()
    });
    let child = Command::new(example_binary())
        .args([site.url("/").as_str(), "--rate", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run examples/crawl_site (built by cargo test)");
    let run = wait_bounded(child, RUN_LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let records = parse_lines(&run.stdout);
    let crawled = unique_urls(&records);
    let expected: std::collections::HashSet<String> = site.site.reachable().into_keys().collect();
    assert_eq!(crawled, expected);
    for page in &expected {
        let path = url::Url::parse(page).expect("a URL").path().to_owned();
        assert_eq!(site.site.hits(&path), 1, "{path} requested once");
    }
    assert!(records.iter().all(|record| record["status"] == 200));
}

#[test]
fn crawl_site_example_names_a_bad_argument() {
    let output = Command::new(example_binary())
        .args(["http://127.0.0.1:9/", "--rate", "fast"])
        .output()
        .expect("run examples/crawl_site");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--rate `fast`"), "{stderr}");
}
