//! Throughput of `trawl_extractor::extract` (decode + parse + collect links)
//! on generated pages of ~20 KB and ~200 KB (the scan answers), with links
//! in table cells (the scan gives up, the streaming pass answers), the
//! fallback (a page with a link in table structure, which a tree builder
//! moves: both give up and the reference parses it again), the reference
//! alone, and per page on 64 pages of the test site's realistic profile
//! (`trawl_testsite::SitePages`).
//!
//! `cargo bench -p trawl-extractor --bench extract` (add `-- --quick` for a
//! fast look). Reported as bytes of HTML per second.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trawl_extractor::{Parser, extract_reference, extract_with};
use url::Url;

/// A page like a news or documentation site's: a head with meta tags,
/// scripts and styles, a 50-link nav, article paragraphs, a table and 100
/// links in assorted relative spellings. Article sections repeat until the
/// page is at least `target` bytes. With `fostered`, each table has a stray
/// link outside its cells.
fn page(target: usize, tables: bool, fostered: bool) -> String {
    let mut html = String::with_capacity(target + 4096);
    html.push_str(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="A benchmark page with the usual furniture of a real site.">
<meta property="og:title" content="Benchmark page">
<meta name="robots" content="index, follow">
<title>  Benchmark   page — trawl  </title>
<link rel="canonical" href="https://www.example.com/articles/benchmark-page">
<link rel="stylesheet" href="/static/css/site.3f2a9c.css">
<link rel="icon" href="/favicon.ico">
<style>
  body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 60rem; }
  nav ul { display: flex; flex-wrap: wrap; list-style: none; gap: .5rem; }
  table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .25rem; }
  .ad-slot[data-size="300x250"] > iframe { width: 300px; height: 250px; }
</style>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-XXXX"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date()); gtag('config', 'G-XXXX');
  if (document.querySelector('a[href^="/"]') && 1 < 2) { console.log("<a href='/not-a-link'>"); }
</script>
</head>
<body>
<header><a href="/" class="logo"><img src="/static/logo.svg" alt="Example"></a>
<nav aria-label="main"><ul>
"#,
    );
    for i in 0..50 {
        let _ = writeln!(
            html,
            r#"<li><a href="/section/{i}/" class="nav-link{}">Section {i}</a></li>"#,
            if i % 7 == 0 { " active" } else { "" }
        );
    }
    html.push_str("</ul></nav></header>\n<main>\n");
    // Each section: a list of 100 links, then paragraphs and a table while
    // the page is still short of `target` (so it overshoots by < 1.5 KB).
    let mut section = 0;
    while html.len() < target {
        let _ = writeln!(
            html,
            "<article id=\"s{section}\"><h2>Part {section}: on crawling politely</h2>\n<ul class=\"related\">"
        );
        for i in 0..100 {
            let n = section * 100 + i;
            let href = match i % 10 {
                0 => format!("https://www.example.com/articles/{n}"),
                1 => format!("/articles/{n}"),
                2 => format!("articles/{n}.html"),
                3 => format!("../tags/tag-{n}/"),
                4 => format!("./page-{n}#comments"),
                5 => format!("//cdn.example.net/files/{n}.pdf"),
                6 => format!("?page={n}&amp;sort=new"),
                7 => format!("/a/b/../c/./{n}"),
                8 => format!("mailto:user{n}@example.com"),
                _ => format!("HTTP://WWW.Example.COM:80/Mixed/Case/{n}?b=2&amp;a=1"),
            };
            let rel = if i % 13 == 0 { " rel=\"nofollow\"" } else { "" };
            let _ = writeln!(
                html,
                "<li><a href=\"{href}\"{rel}>Related item {n}</a></li>"
            );
        }
        html.push_str("</ul>\n");
        for p in 0..6 {
            if html.len() >= target {
                break;
            }
            let _ = writeln!(
                html,
                "<p>Paragraph {p} of part {section}. A crawler that is <em>fast</em> and \
                 <strong>polite</strong> keeps many requests in flight while limiting each host; \
                 see <a href=\"/docs/guide#limits\">the guide</a> &amp; the \
                 <a href=\"faq.html?q={p}&amp;lang=en\">FAQ</a>. Lorem ipsum dolor sit amet, \
                 consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.</p>"
            );
        }
        if tables && html.len() < target {
            html.push_str("<table><thead><tr><th>host</th><th>pages</th><th>p50 ms</th><th>link</th></tr></thead><tbody>\n");
            if fostered {
                html.push_str("<a href=\"/stray\">stray</a>\n");
            }
            for row in 0..10 {
                let _ = writeln!(
                    html,
                    "<tr><td>host{row}.example.org</td><td>{}</td><td>{}.{}</td>\
                     <td><a href=\"https://host{row}.example.org/report?id={section}\">report</a></td></tr>",
                    row * 131 + section,
                    row * 3 + 1,
                    section % 10
                );
            }
            html.push_str("</tbody></table>\n");
        }
        html.push_str("</article>\n");
        section += 1;
    }
    html.push_str(
        "</main>\n<footer><p>&copy; Example</p><map name=\"m\"><area href=\"/map/1\" alt=\"one\"></map></footer>\n\
         <script src=\"/static/js/app.91b2.js\" defer></script>\n</body>\n</html>\n",
    );
    html
}

