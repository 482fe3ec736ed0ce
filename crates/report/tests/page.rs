//! The report from JSONL text to page: what it counts, what it escapes,
//! what it survives.

use std::io::Cursor;

use trawl_report::{Limits, Report};

fn record(url: &str, status: Option<u16>, title: &str, links: &[&str]) -> String {
    serde_json::json!({
        "url": url, "final_url": url, "depth": 1, "parent": "http://a.example/",
        "status": status, "content_type": "text/html", "bytes": 1200, "elapsed_ms": 7,
        "fetched_at": "2026-11-25T07:00:00.123Z", "title": title, "links": links,
        "nofollow_links": [], "redirects": [],
        "error": if status.is_some_and(|s| s >= 400) {
            serde_json::json!({"kind": "http", "message": "status"})
        } else {
            serde_json::Value::Null
        },
        "charset": "UTF-8", "canonical": null, "noindex": false, "nofollow": false,
        "location": null, "attempts": 1
    })
    .to_string()
}

fn report_of(text: &str) -> (Report, String) {
    let mut report = Report::new(Limits::default());
    report
        .read(Cursor::new(text.as_bytes()))
        .expect("in memory");
    let page = report.render("crawl.jsonl");
    (report, page)
}

/// Every tag of the page that could load something: `src`, `href` outside
/// `<a>`, `<link>`, `<script>`, CSS `url(` and `@import`.
fn loading_references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = page.to_ascii_lowercase();
    for (at, _) in lower.match_indices('<') {
        let tag = &lower[at..lower[at..]
            .find('>')
            .map_or(lower.len(), |end| at + end + 1)];
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(
            name.as_str(),
            "script" | "link" | "img" | "iframe" | "object" | "embed" | "image" | "use"
        ) || tag.contains(" src=")
            || tag.contains("srcset=")
            || (tag.contains("href=") && name != "a")
        {
            found.push(tag.to_owned());
        }
    }
    for css in ["url(", "@import"] {
        if lower.contains(css) {
            found.push(css.to_owned());
        }
    }
    found
}

