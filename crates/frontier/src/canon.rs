//! Canonical URLs: the form every URL takes before it is compared, queued or
//! recorded, so that five spellings of one page are fetched once.

use url::Url;

/// Why a URL has no canonical form that trawl can fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonError {
    /// Only `http` and `https` are ever fetched.
    #[error("unsupported scheme `{0}`: only http and https URLs are crawled")]
    UnsupportedScheme(String),
    /// `http:` URLs without a host (e.g. `http:///x`) cannot be requested.
    #[error("URL has no host")]
    NoHost,
    /// The text is not a URL at all.
    #[error("not a valid URL: {0}")]
    Parse(#[from] url::ParseError),
}

/// Parses `text` as an absolute URL and canonicalises it.
pub fn parse_canonical(text: &str) -> Result<Url, CanonError> {
    canonicalize_owned(Url::parse(text.trim())?)
}

/// Returns the canonical form of `url` (see DESIGN.md, "Canonical URL").
///
/// The `url` crate already lower-cases scheme and host, applies IDNA,
/// drops default ports, resolves dot segments and turns an empty path
/// into `/`. On top of that the fragment is dropped, an empty query
/// (`?` alone) is dropped, and percent-encoding is normalised: escapes of
/// unreserved characters are decoded and all other escapes use upper-case
/// hex, so `%7e`, `%7E` and `~` are one URL.
pub fn canonicalize(url: &Url) -> Result<Url, CanonError> {
    check(url)?;
    Ok(normalise(url.clone()))
}

/// [`canonicalize`] reusing `url`'s buffer: no copy for the usual URL.
fn canonicalize_owned(url: Url) -> Result<Url, CanonError> {
    check(&url)?;
    Ok(normalise(url))
}

fn check(url: &Url) -> Result<(), CanonError> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(CanonError::UnsupportedScheme(other.to_owned())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CanonError::NoHost);
    }
    Ok(())
}

fn normalise(mut url: Url) -> Url {
    url.set_fragment(None);
    if needs_normalising(url.path()) {
        let normalised = normalise_escapes(url.path());
        url.set_path(&normalised);
    }
    match url.query() {
        Some("") => url.set_query(None),
        Some(query) if needs_normalising(query) => {
            let normalised = normalise_escapes(query);
            url.set_query(Some(&normalised));
        }
        _ => {}
    }
    url
}

fn needs_normalising(component: &str) -> bool {
    component.contains('%')
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes escapes of unreserved characters and upper-cases the hex digits
/// of every other escape. A `%` not followed by two hex digits is kept as it
/// is (the `url` crate accepts such input and so must we).
fn normalise_escapes(component: &str) -> String {
    let bytes = component.as_bytes();
    let mut out = String::with_capacity(component.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex_value),
                bytes.get(index + 2).copied().and_then(hex_value),
            )
        {
            let decoded = high * 16 + low;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(char::from(bytes[index + 1]).to_ascii_uppercase());
                out.push(char::from(bytes[index + 2]).to_ascii_uppercase());
            }
            index += 3;
            continue;
        }
        // Components of a parsed `Url` are ASCII, so byte-wise copying is
        // character-wise copying.
        out.push(char::from(byte));
        index += 1;
    }
    out
}

/// The scheduling key of a URL: scheme, host and port. Politeness (rate,
/// concurrency, robots.txt) is per key, as RFC 9309 scopes robots.txt.
pub fn host_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{}://{}:{}", url.scheme(), host, port),
        None => format!("{}://{}", url.scheme(), host),
    }
}

/// A 64-bit fingerprint of a canonical URL: what the seen-set stores, so
/// memory per URL stays at 8 bytes (plus the table's slack) however long
/// the URL is. Two of 100 million URLs share a fingerprint with odds of
/// about 1 in 3,700 per crawl; the cost of that rare event is one page not
/// fetched, which is why 64 bits, and not 128, are enough here.
pub fn fingerprint(canonical: &Url) -> u64 {
    fingerprint_str(canonical.as_str())
}

