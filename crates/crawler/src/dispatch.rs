//! The dispatcher: claims ready URLs from the store and spawns one fetch
//! task for each, never more than `concurrency` at once; on shutdown it
//! drains or aborts them.
//!
//! Structured concurrency: every fetch task lives in one `JoinSet`, is
//! spawned only after it holds a global concurrency permit, and gives its
//! lease back when dropped, even if it panics or is aborted, so the crawl
//! always terminates. Links go back into the store directly, never through
//! a channel the store itself feeds, so the store → fetch → extract → store
//! cycle cannot deadlock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use trawl_frontier::{Claim, Entry};

use crate::crawler::{LeaseGuard, Pipeline, Shutdown};
use crate::sink::Finished;

/// How often idle hosts' politeness and queue state is dropped.
const PRUNE_INTERVAL: Duration = Duration::from_secs(30);

/// Ready URLs claimed from the store in one call, at most.
const CLAIM_BATCH: usize = 16;

/// Runs the crawl to its end; returns whether it was interrupted.
pub(crate) async fn run(pipeline: &Arc<Pipeline>, shutdown: &Shutdown) -> bool {
    let mut tasks = JoinSet::new();
    let mut running: HashMap<Id, Entry> = HashMap::new();
    if pipeline.settings.sitemaps {
        crate::sitemaps::spawn_all(pipeline, &mut tasks);
    }
    let interrupted = dispatch(pipeline, shutdown, &mut tasks, &mut running).await;
    if interrupted {
        if let Err(error) = pipeline.store.stop().await {
            pipeline.fail(error.into());
        }
        let grace = tokio::time::sleep(pipeline.settings.grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = tasks.join_next_with_id() => match joined {
                    Some(joined) => reap(pipeline, &mut running, joined).await,
                    None => break,
                },
                _ = &mut grace => break,
                _ = shutdown.immediate.cancelled() => break,
            }
        }
        tasks.abort_all();
    }
    while let Some(joined) = tasks.join_next_with_id().await {
        reap(pipeline, &mut running, joined).await;
    }
    interrupted || pipeline.failed()
}

/// Hands out URLs until the store is finished (returns false) or the
/// crawl is interrupted or failed (returns true).
async fn dispatch(
    pipeline: &Arc<Pipeline>,
    shutdown: &Shutdown,
    tasks: &mut JoinSet<()>,
    running: &mut HashMap<Id, Entry>,
) -> bool {
    let permits = Arc::new(Semaphore::new(pipeline.settings.concurrency.max(1)));
    let mut last_pruned = Instant::now();
    // A store that keeps every host's clock itself (shared by several
    // processes) is the gate; asking the local policy too would refuse
    // what the shared clock just allowed, by the few milliseconds between
    // another claim and its request.
    let shared_gate = pipeline.store.gates_hosts();
    let gate = |host: &str, now| {
        if shared_gate {
            Ok(())
        } else {
            pipeline.policy.admit(host, now)
        }
    };
    loop {
        let first = tokio::select! {
            biased;
            _ = shutdown.graceful.cancelled() => return true,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return true,
            },
        };
        let mut held: Vec<OwnedSemaphorePermit> = vec![first];
        while held.len() < CLAIM_BATCH {
            match Arc::clone(&permits).try_acquire_owned() {
                Ok(permit) => held.push(permit),
                Err(_) => break,
            }
        }
        while let Some(joined) = tasks.try_join_next_with_id() {
            reap(pipeline, running, joined).await;
        }
        let now = Instant::now();
        if now.duration_since(last_pruned) >= PRUNE_INTERVAL {
            // Per-host state of idle hosts would otherwise grow with every
            // host the crawl ever touched.
            last_pruned = now;
            pipeline.policy.prune(now.into_std());
            pipeline.store.prune_idle_hosts(now.into_std());
        }
        let claimed = pipeline
            .store
            .claim(held.len(), now.into_std(), &gate)
            .await;
        pipeline.publish_counts();
        let claim = match claimed {
            Ok(claim) => claim,
            Err(error) => {
                pipeline.fail(error.into());
                return true;
            }
        };
        if pipeline.failed() {
            return true;
        }
        match claim {
            Claim::Ready(leases) => {
                for lease in leases {
                    let Some(permit) = held.pop() else {
                        // A store that hands out more than it was asked for
                        // breaks its contract; the surplus is not fetched
                        // and its URLs get no record.
                        tracing::error!(url = %lease.entry.url, "the frontier store handed out more URLs than asked for");
                        pipeline.store.complete(lease.token);
                        continue;
                    };
                    let entry = lease.entry.clone();
                    let guard = LeaseGuard {
                        pipeline: Arc::clone(pipeline),
                        token: lease.token,
                    };
                    let handle = tasks.spawn(crate::worker::process(guard, lease, permit));
                    running.insert(handle.id(), entry);
                }
            }
            Claim::WaitUntil(at) => {
                drop(held);
                tokio::select! {
                    _ = tokio::time::sleep_until(Instant::from_std(at)) => {}
                    _ = pipeline.wake.notified() => {}
                    _ = shutdown.graceful.cancelled() => return true,
                }
            }
            Claim::Busy => {
                drop(held);
                tokio::select! {
                    _ = pipeline.wake.notified() => {}
                    _ = shutdown.graceful.cancelled() => return true,
                }
            }
            Claim::Finished => return false,
        }
    }
}

/// Accounts for a finished task. A task that panicked still gets a record,
/// so a bug costs one URL's data, not the crawl.
async fn reap(
    pipeline: &Pipeline,
    running: &mut HashMap<Id, Entry>,
    joined: Result<(Id, ()), tokio::task::JoinError>,
) {
    match joined {
        Ok((id, ())) => {
            running.remove(&id);
        }
        Err(error) => {
            let entry = running.remove(&error.id());
            if error.is_panic()
                && let Some(entry) = entry
            {
                tracing::error!(url = %entry.url, "internal error while crawling: {error}");
                let record = crate::page::failure_record(
                    &entry,
                    "internal",
                    format!("internal error while crawling {}: {error}", entry.url),
                );
                // The sink is gone only when output failed; nothing to add then.
                let _ = pipeline.finished.send(Finished::record(record)).await;
            }
        }
    }
}
