//! The parser threads: HTML is parsed, and its page finished, on OS threads
//! of their own, never on the async threads.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use trawl_fetcher::Fetched;
use trawl_frontier::Entry;

use crate::crawler::LeaseGuard;
use crate::page::{failure_record, finish_page};
use crate::sink::Finished;

/// Pages waiting for a parser thread, per thread. A full queue makes fetch
/// tasks wait (holding their concurrency permits): backpressure. A queued
/// page holds its permit too, so the queue never lets more bodies into
/// memory than `concurrency`. Chosen by measurement against 4 and 64 (see
/// the README).
const QUEUE_PER_THREAD: usize = 16;

/// A fetched HTML page for a parser thread to finish: the lease and the
/// concurrency permit travel with it and are given back when it is done.
pub(crate) struct PageJob {
    pub(crate) guard: LeaseGuard,
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) entry: Entry,
    pub(crate) fetched: Fetched,
    pub(crate) attempts: u32,
    /// Parse it (it may only need its body hashed).
    pub(crate) html: bool,
}

/// A fixed pool of parser threads fed by one bounded queue. Cheaper than a
/// `spawn_blocking` per page: busy threads take the next page without
/// being woken, and no thread is created or parked per page. A thread
/// finishes each page itself (links into the store, record to the sinks,
/// lease and permit back), so the fetch task ends at the handoff instead
/// of waiting to be woken with the parse. The threads end when the last
/// sender (the pool, inside the pipeline) is dropped, which is after the
/// last queued page, since each page holds the pipeline.
#[derive(Debug)]
pub(crate) struct ParsePool {
    pub(crate) jobs: mpsc::Sender<PageJob>,
}

impl ParsePool {
    pub(crate) fn new(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<PageJob>(threads * QUEUE_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("trawl-extract-{index}"))
                .spawn(move || parse_worker(&queue))?;
        }
        Ok(ParsePool { jobs })
    }
}

/// Parses and finishes pages until the queue is closed. A panicking parse
/// costs that page its links, a panic after it the page's record (an
/// `internal` error record is written instead), never the thread.
fn parse_worker(queue: &Mutex<mpsc::Receiver<PageJob>>) {
    loop {
        // Only the waiting thread holds the lock; it lets go as soon as it
        // has a page, so the others parse meanwhile.
        let job = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .blocking_recv();
        let Some(PageJob {
            guard,
            permit,
            entry,
            fetched,
            attempts,
            html,
        }) = job
        else {
            return;
        };
        let pipeline = Arc::clone(&guard.pipeline);
        let url = fetched.final_url.clone();
        let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let page = if html {
                let page = std::panic::catch_unwind(|| {
                    trawl_extractor::extract(
                        &fetched.body,
                        &fetched.final_url,
                        fetched.charset.as_deref(),
                    )
                });
                if page.is_err() {
                    tracing::error!(%url, "HTML extraction failed: the parser panicked");
                }
                page.ok()
            } else {
                None
            };
            let (finished, links) = finish_page(&pipeline, &entry, fetched, page, attempts);
            // Links are in the store before the record reaches a sink, so a
            // recorded page's links are never lost.
            block_on(&pipeline.runtime, pipeline.queue(links));
            finished
        }));
        let finished = finished.unwrap_or_else(|_| {
            tracing::error!(%url, "internal error while finishing a page");
            Finished::record(failure_record(
                &entry,
                "internal",
                format!("internal error while finishing {url}"),
            ))
        });
        // A closed channel means the output failed and the crawl is
        // stopping. The lease and the permit go back after the record, as
        // on the fetch task.
        let _ = pipeline
            .finished
            .blocking_send(finished.leased(guard.token));
        drop(guard);
        drop(permit);
    }
}

/// Runs a store call to its end from a parser thread. The embedded store's
/// calls are ready when first polled, so one poll usually does; only a
/// store that really waits (a networked one) costs a trip through the
/// runtime.
fn block_on<F: Future>(runtime: &tokio::runtime::Handle, future: F) -> F::Output {
    // A networked store's future may start a timer or a socket on its
    // first poll, which needs the runtime's context even on this thread.
    let _context = runtime.enter();
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        // Polled again at once with a real waker, which replaces the no-op.
        Poll::Pending => runtime.block_on(future),
    }
}
