//! Claiming: one script per shard with ready hosts, the crawler's gate
//! on each lease, the crawl-wide page budget, and the end of the crawl
//! read from the shards' counters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use trawl_frontier::{Claim, HostGate, LeaseToken, StoreError, StoreLease};

use super::{Ack, AckMode, Held, Shared};
use crate::keys::{decode_item, split_member};
use crate::store::parse_beat;

/// How long an idle worker (no leases of its own) waits before looking
/// again: other workers' links arrive without a local wake-up.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// The longest wait handed to a worker with leases out (their acks wake
/// it sooner).
const BUSY_POLL: Duration = Duration::from_secs(5);
/// How long a shard's cached next-ready time is trusted.
const SHARD_CACHE: u64 = 200;
/// A worker not heard from for this long holds nothing open.
const WORKER_SILENT: u64 = 10_000;

/// What the claim script answers: lease members, how many were fresh,
/// the earliest ready host and its score, the shard's queued count.
type ClaimReply = (Vec<String>, i64, String, i64, u64);

/// One claim call's state over the shards it visits.
struct Round {
    now: Instant,
    now_ms: u64,
    leases: Vec<StoreLease>,
    fresh: i64,
    earliest: Option<(u64, Option<String>)>,
}

impl Shared {
    pub(super) async fn claim(
        self: &Arc<Self>,
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
        let mut round = Round {
            now,
            now_ms,
            leases: Vec::new(),
            fresh: 0,
            earliest: None,
        };
        let shards = self.keys.shards();
        let start = {
            let mut local = self.local();
            local.next_shard = (local.next_shard + 1) % shards;
            local.next_shard
        };
        // The shards that may have a host due: the others' cached next
        // ready time is still ahead (or they had none).
        let mut due = Vec::new();
        for step in 0..shards {
            let shard = (start + step) % shards;
            let cached = self.local().shard_next[shard as usize].clone();
            if let Some((seen_at, next)) = cached
                && now_ms.saturating_sub(seen_at) < SHARD_CACHE
            {
                match next {
                    None => continue,
                    Some((next, host)) if next > now_ms => {
                        note_earliest(&mut round.earliest, next, Some(host));
                        continue;
                    }
                    Some(_) => {}
                }
            }
            due.push(shard);
        }
        // Without a page budget to share out, the due shards are asked at
        // once, each for its share of `max` (the total never exceeds it);
        // a shard that filled its share may have more, and is asked again
        // below with the rest, one after another.
        let mut again = Vec::new();
        if budget < 0 && due.len() > 1 && max > 1 {
            let asked = due.len().min(max);
            let share = max / asked;
            let extra = max % asked;
            let mut calls = tokio::task::JoinSet::new();
            for (i, &shard) in due[..asked].iter().enumerate() {
                let n = share + usize::from(i < extra);
                let shared = Arc::clone(self);
                calls.spawn(async move {
                    let reply = shared.claim_shard(shard, now_ms, n, -1).await;
                    (shard, n, reply)
                });
            }
            while let Some(joined) = calls.join_next().await {
                let (shard, n, reply) =
                    joined.map_err(|error| StoreError(format!("a claim task failed: {error}")))?;
                let reply = reply?;
                if reply.0.len() >= n {
                    again.push(shard);
                }
                self.absorb(&mut round, shard, reply, gate)?;
            }
            again.extend_from_slice(&due[asked..]);
        } else {
            again = due;
        }
        for shard in again {
            if round.leases.len() >= max {
                break;
            }
            let left = if budget < 0 {
                -1
            } else {
                (budget - round.fresh).max(0)
            };
            let reply = self
                .claim_shard(shard, now_ms, max - round.leases.len(), left)
                .await?;
            self.absorb(&mut round, shard, reply, gate)?;
        }
        let Round {
            leases,
            fresh,
            earliest,
            ..
        } = round;
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

    /// Takes one shard's answer into the round: its cache entry, its
    /// earliest ready host, its leases (through the gate).
    fn absorb(
        &self,
        round: &mut Round,
        shard: u32,
        reply: ClaimReply,
        gate: &dyn HostGate,
    ) -> Result<(), StoreError> {
        let (members, took_fresh, first_host, first_score, queued) = reply;
        round.fresh += took_fresh;
        let first = (!first_host.is_empty()).then(|| (first_score.max(0) as u64, first_host));
        {
            let mut local = self.local();
            local.queued_by_shard[shard as usize] = queued;
            local.shard_next[shard as usize] = Some((round.now_ms, first.clone()));
        }
        if let Some((score, host)) = first
            && score > round.now_ms
        {
            note_earliest(&mut round.earliest, score, Some(host));
        }
        for text in members {
            if let Some((at, host)) = self.take_lease(
                &mut round.leases,
                &mut round.fresh,
                shard,
                text,
                round.now,
                gate,
            )? {
                // Given back: the host is due again when the gate said.
                note_earliest(&mut round.earliest, self.clock.ms(at), Some(host));
            }
        }
        Ok(())
    }

    pub(super) async fn claim_shard(
        &self,
        shard: u32,
        now_ms: u64,
        n: usize,
        budget: i64,
    ) -> Result<ClaimReply, StoreError> {
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
    pub(super) fn take_lease(
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

    pub(super) async fn take_budget(&self, want: i64) -> Result<i64, StoreError> {
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

    pub(super) async fn give_budget(&self, unused: i64) -> Result<(), StoreError> {
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
    pub(super) async fn crawl_finished(&self, now_ms: u64) -> Result<bool, StoreError> {
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

    pub(super) async fn sum_field(&self, shards: u32, field: &str) -> Result<u64, StoreError> {
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
    pub(super) fn drained(&self) -> Claim {
        let local = self.local();
        if local.fetching() == 0 && local.holds == 0 {
            Claim::Finished
        } else {
            Claim::Busy
        }
    }
}

fn note_earliest(earliest: &mut Option<(u64, Option<String>)>, at: u64, host: Option<String>) {
    if earliest.as_ref().is_none_or(|(known, _)| at < *known) {
        *earliest = Some((at, host));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_wait_wins() {
        let mut earliest = None;
        note_earliest(&mut earliest, 50, Some("a".into()));
        note_earliest(&mut earliest, 70, Some("b".into()));
        note_earliest(&mut earliest, 20, None);
        assert_eq!(earliest, Some((20, None)));
    }
}
