//! Tests of [`extract`](super::extract): resolution, page facts, charsets.

use super::*;

fn page(html: &str, url: &str) -> Page {
    extract(html.as_bytes(), &Url::parse(url).unwrap(), None)
}

fn links(html: &str, url: &str) -> Vec<String> {
    page(html, url)
        .links
        .into_iter()
        .map(|l| l.url.to_string())
        .collect()
}

#[test]
fn relative_forms_resolve_like_a_browser() {
    let html = r#"<a href="a.html"></a><a href="./b.html"></a><a href="/c.html"></a>
        <a href="?q=1"></a><a href="../../../up"></a><a href="//other.example/x"></a>
        <a href="HTTPS://Caps.Example/Y"></a>"#;
    assert_eq!(
        links(html, "http://h.example/dir/sub/page.html"),
        [
            "http://h.example/dir/sub/a.html",
            "http://h.example/dir/sub/b.html",
            "http://h.example/c.html",
            "http://h.example/dir/sub/page.html?q=1",
            "http://h.example/up",
            "http://other.example/x",
            "https://caps.example/Y",
        ]
    );
}

#[test]
fn entities_and_whitespace_in_hrefs() {
    let html = "<a href=\"?a=1&amp;b=2\"></a><a href=\"  /spaced \n\"></a><a href=\"/bro\nken\tpath\"></a>";
    assert_eq!(
        links(html, "http://h.example/"),
        [
            "http://h.example/?a=1&b=2",
            "http://h.example/spaced",
            "http://h.example/brokenpath"
        ]
    );
}

#[test]
fn fragments_are_dropped_and_fragment_only_links_skipped() {
    let html = r##"<a href="#top"></a><a href=""></a><a href="/x#frag"></a><a href="/x"></a>"##;
    assert_eq!(links(html, "http://h.example/"), ["http://h.example/x"]);
}

#[test]
fn other_schemes_are_dropped() {
    let html = r#"<a href="mailto:a@b.example"></a><a href="javascript:void(0)"></a>
        <a href="JAVASCRIPT:alert(1)"></a><a href="data:text/html,hi"></a><a href="tel:+1"></a>
        <a href="file:///etc/passwd"></a><a href="ftp://f.example/"></a><a href="http://ok.example/"></a>"#;
    assert_eq!(links(html, "http://h.example/"), ["http://ok.example/"]);
}

#[test]
fn base_href_relative_absolute_and_invalid() {
    let html = r#"<head><base href="/docs/"></head><a href="page"></a>"#;
    assert_eq!(
        links(html, "http://h.example/a/b"),
        ["http://h.example/docs/page"]
    );
    let html = r#"<base href="http://cdn.example/root/"><a href="x"></a>"#;
    let parsed = page(html, "http://h.example/");
    assert_eq!(
        parsed.base.as_ref().map(Url::as_str),
        Some("http://cdn.example/root/")
    );
    assert_eq!(parsed.links[0].url.as_str(), "http://cdn.example/root/x");
    let html = r#"<base href="http://[bad"><a href="x"></a>"#;
    assert_eq!(links(html, "http://h.example/d/"), ["http://h.example/d/x"]);
    let html = r#"<base href="javascript:x"><a href="y"></a>"#;
    assert_eq!(links(html, "http://h.example/d/"), ["http://h.example/d/y"]);
}

#[test]
fn malformed_markup_still_yields_links() {
    let html = "<html><body><table><tr><a href=/in-table>x</a><td><div><a href=unquoted>y<p><a href='/single'>z";
    assert_eq!(
        links(html, "http://h.example/"),
        [
            "http://h.example/in-table",
            "http://h.example/unquoted",
            "http://h.example/single"
        ]
    );
}

