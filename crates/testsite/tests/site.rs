//! The test site over real sockets, spoken to by a tiny HTTP/1.1 client
//! written here (no HTTP library), so what is tested is the bytes on the
//! wire: pages, ground truth, the request log and every fault endpoint.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trawl_testsite::{PageProfile, SiteConfig, TestSite};
use url::Url;

/// Every network step of a test is bounded by this, so a hang fails fast.
const STEP: Duration = Duration::from_secs(5);

/// One response as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    /// The head's size in bytes, blank line included.
    head_len: usize,
    /// Body bytes as sent (chunked bodies are not decoded).
    body: Vec<u8>,
    /// False when the connection ended before Content-Length bytes came.
    complete: bool,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn title(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("<title>")? + "<title>".len();
        let end = text[start..].find("</title>")? + start;
        Some(text[start..end].to_owned())
    }

    /// Every `href="..."` value, in page order.
    fn hrefs(&self) -> Vec<String> {
        let text = self.text();
        text.split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect()
    }
}

/// A keep-alive HTTP/1.1 connection.
#[derive(Debug)]
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, extra_headers: &str) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: test.invalid\r\nUser-Agent: tiny-client/1\r\n{extra_headers}\r\n"
        );
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("request written");
    }

    /// Reads more bytes; false at end of stream (or a reset).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        match tokio::time::timeout(STEP, self.stream.read(&mut chunk))
            .await
            .expect("server answers in time")
        {
            Ok(0) | Err(_) => false,
            Ok(read) => {
                self.buffer.extend_from_slice(&chunk[..read]);
                true
            }
        }
    }

    /// Reads one response; `None` if the server closed without one.
    /// `head_only` is for replies to HEAD, which have no body.
    async fn read_reply(&mut self, head_only: bool) -> Option<Reply> {
        let head_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.buffer.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .expect("numeric status");
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let mut reply = Reply {
            status,
            headers,
            head_len: head_end + 4,
            body: Vec::new(),
            complete: true,
        };
        let length = reply
            .header("Content-Length")
            .map(|value| value.parse::<usize>().expect("numeric Content-Length"));
        match length {
            _ if head_only || matches!(status, 100..=199 | 204 | 304) => {}
            Some(length) => {
                while self.buffer.len() < length {
                    if !self.fill().await {
                        reply.complete = false;
                        break;
                    }
                }
                let take = length.min(self.buffer.len());
                reply.body = self.buffer.drain(..take).collect();
            }
            // Chunked or close-delimited: everything until the end.
            None => {
                while self.fill().await {}
                reply.body = std::mem::take(&mut self.buffer);
            }
        }
        Some(reply)
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, "").await;
        self.read_reply(false).await.expect("a response")
    }

    /// True once the server has closed the connection.
    async fn closed(&mut self) -> bool {
        !self.fill().await && self.buffer.is_empty()
    }
}

/// One GET on a fresh connection.
async fn get(site: &TestSite, path: &str) -> Reply {
    Client::connect(site.addr()).await.get(path).await
}

async fn start(config: SiteConfig) -> TestSite {
    TestSite::start(config).await.expect("site starts")
}

/// The uniform page, whose titles and sizes these tests check (the
/// realistic page's own tests are beside its generator).
fn small() -> SiteConfig {
    SiteConfig {
        pages: 300,
        links_per_page: 4,
        seed: 7,
        profile: PageProfile::Uniform,
        ..SiteConfig::default()
    }
}

/// The crawler's canonical form, for these URLs: fragment dropped (the
/// `url` crate already resolves dot segments and lower-cases).
fn canonical(base: &Url, href: &str) -> Option<Url> {
    let mut url = base.join(href).ok()?;
    url.set_fragment(None);
    Some(url)
}

