//! The JSON Lines wire format: one [`CrawlRecord`] per URL taken from the
//! frontier. `schema/record.schema.json` is its JSON Schema; both change
//! together, and fields are only ever added.
//!
//! ```json
//! {"url":"http://127.0.0.1:8080/p/7","final_url":"http://127.0.0.1:8080/p/7","depth":2,
//!  "parent":"http://127.0.0.1:8080/p/3","status":200,"content_type":"text/html","bytes":2048,
//!  "elapsed_ms":3,"fetched_at":"2026-11-25T07:00:00.123Z","title":"Page 7",
//!  "links":["http://127.0.0.1:8080/p/8"],"nofollow_links":[],"redirects":[],"error":null,"charset":"UTF-8",
//!  "canonical":null,"noindex":false,"nofollow":false,"location":null,"attempts":1}
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

/// One line of output.
#[derive(Debug, Clone, Serialize)]
pub struct CrawlRecord {
    /// Canonical URL that was requested.
    pub url: String,
    /// URL after redirects (equals `url` when there were none).
    pub final_url: String,
    /// Link distance from a seed (seed = 0).
    pub depth: u32,
    /// Page on which `url` was first found; null for seeds.
    pub parent: Option<Arc<str>>,
    /// HTTP status of the final response; null when there was none.
    pub status: Option<u16>,
    /// Media type without parameters.
    pub content_type: Option<String>,
    /// Body bytes read, after decompression.
    pub bytes: u64,
    /// Time from request start to body end.
    pub elapsed_ms: u64,
    /// When the fetch finished, RFC 3339 UTC.
    pub fetched_at: String,
    /// `<title>`, whitespace collapsed.
    pub title: Option<String>,
    /// Canonical absolute outlinks, in page order, deduplicated.
    pub links: Vec<String>,
    /// The links every occurrence of which carried `rel="nofollow"`
    /// (followed unless `--skip-nofollow-links`).
    pub nofollow_links: Vec<String>,
    /// Intermediate URLs of redirects, in order.
    pub redirects: Vec<String>,
    /// Why the fetch failed; null on success.
    pub error: Option<RecordError>,
    /// Character encoding the HTML was decoded with (null when not HTML).
    pub charset: Option<&'static str>,
    /// `<link rel="canonical">` target, canonicalised.
    pub canonical: Option<String>,
    /// The page asked not to be indexed (meta robots or X-Robots-Tag).
    pub noindex: bool,
    /// The page asked that its links not be followed; trawl did not follow them.
    pub nofollow: bool,
    /// Target of a redirect that trawl did not follow because it leaves the
    /// crawl's scope or was already crawled; `status` is then the 3xx.
    pub location: Option<String>,
    /// Requests made for this URL, retries included; 0 when none was
    /// allowed (robots.txt) or possible.
    pub attempts: u32,
    /// The fields asked for with `--field`, on HTML pages: a string or
    /// null for `NAME=`, an array for `NAME[]=`. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
    /// With `--save-bodies`: the SHA-256 of the body (hex) and the file it
    /// is saved in. Absent otherwise, and for empty bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_path: Option<String>,
}

/// The `error` object of a record.
#[derive(Debug, Clone, Serialize)]
pub struct RecordError {
    /// One of the documented kinds (see the README and the schema).
    pub kind: &'static str,
    /// Human-readable detail naming the URL and the cause.
    pub message: String,
}
