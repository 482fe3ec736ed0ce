//! The frontier proper: the seen-set, the per-host queues and the scheduler
//! that hands out the next URL whose host may be contacted now.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Instant;

use url::Url;

use crate::canon::{canonicalize, fingerprint, host_key};
use crate::scope::Scope;
use crate::spill::{ChunkRef, SpillConfig, SpillFile};

/// Limits a crawl honours exactly.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Links deeper than this (seeds are depth 0) are not queued.
    pub max_depth: u32,
    /// At most this many URLs are ever handed out (one record each).
    pub max_pages: u64,
    /// At most this many requests in flight to one host key at a time.
    pub per_host_concurrency: u32,
    /// At most this many URLs queued over the crawl per host key (a trap
    /// guard: one host cannot eat the whole crawl).
    pub max_pages_per_host: u64,
    /// Links whose path repeats one segment more often than this
    /// (`/a/b/a/b/a/b/a`, `next/next/next/...`) are dropped as traps.
    pub max_repeated_segments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: u32::MAX,
            max_pages: u64::MAX,
            per_host_concurrency: 2,
            max_pages_per_host: u64::MAX,
            max_repeated_segments: 3,
        }
    }
}

/// A queued URL: canonical, with how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The canonical URL to fetch.
    pub url: Url,
    /// Link distance from a seed.
    pub depth: u32,
    /// The page on which the URL was first found (`None` for seeds).
    pub parent: Option<Arc<str>>,
}

/// A URL handed out by [`Frontier::pop`]. It counts as in flight until it is
/// given back with [`Frontier::complete`].
#[derive(Debug)]
pub struct Lease {
    /// What to fetch.
    pub entry: Entry,
    /// The scheduling key (`scheme://host:port`) of `entry.url`.
    pub host: Arc<str>,
    host_index: usize,
}

/// What [`Frontier::pop`] found.
#[derive(Debug)]
pub enum Pop {
    /// Fetch this now.
    Ready(Lease),
    /// Work is queued but every host with work is resting; ask again then
    /// (or earlier, when a lease completes).
    WaitUntil(Instant),
    /// Nothing can be handed out until a lease completes (hosts at their
    /// concurrency cap, or the queue is empty with work still in flight).
    Busy,
    /// Nothing is queued and nothing is in flight, or the page limit is
    /// reached and the last lease came back: the crawl is over.
    Finished,
}

/// Why a URL was or was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Newly queued.
    Queued,
    /// Its canonical form was seen before in this crawl.
    Seen,
    /// Its host is outside the crawl's scope, or a pattern rejects it.
    OutOfScope,
    /// It is deeper than `max_depth`.
    TooDeep,
    /// The page limit, or its host's page budget, leaves no room for it.
    LimitReached,
    /// Its path repeats a segment too often: a crawler trap.
    Trap,
    /// It is not an http(s) URL with a host.
    Invalid,
}

/// Counters for progress reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// URLs waiting in queues.
    pub queued: u64,
    /// URLs handed out and not yet completed.
    pub in_flight: u64,
    /// URLs handed out so far (completed or not).
    pub handed_out: u64,
    /// Distinct canonical URLs seen.
    pub seen: u64,
    /// Host keys known.
    pub hosts: u64,
}

#[derive(Debug)]
struct HostState {
    key: Arc<str>,
    /// Queued entries by depth, so each host is served breadth-first even
    /// when slow pages deliver shallow links late.
    queue: BTreeMap<u32, VecDeque<Entry>>,
    /// Entries in `queue` (in memory).
    hot: usize,
    /// All queued entries: `hot` plus the cold tail on disk and in
    /// `cold_buffer`.
    queued: usize,
    /// Spilled chunks, oldest first.
    cold_chunks: VecDeque<ChunkRef>,
    /// The newest cold entries, not yet written to disk.
    cold_buffer: Vec<Entry>,
    /// URLs ever queued for this host (the per-host budget counts these).
    admitted: u64,
    in_flight: u32,
    /// Depths of this host's leases in flight (depth → count). A URL of
    /// depth d+1 waits until no shallower URL of its host is in flight, so
    /// every page is reached first by a shortest path and `max_depth` cuts
    /// exactly where a breadth-first search would.
    in_flight_depths: BTreeMap<u32, u32>,
    /// The host may not be contacted before this (rate limit, Retry-After,
    /// Crawl-delay).
    not_before: Option<Instant>,
    /// True while the host sits in `ready` or `timers`; keeps it from being
    /// scheduled twice.
    scheduled: bool,
}

