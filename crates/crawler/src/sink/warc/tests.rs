use std::io::Read;
use std::time::SystemTime;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use trawl_fetcher::Exchange;

use super::*;
use crate::record::CrawlRecord;
use crate::sink::{Response, Truncation};

fn exchange(url: &str, status: u16, headers: &[(&'static str, &'static str)]) -> Exchange {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_static(value));
    }
    Exchange {
        url: url::Url::parse(url).unwrap(),
        version: reqwest::Version::HTTP_11,
        status,
        headers: map,
        remote_addr: Some("127.0.0.1:8080".parse().unwrap()),
        request_headers: vec![("user-agent".into(), "trawl/test".into())],
        started: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000),
    }
}

fn record() -> CrawlRecord {
    let entry = crate::page::entry(
        trawl_frontier::CanonicalUrl::parse("http://a.example/").unwrap(),
        0,
        None,
    );
    crate::page::failure_record(&entry, "http", String::new())
}

fn options(path: &Path) -> WarcOptions {
    WarcOptions {
        path: path.to_owned(),
        max_size: None,
        cdx: None,
        info: WarcInfo {
            software: "trawl/test".into(),
            fields: vec![("robots".into(), "obey".into())],
        },
    }
}

fn redirect_then_page() -> Response {
    Response {
        exchanges: vec![
            exchange("http://a.example/old", 301, &[("location", "/new")]),
            exchange(
                "http://a.example/new",
                200,
                &[
                    ("content-type", "text/html"),
                    ("content-encoding", "gzip"),
                    ("transfer-encoding", "chunked"),
                ],
            ),
        ],
        body: Bytes::from_static(b"<html>hello</html>"),
        truncated: None,
    }
}

fn write(sink: &mut WarcSink, response: &Response) {
    let record = record();
    sink.accept(FinishedFetch {
        record: &record,
        response: Some(response),
    })
    .unwrap();
    sink.flush().unwrap();
}

fn inflate(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn each_hop_is_a_request_and_response_pair_with_headers_fitted_to_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crawl.warc.gz");
    let mut sink = WarcSink::open(options(&path), false).unwrap();
    write(&mut sink, &redirect_then_page());
    let text = inflate(&path);
    let types: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("WARC-Type: "))
        .collect();
    assert_eq!(
        types,
        ["warcinfo", "request", "response", "request", "response"]
    );
    assert!(text.contains("software: trawl/test\r\nformat: WARC File Format 1.1"));
    assert!(text.contains("WARC-Target-URI: http://a.example/old\r\n"));
    assert!(
        text.contains("HTTP/1.1 301 Moved Permanently\r\nlocation: /new\r\nContent-Length: 0\r\n")
    );
    assert!(text.contains("X-Archive-Orig-content-encoding: gzip\r\n"));
    assert!(text.contains("X-Archive-Orig-transfer-encoding: chunked\r\n"));
    assert!(text.contains("Content-Length: 18\r\n\r\n<html>hello</html>"));
    assert!(text.contains("WARC-IP-Address: 127.0.0.1\r\n"));
    assert!(text.contains("GET /new HTTP/1.1\r\nuser-agent: trawl/test\r\n"));
    let payload = format!(
        "WARC-Payload-Digest: sha1:{}",
        data_encoding::BASE32.encode(&sha1::Sha1::digest(b"<html>hello</html>"))
    );
    assert!(text.contains(&payload), "{text}");
    // Each request names its response.
    for block in text
        .split("WARC/1.1\r\n")
        .filter(|b| b.contains("WARC-Type: request"))
    {
        assert!(block.contains("WARC-Concurrent-To: <urn:uuid:"), "{block}");
    }
}

use sha1::Digest as _;

#[test]
fn a_cut_body_is_marked_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crawl.warc");
    let mut sink = WarcSink::open(options(&path), false).unwrap();
    let mut response = redirect_then_page();
    response.exchanges.remove(0);
    response.truncated = Some(Truncation::Length);
    write(&mut sink, &response);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("WARC/1.1\r\n"), "a .warc name is plain");
    assert!(text.contains("WARC-Truncated: length\r\n"));
}

#[test]
fn a_resume_cuts_a_torn_last_record_and_goes_on() {
    for name in ["crawl.warc.gz", "crawl.warc"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut sink = WarcSink::open(options(&path), false).unwrap();
        write(&mut sink, &redirect_then_page());
        drop(sink);
        let whole = std::fs::metadata(&path).unwrap().len();
        // A crash in the middle of the next record.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&gzip_member(b"WARC/1.1\r\nWARC-Type: response\r\n")[..20])
            .unwrap();
        drop(file);
        let mut sink = WarcSink::open(options(&path), true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole, "{name}");
        write(&mut sink, &redirect_then_page());
        let text = if name.ends_with(".gz") {
            inflate(&path)
        } else {
            std::fs::read_to_string(&path).unwrap()
        };
        assert_eq!(text.matches("WARC-Type: warcinfo").count(), 1, "{name}");
        assert_eq!(text.matches("WARC-Type: response").count(), 4, "{name}");
    }
}

