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
//!   `<meta>`) sits inside `<select>` (which ignores most tags) or inside
//!   `<template>`: template contents are not part of the document, but an
//!   `<a>` left open there is re-opened after it by a tree builder (as a
//!   copy);
//! - a fact-bearing tag sits in table structure, outside a cell (`<td>`,
//!   `<th>`) or `<caption>` of the innermost open table: a tree builder
//!   moves it before the table, out of document order. In cells and
//!   captions the pass answers. Which of the two a tag is in comes from a
//!   model of the tree builder's table insertion modes, implied end tags
//!   included (see [`table`]), fed every table tag in source order; the
//!   pass is unsure wherever that model might be wrong: while a table is
//!   open, a table tag `lol_html` did not report (`</tbody>` of an implied
//!   `<tbody>`, which `lol_html` ignores, or one in a comment, raw text or
//!   an attribute value: the source between the reported tags is
//!   checked), a table tag inside `<svg>`, `<math>`, `<template>` or
//!   `<select>`, a table element closed by another element's end tag,
//!   tables nested more than 128 deep, `<col>` in a template, and
//!   `<object>`, `<applet>` or `<marquee>` while a table is open (they
//!   keep a cell's `<a>` in the list of active formatting elements past
//!   the cell's end, and a tree builder may re-open a copy of it in table
//!   structure);
//! - an `<svg>` or `<math>` block is not closed by its own end tag, or its
//!   source has a tag that can end foreign content early (`<p>`, `<div>`,
//!   …) or lead back into HTML (`<foreignObject>`, `<desc>`, …): only a
//!   tree builder knows whether a `<title>` there is the page's or an SVG
//!   tooltip, and how the text after it is tokenized. In a plain SVG icon,
//!   `<title>` is a tooltip and `<a>` a link;
//! - one of the elements tracked here (`<template>`, `<select>`, `<svg>`,
//!   `<math>`) is closed by another element's end tag;
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
mod table;

use source::{has_table_tag, leaves_foreign_content, prescan, tag_name, title_text};
use table::{Placement, TableTag, Tables, TooDeep};

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
    tables: parse("table, caption, colgroup, col, tbody, thead, tfoot, tr, td, th"),
    foreign: parse("svg, math"),
    markers: parse("object, applet, marquee"),
});

struct Selectors {
    links: Selector,
    title: Selector,
    base: Selector,
    link: Selector,
    meta: Selector,
    template: Selector,
    select: Selector,
    tables: Selector,
    foreign: Selector,
    markers: Selector,
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
    /// Open `<svg>` and `<math>` elements.
    foreign: Rc<Cell<u32>>,
    /// Source ranges of the closed outermost `<svg>` and `<math>` blocks,
    /// checked after the pass (see [`leaves_foreign_content`]).
    foreign_blocks: Rc<RefCell<Vec<std::ops::Range<usize>>>>,
    /// A fact-bearing tag was read provisionally inside the open foreign
    /// block.
    facts_in_foreign: Rc<Cell<bool>>,
    /// One of the counted elements, or a table element inside an open
    /// table, was closed by another element's end tag: the counts may no
    /// longer match a tree builder's.
    lost: Rc<Cell<bool>>,
    /// The insertion modes of the open tables, fed every table tag in
    /// source order (see [`table`]).
    tables: RefCell<Tables>,
    /// End tags that closed table elements, queued by their end-tag
    /// handlers (which cannot borrow the page) for the next handler of a
    /// start tag to feed to `tables`, in order.
    table_ends: Rc<RefCell<Vec<TableEnd>>>,
    /// Where the last tag given to `tables`, or the last fact-bearing tag,
    /// ends: while a table is open, the source from there to the next such
    /// tag is checked for table tags `tables` was not given.
    checked: Cell<usize>,
}

/// An end tag that closed a table element.
struct TableEnd {
    /// Its source range.
    at: std::ops::Range<usize>,
    /// Whether it was met in HTML content, outside `<template>`,
    /// `<select>` and foreign content.
    html: bool,
}

impl PassState {
    /// Where the fact-bearing tag at `at` in `html` stands: in the document
    /// or provisionally in foreign content; an error, which stops the pass
    /// at once, where a tree builder might place it elsewhere (in table
    /// structure it is moved before the table).
    fn place(&self, html: &str, at: &std::ops::Range<usize>) -> Result<Place, Stop> {
        self.sync_tables(html, at)?;
        let unsure = self.templates.get() > 0
            || self.selects.get() > 0
            || self.lost.get()
            || self.tables.borrow().placement() == Placement::Structure;
        if unsure {
            Err(Stop)
        } else if self.foreign.get() > 0 {
            self.facts_in_foreign.set(true);
            Ok(Place::Foreign)
        } else {
            Ok(Place::Html)
        }
    }

    /// Whether a tag met now is in HTML content outside `<template>` and
    /// `<select>`, as far as the counts tell.
    fn in_html(&self) -> bool {
        self.foreign.get() == 0 && self.templates.get() == 0 && self.selects.get() == 0
    }

