//! What `trawl status` and `--fresh` need: a crawl's counts, and wiping a
//! crawl's keys.

use std::time::Duration;

use redis::AsyncCommands;

use crate::conn::{ConnectError, connect};
use crate::keys::{Clock, Keys, check_crawl_id, global_key};
use crate::store::parse_beat;

/// A shared crawl's counts, summed over its shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrawlStatus {
    /// Shards of the crawl; 0 when no crawl by that id exists.
    pub shards: u32,
    /// URLs waiting in queues.
    pub queued: u64,
    /// URLs leased to a worker and not yet acked.
    pub leased: u64,
    /// URLs finished (fetched, failed or refused: one record each).
    pub done: u64,
    /// URLs ever queued.
    pub created: u64,
    /// Hosts with at least one URL queued over the crawl.
    pub hosts: u64,
    /// URLs handed out against `--max-pages` (0 without a page limit).
    pub handed_out: u64,
    /// Every worker seen: its name and milliseconds since its last
    /// heartbeat.
    pub workers: Vec<(String, u64)>,
}

impl CrawlStatus {
    /// True when nothing is queued or leased and every URL is finished.
    pub fn finished(&self) -> bool {
        self.shards > 0 && self.leased == 0 && self.done == self.created
    }
}

fn setup_error(url: &str, crawl: &str, source: redis::RedisError) -> ConnectError {
    ConnectError::Setup {
        url: crate::conn::redacted(url),
        crawl: crawl.to_owned(),
        source,
    }
}

/// Reads crawl `crawl`'s counts from the Redis at `url`.
pub async fn status(
    url: &str,
    crawl: &str,
    timeout: Duration,
) -> Result<CrawlStatus, ConnectError> {
    check_crawl_id(crawl)?;
    let mut conn = connect(url, timeout).await?;
    let failed = |source| setup_error(url, crawl, source);
    let meta = global_key(crawl, "meta");
    let shards: Option<u32> = conn.hget(&meta, "shards").await.map_err(failed)?;
    let Some(shards) = shards else {
        return Ok(CrawlStatus::default());
    };
    let keys = Keys::new(crawl, shards, 1)?;
    let mut pipe = redis::pipe();
    for shard in 0..shards {
        pipe.cmd("HMGET")
            .arg(keys.stats(shard))
            .arg(&["queued", "finished", "created", "hosts"]);
        pipe.zcard(keys.leases(shard));
    }
    let rows: Vec<(Vec<Option<i64>>, u64)> = {
        let flat: Vec<redis::Value> = pipe.query_async(&mut conn).await.map_err(failed)?;
        let mut rows = Vec::new();
        for pair in flat.chunks(2) {
            let fields: Vec<Option<i64>> =
                redis::from_redis_value_ref(&pair[0]).map_err(|e| failed(e.into()))?;
            let leased: u64 =
                redis::from_redis_value_ref(&pair[1]).map_err(|e| failed(e.into()))?;
            rows.push((fields, leased));
        }
        rows
    };
    let mut status = CrawlStatus {
        shards,
        ..CrawlStatus::default()
    };
    for (fields, leased) in rows {
        let field = |i: usize| fields.get(i).copied().flatten().unwrap_or(0).max(0) as u64;
        status.queued += field(0);
        status.done += field(1);
        status.created += field(2);
        status.hosts += field(3);
        status.leased += leased;
    }
    let handed: Option<u64> = conn.get(keys.global("handed")).await.map_err(failed)?;
    status.handed_out = handed.unwrap_or(0);
    let workers: Vec<(String, String)> =
        conn.hgetall(keys.global("workers")).await.map_err(failed)?;
    let now = Clock::now().ms(std::time::Instant::now());
    status.workers = workers
        .into_iter()
        .map(|(name, beat)| (name, now.saturating_sub(parse_beat(&beat).0)))
        .collect();
    status.workers.sort();
    Ok(status)
}

/// Deletes every key of crawl `crawl` (`--fresh`); returns how many.
pub async fn clear(url: &str, crawl: &str, timeout: Duration) -> Result<u64, ConnectError> {
    check_crawl_id(crawl)?;
    let mut conn = connect(url, timeout).await?;
    let failed = |source| setup_error(url, crawl, source);
    let keys = Keys::new(crawl, 1, 1)?;
    let mut deleted = 0;
    for pattern in keys.patterns() {
        let mut cursor = 0u64;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(failed)?;
            if !found.is_empty() {
                let removed: u64 = conn.del(&found).await.map_err(failed)?;
                deleted += removed;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(deleted)
}

/// Adds `seeds` to the crawl's seed list and returns the whole list, so
/// every worker scopes the crawl by every worker's seeds (a worker given
/// other seeds, or joining later, still follows links to their hosts).
pub async fn share_seeds(
    url: &str,
    crawl: &str,
    seeds: &[String],
    timeout: Duration,
) -> Result<Vec<String>, ConnectError> {
    check_crawl_id(crawl)?;
    let mut conn = connect(url, timeout).await?;
    let failed = |source| setup_error(url, crawl, source);
    let key = global_key(crawl, "seeds");
    if !seeds.is_empty() {
        let _: u64 = conn.sadd(&key, seeds).await.map_err(failed)?;
    }
    let mut all: Vec<String> = conn.smembers(&key).await.map_err(failed)?;
    all.sort();
    Ok(all)
}
