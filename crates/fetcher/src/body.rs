//! Reading a response: the body streamed up to a byte cap, and the few
//! headers the crawler acts on.

use std::time::SystemTime;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use tokio::time::Instant;
use url::Url;

use crate::budget::{BodyBudget, UNANNOUNCED};
use crate::error::{ErrorKind, FetchError};
use crate::retry::RetryAfter;

/// Response headers the crawler acts on, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFacts {
    /// `X-Robots-Tag` values, several headers joined with ", ".
    pub x_robots_tag: Option<String>,
    /// `Retry-After`, relative to when the response arrived.
    pub retry_after: Option<RetryAfter>,
    /// The resolved target of a redirect that the callback stopped (the
    /// same URL as in `Fetched::stopped_redirect`).
    pub location: Option<Url>,
    /// `Content-Length` as sent. reqwest drops it when it decompresses, so
    /// it is absent for compressed responses.
    pub content_length: Option<u64>,
}

impl ResponseFacts {
    pub(crate) fn from_headers(headers: &HeaderMap, now: SystemTime) -> ResponseFacts {
        let robots: Vec<&str> = headers
            .get_all("x-robots-tag")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .collect();
        ResponseFacts {
            x_robots_tag: (!robots.is_empty()).then(|| robots.join(", ")),
            retry_after: header_str(headers, RETRY_AFTER.as_str())
                .and_then(|value| RetryAfter::parse(value, now)),
            location: None,
            content_length: header_str(headers, CONTENT_LENGTH.as_str())
                .and_then(|value| value.trim().parse().ok()),
        }
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The media type (lower-case, no parameters) and charset of a response.
pub(crate) fn content_type(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    match header_str(headers, CONTENT_TYPE.as_str()) {
        Some(value) => parse_content_type(value),
        None => (None, None),
    }
}

/// Splits a `Content-Type` value into its lower-case media type and its
/// lower-case `charset` parameter.
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
            .then(|| value.trim().trim_matches('"').trim().to_ascii_lowercase())
            .filter(|charset| !charset.is_empty())
    });
    (media, charset)
}

/// Streams the body of `response` into memory, keeping at most `cap`
/// bytes (counted after decompression, since reqwest decompresses first).
///
/// On reaching the cap it stops reading and drops the response, so a huge
/// or endless body costs at most `cap` bytes of memory and no more network
/// than the chunk in flight. The read ends at `deadline`, moved on by as
/// long as the body waited for the budget. Always returns what was read,
/// with the error that ended the read, if any.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
    budget: &BodyBudget,
    url: &Url,
    deadline: Instant,
) -> (Bytes, Option<FetchError>) {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    // The buffer is reserved for the announced length (at first only up to
    // 1 MiB of it, as the header may lie), else grows by doubling, but never
    // past the cap: BytesMut's own growth could reserve up to twice the cap
    // for a body just under it.
    let announced = response
        .content_length()
        .map(|length| usize::try_from(length).unwrap_or(usize::MAX));
    // Nothing is read before the bytes are reserved (see budget.rs).
    let waiting = Instant::now();
    let mut reserved = budget
        .reserve(announced.unwrap_or(UNANNOUNCED).min(cap))
        .await;
    let deadline = deadline + waiting.elapsed();
    let announced = announced.unwrap_or(0);
    // Every chunk is copied out. A chunk is a slice of hyper's read buffer,
    // which is as large as its adaptive read size (up to ~400 KB), so
    // keeping the chunk itself would pin that whole buffer while the page
    // waits for and goes through a parser thread.
    let mut body: Vec<u8> = Vec::new();
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, response.chunk()).await else {
            let error = FetchError::new(
                ErrorKind::Timeout,
                format!(
                    "reading the body of {url}: the deadline passed after {} bytes",
                    body.len()
                ),
            );
            return (reserved.into_bytes(body), Some(error));
        };
        match next {
            Ok(Some(chunk)) => {
                if body.capacity() == 0 {
                    body.reserve_exact(announced.min(1 << 20).max(chunk.len()).min(cap));
                }
                let room = cap - body.len();
                let take = chunk.len().min(room);
                reserved.cover(body.len() + take);
                grow_within(&mut body, take, cap, announced);
                body.extend_from_slice(&chunk[..take]);
                if take < chunk.len() {
                    let error = FetchError::new(
                        ErrorKind::BodyTooLarge,
                        format!(
                            "{url}: body is larger than the cap of {cap} bytes; the first {cap} bytes were kept"
                        ),
                    );
                    return (reserved.into_bytes(body), Some(error));
                }
            }
            Ok(None) => return (reserved.into_bytes(body), None),
            Err(error) => {
                let mut error = FetchError::from_reqwest(url, error);
                // Any failure after the headers is the body breaking, unless
                // a deadline cut it.
                if error.kind != ErrorKind::Timeout {
                    error.kind = ErrorKind::Decode;
                }
                error.message = format!("reading the body of {}", error.message);
                return (reserved.into_bytes(body), Some(error));
            }
        }
    }
}

