//! [`RedisStore`]: the [`FrontierStore`] many crawler processes share.
//!
//! The queue, the seen-set, the leases and every host's clock live in
//! Redis; this process keeps only its own leases (to ack them), the acks
//! and pacing news not yet sent, and a cache of each shard's next ready
//! time so an idle round skips shards with nothing due.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use trawl_frontier::{
    Admission, AdmissionRules, CanonicalUrl, Claim, Counts, Entry, Found, FrontierStore, HostGate,
    HostPace, LeaseToken, Limits, RedirectAdmission, Scope, StoreError, StoreFuture, StoreLease,
};

use crate::conn::{ConnectError, Retrying, Scripts, connect};
use crate::keys::{
    Clock, DEFAULT_BUCKETS, DEFAULT_SHARDS, Keys, ceil_ms, decode_item, encode_item, member,
    split_member,
};

/// How long an idle worker (no leases of its own) waits before looking
/// again: other workers' links arrive without a local wake-up.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// The longest wait handed to a worker with leases out (their acks wake
/// it sooner).
const BUSY_POLL: Duration = Duration::from_secs(5);
/// How long a shard's cached next-ready time is trusted.
const SHARD_CACHE: u64 = 200;
/// Heartbeats (and the background flush) this often.
const TICK: Duration = Duration::from_millis(500);
/// A worker not heard from for this long holds nothing open.
const WORKER_SILENT: u64 = 10_000;
/// Expired leases taken back per shard and round, at most.
const REAP_LIMIT: usize = 1000;

/// How a [`RedisStore`] is set up.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://HOST:PORT/DB`.
    pub url: String,
    /// Names the shared crawl; workers with the same id share it.
    pub crawl_id: String,
    /// This worker's name in the crawl's heartbeat table.
    pub worker: String,
    /// Which hosts and patterns belong to the crawl (seeds already added).
    pub scope: Scope,
    /// The limits the whole crawl honours.
    pub limits: Limits,
    /// A lease not acked (and not renewed by its live holder) within this
    /// goes back to its queue; `None`: leases never expire.
    pub lease_time: Option<Duration>,
    /// A host's gap before the crawler reports one (`1 / --per-host-rate`).
    pub default_gap: Duration,
    /// With a probe, a host no worker has reported a gap for gets one
    /// request, then rests until its gap is reported (after its robots.txt
    /// and first response) or this time passes: a `Crawl-delay` holds from
    /// the host's second request on, over all workers. `None`: unknown
    /// hosts go at `default_gap`.
    pub probe: Option<Duration>,
    /// How long Redis may be away mid-crawl before the crawl fails.
    pub patience: Duration,
    /// How long to wait for Redis at start before giving up.
    pub connect_timeout: Duration,
    /// Finish a URL only when the crawler says its record is durable
    /// ([`FrontierStore::recorded`]); [`FrontierStore::complete`] then
    /// only frees the host's slot. Off, `complete` finishes the URL.
    pub ack_on_record: bool,
}

impl RedisConfig {
    /// A config with a 30 s lease, no default gap, 60 s of patience and a
    /// 3 s connect timeout.
    pub fn new(url: &str, crawl_id: &str, scope: Scope, limits: Limits) -> RedisConfig {
        RedisConfig {
            url: url.to_owned(),
            crawl_id: crawl_id.to_owned(),
            worker: worker_name(),
            scope,
            limits,
            lease_time: Some(Duration::from_secs(30)),
            default_gap: Duration::ZERO,
            probe: None,
            patience: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(3),
            ack_on_record: false,
        }
    }
}

/// The shared frontier on Redis (or Valkey).
#[derive(Debug)]
pub struct RedisStore {
    shared: Arc<Shared>,
    background: tokio::task::AbortHandle,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.background.abort();
    }
}

#[derive(Debug)]
struct Shared {
    redis: Retrying,
    keys: Keys,
    scripts: Scripts,
    rules: AdmissionRules,
    limits: Limits,
    lease_time: Option<Duration>,
    ack_on_record: bool,
    default_gap_ms: u64,
    probe_ms: u64,
    clock: Clock,
    worker: String,
    local: Mutex<Local>,
    /// Held while acks are sent, so a claim sees every ack made before it.
    flushing: tokio::sync::Mutex<()>,
}

