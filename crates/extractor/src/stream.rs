//! The fast path: the page facts from one streaming pass of `lol_html`,
//! without building a tree.
//!
//! A tokenizer alone cannot always tell what a tree builder would make of
//! its tokens, so this pass only answers when the answer is certain and
//! says [`Unsure`] otherwise; the caller then parses the page with the
//! reference (html5ever) path. It is unsure when:
//!
//! - `lol_html` meets a text-switching tag (`<title>`, `<script>`, …) where
//!   a tree builder might ignore it (inside `<select>`, after `<frameset>`):
//!   its strict mode stops there;
//! - the page has a `<frameset>`;
//! - a fact-bearing tag (`<a>`, `<area>`, `<title>`, `<base>`, `<link>`,
//!   `<meta>`) sits inside `<select>` (which ignores most tags), inside a
//!   `<table>`, or inside `<template>`. A tag in table structure outside a
//!   cell is moved before the table, out of document order, and telling
//!   whether a cell is still open takes the implied end tags of a full tree
//!   builder, so any table counts: links in tables cost a full parse.
//!   Template contents are not part of the document, but an `<a>` left
//!   open there is re-opened after it by a tree builder (as a copy);
//! - an `<svg>` or `<math>` block is not closed by its own end tag, or its
//!   source has a tag that can end foreign content early (`<p>`, `<div>`,
//!   …) or lead back into HTML (`<foreignObject>`, `<desc>`, …): only a
//!   tree builder knows whether a `<title>` there is the page's or an SVG
//!   tooltip, and how the text after it is tokenized. In a plain SVG icon,
//!   `<title>` is a tooltip and `<a>` a link;
//! - one of the elements tracked here (`<template>`, `<select>`, `<table>`,
//!   `<svg>`, `<math>`) is closed by another element's end tag;
//! - the page nests so deep that `lol_html` would need more than
//!   [`MEMORY_LIMIT`] (hostile markup);
//! - a raw-text element's start tag ends in an empty attribute value
//!   (`<textarea x=>`), or the page has a self-closing `<svg/>` or
//!   `<math/>`: `lol_html` 3.0 mis-tokenizes what follows those.
//!
//! The pass stops at the first such place. `tests/differential.rs` checks
//! that whenever it does answer, the answer is the reference's.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::LazyLock;

use lol_html::html_content::Element;
use lol_html::{
    ElementContentHandlers, HandlerResult, HtmlRewriter, MemorySettings, Selector, Settings,
};

use crate::entity::{Context, decode};
use crate::links::{Facts, HTML_NAMESPACE, has_token, read_meta_robots};

mod source;

use source::{leaves_foreign_content, prescan};

/// Most memory `lol_html` may use for one page, above all its stack of open
/// elements (tens of bytes each). Real pages nest a few hundred deep; a
/// hostile one of 2 million unclosed `<div>`s would take about 200 MB.
/// Past the limit the pass gives up and the reference path, which bounds
/// its own work on such markup, takes the page.
const MEMORY_LIMIT: usize = 4 * 1024 * 1024;

/// The streaming pass could not be sure it matches a tree builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsure;

/// Tags that give page facts, and tags that change how later tags are
/// placed. Parsed once: `lol_html` compiles them into its matcher per page.
static SELECTORS: LazyLock<Selectors> = LazyLock::new(|| Selectors {
    links: parse("a[href], area[href]"),
    title: parse("title"),
    base: parse("base[href]"),
    link: parse("link[rel][href]"),
    meta: parse("meta[name][content]"),
    template: parse("template"),
    select: parse("select"),
    table: parse("table"),
    foreign: parse("svg, math"),
});

struct Selectors {
    links: Selector,
    title: Selector,
    base: Selector,
    link: Selector,
    meta: Selector,
    template: Selector,
    select: Selector,
    table: Selector,
    foreign: Selector,
}

fn parse(selector: &str) -> Selector {
    // The selectors are constants of this file; a test parses them all.
    selector
        .parse()
        .unwrap_or_else(|error| panic!("bad built-in selector {selector:?}: {error}"))
}

/// What the pass has seen so far. Counters live in `Rc<Cell>` because
/// end-tag handlers must be `'static`.
#[derive(Default)]
struct PassState {
    /// Open `<template>` elements.
    templates: Rc<Cell<u32>>,
    /// Open `<select>` elements.
    selects: Rc<Cell<u32>>,
    /// Open `<table>` elements.
    tables: Rc<Cell<u32>>,
    /// Open `<svg>` and `<math>` elements.
    foreign: Rc<Cell<u32>>,
    /// Source ranges of the closed outermost `<svg>` and `<math>` blocks,
    /// checked after the pass (see [`leaves_foreign_content`]).
    foreign_blocks: Rc<RefCell<Vec<std::ops::Range<usize>>>>,
    /// A fact-bearing tag was read provisionally inside the open foreign
    /// block.
    facts_in_foreign: Rc<Cell<bool>>,
    /// One of the counted elements was closed by another element's end tag:
    /// the counts may no longer match a tree builder's.
    lost: Rc<Cell<bool>>,
}

