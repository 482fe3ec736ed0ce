//! What a crawl may do: the pipeline's settings, polite by default.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use trawl_extractor::FieldSpec;
use trawl_fetcher::{FetcherConfig, PolitenessConfig};
use trawl_frontier::{Limits, ScopeMode};

/// Everything the pipeline needs to know, with polite defaults
/// ([`Settings::default`]): robots.txt obeyed, 2 requests per second and 2
/// in flight per host, adaptive pacing on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    /// Rate, pacing and per-host concurrency.
    pub politeness: PolitenessConfig,
    /// Depth, page and trap limits (its `per_host_concurrency` is taken
    /// from `politeness`).
    pub limits: Limits,
    /// How far the crawl may wander from its seeds.
    pub scope: ScopeMode,
    /// Links must match one of these (when any are given).
    pub include: Vec<Regex>,
    /// Links matching any of these are not followed.
    pub exclude: Vec<Regex>,
    /// The HTTP client, its network policy included (public addresses
    /// only by default; [`Crawler::run`](crate::Crawler::run) adds the
    /// seeds' address classes).
    pub fetcher: FetcherConfig,
    /// Read each seed host's sitemaps and queue what they list.
    pub sitemaps: bool,
    /// Links marked `rel="nofollow"` are not queued.
    pub skip_nofollow_links: bool,
    /// Extra attempts for transient failures.
    pub retries: u32,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// Fetch and obey robots.txt.
    pub obey_robots: bool,
    /// The `User-agent:` product token matched in robots.txt.
    pub robots_agent: String,
    /// How long in-flight requests may run after a graceful shutdown.
    pub grace: Duration,
    /// HTML parser threads.
    pub parse_threads: usize,
    /// How often observers get a [`Progress`](crate::CrawlEvent::Progress)
    /// event.
    pub progress_interval: Duration,
    /// CSS-selected fields each HTML record carries (a tree parse per
    /// page, on the parser threads).
    pub fields: Option<Arc<FieldSpec>>,
    /// Where bodies are saved, content-addressed: set by
    /// [`CrawlerBuilder::save_bodies`](crate::CrawlerBuilder::save_bodies),
    /// which also adds the sink that writes them.
    pub save_bodies: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        let politeness = PolitenessConfig::default();
        Settings {
            concurrency: 32,
            politeness,
            limits: Limits {
                per_host_concurrency: politeness.per_host_concurrency,
                ..Limits::default()
            },
            scope: ScopeMode::Host,
            include: Vec::new(),
            exclude: Vec::new(),
            fetcher: FetcherConfig::default(),
            sitemaps: false,
            skip_nofollow_links: false,
            retries: 2,
            max_retry_after: Duration::from_secs(600),
            obey_robots: true,
            robots_agent: "trawl".to_owned(),
            grace: Duration::from_secs(5),
            parse_threads: 1,
            progress_interval: Duration::from_millis(125),
            fields: None,
            save_bodies: None,
        }
    }
}

impl Settings {
    /// Lifts the per-host rate and adaptive pacing: for a site you own.
    /// robots.txt is still obeyed.
    pub fn unthrottled(mut self) -> Self {
        self.politeness.per_host_rate = 0.0;
        self.politeness.delay_factor = 0.0;
        self
    }
}
