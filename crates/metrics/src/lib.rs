//! trawl-metrics: the crawl's counters in the Prometheus/OpenMetrics text
//! format, served at `/metrics` while a crawl runs.
//!
//! [`Metrics`] is an [`Observer`]: it counts records by status class and
//! error kind, bytes, fetch latencies, and takes the frontier's gauges
//! (queue depth, in flight, hosts known and active), robots.txt fetches and
//! retries from each progress snapshot. Labels are bounded (status class,
//! error kind): nothing per URL or per host, so cardinality stays flat
//! however large the crawl. [`serve`] answers `GET /metrics` on a listener
//! until its token is cancelled.
//!
//! It does not push, keep history or know anything of the crawl beyond its
//! events.
//!
//! ```
//! use std::sync::Arc;
//! use trawl_metrics::Metrics;
//!
//! let metrics = Arc::new(Metrics::new());
//! // Crawler::builder(settings).observer(Arc::clone(&metrics) as _) ...
//! let text = metrics.encode();
//! assert!(text.contains("# TYPE trawl_body_bytes counter"));
//! assert!(text.ends_with("# EOF\n"));
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use trawl_crawler::{CrawlEvent, Observer, StatsSnapshot};

/// `class="2xx"` and so on.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusClass {
    class: String,
}

/// `kind="timeout"` and so on, from trawl's fixed set of error kinds.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorKind {
    kind: String,
}

/// The crawl's metrics.
pub struct Metrics {
    registry: Registry,
    pages: Family<StatusClass, Counter>,
    errors: Family<ErrorKind, Counter>,
    bytes: Counter,
    fetch_seconds: Histogram,
    queued: Gauge,
    in_flight: Gauge,
    hosts_known: Gauge,
    hosts_active: Gauge,
    robots_fetches: Counter,
    retries: Counter,
    /// The snapshot counters already added to their Prometheus counters.
    seen: Mutex<Seen>,
    scrapes: AtomicU64,
}

#[derive(Default)]
struct Seen {
    robots_fetches: u64,
    retries: u64,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("scrapes", &self.scrapes.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// All metrics at zero, the start time now.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("trawl");
        let pages = Family::<StatusClass, Counter>::default();
        registry.register(
            "pages",
            "Records written, by HTTP status class (none: no response)",
            pages.clone(),
        );
        let errors = Family::<ErrorKind, Counter>::default();
        registry.register("errors", "Records with an error, by kind", errors.clone());
        let bytes = Counter::default();
        registry.register("body_bytes", "Body bytes read, decompressed", bytes.clone());
        // 1 ms to about 33 s.
        let fetch_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "fetch_duration_seconds",
            "Time from request start to body end, per fetch (retries included)",
            fetch_seconds.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "queued_urls",
            "URLs waiting in the frontier",
            queued.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_urls",
            "URLs handed out and not yet finished",
            in_flight.clone(),
        );
        let hosts_known = Gauge::default();
        registry.register(
            "hosts_known",
            "Hosts the frontier knows",
            hosts_known.clone(),
        );
        let hosts_active = Gauge::default();
        registry.register(
            "hosts_active",
            "Hosts with a request in flight",
            hosts_active.clone(),
        );
        let robots_fetches = Counter::default();
        registry.register(
            "robots_fetches",
            "robots.txt requests made",
            robots_fetches.clone(),
        );
        let retries = Counter::default();
        registry.register(
            "retries",
            "Fetch attempts that were retries",
            retries.clone(),
        );
        let started = Gauge::<i64>::default();
        started.set(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs() as i64),
        );
        registry.register(
            "start_time_seconds",
            "When the crawl started, in seconds since the Unix epoch",
            started,
        );
        Metrics {
            registry,
            pages,
            errors,
            bytes,
            fetch_seconds,
            queued,
            in_flight,
            hosts_known,
            hosts_active,
            robots_fetches,
            retries,
            seen: Mutex::new(Seen::default()),
            scrapes: AtomicU64::new(0),
        }
    }

    /// The metrics in the OpenMetrics text format (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    fn take_snapshot(&self, stats: &StatsSnapshot) {
        self.queued.set(gauge(stats.queued));
        self.in_flight.set(gauge(stats.in_flight));
        self.hosts_known.set(gauge(stats.hosts));
        self.hosts_active.set(gauge(stats.hosts_in_flight));
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        self.robots_fetches
            .inc_by(stats.robots_fetches.saturating_sub(seen.robots_fetches));
        seen.robots_fetches = seen.robots_fetches.max(stats.robots_fetches);
        self.retries
            .inc_by(stats.retries.saturating_sub(seen.retries));
        seen.retries = seen.retries.max(stats.retries);
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn status_class(status: Option<u16>) -> String {
    match status {
        Some(status @ 100..=599) => format!("{}xx", status / 100),
        Some(_) => "other".to_owned(),
        None => "none".to_owned(),
    }
}

