//! Pipeline wiring: the dispatcher hands URLs from the frontier to fetch
//! tasks, fetch tasks parse HTML on the extraction threads, feed new links back
//! to the frontier and send one record each to the sink.
//!
//! Structured concurrency: every fetch task lives in one `JoinSet`, is
//! spawned only after it holds a global concurrency permit, and gives its
//! frontier lease back when dropped, even if it panics or is aborted, so the
//! crawl always terminates. Links go back into the frontier under a short
//! mutex, never through a channel the frontier itself feeds, so the
//! frontier → fetch → extract → frontier cycle cannot deadlock.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use trawl_extractor::Page;
use trawl_fetcher::{
    Fetched, Fetcher, HostRateLimiter, RedirectVerdict, Retry, RobotsCache, RobotsRules,
    StopReason, backoff_delay,
};
use trawl_frontier::{Entry, Frontier, Lease, Pop, Scope, canonicalize};
use url::Url;

use crate::config::CrawlConfig;
use crate::pacing::Pacing;
use crate::page::{
    build_record, canonical_links, failure_record, header_nofollow, is_html_type, looks_binary,
};
use crate::progress::Stats;
use crate::sink::SinkItem;
use crate::state::{QueuedUrl, Resumed};

/// Records in the channel between fetch tasks and the sink. A full channel
/// makes fetch tasks wait, which holds their concurrency permits, which
/// slows the dispatcher: backpressure instead of memory growth. Measured
/// (trawl-bench, 5 rounds each against this size): 64 and 8,192 made no
/// difference in throughput or CPU, so this stays well above what one flush
/// interval's worth of a fast crawl needs without holding much memory.
const RECORD_CHANNEL: usize = 1024;

/// How often idle hosts' limiter and pacing state is dropped.
const PRUNE_INTERVAL: Duration = Duration::from_secs(30);

/// How a crawl is stopped from outside.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop handing out URLs; let in-flight requests finish.
    pub graceful: CancellationToken,
    /// Abort in-flight requests now.
    pub immediate: CancellationToken,
}

/// How the crawl ended.
#[derive(Debug)]
pub struct Outcome {
    pub report: crate::sink::SinkReport,
    pub output: Result<(), crate::sink::OutputError>,
    pub interrupted: bool,
    /// A failure that ended the crawl early (queued URLs lost to a spill
    /// read error): exit code 1.
    pub fatal: Option<String>,
}

/// State shared by the dispatcher and every fetch task.
#[derive(Debug)]
struct Shared {
    frontier: Mutex<Frontier>,
    fetcher: Fetcher,
    limiter: Option<HostRateLimiter>,
    /// Signalled whenever a lease comes back or links are queued, so an idle
    /// dispatcher looks again.
    wake: Notify,
    records: mpsc::Sender<SinkItem>,
    /// Journal newly queued URLs (the crawl has state).
    journaling: bool,
    /// Parses and finishes HTML pages on its own OS threads
    /// (`--parse-threads`), so parsing never runs on the async threads.
    extract_pool: ExtractPool,
    stats: Arc<Stats>,
    /// `None` with `--ignore-robots`.
    robots: Option<RobotsCache>,
    pacing: Pacing,
    retries: u32,
    max_retry_after: Duration,
    /// `--skip-nofollow-links`: links marked rel="nofollow" are not queued.
    skip_nofollow_links: bool,
    /// Cancelled on the first Ctrl-C: back-off sleeps end early.
    graceful: CancellationToken,
    /// Why the crawl had to stop, when it had to.
    fatal: Mutex<Option<String>>,
}

impl Shared {
    fn frontier(&self) -> MutexGuard<'_, Frontier> {
        // A panic while holding the lock leaves the frontier consistent
        // (every method finishes its bookkeeping before anything can panic),
        // so a poisoned lock is still usable.
        self.frontier
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish_counts(&self, frontier: &Frontier) {
        let counts = frontier.counts();
        self.stats.queued.store(counts.queued, Ordering::Relaxed);
        self.stats
            .in_flight
            .store(counts.in_flight, Ordering::Relaxed);
    }
}

