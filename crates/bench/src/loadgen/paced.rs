//! The politeness ceiling of the many-hosts mode: the crawl's schedule
//! with no crawler in it.
//!
//! Every virtual host gets one kept-alive connection, its `/robots.txt`,
//! then its pages one per `1 / rate` seconds from its first, with at most
//! `concurrency` requests in flight over all hosts (trawl's `-c`). It
//! knows every page up front, parses nothing and keeps no frontier, so its
//! share of the allowed rate is what this machine lets any client reach at
//! this host count, with the test site on the same cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::get;

/// What the paced run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PacedResult {
    /// Page responses (robots.txt not counted).
    pub pages: u64,
    /// Page responses with status 200.
    pub ok: u64,
    /// From the start to the last response.
    pub elapsed: Duration,
    /// From the start to the last host's first page response: the part
    /// of the run spent before every host was under way.
    pub last_first_page: Duration,
}

/// Crawls `paths` on every host in `authorities` (`name:port`, sent as
/// `Host`) over connections to `addr`, as described in the module docs.
pub async fn run(
    addr: SocketAddr,
    authorities: Vec<String>,
    paths: Arc<Vec<String>>,
    rate: f64,
    concurrency: usize,
) -> Result<PacedResult> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let started = Instant::now();
    let mut hosts = tokio::task::JoinSet::new();
    for authority in authorities {
        let paths = Arc::clone(&paths);
        let permits = Arc::clone(&permits);
        hosts.spawn(async move {
            host(addr, &authority, &paths, interval, &permits)
                .await
                .with_context(|| format!("host {authority}"))
        });
    }
    let mut total = PacedResult {
        pages: 0,
        ok: 0,
        elapsed: Duration::ZERO,
        last_first_page: Duration::ZERO,
    };
    while let Some(joined) = hosts.join_next().await {
        let part = joined.context("paced load generator task panicked")??;
        total.pages += part.pages;
        total.ok += part.ok;
        total.last_first_page = total
            .last_first_page
            .max(part.first_page.saturating_duration_since(started));
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One host's share of the run.
struct HostResult {
    pages: u64,
    ok: u64,
    first_page: Instant,
}

async fn host(
    addr: SocketAddr,
    authority: &str,
    paths: &[String],
    interval: Duration,
    permits: &Semaphore,
) -> Result<HostResult> {
    let mut connection = None;
    let mut opened = 0;
    let mut result = HostResult {
        pages: 0,
        ok: 0,
        first_page: Instant::now(),
    };
    {
        let _permit = permits.acquire().await.context("permits closed")?;
        get(addr, authority, "/robots.txt", &mut connection, &mut opened).await?;
    }
    // Page k goes at first + k / rate, never earlier: exact on average, and
    // a late request does not delay the ones after it (the most a per-host
    // rate allows, so the ceiling is an upper bound).
    let mut first: Option<Instant> = None;
    for (index, path) in paths.iter().enumerate() {
        if let Some(first) = first {
            tokio::time::sleep_until(first + interval * index as u32).await;
        }
        let _permit = permits.acquire().await.context("permits closed")?;
        first.get_or_insert_with(Instant::now);
        let status = get(addr, authority, path, &mut connection, &mut opened)
            .await?
            .status;
        if index == 0 {
            result.first_page = Instant::now();
        }
        result.pages += 1;
        result.ok += u64::from(status == 200);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use trawl_testsite::{SiteConfig, TestSite};

    use super::*;

    /// Every host gets its robots.txt, then each page once, spaced by the
    /// rate from its first page, as the site saw them (tokio's paused
    /// clock: the spacing is virtual time, not this machine's speed).
    #[tokio::test(start_paused = true)]
    async fn each_host_gets_robots_then_its_pages_at_the_rate() {
        let site = TestSite::start(SiteConfig {
            pages: 6,
            hosts: 3,
            ..SiteConfig::default()
        })
        .await
        .unwrap();
        let base = site.base_url();
        let paths: Vec<String> = site
            .reachable()
            .into_keys()
            .map(|url| url.strip_prefix(&base).unwrap().to_owned())
            .collect();
        assert!(paths.len() >= 3, "{paths:?}");
        let authorities: Vec<String> = (0..3)
            .map(|index| format!("{}:{}", TestSite::vhost(index), site.addr().port()))
            .collect();
        let result = run(
            site.addr(),
            authorities.clone(),
            Arc::new(paths.clone()),
            2.0,
            2,
        )
        .await
        .unwrap();
        assert_eq!(result.pages, 3 * paths.len() as u64);
        assert_eq!(result.ok, result.pages);
        let ideal = Duration::from_millis(500) * (paths.len() as u32 - 1);
        assert!(result.elapsed >= ideal, "{:?} < {ideal:?}", result.elapsed);

        let mut seen: BTreeMap<String, Vec<(String, std::time::Instant)>> = BTreeMap::new();
        for request in site.requests() {
            seen.entry(request.host.unwrap_or_default())
                .or_default()
                .push((request.path, request.at));
        }
        assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), authorities);
        for (host, requests) in &seen {
            let order: Vec<&str> = requests.iter().map(|(path, _)| path.as_str()).collect();
            let mut expected = vec!["/robots.txt"];
            expected.extend(paths.iter().map(String::as_str));
            assert_eq!(order, expected, "{host}");
            let pages = &requests[1..];
            for pair in pages.windows(2) {
                let gap = pair[1].1 - pair[0].1;
                assert!(gap >= Duration::from_millis(500), "{host}: {gap:?}");
            }
        }
        site.shutdown().await;
    }
}