/// A host's next ready time (ms) and name.
type ReadyHost = (u64, String);

/// What one flush sends to one shard.
type ShardBatch = (Vec<Ack>, Vec<(String, HostPace)>);

#[derive(Debug, Default)]
struct Local {
    leases: HashMap<u64, Held>,
    next_token: u64,
    acks: Vec<Ack>,
    pace: HashMap<String, HostPace>,
    holds: u64,
    stopped: bool,
    handed_out: u64,
    queued_by_shard: Vec<u64>,
    added: u64,
    /// A shard's earliest ready time as last seen (`None`: nothing ready),
    /// and when it was seen (ms).
    shard_next: Vec<Option<(u64, Option<ReadyHost>)>>,
    /// The instants a gate refused hosts until, so a wait for exactly that
    /// moment is reported as the instant the gate gave.
    refused: HashMap<String, Instant>,
    next_shard: u32,
}

#[derive(Debug)]
struct Held {
    shard: u32,
    member: String,
    claimed: Instant,
    /// Its fetch is over and its slot freed; its record is not yet
    /// durable.
    released: bool,
}

#[derive(Debug)]
struct Ack {
    shard: u32,
    member: String,
    mode: AckMode,
}

#[derive(Debug, Clone, Copy)]
enum AckMode {
    /// The URL is finished.
    Done,
    /// The fetch is over: the host's slot is free, the lease stays.
    Released,
    /// Given back unfetched; the host rests until this time (ms).
    Unfetched(u64),
}

impl Local {
    /// Leases whose fetch is not over: the ones whose acks will wake the
    /// crawler.
    fn fetching(&self) -> usize {
        self.leases.values().filter(|held| !held.released).count()
    }
}

fn lock(mutex: &Mutex<Local>) -> MutexGuard<'_, Local> {
    // Every method finishes its bookkeeping before anything can panic.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RedisStore {
    /// Connects, creates the crawl's meta data if the crawl is new, and
    /// starts the background task (acks, heartbeats, lease renewal and
    /// reaping). Call it inside a tokio runtime.
    pub async fn connect(config: RedisConfig) -> Result<RedisStore, ConnectError> {
        crate::keys::check_crawl_id(&config.crawl_id)?;
        let conn = connect(&config.url, config.connect_timeout).await?;
        let (shards, buckets) = setup(&conn, &config).await?;
        let keys = Keys::new(&config.crawl_id, shards, buckets)?;
        let local = Local {
            queued_by_shard: vec![0; shards as usize],
            shard_next: vec![None; shards as usize],
            ..Local::default()
        };
        let shared = Arc::new(Shared {
            redis: Retrying {
                conn,
                patience: config.patience,
                url: crate::conn::redacted(&config.url),
            },
            keys,
            scripts: Scripts::new(),
            rules: AdmissionRules::new(config.scope, &config.limits),
            limits: config.limits,
            lease_time: config.lease_time,
            ack_on_record: config.ack_on_record,
            default_gap_ms: ceil_ms(config.default_gap),
            probe_ms: config.probe.map_or(0, ceil_ms),
            clock: Clock::now(),
            worker: config.worker,
            local: Mutex::new(local),
            flushing: tokio::sync::Mutex::new(()),
        });
        let background = tokio::spawn(background(Arc::downgrade(&shared))).abort_handle();
        Ok(RedisStore { shared, background })
    }

    /// The crawl's shard count.
    pub fn shards(&self) -> u32 {
        self.shared.keys.shards()
    }

    /// Sends every buffered ack now (at the end of a worker's crawl, so
    /// its last finished URLs are not left to expire).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.shared.flush().await
    }
}

