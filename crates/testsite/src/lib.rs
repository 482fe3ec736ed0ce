//! trawl-testsite: a deterministic synthetic website on 127.0.0.1, with
//! fault endpoints, for trawl's tests and benchmarks.
//!
//! [`TestSite::start`] binds `127.0.0.1:0` and serves a site generated from a
//! [`SiteConfig`]: page 0 is `/`, page *i* is `/p/i`; each page links to the
//! next page and to `links_per_page` pseudo-random others, in five spellings
//! that all canonicalise to the same URL (absolute, root-relative, relative,
//! with a fragment, with a dot segment), plus links that must never be
//! fetched (`mailto:`, `javascript:`, `tel:`, an out-of-scope host). Pages
//! whose index is a multiple of 97 are never linked. The site knows its
//! ground truth ([`TestSite::reachable`]: every reachable URL and its
//! breadth-first depth) and logs every request ([`TestSite::requests`]), so
//! tests compare what the crawler wrote with what the server saw.
//!
//! Fault endpoints (not linked from the pages):
//!
//! | path | behaviour |
//! |---|---|
//! | `/fault/slow-headers?ms=N` | waits N ms before the headers |
//! | `/fault/drip?bytes=N&ms=M` | one body byte every M ms |
//! | `/fault/redirect-loop` | 302 to itself |
//! | `/fault/redirect-chain/N` | 302 to `/fault/redirect-chain/N-1`; 0 is a page |
//! | `/fault/redirect-to?url=U` | 301 to U |
//! | `/fault/link-to?url=U` | a page with one link, to U |
//! | `/fault/auth/...[?away=U]` | Basic auth (`trawl`/`secret`) or 401: a page linking to `/fault/auth/inner` and, with `away`, to a redirect to U |
//! | `/fault/cookie/set` | sets `consent=yes` (and a `Domain=.co.uk` cookie a jar must refuse), links to `/fault/cookie/need` |
//! | `/fault/cookie/need` | 403 without the `consent=yes` cookie, else a page linking to a leaf |
//! | `/fault/huge?bytes=N` | an N-byte HTML body, streamed |
//! | `/fault/gzip-bomb?bytes=N` | gzip body inflating to N zero bytes |
//! | `/fault/status/CODE` | that status (no body for 1xx, 204, 304) |
//! | `/fault/flaky/KEY?fail=N` | 503 for the first N requests of KEY, then 200 |
//! | `/fault/retry-after/KEY?secs=S` | 429 with `Retry-After: S` once per KEY, then 200 |
//! | `/fault/latin1?declared=header\|meta\|none` | windows-1252 page "Café Ñandú" |
//! | `/fault/sjis?declared=header\|meta\|none` | Shift_JIS page "日本語のページ" |
//! | `/fault/gb18030?declared=...`, `/fault/utf16` | GB18030 page "中文网页", UTF-16LE page with BOM |
//! | `/fault/rel-nofollow`, `/fault/malformed` | a rel=nofollow link; broken markup with four links |
//! | `/fault/binary-as-html` | binary bytes labelled text/html |
//! | `/fault/no-content-type` | HTML without a Content-Type |
//! | `/fault/trap/...` | any path is a page linking to `./next/` and `PATH/a/b/a/b/`: an infinite trap |
//! | `/fault/links?n=N` | N links to `/fault/leaf/K` |
//! | `/fault/meta-nofollow`, `/fault/x-robots-nofollow` | nofollow pages |
//! | `/fault/base-href` | a `<base href>` page |
//! | `/fault/reset` | closes the connection without answering |
//! | `/fault/truncated` | Content-Length 1000, 100 bytes sent |
//! | `/fault/bad-chunked` | invalid chunked encoding |
//! | `/fault/gzip-page`, `/fault/chunked` | a page served gzip-compressed; a page in chunks |
//! | `/fault/product?id=N` | a shop page: name, price, tags, images, a link to product N+1 |
//! | `/fault/huge-headers?kib=K` | K KiB of response headers (default 1 MiB) |
//! | any page on `hN.test` (with `hosts` > 1) | virtual host N's copy of the site |
//! | `/sitemap.xml` (with `sitemaps`) | a sitemap index → a gzip sitemap of the unlinked pages |
//!
//! The byte-level faults (`reset`, `truncated`, `bad-chunked`,
//! `huge-headers`, and `drip`/`huge`, which stream by hand) work on any
//! request of a keep-alive connection, not only the first, and close the
//! connection after answering. `/fault/reset` closes with `SO_LINGER` 0, so
//! the client sees a TCP reset rather than an orderly end of stream.
//!
//! HTTPS: [`TestSite::start_tls`] serves the same site over TLS with a
//! certificate authority made at start ([`TestSite::ca_pem`] is its PEM,
//! for a client to trust), ALPN offering `h2` and `http/1.1` by default
//! ([`TlsConfig`]). With `h2` negotiated the site speaks HTTP/2 through
//! hyper's server, with the same pages, robots.txt, sitemaps and faults,
//! except the byte-level ones (`reset`, `truncated`, `bad-chunked`,
//! `huge-headers`, `drip`, `huge`, `chunked`), which answer 501 there.
//! [`RequestRecord::version`] says which protocol each request came in.
//!
//! It does **not** implement HTTP beyond what crawlers send (GET/HEAD,
//! keep-alive, no request bodies), and it never listens on anything but
//! loopback. It is a test tool: request logs grow without bound, and
//! connections are not capped.
//!
//! # Layout
//!
//! - `lib.rs`: the public API — [`SiteConfig`], [`TestSite`] (start, ground
//!   truth, request log, shutdown), [`RequestRecord`] — and the shared state.
//! - `site.rs`: the deterministic link graph, its breadth-first ground
//!   truth, and page rendering (pages are rendered once, at start).
//! - `realistic.rs`: the realistic page profile ([`PageProfile::Realistic`]).
//! - `server.rs`: the accept loop, one task per connection, the router.
//! - `http.rs`: a minimal hand-written HTTP/1.1 (request heads, responses).
//!   Hand-written rather than hyper because faults must break the protocol
//!   at the byte level mid-connection, which a server library prevents.
//! - `faults.rs`: the `/fault/...` endpoints.
//! - `tls.rs`: the HTTPS mode's CA, server certificate and rustls config.
//! - `h2.rs`: HTTP/2 over TLS (hyper's server), through the same router.
//! - `dir.rs`: [`DirSite`], a folder of real pages served as a site, for
//!   benchmarks on real markup.
//! - `proxy.rs`: [`ForwardProxy`], a forward proxy for the proxy tests
//!   (absolute-form GET, CONNECT, SOCKS5; loopback targets only) whose log
//!   proves what went through it.
//! - `bin/trawl-testsite.rs`: serves a site until killed, for manual crawls
//!   and the benchmark.

