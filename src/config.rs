//! Validated settings: CLI arguments checked and turned into the library
//! crates' configurations before any request is made.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use regex::Regex;
use trawl_crawler::{Destination, Settings, WarcInfo, WarcOptions};
use trawl_fetcher::{BodyBudget, FetcherConfig, IpNet, NetworkPolicy, PolitenessConfig};
use trawl_frontier::{Limits, ScopeMode};
use url::Url;

use crate::cli::{CrawlArgs, ScopeArg};

/// Everything a crawl needs, validated: the library's settings plus what
/// only the command line knows.
#[derive(Debug)]
pub struct CrawlConfig {
    pub seeds: Vec<Url>,
    pub settings: Settings,
    pub destination: Destination,
    pub quiet: bool,
    /// The crawl's state folder; `None` when the output is stdout and no
    /// --state was given.
    pub state_dir: Option<std::path::PathBuf>,
    pub resume: bool,
    pub fresh: bool,
    pub max_queue_in_memory: usize,
    /// Seen-set fingerprints kept in memory before the rest go to disk.
    pub max_seen_in_memory: usize,
    /// Where queued URLs beyond `max_queue_in_memory` spill.
    pub spill_dir: std::path::PathBuf,
    /// Async runtime worker threads.
    pub io_threads: usize,
    /// `--warc`: where and how to archive.
    pub warc: Option<WarcOptions>,
    /// `--save-bodies`: where bodies go.
    pub save_bodies: Option<std::path::PathBuf>,
    /// `--metrics`: where the endpoint listens.
    pub metrics: Option<SocketAddr>,
    /// `--save-cookies`: where the jar goes when the crawl ends.
    pub save_cookies: Option<std::path::PathBuf>,
    /// `--frontier`: the shared crawl in Redis; `None` for the embedded
    /// store.
    pub shared: Option<SharedFrontier>,
}

/// Where a shared crawl lives.
#[derive(Debug, Clone)]
pub struct SharedFrontier {
    /// `redis://HOST:PORT/DB`.
    pub url: String,
    /// `--crawl-id`.
    pub crawl_id: String,
    /// `--lease-time`.
    pub lease_time: Duration,
}

