//! Body classification: is a fetched body HTML to parse? The one owner of
//! that decision: the declared media type when there is one, the WHATWG
//! MIME sniffing "HTML" patterns when there is none, and one binary check
//! for both.

/// Tags that, at the start of a document, mark it as HTML.
const HTML_STARTS: &[&[u8]] = &[
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
];

/// True when `bytes` look like HTML: after an optional UTF-8 BOM and
/// whitespace they start with one of the WHATWG MIME-sniffing HTML patterns
/// (`<!DOCTYPE HTML`, `<html`, `<head`, `<body`, `<title`, `<a`, `<p`,
/// `<div`, `<table`, `<script`, `<!--`, …, case-insensitive, followed by a
/// space, `>` or `/`), and the first KiB holds no binary control bytes.
///
/// Meant for bodies served without a usable `Content-Type`.
pub fn sniff_is_html(bytes: &[u8]) -> bool {
    if looks_binary(bytes) {
        return false;
    }
    let head = &bytes[..bytes.len().min(1024)];
    let start = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = &start[start
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(start.len())..];
    HTML_STARTS.iter().any(|pattern| {
        start.len() > pattern.len()
            && start[..pattern.len()].eq_ignore_ascii_case(pattern)
            // The tag name must end here (`<b` is not `<bdo`), `<!--` excepted.
            && (pattern == b"<!--" || matches!(start[pattern.len()], b' ' | b'>' | b'\t' | b'\n' | b'\x0C' | b'\r' | b'/'))
    })
}

/// Whether a fetched body is HTML to parse: declared `text/html` or
/// `application/xhtml+xml` and not binary, or declared nothing (`None`)
/// and sniffed as HTML. Any other declared type is not parsed.
pub fn is_html_body(media_type: Option<&str>, body: &[u8]) -> bool {
    if body.is_empty() {
        return false;
    }
    match media_type {
        Some("text/html" | "application/xhtml+xml") => !looks_binary(body),
        Some(_) => false,
        None => sniff_is_html(body),
    }
}

/// Binary data bytes (WHATWG MIME sniffing: 0x00-0x08, 0x0B, 0x0E-0x1A,
/// 0x1C-0x1F) in the first KiB mean the body is not text, whatever its
/// header claims. A UTF-16 byte order mark says it is text after all (its
/// ASCII is full of NULs).
fn looks_binary(body: &[u8]) -> bool {
    if body.starts_with(&[0xFF, 0xFE]) || body.starts_with(&[0xFE, 0xFF]) {
        return false;
    }
    // A fold without early exit, which the compiler turns into vector
    // code: every page pays this, and HTML has no such byte.
    body[..body.len().min(1024)]
        .iter()
        .fold(false, |found, &byte| {
            found | matches!(byte, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_documents_are_recognised() {
        assert!(sniff_is_html(b"<!DOCTYPE html><html></html>"));
        assert!(sniff_is_html(b"\xEF\xBB\xBF\n  <html lang=en>"));
        assert!(sniff_is_html(b"<title>x</title>"));
        assert!(sniff_is_html(b"<!-- comment -->"));
        assert!(sniff_is_html(b"<p>hello"));
    }

    #[test]
    fn other_content_is_not_html() {
        assert!(!sniff_is_html(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert!(!sniff_is_html(b"{\"json\": true}"));
        assert!(!sniff_is_html(b"just some plain text"));
        assert!(!sniff_is_html(b"<html>\0\0\0binary"));
        assert!(!sniff_is_html(b"<bdo>not in the list"));
        assert!(!sniff_is_html(b""));
    }

    #[test]
    fn patterns_are_case_insensitive_and_need_a_tag_end() {
        for html in [
            &b"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">"[..],
            b"<HTML>",
            b"<Head>",
            b"<BODY class=x>",
            b"<a href=\"/x\">link</a>",
            b"<br/>",
            b"<h1>Heading</h1>",
            b"<div\x0Cid=x>",
            b"<table>",
            b"<script>var x;</script>",
            b"\r\n\t <p>",
            b"\xEF\xBB\xBF<!doctype html>",
        ] {
            assert!(sniff_is_html(html), "{:?}", String::from_utf8_lossy(html));
        }
        for other in [
            &b"<htmlx>"[..],
            b"<html",
            b"<?xml version=\"1.0\"?><rss>",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\">",
            b"%PDF-1.7",
            b"GIF89a",
            b"\x1f\x8b\x08\0",
            b"[1, 2, 3]",
            b"Hello <p>later</p>",
            b"   ",
        ] {
            assert!(
                !sniff_is_html(other),
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn binary_bytes_only_count_in_the_first_kib() {
        let mut html = b"<html>".to_vec();
        html.extend(std::iter::repeat_n(b' ', 2000));
        html.push(0);
        assert!(sniff_is_html(&html));
        // UTF-16 text is full of NULs: not sniffed as HTML.
        let utf16: Vec<u8> = "<html>".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(!sniff_is_html(&[&[0xFF, 0xFE][..], &utf16].concat()));
        // Form feed and ESC-free text with tabs/newlines is fine.
        assert!(sniff_is_html(b"<p>\x0C\t\r\n</p>"));
    }

    #[test]
    fn declared_html_is_parsed_unless_binary() {
        assert!(is_html_body(
            Some("text/html"),
            b"<!doctype html>\n<title>x</title>\t\r\n"
        ));
        assert!(is_html_body(Some("application/xhtml+xml"), b"<html/>"));
        assert!(!is_html_body(Some("text/html"), b"\x89PNG\r\n\x1a\n\0\0\0"));
        // 0x0B is a binary byte for declared and sniffed bodies alike.
        assert!(!is_html_body(Some("text/html"), b"<p>\x0B</p>"));
        assert!(!is_html_body(None, b"<p>\x0B</p>"));
        assert!(is_html_body(
            Some("text/html"),
            b"\xFF\xFE<\0h\0t\0m\0l\0>\0"
        ));
        assert!(!is_html_body(Some("application/octet-stream"), b"<html>"));
        assert!(is_html_body(None, b"<html>"));
        assert!(!is_html_body(Some("text/html"), b""));
    }
}
