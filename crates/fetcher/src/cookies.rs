//! The crawl's cookie jar: what a site sets with `Set-Cookie` is sent back
//! to it, by the browser rules of RFC 6265 (domain and path matching,
//! `Secure`, `HttpOnly`, `Max-Age`/`Expires`), which `cookie_store`
//! implements. This module adds what a crawler needs around it: the
//! public-suffix check (a `Domain=co.uk` cookie would be sent to every
//! shop in the UK), a cap on how many cookies a hostile site can make us
//! keep, and the Netscape `cookies.txt` format that curl and wget read
//! and write, for `--cookies` and `--save-cookies`.
//!
//! `SameSite` is ignored: it guards a browser's cross-site requests, and
//! a crawler makes no request on behalf of another site.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cookie::time::OffsetDateTime;
use cookie_store::{CookieDomain, CookieExpiration, CookieStore, RawCookie};
use reqwest::header::HeaderValue;
use url::Url;

/// More cookies than a browser keeps (RFC 6265 asks for at least 3,000);
/// past it, new cookies are refused and existing ones still update.
const MAX_COOKIES: usize = 3000;

/// The header line curl and wget write first.
const NETSCAPE_HEADER: &str = "# Netscape HTTP Cookie File";

/// A cookie jar shared by every request of a crawl. Cheap to lock: a
/// lookup per request, an insert per `Set-Cookie`.
#[derive(Default)]
pub struct CookieJar {
    store: Mutex<CookieStore>,
    /// Bumped on every change, so a saver writes only when needed.
    changes: AtomicU64,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values: they are session secrets.
        f.debug_struct("CookieJar")
            .field("cookies", &self.len())
            .finish()
    }
}

/// Why a `Set-Cookie` was not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieRefusal {
    /// Not a cookie at all.
    #[error("not a cookie: {0}")]
    Malformed(String),
    /// `Domain` names a public suffix (`co.uk`, `com`) other than the host.
    #[error("Domain={0} is a public suffix")]
    PublicSuffix(String),
    /// `Domain` does not cover the host that set it.
    #[error("Domain={domain} does not cover {host}")]
    DomainMismatch { domain: String, host: String },
    /// Already expired (a deletion of a cookie the jar did not have).
    #[error("already expired")]
    Expired,
    /// The jar holds 3,000 cookies (more than browsers keep).
    #[error("the jar is full ({MAX_COOKIES} cookies)")]
    Full,
    /// Anything else `cookie_store` refused.
    #[error("{0}")]
    Other(String),
}

