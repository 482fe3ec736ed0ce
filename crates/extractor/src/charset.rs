//! Which encoding a page is in, in the WHATWG order: byte order mark, HTTP
//! header, `<meta>` prescan, statistical detection, UTF-8.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};

/// How many bytes the `<meta charset>` prescan looks at (WHATWG: 1024).
const PRESCAN_BYTES: usize = 1024;
/// How many bytes the detector is fed: enough for a confident guess,
/// bounded so a 10 MB page costs no more than a small one.
const DETECT_BYTES: usize = 8 * 1024;

/// Decodes `html` to text with the encoding the rules pick; never fails
/// (malformed sequences become U+FFFD).
///
/// The encoding is chosen in the WHATWG order: a byte order mark, then
/// `header_charset` (the `charset` parameter of the HTTP `Content-Type`), then
/// a `<meta charset>` / `<meta http-equiv="Content-Type">` prescan of the
/// first 1024 bytes, then statistical detection (chardetng) on the first
/// 8 KiB, then UTF-8. Unknown labels fall through to the next step. Returns
/// the text and the encoding actually used.
pub fn decode_html<'a>(
    html: &'a [u8],
    header_charset: Option<&str>,
) -> (Cow<'a, str>, &'static Encoding) {
    decode_with_tld(html, header_charset, None)
}

/// [`decode_html`] with the page's top-level domain as a hint for the
/// detector (a `.jp` page without declaration is more likely Shift_JIS).
pub(crate) fn decode_with_tld<'a>(
    html: &'a [u8],
    header_charset: Option<&str>,
    tld: Option<&str>,
) -> (Cow<'a, str>, &'static Encoding) {
    let encoding = sniff_encoding(html, header_charset, tld);
    // `decode` honours (and strips) a BOM; we already picked its encoding.
    let (text, used, _had_errors) = encoding.decode(html);
    (text, used)
}

fn sniff_encoding(
    html: &[u8],
    header_charset: Option<&str>,
    tld: Option<&str>,
) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(html) {
        return encoding;
    }
    if let Some(encoding) = header_charset.and_then(|label| {
        let label = label.trim().trim_matches(['"', '\'']);
        Encoding::for_label(label.as_bytes())
    }) {
        return encoding;
    }
    if let Some(encoding) = prescan(&html[..html.len().min(PRESCAN_BYTES)]) {
        return encoding;
    }
    detect(&html[..html.len().min(DETECT_BYTES)], tld)
}

fn detect(sample: &[u8], tld: Option<&str>) -> &'static Encoding {
    // ASCII and valid UTF-8 are UTF-8 (chardetng would call pure ASCII
    // windows-1252, which decodes the same but reports a misleading name).
    if valid_utf8_up_to_cut(sample) {
        return UTF_8;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, sample.len() < DETECT_BYTES);
    // chardetng asserts its hint is lower-case ASCII without dots.
    let tld = tld
        .filter(|tld| {
            !tld.is_empty()
                && tld
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .map(str::as_bytes);
    detector.guess(tld, chardetng::Utf8Detection::Allow)
}

/// Valid UTF-8, allowing the sample to end inside a multi-byte character
/// (the sample is cut at `DETECT_BYTES`).
fn valid_utf8_up_to_cut(sample: &[u8]) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && error.valid_up_to() + 4 > sample.len(),
    }
}