#[tokio::test]
async fn root_and_pages_are_html_with_titles() {
    let site = start(SiteConfig {
        profile: PageProfile::Uniform,
        ..SiteConfig::default()
    })
    .await;
    let root = get(&site, "/").await;
    assert_eq!(root.status, 200);
    assert_eq!(root.title().as_deref(), Some("Page 0"));
    assert_eq!(
        root.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        root.header("Content-Length"),
        Some(root.body.len().to_string().as_str())
    );
    let page = get(&site, "/p/42").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.title().as_deref(), Some("Page 42"));
    // Padded to about page_bytes (2048 by default).
    assert!(
        (1900..=2600).contains(&page.body.len()),
        "{} bytes",
        page.body.len()
    );
    for link in [
        "mailto:a@example.invalid",
        "javascript:void(0)",
        "tel:+1",
        "http://outside.invalid/p/1",
    ] {
        assert!(page.hrefs().iter().any(|h| h == link), "missing {link}");
    }
    // Pages that exist but are never linked are still served.
    assert_eq!(get(&site, "/p/97").await.status, 200);
    site.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let site = start(small()).await;
    for path in ["/nope", "/p/300", "/p/abc", "/p/", "/fault/no-such-fault"] {
        let reply = get(&site, path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.text().contains("<title>"), "{path}");
    }
}

#[tokio::test]
async fn robots_txt_is_served_only_when_configured() {
    let without = start(small()).await;
    assert_eq!(get(&without, "/robots.txt").await.status, 404);
    let rules = "User-agent: *\nDisallow: /p/1\n";
    let with = start(SiteConfig {
        robots_txt: Some(rules.to_owned()),
        ..small()
    })
    .await;
    let reply = get(&with, "/robots.txt").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), rules);
    assert!(
        reply
            .header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test]
async fn ground_truth_is_deterministic_and_skips_multiples_of_97() {
    let paths = |site: &TestSite| -> BTreeMap<String, u32> {
        let base = site.base_url();
        site.reachable()
            .into_iter()
            .map(|(url, depth)| (url.strip_prefix(&base).unwrap().to_owned(), depth))
            .collect()
    };
    let config = SiteConfig {
        pages: 1000,
        ..small()
    };
    let a = start(config.clone()).await;
    let b = start(config.clone()).await;
    let other = start(SiteConfig { seed: 8, ..config }).await;
    assert_ne!(a.addr(), b.addr());
    let truth = paths(&a);
    assert_eq!(truth, paths(&b));
    assert_ne!(truth, paths(&other));

    assert_eq!(truth.get("/"), Some(&0));
    assert_eq!(a.reachable()[&format!("{}/", a.base_url())], 0);
    assert!(a.reachable().contains_key(&a.url("/p/1")));
    for page in (97..1000).step_by(97) {
        assert!(!truth.contains_key(&format!("/p/{page}")), "{page}");
    }
    assert!(truth.len() > 900 && truth.len() < 1000, "{}", truth.len());

    let within = a.reachable_within(1);
    let expected: BTreeSet<String> = a
        .reachable()
        .into_iter()
        .filter(|&(_, depth)| depth <= 1)
        .map(|(url, _)| url)
        .collect();
    assert_eq!(within, expected);
    assert!(within.contains(&a.url("/")));
    assert_eq!(a.reachable_within(u32::MAX).len(), truth.len());
}

/// A breadth-first crawl over HTTP, resolving every link the way a browser
/// does, finds exactly the ground truth at exactly its depths, and every
/// spelling of an in-scope link lands on a page that exists.
#[tokio::test]
async fn a_real_crawl_finds_exactly_the_ground_truth() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;
    let root = Url::parse(&site.url("/")).unwrap();
    let mut depth: BTreeMap<String, u32> = BTreeMap::from([(root.to_string(), 0)]);
    let mut queue = VecDeque::from([root]);
    let mut spellings = HashSet::new();
    let mut skipped = HashSet::new();
    while let Some(page) = queue.pop_front() {
        // The whole crawl runs on one keep-alive connection.
        let reply = client.get(&page[url::Position::BeforePath..]).await;
        assert_eq!(reply.status, 200, "{page}");
        for href in reply.hrefs() {
            let Some(target) = canonical(&page, &href) else {
                continue;
            };
            if target.scheme() != "http" || target.host_str() != Some("127.0.0.1") {
                skipped.insert(target.scheme().to_owned());
                continue;
            }
            spellings.insert(if href.starts_with("http:") {
                "absolute"
            } else if href.contains('#') {
                "fragment"
            } else if href.contains("/../") {
                "dot-segment"
            } else if href.starts_with('/') {
                "root-relative"
            } else {
                "relative"
            });
            if !depth.contains_key(target.as_str()) {
                depth.insert(target.to_string(), depth[page.as_str()] + 1);
                queue.push_back(target);
            }
        }
    }
    assert_eq!(depth, site.reachable());
    assert_eq!(spellings.len(), 5, "{spellings:?}");
    for scheme in ["mailto", "javascript", "tel", "http"] {
        assert!(skipped.contains(scheme), "{scheme}: {skipped:?}");
    }
    assert_eq!(site.hits("/"), 1);
    assert_eq!(site.requests().len(), depth.len());
}

