//! The headers trawl sends: its own, and the ones a user adds, checked.

use reqwest::header::{HeaderName, HeaderValue};

/// Headers a user may not set: they belong to the protocol (or to a flag
/// of their own).
const REFUSED_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "user-agent",
];

/// Why a header cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HeaderError(String);

/// Checks one `Name: value` header for [`FetcherConfig::headers`](crate::FetcherConfig::headers).
pub fn request_header(line: &str) -> Result<(HeaderName, HeaderValue), HeaderError> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(HeaderError("expected `Name: value`".into()));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| HeaderError(format!("`{}` is not a header name", name.trim())))?;
    if REFUSED_HEADERS.contains(&name.as_str()) {
        let reason = if name == reqwest::header::USER_AGENT {
            "set it with --user-agent (robots.txt groups follow it)".to_owned()
        } else {
            format!("`{name}` belongs to the HTTP protocol and cannot be set")
        };
        return Err(HeaderError(reason));
    }
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| HeaderError("the value has a control character".into()))?;
    Ok((name, value))
}

/// What an archive or a log may show of a header's value.
pub(crate) fn redacted(name: &HeaderName, value: &HeaderValue) -> String {
    let secret = [
        reqwest::header::AUTHORIZATION,
        reqwest::header::COOKIE,
        reqwest::header::PROXY_AUTHORIZATION,
    ];
    if secret.contains(name) {
        "[redacted]".to_owned()
    } else {
        String::from_utf8_lossy(value.as_bytes()).into_owned()
    }
}

/// The `Accept` header of every request.
pub(crate) const ACCEPT_HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";
/// The `Accept-Encoding` reqwest sends with the decoders this client
/// enables (read off the wire).
pub(crate) const ACCEPT_ENCODING: &str = "zstd,gzip,deflate,br";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_headers_are_checked_and_secrets_redacted() {
        let (name, value) = request_header("X-Token :  abc ").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-token", "abc"));
        for refused in [
            "Host: a",
            "connection: close",
            "TE: trailers",
            "User-Agent: x",
        ] {
            assert!(request_header(refused).is_err(), "{refused}");
        }
        assert!(request_header("X: a\u{7}b").is_err(), "a control character");
        let (name, value) = request_header("Cookie: session=1").unwrap();
        assert_eq!(redacted(&name, &value), "[redacted]");
        let (name, value) = request_header("Accept-Language: de").unwrap();
        assert_eq!(redacted(&name, &value), "de");
    }
}