/// Makes room for `extra` more bytes: up to the `announced` length while
/// the body stays within it, else doubling, but never reserving beyond
/// `cap` in total.
fn grow_within(body: &mut Vec<u8>, extra: usize, cap: usize, announced: usize) {
    let needed = body.len() + extra;
    if needed <= body.capacity() {
        return;
    }
    let target = if needed <= announced {
        announced
    } else {
        needed.max(body.capacity().saturating_mul(2))
    }
    .min(cap);
    body.reserve_exact(target - body.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn pair(a: Option<&str>, b: Option<&str>) -> (Option<String>, Option<String>) {
        (a.map(str::to_owned), b.map(str::to_owned))
    }

    #[test]
    fn content_type_is_split_into_media_type_and_charset() {
        let cases = [
            (
                "text/html; charset=UTF-8",
                pair(Some("text/html"), Some("utf-8")),
            ),
            ("Text/HTML", pair(Some("text/html"), None)),
            (
                "text/html;charset=\"Shift_JIS\"; q=1",
                pair(Some("text/html"), Some("shift_jis")),
            ),
            (
                "application/xhtml+xml ; foo=bar ; CHARSET = iso-8859-1 ",
                pair(Some("application/xhtml+xml"), Some("iso-8859-1")),
            ),
            ("text/plain; charset=", pair(Some("text/plain"), None)),
            ("text/plain; charset", pair(Some("text/plain"), None)),
            ("", pair(None, None)),
            ("  ;charset=utf-8", pair(None, Some("utf-8"))),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_content_type(input), expected, "{input:?}");
        }
    }

    #[test]
    fn facts_join_robots_headers_and_parse_numbers() {
        let mut headers = HeaderMap::new();
        headers.append("x-robots-tag", HeaderValue::from_static("noindex"));
        headers.append(
            "x-robots-tag",
            HeaderValue::from_static("googlebot: nofollow"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("1234"));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        let facts = ResponseFacts::from_headers(&headers, SystemTime::now());
        assert_eq!(
            facts.x_robots_tag.as_deref(),
            Some("noindex, googlebot: nofollow")
        );
        assert_eq!(facts.content_length, Some(1234));
        assert_eq!(
            facts.retry_after,
            Some(RetryAfter::Delay(std::time::Duration::from_secs(5)))
        );
        assert_eq!(facts.location, None);

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("lots"));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("later"));
        let facts = ResponseFacts::from_headers(&headers, SystemTime::now());
        assert_eq!(facts, ResponseFacts::default());
    }

    #[test]
    fn growth_never_reserves_past_the_cap() {
        let cap = 1000;
        let mut body = Vec::new();
        for _ in 0..10 {
            grow_within(&mut body, 100, cap, 0);
            body.extend_from_slice(&[0; 100]);
            assert!(body.capacity() <= cap, "capacity {}", body.capacity());
        }
        assert_eq!(body.len(), cap);
    }

    #[test]
    fn growth_reserves_the_announced_length_once_and_doubles_past_it() {
        let mut body = vec![0; 1 << 20];
        grow_within(&mut body, 100, usize::MAX, 3 << 20);
        assert_eq!(body.capacity(), 3 << 20, "the announced length, at once");
        body.resize(3 << 20, 0);
        grow_within(&mut body, 1, usize::MAX, 3 << 20);
        assert_eq!(
            body.capacity(),
            6 << 20,
            "a body longer than announced doubles"
        );
        let mut lied = vec![0; 1 << 20];
        grow_within(&mut lied, 1, 2 << 20, 1 << 40);
        assert_eq!(lied.capacity(), 2 << 20, "never past the cap");
    }
}
