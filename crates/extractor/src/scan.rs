//! The first pass: the page facts from one hand-written scan of the source,
//! for ordinary pages, or [`Unsure`].
//!
//! It follows the WHATWG tokenizer for everything it accepts: `<` opens a
//! tag only before an ASCII letter (`</` + letter for an end tag, `</>` is
//! dropped, `</` + anything else and `<?` and `<!` open a bogus comment up
//! to `>`, a DOCTYPE ends at its first `>`); comments end at `-->` or
//! `--!>` (`<!-->` and `<!--->` are empty comments); tag and attribute
//! names are ASCII-lowercased; values are double-quoted, single-quoted or
//! unquoted, a repeated attribute is dropped (the first wins), `/` between
//! attributes is skipped; end tags are tokenized like start tags; character
//! references in values and in `<title>` text are decoded
//! ([`crate::entity`]). The contents of `<script>`, `<style>`,
//! `<noscript>` (scripting on, as scraper parses), `<iframe>`, `<noembed>`
//! and `<noframes>` are raw text and those of `<title>` and `<textarea>`
//! RCDATA, up to `</name` followed by whitespace, `/` or `>`.
//!
//! Without tables, `<select>`, `<template>`, foreign content and framesets,
//! a tree builder places every element at the current node, and its
//! adoption agency and reconstruction of formatting elements keep the
//! document order of what they move; the clones of an `<a>` they create
//! repeat the original's `href` and `rel` after it, which the
//! deduplication of links removes. So for such a page the facts in token
//! order are the tree's (`links.rs`: the first `<title>`, every
//! `a[href]`/`area[href]`, the first `base[href]`, the first
//! `link[rel~=canonical]` with an `href`, every robots `<meta>`).
//!
//! It gives up ([`Unsure`]; the `lol_html` pass in `stream` then tries) on
//! a NUL byte; a start tag of `<svg>`, `<math>`, `<template>`, `<select>`,
//! `<table>` or any table-structure element, `<frameset>`, `<frame>`,
//! `<plaintext>` or `<xmp>`; `<![CDATA[`; a `<!--` inside `<script>` (the
//! script escape states); a raw-text or RCDATA start tag ending in an
//! attribute's `=>` (which `lol_html` mis-tokenizes, see `stream`); input
//! that ends inside a tag, comment, DOCTYPE or raw text; and a page whose
//! tree building would pass the work budget (see `nesting`), where the
//! reference cuts the document. A page with enough tags to come near that
//! budget is modelled as `nesting::parse_limit` models it, from the scan's
//! own tokens; such a page with a comment ending in `--!>` (which the
//! model's tokenizer reads on to `-->`) is unsure too.

use crate::entity::{Context, decode};
use crate::links::{Facts, collapse_whitespace, count_byte, has_token, read_meta_robots};
use crate::nesting::Stack;
use crate::stream::Unsure;

/// What a start tag means to the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No fact and no change of tokenizer state.
    Other,
    /// `a` or `area`.
    Link,
    Title,
    Base,
    /// `link`.
    HeadLink,
    Meta,
    /// RCDATA other than `<title>`: `<textarea>`.
    Textarea,
    Script,
    /// Raw text with no escape states: `style`, `noscript`, …
    RawText,
    /// The tree builder may place things out of order or ignore them.
    Bail,
}

/// Classifies a tag name as written (any case).
fn classify(name: &[u8]) -> Kind {
    let mut lower = [0u8; 10];
    let Some(lower) = lower.get_mut(..name.len()) else {
        return Kind::Other;
    };
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    match &*lower {
        b"a" | b"area" => Kind::Link,
        b"title" => Kind::Title,
        b"base" => Kind::Base,
        b"link" => Kind::HeadLink,
        b"meta" => Kind::Meta,
        b"textarea" => Kind::Textarea,
        b"script" => Kind::Script,
        b"style" | b"noscript" | b"iframe" | b"noembed" | b"noframes" => Kind::RawText,
        b"svg" | b"math" | b"template" | b"select" | b"table" | b"caption" | b"colgroup"
        | b"col" | b"tbody" | b"thead" | b"tfoot" | b"tr" | b"td" | b"th" | b"frameset"
        | b"frame" | b"plaintext" | b"xmp" => Kind::Bail,
        _ => Kind::Other,
    }
}

