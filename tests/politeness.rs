//! Politeness and web correctness, end to end: robots.txt, Crawl-delay,
//! retries and Retry-After, timeouts, caps, encodings and trap guards. Each
//! test checks both what the server saw and what the JSONL says.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Site, read_records, trawl, unique_urls, workdir, write_seeds};
use serde_json::Value;
use trawl_testsite::SiteConfig;

fn site_with(config: SiteConfig) -> Site {
    Site::start(config)
}

fn by_path<'a>(site: &Site, records: &'a [Value]) -> HashMap<String, &'a Value> {
    let base = site.site.base_url();
    records
        .iter()
        .map(|r| {
            (
                r["url"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(&base)
                    .to_owned(),
                r,
            )
        })
        .collect()
}

/// `trawl crawl -o crawl.jsonl --quiet` with the rate limit and adaptive
/// pacing lifted, plus `extra`.
fn unlimited(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec![
        "crawl",
        "-o",
        "crawl.jsonl",
        "--quiet",
        "--per-host-rate",
        "0",
        "--delay-factor",
        "0",
    ];
    args.extend_from_slice(extra);
    args
}

fn page_requests(site: &Site) -> Vec<trawl_testsite::RequestRecord> {
    site.site
        .requests()
        .into_iter()
        .filter(|r| r.path != "/robots.txt")
        .collect()
}

