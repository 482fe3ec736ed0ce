//! Politeness, one owner: [`HostPolicy`] decides when a host may get its
//! next request. It combines the fixed per-host rate, robots.txt
//! `Crawl-delay`, adaptive pacing (the gap between requests follows the
//! server's response time, like Scrapy's AutoThrottle or Heritrix's delay
//! factor) into one gap, kept by one GCRA [`Schedule`] per host, and adds
//! the pauses a 429 or 503 asks for.
//!
//! The scheduler asks [`HostPolicy::admit`] when it would hand out a URL;
//! a fetch task asks [`HostPolicy::claim_start`] right before its request
//! (delays learnt after dispatch, from robots.txt, still hold) and reports
//! response times with [`HostPolicy::observe`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::limiter::Schedule;

/// Weight of the newest response time in the moving average.
const EWMA_WEIGHT: f64 = 0.3;

#[derive(Debug, Default, Clone, Copy)]
struct HostPace {
    crawl_delay: Option<Duration>,
    response_time: Option<Duration>,
    /// When the scheduler may hand out the next URL: spaced by the host's
    /// whole gap (rate, Crawl-delay, adaptive pacing) and held back by
    /// pauses.
    dispatch: Schedule,
    /// Actual request starts ([`Pacing::claim`]), spaced by the rate and
    /// the Crawl-delay: a request held up after dispatch (robots.txt, a
    /// slow connect) must not be followed on the wire too soon.
    starts: Schedule,
    /// Set by a 429 or 503: no request before this.
    paused_until: Option<Instant>,
}

/// Pacing state for every host of the crawl.
#[derive(Debug)]
struct Pacing {
    hosts: Mutex<HashMap<String, HostPace>>,
    delay_factor: f64,
    per_host_concurrency: u32,
    max_gap: Duration,
    /// `1 / --per-host-rate`: the least average time between two starts.
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

    /// Spaces requests by `1 / per_second` on average (0 = no limit).
    /// Rates too low to be a `Duration` are clamped to one request a year.
    pub fn with_rate(mut self, per_second: f64) -> Self {
        if per_second.is_finite() && per_second > 0.0 {
            self.rate_gap = Duration::try_from_secs_f64(1.0 / per_second)
                .unwrap_or(MAX_RATE_GAP)
                .min(MAX_RATE_GAP);
        }
        self
    }

