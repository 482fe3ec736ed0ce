//! Sitemaps (sitemaps.org): URL sets and sitemap indexes, plain or gzip,
//! size-capped, parsed as a stream of XML events (no document tree).

use std::collections::{HashSet, VecDeque};
use std::io::Read;

use url::Url;

use crate::client::Fetcher;
use crate::outcome::RedirectVerdict;

/// The protocol's limit for one sitemap, uncompressed; also the cap on a
/// download and on what a gzip sitemap may inflate to.
pub(crate) const SITEMAP_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// The protocol's limit of URLs in one sitemap.
pub const SITEMAP_MAX_URLS: usize = 50_000;

/// What one sitemap file lists.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SitemapDoc {
    /// `<urlset><url><loc>` entries.
    pub urls: Vec<String>,
    /// `<sitemapindex><sitemap><loc>` entries.
    pub sitemaps: Vec<String>,
}

/// Parses a sitemap or sitemap index; stops after `max_urls` entries.
pub(crate) fn parse_sitemap(xml: &[u8], max_urls: usize) -> Result<SitemapDoc, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut doc = SitemapDoc::default();
    let mut buffer = Vec::new();
    let mut in_sitemap = false;
    let mut in_loc = false;
    let mut loc = String::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(start)) => match start.local_name().as_ref() {
                "sitemap" => in_sitemap = true,
                "url" => in_sitemap = false,
                "loc" => {
                    in_loc = true;
                    loc.clear();
                }
                _ => {}
            },
            Ok(Event::End(end)) => {
                if end.local_name().as_ref() == "loc" && in_loc {
                    in_loc = false;
                    let text = loc.trim();
                    if !text.is_empty() {
                        // Checked before the push: a budget of 0 takes none.
                        if doc.urls.len() + doc.sitemaps.len() >= max_urls {
                            return Ok(doc);
                        }
                        let list = if in_sitemap {
                            &mut doc.sitemaps
                        } else {
                            &mut doc.urls
                        };
                        list.push(text.to_owned());
                    }
                }
            }
            Ok(Event::Text(text)) if in_loc => loc.push_str(&text),
            Ok(Event::CData(data)) if in_loc => loc.push_str(&data),
            Ok(Event::GeneralRef(reference)) if in_loc => {
                if let Ok(Some(character)) = reference.resolve_char_ref() {
                    loc.push(character);
                } else {
                    match &*reference {
                        "amp" => loc.push('&'),
                        "lt" => loc.push('<'),
                        "gt" => loc.push('>'),
                        "quot" => loc.push('"'),
                        "apos" => loc.push('\''),
                        _ => {}
                    }
                }
            }
            Ok(Event::Eof) => return Ok(doc),
            Ok(_) => {}
            Err(error) => {
                // A broken tail still yields what came before it.
                if doc.urls.is_empty() && doc.sitemaps.is_empty() {
                    return Err(format!("not a sitemap: {error}"));
                }
                return Ok(doc);
            }
        }
        buffer.clear();
    }
}

/// Inflates a gzip body, refusing to go past `cap` bytes.
pub(crate) fn gunzip_capped(compressed: &[u8], cap: u64) -> Result<Vec<u8>, String> {
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(cap + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| format!("bad gzip: {error}"))?;
    if inflated.len() as u64 > cap {
        return Err(format!("inflates to more than {cap} bytes"));
    }
    Ok(inflated)
}