/// Gives the lease back to the frontier when dropped: on success, on error,
/// on panic and on abort alike.
struct LeaseGuard {
    shared: Arc<Shared>,
    lease: Option<Lease>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            let mut frontier = self.shared.frontier();
            frontier.complete(lease);
            self.shared.publish_counts(&frontier);
            drop(frontier);
            self.shared.wake.notify_one();
        }
    }
}

/// The frontier a crawl starts from: the seeds, plus (on `--resume`) the
/// journal replayed, with URLs already in the output only marked seen.
/// Returns the seeds that are new to the journal. Plain blocking file I/O:
/// called before the runtime starts.
pub fn build_frontier(
    config: &CrawlConfig,
    resume: Option<(&crate::state::StateDir, &Resumed)>,
) -> Result<(Frontier, Vec<QueuedUrl>), BuildError> {
    let mut scope = Scope::new(config.scope, config.include.clone(), config.exclude.clone());
    for seed in &config.seeds {
        scope.add_seed(seed);
    }
    let spill = trawl_frontier::SpillConfig {
        dir: config.spill_dir.clone(),
        hot_budget: config.max_queue_in_memory,
        chunk_entries: 4096,
    };
    let mut frontier =
        Frontier::with_spill(scope, config.limits.clone(), spill).map_err(|source| {
            BuildError::Spill {
                dir: config.spill_dir.clone(),
                source,
            }
        })?;
    if let Some((state, resumed)) = resume {
        state.replay(|queued| {
            let done = resumed
                .done
                .contains(&trawl_frontier::fingerprint_str(queued.url.as_str()));
            frontier.restore(&queued.url, queued.depth, queued.parent, done);
        })?;
        frontier.restore_handed_out(resumed.records);
    }
    // Seeds not in the journal yet (all of them on a fresh crawl) are
    // journaled before any request, like every other queued URL.
    let mut queued_seeds = Vec::new();
    for seed in &config.seeds {
        if frontier.add_seed(seed) == trawl_frontier::Admission::Queued {
            queued_seeds.push(QueuedUrl {
                url: seed.clone(),
                depth: 0,
                parent: None,
            });
        }
    }
    Ok((frontier, queued_seeds))
}

/// Why the starting frontier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot create the queue spill file in {}: {source}", dir.display())]
    Spill {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// Runs a whole crawl and returns when every record is written.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    config: CrawlConfig,
    frontier: Frontier,
    queued_seeds: Vec<QueuedUrl>,
    output: crate::sink::Output,
    journal: Option<crate::sink::Output>,
    stats: Arc<Stats>,
    shutdown: Shutdown,
) -> anyhow::Result<Outcome> {
    let fetcher = Fetcher::new(config.fetcher.clone())?;
    let journaling = journal.is_some();
    let (records_tx, records_rx) = mpsc::channel(RECORD_CHANNEL);
    let sink = tokio::spawn(crate::sink::run(
        records_rx,
        output,
        journal,
        Arc::clone(&stats),
    ));
    if journaling && !queued_seeds.is_empty() {
        let _ = records_tx
            .send(SinkItem {
                record: None,
                queued: queued_seeds,
            })
            .await;
    }
    let robots = config
        .obey_robots
        .then(|| RobotsCache::new(&fetcher, &config.robots_agent));
    let shared = Arc::new(Shared {
        frontier: Mutex::new(frontier),
        fetcher,
        limiter: HostRateLimiter::new(config.per_host_rate),
        wake: Notify::new(),
        records: records_tx,
        journaling,
        extract_pool: ExtractPool::new(config.parse_threads)?,
        stats,
        robots,
        pacing: Pacing::new(
            config.delay_factor,
            config.limits.per_host_concurrency,
            config.max_crawl_delay,
        )
        .with_rate(config.per_host_rate),
        retries: config.retries,
        max_retry_after: config.max_retry_after,
        graceful: shutdown.graceful.clone(),
        skip_nofollow_links: config.skip_nofollow_links,
        fatal: Mutex::new(None),
    });

    let mut tasks = JoinSet::new();
    let mut running: HashMap<Id, Entry> = HashMap::new();
    if config.sitemaps {
        let mut origins: Vec<Url> = Vec::new();
        for seed in &config.seeds {
            if !origins
                .iter()
                .any(|known| trawl_frontier::host_key(known) == trawl_frontier::host_key(seed))
            {
                origins.push(seed.clone());
            }
        }
        for origin in origins {
            // Held before the task exists, so the crawl cannot end before
            // the sitemaps are read.
            shared.frontier().hold();
            tasks.spawn(discover_sitemaps(Arc::clone(&shared), origin));
        }
    }
    let interrupted = dispatch(&shared, &config, &shutdown, &mut tasks, &mut running).await;
    if interrupted {
        shared.frontier().clear_queue();
        let grace = tokio::time::sleep(config.grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = tasks.join_next_with_id() => match joined {
                    Some(joined) => reap(&shared, &mut running, joined).await,
                    None => break,
                },
                _ = &mut grace => break,
                _ = shutdown.immediate.cancelled() => break,
            }
        }
        tasks.abort_all();
    }
    while let Some(joined) = tasks.join_next_with_id().await {
        reap(&shared, &mut running, joined).await;
    }
    let fatal = shared
        .fatal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    drop(shared);
    let (report, output) = sink.await?;
    Ok(Outcome {
        report,
        output,
        interrupted: interrupted && fatal.is_none(),
        fatal,
    })
}

