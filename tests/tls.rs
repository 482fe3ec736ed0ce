//! TLS end to end: the binary against the test site's HTTPS mode (on
//! 127.0.0.1, with a CA the test makes). Untrusted is a `tls` record that
//! says what to do; `--ca-cert` trusts it over HTTP/2 or HTTP/1.1, as ALPN
//! decides; the system store (`SSL_CERT_FILE`) is trusted without a flag;
//! a bad `--ca-cert` stops trawl before any request.

mod common;

use std::path::Path;

use common::{FAST, Site, read_records, trawl, trawl_command, wait_bounded, workdir, write_seeds};
use serde_json::Value;
use trawl_testsite::{SiteConfig, TlsConfig};

fn small() -> SiteConfig {
    SiteConfig {
        pages: 12,
        links_per_page: 3,
        ..SiteConfig::default()
    }
}

fn write_ca(dir: &Path, name: &str, site: &Site) -> String {
    let path = dir.join(name);
    std::fs::write(&path, site.site.ca_pem().expect("HTTPS mode")).expect("write CA");
    path.to_str().expect("UTF-8 path").to_owned()
}

fn crawl_args<'a>(seeds: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["crawl", seeds, "-o", "out.jsonl"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(extra);
    args
}

fn errors(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| !r["error"].is_null()).collect()
}

/// Every reachable page recorded without error, and every request in `version`.
fn assert_whole_site(site: &Site, records: &[Value], version: &str) {
    assert!(errors(records).is_empty(), "{:?}", errors(records));
    let recorded: std::collections::BTreeSet<String> = records
        .iter()
        .map(|r| r["url"].as_str().unwrap().to_owned())
        .collect();
    let reachable: std::collections::BTreeSet<String> =
        site.site.reachable().keys().cloned().collect();
    assert!(
        reachable.iter().all(|url| url.starts_with("https://")),
        "{reachable:?}"
    );
    assert_eq!(recorded, reachable);
    let requests = site.site.requests();
    assert!(
        requests.iter().all(|r| r.version == version),
        "every request over {version}: {:?}",
        requests.iter().map(|r| r.version).collect::<Vec<_>>()
    );
    assert_eq!(site.site.tls_handshake_failures(), 0);
}

#[test]
fn an_untrusted_certificate_is_a_tls_record_that_says_what_to_do() {
    let site = Site::start_tls(small(), TlsConfig::default());
    let dir = workdir();
    let seed = site.url("/");
    let seeds = write_seeds(dir.path(), &[&seed]);
    // robots.txt is skipped here so that the record is the page's own.
    let run = trawl(
        dir.path(),
        &crawl_args(seeds.to_str().unwrap(), &["--ignore-robots"]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("out.jsonl"));
    assert_eq!(records.len(), 1, "{records:?}");
    let error = &records[0]["error"];
    assert_eq!(error["kind"], "tls");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "{seed}: the server's certificate is not trusted: it is self-signed or issued by a certificate authority"
        )),
        "{message}"
    );
    assert!(message.contains("pass --ca-cert FILE"), "{message}");
    assert!(site.site.requests().is_empty(), "no request got through");
    // Once in the record, not again on stderr for every connection.
    assert!(
        !run.stderr.contains("UnknownIssuer"),
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn robots_txt_over_untrusted_tls_refuses_the_host_with_the_reason() {
    let site = Site::start_tls(small(), TlsConfig::default());
    let dir = workdir();
    let seeds = write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(dir.path(), &crawl_args(seeds.to_str().unwrap(), &[]));
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("out.jsonl"));
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["error"]["kind"], "tls");
    let message = records[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("robots.txt for"), "{message}");
    assert!(
        message.contains("the server's certificate is not trusted"),
        "{message}"
    );
    // One robots.txt attempt: a certificate is not asked about three times.
    assert_eq!(site.site.tls_handshake_failures(), 1);
}

