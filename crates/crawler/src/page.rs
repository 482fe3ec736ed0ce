//! A fetched page becomes its record: which links it gives the frontier,
//! whether they are followed, and the record itself.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use trawl_extractor::{FieldValue, Link, MetaRobots, Page};
use trawl_fetcher::Fetched;
use trawl_frontier::{CanonicalUrl, Entry};

use crate::crawler::Pipeline;
use crate::record::{CrawlRecord, RecordError};
use crate::sink::{Finished, Response};

/// A queue entry for `url`.
pub(crate) fn entry(url: CanonicalUrl, depth: u32, parent: Option<Arc<str>>) -> Entry {
    Entry { url, depth, parent }
}

/// The page's robots directives: its meta tags and its `X-Robots-Tag`
/// header together. The one place that decides whether links are followed.
fn robots_directives(fetched: &Fetched, page: Option<&Page>) -> MetaRobots {
    let mut robots = page.map(|page| page.meta_robots).unwrap_or_default();
    if let Some(header) = &fetched.headers.x_robots_tag {
        robots.add_directives(header);
    }
    robots
}

/// The rest of a page after its fetch (and parse): the record, and the
/// links to queue unless the page says nofollow. Synchronous: runs on a
/// parser thread for HTML and on the fetch task otherwise.
pub(crate) fn finish_page(
    pipeline: &Pipeline,
    entry: &Entry,
    mut fetched: Fetched,
    mut page: Option<Page>,
    attempts: u32,
) -> (Finished, Vec<Entry>) {
    let fields = match (&pipeline.settings.fields, &page) {
        (Some(spec), Some(page)) => Some(field_values(spec.extract(&fetched.body, page.charset))),
        _ => None,
    };
    let robots = robots_directives(&fetched, page.as_ref());
    let links = canonical_links(page.as_mut().map(|page| std::mem::take(&mut page.links)));
    let mut queue = Vec::new();
    if page.is_some() && !robots.nofollow {
        let parent: Arc<str> = entry.url.as_str().into();
        let depth = entry.depth.saturating_add(1);
        queue = links
            .iter()
            .filter(|(_, rel_nofollow)| !(*rel_nofollow && pipeline.settings.skip_nofollow_links))
            .map(|(url, _)| self::entry(url.clone(), depth, Some(Arc::clone(&parent))))
            .collect();
    }
    let response = if pipeline.keep_responses {
        Response::take_from(&mut fetched)
    } else {
        None
    };
    let saved = pipeline
        .settings
        .save_bodies
        .as_deref()
        .filter(|_| !fetched.body.is_empty())
        .map(|dir| crate::sink::bodies::address(dir, &fetched.body));
    let mut record = build_record(entry, fetched, page, robots, links, attempts);
    record.fields = fields;
    if let Some((sha256, path)) = saved {
        record.body_sha256 = Some(sha256);
        record.body_path = Some(path.display().to_string());
    }
    (
        Finished {
            record,
            response,
            lease: None,
        },
        queue,
    )
}

/// Field values as the record's JSON holds them.
fn field_values(values: Vec<(String, FieldValue)>) -> BTreeMap<String, serde_json::Value> {
    values
        .into_iter()
        .map(|(name, value)| {
            let json = match value {
                FieldValue::One(Some(text)) => serde_json::Value::String(text),
                FieldValue::One(None) => serde_json::Value::Null,
                FieldValue::Many(texts) => serde_json::Value::Array(
                    texts.into_iter().map(serde_json::Value::String).collect(),
                ),
            };
            (name, json)
        })
        .collect()
}

/// The page's links in canonical form, deduplicated, each with whether
/// every occurrence carried `rel="nofollow"`. Each link's URL becomes its
/// canonical form in place, so a page of thousands of links holds one
/// copy of them, not two.
fn canonical_links(page_links: Option<Vec<Link>>) -> Vec<(CanonicalUrl, bool)> {
    let Some(page_links) = page_links else {
        return Vec::new();
    };
    // Keyed by the frontier's 64-bit fingerprint: no copy of each URL, and
    // the frontier already treats equal fingerprints as one URL.
    let mut seen: HashMap<u64, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(page_links.len(), foldhash::fast::RandomState::default());
    let mut links: Vec<(CanonicalUrl, bool)> = Vec::with_capacity(page_links.len());
    for link in page_links {
        let Ok(url) = CanonicalUrl::from_url(link.url) else {
            continue;
        };
        match seen.entry(url.fingerprint()) {
            MapEntry::Occupied(entry) => links[*entry.get()].1 &= link.nofollow,
            MapEntry::Vacant(entry) => {
                entry.insert(links.len());
                links.push((url, link.nofollow));
            }
        }
    }
    links
}

fn build_record(
    entry: &Entry,
    fetched: Fetched,
    page: Option<Page>,
    robots: MetaRobots,
    links: Vec<(CanonicalUrl, bool)>,
    attempts: u32,
) -> CrawlRecord {
    let nofollow_links = links
        .iter()
        .filter(|(_, rel_nofollow)| *rel_nofollow)
        .map(|(url, _)| url.to_string())
        .collect();
    let (title, charset, canonical) = match page {
        Some(page) => (
            page.title,
            Some(page.charset),
            page.canonical
                .and_then(|url| CanonicalUrl::new(&url).ok())
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
        noindex: robots.noindex,
        nofollow: robots.nofollow,
        location: fetched
            .stopped_redirect
            .map(|(target, _)| target.to_string()),
        attempts,
        fields: None,
        body_sha256: None,
        body_path: None,
    }
}

pub(crate) fn failure_record(entry: &Entry, kind: &'static str, message: String) -> CrawlRecord {
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
        fields: None,
        body_sha256: None,
        body_path: None,
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_meta_directives_combine() {
        let mut fetched = Fetched::empty(&url::Url::parse("http://a.example/").unwrap());
        fetched.headers.x_robots_tag = Some("googlebot: noindex, NOFOLLOW".into());
        let robots = robots_directives(&fetched, None);
        assert!(robots.nofollow && robots.noindex);
        fetched.headers.x_robots_tag = Some("none".into());
        assert!(robots_directives(&fetched, None).nofollow);
        fetched.headers.x_robots_tag = None;
        assert_eq!(robots_directives(&fetched, None), MetaRobots::default());
    }
}
