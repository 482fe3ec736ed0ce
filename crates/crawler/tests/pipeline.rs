//! The pipeline in process, on tokio's paused clock: politeness spacing,
//! pauses and shutdown are checked in virtual time against the test site's
//! request log, with no wall-clock sleep and no timing bound that a slow
//! machine could break.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use trawl_crawler::{
    CrawlRecord, Crawler, Ending, FinishedFetch, RecordSink, Settings, Shutdown, SinkError,
};
use trawl_frontier::{FrontierStore, LocalConfig, LocalStore};
use trawl_testsite::{SiteConfig, TestSite};
use url::Url;

/// Keeps every record in memory.
#[derive(Debug, Clone, Default)]
struct Collect(Arc<Mutex<Vec<CrawlRecord>>>);

impl Collect {
    fn records(&self) -> Vec<CrawlRecord> {
        self.0.lock().unwrap().clone()
    }
}

impl RecordSink for Collect {
    fn accept(&mut self, fetch: FinishedFetch<'_>) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(fetch.record.clone());
        Ok(())
    }
    fn pending_bytes(&self) -> usize {
        0
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn url(site: &TestSite, path: &str) -> Url {
    Url::parse(&site.url(path)).unwrap()
}

/// Unthrottled settings with one request at a time per host, so the
/// spacing a test checks comes from the rule under test alone.
fn one_at_a_time() -> Settings {
    let mut settings = Settings::default().unthrottled();
    settings.politeness.per_host_concurrency = 1;
    settings
}

/// Crawls `seeds` until nothing is left; the records it made.
async fn crawl_to_the_end(settings: Settings, seeds: Vec<Url>) -> Collect {
    let sink = Collect::default();
    let outcome = Crawler::builder(settings)
        .seeds(seeds)
        .sink(sink.clone())
        .build()
        .unwrap()
        .run(Shutdown::default())
        .await;
    assert!(
        matches!(outcome.ending, Ending::Finished),
        "{:?}",
        outcome.ending
    );
    sink
}

/// Starts of the requests for `path`s other than robots.txt, in order.
fn page_requests(site: &TestSite) -> Vec<(String, std::time::Instant)> {
    let mut requests: Vec<_> = site
        .requests()
        .into_iter()
        .filter(|request| request.path != "/robots.txt")
        .map(|request| (request.path, request.at))
        .collect();
    requests.sort_by_key(|(_, at)| *at);
    requests
}

#[tokio::test(start_paused = true)]
async fn crawl_delay_spaces_every_request_to_the_host() {
    let site = TestSite::start(SiteConfig {
        pages: 6,
        links_per_page: 2,
        robots_txt: Some("User-agent: *\nCrawl-delay: 2\n".into()),
        ..SiteConfig::default()
    })
    .await
    .unwrap();
    let mut settings = one_at_a_time();
    settings.politeness.per_host_concurrency = 2;
    let sink = crawl_to_the_end(settings, vec![url(&site, "/")]).await;
    assert_eq!(sink.records().len(), site.reachable().len());
    let requests = page_requests(&site);
    assert_eq!(requests.len(), site.reachable().len());
    for pair in requests.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(
            gap >= Duration::from_secs(2),
            "{} followed {} after {gap:?}",
            pair[1].0,
            pair[0].0
        );
    }
}

/// Page requests (robots.txt aside) that asked for `Connection: close`,
/// and all page requests.
fn closing_requests(site: &TestSite) -> (usize, usize) {
    let pages: Vec<_> = site
        .requests()
        .into_iter()
        .filter(|request| request.path != "/robots.txt")
        .collect();
    let closing = pages
        .iter()
        .filter(|request| {
            request
                .headers
                .iter()
                .any(|(name, value)| name == "connection" && value.eq_ignore_ascii_case("close"))
        })
        .count();
    (closing, pages.len())
}

/// A six-page site crawled one request at a time at `per_host_rate`;
/// checks every page got a record.
async fn crawl_at_rate(per_host_rate: f64) -> TestSite {
    let site = TestSite::start(SiteConfig {
        pages: 6,
        links_per_page: 2,
        ..SiteConfig::default()
    })
    .await
    .unwrap();
    let mut settings = one_at_a_time();
    settings.politeness.per_host_rate = per_host_rate;
    let sink = crawl_to_the_end(settings, vec![url(&site, "/")]).await;
    assert_eq!(sink.records().len(), site.reachable().len());
    site
}

#[tokio::test(start_paused = true)]
async fn hosts_visited_seconds_apart_keep_their_connection() {
    let site = crawl_at_rate(1.0).await;
    // No request asks the server to close: the pool keeps the connection.
    // (How often it is reused is hyper's to decide, and on a paused clock
    // its idle timeout fires whenever the runtime waits on a socket.)
    assert_eq!(closing_requests(&site), (0, site.reachable().len()));
}

#[tokio::test(start_paused = true)]
async fn hosts_visited_rarely_get_no_idle_connection() {
    // 10 s between requests: past what servers keep an idle connection.
    let site = crawl_at_rate(0.1).await;
    let pages = site.reachable().len();
    assert_eq!(closing_requests(&site), (pages, pages));
    // The site closes each connection after its answer, so no two pages
    // shared one.
    assert!(
        site.connections() >= pages as u64,
        "{} connections for {pages} pages",
        site.connections()
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_rests_the_whole_host() {
    let site = TestSite::start(SiteConfig {
        pages: 4,
        links_per_page: 0,
        ..SiteConfig::default()
    })
    .await
    .unwrap();
    let limited = "/fault/retry-after/pause?secs=30";
    let seeds = vec![url(&site, limited), url(&site, "/p/1"), url(&site, "/p/2")];
    let records = crawl_to_the_end(one_at_a_time(), seeds).await.records();
    let retried = records
        .iter()
        .find(|record| record.url.ends_with(limited))
        .expect("a record for the 429 URL");
    assert_eq!(retried.status, Some(200));
    assert_eq!(retried.attempts, 2);
    let requests = page_requests(&site);
    let (_, limited_at) = requests
        .iter()
        .find(|(path, _)| path == limited)
        .cloned()
        .unwrap();
    // Every request after the 429 (the retry and the other URLs of the
    // host) waits out the 30 s, not only the URL that got it.
    let later: Vec<_> = requests.iter().filter(|(_, at)| *at > limited_at).collect();
    assert_eq!(later.len(), requests.len() - 1, "{requests:?}");
    assert!(later.len() >= 3, "{requests:?}");
    for (path, at) in later {
        assert!(
            *at - limited_at >= Duration::from_secs(30),
            "{path} after {:?}",
            *at - limited_at
        );
    }
}

/// A crawl of a site whose pages answer after `latency`, with `grace` for
/// requests in flight after a graceful shutdown; returns when the server
/// has seen a page request.
async fn slow_crawl(
    latency: Duration,
    grace: Duration,
) -> (
    TestSite,
    Collect,
    Arc<LocalStore>,
    Shutdown,
    tokio::task::JoinHandle<trawl_crawler::Outcome>,
) {
    let site = TestSite::start(SiteConfig {
        pages: 50,
        links_per_page: 5,
        latency,
        ..SiteConfig::default()
    })
    .await
    .unwrap();
    let mut settings = Settings::default().unthrottled();
    settings.politeness.per_host_concurrency = 4;
    settings.grace = grace;
    settings.fetcher.request_timeout = 100 * latency;
    settings.fetcher.read_timeout = 100 * latency;
    let seeds = [url(&site, "/")];
    let store = Arc::new(
        LocalStore::new(LocalConfig::new(
            trawl_crawler::scope_for(&settings, &seeds),
            trawl_crawler::limits_for(&settings),
        ))
        .unwrap(),
    );
    let sink = Collect::default();
    let crawler = Crawler::builder(settings)
        .seeds(seeds)
        .store(Arc::clone(&store) as Arc<dyn FrontierStore>)
        .sink(sink.clone())
        .build()
        .unwrap();
    let shutdown = Shutdown::default();
    let run = tokio::spawn(crawler.run(shutdown.clone()));
    // Bounded: 10,000 virtual steps of 10 ms.
    for _ in 0..10_000 {
        if page_requests(&site).iter().any(|(path, _)| path == "/") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !page_requests(&site).is_empty(),
        "the crawl never reached the site"
    );
    (site, sink, store, shutdown, run)
}

/// Virtual time runs ahead while the runtime waits on real sockets (tokio
/// advances a paused clock to the next timer whenever it is idle), so the
/// bounds below are far apart: a grace of 1,000 hours against pages that
/// take 10,000.
const GRACE: Duration = Duration::from_secs(1_000 * 3600);

#[tokio::test(start_paused = true)]
async fn a_second_shutdown_aborts_requests_in_flight_at_once() {
    let (site, sink, store, shutdown, run) = slow_crawl(10 * GRACE, GRACE).await;
    let stopped = Instant::now();
    shutdown.graceful.cancel();
    shutdown.immediate.cancel();
    let outcome = run.await.unwrap();
    let took = stopped.elapsed();
    assert!(
        matches!(outcome.ending, Ending::Interrupted),
        "{:?}",
        outcome.ending
    );
    // The graceful path would wait out the grace (the pages take longer
    // still); the immediate one waits for neither.
    assert!(took < GRACE, "stopping took {took:?} of virtual time");
    assert!(sink.records().is_empty(), "an aborted fetch has no record");
    assert_no_request_after(&site, stopped);
    let counts = store.counts();
    assert_eq!(
        counts.in_flight, 0,
        "aborted fetches gave their leases back"
    );
    assert_eq!(counts.queued, 0, "nothing more is handed out");
}

#[tokio::test(start_paused = true)]
async fn a_graceful_shutdown_lets_requests_in_flight_finish() {
    let latency = Duration::from_secs(10);
    let (site, sink, store, shutdown, run) = slow_crawl(latency, GRACE).await;
    let stopped = Instant::now();
    shutdown.graceful.cancel();
    let outcome = run.await.unwrap();
    let took = stopped.elapsed();
    assert!(
        matches!(outcome.ending, Ending::Interrupted),
        "{:?}",
        outcome.ending
    );
    assert!(
        took < GRACE,
        "the crawl ended with its last request, not the grace"
    );
    let records = sink.records();
    assert!(
        !records.is_empty(),
        "the request in flight finished and was recorded"
    );
    assert!(records.iter().all(|record| record.status == Some(200)));
    assert_no_request_after(&site, stopped);
    assert_eq!(store.counts().in_flight, 0);
}

fn assert_no_request_after(site: &TestSite, stopped: Instant) {
    let late: Vec<_> = page_requests(site)
        .into_iter()
        .filter(|(_, at)| *at > stopped.into_std())
        .collect();
    assert!(late.is_empty(), "requests after the shutdown: {late:?}");
}