/// Hands out URLs until the frontier is finished (returns false) or the
/// crawl is interrupted (returns true).
async fn dispatch(
    shared: &Arc<Shared>,
    config: &CrawlConfig,
    shutdown: &Shutdown,
    tasks: &mut JoinSet<()>,
    running: &mut HashMap<Id, Entry>,
) -> bool {
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let mut last_pruned = Instant::now();
    loop {
        let permit = tokio::select! {
            biased;
            _ = shutdown.graceful.cancelled() => return true,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return true,
            },
        };
        while let Some(joined) = tasks.try_join_next_with_id() {
            reap(shared, running, joined).await;
        }
        let now = Instant::now();
        if now.duration_since(last_pruned) >= PRUNE_INTERVAL {
            // Per-host politeness state of idle hosts would otherwise grow
            // with every host the crawl ever touched.
            last_pruned = now;
            if let Some(limiter) = &shared.limiter {
                limiter.retain_recent();
            }
            shared.pacing.prune(now.into_std());
            shared.frontier().prune_idle_hosts(now.into_std());
        }
        let next = {
            let mut frontier = shared.frontier();
            let now_std = now.into_std();
            let next = frontier.pop(now_std, &mut |host| {
                shared.pacing.check(host, now_std)?;
                if let Some(limiter) = &shared.limiter {
                    limiter
                        .check(host)
                        .map_err(|wait| (now + wait).into_std())?;
                }
                shared.pacing.admitted(host, now_std);
                Ok(())
            });
            shared.publish_counts(&frontier);
            if let Some(error) = frontier.spill_error() {
                tracing::error!("{error}");
                *shared.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_owned());
                return true;
            }
            next
        };
        match next {
            Pop::Ready(lease) => {
                let entry = lease.entry.clone();
                let guard = LeaseGuard {
                    shared: Arc::clone(shared),
                    lease: Some(lease),
                };
                let task = process(guard, permit);
                let handle = tasks.spawn(task);
                running.insert(handle.id(), entry);
            }
            Pop::WaitUntil(at) => {
                drop(permit);
                tokio::select! {
                    _ = tokio::time::sleep_until(Instant::from_std(at)) => {}
                    _ = shared.wake.notified() => {}
                    _ = shutdown.graceful.cancelled() => return true,
                }
            }
            Pop::Busy => {
                drop(permit);
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = shutdown.graceful.cancelled() => return true,
                }
            }
            Pop::Finished => return false,
        }
    }
}

