//! The realistic page profile: pages shaped like real ones (a header and
//! nav, paragraphs with inline markup, lists, a footer, inline scripts and
//! styles, asset references) with 20–60 links in mixed spellings, and sizes
//! spread from 2 KB to 200 KB. Deterministic: a page's seed decides its
//! size and its markup.
//!
//! Only `<a href>` links that the graph has are crawlable: every other link
//! is a fragment of the same page, off-site (some with query strings),
//! or `mailto:`/`tel:`, so the ground truth stays the graph's. (trawl
//! follows `rel="nofollow"` links by default, so on-site queries would be
//! pages of their own.)

use bytes::Bytes;

use crate::site::{Graph, SplitMix64, is_unlinked};

/// Pages every page links to from its nav bar (kept in the graph, so the
/// ground truth knows them).
const NAV: [usize; 6] = [1, 2, 3, 4, 5, 6];

/// The nav targets a site of `pages` pages has.
pub(crate) fn nav_targets(pages: usize) -> impl Iterator<Item = usize> {
    NAV.into_iter()
        .filter(move |&page| page < pages && !is_unlinked(page))
}

/// Smallest and largest page body, in bytes.
const MIN_BYTES: f64 = 2_000.0;
const MAX_BYTES: f64 = 200_000.0;

/// The size of `page`: `MIN × (MAX/MIN)^(u²)`, u uniform in [0, 1): most
/// pages small (median ~6 KB), a long tail up to 200 KB (mean ~25 KB).
pub(crate) fn page_size(rng: &mut SplitMix64) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (MIN_BYTES * (MAX_BYTES / MIN_BYTES).powf(u * u)) as usize
}

const WORDS: [&str; 24] = [
    "crawler",
    "frontier",
    "politeness",
    "robots",
    "schedule",
    "latency",
    "queue",
    "host",
    "request",
    "response",
    "canonical",
    "fragment",
    "parser",
    "stream",
    "buffer",
    "record",
    "sitemap",
    "redirect",
    "timeout",
    "header",
    "charset",
    "budget",
    "journal",
    "worker",
];