impl Observer for Metrics {
    fn on_event(&self, event: &CrawlEvent<'_>) {
        match event {
            CrawlEvent::Recorded(record) => {
                self.pages
                    .get_or_create(&StatusClass {
                        class: status_class(record.status),
                    })
                    .inc();
                self.bytes.inc_by(record.bytes);
                if let Some(error) = &record.error {
                    self.errors
                        .get_or_create(&ErrorKind {
                            kind: error.kind.to_owned(),
                        })
                        .inc();
                }
            }
            CrawlEvent::FetchFinished { elapsed, .. } => {
                self.fetch_seconds.observe(elapsed.as_secs_f64());
            }
            CrawlEvent::Progress(stats) | CrawlEvent::Finished(stats) => self.take_snapshot(stats),
            _ => {}
        }
    }
}

/// Why the endpoint could not be served.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {source}")]
pub struct ServeError {
    /// The address asked for.
    pub addr: String,
    /// Why.
    pub source: std::io::Error,
}

/// Binds the endpoint's listener (`127.0.0.1:0` picks a free port; the
/// listener's `local_addr` tells which).
pub async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|source| ServeError {
        addr: addr.to_owned(),
        source,
    })
}

/// Answers `GET /metrics` (anything else is a 404) on `listener` until
/// `stop` is cancelled. Each connection is its own task; a broken one
/// costs only itself.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("metrics endpoint: accept failed: {error}");
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let metrics = Arc::clone(&metrics);
                async move { Ok::<_, std::convert::Infallible>(respond(&metrics, &request)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!("metrics endpoint: {error}");
            }
        });
    }
}

type Body = http_body_util::Full<hyper::body::Bytes>;

fn respond<B>(metrics: &Metrics, request: &hyper::Request<B>) -> hyper::Response<Body> {
    let found = request.uri().path() == "/metrics" && request.method() == hyper::Method::GET;
    if !found {
        let mut response = hyper::Response::new(Body::from("not found; try /metrics\n"));
        *response.status_mut() = hyper::StatusCode::NOT_FOUND;
        return response;
    }
    metrics.scrapes.fetch_add(1, Ordering::Relaxed);
    let mut response = hyper::Response::new(Body::from(metrics.encode()));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_snapshot_counters() {
        assert_eq!(status_class(Some(204)), "2xx");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(None), "none");
        let metrics = Metrics::new();
        let snapshot = StatsSnapshot {
            queued: 7,
            robots_fetches: 2,
            retries: 3,
            ..StatsSnapshot::default()
        };
        metrics.on_event(&CrawlEvent::Progress(&snapshot));
        metrics.on_event(&CrawlEvent::Progress(&snapshot));
        let text = metrics.encode();
        assert!(text.contains("trawl_queued_urls 7\n"), "{text}");
        assert!(
            text.contains("trawl_robots_fetches_total 2\n"),
            "counted once: {text}"
        );
        assert!(text.contains("trawl_retries_total 3\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