/// Fingerprints are already uniformly distributed hashes; hashing them again
/// would only cost time.
#[derive(Debug, Default)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type SeenSet = HashSet<u64, BuildHasherDefault<FingerprintHasher>>;

/// The URL frontier: dedup, scope, limits and per-host scheduling.
///
/// It is a plain synchronous structure; the crawler keeps it behind a mutex
/// and never holds the lock across an `.await`.
#[derive(Debug)]
pub struct Frontier {
    scope: Scope,
    limits: Limits,
    seen: SeenSet,
    hosts: Vec<HostState>,
    /// Slots of pruned hosts, reused before the table grows.
    vacant: Vec<usize>,
    host_index: HashMap<Arc<str>, usize>,
    ready: VecDeque<usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    queued: u64,
    in_flight: u64,
    handed_out: u64,
    /// Producers outside the fetch loop (sitemap discovery) that may still
    /// add URLs: the crawl is not over while any holds.
    holds: u32,
    spill: Option<Spill>,
}

#[derive(Debug)]
struct Spill {
    config: SpillConfig,
    file: SpillFile,
    /// Entries in memory over all hosts' hot queues.
    hot_total: usize,
    /// Entries in all hosts' cold buffers.
    buffered_total: usize,
    /// The first read failure: URLs were lost, the owner must report it.
    error: Option<String>,
    /// Set after a write failure: from then on everything stays in memory
    /// (nothing is lost; memory just stops being flat).
    disabled: bool,
}

impl Frontier {
    /// An empty frontier for `scope` (with its seeds already added) and `limits`.
    pub fn new(scope: Scope, limits: Limits) -> Self {
        Frontier {
            scope,
            limits,
            seen: SeenSet::default(),
            hosts: Vec::new(),
            vacant: Vec::new(),
            host_index: HashMap::new(),
            ready: VecDeque::new(),
            timers: BinaryHeap::new(),
            queued: 0,
            in_flight: 0,
            handed_out: 0,
            holds: 0,
            spill: None,
        }
    }

    /// Like [`Frontier::new`], spilling queued URLs beyond
    /// `spill.hot_budget` to a file in `spill.dir`, so memory stays flat as
    /// the queue grows.
    pub fn with_spill(scope: Scope, limits: Limits, spill: SpillConfig) -> std::io::Result<Self> {
        let file = SpillFile::create(&spill)?;
        let mut frontier = Frontier::new(scope, limits);
        frontier.spill = Some(Spill {
            config: spill,
            file,
            hot_total: 0,
            buffered_total: 0,
            error: None,
            disabled: false,
        });
        Ok(frontier)
    }

    /// The first spill I/O failure, if any (URLs of a chunk that cannot be
    /// read back are lost; the owner should stop and report it).
    pub fn spill_error(&self) -> Option<&str> {
        self.spill.as_ref().and_then(|spill| spill.error.as_deref())
    }

    /// The scope the frontier applies.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Queues a seed: depth 0, no parent, patterns not applied (the user
    /// asked for it by name).
    pub fn add_seed(&mut self, url: &Url) -> Admission {
        let Ok(canonical) = canonicalize(url) else {
            return Admission::Invalid;
        };
        self.enqueue(canonical, 0, None)
    }

    /// Queues a link found at `depth` on page `parent`, if it is new, in
    /// scope, and within the limits.
    pub fn add_link(&mut self, url: &Url, depth: u32, parent: &Arc<str>) -> Admission {
        let Ok(canonical) = canonicalize(url) else {
            return Admission::Invalid;
        };
        if depth > self.limits.max_depth {
            return Admission::TooDeep;
        }
        if !self.scope.allows(&canonical) {
            return Admission::OutOfScope;
        }
        if repeats_a_segment(canonical.path(), self.limits.max_repeated_segments) {
            return Admission::Trap;
        }
        self.enqueue(canonical, depth, Some(Arc::clone(parent)))
    }

    /// Rebuilds the frontier from a saved crawl: an entry that was already
    /// recorded (`done`) is only marked seen; any other is queued again with
    /// its original depth and parent, in the order given. Returns false
    /// when the URL is not a crawlable URL or was restored before.
    pub fn restore(&mut self, url: &Url, depth: u32, parent: Option<Arc<str>>, done: bool) -> bool {
        let Ok(canonical) = canonicalize(url) else {
            return false;
        };
        if done {
            let index = self.host_for(&canonical);
            self.hosts[index].admitted += 1;
            return self.seen.insert(fingerprint(&canonical));
        }
        self.enqueue(canonical, depth, parent) == Admission::Queued
    }

