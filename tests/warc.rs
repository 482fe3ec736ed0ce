//! `--warc`: a crawl of the test site archived as WARC 1.1, read back by a
//! real reader. `warcio` (`TEST_WARCIO`, which `.ci/run` sets to the one it
//! installs, or `warcio` on the PATH) checks every digest and indexes the
//! files; the test also reads the archive itself, so it checks the records'
//! content wherever it runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{FAST, Site, read_records, trawl, workdir, write_seeds};
use serde_json::Value;
use trawl_testsite::SiteConfig;

/// The warcio command, when one is available.
fn warcio() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TEST_WARCIO") {
        return Some(PathBuf::from(path));
    }
    Command::new("warcio")
        .arg("--help")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|_| PathBuf::from("warcio"))
}

/// `warcio check` and `warcio index` on `file`, when warcio is there;
/// returns the index lines.
fn warcio_check_and_index(file: &Path) -> Option<Vec<Value>> {
    let warcio = warcio()?;
    let check = Command::new(&warcio)
        .args(["check", "-v"])
        .arg(file)
        .output()
        .expect("run warcio check");
    assert!(
        check.status.success(),
        "warcio check {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let index = Command::new(&warcio)
        .args([
            "index",
            "-f",
            "warc-type,warc-target-uri,http:status,length,offset",
        ])
        .arg(file)
        .output()
        .expect("run warcio index");
    assert!(
        index.status.success(),
        "{}",
        String::from_utf8_lossy(&index.stderr)
    );
    Some(common::parse_lines(&String::from_utf8_lossy(&index.stdout)))
}

/// The archive's records: WARC headers and block, read with our own parser.
struct Record {
    headers: BTreeMap<String, String>,
    block: Vec<u8>,
}

fn read_warc(file: &Path) -> Vec<Record> {
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(file).expect("open the WARC"))
        .read_to_end(&mut bytes)
        .expect("every member decodes");
    let mut records = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a WARC header");
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        assert!(head.starts_with("WARC/1.1\r\n"), "{head}");
        let headers: BTreeMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let length: usize = headers["Content-Length"].parse().unwrap();
        let block = rest[end + 4..end + 4 + length].to_vec();
        assert_eq!(&rest[end + 4 + length..end + 8 + length], b"\r\n\r\n");
        rest = &rest[end + 8 + length..];
        records.push(Record { headers, block });
    }
    records
}

