//! The single pass over a parsed document that collects every page fact.

use std::collections::HashMap;

use scraper::{ElementRef, Html};
use url::Url;

use crate::charset::decode_html;

/// What a page says about itself and where it links.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// First `<title>`, whitespace runs collapsed; `None` when absent or empty.
    pub title: Option<String>,
    /// `a[href]` and `area[href]` targets in document order, deduplicated.
    pub links: Vec<Link>,
    /// Name of the encoding the bytes were decoded with.
    pub charset: &'static str,
    /// `<link rel="canonical" href>`, resolved.
    pub canonical: Option<Url>,
    /// `<meta name="robots">` directives.
    pub meta_robots: MetaRobots,
    /// The effective `<base href>`, when present and valid.
    pub base: Option<Url>,
}

/// One outlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Absolute http(s) URL without fragment.
    pub url: Url,
    /// Every occurrence of the link carried `rel="nofollow"`.
    pub nofollow: bool,
}

/// Directives of `<meta name="robots" content="...">`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MetaRobots {
    pub noindex: bool,
    pub nofollow: bool,
}

struct RawLink {
    href: String,
    nofollow: bool,
}

/// Parses `html` (decoded per the charset rules) and collects the page facts.
pub fn extract(html: &[u8], page_url: &Url, header_charset: Option<&str>) -> Page {
    let (text, encoding) = decode_html(html, header_charset);
    let document = Html::parse_document(&text);

    let mut title = None;
    let mut raw_links = Vec::new();
    let mut base_href: Option<String> = None;
    let mut canonical_href: Option<String> = None;
    let mut meta_robots = MetaRobots::default();

    for node in document.root_element().descendants() {
        let Some(element) = ElementRef::wrap(node) else {
            continue;
        };
        let value = element.value();
        match value.name() {
            "a" | "area" => {
                if let Some(href) = value.attr("href") {
                    let nofollow = value
                        .attr("rel")
                        .is_some_and(|rel| has_token(rel, "nofollow"));
                    raw_links.push(RawLink {
                        href: href.to_owned(),
                        nofollow,
                    });
                }
            }
            "title" if title.is_none() => {
                let collapsed = collapse_whitespace(element.text());
                if !collapsed.is_empty() {
                    title = Some(collapsed);
                }
            }
            "base" if base_href.is_none() => {
                if let Some(href) = value.attr("href") {
                    base_href = Some(href.to_owned());
                }
            }
            "link" if canonical_href.is_none() => {
                if value
                    .attr("rel")
                    .is_some_and(|rel| has_token(rel, "canonical"))
                    && let Some(href) = value.attr("href")
                {
                    canonical_href = Some(href.to_owned());
                }
            }
            "meta" => {
                if value
                    .attr("name")
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case("robots"))
                    && let Some(content) = value.attr("content")
                {
                    for token in content.split([',', ' ', '\t']).map(str::trim) {
                        if token.eq_ignore_ascii_case("noindex")
                            || token.eq_ignore_ascii_case("none")
                        {
                            meta_robots.noindex = true;
                        }
                        if token.eq_ignore_ascii_case("nofollow")
                            || token.eq_ignore_ascii_case("none")
                        {
                            meta_robots.nofollow = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    let base = base_href
        .as_deref()
        .and_then(|href| page_url.join(&clean_href(href)).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"));
    let resolve_against = base.as_ref().unwrap_or(page_url);

    let mut links: Vec<Link> = Vec::with_capacity(raw_links.len());
    let mut positions: HashMap<String, usize> = HashMap::with_capacity(raw_links.len());
    for raw in raw_links {
        let Some(url) = resolve(resolve_against, &raw.href) else {
            continue;
        };
        match positions.get(url.as_str()) {
            Some(&index) => links[index].nofollow &= raw.nofollow,
            None => {
                positions.insert(url.as_str().to_owned(), links.len());
                links.push(Link {
                    url,
                    nofollow: raw.nofollow,
                });
            }
        }
    }
    let canonical = canonical_href.and_then(|href| resolve(resolve_against, &href));

    Page {
        title,
        links,
        charset: encoding.name(),
        canonical,
        meta_robots,
        base,
    }
}

/// Browsers strip leading/trailing ASCII whitespace and remove tabs and
/// newlines anywhere in a URL before parsing it.
fn clean_href(href: &str) -> String {
    href.trim_matches(|c: char| c.is_ascii_whitespace())
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// Resolves an href to an absolute http(s) URL without fragment; `None` for
/// empty and fragment-only hrefs (the page itself) and other schemes.
fn resolve(base: &Url, href: &str) -> Option<Url> {
    let href = clean_href(href);
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let mut url = base.join(&href).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

fn has_token(list: &str, token: &str) -> bool {
    list.split_ascii_whitespace()
        .any(|t| t.eq_ignore_ascii_case(token))
}

fn collapse_whitespace<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for part in parts {
        for word in part.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
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
            .encode(
                "<meta charset=iso-8859-1><title>Café Ñandú</title><a href=\"/caf\u{e9}\">x</a>",
            )
            .0
            .into_owned();
        let parsed = extract(&html, &Url::parse("http://h.example/").unwrap(), None);
        assert_eq!(parsed.title.as_deref(), Some("Café Ñandú"));
        assert_eq!(parsed.charset, "windows-1252");
        assert_eq!(parsed.links[0].url.as_str(), "http://h.example/caf%C3%A9");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_and_links_are_http_without_fragment(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let parsed = extract(&bytes, &Url::parse("http://h.example/d/").unwrap(), None);
                for link in parsed.links {
                    prop_assert!(matches!(link.url.scheme(), "http" | "https"));
                    prop_assert!(link.url.fragment().is_none());
                }
            }

            #[test]
            fn never_panics_on_markup_soup(parts in proptest::collection::vec(prop_oneof![
                Just("<a href=".to_owned()), Just("\"".to_owned()), Just("<base href=".to_owned()),
                Just(">".to_owned()), Just("#".to_owned()), Just("../".to_owned()), Just("//".to_owned()),
                Just("javascript:".to_owned()), Just("<title>".to_owned()), "[a-z%?&=/.:]{0,6}",
            ], 0..40)) {
                let html = parts.concat();
                let parsed = extract(html.as_bytes(), &Url::parse("http://h.example/d/").unwrap(), None);
                for link in parsed.links {
                    prop_assert!(matches!(link.url.scheme(), "http" | "https"));
                    prop_assert!(link.url.fragment().is_none());
                }
            }
        }
    }
}