#[test]
fn hostile_text_from_the_crawl_is_inert() {
    let title = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";
    let text = record(
        "http://a.example/\"><script>alert(3)</script>",
        Some(404),
        title,
        &["javascript:alert(4)"],
    ) + "\n"
        + &record("http://a.example/big", Some(200), title, &[])
        + "\n";
    let (report, page) = report_of(&text);
    assert_eq!(report.records(), 2);
    assert!(!page.to_ascii_lowercase().contains("<script"), "{page}");
    assert!(!page.contains("<img"));
    assert!(page.contains(
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;"
    ));
    assert!(
        page.contains("href=\"http://a.example/&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;\"")
    );
    // Not an http(s) URL: text, never a link.
    assert!(page.contains("<td class=\"url\">javascript:alert(4)</td>"));
    assert!(!page.contains("href=\"javascript:"));
    assert_eq!(loading_references(&page), Vec::<String>::new());
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

#[test]
fn bad_lines_are_counted_and_named_never_fatal() {
    let good = record("http://a.example/p", Some(200), "P", &[]);
    let text = format!(
        "{good}\nnot json\n\n{{\"url\": 5}}\n[1]\n{good}\r\n\u{feff}x\n{}\n{good}",
        &good[..good.len() / 2]
    );
    let (report, page) = report_of(&text);
    assert_eq!(
        report.records(),
        3,
        "CRLF and a last line without newline count"
    );
    assert_eq!(report.bad_lines(), 5, "the blank line is skipped, not bad");
    let (line, reason) = report.first_bad_line().unwrap();
    assert_eq!(line, 2);
    assert!(reason.starts_with("not JSON"), "{reason}");
    assert!(
        page.contains(
            "<p class=\"warning\" id=\"bad-lines\">5 lines could not be read, first at line 2 (not JSON"
        ),
        "{page}"
    );
    // Invalid UTF-8 and binary junk are bad lines too.
    let mut report = Report::new(Limits::default());
    report
        .read(Cursor::new(
            b"\xff\xfe\x00junk\n{\"url\":\"\xff\"}\n".to_vec(),
        ))
        .unwrap();
    assert_eq!((report.records(), report.bad_lines()), (0, 2));
    let page = report.render("x");
    assert!(page.contains("2 lines could not be read, first at line 1"));
}

#[test]
fn an_overlong_line_is_skipped_in_bounded_memory() {
    let good = record("http://a.example/p", Some(200), "P", &[]);
    let long = format!("{{\"url\":\"{}\"}}", "x".repeat(10_000));
    let text = format!("{good}\n{long}\n{good}\n");
    let mut report = Report::new(Limits {
        max_line: 2_000,
        ..Limits::default()
    });
    // A reader with a tiny buffer, so the long line arrives in pieces.
    report
        .read(std::io::BufReader::with_capacity(64, Cursor::new(text)))
        .unwrap();
    assert_eq!((report.records(), report.bad_lines()), (2, 1));
    assert_eq!(report.first_bad_line(), Some((2, "longer than 2000 bytes")));
}

#[test]
fn an_empty_crawl_makes_a_page_with_empty_charts() {
    let (report, page) = report_of("");
    assert_eq!(report.records(), 0);
    for id in [
        "chart-status",
        "chart-errors",
        "chart-depth",
        "chart-hosts",
        "chart-types",
        "chart-sizes",
        "chart-latency",
        "chart-time",
    ] {
        assert!(page.contains(&format!("<svg id=\"{id}\"")), "{id}");
    }
    assert!(page.contains("no data"));
    assert!(!page.contains("bad-lines"));
}

#[test]
fn charts_lists_and_summary_carry_the_numbers() {
    let mut text = String::new();
    for i in 0..50 {
        let status = if i % 10 == 0 { Some(500) } else { Some(200) };
        text += &record(
            &format!("http://h{}.example/p/{i}", i % 3),
            status,
            &format!("Page {i}"),
            &[
                "http://h0.example/",
                &format!("http://h1.example/p/{}", i % 5),
            ],
        );
        text.push('\n');
    }
    let (_, page) = report_of(&text);
    assert!(
        page.contains("data-label=\"200\" data-value=\"45\""),
        "{page}"
    );
    assert!(page.contains("data-label=\"500\" data-value=\"5\""));
    assert!(page.contains("data-label=\"http\" data-value=\"5\""));
    assert!(page.contains("data-label=\"h0.example\" data-value=\"17\""));
    assert!(page.contains("data-label=\"text/html\" data-value=\"50\""));
    // The most linked URL: every page links to it.
    let most = page.split("id=\"most-linked\"").nth(1).unwrap();
    assert!(most.contains(
        "<td class=\"n\">1</td><td class=\"n\">50</td><td class=\"url\"><a href=\"http://h0.example/\""
    ));
    assert!(most.contains("Exact"));
    let broken = page.split("id=\"broken\"").nth(1).unwrap();
    assert!(broken.contains("5 in all."));
    assert!(broken.contains(
        "http://h0.example/p/0</a></td><td>500</td><td class=\"url\"><a href=\"http://a.example/\""
    ));
    assert!(page.contains("<th scope=\"row\">Hosts</th><td>3</td>"));
    assert!(page.contains("<th scope=\"row\">Links found</th><td>100</td>"));
}

#[test]
fn the_caps_hold_and_the_page_says_so() {
    let limits = Limits {
        top: 3,
        broken: 2,
        hosts: 4,
        link_targets: 4,
        distinct_hosts: 5,
        ..Limits::default()
    };
    let mut report = Report::new(limits);
    let mut text = String::new();
    for i in 0..200 {
        text += &record(
            &format!("http://h{i}.example/"),
            Some(404),
            "",
            &["http://popular.example/", &format!("http://x.example/{i}")],
        );
        text.push('\n');
    }
    report.read(Cursor::new(text)).unwrap();
    let page = report.render("x");
    assert!(page.contains("at least 5 (counted exactly up to that)"));
    assert!(page.contains("The first 2 of 200."));
    assert!(page.contains("counts are lower bounds"));
    let most = page.split("id=\"most-linked\"").nth(1).unwrap();
    assert!(most.contains("More than 4 distinct targets"));
    assert!(most.contains("<a href=\"http://popular.example/\""));
    let largest = page.split("id=\"largest\"").nth(1).unwrap();
    let largest = largest.split("</table>").next().unwrap();
    assert_eq!(largest.matches("<tr><td class=\"n\">").count(), 3);
}
