//! Facts about one fetched page that become its record: is the body HTML,
//! what the robots headers say, its canonical links, and the record itself.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::SystemTime;

use trawl_extractor::Page;
use trawl_fetcher::Fetched;
use trawl_frontier::{Entry as QueueEntry, canonicalize, fingerprint};
use url::Url;

use crate::record::{CrawlRecord, RecordError};

pub(crate) fn is_html_type(content_type: Option<&str>) -> Option<bool> {
    content_type.map(|media| matches!(media, "text/html" | "application/xhtml+xml"))
}

/// Binary control bytes early in a body mean it is not really HTML,
/// whatever the header claims.
pub(crate) fn looks_binary(body: &[u8]) -> bool {
    // UTF-16 text is full of NUL bytes; its byte order mark says it is text.
    if body.starts_with(&[0xFF, 0xFE]) || body.starts_with(&[0xFE, 0xFF]) {
        return false;
    }
    // A fold without early exit, which the compiler turns into vector
    // code: every page pays this, and HTML has no such byte.
    body[..body.len().min(1024)]
        .iter()
        .fold(false, |found, &byte| {
            found | matches!(byte, 0x00..=0x08 | 0x0E..=0x1A | 0x1C..=0x1F)
        })
}

pub(crate) fn header_nofollow(fetched: &Fetched) -> bool {
    robots_tag_has(fetched, "nofollow")
}

pub(crate) fn header_noindex(fetched: &Fetched) -> bool {
    robots_tag_has(fetched, "noindex")
}

fn robots_tag_has(fetched: &Fetched, directive: &str) -> bool {
    fetched
        .headers
        .x_robots_tag
        .as_deref()
        .is_some_and(|value| {
            value.split([',', ' ']).any(|token| {
                token.trim().eq_ignore_ascii_case(directive)
                    || token.trim().eq_ignore_ascii_case("none")
            })
        })
}

/// The page's links in canonical form, deduplicated, each with whether
/// every occurrence carried `rel="nofollow"`.
pub(crate) fn canonical_links(page: Option<&Page>) -> Vec<(Url, bool)> {
    let Some(page) = page else {
        return Vec::new();
    };
    // Keyed by the frontier's 64-bit fingerprint: no copy of each URL, and
    // the frontier already treats equal fingerprints as one URL.
    let mut seen: HashMap<u64, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(page.links.len(), foldhash::fast::RandomState::default());
    let mut links: Vec<(Url, bool)> = Vec::with_capacity(page.links.len());
    for link in &page.links {
        let Ok(url) = canonicalize(&link.url) else {
            continue;
        };
        match seen.entry(fingerprint(&url)) {
            Entry::Occupied(entry) => links[*entry.get()].1 &= link.nofollow,
            Entry::Vacant(entry) => {
                entry.insert(links.len());
                links.push((url, link.nofollow));
            }
        }
    }
    links
}

pub(crate) fn build_record(
    entry: &QueueEntry,
    fetched: Fetched,
    page: Option<Page>,
    links: Vec<(Url, bool)>,
    attempts: u32,
) -> CrawlRecord {
    let nofollow_links = links
        .iter()
        .filter(|(_, rel_nofollow)| *rel_nofollow)
        .map(|(url, _)| url.to_string())
        .collect();
    let nofollow =
        page.as_ref().is_some_and(|page| page.meta_robots.nofollow) || header_nofollow(&fetched);
    let noindex =
        page.as_ref().is_some_and(|page| page.meta_robots.noindex) || header_noindex(&fetched);
    let (title, charset, canonical) = match page {
        Some(page) => (
            page.title,
            Some(page.charset),
            page.canonical
                .and_then(|url| canonicalize(&url).ok())
                .map(String::from),
        ),
        None => (None, None, None),
    };
    CrawlRecord {
        url: entry.url.to_string(),
        final_url: fetched.final_url.to_string(),
        depth: entry.depth,
        parent: entry.parent.clone(),
        status: fetched.status,
        content_type: fetched.content_type,
        bytes: fetched.body.len() as u64,
        elapsed_ms: u64::try_from(fetched.elapsed.as_millis()).unwrap_or(u64::MAX),
        fetched_at: now_rfc3339(),
        title,
        links: links
            .into_iter()
            .map(|(url, _)| String::from(url))
            .collect(),
        nofollow_links,
        redirects: fetched.redirects.into_iter().map(String::from).collect(),
        error: fetched.error.map(|error| RecordError {
            kind: error.kind.as_str(),
            message: error.message,
        }),
        charset,
        canonical,
        noindex,
        nofollow,
        location: fetched
            .stopped_redirect
            .map(|(target, _)| target.to_string()),
        attempts,
    }
}

pub(crate) fn failure_record(
    entry: &QueueEntry,
    kind: &'static str,
    message: String,
) -> CrawlRecord {
    CrawlRecord {
        url: entry.url.to_string(),
        final_url: entry.url.to_string(),
        depth: entry.depth,
        parent: entry.parent.clone(),
        status: None,
        content_type: None,
        bytes: 0,
        elapsed_ms: 0,
        fetched_at: now_rfc3339(),
        title: None,
        links: Vec::new(),
        nofollow_links: Vec::new(),
        redirects: Vec::new(),
        error: Some(RecordError { kind, message }),
        charset: None,
        canonical: None,
        noindex: false,
        nofollow: false,
        location: None,
        attempts: 0,
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_bodies_are_not_html() {
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n\0\0\0"));
        assert!(!looks_binary(b"<!doctype html>\n<title>x</title>\t\r\n"));
        assert!(!looks_binary(b"\xFF\xFE<\0h\0t\0m\0l\0>\0"));
    }

    #[test]
    fn html_media_types() {
        assert_eq!(is_html_type(Some("text/html")), Some(true));
        assert_eq!(is_html_type(Some("application/xhtml+xml")), Some(true));
        assert_eq!(is_html_type(Some("application/octet-stream")), Some(false));
        assert_eq!(is_html_type(None), None);
    }
}