    fn hosts(&self) -> MutexGuard<'_, HashMap<String, HostPace>> {
        self.hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Ok` when `host` may get a request at `now` (it then counts as
    /// dispatched); otherwise the earliest instant it may. A host with no
    /// gap and no state is not even written down.
    pub fn admit(&self, host: &str, now: Instant) -> Result<(), Instant> {
        let mut hosts = self.hosts();
        let pace = match hosts.get_mut(host) {
            Some(pace) => pace,
            None if self.rate_gap.is_zero() => return Ok(()),
            None => hosts.entry(host.to_owned()).or_default(),
        };
        if let Some(until) = pace.paused_until.filter(|&until| until > now) {
            return Err(until);
        }
        let gap = self.gap(pace);
        pace.dispatch.admit(now, gap)
    }

    /// No request to `host` before `until` (a later pause wins).
    pub fn pause(&self, host: &str, until: Instant) {
        let mut hosts = self.hosts();
        let pace = hosts.entry(host.to_owned()).or_default();
        pace.paused_until = Some(pace.paused_until.map_or(until, |known| known.max(until)));
    }

    /// Claims the moment a request to `host` may really start under its
    /// rate and `Crawl-delay`: `None` for now, or the instant to wait for.
    /// Requests dispatched before robots.txt was known are spaced out here.
    pub fn claim(&self, host: &str, now: Instant) -> Option<Instant> {
        let mut hosts = self.hosts();
        let known_delay = hosts.get(host).and_then(|pace| pace.crawl_delay);
        let delay = known_delay.unwrap_or_default().max(self.rate_gap);
        if delay.is_zero() {
            return None;
        }
        let pace = hosts.entry(host.to_owned()).or_default();
        let start = pace.starts.reserve(now, delay);
        // Later dispatches follow the actual starts, not the planned ones.
        if let Some(next) = pace.starts.next_due() {
            pace.dispatch.not_before(next);
        }
        start
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
        let pace = match hosts.get_mut(host) {
            Some(pace) => pace,
            None => hosts.entry(host.to_owned()).or_default(),
        };
        pace.response_time = Some(match pace.response_time {
            None => response_time,
            Some(average) => {
                average.mul_f64(1.0 - EWMA_WEIGHT) + response_time.mul_f64(EWMA_WEIGHT)
            }
        });
    }

    /// The least time between two request starts to `host` (the rate's
    /// gap included) and the pause in force, for a store that spaces the
    /// host's requests over several processes.
    pub fn pace(&self, host: &str) -> (Duration, Option<Instant>) {
        let pace = self.hosts().get(host).copied().unwrap_or_default();
        (self.gap(&pace).max(self.rate_gap), pace.paused_until)
    }

    /// The current minimum gap between two request starts to `host`.
    #[cfg(test)]
    fn current_gap(&self, host: &str) -> Duration {
        self.hosts()
            .get(host)
            .map(|pace| self.gap(pace))
            .unwrap_or(self.rate_gap)
    }

    fn gap(&self, pace: &HostPace) -> Duration {
        let adaptive = pace
            .response_time
            .map(|time| time.mul_f64(self.delay_factor / f64::from(self.per_host_concurrency)))
            .unwrap_or_default();
        adaptive
            .max(pace.crawl_delay.unwrap_or_default())
            .min(self.max_gap)
            .max(self.rate_gap)
    }

    /// Forgets hosts that owe nothing, keeping memory flat over crawls of
    /// many hosts (crawl delays are kept: they are not re-learnt).
    pub fn prune(&self, now: Instant) {
        self.hosts().retain(|_, pace| {
            pace.crawl_delay.is_some()
                || !pace.dispatch.is_idle(now)
                || !pace.starts.is_idle(now)
                || pace.paused_until.is_some_and(|until| until > now)
        });
    }

    /// Hosts with state.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.hosts().len()
    }
}

/// Hosts spaced further apart than this (a low `--per-host-rate`, a long
/// Crawl-delay) get no kept connection: common servers close one idle
/// for about 5 s (Apache's and Node's defaults), so it would seldom be
/// used again, and a crawl of many such hosts would hold one open file
/// per host for nothing, and run out of them. At this gap or less the
/// connection idles for less than the gap (the response took some of
/// it) and is kept: reconnecting costs both sides a handshake.
pub const KEEP_ALIVE_GAP: Duration = Duration::from_secs(5);

/// Longest average gap the rate may ask for: one request a year.
const MAX_RATE_GAP: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// How polite to be to each host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolitenessConfig {
    /// Requests per second to one host; 0 means unlimited.
    pub per_host_rate: f64,
    /// Adaptive pacing: gap = factor × average response time ÷ per-host
    /// concurrency; 0 turns it off.
    pub delay_factor: f64,
    /// Requests in flight at once to one host.
    pub per_host_concurrency: u32,
    /// The longest gap any of the above may ask for (robots.txt
    /// `Crawl-delay` included).
    pub max_crawl_delay: Duration,
}

impl Default for PolitenessConfig {
    fn default() -> Self {
        PolitenessConfig {
            per_host_rate: 2.0,
            delay_factor: 2.0,
            per_host_concurrency: 2,
            max_crawl_delay: Duration::from_secs(30),
        }
    }
}

/// Every per-host politeness rule of a crawl, behind one interface.
#[derive(Debug)]
pub struct HostPolicy {
    pacing: Pacing,
}

impl HostPolicy {
    /// A policy for `config`. Every rule reads the instants its caller
    /// passes (tokio's clock in the crawler), so a test with paused time
    /// moves them together.
    pub fn new(config: &PolitenessConfig) -> HostPolicy {
        HostPolicy {
            pacing: Pacing::new(
                config.delay_factor,
                config.per_host_concurrency,
                config.max_crawl_delay,
            )
            .with_rate(config.per_host_rate),
        }
    }

    /// `Ok` when a request to `host` may start at `now`, which then counts
    /// as started; otherwise the earliest instant it may. Never waits.
    ///
    /// One schedule per host (see [`Schedule`]) keeps the rate, the
    /// Crawl-delay and adaptive pacing exact on average: a late wake-up
    /// keeps its slot, and gaps shorter than
    /// [`TIMER_SLACK`](crate::TIMER_SLACK), which no timer could honour,
    /// start up to the slack early, so they cost no timer.
    pub fn admit(&self, host: &str, now: Instant) -> Result<(), Instant> {
        self.pacing.admit(host, now)
    }

    /// The moment a request admitted earlier may really start: `None` for
    /// now, or the instant to wait for. Spaces requests dispatched before
    /// the host's `Crawl-delay` was known, and keeps actual starts `1 /
    /// rate` apart when one of them went out late.
    pub fn claim_start(&self, host: &str, now: Instant) -> Option<Instant> {
        self.pacing.claim(host, now)
    }

