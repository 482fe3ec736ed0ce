//! The network policy end to end: the binary against two test sites, one
//! on 127.0.0.1 (the seeds' site) and one on 127.0.0.2 (the site links,
//! redirects and a `--resolve`d name point at). Everything stays on
//! loopback; the only other address used, `fe80::1` without an interface,
//! is one the kernel refuses to connect to, so even a broken check would
//! send nothing.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;

use common::{FAST, Site, read_records, trawl, workdir, write_seeds};
use serde_json::Value;
use trawl_testsite::SiteConfig;

fn small() -> SiteConfig {
    SiteConfig {
        pages: 10,
        links_per_page: 2,
        ..SiteConfig::default()
    }
}

fn two_sites() -> (Site, Site) {
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    (Site::start(small()), Site::start_at(small(), other))
}

/// Records by URL.
fn by_url(records: &[Value]) -> HashMap<String, Value> {
    records
        .iter()
        .map(|record| (record["url"].as_str().unwrap().to_owned(), record.clone()))
        .collect()
}

fn kind(record: &Value) -> Option<&str> {
    record["error"]["kind"].as_str()
}

fn message(record: &Value) -> &str {
    record["error"]["message"].as_str().unwrap_or("")
}

fn schema_check(records: &[Value]) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/record.schema.json"
    ))
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for record in records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{record} violates the schema: {errors:?}"
        );
    }
}

/// Links, redirects, seeds and `--resolve`d names that lead to a denied
/// address are all recorded as `blocked_address`, and the server there
/// sees nothing, with robots.txt obeyed (its fetch is blocked too) or not.
#[test]
fn a_denied_address_gets_no_request_from_any_path() {
    let (site, other) = two_sites();
    let other_port = other.site.addr().port();
    let linked = other.url("/p/1");
    let redirected = other.url("/p/2");
    let seeded = other.url("/p/3");
    let rebound = format!("http://rebound.test:{other_port}/p/4");
    let link_page = site.url(&format!("/fault/link-to?url={linked}"));
    let redirect = site.url(&format!("/fault/redirect-to?url={redirected}"));
    let resolve = format!("rebound.test:{other_port}:127.0.0.2");
    for robots in [&[][..], &["--ignore-robots"][..]] {
        let dir = workdir();
        write_seeds(dir.path(), &[&link_page, &redirect, &seeded, &rebound]);
        let mut args = vec!["crawl", "seeds.txt", "-o", "crawl.jsonl"];
        args.extend_from_slice(FAST);
        args.extend_from_slice(&[
            "--scope",
            "any",
            "--max-depth",
            "1",
            "--retries",
            "3",
            "--deny-address",
            "127.0.0.2/32",
            "--resolve",
            &resolve,
        ]);
        args.extend_from_slice(robots);
        let run = trawl(dir.path(), &args);
        assert!(run.status.success(), "{}", run.stderr);
        let records = read_records(&dir.path().join("crawl.jsonl"));
        schema_check(&records);
        let records = by_url(&records);
        assert_eq!(records.len(), 5, "{records:#?}");

        let page = &records[&link_page];
        assert_eq!(page["status"], 200);
        assert_eq!(page["links"][0], linked.as_str());
        for url in [&linked, &seeded, &rebound] {
            let record = &records[url.as_str()];
            assert_eq!(kind(record), Some("blocked_address"), "{record}");
            // Not retried, whatever --retries says.
            assert!(record["attempts"].as_u64().unwrap() <= 1, "{record}");
            assert!(message(record).contains("127.0.0.2"), "{record}");
            assert!(
                message(record).contains("denied range 127.0.0.2/32"),
                "{record}"
            );
        }
        assert!(message(&records[&rebound]).contains("rebound.test resolves to 127.0.0.2"));
        let hop = &records[&redirect];
        assert_eq!(kind(hop), Some("blocked_address"), "{hop}");
        assert_eq!(hop["final_url"], redirected.as_str());
        assert!(message(hop).contains("denied range 127.0.0.2/32"), "{hop}");

        assert!(
            other.site.requests().is_empty(),
            "127.0.0.2 saw requests: {:?}",
            other.site.requests()
        );
    }
}

/// Without flags, the seeds' class (loopback) is allowed as a whole, so
/// 127.0.0.2 is crawled; link-local stays blocked even so.
#[test]
fn the_seeds_class_is_allowed_and_link_local_is_not() {
    let (site, other) = two_sites();
    let linked = other.url("/p/1");
    let link_local = "http://[fe80::1]:9/meta";
    let link_page = site.url(&format!("/fault/link-to?url={linked}"));
    // Another path than the link's, or the redirect would stop as already seen.
    let redirect = site.url("/fault/redirect-to?url=http://[fe80::1]:9/hop");
    let to_link_local = site.url(&format!("/fault/link-to?url={link_local}"));
    let dir = workdir();
    write_seeds(dir.path(), &[&link_page, &redirect, &to_link_local]);
    let mut args = vec!["crawl", "seeds.txt", "-o", "crawl.jsonl"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(&["--scope", "any", "--max-depth", "1"]);
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    schema_check(&records);
    let records = by_url(&records);
    assert_eq!(records[&linked]["status"], 200, "{:?}", records[&linked]);
    assert_eq!(other.site.hits("/p/1"), 1);
    let hop = &records[&redirect];
    assert_eq!(kind(hop), Some("blocked_address"), "{hop}");
    assert!(message(hop).contains("link-local"), "{hop}");
    let meta = &records["http://[fe80::1]:9/meta"];
    assert_eq!(kind(meta), Some("blocked_address"), "{meta}");
    assert!(message(meta).contains("fe80::1"), "{meta}");
}

/// Deny beats allow: a denied seed is recorded, the crawl still ends, and
/// neither site sees a request.
#[test]
fn deny_beats_allow_and_a_blocked_seed_does_not_stall() {
    let (site, other) = two_sites();
    let dir = workdir();
    let seeds = [site.url("/"), other.url("/")];
    write_seeds(dir.path(), &[&seeds[0], &seeds[1]]);
    let mut args = vec!["crawl", "seeds.txt", "-o", "crawl.jsonl"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(&[
        "--allow-address",
        "127.0.0.2",
        "--deny-address",
        "127.0.0.0/8",
    ]);
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let records = by_url(&read_records(&dir.path().join("crawl.jsonl")));
    assert_eq!(records.len(), 2);
    for seed in &seeds {
        let record = &records[seed.as_str()];
        assert_eq!(kind(record), Some("blocked_address"), "{record}");
        assert!(
            message(record).contains("denied range 127.0.0.0/8"),
            "{record}"
        );
    }
    assert!(site.site.requests().is_empty());
    assert!(other.site.requests().is_empty());
}

#[test]
fn a_bad_range_is_a_usage_error_naming_the_flag() {
    let dir = workdir();
    write_seeds(dir.path(), &["http://127.0.0.1:9/"]);
    for (flag, value) in [
        ("--allow-address", "intranet"),
        ("--deny-address", "10.0.0.0/33"),
    ] {
        let run = trawl(dir.path(), &["crawl", "seeds.txt", "--quiet", flag, value]);
        assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("invalid {flag} value `{value}`")),
            "{}",
            run.stderr
        );
    }
}
