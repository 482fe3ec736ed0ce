//! robots.txt (RFC 9309): fetched once per host key before any other
//! request to it, cached for the crawl, refreshed after a day.
//!
//! Concurrent requests for one host wait on a single fetch (a `OnceCell`
//! per host); other hosts are never held up. Parsing and matching are in
//! `matcher.rs`. With a [`SharedRobots`] (several crawler processes on one
//! crawl), a verdict another process fetched is used instead of fetching
//! again, and a verdict fetched here is offered to the others.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use url::{Position, Url};

use crate::client::Fetcher;
use crate::error::ErrorKind;
use crate::outcome::RedirectVerdict;

mod matcher;

pub use matcher::ParsedRobots;

/// RFC 9309 asks crawlers to parse at least 500 KiB.
pub(crate) const ROBOTS_MAX_BYTES: u64 = 500 * 1024;
/// RFC 9309: follow at least five consecutive redirects.
pub const ROBOTS_MAX_REDIRECTS: usize = 5;
/// Cached rules are fetched again after this long.
pub const ROBOTS_REFRESH: Duration = Duration::from_secs(24 * 60 * 60);
/// After robots.txt was unreachable (5xx, network), the "disallow all"
/// verdict is kept this long before trying again.
pub const ROBOTS_UNAVAILABLE_RETRY: Duration = Duration::from_secs(10 * 60);
/// Attempts at an unreachable robots.txt before settling on "disallow all".
const ROBOTS_ATTEMPTS: u32 = 3;

/// What one host's robots.txt allows.
#[derive(Debug)]
pub enum RobotsRules {
    /// No robots.txt (4xx, or a redirect away from it): everything is
    /// allowed.
    AllowAll,
    /// robots.txt could not be fetched (5xx, network): nothing is allowed
    /// for now. `kind` is the network failure when there was no response
    /// (the host is down, so its URLs would fail the same way); `reason`
    /// names what happened.
    Unavailable {
        kind: Option<ErrorKind>,
        reason: String,
    },
    /// Parsed rules for our user agent.
    Parsed(Box<ParsedRobots>),
}

impl RobotsRules {
    /// Parses a robots.txt body for the product token `agent`.
    /// Any body parses: lines that mean nothing are skipped.
    pub fn parse(agent: &str, body: &[u8]) -> RobotsRules {
        RobotsRules::Parsed(Box::new(ParsedRobots::parse(agent, body)))
    }

    /// May `url` be fetched?
    pub fn allowed(&self, url: &Url) -> bool {
        match self {
            RobotsRules::AllowAll => true,
            RobotsRules::Unavailable { .. } => false,
            RobotsRules::Parsed(robots) => {
                // /robots.txt itself is always allowed (RFC 9309 2.2.2).
                url.path() == "/robots.txt"
                    || robots.allowed(&url[Position::BeforePath..Position::AfterQuery])
            }
        }
    }

    /// The `Crawl-delay` for our group, if any.
    pub fn crawl_delay(&self) -> Option<Duration> {
        match self {
            RobotsRules::Parsed(robots) => robots.crawl_delay(),
            _ => None,
        }
    }

    /// `Sitemap:` URLs listed in the file.
    pub fn sitemaps(&self) -> &[String] {
        match self {
            RobotsRules::Parsed(robots) => robots.sitemaps(),
            _ => &[],
        }
    }

    /// The record's error kind for a URL that is not allowed.
    pub fn refusal_kind(&self) -> &'static str {
        match self {
            RobotsRules::Unavailable {
                kind: Some(kind), ..
            } => kind.as_str(),
            _ => "robots_disallowed",
        }
    }

    /// Why a URL is not allowed, for the record.
    pub fn refusal(&self, url: &Url) -> String {
        match self {
            RobotsRules::Unavailable { reason, .. } => format!(
                "robots.txt for {url} is unavailable ({reason}); nothing is fetched from this host for now"
            ),
            _ => format!("robots.txt disallows {url}"),
        }
    }
}

/// The future of one [`SharedRobots`] call.
pub type SharedFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// robots.txt verdicts shared by the processes of one crawl, opaque bytes
/// keyed by host key. A failure is `None` (then the host's robots.txt is
/// simply fetched here).
pub trait SharedRobots: Send + Sync + std::fmt::Debug {
    /// The verdict stored for `host_key`, if any and not expired.
    fn load<'a>(&'a self, host_key: &'a str) -> SharedFuture<'a, Option<Vec<u8>>>;
    /// Stores `verdict` for `host_key` for `ttl`.
    fn store<'a>(
        &'a self,
        host_key: &'a str,
        verdict: Vec<u8>,
        ttl: Duration,
    ) -> SharedFuture<'a, ()>;
}

