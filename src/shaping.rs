//! Request shaping from the command line: credentials (`--auth`, netrc),
//! the cookie jar (`--cookies`, `--no-cookies`) and the proxy (`--proxy`,
//! `--no-proxy`, or the environment), checked and read before any request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trawl_fetcher::{CookieJar, Credential, CredentialScope, ProxyConfig};
use url::Url;

use crate::cli::CrawlArgs;
use crate::config::{ConfigError, value_error};

/// What the arguments make of a crawl's requests.
#[derive(Debug)]
pub struct Shaping {
    pub credentials: Vec<Credential>,
    pub cookies: Option<Arc<CookieJar>>,
    pub save_cookies: Option<PathBuf>,
    pub proxy: Option<ProxyConfig>,
}

/// Reads `--auth`, the netrc, the cookie file and the proxy settings;
/// `env` is how the environment is read (the process's, or a test's).
pub fn from_args(
    args: &CrawlArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Shaping, ConfigError> {
    let mut credentials = args
        .auth
        .iter()
        .map(|entry| parse_auth(entry))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(path) = netrc_path(args, &env) {
        credentials.extend(read_netrc(&path, args.netrc_file.is_some())?);
    }
    let cookies = if args.no_cookies {
        None
    } else {
        let jar = CookieJar::new();
        if let Some(path) = &args.cookies {
            crate::cookies::load(&jar, path, "cookies")?;
        }
        Some(Arc::new(jar))
    };
    let proxy = match &args.proxy {
        Some(text) => Some(
            ProxyConfig::new(text)
                .map_err(|error| value_error("proxy", &error.shown, &error.reason))?
                .excluding(args.no_proxy.as_deref().unwrap_or("")),
        ),
        None => ProxyConfig::from_env_vars(&env)
            .map_err(ConfigError::ProxyEnv)?
            .map(|proxy| match &args.no_proxy {
                Some(list) => proxy.excluding(list),
                None => proxy,
            }),
    };
    Ok(Shaping {
        credentials,
        cookies,
        save_cookies: args.save_cookies.clone(),
        proxy,
    })
}

/// `--netrc-file FILE`, or `~/.netrc` with `--netrc`.
fn netrc_path(args: &CrawlArgs, env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    match (&args.netrc_file, args.netrc) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => env("HOME").map(|home| Path::new(&home).join(".netrc")),
        (None, false) => None,
    }
}

/// The netrc's credentials. A missing `~/.netrc` gives none, as in curl;
/// a missing `--netrc-file` is an error.
fn read_netrc(path: &Path, named: bool) -> Result<Vec<Credential>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !named => {
            return Ok(Vec::new());
        }
        Err(error) => {
            return Err(ConfigError::File {
                flag: "netrc-file",
                path: path.to_owned(),
                reason: error.to_string(),
            });
        }
    };
    let netrc = crate::netrc::parse(&text).map_err(|error| ConfigError::File {
        flag: "netrc-file",
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    if netrc.skipped_default {
        eprintln!(
            "trawl: warning: {}: the `default` entry is ignored (it would send its login to every host)",
            path.display()
        );
    }
    Ok(netrc.credentials)
}

/// `ORIGIN=USER:PASSWORD`; a bare host (or host:port) is https. Errors
/// show the entry with its password hidden.
fn parse_auth(entry: &str) -> Result<Credential, ConfigError> {
    let shown = match entry.split_once('=') {
        Some((origin, credentials)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{origin}={user}:***"),
            None => format!("{origin}=***"),
        },
        None => "***".to_owned(),
    };
    let error = |reason: &str| value_error("auth", &shown, reason);
    let (origin, credentials) = entry
        .split_once('=')
        .ok_or_else(|| error("expected ORIGIN=USER:PASSWORD"))?;
    let (user, password) = credentials
        .split_once(':')
        .ok_or_else(|| error("expected USER:PASSWORD after `=`"))?;
    let url = if origin.contains("://") {
        Url::parse(origin)
    } else {
        Url::parse(&format!("https://{origin}"))
    }
    .map_err(|_| error("ORIGIN is not a scheme://host[:port]"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(error("ORIGIN must be an http or https origin"));
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(error("ORIGIN is a scheme, host and port, without a path"));
    }
    let origin = format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(443)
    );
    Ok(Credential {
        scope: CredentialScope::Origin(origin),
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_entries_name_an_exact_origin_and_hide_the_password() {
        let credential = parse_auth("http://127.0.0.1:8080=trawl:se:cret").unwrap();
        assert_eq!(
            credential.scope,
            CredentialScope::Origin("http://127.0.0.1:8080".into())
        );
        assert_eq!(
            (credential.user.as_str(), credential.password.as_str()),
            ("trawl", "se:cret")
        );
        assert_eq!(
            parse_auth("Intranet.example=u:p").unwrap().scope,
            CredentialScope::Origin("https://intranet.example:443".into())
        );
        for bad in [
            "nopassword",
            "ftp://a.example=u:p",
            "https://a.example/path=u:p",
            "a.example=u",
        ] {
            let error = parse_auth(bad).unwrap_err().to_string();
            assert!(error.contains("--auth"), "{error}");
            assert!(!error.contains(":p"), "the password is hidden: {error}");
        }
        assert!(
            !format!("{credential:?}").contains("cret"),
            "Debug hides it too"
        );
    }
}