/// [`fingerprint`] of a URL already in canonical text form (e.g. read back
/// from output), without parsing it.
pub fn fingerprint_str(canonical: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(canonical.as_bytes())
}

/// A URL in canonical form: the only kind the frontier queues, dedups or
/// hands out. Built by canonicalising once ([`CanonicalUrl::new`]); code
/// that holds one never canonicalises it again.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalUrl(Url);

impl CanonicalUrl {
    /// Canonicalises `url`.
    pub fn new(url: &Url) -> Result<CanonicalUrl, CanonError> {
        canonicalize(url).map(CanonicalUrl)
    }

    /// Canonicalises `url` in place of a copy.
    pub fn from_url(url: Url) -> Result<CanonicalUrl, CanonError> {
        canonicalize_owned(url).map(CanonicalUrl)
    }

    /// Parses `text` as an absolute URL and canonicalises it.
    pub fn parse(text: &str) -> Result<CanonicalUrl, CanonError> {
        parse_canonical(text).map(CanonicalUrl)
    }

    /// Takes `url` as canonical without checking: for URLs read back from
    /// the frontier's own storage, which only ever held canonical ones.
    pub fn from_stored(url: Url) -> CanonicalUrl {
        CanonicalUrl(url)
    }

    /// The URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL, owned.
    pub fn into_url(self) -> Url {
        self.0
    }

    /// The seen-set key.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.0)
    }

    /// The scheduling key (`scheme://host:port`).
    pub fn host_key(&self) -> String {
        host_key(&self.0)
    }
}

impl std::ops::Deref for CanonicalUrl {
    type Target = Url;
    fn deref(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Display for CanonicalUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl std::fmt::Debug for CanonicalUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CanonicalUrl({})", self.0.as_str())
    }
}

impl From<CanonicalUrl> for String {
    fn from(url: CanonicalUrl) -> String {
        url.0.into()
    }
}

impl From<CanonicalUrl> for Url {
    fn from(url: CanonicalUrl) -> Url {
        url.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        parse_canonical(text).expect(text).to_string()
    }

    #[test]
    fn lower_cases_scheme_and_host_and_drops_default_port() {
        assert_eq!(canon("HTTP://Example.COM:80/a"), "http://example.com/a");
        assert_eq!(canon("https://example.com:443/"), "https://example.com/");
        assert_eq!(canon("http://example.com:8080"), "http://example.com:8080/");
    }

    #[test]
    fn drops_fragment_and_empty_query_but_keeps_query_order() {
        assert_eq!(canon("http://a.example/x#top"), "http://a.example/x");
        assert_eq!(canon("http://a.example/x?"), "http://a.example/x");
        assert_eq!(
            canon("http://a.example/x?b=2&a=1"),
            "http://a.example/x?b=2&a=1"
        );
    }

    #[test]
    fn resolves_dot_segments_and_empty_path() {
        assert_eq!(canon("http://a.example"), "http://a.example/");
        assert_eq!(canon("http://a.example/x/../y/./z"), "http://a.example/y/z");
    }

    #[test]
    fn normalises_percent_encoding() {
        assert_eq!(canon("http://a.example/%7euser"), "http://a.example/~user");
        assert_eq!(canon("http://a.example/%7Euser"), "http://a.example/~user");
        assert_eq!(canon("http://a.example/a%2fb"), "http://a.example/a%2Fb");
        assert_eq!(
            canon("http://a.example/?q=%41%3d"),
            "http://a.example/?q=A%3D"
        );
        assert_eq!(canon("http://a.example/100%"), "http://a.example/100%");
        assert_eq!(canon("http://a.example/%zz"), "http://a.example/%zz");
    }

    #[test]
    fn applies_idna() {
        assert_eq!(
            canon("http://BÜCHER.example/"),
            "http://xn--bcher-kva.example/"
        );
    }

