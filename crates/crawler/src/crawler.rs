//! The builder, the shared state of a running crawl, and how it ends.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use trawl_fetcher::{Fetcher, HostPolicy, RobotsCache};
use trawl_frontier::{
    CanonicalUrl, Entry, Found, FrontierStore, HostPace, LeaseToken, Limits, LocalConfig,
    LocalStore, Scope,
};
use url::Url;

use crate::observe::{CrawlEvent, Observer, Observers, Stats, StatsSnapshot};
use crate::parse_pool::ParsePool;
use crate::settings::Settings;
use crate::sink::{Finished, RecordSink, SinkError, Stopped};

/// Records in the channel between the pipeline and the sinks. A full
/// channel makes fetch tasks wait, which holds their concurrency permits,
/// which slows the dispatcher: backpressure instead of memory growth.
/// Sizes from 64 to 8,192 measured the same (see the README).
const RECORD_CHANNEL: usize = 1024;

/// How a crawl is stopped from outside.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop handing out URLs; let in-flight requests finish within the
    /// grace period.
    pub graceful: CancellationToken,
    /// Abort in-flight requests now.
    pub immediate: CancellationToken,
}

/// How the crawl ended.
///
/// It still holds the crawl's HTTP client: the pooled connections (one or
/// more per host crawled) close when the outcome is dropped, so a caller
/// about to exit need not wait while the runtime closes thousands of them.
#[derive(Debug)]
pub struct Outcome {
    /// Finished, interrupted or failed.
    pub ending: Ending,
    /// The final counters.
    pub stats: StatsSnapshot,
    _connections: Fetcher,
}

/// The one answer to "how did it end".
#[derive(Debug)]
pub enum Ending {
    /// Nothing was left to fetch (or a limit was reached).
    Finished,
    /// Stopped through [`Shutdown`]; the store keeps what is left.
    Interrupted,
    /// A sink or the store failed; records made before are written.
    Failed(CrawlFailure),
}