mod dir;
mod faults;
mod h2;
mod http;
mod proxy;
mod realistic;
mod server;
mod site;
mod tls;

pub use dir::DirSite;
pub use proxy::{ForwardProxy, ProxiedRequest};
pub use tls::TlsConfig;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinHandle;

use crate::site::{Graph, graph_for, page_path, render_page};

/// The shape of the synthetic site.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// Number of pages; page 0 is `/`, page i is `/p/i`.
    pub pages: usize,
    /// Pseudo-random outlinks per page (plus one to the next page).
    pub links_per_page: usize,
    /// Seed of the link graph.
    pub seed: u64,
    /// Approximate HTML size of each page.
    pub page_bytes: usize,
    /// Served at `/robots.txt` when set; 404 otherwise.
    pub robots_txt: Option<String>,
    /// Status `/robots.txt` is served with when `robots_txt` is set
    /// (e.g. 503 to simulate an unavailable robots.txt).
    pub robots_status: u16,
    /// Delay before answering `/` and `/p/...`.
    pub latency: Duration,
    /// Serve `/sitemap.xml`: an index pointing to a gzip sitemap that lists
    /// the pages no page links to (see [`TestSite::sitemap_only`]).
    pub sitemaps: bool,
    /// Virtual hosts (Host-header routing): with more than 1, every host
    /// named `h0.test` … `h{N-1}.test` (see [`TestSite::vhost_url`]) serves
    /// its own copy of the site, with absolute links to itself. Crawlers
    /// reach them with a `--resolve`-style override to 127.0.0.1.
    pub hosts: usize,
    /// What pages look like (the link graph is the same either way, plus
    /// the realistic profile's nav links).
    pub profile: PageProfile,
}

/// The shape of the site's pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PageProfile {
    /// Header and nav, paragraphs with inline markup, lists, a footer,
    /// inline scripts and styles, 20–60 links of mixed forms (absolute,
    /// root-relative, `../`, `./`, fragments, off-site with query strings,
    /// `mailto:`, `tel:`) and sizes from 2 KB to 200 KB (median ~6 KB, mean
    /// ~25 KB), deterministic per seed; `page_bytes` is not used. The
    /// default: pages like the web's.
    #[default]
    Realistic,
    /// A title, a list of the graph's links, filler text to `page_bytes`:
    /// the page earlier benchmark numbers were measured on, and the one
    /// for tests that set a page's size.
    Uniform,
}

