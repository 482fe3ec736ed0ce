//! The frontier storage seam: what the crawler asks of wherever the queue
//! lives. The embedded [`LocalStore`](crate::LocalStore) keeps it in this
//! process (memory, a spill file past a budget, a journal for `--resume`);
//! a networked store (Redis) keeps it where many crawler processes share
//! it.
//!
//! The trait is shaped for a networked store: the calls that touch the
//! queue are async and batched (one round trip claims several ready URLs,
//! one adds all of a page's links), a claimed URL is a [`Lease`] with a
//! [`LeaseToken`], and an ack carries the token so a late ack from a worker
//! whose lease was taken away is ignored. Calls the crawler makes from
//! places that cannot wait ([`FrontierStore::complete`] runs in a drop
//! guard) must not block: a networked store queues them for its next
//! round trip.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::canon::CanonicalUrl;
use crate::entry::{Admission, Counts, Entry};

/// The future of one store call.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store call that failed: URLs may be lost, so the crawl stops and says
/// why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Identifies one hand-out of one URL. Acks carry it; a store ignores an
/// ack whose token is no longer the URL's current lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseToken(u64);

impl LeaseToken {
    /// A token with the store's own number.
    pub fn new(value: u64) -> Self {
        LeaseToken(value)
    }

    /// The store's number for this token.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A URL handed out by [`FrontierStore::claim`]: in flight until it is
/// given back with [`FrontierStore::complete`].
#[derive(Debug)]
pub struct Lease {
    /// What to fetch.
    pub entry: Entry,
    /// The scheduling key (`scheme://host:port`) of `entry.url`.
    pub host: Arc<str>,
    /// Names this hand-out in the ack.
    pub token: LeaseToken,
}

/// What [`FrontierStore::claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// Fetch these now (at least one, at most the number asked for).
    Ready(Vec<Lease>),
    /// Work is queued but every host with work is resting; ask again then
    /// (or earlier, when a lease completes or links are added).
    WaitUntil(Instant),
    /// Nothing can be handed out until a lease completes (hosts at their
    /// concurrency cap, or the queue is empty with work still in flight).
    Busy,
    /// Nothing is queued, nothing is in flight and nothing is held, or the
    /// page limit is reached and the last lease came back: the crawl is over.
    Finished,
}

/// How URLs given to [`FrontierStore::add`] were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Named by the user: depth 0, include/exclude patterns not applied.
    Seed,
    /// A link on a fetched page (or a sitemap entry): every scope check.
    Link,
}

/// Whether a redirect may be followed to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectAdmission {
    /// In scope and new: now marked seen, follow it.
    Follow,
    /// The target's host is outside the crawl.
    OutOfScope,
    /// The target was seen before (queued, fetched or redirected to).
    AlreadySeen,
}

/// Per-host politeness, consulted by the store while it claims: the store
/// owns the queues, the crawler owns the clocks.
pub trait HostGate: Sync {
    /// `Ok` when a request to `host` may start at `now`, which the gate
    /// then counts as started; otherwise the earliest instant it may.
    fn admit(&self, host: &str, now: Instant) -> Result<(), Instant>;
}

impl<F> HostGate for F
where
    F: Fn(&str, Instant) -> Result<(), Instant> + Sync,
{
    fn admit(&self, host: &str, now: Instant) -> Result<(), Instant> {
        self(host, now)
    }
}

/// What the crawler's politeness learnt about one host, for a store that
/// shares the host's clock with other crawler processes (a networked store
/// gates claims on it; the embedded store ignores it, as the crawler's own
/// [`HostGate`] already knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPace {
    /// The least time between two request starts to the host (rate,
    /// `Crawl-delay` and adaptive pacing, as the crawler's policy decided).
    pub gap: std::time::Duration,
    /// No request to the host before this (a 429 or 503 asked for a rest).
    pub paused_until: Option<Instant>,
}

