//! The JSONL sink: the one task that writes records, so lines are never
//! split or interleaved. It batches lines into a buffer and writes whole
//! lines only, flushing at least every second so `tail -f` shows progress.
//!
//! With crawl state, the sink also appends the queue journal: a page's
//! newly queued links are written and synced *before* the page's record,
//! so a recorded page's links survive any crash (see `state.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::progress::Stats;
use crate::record::CrawlRecord;
use crate::state::QueuedUrl;

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

/// A destination opened before the first request, so an unwritable output
/// is a fatal error before any traffic.
#[derive(Debug)]
pub struct Output {
    target: Target,
    name: String,
}

#[derive(Debug)]
enum Target {
    Stdout(tokio::io::Stdout),
    File {
        file: tokio::fs::File,
        /// Bytes of whole lines on disk: a failed write is cut back to this,
        /// so a full disk never leaves half a line behind.
        good_len: u64,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write {name}: {source}")]
pub struct OutputError {
    pub name: String,
    pub source: std::io::Error,
}

impl Output {
    /// Opens the destination, creating parent folders; truncates unless
    /// `append` (a resumed crawl).
    pub async fn open(destination: &Destination, append: bool) -> Result<Output, OutputError> {
        let name = destination.describe();
        let wrap = |source| OutputError {
            name: name.clone(),
            source,
        };
        let target = match destination {
            Destination::Stdout => Target::Stdout(tokio::io::stdout()),
            Destination::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(parent).await.map_err(wrap)?;
                }
                let mut options = tokio::fs::OpenOptions::new();
                options.create(true).write(true);
                if append {
                    options.append(true);
                } else {
                    options.truncate(true);
                }
                let file = options.open(path).await.map_err(wrap)?;
                let good_len = file.metadata().await.map_err(wrap)?.len();
                Target::File { file, good_len }
            }
        };
        Ok(Output { target, name })
    }

    /// The queue journal of a crawl with state, opened for appending.
    pub async fn journal(path: &Path) -> Result<Output, OutputError> {
        Output::open(&Destination::File(path.to_owned()), true).await
    }

    /// Writes whole lines and makes them durable; on failure cuts the file
    /// back to its last whole line.
    async fn write_lines(&mut self, buffer: &mut Vec<u8>) -> std::io::Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        match &mut self.target {
            Target::Stdout(stdout) => {
                stdout.write_all(buffer).await?;
                stdout.flush().await?;
            }
            Target::File { file, good_len } => {
                let written = async {
                    file.write_all(buffer).await?;
                    file.flush().await?;
                    file.sync_data().await
                }
                .await;
                if let Err(error) = written {
                    // Best effort: the write already failed; cutting back
                    // keeps what is on disk made of whole lines.
                    let _ = file.set_len(*good_len).await;
                    return Err(error);
                }
                *good_len += buffer.len() as u64;
            }
        }
        buffer.clear();
        Ok(())
    }
}

/// One record and the links its page added to the queue.
#[derive(Debug)]
pub struct SinkItem {
    /// `None` for the seeds' journal entries at the start of a crawl.
    pub record: Option<CrawlRecord>,
    pub queued: Vec<QueuedUrl>,
}

impl SinkItem {
    /// A record whose page queued nothing.
    pub fn record(record: CrawlRecord) -> Self {
        SinkItem {
            record: Some(record),
            queued: Vec::new(),
        }
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

/// Writes every item received until all senders are gone. On a write error
/// it stops reading, so senders see a closed channel and the crawl winds
/// down; the error is returned to decide the exit code.
pub async fn run(
    mut items: mpsc::Receiver<SinkItem>,
    mut output: Output,
    mut journal: Option<Output>,
    stats: Arc<Stats>,
) -> (SinkReport, Result<(), OutputError>) {
    let mut report = SinkReport::default();
    let mut lines: Vec<u8> = Vec::with_capacity(WRITE_THRESHOLD + 64 * 1024);
    let mut journal_lines: Vec<u8> = Vec::new();
    let mut ticker = tokio::time::interval(FLUSH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            received = items.recv() => match received {
                Some(item) => {
                    if journal.is_some() {
                        for queued in &item.queued {
                            queued.journal_line(&mut journal_lines);
                        }
                    }
                    if let Some(record) = &item.record {
                        tally(&mut report, &stats, record);
                        // Serialising this type into memory cannot fail.
                        if let Err(error) = serde_json::to_writer(&mut lines, record) {
                            break Err((output.name.clone(), std::io::Error::other(error)));
                        }
                        lines.push(b'\n');
                    }
                    if lines.len() + journal_lines.len() >= WRITE_THRESHOLD
                        && let Err(error) = flush(&mut output, &mut lines, journal.as_mut(), &mut journal_lines).await
                    {
                        break Err(error);
                    }
                }
                None => break flush(&mut output, &mut lines, journal.as_mut(), &mut journal_lines).await,
            },
            _ = ticker.tick() => {
                if let Err(error) = flush(&mut output, &mut lines, journal.as_mut(), &mut journal_lines).await {
                    break Err(error);
                }
            }
        }
    };
    items.close();
    let result = result.map_err(|(name, source)| OutputError { name, source });
    (report, result)
}

/// Journal first, then records: a record on disk implies its page's links
/// are in the journal.
async fn flush(
    output: &mut Output,
    lines: &mut Vec<u8>,
    journal: Option<&mut Output>,
    journal_lines: &mut Vec<u8>,
) -> Result<(), (String, std::io::Error)> {
    if let Some(journal) = journal {
        journal
            .write_lines(journal_lines)
            .await
            .map_err(|error| (journal.name.clone(), error))?;
    }
    output
        .write_lines(lines)
        .await
        .map_err(|error| (output.name.clone(), error))
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