impl PassState {
    /// Where a fact-bearing tag stands: in the document or provisionally in
    /// foreign content; an error, which stops the pass at once, where a
    /// tree builder might place it elsewhere.
    fn place(&self) -> Result<Place, Stop> {
        let unsure = self.templates.get() > 0
            || self.selects.get() > 0
            || self.tables.get() > 0
            || self.lost.get();
        if unsure {
            Err(Stop)
        } else if self.foreign.get() > 0 {
            self.facts_in_foreign.set(true);
            Ok(Place::Foreign)
        } else {
            Ok(Place::Html)
        }
    }
}

/// Returned from a handler to end the pass early: it is unsure, and the
/// rest of the page would not change that.
#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the streaming pass is unsure")
    }
}

impl std::error::Error for Stop {}

/// Where a fact-bearing tag stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the HTML document.
    Html,
    /// Inside `<svg>` or `<math>`, provisionally: an SVG `<a>` is a link,
    /// a `<title>`, `<base>` or `<link>` there is not the page's. Checked
    /// when the foreign block ends (see [`leaves_foreign_content`]).
    Foreign,
}

/// Page facts from one streaming pass over UTF-8 `html`, or [`Unsure`].
pub(crate) fn facts(html: &str) -> Result<Facts<'static>, Unsure> {
    let seen = prescan(html).ok_or(Unsure)?;
    let selectors = &*SELECTORS;
    let state = PassState::default();
    let facts = RefCell::new(Facts::default());
    // Where the first HTML `<title>`'s text starts; its text is read from
    // the source afterwards (see `title_text`).
    let title_text_start: Cell<Option<usize>> = Cell::new(None);

    // Only the selectors for tags the page has: each costs compile time.
    let mut handlers: Vec<(&Selector, ElementContentHandlers<'_>)> = Vec::new();
    if seen.links {
        handlers.push((
            &selectors.links,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                state.place()?;
                if let Some(href) = element.get_attribute("href") {
                    let nofollow = element
                        .get_attribute("rel")
                        .is_some_and(|rel| has_token(&rel, "nofollow"));
                    facts
                        .borrow_mut()
                        .hrefs
                        .push((attribute(href).into(), nofollow));
                }
                Ok(())
            }),
        ));
    }
    if seen.title {
        handlers.push((
            &selectors.title,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                if state.place()? == Place::Html && title_text_start.get().is_none() {
                    title_text_start.set(Some(element.source_location().bytes().end));
                }
                Ok(())
            }),
        ));
    }
    if seen.base {
        handlers.push((
            &selectors.base,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                if state.place()? == Place::Html {
                    let mut facts = facts.borrow_mut();
                    if facts.base_href.is_none() {
                        facts.base_href =
                            element.get_attribute("href").map(|v| attribute(v).into());
                    }
                }
                Ok(())
            }),
        ));
    }
    if seen.link {
        handlers.push((
            &selectors.link,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                if state.place()? == Place::Html
                    && facts.borrow().canonical_href.is_none()
                    && element
                        .get_attribute("rel")
                        .is_some_and(|rel| has_token(&attribute(rel), "canonical"))
                {
                    facts.borrow_mut().canonical_href =
                        element.get_attribute("href").map(|v| attribute(v).into());
                }
                Ok(())
            }),
        ));
    }
    if seen.meta {
        handlers.push((
            &selectors.meta,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                if state.place()? == Place::Html
                    && let Some(name) = element.get_attribute("name")
                    && let Some(content) = element.get_attribute("content")
                {
                    read_meta_robots(
                        &attribute(name),
                        &attribute(content),
                        &mut facts.borrow_mut().meta_robots,
                    );
                }
                Ok(())
            }),
        ));
    }
    if seen.template {
        handlers.push((
            &selectors.template,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                count_while_open(element, &state.templates, &state.lost)
            }),
        ));
    }
    if seen.select {
        handlers.push((
            &selectors.select,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                if element.namespace_uri() != HTML_NAMESPACE {
                    return Ok(());
                }
                count_while_open(element, &state.selects, &state.lost)
            }),
        ));
    }
    if seen.foreign {
        handlers.push((
            &selectors.foreign,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                // `lol_html` 3.0 stays in foreign content after `<svg/>`,
                // which a tree builder closes at once, and so would read a
                // later `<title>` or `<script>` as markup.
                if element.is_self_closing() {
                    return Err(Stop.into());
                }
                if state.foreign.get() > 0 {
                    return count_while_open(element, &state.foreign, &state.lost);
                }
                let start = element.source_location().bytes().start;
                state.facts_in_foreign.set(false);
                state.foreign.set(1);
                let name = element.tag_name();
                let Some(handlers) = element.end_tag_handlers() else {
                    state.foreign.set(0);
                    return Ok(());
                };
                let (foreign, lost) = (Rc::clone(&state.foreign), Rc::clone(&state.lost));
                let facts_in_foreign = Rc::clone(&state.facts_in_foreign);
                let blocks = Rc::clone(&state.foreign_blocks);
                handlers.push(Box::new(move |end| {
                    let closed_by_other = end.name() != name;
                    if closed_by_other {
                        lost.set(true);
                        if facts_in_foreign.get() {
                            return Err(Stop.into());
                        }
                    }
                    blocks
                        .borrow_mut()
                        .push(start..end.source_location().bytes().end);
                    foreign.set(0);
                    Ok(())
                }));
                Ok(())
            }),
        ));
    }
    if seen.table {
        handlers.push((
            &selectors.table,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                if element.namespace_uri() != HTML_NAMESPACE {
                    return Ok(());
                }
                count_while_open(element, &state.tables, &state.lost)
            }),
        ));
    }

    let mut settings = Settings::new()
        .with_strict(true)
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(MEMORY_LIMIT));
    for (selector, handlers) in handlers {
        settings = settings
            .append_element_content_handler((std::borrow::Cow::Borrowed(selector), handlers));
    }
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    let written = rewriter
        .write(html.as_bytes())
        .and_then(|()| rewriter.end());
    // Where a tree builder leaves foreign content early, it may also switch
    // the tokenizer differently from `lol_html` (`<style>` after an
    // integration point), so such a block makes the pass unsure even
    // without facts inside; so does one still open at the end.
    let foreign_unsure = state.foreign.get() > 0
        || state
            .foreign_blocks
            .borrow()
            .iter()
            .any(|block| leaves_foreign_content(html.get(block.clone()).unwrap_or("")));
    // Every unsure place stops the pass with an error. After an element
    // closed by another's end tag, `lol_html` may also tokenize the rest
    // differently (`<svg></a><script><!--`), even without facts there.
    if written.is_err() || foreign_unsure || state.lost.get() {
        return Err(Unsure);
    }
    let mut facts = facts.into_inner();
    if let Some(start) = title_text_start.get() {
        let raw = title_text(html, start);
        let collapsed =
            crate::links::collapse_whitespace(std::iter::once(&*decode(raw, Context::Text)));
        facts.title = (!collapsed.is_empty()).then_some(collapsed);
    }
    Ok(facts)
}

