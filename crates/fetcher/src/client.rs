//! The shared client and the fetch of one URL: redirects followed hop by
//! hop with the caller's approval, then the body read up to a cap.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONNECTION, HeaderMap, HeaderName, HeaderValue, LOCATION};
use rustls::pki_types::CertificateDer;
use tokio::time::Instant;
use url::Url;

use crate::body::{ResponseFacts, content_type, read_capped};
use crate::budget::BodyBudget;
use crate::cookies::CookieJar;
use crate::credentials::credential_for;
pub use crate::credentials::{Credential, CredentialScope};
use crate::error::{BuildError, ErrorKind, FetchError};
use crate::guard::{Guard, PolicyResolver, literal_ip};
use crate::headers::{ACCEPT_ENCODING, ACCEPT_HTML, redacted};
use crate::hops::{check_requestable, is_followable_redirect, next_hop};
use crate::netpolicy::{ClassSet, NetworkPolicy};
use crate::outcome::{Exchange, Fetched, RedirectVerdict};
use crate::proxy::ProxyConfig;

/// The size an HTTP/1 connection's read buffer grows to, at most (hyper
/// reads into whatever room the buffer has, so it can hold up to twice
/// this); a response head must fit in it. hyper grows the buffer (to ~400
/// KB by default) while it reads a large body, and many connections read
/// at once. Smaller reads cost only more read calls on a large body; the
/// head limit stays far above what servers send (proxies in front of most
/// sites refuse heads of a few KiB). An idle kept-alive connection holds
/// no read buffer at all (the vendored hyper lets go of it).
pub const READ_BUFFER_MAX: usize = 64 * 1024;

/// How the shared client behaves.
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// Sent as `User-Agent` with every request.
    pub user_agent: String,
    /// Deadline for opening a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes from the server (headers or body).
    pub read_timeout: Duration,
    /// Deadline for a whole fetch, all redirect hops and the body included,
    /// not counting the wait for room in the body budget (trawl's own
    /// queueing, not the server's slowness).
    pub request_timeout: Duration,
    /// Body bytes kept per response, counted after decompression.
    pub max_body_bytes: u64,
    /// Bytes of bodies held at once by this client and its copies, from
    /// the first byte read until the last copy of the body is dropped (see
    /// [`BodyBudget`]).
    pub body_budget: BodyBudget,
    /// Redirect hops followed per fetch.
    pub max_redirects: usize,
    /// Longer URLs (in bytes) are not requested.
    pub max_url_len: usize,
    /// Idle keep-alive connections kept per host.
    pub pool_idle_per_host: usize,
    /// Ask the server to close each connection after its response
    /// (`Connection: close`), so that none is kept idle: for hosts whose
    /// next request is too far off for a pooled connection to be used
    /// again (see [`Fetcher::closing_connections`]).
    pub close_connections: bool,
    /// `(host, address)` overrides, like curl's `--resolve`. The network
    /// policy applies to them as to any DNS answer.
    pub resolve: Vec<(String, SocketAddr)>,
    /// HTTP Basic credentials, each sent only within its scope (an exact
    /// origin, or a host), never on a redirect elsewhere.
    pub credentials: Vec<Credential>,
    /// Headers sent with every request (robots.txt and sitemaps too),
    /// checked by [`request_header`](crate::request_header); an `Accept` here replaces trawl's.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Which addresses may be connected to, checked on every address a
    /// host resolves to and on IP-literal URLs, before any connection.
    /// The default allows public addresses only;
    /// [`Fetcher::allow_seed_classes`] adds the classes of a crawl's seeds.
    pub network: NetworkPolicy,
    /// Keep every response's status line, headers and server address, one
    /// [`Exchange`] per hop in [`Fetched::exchanges`], for consumers that
    /// archive responses. Off, only [`ResponseFacts`] are kept.
    pub keep_headers: bool,
    /// Certificates trusted as roots besides the system's (see
    /// [`read_ca_file`](crate::read_ca_file)): a private CA, or a
    /// server's self-signed certificate. Certificates are always verified;
    /// there is no switch to turn that off.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The crawl's cookie jar: `Set-Cookie` answers are kept and sent
    /// back by RFC 6265. On by default; `None` sends no cookie and keeps
    /// none. Share the `Arc` to save or inspect the jar.
    pub cookies: Option<Arc<CookieJar>>,
    /// A forward proxy for some or all requests; `None` connects
    /// directly (the environment's `HTTP_PROXY` and the like are not
    /// read here: see [`ProxyConfig::from_env`]).
    pub proxy: Option<ProxyConfig>,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            user_agent: format!("trawl/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            body_budget: BodyBudget::default(),
            max_redirects: 10,
            max_url_len: 2048,
            pool_idle_per_host: 32,
            close_connections: false,
            resolve: Vec::new(),
            credentials: Vec::new(),
            headers: Vec::new(),
            network: NetworkPolicy::default(),
            keep_headers: false,
            extra_roots: Vec::new(),
            cookies: Some(Arc::new(CookieJar::new())),
            proxy: None,
        }
    }
}

