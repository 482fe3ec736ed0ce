//! The WARC 1.1 sink: a `warcinfo` record at the start of each file, then
//! a `request` and a `response` record per exchange (every redirect hop is
//! its own pair), each record its own gzip member in a `.warc.gz` file.
//!
//! Bodies are archived decoded: reqwest removes the content coding and
//! hyper the chunked framing before trawl sees a byte, so the response
//! record carries the body as read, with headers that describe it:
//! `Content-Length` set to its length, and `Transfer-Encoding` (which hyper
//! leaves in the headers) kept only as `X-Archive-Orig-Transfer-Encoding`,
//! as wget does for the headers it rewrites. reqwest already drops
//! `Content-Encoding` and `Content-Length` when it decodes. Headers that
//! promise a coding the body does not have are what break replay tools.
//!
//! Crash safety: members are written whole and synced at every flush; a
//! failed write is cut back; a resume cuts a torn last member and goes on
//! in the same file. The sink runs before the JSONL sink, so every record
//! in the output has its exchanges in the archive.

mod format;
mod resume;

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{FinishedFetch, RecordSink, Response, SinkError};
pub use format::WarcInfo;

/// Where and how to write the archive.
#[derive(Debug, Clone)]
pub struct WarcOptions {
    /// The archive's path. A name ending in `.gz` is gzip-compressed, one
    /// member per record; any other is plain WARC.
    pub path: PathBuf,
    /// Start a new file when the current one would grow past this many
    /// bytes: `NAME-00001.warc.gz`, `NAME-00002.warc.gz`, ...
    pub max_size: Option<u64>,
    /// Also write a CDXJ index of every response record here.
    pub cdx: Option<PathBuf>,
    /// What the `warcinfo` record says.
    pub info: WarcInfo,
}

/// Writes WARC 1.1 records.
#[derive(Debug)]
pub struct WarcSink {
    options: WarcOptions,
    gzip: bool,
    /// The file being written, and its whole records' length on disk.
    current: Option<OpenFile>,
    /// The number of the file new records go to (rotation only).
    index: u32,
    /// The number of the file open on disk.
    disk_index: u32,
    /// Logical length of the current file: on disk plus buffered.
    logical_len: u64,
    /// Fetches accepted and not yet encoded.
    waiting: Vec<Response>,
    waiting_bytes: usize,
    /// Records waiting to be written, each tagged with its file's number.
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    cdx: Option<CdxFile>,
    cdx_lines: Vec<u8>,
    compressor: Gzip,
}

#[derive(Debug)]
struct OpenFile {
    path: PathBuf,
    file: std::fs::File,
    good_len: u64,
}

#[derive(Debug)]
struct CdxFile {
    path: PathBuf,
    file: std::fs::File,
    good_len: u64,
}

fn error(path: &Path, source: std::io::Error) -> SinkError {
    SinkError {
        name: path.display().to_string(),
        source,
    }
}