/// A line of a `cookies.txt` that is not a cookie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CookieFileError {
    /// 1-based.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, CookieStore> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Unexpired cookies held.
    pub fn len(&self) -> usize {
        self.store().iter_unexpired().count()
    }

    /// Holds no unexpired cookie.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A number that changes whenever the jar does.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// The `Cookie` header a request to `url` carries, if any.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let store = self.store();
        let mut header = String::new();
        for (name, value) in store.get_request_values(url) {
            if !header.is_empty() {
                header.push_str("; ");
            }
            header.push_str(name);
            header.push('=');
            header.push_str(value);
        }
        (!header.is_empty()).then_some(header)
    }

    /// Keeps a `Set-Cookie` value received from `url`, by RFC 6265.
    pub fn accept(&self, set_cookie: &str, url: &Url) -> Result<(), CookieRefusal> {
        let mut cookie = RawCookie::parse(set_cookie)
            .map_err(|error| CookieRefusal::Malformed(error.to_string()))?
            .into_owned();
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if let Some(domain) = cookie.domain() {
            let domain = domain.trim_start_matches('.').to_ascii_lowercase();
            if !domain.is_empty() && is_public_suffix(&domain) {
                // RFC 6265 5.3 step 5: a public suffix is only ever the
                // host's own name, and then the cookie is host-only.
                if domain == host {
                    cookie.unset_domain();
                } else {
                    return Err(CookieRefusal::PublicSuffix(domain));
                }
            }
        }
        let mut store = self.store();
        if store.iter_any().count() >= MAX_COOKIES {
            let domain = cookie
                .domain()
                .map_or(host.clone(), |d| d.trim_start_matches('.').to_owned());
            let path = cookie.path().unwrap_or("/").to_owned();
            if !store.contains_any(&domain, &path, cookie.name()) {
                return Err(CookieRefusal::Full);
            }
        }
        match store.insert_raw(&cookie, url) {
            Ok(_) => {
                self.changes.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(cookie_store::CookieError::Expired) => Err(CookieRefusal::Expired),
            Err(cookie_store::CookieError::DomainMismatch) => Err(CookieRefusal::DomainMismatch {
                domain: cookie.domain().unwrap_or_default().to_owned(),
                host,
            }),
            Err(error) => Err(CookieRefusal::Other(error.to_string())),
        }
    }

    /// Adds the cookies of a Netscape `cookies.txt` (as curl and wget
    /// write it; `#HttpOnly_` lines included); expired ones are skipped.
    /// Returns how many were added.
    pub fn load_netscape(&self, text: &str) -> Result<usize, CookieFileError> {
        let mut added = 0;
        for (index, raw_line) in text.lines().enumerate() {
            let line_number = index + 1;
            let error = |reason: String| CookieFileError {
                line: line_number,
                reason,
            };
            let line = raw_line.trim_end_matches('\r');
            let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
                Some(rest) => (rest, true),
                None => (line, false),
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            // A cookie with an empty value is written with or without
            // its last tab, depending on the tool.
            let (domain, subdomains, path, secure, expires, name, value) = match fields[..] {
                [d, s, p, sec, e, n, v] => (d, s, p, sec, e, n, v),
                [d, s, p, sec, e, n] => (d, s, p, sec, e, n, ""),
                _ => {
                    return Err(error(format!(
                        "expected 7 tab-separated fields (domain, include-subdomains, \
                         path, secure, expiry, name, value), found {}",
                        fields.len()
                    )));
                }
            };
            let subdomains = flag(subdomains).ok_or_else(|| {
                error(format!(
                    "include-subdomains is {subdomains:?}, not TRUE or FALSE"
                ))
            })?;
            let secure = flag(secure)
                .ok_or_else(|| error(format!("secure is {secure:?}, not TRUE or FALSE")))?;
            let expires: i64 = expires
                .trim()
                .parse()
                .map_err(|_| error(format!("expiry {expires:?} is not a Unix time in seconds")))?;
            let host = domain.trim_start_matches('.');
            if host.is_empty() || name.is_empty() {
                return Err(error("the domain and the name may not be empty".to_owned()));
            }
            if subdomains && is_public_suffix(&host.to_ascii_lowercase()) {
                return Err(error(format!(
                    "cookie {name}: {}",
                    CookieRefusal::PublicSuffix(host.to_owned())
                )));
            }
            let path = if path.starts_with('/') { path } else { "/" };
            let mut builder = RawCookie::build((name.to_owned(), value.to_owned()))
                .path(path.to_owned())
                .secure(secure)
                .http_only(http_only);
            if subdomains {
                builder = builder.domain(host.to_owned());
            }
            if expires > 0 {
                let at = OffsetDateTime::from_unix_timestamp(expires)
                    .map_err(|_| error(format!("expiry {expires} is out of range")))?;
                builder = builder.expires(at);
            }
            let shown_host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host.to_owned()
            };
            let scheme = if secure { "https" } else { "http" };
            let origin = Url::parse(&format!("{scheme}://{shown_host}{path}"))
                .map_err(|_| error(format!("domain {domain:?} is not a host name")))?;
            match self.accept(&builder.build().to_string(), &origin) {
                Ok(()) => added += 1,
                Err(CookieRefusal::Expired) => {}
                Err(refusal) => return Err(error(format!("cookie {name}: {refusal}"))),
            }
        }
        Ok(added)
    }

    /// The jar as a Netscape `cookies.txt`, session cookies included
    /// (expiry 0, as curl writes them), sorted for stable output.
    pub fn to_netscape(&self) -> String {
        let store = self.store();
        let mut lines: Vec<String> = store
            .iter_unexpired()
            .map(|cookie| {
                let (domain, subdomains) = match &cookie.domain {
                    CookieDomain::Suffix(domain) => (format!(".{domain}"), "TRUE"),
                    CookieDomain::HostOnly(host) => (host.clone(), "FALSE"),
                    CookieDomain::NotPresent | CookieDomain::Empty => (String::new(), "FALSE"),
                };
                let expires = match cookie.expires {
                    CookieExpiration::AtUtc(at) => at.unix_timestamp().max(1),
                    CookieExpiration::SessionEnd => 0,
                };
                format!(
                    "{}{domain}\t{subdomains}\t{}\t{}\t{expires}\t{}\t{}",
                    if cookie.http_only().unwrap_or(false) {
                        "#HttpOnly_"
                    } else {
                        ""
                    },
                    String::from(&cookie.path),
                    if cookie.secure().unwrap_or(false) {
                        "TRUE"
                    } else {
                        "FALSE"
                    },
                    cookie.name(),
                    cookie.value(),
                )
            })
            .collect();
        lines.sort();
        let mut text =
            format!("{NETSCAPE_HEADER}\n# Written by trawl; expiry 0 is a session cookie.\n\n");
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_uppercase().as_str() {
        "TRUE" => Some(true),
        "FALSE" => Some(false),
        _ => None,
    }
}

/// A name the public suffix list knows as a suffix (`com`, `co.uk`,
/// `github.io`); unknown single labels (`localhost`) are not.
fn is_public_suffix(domain: &str) -> bool {
    psl::suffix(domain.as_bytes())
        .is_some_and(|suffix| suffix.is_known() && suffix.as_bytes() == domain.as_bytes())
}

impl reqwest::cookie::CookieStore for CookieJar {
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        for header in cookie_headers {
            let Ok(text) = header.to_str() else { continue };
            if let Err(refusal) = self.accept(text, url) {
                tracing::debug!("{url}: cookie not kept: {refusal}");
            }
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.header_for(url)
            .and_then(|header| HeaderValue::from_str(&header).ok())
    }
}

#[cfg(test)]
mod tests;
