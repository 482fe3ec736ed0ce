//! Per-host request rate: a GCRA limiter (governor) keyed by host key, asked
//! without waiting, so the scheduler can rest one host and serve others.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// Longest period between two requests to a host: one a year.
const MAX_PERIOD: Duration = Duration::from_secs(365 * 24 * 60 * 60);

type Keyed<C> =
    RateLimiter<String, DashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// governor's clock reading tokio's time, so a test that pauses or advances
/// tokio time (`tokio::time::pause`) moves the rate limits with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// At most `per_second` requests per second to each host, burst of one.
///
/// Keys are whatever the caller uses to name a host (for example
/// `scheme://host:port`); the limiter does not interpret them.
pub struct HostRateLimiter<C: Clock + Clone = TokioClock> {
    limiter: Keyed<C>,
    clock: C,
}

impl<C: Clock + Clone> fmt::Debug for HostRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostRateLimiter")
            .field("hosts", &self.limiter.len())
            .finish()
    }
}

impl HostRateLimiter {
    /// `None` when `per_second` is 0 (unlimited) or not a positive number.
    /// Fractional rates work: 0.5 means one request every two seconds.
    pub fn new(per_second: f64) -> Option<HostRateLimiter> {
        HostRateLimiter::with_clock(per_second, TokioClock)
    }
}

impl<C: Clock + Clone> HostRateLimiter<C> {
    /// Like [`HostRateLimiter::new`] on a given clock (tests use governor's
    /// `FakeRelativeClock`).
    pub fn with_clock(per_second: f64, clock: C) -> Option<HostRateLimiter<C>> {
        if !per_second.is_finite() || per_second <= 0.0 {
            return None;
        }
        // A period is used rather than Quota::per_second because the latter
        // takes whole cells per second and cannot say 0.5/s. governor panics
        // on periods past ~584 years, so absurdly low rates are clamped.
        let period = Duration::try_from_secs_f64(1.0 / per_second)
            .unwrap_or(MAX_PERIOD)
            .clamp(Duration::from_nanos(1), MAX_PERIOD);
        let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::MIN);
        Some(HostRateLimiter {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
        })
    }

    /// `Ok` when `host` may get a request now (its slot is taken); otherwise
    /// the time until it may. Never waits.
    pub fn check(&self, host: &str) -> Result<(), Duration> {
        // governor's keyed API wants `&K`; host keys are short, the copy is cheap.
        let key = host.to_owned();
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets hosts whose state is back to "fresh", so a crawl over many
    /// hosts keeps its limiter table small. Call it now and then.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Hosts currently tracked.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no host is tracked.
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
        let limiter = HostRateLimiter::with_clock(4.0, clock.clone()).expect("limited");
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
    fn a_refused_check_does_not_consume_the_slot() {
        let clock = FakeRelativeClock::default();
        let limiter = HostRateLimiter::with_clock(1.0, clock.clone()).expect("limited");
        assert_eq!(limiter.check("h"), Ok(()));
        for _ in 0..5 {
            assert_eq!(limiter.check("h"), Err(Duration::from_secs(1)));
        }
        clock.advance(Duration::from_secs(1));
        assert_eq!(limiter.check("h"), Ok(()));
    }

    #[test]
    fn fractional_rates_and_unlimited() {
        let clock = FakeRelativeClock::default();
        let limiter = HostRateLimiter::with_clock(0.5, clock.clone()).expect("limited");
        assert_eq!(limiter.check("h"), Ok(()));
        assert_eq!(limiter.check("h"), Err(Duration::from_secs(2)));
        assert!(HostRateLimiter::new(0.0).is_none());
        assert!(HostRateLimiter::new(-1.0).is_none());
        assert!(HostRateLimiter::new(f64::NAN).is_none());
        assert!(HostRateLimiter::new(f64::INFINITY).is_none());
        let slow = HostRateLimiter::with_clock(1e-300, clock.clone()).expect("limited");
        assert_eq!(slow.check("h"), Ok(()));
        assert_eq!(slow.check("h"), Err(MAX_PERIOD));
        assert!(HostRateLimiter::new(1e300).is_some());
    }

    #[test]
    fn idle_hosts_are_pruned() {
        let clock = FakeRelativeClock::default();
        let limiter = HostRateLimiter::with_clock(10.0, clock.clone()).expect("limited");
        for host in 0..100 {
            assert_eq!(limiter.check(&format!("http://h{host}:80")), Ok(()));
        }
        assert_eq!(limiter.len(), 100);
        clock.advance(Duration::from_secs(1));
        limiter.retain_recent();
        assert!(limiter.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tokio_clock_limiter_works_in_real_time() {
        let limiter = HostRateLimiter::new(1.0).expect("limited");
        assert_eq!(limiter.check("h"), Ok(()));
        let wait = limiter.check("h").expect_err("second check is too soon");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
    }
}