impl WarcSink {
    /// Opens the archive: a new one (truncating), or with `resume` the
    /// last file of an earlier run, a torn last record cut off. Plain
    /// blocking I/O: call it before the crawl starts.
    pub fn open(options: WarcOptions, resume: bool) -> Result<WarcSink, SinkError> {
        let gzip = options
            .path
            .extension()
            .is_some_and(|extension| extension == "gz");
        let mut sink = WarcSink {
            gzip,
            current: None,
            index: 1,
            disk_index: 1,
            logical_len: 0,
            waiting: Vec::new(),
            waiting_bytes: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            cdx: None,
            cdx_lines: Vec::new(),
            compressor: Gzip::default(),
            options,
        };
        if let Some(parent) = sink
            .options
            .path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| error(parent, source))?;
        }
        if resume {
            sink.index = resume::last_index(&sink.options.path, sink.options.max_size.is_some());
            sink.disk_index = sink.index;
        }
        let path = sink.file_path(sink.index);
        let file = open_file(&path, resume)?;
        let mut good_len = file
            .metadata()
            .map_err(|source| error(&path, source))?
            .len();
        if resume && good_len > 0 {
            good_len = resume::cut_torn_tail(&path, &file, gzip, good_len)?;
        }
        sink.logical_len = good_len;
        sink.current = Some(OpenFile {
            path,
            file,
            good_len,
        });
        if good_len == 0 {
            sink.queue_warcinfo();
        }
        if let Some(cdx) = &sink.options.cdx {
            let file = open_file(cdx, resume)?;
            let good_len = resume::cut_partial_line(cdx, &file)?;
            sink.cdx = Some(CdxFile {
                path: cdx.clone(),
                file,
                good_len,
            });
        }
        Ok(sink)
    }

    /// The path of file number `index`.
    fn file_path(&self, index: u32) -> PathBuf {
        if self.options.max_size.is_none() {
            return self.options.path.clone();
        }
        numbered(&self.options.path, index)
    }

    fn queue_warcinfo(&mut self) {
        let filename = file_name(&self.file_path(self.index));
        let record = format::warcinfo(&self.options.info, &filename);
        self.queue(record);
    }

    /// One record as it goes into the file: a gzip member, or as is.
    fn encoded(&mut self, pieces: &[&[u8]]) -> Vec<u8> {
        if self.gzip {
            self.compressor.member(pieces)
        } else {
            pieces.concat()
        }
    }

    /// Adds one record to the current file's pending bytes.
    fn queue(&mut self, record: Vec<u8>) -> u64 {
        let bytes = self.encoded(&[&record]);
        self.queue_encoded(bytes)
    }

    /// Adds one encoded record; returns its offset in its file.
    fn queue_encoded(&mut self, bytes: Vec<u8>) -> u64 {
        let offset = self.logical_len;
        self.logical_len += bytes.len() as u64;
        self.pending_bytes += bytes.len();
        self.pending.push((self.index, bytes));
        offset
    }
}

/// `crawl.warc.gz` → `crawl-00001.warc.gz`.
fn numbered(path: &Path, index: u32) -> PathBuf {
    let name = file_name(path);
    let (stem, extension) = match name.find('.') {
        Some(dot) => (&name[..dot], &name[dot..]),
        None => (name.as_str(), ""),
    };
    path.with_file_name(format!("{stem}-{index:05}{extension}"))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn open_file(path: &Path, append: bool) -> Result<std::fs::File, SinkError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).read(true).write(true);
    if append {
        options.append(true);
    } else {
        options.truncate(true);
    }
    options.open(path).map_err(|source| error(path, source))
}

/// A gzip member of `record`, on its own compressor.
#[cfg(test)]
fn gzip_member(record: &[u8]) -> Vec<u8> {
    Gzip::default().member(&[record])
}

/// Writes gzip members with one libdeflate compressor. libdeflate keeps
/// no state between calls, so a compressor serves every record: a fresh
/// zlib-style stream per record (or a reset one) zeroes hundreds of KiB of
/// tables each time, which cost more than compressing a page.
struct Gzip {
    compressor: libdeflater::Compressor,
    input: Vec<u8>,
}

impl std::fmt::Debug for Gzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gzip")
    }
}

impl Default for Gzip {
    fn default() -> Self {
        Gzip {
            // Level 1: the archive is written once per fetch and read
            // rarely; the default level doubles the CPU for a few percent.
            compressor: libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(1).unwrap_or_default(),
            ),
            input: Vec::new(),
        }
    }
}

impl Gzip {
    /// One gzip member (RFC 1952) of the concatenated `pieces`.
    fn member(&mut self, pieces: &[&[u8]]) -> Vec<u8> {
        self.input.clear();
        for piece in pieces {
            self.input.extend_from_slice(piece);
        }
        let mut out = vec![0; self.compressor.gzip_compress_bound(self.input.len())];
        match self.compressor.gzip_compress(&self.input, &mut out) {
            Ok(written) => {
                out.truncate(written);
                out
            }
            // The bound always suffices; were it ever short, the record
            // goes in a member of its own from flate2.
            Err(_) => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                let _ = encoder.write_all(&self.input);
                encoder.finish().unwrap_or_default()
            }
        }
    }
}