/// Decides, hop by hop, whether [`Fetcher::fetch_with`] follows a redirect.
/// Asynchronous, so a policy may consult a networked store.
pub trait RedirectPolicy: Send {
    /// The verdict on `target` (resolved, fragment dropped).
    fn verdict<'a>(
        &'a mut self,
        target: &'a Url,
    ) -> Pin<Box<dyn Future<Output = RedirectVerdict> + Send + 'a>>;
}

/// A synchronous callback as a [`RedirectPolicy`].
struct Callback<'c>(&'c mut (dyn FnMut(&Url) -> RedirectVerdict + Send));

impl RedirectPolicy for Callback<'_> {
    fn verdict<'a>(
        &'a mut self,
        target: &'a Url,
    ) -> Pin<Box<dyn Future<Output = RedirectVerdict> + Send + 'a>> {
        Box::pin(std::future::ready((self.0)(target)))
    }
}

/// One HTTP client for the whole crawl; cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    config: FetcherConfig,
    /// The network policy in force, shared with the client's resolver.
    guard: Arc<Guard>,
    resolver: Arc<PolicyResolver>,
    /// Sees every fetch this client (and its copies) finishes.
    tap: Option<Tap>,
}

/// A callback that sees every finished fetch: how an archive learns of
/// fetches made inside the fetcher (robots.txt, sitemaps). It must not
/// block.
#[derive(Clone)]
pub struct Tap(Arc<dyn Fn(&Fetched) + Send + Sync>);

impl Tap {
    /// A tap calling `see`.
    pub fn new(see: impl Fn(&Fetched) + Send + Sync + 'static) -> Tap {
        Tap(Arc::new(see))
    }
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tap")
    }
}