/// HTML's whitespace bytes: TAB, LF, FF, CR, SPACE.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The WHATWG "prescan a byte stream to determine its encoding" algorithm,
/// on `head` (the first 1024 bytes). Skips comments and other tags' attribute
/// values; a `content` attribute counts only with `http-equiv=content-type`.
fn prescan(head: &[u8]) -> Option<&'static Encoding> {
    let mut pos = 0;
    while pos < head.len() {
        let rest = &head[pos..];
        if rest.starts_with(b"<!--") {
            // The first '>' preceded by "--" after "<!" ("<!-->" closes).
            let close = find(&rest[2..], b"-->")?;
            pos += 2 + close + 3;
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest.get(5).is_some_and(|&b| is_space(b) || b == b'/')
        {
            pos += 5;
            let (encoding, after) = meta_element(head, pos)?;
            if let Some(encoding) = encoding {
                return Some(encoding);
            }
            pos = after;
        } else if rest.len() >= 2
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic()
                || (rest[1] == b'/' && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            // Some other tag: skip its name, then its attributes (so a
            // `<meta` inside an attribute value is not taken for a tag).
            pos += rest
                .iter()
                .position(|&b| is_space(b) || b == b'>')
                .unwrap_or(rest.len());
            while let Some(attribute) = get_attribute(head, pos) {
                pos = attribute?.end;
            }
            pos += 1;
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            pos += rest.iter().position(|&b| b == b'>')? + 1;
        } else {
            pos += 1;
        }
    }
    None
}

/// Processes the attributes of a `<meta` tag starting at `pos`. Returns the
/// declared encoding (if this tag declares one) and where scanning resumes;
/// `None` when the input ends inside the tag.
fn meta_element(head: &[u8], mut pos: usize) -> Option<(Option<&'static Encoding>, usize)> {
    let (mut seen_http_equiv, mut seen_content, mut seen_charset) = (false, false, false);
    let mut got_pragma = false;
    let mut need_pragma: Option<bool> = None;
    let mut charset: Option<&'static Encoding> = None;
    while let Some(attribute) = get_attribute(head, pos) {
        let attribute = attribute?;
        pos = attribute.end;
        let name = &head[attribute.name.0..attribute.name.1];
        let value = &head[attribute.value.0..attribute.value.1];
        if name.eq_ignore_ascii_case(b"http-equiv") && !seen_http_equiv {
            seen_http_equiv = true;
            got_pragma = value.eq_ignore_ascii_case(b"content-type");
        } else if name.eq_ignore_ascii_case(b"content") && !seen_content {
            seen_content = true;
            if charset.is_none()
                && let Some(label) = charset_from_content(value)
                && let Some(encoding) = Encoding::for_label(label)
            {
                charset = Some(encoding);
                need_pragma = Some(true);
            }
        } else if name.eq_ignore_ascii_case(b"charset") && !seen_charset {
            seen_charset = true;
            charset = Encoding::for_label(value);
            need_pragma = Some(false);
        }
    }
    let declared = match need_pragma {
        Some(true) if !got_pragma => None,
        Some(_) => charset.map(|encoding| {
            // ASCII-compatible bytes declaring UTF-16 cannot be UTF-16.
            if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
                UTF_8
            } else if encoding == encoding_rs::X_USER_DEFINED {
                encoding_rs::WINDOWS_1252
            } else {
                encoding
            }
        }),
        None => None,
    };
    Some((declared, pos + 1))
}

/// One attribute as byte ranges into the prescanned bytes.
struct Attribute {
    name: (usize, usize),
    value: (usize, usize),
    /// Where scanning continues after the attribute.
    end: usize,
}

/// WHATWG "get an attribute" starting at `pos`. `None`: no more attributes
/// (at `>`); `Some(None)`: the input ended inside the tag.
fn get_attribute(bytes: &[u8], mut pos: usize) -> Option<Option<Attribute>> {
    let at = |pos: usize| bytes.get(pos).copied();
    while at(pos).is_some_and(|b| is_space(b) || b == b'/') {
        pos += 1;
    }
    match at(pos) {
        None => return Some(None),
        Some(b'>') => return None,
        Some(_) => {}
    }
    let name_start = pos;
    // The name: up to '=' (a leading '=' is part of the name), space, '/', '>'.
    loop {
        match at(pos) {
            None => return Some(None),
            Some(b'=') if pos > name_start => break,
            Some(b) if is_space(b) => break,
            Some(b'/' | b'>') => {
                return Some(Some(Attribute {
                    name: (name_start, pos),
                    value: (pos, pos),
                    end: pos,
                }));
            }
            Some(_) => pos += 1,
        }
    }
    let name = (name_start, pos);
    while at(pos).is_some_and(is_space) {
        pos += 1;
    }
    match at(pos) {
        None => return Some(None),
        Some(b'=') => pos += 1,
        Some(_) => {
            return Some(Some(Attribute {
                name,
                value: (pos, pos),
                end: pos,
            }));
        }
    }
    while at(pos).is_some_and(is_space) {
        pos += 1;
    }
    match at(pos) {
        None => Some(None),
        Some(quote @ (b'"' | b'\'')) => {
            let start = pos + 1;
            let Some(len) = bytes[start..].iter().position(|&b| b == quote) else {
                return Some(None);
            };
            Some(Some(Attribute {
                name,
                value: (start, start + len),
                end: start + len + 1,
            }))
        }
        Some(b'>') => Some(Some(Attribute {
            name,
            value: (pos, pos),
            end: pos,
        })),
        Some(_) => {
            let start = pos;
            while at(pos).is_some_and(|b| !is_space(b) && b != b'>') {
                pos += 1;
            }
            if pos == bytes.len() {
                return Some(None);
            }
            Some(Some(Attribute {
                name,
                value: (start, pos),
                end: pos,
            }))
        }
    }
}