#[test]
fn duplicates_area_and_nofollow() {
    let html = r#"<a href="/a" rel="nofollow"></a><map><area href="/b" rel="NoFollow noopener"></map>
        <a href="/a"></a><a href="/b" rel="nofollow"></a>"#;
    let parsed = page(html, "http://h.example/");
    let summary: Vec<(String, bool)> = parsed
        .links
        .iter()
        .map(|l| (l.url.path().to_owned(), l.nofollow))
        .collect();
    assert_eq!(summary, [("/a".to_owned(), false), ("/b".to_owned(), true)]);
}

#[test]
fn meta_robots_and_canonical() {
    let parsed = page(
        r#"<meta name="ROBOTS" content="noindex, NoFollow"><link rel="alternate canonical" href="/c#x">"#,
        "http://h.example/p",
    );
    assert_eq!(
        parsed.meta_robots,
        MetaRobots {
            noindex: true,
            nofollow: true
        }
    );
    assert_eq!(
        parsed.canonical.as_ref().map(Url::as_str),
        Some("http://h.example/c")
    );
    let parsed = page(
        r#"<meta name="robots" content="none">"#,
        "http://h.example/",
    );
    assert_eq!(
        parsed.meta_robots,
        MetaRobots {
            noindex: true,
            nofollow: true
        }
    );
    let parsed = page(
        r#"<meta name="googlebot" content="nofollow">"#,
        "http://h.example/",
    );
    assert_eq!(parsed.meta_robots, MetaRobots::default());
}

#[test]
fn titles_are_collapsed_and_optional() {
    assert_eq!(
        page(
            "<title>\n  A   <b>x</b>\ttitle </title>",
            "http://h.example/"
        )
        .title
        .as_deref(),
        Some("A <b>x</b> title")
    );
    assert_eq!(page("<title>   </title>", "http://h.example/").title, None);
    assert_eq!(page("<p>no title</p>", "http://h.example/").title, None);
}

#[test]
fn latin1_page_gets_title_and_links() {
    let html = encoding_rs::WINDOWS_1252
        .encode("<meta charset=iso-8859-1><title>Café Ñandú</title><a href=\"/caf\u{e9}\">x</a>")
        .0
        .into_owned();
    let parsed = extract(&html, &Url::parse("http://h.example/").unwrap(), None);
    assert_eq!(parsed.title.as_deref(), Some("Café Ñandú"));
    assert_eq!(parsed.charset, "windows-1252");
    assert_eq!(parsed.links[0].url.as_str(), "http://h.example/caf%C3%A9");
}

#[test]
fn protocol_relative_keeps_the_page_scheme_and_bad_urls_are_skipped() {
    let html = r#"<a href="//other.example/x?y#z"></a><a href="http://[bad"></a>
        <a href="http://"></a><a href="https:"></a><a href="HTTP://UP.example"></a>"#;
    assert_eq!(
        links(html, "https://h.example/p"),
        [
            "https://other.example/x?y",
            "https://h.example/p",
            "http://up.example/"
        ]
    );
}

#[test]
fn blank_and_missing_hrefs_are_skipped() {
    let html = "<a>no href</a><a href>empty</a><a href=' \n\t '>blank</a><a href='#'>top</a>\
        <a href=' #x'>frag</a><area alt=x><a href='/#'>root</a><A HREF='/upper'>u</A>";
    assert_eq!(
        links(html, "http://h.example/p"),
        ["http://h.example/", "http://h.example/upper"]
    );
}

#[test]
fn numeric_entities_and_raw_ampersands_in_hrefs() {
    let html = "<a href='&#47;x?a=1&b=2&amp;c=&quot;3&quot;'></a><a href='/caf&eacute;'></a>";
    assert_eq!(
        links(html, "http://h.example/"),
        [
            "http://h.example/x?a=1&b=2&c=%223%22",
            "http://h.example/caf%C3%A9"
        ]
    );
}

