//! `-H/--header` and `--accept-language`: on every request the server
//! sees, robots.txt and sitemaps included; protocol headers refused; secret
//! values never written to the archive.

mod common;

use common::{FAST, Site, trawl, workdir, write_seeds};
use trawl_testsite::SiteConfig;

#[test]
fn headers_go_with_every_request_and_secrets_stay_out_of_the_archive() {
    let site = Site::start(SiteConfig {
        pages: 15,
        links_per_page: 2,
        sitemaps: true,
        robots_txt: Some("User-agent: *\nDisallow:\n".into()),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let args: Vec<&str> = [
        "crawl",
        "seeds.txt",
        "-o",
        "crawl.jsonl",
        "--sitemaps",
        "-H",
        "X-Trawl-Test: yes",
        "--header",
        "Accept: text/html",
        "-H",
        "Authorization: Bearer s3cret-token",
        "--accept-language",
        "de, en;q=0.5",
        "--warc",
        "crawl.warc.gz",
    ]
    .into_iter()
    .chain(FAST.iter().copied())
    .collect();
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let requests = site.site.requests();
    for kind in ["/robots.txt", "/sitemap.xml", "/"] {
        assert!(
            requests.iter().any(|request| request.path == kind),
            "{kind} was requested"
        );
    }
    assert!(requests.len() > 15);
    for request in &requests {
        let values = |name: &str| -> Vec<&str> {
            request
                .headers
                .iter()
                .filter(|(header, _)| header == name)
                .map(|(_, value)| value.as_str())
                .collect()
        };
        assert_eq!(values("x-trawl-test"), ["yes"], "{}", request.path);
        assert_eq!(
            values("accept"),
            ["text/html"],
            "replaced, not added: {}",
            request.path
        );
        assert_eq!(
            values("accept-language"),
            ["de, en;q=0.5"],
            "{}",
            request.path
        );
        assert_eq!(
            values("authorization"),
            ["Bearer s3cret-token"],
            "{}",
            request.path
        );
    }
    // Bytes: the archive holds the gzip sitemap as served.
    let archive = common::warc_text(&dir.path().join("crawl.warc.gz"));
    assert!(
        archive.contains("x-trawl-test: yes\r\n"),
        "the request records show the headers"
    );
    assert!(archive.contains("authorization: [redacted]\r\n"));
    assert!(!archive.contains("s3cret"), "a secret reached the archive");
    let jsonl = std::fs::read_to_string(dir.path().join("crawl.jsonl")).unwrap();
    assert!(!jsonl.contains("s3cret"));
}

#[test]
fn protocol_headers_are_refused_before_any_request() {
    let site = Site::start(SiteConfig::default());
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    for (header, says) in [
        ("Host: example.com", "belongs to the HTTP protocol"),
        ("Content-Length: 5", "belongs to the HTTP protocol"),
        ("Transfer-Encoding: chunked", "belongs to the HTTP protocol"),
        ("Connection: close", "belongs to the HTTP protocol"),
        ("User-Agent: other", "--user-agent"),
        ("no colon here", "expected `Name: value`"),
        ("Bad Name: x", "is not a header name"),
    ] {
        let run = trawl(dir.path(), &["crawl", "seeds.txt", "--quiet", "-H", header]);
        assert_eq!(run.status.code(), Some(2), "{header}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("invalid --header value `{header}`")),
            "{header}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{header}: {}", run.stderr);
    }
    assert!(site.site.requests().is_empty(), "no request was made");
}
