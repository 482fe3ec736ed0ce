//! [`RedisStore`]: the [`FrontierStore`] many crawler processes share.
//!
//! The queue, the seen-set, the leases and every host's clock live in
//! Redis; this process keeps only its own leases (to ack them), the acks
//! and pacing news not yet sent, and a cache of each shard's next ready
//! time so an idle round skips shards with nothing due.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use trawl_frontier::{
    Admission, AdmissionRules, CanonicalUrl, Claim, Counts, Entry, Found, FrontierStore, HostGate,
    HostPace, LeaseToken, Limits, RedirectAdmission, Scope, StoreError, StoreFuture,
};

use crate::conn::{ConnectError, Retrying, Scripts, connect};
use crate::keys::{Clock, DEFAULT_BUCKETS, DEFAULT_SHARDS, Keys, ceil_ms, encode_item, member};

mod claim;
mod upkeep;

pub(crate) use upkeep::parse_beat;
use upkeep::{background, worker_name};

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
