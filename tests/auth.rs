//! `--auth`: Basic credentials go to their exact origin only: not on a
//! redirect to another host, not to another port, and never into the
//! records or the archive.

mod common;

use common::{FAST, Site, read_records, trawl, workdir, write_seeds};
use trawl_testsite::SiteConfig;

fn authorizations(site: &Site) -> Vec<(String, String)> {
    site.headers_named("authorization")
}

/// A crawl of the auth area that may follow its redirect to another host.
fn area_crawl<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [
        "crawl",
        "seeds.txt",
        "-o",
        "crawl.jsonl",
        "--scope",
        "any",
        "--max-depth",
        "2",
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .chain(FAST.iter().copied())
    .collect()
}

#[test]
fn credentials_reach_their_origin_and_nothing_else() {
    let members = Site::start(SiteConfig::default());
    let elsewhere = Site::start_at(SiteConfig::default(), "127.0.0.2".parse().unwrap());
    let dir = workdir();
    let away = elsewhere.url("/p/1");
    let area = members.url(&format!("/fault/auth/area?away={away}"));
    write_seeds(dir.path(), &[&area]);
    let origin = members.site.base_url();
    let auth = format!("{origin}=trawl:secret");
    let args = area_crawl(&["--auth", auth.as_str(), "--warc", "crawl.warc.gz"]);
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let status = |url: &str| {
        records
            .iter()
            .find(|record| record["url"] == url)
            .unwrap_or_else(|| panic!("no record for {url}"))["status"]
            .clone()
    };
    assert_eq!(status(&area), 200, "the area let trawl in");
    assert_eq!(status(&members.url("/fault/auth/inner")), 200);
    // The redirect to the other host was followed, without the header.
    assert!(
        elsewhere
            .site
            .requests()
            .iter()
            .any(|request| request.path == "/p/1"),
        "the redirect's target was fetched"
    );
    assert_eq!(
        authorizations(&elsewhere),
        [],
        "credentials leaked to another host"
    );
    assert!(
        authorizations(&members)
            .iter()
            .all(|(_, value)| value == "Basic dHJhd2w6c2VjcmV0")
    );
    // Nothing secret in the output or the archive.
    let jsonl = std::fs::read_to_string(dir.path().join("crawl.jsonl")).unwrap();
    assert!(!jsonl.contains("secret") && !jsonl.contains("dHJhd2w6c2VjcmV0"));
    let archive = common::warc_text(&dir.path().join("crawl.warc.gz"));
    assert!(archive.contains("authorization: [redacted]"));
    assert!(
        !archive.contains("dHJhd2w6c2VjcmV0"),
        "the archive holds the credentials"
    );
}

#[test]
fn without_credentials_the_area_is_a_401() {
    let members = Site::start(SiteConfig::default());
    let dir = workdir();
    write_seeds(dir.path(), &[&members.url("/fault/auth/area")]);
    let args: Vec<&str> = ["crawl", "seeds.txt", "-o", "crawl.jsonl"]
        .into_iter()
        .chain(FAST.iter().copied())
        .collect();
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    assert_eq!(records[0]["status"], 401);
    assert_eq!(authorizations(&members), []);
}

#[test]
fn netrc_credentials_reach_their_host_only() {
    let members = Site::start(SiteConfig::default());
    let elsewhere = Site::start_at(SiteConfig::default(), "127.0.0.2".parse().unwrap());
    let dir = workdir();
    let away = elsewhere.url("/p/1");
    let area = members.url(&format!("/fault/auth/area?away={away}"));
    write_seeds(dir.path(), &[&area]);
    // `--netrc` reads ~/.netrc: HOME is the work folder here.
    std::fs::write(
        dir.path().join(".netrc"),
        "machine 127.0.0.1\n  login trawl\n  password secret\ndefault login guest password guest\n",
    )
    .unwrap();
    let args = area_crawl(&["--netrc"]);
    let run = common::trawl_command(dir.path(), &args)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("`default` entry is ignored"), "{stderr}");
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let area_record = records.iter().find(|record| record["url"] == area).unwrap();
    assert_eq!(area_record["status"], 200);
    assert!(
        elsewhere.site.hits("/p/1") > 0,
        "the redirect's target was fetched"
    );
    assert_eq!(authorizations(&elsewhere), [], "netrc credentials leaked");
}

#[test]
fn a_bad_netrc_is_refused_with_its_line() {
    let dir = workdir();
    write_seeds(dir.path(), &["http://127.0.0.1:9/"]);
    std::fs::write(dir.path().join("netrc"), "machine a.example\nlogn u\n").unwrap();
    let run = trawl(
        dir.path(),
        &["crawl", "seeds.txt", "--netrc-file", "netrc", "--quiet"],
    );
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--netrc-file netrc: line 2: unknown word `logn`"),
        "{}",
        run.stderr
    );
    let run = trawl(
        dir.path(),
        &["crawl", "seeds.txt", "--netrc-file", "missing", "--quiet"],
    );
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
}
