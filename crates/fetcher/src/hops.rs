//! The rules of one redirect hop and of a requestable URL: checked
//! before anything is sent.

use reqwest::header::HeaderValue;
use url::Url;

use crate::client::FetcherConfig;
use crate::error::{ErrorKind, FetchError};

pub(crate) fn is_followable_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The checks made before any request: only http(s), and not too long.
pub(crate) fn check_requestable(url: &Url, max_url_len: usize) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::new(
            ErrorKind::UnsupportedScheme,
            format!("{url}: scheme {:?} is not http or https", url.scheme()),
        ));
    }
    let len = url.as_str().len();
    if len > max_url_len {
        // The URL itself may be megabytes: name only its start.
        let head: String = url.as_str().chars().take(200).collect();
        return Err(FetchError::new(
            ErrorKind::UrlTooLong,
            format!(
                "{head}...: URL of {len} bytes is longer than the limit of {max_url_len} bytes"
            ),
        ));
    }
    Ok(())
}

/// Resolves a `Location` against the current URL and applies the hop
/// rules: valid, http(s), not too long, no loop, not too many hops.
pub(crate) fn next_hop(
    current: &Url,
    location: &HeaderValue,
    earlier: &[Url],
    config: &FetcherConfig,
) -> Result<Url, FetchError> {
    // Location is meant to be ASCII, but servers send raw UTF-8; url's
    // parser percent-encodes it, so decode leniently rather than give up.
    let location = String::from_utf8_lossy(location.as_bytes());
    let location = location.trim();
    let mut target = current.join(location).map_err(|error| {
        FetchError::new(
            ErrorKind::InvalidUrl,
            format!("{current}: redirect to invalid Location {location:?}: {error}"),
        )
    })?;
    target.set_fragment(None);
    check_requestable(&target, config.max_url_len).map_err(|error| {
        FetchError::new(
            error.kind,
            format!("redirect from {current} to {}", error.message),
        )
    })?;
    if target == *current || earlier.contains(&target) {
        return Err(FetchError::new(
            ErrorKind::TooManyRedirects,
            format!("redirect loop: {current} redirects back to {target}"),
        ));
    }
    if earlier.len() >= config.max_redirects {
        return Err(FetchError::new(
            ErrorKind::TooManyRedirects,
            format!(
                "more than {} redirects, the last from {current} to {target}",
                config.max_redirects
            ),
        ));
    }
    Ok(target)
}
