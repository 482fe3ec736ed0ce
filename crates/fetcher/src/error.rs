//! The fixed set of failure kinds a fetch can end in, and the mapping from
//! reqwest's errors onto it.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use url::Url;

/// What went wrong with a fetch, from a fixed set.
///
/// The snake_case names from [`ErrorKind::as_str`] are a wire format: they
/// appear in every output record, so a name is never changed or reused. New
/// kinds may be added (hence `#[non_exhaustive]`).
///
/// | kind | meaning |
/// |---|---|
/// | `timeout` | connect, idle-read or overall deadline passed |
/// | `connect` | TCP connection could not be made (refused, unreachable) |
/// | `dns` | host name did not resolve |
/// | `tls` | TLS handshake or certificate failure |
/// | `too_many_redirects` | more hops than allowed, or a redirect loop |
/// | `body_too_large` | body exceeded the byte cap; the first cap bytes are kept |
/// | `http` | final status was 400 or above; the body is still read |
/// | `decode` | content-decoding failed, or the body stream broke (truncated, bad chunking) |
/// | `invalid_url` | the URL or a redirect `Location` could not be used |
/// | `url_too_long` | the URL is longer than the configured limit; nothing was sent |
/// | `unsupported_scheme` | not http or https; nothing was sent |
/// | `io` | the connection broke before a response arrived (reset, closed) |
/// | `headers_too_large` | the response head was larger than the client accepts |
/// | `blocked_address` | the network policy forbids every address of the host; nothing was sent |
/// | `proxy` | the proxy could not be reached, refused the tunnel, or wants credentials (407) |
/// | `other` | anything not above |
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Timeout,
    Connect,
    Dns,
    Tls,
    TooManyRedirects,
    BodyTooLarge,
    Http,
    Decode,
    InvalidUrl,
    UrlTooLong,
    UnsupportedScheme,
    Io,
    HeadersTooLarge,
    BlockedAddress,
    Proxy,
    Other,
}

impl ErrorKind {
    /// Every kind, in documentation order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::Dns,
        ErrorKind::Tls,
        ErrorKind::TooManyRedirects,
        ErrorKind::BodyTooLarge,
        ErrorKind::Http,
        ErrorKind::Decode,
        ErrorKind::InvalidUrl,
        ErrorKind::UrlTooLong,
        ErrorKind::UnsupportedScheme,
        ErrorKind::Io,
        ErrorKind::HeadersTooLarge,
        ErrorKind::BlockedAddress,
        ErrorKind::Proxy,
        ErrorKind::Other,
    ];

    /// The stable snake_case name used in output records.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Dns => "dns",
            ErrorKind::Tls => "tls",
            ErrorKind::TooManyRedirects => "too_many_redirects",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Http => "http",
            ErrorKind::Decode => "decode",
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::UrlTooLong => "url_too_long",
            ErrorKind::UnsupportedScheme => "unsupported_scheme",
            ErrorKind::Io => "io",
            ErrorKind::HeadersTooLarge => "headers_too_large",
            ErrorKind::BlockedAddress => "blocked_address",
            ErrorKind::Proxy => "proxy",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed fetch: a kind to branch on and a message for people.
///
/// The message names the URL and the whole cause chain, because the record
/// is often the only trace of the failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct FetchError {
    pub kind: ErrorKind,
    pub message: String,
}

impl FetchError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> FetchError {
        FetchError {
            kind,
            message: message.into(),
        }
    }

    /// Maps a reqwest error raised while requesting or reading `url`.
    pub(crate) fn from_reqwest(url: &Url, err: reqwest::Error) -> FetchError {
        // The resolver's refusal names the host, its addresses and why;
        // the wrappers around it ("dns error", "client error") add nothing.
        let mut blocked = None;
        for_each_cause(&err, |cause| {
            blocked = cause
                .downcast_ref::<crate::guard::BlockedHost>()
                .map(ToString::to_string);
            blocked.is_some()
        });
        if let Some(blocked) = blocked {
            return FetchError::new(
                ErrorKind::BlockedAddress,
                format!("{url}: {blocked}; no connection was made"),
            );
        }
        let kind = kind_of(&err);
        if kind == ErrorKind::Tls {
            // The wrappers ("error sending request", "client error
            // (Connect)") say nothing the explanation does not.
            let mut explained = None;
            for_each_cause(&err, |cause| {
                explained = cause
                    .downcast_ref::<rustls::Error>()
                    .map(crate::tls::explain);
                explained.is_some()
            });
            if let Some(explained) = explained {
                return FetchError::new(kind, format!("{url}: {explained}"));
            }
        }
        if is_out_of_files(&err) {
            warn_out_of_files();
        }
        let err = err.without_url();
        FetchError::new(kind, format!("{url}: {}", chain_message(&err)))
    }
}

/// Whether the process (EMFILE) or the system (ENFILE) ran out of open
/// files: every new connection fails until some close, which is the
/// machine's doing, not the host's.
fn is_out_of_files(err: &(dyn StdError + 'static)) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    for_each_cause(err, |cause| {
        cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
            .is_some_and(|code| code == EMFILE || code == ENFILE)
    })
}

/// Says once per process what the records cannot: why connections fail
/// and what to do about it.
fn warn_out_of_files() {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "out of open files: new connections fail (`connect` records, \"Too many open \
             files\") until some close; every host crawled at least once every 5 s \
             keeps a connection for up to 90 s, so lower --concurrency, crawl fewer hosts at \
             once or each more slowly (--per-host-rate below 0.2 keeps none), or raise the \
             hard limit (ulimit -Hn)"
        );
    }
}

