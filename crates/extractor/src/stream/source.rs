//! Scans of a page's raw source that tell the streaming pass what it is
//! about to meet: which watched tags appear at all (so only their
//! selectors are compiled), where the tokenizer would go wrong, whether a
//! foreign-content block could hand control back to HTML, whether the
//! table model missed a table tag, and a title's text.

use super::table::TableTag;

/// Whether the source of an `<svg>` or `<math>` block holds anything that
/// would make a tree builder leave foreign content inside it: an HTML
/// breakout tag (`<p>`, `<div>`, `<b>`, …, `</p>`, `</br>`, `<font>`), an
/// HTML integration point (`<foreignObject>`, `<desc>`, MathML text
/// elements, `<annotation-xml>`), or a tag inside an SVG `<title>`. Reads
/// raw source, so a `<p` in a comment or attribute also counts: that only
/// costs a full parse.
pub(super) fn leaves_foreign_content(block: &str) -> bool {
    const LEAVES: &[&str] = &[
        "b",
        "big",
        "blockquote",
        "body",
        "br",
        "center",
        "code",
        "dd",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "hr",
        "i",
        "img",
        "li",
        "listing",
        "menu",
        "meta",
        "nobr",
        "ol",
        "p",
        "pre",
        "ruby",
        "s",
        "small",
        "span",
        "strong",
        "strike",
        "sub",
        "sup",
        "table",
        "tt",
        "u",
        "ul",
        "var",
        "font",
        "foreignobject",
        "desc",
        "mi",
        "mo",
        "mn",
        "ms",
        "mtext",
        "annotation-xml",
    ];
    let bytes = block.as_bytes();
    let mut in_title = false;
    let mut at = 0;
    while let Some(offset) = block[at..].find('<') {
        let mut name_start = at + offset + 1;
        let end_tag = bytes.get(name_start) == Some(&b'/');
        if end_tag {
            name_start += 1;
        }
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        let name = &block[name_start..name_start + name_len];
        at = name_start + name_len;
        if name.is_empty() || !bytes[name_start].is_ascii_alphabetic() {
            continue;
        }
        if end_tag {
            if name.eq_ignore_ascii_case("p") || name.eq_ignore_ascii_case("br") {
                return true;
            }
            if name.eq_ignore_ascii_case("title") {
                in_title = false;
            }
        } else if in_title || LEAVES.iter().any(|leave| name.eq_ignore_ascii_case(leave)) {
            return true;
        } else if name.eq_ignore_ascii_case("title") {
            in_title = true;
        }
    }
    false
}

/// Whether `gap`, source in which the streaming pass was given no tag,
/// has a start or end tag of a table tag (`<td`, `</TR>`, …; `</col>` and
/// `</colgroup>` do not count, see [`TableTag::end_matters`]): one the
/// table model did not see, such as `</tbody>` of an implied `<tbody>`,
/// which `lol_html` ignores as it has no such element open. Reads raw
/// source, so one in a comment, raw text or an attribute value also
/// counts, as does a name cut by the end of `gap`: that only costs a full
/// parse.
pub(super) fn has_table_tag(gap: &str) -> bool {
    let bytes = gap.as_bytes();
    memchr::memchr_iter(b'<', bytes).any(|open| {
        let end_tag = bytes.get(open + 1) == Some(&b'/');
        let name = tag_name(bytes, open + 1 + usize::from(end_tag));
        TableTag::from_name(name).is_some_and(|tag| !end_tag || tag.end_matters())
    })
}

