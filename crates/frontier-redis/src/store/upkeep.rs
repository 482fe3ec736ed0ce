//! Upkeep: sending buffered acks and pacing news, taking back expired
//! leases, renewing this worker's, and the heartbeat, on a background
//! task and before each claim.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use trawl_frontier::StoreError;

use super::{AckMode, ShardBatch, Shared};
use crate::keys::ceil_ms;

/// Heartbeats (and the background flush) this often.
const TICK: Duration = Duration::from_millis(500);
/// Expired leases taken back per shard and round, at most.
const REAP_LIMIT: usize = 1000;

impl Shared {
    /// Sends every buffered ack and pacing update, one script per shard.
    pub(super) async fn flush(&self) -> Result<(), StoreError> {
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

    /// Takes back expired leases on every shard; returns how many.
    pub(super) async fn reap(&self, now_ms: u64) -> Result<u64, StoreError> {
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
    pub(super) async fn renew(&self, now: Instant) -> Result<(), StoreError> {
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

    pub(super) async fn heartbeat(&self, now_ms: u64) -> Result<(), StoreError> {
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
pub(super) fn worker_name() -> String {
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

/// Acks, heartbeats, lease renewal and reaping, until the store is dropped.
pub(super) async fn background(shared: Weak<Shared>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_parse_and_bad_ones_count_as_silent() {
        assert_eq!(parse_beat("1700000000000 2"), (1_700_000_000_000, 2));
        assert_eq!(parse_beat("junk"), (0, 0));
    }
}