fn words(rng: &mut SplitMix64, html: &mut String, count: usize) {
    for i in 0..count {
        if i > 0 {
            html.push(' ');
        }
        html.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
}

/// A crawlable link to `target` from `from`, in one of several spellings
/// that all resolve to `/p/{target}` (or `/`).
fn href(from: usize, target: usize, base: &str, variant: u64) -> String {
    if target == 0 {
        return if variant.is_multiple_of(2) {
            "/".to_owned()
        } else {
            format!("{base}/")
        };
    }
    match variant % 6 {
        0 => format!("/p/{target}"),
        1 => format!("{base}/p/{target}"),
        2 => format!("../p/{target}"),
        3 => format!("/p/{target}#section-{}", variant % 7),
        4 if from == 0 => format!("./p/{target}"),
        4 => format!("./{target}"),
        _ if from == 0 => format!("p/{target}"),
        _ => format!("{target}"),
    }
}

/// Links that must never become a fetch: (href, extra attributes).
fn inert_link(rng: &mut SplitMix64, page: usize) -> (String, &'static str) {
    match rng.below(6) {
        0 => (format!("#section-{}", rng.below(9)), ""),
        1 => (
            format!("https://outside.invalid/share?u=%2Fp%2F{page}&ref=page"),
            "",
        ),
        2 => ("mailto:editor@example.invalid?subject=Hello".to_owned(), ""),
        3 => ("tel:+15550100".to_owned(), ""),
        4 => (
            format!(
                "https://search.outside.invalid/?q={}&page={}",
                WORDS[page % WORDS.len()],
                rng.below(9)
            ),
            " rel=\"nofollow\"",
        ),
        _ => (
            format!("http://elsewhere.invalid/docs/{}", rng.below(1000)),
            "",
        ),
    }
}

/// Renders `page` of `graph` in the realistic profile.
pub(crate) fn render(graph: &Graph, page: usize, base: &str, seed: u64) -> Bytes {
    let mut rng = SplitMix64::new(seed ^ (page as u64).wrapping_mul(0x9E6C_63D0_676A_9A99));
    let size = page_size(&mut rng);
    let links_wanted = 20 + rng.below(41) as usize;
    let nav: Vec<usize> = nav_targets(graph.links.len()).collect();
    let body: Vec<usize> = graph.links[page]
        .iter()
        .copied()
        .filter(|target| !nav.contains(target))
        .collect();
    let mut html = String::with_capacity(size + 2048);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(&format!("<title>Page {page} · Example Docs</title>\n"));
    html.push_str("<link rel=\"stylesheet\" href=\"/static/site.css?v=3\">\n");
    html.push_str("<link rel=\"icon\" href=\"/favicon.ico\">\n");
    html.push_str(
        "<style>body{font-family:sans-serif;margin:0}nav a{padding:0 .5em}\
         .note{background:#ffd;border-left:3px solid #cc0}</style>\n",
    );
    html.push_str(
        "<script>window.dataLayer=window.dataLayer||[];function track(e){dataLayer.push(e)}\
         if(document.cookie.indexOf('a<b')>-1){track({'x':\"</p>\"})}</script>\n</head>\n<body>\n",
    );
    html.push_str("<header><a class=\"logo\" href=\"/\"><img src=\"/static/logo.svg\" alt=\"Example\"></a>\n<nav>\n");
    let mut links = 1;
    for (i, &target) in nav.iter().enumerate() {
        html.push_str(&format!(
            "<a href=\"{}\">Section {target}</a>\n",
            href(page, target, base, i as u64 + page as u64)
        ));
        links += 1;
    }
    html.push_str("</nav></header>\n<main>\n");
    html.push_str(&format!(
        "<h1 id=\"top\">Page {page}</h1>\n<p class=\"lead\">"
    ));
    words(&mut rng, &mut html, 12);
    html.push_str("</p>\n<ul class=\"toc\">\n");
    for &target in &body {
        html.push_str(&format!(
            "<li><a href=\"{}\">page {target}</a></li>\n",
            href(page, target, base, rng.next_u64())
        ));
        links += 1;
    }
    html.push_str("</ul>\n");
    let mut section = 0;
    // Paragraphs until the size is reached; links (repeats of the graph's,
    // and inert ones) spread through them until the page has its count.
    while html.len() + 200 < size || links < links_wanted {
        section += 1;
        html.push_str(&format!("<h2 id=\"section-{section}\">"));
        words(&mut rng, &mut html, 3);
        html.push_str("</h2>\n<p>");
        for sentence in 0..(3 + rng.below(5)) {
            let count = 6 + rng.below(10) as usize;
            words(&mut rng, &mut html, count);
            match (sentence + section) % 4 {
                0 => html.push_str(" <em>emphasis</em> and <code>a_code_span()</code>"),
                1 => html.push_str(" <strong>strong</strong> &amp; <span class=\"x\">spans</span>"),
                _ => {}
            }
            if links < links_wanted {
                if !body.is_empty() && rng.below(2) == 0 {
                    let target = body[rng.below(body.len() as u64) as usize];
                    html.push_str(&format!(
                        " see <a href=\"{}\">this</a>",
                        href(page, target, base, rng.next_u64())
                    ));
                } else {
                    let (link, attributes) = inert_link(&mut rng, page);
                    html.push_str(&format!(" <a href=\"{link}\"{attributes}>more</a>"));
                }
                links += 1;
            }
            html.push_str(". ");
        }
        html.push_str("</p>\n");
        if section % 3 == 0 {
            html.push_str("<ol>\n");
            for _ in 0..4 {
                html.push_str("<li>");
                words(&mut rng, &mut html, 5);
                html.push_str("</li>\n");
            }
            html.push_str("</ol>\n<div class=\"note\"><p>Note: ");
            words(&mut rng, &mut html, 8);
            html.push_str("</p></div>\n");
        }
        if section % 5 == 0 {
            html.push_str(&format!(
                "<pre><code>let page = fetch(\"/p/{page}\").await?;\nif a &lt; b {{ return; }}</code></pre>\n\
                 <img src=\"/static/figure-{section}.png\" alt=\"figure\" width=\"640\" height=\"360\">\n"
            ));
        }
    }
    html.push_str(
        "</main>\n<footer><p>&copy; Example · <a href=\"mailto:web@example.invalid\">contact</a> · \
         <a href=\"https://outside.invalid/privacy\">privacy</a></p></footer>\n",
    );
    html.push_str("<script src=\"/static/app.js\" defer></script>\n</body></html>\n");
    Bytes::from(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_spread_from_2_to_200_kb_and_links_from_20_to_60() {
        let mut graph = Graph::generate(2000, 10, 1);
        crate::site::add_nav(&mut graph);
        let mut sizes = Vec::new();
        for page in 0..2000 {
            let html = render(&graph, page, "http://127.0.0.1:1", 1);
            let text = std::str::from_utf8(&html).unwrap();
            let links = text.matches("<a href=").count();
            assert!((20..=62).contains(&links), "page {page}: {links} links");
            sizes.push(html.len());
        }
        sizes.sort_unstable();
        let (min, median, max) = (sizes[0], sizes[1000], sizes[1999]);
        assert!(min >= 2_000 && max <= 210_000, "{min}..{max}");
        assert!(max > 100_000, "a long tail: {max}");
        assert!((4_000..12_000).contains(&median), "median {median}");
        assert_eq!(
            render(&graph, 7, "http://h", 1),
            render(&graph, 7, "http://h", 1),
            "deterministic"
        );
    }
}