#[test]
fn base_href_in_body_with_whitespace_or_empty() {
    // The first <base href> applies to every link, wherever it appears.
    let html = "<a href='a'></a><body><base href=' /new/\n'><a href='b'></a>";
    let parsed = page(html, "http://h.example/old/");
    assert_eq!(
        parsed.base.as_ref().map(Url::as_str),
        Some("http://h.example/new/")
    );
    assert_eq!(
        links(html, "http://h.example/old/"),
        ["http://h.example/new/a", "http://h.example/new/b"]
    );
    // A <base> without href does not count; the next one does.
    let html =
        "<base target=_blank><base href='//cdn.example/'><base href='/ignored/'><a href='x'>";
    assert_eq!(links(html, "https://h.example/"), ["https://cdn.example/x"]);
    // An empty href makes the page URL (minus fragment) the base.
    let parsed = page("<base href=''><a href='x'>", "http://h.example/d/p#f");
    assert_eq!(
        parsed.base.as_ref().map(Url::as_str),
        Some("http://h.example/d/p")
    );
    assert_eq!(parsed.links[0].url.as_str(), "http://h.example/d/x");
    // Unparsable bases and data: or javascript: ones are ignored.
    assert_eq!(
        page("<base href='http://[x'>", "http://h.example/").base,
        None
    );
    assert_eq!(
        page("<base href='data:,x'>", "http://h.example/").base,
        None
    );
}

#[test]
fn template_contents_are_not_part_of_the_document() {
    let html = "<template><a href='/inert'></a><title>Inert</title></template>\
        <title>Real</title><a href='/live'></a><template><template><a href='/deep'></template></template><a href='/after'>";
    let parsed = page(html, "http://h.example/");
    assert_eq!(parsed.title.as_deref(), Some("Real"));
    let urls: Vec<&str> = parsed.links.iter().map(|l| l.url.path()).collect();
    assert_eq!(urls, ["/live", "/after"]);
}

#[test]
fn noscript_content_is_text_like_in_a_scripting_browser() {
    let html = "<head><noscript><a href='/head-ns'></a></noscript></head>\
        <body><noscript><a href='/body-ns'></a></noscript><a href='/real'></a>";
    assert_eq!(links(html, "http://h.example/"), ["http://h.example/real"]);
}

#[test]
fn first_html_title_decides() {
    assert_eq!(
        page("<title> </title><title>Second</title>", "http://h.example/").title,
        None
    );
    assert_eq!(
        page(
            "<body><svg><title>Tooltip</title></svg><title>Late &amp; real</title>",
            "http://h.example/"
        )
        .title
        .as_deref(),
        Some("Late & real")
    );
    // Only ASCII whitespace is collapsed (like `document.title`).
    assert_eq!(
        page("<title>\u{a0}a \r\n b\u{a0}</title>", "http://h.example/")
            .title
            .as_deref(),
        Some("\u{a0}a b\u{a0}")
    );
    assert_eq!(
        page("<title>unclosed <a href=/x>", "http://h.example/")
            .title
            .as_deref(),
        Some("unclosed <a href=/x>")
    );
}

#[test]
fn canonical_variants() {
    let canonical = |html: &str| {
        page(html, "http://h.example/d/p")
            .canonical
            .map(|url| url.to_string())
    };
    assert_eq!(canonical("<p>none</p>"), None);
    assert_eq!(
        canonical("<link rel=CANONICAL href='../c#frag'>"),
        Some("http://h.example/c".to_owned())
    );
    assert_eq!(
        canonical("<base href='https://b.example/x/'><link rel=canonical href=y>"),
        Some("https://b.example/x/y".to_owned())
    );
    assert_eq!(
        canonical("<link rel=canonical><link rel=canonical href=/2><link rel=canonical href=/3>"),
        Some("http://h.example/2".to_owned())
    );
    assert_eq!(canonical("<link rel=canonical href='javascript:x'>"), None);
    assert_eq!(canonical("<link rel=canonicalize href=/x>"), None);
    assert_eq!(canonical("<link rel=canonical href=''>"), None);
}