/// Reads one seed host's sitemaps and queues the in-scope URLs they list
/// (depth 0, parent = the sitemap root), then releases its hold.
async fn discover_sitemaps(shared: Arc<Shared>, origin: Url) {
    let _hold = HoldGuard(Arc::clone(&shared));
    let host = trawl_frontier::host_key(&origin);
    let mut root = origin.clone();
    root.set_path("/sitemap.xml");
    root.set_query(None);
    let mut starts = vec![root.clone()];
    let rules = match &shared.robots {
        Some(robots) => Some(robots.rules_for(&host, &origin).await),
        None => None,
    };
    if let Some(rules) = &rules {
        starts.extend(
            rules
                .sitemaps()
                .iter()
                .filter_map(|text| Url::parse(text).ok()),
        );
        starts.retain(|url| trawl_frontier::host_key(url) != host || rules.allowed(url));
    }
    let (urls, problems) =
        trawl_fetcher::discover_sitemaps(&shared.fetcher, starts, SITEMAP_FILES, SITEMAP_URLS)
            .await;
    for problem in problems {
        tracing::warn!("{problem}");
    }
    let parent: Arc<str> = root.as_str().into();
    let mut queued = Vec::new();
    {
        let mut frontier = shared.frontier();
        for url in &urls {
            let Ok(canonical) = canonicalize(url) else {
                continue;
            };
            if frontier.add_link(&canonical, 0, &parent) == trawl_frontier::Admission::Queued
                && shared.journaling
            {
                queued.push(QueuedUrl {
                    url: canonical,
                    depth: 0,
                    parent: Some(Arc::clone(&parent)),
                });
            }
        }
        shared.publish_counts(&frontier);
    }
    tracing::info!(%origin, found = urls.len(), queued = queued.len(), "sitemaps read");
    if !queued.is_empty() {
        let _ = shared
            .records
            .send(SinkItem {
                record: None,
                queued,
            })
            .await;
    }
}

/// Releases a frontier hold when dropped, even if its task panics or is
/// aborted, so the crawl can always end.
struct HoldGuard(Arc<Shared>);

impl Drop for HoldGuard {
    fn drop(&mut self) {
        self.0.frontier().release();
        self.0.wake.notify_one();
    }
}

/// Sitemap files read per seed host, and URLs taken from them.
const SITEMAP_FILES: usize = 1_000;
const SITEMAP_URLS: usize = 5_000_000;

/// Accounts for a finished task. A task that panicked still gets a record,
/// so a bug costs one URL's data, not the crawl.
async fn reap(
    shared: &Arc<Shared>,
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
                let record = failure_record(
                    &entry,
                    "internal",
                    format!("internal error while crawling {}: {error}", entry.url),
                );
                // The sink is gone only when output failed; nothing to add then.
                let _ = shared.records.send(SinkItem::record(record)).await;
            }
        }
    }
}

/// Fetches one URL (after its host's robots.txt, with retries), extracts
/// its links, queues them and emits its record.
async fn process(guard: LeaseGuard, permit: tokio::sync::OwnedSemaphorePermit) {
    let shared = Arc::clone(&guard.shared);
    let Some(lease) = guard.lease.as_ref() else {
        return;
    };
    let entry = lease.entry.clone();
    let host = Arc::clone(&lease.host);
    let rules = match &shared.robots {
        Some(robots) => {
            let rules = robots.rules_for(&host, &entry.url).await;
            if let Some(delay) = rules.crawl_delay() {
                shared.pacing.set_crawl_delay(&host, delay);
            }
            if !rules.allowed(&entry.url) {
                let record =
                    failure_record(&entry, rules.refusal_kind(), rules.refusal(&entry.url));
                let _ = shared.records.send(SinkItem::record(record)).await;
                return;
            }
            Some(rules)
        }
        None => None,
    };
    // Requests dispatched before robots.txt (and its Crawl-delay) were known,
    // or held up by it, are spaced here by the delay and the rate.
    if let Some(start) = shared.pacing.claim(&host, Instant::now().into_std()) {
        tokio::time::sleep_until(Instant::from_std(start)).await;
    }
    let (fetched, attempts) = fetch_with_retries(&shared, &entry, &host, rules.as_deref()).await;
    if is_html(&fetched) {
        // The parser thread finishes the page (links, record) and gives the
        // lease and the permit back, so this task ends here and is not
        // woken again.
        let job = PageJob {
            guard,
            permit,
            entry,
            fetched,
            attempts,
        };
        let Err(mpsc::error::SendError(job)) = shared.extract_pool.jobs.send(job).await else {
            return;
        };
        tracing::error!(url = %job.fetched.final_url, "HTML extraction failed: no parser threads");
        let item = finish_page(&shared, &job.entry, job.fetched, None, job.attempts);
        let _ = shared.records.send(item).await;
        return;
    }
    let item = finish_page(&shared, &entry, fetched, None, attempts);
    // A closed channel means the output failed and the crawl is stopping.
    let _ = shared.records.send(item).await;
    drop(guard);
}

