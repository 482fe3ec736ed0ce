//! A guard against pathologically deep markup.
//!
//! html5ever's tree builder does work proportional to the stack of open
//! elements for many tags, so a hostile page of tens of thousands of nested
//! elements costs time quadratic in its depth (20,000 nested `<div>`s take
//! about half a second, a 10 MB page of them could take an hour). Real pages
//! nest a few dozen levels deep. Before parsing, a linear scan estimates the
//! nesting depth and cuts the document where it passes [`MAX_NESTING`]; the
//! links before that point are still found.

/// Estimated open elements beyond which the rest of a document is dropped.
pub const MAX_NESTING: usize = 4096;

/// Elements that never take an end tag, or whose end tag is optional: they
/// do not deepen the stack in a way a tag count can see.
const NOT_COUNTED: &[&[u8]] = &[
    b"area",
    b"base",
    b"br",
    b"col",
    b"embed",
    b"hr",
    b"img",
    b"input",
    b"link",
    b"meta",
    b"source",
    b"track",
    b"wbr",
    b"param",
    b"keygen",
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"option",
    b"optgroup",
    b"tr",
    b"td",
    b"th",
    b"tbody",
    b"thead",
    b"tfoot",
    b"colgroup",
    b"caption",
    b"rb",
    b"rt",
    b"rp",
    b"rtc",
    b"html",
    b"head",
    b"body",
];

/// The byte length of the prefix of `html` to parse: all of it, unless the
/// estimated nesting passes `limit`.
pub fn parse_limit(html: &str, limit: usize) -> usize {
    let bytes = html.as_bytes();
    let mut depth = 0usize;
    let mut at = 0usize;
    while let Some(offset) = memchr_lt(&bytes[at..]) {
        let start = at + offset;
        at = start + 1;
        let Some(&next) = bytes.get(at) else { break };
        let closing = next == b'/';
        let name_start = if closing { at + 1 } else { at };
        let name_len = bytes[name_start.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            continue;
        }
        let name = &bytes[name_start..name_start + name_len];
        if NOT_COUNTED.iter().any(|tag| tag.eq_ignore_ascii_case(name)) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if !self_closing(&bytes[name_start + name_len..]) {
            depth += 1;
            if depth > limit {
                return start;
            }
        }
    }
    bytes.len()
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

/// `<x ... />`: the tag ends with `/>` before the next `<`.
fn self_closing(rest: &[u8]) -> bool {
    let end = rest.iter().position(|&b| b == b'>' || b == b'<');
    matches!(end, Some(end) if rest[end] == b'>' && end > 0 && rest[end - 1] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_pages_are_parsed_whole() {
        let html =
            "<html><body><div><p>one<p>two<ul><li>a<li>b</ul><br><img src=x><a href=/x>x</a></div>";
        assert_eq!(parse_limit(html, 4), html.len());
        let many_paragraphs = "<p>text ".repeat(10_000);
        assert_eq!(parse_limit(&many_paragraphs, 16), many_paragraphs.len());
        let siblings = "<div><a href=/x>x</a></div>".repeat(10_000);
        assert_eq!(parse_limit(&siblings, 16), siblings.len());
    }

    #[test]
    fn deep_nesting_is_cut_where_it_passes_the_limit() {
        let html = format!("<a href=/first>f</a>{}", "<div>".repeat(100));
        let cut = parse_limit(&html, 10);
        assert_eq!(&html[cut..cut + 5], "<div>");
        assert_eq!(html[..cut].matches("<div>").count(), 10);
        assert_eq!(
            parse_limit("<div/><div/><div/>", 1),
            18,
            "self-closing tags do not nest"
        );
    }
}