/// A verdict as shared: `A` (allow all) or `P` and the robots.txt body
/// (parsed again by each process, for its own agent). An unavailable
/// robots.txt is not shared: each process retries it on its own clock.
fn encode_verdict(rules: &RobotsRules, body: Option<&[u8]>) -> Option<Vec<u8>> {
    match (rules, body) {
        (RobotsRules::AllowAll, _) => Some(b"A".to_vec()),
        (RobotsRules::Parsed(_), Some(body)) => {
            let mut verdict = Vec::with_capacity(body.len() + 1);
            verdict.push(b'P');
            verdict.extend_from_slice(body);
            Some(verdict)
        }
        _ => None,
    }
}

fn decode_verdict(agent: &str, verdict: &[u8]) -> Option<RobotsRules> {
    match verdict.split_first()? {
        (b'A', []) => Some(RobotsRules::AllowAll),
        (b'P', body) => Some(RobotsRules::parse(agent, body)),
        _ => None,
    }
}

#[derive(Debug, Default)]
struct Slot {
    rules: OnceCell<(Arc<RobotsRules>, Instant)>,
}

/// The crawl's robots.txt cache, keyed by host key (scheme, host, port).
#[derive(Debug)]
pub struct RobotsCache {
    fetcher: Fetcher,
    agent: String,
    slots: DashMap<String, Arc<Slot>>,
    shared: Option<Arc<dyn SharedRobots>>,
}

impl RobotsCache {
    /// `agent` is the product token matched against `User-agent:` lines
    /// (e.g. `trawl`); requests use the fetcher's own User-Agent header.
    pub fn new(fetcher: &Fetcher, agent: &str) -> RobotsCache {
        RobotsCache {
            fetcher: fetcher.with_limits(ROBOTS_MAX_BYTES, ROBOTS_MAX_REDIRECTS),
            agent: agent.to_owned(),
            slots: DashMap::new(),
            shared: None,
        }
    }

    /// Also uses (and offers) verdicts shared with other processes.
    pub fn with_shared(mut self, shared: Arc<dyn SharedRobots>) -> RobotsCache {
        self.shared = Some(shared);
        self
    }

    /// The rules for `url`'s host, fetching robots.txt first if needed.
    /// Waits only when this host's robots.txt is not known yet.
    pub async fn rules_for(&self, host_key: &str, url: &Url) -> Arc<RobotsRules> {
        loop {
            let slot = Arc::clone(self.slots.entry(host_key.to_owned()).or_default().value());
            let (rules, fetched_at) = slot
                .rules
                .get_or_init(|| async {
                    (
                        Arc::new(self.load_or_fetch(host_key, url).await),
                        Instant::now(),
                    )
                })
                .await;
            let max_age = match **rules {
                RobotsRules::Unavailable { .. } => ROBOTS_UNAVAILABLE_RETRY,
                _ => ROBOTS_REFRESH,
            };
            if fetched_at.elapsed() < max_age {
                return Arc::clone(rules);
            }
            // Stale: the first caller to notice swaps in an empty slot; the
            // loop then fetches again (once, whoever gets there first).
            self.slots
                .remove_if(host_key, |_, current| Arc::ptr_eq(current, &slot));
        }
    }

    /// A shared verdict if there is one, else a fetch (whose verdict is
    /// then shared).
    async fn load_or_fetch(&self, host_key: &str, url: &Url) -> RobotsRules {
        let Some(shared) = &self.shared else {
            return self.fetch_rules(url).await.0;
        };
        if let Some(rules) = shared
            .load(host_key)
            .await
            .and_then(|verdict| decode_verdict(&self.agent, &verdict))
        {
            return rules;
        }
        let (rules, body) = self.fetch_rules(url).await;
        if let Some(verdict) = encode_verdict(&rules, body.as_deref()) {
            shared.store(host_key, verdict, ROBOTS_REFRESH).await;
        }
        rules
    }