/// Where the crawl's queue lives.
///
/// Invariants every implementation keeps (the conformance suite in
/// `tests/conformance.rs` checks them):
///
/// - each canonical URL is handed out at most once per crawl, unless its
///   lease expired and it was re-queued;
/// - a host never has more than `per_host_concurrency` leases out;
/// - each host's queue is served breadth-first (shallower first);
/// - `max_pages` is exact over the whole crawl, resumes included;
/// - [`Claim::Finished`] only when nothing is queued, leased or held.
pub trait FrontierStore: Send + Sync + fmt::Debug {
    /// Queues URLs (one page's links, a batch of seeds or sitemap entries)
    /// that are new, in scope and within the limits; one [`Admission`] per
    /// URL, in order. Every entry of one call has the same `depth` and
    /// `parent` when `found` is [`Found::Link`].
    fn add(&self, entries: Vec<Entry>, found: Found) -> StoreFuture<'_, Vec<Admission>>;

    /// Claims up to `max` URLs whose host has a free slot and passes `gate`.
    fn claim<'a>(
        &'a self,
        max: usize,
        now: Instant,
        gate: &'a dyn HostGate,
    ) -> StoreFuture<'a, Claim>;

    /// Gives a lease back: the URL is done (whatever the fetch's outcome).
    /// Never blocks; an ack with a stale token is ignored.
    fn complete(&self, token: LeaseToken);

    /// Admits a redirect target: in scope and not seen, it is marked seen.
    fn admit_redirect<'a>(&'a self, target: &'a CanonicalUrl)
    -> StoreFuture<'a, RedirectAdmission>;

    /// A producer outside the fetch loop (sitemap discovery) may still add
    /// URLs: the crawl is not finished until the matching
    /// [`FrontierStore::release`]. Never blocks.
    fn hold(&self);

    /// Ends one [`FrontierStore::hold`]. Never blocks.
    fn release(&self);

    /// Puts leases older than the store's lease time back in their queues
    /// (their holder died or stalled); returns how many.
    fn requeue_expired(&self, now: Instant) -> StoreFuture<'_, u64>;

    /// Stops handing out: drops this process's view of the queue (an
    /// interrupted crawl keeps its durable state for a resume).
    fn stop(&self) -> StoreFuture<'_, ()>;

    /// Makes every URL added so far durable. The record sinks call this
    /// before they write records, so a recorded page's links survive any
    /// crash.
    fn sync(&self) -> StoreFuture<'_, ()>;

    /// Forgets per-host state of hosts idle since before `now` with nothing
    /// queued, so memory stays flat over crawls of many hosts.
    fn prune_idle_hosts(&self, now: Instant);

    /// Counters for progress reporting (may lag a networked store by one
    /// round trip).
    fn counts(&self) -> Counts;

    /// The records of these leases are durable in the output: the sinks
    /// flushed them. Never blocks. The default ignores it. A store shared
    /// by several processes may finish a URL only here (a worker killed
    /// between its ack and its flush would otherwise lose the record while
    /// no other worker fetches the URL again); [`FrontierStore::complete`]
    /// then only frees the host's slot.
    fn recorded(&self, tokens: &[LeaseToken]) {
        let _ = tokens;
    }

    /// The robots.txt verdict (opaque bytes) another process sharing the
    /// store saved for `host`, if any and not expired. The default has
    /// none: a store in one process leaves robots.txt to the crawler's
    /// own cache.
    fn load_robots<'a>(&'a self, host: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let _ = host;
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Offers `host`'s robots.txt verdict to the other processes sharing
    /// the store, for `ttl`. The default keeps nothing.
    fn save_robots<'a>(
        &'a self,
        host: &'a str,
        verdict: Vec<u8>,
        ttl: std::time::Duration,
    ) -> StoreFuture<'a, ()> {
        let _ = (host, verdict, ttl);
        Box::pin(std::future::ready(Ok(())))
    }

    /// True when the store applies each host's pace (reported with
    /// [`FrontierStore::pace`]) to every claim itself, over every process
    /// sharing it: the crawler then claims with an open gate rather than
    /// checking the same clock twice, and spaces its own requests with
    /// its policy's `claim_start` as always.
    fn gates_hosts(&self) -> bool {
        false
    }

    /// The crawler learnt `host`'s pacing (a `Crawl-delay`, a response
    /// time, a pause). Never blocks. The default ignores it: a store in
    /// one process is gated by the crawler's [`HostGate`] alone. The
    /// crawler reports paces only to stores whose
    /// [`FrontierStore::gates_hosts`] is true.
    fn pace(&self, host: &str, pace: HostPace) {
        let _ = (host, pace);
    }
}