/// Failure to build the shared HTTP client (bad TLS setup, resolver config).
///
/// The message already holds the whole cause chain, so the reqwest error is
/// deliberately not exposed as `source()`: printers that walk sources would
/// repeat it.
#[derive(Debug, thiserror::Error)]
#[error("building the HTTP client: {}{}", chain_message(.error), no_roots_hint(.error))]
pub struct BuildError {
    error: reqwest::Error,
}

/// What to do when the system has no CA certificates at all (a minimal
/// container): rustls-platform-verifier refuses to build without roots.
fn no_roots_hint(error: &reqwest::Error) -> &'static str {
    if chain_message(error).contains("No CA certificates were loaded from the system") {
        "; install the system's CA certificates (the ca-certificates package), point \
         SSL_CERT_FILE or SSL_CERT_DIR at a CA bundle, or trust a CA with --ca-cert"
    } else {
        ""
    }
}

impl From<reqwest::Error> for BuildError {
    fn from(error: reqwest::Error) -> BuildError {
        BuildError { error }
    }
}

/// Joins an error and its sources with ": ", skipping a cause whose text the
/// previous message already contains (wrappers often repeat their inner error).
pub(crate) fn chain_message(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut last = out.clone();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !last.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        source = cause.source();
    }
    out
}

/// Decides the kind of a reqwest error. Order matters: a timeout while
/// connecting is a timeout, a TLS failure is also a "connect" error to
/// reqwest, and DNS failures are connect errors too.
fn kind_of(err: &reqwest::Error) -> ErrorKind {
    if err.is_timeout() || chain_has_io_kind(err, &[io::ErrorKind::TimedOut]) {
        return ErrorKind::Timeout;
    }
    if chain_has_tls(err) {
        return ErrorKind::Tls;
    }
    if err.is_dns() || chain_text_has(err, &["dns error", "failed to lookup address"]) {
        return ErrorKind::Dns;
    }
    if err.is_connect() {
        return ErrorKind::Connect;
    }
    if err.is_body() || err.is_decode() {
        return ErrorKind::Decode;
    }
    if err.is_builder() {
        return ErrorKind::InvalidUrl;
    }
    if chain_text_has(
        err,
        &[
            "message head is too large",
            "header too large",
            "headers too large",
        ],
    ) {
        return ErrorKind::HeadersTooLarge;
    }
    if chain_has_io_kind(err, BROKEN_CONNECTION)
        || chain_text_has(err, &["connection closed before message completed"])
    {
        return ErrorKind::Io;
    }
    ErrorKind::Other
}

const BROKEN_CONNECTION: &[io::ErrorKind] = &[
    io::ErrorKind::ConnectionReset,
    io::ErrorKind::ConnectionAborted,
    io::ErrorKind::BrokenPipe,
    io::ErrorKind::UnexpectedEof,
    io::ErrorKind::NotConnected,
];

/// Calls `visit` on every error in the chain until it returns true.
///
/// `io::Error::source` skips its own payload and goes straight to the
/// payload's source, yet the payload is exactly where hyper-rustls puts the
/// `rustls::Error` (inside one or two `io::Error`s), so the walk steps into
/// payloads instead.
fn for_each_cause(
    err: &(dyn StdError + 'static),
    mut visit: impl FnMut(&(dyn StdError + 'static)) -> bool,
) -> bool {
    let mut current = Some(err);
    while let Some(cause) = current {
        if visit(cause) {
            return true;
        }
        current = match cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
        {
            Some(payload) => Some(payload as &(dyn StdError + 'static)),
            None => cause.source(),
        };
    }
    false
}

fn chain_has_tls(err: &reqwest::Error) -> bool {
    for_each_cause(err, |cause| cause.is::<rustls::Error>())
}

fn chain_has_io_kind(err: &reqwest::Error, kinds: &[io::ErrorKind]) -> bool {
    for_each_cause(err, |cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| kinds.contains(&io.kind()))
    })
}

fn chain_text_has(err: &reqwest::Error, needles: &[&str]) -> bool {
    for_each_cause(err, |cause| {
        let text = cause.to_string().to_ascii_lowercase();
        needles.iter().any(|needle| text.contains(needle))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            let name = kind.as_str();
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name} is not snake_case"
            );
            assert_eq!(kind.to_string(), name);
        }
        assert_eq!(seen.len(), 16);
    }

    #[derive(Debug)]
    struct Wrapper(
        &'static str,
        Option<Box<dyn StdError + Send + Sync + 'static>>,
    );
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn running_out_of_open_files_is_told_from_other_io_errors() {
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tcp open error")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        assert!(is_out_of_files(&Wrapper(io::Error::from_raw_os_error(24))));
        assert!(is_out_of_files(&io::Error::from_raw_os_error(23)));
        assert!(!is_out_of_files(&Wrapper(io::Error::from_raw_os_error(
            111
        ))));
        assert!(!is_out_of_files(&io::Error::other("Too many open files")));
    }

    #[test]
    fn chain_message_walks_sources_and_skips_repeats() {
        let inner = Wrapper("connection refused", None);
        let middle = Wrapper(
            "tcp connect error: connection refused",
            Some(Box::new(inner)),
        );
        let outer = Wrapper("error sending request", Some(Box::new(middle)));
        assert_eq!(
            chain_message(&outer),
            "error sending request: tcp connect error: connection refused"
        );
    }

    #[test]
    fn nested_io_payloads_are_visited() {
        let inner = io::Error::new(io::ErrorKind::InvalidData, Wrapper("payload", None));
        let io = io::Error::other(inner);
        let outer = Wrapper("outer", Some(Box::new(io)));
        let mut seen = Vec::new();
        for_each_cause(&outer, |cause| {
            seen.push(cause.to_string());
            false
        });
        assert!(seen.iter().any(|s| s == "payload"), "{seen:?}");
    }
}