impl PageProfile {
    /// `uniform` or `realistic`.
    pub fn parse(name: &str) -> Option<PageProfile> {
        match name {
            "uniform" => Some(PageProfile::Uniform),
            "realistic" => Some(PageProfile::Realistic),
            _ => None,
        }
    }
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            pages: 100,
            links_per_page: 10,
            seed: 1,
            page_bytes: 2048,
            robots_txt: None,
            robots_status: 200,
            latency: Duration::ZERO,
            sitemaps: false,
            hosts: 1,
            profile: PageProfile::default(),
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Path and query, exactly as in the request line.
    pub path: String,
    /// The `Host` header, if sent (e.g. `127.0.0.1:PORT` or `h3.test:PORT`).
    pub host: Option<String>,
    /// The `User-Agent` header, if sent.
    pub user_agent: Option<String>,
    /// Every header as sent (names lower-cased), in order.
    pub headers: Vec<(String, String)>,
    /// The protocol: `HTTP/1.1`, `HTTP/1.0` or `HTTP/2`.
    pub version: &'static str,
    /// When the request head had been read, before any latency or fault
    /// delay: what rate-limit tests measure the spacing of. Read from
    /// tokio's clock, so it is virtual time on a paused clock.
    pub at: Instant,
}

/// State shared by the connection tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    config: SiteConfig,
    /// `http` or `https`: absolute links and sitemap URLs use it.
    scheme: &'static str,
    /// TLS handshakes that failed (HTTPS mode).
    tls_failures: AtomicU64,
    /// Connections accepted.
    connections: AtomicU64,
    pages: Vec<Bytes>,
    /// Kept for virtual hosts, whose pages are rendered per request with
    /// their own host in absolute links.
    graph: Graph,
    log: Mutex<Vec<RequestRecord>>,
    counters: Mutex<HashMap<String, u64>>,
    gzip_cache: Mutex<HashMap<u64, Bytes>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Counts requests per key (for flaky endpoints); returns the new count.
    pub(crate) fn count_key(&self, key: &str) -> u64 {
        let mut counters = lock(&self.counters);
        let count = counters.entry(key.to_owned()).or_default();
        *count += 1;
        *count
    }

    /// The gzip bomb for `bytes`, compressed once per size. Compressing
    /// 100 MiB takes a while, so it runs off the async worker threads.
    pub(crate) async fn gzip_zeros(&self, bytes: u64) -> Bytes {
        if let Some(body) = lock(&self.gzip_cache).get(&bytes) {
            return body.clone();
        }
        let body = tokio::task::spawn_blocking(move || faults::gzip_zeros(bytes))
            .await
            .unwrap_or_default();
        lock(&self.gzip_cache).insert(bytes, body.clone());
        body
    }
}

/// A running test site.
#[derive(Debug)]
pub struct TestSite {
    addr: SocketAddr,
    scheme: &'static str,
    /// The CA certificate (PEM) in HTTPS mode.
    ca_pem: Option<String>,
    shared: Arc<Shared>,
    reachable: BTreeMap<String, u32>,
    accept: JoinHandle<()>,
}

/// The site's pages without a server, for tests and benchmarks that need
/// the markup itself (the extractor's): the same bytes the site serves
/// from `base` (e.g. `http://127.0.0.1:8080`).
pub struct SitePages {
    graph: Graph,
    config: SiteConfig,
}

impl std::fmt::Debug for SitePages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SitePages")
            .field("pages", &self.len())
            .field("config", &self.config)
            .finish()
    }
}

impl SitePages {
    /// The pages `config` describes (its link graph is built once, here).
    pub fn new(config: SiteConfig) -> SitePages {
        SitePages {
            graph: graph_for(&config),
            config,
        }
    }

    /// How many pages there are.
    pub fn len(&self) -> usize {
        self.graph.links.len()
    }

    /// Whether there are none (never: a site has at least its root).
    pub fn is_empty(&self) -> bool {
        self.graph.links.is_empty()
    }

    /// The HTML of page `page` (0 is the root; below [`len`](Self::len),
    /// or it panics), with absolute links to `base`.
    pub fn html(&self, page: usize, base: &str) -> String {
        String::from_utf8_lossy(&render_page(&self.graph, page, base, &self.config)).into_owned()
    }
}

impl TestSite {
    /// Generates the site and serves it on `127.0.0.1:0` from the current
    /// tokio runtime.
    pub async fn start(config: SiteConfig) -> std::io::Result<TestSite> {
        TestSite::start_on(config, 0).await
    }

    /// Like [`TestSite::start`] on a chosen port (0 = any free port).
    pub async fn start_on(config: SiteConfig, port: u16) -> std::io::Result<TestSite> {
        TestSite::bind(config, SocketAddr::from(([127, 0, 0, 1], port)), None).await
    }