fn extract(c: &mut Criterion) {
    let page_url = Url::parse("https://www.example.com/articles/benchmark-page").unwrap();
    let mut group = c.benchmark_group("extract");
    // Without tables the scan handles the page alone; links in table cells
    // take the streaming pass; with a link in table structure both give up
    // and the page is parsed again by the reference.
    for (name, target, tables, fostered, expected) in [
        ("20KB", 20_000, false, false, Parser::Scan),
        ("200KB", 200_000, false, false, Parser::Scan),
        ("20KB-tables", 20_000, true, false, Parser::Streaming),
        ("20KB-fostered", 20_000, true, true, Parser::Reference),
    ] {
        let html = page(target, tables, fostered);
        // Sanity: the generated page has what the benchmark claims.
        let (page, parser) = extract_with(html.as_bytes(), &page_url, None, Parser::Streaming);
        assert!(
            page.links.len() >= 150,
            "{name}: only {} links",
            page.links.len()
        );
        assert_eq!(parser, expected, "{name}");
        assert_eq!(page, extract_reference(html.as_bytes(), &page_url, None));
        eprintln!(
            "extract/{name}: {} bytes, {} links",
            html.len(),
            page.links.len()
        );
        group.throughput(Throughput::Bytes(html.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                extract_with(
                    black_box(html.as_bytes()),
                    black_box(&page_url),
                    None,
                    Parser::Streaming,
                )
            })
        });
        group.bench_function(format!("{name}-reference"), |b| {
            b.iter(|| extract_reference(black_box(html.as_bytes()), black_box(&page_url), None))
        });
    }
    // Pages of the test site's realistic profile (2–200 KB, mean ~25 KB,
    // 20–60 links), 64 of them per iteration, reported per page.
    let site = trawl_testsite::SitePages::new(trawl_testsite::SiteConfig {
        pages: 64,
        profile: trawl_testsite::PageProfile::Realistic,
        ..trawl_testsite::SiteConfig::default()
    });
    let pages: Vec<String> = (0..site.len())
        .map(|page| site.html(page, "https://www.example.com"))
        .collect();
    for html in &pages {
        let (_, parser) = extract_with(html.as_bytes(), &page_url, None, Parser::Streaming);
        assert_eq!(parser, Parser::Scan, "realistic page not scanned");
    }
    let bytes: usize = pages.iter().map(String::len).sum();
    eprintln!("extract/realistic: 64 pages, {} bytes mean", bytes / 64);
    group.throughput(Throughput::Elements(pages.len() as u64));
    group.bench_function("realistic", |b| {
        b.iter(|| {
            for html in &pages {
                black_box(extract_with(
                    black_box(html.as_bytes()),
                    black_box(&page_url),
                    None,
                    Parser::Streaming,
                ));
            }
        })
    });
    // The fixed cost per page, reported per page.
    let tiny = b"<!doctype html><title>t</title><a href=/x>x</a>";
    group.throughput(Throughput::Elements(1));
    group.bench_function("tiny-page", |b| {
        b.iter(|| {
            extract_with(
                black_box(tiny),
                black_box(&page_url),
                None,
                Parser::Streaming,
            )
        })
    });
    group.bench_function("tiny-page-reference", |b| {
        b.iter(|| extract_reference(black_box(tiny), black_box(&page_url), None))
    });
    group.finish();
}

criterion_group!(benches, extract);
criterion_main!(benches);