    /// Records the host's robots.txt `Crawl-delay` (capped).
    pub fn set_crawl_delay(&self, host: &str, delay: Duration) {
        self.pacing.set_crawl_delay(host, delay);
    }

    /// Feeds one response time of `host` into its adaptive pacing.
    pub fn observe(&self, host: &str, response_time: Duration) {
        self.pacing.observe(host, response_time);
    }

    /// What this policy decided for `host`, for a shared store to enforce
    /// over every worker: the least gap between two request starts (rate,
    /// `Crawl-delay` and adaptive pacing together) and the pause a 429 or
    /// 503 imposed, if any.
    pub fn pace(&self, host: &str) -> (Duration, Option<Instant>) {
        self.pacing.pace(host)
    }

    /// True when `host`'s next request may follow soon enough for a kept
    /// connection to serve it: its gap is at most [`KEEP_ALIVE_GAP`].
    pub fn keeps_connection(&self, host: &str) -> bool {
        let (gap, _) = self.pacing.pace(host);
        gap <= KEEP_ALIVE_GAP
    }

    /// Rests `host` until `until` (a 429 or 503 with or without
    /// `Retry-After`); the whole host waits, not only the URL that got it.
    pub fn pause(&self, host: &str, until: Instant) {
        self.pacing.pause(host, until);
    }

