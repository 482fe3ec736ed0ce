//! A guard against markup that makes the HTML tree builder slow.
//!
//! html5ever keeps a stack of open elements, and many tokens make it walk
//! that stack: a `<div>` or `<li>` looks for an open `<p>` or `<li>`, an end
//! tag searches for its start tag. Real pages nest a few dozen levels deep, so
//! this costs little; a hostile page of tens of thousands of unclosed
//! elements makes it quadratic (20,000 nested `<div>`s take half a second, a
//! 10 MB page of them hours). Before parsing, one linear pass tokenises the
//! document roughly as html5ever does (comments, quoted attributes, script
//! and other raw-text contents are skipped), models the stack of open
//! elements and adds up the stack walks. Where the total passes
//! [`work_budget`] (a fixed allowance plus some per byte) the document is
//! cut; the links before that point are still found.
//!
//! The model is an estimate, deliberately simpler than the tree builder:
//! elements whose end tag is optional (`<p>`, `<li>`, `<td>`, …) and `<a>`
//! (a new `<a>` closes the previous one) are not stacked, so sloppy but
//! ordinary markup never reaches the budget.

/// Stack steps html5ever may take on any page before the rest of it is
/// dropped: about a tenth of a second of tree building.
pub const WORK_BUDGET: u64 = 50_000_000;

/// Further steps allowed per byte of page, so a big ordinary page is never
/// cut: with tags of 12 bytes on average, 16 covers nesting 150 deep, and
/// real pages are a few dozen deep. A hostile page then costs no more than
/// an ordinary one of its size.
pub const WORK_PER_BYTE: u64 = 16;

/// The work budget for a page of `len` bytes.
pub fn work_budget(len: usize) -> u64 {
    WORK_BUDGET.saturating_add(WORK_PER_BYTE.saturating_mul(len as u64))
}

/// How the model treats an element, by tag name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Never stacked: void elements, elements whose end tag is optional,
    /// the implied `html`/`head`/`body`, and `a` (a new `<a>` closes the
    /// previous one).
    NotStacked,
    /// Contents are text up to the end tag (with scripting on, as scraper
    /// parses, `noscript` too).
    RawText,
    /// Everything after it is text.
    Plaintext,
    /// "Special" in the tree builder: an end tag for an ordinary element
    /// does not close anything past it.
    Special,
    /// Special, and where a special element's end tag stops looking for
    /// its start tag.
    ScopeBoundary,
    /// `<svg>` or `<math>`: inside, `/>` closes an element.
    ForeignRoot,
    Ordinary,
}

fn classify(name: &[u8]) -> Kind {
    let mut lower = [0u8; 10];
    let Some(lower) = lower.get_mut(..name.len()) else {
        return Kind::Ordinary;
    };
    for (to, from) in lower.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    match &*lower {
        b"area" | b"base" | b"basefont" | b"bgsound" | b"br" | b"col" | b"embed" | b"frame"
        | b"hr" | b"image" | b"img" | b"input" | b"keygen" | b"link" | b"meta" | b"param"
        | b"source" | b"track" | b"wbr" | b"p" | b"li" | b"dt" | b"dd" | b"option"
        | b"optgroup" | b"tr" | b"td" | b"th" | b"tbody" | b"thead" | b"tfoot" | b"colgroup"
        | b"caption" | b"rb" | b"rt" | b"rp" | b"rtc" | b"html" | b"head" | b"body" | b"a" => {
            Kind::NotStacked
        }
        b"script" | b"style" | b"xmp" | b"iframe" | b"noembed" | b"noframes" | b"noscript"
        | b"textarea" | b"title" => Kind::RawText,
        b"plaintext" => Kind::Plaintext,
        b"applet" | b"marquee" | b"object" | b"table" | b"template" => Kind::ScopeBoundary,
        b"address" | b"article" | b"aside" | b"blockquote" | b"button" | b"center" | b"details"
        | b"dir" | b"div" | b"dl" | b"fieldset" | b"figcaption" | b"figure" | b"footer"
        | b"form" | b"frameset" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"header"
        | b"hgroup" | b"listing" | b"main" | b"menu" | b"nav" | b"ol" | b"pre" | b"search"
        | b"section" | b"select" | b"summary" | b"ul" => Kind::Special,
        b"svg" | b"math" => Kind::ForeignRoot,
        _ => Kind::Ordinary,
    }
}