/// Records the shard and bucket counts of a new crawl, or reads an
/// existing crawl's, and says hello in the heartbeat table.
async fn setup(conn: &ConnectionManager, config: &RedisConfig) -> Result<(u32, u32), ConnectError> {
    let meta = crate::keys::global_key(&config.crawl_id, "meta");
    let failed = |source| ConnectError::Setup {
        url: crate::conn::redacted(&config.url),
        crawl: config.crawl_id.clone(),
        source,
    };
    let mut conn = conn.clone();
    let (shards, buckets): (u32, u32) = redis::pipe()
        .hset_nx(&meta, "shards", DEFAULT_SHARDS)
        .ignore()
        .hset_nx(&meta, "buckets", DEFAULT_BUCKETS)
        .ignore()
        .hget(&meta, "shards")
        .hget(&meta, "buckets")
        .query_async(&mut conn)
        .await
        .map_err(failed)?;
    Ok((shards, buckets))
}

impl Shared {
    fn local(&self) -> MutexGuard<'_, Local> {
        lock(&self.local)
    }

    /// Where `host`'s shared robots.txt verdict lives (in its shard).
    fn robots_key(&self, host: &str) -> String {
        format!(
            "{}robots:{host}",
            self.keys.shard_prefix(self.keys.shard_of(host))
        )
    }

    fn conc(&self) -> u32 {
        self.limits.per_host_concurrency.max(1)
    }

    fn limited(&self) -> bool {
        self.limits.max_pages != u64::MAX
    }

    fn expiry(&self, now_ms: u64) -> String {
        match self.lease_time {
            Some(time) => (now_ms + ceil_ms(time)).to_string(),
            None => "+inf".to_owned(),
        }
    }

    /// Sends every buffered ack and pacing update, one script per shard.
    async fn flush(&self) -> Result<(), StoreError> {
        let _flushing = self.flushing.lock().await;
        let (acks, pace) = {
            let mut local = self.local();
            (
                std::mem::take(&mut local.acks),
                std::mem::take(&mut local.pace),
            )
        };
        if acks.is_empty() && pace.is_empty() {
            return Ok(());
        }
        let mut by_shard: HashMap<u32, ShardBatch> = HashMap::new();
        for ack in acks {
            by_shard.entry(ack.shard).or_default().0.push(ack);
        }
        for (host, update) in pace {
            let shard = self.keys.shard_of(&host);
            by_shard.entry(shard).or_default().1.push((host, update));
        }
        let mut shards: Vec<_> = by_shard.into_iter().collect();
        while let Some((shard, (acks, pace))) = shards.pop() {
            let prefix = self.keys.shard_prefix(shard);
            let stats = self.keys.stats(shard);
            let sent = self
                .redis
                .run("ack", |mut conn| {
                    let mut call = self.scripts.ack.key(&stats);
                    call.arg(&prefix)
                        .arg(self.conc())
                        .arg(self.default_gap_ms)
                        .arg(acks.len());
                    for ack in &acks {
                        let (mode, at) = match ack.mode {
                            AckMode::Done => ("d", 0),
                            AckMode::Released => ("l", 0),
                            AckMode::Unfetched(at) => ("u", at),
                        };
                        call.arg(&ack.member).arg(mode).arg(at);
                    }
                    for (host, update) in &pace {
                        let pause = update.paused_until.map_or(0, |at| self.clock.ms(at));
                        call.arg(host).arg(ceil_ms(update.gap)).arg(pause);
                    }
                    async move { call.invoke_async::<u64>(&mut conn).await }
                })
                .await;
            if let Err(error) = sent {
                // Kept for the next round: an ack is never dropped.
                let mut local = self.local();
                local.acks.extend(acks);
                for (_, (more, _)) in shards {
                    local.acks.extend(more);
                }
                return Err(error);
            }
            self.local().shard_next[shard as usize] = None;
        }
        Ok(())
    }

    async fn add(&self, entries: Vec<Entry>, found: Found) -> Result<Vec<Admission>, StoreError> {
        let mut admissions = vec![Admission::Queued; entries.len()];
        let mut by_shard: HashMap<u32, Vec<(usize, Entry)>> = HashMap::new();
        for (index, entry) in entries.into_iter().enumerate() {
            if let Err(refused) = self.rules.check(&entry, found) {
                admissions[index] = refused;
                continue;
            }
            let shard = self.keys.shard_of(&entry.url.host_key());
            by_shard.entry(shard).or_default().push((index, entry));
        }
        let max_host = match self.limits.max_pages_per_host {
            u64::MAX => -1,
            max => max.min(i64::MAX as u64) as i64,
        };
        for (shard, entries) in by_shard {
            let prefix = self.keys.shard_prefix(shard);
            let stats = self.keys.stats(shard);
            let args: Vec<(u32, i64, String, Vec<u8>)> = entries
                .iter()
                .map(|(_, entry)| {
                    let fingerprint = entry.url.fingerprint();
                    (
                        self.keys.bucket_of(fingerprint),
                        member(fingerprint),
                        entry.url.host_key(),
                        encode_item(entry),
                    )
                })
                .collect();
            let codes: Vec<u8> = self
                .redis
                .run("add", |mut conn| {
                    let mut call = self.scripts.add.key(&stats);
                    call.arg(&prefix).arg(max_host).arg(self.conc());
                    for (bucket, fingerprint, host, item) in &args {
                        call.arg(bucket).arg(fingerprint).arg(host).arg(item);
                    }
                    async move { call.invoke_async(&mut conn).await }
                })
                .await?;
            let mut local = self.local();
            local.shard_next[shard as usize] = None;
            for ((index, _), code) in entries.iter().zip(codes) {
                admissions[*index] = match code {
                    0 => {
                        local.added += 1;
                        local.queued_by_shard[shard as usize] += 1;
                        Admission::Queued
                    }
                    1 => Admission::Seen,
                    _ => Admission::LimitReached,
                };
            }
        }
        Ok(admissions)
    }

    async fn claim(
        &self,
        max: usize,
        now: Instant,
        gate: &dyn HostGate,
    ) -> Result<Claim, StoreError> {
        self.flush().await?;
        if self.local().stopped {
            return Ok(self.drained());
        }
        let now_ms = self.clock.ms(now);
        let budget = if self.limited() {
            self.take_budget(max as i64).await?
        } else {
            -1
        };
        let mut leases = Vec::new();
        let mut fresh = 0i64;
        let mut earliest: Option<(u64, Option<String>)> = None;
        let shards = self.keys.shards();
        let start = {
            let mut local = self.local();
            local.next_shard = (local.next_shard + 1) % shards;
            local.next_shard
        };
        for step in 0..shards {
            if leases.len() >= max {
                break;
            }
            let shard = (start + step) % shards;
            let cached = self.local().shard_next[shard as usize].clone();
            if let Some((seen_at, next)) = cached
                && now_ms.saturating_sub(seen_at) < SHARD_CACHE
            {
                match next {
                    None => continue,
                    Some((next, host)) if next > now_ms => {
                        note_earliest(&mut earliest, next, Some(host));
                        continue;
                    }
                    Some(_) => {}
                }
            }
            let left = if budget < 0 {
                -1
            } else {
                (budget - fresh).max(0)
            };
            let (members, took_fresh, first_host, first_score, queued) = self
                .claim_shard(shard, now_ms, max - leases.len(), left)
                .await?;
            fresh += took_fresh;
            let first = (!first_host.is_empty()).then(|| (first_score.max(0) as u64, first_host));
            {
                let mut local = self.local();
                local.queued_by_shard[shard as usize] = queued;
                local.shard_next[shard as usize] = Some((now_ms, first.clone()));
            }
            if let Some((score, host)) = first
                && score > now_ms
            {
                note_earliest(&mut earliest, score, Some(host));
            }
            for text in members {
                if let Some((at, host)) =
                    self.take_lease(&mut leases, &mut fresh, shard, text, now, gate)?
                {
                    // Given back: the host is due again when the gate said.
                    note_earliest(&mut earliest, self.clock.ms(at), Some(host));
                }
            }
        }
        if budget > fresh {
            self.give_budget(budget - fresh).await?;
        }
        // Refused leases go back before anyone looks at their host again.
        self.flush().await?;
        if !leases.is_empty() {
            self.local().handed_out += fresh.max(0) as u64;
            return Ok(Claim::Ready(leases));
        }
        let has_leases = {
            let local = self.local();
            local.fetching() > 0 || local.holds > 0
        };
        if let Some((at, host)) = earliest {
            let cap = if has_leases { BUSY_POLL } else { IDLE_POLL };
            let refused = host.and_then(|host| self.local().refused.get(&host).copied());
            let at = match refused {
                Some(instant) if self.clock.ms(instant) == at => instant,
                _ => self.clock.instant(at),
            };
            return Ok(Claim::WaitUntil(at.min(now + cap)));
        }
        if has_leases {
            return Ok(Claim::Busy);
        }
        if self.crawl_finished(now_ms).await? {
            let mut local = self.local();
            local
                .queued_by_shard
                .iter_mut()
                .for_each(|queued| *queued = 0);
            return Ok(Claim::Finished);
        }
        Ok(Claim::WaitUntil(now + IDLE_POLL))
    }

    async fn claim_shard(
        &self,
        shard: u32,
        now_ms: u64,
        n: usize,
        budget: i64,
    ) -> Result<(Vec<String>, i64, String, i64, u64), StoreError> {
        let prefix = self.keys.shard_prefix(shard);
        let stats = self.keys.stats(shard);
        let expiry = self.expiry(now_ms);
        self.redis
            .run("claim", |mut conn| {
                let mut call = self.scripts.claim.key(&stats);
                call.arg(&prefix)
                    .arg(now_ms)
                    .arg(&expiry)
                    .arg(n)
                    .arg(budget)
                    .arg(self.conc())
                    .arg(self.default_gap_ms)
                    .arg(self.probe_ms);
                async move { call.invoke_async(&mut conn).await }
            })
            .await
    }

    /// Turns a claimed member into a lease, or gives it back at once when
    /// the crawler's gate refuses its host (then returns when the gate
    /// opens, and the host).
    fn take_lease(
        &self,
        leases: &mut Vec<StoreLease>,
        fresh: &mut i64,
        shard: u32,
        text: String,
        now: Instant,
        gate: &dyn HostGate,
    ) -> Result<Option<(Instant, String)>, StoreError> {
        let decoded = split_member(&text)
            .and_then(|(host, item)| Some((Arc::<str>::from(host), decode_item(item)?)));
        let Some((host, (entry, is_fresh))) = decoded else {
            return Err(StoreError(format!(
                "Redis holds a lease this version cannot read: {text:?}"
            )));
        };
        let mut local = self.local();
        if let Err(at) = gate.admit(&host, now) {
            if is_fresh {
                *fresh -= 1;
            }
            local.refused.insert(host.to_string(), at);
            local.acks.push(Ack {
                shard,
                member: text,
                mode: AckMode::Unfetched(self.clock.ms(at)),
            });
            return Ok(Some((at, host.to_string())));
        }
        local.next_token += 1;
        let token = local.next_token;
        local.leases.insert(
            token,
            Held {
                shard,
                member: text,
                claimed: Instant::now(),
                released: false,
            },
        );
        leases.push(StoreLease {
            entry,
            host,
            token: LeaseToken::new(token),
        });
        Ok(None)
    }

    async fn take_budget(&self, want: i64) -> Result<i64, StoreError> {
        let key = self.keys.global("handed");
        let max = self.limits.max_pages.min(i64::MAX as u64) as i64;
        self.redis
            .run("page budget", |mut conn| {
                let mut call = self.scripts.budget.key(&key);
                call.arg(max).arg(want);
                async move { call.invoke_async(&mut conn).await }
            })
            .await
    }

    async fn give_budget(&self, unused: i64) -> Result<(), StoreError> {
        self.take_budget(-unused).await.map(drop)
    }

    /// True when the whole crawl is over: every URL ever queued is
    /// finished (or, past the page limit, nothing is leased or owed), and
    /// no live worker holds the crawl open.
    ///
    /// Counters only grow, a URL is created before it is finished, and a
    /// page's links are created before it is finished; so reading every
    /// shard's `finished`, then every shard's `created`, and finding them
    /// equal means that at the moment between the two passes nothing was
    /// outstanding, and nothing can appear later.
    async fn crawl_finished(&self, now_ms: u64) -> Result<bool, StoreError> {
        let workers: HashMap<String, String> = self
            .redis
            .run("termination check", |mut conn| {
                let key = self.keys.global("workers");
                async move { redis::AsyncCommands::hgetall(&mut conn, key).await }
            })
            .await?;
        let held_open = workers
            .iter()
            .filter(|(id, _)| **id != self.worker)
            .any(|(_, beat)| {
                let (at, holds) = parse_beat(beat);
                holds > 0 && now_ms.saturating_sub(at) < WORKER_SILENT
            });
        if held_open {
            return Ok(false);
        }
        let shards = self.keys.shards();
        if self.limited() {
            let handed: Option<u64> = self
                .redis
                .run("termination check", |mut conn| {
                    let key = self.keys.global("handed");
                    async move { redis::AsyncCommands::get(&mut conn, key).await }
                })
                .await?;
            if handed.unwrap_or(0) >= self.limits.max_pages {
                let outstanding: Vec<u64> = self
                    .redis
                    .run("termination check", |mut conn| {
                        let mut pipe = redis::pipe();
                        for shard in 0..shards {
                            pipe.zcard(self.keys.leases(shard));
                            pipe.hget(self.keys.stats(shard), "owed");
                        }
                        async move {
                            let values: Vec<Option<i64>> = pipe.query_async(&mut conn).await?;
                            Ok(values
                                .into_iter()
                                .map(|v| v.unwrap_or(0).max(0) as u64)
                                .collect())
                        }
                    })
                    .await?;
                if outstanding.iter().all(|&count| count == 0) {
                    return Ok(true);
                }
            }
        }
        let finished = self.sum_field(shards, "finished").await?;
        let created = self.sum_field(shards, "created").await?;
        Ok(finished == created)
    }

    async fn sum_field(&self, shards: u32, field: &str) -> Result<u64, StoreError> {
        self.redis
            .run("termination check", |mut conn| {
                let mut pipe = redis::pipe();
                for shard in 0..shards {
                    pipe.hget(self.keys.stats(shard), field);
                }
                async move {
                    let values: Vec<Option<u64>> = pipe.query_async(&mut conn).await?;
                    Ok(values.into_iter().map(Option::unwrap_or_default).sum())
                }
            })
            .await
    }

    /// A stopped store is drained when its own leases and holds are back.
    fn drained(&self) -> Claim {
        let local = self.local();
        if local.fetching() == 0 && local.holds == 0 {
            Claim::Finished
        } else {
            Claim::Busy
        }
    }

    /// Takes back expired leases on every shard; returns how many.
    async fn reap(&self, now_ms: u64) -> Result<u64, StoreError> {
        let mut total = 0;
        for shard in 0..self.keys.shards() {
            let prefix = self.keys.shard_prefix(shard);
            let stats = self.keys.stats(shard);
            let members: Vec<String> = self
                .redis
                .run("requeue expired leases", |mut conn| {
                    let mut call = self.scripts.reap.key(&stats);
                    call.arg(&prefix)
                        .arg(now_ms)
                        .arg(REAP_LIMIT)
                        .arg(self.conc());
                    async move { call.invoke_async(&mut conn).await }
                })
                .await?;
            if members.is_empty() {
                continue;
            }
            total += members.len() as u64;
            let mut local = self.local();
            local.shard_next[shard as usize] = None;
            local.queued_by_shard[shard as usize] += members.len() as u64;
            // Ours, if any, are lost to us: their acks would be ignored.
            local
                .leases
                .retain(|_, held| held.shard != shard || !members.contains(&held.member));
        }
        if total > 0 {
            tracing::info!("{total} expired leases went back to their queues");
        }
        Ok(total)
    }

    /// Pushes the deadlines of this worker's older leases out by a lease
    /// time, so a live worker's slow fetch keeps its lease.
    async fn renew(&self, now: Instant) -> Result<(), StoreError> {
        let Some(time) = self.lease_time else {
            return Ok(());
        };
        let mut by_shard: HashMap<u32, Vec<String>> = HashMap::new();
        for held in self.local().leases.values() {
            // A released lease waits only for its record's flush (a second
            // or so); one whose record never comes (its task panicked) must
            // expire, or the crawl would never end.
            if !held.released && now.duration_since(held.claimed) >= time / 3 {
                by_shard
                    .entry(held.shard)
                    .or_default()
                    .push(held.member.clone());
            }
        }
        let expiry = self.clock.ms(now) + ceil_ms(time);
        for (shard, members) in by_shard {
            let key = self.keys.leases(shard);
            self.redis
                .run("renew leases", |mut conn| {
                    let mut cmd = redis::cmd("ZADD");
                    cmd.arg(&key).arg("XX").arg("GT");
                    for member in &members {
                        cmd.arg(expiry).arg(member);
                    }
                    async move { cmd.query_async::<u64>(&mut conn).await }
                })
                .await?;
        }
        Ok(())
    }

    async fn heartbeat(&self, now_ms: u64) -> Result<(), StoreError> {
        let beat = format!("{now_ms} {}", self.local().holds);
        let key = self.keys.global("workers");
        self.redis
            .run("heartbeat", |mut conn| {
                let (key, beat) = (key.clone(), beat.clone());
                async move {
                    redis::AsyncCommands::hset::<_, _, _, ()>(&mut conn, key, &self.worker, beat)
                        .await
                }
            })
            .await
    }
}