#[tokio::test]
async fn requests_are_logged_in_order_with_host_and_user_agent() {
    let site = start(small()).await;
    let before = Instant::now();
    let mut client = Client::connect(site.addr()).await;
    for path in ["/p/3", "/p/3?x=1", "/nope", "/p/3"] {
        client.get(path).await;
    }
    client
        .send("GET", "/p/4", "User-Agent: second-agent\r\n")
        .await;
    client.read_reply(false).await.unwrap();
    let log = site.requests();
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/p/3", "/p/3?x=1", "/nope", "/p/3", "/p/4"]);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(log[0].at >= before);
    assert_eq!(log[0].host.as_deref(), Some("test.invalid"));
    assert_eq!(log[0].user_agent.as_deref(), Some("tiny-client/1"));
    assert_eq!(site.hits("/p/3"), 2);
    assert_eq!(site.hits("/p/3?x=1"), 1);
    assert_eq!(site.hits("/nope"), 1);
    assert_eq!(site.hits("/p/5"), 0);

    // A request without Host or User-Agent is logged with neither.
    let mut bare = TcpStream::connect(site.addr()).await.unwrap();
    bare.write_all(b"GET /p/9 HTTP/1.0\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    bare.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"));
    let last = site.requests().pop().unwrap();
    assert_eq!(
        (last.path.as_str(), last.host, last.user_agent),
        ("/p/9", None, None)
    );
}

#[tokio::test]
async fn keep_alive_head_and_connection_close() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;
    let full = client.get("/p/1").await;
    client.send("HEAD", "/p/1", "").await;
    let head = client.read_reply(true).await.unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Length"),
        Some(full.body.len().to_string().as_str())
    );
    // Pipelined requests are answered in order on the same connection.
    client.send("GET", "/p/2", "").await;
    client.send("GET", "/p/3", "Connection: close\r\n").await;
    let second = client.read_reply(false).await.unwrap();
    let third = client.read_reply(false).await.unwrap();
    assert_eq!(second.title().as_deref(), Some("Page 2"));
    assert_eq!(third.title().as_deref(), Some("Page 3"));
    assert!(client.closed().await);
}