/// The rest of a page after its fetch (and parse): queues its links unless
/// the page says nofollow, and builds its record with the journal lines of
/// the links it queued. Synchronous: runs on a parser thread for HTML and
/// on the fetch task otherwise.
fn finish_page(
    shared: &Shared,
    entry: &Entry,
    fetched: Fetched,
    page: Option<Page>,
    attempts: u32,
) -> SinkItem {
    let follow =
        page.as_ref().is_some_and(|page| !page.meta_robots.nofollow) && !header_nofollow(&fetched);
    let links = canonical_links(page.as_ref());
    let mut queued = Vec::new();
    if follow && !links.is_empty() {
        let parent: Arc<str> = entry.url.as_str().into();
        let depth = entry.depth.saturating_add(1);
        let mut frontier = shared.frontier();
        for (link, rel_nofollow) in &links {
            if *rel_nofollow && shared.skip_nofollow_links {
                continue;
            }
            let admitted = frontier.add_link(link, depth, &parent);
            if shared.journaling && admitted == trawl_frontier::Admission::Queued {
                queued.push(QueuedUrl {
                    url: link.clone(),
                    depth,
                    parent: Some(Arc::clone(&parent)),
                });
            }
        }
        shared.publish_counts(&frontier);
        drop(frontier);
        shared.wake.notify_one();
    }
    let record = build_record(entry, fetched, page, links, attempts);
    SinkItem {
        record: Some(record),
        queued,
    }
}

/// Fetches with up to `retries` more attempts for transient failures. A
/// 429 or 503 (with or without `Retry-After`) rests the whole host, not
/// only this URL.
async fn fetch_with_retries(
    shared: &Shared,
    entry: &Entry,
    host: &str,
    rules: Option<&RobotsRules>,
) -> (Fetched, u32) {
    // Redirect targets this fetch marked seen stay followable on a retry.
    let mut own_targets: HashSet<String> = HashSet::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let fetched = shared
            .fetcher
            .fetch(&entry.url, &mut |target: &Url| {
                redirect_verdict(shared, host, rules, &mut own_targets, target)
            })
            .await;
        if fetched.status.is_some() {
            shared.pacing.observe(host, fetched.elapsed);
        }
        let delay = match fetched.retry() {
            Some(Retry::After(delay)) => delay.min(shared.max_retry_after),
            Some(Retry::Backoff) => backoff_delay(
                attempts - 1,
                Duration::from_millis(500),
                Duration::from_secs(30),
                jitter(entry, attempts),
            ),
            _ => return (fetched, attempts),
        };
        if attempts > shared.retries || shared.graceful.is_cancelled() {
            return (fetched, attempts);
        }
        if matches!(fetched.status, Some(429 | 503)) {
            let until = (Instant::now() + delay).into_std();
            shared.frontier().pause_host(host, until);
        }
        tracing::debug!(url = %entry.url, attempt = attempts, ?delay, "retrying");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.graceful.cancelled() => return (fetched, attempts),
        }
    }
}