/// `HOST:PID`, for `trawl status` to tell workers apart.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}:{}", std::process::id())
}

/// A heartbeat value: `<ms> <holds>`.
pub(crate) fn parse_beat(beat: &str) -> (u64, u64) {
    let mut parts = beat.split(' ');
    let at = parts.next().and_then(|at| at.parse().ok()).unwrap_or(0);
    let holds = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    (at, holds)
}

fn note_earliest(earliest: &mut Option<(u64, Option<String>)>, at: u64, host: Option<String>) {
    if earliest.as_ref().is_none_or(|(known, _)| at < *known) {
        *earliest = Some((at, host));
    }
}

/// Acks, heartbeats, lease renewal and reaping, until the store is dropped.
async fn background(shared: Weak<Shared>) {
    let mut ticker = tokio::time::interval(TICK);
    let mut last_reap = Instant::now();
    loop {
        ticker.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = Instant::now();
        let now_ms = shared.clock.ms(now);
        let mut result = shared.flush().await;
        if result.is_ok() {
            result = shared.heartbeat(now_ms).await;
        }
        if result.is_ok() {
            result = shared.renew(now).await;
        }
        if let Some(time) = shared.lease_time
            && result.is_ok()
            && now.duration_since(last_reap) >= (time / 4).max(TICK)
        {
            last_reap = now;
            result = shared.reap(now_ms).await.map(drop);
        }
        if let Err(error) = result {
            // The next claim meets the same failure and ends the crawl.
            tracing::warn!("{error}");
        }
    }
}