/// The text of a `<title>` whose start tag ends at `start`: RCDATA, which
/// runs to the first `</title` followed by whitespace, `/` or `>` (or to
/// the end of the page). Read from the source rather than from text
/// chunks, which do not carry end-tag-like text such as `</b>` in a title.
fn title_text(html: &str, start: usize) -> &str {
    let rest = html.get(start..).unwrap_or("");
    let bytes = rest.as_bytes();
    let mut from = 0;
    while let Some(offset) = rest[from..].find("</") {
        let at = from + offset;
        let name_end = at + 2 + "title".len();
        if bytes
            .get(at + 2..name_end)
            .is_some_and(|name| name.eq_ignore_ascii_case(b"title"))
            && bytes
                .get(name_end)
                .is_some_and(|&b| matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>'))
        {
            return &rest[..at];
        }
        from = at + 2;
    }
    rest
}

fn attribute(raw: String) -> String {
    match decode(&raw, Context::Attribute) {
        std::borrow::Cow::Borrowed(_) => raw,
        std::borrow::Cow::Owned(decoded) => decoded,
    }
}

/// Adds one to `counter` until the element's own end tag. `lol_html` also
/// closes it at an ancestor's end tag (`<template><b></div>`), where a tree
/// builder may well keep it open; from then on the pass has `lost` track
/// and the counter stays up.
fn count_while_open(
    element: &mut Element<'_, '_>,
    counter: &Rc<Cell<u32>>,
    lost: &Rc<Cell<bool>>,
) -> HandlerResult {
    counter.set(counter.get() + 1);
    let name = element.tag_name();
    let Some(handlers) = element.end_tag_handlers() else {
        // Cannot have content, so nothing is inside it.
        counter.set(counter.get() - 1);
        return Ok(());
    };
    let (counter, lost) = (Rc::clone(counter), Rc::clone(lost));
    handlers.push(Box::new(move |end| {
        if end.name() == name {
            counter.set(counter.get() - 1);
        } else {
            lost.set(true);
        }
        Ok(())
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_selectors_parse() {
        LazyLock::force(&SELECTORS);
    }

    #[test]
    fn hostile_nesting_hits_the_memory_limit_instead_of_growing() {
        let html = format!("{}<a href=/x>x</a>", "<div>".repeat(200_000));
        assert_eq!(facts(&html).err(), Some(Unsure));
        let fine = format!("{}<a href=/x>x</a>", "<div>".repeat(1_000));
        assert_eq!(facts(&fine).map(|facts| facts.hrefs.len()), Ok(1));
    }
}