/// ASCII whitespace as the tokenizer sees it (CR becomes LF before it).
fn is_space(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// Whether a tag or attribute name ends before `byte`.
fn ends_name(byte: u8) -> bool {
    is_space(byte) || byte == b'/' || byte == b'>'
}

/// The raw (undecoded) values of the attributes the facts need, first
/// occurrence of each.
#[derive(Debug, Default)]
struct Attributes<'h> {
    href: Option<&'h str>,
    rel: Option<&'h str>,
    name: Option<&'h str>,
    content: Option<&'h str>,
}

impl<'h> Attributes<'h> {
    fn note(&mut self, name: &[u8], value: &'h str) {
        let slot = match name.len() {
            3 if name.eq_ignore_ascii_case(b"rel") => &mut self.rel,
            4 if name.eq_ignore_ascii_case(b"href") => &mut self.href,
            4 if name.eq_ignore_ascii_case(b"name") => &mut self.name,
            7 if name.eq_ignore_ascii_case(b"content") => &mut self.content,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
}

/// The end of a tag's attributes: where scanning resumes, and whether the
/// tag ended right after an attribute's `=` (`<x a=>`).
struct TagEnd {
    next: usize,
    empty_value_last: bool,
}

/// Tokenizes the attributes of a start or end tag from `at` (just after
/// its name) to its `>`, noting the wanted ones in `attributes` when given.
/// `Unsure` when the input ends inside the tag.
fn attributes<'h>(
    html: &'h str,
    mut at: usize,
    mut attributes: Option<&mut Attributes<'h>>,
) -> Result<TagEnd, Unsure> {
    let bytes = html.as_bytes();
    loop {
        // Before an attribute name; a `/` here is the self-closing start
        // tag state, which goes back to this state unless `>` follows.
        while bytes.get(at).is_some_and(|&b| is_space(b) || b == b'/') {
            at += 1;
        }
        match bytes.get(at) {
            None => return Err(Unsure),
            Some(b'>') => {
                return Ok(TagEnd {
                    next: at + 1,
                    empty_value_last: false,
                });
            }
            // The first character is part of the name, even `=`.
            Some(_) => {}
        }
        let name_start = at;
        at += 1;
        while bytes.get(at).is_some_and(|&b| !ends_name(b) && b != b'=') {
            at += 1;
        }
        let name = &bytes[name_start..at];
        // After the name.
        while bytes.get(at).is_some_and(|&b| is_space(b)) {
            at += 1;
        }
        if bytes.get(at) != Some(&b'=') {
            if let Some(attributes) = attributes.as_deref_mut() {
                attributes.note(name, "");
            }
            continue;
        }
        at += 1;
        while bytes.get(at).is_some_and(|&b| is_space(b)) {
            at += 1;
        }
        let value = match bytes.get(at) {
            None => return Err(Unsure),
            Some(b'>') => {
                if let Some(attributes) = attributes.as_deref_mut() {
                    attributes.note(name, "");
                }
                return Ok(TagEnd {
                    next: at + 1,
                    empty_value_last: true,
                });
            }
            Some(&quote @ (b'"' | b'\'')) => {
                let start = at + 1;
                let end = start + memchr::memchr(quote, &bytes[start..]).ok_or(Unsure)?;
                at = end + 1;
                start..end
            }
            Some(_) => {
                let start = at;
                while bytes.get(at).is_some_and(|&b| !is_space(b) && b != b'>') {
                    at += 1;
                }
                start..at
            }
        };
        if let Some(attributes) = attributes.as_deref_mut() {
            attributes.note(name, html.get(value).ok_or(Unsure)?);
        }
    }
}

/// Where raw text (or RCDATA) that starts at `from` ends: the start of its
/// end tag `</name` (followed by whitespace, `/` or `>`), and where
/// scanning resumes after that tag. A `<!--` in a script is `Unsure`.
fn raw_text_end(
    html: &str,
    from: usize,
    name: &[u8],
    script: bool,
) -> Result<(usize, usize), Unsure> {
    let bytes = html.as_bytes();
    let mut at = from;
    loop {
        let lt = at + memchr::memchr(b'<', &bytes[at..]).ok_or(Unsure)?;
        let rest = &bytes[lt + 1..];
        if script && rest.starts_with(b"!--") {
            return Err(Unsure);
        }
        let name_end = lt + 2 + name.len();
        if rest.first() == Some(&b'/')
            && bytes
                .get(lt + 2..name_end)
                .is_some_and(|written| written.eq_ignore_ascii_case(name))
            && bytes.get(name_end).is_some_and(|&b| ends_name(b))
        {
            let end = attributes(html, name_end, None)?;
            return Ok((lt, end.next));
        }
        at = lt + 1;
    }
}

/// Where a comment whose `<!--` ends at `body` ends (after its `>`).
fn comment_end(bytes: &[u8], body: usize) -> Result<usize, Unsure> {
    let rest = &bytes[body..];
    // `<!-->` and `<!--->` are complete, empty comments.
    if rest.starts_with(b">") {
        return Ok(body + 1);
    }
    if rest.starts_with(b"->") {
        return Ok(body + 2);
    }
    // The first `--` followed by `>` or `!>`.
    let mut at = 0;
    while let Some(offset) = memchr::memmem::find(&rest[at..], b"--") {
        let dashes = at + offset;
        let mut after = dashes + 2;
        // More dashes stay in the comment end state.
        while rest.get(after) == Some(&b'-') {
            after += 1;
        }
        match rest.get(after) {
            Some(b'>') => return Ok(body + after + 1),
            Some(b'!') if rest.get(after + 1) == Some(&b'>') => return Ok(body + after + 2),
            _ => at = after,
        }
    }
    Err(Unsure)
}

/// Page facts from one scan of UTF-8 `html`, or [`Unsure`].
pub(crate) fn facts(html: &str) -> Result<Facts<'_>, Unsure> {
    let bytes = html.as_bytes();
    if memchr::memchr(0, bytes).is_some() {
        return Err(Unsure);
    }
    // Where html5ever's tree building would pass its work budget, the
    // reference drops the rest of the page (see `links`): a page with so
    // many tags that it might is modelled as `nesting::parse_limit` does.
    let budget = crate::nesting::work_budget(html.len());
    let tags = count_byte(bytes, b'<');
    let mut state = State {
        facts: Facts::default(),
        title_seen: false,
        nesting: (tags.saturating_mul(tags) > budget).then(|| Nesting {
            stack: Stack::default(),
            work: 0,
            budget,
        }),
    };
    let mut at = 0;
    while let Some(offset) = memchr::memchr(b'<', &bytes[at..]) {
        let lt = at + offset;
        at = match bytes.get(lt + 1) {
            Some(b) if b.is_ascii_alphabetic() => start_tag(html, lt + 1, &mut state)?,
            Some(b'/') => match bytes.get(lt + 2) {
                Some(b) if b.is_ascii_alphabetic() => {
                    let name_end = name_end(bytes, lt + 2);
                    if let Some(nesting) = &mut state.nesting {
                        nesting.end(&bytes[lt + 2..name_end])?;
                    }
                    attributes(html, name_end, None)?.next
                }
                Some(b'>') => lt + 3,
                // A bogus comment up to `>`.
                Some(_) => lt + 2 + memchr::memchr(b'>', &bytes[lt + 2..]).ok_or(Unsure)? + 1,
                // Text to a tokenizer, but a page cut short: unsure.
                None => return Err(Unsure),
            },
            Some(b'!') => {
                let rest = &bytes[lt + 2..];
                if rest.starts_with(b"--") {
                    let end = comment_end(bytes, lt + 4)?;
                    // The model's tokenizer ends comments at `-->` only.
                    if state.nesting.is_some() && bytes[end - 2] == b'!' {
                        return Err(Unsure);
                    }
                    end
                } else if rest.starts_with(b"[CDATA[") {
                    return Err(Unsure);
                } else {
                    // A DOCTYPE or a bogus comment: both end at `>`.
                    lt + 2 + memchr::memchr(b'>', rest).ok_or(Unsure)? + 1
                }
            }
            Some(b'?') => lt + 2 + memchr::memchr(b'>', &bytes[lt + 2..]).ok_or(Unsure)? + 1,
            // A `<` that is text.
            _ => lt + 1,
        };
    }
    Ok(state.facts)
}