impl RecordSink for WarcSink {
    fn wants_response(&self) -> bool {
        true
    }

    fn accept(&mut self, fetch: FinishedFetch<'_>) -> Result<(), SinkError> {
        match fetch.response {
            Some(response) => self.accept_unrecorded(response),
            None => Ok(()),
        }
    }

    fn accept_unrecorded(&mut self, response: &Response) -> Result<(), SinkError> {
        // Digests and compression are CPU work: they wait for the flush,
        // which runs on a blocking thread, not on the sink task.
        self.waiting_bytes += response.body.len();
        self.waiting.push(response.clone());
        Ok(())
    }

    fn flush_threshold(&self) -> usize {
        super::BODY_FLUSH_THRESHOLD
    }

    fn pending_bytes(&self) -> usize {
        self.waiting_bytes + self.pending_bytes + self.cdx_lines.len()
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        for response in std::mem::take(&mut self.waiting) {
            self.encode(&response);
        }
        self.waiting_bytes = 0;
        for (index, bytes) in std::mem::take(&mut self.pending) {
            if self.current.is_none() || index != self.disk_index {
                self.rotate_to(index)?;
            }
            let Some(current) = self.current.as_mut() else {
                continue;
            };
            let written = current.file.write_all(&bytes);
            if let Err(source) = written {
                let _ = current.file.set_len(current.good_len);
                return Err(error(&current.path, source));
            }
            current.good_len += bytes.len() as u64;
        }
        self.pending_bytes = 0;
        if let Some(current) = &self.current {
            current
                .file
                .sync_data()
                .map_err(|source| error(&current.path, source))?;
        }
        if let Some(cdx) = &mut self.cdx
            && !self.cdx_lines.is_empty()
        {
            let written = cdx
                .file
                .write_all(&self.cdx_lines)
                .and_then(|()| cdx.file.sync_data());
            if let Err(source) = written {
                let _ = cdx.file.set_len(cdx.good_len);
                return Err(error(&cdx.path, source));
            }
            cdx.good_len += self.cdx_lines.len() as u64;
            self.cdx_lines.clear();
        }
        Ok(())
    }
}

impl WarcSink {
    /// The records of one fetch's exchanges, into the pending bytes, with
    /// rotation and index lines.
    fn encode(&mut self, response: &Response) {
        let last = response.exchanges.len().saturating_sub(1);
        for (position, exchange) in response.exchanges.iter().enumerate() {
            let (body, truncated): (&[u8], _) = if position == last {
                (&response.body, response.truncated)
            } else {
                (&[], None)
            };
            let pair = format::exchange(exchange, body, truncated);
            let request = self.encoded(&pair.request.pieces());
            let answer = self.encoded(&pair.response.pieces());
            if let Some(max) = self.options.max_size
                && self.logical_len > 0
                && self.logical_len + (request.len() + answer.len()) as u64 > max
            {
                self.index += 1;
                self.logical_len = 0;
                self.queue_warcinfo();
            }
            self.queue_encoded(request);
            let length = answer.len() as u64;
            let offset = self.queue_encoded(answer);
            if self.cdx.is_some() {
                let filename = file_name(&self.file_path(self.index));
                format::cdxj_line(
                    &mut self.cdx_lines,
                    exchange,
                    &pair.payload_digest,
                    length,
                    offset,
                    &filename,
                );
            }
        }
    }

    /// Syncs and closes the current file and opens number `index`, new.
    fn rotate_to(&mut self, index: u32) -> Result<(), SinkError> {
        if let Some(current) = self.current.take() {
            current
                .file
                .sync_data()
                .map_err(|source| error(&current.path, source))?;
        }
        let path = self.file_path(index);
        let file = open_file(&path, false)?;
        self.current = Some(OpenFile {
            path,
            file,
            good_len: 0,
        });
        self.disk_index = index;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