#[test]
fn robots_txt_is_fetched_first_once_and_obeyed() {
    let site = site_with(SiteConfig {
        pages: 300,
        links_per_page: 6,
        robots_txt: Some(
            "User-agent: *\nDisallow: /p/1\n\nUser-agent: trawl\nDisallow: /p/2\nAllow: /p/25\n"
                .into(),
        ),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &unlimited(&["-c", "8", "--per-host-concurrency", "8"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let requests = site.site.requests();
    assert_eq!(
        requests[0].path, "/robots.txt",
        "robots.txt comes before any other request"
    );
    assert_eq!(site.site.hits("/robots.txt"), 1, "fetched once per host");
    // Our group (trawl) applies, not `*`: /p/1… is allowed, /p/2… is not, /p/25… is.
    assert!(
        requests
            .iter()
            .all(|r| !r.path.starts_with("/p/2") || r.path.starts_with("/p/25")),
        "a disallowed URL was requested"
    );
    assert!(requests.iter().any(|r| r.path.starts_with("/p/1")));
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let disallowed: Vec<&Value> = records
        .iter()
        .filter(|r| r["error"]["kind"] == "robots_disallowed")
        .collect();
    assert!(!disallowed.is_empty());
    for record in disallowed {
        let url = record["url"].as_str().unwrap();
        assert!(url.contains("/p/2") && !url.contains("/p/25"), "{url}");
        assert_eq!(record["attempts"], 0);
        assert_eq!(record["status"], Value::Null);
    }
    unique_urls(&records);
}

#[test]
fn ignore_robots_says_so_loudly() {
    let site = site_with(SiteConfig {
        pages: 5,
        links_per_page: 1,
        robots_txt: Some("User-agent: *\nDisallow: /\n".into()),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &[
            "crawl",
            "-o",
            "crawl.jsonl",
            "--quiet",
            "--ignore-robots",
            "--per-host-rate",
            "0",
        ],
    );
    assert!(run.status.success());
    assert!(run.stderr.contains("--ignore-robots"), "{}", run.stderr);
    assert_eq!(site.site.hits("/robots.txt"), 0);
    assert!(
        read_records(&dir.path().join("crawl.jsonl"))
            .iter()
            .all(|r| r["error"].is_null())
    );
}

#[test]
fn unavailable_robots_txt_means_nothing_is_fetched() {
    let site = site_with(SiteConfig {
        pages: 20,
        robots_txt: Some("oops".into()),
        robots_status: 503,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/"), &site.url("/p/3")]);
    let run = trawl(
        dir.path(),
        &[
            "crawl",
            "-o",
            "crawl.jsonl",
            "--quiet",
            "--per-host-rate",
            "0",
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        page_requests(&site).is_empty(),
        "no page may be fetched while robots.txt answers 5xx"
    );
    assert!(site.site.hits("/robots.txt") >= 2, "robots.txt is retried");
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(record["error"]["kind"], "robots_disallowed");
        assert!(
            record["error"]["message"].as_str().unwrap().contains("503"),
            "{record}"
        );
    }
}

#[test]
fn crawl_delay_spaces_requests_on_the_server() {
    let site = site_with(SiteConfig {
        pages: 50,
        links_per_page: 3,
        robots_txt: Some("User-agent: *\nCrawl-delay: 0.3\n".into()),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &[
            "crawl",
            "-o",
            "crawl.jsonl",
            "--quiet",
            "--per-host-rate",
            "0",
            "--per-host-concurrency",
            "4",
            "--max-pages",
            "6",
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let times: Vec<_> = page_requests(&site).iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 6);
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        // However slow the machine, starts are never closer than the delay
        // (a little slack for when the server notices an arrival).
        assert!(
            gap >= Duration::from_millis(270),
            "requests {gap:?} apart under Crawl-delay 0.3"
        );
    }
}

#[test]
fn retry_after_pauses_the_whole_host() {
    let site = site_with(SiteConfig {
        pages: 40,
        links_per_page: 3,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let mut seeds = vec![site.url("/fault/retry-after/k?secs=2")];
    seeds.extend((1..30).map(|i| site.url(&format!("/p/{i}"))));
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    write_seeds(dir.path(), &seed_refs);
    let run = trawl(
        dir.path(),
        &unlimited(&["--per-host-concurrency", "2", "--max-depth", "0"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let paths = by_path(&site, &records);
    let retried = paths["/fault/retry-after/k?secs=2"];
    assert_eq!(retried["status"], 200, "{retried}");
    assert_eq!(retried["attempts"], 2);
    let requests = page_requests(&site);
    let hits: Vec<_> = requests
        .iter()
        .filter(|r| r.path.starts_with("/fault/retry-after"))
        .map(|r| r.at)
        .collect();
    assert_eq!(hits.len(), 2);
    assert!(
        hits[1].duration_since(hits[0]) >= Duration::from_millis(1900),
        "retried before Retry-After"
    );
    // While the host rests, no new request starts (only ones already on
    // their way when the 429 arrived may land just after it).
    let quiet_from = hits[0] + Duration::from_millis(400);
    let quiet_to = hits[0] + Duration::from_millis(1800);
    let during = requests
        .iter()
        .filter(|r| r.at > quiet_from && r.at < quiet_to)
        .count();
    assert_eq!(
        during, 0,
        "requests reached the host while it was paused by Retry-After"
    );
}

#[test]
fn faults_become_records_with_the_right_kind() {
    let site = site_with(SiteConfig {
        pages: 5,
        links_per_page: 1,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let long_path = format!("/p/{}", "x".repeat(100 * 1024));
    let faults = [
        "/fault/flaky/ok?fail=2",
        "/fault/flaky/bad?fail=10",
        "/fault/reset",
        "/fault/slow-headers?ms=5000",
        "/fault/drip?bytes=100&ms=200",
        "/fault/redirect-loop",
        "/fault/redirect-chain/12",
        "/fault/huge?bytes=5000000",
        "/fault/gzip-bomb?bytes=104857600",
        "/fault/truncated",
        "/fault/bad-chunked",
        "/fault/huge-headers",
        "/fault/status/404",
        "/fault/binary-as-html",
        "/fault/latin1?declared=header",
        "/fault/latin1?declared=meta",
        "/fault/latin1?declared=none",
        "/fault/sjis?declared=header",
        "/fault/sjis?declared=meta",
        "/fault/sjis?declared=none",
        "/fault/meta-nofollow",
        "/fault/x-robots-nofollow",
        "/fault/base-href",
        "/fault/gb18030?declared=header",
        "/fault/gb18030?declared=meta",
        "/fault/gb18030?declared=none",
        "/fault/utf16",
        "/fault/rel-nofollow",
        "/fault/malformed",
        long_path.as_str(),
    ];
    let seeds: Vec<String> = faults.iter().map(|path| site.url(path)).collect();
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    write_seeds(dir.path(), &seed_refs);
    let run = trawl(
        dir.path(),
        &unlimited(&[
            "-c",
            "32",
            "--per-host-concurrency",
            "32",
            "--timeout",
            "2",
            "--max-body",
            "1M",
            "--max-depth",
            "0",
        ]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    unique_urls(&records);
    let paths = by_path(&site, &records);
    let kind = |path: &str| paths[path]["error"]["kind"].as_str().map(str::to_owned);

    // Flaky 503 twice, then 200: retried and recovered.
    assert_eq!(paths["/fault/flaky/ok?fail=2"]["status"], 200);
    assert_eq!(paths["/fault/flaky/ok?fail=2"]["attempts"], 3);
    assert_eq!(site.site.hits("/fault/flaky/ok?fail=2"), 3);
    // Always 503: gives up after 1 + 2 retries.
    assert_eq!(kind("/fault/flaky/bad?fail=10").as_deref(), Some("http"));
    assert_eq!(paths["/fault/flaky/bad?fail=10"]["status"], 503);
    assert_eq!(site.site.hits("/fault/flaky/bad?fail=10"), 3);
    // A reset connection is transient: retried, then recorded.
    assert!(
        matches!(kind("/fault/reset").as_deref(), Some("io" | "connect")),
        "{:?}",
        kind("/fault/reset")
    );
    assert_eq!(site.site.hits("/fault/reset"), 3);
    // Slow headers and a dripping body are cut off at the deadline.
    assert_eq!(
        kind("/fault/slow-headers?ms=5000").as_deref(),
        Some("timeout")
    );
    assert_eq!(
        kind("/fault/drip?bytes=100&ms=200").as_deref(),
        Some("timeout")
    );
    // Redirect loops and long chains.
    assert_eq!(
        kind("/fault/redirect-loop").as_deref(),
        Some("too_many_redirects")
    );
    assert_eq!(
        site.site.hits("/fault/redirect-loop"),
        1,
        "a loop is not retried"
    );
    assert_eq!(
        kind("/fault/redirect-chain/12").as_deref(),
        Some("too_many_redirects")
    );
    assert_eq!(site.site.hits("/fault/redirect-chain/0"), 0);
    // Caps count decompressed bytes: both stop at 1 MiB.
    for path in [
        "/fault/huge?bytes=5000000",
        "/fault/gzip-bomb?bytes=104857600",
    ] {
        assert_eq!(kind(path).as_deref(), Some("body_too_large"), "{path}");
        assert_eq!(paths[path]["bytes"], 1024 * 1024, "{path}");
        assert_eq!(paths[path]["attempts"], 1, "{path}: a cap is not retried");
    }
    // Broken bodies.
    assert_eq!(kind("/fault/truncated").as_deref(), Some("decode"));
    assert_eq!(kind("/fault/bad-chunked").as_deref(), Some("decode"));
    assert!(
        kind("/fault/huge-headers").is_some(),
        "huge headers are an error record"
    );
    assert_eq!(kind("/fault/status/404").as_deref(), Some("http"));
    assert_eq!(
        site.site.hits("/fault/status/404"),
        1,
        "a 404 is not retried"
    );
    // Binary bytes labelled text/html are not parsed.
    let binary = paths["/fault/binary-as-html"];
    assert_eq!(binary["title"], Value::Null);
    assert_eq!(binary["charset"], Value::Null);
    assert_eq!(binary["links"].as_array().unwrap().len(), 0);
    // Encodings, declared three ways or not at all.
    for declared in ["header", "meta", "none"] {
        let latin1 = paths[&format!("/fault/latin1?declared={declared}")];
        assert_eq!(latin1["title"], "Café Ñandú", "latin1 {declared}");
        assert_eq!(latin1["charset"], "windows-1252", "latin1 {declared}");
        let sjis = paths[&format!("/fault/sjis?declared={declared}")];
        assert_eq!(sjis["title"], "日本語のページ", "sjis {declared}");
        assert_eq!(sjis["charset"], "Shift_JIS", "sjis {declared}");
        assert_eq!(sjis["links"][0], site.url("/p/1"));
    }
    for declared in ["header", "meta", "none"] {
        let gb = paths[&format!("/fault/gb18030?declared={declared}")];
        assert_eq!(gb["title"], "中文网页", "gb18030 {declared}");
        // Undeclared, the detector names GBK, whose WHATWG decoder is the
        // GB18030 decoder: same text either way.
        let charset = gb["charset"].as_str().unwrap();
        assert!(
            charset == "gb18030" || (declared == "none" && charset == "GBK"),
            "gb18030 {declared}: {charset}"
        );
        assert_eq!(gb["links"][0], site.url("/p/1"));
    }
    let utf16 = paths["/fault/utf16"];
    assert_eq!(utf16["title"], "Ünïcödé Sïxtéén");
    assert_eq!(utf16["charset"], "UTF-16LE");
    assert_eq!(utf16["links"][0], site.url("/p/1"));
    // rel=nofollow links are followed by default, and marked.
    let rel = paths["/fault/rel-nofollow"];
    assert_eq!(
        rel["nofollow_links"],
        serde_json::json!([site.url("/fault/leaf/relnf")])
    );
    assert_eq!(rel["links"].as_array().unwrap().len(), 2);
    // Broken markup still yields its links, whitespace and all.
    let malformed = paths["/fault/malformed"];
    let expected: Vec<String> = (1..=4)
        .map(|k| site.url(&format!("/fault/leaf/m{k}")))
        .collect();
    assert_eq!(malformed["links"], serde_json::json!(expected));
    assert_eq!(malformed["title"], "Malformed <b>page");
    // Link schemes other than http(s) never reach the server.
    assert!(
        site.site
            .requests()
            .iter()
            .all(|r| !r.path.contains("mailto") && !r.path.contains("javascript"))
    );
    // nofollow: links are reported but not fetched.
    let meta = paths["/fault/meta-nofollow"];
    assert_eq!(meta["nofollow"], true);
    assert_eq!(meta["links"][0], site.url("/fault/leaf/nofollowed"));
    let header = paths["/fault/x-robots-nofollow"];
    assert_eq!(header["nofollow"], true);
    assert_eq!(
        site.site.hits("/fault/leaf/nofollowed") + site.site.hits("/fault/leaf/xnofollowed"),
        0
    );
    // <base href> decides where relative links point.
    assert_eq!(
        paths["/fault/base-href"]["links"][0],
        site.url("/fault/based/page")
    );
    // A 100 KB URL is refused without a request.
    assert_eq!(kind(&long_path).as_deref(), Some("url_too_long"));
    assert_eq!(paths[long_path.as_str()]["attempts"], 1);
    assert!(site.site.requests().iter().all(|r| r.path.len() < 10_000));
}

#[test]
fn an_infinite_trap_ends() {
    let site = site_with(SiteConfig {
        pages: 5,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/fault/trap/")]);
    let run = trawl(dir.path(), &unlimited(&[]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert!(
        records.len() < 20,
        "the trap was followed {} times",
        records.len()
    );
    for record in &records {
        let url = record["url"].as_str().unwrap();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for segment in url.split('/').skip(3).filter(|s| !s.is_empty()) {
            *counts.entry(segment).or_default() += 1;
        }
        assert!(counts.values().all(|&n| n <= 3), "{url}");
    }
}

#[test]
fn sitemaps_add_pages_no_link_leads_to() {
    let site = site_with(SiteConfig {
        pages: 400,
        links_per_page: 5,
        sitemaps: true,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(dir.path(), &unlimited(&["--sitemaps"]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let crawled = unique_urls(&records);
    let sitemap_only = site.site.sitemap_only();
    assert!(!sitemap_only.is_empty());
    let mut expected: std::collections::HashSet<String> =
        site.site.reachable().keys().cloned().collect();
    expected.extend(sitemap_only.iter().cloned());
    assert_eq!(crawled, expected);
    assert_eq!(site.site.hits("/sitemap.xml"), 1);
    assert_eq!(
        site.site.hits("/sitemaps/unlinked.xml.gz"),
        1,
        "the index's gzip sitemap is followed"
    );
    for record in records
        .iter()
        .filter(|r| sitemap_only.contains(r["url"].as_str().unwrap()))
    {
        assert_eq!(record["depth"], 0);
        assert_eq!(record["parent"], site.url("/sitemap.xml"));
    }
    assert!(
        !crawled.iter().any(|url| url.contains("outside.invalid")),
        "sitemap URLs obey the scope"
    );

    // Without --sitemaps no sitemap is read.
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let before = site.site.hits("/sitemap.xml");
    let run = trawl(dir.path(), &unlimited(&[]));
    assert!(run.status.success());
    assert_eq!(site.site.hits("/sitemap.xml"), before);
}

#[test]
fn rel_nofollow_links_are_skipped_on_request() {
    let site = site_with(SiteConfig {
        pages: 5,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/fault/rel-nofollow")]);
    let run = trawl(dir.path(), &unlimited(&[]));
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        site.site.hits("/fault/leaf/relnf"),
        1,
        "followed by default"
    );
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/fault/rel-nofollow")]);
    let run = trawl(dir.path(), &unlimited(&["--skip-nofollow-links"]));
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        site.site.hits("/fault/leaf/relnf"),
        1,
        "not fetched again with --skip-nofollow-links"
    );
    assert_eq!(
        site.site.hits("/fault/leaf/relok"),
        2,
        "plain links still followed"
    );
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records.len(), 2);
}
