//! trawl-report: a crawl's JSONL output as one self-contained HTML page.
//!
//! [`generate`] reads the records in one streaming pass into a [`Report`]
//! and writes the page: a summary table, charts drawn as inline SVG
//! (status codes, error kinds, depth, top hosts, content types, page
//! sizes, fetch latency, pages over time) and top-N lists (largest,
//! slowest, most linked, broken links with the page that linked them).
//! The page loads nothing: no script, no stylesheet, no font, no image
//! from anywhere (its Content-Security-Policy forbids them too), reads
//! without JavaScript and prints.
//!
//! # Bounded memory
//!
//! Whatever the number of records, the report holds a fixed amount: the
//! histograms have fixed buckets ([`bounded::LogHistogram`], 513 for sizes
//! and for latency; depth 0–31 and "32 or more"; 1,000 status codes;
//! [`bounded::TimeBins`], 120 bins whose width doubles as the crawl's span
//! grows), the top-N lists are heaps of N, the broken links the first
//! [`Limits::broken`], distinct hosts are counted exactly up to
//! [`Limits::distinct_hosts`] fingerprints, and hosts, content types,
//! error kinds and link targets are Misra–Gries summaries
//! ([`bounded::FrequentItems`]) of a fixed number of counters, exact while
//! fewer distinct keys than that are seen (the page says when a count is
//! a lower bound). A line is read into one buffer, at most
//! [`Limits::max_line`] bytes; a longer line is skipped as unreadable.
//!
//! Untrusted input: URLs, titles, content types and error kinds come
//! from the crawled web and are HTML-escaped wherever they appear; only
//! `http:` and `https:` URLs become links.

pub mod bounded;
mod html;
mod record;
mod svg;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::bounded::{DistinctCount, FrequentItems, LogHistogram, TimeBins, TopN};

pub use crate::record::{format_utc_millis, host_of, parse_utc_millis};

/// The sizes of the report's bounded structures.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Rows in each top-N list.
    pub top: usize,
    /// Bars in the hosts and content types charts (the rest is "other").
    pub bars: usize,
    /// Broken links listed (the first ones in the file); the rest are counted.
    pub broken: usize,
    /// Counters for hosts and for content types.
    pub hosts: usize,
    /// Counters for link targets (the most-linked list).
    pub link_targets: usize,
    /// Distinct hosts counted exactly.
    pub distinct_hosts: usize,
    /// Bins of the pages-over-time chart.
    pub time_bins: usize,
    /// Longest line read, in bytes.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            top: 20,
            bars: 12,
            broken: 100,
            hosts: 1024,
            link_targets: 8192,
            distinct_hosts: 100_000,
            time_bins: 120,
            max_line: 64 << 20,
        }
    }
}

/// Depths 0..DEPTHS each have a bar; deeper pages share the last.
const DEPTHS: usize = 32;

/// A page in a top-N list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Page {
    url: Box<str>,
    title: Option<Box<str>>,
    status: Option<u16>,
}

/// A record with status 400 or above, or an error.
#[derive(Debug, Clone)]
struct Broken {
    url: Box<str>,
    parent: Option<Box<str>>,
    /// The status code, or the error kind.
    what: Box<str>,
    line: u64,
}

/// Everything the page shows, gathered in one pass over the records.
#[derive(Debug, Clone)]
pub struct Report {
    limits: Limits,
    lines: u64,
    records: u64,
    errors: u64,
    bad_lines: u64,
    first_bad: Option<(u64, String)>,
    statuses: Vec<u64>,
    no_status: u64,
    error_kinds: FrequentItems,
    depths: Vec<u64>,
    hosts: FrequentItems,
    distinct_hosts: DistinctCount,
    content_types: FrequentItems,
    sizes: LogHistogram,
    latency: LogHistogram,
    times: TimeBins,
    first_at: Option<i64>,
    last_at: Option<i64>,
    links: u64,
    largest: TopN<Page>,
    slowest: TopN<Page>,
    linked: FrequentItems,
    broken: Vec<Broken>,
    broken_total: u64,
}

impl Default for Report {
    fn default() -> Self {
        Report::new(Limits::default())
    }
}

impl Report {
    pub fn new(limits: Limits) -> Self {
        Report {
            lines: 0,
            records: 0,
            errors: 0,
            bad_lines: 0,
            first_bad: None,
            statuses: vec![0; 1000],
            no_status: 0,
            error_kinds: FrequentItems::new(64),
            depths: vec![0; DEPTHS + 1],
            hosts: FrequentItems::new(limits.hosts),
            distinct_hosts: DistinctCount::new(limits.distinct_hosts),
            content_types: FrequentItems::new(limits.hosts),
            sizes: LogHistogram::default(),
            latency: LogHistogram::default(),
            times: TimeBins::new(limits.time_bins),
            first_at: None,
            last_at: None,
            links: 0,
            largest: TopN::new(limits.top),
            slowest: TopN::new(limits.top),
            linked: FrequentItems::new(limits.link_targets),
            broken: Vec::new(),
            broken_total: 0,
            limits,
        }
    }

