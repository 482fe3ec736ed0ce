//! --proxy: every request leaves through the proxy (absolute-form GET for
//! http, CONNECT for https, SOCKS5), robots.txt stays per target host,
//! --no-proxy and the environment's variables decide who goes direct,
//! a proxy login comes from the URL and is never recorded, and a proxy
//! that fails is recorded as `proxy`. The proxy's own log proves it.

mod common;

use common::{FAST, Site, read_records, trawl, trawl_command, wait_bounded, workdir, write_seeds};
use serde_json::Value;
use trawl_testsite::{ProxiedRequest, SiteConfig, TlsConfig};

fn small() -> SiteConfig {
    SiteConfig {
        pages: 6,
        links_per_page: 2,
        ..SiteConfig::default()
    }
}

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    ["crawl", "seeds.txt", "-o", "crawl.jsonl", "--retries", "0"]
        .into_iter()
        .chain(extra.iter().copied())
        .chain(FAST.iter().copied())
        .collect()
}

/// The paths the site served, sorted.
fn served(site: &Site) -> Vec<String> {
    let mut paths: Vec<String> = site
        .site
        .requests()
        .into_iter()
        .map(|request| request.path)
        .collect();
    paths.sort();
    paths
}

fn carried(log: &[ProxiedRequest], method: &str) -> Vec<String> {
    let mut targets: Vec<String> = log
        .iter()
        .filter(|request| request.method == method && request.carried)
        .map(|request| request.target.clone())
        .collect();
    targets.sort();
    targets
}