    /// Brings `tables` up to the tag at `at`: feeds it the queued end tags
    /// and checks the source between the tags for table tags it was not
    /// given (an end tag `lol_html` ignored). Errs where it cannot be sure.
    fn sync_tables(&self, html: &str, at: &std::ops::Range<usize>) -> Result<(), Stop> {
        let mut ends = self.table_ends.borrow_mut();
        for end in ends.drain(..) {
            // Several elements may close at one end tag.
            if end.at.start < self.checked.get() {
                continue;
            }
            self.check_gap(html, end.at.start)?;
            self.checked.set(end.at.end);
            let open = self.tables.borrow().is_open();
            let Some(tag) = TableTag::from_name(tag_name(html.as_bytes(), end.at.start + 2)) else {
                // Closed by another element's end tag (`</div>`), which a
                // tree builder ignores: `lol_html` has it closed, a tree
                // builder open.
                if open {
                    self.lost.set(true);
                }
                continue;
            };
            if !end.html {
                // A tree builder might treat it otherwise (inside
                // `<select>` it closes the select first).
                if open {
                    return Err(Stop);
                }
                continue;
            }
            self.tables.borrow_mut().end(tag);
        }
        drop(ends);
        self.check_gap(html, at.start)?;
        self.checked.set(self.checked.get().max(at.end));
        Ok(())
    }

    /// Errs if a table is open and the source from `checked` to `until`
    /// has a table tag (see [`has_table_tag`]).
    fn check_gap(&self, html: &str, until: usize) -> Result<(), Stop> {
        let from = self.checked.get();
        if from < until
            && self.tables.borrow().is_open()
            && html.get(from..until).is_none_or(has_table_tag)
        {
            return Err(Stop);
        }
        Ok(())
    }

    /// A table tag's start tag, `element`.
    fn table_start(&self, html: &str, element: &mut Element<'_, '_>) -> Result<(), Stop> {
        let at = element.source_location().bytes();
        self.sync_tables(html, &at)?;
        let tag = html
            .as_bytes()
            .get(at.start)
            .filter(|&&b| b == b'<')
            .and_then(|_| TableTag::from_name(tag_name(html.as_bytes(), at.start + 1)));
        let Some(tag) = tag else {
            return Err(Stop);
        };
        if tag == TableTag::Col && self.templates.get() > 0 {
            // In a template, `<col>` switches a tree builder to "in column
            // group" with no `<colgroup>` open, where it ignores every
            // other start tag until `</template>`: `<textarea>` or
            // `<script>` too, which `lol_html` would read as raw text.
            return Err(Stop);
        }
        if self.selects.get() > 0 {
            // Inside `<select>` html5ever opens a table too (the HTML
            // standard's newer select parsing), where `</select>` no longer
            // reaches the select; in a table a table tag ends the select.
            return Err(Stop);
        }
        if !self.in_html() || element.namespace_uri() != HTML_NAMESPACE {
            // An SVG element or template contents: where a table is open,
            // this model is not sure; outside tables neither opens a table
            // in the document (a table that breaks out of foreign content
            // makes the pass unsure, see `leaves_foreign_content`).
            return if self.tables.borrow().is_open() {
                Err(Stop)
            } else {
                Ok(())
            };
        }
        self.tables
            .borrow_mut()
            .start(tag)
            .map_err(|TooDeep| Stop)?;
        let Some(handlers) = element.end_tag_handlers() else {
            return Ok(());
        };
        let ends = Rc::clone(&self.table_ends);
        let (foreign, templates, selects) = (
            Rc::clone(&self.foreign),
            Rc::clone(&self.templates),
            Rc::clone(&self.selects),
        );
        handlers.push(Box::new(move |end| {
            ends.borrow_mut().push(TableEnd {
                at: end.source_location().bytes(),
                html: foreign.get() == 0 && templates.get() == 0 && selects.get() == 0,
            });
            Ok(())
        }));
        Ok(())
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
                state.place(html, &element.source_location().bytes())?;
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
                if state.place(html, &element.source_location().bytes())? == Place::Html
                    && title_text_start.get().is_none()
                {
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
                if state.place(html, &element.source_location().bytes())? == Place::Html {
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
                if state.place(html, &element.source_location().bytes())? == Place::Html
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
                if state.place(html, &element.source_location().bytes())? == Place::Html
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
    // Table tags matter only once a `<table>` is open, and `<col>` in a
    // template (see `table_start`).
    if seen.table || (seen.template && seen.col) {
        handlers.push((
            &selectors.tables,
            ElementContentHandlers::default()
                .element(|element: &mut Element<'_, '_>| Ok(state.table_start(html, element)?)),
        ));
    }

    if seen.table && seen.markers {
        handlers.push((
            &selectors.markers,
            ElementContentHandlers::default().element(|element: &mut Element<'_, '_>| {
                // These put a marker in the list of active formatting
                // elements; one left open when its cell closes keeps the
                // cell's `<a>` in that list, and a tree builder may then
                // re-open a copy of it in table structure, before the
                // table.
                state.sync_tables(html, &element.source_location().bytes())?;
                if state.tables.borrow().is_open() {
                    return Err(Stop.into());
                }
                Ok(())
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
mod tests;
