//! trawl-crawler: the crawl pipeline as a library.
//!
//! A [`Crawler`] is built from [`Settings`] (polite by default), seed URLs,
//! a frontier store, one or more record sinks and any observers, and run
//! with a [`Shutdown`] handle; it returns an [`Outcome`] saying how the
//! crawl ended, with the final counters.
//!
//! Inside, a dispatcher claims ready URLs from the store and spawns one
//! fetch task each (never more than `concurrency`); a task checks
//! robots.txt, waits for its host's politeness, fetches with retries and
//! hands HTML to a parser thread, which extracts the links, queues them in
//! the store and sends the record to the sinks. Every failure is a record,
//! never a crash.
//!
//! The seams:
//!
//! - **frontier storage**: [`trawl_frontier::FrontierStore`]; the default
//!   is [`trawl_frontier::LocalStore`] (memory, spill, journal);
//! - **record sinks**: [`RecordSink`]; [`JsonlSink`] writes JSON lines;
//! - **observers**: [`Observer`] gets every [`CrawlEvent`]; [`Stats`] are
//!   the counters.
//!
//! What it does not do: parse command lines, read seed files, draw
//! progress or choose exit codes (the `trawl` binary does), or fetch,
//! parse HTML and keep the queue itself (the fetcher, extractor and
//! frontier crates do).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use trawl_crawler::{Crawler, Ending, FinishedFetch, RecordSink, Settings, Shutdown, SinkError};
//!
//! /// Keeps each record's URL in memory.
//! #[derive(Debug, Default)]
//! struct Urls(Arc<Mutex<Vec<String>>>);
//!
//! impl RecordSink for Urls {
//!     fn accept(&mut self, fetch: FinishedFetch<'_>) -> Result<(), SinkError> {
//!         self.0.lock().unwrap().push(fetch.record.url.clone());
//!         Ok(())
//!     }
//!     fn pending_bytes(&self) -> usize { 0 }
//!     fn flush(&mut self) -> Result<(), SinkError> { Ok(()) }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let site = trawl_testsite::TestSite::start(trawl_testsite::SiteConfig {
//!     pages: 20,
//!     ..Default::default()
//! })
//! .await
//! .unwrap();
//! let urls = Arc::new(Mutex::new(Vec::new()));
//! let crawler = Crawler::builder(Settings::default().unthrottled())
//!     .seeds([url::Url::parse(&site.url("/")).unwrap()])
//!     .sink(Urls(Arc::clone(&urls)))
//!     .build()
//!     .unwrap();
//! let outcome = crawler.run(Shutdown::default()).await;
//! assert!(matches!(outcome.ending, Ending::Finished));
//! assert_eq!(urls.lock().unwrap().len(), site.reachable().len());
//! # });
//! ```
//!
//! # Layout
//!
//! - `crawler.rs`: [`CrawlerBuilder`], [`Crawler`], [`Outcome`], the
//!   shared pipeline state and the lease guard.
//! - `dispatch.rs`: claiming, spawning, draining, reaping.
//! - `worker.rs`: one URL's fetch: robots, politeness, retries.
//! - `redirect.rs`: which redirects are followed.
//! - `parse_pool.rs`: the parser threads.
//! - `sitemaps.rs`: sitemap discovery.
//! - `page.rs`: a fetched page's links and record.
//! - `record.rs`: [`CrawlRecord`], the JSON line.
//! - `sink/`: [`RecordSink`] and the sink task; `jsonl.rs` the JSONL sink
//!   and what a resume reads back from it.
//! - `observe.rs`: [`Observer`], [`CrawlEvent`], [`Stats`].
//! - `settings.rs`: [`Settings`].

mod crawler;
mod dispatch;
mod observe;
mod page;
mod parse_pool;
mod record;
mod redirect;
mod settings;
mod sink;
mod sitemaps;
mod worker;

pub use crawler::{
    BuildError, CrawlFailure, Crawler, CrawlerBuilder, Ending, Outcome, Shutdown, limits_for,
    scope_for,
};
pub use observe::{CrawlEvent, LATENCY_BUCKETS_MS, Observer, Stats, StatsSnapshot};
pub use record::{CrawlRecord, RecordError};
pub use settings::Settings;
pub use sink::jsonl::{Destination, JsonlSink, Recorded, ResumeError, recorded_urls};
pub use sink::warc::{WarcInfo, WarcOptions, WarcSink};
pub use sink::{FinishedFetch, RecordSink, Response, SinkError, Truncation};