/// The byte length of the prefix of `html` to parse: all of it, unless the
/// estimated tree-building work passes `budget`.
pub fn parse_limit(html: &str, budget: u64) -> usize {
    let bytes = html.as_bytes();
    let mut stack = Stack::default();
    // Open foreign roots: inside them `/>` closes an element.
    let mut foreign = 0usize;
    let mut work = 0u64;
    let mut at = 0;
    while let Some(offset) = memchr::memchr(b'<', &bytes[at..]) {
        let lt = at + offset;
        // Input that ends inside a tag or comment opens no more elements.
        let Some((markup, next)) = markup(bytes, lt) else {
            break;
        };
        at = next;
        match markup {
            Markup::Other => {}
            Markup::Start { name, self_closing } => {
                work += stack.len() as u64 + 1;
                if work > budget {
                    return lt;
                }
                match classify(name) {
                    Kind::NotStacked => {}
                    Kind::Plaintext if foreign == 0 => break,
                    Kind::RawText if foreign == 0 => match end_of_raw_text(bytes, at, name) {
                        Some(end) => at = end,
                        None => break,
                    },
                    Kind::ForeignRoot if self_closing => {}
                    _ if self_closing && foreign > 0 => {}
                    kind => {
                        foreign += usize::from(kind == Kind::ForeignRoot);
                        stack.open.push((name, kind));
                    }
                }
            }
            Markup::End { name } => {
                let (steps, closed_foreign) = stack.end(name);
                work += steps;
                foreign -= closed_foreign;
                if work > budget {
                    return lt;
                }
            }
        }
    }
    bytes.len()
}

/// The model's stack of open elements.
#[derive(Debug, Default)]
pub(crate) struct Stack<'a> {
    open: Vec<(&'a [u8], Kind)>,
}

impl<'a> Stack<'a> {
    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }

    /// Pushes the element of an HTML start tag if the model stacks it
    /// (for a tokenizer outside foreign content that has already skipped
    /// raw text, as the scan is): what [`parse_limit`] does there, after
    /// adding `len() + 1` to the work.
    pub(crate) fn start_html(&mut self, name: &'a [u8]) {
        let kind = classify(name);
        if matches!(kind, Kind::Special | Kind::ScopeBoundary | Kind::Ordinary) {
            self.open.push((name, kind));
        }
    }

    /// An end tag: the stack steps its search takes, and how many foreign
    /// roots it closed. It closes the nearest open element of its name,
    /// unless a boundary comes first.
    pub(crate) fn end(&mut self, name: &[u8]) -> (u64, usize) {
        let stops_at: fn(Kind) -> bool = match classify(name) {
            Kind::NotStacked => return (0, 0),
            Kind::Special | Kind::ScopeBoundary => |kind| kind == Kind::ScopeBoundary,
            _ => |kind| matches!(kind, Kind::Special | Kind::ScopeBoundary),
        };
        let mut steps = 0;
        let mut found = None;
        for (index, &(open, kind)) in self.open.iter().enumerate().rev() {
            steps += 1;
            if open.eq_ignore_ascii_case(name) {
                found = Some(index);
                break;
            }
            if stops_at(kind) {
                break;
            }
        }
        let mut closed_foreign = 0;
        if let Some(index) = found {
            closed_foreign = self.open[index..]
                .iter()
                .filter(|(_, kind)| *kind == Kind::ForeignRoot)
                .count();
            self.open.truncate(index);
        }
        (steps, closed_foreign)
    }
}

/// What starts at a `<`.
enum Markup<'a> {
    /// Text, a comment, a doctype or a processing instruction.
    Other,
    Start {
        name: &'a [u8],
        self_closing: bool,
    },
    End {
        name: &'a [u8],
    },
}