    /// The rules, and the body they were parsed from, if any.
    async fn fetch_rules(&self, url: &Url) -> (RobotsRules, Option<Vec<u8>>) {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let mut last_problem = String::new();
        let mut last_kind = None;
        for attempt in 0..ROBOTS_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500) * 2u32.pow(attempt - 1)).await;
            }
            let fetched = self
                .fetcher
                .fetch(&robots_url, &mut |_| RedirectVerdict::Follow)
                .await;
            match (fetched.status, &fetched.error) {
                (Some(status), None) if (200..300).contains(&status) => {
                    let body = fetched.body.to_vec();
                    return (RobotsRules::parse(&self.agent, &body), Some(body));
                }
                // A body over 500 KiB: parse what was kept, as RFC 9309 allows.
                (Some(status), Some(error))
                    if (200..300).contains(&status) && error.kind == ErrorKind::BodyTooLarge =>
                {
                    let body = fetched.body.to_vec();
                    return (RobotsRules::parse(&self.agent, &body), Some(body));
                }
                (Some(status), _) if (400..500).contains(&status) && status != 429 => {
                    return (RobotsRules::AllowAll, None);
                }
                // Redirect chains that end elsewhere or too long: no usable file.
                (Some(status), _) if (300..400).contains(&status) => {
                    return (RobotsRules::AllowAll, None);
                }
                (Some(status), _) => {
                    last_problem = format!("HTTP {status}");
                    last_kind = None;
                }
                (None, Some(error)) => {
                    last_problem = format!("{}: {}", error.kind.as_str(), error.message);
                    last_kind = Some(error.kind);
                    // Neither the network policy nor the server's
                    // certificate will change in a second: asking again
                    // only delays the host's refusal records.
                    if matches!(error.kind, ErrorKind::BlockedAddress | ErrorKind::Tls) {
                        break;
                    }
                }
                (None, None) => last_problem = "no response".to_owned(),
            }
        }
        (
            RobotsRules::Unavailable {
                kind: last_kind,
                reason: last_problem,
            },
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_verdicts_round_trip_and_unavailable_ones_are_not_shared() {
        let body = b"User-agent: *\nDisallow: /x\nCrawl-delay: 2\n";
        let parsed = RobotsRules::parse("trawl", body);
        let verdict = encode_verdict(&parsed, Some(body)).unwrap();
        let back = decode_verdict("trawl", &verdict).unwrap();
        assert_eq!(back.crawl_delay(), Some(Duration::from_secs(2)));
        assert!(!back.allowed(&Url::parse("http://h.example/x").unwrap()));
        let allow = encode_verdict(&RobotsRules::AllowAll, None).unwrap();
        assert!(matches!(
            decode_verdict("trawl", &allow),
            Some(RobotsRules::AllowAll)
        ));
        let down = RobotsRules::Unavailable {
            kind: None,
            reason: "HTTP 503".into(),
        };
        assert_eq!(encode_verdict(&down, None), None);
        assert!(decode_verdict("trawl", b"").is_none());
        assert!(decode_verdict("trawl", b"Ajunk").is_none());
        assert!(decode_verdict("trawl", b"?").is_none());
    }

    fn rules(text: &str) -> RobotsRules {
        RobotsRules::parse("trawl", text.as_bytes())
    }

    fn allowed(rules: &RobotsRules, path: &str) -> bool {
        rules.allowed(&Url::parse(&format!("http://h.example{path}")).unwrap())
    }

    #[test]
    fn our_group_beats_the_wildcard_and_longest_match_wins() {
        let rules = rules(
            "User-agent: *\nDisallow: /\n\nUser-agent: trawl\nDisallow: /private\nAllow: /private/open\nCrawl-delay: 2.5\n",
        );
        assert!(allowed(&rules, "/public"));
        assert!(!allowed(&rules, "/private/x"));
        assert!(allowed(&rules, "/private/open/x"));
        assert!(allowed(&rules, "/robots.txt"));
        assert_eq!(rules.crawl_delay(), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn wildcards_anchors_bom_and_crlf() {
        let rules = rules(
            "\u{feff}User-agent: *\r\nDisallow: /*.pdf$\r\nDisallow: /tmp/\r\nSitemap: http://h.example/sitemap.xml\r\n",
        );
        assert!(!allowed(&rules, "/a/b.pdf"));
        assert!(allowed(&rules, "/a/b.pdf?x=1"));
        assert!(!allowed(&rules, "/tmp/x"));
        assert!(allowed(&rules, "/tmpfile"));
        assert_eq!(rules.sitemaps(), ["http://h.example/sitemap.xml"]);
    }

    #[test]
    fn allow_wins_ties() {
        let rules = rules("User-agent: *\nDisallow: /page\nAllow: /page\n");
        assert!(allowed(&rules, "/page"));
    }

    #[test]
    fn unavailable_disallows_everything_and_says_why() {
        let rules = RobotsRules::Unavailable {
            kind: None,
            reason: "HTTP 503".into(),
        };
        assert!(!allowed(&rules, "/"));
        assert!(
            rules
                .refusal(&Url::parse("http://h.example/").unwrap())
                .contains("HTTP 503")
        );
        assert!(allowed(&RobotsRules::AllowAll, "/anything"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn the_matcher_never_panics_and_always_allows_robots_txt(
                lines in proptest::collection::vec(prop_oneof![
                    Just("User-agent: *".to_owned()), Just("User-agent: trawl".to_owned()),
                    "(Allow|Disallow|allow|DISALLOW): ?/[a-z*$%/.?=]{0,12}",
                    "Crawl-delay: [0-9.a-z-]{0,6}", "Sitemap: [ -~]{0,20}", "[ -~]{0,30}",
                ], 0..20),
                path in "/[a-z*$%/.?=]{0,16}",
            ) {
                let rules = RobotsRules::parse("trawl", lines.join("\r\n").as_bytes());
                let url = Url::parse(&format!("http://h.example{path}")).unwrap();
                let _ = rules.allowed(&url);
                let _ = rules.crawl_delay();
                prop_assert!(rules.allowed(&Url::parse("http://h.example/robots.txt").unwrap()));
            }
        }
    }
}
