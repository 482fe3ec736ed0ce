//! HTML character references (`&amp;`, `&#x41;`, `&copy` …) in raw markup
//! text, decoded as the WHATWG tokenizer does. The streaming extractor sees
//! attribute values and `<title>` text as written in the source, so it has
//! to do this step itself; html5ever does it inside its tokenizer.

use std::borrow::Cow;

use markup5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

/// Where the text came from: the rules differ in one point (below).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// An attribute value: a legacy reference without `;` followed by `=`
    /// or a letter or digit stays as written (`?a=1&copy=2` is a query,
    /// not `©=2`).
    Attribute,
    /// Element text such as `<title>`'s (RCDATA).
    Text,
}

/// Decodes character references in `raw` and replaces NUL with U+FFFD (as
/// the tokenizer does in attribute values and RCDATA). Borrows when there
/// is nothing to decode, which is almost always.
pub(crate) fn decode(raw: &str, context: Context) -> Cow<'_, str> {
    // memchr's vectorised search: most values have neither.
    if memchr::memchr2(b'&', b'\0', raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = raw[at..].find(['&', '\0']) {
        let start = at + offset;
        out.push_str(&raw[copied..start]);
        if bytes[start] == b'\0' {
            out.push('\u{FFFD}');
            at = start + 1;
            copied = at;
            continue;
        }
        let after = start + 1;
        let decoded = if bytes.get(after) == Some(&b'#') {
            numeric(raw, after + 1)
        } else {
            named(raw, after, context)
        };
        match decoded {
            Some((chars, end)) => {
                out.extend(chars.into_iter().flatten());
                at = end;
            }
            None => {
                out.push('&');
                at = after;
            }
        }
        copied = at;
    }
    out.push_str(&raw[copied..]);
    Cow::Owned(out)
}

/// `&#…;` starting after the `#`: the characters and where the reference
/// ends, or `None` when no digit follows (then it is literal text).
fn numeric(raw: &str, from: usize) -> Option<([Option<char>; 2], usize)> {
    let bytes = raw.as_bytes();
    let (radix, digits_from) = match bytes.get(from) {
        Some(b'x' | b'X') => (16, from + 1),
        _ => (10, from),
    };
    let mut end = digits_from;
    let mut value: u32 = 0;
    while let Some(digit) = bytes.get(end).and_then(|&b| char::from(b).to_digit(radix)) {
        // Saturates far above the last code point, so overlong numbers
        // still end up as U+FFFD.
        value = value.saturating_mul(radix).saturating_add(digit);
        end += 1;
    }
    if end == digits_from {
        return None;
    }
    if bytes.get(end) == Some(&b';') {
        end += 1;
    }
    let c = match value {
        0 | 0xD800..=0xDFFF | 0x11_0000.. => '\u{FFFD}',
        0x80..=0x9F => C1_REPLACEMENTS[(value - 0x80) as usize]
            .unwrap_or_else(|| char::from_u32(value).unwrap_or('\u{FFFD}')),
        _ => char::from_u32(value).unwrap_or('\u{FFFD}'),
    };
    Some(([Some(c), None], end))
}

/// A named reference starting at `from` (after the `&`): the longest name
/// in the table, with or without its `;`.
fn named(raw: &str, from: usize, context: Context) -> Option<([Option<char>; 2], usize)> {
    let bytes = raw.as_bytes();
    let mut best: Option<(usize, (u32, u32))> = None;
    let mut end = from;
    // The table holds every prefix of every name (mapped to 0), so the
    // scan stops as soon as no name can match any more.
    while let Some(&byte) = bytes.get(end) {
        if !(byte.is_ascii_alphanumeric() || byte == b';') {
            break;
        }
        end += 1;
        match NAMED_ENTITIES.get(&raw[from..end]) {
            None => break,
            Some(&(0, _)) => {}
            Some(&code_points) => best = Some((end, code_points)),
        }
        if byte == b';' {
            break;
        }
    }
    let (end, (first, second)) = best?;
    let terminated = bytes[end - 1] == b';';
    if !terminated
        && context == Context::Attribute
        && bytes
            .get(end)
            .is_some_and(|&b| b == b'=' || b.is_ascii_alphanumeric())
    {
        return None;
    }
    let second = (second != 0).then(|| char::from_u32(second)).flatten();
    Some(([char::from_u32(first), second], end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(raw: &str) -> String {
        decode(raw, Context::Attribute).into_owned()
    }

    fn text(raw: &str) -> String {
        decode(raw, Context::Text).into_owned()
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            decode("/p/1?a=b", Context::Attribute),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn named_references() {
        assert_eq!(attr("/a?x=1&amp;y=2"), "/a?x=1&y=2");
        assert_eq!(text("Fish &amp; Chips &mdash; &copy"), "Fish & Chips — ©");
        assert_eq!(text("&notit;"), "¬it;");
        assert_eq!(text("&notin;"), "∉");
        assert_eq!(text("&NotEqualTilde;"), "\u{2242}\u{338}");
        assert_eq!(text("&bogus; & &;"), "&bogus; & &;");
    }

    #[test]
    fn legacy_references_in_attributes_stay_when_followed_by_name_characters() {
        assert_eq!(attr("/a?x=1&copy=2"), "/a?x=1&copy=2");
        assert_eq!(attr("/a?x=1&copyx"), "/a?x=1&copyx");
        assert_eq!(attr("/a?x=1&copy;=2"), "/a?x=1©=2");
        assert_eq!(attr("/a?&copy-2"), "/a?©-2");
        assert_eq!(text("&copy=2"), "©=2");
    }

    #[test]
    fn numeric_references() {
        assert_eq!(text("&#65;&#x42;&#X43"), "ABC");
        assert_eq!(
            text("&#0;&#xD800;&#x110000;&#99999999999999"),
            "\u{FFFD}".repeat(4)
        );
        assert_eq!(text("&#x80;&#150;&#x81;"), "€–\u{81}");
        assert_eq!(text("&#;&#x;&#a"), "&#;&#x;&#a");
    }

    #[test]
    fn nul_becomes_replacement_character() {
        assert_eq!(attr("a\0b"), "a\u{FFFD}b");
    }
}
