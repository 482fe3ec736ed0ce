//! trawl-fetcher: getting bytes from the web, politely and safely.
//!
//! What it does:
//!
//! - [`Fetcher`] holds the one shared, pooled `reqwest::Client` of a crawl
//!   (keep-alive, gzip/brotli/zstd/deflate, connect, idle-read and overall
//!   timeouts, rustls with the ring provider; certificates always verified,
//!   against the system's roots plus [`FetcherConfig::extra_roots`]).
//! - [`Fetcher::fetch`] GETs one URL. It follows redirects itself, asking
//!   the caller's callback about every hop ([`RedirectVerdict`]), and
//!   streams the final body into memory up to a cap counted on
//!   *decompressed* bytes, so a gzip bomb stops at the cap, and only once
//!   a crawl-wide [`BodyBudget`] has room for it. It never
//!   returns `Err` and never panics: the outcome, failures included, is a
//!   [`Fetched`] value.
//! - [`ErrorKind`] is the fixed, documented set of failure kinds that end up
//!   in output records ([`ErrorKind::as_str`]).
//! - [`classify`] and [`backoff_delay`] are the retry policy, as pure
//!   functions; [`RetryAfter`] parses the server's hint.
//! - [`HostPolicy`] owns politeness: the per-host rate limit, robots.txt
//!   `Crawl-delay`, adaptive pacing (one GCRA [`Schedule`] per host, exact
//!   on average, no timer per request) and 429/503 pauses, asked without
//!   waiting, so a resting host never blocks the others.
//!
//! - [`RobotsCache`]: robots.txt fetched once per host before any other
//!   request to it (others wait for it, other hosts don't), refreshed
//!   daily; [`RobotsRules`] answers allow/deny and Crawl-delay, after
//!   RFC 9309 ([`ParsedRobots`]).
//! - [`discover_sitemaps`]: sitemap URL sets and indexes (plain or gzip,
//!   size-capped, streamed through an XML event parser).
//! - [`NetworkPolicy`]: which addresses may be connected to (public ones,
//!   the classes of the seeds, allow and deny ranges), checked on every
//!   address a name resolves to as the connection is made, and on
//!   IP-literal URLs before the request; a refusal is
//!   [`ErrorKind::BlockedAddress`]. [`classify_address`] is the pure
//!   classification ([`AddressClass`]).
//! - Request shaping: headers ([`request_header`]), a [`CookieJar`] on by
//!   default (RFC 6265, public suffixes refused, Netscape cookie files),
//!   a [`ProxyConfig`] (http, https, SOCKS5; curl's `NO_PROXY` rules; a
//!   failing proxy is [`ErrorKind::Proxy`]), and Basic [`Credential`]s
//!   sent only within their [`CredentialScope`].
//!
//! What it does not do: decide scope or dedup (the redirect callback does),
//! parse HTML, schedule URLs, retry by itself
//! (the caller loops with [`classify`]), or write output.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use trawl_fetcher::{Fetcher, FetcherConfig, RedirectVerdict};
//!
//! let fetcher = Fetcher::new(FetcherConfig::default())?;
//! let url = url::Url::parse("http://127.0.0.1:8080/")?;
//! let fetched = fetcher.fetch(&url, &mut |_target| RedirectVerdict::Follow).await;
//! match &fetched.error {
//!     None => println!("{} bytes from {}", fetched.body.len(), fetched.final_url),
//!     Some(error) => println!("{}: {}", error.kind.as_str(), error.message),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `client.rs`: [`FetcherConfig`], [`Fetcher`], the redirect loop, [`Fetched`].
//! - `headers.rs`: the headers sent, [`request_header`] for user-given ones.
//! - `body.rs`: the capped body read and the parsed headers ([`ResponseFacts`]).
//! - `error.rs`: [`ErrorKind`], [`FetchError`], mapping reqwest's errors to kinds.
//! - `retry.rs`: [`classify`], [`backoff_delay`], [`RetryAfter`].
//! - `limiter.rs`: [`Schedule`], one host's GCRA schedule (pure).
//! - `politeness.rs`: [`HostPolicy`], [`PolitenessConfig`].
//! - `robots.rs`: [`RobotsCache`] and [`RobotsRules`]; `robots/matcher.rs`:
//!   robots.txt groups and rule matching ([`ParsedRobots`]).
//! - `sitemap.rs`: [`discover_sitemaps`] and the sitemap parser.
//! - `netpolicy.rs`: [`classify_address`], [`NetworkPolicy`], [`Blocked`].
//! - `guard.rs`: the policy inside the client: the filtering resolver
//!   (`--resolve` overrides included), the IP-literal check, seed classes.
//! - `cookies.rs`: [`CookieJar`]; `proxy.rs`: [`ProxyConfig`];
//!   `credentials.rs`: where [`Credential`]s may go; `hops.rs`: the rules
//!   of a redirect hop.
//! - `tls.rs`: which roots are trusted, [`read_ca_file`] for more, and
//!   TLS failures explained in the [`ErrorKind::Tls`] message.

mod body;
mod budget;
mod client;
mod cookies;
mod credentials;
mod error;
mod guard;
mod headers;
mod hops;
mod limiter;
mod netpolicy;
mod outcome;
mod politeness;
mod proxy;
mod retry;
mod robots;
mod sitemap;
mod tls;

pub use body::ResponseFacts;
pub use budget::{BodyBudget, DEFAULT_BODY_BUDGET, UNANNOUNCED};
pub use client::{
    Credential, CredentialScope, Fetcher, FetcherConfig, READ_BUFFER_MAX, RedirectPolicy, Tap,
};
pub use cookies::{CookieFileError, CookieJar, CookieRefusal};
pub use error::{BuildError, ErrorKind, FetchError};
pub use headers::{HeaderError, request_header};
pub use limiter::{Schedule, TIMER_SLACK};
pub use netpolicy::{
    AddressClass, BlockReason, Blocked, ClassSet, IpNet, NetworkPolicy, classify_address,
    embedded_v4,
};
pub use outcome::{Exchange, Fetched, RedirectVerdict, StopReason};
pub use politeness::{HostPolicy, KEEP_ALIVE_GAP, PolitenessConfig};
pub use proxy::{ProxyConfig, ProxyError};
pub use retry::{Retry, RetryAfter, backoff_delay, classify};
pub use robots::{ParsedRobots, RobotsCache, RobotsRules, SharedFuture, SharedRobots};
pub use sitemap::discover_sitemaps;
pub use tls::{CaCertError, parse_ca_pem, read_ca_file};

/// A DER certificate, as [`FetcherConfig::extra_roots`] holds them
/// (rustls's type, re-exported).
pub use rustls::pki_types::CertificateDer;
