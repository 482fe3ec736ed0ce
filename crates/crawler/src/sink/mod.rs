//! The record-sink seam: where finished fetches go.
//!
//! One task receives every finished fetch and hands it to each sink in
//! turn; sinks buffer in memory ([`RecordSink::accept`]) and write in
//! [`RecordSink::flush`], which runs on a blocking thread, at least every
//! second and whenever a sink has 256 KiB waiting. Before
//! any flush the frontier store is synced, so a record on disk implies its
//! page's links are durable in the store.
//!
//! The rules every sink keeps: whole records only (a failed write is cut
//! back to the last whole record), flushed at least every second, and a
//! torn tail cut on resume.

pub mod bodies;
pub mod jsonl;
pub mod warc;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::observe::{CrawlEvent, Observers, Stats};
use crate::record::CrawlRecord;
use bytes::Bytes;
use tokio::sync::mpsc;
use trawl_fetcher::{ErrorKind, Exchange, Fetched};
use trawl_frontier::{FrontierStore, LeaseToken};

/// Bytes a sink may buffer before it is flushed ahead of the next tick,
/// unless it says otherwise.
pub(crate) const WRITE_THRESHOLD: usize = 256 * 1024;

/// The same for sinks that buffer whole bodies: a flush (and its sync) per
/// 256 KiB was one every dozen pages and made the disk the bottleneck.
pub(crate) const BODY_FLUSH_THRESHOLD: usize = 16 * 1024 * 1024;
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The responses behind a record, for sinks that ask for them
/// ([`RecordSink::wants_response`]).
#[derive(Debug, Clone)]
pub struct Response {
    /// Every request and response head of the fetch: redirects first, the
    /// final response last.
    pub exchanges: Vec<Exchange>,
    /// The final response's body as read: decompressed, without transfer
    /// framing, at most the body cap.
    pub body: Bytes,
    /// The body is not whole: cut at the cap (`Length`) or broken off
    /// (`Unspecified`).
    pub truncated: Option<Truncation>,
}

impl Response {
    /// The responses of `fetched`, taking its exchanges; `None` when no
    /// response arrived.
    pub(crate) fn take_from(fetched: &mut Fetched) -> Option<Response> {
        if fetched.exchanges.is_empty() {
            return None;
        }
        Some(Response {
            exchanges: std::mem::take(&mut fetched.exchanges),
            body: fetched.body.clone(),
            truncated: match fetched.error.as_ref().map(|error| error.kind) {
                Some(ErrorKind::BodyTooLarge) => Some(Truncation::Length),
                Some(ErrorKind::Decode | ErrorKind::Io | ErrorKind::Timeout) => {
                    Some(Truncation::Unspecified)
                }
                _ => None,
            },
        })
    }
}

/// Why a body is shorter than the response's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// Cut at the body cap (`--max-body`).
    Length,
    /// Broken off by the server or the network.
    Unspecified,
}

/// One finished fetch as a sink sees it.
#[derive(Debug, Clone, Copy)]
pub struct FinishedFetch<'a> {
    /// The record (what the JSONL line holds).
    pub record: &'a CrawlRecord,
    /// The response, when this sink asked for it and there was one.
    pub response: Option<&'a Response>,
}

/// A sink failed to write: the crawl stops, records already written stay.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {name}: {source}")]
pub struct SinkError {
    /// What the sink writes to (a path, "standard output").
    pub name: String,
    /// Why.
    pub source: std::io::Error,
}

/// Where records go. Implement it for a new output format.
pub trait RecordSink: Send + fmt::Debug {
    /// Whether [`FinishedFetch::response`] should be filled in (the fetcher
    /// then keeps every response header).
    fn wants_response(&self) -> bool {
        false
    }

    /// Takes one finished fetch into the sink's buffer. Runs on the sink
    /// task: no I/O here.
    fn accept(&mut self, fetch: FinishedFetch<'_>) -> Result<(), SinkError>;

    /// Takes the responses of a fetch that has no record: robots.txt and
    /// sitemaps (an archive keeps them; most sinks need not).
    fn accept_unrecorded(&mut self, response: &Response) -> Result<(), SinkError> {
        let _ = response;
        Ok(())
    }

    /// Bytes buffered and not yet written.
    fn pending_bytes(&self) -> usize;

    /// Pending bytes past which the sinks are flushed before the next
    /// tick. Every flush syncs to disk, so sinks that buffer whole bodies
    /// want more than a line-sized buffer.
    fn flush_threshold(&self) -> usize {
        WRITE_THRESHOLD
    }

    /// Writes the buffer out and makes it durable, whole records only.
    /// Runs on a blocking thread: plain file I/O is fine.
    fn flush(&mut self) -> Result<(), SinkError>;
}

/// What the pipeline sends the sink task.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) record: CrawlRecord,
    pub(crate) response: Option<Response>,
    /// The lease the record finishes, told to the store once the record
    /// is flushed ([`FrontierStore::recorded`]).
    pub(crate) lease: Option<LeaseToken>,
}

