//! Per-host pacing beyond the fixed rate limit: robots.txt `Crawl-delay`
//! and adaptive politeness (the gap between requests follows the server's
//! response time, like Scrapy's AutoThrottle or Heritrix's delay factor).
//!
//! The dispatcher asks [`Pacing::check`] before the rate limiter and calls
//! [`Pacing::admitted`] when a request to the host is handed out; fetch
//! tasks report response times with [`Pacing::observe`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Weight of the newest response time in the moving average.
const EWMA_WEIGHT: f64 = 0.3;

#[derive(Debug, Default, Clone, Copy)]
struct HostPace {
    crawl_delay: Option<Duration>,
    response_time: Option<Duration>,
    next_start: Option<Instant>,
    /// The start of the latest request that went through [`Pacing::claim`]
    /// plus the crawl delay: actual starts are spaced from this.
    claimed_until: Option<Instant>,
}

/// Pacing state for every host of the crawl.
#[derive(Debug)]
pub struct Pacing {
    hosts: Mutex<HashMap<String, HostPace>>,
    delay_factor: f64,
    per_host_concurrency: u32,
    max_gap: Duration,
    /// `1 / --per-host-rate`: the least time between two actual starts.
    rate_gap: Duration,
}

impl Pacing {
    /// `delay_factor` 0 turns adaptive pacing off; gaps never exceed `max_gap`.
    pub fn new(delay_factor: f64, per_host_concurrency: u32, max_gap: Duration) -> Self {
        Pacing {
            hosts: Mutex::new(HashMap::new()),
            delay_factor,
            per_host_concurrency: per_host_concurrency.max(1),
            max_gap,
            rate_gap: Duration::ZERO,
        }
    }

    /// Also spaces actual request starts by `1 / per_second` (0 = no
    /// limit): the rate limiter admits requests when they are dispatched,
    /// but robots.txt or a slow connect can delay one, and the next must
    /// still not follow it on the wire sooner than the rate allows.
    pub fn with_rate(mut self, per_second: f64) -> Self {
        if per_second.is_finite() && per_second > 0.0 {
            self.rate_gap = Duration::from_secs_f64(1.0 / per_second);
        }
        self
    }

    fn hosts(&self) -> MutexGuard<'_, HashMap<String, HostPace>> {
        self.hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ok when `host` may get a request at `now`; otherwise when it may.
    pub fn check(&self, host: &str, now: Instant) -> Result<(), Instant> {
        match self.hosts().get(host).and_then(|pace| pace.next_start) {
            Some(next) if next > now => Err(next),
            _ => Ok(()),
        }
    }

    /// A request to `host` starts at `now`: the next may not start before
    /// the host's current gap has passed.
    pub fn admitted(&self, host: &str, now: Instant) {
        let mut hosts = self.hosts();
        if let Some(pace) = hosts.get_mut(host) {
            let gap = self.gap(pace);
            pace.next_start = (!gap.is_zero()).then(|| now + gap);
        }
    }

    /// Claims the moment a request to `host` may really start under its
    /// `Crawl-delay`: `None` for now, or the instant to wait for. Requests
    /// dispatched before robots.txt was known are spaced out here.
    pub fn claim(&self, host: &str, now: Instant) -> Option<Instant> {
        let mut hosts = self.hosts();
        let known_delay = hosts.get(host).and_then(|pace| pace.crawl_delay);
        let delay = known_delay.unwrap_or_default().max(self.rate_gap);
        if delay.is_zero() {
            return None;
        }
        let pace = hosts.entry(host.to_owned()).or_default();
        let start = pace.claimed_until.map_or(now, |until| until.max(now));
        pace.claimed_until = Some(start + delay);
        pace.next_start = Some(
            pace.next_start
                .map_or(start + delay, |next| next.max(start + delay)),
        );
        (start > now).then_some(start)
    }

    /// Records the host's robots.txt `Crawl-delay` (capped).
    pub fn set_crawl_delay(&self, host: &str, delay: Duration) {
        self.hosts().entry(host.to_owned()).or_default().crawl_delay =
            Some(delay.min(self.max_gap));
    }

    /// Feeds one response time of `host` into its moving average.
    pub fn observe(&self, host: &str, response_time: Duration) {
        if self.delay_factor == 0.0 {
            return;
        }
        let mut hosts = self.hosts();
        let pace = hosts.entry(host.to_owned()).or_default();
        pace.response_time = Some(match pace.response_time {
            None => response_time,
            Some(average) => {
                average.mul_f64(1.0 - EWMA_WEIGHT) + response_time.mul_f64(EWMA_WEIGHT)
            }
        });
    }