#[test]
fn meta_robots_variants() {
    let robots = |html: &str| page(html, "http://h.example/").meta_robots;
    let both = MetaRobots {
        noindex: true,
        nofollow: true,
    };
    assert_eq!(
        robots("<meta name=robots content='NOINDEX,NOFOLLOW'>"),
        both
    );
    assert_eq!(robots("<meta name=' Robots ' content='NONE'>"), both);
    assert_eq!(
        robots("<meta name=robots content='index, follow'>"),
        MetaRobots::default()
    );
    assert_eq!(
        robots("<meta name=robots content=noindex><meta name=robots content=' ,nofollow'>"),
        both
    );
    assert_eq!(
        robots("<meta name=robots content='noindex'>"),
        MetaRobots {
            noindex: true,
            nofollow: false
        }
    );
    assert_eq!(
        robots("<meta name=robots content='max-snippet:0 nofollow\tnoarchive'>"),
        MetaRobots {
            noindex: false,
            nofollow: true
        }
    );
    assert_eq!(robots("<meta name=robots>"), MetaRobots::default());
    assert_eq!(
        robots("<meta content=noindex name=description>"),
        MetaRobots::default()
    );
}

#[test]
fn nofollow_merges_across_duplicates() {
    let html = r#"<a href="/a"></a><a href="/a#x" rel="nofollow"></a>
        <a href="/b" rel="external NOFOLLOW"></a><a href="/b" rel="nofollow"></a>
        <a href="/c" rel="nofollowing"></a><a href="http://h.example/b" rel="ugc"></a>"#;
    let summary: Vec<(String, bool)> = page(html, "http://h.example/")
        .links
        .into_iter()
        .map(|l| (l.url.path().to_owned(), l.nofollow))
        .collect();
    assert_eq!(
        summary,
        [
            ("/a".to_owned(), false),
            ("/b".to_owned(), false),
            ("/c".to_owned(), false)
        ]
    );
}

#[test]
fn deeply_nested_and_junk_markup_does_not_break_extraction() {
    let mut html = "<div>".repeat(3_000);
    html.push_str("<a href=/deep>deep</a>");
    html.push_str(&"<table><td><tr><caption><select><option>".repeat(500));
    html.push_str("<a href=/after-junk <b>></a><a href=\"/unterminated");
    let urls: Vec<String> = page(&html, "http://h.example/")
        .links
        .into_iter()
        .map(|l| l.url.path().to_owned())
        .collect();
    assert_eq!(urls.first().map(String::as_str), Some("/deep"));
    assert!(urls.iter().all(|path| path.starts_with('/')));
}

#[test]
fn non_html_input_gives_an_empty_page() {
    let parsed = extract(
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe",
        &Url::parse("http://h.example/").unwrap(),
        None,
    );
    assert_eq!(parsed.title, None);
    assert!(parsed.links.is_empty());
    assert_eq!(parsed.canonical, None);
    let parsed = extract(b"", &Url::parse("http://h.example/").unwrap(), None);
    assert_eq!(parsed.charset, "UTF-8");
    assert!(parsed.links.is_empty());
}

#[test]
fn shift_jis_page_end_to_end() {
    let source =
        "<meta charset=\"Shift_JIS\"><title>日本語のページ</title><a href=\"/ページ\">x</a>";
    let bytes = encoding_rs::SHIFT_JIS.encode(source).0.into_owned();
    let parsed = extract(&bytes, &Url::parse("http://h.example/").unwrap(), None);
    assert_eq!(parsed.charset, "Shift_JIS");
    assert_eq!(parsed.title.as_deref(), Some("日本語のページ"));
    assert_eq!(
        parsed.links[0].url.as_str(),
        "http://h.example/%E3%83%9A%E3%83%BC%E3%82%B8"
    );
    // Without a declaration, detection (helped by the .jp TLD) finds it.
    let undeclared = encoding_rs::SHIFT_JIS
        .encode("<title>日本語のページ</title><p>これは日本語で書かれたページです。</p>")
        .0
        .into_owned();
    let parsed = extract(
        &undeclared,
        &Url::parse("http://h.example.jp/").unwrap(),
        None,
    );
    assert_eq!(parsed.charset, "Shift_JIS");
    assert_eq!(parsed.title.as_deref(), Some("日本語のページ"));
}