#[tokio::test]
async fn latency_delays_pages_but_not_faults() {
    let latency = Duration::from_millis(150);
    let site = start(SiteConfig { latency, ..small() }).await;
    let started = Instant::now();
    get(&site, "/p/1").await;
    assert!(started.elapsed() >= latency);

    // With a latency far above STEP, a fault answered at all while a page
    // is held back proves faults skip the latency, with no tight bound on
    // wall time that a loaded machine could break.
    let slow = start(SiteConfig {
        latency: Duration::from_secs(60),
        ..small()
    })
    .await;
    let mut held = Client::connect(slow.addr()).await;
    held.send("GET", "/p/2", "").await;
    tokio::time::timeout(STEP, async {
        while slow.hits("/p/2") == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the page request arrives");
    assert_eq!(get(&slow, "/fault/leaf/1").await.status, 200);
    assert_eq!(get(&slow, "/robots.txt").await.status, 404);
    slow.shutdown().await;
    // Shutdown closed the held connection without an answer.
    assert!(held.read_reply(false).await.is_none());
}

#[tokio::test]
async fn redirects_chain_and_loop() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;
    let mut path = "/fault/redirect-chain/3".to_owned();
    let mut hops = 0;
    let end = loop {
        let reply = client.get(&path).await;
        if reply.status != 302 {
            break reply;
        }
        hops += 1;
        path = reply.header("Location").expect("Location").to_owned();
        assert_eq!(path, format!("/fault/redirect-chain/{}", 3 - hops));
    };
    assert_eq!(hops, 3);
    assert_eq!(end.status, 200);
    assert_eq!(end.title().as_deref(), Some("Chain end"));

    let looped = client.get("/fault/redirect-loop").await;
    assert_eq!(looped.status, 302);
    assert_eq!(looped.header("Location"), Some("/fault/redirect-loop"));
    let to = client.get("/fault/redirect-to?url=/p/2").await;
    assert_eq!((to.status, to.header("Location")), (301, Some("/p/2")));
}

#[tokio::test]
async fn flaky_and_retry_after_recover_per_key() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(client.get("/fault/flaky/a?fail=2").await.status);
    }
    assert_eq!(statuses, [503, 503, 200, 200]);
    // Keys count independently.
    assert_eq!(client.get("/fault/flaky/b?fail=1").await.status, 503);
    assert_eq!(client.get("/fault/flaky/b?fail=1").await.status, 200);

    let first = client.get("/fault/retry-after/k?secs=7").await;
    assert_eq!(first.status, 429);
    assert_eq!(first.header("Retry-After"), Some("7"));
    assert_eq!(client.get("/fault/retry-after/k?secs=7").await.status, 200);
    assert_eq!(
        client.get("/fault/retry-after/other?secs=1").await.status,
        429
    );
}

#[tokio::test]
async fn statuses_are_served_as_asked() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;
    for code in [200, 204, 403, 404, 410, 418, 500, 503] {
        assert_eq!(
            client.get(&format!("/fault/status/{code}")).await.status,
            code
        );
    }
}

#[tokio::test]
async fn gzip_bomb_is_small_on_the_wire_and_huge_inflated() {
    let site = start(small()).await;
    // Whole MiBs, a part MiB, and less than one: each a valid gzip member
    // whose checksum and length the decoder checks.
    for size in [(3 << 20) + 12_345, 17, 0] {
        let reply = get(&site, &format!("/fault/gzip-bomb?bytes={size}")).await;
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(reply.body.as_slice())
            .read_to_end(&mut inflated)
            .unwrap_or_else(|error| panic!("{size} bytes: invalid gzip: {error}"));
        assert_eq!(inflated.len(), size, "{size} bytes");
        assert!(inflated.iter().all(|&b| b == 0), "{size} bytes");
    }
    let size = 8 << 20;
    let reply = get(&site, &format!("/fault/gzip-bomb?bytes={size}")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Encoding"), Some("gzip"));
    assert!(reply.body.len() < size / 100, "{} bytes", reply.body.len());
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(reply.body.as_slice())
        .read_to_end(&mut inflated)
        .expect("valid gzip");
    assert_eq!(inflated.len(), size);
    assert!(inflated.iter().all(|&b| b == 0));
    // The second request is served from the cache, byte for byte.
    let again = get(&site, &format!("/fault/gzip-bomb?bytes={size}")).await;
    assert_eq!(again.body, reply.body);
}

#[tokio::test]
async fn huge_bodies_stream_in_full() {
    let site = start(small()).await;
    let reply = get(&site, "/fault/huge?bytes=3000000").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Length"), Some("3000000"));
    assert!(reply.complete);
    assert_eq!(reply.body.len(), 3_000_000);
}

#[tokio::test]
async fn truncated_bodies_end_early() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;
    // Not only a connection's first request misbehaves.
    client.get("/p/1").await;
    let reply = client.get("/fault/truncated").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Length"), Some("1000"));
    assert!(!reply.complete);
    assert_eq!(reply.body.len(), 100);
}