/// The tag name that starts at `from` in `bytes` (the tokenizer's: up to
/// whitespace, `/` or `>`), or an empty one if that is not a letter.
pub(super) fn tag_name(bytes: &[u8], from: usize) -> &[u8] {
    let rest = bytes.get(from..).unwrap_or(&[]);
    if !rest.first().is_some_and(u8::is_ascii_alphabetic) {
        return &[];
    }
    let len = rest
        .iter()
        .position(|b| matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>'))
        .unwrap_or(rest.len());
    &rest[..len]
}

/// The text of a `<title>` whose start tag ends at `start`: RCDATA, which
/// runs to the first `</title` followed by whitespace, `/` or `>` (or to
/// the end of the page). Read from the source rather than from text
/// chunks, which do not carry end-tag-like text such as `</b>` in a title.
pub(super) fn title_text(html: &str, start: usize) -> &str {
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

/// Raw-text elements: their start tag switches the tokenizer to text.
const TEXT_SWITCHING: &[&str] = &[
    "title",
    "textarea",
    "script",
    "style",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

/// Which of the tags the pass has selectors for appear in a page.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    pub(super) links: bool,
    pub(super) title: bool,
    pub(super) base: bool,
    pub(super) link: bool,
    pub(super) meta: bool,
    pub(super) template: bool,
    pub(super) select: bool,
    pub(super) foreign: bool,
    pub(super) table: bool,
    pub(super) col: bool,
    /// `<object>`, `<applet>` or `<marquee>`.
    pub(super) markers: bool,
}

impl Seen {
    /// Notes a tag name (any case, at most 10 bytes).
    fn note(&mut self, name: &[u8]) {
        let mut lower = [0u8; 10];
        let Some(lower) = lower.get_mut(..name.len()) else {
            return;
        };
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let flag = match &*lower {
            b"a" | b"area" => &mut self.links,
            b"title" => &mut self.title,
            b"base" => &mut self.base,
            b"link" => &mut self.link,
            b"meta" => &mut self.meta,
            b"template" => &mut self.template,
            b"select" => &mut self.select,
            b"svg" | b"math" => &mut self.foreign,
            b"table" => &mut self.table,
            b"col" => &mut self.col,
            b"object" | b"applet" | b"marquee" => &mut self.markers,
            _ => return,
        };
        *flag = true;
    }
}

/// One pass over the tag openings (`<` + letter). It finds which tags the
/// page has, so `lol_html` compiles only the selectors it needs (each
/// costs about 0.2 us per page), and what is cheaper to find in the source
/// than with a selector: a `<frameset>`, or a raw-text element's start tag
/// ending in an attribute without a value (`<textarea x=>`), after which
/// `lol_html` 3.0 misses the switch to raw text and would read the
/// element's text as markup (`None`: the pass would be unsure). It sees
/// every tag the tokenizer sees and more (a `<script>` in a comment, `<a`
/// of `<a-b>`), which only costs a selector or a full parse.
pub(super) fn prescan(html: &str) -> Option<Seen> {
    let bytes = html.as_bytes();
    let mut seen = Seen::default();
    // The memchr crate's search is vectorised; `str::find` walks a word at
    // a time, which made this scan 8% of a crawl's instructions.
    for open in memchr::memchr_iter(b'<', bytes) {
        let name_start = open + 1;
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() || name_len > 10 {
            continue;
        }
        let at = name_start + name_len;
        let name = &bytes[name_start..at];
        seen.note(name);
        if name.eq_ignore_ascii_case(b"frameset") {
            return None;
        }
        if TEXT_SWITCHING
            .iter()
            .any(|t| name.eq_ignore_ascii_case(t.as_bytes()))
            && ends_in_empty_value(&bytes[at..])
        {
            return None;
        }
    }
    Some(seen)
}

/// Whether the start tag whose name ends where `rest` begins is closed by
/// a `>` right after an attribute's `=` (the WHATWG tokenizer's "before
/// attribute value" state), following the attribute syntax, quotes
/// included. A name that goes on (`<titles`) is another tag: false.
fn ends_in_empty_value(rest: &[u8]) -> bool {
    let mut i = 0;
    match rest.first() {
        Some(b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/') => {}
        _ => return false,
    }
    loop {
        // Before an attribute name.
        while matches!(
            rest.get(i),
            Some(b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/')
        ) {
            i += 1;
        }
        match rest.get(i) {
            None | Some(b'>') => return false,
            // A name may start with `=`.
            Some(_) => i += 1,
        }
        while !matches!(
            rest.get(i),
            None | Some(b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>' | b'=')
        ) {
            i += 1;
        }
        while matches!(rest.get(i), Some(b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')) {
            i += 1;
        }
        if rest.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while matches!(rest.get(i), Some(b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')) {
            i += 1;
        }
        match rest.get(i) {
            None => return false,
            Some(b'>') => return true,
            Some(&quote @ (b'"' | b'\'')) => {
                i += 1;
                match rest[i..].iter().position(|&b| b == quote) {
                    Some(end) => i += end + 1,
                    None => return false,
                }
            }
            Some(_) => {
                while !matches!(
                    rest.get(i),
                    None | Some(b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'>')
                ) {
                    i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prescan_notes_the_tags_that_need_selectors() {
        let seen = prescan("<!-- <table> --><A HREF=x><Svg><metadata><baseline>").unwrap();
        assert!(seen.links && seen.foreign && seen.table);
        assert!(!seen.title && !seen.meta && !seen.base && !seen.link);
        // A name cut at `-` counts as the shorter one: a selector too many
        // costs a little time, one too few would miss facts.
        assert!(prescan("<title-x>").unwrap().title);
        assert!(prescan("<COL span=2>").unwrap().col && !prescan("<colgroup>").unwrap().col);
        assert_eq!(prescan("text only, 1 < 2"), Some(Seen::default()));
    }

    #[test]
    fn table_tags_in_gaps_are_found_by_their_whole_name() {
        for gap in [
            "x<td>",
            "</TR >",
            "<!-- </tbody> -->",
            "<p title='<th>'>",
            "<caption/>",
            "</table",
            "<col>",
            "</td\n>",
        ] {
            assert!(has_table_tag(gap), "{gap}");
        }
        for gap in [
            "",
            "text < td",
            "</col>",
            "</colgroup >",
            "<tdx>",
            "<td-x>",
            "</td2>",
            "<div><a href=/td>",
            "&lt;td&gt;",
        ] {
            assert!(!has_table_tag(gap), "{gap}");
        }
        assert_eq!(tag_name(b"<td class=x>", 1), b"td");
        assert_eq!(tag_name(b"</TR>", 2), b"TR");
        assert_eq!(tag_name(b"< td>", 1), b"");
    }

    #[test]
    fn empty_attribute_values_before_the_end_of_raw_text_tags_are_found() {
        for html in [
            "<textarea x=>",
            "<TITLE a=\"1\" b = >",
            "<script src=x.js defer x=\t>",
            "<style media='a>b' x=>",
            "<p>x</p><noscript/x=>",
            "<frameset>",
        ] {
            assert!(prescan(html).is_none(), "{html}");
        }
        for html in [
            "<textarea x=y>",
            "<title-x a=>",
            "<script>f = x => x</script>",
            "<script>if (a < b && c => d) {}</script>",
            "<style media='a>b'>",
            "<a href=>x</a>",
            "<titles a=>",
            "<script x=\"=>\">",
        ] {
            assert!(prescan(html).is_some(), "{html}");
        }
    }
}