#[test]
fn utf16_page_with_bom_end_to_end() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "<title>Ünïcode</title><a href='/x'>x</a>".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let parsed = extract(
        &bytes,
        &Url::parse("http://h.example/").unwrap(),
        Some("utf-8"),
    );
    assert_eq!(parsed.charset, "UTF-16LE");
    assert_eq!(parsed.title.as_deref(), Some("Ünïcode"));
    assert_eq!(parsed.links.len(), 1);
}

#[test]
fn odd_page_urls_do_not_panic() {
    for page_url in [
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://xn--nxasmq6b.xn--jxalpdlp/",
        "http://trailing.dot./",
        "data:text/html,hi",
        "file:///tmp/x.html",
    ] {
        let url = Url::parse(page_url).unwrap();
        let parsed = extract(b"<a href=rel>x</a><a href=http://abs.example/>", &url, None);
        assert!(
            parsed
                .links
                .iter()
                .any(|l| l.url.as_str() == "http://abs.example/")
        );
    }
}

#[test]
fn hostile_nesting_is_cut_and_links_before_the_cut_are_kept() {
    let html = format!(
        "<title>deep</title><a href=\"/before\">b</a>{}<a href=\"/after\">a</a>",
        "<div>".repeat(100_000)
    );
    let parsed = extract_within(
        html.as_bytes(),
        &Url::parse("http://h.example/").unwrap(),
        None,
        Some(1_000_000),
    );
    assert_eq!(parsed.title.as_deref(), Some("deep"));
    let paths: Vec<&str> = parsed.links.iter().map(|l| l.url.path()).collect();
    assert_eq!(paths, ["/before"]);
}

#[test]
fn big_inline_scripts_and_unclosed_links_do_not_trip_the_nesting_guard() {
    let script: String = (0..20_000)
        .map(|i| format!("for(i{i}=0;i{i}<n.length;i{i}++)f();"))
        .collect();
    let html = format!("<a href=/before>b</a><script>{script}</script><a href=/after>a</a>");
    assert_eq!(
        links(&html, "http://h.example/"),
        ["http://h.example/before", "http://h.example/after"]
    );
    let html: String = (0..10_000).map(|i| format!("<a href=/p{i}>x ")).collect();
    assert_eq!(page(&html, "http://h.example/").links.len(), 10_000);
}

#[test]
fn queries_are_percent_encoded_in_the_page_encoding() {
    let on_page = |source: &str, encoding: &'static encoding_rs::Encoding| {
        let bytes = encoding.encode(source).0.into_owned();
        extract(&bytes, &Url::parse("http://h.example/").unwrap(), None)
            .links
            .into_iter()
            .map(|l| l.url.to_string())
            .collect::<Vec<_>>()
    };
    // Paths are always UTF-8; queries follow the page, like a browser.
    assert_eq!(
        on_page(
            "<meta charset=shift_jis><a href='/日本?q=日本'>x</a>",
            encoding_rs::SHIFT_JIS
        ),
        // `本` is 0x96 0x7B, and `{` needs no escape in a query.
        ["http://h.example/%E6%97%A5%E6%9C%AC?q=%93%FA%96{"]
    );
    assert_eq!(
        on_page(
            "<meta charset=windows-1252><base href='?base=café'><a href='?q=café&x=日'>x</a>",
            encoding_rs::WINDOWS_1252
        ),
        ["http://h.example/?q=caf%E9&x=%26%2326085%3B"]
    );
    assert_eq!(
        on_page("<a href='?q=café'>x</a>", encoding_rs::UTF_8),
        ["http://h.example/?q=caf%C3%A9"]
    );
}