impl Fetcher {
    /// Builds the client: keep-alive pool, gzip/brotli/zstd/deflate, the
    /// timeouts, no automatic redirects (trawl follows them itself so
    /// that each hop passes the caller's scope and dedup checks), the
    /// cookie jar, the configured proxy and no other (the environment's
    /// is read only through [`ProxyConfig::from_env`]), a resolver
    /// that filters every answer through the network policy, and TLS 1.2
    /// or 1.3 with certificates verified against the system's roots plus
    /// [`FetcherConfig::extra_roots`] (see `tls.rs`), ALPN offering `h2`
    /// and `http/1.1`.
    pub fn new(config: FetcherConfig) -> Result<Fetcher, BuildError> {
        // reqwest is built without a default crypto provider. Installing
        // fails only when one is already installed (a second Fetcher, or the
        // application chose one), and then that one is used: nothing to do.
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_HTML));
        // The first value given for a name replaces a built-in header of
        // that name (Accept); more values for it are sent as well.
        let mut given = std::collections::HashSet::new();
        for (name, value) in &config.headers {
            if given.insert(name.clone()) {
                headers.insert(name.clone(), value.clone());
            } else {
                headers.append(name.clone(), value.clone());
            }
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .zstd(true)
            .deflate(true)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .pool_max_idle_per_host(config.pool_idle_per_host)
            .http1_max_buf_size(READ_BUFFER_MAX)
            .tcp_nodelay(true)
            .default_headers(headers)
            .user_agent(config.user_agent.clone())
            // rustls offers 1.3 and 1.2 anyway; said here so that it stays so.
            .tls_version_min(reqwest::tls::Version::TLS_1_2);
        if !config.extra_roots.is_empty() {
            // Merged: the system's roots stay trusted (rustls-platform-
            // verifier's extra roots), the given ones are added.
            let roots = config
                .extra_roots
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()?;
            builder = builder.tls_certs_merge(roots);
        }
        // Overrides go through the policy resolver rather than reqwest's
        // own `resolve`, whose answers would skip any custom resolver.
        let guard = Arc::new(Guard::new(config.network.clone()));
        let proxy_hosts = config.proxy.as_ref().map(ProxyConfig::hosts);
        let resolver = Arc::new(
            PolicyResolver::new(Arc::clone(&guard), &config.resolve)
                .trusting(proxy_hosts.unwrap_or_default()),
        );
        builder = builder.no_proxy().dns_resolver(Arc::clone(&resolver));
        if let Some(proxy) = &config.proxy {
            let proxy = proxy.clone();
            builder = builder.proxy(reqwest::Proxy::custom(move |url| {
                proxy.proxy_for(url).cloned()
            }));
        }
        if let Some(jar) = &config.cookies {
            builder = builder.cookie_provider(Arc::clone(jar));
        }
        let client = builder.build()?;
        Ok(Fetcher {
            inner: Arc::new(Inner {
                client,
                config,
                guard,
                resolver,
                tap: None,
            }),
        })
    }

    /// The headers of a request to `url` as this client sends them, with
    /// secrets redacted.
    fn request_headers(
        &self,
        url: &Url,
        sent_cookie: bool,
        version: reqwest::Version,
    ) -> Vec<(String, String)> {
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let config = &self.inner.config;
        let overrides_accept = config.headers.iter().any(|(name, _)| name == ACCEPT);
        let mut headers = Vec::with_capacity(4 + config.headers.len());
        if !overrides_accept {
            headers.push(("accept".to_owned(), ACCEPT_HTML.to_owned()));
        }
        for (name, value) in &config.headers {
            headers.push((name.as_str().to_owned(), redacted(name, value)));
        }
        if credential_for(&config.credentials, url).is_some() {
            headers.push(("authorization".to_owned(), "[redacted]".to_owned()));
        }
        if sent_cookie {
            headers.push(("cookie".to_owned(), "[redacted]".to_owned()));
        }
        // A plain-http request through a proxy carries the proxy's
        // credentials; an https one gives them to CONNECT only.
        if url.scheme() == "http"
            && let Some(proxy) = config.proxy.as_ref().and_then(|proxy| proxy.proxy_for(url))
            && !proxy.username().is_empty()
        {
            headers.push(("proxy-authorization".to_owned(), "[redacted]".to_owned()));
        }
        headers.push(("user-agent".to_owned(), config.user_agent.clone()));
        headers.push(("accept-encoding".to_owned(), ACCEPT_ENCODING.to_owned()));
        // HTTP/2 has no Connection header: hyper drops it from the request.
        if config.close_connections && version < reqwest::Version::HTTP_2 {
            headers.push(("connection".to_owned(), "close".to_owned()));
        }
        headers.push(("host".to_owned(), host));
        headers
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &FetcherConfig {
        &self.inner.config
    }

    /// Resolves the hosts of `seeds` (through the `resolve` overrides, or
    /// DNS with `timeout` each) and allows, from now on, every address
    /// class they fall in, link-local excepted: a crawl of an intranet or
    /// of this machine may then follow links within it. Returns the
    /// classes added (public ones are always allowed and not listed). A
    /// host that does not resolve adds nothing. Affects every copy of
    /// this client.
    pub async fn allow_seed_classes<'u>(
        &self,
        seeds: impl IntoIterator<Item = &'u Url>,
        timeout: Duration,
    ) -> ClassSet {
        self.inner.resolver.learn_seed_classes(seeds, timeout).await
    }

    /// The network policy in force: the configured one plus the classes
    /// the seeds added.
    pub fn network_policy(&self) -> NetworkPolicy {
        self.inner.guard.effective()
    }

    /// The same client (and connection pool) with other body and redirect
    /// limits, e.g. for robots.txt (500 KiB, 5 hops).
    pub fn with_limits(&self, max_body_bytes: u64, max_redirects: usize) -> Fetcher {
        let mut config = self.inner.config.clone();
        config.max_body_bytes = max_body_bytes;
        config.max_redirects = max_redirects;
        self.sharing_client(config, self.inner.tap.clone())
    }

    /// The same client (and connection pool), whose requests ask the
    /// server to close the connection after the response
    /// ([`FetcherConfig::close_connections`]).
    pub fn closing_connections(&self) -> Fetcher {
        let mut config = self.inner.config.clone();
        config.close_connections = true;
        self.sharing_client(config, self.inner.tap.clone())
    }

    /// The same client (and connection pool), with `tap` seeing every
    /// fetch it and the copies made from it finish.
    pub fn with_tap(&self, tap: Tap) -> Fetcher {
        self.sharing_client(self.inner.config.clone(), Some(tap))
    }

    /// A copy on this client, its pool and network policy, with its own
    /// per-fetch `config` and `tap`.
    fn sharing_client(&self, config: FetcherConfig, tap: Option<Tap>) -> Fetcher {
        Fetcher {
            inner: Arc::new(Inner {
                client: self.inner.client.clone(),
                config,
                guard: Arc::clone(&self.inner.guard),
                resolver: Arc::clone(&self.inner.resolver),
                tap,
            }),
        }
    }

    /// Fetches `url` with GET, following redirects that `on_redirect`
    /// approves, and reads the final body up to the cap.
    ///
    /// Never fails and never panics: every failure is in [`Fetched::error`].
    /// `on_redirect` is called once per hop with the resolved target
    /// (fragment dropped), after the loop and hop-count checks.
    pub async fn fetch(
        &self,
        url: &Url,
        on_redirect: &mut (dyn FnMut(&Url) -> RedirectVerdict + Send),
    ) -> Fetched {
        self.fetch_with(url, &mut Callback(on_redirect)).await
    }

    /// [`Fetcher::fetch`] with an asynchronous redirect policy.
    pub async fn fetch_with(&self, url: &Url, policy: &mut dyn RedirectPolicy) -> Fetched {
        let started = Instant::now();
        let mut fetched = Fetched::empty(url);
        fetched.error = self.run(url, policy, &mut fetched, started).await;
        fetched.elapsed = started.elapsed();
        if let Some(tap) = &self.inner.tap {
            (tap.0)(&fetched);
        }
        fetched
    }

    /// The redirect loop. Fills `fetched` as facts arrive, so that on error
    /// everything learnt so far is kept; returns the error that ended it.
    async fn run(
        &self,
        url: &Url,
        policy: &mut dyn RedirectPolicy,
        fetched: &mut Fetched,
        started: Instant,
    ) -> Option<FetchError> {
        let config = &self.inner.config;
        if let Err(error) = check_requestable(url, config.max_url_len) {
            return Some(error);
        }
        let deadline = started + config.request_timeout;
        let mut current = url.clone();
        loop {
            // One deadline for the chain of hops, kept here rather than by
            // reqwest, whose deadline would also run while the body waits
            // for the budget.
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Some(FetchError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{current}: deadline of {:?} passed during redirects",
                        config.request_timeout
                    ),
                ));
            }
            // A name's addresses are checked by the resolver as the
            // connection is made; an address in the URL reaches no
            // resolver, so it is checked here, before anything is sent.
            if let Some(ip) = literal_ip(&current)
                && let Err(blocked) = self.inner.guard.check(ip)
            {
                return Some(FetchError::new(
                    ErrorKind::BlockedAddress,
                    format!("{current}: {blocked}; no connection was made"),
                ));
            }
            let mut request = self.inner.client.get(current.clone());
            if config.close_connections {
                request = request.header(CONNECTION, "close");
            }
            if let Some(credential) = credential_for(&config.credentials, &current) {
                request = request.basic_auth(&credential.user, Some(&credential.password));
            }
            let proxy = config
                .proxy
                .as_ref()
                .and_then(|proxy| proxy.proxy_for(&current));
            let sent_cookie = config.keep_headers
                && config
                    .cookies
                    .as_ref()
                    .is_some_and(|jar| jar.header_for(&current).is_some());
            let response = match tokio::time::timeout(remaining, request.send()).await {
                Err(_) => {
                    return Some(FetchError::new(
                        ErrorKind::Timeout,
                        format!(
                            "{current}: no response within the deadline of {:?}",
                            config.request_timeout
                        ),
                    ));
                }
                Ok(Ok(response)) => response,
                Ok(Err(error)) => {
                    let error = FetchError::from_reqwest(&current, error);
                    return Some(match proxy {
                        // Every connection goes to the proxy, so a failure
                        // to connect (or a refused CONNECT) is the proxy's;
                        // so is TLS trouble on a plain-http request, whose
                        // only TLS is with an https:// proxy.
                        Some(proxy)
                            if matches!(error.kind, ErrorKind::Connect | ErrorKind::Dns)
                                || (error.kind == ErrorKind::Tls && current.scheme() == "http") =>
                        {
                            FetchError::new(
                                ErrorKind::Proxy,
                                format!("through proxy {}: {}", proxy_shown(proxy), error.message),
                            )
                        }
                        _ => error,
                    });
                }
            };
            let status = response.status();
            fetched.status = Some(status.as_u16());
            fetched.headers = ResponseFacts::from_headers(response.headers(), SystemTime::now());
            (fetched.content_type, fetched.charset) = content_type(response.headers());
            if config.keep_headers {
                fetched.exchanges.push(Exchange {
                    url: current.clone(),
                    version: response.version(),
                    status: status.as_u16(),
                    headers: response.headers().clone(),
                    remote_addr: response.remote_addr(),
                    request_headers: self.request_headers(
                        &current,
                        sent_cookie,
                        response.version(),
                    ),
                    started: SystemTime::now(),
                });
            }

            if is_followable_redirect(status.as_u16())
                && let Some(location) = response.headers().get(LOCATION)
            {
                let target = match next_hop(&current, location, &fetched.redirects, config) {
                    Ok(target) => target,
                    Err(error) => return Some(error),
                };
                fetched.headers.location = Some(target.clone());
                match policy.verdict(&target).await {
                    RedirectVerdict::Follow => {
                        // The redirect's body is not read: dropping the
                        // response returns the connection to the pool if
                        // the body was already in, or closes it.
                        drop(response);
                        let previous = std::mem::replace(&mut current, target);
                        fetched.redirects.push(previous);
                        fetched.final_url = current.clone();
                        continue;
                    }
                    RedirectVerdict::Stop(reason) => {
                        fetched.stopped_redirect = Some((target, reason));
                        return None;
                    }
                }
            }
            // A redirect status without Location is a final response,
            // as browsers treat it.

            let (body, body_error) = read_capped(
                response,
                config.max_body_bytes,
                &config.body_budget,
                &current,
                deadline,
            )
            .await;
            fetched.body = body;
            if status.as_u16() == 407
                && let Some(proxy) = proxy
            {
                return Some(FetchError::new(
                    ErrorKind::Proxy,
                    format!(
                        "{current}: proxy {} wants credentials (407 Proxy Authentication Required)",
                        proxy_shown(proxy)
                    ),
                ));
            }
            if status.as_u16() >= 400 {
                let reason = status.canonical_reason().unwrap_or("(unknown status)");
                return Some(FetchError::new(
                    ErrorKind::Http,
                    format!("HTTP {} {reason} for {current}", status.as_u16()),
                ));
            }
            return body_error;
        }
    }
}

/// A proxy URL as messages show it: no credentials.
fn proxy_shown(proxy: &Url) -> String {
    format!(
        "{}://{}",
        proxy.scheme(),
        &proxy[url::Position::BeforeHost..url::Position::AfterPort]
    )
}

#[cfg(test)]
mod tests;