/// A number in [0, 1) that differs per URL and attempt, so retries of many
/// URLs spread out instead of arriving together.
fn jitter(entry: &Entry, attempt: u32) -> f64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    entry.url.as_str().hash(&mut hasher);
    attempt.hash(&mut hasher);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn redirect_verdict(
    shared: &Shared,
    host: &str,
    rules: Option<&RobotsRules>,
    own_targets: &mut HashSet<String>,
    target: &Url,
) -> RedirectVerdict {
    let Ok(canonical) = canonicalize(target) else {
        return RedirectVerdict::Stop(StopReason::OutOfScope);
    };
    if let Some(rules) = rules
        && trawl_frontier::host_key(&canonical) == host
        && !rules.allowed(&canonical)
    {
        return RedirectVerdict::Stop(StopReason::Disallowed);
    }
    if own_targets.contains(canonical.as_str()) {
        return RedirectVerdict::Follow;
    }
    let mut frontier = shared.frontier();
    if !frontier.scope().host_allowed(&canonical) {
        RedirectVerdict::Stop(StopReason::OutOfScope)
    } else if !frontier.mark_seen(&canonical) {
        RedirectVerdict::Stop(StopReason::AlreadySeen)
    } else {
        own_targets.insert(canonical.as_str().to_owned());
        RedirectVerdict::Follow
    }
}

/// Parses the body on the extraction pool when it is HTML: declared so (and
/// not binary), or undeclared and sniffed as HTML.
fn is_html(fetched: &Fetched) -> bool {
    if fetched.error.is_some() || fetched.body.is_empty() {
        return false;
    }
    match is_html_type(fetched.content_type.as_deref()) {
        Some(declared) => declared && !looks_binary(&fetched.body),
        None => trawl_extractor::sniff_is_html(&fetched.body),
    }
}

/// Pages waiting for a parser thread, per thread. A full queue makes fetch
/// tasks wait (holding their concurrency permits): backpressure. A queued
/// page holds its permit too, so the queue never lets more bodies into
/// memory than `--concurrency`. Measured with trawl-bench (5 rounds, each
/// against the other in the same run) since parser threads finish pages:
/// 16 reached 0.31 of the ceiling against 0.28-0.30 with 4; 64 was no
/// better than 16.
const EXTRACT_QUEUE_PER_THREAD: usize = 16;

/// A fetched HTML page for a parser thread to finish: the lease and the
/// concurrency permit travel with it and are given back when it is done.
struct PageJob {
    guard: LeaseGuard,
    permit: tokio::sync::OwnedSemaphorePermit,
    entry: Entry,
    fetched: Fetched,
    attempts: u32,
}

/// A fixed pool of parser threads fed by one bounded queue. Cheaper than a
/// `spawn_blocking` per page: busy threads take the next page without
/// being woken, and no thread is created or parked per page. A thread
/// finishes each page itself (links into the frontier, record to the sink,
/// lease and permit back), so the fetch task ends at the handoff instead of
/// waiting to be woken with the parse: measured, 0.29-0.30 of the raw
/// ceiling against 0.26-0.27 in the same trawl-bench rounds. The threads
/// end when the last sender (the pool, inside `Shared`) is dropped, which
/// is after the last queued page, since each page holds `Shared`.
#[derive(Debug)]
struct ExtractPool {
    jobs: mpsc::Sender<PageJob>,
}

impl ExtractPool {
    fn new(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<PageJob>(threads * EXTRACT_QUEUE_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("trawl-extract-{index}"))
                .spawn(move || extract_worker(&queue))?;
        }
        Ok(ExtractPool { jobs })
    }
}

/// Parses and finishes pages until the queue is closed. A panicking parse
/// costs that page its links, a panic after it the page's record (an
/// `internal` error record is written instead), never the thread.
fn extract_worker(queue: &Mutex<mpsc::Receiver<PageJob>>) {
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
        }) = job
        else {
            return;
        };
        let shared = Arc::clone(&guard.shared);
        let url = fetched.final_url.clone();
        // A panic costs that page its links or its record, not the thread.
        let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
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
            finish_page(&shared, &entry, fetched, page.ok(), attempts)
        }));
        let item = finished.unwrap_or_else(|_| {
            tracing::error!(%url, "internal error while finishing a page");
            SinkItem::record(failure_record(
                &entry,
                "internal",
                format!("internal error while finishing {url}"),
            ))
        });
        // A closed channel means the output failed and the crawl is
        // stopping. The lease and the permit go back after the record, as
        // on the fetch task.
        let _ = shared.records.blocking_send(item);
        drop(guard);
        drop(permit);
    }
}

/// How long the progress bar waits between refreshes.
pub const PROGRESS_TICK: Duration = Duration::from_millis(125);