/// WHATWG "extract a character encoding from a meta element": the label
/// after `charset=` in a `content` value such as `text/html; charset=utf-8`.
fn charset_from_content(content: &[u8]) -> Option<&[u8]> {
    let mut pos = 0;
    loop {
        let found = content[pos..]
            .windows(7)
            .position(|window| window.eq_ignore_ascii_case(b"charset"))?;
        pos += found + 7;
        while content.get(pos).copied().is_some_and(is_space) {
            pos += 1;
        }
        if content.get(pos) == Some(&b'=') {
            pos += 1;
            break;
        }
    }
    while content.get(pos).copied().is_some_and(is_space) {
        pos += 1;
    }
    let rest = &content[pos..];
    match rest.first()? {
        &quote @ (b'"' | b'\'') => {
            let inner = &rest[1..];
            Some(&inner[..inner.iter().position(|&b| b == quote)?])
        }
        _ => Some(
            &rest[..rest
                .iter()
                .position(|&b| is_space(b) || b == b';')
                .unwrap_or(rest.len())],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{SHIFT_JIS, UTF_16LE, WINDOWS_1252};

    fn latin1_page(head: &str) -> Vec<u8> {
        let text = format!(
            "<html><head>{head}<title>Café Ñandú</title></head><body>Crème brûlée, déjà vu, naïve façade, señor año.</body></html>"
        );
        WINDOWS_1252.encode(&text).0.into_owned()
    }

    #[test]
    fn header_charset_decides_when_there_is_no_bom() {
        let bytes = latin1_page("");
        let (text, encoding) = decode_html(&bytes, Some("ISO-8859-1"));
        assert_eq!(encoding, WINDOWS_1252);
        assert!(text.contains("Café Ñandú"));
    }

    #[test]
    fn meta_charset_and_http_equiv_are_found() {
        let bytes = latin1_page(r#"<meta charset="iso-8859-1">"#);
        assert_eq!(decode_html(&bytes, None).1, WINDOWS_1252);
        let bytes = latin1_page(
            r#"<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=windows-1252">"#,
        );
        assert_eq!(decode_html(&bytes, None).1, WINDOWS_1252);
        let bytes = latin1_page("<meta charset=utf-16>");
        assert_eq!(decode_html(&bytes, None).1, UTF_8);
    }

    #[test]
    fn undeclared_latin1_is_detected() {
        let bytes = latin1_page("");
        let (text, encoding) = decode_html(&bytes, None);
        assert_eq!(encoding, WINDOWS_1252);
        assert!(text.contains("Café Ñandú"));
    }

    #[test]
    fn shift_jis_with_and_without_declaration() {
        let text = "<html><head><title>日本語のページ</title></head><body>これは日本語で書かれたページです。東京、大阪、京都。</body></html>";
        let bytes = SHIFT_JIS.encode(text).0.into_owned();
        let (decoded, encoding) = decode_html(&bytes, None);
        assert_eq!(encoding, SHIFT_JIS);
        assert!(decoded.contains("日本語のページ"));
        let declared = [b"<meta charset=\"shift_jis\">".as_slice(), &bytes].concat();
        assert_eq!(decode_html(&declared, None).1, SHIFT_JIS);
    }

    #[test]
    fn byte_order_marks_win() {
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "<title>Hé</title>".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let (text, encoding) = decode_html(&utf16, Some("iso-8859-1"));
        assert_eq!(encoding, UTF_16LE);
        assert_eq!(text, "<title>Hé</title>");
        let utf8 = [b"\xEF\xBB\xBF".as_slice(), "<p>é</p>".as_bytes()].concat();
        let (text, encoding) = decode_html(&utf8, Some("windows-1252"));
        assert_eq!(encoding, UTF_8);
        assert_eq!(text, "<p>é</p>");
    }

    #[test]
    fn unknown_labels_fall_through() {
        let (_, encoding) = decode_html("<p>ascii</p>".as_bytes(), Some("no-such-charset"));
        assert_eq!(encoding, UTF_8);
    }

    fn prescanned(head: &str) -> Option<&'static str> {
        prescan(head.as_bytes()).map(Encoding::name)
    }

    #[test]
    fn prescan_follows_the_whatwg_rules() {
        assert_eq!(prescanned("<meta charset=shift_jis>"), Some("Shift_JIS"));
        assert_eq!(prescanned("<META CHARSET='EUC-JP'/>"), Some("EUC-JP"));
        assert_eq!(
            prescanned("<meta http-equiv='content-type' content='text/html;charset=\"koi8-r\"'>"),
            Some("KOI8-R")
        );
        assert_eq!(
            prescanned("<meta content=\"text/html; CHARSET = big5\" http-equiv=Content-Type>"),
            Some("Big5")
        );
        // `content` without `http-equiv=content-type` does not count.
        assert_eq!(
            prescanned("<meta content=\"text/html; charset=big5\">"),
            None
        );
        // Comments, other tags' attribute values and `<metadata>` are skipped.
        assert_eq!(prescanned("<!-- <meta charset=big5> --><p>"), None);
        assert_eq!(prescanned("<!--><meta charset=big5>"), Some("Big5"));
        assert_eq!(prescanned("<div title='<meta charset=big5>'>"), None);
        assert_eq!(prescanned("<metadata charset=big5>"), None);
        assert_eq!(
            prescanned("<html lang=ja><head><meta name=x><meta charset=\"gbk\">"),
            Some("GBK")
        );
        // Unknown labels are skipped; a later declaration still counts.
        assert_eq!(
            prescanned("<meta charset=klingon><meta charset=iso-8859-2>"),
            Some("ISO-8859-2")
        );
        assert_eq!(
            prescanned("<meta charset=x-user-defined>"),
            Some("windows-1252")
        );
        assert_eq!(prescanned("<meta charset=utf-16be>"), Some("UTF-8"));
        // Input that ends inside a tag or comment declares nothing.
        assert_eq!(prescanned("<meta charset=big5"), None);
        assert_eq!(prescanned("<meta charset='big5>"), None);
        assert_eq!(prescanned("<!-- <meta charset=big5>"), None);
        assert_eq!(prescanned(""), None);
    }

    #[test]
    fn charset_in_content_values() {
        assert_eq!(
            charset_from_content(b"text/html; charset=utf-8"),
            Some(&b"utf-8"[..])
        );
        assert_eq!(
            charset_from_content(b"text/html;charset='a b'"),
            Some(&b"a b"[..])
        );
        assert_eq!(
            charset_from_content(b"charsetcharset = x;y"),
            Some(&b"x"[..])
        );
        assert_eq!(charset_from_content(b"charset=\"unterminated"), None);
        assert_eq!(charset_from_content(b"charset="), None);
        assert_eq!(charset_from_content(b"text/html"), None);
    }

    #[test]
    fn a_declaration_after_the_first_kib_is_not_seen() {
        let mut page = "<html><head><!--".to_owned();
        page.push_str(&" ".repeat(1100));
        page.push_str("--><meta charset=shift_jis></head><body>plain ascii</body></html>");
        assert_eq!(decode_html(page.as_bytes(), None).1, UTF_8);
    }

    #[test]
    fn header_beats_meta_and_quoted_header_labels_work() {
        let bytes = latin1_page("<meta charset=shift_jis>");
        let (text, encoding) = decode_html(&bytes, Some(" \"iso-8859-1\" "));
        assert_eq!(encoding, WINDOWS_1252);
        assert!(text.contains("Café"));
        // An unknown header label falls through to the `<meta>`.
        let bytes = latin1_page("<meta charset=\"iso-8859-1\">");
        assert_eq!(decode_html(&bytes, Some("bogus")).1, WINDOWS_1252);
    }

    #[test]
    fn cafe_in_windows_1252_three_ways() {
        let bytes = WINDOWS_1252.encode("<p>Café</p>").0.into_owned();
        assert_eq!(decode_html(&bytes, Some("windows-1252")).0, "<p>Café</p>");
        let declared = WINDOWS_1252
            .encode("<meta charset=\"iso-8859-1\"><p>Café</p>")
            .0
            .into_owned();
        let (text, encoding) = decode_html(&declared, None);
        assert_eq!(encoding, WINDOWS_1252);
        assert!(text.ends_with("<p>Café</p>"));
        // Undeclared: the detector decides, from the longer sample text.
        let undeclared = latin1_page("");
        let (text, encoding) = decode_html(&undeclared, None);
        assert_eq!(encoding.name(), "windows-1252");
        assert!(text.contains("Crème brûlée"));
    }

    #[test]
    fn tld_hint_is_sanitised_and_used() {
        let bytes = latin1_page("");
        for tld in [
            None,
            Some(""),
            Some("COM"),
            Some("a.b"),
            Some("[::1]"),
            Some("é"),
        ] {
            let (text, _) = decode_with_tld(&bytes, None, tld);
            assert!(!text.is_empty());
        }
        let japanese = SHIFT_JIS
            .encode("<title>日本語のページ</title><p>東京の天気です。</p>")
            .0
            .into_owned();
        assert_eq!(decode_with_tld(&japanese, None, Some("jp")).1, SHIFT_JIS);
    }

    #[test]
    fn malformed_bytes_become_replacement_characters() {
        let (text, encoding) = decode_html(b"<p>ok \xFF\xFE\xFD</p>", Some("utf-8"));
        assert_eq!(encoding, UTF_8);
        assert!(text.contains('\u{FFFD}'));
        // Valid UTF-8 cut mid-character at the detection limit stays UTF-8.
        let mut long = "é".repeat(DETECT_BYTES);
        long.insert(0, 'a');
        assert_eq!(decode_html(long.as_bytes(), None).1, UTF_8);
    }

    #[test]
    fn utf16_big_endian_bom() {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in "<p>ü</p>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        let (text, encoding) = decode_html(&bytes, None);
        assert_eq!(encoding, encoding_rs::UTF_16BE);
        assert_eq!(text, "<p>ü</p>");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes under any declared label decode to text (U+FFFD
            /// where they must), never a panic.
            #[test]
            fn any_bytes_decode(
                bytes in proptest::collection::vec(any::<u8>(), 0..400),
                label in proptest::option::of(prop_oneof![
                    Just("utf-8".to_owned()),
                    Just("iso-8859-1".to_owned()),
                    Just("shift_jis".to_owned()),
                    Just("utf-16le".to_owned()),
                    Just("gb18030".to_owned()),
                    "\\PC{0,10}",
                ]),
                meta in proptest::option::of("[a-zA-Z0-9_-]{0,12}"),
            ) {
                let mut page = bytes.clone();
                if let Some(meta) = meta {
                    let mut with_meta = format!("<meta charset={meta}>").into_bytes();
                    with_meta.extend_from_slice(&bytes);
                    page = with_meta;
                }
                let (text, _) = decode_html(&page, label.as_deref());
                prop_assert!(text.len() <= page.len() * 3 + 3);
            }
        }
    }
}