#[test]
fn a_base_with_another_scheme_is_honoured_like_a_browser_does() {
    // Relative links resolve against it (and are then dropped as not
    // http(s)); they never silently resolve against the page instead.
    let parsed = page(
        "<base href='ftp://files.example/pub/'><a href='x'></a><a href='http://h.example/abs'></a>",
        "http://h.example/",
    );
    assert_eq!(
        parsed.base.as_ref().map(Url::as_str),
        Some("ftp://files.example/pub/")
    );
    let urls: Vec<&str> = parsed.links.iter().map(|l| l.url.as_str()).collect();
    assert_eq!(urls, ["http://h.example/abs"]);
    // A base that cannot be a base (mailto:) resolves nothing relative.
    assert_eq!(
        links(
            "<base href='mailto:a@b'><a href='x'></a>",
            "http://h.example/"
        ),
        Vec::<String>::new()
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    /// Every link is http(s), without fragment, and listed once.
    fn check_links(parsed: &Page) -> Result<(), TestCaseError> {
        let mut seen = std::collections::HashSet::new();
        for link in &parsed.links {
            prop_assert!(matches!(link.url.scheme(), "http" | "https"));
            prop_assert!(link.url.fragment().is_none());
            prop_assert!(seen.insert(link.url.as_str()), "duplicate {}", link.url);
        }
        if let Some(canonical) = &parsed.canonical {
            prop_assert!(matches!(canonical.scheme(), "http" | "https"));
            prop_assert!(canonical.fragment().is_none());
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn never_panics_and_links_are_http_without_fragment(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048),
            header in proptest::option::of("[ -~]{0,12}"),
        ) {
            let parsed = extract(&bytes, &Url::parse("http://h.example/d/").unwrap(), header.as_deref());
            check_links(&parsed)?;
            let _ = crate::sniff_is_html(&bytes);
        }

        #[test]
        fn never_panics_on_markup_soup(parts in proptest::collection::vec(prop_oneof![
            Just("<a href=".to_owned()), Just("\"".to_owned()), Just("<base href=".to_owned()),
            Just(">".to_owned()), Just("#".to_owned()), Just("../".to_owned()), Just("//".to_owned()),
            Just("javascript:".to_owned()), Just("<title>".to_owned()), "[a-z%?&=/.:]{0,6}",
            Just("<div>".to_owned()), Just("</div>".to_owned()), Just("<script>".to_owned()),
            Just("</script".to_owned()), Just("<!--".to_owned()), Just("-->".to_owned()),
            Just("'".to_owned()), Just("<svg>".to_owned()), Just("/>".to_owned()), Just("é".to_owned()),
        ], 0..40)) {
            let html = parts.concat();
            let parsed = extract(html.as_bytes(), &Url::parse("http://h.example/d/").unwrap(), None);
            check_links(&parsed)?;
        }

    #[test]
    fn query_encoding_never_panics_and_keeps_ascii(query in "\\PC{0,24}") {
        for encoding in [
            encoding_rs::SHIFT_JIS,
            encoding_rs::ISO_2022_JP,
            encoding_rs::WINDOWS_1252,
            encoding_rs::GB18030,
            encoding_rs::EUC_KR,
        ] {
            let encoded = encode_query(encoding, &query);
            if query.is_ascii() {
                prop_assert_eq!(&*encoded, query.as_bytes());
            }
        }
    }
    }
}

#[test]
fn byte_count_matches_a_plain_count_across_block_edges() {
    for len in [0, 1, 254, 255, 256, 510, 511, 1000, 70_000] {
        let text: Vec<u8> = (0..len)
            .map(|i: usize| {
                if i.is_multiple_of(3) || i.is_multiple_of(7) {
                    b'<'
                } else {
                    b'a'
                }
            })
            .collect();
        let plain = text.iter().filter(|&&b| b == b'<').count() as u64;
        assert_eq!(count_byte(&text, b'<'), plain, "length {len}");
    }
    // Blocks made entirely of the byte must not overflow the tally.
    assert_eq!(count_byte(&[b'<'; 1024], b'<'), 1024);
}