/// Tokenises the markup at `lt` (a `<`): what it is and where scanning
/// resumes. `None` when the input ends inside it.
fn markup(bytes: &[u8], lt: usize) -> Option<(Markup<'_>, usize)> {
    let rest = &bytes[lt + 1..];
    match rest.first() {
        Some(b'!') if rest.starts_with(b"!--") => {
            let body = lt + 4;
            // `<!-->` and `<!--->` are complete, empty comments.
            for empty in [&b">"[..], b"->"] {
                if bytes[body..].starts_with(empty) {
                    return Some((Markup::Other, body + empty.len()));
                }
            }
            let close = find(&bytes[body..], b"-->")?;
            Some((Markup::Other, body + close + 3))
        }
        Some(b'!' | b'?') => {
            let close = memchr::memchr(b'>', rest)?;
            Some((Markup::Other, lt + 1 + close + 1))
        }
        Some(b'/') => match rest.get(1) {
            Some(b) if b.is_ascii_alphabetic() => {
                let (name, after_name) = tag_name(bytes, lt + 2);
                let (_, end) = skip_attributes(bytes, after_name)?;
                Some((Markup::End { name }, end))
            }
            Some(b'>') => Some((Markup::Other, lt + 3)),
            // `</` then anything else opens a bogus comment up to `>`.
            Some(_) => {
                let close = memchr::memchr(b'>', rest)?;
                Some((Markup::Other, lt + 1 + close + 1))
            }
            None => None,
        },
        Some(b) if b.is_ascii_alphabetic() => {
            let (name, after_name) = tag_name(bytes, lt + 1);
            let (self_closing, end) = skip_attributes(bytes, after_name)?;
            Some((Markup::Start { name, self_closing }, end))
        }
        _ => Some((Markup::Other, lt + 1)),
    }
}

fn tag_name(bytes: &[u8], start: usize) -> (&[u8], usize) {
    let len = bytes[start..]
        .iter()
        .position(|&b| is_space(b) || b == b'/' || b == b'>')
        .unwrap_or(bytes.len() - start);
    (&bytes[start..start + len], start + len)
}

/// Skips a tag's attributes from `pos` to just past its `>`, honouring
/// quoted values (a `>` or `<` inside quotes is not markup). Returns whether
/// the tag ended with `/>`; `None` when the input ends inside the tag.
fn skip_attributes(bytes: &[u8], mut pos: usize) -> Option<(bool, usize)> {
    loop {
        match *bytes.get(pos)? {
            b'>' => return Some((false, pos + 1)),
            b'/' if bytes.get(pos + 1) == Some(&b'>') => return Some((true, pos + 2)),
            b if is_space(b) || b == b'/' => pos += 1,
            _ => {
                // The name's first byte may be '='.
                pos += 1;
                while bytes
                    .get(pos)
                    .is_some_and(|&b| !is_space(b) && !matches!(b, b'/' | b'>' | b'='))
                {
                    pos += 1;
                }
                while bytes.get(pos).copied().is_some_and(is_space) {
                    pos += 1;
                }
                if bytes.get(pos) != Some(&b'=') {
                    continue;
                }
                pos += 1;
                while bytes.get(pos).copied().is_some_and(is_space) {
                    pos += 1;
                }
                match *bytes.get(pos)? {
                    quote @ (b'"' | b'\'') => {
                        pos += 1;
                        pos += memchr::memchr(quote, &bytes[pos..])? + 1;
                    }
                    _ => {
                        while bytes.get(pos).is_some_and(|&b| !is_space(b) && b != b'>') {
                            pos += 1;
                        }
                    }
                }
            }
        }
    }
}

/// Where scanning resumes after the raw-text contents of `name` and its end
/// tag, or `None` when the element is never closed (the rest is its text).
fn end_of_raw_text(bytes: &[u8], mut pos: usize, name: &[u8]) -> Option<usize> {
    loop {
        pos += find(&bytes[pos..], b"</")?;
        let after_name = pos + 2 + name.len();
        let candidate = bytes.get(pos + 2..after_name);
        if candidate.is_some_and(|candidate| candidate.eq_ignore_ascii_case(name))
            && bytes
                .get(after_name)
                .is_some_and(|&b| is_space(b) || b == b'/' || b == b'>')
        {
            return skip_attributes(bytes, after_name).map(|(_, end)| end);
        }
        pos += 2;
    }
}

