//! Forward proxies: which requests leave through one, and through which.
//!
//! A [`ProxyConfig`] names a proxy for `http://` targets and one for
//! `https://` targets (`--proxy` sets both) and a `NO_PROXY`-style list
//! of hosts reached directly. The exclusion rules are curl's, as
//! hyper-util implements them: comma-separated names (each also covers
//! its subdomains; a leading dot changes nothing), IP addresses and
//! ranges (`10.0.0.0/8`), and `*` for everything.
//!
//! What stays keyed by the target host, never by the proxy: robots.txt,
//! rate limits and every other politeness rule, and credentials. The
//! network policy sees what trawl itself connects to: the proxy's address
//! (a proxy the user names is trusted), and IP-literal targets (checked
//! before any request). A name sent to the proxy is resolved by the
//! proxy (`http://`, `https://` and `socks5h://` proxies all resolve
//! names themselves), so the proxy must enforce its own address rules;
//! with `socks5://`, trawl resolves targets itself and checks them.

use std::sync::Arc;

use hyper_util::client::proxy::matcher::Matcher;
use url::Url;

/// The schemes a proxy URL may have.
const PROXY_SCHEMES: &[&str] = &["http", "https", "socks5", "socks5h"];

/// A proxy setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin} `{shown}`: {reason}")]
pub struct ProxyError {
    /// Where the value came from (`--proxy`, `HTTPS_PROXY`).
    pub origin: String,
    /// The value, its password hidden.
    pub shown: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Which requests go through which proxy.
#[derive(Clone)]
pub struct ProxyConfig {
    http: Option<Url>,
    https: Option<Url>,
    no_proxy: String,
    /// Decides the exclusions; its proxy is a placeholder, never used.
    exclusions: Arc<Matcher>,
    /// `*` is in the list: hyper-util's matcher applies it to names only,
    /// curl to every host.
    all_direct: bool,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("http", &self.http.as_ref().map(shown))
            .field("https", &self.https.as_ref().map(shown))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// `url` with its password replaced by `***`.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// Parses a proxy URL; `host:port` alone is an `http://` proxy, as curl
/// takes it.
fn parse_proxy(origin: &str, text: &str) -> Result<Url, ProxyError> {
    let trimmed = text.trim();
    let hidden = |text: &str| match Url::parse(text) {
        Ok(url) => shown(&url),
        Err(_) if text.contains('@') => "***@…".to_owned(),
        Err(_) => text.to_owned(),
    };
    let error = |reason: &str| ProxyError {
        origin: origin.to_owned(),
        shown: hidden(trimmed),
        reason: reason.to_owned(),
    };
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let url =
        Url::parse(&with_scheme).map_err(|parse| error(&format!("not a proxy URL ({parse})")))?;
    if !PROXY_SCHEMES.contains(&url.scheme()) {
        return Err(error(
            "the scheme must be http://, https://, socks5:// or socks5h://",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(error("no proxy host"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(error(
            "a proxy URL is scheme://[user:password@]host[:port], without a path",
        ));
    }
    Ok(url)
}

impl ProxyConfig {
    /// Every request through `proxy` (`http://`, `https://`,
    /// `socks5://` or `socks5h://`, credentials in the URL if it needs
    /// them), unless [`ProxyConfig::excluding`] says otherwise.
    pub fn new(proxy: &str) -> Result<ProxyConfig, ProxyError> {
        let url = parse_proxy("--proxy", proxy)?;
        Ok(ProxyConfig::build(
            Some(url.clone()),
            Some(url),
            String::new(),
        ))
    }

    fn build(http: Option<Url>, https: Option<Url>, no_proxy: String) -> ProxyConfig {
        let exclusions = Matcher::builder()
            .all("http://exclusion-check.invalid".to_owned())
            .no(no_proxy.clone())
            .build();
        let all_direct = no_proxy.split(',').any(|entry| entry.trim() == "*");
        ProxyConfig {
            http,
            https,
            no_proxy,
            exclusions: Arc::new(exclusions),
            all_direct,
        }
    }

    /// Hosts reached directly, as a `NO_PROXY` list (`localhost,
    /// .internal.example, 10.0.0.0/8`).
    pub fn excluding(self, no_proxy: &str) -> ProxyConfig {
        ProxyConfig::build(self.http, self.https, no_proxy.trim().to_owned())
    }

    /// The proxies the standard environment variables name, as curl
    /// reads them: `HTTP_PROXY`/`http_proxy` for http targets,
    /// `HTTPS_PROXY`/`https_proxy` for https ones, `ALL_PROXY`/`all_proxy`
    /// for both, `NO_PROXY`/`no_proxy` for exclusions. `None` when none
    /// is set. Lower-case `http_proxy` wins over `HTTP_PROXY`, and
    /// `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (a CGI
    /// program would take it from the client's `Proxy:` header).
    pub fn from_env_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ProxyConfig>, ProxyError> {
        let first = |names: &[&str]| {
            names.iter().find_map(|name| {
                var(name)
                    .filter(|value| !value.trim().is_empty())
                    .map(|value| ((*name).to_owned(), value))
            })
        };
        let parse = |found: Option<(String, String)>| {
            found
                .map(|(name, value)| parse_proxy(&name, &value))
                .transpose()
        };
        let all = parse(first(&["all_proxy", "ALL_PROXY"]))?;
        let http_names: &[&str] = if var("REQUEST_METHOD").is_some() {
            &["http_proxy"]
        } else {
            &["http_proxy", "HTTP_PROXY"]
        };
        let http = parse(first(http_names))?.or_else(|| all.clone());
        let https = parse(first(&["https_proxy", "HTTPS_PROXY"]))?.or(all);
        if http.is_none() && https.is_none() {
            return Ok(None);
        }
        let no_proxy = first(&["no_proxy", "NO_PROXY"])
            .map(|(_, value)| value)
            .unwrap_or_default();
        Ok(Some(ProxyConfig::build(http, https, no_proxy)))
    }

    /// [`ProxyConfig::from_env_vars`] on this process's environment.
    pub fn from_env() -> Result<Option<ProxyConfig>, ProxyError> {
        ProxyConfig::from_env_vars(|name| std::env::var(name).ok())
    }

    /// The proxy a request to `url` goes through; `None`: directly.
    pub fn proxy_for(&self, url: &Url) -> Option<&Url> {
        let proxy = match url.scheme() {
            "http" => self.http.as_ref()?,
            "https" => self.https.as_ref()?,
            _ => return None,
        };
        if self.all_direct {
            return None;
        }
        // A URL the matcher cannot read is sent through the proxy: when
        // in doubt, the user's choice of route wins.
        match url.as_str().parse::<http::Uri>() {
            Ok(uri) if self.exclusions.intercept(&uri).is_none() => None,
            _ => Some(proxy),
        }
    }

    /// The proxies' host names, which the network policy lets trawl
    /// connect to whatever they resolve to: the user chose them.
    pub(crate) fn hosts(&self) -> Vec<String> {
        [&self.http, &self.https]
            .into_iter()
            .flatten()
            .filter_map(|url| url.host_str().map(str::to_ascii_lowercase))
            .collect()
    }

    /// One line for logs and summaries, passwords hidden.
    pub fn describe(&self) -> String {
        let mut text = match (&self.http, &self.https) {
            (Some(http), Some(https)) if http == https => shown(http),
            (http, https) => format!(
                "http: {}, https: {}",
                http.as_ref().map_or("direct".to_owned(), shown),
                https.as_ref().map_or("direct".to_owned(), shown)
            ),
        };
        if !self.no_proxy.is_empty() {
            text.push_str(&format!(" (not for {})", self.no_proxy));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn one_proxy_for_both_schemes_with_curl_style_exclusions() {
        let config = ProxyConfig::new("http://u:p@127.0.0.1:3128")
            .unwrap()
            .excluding("localhost, .internal.example, 10.0.0.0/8");
        let proxy = config.proxy_for(&url("https://example.com/")).unwrap();
        assert_eq!(proxy.as_str(), "http://u:p@127.0.0.1:3128/");
        assert!(config.proxy_for(&url("http://example.com/")).is_some());
        for direct in [
            "http://localhost:8080/",
            "https://internal.example/",
            "https://a.b.internal.example/x",
            "http://10.1.2.3/",
        ] {
            assert_eq!(config.proxy_for(&url(direct)), None, "{direct}");
        }
        assert!(
            config
                .proxy_for(&url("https://notinternal.example/"))
                .is_some(),
            "a suffix match needs a dot"
        );
        let everything = ProxyConfig::new("127.0.0.1:3128").unwrap().excluding("*");
        assert_eq!(everything.proxy_for(&url("https://example.com/")), None);
        assert_eq!(everything.proxy_for(&url("http://127.0.0.1:8080/")), None);
        assert_eq!(everything.proxy_for(&url("http://[::1]/")), None);
    }

    #[test]
    fn proxy_urls_are_checked_and_passwords_never_shown() {
        assert_eq!(
            ProxyConfig::new("proxy.corp:3128")
                .unwrap()
                .proxy_for(&url("http://a.example/"))
                .unwrap()
                .as_str(),
            "http://proxy.corp:3128/"
        );
        assert!(ProxyConfig::new("socks5h://127.0.0.1:1080").is_ok());
        for (bad, reason) in [
            ("ftp://proxy:21", "scheme"),
            ("http://proxy:3128/path", "without a path"),
            ("http://", "not a proxy URL"),
        ] {
            let error = ProxyConfig::new(bad).unwrap_err();
            assert!(error.reason.contains(reason), "{bad}: {error}");
            assert!(error.to_string().starts_with("--proxy"), "{error}");
        }
        let error = ProxyConfig::new("ftp://user:hunter2@proxy:21").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let config = ProxyConfig::new("http://user:hunter2@proxy:3128").unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!config.describe().contains("hunter2"));
    }

    #[test]
    fn environment_variables_are_read_as_curl_reads_them() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert!(ProxyConfig::from_env_vars(env(&[])).unwrap().is_none());
        let config = ProxyConfig::from_env_vars(env(&[
            ("HTTPS_PROXY", "http://secure-proxy:3128"),
            ("NO_PROXY", "intranet.example"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            config.proxy_for(&url("http://a.example/")),
            None,
            "no HTTP_PROXY"
        );
        assert!(config.proxy_for(&url("https://a.example/")).is_some());
        assert_eq!(config.proxy_for(&url("https://intranet.example/")), None);
        let config = ProxyConfig::from_env_vars(env(&[
            ("ALL_PROXY", "socks5h://127.0.0.1:1080"),
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:2"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            config
                .proxy_for(&url("http://a.example/"))
                .unwrap()
                .as_str(),
            "http://lower:1/"
        );
        assert_eq!(
            config
                .proxy_for(&url("https://a.example/"))
                .unwrap()
                .scheme(),
            "socks5h"
        );
        let cgi = ProxyConfig::from_env_vars(env(&[
            ("REQUEST_METHOD", "GET"),
            ("HTTP_PROXY", "http://from-a-client-header:1"),
        ]))
        .unwrap();
        assert!(cgi.is_none(), "HTTP_PROXY is ignored under CGI");
        let error =
            ProxyConfig::from_env_vars(env(&[("HTTPS_PROXY", "gopher://x:1")])).unwrap_err();
        assert_eq!(error.origin, "HTTPS_PROXY");
    }
}