    /// Counts `records` URLs as already handed out (by an earlier run of a
    /// resumed crawl), so `max_pages` spans the whole crawl.
    pub fn restore_handed_out(&mut self, records: u64) {
        self.handed_out = self.handed_out.max(records);
    }

    /// Records `url` as seen without queueing it (the target of a followed
    /// redirect). Returns false when it was seen before.
    pub fn mark_seen(&mut self, url: &Url) -> bool {
        match canonicalize(url) {
            Ok(canonical) => self.seen.insert(fingerprint(&canonical)),
            Err(_) => false,
        }
    }

    /// True when `url` was seen (queued, fetched or redirected to).
    pub fn is_seen(&self, url: &Url) -> bool {
        canonicalize(url).is_ok_and(|canonical| self.seen.contains(&fingerprint(&canonical)))
    }

    fn enqueue(&mut self, canonical: Url, depth: u32, parent: Option<Arc<str>>) -> Admission {
        // Anything beyond this can never be handed out, so it would only
        // cost memory.
        if self.handed_out + self.queued >= self.limits.max_pages {
            return Admission::LimitReached;
        }
        let fingerprint = fingerprint(&canonical);
        if self.seen.contains(&fingerprint) {
            return Admission::Seen;
        }
        let index = self.host_for(&canonical);
        if self.hosts[index].admitted >= self.limits.max_pages_per_host {
            return Admission::LimitReached;
        }
        self.seen.insert(fingerprint);
        let entry = Entry {
            url: canonical,
            depth,
            parent,
        };
        self.hosts[index].admitted += 1;
        self.push_entry(index, entry);
        self.hosts[index].queued += 1;
        self.queued += 1;
        self.schedule_if_idle(index);
        Admission::Queued
    }

    /// Puts an entry in the host's hot queue, or its cold tail once memory
    /// is at the budget (or the host already has a cold tail, so order holds).
    fn push_entry(&mut self, index: usize, entry: Entry) {
        let host = &mut self.hosts[index];
        let Some(spill) = self.spill.as_mut() else {
            host.queue.entry(entry.depth).or_default().push_back(entry);
            host.hot += 1;
            return;
        };
        let has_cold = !host.cold_chunks.is_empty() || !host.cold_buffer.is_empty();
        if !has_cold && (spill.disabled || spill.hot_total < spill.config.hot_budget) {
            host.queue.entry(entry.depth).or_default().push_back(entry);
            host.hot += 1;
            spill.hot_total += 1;
            return;
        }
        host.cold_buffer.push(entry);
        spill.buffered_total += 1;
        if spill.disabled {
            return;
        }
        if host.cold_buffer.len() >= spill.config.chunk_entries {
            spill_buffer(spill, host);
        }
        if !spill.disabled && spill.buffered_total >= spill.config.chunk_entries.max(1) * 16 {
            // Many hosts each holding a few cold entries: write them all.
            for host in &mut self.hosts {
                if !host.cold_buffer.is_empty() && !spill.disabled {
                    spill_buffer(spill, host);
                }
            }
        }
    }

    /// Brings a host's oldest cold entries into memory.
    fn refill(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        let entries = match host.cold_chunks.pop_front() {
            Some(chunk) => {
                match spill.file.read_chunk(chunk) {
                    Ok(entries) => entries,
                    Err(error) => {
                        let lost = chunk.entries as usize;
                        spill.error.get_or_insert_with(|| {
                        format!("reading {lost} queued URLs of {} back from the spill file: {error}", host.key)
                    });
                        host.queued -= lost;
                        self.queued -= lost as u64;
                        return;
                    }
                }
            }
            None => {
                spill.buffered_total -= host.cold_buffer.len();
                std::mem::take(&mut host.cold_buffer)
            }
        };
        spill.hot_total += entries.len();
        host.hot += entries.len();
        for entry in entries {
            host.queue.entry(entry.depth).or_default().push_back(entry);
        }
    }

    fn host_for(&mut self, url: &Url) -> usize {
        let key = host_key(url);
        if let Some(&index) = self.host_index.get(key.as_str()) {
            return index;
        }
        let key: Arc<str> = key.into();
        let state = HostState {
            key: Arc::clone(&key),
            queue: BTreeMap::new(),
            queued: 0,
            admitted: 0,
            hot: 0,
            cold_chunks: VecDeque::new(),
            cold_buffer: Vec::new(),
            in_flight: 0,
            in_flight_depths: BTreeMap::new(),
            not_before: None,
            scheduled: false,
        };
        let index = match self.vacant.pop() {
            Some(index) => {
                self.hosts[index] = state;
                index
            }
            None => {
                self.hosts.push(state);
                self.hosts.len() - 1
            }
        };
        self.host_index.insert(key, index);
        index
    }