/// HTML's whitespace bytes: TAB, LF, FF, CR, SPACE.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(html: &str, budget: u64) -> bool {
        parse_limit(html, budget) == html.len()
    }

    #[test]
    fn ordinary_pages_are_parsed_whole() {
        let html =
            "<html><body><div><p>one<p>two<ul><li>a<li>b</ul><br><img src=x><a href=/x>x</a></div>";
        assert!(whole(html, 100));
        assert!(whole(&"<p>text ".repeat(10_000), 100_000));
        assert!(whole(
            &"<div><a href=/x>x</a></div>".repeat(10_000),
            100_000
        ));
        // Unclosed links and list items do not nest.
        assert!(whole(&"<a href=/x>x <li>y".repeat(10_000), 100_000));
    }

    #[test]
    fn ordinary_pages_of_any_size_stay_within_their_per_byte_allowance() {
        let mut html = "<html><body>".to_owned();
        html.push_str(&"<div class=wrap>".repeat(60));
        for i in 0..5_000 {
            html.push_str(&format!(
                "<div><span><a href=/x{i}>t</a></span><p>text<b>b</b><ul><li>x<li>y</ul></div>"
            ));
        }
        assert!(whole(&html, WORK_PER_BYTE * html.len() as u64));
    }

    #[test]
    fn deep_nesting_is_cut_where_the_work_passes_the_budget() {
        let html = format!("<a href=/first>f</a>{}", "<div>".repeat(1_000));
        let cut = parse_limit(&html, 10_000);
        assert_eq!(&html[cut..cut + 5], "<div>");
        // 1 + 2 + … + n > 10,000 first at n = 141.
        assert_eq!(html[..cut].matches("<div>").count(), 140);
        // `/>` does not close an HTML element, only a foreign one.
        assert!(!whole(&"<div/>".repeat(1_000), 10_000));
        assert!(whole(
            &format!("<svg>{}</svg>", "<path d='M0 0'/>".repeat(1_000)),
            10_000
        ));
    }

    #[test]
    fn raw_text_comments_and_attribute_values_are_not_markup() {
        let script: String = (0..5_000)
            .map(|i| format!("if(a{i}<b.length)x++;"))
            .collect();
        for html in [
            format!("<script type=module>{script}</SCRIPT ><div></div>"),
            format!("<style>{}</style>", "<div>".repeat(5_000)),
            format!("<textarea>{}</textarea>", "<div>".repeat(5_000)),
            format!("<!--{}-->", "<div>".repeat(5_000)),
            format!("<p title='{}'>", "<div>".repeat(5_000)),
        ] {
            assert!(whole(&html, 10_000), "{}", &html[..40]);
        }
        // A raw-text element that never closes makes the rest text.
        assert!(whole(&format!("<script>{}", "<div>".repeat(5_000)), 10_000));
        assert!(whole(
            &format!("<plaintext>{}", "<div>".repeat(5_000)),
            10_000
        ));
    }

    #[test]
    fn end_tag_searches_count_as_work() {
        // Unmatched end tags walk a deep stack of ordinary elements.
        let html = format!("{}{}", "<span>".repeat(1_000), "</x>".repeat(1_000));
        assert!(!whole(&html, 100_000));
        // An end tag does not close past a special element.
        let html = "<span><div></span>".repeat(1_000);
        assert!(!whole(&html, 100_000));
        // Matched end tags cost little.
        let html = "<span><b>x</b></span>".repeat(10_000);
        assert!(whole(&html, 100_000));
    }

    #[test]
    fn truncated_markup_ends_the_scan() {
        for html in [
            "<div",
            "<div title='x",
            "<!-- x",
            "</div",
            "<!doctype",
            "<",
            "</",
        ] {
            assert!(whole(html, 10), "{html}");
        }
    }
}