    /// Reads JSONL to the end: every line a record or counted as unreadable.
    /// Only reading can fail, never a line's content.
    pub fn read(&mut self, mut reader: impl BufRead) -> io::Result<()> {
        let mut line = Vec::new();
        let mut overlong = false;
        loop {
            let chunk = match reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if chunk.is_empty() {
                break;
            }
            let (piece, ended) = match memchr::memchr(b'\n', chunk) {
                Some(at) => (&chunk[..at], true),
                None => (chunk, false),
            };
            if !overlong {
                if line.len() + piece.len() > self.limits.max_line {
                    overlong = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(piece);
                }
            }
            let used = piece.len() + usize::from(ended);
            reader.consume(used);
            if ended {
                self.end_line(&mut line, &mut overlong);
            }
        }
        if !line.is_empty() || overlong {
            self.end_line(&mut line, &mut overlong);
        }
        Ok(())
    }

    fn end_line(&mut self, line: &mut Vec<u8>, overlong: &mut bool) {
        if *overlong {
            self.lines += 1;
            let reason = format!("longer than {} bytes", self.limits.max_line);
            self.bad(reason);
        } else {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.add_line(line);
        }
        line.clear();
        *overlong = false;
    }

    /// One line, without its newline. Lines of only whitespace are skipped
    /// (but numbered).
    pub fn add_line(&mut self, line: &[u8]) {
        self.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match record::parse(line) {
            Ok((record, millis)) => self.add(&record, millis),
            Err(bad) => self.bad(bad.reason),
        }
    }

    fn bad(&mut self, reason: String) {
        self.bad_lines += 1;
        if self.first_bad.is_none() {
            self.first_bad = Some((self.lines, reason));
        }
    }

    fn add(&mut self, record: &record::Record<'_>, millis: i64) {
        self.records += 1;
        let status = record.status.map(|status| status as u16);
        match status {
            Some(status) => self.statuses[usize::from(status)] += 1,
            None => self.no_status += 1,
        }
        if let Some(error) = &record.error {
            self.errors += 1;
            self.error_kinds.add(&error.kind);
        }
        self.depths[(record.depth as usize).min(DEPTHS)] += 1;
        let host = host_of(&record.url).unwrap_or("(not an http URL)");
        self.hosts.add(host);
        self.distinct_hosts.add(host);
        self.content_types
            .add(record.content_type.as_deref().unwrap_or("(none)"));
        self.sizes.add(record.bytes);
        self.latency.add(record.elapsed_ms);
        self.times.add(millis);
        self.first_at = Some(self.first_at.map_or(millis, |first| first.min(millis)));
        self.last_at = Some(self.last_at.map_or(millis, |last| last.max(millis)));
        self.links += record.links.len() as u64;
        for link in &record.links {
            self.linked.add(link);
        }
        let page = || Page {
            url: record.url.as_ref().into(),
            title: record.title.as_deref().map(Into::into),
            status,
        };
        self.largest.offer(record.bytes, page);
        self.slowest.offer(record.elapsed_ms, page);
        let failed = status.is_some_and(|status| status >= 400);
        if failed || record.error.is_some() {
            self.broken_total += 1;
            if self.broken.len() < self.limits.broken {
                let what = match (&record.error, status) {
                    (_, Some(status)) if status >= 400 => status.to_string(),
                    (Some(error), _) => error.kind.to_string(),
                    (None, _) => String::new(),
                };
                self.broken.push(Broken {
                    url: record.url.as_ref().into(),
                    parent: record.parent.as_deref().map(Into::into),
                    what: what.into(),
                    line: self.lines,
                });
            }
        }
    }

    /// Records read.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Lines that were neither a record nor blank.
    pub fn bad_lines(&self) -> u64 {
        self.bad_lines
    }

    /// The first unreadable line's number and why.
    pub fn first_bad_line(&self) -> Option<(u64, &str)> {
        self.first_bad
            .as_ref()
            .map(|(line, reason)| (*line, reason.as_str()))
    }

    /// The page, titled after `source` (the input's name).
    pub fn render(&self, source: &str) -> String {
        html::render(self, source)
    }
}

/// Why no report was written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Where `trawl report INPUT` writes by default: beside the input, with
/// the extension `.html` (`output/crawl.jsonl` → `output/crawl.html`).
pub fn default_output(input: &Path) -> PathBuf {
    input.with_extension("html")
}

/// Reads the JSONL at `input` and writes the page to `output` (through a
/// temporary file beside it, renamed, so no half-written report is left).
pub fn generate(input: &Path, output: &Path, limits: Limits) -> Result<Report, ReportError> {
    let read_error = |source| ReportError::Read {
        path: input.to_owned(),
        source,
    };
    let file = File::open(input).map_err(read_error)?;
    let mut report = Report::new(limits);
    report
        .read(BufReader::with_capacity(1 << 20, file))
        .map_err(read_error)?;
    let source = input.file_name().map_or_else(
        || input.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let page = report.render(&source);
    write_atomically(output, page.as_bytes()).map_err(|source| ReportError::Write {
        path: output.to_owned(),
        source,
    })?;
    Ok(report)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}
