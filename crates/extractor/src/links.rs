//! The single pass over a parsed document that collects every page fact.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use encoding_rs::{EncoderResult, Encoding, UTF_8};
use scraper::{ElementRef, Html};
use url::{EncodingOverride, ParseOptions, Url};

use crate::charset::decode_with_tld;

/// What a page says about itself and where it links.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Text of the first `<title>`, ASCII whitespace runs collapsed to one
    /// space and trimmed; `None` when there is no title or it is blank.
    pub title: Option<String>,
    /// `a[href]` and `area[href]` targets in document order, resolved,
    /// http(s) only, without fragment, deduplicated by URL (first wins).
    pub links: Vec<Link>,
    /// Name of the encoding the bytes were decoded with, as `encoding_rs`
    /// spells it (`"UTF-8"`, `"windows-1252"`, `"Shift_JIS"`, …).
    pub charset: &'static str,
    /// The first `<link rel="canonical" href>`, resolved, without fragment,
    /// when it is an http(s) URL.
    pub canonical: Option<Url>,
    /// `<meta name="robots">` directives.
    pub meta_robots: MetaRobots,
    /// The effective base URL from the first `<base href>`, resolved against
    /// the page URL, when present and valid (as in browsers, a `data:` or
    /// `javascript:` base is ignored). Links are resolved against it; it may
    /// have a scheme other than http(s), whose relative links are dropped.
    pub base: Option<Url>,
}

/// One outlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Absolute http(s) URL without fragment.
    pub url: Url,
    /// `rel` contains `nofollow` on every occurrence of this URL (one
    /// followable occurrence makes the link followable).
    pub nofollow: bool,
}

/// Directives of `<meta name="robots" content="...">` (all such tags
/// combined). Tokens are comma or space separated, case-insensitive; `none`
/// means both.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MetaRobots {
    /// `noindex` or `none`: the page asks not to be indexed.
    pub noindex: bool,
    /// `nofollow` or `none`: the page asks that its links not be followed.
    pub nofollow: bool,
}

/// The raw page facts, before URL resolution: borrowed from the parsed
/// document on the reference path and mostly from the page text on the
/// scan, owned on the streaming pass.
#[derive(Debug, Default)]
pub(crate) struct Facts<'d> {
    pub(crate) title: Option<String>,
    /// `href` values in document order, with whether `rel` has `nofollow`.
    pub(crate) hrefs: Vec<(Cow<'d, str>, bool)>,
    pub(crate) base_href: Option<Cow<'d, str>>,
    pub(crate) canonical_href: Option<Cow<'d, str>>,
    pub(crate) meta_robots: MetaRobots,
}

pub(crate) const HTML_NAMESPACE: &str = "http://www.w3.org/1999/xhtml";

/// Which parser produced a [`Page`]'s facts (for tests and benchmarks), or
/// which to start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// The hand-written scan of the source (ordinary pages). As a starting
    /// point, the same as [`Parser::Streaming`].
    Scan,
    /// The streaming pass (`lol_html`), for pages the scan is unsure of.
    /// As a starting point, the default chain: the scan, then this pass,
    /// then the reference.
    Streaming,
    /// The full tree builder (`scraper`/html5ever): the reference, and the
    /// fallback for markup whose tree neither pass can be sure of.
    Reference,
}

/// Decodes `html` (see [`decode_html`](crate::decode_html) for the charset
/// rules) and collects the page facts. `page_url` is the URL
/// the page was fetched from (after redirects); relative links resolve
/// against it or the page's `<base href>`. Never fails and never panics:
/// garbage in gives an empty [`Page`].
///
/// Facts come from the first of three passes that can be sure a tree
/// builder would agree: a hand-written scan of the source (ordinary pages),
/// a streaming pass over `lol_html`'s tokens (a few more), and otherwise a
/// full parse (see [`extract_reference`]; a pass stops where it becomes
/// unsure, so such a page is read again, in part). All give the same
/// [`Page`], which a differential test checks on generated, malformed and
/// real-world markup.
pub fn extract(html: &[u8], page_url: &Url, header_charset: Option<&str>) -> Page {
    extract_with(html, page_url, header_charset, Parser::Streaming).0
}