#[tokio::test]
async fn reset_closes_without_a_response() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;
    // Not only a connection's first request misbehaves.
    assert_eq!(client.get("/p/1").await.status, 200);
    client.send("GET", "/fault/reset", "").await;
    // A TCP reset (SO_LINGER 0), not an orderly end of stream.
    let mut chunk = [0u8; 1024];
    let read = tokio::time::timeout(STEP, client.stream.read(&mut chunk))
        .await
        .expect("server answers in time");
    assert_eq!(
        read.map_err(|error| error.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );
    assert!(client.buffer.is_empty());
    assert_eq!(site.hits("/fault/reset"), 1);
}

#[tokio::test]
async fn bad_chunked_and_huge_headers_are_malformed_on_the_wire() {
    let site = start(small()).await;
    let chunked = get(&site, "/fault/bad-chunked").await;
    assert_eq!(chunked.header("Transfer-Encoding"), Some("chunked"));
    let body = chunked.text();
    let bad_line = body.split("\r\n").nth(2).unwrap();
    assert!(usize::from_str_radix(bad_line, 16).is_err(), "{body:?}");

    let huge = get(&site, "/fault/huge-headers").await;
    assert_eq!(huge.status, 200);
    assert!(huge.head_len >= 1 << 20, "{}", huge.head_len);
    assert_eq!(huge.title().as_deref(), Some("Huge headers"));
}

#[tokio::test]
async fn slow_headers_and_drip_take_their_time() {
    let site = start(small()).await;
    let started = Instant::now();
    let slow = get(&site, "/fault/slow-headers?ms=200").await;
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));

    let started = Instant::now();
    let mut client = Client::connect(site.addr()).await;
    client.send("GET", "/fault/drip?bytes=5&ms=40", "").await;
    let drip = client.read_reply(false).await.unwrap();
    assert_eq!(drip.header("Content-Length"), Some("5"));
    assert_eq!(drip.body.len(), 5);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn legacy_encodings_are_declared_three_ways() {
    let site = start(small()).await;
    for (fault, label, encoding, title) in [
        (
            "latin1",
            "iso-8859-1",
            encoding_rs::WINDOWS_1252,
            "Café Ñandú",
        ),
        (
            "sjis",
            "shift_jis",
            encoding_rs::SHIFT_JIS,
            "日本語のページ",
        ),
        ("gb18030", "gb18030", encoding_rs::GB18030, "中文网页"),
    ] {
        for declared in ["header", "meta", "none"] {
            let reply = get(&site, &format!("/fault/{fault}?declared={declared}")).await;
            assert_eq!(reply.status, 200);
            assert!(
                std::str::from_utf8(&reply.body).is_err(),
                "{fault} is not UTF-8"
            );
            let (text, _, malformed) = encoding.decode(&reply.body);
            assert!(!malformed);
            assert!(text.contains(&format!("<title>{title}</title>")), "{text}");
            assert!(text.contains("href=\"/p/1\""));
            let content_type = reply.header("Content-Type").unwrap();
            assert_eq!(
                content_type.contains(&format!("charset={label}")),
                declared == "header",
                "{fault} {declared}: {content_type}"
            );
            assert_eq!(
                text.contains(&format!("<meta charset=\"{label}\">")),
                declared == "meta",
                "{fault} {declared}"
            );
        }
    }
    let utf16 = get(&site, "/fault/utf16").await;
    assert!(utf16.body.starts_with(&[0xFF, 0xFE]));
}