/// Fetches the sitemaps at `start` (and the sitemaps their indexes list,
/// at most `max_sitemaps` files in all) and returns the page URLs they
/// list (at most `max_urls`) plus a message per sitemap that failed.
pub async fn discover_sitemaps(
    fetcher: &Fetcher,
    start: Vec<Url>,
    max_sitemaps: usize,
    max_urls: usize,
) -> (Vec<Url>, Vec<String>) {
    let fetcher = fetcher.with_limits(SITEMAP_MAX_BYTES, 5);
    let mut queue: VecDeque<Url> = start.into_iter().collect();
    let mut visited: HashSet<Url> = HashSet::new();
    let mut urls = Vec::new();
    let mut problems = Vec::new();
    while let Some(sitemap) = queue.pop_front() {
        if visited.len() >= max_sitemaps || urls.len() >= max_urls {
            break;
        }
        if !visited.insert(sitemap.clone()) {
            continue;
        }
        let fetched = fetcher
            .fetch(&sitemap, &mut |_| RedirectVerdict::Follow)
            .await;
        if let Some(error) = &fetched.error {
            problems.push(format!("sitemap {sitemap}: {}", error.message));
            continue;
        }
        let gzipped = fetched.body.starts_with(&[0x1f, 0x8b]);
        let xml = if gzipped {
            match gunzip_capped(&fetched.body, SITEMAP_MAX_BYTES) {
                Ok(xml) => xml,
                Err(problem) => {
                    problems.push(format!("sitemap {sitemap}: {problem}"));
                    continue;
                }
            }
        } else {
            fetched.body.to_vec()
        };
        match parse_sitemap(&xml, SITEMAP_MAX_URLS) {
            Ok(doc) => {
                for loc in doc.urls {
                    if urls.len() >= max_urls {
                        break;
                    }
                    if let Ok(url) = sitemap.join(&loc) {
                        urls.push(url);
                    }
                }
                queue.extend(doc.sitemaps.iter().filter_map(|loc| sitemap.join(loc).ok()));
            }
            Err(problem) => problems.push(format!("sitemap {sitemap}: {problem}")),
        }
    }
    (urls, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn url_sets_and_indexes_are_read() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc> http://a.example/one </loc><lastmod>2024-01-01</lastmod></url>
              <url><loc>http://a.example/two?x=1&amp;y=2</loc></url>
              <url><loc><![CDATA[http://a.example/three]]></loc></url>
            </urlset>"#;
        let doc = parse_sitemap(xml, 100).unwrap();
        assert_eq!(
            doc.urls,
            [
                "http://a.example/one",
                "http://a.example/two?x=1&y=2",
                "http://a.example/three"
            ]
        );
        let index = br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <sitemap><loc>http://a.example/s1.xml.gz</loc></sitemap></sitemapindex>"#;
        assert_eq!(
            parse_sitemap(index, 100).unwrap().sitemaps,
            ["http://a.example/s1.xml.gz"]
        );
    }

    #[test]
    fn limits_and_garbage() {
        let mut xml = String::from("<urlset>");
        for i in 0..100 {
            xml.push_str(&format!("<url><loc>http://a.example/{i}</loc></url>"));
        }
        xml.push_str("</urlset>");
        assert_eq!(parse_sitemap(xml.as_bytes(), 10).unwrap().urls.len(), 10);
        assert!(
            parse_sitemap(b"\x00\x01 not xml <<<", 10)
                .map(|doc| doc.urls.is_empty())
                .unwrap_or(true)
        );
    }

    #[test]
    fn gzip_is_capped() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&vec![b'a'; 10_000]).unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(gunzip_capped(&gz, 20_000).unwrap().len(), 10_000);
        assert!(gunzip_capped(&gz, 1_000).is_err());
        assert!(gunzip_capped(b"not gzip", 1_000).is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Arbitrary bytes and XML-shaped soup: a document or an error,
            /// never a panic, never more URLs than asked for.
            #[test]
            fn any_input_parses_or_errs(
                soup in proptest::collection::vec(prop_oneof![
                    Just("<urlset>".to_owned()),
                    Just("</urlset>".to_owned()),
                    Just("<sitemapindex>".to_owned()),
                    Just("<sitemap>".to_owned()),
                    Just("<url>".to_owned()),
                    Just("</url>".to_owned()),
                    Just("<loc>".to_owned()),
                    Just("</loc>".to_owned()),
                    Just("<![CDATA[".to_owned()),
                    Just("]]>".to_owned()),
                    Just("&amp;".to_owned()),
                    Just("&#x1F600;".to_owned()),
                    Just("&bogus;".to_owned()),
                    "http://a\\.example/[a-z]{0,5}",
                    "\\PC{0,12}",
                ], 0..40),
                raw in proptest::collection::vec(any::<u8>(), 0..200),
                max in 0usize..5,
            ) {
                let xml = soup.concat();
                if let Ok(doc) = parse_sitemap(xml.as_bytes(), max) {
                    prop_assert!(doc.urls.len() + doc.sitemaps.len() <= max);
                }
                let _ = parse_sitemap(&raw, max);
                let _ = gunzip_capped(&raw, 1024);
            }
        }
    }
}