/// [`extract`] with html5ever's full tree builder (through `scraper`)
/// always: the reference the streaming path is tested against.
pub fn extract_reference(html: &[u8], page_url: &Url, header_charset: Option<&str>) -> Page {
    extract_with(html, page_url, header_charset, Parser::Reference).0
}

/// [`extract`] starting with `preferred`, also telling which parser the
/// facts came from (the scan falls back to the streaming pass, which falls
/// back to the reference).
pub fn extract_with(
    html: &[u8],
    page_url: &Url,
    header_charset: Option<&str>,
    preferred: Parser,
) -> (Page, Parser) {
    let tld = page_url
        .domain()
        .and_then(|domain| domain.rsplit('.').next());
    let (text, encoding) = decode_with_tld(html, header_charset, tld);
    if preferred != Parser::Reference {
        if let Ok(facts) = crate::scan::facts(&text) {
            return (page_from_facts(facts, page_url, encoding), Parser::Scan);
        }
        if let Ok(facts) = crate::stream::facts(&text) {
            return (
                page_from_facts(facts, page_url, encoding),
                Parser::Streaming,
            );
        }
    }
    let document = parse_within_budget(&text, None);
    let facts = Facts::collect(&document);
    (
        page_from_facts(facts, page_url, encoding),
        Parser::Reference,
    )
}

/// [`extract_reference`] with a tree-building work budget other than the
/// page's own, so tests can show the cut without paying for the real one
/// in a debug build.
#[cfg(test)]
fn extract_within(
    html: &[u8],
    page_url: &Url,
    header_charset: Option<&str>,
    work_budget: Option<u64>,
) -> Page {
    let tld = page_url
        .domain()
        .and_then(|domain| domain.rsplit('.').next());
    let (text, encoding) = decode_with_tld(html, header_charset, tld);
    let document = parse_within_budget(&text, work_budget);
    page_from_facts(Facts::collect(&document), page_url, encoding)
}

/// html5ever's parse of `text`, cut where its tree building would pass
/// the work budget (hostile nesting, see `nesting`).
pub(crate) fn parse_within_budget(text: &str, work_budget: Option<u64>) -> Html {
    let work_budget = work_budget.unwrap_or_else(|| crate::nesting::work_budget(text.len()));
    // A page with T tags cannot make the tree builder take more than about
    // T² stack steps, so when that is within budget the scan is skipped:
    // counting `<` is far cheaper than modelling the tags, and almost every
    // real page passes here.
    let tags = count_byte(text.as_bytes(), b'<');
    let parsed = if tags.saturating_mul(tags) <= work_budget {
        text
    } else {
        &text[..crate::nesting::parse_limit(text, work_budget)]
    };
    Html::parse_document(parsed)
}

/// Resolves the raw facts against the page URL (or its base) into a
/// [`Page`].
fn page_from_facts(facts: Facts<'_>, page_url: &Url, encoding: &'static Encoding) -> Page {
    // Browsers percent-encode a link's query in the page's encoding (a
    // Shift_JIS page's `?q=日` requests `?q=%93%FA`), so the crawler
    // must too to fetch the same resource.
    let output_encoding = encoding.output_encoding();
    let encode_query = query_encoder(output_encoding);
    let encoding_override: EncodingOverride<'_> =
        (output_encoding != UTF_8).then_some(&encode_query);
    let options = Url::options().encoding_override(encoding_override);

    // WHATWG: an unparsable base, or a data: or javascript: one, falls back
    // to the page URL.
    let base = facts
        .base_href
        .as_deref()
        .and_then(|href| {
            options
                .base_url(Some(page_url))
                .parse(&clean_href(href))
                .ok()
        })
        .filter(|url| !matches!(url.scheme(), "data" | "javascript"));
    let options = options.base_url(Some(base.as_ref().unwrap_or(page_url)));

    let links = dedup(
        facts
            .hrefs
            .iter()
            .filter_map(|(href, nofollow)| {
                resolve(options, href).map(|url| Link {
                    url,
                    nofollow: *nofollow,
                })
            })
            .collect(),
    );
    let canonical = facts
        .canonical_href
        .as_deref()
        .and_then(|href| resolve(options, href));

    Page {
        title: facts.title,
        links,
        charset: encoding.name(),
        canonical,
        meta_robots: facts.meta_robots,
        base,
    }
}