/// What the scan has gathered so far.
struct State<'h> {
    facts: Facts<'h>,
    title_seen: bool,
    /// The tree-building work model, for pages with many tags.
    nesting: Option<Nesting<'h>>,
}

/// `nesting::parse_limit`'s model of html5ever's stack work, fed by the
/// scan's tokens (the same as the model's own on the pages the scan
/// accepts: no foreign content, and comments that end at `-->`).
struct Nesting<'h> {
    stack: Stack<'h>,
    work: u64,
    budget: u64,
}

impl<'h> Nesting<'h> {
    fn start(&mut self, name: &'h [u8]) -> Result<(), Unsure> {
        self.work += self.stack.len() as u64 + 1;
        self.stack.start_html(name);
        self.within_budget()
    }

    fn end(&mut self, name: &[u8]) -> Result<(), Unsure> {
        self.work += self.stack.end(name).0;
        self.within_budget()
    }

    fn within_budget(&self) -> Result<(), Unsure> {
        if self.work > self.budget {
            Err(Unsure)
        } else {
            Ok(())
        }
    }
}

/// Where the tag name starting at `from` ends.
fn name_end(bytes: &[u8], from: usize) -> usize {
    from + bytes[from..]
        .iter()
        .position(|&b| ends_name(b))
        .unwrap_or(bytes.len() - from)
}