/// A usage or configuration error (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Seeds(#[from] crate::seeds::SeedError),
    #[error("invalid --{flag} pattern `{pattern}`: {source}")]
    Pattern {
        flag: &'static str,
        pattern: String,
        source: regex::Error,
    },
    #[error("invalid --field {0}")]
    Field(#[from] trawl_extractor::FieldError),
    #[error("invalid --ca-cert {}: {error}", .path.display())]
    CaCert {
        path: std::path::PathBuf,
        error: trawl_fetcher::CaCertError,
    },
    #[error("invalid --{flag} value `{value}`: {reason}")]
    Value {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// A file a flag names cannot be read, or not as what it should be.
    #[error("invalid --{flag} {}: {reason}", .path.display())]
    File {
        flag: &'static str,
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("invalid proxy in environment variable {0}")]
    ProxyEnv(trawl_fetcher::ProxyError),
}

impl ConfigError {
    /// The flag (long name) a check failed on, the reason without the
    /// flag's name, and the value when it is shown as given: what
    /// `Report::explain` restates for a value from a file or a variable.
    pub fn parts(&self) -> Option<(&'static str, String, Option<&str>)> {
        match self {
            ConfigError::Seeds(_) => None,
            ConfigError::Pattern {
                flag,
                pattern,
                source,
            } => Some((
                flag,
                format!("invalid pattern '{pattern}': {source}"),
                Some(pattern),
            )),
            ConfigError::Field(error) => Some((
                "field",
                format!("invalid value '{}': {}", error.spec, error.reason),
                Some(&error.spec),
            )),
            ConfigError::Value {
                flag,
                value,
                reason,
            } => Some((
                flag,
                format!("invalid value '{value}': {reason}"),
                Some(value),
            )),
            ConfigError::File { flag, path, reason } => {
                Some((flag, format!("{}: {reason}", path.display()), path.to_str()))
            }
            ConfigError::ProxyEnv(_) => None,
            ConfigError::CaCert { path, error } => Some((
                "ca-cert",
                format!("{}: {error}", path.display()),
                path.to_str(),
            )),
        }
    }
}

impl CrawlConfig {
    /// Checks every argument and reads the seed file, unless `seeds` are
    /// given instead (the demo's own site).
    pub fn from_args(
        args: &CrawlArgs,
        seeds: Option<Vec<Url>>,
    ) -> Result<CrawlConfig, ConfigError> {
        let include = compile("include", &args.include)?;
        let exclude = compile("exclude", &args.exclude)?;
        let per_host_rate = args.per_host_rate;
        if !per_host_rate.is_finite() || per_host_rate < 0.0 {
            return Err(value_error(
                "per-host-rate",
                per_host_rate,
                "must be 0 (unlimited) or a positive number",
            ));
        }
        let timeout = seconds("timeout", args.timeout)?;
        let max_retry_after = seconds("max-retry-after", args.max_retry_after)?;
        let max_crawl_delay = seconds("max-crawl-delay", args.max_crawl_delay)?;
        if !args.delay_factor.is_finite() || args.delay_factor < 0.0 || args.delay_factor > 100.0 {
            return Err(value_error(
                "delay-factor",
                args.delay_factor,
                "must be between 0 (off) and 100",
            ));
        }
        if args.max_url_length < 16 {
            return Err(value_error(
                "max-url-length",
                args.max_url_length,
                "must be at least 16 bytes",
            ));
        }
        if args.max_repeated_segments == 0 {
            return Err(value_error(
                "max-repeated-segments",
                0,
                "must be at least 1",
            ));
        }
        let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
        let max_body_bytes = parse_bytes(&args.max_body).map_err(|reason| ConfigError::Value {
            flag: "max-body",
            value: args.max_body.clone(),
            reason,
        })?;
        let max_buffered =
            parse_bytes(&args.max_buffered).map_err(|reason| ConfigError::Value {
                flag: "max-buffered",
                value: args.max_buffered.clone(),
                reason,
            })?;
        let resolve = args
            .resolve
            .iter()
            .map(|entry| parse_resolve(entry))
            .collect::<Result<Vec<_>, _>>()?;
        let mut network = NetworkPolicy::default();
        for text in &args.allow_addresses {
            network = network.allow(parse_cidr("allow-address", text)?);
        }
        for text in &args.deny_addresses {
            network = network.deny(parse_cidr("deny-address", text)?);
        }
        let mut extra_roots = Vec::new();
        for path in &args.ca_certs {
            let certificates =
                trawl_fetcher::read_ca_file(path).map_err(|error| ConfigError::CaCert {
                    path: path.clone(),
                    error,
                })?;
            extra_roots.extend(certificates);
        }
        let fields = if args.fields.is_empty() {
            None
        } else {
            Some(std::sync::Arc::new(trawl_extractor::FieldSpec::parse(
                &args.fields,
            )?))
        };
        let seeds = match seeds {
            Some(seeds) => seeds,
            None => crate::seeds::load(&args.seeds)?,
        };
        let mut headers = Vec::with_capacity(args.headers.len() + 1);
        for line in &args.headers {
            headers.push(
                trawl_fetcher::request_header(line)
                    .map_err(|error| value_error("header", line, &error.to_string()))?,
            );
        }
        if let Some(languages) = &args.accept_language {
            let line = format!("Accept-Language: {languages}");
            headers.push(
                trawl_fetcher::request_header(&line).map_err(|error| {
                    value_error("accept-language", languages, &error.to_string())
                })?,
            );
        }
        let shaping = crate::shaping::from_args(args, |name| std::env::var(name).ok())?;
        let fetcher = FetcherConfig {
            user_agent: args.user_agent.clone(),
            connect_timeout,
            read_timeout: timeout,
            request_timeout: timeout,
            max_body_bytes,
            body_budget: BodyBudget::new(max_buffered),
            max_redirects: args.max_redirects,
            max_url_len: args.max_url_length,
            resolve,
            network,
            // A host never has more requests in flight than this, so more
            // idle connections are never reused; fewer would close and reopen
            // connections under load.
            pool_idle_per_host: args.per_host_concurrency as usize,
            // Per host, by its pace: the crawler's to decide.
            close_connections: false,
            headers,
            credentials: shaping.credentials,
            keep_headers: false,
            extra_roots,
            cookies: shaping.cookies,
            proxy: shaping.proxy,
        };
        let destination = Destination::from_arg(&args.output);
        // A shared crawl's state is in Redis; there is no folder of it.
        let state_dir = match (&args.state, &destination) {
            _ if args.frontier.is_some() => None,
            (Some(dir), _) => Some(dir.clone()),
            (None, Destination::File(path)) => Some(trawl_frontier::default_state_dir(path)),
            (None, Destination::Stdout) => None,
        };
        // The cores are split between I/O and parsing, which take about
        // equal shares of a page's CPU now that ordinary pages are scanned
        // rather than tokenized by lol_html; a parser thread per core read
        // no faster and cost more CPU and memory (measured: README).
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let io_threads = args.io_threads.map_or(cores.div_ceil(2), |n| n as usize);
        let spill_dir = state_dir.clone().unwrap_or_else(std::env::temp_dir);
        let politeness = PolitenessConfig {
            per_host_rate,
            delay_factor: args.delay_factor,
            per_host_concurrency: args.per_host_concurrency,
            max_crawl_delay,
        };
        let settings = Settings {
            concurrency: args.concurrency as usize,
            politeness,
            limits: Limits {
                max_depth: args.max_depth.unwrap_or(u32::MAX),
                max_pages: args.max_pages.unwrap_or(u64::MAX),
                per_host_concurrency: args.per_host_concurrency,
                max_pages_per_host: args.max_pages_per_host.unwrap_or(u64::MAX),
                max_repeated_segments: args.max_repeated_segments,
            },
            scope: match args.scope {
                ScopeArg::Host => ScopeMode::Host,
                ScopeArg::Domain => ScopeMode::Domain,
                ScopeArg::Any => ScopeMode::Any,
            },
            include,
            exclude,
            fetcher,
            sitemaps: args.sitemaps,
            skip_nofollow_links: args.skip_nofollow_links,
            retries: args.retries.min(20),
            max_retry_after,
            obey_robots: !args.ignore_robots,
            robots_agent: robots_token(&args.user_agent),
            grace: Duration::from_secs(5),
            parse_threads: args
                .parse_threads
                .map_or(cores.saturating_sub(io_threads).max(1), |n| n as usize),
            fields,
            ..Settings::default()
        };
        let warc = match &args.warc {
            Some(path) => Some(WarcOptions {
                path: path.clone(),
                max_size: args
                    .warc_max_size
                    .as_deref()
                    .map(|text| {
                        parse_bytes(text).map_err(|reason| ConfigError::Value {
                            flag: "warc-max-size",
                            value: text.to_owned(),
                            reason,
                        })
                    })
                    .transpose()?,
                cdx: args.warc_cdx.clone(),
                info: warc_info(&settings, seeds.len()),
            }),
            None => None,
        };
        let shared = shared_frontier(args)?;
        Ok(CrawlConfig {
            seeds,
            settings,
            destination,
            quiet: args.quiet,
            state_dir,
            resume: args.resume,
            fresh: args.fresh,
            max_queue_in_memory: args.max_queue_in_memory.max(1),
            max_seen_in_memory: args.max_seen_in_memory.max(1),
            spill_dir,
            io_threads,
            warc,
            save_bodies: args.save_bodies.clone(),
            shared,
            metrics: args
                .metrics
                .as_deref()
                .map(|addr| {
                    addr.parse::<SocketAddr>().map_err(|_| {
                        value_error("metrics", addr, "expected IP:PORT, e.g. 127.0.0.1:9898")
                    })
                })
                .transpose()?,
            save_cookies: shaping.save_cookies,
        })
    }
}

/// The crawl's settings, as the archive's `warcinfo` record states them.
fn warc_info(settings: &Settings, seeds: usize) -> WarcInfo {
    let politeness = &settings.politeness;
    WarcInfo {
        software: format!("trawl/{}", env!("CARGO_PKG_VERSION")),
        fields: vec![
            (
                "http-header-user-agent".into(),
                settings.fetcher.user_agent.clone(),
            ),
            (
                "robots".into(),
                if settings.obey_robots {
                    "obey"
                } else {
                    "ignore"
                }
                .into(),
            ),
            ("seeds".into(), seeds.to_string()),
            ("per-host-rate".into(), politeness.per_host_rate.to_string()),
            (
                "per-host-concurrency".into(),
                politeness.per_host_concurrency.to_string(),
            ),
            (
                "max-body".into(),
                settings.fetcher.max_body_bytes.to_string(),
            ),
            (
                "max-buffered".into(),
                settings.fetcher.body_budget.bytes().to_string(),
            ),
        ],
    }
}

/// The product token of a User-Agent (`trawl/0.1 (+https://…)` → `trawl`),
/// which is what robots.txt groups name.
fn robots_token(user_agent: &str) -> String {
    let token: String = user_agent
        .split(['/', ' '])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if token.is_empty() {
        "trawl".to_owned()
    } else {
        token
    }
}

pub(crate) fn value_error(flag: &'static str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::Value {
        flag,
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

fn compile(flag: &'static str, patterns: &[String]) -> Result<Vec<Regex>, ConfigError> {
    patterns
        .iter()
        .map(|pattern| {
            Regex::new(pattern).map_err(|source| ConfigError::Pattern {
                flag,
                pattern: pattern.clone(),
                source,
            })
        })
        .collect()
}

/// `--frontier`, `--crawl-id` and `--lease-time`, checked.
fn shared_frontier(args: &CrawlArgs) -> Result<Option<SharedFrontier>, ConfigError> {
    let lease_time = seconds("lease-time", args.lease_time)?;
    let (Some(url), Some(crawl_id)) = (&args.frontier, &args.crawl_id) else {
        return Ok(None);
    };
    // rediss:// would need TLS in the client, which is not built in.
    let Some(rest) = url.strip_prefix("redis://") else {
        return Err(value_error(
            "frontier",
            trawl_frontier_redis::redacted(url),
            "expected redis://HOST:PORT/DB (Redis or Valkey)",
        ));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(value_error(
            "frontier",
            trawl_frontier_redis::redacted(url),
            "the URL names no host",
        ));
    }
    trawl_frontier_redis::keys::check_crawl_id(crawl_id)
        .map_err(|error| value_error("crawl-id", crawl_id, &error.to_string()))?;
    Ok(Some(SharedFrontier {
        url: url.clone(),
        crawl_id: crawl_id.clone(),
        lease_time,
    }))
}

fn seconds(flag: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if value.is_finite() && value > 0.0 && value <= 86_400.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(value_error(
            flag,
            value,
            "must be a number of seconds above 0 and at most 86400",
        ))
    }
}

/// `10M`, `512K`, `1G`, `1048576`: binary units.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let without_b = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, multiplier) = match without_b.chars().last() {
        Some('K') => (&without_b[..without_b.len() - 1], 1u64 << 10),
        Some('M') => (&without_b[..without_b.len() - 1], 1 << 20),
        Some('G') => (&without_b[..without_b.len() - 1], 1 << 30),
        _ => (without_b, 1),
    };
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| "expected a byte count such as 10M, 512K or 1048576".to_owned())?;
    match number.checked_mul(multiplier) {
        Some(0) | None => Err("must be between 1 byte and 16 EiB".to_owned()),
        Some(bytes) => Ok(bytes),
    }
}