impl<'d> Facts<'d> {
    fn collect(document: &'d Html) -> Self {
        let mut facts = Facts::default();
        let mut title_seen = false;
        // Pre-order walk over the tree, not entering `<template>` contents
        // (inert, not part of the document, like `querySelectorAll`).
        let mut next = document.tree.root().first_child();
        while let Some(node) = next {
            let mut descend = true;
            if let Some(element) = ElementRef::wrap(node) {
                if element.value().name() == "template" {
                    descend = false;
                } else {
                    facts.visit(element, &mut title_seen);
                }
            }
            next = if let Some(child) = node.first_child().filter(|_| descend) {
                Some(child)
            } else {
                let mut up = Some(node);
                loop {
                    match up {
                        None => break None,
                        Some(ancestor) => match ancestor.next_sibling() {
                            Some(sibling) => break Some(sibling),
                            None => up = ancestor.parent(),
                        },
                    }
                }
            };
        }
        facts
    }

    fn visit(&mut self, element_ref: ElementRef<'d>, title_seen: &mut bool) {
        let element = element_ref.value();
        let html = &*element.name.ns == HTML_NAMESPACE;
        match element.name() {
            // An SVG `<a>` is a link too.
            "a" | "area" => {
                if let Some(href) = element.attr("href") {
                    let nofollow = element
                        .attr("rel")
                        .is_some_and(|rel| has_token(rel, "nofollow"));
                    self.hrefs.push((Cow::Borrowed(href), nofollow));
                }
            }
            // The document's title is the first HTML `<title>` (an SVG
            // `<title>` is a tooltip), even when it is blank.
            "title" if !*title_seen && html => {
                *title_seen = true;
                let collapsed = collapse_whitespace(element_ref.text());
                if !collapsed.is_empty() {
                    self.title = Some(collapsed);
                }
            }
            "base" if html && self.base_href.is_none() => {
                self.base_href = element.attr("href").map(Cow::Borrowed);
            }
            "link"
                if html
                    && self.canonical_href.is_none()
                    && element
                        .attr("rel")
                        .is_some_and(|rel| has_token(rel, "canonical")) =>
            {
                self.canonical_href = element.attr("href").map(Cow::Borrowed);
            }
            "meta" if html => {
                if let Some(name) = element.attr("name")
                    && let Some(content) = element.attr("content")
                {
                    read_meta_robots(name, content, &mut self.meta_robots);
                }
            }
            _ => {}
        }
    }
}

/// Adds the directives of `<meta name content>` to `robots` when `name`
/// is `robots`. Tokens are comma or space separated, case-insensitive.
pub(crate) fn read_meta_robots(name: &str, content: &str, robots: &mut MetaRobots) {
    if !name
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .eq_ignore_ascii_case("robots")
    {
        return;
    }
    robots.add_directives(content);
}

impl MetaRobots {
    /// Adds the directives of a robots meta tag's `content` or of an
    /// `X-Robots-Tag` header value: `noindex`, `nofollow`, `none` (both),
    /// comma or space separated, case-insensitive; others are ignored.
    pub fn add_directives(&mut self, directives: &str) {
        for token in directives.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
            if token.eq_ignore_ascii_case("none") {
                self.noindex = true;
                self.nofollow = true;
            } else if token.eq_ignore_ascii_case("noindex") {
                self.noindex = true;
            } else if token.eq_ignore_ascii_case("nofollow") {
                self.nofollow = true;
            }
        }
    }
}