    /// Forgets hosts with nothing queued, nothing in flight and no pause
    /// pending, so a crawl over millions of hosts keeps a table the size of
    /// its active hosts. Their slots are reused by new hosts. Hosts are
    /// kept while a per-host page budget needs their counts. Returns how
    /// many were forgotten.
    pub fn prune_idle_hosts(&mut self, now: Instant) -> usize {
        if self.limits.max_pages_per_host != u64::MAX {
            return 0;
        }
        let mut pruned = 0;
        for index in 0..self.hosts.len() {
            let host = &self.hosts[index];
            let idle = host.queued == 0
                && host.in_flight == 0
                && !host.scheduled
                && host.not_before.is_none_or(|at| at <= now)
                && self.host_index.get(&host.key) == Some(&index);
            if idle {
                self.host_index.remove(&host.key);
                let host = &mut self.hosts[index];
                host.queue = BTreeMap::new();
                host.cold_chunks = VecDeque::new();
                host.cold_buffer = Vec::new();
                host.in_flight_depths = BTreeMap::new();
                self.vacant.push(index);
                pruned += 1;
            }
        }
        pruned
    }

    fn schedule_if_idle(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        if !host.scheduled && host.queued > 0 && host.in_flight < self.limits.per_host_concurrency {
            host.scheduled = true;
            match host.not_before {
                Some(at) => self.timers.push(Reverse((at, index))),
                None => self.ready.push_back(index),
            }
        }
    }

    /// Hands out the next URL whose host may be contacted at `now`.
    ///
    /// `gate` is asked last, for a host that has work and a free concurrency
    /// slot: `Ok(())` admits one request (a rate limiter consumes its cell
    /// then), `Err(at)` rests the host until `at`. A resting or saturated
    /// host never holds up other hosts.
    pub fn pop(&mut self, now: Instant, gate: &mut dyn FnMut(&str) -> Result<(), Instant>) -> Pop {
        if self.handed_out >= self.limits.max_pages {
            return self.drained();
        }
        while let Some(&Reverse((at, index))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let host = &mut self.hosts[index];
            match host.not_before {
                // A pause that came after this timer was filed outlasts it.
                Some(until) if until > now => self.timers.push(Reverse((until, index))),
                _ => {
                    host.not_before = None;
                    self.ready.push_back(index);
                }
            }
        }
        let per_host_cap = self.limits.per_host_concurrency;
        for _ in 0..self.ready.len() {
            let Some(index) = self.ready.pop_front() else {
                break;
            };
            self.hosts[index].scheduled = false;
            if self.hosts[index].queued == 0 || self.hosts[index].in_flight >= per_host_cap {
                // Rescheduled by `enqueue` or `complete` when that changes.
                continue;
            }
            if self.hosts[index].hot == 0 {
                self.refill(index);
                if self.hosts[index].hot == 0 {
                    continue;
                }
            }
            let host = &mut self.hosts[index];
            let next_depth = host.queue.keys().next().copied().unwrap_or(u32::MAX);
            if host
                .in_flight_depths
                .keys()
                .next()
                .is_some_and(|&shallowest| shallowest < next_depth)
            {
                // Rescheduled by `complete` when the shallower lease returns.
                continue;
            }
            if let Some(at) = host.not_before.filter(|&at| at > now) {
                host.scheduled = true;
                self.timers.push(Reverse((at, index)));
                continue;
            }
            if let Err(at) = gate(&host.key) {
                host.not_before = Some(at);
                host.scheduled = true;
                self.timers.push(Reverse((at, index)));
                continue;
            }
            let Some(entry) = pop_shallowest(&mut host.queue) else {
                continue;
            };
            host.queued -= 1;
            host.hot -= 1;
            if let Some(spill) = self.spill.as_mut() {
                spill.hot_total -= 1;
            }
            host.in_flight += 1;
            *host.in_flight_depths.entry(entry.depth).or_default() += 1;
            self.queued -= 1;
            self.in_flight += 1;
            self.handed_out += 1;
            let lease = Lease {
                entry,
                host: Arc::clone(&host.key),
                host_index: index,
            };
            self.schedule_if_idle(index);
            return Pop::Ready(lease);
        }
        if let Some(Reverse((at, _))) = self.timers.peek() {
            return Pop::WaitUntil(*at);
        }
        self.drained()
    }