#[test]
fn http_requests_of_two_hosts_go_through_the_proxy_each_with_its_own_robots() {
    let first = Site::start(small());
    let second = Site::start_at(small(), "127.0.0.2".parse().unwrap());
    let proxy = first.proxy(None);
    let dir = workdir();
    write_seeds(dir.path(), &[&first.url("/"), &second.url("/")]);
    let proxy_url = proxy.url();
    let run = trawl(dir.path(), &args(&["--proxy", &proxy_url]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(
        records.len(),
        2 * first.site.reachable().len(),
        "both sites whole"
    );
    let log = proxy.requests();
    let mut expected: Vec<String> = served(&first)
        .into_iter()
        .map(|path| first.url(&path))
        .chain(served(&second).into_iter().map(|path| second.url(&path)))
        .collect();
    expected.sort();
    assert_eq!(
        carried(&log, "GET"),
        expected,
        "every request the sites served came through the proxy, in absolute form"
    );
    for site in [&first, &second] {
        assert_eq!(
            site.site.hits("/robots.txt"),
            1,
            "robots.txt per target host"
        );
    }
}

#[test]
fn https_goes_through_a_connect_tunnel_with_certificates_checked_end_to_end() {
    let site = Site::start_tls(small(), TlsConfig::default());
    let proxy = site.proxy(None);
    let dir = workdir();
    std::fs::write(dir.path().join("ca.pem"), site.site.ca_pem().unwrap()).unwrap();
    write_seeds(dir.path(), &[&site.url("/")]);
    let proxy_url = proxy.url();
    let run = trawl(
        dir.path(),
        &args(&["--proxy", &proxy_url, "--ca-cert", "ca.pem"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records.len(), site.site.reachable().len());
    assert!(records.iter().all(|record| record["status"] == 200));
    let tunnels = carried(&proxy.requests(), "CONNECT");
    let authority = site.site.addr().to_string();
    assert!(!tunnels.is_empty(), "no CONNECT reached the proxy");
    assert!(
        tunnels.iter().all(|target| *target == authority),
        "{tunnels:?}"
    );
    assert!(carried(&proxy.requests(), "GET").is_empty());
}

#[test]
fn an_https_proxy_carries_both_schemes_with_both_certificates_checked() {
    let plain = Site::start(small());
    let secure = Site::start_tls(small(), TlsConfig::default());
    let proxy = plain.tls_proxy();
    let dir = workdir();
    std::fs::write(dir.path().join("proxy-ca.pem"), proxy.ca_pem().unwrap()).unwrap();
    std::fs::write(
        dir.path().join("site-ca.pem"),
        secure.site.ca_pem().unwrap(),
    )
    .unwrap();
    write_seeds(dir.path(), &[&plain.url("/"), &secure.url("/")]);
    let proxy_url = proxy.url();
    assert!(proxy_url.starts_with("https://"));
    let extra = [
        "--proxy",
        proxy_url.as_str(),
        "--ca-cert",
        "proxy-ca.pem",
        "--ca-cert",
        "site-ca.pem",
    ];
    let run = trawl(dir.path(), &args(&extra));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(
        records.len(),
        plain.site.reachable().len() + secure.site.reachable().len(),
        "{}",
        run.stderr
    );
    assert!(records.iter().all(|record| record["status"] == 200));
    let log = proxy.requests();
    assert!(
        !carried(&log, "GET").is_empty(),
        "http went through: {log:?}"
    );
    assert!(
        !carried(&log, "CONNECT").is_empty(),
        "https went through: {log:?}"
    );

    // Without the proxy's CA the TLS to the proxy fails, as `proxy`.
    let other = workdir();
    write_seeds(other.path(), &[&plain.url("/p/1")]);
    let run = trawl(
        other.path(),
        &args(&["--proxy", &proxy_url, "--ignore-robots"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&other.path().join("crawl.jsonl"));
    assert_eq!(records[0]["error"]["kind"], "proxy", "{:?}", records[0]);
    let message = records[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("through proxy https://127.0.0.1:") && message.contains("--ca-cert"),
        "{message}"
    );
}

#[test]
fn socks5h_hands_the_name_to_the_proxy() {
    let site = Site::start(small());
    let proxy = site.proxy(None);
    let dir = workdir();
    let port = site.site.addr().port();
    let seed = format!("http://localhost:{port}/");
    write_seeds(dir.path(), &[&seed]);
    let proxy_url = format!("socks5h://{}", proxy.url().trim_start_matches("http://"));
    let run = trawl(dir.path(), &args(&["--proxy", &proxy_url]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records.len(), site.site.reachable().len(), "{}", run.stderr);
    let tunnels = carried(&proxy.requests(), "SOCKS5");
    assert!(!tunnels.is_empty(), "nothing went through SOCKS5");
    assert!(
        tunnels
            .iter()
            .all(|target| *target == format!("localhost:{port}")),
        "the proxy got the name, not an address: {tunnels:?}"
    );
}

#[test]
fn a_proxy_login_comes_from_the_url_and_stays_out_of_the_records() {
    let site = Site::start(small());
    let proxy = site.proxy(Some(("crawler", "hunter2")));
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let with_login = proxy.url().replace("http://", "http://crawler:hunter2@");
    let run = trawl(
        dir.path(),
        &args(&["--proxy", &with_login, "--warc", "crawl.warc.gz"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records.len(), site.site.reachable().len());
    let log = proxy.requests();
    assert!(
        log.iter().all(|request| request.carried
            && request.proxy_authorization.as_deref() == Some("Basic Y3Jhd2xlcjpodW50ZXIy")),
        "{log:?}"
    );
    let archive = common::warc_text(&dir.path().join("crawl.warc.gz"));
    assert!(archive.contains("proxy-authorization: [redacted]"));
    assert!(!archive.contains("Y3Jhd2xlcjpodW50ZXIy") && !archive.contains("hunter2"));
    assert!(!run.stderr.contains("hunter2"));

    // Without the login: every record says `proxy`, nothing reached the site.
    let other = workdir();
    write_seeds(other.path(), &[&site.url("/p/1")]);
    let before = site.site.requests().len();
    let run = trawl(
        other.path(),
        &args(&["--proxy", &proxy.url(), "--ignore-robots"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&other.path().join("crawl.jsonl"));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["error"]["kind"], "proxy", "{:?}", records[0]);
    assert_eq!(records[0]["attempts"], 1, "a 407 is not retried");
    assert_eq!(site.site.requests().len(), before);
}

#[test]
fn no_proxy_and_the_environment_decide_who_goes_direct() {
    let site = Site::start(small());
    let proxy = site.proxy(None);
    let proxy_url = proxy.url();
    let crawl = |extra: &[&str], env: &[(&str, &str)]| {
        let dir = workdir();
        write_seeds(dir.path(), &[&site.url("/")]);
        let before = proxy.requests().len();
        let mut command = trawl_command(dir.path(), &args(extra));
        for (name, value) in env {
            command.env(name, value);
        }
        let run = wait_bounded(command.spawn().expect("spawn trawl"), common::RUN_LIMIT);
        assert!(run.status.success(), "{}", run.stderr);
        let records: Vec<Value> = read_records(&dir.path().join("crawl.jsonl"));
        assert_eq!(records.len(), site.site.reachable().len());
        proxy.requests().len() - before
    };
    assert_eq!(
        crawl(&["--proxy", &proxy_url, "--no-proxy", "127.0.0.1"], &[]),
        0
    );
    assert!(
        crawl(&[], &[("HTTP_PROXY", &proxy_url)]) > 0,
        "HTTP_PROXY is honoured"
    );
    assert_eq!(
        crawl(
            &[],
            &[("HTTP_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.0/8")]
        ),
        0,
        "NO_PROXY is honoured"
    );
    assert_eq!(
        crawl(&["--no-proxy", "*"], &[("HTTP_PROXY", &proxy_url)]),
        0,
        "--no-proxy '*' turns the environment's proxy off"
    );
    assert_eq!(
        crawl(&[], &[("HTTPS_PROXY", &proxy_url)]),
        0,
        "an https proxy is not used for http targets"
    );
}

#[test]
fn an_unreachable_proxy_is_recorded_as_proxy_and_a_bad_one_refused() {
    let site = Site::start(small());
    let (_refusing, port) = common::refusing_port();
    let dead = format!("http://127.0.0.1:{port}");
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/p/1")]);
    let run = trawl(dir.path(), &args(&["--proxy", &dead, "--ignore-robots"]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records[0]["error"]["kind"], "proxy", "{:?}", records[0]);
    let message = records[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("through proxy http://127.0.0.1:"),
        "{message}"
    );
    assert!(site.site.requests().is_empty());

    let run = trawl(
        dir.path(),
        &args(&["--proxy", "ftp://user:pw@proxy.example:21"]),
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(
        run.stderr.contains("invalid --proxy value"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(":pw@"),
        "the password is hidden: {}",
        run.stderr
    );
    let run = trawl_command(dir.path(), &args(&[]))
        .env("HTTPS_PROXY", "gopher://x:1")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("environment variable HTTPS_PROXY"),
        "{stderr}"
    );
}

#[test]
fn the_proxy_can_come_from_the_config_file() {
    let site = Site::start(small());
    let proxy = site.proxy(None);
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    std::fs::write(
        dir.path().join("trawl.toml"),
        format!(
            "proxy = \"{}\"\nno_proxy = \"internal.example\"\n",
            proxy.url()
        ),
    )
    .unwrap();
    let run = trawl(dir.path(), &args(&[]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records.len(), site.site.reachable().len());
    assert_eq!(
        carried(&proxy.requests(), "GET").len(),
        site.site.requests().len(),
        "every request went through the file's proxy"
    );
}
