//! Progress on stderr (indicatif), log lines that never break the bar, and
//! the end-of-crawl summary: two observers of the crawl. Only the binary
//! knows indicatif; the library only sends events.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;
use trawl_crawler::{CrawlEvent, Observer, StatsSnapshot};

/// Redraws the bar on every progress event.
#[derive(Debug)]
pub struct ProgressObserver {
    bar: ProgressBar,
    started: Instant,
}

impl ProgressObserver {
    pub fn new(bar: ProgressBar) -> Self {
        ProgressObserver {
            bar,
            started: Instant::now(),
        }
    }
}

impl Observer for ProgressObserver {
    fn on_event(&self, event: &CrawlEvent<'_>) {
        if let CrawlEvent::Progress(stats) = event {
            update(&self.bar, stats, self.started.elapsed());
        }
    }
}

/// Keeps the final counters and the crawl's duration for the summary.
#[derive(Debug)]
pub struct SummaryObserver {
    started: Instant,
    end: Mutex<Option<(StatsSnapshot, Duration)>>,
}

impl SummaryObserver {
    pub fn new() -> Self {
        SummaryObserver {
            started: Instant::now(),
            end: Mutex::new(None),
        }
    }

    /// The summary, once the crawl has finished.
    pub fn render(&self, interrupted: bool, output: &str) -> Option<String> {
        let end = self.end.lock().unwrap_or_else(|p| p.into_inner());
        end.as_ref()
            .map(|(stats, elapsed)| summary(stats, *elapsed, interrupted, output))
    }
}

impl Observer for SummaryObserver {
    fn on_event(&self, event: &CrawlEvent<'_>) {
        if let CrawlEvent::Finished(stats) = event {
            *self.end.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(((*stats).clone(), self.started.elapsed()));
        }
    }
}

/// The progress bar, or a hidden one when stderr is not a terminal or the
/// user asked for quiet.
pub fn bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
    let style = ProgressStyle::with_template("{spinner:.green} [{elapsed_precise}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar
}

/// Refreshes the bar's message from the counters.
fn update(bar: &ProgressBar, stats: &StatsSnapshot, elapsed: Duration) {
    if bar.is_hidden() {
        return;
    }
    let records = stats.records;
    let rate = records as f64 / elapsed.as_secs_f64().max(0.001);
    bar.set_message(format!(
        "{records} pages · {} queued · {} in flight · {} errors · {rate:.1} pages/s · {}",
        stats.queued,
        stats.in_flight,
        stats.errors,
        human_bytes(stats.bytes),
    ));
    bar.tick();
}

/// A tracing writer that hides the bar while a log line is printed.
#[derive(Debug, Clone)]
pub struct BarAwareWriter {
    bar: ProgressBar,
}

impl BarAwareWriter {
    pub fn new(bar: ProgressBar) -> Self {
        BarAwareWriter { bar }
    }
}

/// One log event, written in one piece when dropped.
#[derive(Debug)]
pub struct LineWriter {
    bar: ProgressBar,
    buffer: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        self.bar.suspend(|| {
            // A log line that cannot reach stderr has nowhere else to go.
            let _ = std::io::stderr().lock().write_all(&buffer);
        });
    }
}

impl<'a> MakeWriter<'a> for BarAwareWriter {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            bar: self.bar.clone(),
            buffer: Vec::new(),
        }
    }
}

/// The end-of-crawl summary, as printed on stderr.
fn summary(report: &StatsSnapshot, elapsed: Duration, interrupted: bool, output: &str) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = report.records as f64 / seconds.max(0.001);
    let mut text = format!(
        "trawl: {} {} pages in {:.1}s ({rate:.1} pages/s), {} read\n",
        if interrupted {
            "interrupted after"
        } else {
            "crawled"
        },
        report.records,
        seconds,
        human_bytes(report.bytes),
    );
    if !report.statuses.is_empty() {
        let statuses: Vec<String> = report
            .statuses
            .iter()
            .map(|(status, count)| format!("{status} ×{count}"))
            .collect();
        text.push_str(&format!("  status: {}\n", statuses.join(", ")));
    }
    let error_total: u64 = report.errors_by_kind.values().sum();
    if error_total > 0 {
        let kinds: Vec<String> = report
            .errors_by_kind
            .iter()
            .map(|(kind, count)| format!("{kind} ×{count}"))
            .collect();
        text.push_str(&format!("  errors: {error_total} ({})\n", kinds.join(", ")));
    } else {
        text.push_str("  errors: 0\n");
    }
    text.push_str(&format!("  output: {output}\n"));
    text
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_statuses_and_error_kinds() {
        let mut report = StatsSnapshot {
            records: 12,
            bytes: 3 * 1024 * 1024,
            ..StatsSnapshot::default()
        };
        report.statuses.insert(200, 10);
        report.statuses.insert(404, 1);
        report.errors_by_kind.insert("http", 1);
        report.errors_by_kind.insert("connect", 1);
        let text = summary(&report, Duration::from_secs(2), false, "out.jsonl");
        assert!(
            text.contains("crawled 12 pages in 2.0s (6.0 pages/s), 3.0 MiB read"),
            "{text}"
        );
        assert!(text.contains("status: 200 ×10, 404 ×1"), "{text}");
        assert!(text.contains("errors: 2 (connect ×1, http ×1)"), "{text}");
    }

    #[test]
    fn human_bytes_picks_a_unit() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
