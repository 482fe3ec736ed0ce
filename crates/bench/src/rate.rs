//! The rate mode (`--rates`): does `--per-host-rate R` give R requests a
//! second? Counted by the server, which runs in this process so that its
//! request log (with the instant each request head was read) can be read.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use trawl_testsite::TestSite;

use crate::cli::Options;
use crate::report::align;
use crate::run::{self, CrawlRun};

/// Requests of one run, at least: a rate is a spacing, so five gaps.
const MIN_REQUESTS: u64 = 6;

/// One crawl at one rate, as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    pub run: String,
    /// The asked rate; 0 = unlimited.
    pub asked: f64,
    /// Page requests the server got (robots.txt not counted).
    pub requests: u64,
    /// First to last of them.
    pub span: Duration,
    pub cpu_us_per_page: Option<f64>,
}

impl RateRow {
    /// `(requests − 1) / span`: requests per second as the server saw them.
    pub fn achieved(&self) -> Option<f64> {
        let span = self.span.as_secs_f64();
        (self.requests >= 2 && span > 0.0).then(|| (self.requests - 1) as f64 / span)
    }

    /// Achieved ÷ asked (none for an unlimited run).
    pub fn ratio(&self) -> Option<f64> {
        self.achieved()
            .filter(|_| self.asked > 0.0)
            .map(|achieved| achieved / self.asked)
    }
}

/// How many pages a crawl at `rate` may fetch so it lasts about `seconds`.
pub fn pages_for(rate: f64, seconds: u64, unlimited: u64, reachable: u64) -> u64 {
    let wanted = if rate > 0.0 {
        (rate * seconds as f64).round() as u64 + 1
    } else {
        unlimited
    };
    wanted.max(MIN_REQUESTS).min(reachable)
}

/// Count and span of the page requests among `times` (robots.txt taken out
/// by the caller).
pub fn spacing(times: &[Instant]) -> (u64, Duration) {
    let span = match (times.iter().min(), times.iter().max()) {
        (Some(first), Some(last)) => last.duration_since(*first),
        _ => Duration::ZERO,
    };
    (times.len() as u64, span)
}

/// Crawls the in-process site once per rate and binary, interleaved.
pub async fn sweep(options: &Options, rates: &[f64]) -> Result<Vec<RateRow>> {
    let site = TestSite::start(run::site_config(options))
        .await
        .context("starting the in-process test site")?;
    let truth: HashSet<String> = site.reachable().into_keys().collect();
    let reachable = truth.len() as u64;
    let mut rows = Vec::new();
    let result = async {
        for &rate in rates {
            let max_pages = pages_for(rate, options.rate_seconds, reachable, reachable);
            let run_options = Options {
                per_host_rate: rate,
                max_pages: Some(max_pages),
                ..options.clone()
            };
            for (name, binary) in crate::binaries(options) {
                eprintln!(
                    "trawl-bench: {max_pages} pages at --per-host-rate {rate} with {}",
                    binary.display()
                );
                let logged = site.requests().len();
                let crawl = run::crawl(binary, site.addr(), &truth, &run_options)
                    .await
                    .with_context(|| format!("the {name} run at {rate}/s"))?;
                let times: Vec<Instant> = site.requests()[logged..]
                    .iter()
                    .filter(|request| request.path != "/robots.txt")
                    .map(|request| request.at)
                    .collect();
                rows.push(row(name, rate, &times, &crawl));
            }
        }
        anyhow::Ok(())
    }
    .await;
    site.shutdown().await;
    result.map(|()| rows)
}

fn row(name: &str, rate: f64, times: &[Instant], crawl: &CrawlRun) -> RateRow {
    let (requests, span) = spacing(times);
    let pages = crawl.output.records;
    RateRow {
        run: name.to_owned(),
        asked: rate,
        requests,
        span,
        cpu_us_per_page: (pages > 0).then(|| crawl.usage.cpu.as_secs_f64() * 1e6 / pages as f64),
    }
}

const HEADERS: [&str; 7] = [
    "run",
    "asked /s",
    "requests",
    "span s",
    "achieved /s",
    "achieved/asked",
    "CPU µs/page",
];

/// The aligned table, one line per run.
pub fn format_table(rows: &[RateRow]) -> String {
    let cells = rows.iter().map(|row| {
        [
            row.run.clone(),
            if row.asked > 0.0 {
                format!("{}", row.asked)
            } else {
                "unlimited".to_owned()
            },
            row.requests.to_string(),
            format!("{:.3}", row.span.as_secs_f64()),
            row.achieved()
                .map_or_else(|| "-".to_owned(), |rate| format!("{rate:.1}")),
            row.ratio()
                .map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.3}")),
            row.cpu_us_per_page
                .map_or_else(|| "-".to_owned(), |cpu| format!("{cpu:.1}")),
        ]
    });
    align(
        std::iter::once(HEADERS.map(str::to_owned))
            .chain(cells)
            .collect(),
    )
}

/// The same as JSON.
pub fn to_json(options: &Options, rows: &[RateRow]) -> Value {
    json!({
        "mode": "rates",
        "concurrency": options.concurrency,
        "delay_factor": options.delay_factor,
        "rate_seconds": options.rate_seconds,
        "rows": rows.iter().map(|row| json!({
            "run": row.run,
            "asked_per_sec": row.asked,
            "requests": row.requests,
            "span_secs": row.span.as_secs_f64(),
            "achieved_per_sec": row.achieved(),
            "achieved_ratio": row.ratio(),
            "cpu_us_per_page": row.cpu_us_per_page,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_make_each_run_last_about_the_time_asked() {
        assert_eq!(pages_for(1000.0, 5, 60_000, 60_000), 5001);
        assert_eq!(pages_for(1.0, 5, 60_000, 60_000), 6);
        assert_eq!(pages_for(0.1, 5, 60_000, 60_000), MIN_REQUESTS);
        assert_eq!(pages_for(10_000.0, 10, 60_000, 60_000), 60_000);
        assert_eq!(pages_for(0.0, 5, 60_000, 20_000), 20_000, "unlimited");
    }

    #[test]
    fn the_achieved_rate_is_gaps_over_span() {
        let start = Instant::now();
        let times: Vec<Instant> = (0..11)
            .rev()
            .map(|i| start + Duration::from_millis(100 * i))
            .collect();
        let (requests, span) = spacing(&times);
        assert_eq!((requests, span), (11, Duration::from_secs(1)));
        let row = RateRow {
            run: "trawl".into(),
            asked: 10.0,
            requests,
            span,
            cpu_us_per_page: None,
        };
        assert_eq!(row.achieved(), Some(10.0));
        assert_eq!(row.ratio(), Some(1.0));
        let unlimited = RateRow { asked: 0.0, ..row };
        assert_eq!(unlimited.ratio(), None);
        assert!(unlimited.achieved().is_some());
        assert_eq!(spacing(&[]), (0, Duration::ZERO));
        let table = format_table(&[unlimited]);
        assert!(
            table.contains("unlimited") && table.contains("10.0"),
            "{table}"
        );
    }
}