    /// Keeps the crawl open for a producer that will add URLs later; pair
    /// with [`Frontier::release`].
    pub fn hold(&mut self) {
        self.holds += 1;
    }

    /// The producer of a [`Frontier::hold`] is done.
    pub fn release(&mut self) {
        self.holds = self.holds.saturating_sub(1);
    }

    fn drained(&self) -> Pop {
        if self.in_flight > 0 || self.holds > 0 {
            Pop::Busy
        } else {
            Pop::Finished
        }
    }

    /// Gives a lease back: its URL is done (successfully or not).
    pub fn complete(&mut self, lease: Lease) {
        let host = &mut self.hosts[lease.host_index];
        host.in_flight = host.in_flight.saturating_sub(1);
        if let Some(count) = host.in_flight_depths.get_mut(&lease.entry.depth) {
            *count -= 1;
            if *count == 0 {
                host.in_flight_depths.remove(&lease.entry.depth);
            }
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.schedule_if_idle(lease.host_index);
    }

    /// Rests `host` until `until` (Retry-After, Crawl-delay, back-off), for
    /// every URL of that host, not only the one that asked.
    pub fn pause_host(&mut self, host: &str, until: Instant) {
        let Some(&index) = self.host_index.get(host) else {
            return;
        };
        let state = &mut self.hosts[index];
        if state.not_before.is_none_or(|at| at < until) {
            state.not_before = Some(until);
        }
        // A host already filed in `ready` or `timers` is re-filed by `pop`
        // once it sees the later `not_before`.
    }

    /// Drops everything still queued (used when the crawl is interrupted).
    pub fn clear_queue(&mut self) {
        for host in &mut self.hosts {
            host.queue.clear();
            host.cold_chunks.clear();
            host.cold_buffer.clear();
            host.hot = 0;
            host.queued = 0;
        }
        if let Some(spill) = self.spill.as_mut() {
            spill.hot_total = 0;
            spill.buffered_total = 0;
        }
        self.queued = 0;
    }

    /// Counters for progress and summaries.
    pub fn counts(&self) -> Counts {
        Counts {
            queued: self.queued,
            in_flight: self.in_flight,
            handed_out: self.handed_out,
            seen: self.seen.len() as u64,
            hosts: self.host_index.len() as u64,
        }
    }
}

/// True when one path segment occurs more than `limit` times.
fn repeats_a_segment(path: &str, limit: usize) -> bool {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    if segments.len() <= limit {
        return false;
    }
    let mut counts: HashMap<&str, usize> = HashMap::with_capacity(segments.len());
    segments.iter().any(|segment| {
        let count = counts.entry(segment).or_default();
        *count += 1;
        *count > limit
    })
}

/// Writes a host's cold buffer as one chunk. On failure the entries stay
/// buffered in memory and spilling stops: nothing is lost, memory just
/// stops being flat.
fn spill_buffer(spill: &mut Spill, host: &mut HostState) {
    match spill.file.write_chunk(&host.cold_buffer) {
        Ok(chunk) => {
            spill.buffered_total -= host.cold_buffer.len();
            host.cold_buffer.clear();
            host.cold_chunks.push_back(chunk);
        }
        Err(_) => spill.disabled = true,
    }
}

fn pop_shallowest(queue: &mut BTreeMap<u32, VecDeque<Entry>>) -> Option<Entry> {
    let mut bucket = queue.first_entry()?;
    let entry = bucket.get_mut().pop_front();
    if bucket.get().is_empty() {
        bucket.remove();
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeMode;
    use std::time::Duration;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn frontier(seeds: &[&str], limits: Limits) -> Frontier {
        let mut scope = Scope::new(ScopeMode::Host, Vec::new(), Vec::new());
        for seed in seeds {
            scope.add_seed(&url(seed));
        }
        let mut frontier = Frontier::new(scope, limits);
        for seed in seeds {
            assert_eq!(frontier.add_seed(&url(seed)), Admission::Queued);
        }
        frontier
    }

    fn open(_: &str) -> Result<(), Instant> {
        Ok(())
    }

    fn pop_ready(frontier: &mut Frontier, now: Instant) -> Lease {
        match frontier.pop(now, &mut open) {
            Pop::Ready(lease) => lease,
            other => panic!("expected a lease, got {other:?}"),
        }
    }

    #[test]
    fn each_canonical_url_is_handed_out_once() {
        let mut frontier = frontier(&["http://a.example/"], Limits::default());
        let now = Instant::now();
        let seed = pop_ready(&mut frontier, now);
        let parent: Arc<str> = seed.entry.url.as_str().into();
        for spelling in [
            "http://a.example/x",
            "HTTP://A.example/x#y",
            "http://a.example/./x",
            "http://a.example/",
        ] {
            frontier.add_link(&url(spelling), 1, &parent);
        }
        frontier.complete(seed);
        let x = pop_ready(&mut frontier, now);
        assert_eq!(x.entry.url.as_str(), "http://a.example/x");
        assert_eq!(x.entry.parent.as_deref(), Some("http://a.example/"));
        frontier.complete(x);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
    }

    #[test]
    fn scope_and_depth_are_applied_before_enqueue() {
        let limits = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        let mut frontier = frontier(&["http://a.example/"], limits);
        let parent: Arc<str> = "http://a.example/".into();
        assert_eq!(
            frontier.add_link(&url("http://b.example/"), 1, &parent),
            Admission::OutOfScope
        );
        assert_eq!(
            frontier.add_link(&url("http://a.example/deep"), 2, &parent),
            Admission::TooDeep
        );
        assert_eq!(
            frontier.add_link(&url("mailto:x@a.example"), 1, &parent),
            Admission::Invalid
        );
        assert_eq!(
            frontier.add_link(&url("http://a.example/ok"), 1, &parent),
            Admission::Queued
        );
        assert_eq!(frontier.counts().queued, 2);
    }

    #[test]
    fn max_pages_is_exact() {
        let limits = Limits {
            max_pages: 3,
            per_host_concurrency: 10,
            ..Limits::default()
        };
        let mut frontier = frontier(&["http://a.example/"], limits);
        let now = Instant::now();
        let seed = pop_ready(&mut frontier, now);
        let parent: Arc<str> = "http://a.example/".into();
        let admitted: Vec<_> = (0..10)
            .map(|i| frontier.add_link(&url(&format!("http://a.example/{i}")), 1, &parent))
            .collect();
        assert_eq!(
            admitted.iter().filter(|a| **a == Admission::Queued).count(),
            2
        );
        frontier.complete(seed);
        let first = pop_ready(&mut frontier, now);
        let second = pop_ready(&mut frontier, now);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
        frontier.complete(first);
        frontier.complete(second);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
        assert_eq!(frontier.counts().handed_out, 3);
    }

    #[test]
    fn per_host_concurrency_cap_does_not_block_other_hosts() {
        let limits = Limits {
            per_host_concurrency: 1,
            ..Limits::default()
        };
        let mut frontier = frontier(&["http://a.example/", "http://b.example/"], limits);
        let parent: Arc<str> = "http://a.example/".into();
        frontier.add_link(&url("http://a.example/2"), 1, &parent);
        let now = Instant::now();
        let first = pop_ready(&mut frontier, now);
        let second = pop_ready(&mut frontier, now);
        assert_ne!(
            first.host, second.host,
            "the capped host must not be handed out twice"
        );
        assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
        let a_lease = if first.host.contains("a.example") {
            first
        } else {
            second
        };
        frontier.complete(a_lease);
        let third = pop_ready(&mut frontier, now);
        assert_eq!(third.entry.url.as_str(), "http://a.example/2");
    }

    #[test]
    fn resting_host_never_blocks_other_hosts_and_wakes_on_time() {
        let mut frontier = frontier(
            &["http://a.example/", "http://b.example/"],
            Limits::default(),
        );
        let now = Instant::now();
        let later = now + Duration::from_millis(500);
        let mut gate = |host: &str| {
            if host.contains("a.example") {
                Err(later)
            } else {
                Ok(())
            }
        };
        let lease = match frontier.pop(now, &mut gate) {
            Pop::Ready(lease) => lease,
            other => panic!("{other:?}"),
        };
        assert!(lease.host.contains("b.example"));
        match frontier.pop(now, &mut gate) {
            Pop::WaitUntil(at) => assert_eq!(at, later),
            other => panic!("{other:?}"),
        }
        let woken = pop_ready(&mut frontier, later);
        assert!(woken.host.contains("a.example"));
    }

    #[test]
    fn pause_host_rests_every_url_of_that_host() {
        let mut frontier = frontier(&["http://a.example/"], Limits::default());
        let parent: Arc<str> = "http://a.example/".into();
        frontier.add_link(&url("http://a.example/2"), 1, &parent);
        let now = Instant::now();
        let until = now + Duration::from_secs(5);
        frontier.pause_host("http://a.example:80", until);
        assert!(matches!(frontier.pop(now, &mut open), Pop::WaitUntil(at) if at == until));
        let lease = pop_ready(&mut frontier, until);
        assert_eq!(lease.entry.url.as_str(), "http://a.example/");
    }

    #[test]
    fn each_host_is_served_breadth_first() {
        let limits = Limits {
            per_host_concurrency: 10,
            ..Limits::default()
        };
        let mut frontier = frontier(&["http://a.example/"], limits);
        let now = Instant::now();
        let seed = pop_ready(&mut frontier, now);
        let parent: Arc<str> = "http://a.example/".into();
        frontier.add_link(&url("http://a.example/deep"), 3, &parent);
        frontier.add_link(&url("http://a.example/shallow"), 1, &parent);
        frontier.add_link(&url("http://a.example/middle"), 2, &parent);
        frontier.complete(seed);
        let order: Vec<u32> = (0..3)
            .map(|_| {
                let lease = pop_ready(&mut frontier, now);
                let depth = lease.entry.depth;
                frontier.complete(lease);
                depth
            })
            .collect();
        assert_eq!(order, vec![1, 2, 3]);
    }

    #[test]
    fn deeper_urls_wait_for_shallower_leases_of_their_host() {
        let limits = Limits {
            per_host_concurrency: 10,
            ..Limits::default()
        };
        let mut frontier = frontier(&["http://a.example/", "http://b.example/"], limits);
        let now = Instant::now();
        let a_seed = pop_ready(&mut frontier, now);
        let b_seed = pop_ready(&mut frontier, now);
        let (a_seed, b_seed) = if a_seed.host.contains("a.example") {
            (a_seed, b_seed)
        } else {
            (b_seed, a_seed)
        };
        let parent: Arc<str> = "http://a.example/".into();
        frontier.add_link(&url("http://a.example/child"), 1, &parent);
        // a's depth-0 lease is still out, so its depth-1 URL must wait, and
        // b's outstanding seed does not hold a up once a's seed is back.
        assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
        frontier.complete(a_seed);
        let child = pop_ready(&mut frontier, now);
        assert_eq!(child.entry.url.as_str(), "http://a.example/child");
        frontier.complete(child);
        frontier.complete(b_seed);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
    }

    #[test]
    fn trap_guards_drop_repeating_paths_and_enforce_host_budgets() {
        let limits = Limits {
            max_pages_per_host: 3,
            max_repeated_segments: 2,
            ..Limits::default()
        };
        let mut frontier = frontier(&["http://a.example/"], limits);
        let parent: Arc<str> = "http://a.example/".into();
        assert_eq!(
            frontier.add_link(&url("http://a.example/a/b/a/b/"), 1, &parent),
            Admission::Queued
        );
        assert_eq!(
            frontier.add_link(&url("http://a.example/a/b/a/b/a/"), 1, &parent),
            Admission::Trap
        );
        assert_eq!(
            frontier.add_link(&url("http://a.example/next/next/next/"), 1, &parent),
            Admission::Trap
        );
        assert_eq!(
            frontier.add_link(&url("http://a.example/x"), 1, &parent),
            Admission::Queued
        );
        assert_eq!(
            frontier.add_link(&url("http://a.example/y"), 1, &parent),
            Admission::LimitReached
        );
        assert!(
            !frontier.is_seen(&url("http://a.example/y")),
            "a refused URL is not marked seen"
        );
    }

    #[test]
    fn restore_requeues_unfinished_work_only() {
        let mut scope = Scope::new(ScopeMode::Host, Vec::new(), Vec::new());
        scope.add_seed(&url("http://a.example/"));
        let limits = Limits {
            max_pages: 3,
            ..Limits::default()
        };
        let mut frontier = Frontier::new(scope, limits);
        assert!(frontier.restore(&url("http://a.example/"), 0, None, true));
        let parent: Arc<str> = "http://a.example/".into();
        assert!(frontier.restore(
            &url("http://a.example/x"),
            1,
            Some(Arc::clone(&parent)),
            false
        ));
        assert!(!frontier.restore(
            &url("http://a.example/x"),
            1,
            Some(Arc::clone(&parent)),
            false
        ));
        assert!(frontier.restore(&url("http://a.example/y"), 1, Some(parent), false));
        frontier.restore_handed_out(1);
        assert_eq!(
            frontier.add_seed(&url("http://a.example/")),
            Admission::LimitReached
        );
        let now = Instant::now();
        let x = pop_ready(&mut frontier, now);
        assert_eq!(x.entry.url.as_str(), "http://a.example/x");
        assert_eq!(x.entry.parent.as_deref(), Some("http://a.example/"));
        frontier.complete(x);
        let y = pop_ready(&mut frontier, now);
        frontier.complete(y);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
        assert_eq!(frontier.counts().handed_out, 3);
    }

    #[test]
    fn a_hold_keeps_the_crawl_open() {
        let mut frontier = frontier(&["http://a.example/"], Limits::default());
        let now = Instant::now();
        frontier.hold();
        let seed = pop_ready(&mut frontier, now);
        frontier.complete(seed);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
        let parent: Arc<str> = "http://a.example/sitemap.xml".into();
        frontier.add_link(&url("http://a.example/from-sitemap"), 0, &parent);
        frontier.release();
        let lease = pop_ready(&mut frontier, now);
        frontier.complete(lease);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
    }

    #[test]
    fn spilled_urls_come_back_once_each_in_order() {
        let dir = std::env::temp_dir().join(format!("trawl-spill-test-{}", std::process::id()));
        let mut scope = Scope::new(ScopeMode::Any, Vec::new(), Vec::new());
        scope.add_seed(&url("http://a.example/"));
        let limits = Limits {
            per_host_concurrency: 1,
            ..Limits::default()
        };
        let spill = SpillConfig {
            dir: dir.clone(),
            hot_budget: 4,
            chunk_entries: 3,
        };
        let mut frontier = Frontier::with_spill(scope, limits, spill).unwrap();
        let parent: Arc<str> = "http://a.example/".into();
        for i in 0..40 {
            let host = if i % 2 == 0 { "a" } else { "b" };
            assert_eq!(
                frontier.add_link(&url(&format!("http://{host}.example/{i}")), 1, &parent),
                Admission::Queued
            );
        }
        let spill_files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(spill_files, 1);
        assert!(
            std::fs::metadata(
                std::fs::read_dir(&dir)
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .path()
            )
            .unwrap()
            .len()
                > 0,
            "URLs were spilled"
        );
        let now = Instant::now();
        let mut order: HashMap<String, Vec<u32>> = HashMap::new();
        while let Pop::Ready(lease) = frontier.pop(now, &mut open) {
            let number: u32 = lease.entry.url.path()[1..].parse().unwrap();
            assert_eq!(lease.entry.parent.as_deref(), Some("http://a.example/"));
            order
                .entry(lease.host.to_string())
                .or_default()
                .push(number);
            frontier.complete(lease);
        }
        assert!(frontier.spill_error().is_none());
        let a = &order["http://a.example:80"];
        let b = &order["http://b.example:80"];
        assert_eq!(
            a,
            &(0..40).step_by(2).collect::<Vec<u32>>(),
            "host a in FIFO order"
        );
        assert_eq!(
            b,
            &(1..40).step_by(2).collect::<Vec<u32>>(),
            "host b in FIFO order"
        );
        assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
        drop(frontier);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "the spill file is removed"
        );
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn idle_hosts_are_pruned_and_their_slots_reused() {
        let mut frontier = frontier(
            &["http://a.example/", "http://b.example/"],
            Limits::default(),
        );
        let now = Instant::now();
        let first = pop_ready(&mut frontier, now);
        let second = pop_ready(&mut frontier, now);
        assert_eq!(
            frontier.prune_idle_hosts(now),
            0,
            "hosts with leases out stay"
        );
        frontier.complete(first);
        frontier.complete(second);
        assert_eq!(frontier.prune_idle_hosts(now), 2);
        assert_eq!(frontier.counts().hosts, 0);
        let parent: Arc<str> = "http://a.example/".into();
        assert_eq!(
            frontier.add_link(&url("http://a.example/again"), 1, &parent),
            Admission::Queued
        );
        assert_eq!(
            frontier.add_link(&url("http://a.example/"), 1, &parent),
            Admission::Seen,
            "the seen-set outlives pruning"
        );
        assert_eq!(frontier.hosts.len(), 2, "the slot was reused");
        let lease = pop_ready(&mut frontier, now);
        assert_eq!(lease.entry.url.as_str(), "http://a.example/again");
        frontier.complete(lease);
        assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
    }

    #[test]
    fn redirect_targets_marked_seen_are_not_queued_again() {
        let mut frontier = frontier(&["http://a.example/"], Limits::default());
        assert!(frontier.mark_seen(&url("http://a.example/final")));
        assert!(!frontier.mark_seen(&url("http://a.example/final#x")));
        let parent: Arc<str> = "http://a.example/".into();
        assert_eq!(
            frontier.add_link(&url("http://a.example/final"), 1, &parent),
            Admission::Seen
        );
    }
}
