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
pub fn decode_html<'a>(
    html: &'a [u8],
    header_charset: Option<&str>,
) -> (Cow<'a, str>, &'static Encoding) {
    let encoding = sniff_encoding(html, header_charset);
    // `decode` strips a BOM of the chosen encoding and honours any BOM.
    let (text, used, _had_errors) = encoding.decode(html);
    (text, used)
}

fn sniff_encoding(html: &[u8], header_charset: Option<&str>) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(html) {
        return encoding;
    }
    if let Some(encoding) =
        header_charset.and_then(|label| Encoding::for_label(label.trim().as_bytes()))
    {
        return encoding;
    }
    if let Some(encoding) = prescan_meta(&html[..html.len().min(PRESCAN_BYTES)]) {
        return encoding;
    }
    detect(&html[..html.len().min(DETECT_BYTES)])
}

fn detect(sample: &[u8]) -> &'static Encoding {
    if std::str::from_utf8(sample).is_ok() || valid_utf8_up_to_cut(sample) {
        return UTF_8;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, sample.len() < DETECT_BYTES);
    detector.guess(None, chardetng::Utf8Detection::Allow)
}

/// A sample cut at `DETECT_BYTES` may end inside a multi-byte character.
fn valid_utf8_up_to_cut(sample: &[u8]) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && error.valid_up_to() + 4 > sample.len(),
    }
}

/// A simplified WHATWG prescan: finds `<meta charset=...>` or
/// `<meta http-equiv=content-type content="...charset=...">` in the bytes.
fn prescan_meta(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(offset) = find(&lower[from..], b"<meta") {
        let start = from + offset + 5;
        let end = lower[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |p| start + p);
        let tag = &lower[start..end];
        if let Some(label) = attribute_value(tag, b"charset").or_else(|| {
            attribute_value(tag, b"content").and_then(|content| {
                let at = find(content, b"charset=")? + 8;
                let rest = &content[at..];
                let rest = rest
                    .strip_prefix(b"\"")
                    .or_else(|| rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let stop = rest
                    .iter()
                    .position(|&b| matches!(b, b';' | b'"' | b'\'' | b' '))
                    .unwrap_or(rest.len());
                Some(&rest[..stop])
            })
        }) && let Some(encoding) = Encoding::for_label(label)
        {
            // WHATWG: a document that declares UTF-16 in ASCII-compatible
            // bytes cannot really be UTF-16.
            if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
                return Some(UTF_8);
            }
            if encoding == encoding_rs::X_USER_DEFINED {
                return Some(encoding_rs::WINDOWS_1252);
            }
            return Some(encoding);
        }
        from = end.min(lower.len());
        if from >= lower.len() {
            break;
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The value of `name=` in a lower-cased tag body, quoted or not.
fn attribute_value<'t>(tag: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let mut from = 0;
    while let Some(offset) = find(&tag[from..], name) {
        let at = from + offset;
        let preceded_ok = at == 0
            || matches!(
                tag[at - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'"' | b'\''
            );
        let mut cursor = at + name.len();
        while tag.get(cursor).is_some_and(u8::is_ascii_whitespace) {
            cursor += 1;
        }
        if preceded_ok && tag.get(cursor) == Some(&b'=') {
            cursor += 1;
            while tag.get(cursor).is_some_and(u8::is_ascii_whitespace) {
                cursor += 1;
            }
            let value = &tag[cursor.min(tag.len())..];
            return Some(match value.first() {
                Some(&quote @ (b'"' | b'\'')) => {
                    let inner = &value[1..];
                    &inner[..inner
                        .iter()
                        .position(|&b| b == quote)
                        .unwrap_or(inner.len())]
                }
                _ => {
                    &value[..value
                        .iter()
                        .position(|&b| b.is_ascii_whitespace() || b == b'/')
                        .unwrap_or(value.len())]
                }
            });
        }
        from = at + name.len();
    }
    None
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
}