impl Finished {
    /// A record without a response.
    pub(crate) fn record(record: CrawlRecord) -> Self {
        Finished {
            record,
            response: None,
            lease: None,
        }
    }

    /// The same, finishing `lease`.
    pub(crate) fn leased(mut self, lease: LeaseToken) -> Self {
        self.lease = Some(lease);
        self
    }
}

/// Why the sink task stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Stopped {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("cannot save the queue: {0}")]
    Store(#[from] trawl_frontier::StoreError),
}

/// Writes every fetch received until all senders are gone. On a failure
/// it stops reading, so senders see a closed channel and the crawl winds
/// down; the failure decides the exit code.
pub(crate) async fn run(
    mut received: mpsc::Receiver<Finished>,
    mut unrecorded: mpsc::UnboundedReceiver<Response>,
    mut sinks: Vec<Box<dyn RecordSink>>,
    store: Arc<dyn FrontierStore>,
    stats: Arc<Stats>,
    observers: Observers,
) -> Result<(), Stopped> {
    let mut ticker = tokio::time::interval(FLUSH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Leases whose records are accepted but not yet flushed.
    let mut unflushed: Vec<LeaseToken> = Vec::new();
    let result = loop {
        tokio::select! {
            next = received.recv() => match next {
                Some(finished) => {
                    stats.recorded(&finished.record);
                    observers.emit(&CrawlEvent::Recorded(&finished.record));
                    if let Err(error) = accept(&mut sinks, &finished) {
                        break Err(error.into());
                    }
                    unflushed.extend(finished.lease);
                    if sinks.iter().any(|sink| sink.pending_bytes() >= sink.flush_threshold())
                        && let Err(error) = flush(&mut sinks, store.as_ref(), &mut unflushed).await
                    {
                        break Err(error);
                    }
                }
                None => break flush(&mut sinks, store.as_ref(), &mut unflushed).await,
            },
            Some(response) = unrecorded.recv() => {
                if let Err(error) = sinks
                    .iter_mut()
                    .filter(|sink| sink.wants_response())
                    .try_for_each(|sink| sink.accept_unrecorded(&response))
                {
                    break Err(error.into());
                }
            }
            _ = ticker.tick() => {
                if let Err(error) = flush(&mut sinks, store.as_ref(), &mut unflushed).await {
                    break Err(error);
                }
            }
        }
    };
    received.close();
    result
}

fn accept(sinks: &mut [Box<dyn RecordSink>], finished: &Finished) -> Result<(), SinkError> {
    for sink in sinks {
        let response = if sink.wants_response() {
            finished.response.as_ref()
        } else {
            None
        };
        sink.accept(FinishedFetch {
            record: &finished.record,
            response,
        })?;
    }
    Ok(())
}

/// The store first, then the sinks: a record on disk implies its page's
/// links are durable. Then the store learns which leases' records are on
/// disk.
async fn flush(
    sinks: &mut Vec<Box<dyn RecordSink>>,
    store: &dyn FrontierStore,
    unflushed: &mut Vec<LeaseToken>,
) -> Result<(), Stopped> {
    let result = flush_sinks(sinks, store).await;
    if result.is_ok() && !unflushed.is_empty() {
        store.recorded(unflushed);
        unflushed.clear();
    }
    result
}

async fn flush_sinks(
    sinks: &mut Vec<Box<dyn RecordSink>>,
    store: &dyn FrontierStore,
) -> Result<(), Stopped> {
    store.sync().await?;
    if sinks.iter().all(|sink| sink.pending_bytes() == 0) {
        return Ok(());
    }
    let mut owned = std::mem::take(sinks);
    let joined = tokio::task::spawn_blocking(move || {
        let result = owned.iter_mut().try_for_each(|sink| sink.flush());
        (owned, result)
    })
    .await;
    match joined {
        Ok((owned, result)) => {
            *sinks = owned;
            result.map_err(Stopped::from)
        }
        Err(error) => Err(Stopped::Sink(SinkError {
            name: "the record sinks".to_owned(),
            source: std::io::Error::other(format!("a sink's flush failed: {error}")),
        })),
    }
}