/// An address range (`10.0.0.0/8`, `fd00::/8`) or one address
/// (`192.168.1.5`, `[::1]`, taken as /32 or /128).
fn parse_cidr(flag: &'static str, text: &str) -> Result<IpNet, ConfigError> {
    let trimmed = text.trim();
    if let Ok(net) = trimmed.parse::<IpNet>() {
        return Ok(net);
    }
    let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| {
            value_error(
                flag,
                text,
                "expected an address range such as 10.0.0.0/8 or fd00::/8, or one address",
            )
        })
}

/// `HOST:PORT:ADDR` as curl takes it; ADDR may be `[::1]`.
fn parse_resolve(entry: &str) -> Result<(String, SocketAddr), ConfigError> {
    let error = |reason: &str| value_error("resolve", entry, reason);
    let mut parts = entry.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(error(
            "expected HOST:PORT:ADDR, e.g. example.com:443:127.0.0.1",
        ));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| error("PORT is not a port number"))?;
    if host.is_empty() {
        return Err(error("HOST is empty"));
    }
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| error("ADDR is not an IP address"))?;
    let socket = (ip, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| error("ADDR is not usable"))?;
    Ok((host.to_ascii_lowercase(), socket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("10M"), Ok(10 << 20));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1234"), Ok(1234));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn robots_token_is_the_product_name() {
        assert_eq!(robots_token("trawl/0.1.0"), "trawl");
        assert_eq!(
            robots_token("MyBot/2.0 (+https://example.com/bot)"),
            "MyBot"
        );
        assert_eq!(robots_token("///"), "trawl");
    }

    #[test]
    fn address_ranges_parse_with_or_without_a_prefix() {
        let net = |text: &str| parse_cidr("allow-address", text).map(|net| net.to_string());
        assert_eq!(net("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(net(" 127.0.0.2 ").unwrap(), "127.0.0.2/32");
        assert_eq!(net("fd00::/8").unwrap(), "fd00::/8");
        assert_eq!(net("[::1]").unwrap(), "::1/128");
        for bad in ["10.0.0.0/33", "example.com", "", "10.0.0/8", "::1/129"] {
            let error = parse_cidr("deny-address", bad).expect_err(bad).to_string();
            assert!(
                error.starts_with(&format!("invalid --deny-address value `{bad}`")),
                "{error}"
            );
        }
    }

    #[test]
    fn resolve_entries_parse_like_curl() {
        let (host, addr) = parse_resolve("Example.com:443:127.0.0.1").unwrap();
        assert_eq!(host, "example.com");
        assert_eq!(addr, "127.0.0.1:443".parse().unwrap());
        let (_, addr) = parse_resolve("a.example:80:[::1]").unwrap();
        assert_eq!(addr, "[::1]:80".parse().unwrap());
        assert!(parse_resolve("a.example:80").is_err());
        assert!(parse_resolve("a.example:x:127.0.0.1").is_err());
    }
}