    /// Like [`TestSite::start`] on another loopback address, any free
    /// port: `127.0.0.2` is a second machine as far as a crawler's address
    /// checks go, though Linux routes all of `127.0.0.0/8` to `lo`. Any
    /// address outside loopback is refused (`InvalidInput`): the site
    /// never listens on a network.
    pub async fn start_at(config: SiteConfig, ip: std::net::IpAddr) -> std::io::Result<TestSite> {
        if !ip.is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the test site listens on loopback only, not on {ip}"),
            ));
        }
        TestSite::bind(config, SocketAddr::new(ip, 0), None).await
    }

    /// Like [`TestSite::start`] over HTTPS (`https://127.0.0.1:PORT`): a
    /// new certificate authority signs the server's certificate, and
    /// [`TestSite::ca_pem`] gives the CA certificate for a client to
    /// trust. ALPN, the certificate's names and validity and the TLS
    /// versions come from `tls`.
    pub async fn start_tls(config: SiteConfig, tls: TlsConfig) -> std::io::Result<TestSite> {
        let (server, ca_pem) = tls::server_config(&tls)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        TestSite::bind(
            config,
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Some((acceptor, ca_pem)),
        )
        .await
    }

    async fn bind(
        config: SiteConfig,
        at: SocketAddr,
        tls: Option<(tokio_rustls::TlsAcceptor, String)>,
    ) -> std::io::Result<TestSite> {
        // A deep accept queue: a crawler opening hundreds of connections at
        // once (one per virtual host) must not see SYNs dropped and retried
        // a second later, which the default backlog of 128 causes.
        let socket = if at.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(at)?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let (acceptor, ca_pem) = tls.unzip();
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{addr}");
        let graph = graph_for(&config);
        let pages = (0..graph.links.len())
            .map(|page| render_page(&graph, page, &base, &config))
            .collect();
        let reachable = graph
            .depths()
            .into_iter()
            .map(|(page, depth)| (format!("{base}{}", page_path(page)), depth))
            .collect();
        let shared = Arc::new(Shared {
            config,
            scheme,
            tls_failures: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            pages,
            graph,
            log: Mutex::new(Vec::new()),
            counters: Mutex::new(HashMap::new()),
            gzip_cache: Mutex::new(HashMap::new()),
        });
        let accept = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared), acceptor));
        Ok(TestSite {
            addr,
            scheme,
            ca_pem,
            shared,
            reachable,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or the address of [`TestSite::start_at`]);
    /// `https://...` from [`TestSite::start_tls`].
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The PEM of the certificate authority that issued the server's
    /// certificate, in HTTPS mode; `None` over plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// TLS handshakes that failed so far (a client that did not trust the
    /// certificate, or spoke no TLS); 0 over plain HTTP.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.shared.tls_failures.load(Ordering::Relaxed)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Every reachable page URL (as canonicalised) and its BFS depth from `/`.
    pub fn reachable(&self) -> BTreeMap<String, u32> {
        self.reachable.clone()
    }

    /// The name of virtual host `index` (`h{index}.test`).
    pub fn vhost(index: usize) -> String {
        format!("h{index}.test")
    }

    /// `http://h{index}.test:PORT{path}`: a URL on a virtual host.
    pub fn vhost_url(&self, index: usize, path: &str) -> String {
        format!(
            "{}://{}:{}{path}",
            self.scheme,
            TestSite::vhost(index),
            self.addr.port()
        )
    }

    /// The reachable pages of virtual host `index`, as URLs on it.
    pub fn reachable_on_vhost(&self, index: usize) -> BTreeSet<String> {
        let base = self.base_url();
        self.reachable
            .keys()
            .map(|url| self.vhost_url(index, url.strip_prefix(&base).unwrap_or(url)))
            .collect()
    }

    /// Page URLs found only through the sitemap (pages no page links to),
    /// when `sitemaps` is on.
    pub fn sitemap_only(&self) -> BTreeSet<String> {
        (1..self.shared.pages.len())
            .filter(|&page| site::is_unlinked(page))
            .map(|page| self.url(&page_path(page)))
            .collect()
    }

    /// Reachable pages at most `max_depth` links from `/`.
    pub fn reachable_within(&self, max_depth: u32) -> BTreeSet<String> {
        self.reachable
            .iter()
            .filter(|&(_, &depth)| depth <= max_depth)
            .map(|(url, _)| url.clone())
            .collect()
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Connections accepted so far: how often a client connected rather
    /// than reusing a kept connection.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Requests for exactly `path` (with query).
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(mut self) {
        self.accept.abort();
        let _ = (&mut self.accept).await;
    }
}

impl Drop for TestSite {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
