//! The embedded scheduling core: the seen-set, the per-host queues, the
//! page limits and the scheduler that hands out the next URL whose host may
//! be contacted now. [`LocalStore`](crate::LocalStore) wraps it; scope and
//! depth checks happen before it, in [`AdmissionRules`](crate::AdmissionRules).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::hash::Hasher;
use std::sync::Arc;
use std::time::Instant;

use crate::canon::CanonicalUrl;
use crate::entry::{Admission, Counts, DepthQueue, Entry, Limits};
use crate::seen::{SeenSet, SeenTiering};
use crate::spill::{ColdChain, SpillConfig, SpillFile};

/// One hand-out, as the scheduler needs it back: which host slot to free
/// and at which depth.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    host_index: usize,
    depth: u32,
}

/// A URL handed out by [`Frontier::pop`]. It counts as in flight until its
/// slot is given back with [`Frontier::complete`] or [`Frontier::requeue`].
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) entry: Entry,
    pub(crate) host: Arc<str>,
    pub(crate) slot: Slot,
}

/// What [`Frontier::pop`] found.
#[derive(Debug)]
pub(crate) enum Pop {
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

#[derive(Debug)]
struct HostState {
    key: Arc<str>,
    /// Queued entries in memory, shallowest first.
    queue: DepthQueue,
    /// Entries in `queue` (in memory).
    hot: usize,
    /// All queued entries: `hot` plus the cold tail on disk and in
    /// `cold_buffer`.
    queued: usize,
    /// Spilled chunks, oldest first.
    cold: Option<ColdChain>,
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
    /// The host may not be contacted before this: the gate refused it
    /// until then (the crawler's rate limit, Retry-After, Crawl-delay).
    not_before: Option<Instant>,
    /// True while the host sits in `ready` or `timers`; keeps it from being
    /// scheduled twice.
    scheduled: bool,
}

/// Fingerprints are already uniformly distributed hashes; hashing them again
/// would only cost time.
#[derive(Debug, Default)]
pub(crate) struct FingerprintHasher(u64);

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

/// Dedup, page limits and per-host scheduling.
///
/// A plain synchronous structure: its owner keeps it behind a mutex and
/// never holds the lock across an `.await`.
#[derive(Debug)]
pub(crate) struct Frontier {
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
    /// An empty frontier honouring `limits`.
    pub(crate) fn new(limits: Limits) -> Self {
        Frontier {
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
    pub(crate) fn with_spill(limits: Limits, spill: SpillConfig) -> std::io::Result<Self> {
        let file = SpillFile::create(&spill)?;
        let mut frontier = Frontier::new(limits);
        if let Some(hot_budget) = spill.seen_hot_budget {
            frontier.seen = SeenSet::tiered(SeenTiering {
                dir: spill.dir.clone(),
                hot_budget,
            });
        }
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
    pub(crate) fn spill_error(&self) -> Option<&str> {
        self.spill.as_ref().and_then(|spill| spill.error.as_deref())
    }

    /// Cuts the spill file to nothing, as a disk that lost it would.
    #[cfg(test)]
    pub(crate) fn lose_spill_file(&mut self) {
        if let Some(spill) = &mut self.spill {
            spill.file.lose_contents();
        }
    }

    /// Queues `entry` if it is new and within the page limits (scope and
    /// depth were checked before).
    pub(crate) fn enqueue(&mut self, entry: Entry) -> Admission {
        // Anything beyond this can never be handed out, so it would only
        // cost memory.
        if self.handed_out + self.queued >= self.limits.max_pages {
            return Admission::LimitReached;
        }
        let fingerprint = entry.url.fingerprint();
        if self.seen.contains(fingerprint) {
            return Admission::Seen;
        }
        let index = self.host_for(&entry.url);
        if self.hosts[index].admitted >= self.limits.max_pages_per_host {
            return Admission::LimitReached;
        }
        self.seen.insert(fingerprint);
        self.hosts[index].admitted += 1;
        self.queue_entry(index, entry);
        Admission::Queued
    }

    fn queue_entry(&mut self, index: usize, entry: Entry) {
        self.push_entry(index, entry);
        self.hosts[index].queued += 1;
        self.queued += 1;
        self.schedule_if_idle(index);
    }

    /// Rebuilds the frontier from a saved crawl: an entry that was already
    /// recorded (`done`) is only marked seen; any other is queued again with
    /// its original depth and parent, in the order given. Returns false
    /// when the URL was restored before.
    pub(crate) fn restore(&mut self, entry: Entry, done: bool) -> bool {
        if done {
            let index = self.host_for(&entry.url);
            self.hosts[index].admitted += 1;
            return self.seen.insert(entry.url.fingerprint());
        }
        self.enqueue(entry) == Admission::Queued
    }

    /// Counts `records` URLs as already handed out (by an earlier run of a
    /// resumed crawl), so `max_pages` spans the whole crawl.
    pub(crate) fn restore_handed_out(&mut self, records: u64) {
        self.handed_out = self.handed_out.max(records);
    }

    /// Records `url` as seen without queueing it (the target of a followed
    /// redirect). Returns false when it was seen before.
    pub(crate) fn mark_seen(&mut self, url: &CanonicalUrl) -> bool {
        self.seen.insert(url.fingerprint())
    }

    /// True when `url` was seen (queued, fetched or redirected to).
    #[cfg(test)]
    pub(crate) fn is_seen(&self, url: &CanonicalUrl) -> bool {
        self.seen.contains(url.fingerprint())
    }

    /// Puts an entry in the host's hot queue, or its cold tail once memory
    /// is at the budget (or the host already has a cold tail, so order holds).
    fn push_entry(&mut self, index: usize, entry: Entry) {
        let host = &mut self.hosts[index];
        let Some(spill) = self.spill.as_mut() else {
            host.queue.push(entry);
            host.hot += 1;
            return;
        };
        let has_cold = host.cold.is_some() || !host.cold_buffer.is_empty();
        if !has_cold && (spill.disabled || spill.hot_total < spill.config.hot_budget) {
            host.queue.push(entry);
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
        let entries = match host.cold.take() {
            Some(chain) => {
                match chain.pop(&mut spill.file) {
                    Ok((entries, rest)) => {
                        host.cold = rest;
                        entries
                    }
                    Err((error, lost)) => {
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
            host.queue.push(entry);
        }
    }

    fn host_for(&mut self, url: &CanonicalUrl) -> usize {
        let key = url.host_key();
        if let Some(&index) = self.host_index.get(key.as_str()) {
            return index;
        }
        let key: Arc<str> = key.into();
        let state = HostState {
            key: Arc::clone(&key),
            queue: DepthQueue::default(),
            queued: 0,
            admitted: 0,
            hot: 0,
            cold: None,
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

    /// Forgets hosts with nothing queued, nothing in flight and no rest
    /// pending, so a crawl over millions of hosts keeps a table the size of
    /// its active hosts. Their slots are reused by new hosts. Hosts are
    /// kept while a per-host page budget needs their counts. Returns how
    /// many were forgotten.
    pub(crate) fn prune_idle_hosts(&mut self, now: Instant) -> usize {
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
                host.queue = DepthQueue::default();
                host.cold = None;
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
    pub(crate) fn pop(
        &mut self,
        now: Instant,
        gate: &mut dyn FnMut(&str) -> Result<(), Instant>,
    ) -> Pop {
        if self.handed_out >= self.limits.max_pages {
            return self.drained();
        }
        while let Some(&Reverse((at, index))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let host = &mut self.hosts[index];
            host.not_before = None;
            self.ready.push_back(index);
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
            let next_depth = host.queue.next_depth().unwrap_or(u32::MAX);
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
            let Some(popped) = host.queue.pop() else {
                continue;
            };
            host.queued -= 1;
            host.hot -= 1;
            if let Some(spill) = self.spill.as_mut() {
                spill.hot_total -= 1;
            }
            self.queued -= 1;
            let entry = match popped {
                Ok(entry) => entry,
                Err(text) => {
                    tracing::error!("dropped the queued URL {text}: it no longer parses");
                    self.schedule_if_idle(index);
                    continue;
                }
            };
            host.in_flight += 1;
            *host.in_flight_depths.entry(entry.depth).or_default() += 1;
            self.in_flight += 1;
            self.handed_out += 1;
            let lease = Lease {
                slot: Slot {
                    host_index: index,
                    depth: entry.depth,
                },
                entry,
                host: Arc::clone(&host.key),
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
    pub(crate) fn hold(&mut self) {
        self.holds += 1;
    }

    /// The producer of a [`Frontier::hold`] is done.
    pub(crate) fn release(&mut self) {
        self.holds = self.holds.saturating_sub(1);
    }

    /// True while a producer outside the fetch loop may still add URLs.
    pub(crate) fn holding(&self) -> bool {
        self.holds > 0
    }

    fn drained(&self) -> Pop {
        if self.in_flight > 0 || self.holds > 0 {
            Pop::Busy
        } else {
            Pop::Finished
        }
    }

    /// Gives a lease's slot back: its URL is done (successfully or not).
    pub(crate) fn complete(&mut self, slot: Slot) {
        let host = &mut self.hosts[slot.host_index];
        host.in_flight = host.in_flight.saturating_sub(1);
        if let Some(count) = host.in_flight_depths.get_mut(&slot.depth) {
            *count -= 1;
            if *count == 0 {
                host.in_flight_depths.remove(&slot.depth);
            }
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.schedule_if_idle(slot.host_index);
    }

    /// Takes a lease back unfinished (its holder died or stalled): the URL
    /// is queued again and no longer counts as handed out, so it will be
    /// handed out again within `max_pages`.
    pub(crate) fn requeue(&mut self, slot: Slot, entry: Entry) {
        self.handed_out = self.handed_out.saturating_sub(1);
        self.queue_entry(slot.host_index, entry);
        self.complete(slot);
    }

    /// Drops everything still queued (used when the crawl is interrupted).
    pub(crate) fn clear_queue(&mut self) {
        for host in &mut self.hosts {
            host.queue = DepthQueue::default();
            host.cold = None;
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
    pub(crate) fn counts(&self) -> Counts {
        Counts {
            queued: self.queued,
            in_flight: self.in_flight,
            handed_out: self.handed_out,
            seen: self.seen.len(),
            hosts: self.host_index.len() as u64,
        }
    }
}

/// Writes a host's cold buffer as one chunk. On failure the entries stay
/// buffered in memory and spilling stops: nothing is lost, memory just
/// stops being flat.
fn spill_buffer(spill: &mut Spill, host: &mut HostState) {
    match ColdChain::push(host.cold, &mut spill.file, &host.cold_buffer) {
        Ok(chain) => {
            spill.buffered_total -= host.cold_buffer.len();
            host.cold_buffer.clear();
            host.cold = Some(chain);
        }
        Err(_) => spill.disabled = true,
    }
}

#[cfg(test)]
mod tests;
