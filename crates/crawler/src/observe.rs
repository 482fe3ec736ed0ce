//! The observer seam: crawl events and the counters behind them.
//!
//! [`Stats`] is always kept (atomics and two small maps, bumped where the
//! work happens). Observers get [`CrawlEvent`]s: every record, every fetch
//! start and end, a [`StatsSnapshot`] every `progress_interval`, and the
//! final snapshot when the crawl ends. A progress bar, an end-of-crawl
//! summary or a metrics endpoint are observers.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::record::CrawlRecord;

/// Upper bounds of the fetch-latency buckets, in milliseconds; a last
/// bucket takes everything slower.
pub const LATENCY_BUCKETS_MS: [u64; 12] =
    [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000];

/// Something that happened in a crawl.
#[derive(Debug)]
#[non_exhaustive]
pub enum CrawlEvent<'a> {
    /// A request to `host` is about to go out (retries are one fetch).
    FetchStarted { host: &'a str },
    /// A fetch of `host` ended after `elapsed`, with `status` when a
    /// response arrived.
    FetchFinished {
        host: &'a str,
        elapsed: Duration,
        status: Option<u16>,
    },
    /// A URL's record was handed to the sinks.
    Recorded(&'a CrawlRecord),
    /// The counters, every `progress_interval`.
    Progress(&'a StatsSnapshot),
    /// The crawl is over; the final counters.
    Finished(&'a StatsSnapshot),
}

/// Gets every [`CrawlEvent`]. Called on the crawl's own threads: keep it
/// quick and never block (hand heavy work to a task or a thread of your
/// own).
pub trait Observer: Send + Sync + fmt::Debug {
    /// One event.
    fn on_event(&self, event: &CrawlEvent<'_>);
}

/// The crawl's counters.
#[derive(Debug, Default)]
pub struct Stats {
    records: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    queued: AtomicU64,
    in_flight: AtomicU64,
    hosts: AtomicU64,
    robots_fetches: AtomicU64,
    retries: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    latency_total_ms: AtomicU64,
    /// Records by status, indexed by the status code (HTTP's are 100-999).
    statuses: Statuses,
    /// Error kinds are a short fixed set and errors are the exception: a
    /// map behind a lock costs nothing on a successful page.
    errors_by_kind: Mutex<BTreeMap<&'static str, u64>>,
    hosts_in_flight: Mutex<HashMap<Arc<str>, u32>>,
}

#[derive(Debug)]
struct Statuses([AtomicU64; 1000]);

impl Default for Statuses {
    fn default() -> Self {
        Statuses(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters stay meaningful after a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Stats {
    pub(crate) fn recorded(&self, record: &CrawlRecord) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(record.bytes, Ordering::Relaxed);
        if let Some(count) = record
            .status
            .and_then(|status| self.statuses.0.get(usize::from(status)))
        {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(error) = &record.error {
            *lock(&self.errors_by_kind).entry(error.kind).or_default() += 1;
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_queue(&self, queued: u64, in_flight: u64, hosts: u64) {
        self.queued.store(queued, Ordering::Relaxed);
        self.in_flight.store(in_flight, Ordering::Relaxed);
        self.hosts.store(hosts, Ordering::Relaxed);
    }

    pub(crate) fn robots_fetched(&self) {
        self.robots_fetches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fetch_started(&self, host: &Arc<str>) {
        *lock(&self.hosts_in_flight)
            .entry(Arc::clone(host))
            .or_default() += 1;
    }

    pub(crate) fn fetch_finished(&self, host: &str, elapsed: Duration) {
        let mut hosts = lock(&self.hosts_in_flight);
        if let Some(count) = hosts.get_mut(host) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                hosts.remove(host);
            }
        }
        drop(hosts);
        let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&bound| millis <= bound)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_total_ms.fetch_add(millis, Ordering::Relaxed);
    }

    /// Requests in flight to `host` (its scheduling key) right now.
    pub fn host_in_flight(&self, host: &str) -> u32 {
        lock(&self.hosts_in_flight).get(host).copied().unwrap_or(0)
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            records: self.records.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            hosts: self.hosts.load(Ordering::Relaxed),
            robots_fetches: self.robots_fetches.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            hosts_in_flight: lock(&self.hosts_in_flight).len() as u64,
            statuses: (0u16..)
                .zip(&self.statuses.0)
                .map(|(status, count)| (status, count.load(Ordering::Relaxed)))
                .filter(|&(_, count)| count > 0)
                .collect(),
            errors_by_kind: lock(&self.errors_by_kind).clone(),
            latency_buckets: self
                .latency
                .iter()
                .map(|count| count.load(Ordering::Relaxed))
                .collect(),
            latency_total_ms: self.latency_total_ms.load(Ordering::Relaxed),
        }
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Records handed to the sinks.
    pub records: u64,
    /// Records with an error.
    pub errors: u64,
    /// Body bytes read, over all records.
    pub bytes: u64,
    /// URLs waiting in the frontier.
    pub queued: u64,
    /// URLs handed out and not yet finished.
    pub in_flight: u64,
    /// Hosts the frontier knows.
    pub hosts: u64,
    /// robots.txt requests made (retries included).
    pub robots_fetches: u64,
    /// Fetch attempts that were retries.
    pub retries: u64,
    /// Hosts with a request in flight.
    pub hosts_in_flight: u64,
    /// Records by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Records by error kind.
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    /// Fetches by latency, bucketed by [`LATENCY_BUCKETS_MS`] (one more
    /// bucket for the slower ones).
    pub latency_buckets: Vec<u64>,
    /// Sum of all fetch latencies, in milliseconds.
    pub latency_total_ms: u64,
}

/// The crawl's observers, called in the order they were added.
#[derive(Debug, Default, Clone)]
pub(crate) struct Observers(Vec<Arc<dyn Observer>>);

impl Observers {
    pub(crate) fn new(observers: Vec<Arc<dyn Observer>>) -> Self {
        Observers(observers)
    }

    pub(crate) fn emit(&self, event: &CrawlEvent<'_>) {
        for observer in &self.0 {
            observer.on_event(event);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_its_bucket_and_hosts_in_flight_come_and_go() {
        let stats = Stats::default();
        let host: Arc<str> = "http://a.example:80".into();
        stats.fetch_started(&host);
        stats.fetch_started(&host);
        assert_eq!(stats.host_in_flight(&host), 2);
        assert_eq!(stats.snapshot().hosts_in_flight, 1);
        stats.fetch_finished(&host, Duration::from_millis(3));
        stats.fetch_finished(&host, Duration::from_secs(60));
        assert_eq!(stats.host_in_flight(&host), 0);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.hosts_in_flight, 0);
        assert_eq!(snapshot.latency_buckets[2], 1, "3 ms is in the 5 ms bucket");
        assert_eq!(snapshot.latency_buckets[LATENCY_BUCKETS_MS.len()], 1);
        assert_eq!(snapshot.latency_total_ms, 60_003);
    }

    #[test]
    fn records_are_tallied_by_status_and_error_kind() {
        let stats = Stats::default();
        let entry = crate::page::entry(
            trawl_frontier::CanonicalUrl::parse("http://a.example/").unwrap(),
            0,
            None,
        );
        let mut ok = crate::page::failure_record(&entry, "http", String::new());
        ok.error = None;
        ok.status = Some(200);
        ok.bytes = 10;
        stats.recorded(&ok);
        stats.recorded(&ok);
        let mut missing = crate::page::failure_record(&entry, "http", "404".into());
        missing.status = Some(404);
        stats.recorded(&missing);
        stats.recorded(&crate::page::failure_record(
            &entry,
            "timeout",
            String::new(),
        ));
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.records, 4);
        assert_eq!(snapshot.bytes, 20);
        assert_eq!(snapshot.errors, 2);
        assert_eq!(snapshot.statuses, BTreeMap::from([(200, 2), (404, 1)]));
        assert_eq!(
            snapshot.errors_by_kind,
            BTreeMap::from([("http", 1), ("timeout", 1)])
        );
    }
}