/// Reads the start tag whose name starts at `name_start` (and the raw text
/// after it, for raw-text elements) into `facts`; where scanning resumes.
fn start_tag<'h>(html: &'h str, name_start: usize, state: &mut State<'h>) -> Result<usize, Unsure> {
    let bytes = html.as_bytes();
    let name_end = name_end(bytes, name_start);
    let name = &bytes[name_start..name_end];
    if let Some(nesting) = &mut state.nesting {
        nesting.start(name)?;
    }
    let kind = classify(name);
    let (facts, title_seen) = (&mut state.facts, &mut state.title_seen);
    match kind {
        Kind::Bail => Err(Unsure),
        Kind::Other => Ok(attributes(html, name_end, None)?.next),
        Kind::Link | Kind::Base | Kind::HeadLink | Kind::Meta => {
            let mut found = Attributes::default();
            let end = attributes(html, name_end, Some(&mut found))?;
            let attribute = |raw: &'h str| decode(raw, Context::Attribute);
            match kind {
                Kind::Link => {
                    if let Some(href) = found.href {
                        let nofollow = found
                            .rel
                            .is_some_and(|rel| has_token(&attribute(rel), "nofollow"));
                        facts.hrefs.push((attribute(href), nofollow));
                    }
                }
                Kind::Base => {
                    if facts.base_href.is_none() {
                        facts.base_href = found.href.map(attribute);
                    }
                }
                Kind::HeadLink => {
                    if facts.canonical_href.is_none()
                        && found
                            .rel
                            .is_some_and(|rel| has_token(&attribute(rel), "canonical"))
                    {
                        facts.canonical_href = found.href.map(attribute);
                    }
                }
                _ => {
                    if let (Some(name), Some(content)) = (found.name, found.content) {
                        read_meta_robots(
                            &attribute(name),
                            &attribute(content),
                            &mut facts.meta_robots,
                        );
                    }
                }
            }
            Ok(end.next)
        }
        Kind::Title | Kind::Textarea | Kind::Script | Kind::RawText => {
            let end = attributes(html, name_end, None)?;
            // `lol_html`, the next pass, mis-tokenizes these; so that the
            // passes' answers stay alike, this one does not answer either.
            if end.empty_value_last {
                return Err(Unsure);
            }
            let (text_end, next) = raw_text_end(html, end.next, name, kind == Kind::Script)?;
            if kind == Kind::Title && !*title_seen {
                *title_seen = true;
                let raw = html.get(end.next..text_end).ok_or(Unsure)?;
                let collapsed = collapse_whitespace(std::iter::once(&*decode(raw, Context::Text)));
                facts.title = (!collapsed.is_empty()).then_some(collapsed);
            }
            Ok(next)
        }
    }
}

#[cfg(test)]
mod tests;
