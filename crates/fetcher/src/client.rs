//! The shared client and the fetch of one URL: redirects followed hop by
//! hop with the caller's approval, body streamed up to a cap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use tokio::time::Instant;
use url::Url;

use crate::error::{BuildError, ErrorKind, FetchError, chain_message, classify_reqwest};
use crate::retry::parse_retry_after;

/// How the shared client behaves.
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// Sent as `User-Agent` with every request.
    pub user_agent: String,
    /// Deadline for opening a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest wait between two reads of a response.
    pub read_timeout: Duration,
    /// Deadline for one request, headers and body.
    pub request_timeout: Duration,
    /// Body bytes kept per response, counted after decompression.
    pub max_body_bytes: u64,
    /// Redirect hops followed per URL.
    pub max_redirects: usize,
    /// Longer URLs are not requested.
    pub max_url_len: usize,
    /// Idle keep-alive connections kept per host.
    pub pool_idle_per_host: usize,
    /// `HOST -> ADDR` overrides, like curl's `--resolve`.
    pub resolve: Vec<(String, SocketAddr)>,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            user_agent: concat!("trawl/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 10,
            max_url_len: 2048,
            pool_idle_per_host: 32,
            resolve: Vec::new(),
        }
    }
}

/// What the caller says about a redirect target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectVerdict {
    Follow,
    Stop(StopReason),
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The target leaves the crawl's scope.
    OutOfScope,
    /// The target was already crawled or queued.
    AlreadySeen,
    /// robots.txt forbids the target.
    Disallowed,
}

/// Response headers the crawler acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFacts {
    pub x_robots_tag: Option<String>,
    pub retry_after: Option<Duration>,
    pub content_length: Option<u64>,
}

/// The outcome of fetching one URL: always a value, errors included.
#[derive(Debug)]
pub struct Fetched {
    /// The last URL requested.
    pub final_url: Url,
    /// Every URL requested before `final_url`, in order.
    pub redirects: Vec<Url>,
    /// Status of the last response, if there was one.
    pub status: Option<u16>,
    /// Lower-case media type without parameters.
    pub content_type: Option<String>,
    /// `charset` parameter of the Content-Type.
    pub charset: Option<String>,
    /// The body (decompressed), at most the cap.
    pub body: Bytes,
    /// From the first request's start to the last body byte.
    pub elapsed: Duration,
    pub headers: ResponseFacts,
    /// A redirect target that was not followed, and why.
    pub stopped_redirect: Option<(Url, StopReason)>,
    pub error: Option<FetchError>,
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
}

