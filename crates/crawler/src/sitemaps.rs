//! Sitemap discovery: each seed host's sitemaps (robots.txt `Sitemap:`
//! lines and `/sitemap.xml`) read once, their in-scope URLs queued at
//! depth 0.

use std::sync::Arc;

use tokio::task::JoinSet;
use trawl_frontier::{CanonicalUrl, host_key};
use url::Url;

use crate::crawler::Pipeline;

/// Sitemap files read per seed host, and URLs taken from them.
const SITEMAP_FILES: usize = 1_000;
const SITEMAP_URLS: usize = 5_000_000;

/// Spawns one discovery task per seed host. Each holds the store open
/// until it is done, so the crawl cannot end before the sitemaps are read.
pub(crate) fn spawn_all(pipeline: &Arc<Pipeline>, tasks: &mut JoinSet<()>) {
    let mut origins: Vec<&Url> = Vec::new();
    for seed in &pipeline.seeds {
        if !origins
            .iter()
            .any(|known| host_key(known) == seed.host_key())
        {
            origins.push(seed.as_url());
        }
    }
    for origin in origins {
        // Held before the task exists: the crawl cannot end in between.
        pipeline.store.hold();
        let hold = HoldGuard(Arc::clone(pipeline));
        tasks.spawn(discover(hold, origin.clone()));
    }
}

/// Reads one seed host's sitemaps and queues the in-scope URLs they list
/// (depth 0, parent = the sitemap root), then releases its hold.
async fn discover(hold: HoldGuard, origin: Url) {
    let pipeline = &hold.0;
    let host = host_key(&origin);
    let mut root = origin.clone();
    root.set_path("/sitemap.xml");
    root.set_query(None);
    let mut starts = vec![root.clone()];
    if let Some(robots) = &pipeline.robots {
        let rules = robots.rules_for(&host, &origin).await;
        starts.extend(
            rules
                .sitemaps()
                .iter()
                .filter_map(|text| Url::parse(text).ok()),
        );
        starts.retain(|url| host_key(url) != host || rules.allowed(url));
    }
    let (urls, problems) = trawl_fetcher::discover_sitemaps(
        &pipeline.side_fetcher,
        starts,
        SITEMAP_FILES,
        SITEMAP_URLS,
    )
    .await;
    for problem in problems {
        tracing::warn!("{problem}");
    }
    let parent: Arc<str> = root.as_str().into();
    let entries: Vec<_> = urls
        .iter()
        .filter_map(|url| CanonicalUrl::new(url).ok())
        .map(|url| crate::page::entry(url, 0, Some(Arc::clone(&parent))))
        .collect();
    tracing::info!(%origin, found = urls.len(), "sitemaps read");
    pipeline.queue(entries).await;
}

/// Releases a store hold when dropped, even if its task panics or is
/// aborted, so the crawl can always end.
struct HoldGuard(Arc<Pipeline>);

impl Drop for HoldGuard {
    fn drop(&mut self) {
        self.0.store.release();
        self.0.wake.notify_one();
    }
}