    /// Forgets the state of hosts with nothing pending, so a crawl over
    /// many hosts keeps its tables small. Call it now and then.
    pub fn prune(&self, now: Instant) {
        self.pacing.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn crawl_delay_spaces_request_starts() {
        let pacing = Pacing::new(0.0, 2, Duration::from_secs(30));
        let now = Instant::now();
        pacing.set_crawl_delay("h", 2 * SEC);
        assert_eq!(pacing.admit("h", now), Ok(()));
        assert_eq!(pacing.admit("h", now + SEC), Err(now + 2 * SEC));
        assert_eq!(pacing.admit("h", now + 2 * SEC), Ok(()));
        assert_eq!(pacing.admit("other", now), Ok(()));
    }

    #[test]
    fn claims_space_requests_dispatched_before_the_delay_was_known() {
        let pacing = Pacing::new(0.0, 4, Duration::from_secs(30));
        let now = Instant::now();
        assert_eq!(pacing.claim("h", now), None, "no delay known: no wait");
        pacing.set_crawl_delay("h", SEC);
        assert_eq!(pacing.claim("h", now), None);
        assert_eq!(pacing.claim("h", now), Some(now + SEC));
        assert_eq!(pacing.claim("h", now), Some(now + 2 * SEC));
        assert_eq!(
            pacing.admit("h", now + 2 * SEC),
            Err(now + 3 * SEC),
            "dispatch follows the claimed starts"
        );
    }

    #[test]
    fn the_rate_spaces_actual_starts_even_when_one_was_delayed() {
        let pacing = Pacing::new(0.0, 2, Duration::from_secs(30)).with_rate(2.0);
        let now = Instant::now();
        // The first request went out late (robots.txt, a slow connect)...
        let late = now + SEC;
        assert_eq!(pacing.claim("h", late), None);
        // ...so the next, admitted on time, waits its 1/R after it.
        assert_eq!(
            pacing.claim("h", now + Duration::from_millis(500)),
            Some(late + Duration::from_millis(500))
        );
        let unlimited = Pacing::new(0.0, 2, Duration::from_secs(30)).with_rate(0.0);
        assert_eq!(unlimited.claim("h", now), None);
        assert_eq!(unlimited.claim("h", now), None);
        assert_eq!(unlimited.len(), 0, "no gap, no state");
    }

    #[test]
    fn the_rate_is_exact_on_average_with_late_wake_ups() {
        // 1,000/s while the caller only gets to ask every 2.5 ms: it still
        // gets 1,000 starts a second (plus the slack's worth), not 400.
        let pacing = Pacing::new(0.0, 64, Duration::from_secs(30)).with_rate(1000.0);
        let start = Instant::now();
        let mut now = start;
        let mut started = 0u32;
        while now < start + 10 * SEC {
            while pacing.admit("h", now).is_ok() {
                assert_eq!(pacing.claim("h", now), None, "no timer per request");
                started += 1;
            }
            now += Duration::from_micros(2500);
        }
        assert!((10_000..=10_005).contains(&started), "{started} in 10 s");
    }

    #[test]
    fn rates_and_their_extremes() {
        let now = Instant::now();
        let pacing = Pacing::new(0.0, 1, Duration::from_secs(30)).with_rate(0.5);
        assert_eq!(pacing.current_gap("h"), 2 * SEC);
        assert_eq!(pacing.admit("h", now), Ok(()));
        assert_eq!(pacing.admit("h", now), Err(now + 2 * SEC));
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let pacing = Pacing::new(0.0, 1, Duration::from_secs(30)).with_rate(rate);
            assert_eq!(pacing.current_gap("h"), Duration::ZERO, "{rate}");
        }
        let slow = Pacing::new(0.0, 1, Duration::from_secs(30)).with_rate(1e-300);
        assert_eq!(slow.current_gap("h"), MAX_RATE_GAP);
        let fast = Pacing::new(0.0, 1, Duration::from_secs(30)).with_rate(1e300);
        assert_eq!(fast.admit("h", now), Ok(()));
        assert_eq!(fast.admit("h", now), Ok(()));
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

    #[test]
    fn adaptive_gaps_below_the_slack_never_refuse() {
        // A fast server: 500 µs responses, factor 1, 64 per host: a gap of
        // ~8 µs, which no timer could honour. Every ask is admitted at once.
        let pacing = Pacing::new(1.0, 64, Duration::from_secs(30));
        pacing.observe("h", Duration::from_micros(500));
        let now = Instant::now();
        for _ in 0..400 {
            assert_eq!(pacing.admit("h", now), Ok(()));
        }
        // ...while the average still holds: the slack's worth and no more.
        let refused = (0..1000)
            .filter(|_| pacing.admit("h", now).is_err())
            .count();
        assert!(refused > 0, "the gap is still kept on average");
    }

    #[test]
    fn a_pause_rests_the_host_until_its_end() {
        let pacing = Pacing::new(0.0, 2, Duration::from_secs(30));
        let now = Instant::now();
        pacing.pause("h", now + 5 * SEC);
        pacing.pause("h", now + 2 * SEC);
        assert_eq!(pacing.admit("h", now), Err(now + 5 * SEC));
        assert_eq!(pacing.admit("other", now), Ok(()));
        pacing.prune(now);
        assert_eq!(
            pacing.admit("h", now),
            Err(now + 5 * SEC),
            "kept while pending"
        );
        assert_eq!(pacing.admit("h", now + 5 * SEC), Ok(()));
    }

    #[test]
    fn hosts_that_owe_nothing_are_pruned() {
        let pacing = Pacing::new(0.0, 2, Duration::from_secs(30)).with_rate(10.0);
        let now = Instant::now();
        for host in 0..100 {
            assert_eq!(pacing.admit(&format!("http://h{host}:80"), now), Ok(()));
        }
        pacing.set_crawl_delay("http://h0:80", SEC);
        assert_eq!(pacing.len(), 100);
        pacing.prune(now);
        assert_eq!(pacing.len(), 100, "each owes its next slot");
        pacing.prune(now + SEC);
        assert_eq!(pacing.len(), 1, "only the Crawl-delay is kept");
    }

    #[test]
    fn the_pace_a_shared_store_enforces_is_the_largest_gap_and_the_pause() {
        let pacing = Pacing::new(2.0, 2, Duration::from_secs(30)).with_rate(4.0);
        let now = Instant::now();
        assert_eq!(pacing.pace("h"), (Duration::from_millis(250), None));
        pacing.observe("h", Duration::from_secs(1));
        assert_eq!(
            pacing.pace("h").0,
            Duration::from_secs(1),
            "adaptive: 2 × 1 s ÷ 2"
        );
        pacing.set_crawl_delay("h", Duration::from_secs(3));
        pacing.pause("h", now + Duration::from_secs(9));
        assert_eq!(
            pacing.pace("h"),
            (Duration::from_secs(3), Some(now + Duration::from_secs(9)))
        );
    }

    #[test]
    fn hosts_spaced_past_the_keep_alive_gap_keep_no_connection() {
        let policy = |rate: f64| {
            HostPolicy::new(&PolitenessConfig {
                per_host_rate: rate,
                delay_factor: 0.0,
                per_host_concurrency: 2,
                max_crawl_delay: Duration::from_secs(60),
            })
        };
        assert!(policy(0.0).keeps_connection("h"), "no limit");
        assert!(policy(1.0).keeps_connection("h"));
        assert!(policy(0.2).keeps_connection("h"), "5 s: kept");
        assert!(!policy(0.1).keeps_connection("h"), "10 s: closed");
        let crawl_delayed = policy(1.0);
        crawl_delayed.set_crawl_delay("h", Duration::from_secs(10));
        assert!(!crawl_delayed.keeps_connection("h"));
        assert!(crawl_delayed.keeps_connection("other"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_policy_asks_pauses_pacing_and_the_rate_in_one_place() {
        let policy = HostPolicy::new(&PolitenessConfig {
            per_host_rate: 1.0,
            delay_factor: 0.0,
            per_host_concurrency: 2,
            max_crawl_delay: Duration::from_secs(30),
        });
        let now = tokio::time::Instant::now().into_std();
        assert_eq!(policy.admit("h", now), Ok(()));
        let Err(next) = policy.admit("h", now) else {
            panic!("the rate allows one request a second");
        };
        assert_eq!(next, now + SEC, "never early at gaps above the slack");
        assert_eq!(policy.admit("other", now), Ok(()));
        policy.pause("other", now + 10 * SEC);
        tokio::time::advance(2 * SEC).await;
        let later = tokio::time::Instant::now().into_std();
        assert_eq!(policy.admit("h", later), Ok(()));
        assert_eq!(policy.admit("other", later), Err(now + 10 * SEC));
    }
}
