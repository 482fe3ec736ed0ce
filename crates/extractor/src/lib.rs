//! trawl-extractor: HTML bytes + page URL → title, links and page facts.
//!
//! One pure, synchronous function, [`extract`], reads a page once and
//! returns a [`Page`]: the title, the `a[href]` and
//! `area[href]` links resolved against the page URL or its `<base href>`,
//! `<link rel="canonical">`, the `<meta name="robots">` directives and the
//! character encoding used to decode the bytes (BOM, HTTP header, `<meta>`,
//! detection, UTF-8, in WHATWG order). [`sniff_is_html`] tells whether an
//! untyped body is HTML.
//!
//! It does **not** fetch anything, do I/O or run async code (the crawler
//! calls it on its own parser threads), decide which links are in scope or obey
//! `nofollow` / `noindex` (it only reports them), or canonicalise URLs beyond
//! what `url` parsing does (lower-cased scheme and host, resolved dot
//! segments, percent-encoding): the frontier owns the canonical form. Links
//! keep only http(s) URLs, without fragments. As in a browser, a link's query
//! is percent-encoded in the page's encoding (its path always in UTF-8).
//!
//! Three parsers give the same facts, tried in turn, each giving up where
//! it cannot be sure a tree builder would agree. First a hand-written scan
//! of the source (one memchr-driven pass following the WHATWG tokenizer,
//! no tree), which answers ordinary pages and gives up on tables,
//! `<select>`, `<template>`, SVG/MathML, framesets, `<plaintext>`/`<xmp>`,
//! CDATA, NUL bytes, `<!--` in scripts and markup cut short; then a
//! streaming pass over the tokens of `lol_html`, which also copes with SVG
//! icons, links in table cells and captions, `<select>` and templates
//! without facts inside, and more; and where neither can be sure (links in
//! table structure outside cells and captions, which a tree builder moves
//! before the table, or in tables it cannot follow; links in `<select>` or
//! `<template>`, some SVG, framesets, tokenizer-confusing tags), [`extract`]
//! parses the page again with the reference, html5ever's full tree builder
//! through `scraper` ([`extract_reference`]). A differential test holds the
//! passes to the same [`Page`] on generated markup soup, realistic pages and
//! thousands of real documentation pages.
//!
//! It never fails and never panics: undecodable bytes become U+FFFD and
//! malformed markup is repaired the way browsers repair it (html5ever).
//! Like a browser with scripting on, it treats `<noscript>` content as text
//! and ignores `<template>` contents, so links there are not reported.
//!
//! Cost grows linearly with page size. The scan and the streaming pass
//! are linear;
//! html5ever alone is not: tens of
//! thousands of unclosed elements make its tree building quadratic (hours
//! for a hostile 10 MB page). So a linear pre-scan estimates that work and
//! cuts the document where it passes a budget of about a tenth of a second;
//! links before the cut are still reported. Ordinary pages, even large and
//! sloppy ones, stay far below the budget.
//!
//! # Layout
//!
//! - `links`: [`extract`] and the [`Page`] it returns, the reference
//!   walk over the parsed tree, then URL resolution and deduplication.
//! - `scan`: the hand-written scan, the tokenizer rules it follows and
//!   when it is unsure.
//! - `stream`: the streaming pass (`lol_html`) and when it is unsure;
//!   `stream::table` models the tree builder's table insertion modes for it.
//! - `entity`: character references, which the scan and the streaming
//!   pass decode themselves.
//! - `charset`: [`decode_html`], the WHATWG encoding sniffing order.
//! - `sniff`: [`is_html_body`], the one body classifier, and
//!   [`sniff_is_html`] for bodies without a usable Content-Type.
//! - `fields`: [`FieldSpec`], user-defined CSS-selected fields (a tree
//!   parse, only for crawls that ask for fields).
//! - `nesting`: the pre-scan that bounds html5ever's work on hostile markup.
//!
//! ```
//! use trawl_extractor::extract;
//! use url::Url;
//!
//! let page_url = Url::parse("http://example.com/docs/").unwrap();
//! let html = br#"<title> My  page </title><a href="intro.html#top">x</a><a href="mailto:a@b">m</a>"#;
//! let page = extract(html, &page_url, None);
//! assert_eq!(page.title.as_deref(), Some("My page"));
//! assert_eq!(page.links[0].url.as_str(), "http://example.com/docs/intro.html");
//! assert_eq!(page.links.len(), 1);
//! ```

mod charset;
mod entity;
mod fields;
mod links;
mod nesting;
mod scan;
mod sniff;
mod stream;

pub use charset::decode_html;
pub use fields::{FieldError, FieldSpec, FieldValue};
pub use links::{Link, MetaRobots, Page, Parser, extract, extract_reference, extract_with};
pub use sniff::{is_html_body, sniff_is_html};