#[test]
fn ca_cert_trusts_the_site_over_http2() {
    let site = Site::start_tls(small(), TlsConfig::default());
    let other = Site::start_tls(small(), TlsConfig::default());
    let dir = workdir();
    let seeds = write_seeds(dir.path(), &[&site.url("/")]);
    let ca = write_ca(dir.path(), "ca.pem", &site);
    let unrelated = write_ca(dir.path(), "other.pem", &other);
    // Repeatable: an unrelated CA first does no harm.
    let run = trawl(
        dir.path(),
        &crawl_args(
            seeds.to_str().unwrap(),
            &["--ca-cert", &unrelated, "--ca-cert", &ca],
        ),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("out.jsonl"));
    assert_whole_site(&site, &records, "HTTP/2");
    assert_eq!(site.site.hits("/robots.txt"), 1, "robots.txt over TLS too");
}

#[test]
fn ca_cert_trusts_the_site_over_http11_when_it_offers_no_h2() {
    let tls = TlsConfig {
        alpn: vec![b"http/1.1".to_vec()],
        ..TlsConfig::default()
    };
    let site = Site::start_tls(small(), tls);
    let dir = workdir();
    let seeds = write_seeds(dir.path(), &[&site.url("/")]);
    let ca = write_ca(dir.path(), "ca.pem", &site);
    let run = trawl(
        dir.path(),
        &crawl_args(seeds.to_str().unwrap(), &["--ca-cert", &ca]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("out.jsonl"));
    assert_whole_site(&site, &records, "HTTP/1.1");
}

#[test]
fn the_system_trust_store_is_used_without_a_flag() {
    // rustls-native-certs reads SSL_CERT_FILE first on Linux: a CA put
    // there is trusted like any system root.
    let site = Site::start_tls(small(), TlsConfig::default());
    let dir = workdir();
    let seeds = write_seeds(dir.path(), &[&site.url("/")]);
    let ca = write_ca(dir.path(), "system.pem", &site);
    let child = trawl_command(dir.path(), &crawl_args(seeds.to_str().unwrap(), &[]))
        .env("SSL_CERT_FILE", &ca)
        .spawn()
        .expect("spawn trawl");
    let run = wait_bounded(child, common::RUN_LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("out.jsonl"));
    assert_whole_site(&site, &records, "HTTP/2");
}

#[test]
fn a_bad_ca_cert_is_a_usage_error_before_any_request() {
    let site = Site::start_tls(small(), TlsConfig::default());
    let dir = workdir();
    let seeds = write_seeds(dir.path(), &[&site.url("/")]);
    std::fs::write(dir.path().join("notes.txt"), "not a certificate\n").unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for (file, reason) in [
        ("missing.pem", "cannot read it"),
        ("notes.txt", "it is not PEM"),
        ("key.pem", "it holds no certificate, only a private key"),
    ] {
        let run = trawl(
            dir.path(),
            &crawl_args(seeds.to_str().unwrap(), &["--ca-cert", file]),
        );
        assert_eq!(run.status.code(), Some(2), "{file}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("trawl: error: invalid --ca-cert {file}: {reason}")),
            "{file}: {}",
            run.stderr
        );
        assert!(!dir.path().join("out.jsonl").exists(), "{file}: no output");
    }
    assert!(site.site.requests().is_empty());
    assert_eq!(
        site.site.tls_handshake_failures(),
        0,
        "not even a handshake"
    );
}

#[test]
fn without_system_roots_trawl_says_so_and_ca_cert_still_works() {
    let site = Site::start_tls(small(), TlsConfig::default());
    let dir = workdir();
    let seeds = write_seeds(dir.path(), &[&site.url("/")]);
    let ca = write_ca(dir.path(), "ca.pem", &site);
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let no_dir = dir.path().join("no-certs");
    std::fs::create_dir(&no_dir).unwrap();
    let run_with = |extra: &[&str]| {
        let child = trawl_command(dir.path(), &crawl_args(seeds.to_str().unwrap(), extra))
            .env("SSL_CERT_FILE", &empty)
            .env("SSL_CERT_DIR", &no_dir)
            .spawn()
            .expect("spawn trawl");
        wait_bounded(child, common::RUN_LIMIT)
    };
    let run = run_with(&[]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("No CA certificates were loaded from the system")
            && run.stderr.contains("or trust a CA with --ca-cert"),
        "{}",
        run.stderr
    );
    assert!(site.site.requests().is_empty());
    let run = run_with(&["--ca-cert", &ca, "--fresh"]);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("out.jsonl"));
    assert_whole_site(&site, &records, "HTTP/2");
}