/// How many times `needle` occurs in `haystack`. Counted in blocks of 255
/// bytes with a byte-wide tally, which the compiler turns into wide
/// compare-and-subtract vector code (about 10x faster than a plain
/// `filter().count()`, which widens every byte to 64 bits).
pub(crate) fn count_byte(haystack: &[u8], needle: u8) -> u64 {
    haystack
        .chunks(255)
        .map(|block| {
            u64::from(
                block
                    .iter()
                    .fold(0u8, |tally, &byte| tally + u8::from(byte == needle)),
            )
        })
        .sum()
}

/// Removes repeated URLs, keeping the first occurrence's position; the kept
/// link is nofollow only if every occurrence was.
fn dedup(mut links: Vec<Link>) -> Vec<Link> {
    let mut keep = vec![true; links.len()];
    let mut followable = Vec::new();
    {
        let mut first: HashMap<&str, usize, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(links.len(), foldhash::fast::RandomState::default());
        for (index, link) in links.iter().enumerate() {
            match first.entry(link.url.as_str()) {
                Entry::Occupied(entry) => {
                    keep[index] = false;
                    if !link.nofollow {
                        followable.push(*entry.get());
                    }
                }
                Entry::Vacant(entry) => {
                    entry.insert(index);
                }
            }
        }
    }
    for index in followable {
        if let Some(link) = links.get_mut(index) {
            link.nofollow = false;
        }
    }
    let mut keep = keep.into_iter();
    links.retain(|_| keep.next().unwrap_or(true));
    links
}

/// Browsers strip leading/trailing ASCII whitespace and remove tabs and
/// newlines anywhere in a URL before parsing it.
fn clean_href(href: &str) -> Cow<'_, str> {
    let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
    if href.contains(['\t', '\n', '\r']) {
        Cow::Owned(
            href.chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect(),
        )
    } else {
        Cow::Borrowed(href)
    }
}

fn query_encoder(encoding: &'static Encoding) -> impl Fn(&str) -> Cow<'_, [u8]> {
    move |query| encode_query(encoding, query)
}

/// The URL standard's "percent-encode after encoding" input: `query` in
/// `encoding`, with a character the encoding lacks written as
/// `%26%23NNNN%3B` (an escaped `&#NNNN;`), as browsers send it.
fn encode_query<'q>(encoding: &'static Encoding, query: &'q str) -> Cow<'q, [u8]> {
    // Every encoding a page can declare (UTF-16 is never an output
    // encoding) writes ASCII as itself.
    if query.is_ascii() {
        return Cow::Borrowed(query.as_bytes());
    }
    let mut encoder = encoding.new_encoder();
    let mut out = Vec::with_capacity(query.len() * 2);
    let mut rest = query;
    loop {
        let room = encoder
            .max_buffer_length_from_utf8_without_replacement(rest.len())
            .unwrap_or(rest.len() * 4 + 16);
        out.reserve(room);
        let (result, read) =
            encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        rest = &rest[read..];
        match result {
            EncoderResult::InputEmpty => return Cow::Owned(out),
            EncoderResult::OutputFull => {}
            EncoderResult::Unmappable(c) => {
                out.extend_from_slice(format!("%26%23{}%3B", u32::from(c)).as_bytes());
            }
        }
    }
}

/// Resolves an href to an absolute http(s) URL without fragment; `None` for
/// empty and fragment-only hrefs (the page itself) and other schemes.
fn resolve(options: ParseOptions<'_>, href: &str) -> Option<Url> {
    let href = clean_href(href);
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let mut url = options.parse(&href).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

/// Whether a space-separated token list (`rel`) holds `token`, ignoring case.
pub(crate) fn has_token(list: &str, token: &str) -> bool {
    list.split_ascii_whitespace()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// Joins text pieces, collapsing ASCII whitespace runs (also across pieces)
/// to one space and trimming, as `document.title` does.
pub(crate) fn collapse_whitespace<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    let mut pending_space = false;
    for part in parts {
        for (index, word) in part.split(|c: char| c.is_ascii_whitespace()).enumerate() {
            if index > 0 {
                pending_space = true;
            }
            if word.is_empty() {
                continue;
            }
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests;