#[test]
fn a_crawl_is_archived_as_warc_that_a_real_reader_checks() {
    let site = Site::start(SiteConfig {
        pages: 30,
        links_per_page: 3,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let paths = [
        "/",
        "/fault/gzip-page",
        "/fault/chunked",
        "/fault/redirect-chain/2",
        "/fault/huge?bytes=300000",
        "/fault/status/404",
    ];
    let seeds: Vec<String> = paths.iter().map(|path| site.url(path)).collect();
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    write_seeds(dir.path(), &seed_refs);
    let args: Vec<&str> = [
        "crawl",
        "seeds.txt",
        "-o",
        "crawl.jsonl",
        "--warc",
        "crawl.warc.gz",
    ]
    .into_iter()
    .chain(["--warc-cdx", "crawl.cdxj", "--max-body", "100K"])
    .chain(FAST.iter().copied())
    .collect();
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let warc = dir.path().join("crawl.warc.gz");
    let archived = read_warc(&warc);

    assert_eq!(archived[0].headers["WARC-Type"], "warcinfo");
    let info = String::from_utf8_lossy(&archived[0].block);
    assert!(info.contains("software: trawl/"), "{info}");
    assert!(info.contains("robots: obey"), "{info}");

    // Every record of the output that got a response has its exchanges
    // archived, and every response in the archive belongs to a record.
    let responses: Vec<&Record> = archived
        .iter()
        .filter(|record| record.headers["WARC-Type"] == "response")
        .collect();
    let requests = archived
        .iter()
        .filter(|record| record.headers["WARC-Type"] == "request")
        .count();
    assert_eq!(requests, responses.len(), "one request per response");
    let robots_records = responses
        .iter()
        .filter(|record| record.headers["WARC-Target-URI"].ends_with("/robots.txt"))
        .count();
    assert_eq!(
        robots_records, 1,
        "robots.txt is fetched, and archived, once"
    );
    let archived_uris: BTreeSet<&str> = responses
        .iter()
        .map(|record| record.headers["WARC-Target-URI"].as_str())
        .collect();
    for record in &records {
        if record["status"].is_u64() {
            assert!(
                archived_uris.contains(record["final_url"].as_str().unwrap()),
                "{} is not archived",
                record["final_url"]
            );
        }
    }
    let recorded_hops: BTreeSet<String> = records
        .iter()
        .flat_map(|record| {
            let mut hops: Vec<String> = record["redirects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hop| hop.as_str().unwrap().to_owned())
                .collect();
            hops.push(record["final_url"].as_str().unwrap().to_owned());
            hops
        })
        .collect();
    // robots.txt is archived too, without a record of its own.
    let robots = site.url("/robots.txt");
    assert!(
        archived_uris.contains(robots.as_str()),
        "robots.txt is archived"
    );
    for uri in archived_uris.iter().filter(|uri| **uri != robots) {
        assert!(
            recorded_hops.contains(*uri),
            "{uri} archived without a record"
        );
    }

    let response = |path: &str| -> &Record {
        let uri = site.url(path);
        responses
            .iter()
            .find(|record| record.headers["WARC-Target-URI"] == uri)
            .unwrap_or_else(|| panic!("no response record for {path}"))
    };
    // The redirect hops are their own pairs.
    let hop = String::from_utf8_lossy(&response("/fault/redirect-chain/2").block).into_owned();
    assert!(hop.starts_with("HTTP/1.1 302 "), "{hop}");
    response("/fault/redirect-chain/1");
    // A gzip-served page is archived decoded, with no header left that
    // says otherwise.
    let gzip = String::from_utf8_lossy(&response("/fault/gzip-page").block).into_owned();
    assert!(
        !gzip.to_ascii_lowercase().contains("\r\ncontent-encoding:"),
        "{gzip}"
    );
    assert!(gzip.contains("<title>Gzip page</title>"), "{gzip}");
    let chunked = String::from_utf8_lossy(&response("/fault/chunked").block).into_owned();
    assert!(
        chunked.contains("X-Archive-Orig-transfer-encoding: chunked"),
        "{chunked}"
    );
    assert!(chunked.contains("<title>Chunked page</title>"), "{chunked}");
    // The body cut at --max-body says so.
    let huge = response("/fault/huge?bytes=300000");
    assert_eq!(
        huge.headers.get("WARC-Truncated").map(String::as_str),
        Some("length")
    );
    assert!(
        response("/fault/status/404")
            .headers
            .contains_key("WARC-IP-Address")
    );

    // The CDXJ index has a line per response record.
    let cdx = std::fs::read_to_string(dir.path().join("crawl.cdxj")).unwrap();
    assert_eq!(cdx.lines().count(), responses.len());

    if let Some(index) = warcio_check_and_index(&warc) {
        let indexed = index
            .iter()
            .filter(|line| line["warc-type"] == "response")
            .count();
        assert_eq!(indexed, responses.len());
    } else {
        eprintln!(
            "warcio not found: set TEST_WARCIO (as .ci/run does) to check the digests with it"
        );
    }
}

#[test]
fn a_killed_crawl_resumes_its_archive_whole() {
    let site = Site::start(SiteConfig {
        pages: 1500,
        links_per_page: 6,
        // About 200 pages a second with 4 in flight: each kill point is
        // seconds before the end, so a kill always lands mid-crawl even
        // when a 1-second flush writes many lines at once.
        latency: std::time::Duration::from_millis(20),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let output = dir.path().join("crawl.jsonl");
    let warc = dir.path().join("crawl.warc.gz");
    let base = [
        "crawl",
        "-o",
        "crawl.jsonl",
        "--warc",
        "crawl.warc.gz",
        "--quiet",
        "-c",
        "4",
        "--per-host-concurrency",
        "4",
        "--per-host-rate",
        "0",
        "--delay-factor",
        "0",
    ];
    for (round, kill_at) in [80, 600].into_iter().enumerate() {
        let mut args = base.to_vec();
        if round > 0 {
            args.push("--resume");
        }
        let mut child = common::trawl_command(dir.path(), &args)
            .spawn()
            .expect("spawn trawl");
        common::wait_for_lines(&output, kill_at, &mut child);
        common::send_signal(child.id(), "KILL");
        let run = common::wait_bounded(child, common::RUN_LIMIT);
        assert!(!run.status.success(), "killed");
    }
    let mut args = base.to_vec();
    args.push("--resume");
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "final resume: {}", run.stderr);

    let records = read_records(&output);
    let archived = read_warc(&warc);
    let infos = archived
        .iter()
        .filter(|record| record.headers["WARC-Type"] == "warcinfo")
        .count();
    assert_eq!(infos, 1, "a resume goes on in the same file");
    let archived_uris: BTreeSet<&str> = archived
        .iter()
        .filter(|record| record.headers["WARC-Type"] == "response")
        .map(|record| record.headers["WARC-Target-URI"].as_str())
        .collect();
    for record in &records {
        assert!(
            archived_uris.contains(record["final_url"].as_str().unwrap()),
            "{} recorded but not archived",
            record["final_url"]
        );
    }
    assert_eq!(
        common::unique_urls(&records).len(),
        site.site.reachable().len()
    );
    warcio_check_and_index(&warc);
}

#[test]
fn sitemap_fetches_are_archived_too() {
    let site = Site::start(SiteConfig {
        pages: 20,
        links_per_page: 2,
        sitemaps: true,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let args: Vec<&str> = [
        "crawl",
        "seeds.txt",
        "-o",
        "crawl.jsonl",
        "--warc",
        "crawl.warc.gz",
    ]
    .into_iter()
    .chain(["--sitemaps"])
    .chain(FAST.iter().copied())
    .collect();
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let warc = dir.path().join("crawl.warc.gz");
    let uris: BTreeSet<String> = read_warc(&warc)
        .iter()
        .filter(|record| record.headers["WARC-Type"] == "response")
        .map(|record| record.headers["WARC-Target-URI"].clone())
        .collect();
    assert!(uris.contains(&site.url("/sitemap.xml")), "{uris:?}");
    assert!(uris.iter().any(|uri| uri.ends_with(".xml.gz")), "{uris:?}");
    warcio_check_and_index(&warc);
}
