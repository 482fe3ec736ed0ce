//! Per-host request rate: a GCRA limiter (governor) keyed by host key, asked
//! without waiting, so the scheduler can rest one host and serve others.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

type Keyed<C> =
    RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Requests per second per host, burst of one.
pub struct HostRateLimiter<C: Clock + Clone = DefaultClock> {
    limiter: Keyed<C>,
    clock: C,
}

impl<C: Clock + Clone> std::fmt::Debug for HostRateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostRateLimiter")
            .field("hosts", &self.limiter.len())
            .finish()
    }
}

impl HostRateLimiter {
    /// `None` when `per_second` is 0 (unlimited) or not a positive number.
    pub fn new(per_second: f64) -> Option<HostRateLimiter> {
        HostRateLimiter::with_clock(per_second, DefaultClock::default())
    }
}

impl<C: Clock + Clone> HostRateLimiter<C> {
    /// Like [`HostRateLimiter::new`] with a given clock (tests use a fake one).
    pub fn with_clock(per_second: f64, clock: C) -> Option<HostRateLimiter<C>> {
        if !per_second.is_finite() || per_second <= 0.0 {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::MIN);
        Some(HostRateLimiter {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
        })
    }

    /// Ok when `host` may get a request now (the cell is used); otherwise
    /// how long until it may.
    pub fn check(&self, host: &str) -> Result<(), Duration> {
        // `check_key` wants an owned key type reference; host keys are short.
        let key = host.to_owned();
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets hosts whose state no longer matters, so a crawl over many
    /// hosts keeps its limiter table small.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Hosts currently tracked.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// No host tracked.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn one_request_per_interval_per_host() {
        let clock = FakeRelativeClock::default();
        let limiter = HostRateLimiter::with_clock(4.0, clock.clone()).unwrap();
        assert_eq!(limiter.check("http://a:80"), Ok(()));
        assert_eq!(
            limiter.check("http://a:80"),
            Err(Duration::from_millis(250))
        );
        assert_eq!(
            limiter.check("http://b:80"),
            Ok(()),
            "another host is not affected"
        );
        clock.advance(Duration::from_millis(100));
        assert_eq!(
            limiter.check("http://a:80"),
            Err(Duration::from_millis(150))
        );
        clock.advance(Duration::from_millis(150));
        assert_eq!(limiter.check("http://a:80"), Ok(()));
    }

    #[test]
    fn fractional_rates_and_unlimited() {
        let clock = FakeRelativeClock::default();
        let limiter = HostRateLimiter::with_clock(0.5, clock.clone()).unwrap();
        assert_eq!(limiter.check("h"), Ok(()));
        assert_eq!(limiter.check("h"), Err(Duration::from_secs(2)));
        assert!(HostRateLimiter::new(0.0).is_none());
        assert!(HostRateLimiter::new(-1.0).is_none());
        assert!(HostRateLimiter::new(f64::NAN).is_none());
    }

    #[test]
    fn idle_hosts_are_pruned() {
        let clock = FakeRelativeClock::default();
        let limiter = HostRateLimiter::with_clock(10.0, clock.clone()).unwrap();
        for host in 0..100 {
            let _ = limiter.check(&format!("http://h{host}:80"));
        }
        assert_eq!(limiter.len(), 100);
        clock.advance(Duration::from_secs(1));
        limiter.retain_recent();
        assert!(limiter.is_empty());
    }
}