/// Why a crawl had to stop.
#[derive(Debug, thiserror::Error)]
pub enum CrawlFailure {
    /// A record sink could not write.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The frontier store lost or could not save queued URLs.
    #[error("the queue failed: {0}")]
    Store(#[from] trawl_frontier::StoreError),
}

/// Why a crawl could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No seed URL was given.
    #[error("no seed URLs")]
    NoSeeds,
    /// A seed is not a crawlable URL.
    #[error("seed {url}: {source}")]
    Seed {
        url: Url,
        source: trawl_frontier::CanonError,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Fetcher(#[from] trawl_fetcher::BuildError),
    /// No record sink was given.
    #[error("no record sink: add one with CrawlerBuilder::sink")]
    NoSink,
    /// The default store could not be opened.
    #[error(transparent)]
    Store(trawl_frontier::OpenError),
    /// The parser threads could not be started.
    #[error("cannot start the parser threads: {0}")]
    Threads(std::io::Error),
}

/// Sets up a [`Crawler`].
#[derive(Debug)]
pub struct CrawlerBuilder {
    settings: Settings,
    seeds: Vec<Url>,
    store: Option<Arc<dyn FrontierStore>>,
    sinks: Vec<Box<dyn RecordSink>>,
    observers: Vec<Arc<dyn Observer>>,
}

impl CrawlerBuilder {
    /// Adds seed URLs (depth 0).
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = Url>) -> Self {
        self.seeds.extend(seeds);
        self
    }

    /// Where the queue lives. Without one, a [`LocalStore`] in memory.
    pub fn store(mut self, store: Arc<dyn FrontierStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds a record sink; several may run at once.
    pub fn sink(mut self, sink: impl RecordSink + 'static) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Saves every body under `dir`, once each, named by its SHA-256
    /// (`dir/ab/cdef…`); records gain `body_sha256` and `body_path`. The
    /// bodies are written before any other sink writes the records that
    /// name them.
    pub fn save_bodies(mut self, dir: &std::path::Path) -> Result<Self, SinkError> {
        let sink = crate::sink::bodies::BodySink::open(dir)?;
        self.sinks.insert(0, Box::new(sink));
        self.settings.save_bodies = Some(dir.to_owned());
        Ok(self)
    }

    /// Adds an observer of crawl events.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Checks the seeds and builds the client. Call it inside a tokio
    /// runtime.
    pub fn build(mut self) -> Result<Crawler, BuildError> {
        if self.seeds.is_empty() {
            return Err(BuildError::NoSeeds);
        }
        if self.sinks.is_empty() {
            return Err(BuildError::NoSink);
        }
        let seeds = self
            .seeds
            .iter()
            .map(|url| {
                CanonicalUrl::new(url).map_err(|source| BuildError::Seed {
                    url: url.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.settings.limits.per_host_concurrency = self.settings.politeness.per_host_concurrency;
        if self.sinks.iter().any(|sink| sink.wants_response()) {
            self.settings.fetcher.keep_headers = true;
        }
        let store = match self.store {
            Some(store) => store,
            None => {
                let config = LocalConfig::new(
                    scope_for(&self.settings, &self.seeds),
                    limits_for(&self.settings),
                );
                // In memory, without spill or journal, opening cannot fail.
                Arc::new(LocalStore::new(config).map_err(BuildError::Store)?)
            }
        };
        let fetcher = Fetcher::new(self.settings.fetcher.clone())?;
        let parse_pool =
            ParsePool::new(self.settings.parse_threads).map_err(BuildError::Threads)?;
        Ok(Crawler {
            settings: self.settings,
            seeds,
            store,
            fetcher,
            parse_pool,
            sinks: self.sinks,
            observers: Observers::new(self.observers),
            stats: Arc::new(Stats::default()),
        })
    }
}

/// The scope a crawl of `seeds` under `settings` applies: what a store
/// built outside the builder should be given.
pub fn scope_for(settings: &Settings, seeds: &[Url]) -> Scope {
    let mut scope = Scope::new(
        settings.scope,
        settings.include.clone(),
        settings.exclude.clone(),
    );
    for seed in seeds {
        scope.add_seed(seed);
    }
    scope
}

/// The limits a store for `settings` applies.
pub fn limits_for(settings: &Settings) -> Limits {
    Limits {
        per_host_concurrency: settings.politeness.per_host_concurrency,
        ..settings.limits.clone()
    }
}

/// A crawl ready to run.
#[derive(Debug)]
pub struct Crawler {
    settings: Settings,
    seeds: Vec<CanonicalUrl>,
    store: Arc<dyn FrontierStore>,
    fetcher: Fetcher,
    parse_pool: ParsePool,
    sinks: Vec<Box<dyn RecordSink>>,
    observers: Observers,
    stats: Arc<Stats>,
}

impl Crawler {
    /// Starts setting up a crawl.
    pub fn builder(settings: Settings) -> CrawlerBuilder {
        CrawlerBuilder {
            settings,
            seeds: Vec::new(),
            store: None,
            sinks: Vec::new(),
            observers: Vec::new(),
        }
    }

    /// The live counters, for callers that poll instead of observing.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Runs the whole crawl; returns when every record is written.
    pub async fn run(self, shutdown: Shutdown) -> Outcome {
        let Crawler {
            settings,
            seeds,
            store,
            fetcher,
            parse_pool,
            sinks,
            observers,
            stats,
        } = self;
        let (finished_tx, finished_rx) = mpsc::channel(RECORD_CHANNEL);
        // Fetches without a record (robots.txt, sitemaps) reach the sinks
        // that archive responses through a tap on the fetcher they use;
        // there are few, so the channel needs no bound.
        let (unrecorded_tx, unrecorded_rx) = mpsc::unbounded_channel();
        let keep_responses = fetcher.config().keep_headers;
        // robots.txt and sitemap fetches are counted, and given to the
        // sinks that archive responses, through a tap on their client.
        let forward = move |fetched: &trawl_fetcher::Fetched| {
            if keep_responses {
                let mut fetched = fetched.clone();
                if let Some(response) = crate::sink::Response::take_from(&mut fetched) {
                    let _ = unrecorded_tx.send(response);
                }
            }
        };
        let sitemap_forward = forward.clone();
        let robots_stats = Arc::clone(&stats);
        let robots_fetcher = fetcher.with_tap(trawl_fetcher::Tap::new(move |fetched| {
            robots_stats.robots_fetched();
            forward(fetched);
        }));
        let side_fetcher = fetcher.with_tap(trawl_fetcher::Tap::new(sitemap_forward));
        let sink = tokio::spawn(crate::sink::run(
            finished_rx,
            unrecorded_rx,
            sinks,
            Arc::clone(&store),
            Arc::clone(&stats),
            observers.clone(),
        ));
        let robots = settings.obey_robots.then(|| {
            RobotsCache::new(&robots_fetcher, &settings.robots_agent)
                .with_shared(Arc::new(StoreRobots(Arc::clone(&store))))
        });
        let pipeline = Arc::new(Pipeline {
            policy: HostPolicy::new(&settings.politeness),
            parse_pool,
            runtime: tokio::runtime::Handle::current(),
            store: Arc::clone(&store),
            closing_fetcher: fetcher.closing_connections(),
            fetcher,
            side_fetcher,
            robots,
            wake: Notify::new(),
            finished: finished_tx,
            stats: Arc::clone(&stats),
            observers: observers.clone(),
            keep_responses,
            graceful: shutdown.graceful.clone(),
            failure: Mutex::new(None),
            seeds: seeds.clone(),
            settings,
        });
        // A crawl of an intranet or of this machine may follow links
        // within the seeds' own address classes (link-local excepted):
        // learnt before the first request, so every fetch sees the same
        // policy.
        let learnt = pipeline
            .fetcher
            .allow_seed_classes(
                seeds.iter().map(CanonicalUrl::as_url),
                pipeline.settings.fetcher.connect_timeout,
            )
            .await;
        if !learnt.is_empty() {
            let names: Vec<&str> = learnt.iter().map(|class| class.as_str()).collect();
            tracing::info!(
                "network policy: the seeds allow {} addresses",
                names.join(", ")
            );
        }
        let seed_entries = seeds
            .into_iter()
            .map(|url| crate::page::entry(url, 0, None))
            .collect();
        if let Err(error) = store.add(seed_entries, Found::Seed).await {
            pipeline.fail(error.into());
        }
        pipeline.publish_counts();
        let progress = (!observers.is_empty()).then(|| {
            tokio::spawn(report_progress(
                Arc::clone(&stats),
                observers.clone(),
                pipeline.settings.progress_interval,
            ))
        });

        let interrupted = crate::dispatch::run(&pipeline, &shutdown).await;

        let failure = pipeline.take_failure();
        // The sinks end when the pipeline's sender goes; the connections
        // stay open until the outcome is dropped.
        let connections = pipeline.fetcher.clone();
        drop(pipeline);
        let sink_result = sink
            .await
            .unwrap_or_else(|error| Err(Stopped::Sink(internal_sink_error(&error))));
        if let Some(progress) = progress {
            progress.abort();
        }
        let failure = failure.or(match sink_result {
            Ok(()) => None,
            Err(Stopped::Sink(error)) => Some(CrawlFailure::Sink(error)),
            Err(Stopped::Store(error)) => Some(CrawlFailure::Store(error)),
        });
        let ending = match failure {
            Some(failure) => Ending::Failed(failure),
            None if interrupted => Ending::Interrupted,
            None => Ending::Finished,
        };
        let snapshot = stats.snapshot();
        observers.emit(&CrawlEvent::Finished(&snapshot));
        Outcome {
            ending,
            stats: snapshot,
            _connections: connections,
        }
    }
}

fn internal_sink_error(error: &tokio::task::JoinError) -> SinkError {
    SinkError {
        name: "the record sinks".to_owned(),
        source: std::io::Error::other(format!("the sink task failed: {error}")),
    }
}

async fn report_progress(stats: Arc<Stats>, observers: Observers, every: std::time::Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        observers.emit(&CrawlEvent::Progress(&stats.snapshot()));
    }
}

/// State shared by the dispatcher, every fetch task and the parser threads.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub(crate) settings: Settings,
    /// The seeds, canonical (sitemap discovery starts from their hosts).
    pub(crate) seeds: Vec<CanonicalUrl>,
    pub(crate) store: Arc<dyn FrontierStore>,
    pub(crate) fetcher: Fetcher,
    /// The same client, asking servers to close each connection after the
    /// response: for hosts whose next request is too far off for a kept
    /// connection to be of use ([`HostPolicy::keeps_connection`]).
    pub(crate) closing_fetcher: Fetcher,
    /// The same client for sitemap fetches, which have no record of their
    /// own: tapped, so archiving sinks get their responses.
    pub(crate) side_fetcher: Fetcher,
    /// The one owner of per-host politeness.
    pub(crate) policy: HostPolicy,
    /// `None` when robots.txt is not obeyed.
    pub(crate) robots: Option<RobotsCache>,
    /// Signalled whenever a lease comes back or links are queued, so an
    /// idle dispatcher looks again.
    pub(crate) wake: Notify,
    pub(crate) finished: mpsc::Sender<Finished>,
    pub(crate) parse_pool: ParsePool,
    /// For parser threads, which call the store's async API.
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) stats: Arc<Stats>,
    pub(crate) observers: Observers,
    /// Sinks asked for responses: keep them with the records.
    pub(crate) keep_responses: bool,
    /// Cancelled on a graceful shutdown: back-off sleeps end early.
    pub(crate) graceful: CancellationToken,
    /// The first failure that has to end the crawl.
    failure: Mutex<Option<CrawlFailure>>,
}

impl Pipeline {
    pub(crate) fn publish_counts(&self) {
        let counts = self.store.counts();
        self.stats
            .set_queue(counts.queued, counts.in_flight, counts.hosts);
    }

    /// Records the failure that ends the crawl (the first one wins).
    pub(crate) fn fail(&self, failure: CrawlFailure) {
        tracing::error!("{failure}");
        let mut slot = self
            .failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.get_or_insert(failure);
    }

    pub(crate) fn failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some()
    }

    fn take_failure(&self) -> Option<CrawlFailure> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Tells the store what the policy now decides for `host`, so a store
    /// shared by several processes spaces the host's requests over all of
    /// them (the embedded store ignores it).
    pub(crate) fn report_pace(&self, host: &str) {
        // Only a store that gates hosts itself uses the pace; the embedded
        // one would be handed a lock and a lookup per fetch for nothing.
        if !self.store.gates_hosts() {
            return;
        }
        let (gap, paused_until) = self.policy.pace(host);
        self.store.pace(host, HostPace { gap, paused_until });
    }

    /// Queues one page's links (or a sitemap's URLs); a store failure ends
    /// the crawl.
    pub(crate) async fn queue(&self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        if let Err(error) = self.store.add(entries, Found::Link).await {
            self.fail(error.into());
        }
        self.publish_counts();
        self.wake.notify_one();
    }
}

/// robots.txt verdicts kept in the frontier store, so the processes that
/// share a store fetch each host's robots.txt once between them (the
/// embedded store keeps none, and each verdict is fetched here).
#[derive(Debug)]
struct StoreRobots(Arc<dyn FrontierStore>);

impl trawl_fetcher::SharedRobots for StoreRobots {
    fn load<'a>(&'a self, host_key: &'a str) -> trawl_fetcher::SharedFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            // A store that cannot answer costs a fetch, not the crawl.
            self.0.load_robots(host_key).await.unwrap_or_else(|error| {
                tracing::debug!("shared robots.txt of {host_key}: {error}");
                None
            })
        })
    }

    fn store<'a>(
        &'a self,
        host_key: &'a str,
        verdict: Vec<u8>,
        ttl: std::time::Duration,
    ) -> trawl_fetcher::SharedFuture<'a, ()> {
        Box::pin(async move {
            if let Err(error) = self.0.save_robots(host_key, verdict, ttl).await {
                tracing::debug!("sharing robots.txt of {host_key}: {error}");
            }
        })
    }
}

/// Gives the lease back to the store when dropped: on success, on error,
/// on panic and on abort alike.
#[derive(Debug)]
pub(crate) struct LeaseGuard {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) token: LeaseToken,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.pipeline.store.complete(self.token);
        self.pipeline.publish_counts();
        self.pipeline.wake.notify_one();
    }
}