    /// The current minimum gap between two request starts to `host`.
    #[cfg(test)]
    pub fn current_gap(&self, host: &str) -> Duration {
        self.hosts()
            .get(host)
            .map(|pace| self.gap(pace))
            .unwrap_or_default()
    }

    fn gap(&self, pace: &HostPace) -> Duration {
        let adaptive = pace
            .response_time
            .map(|time| time.mul_f64(self.delay_factor / f64::from(self.per_host_concurrency)))
            .unwrap_or_default();
        adaptive
            .max(pace.crawl_delay.unwrap_or_default())
            .min(self.max_gap)
    }

    /// Forgets hosts with no pending pause, keeping memory flat over crawls
    /// of many hosts (crawl delays are re-learnt from the robots cache).
    pub fn prune(&self, now: Instant) {
        self.hosts().retain(|_, pace| {
            pace.crawl_delay.is_some() || pace.next_start.is_some_and(|next| next > now)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crawl_delay_spaces_request_starts() {
        let pacing = Pacing::new(0.0, 2, Duration::from_secs(30));
        let now = Instant::now();
        assert_eq!(pacing.check("h", now), Ok(()));
        pacing.set_crawl_delay("h", Duration::from_secs(2));
        pacing.admitted("h", now);
        assert_eq!(
            pacing.check("h", now + Duration::from_secs(1)),
            Err(now + Duration::from_secs(2))
        );
        assert_eq!(pacing.check("h", now + Duration::from_secs(2)), Ok(()));
        assert_eq!(pacing.check("other", now), Ok(()));
    }

    #[test]
    fn claims_space_requests_dispatched_before_the_delay_was_known() {
        let pacing = Pacing::new(0.0, 4, Duration::from_secs(30));
        let now = Instant::now();
        assert_eq!(pacing.claim("h", now), None, "no delay known: no wait");
        pacing.set_crawl_delay("h", Duration::from_secs(1));
        assert_eq!(pacing.claim("h", now), None);
        assert_eq!(pacing.claim("h", now), Some(now + Duration::from_secs(1)));
        assert_eq!(pacing.claim("h", now), Some(now + Duration::from_secs(2)));
        assert_eq!(
            pacing.check("h", now + Duration::from_secs(2)),
            Err(now + Duration::from_secs(3))
        );
    }

    #[test]
    fn the_rate_spaces_actual_starts_even_when_one_was_delayed() {
        let pacing = Pacing::new(0.0, 2, Duration::from_secs(30)).with_rate(2.0);
        let now = Instant::now();
        // The first request went out late (robots.txt, a slow connect)...
        let late = now + Duration::from_secs(1);
        assert_eq!(pacing.claim("h", late), None);
        // ...so the next, admitted on time, waits its 1/R after it.
        assert_eq!(
            pacing.claim("h", now + Duration::from_millis(500)),
            Some(late + Duration::from_millis(500))
        );
        let unlimited = Pacing::new(0.0, 2, Duration::from_secs(30)).with_rate(0.0);
        assert_eq!(unlimited.claim("h", now), None);
        assert_eq!(unlimited.claim("h", now), None);
    }

    #[test]
    fn crawl_delay_is_capped() {
        let pacing = Pacing::new(0.0, 1, Duration::from_secs(30));
        pacing.set_crawl_delay("h", Duration::from_secs(3600));
        assert_eq!(pacing.current_gap("h"), Duration::from_secs(30));
    }

    #[test]
    fn adaptive_gap_follows_response_time() {
        let pacing = Pacing::new(2.0, 2, Duration::from_secs(30));
        pacing.observe("h", Duration::from_millis(100));
        assert_eq!(pacing.current_gap("h"), Duration::from_millis(100));
        for _ in 0..50 {
            pacing.observe("h", Duration::from_millis(1000));
        }
        let gap = pacing.current_gap("h");
        assert!(
            gap > Duration::from_millis(990) && gap <= Duration::from_millis(1000),
            "{gap:?}"
        );
        let off = Pacing::new(0.0, 2, Duration::from_secs(30));
        off.observe("h", Duration::from_secs(5));
        assert_eq!(off.current_gap("h"), Duration::ZERO);
    }
}
