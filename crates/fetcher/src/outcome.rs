//! What a fetch returns: the outcome of one URL ([`Fetched`]), the
//! exchanges an archive records, and the caller's verdicts on redirects.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use url::Url;

#[cfg(doc)]
use crate::FetcherConfig;
use crate::body::ResponseFacts;
use crate::error::FetchError;
use crate::retry::{Retry, classify};

/// One request and its response head, as an archive records them.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The URL requested.
    pub url: Url,
    /// The response's HTTP version.
    pub version: reqwest::Version,
    /// The response's status code.
    pub status: u16,
    /// The response's headers, as received.
    pub headers: HeaderMap,
    /// The server's address.
    pub remote_addr: Option<SocketAddr>,
    /// The request's headers as this client sends them; the values of
    /// `Authorization`, `Cookie` and `Proxy-Authorization` are redacted.
    pub request_headers: Vec<(String, String)>,
    /// When the response head arrived.
    pub started: SystemTime,
}

/// The caller's answer about one redirect target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectVerdict {
    Follow,
    Stop(StopReason),
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The target leaves the crawl's scope.
    OutOfScope,
    /// The target was already crawled or queued; it is fetched (or was)
    /// under its own name.
    AlreadySeen,
    /// robots.txt forbids the target.
    Disallowed,
}

impl StopReason {
    /// Stable snake_case name for output records.
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::OutOfScope => "out_of_scope",
            StopReason::AlreadySeen => "already_seen",
            StopReason::Disallowed => "disallowed",
        }
    }
}

/// The outcome of fetching one URL. Always a value: failures are in
/// [`Fetched::error`], next to whatever was learnt before them.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The last URL requested (the fetched URL when there was no redirect).
    pub final_url: Url,
    /// Every URL requested before `final_url`, in order: `redirects[0]` is
    /// the fetched URL when there was a redirect; empty when none.
    pub redirects: Vec<Url>,
    /// Status of the last response; `None` when no response arrived.
    pub status: Option<u16>,
    /// Lower-case media type, without parameters.
    pub content_type: Option<String>,
    /// `charset` parameter of the Content-Type, lower-case.
    pub charset: Option<String>,
    /// The body of the last response (decompressed), at most the cap. Empty
    /// for a stopped redirect.
    pub body: Bytes,
    /// From the first request's start to the end of the body, all hops.
    pub elapsed: Duration,
    /// Headers of the last response that the crawler acts on.
    pub headers: ResponseFacts,
    /// Every response of this fetch, redirects first, the final one last,
    /// with [`FetcherConfig::keep_headers`]; empty without it.
    pub exchanges: Vec<Exchange>,
    /// Set when the redirect callback said Stop: the target not followed.
    /// `status` is then the 3xx and `error` is `None`.
    pub stopped_redirect: Option<(Url, StopReason)>,
    pub error: Option<FetchError>,
}

impl Fetched {
    /// The outcome before anything was learnt about `url`.
    pub fn empty(url: &Url) -> Fetched {
        Fetched {
            final_url: url.clone(),
            redirects: Vec::new(),
            status: None,
            content_type: None,
            charset: None,
            body: Bytes::new(),
            elapsed: Duration::ZERO,
            headers: ResponseFacts::default(),
            exchanges: Vec::new(),
            stopped_redirect: None,
            error: None,
        }
    }

    /// The retry policy applied to this outcome; `None` when it succeeded.
    pub fn retry(&self) -> Option<Retry> {
        let error = self.error.as_ref()?;
        Some(classify(error.kind, self.status, self.headers.retry_after))
    }
}
