//! The JSONL sink: the one task that writes records, so lines are never
//! split or interleaved. It batches lines into a buffer and writes whole
//! lines only, flushing at least every second so `tail -f` shows progress.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::progress::Stats;
use crate::record::CrawlRecord;

/// Buffered bytes that trigger a write before the next tick.
const WRITE_THRESHOLD: usize = 256 * 1024;
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Where records go.
#[derive(Debug)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    pub fn from_arg(path: &Path) -> Self {
        if path == Path::new("-") {
            Destination::Stdout
        } else {
            Destination::File(path.to_owned())
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Destination::Stdout => "standard output".to_owned(),
            Destination::File(path) => path.display().to_string(),
        }
    }
}

/// A writer opened before the first request, so an unwritable output is a
/// fatal error before any traffic.
pub struct Output {
    writer: Pin<Box<dyn AsyncWrite + Send>>,
    name: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").field("name", &self.name).finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write output {name}: {source}")]
pub struct OutputError {
    pub name: String,
    pub source: std::io::Error,
}

impl Output {
    /// Opens (creating parent folders, truncating) the destination.
    pub async fn open(destination: &Destination) -> Result<Output, OutputError> {
        let name = destination.describe();
        let wrap = |source| OutputError {
            name: name.clone(),
            source,
        };
        let writer: Pin<Box<dyn AsyncWrite + Send>> = match destination {
            Destination::Stdout => Box::pin(tokio::io::stdout()),
            Destination::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(parent).await.map_err(wrap)?;
                }
                Box::pin(tokio::fs::File::create(path).await.map_err(wrap)?)
            }
        };
        Ok(Output { writer, name })
    }
}

/// What the sink saw, for the summary.
#[derive(Debug, Default)]
pub struct SinkReport {
    pub records: u64,
    pub bytes: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<&'static str, u64>,
}

/// Writes every record received until all senders are gone. On a write
/// error it stops reading, so senders see a closed channel and the crawl
/// winds down; the error is returned to decide the exit code.
pub async fn run(
    mut records: mpsc::Receiver<CrawlRecord>,
    mut output: Output,
    stats: Arc<Stats>,
) -> (SinkReport, Result<(), OutputError>) {
    let mut report = SinkReport::default();
    let mut buffer: Vec<u8> = Vec::with_capacity(WRITE_THRESHOLD + 64 * 1024);
    let mut ticker = tokio::time::interval(FLUSH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            received = records.recv() => match received {
                Some(record) => {
                    tally(&mut report, &stats, &record);
                    // Serialising into memory cannot fail for this type.
                    if let Err(error) = serde_json::to_writer(&mut buffer, &record) {
                        break Err(std::io::Error::other(error));
                    }
                    buffer.push(b'\n');
                    if buffer.len() >= WRITE_THRESHOLD
                        && let Err(error) = write_out(&mut output, &mut buffer).await
                    {
                        break Err(error);
                    }
                }
                None => break write_out(&mut output, &mut buffer).await,
            },
            _ = ticker.tick() => {
                if let Err(error) = write_out(&mut output, &mut buffer).await {
                    break Err(error);
                }
            }
        }
    };
    records.close();
    let result = result.map_err(|source| OutputError {
        name: output.name.clone(),
        source,
    });
    (report, result)
}

async fn write_out(output: &mut Output, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    if buffer.is_empty() {
        return Ok(());
    }
    output.writer.write_all(buffer).await?;
    output.writer.flush().await?;
    buffer.clear();
    Ok(())
}

fn tally(report: &mut SinkReport, stats: &Stats, record: &CrawlRecord) {
    report.records += 1;
    report.bytes += record.bytes;
    if let Some(status) = record.status {
        *report.statuses.entry(status).or_default() += 1;
    }
    stats.records.fetch_add(1, Ordering::Relaxed);
    stats.bytes.fetch_add(record.bytes, Ordering::Relaxed);
    if let Some(error) = &record.error {
        *report.errors.entry(error.kind).or_default() += 1;
        stats.errors.fetch_add(1, Ordering::Relaxed);
    }
}
