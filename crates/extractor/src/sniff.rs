//! Content sniffing: does a body without a usable Content-Type look like
//! HTML? (The WHATWG MIME sniffing "HTML" patterns, plus a binary check.)

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

/// True when `bytes` look like HTML: after an optional BOM and whitespace
/// they start with an HTML tag, and the first KiB holds no binary bytes.
pub fn sniff_is_html(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    if head
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F))
    {
        return false;
    }
    let start = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = &start[start
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(start.len())..];
    HTML_STARTS.iter().any(|pattern| {
        start.len() > pattern.len()
            && start[..pattern.len()].eq_ignore_ascii_case(pattern)
            // The tag name must end here (`<b` is not `<bdo`), `<!--` excepted.
            && (pattern == b"<!--" || matches!(start[pattern.len()], b' ' | b'>' | b'\t' | b'\n' | b'\r' | b'/'))
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
}