#[test]
fn files_rotate_past_the_size_and_the_cdx_points_into_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crawl.warc.gz");
    let cdx = dir.path().join("crawl.cdxj");
    let mut options = options(&path);
    options.max_size = Some(1500);
    options.cdx = Some(cdx.clone());
    let mut sink = WarcSink::open(options, false).unwrap();
    for _ in 0..4 {
        write(&mut sink, &redirect_then_page());
    }
    let first = dir.path().join("crawl-00001.warc.gz");
    let second = dir.path().join("crawl-00002.warc.gz");
    assert!(first.exists() && second.exists());
    assert!(!path.exists(), "with rotation every file is numbered");
    for file in [&first, &second] {
        assert!(inflate(file).starts_with("WARC/1.1\r\nWARC-Type: warcinfo"));
    }
    let index = std::fs::read_to_string(&cdx).unwrap();
    assert_eq!(index.lines().count(), 8);
    for line in index.lines() {
        let (key, rest) = line.split_once(' ').unwrap();
        assert!(key.starts_with("example,a)/"), "{line}");
        let json: serde_json::Value =
            serde_json::from_str(rest.split_once(' ').unwrap().1).unwrap();
        let file = dir.path().join(json["filename"].as_str().unwrap());
        let offset: u64 = json["offset"].as_str().unwrap().parse().unwrap();
        let length: u64 = json["length"].as_str().unwrap().parse().unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let member = &bytes[offset as usize..(offset + length) as usize];
        let mut text = String::new();
        flate2::read::GzDecoder::new(member)
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("WARC-Type: response"), "{line}");
        assert!(text.contains(json["url"].as_str().unwrap()), "{line}");
    }
}

#[test]
fn surt_keys_reverse_the_host() {
    let url = url::Url::parse("http://www.Example.com:8080/a?b=1").unwrap();
    assert_eq!(format::surt(&url), "com,example:8080)/a?b=1");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any bodies and header values round-trip: the archive decodes
        /// record by record to its end, each body and digest as written;
        /// cut anywhere, a resume keeps exactly the whole records before
        /// the cut.
        #[test]
        fn records_round_trip_and_any_cut_keeps_the_whole_ones(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..5),
            value in "[ -~]{0,40}",
            gzip in any::<bool>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(if gzip { "p.warc.gz" } else { "p.warc" });
            let mut sink = WarcSink::open(options(&path), false).unwrap();
            let mut ends = vec![std::fs::metadata(&path).map_or(0, |meta| meta.len())];
            sink.flush().unwrap();
            ends[0] = std::fs::metadata(&path).unwrap().len();
            for body in &bodies {
                let mut exchange = exchange("http://a.example/x?y", 200, &[]);
                exchange.headers.insert("x-value", HeaderValue::from_str(&value).unwrap());
                let response = Response {
                    exchanges: vec![exchange],
                    body: Bytes::from(body.clone()),
                    truncated: None,
                };
                write(&mut sink, &response);
                ends.push(std::fs::metadata(&path).unwrap().len());
            }
            drop(sink);
            let bytes = std::fs::read(&path).unwrap();
            let mut text = Vec::new();
            if gzip {
                flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut text).unwrap();
            } else {
                text = bytes.clone();
            }
            for body in &bodies {
                let digest = format!(
                    "WARC-Payload-Digest: sha1:{}",
                    data_encoding::BASE32.encode(&sha1::Sha1::digest(body))
                );
                prop_assert!(text.windows(digest.len()).any(|w| w == digest.as_bytes()));
            }
            // A crash at any byte: the resume keeps the last whole pair.
            let at = cut.index(bytes.len() + 1) as u64;
            let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
            file.set_len(at).unwrap();
            let kept = resume::cut_torn_tail(&path, &file, gzip, at).unwrap();
            // Whole records end at a record boundary: every pair's end is
            // one, and so is the end of its request record before it.
            prop_assert!(kept <= at);
            let last_pair_end = ends.iter().copied().filter(|end| *end <= at).max().unwrap_or(0);
            prop_assert!(kept >= last_pair_end, "kept {} of {}, a pair ended at {}", kept, at, last_pair_end);
        }
    }
}