impl FrontierStore for RedisStore {
    fn add(&self, entries: Vec<Entry>, found: Found) -> StoreFuture<'_, Vec<Admission>> {
        Box::pin(self.shared.add(entries, found))
    }

    fn claim<'a>(
        &'a self,
        max: usize,
        now: Instant,
        gate: &'a dyn HostGate,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(self.shared.claim(max, now, gate))
    }

    fn complete(&self, token: LeaseToken) {
        let mut local = self.shared.local();
        if !self.shared.ack_on_record {
            if let Some(held) = local.leases.remove(&token.get()) {
                local.acks.push(Ack {
                    shard: held.shard,
                    member: held.member,
                    mode: AckMode::Done,
                });
            }
            return;
        }
        let Some(held) = local.leases.get_mut(&token.get()) else {
            return;
        };
        if held.released {
            return;
        }
        held.released = true;
        let ack = Ack {
            shard: held.shard,
            member: held.member.clone(),
            mode: AckMode::Released,
        };
        local.acks.push(ack);
    }

    fn recorded(&self, tokens: &[LeaseToken]) {
        if !self.shared.ack_on_record {
            return;
        }
        let mut local = self.shared.local();
        for token in tokens {
            // A record can be flushed before its task freed the slot: the
            // done ack then frees it too.
            if let Some(held) = local.leases.remove(&token.get()) {
                local.acks.push(Ack {
                    shard: held.shard,
                    member: held.member,
                    mode: AckMode::Done,
                });
            }
        }
    }

    fn admit_redirect<'a>(
        &'a self,
        target: &'a CanonicalUrl,
    ) -> StoreFuture<'a, RedirectAdmission> {
        Box::pin(async move {
            if !self.shared.rules.redirect_allowed(target) {
                return Ok(RedirectAdmission::OutOfScope);
            }
            let key = self
                .shared
                .keys
                .seen(&target.host_key(), target.fingerprint());
            let value = member(target.fingerprint());
            let new: u64 = self
                .shared
                .redis
                .run("mark a redirect seen", |mut conn| {
                    let key = key.clone();
                    async move { redis::AsyncCommands::sadd(&mut conn, key, value).await }
                })
                .await?;
            Ok(if new == 1 {
                RedirectAdmission::Follow
            } else {
                RedirectAdmission::AlreadySeen
            })
        })
    }

    fn hold(&self) {
        self.shared.local().holds += 1;
    }

    fn release(&self) {
        let mut local = self.shared.local();
        local.holds = local.holds.saturating_sub(1);
    }

    fn requeue_expired(&self, now: Instant) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            if self.shared.lease_time.is_none() {
                return Ok(0);
            }
            self.shared.reap(self.shared.clock.ms(now)).await
        })
    }

    fn stop(&self) -> StoreFuture<'_, ()> {
        self.shared.local().stopped = true;
        Box::pin(async move { self.shared.flush().await })
    }

    fn sync(&self) -> StoreFuture<'_, ()> {
        // Every add is in Redis when it returns; durability beyond that is
        // the server's (AOF) business.
        Box::pin(std::future::ready(Ok(())))
    }

    fn prune_idle_hosts(&self, now: Instant) {
        self.shared.local().refused.retain(|_, until| *until > now);
    }

    fn counts(&self) -> Counts {
        let local = self.shared.local();
        Counts {
            queued: if local.stopped {
                0
            } else {
                local.queued_by_shard.iter().sum()
            },
            in_flight: local.fetching() as u64,
            handed_out: local.handed_out,
            seen: local.added,
            hosts: 0,
        }
    }

    fn gates_hosts(&self) -> bool {
        true
    }

    fn load_robots<'a>(&'a self, host: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let key = self.shared.robots_key(host);
            self.shared
                .redis
                .run("read a shared robots.txt", |mut conn| {
                    let key = key.clone();
                    async move { redis::AsyncCommands::get(&mut conn, key).await }
                })
                .await
        })
    }

    fn save_robots<'a>(
        &'a self,
        host: &'a str,
        verdict: Vec<u8>,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.shared.robots_key(host);
            let secs = ttl.as_secs().max(1);
            self.shared
                .redis
                .run("share a robots.txt", |mut conn| {
                    let (key, verdict) = (key.clone(), verdict.clone());
                    async move {
                        redis::AsyncCommands::set_ex::<_, _, ()>(&mut conn, key, verdict, secs)
                            .await
                    }
                })
                .await
        })
    }

    fn pace(&self, host: &str, pace: HostPace) {
        self.shared.local().pace.insert(host.to_owned(), pace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_parse_and_bad_ones_count_as_silent() {
        assert_eq!(parse_beat("1700000000000 2"), (1_700_000_000_000, 2));
        assert_eq!(parse_beat("junk"), (0, 0));
    }

    #[test]
    fn the_earliest_wait_wins() {
        let mut earliest = None;
        note_earliest(&mut earliest, 50, Some("a".into()));
        note_earliest(&mut earliest, 70, Some("b".into()));
        note_earliest(&mut earliest, 20, None);
        assert_eq!(earliest, Some((20, None)));
    }
}