#[tokio::test]
async fn odd_content_is_served() {
    let site = start(small()).await;
    let mut client = Client::connect(site.addr()).await;

    let binary = client.get("/fault/binary-as-html").await;
    assert!(
        binary
            .header("Content-Type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(binary.body.contains(&0));

    let untyped = client.get("/fault/no-content-type").await;
    assert_eq!(untyped.header("Content-Type"), None);
    assert_eq!(untyped.title().as_deref(), Some("No type"));

    let trap = client.get("/fault/trap/next/next/").await;
    assert_eq!(trap.status, 200);
    let base = Url::parse(&site.url("/fault/trap/next/next/")).unwrap();
    let targets: Vec<String> = trap
        .hrefs()
        .iter()
        .map(|href| canonical(&base, href).unwrap().path().to_owned())
        .collect();
    assert_eq!(
        targets,
        [
            "/fault/trap/next/next/next/",
            "/fault/trap/next/next/a/b/a/b/"
        ]
    );
    // Any path under the trap is a page, and links only get longer.
    let deeper = client.get("/fault/trap/next/next/a/b/a/b/next/").await;
    assert_eq!(deeper.status, 200);
    assert_eq!(
        deeper.hrefs()[1],
        "/fault/trap/next/next/a/b/a/b/next/a/b/a/b/"
    );

    let links = client.get("/fault/links?n=50").await;
    let hrefs = links.hrefs();
    assert_eq!(hrefs.len(), 50);
    assert_eq!(hrefs[49], "/fault/leaf/49");
    let leaf = client.get("/fault/leaf/49").await;
    assert_eq!(leaf.status, 200);
    assert!(leaf.hrefs().is_empty());

    let meta = client.get("/fault/meta-nofollow").await;
    assert!(
        meta.text()
            .contains("<meta name=\"robots\" content=\"nofollow\">")
    );
    assert_eq!(meta.hrefs(), ["/fault/leaf/nofollowed"]);

    let header = client.get("/fault/x-robots-nofollow").await;
    assert_eq!(header.header("X-Robots-Tag"), Some("nofollow"));
    assert_eq!(header.hrefs(), ["/fault/leaf/xnofollowed"]);

    let based = client.get("/fault/base-href").await;
    assert!(based.text().contains("<base href=\"/fault/based/\">"));
    let base = Url::parse(&site.url("/fault/based/")).unwrap();
    let target = canonical(&base, &based.hrefs()[1]).unwrap();
    assert_eq!(target.path(), "/fault/based/page");
    assert_eq!(client.get(target.path()).await.status, 200);
}

#[tokio::test]
async fn a_big_site_starts_and_shuts_down() {
    let site = start(SiteConfig {
        pages: 20_000,
        profile: PageProfile::Uniform,
        ..SiteConfig::default()
    })
    .await;
    let reachable = site.reachable();
    assert!(reachable.len() > 19_000 && reachable.len() < 20_000);
    assert_eq!(
        get(&site, "/p/19999").await.title().as_deref(),
        Some("Page 19999")
    );
    let addr = site.addr();
    site.shutdown().await;
    // Nothing answers on the port any more.
    match TcpStream::connect(addr).await {
        Err(_) => {}
        Ok(stream) => {
            let mut client = Client {
                stream,
                buffer: Vec::new(),
            };
            client.send("GET", "/", "").await;
            assert!(client.read_reply(false).await.is_none());
        }
    }
}

#[tokio::test]
async fn a_second_loopback_address_serves_its_own_site() {
    let ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let other = TestSite::start_at(small(), ip)
        .await
        .expect("binds 127.0.0.2");
    let first = start(small()).await;
    assert_eq!(other.addr().ip(), ip);
    assert!(other.base_url().starts_with("http://127.0.0.2:"));
    let root = get(&other, "/").await;
    assert_eq!(root.status, 200);
    assert!(
        root.text().contains(&other.url("/p/1")),
        "absolute links name the site's own address"
    );
    assert!(
        other
            .reachable()
            .keys()
            .all(|url| url.starts_with(&other.base_url()))
    );
    assert_eq!(other.hits("/"), 1);
    assert!(first.requests().is_empty(), "the sites keep separate logs");
    let target = other.url("/p/2");
    let link = get(&first, &format!("/fault/link-to?url={target}")).await;
    assert_eq!(link.hrefs(), [target]);

    // Nothing but loopback: refused before any socket is bound.
    for outside in ["10.0.0.1", "0.0.0.0", "::"] {
        let error = TestSite::start_at(small(), outside.parse().unwrap())
            .await
            .expect_err(outside);
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{outside}");
    }
}