    #[test]
    fn rejects_other_schemes() {
        for text in [
            "mailto:a@b.example",
            "ftp://a.example/",
            "file:///etc/passwd",
            "javascript:x",
        ] {
            assert!(matches!(
                parse_canonical(text),
                Err(CanonError::UnsupportedScheme(_))
            ));
        }
        assert!(matches!(
            parse_canonical("not a url"),
            Err(CanonError::Parse(_))
        ));
    }

    #[test]
    fn five_spellings_of_one_page_are_one_url() {
        let spellings = [
            "http://127.0.0.1:8080/p/7",
            "HTTP://127.0.0.1:8080/p/7#frag",
            "http://127.0.0.1:8080/x/../p/7",
            "http://127.0.0.1:8080/%70/7",
            "http://127.0.0.1:8080/p/./7?",
        ];
        for spelling in spellings {
            assert_eq!(canon(spelling), "http://127.0.0.1:8080/p/7", "{spelling}");
        }
    }

    #[test]
    fn host_key_includes_scheme_and_port() {
        let url = Url::parse("https://a.example/x").unwrap();
        assert_eq!(host_key(&url), "https://a.example:443");
        let url = Url::parse("http://127.0.0.1:9/x").unwrap();
        assert_eq!(host_key(&url), "http://127.0.0.1:9");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn canonicalisation_is_idempotent_and_http_only(
                scheme in prop_oneof!["http", "https", "HTTP", "ftp"],
                host in "[a-zA-Z0-9.-]{1,20}",
                path in "(/[a-zA-Z0-9%._~!$&'()*+,;=:@-]{0,8}){0,4}",
                query in proptest::option::of("[a-zA-Z0-9%=&._~-]{0,12}"),
                fragment in proptest::option::of("[a-z]{0,5}"),
            ) {
                let mut text = format!("{scheme}://{host}{path}");
                if let Some(query) = query { text.push('?'); text.push_str(&query); }
                if let Some(fragment) = fragment { text.push('#'); text.push_str(&fragment); }
                if let Ok(once) = parse_canonical(&text) {
                    prop_assert!(matches!(once.scheme(), "http" | "https"));
                    prop_assert!(once.fragment().is_none());
                    let twice = canonicalize(&once).unwrap();
                    prop_assert_eq!(once.as_str(), twice.as_str());
                    let reparsed = parse_canonical(once.as_str()).unwrap();
                    prop_assert_eq!(once.as_str(), reparsed.as_str());
                }
            }

            /// Any text at all: an error or a canonical URL that stays put,
            /// never a panic.
            #[test]
            fn any_text_canonicalises_or_errs(text in "\\PC{0,120}", prefix in prop_oneof!["", "http://", "https://a.example/"]) {
                let text = format!("{prefix}{text}");
                if let Ok(once) = parse_canonical(&text) {
                    let twice = canonicalize(&once).unwrap();
                    prop_assert_eq!(once.as_str(), twice.as_str());
                }
                // Canonicalising in place gives what the copy does.
                if let Ok(url) = Url::parse(&text) {
                    prop_assert_eq!(CanonicalUrl::from_url(url.clone()), CanonicalUrl::new(&url));
                }
            }
        }
    }

    #[test]
    fn canonical_url_is_canonicalised_once_at_construction() {
        let url = CanonicalUrl::parse("HTTP://A.Example:80/%7euser/../x#frag").unwrap();
        assert_eq!(url.as_str(), "http://a.example/x");
        assert_eq!(url.host_key(), "http://a.example:80");
        assert_eq!(url.fingerprint(), fingerprint_str("http://a.example/x"));
        assert_eq!(
            CanonicalUrl::new(&Url::parse("mailto:x@a.example").unwrap()),
            Err(CanonError::UnsupportedScheme("mailto".into()))
        );
        assert_eq!(String::from(url.clone()), "http://a.example/x");
        assert_eq!(url.path(), "/x", "derefs to the URL");
    }
}