impl Fetcher {
    /// Builds the client: keep-alive pool, gzip/brotli/zstd/deflate, the
    /// timeouts, no automatic redirects (trawl follows them itself).
    pub fn new(config: FetcherConfig) -> Result<Fetcher, BuildError> {
        // Installing twice (a second Fetcher) is harmless; the first wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .zstd(true)
            .deflate(true)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(config.pool_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(config.user_agent.clone());
        for (host, addr) in &config.resolve {
            builder = builder.resolve(host, *addr);
        }
        let client = builder.build()?;
        Ok(Fetcher {
            inner: Arc::new(Inner { client, config }),
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &FetcherConfig {
        &self.inner.config
    }

    /// Fetches `url`, following redirects that `on_redirect` approves.
    /// Never fails: every failure is in [`Fetched::error`].
    pub async fn fetch(
        &self,
        url: &Url,
        on_redirect: &mut (dyn FnMut(&Url) -> RedirectVerdict + Send),
    ) -> Fetched {
        let started = Instant::now();
        let config = &self.inner.config;
        let mut fetched = Fetched {
            final_url: url.clone(),
            redirects: Vec::new(),
            status: None,
            content_type: None,
            charset: None,
            body: Bytes::new(),
            elapsed: Duration::ZERO,
            headers: ResponseFacts::default(),
            stopped_redirect: None,
            error: None,
        };
        let mut current = url.clone();
        loop {
            if current.as_str().len() > config.max_url_len {
                fetched.error = Some(FetchError::new(
                    ErrorKind::UrlTooLong,
                    format!(
                        "URL of {} bytes is longer than the limit of {} bytes",
                        current.as_str().len(),
                        config.max_url_len
                    ),
                ));
                break;
            }
            let response = match self.inner.client.get(current.as_str()).send().await {
                Ok(response) => response,
                Err(error) => {
                    fetched.error = Some(FetchError::from_reqwest(&current, error));
                    break;
                }
            };
            let status = response.status();
            fetched.status = Some(status.as_u16());
            fetched.headers = facts(response.headers());
            let (media, charset) = content_type(response.headers());
            fetched.content_type = media;
            fetched.charset = charset;

            if status.is_redirection() && matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                match next_hop(
                    &current,
                    response.headers(),
                    &fetched.redirects,
                    config.max_redirects,
                ) {
                    Ok(target) => match on_redirect(&target) {
                        RedirectVerdict::Follow => {
                            fetched
                                .redirects
                                .push(std::mem::replace(&mut current, target.clone()));
                            fetched.final_url = target;
                            // The redirect body is not read: dropping the
                            // response returns the connection or closes it.
                            continue;
                        }
                        RedirectVerdict::Stop(reason) => {
                            fetched.stopped_redirect = Some((target, reason));
                            break;
                        }
                    },
                    Err(error) => {
                        fetched.error = Some(error);
                        break;
                    }
                }
            }

            let (body, body_error) = read_body(response, config.max_body_bytes, &current).await;
            fetched.body = body;
            if status.as_u16() >= 400 {
                fetched.error = Some(FetchError::new(
                    ErrorKind::Http,
                    format!(
                        "HTTP {} {} for {current}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    )
                    .trim_end()
                    .to_owned(),
                ));
            } else if let Some(error) = body_error {
                fetched.error = Some(error);
            }
            break;
        }
        fetched.elapsed = started.elapsed();
        fetched
    }
}

/// Resolves the `Location` of a redirect and checks the hop limits.
fn next_hop(
    current: &Url,
    headers: &HeaderMap,
    earlier: &[Url],
    max_redirects: usize,
) -> Result<Url, FetchError> {
    let Some(location) = headers.get(LOCATION).and_then(|value| value.to_str().ok()) else {
        return Err(FetchError::new(
            ErrorKind::InvalidUrl,
            format!("redirect from {current} without a usable Location header"),
        ));
    };
    let mut target = current.join(location.trim()).map_err(|error| {
        FetchError::new(
            ErrorKind::InvalidUrl,
            format!("redirect from {current} to invalid Location `{location}`: {error}"),
        )
    })?;
    target.set_fragment(None);
    if !matches!(target.scheme(), "http" | "https") {
        return Err(FetchError::new(
            ErrorKind::UnsupportedScheme,
            format!("redirect from {current} to unsupported URL {target}"),
        ));
    }
    if target == *current || earlier.contains(&target) {
        return Err(FetchError::new(
            ErrorKind::TooManyRedirects,
            format!("redirect loop: {current} redirects back to {target}"),
        ));
    }
    if earlier.len() + 1 > max_redirects {
        return Err(FetchError::new(
            ErrorKind::TooManyRedirects,
            format!("more than {max_redirects} redirects, last from {current} to {target}"),
        ));
    }
    Ok(target)
}

/// Streams the body into memory, keeping at most `cap` bytes.
async fn read_body(
    mut response: reqwest::Response,
    cap: u64,
    url: &Url,
) -> (Bytes, Option<FetchError>) {
    let cap_usize = usize::try_from(cap).unwrap_or(usize::MAX);
    let expected = response.content_length().unwrap_or(0).min(cap);
    let mut body = BytesMut::with_capacity(usize::try_from(expected).unwrap_or(0).min(1 << 20));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap_usize - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return (
                        body.freeze(),
                        Some(FetchError::new(
                            ErrorKind::BodyTooLarge,
                            format!(
                                "body of {url} is larger than the cap of {cap} bytes; the first {cap} bytes were kept"
                            ),
                        )),
                    );
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return (body.freeze(), None),
            Err(error) => {
                let kind = match classify_reqwest(&error) {
                    ErrorKind::Timeout => ErrorKind::Timeout,
                    _ => ErrorKind::Decode,
                };
                return (
                    body.freeze(),
                    Some(FetchError::new(
                        kind,
                        format!("reading the body of {url}: {}", chain_message(&error)),
                    )),
                );
            }
        }
    }
}

fn facts(headers: &HeaderMap) -> ResponseFacts {
    ResponseFacts {
        x_robots_tag: headers
            .get_all("x-robots-tag")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .reduce(|first, _| first)
            .map(str::to_owned),
        retry_after: headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now())),
        content_length: headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok()),
    }
}

/// Splits `Content-Type` into its lower-case media type and charset.
fn content_type(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let Some(value) = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return (None, None);
    };
    parse_content_type(value)
}

pub(crate) fn parse_content_type(value: &str) -> (Option<String>, Option<String>) {
    let mut parts = value.split(';');
    let media = parts
        .next()
        .map(|media| media.trim().to_ascii_lowercase())
        .filter(|media| !media.is_empty());
    let charset = parts.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|charset| !charset.is_empty())
    });
    (media, charset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_is_split_into_media_type_and_charset() {
        assert_eq!(
            parse_content_type("text/html; charset=UTF-8"),
            (Some("text/html".into()), Some("UTF-8".into()))
        );
        assert_eq!(
            parse_content_type("Text/HTML"),
            (Some("text/html".into()), None)
        );
        assert_eq!(
            parse_content_type("text/html;charset=\"shift_jis\"; q=1"),
            (Some("text/html".into()), Some("shift_jis".into()))
        );
        assert_eq!(parse_content_type(""), (None, None));
    }

    #[test]
    fn redirect_hops_resolve_and_stop_on_loops_and_limits() {
        let current = Url::parse("http://a.example/x/y").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, "../z#frag".parse().unwrap());
        assert_eq!(
            next_hop(&current, &headers, &[], 10).unwrap().as_str(),
            "http://a.example/z"
        );
        headers.insert(LOCATION, "/x/y".parse().unwrap());
        assert_eq!(
            next_hop(&current, &headers, &[], 10).unwrap_err().kind,
            ErrorKind::TooManyRedirects
        );
        headers.insert(LOCATION, "/next".parse().unwrap());
        let earlier: Vec<Url> = (0..10)
            .map(|i| Url::parse(&format!("http://a.example/{i}")).unwrap())
            .collect();
        assert_eq!(
            next_hop(&current, &headers, &earlier, 10).unwrap_err().kind,
            ErrorKind::TooManyRedirects
        );
        headers.insert(LOCATION, "ftp://a.example/".parse().unwrap());
        assert_eq!(
            next_hop(&current, &headers, &[], 10).unwrap_err().kind,
            ErrorKind::UnsupportedScheme
        );
        headers.insert(LOCATION, "http://[::1".parse().unwrap());
        assert_eq!(
            next_hop(&current, &headers, &[], 10).unwrap_err().kind,
            ErrorKind::InvalidUrl
        );
    }
}
