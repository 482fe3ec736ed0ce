//! The JSON Lines sink: one line per record, whole lines only, durable at
//! every flush; and what a resumed crawl learns from the output it left.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{FinishedFetch, RecordSink, SinkError};

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file (its folder is created).
    File(PathBuf),
}

impl Destination {
    /// `-` is standard output, anything else a path.
    pub fn from_arg(path: &Path) -> Self {
        if path == Path::new("-") {
            Destination::Stdout
        } else {
            Destination::File(path.to_owned())
        }
    }

    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            Destination::Stdout => "standard output".to_owned(),
            Destination::File(path) => path.display().to_string(),
        }
    }
}

/// Writes each record as one JSON line.
#[derive(Debug)]
pub struct JsonlSink {
    target: Target,
    name: String,
    lines: Vec<u8>,
}

#[derive(Debug)]
enum Target {
    Stdout(std::io::Stdout),
    File {
        file: std::fs::File,
        /// Bytes of whole lines on disk: a failed write is cut back to this,
        /// so a full disk never leaves half a line behind.
        good_len: u64,
    },
}

impl JsonlSink {
    /// Opens the destination, creating parent folders; truncates a file
    /// unless `append` (a resumed crawl). Plain blocking I/O: call it
    /// before the crawl starts, or off the async threads.
    pub fn open(destination: &Destination, append: bool) -> Result<JsonlSink, SinkError> {
        let name = destination.describe();
        let wrap = |source| SinkError {
            name: name.clone(),
            source,
        };
        let target = match destination {
            Destination::Stdout => Target::Stdout(std::io::stdout()),
            Destination::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(wrap)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.create(true).write(true);
                if append {
                    options.append(true);
                } else {
                    options.truncate(true);
                }
                let file = options.open(path).map_err(wrap)?;
                let good_len = file.metadata().map_err(wrap)?.len();
                Target::File { file, good_len }
            }
        };
        Ok(JsonlSink {
            target,
            name,
            lines: Vec::with_capacity(super::WRITE_THRESHOLD + 64 * 1024),
        })
    }

    fn write_lines(&mut self) -> std::io::Result<()> {
        match &mut self.target {
            Target::Stdout(stdout) => {
                let mut stdout = stdout.lock();
                stdout.write_all(&self.lines)?;
                stdout.flush()?;
            }
            Target::File { file, good_len } => {
                let written = file
                    .write_all(&self.lines)
                    .and_then(|()| file.flush())
                    .and_then(|()| file.sync_data());
                if let Err(error) = written {
                    // Best effort: the write already failed; cutting back
                    // keeps what is on disk made of whole lines.
                    let _ = file.set_len(*good_len);
                    return Err(error);
                }
                *good_len += self.lines.len() as u64;
            }
        }
        self.lines.clear();
        Ok(())
    }
}

impl RecordSink for JsonlSink {
    fn accept(&mut self, fetch: FinishedFetch<'_>) -> Result<(), SinkError> {
        // Serialising this type into memory cannot fail; if it ever did,
        // the line is dropped whole.
        let start = self.lines.len();
        if let Err(error) = serde_json::to_writer(&mut self.lines, fetch.record) {
            self.lines.truncate(start);
            return Err(SinkError {
                name: self.name.clone(),
                source: std::io::Error::other(error),
            });
        }
        self.lines.push(b'\n');
        Ok(())
    }

    fn pending_bytes(&self) -> usize {
        self.lines.len()
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.lines.is_empty() {
            return Ok(());
        }
        self.write_lines().map_err(|source| SinkError {
            name: self.name.clone(),
            source,
        })
    }
}

/// What a JSONL output says about a crawl that is resumed.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Fingerprints of the canonical URLs that already have a record (8
    /// bytes each, however many there are).
    pub done: HashSet<u64>,
    /// Records already in the output.
    pub records: u64,
    /// Bytes cut from the end of the output (a line half-written by a crash).
    pub truncated_bytes: u64,
}

/// A resumed output that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// A line that is not a record: the output is not trawl's, or damaged.
    #[error("{}: output line {line} is not a trawl record ({detail}); use --fresh to start over", path.display())]
    Corrupt {
        path: PathBuf,
        line: u64,
        detail: String,
    },
    /// Reading or cutting the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads the output of a crawl to resume: cuts a half-written last line,
/// then lists the URLs already recorded. Plain blocking I/O.
pub fn recorded_urls(output: &Path) -> Result<Recorded, ResumeError> {
    /// Only the field a resume needs; the rest of each line is skipped.
    #[derive(serde::Deserialize)]
    struct UrlOnly<'a> {
        #[serde(borrow)]
        url: std::borrow::Cow<'a, str>,
    }
    let io_error = |source| ResumeError::Io {
        path: output.to_owned(),
        source,
    };
    let mut recorded = Recorded::default();
    if !output.exists() {
        return Ok(recorded);
    }
    recorded.truncated_bytes = cut_partial_line(output).map_err(io_error)?;
    let file = std::fs::File::open(output).map_err(io_error)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io_error)? == 0 {
            break;
        }
        number += 1;
        let record: UrlOnly<'_> =
            serde_json::from_slice(&line).map_err(|error| ResumeError::Corrupt {
                path: output.to_owned(),
                line: number,
                detail: error.to_string(),
            })?;
        recorded
            .done
            .insert(trawl_frontier::fingerprint_str(&record.url));
        recorded.records += 1;
    }
    Ok(recorded)
}

/// Cuts the file after its last newline; returns the bytes removed.
fn cut_partial_line(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let length = file.metadata()?.len();
    let mut keep = length;
    let mut buffer = vec![0u8; 64 * 1024];
    // Scan backwards for the last newline, a block at a time.
    while keep > 0 {
        let block = (keep as usize).min(buffer.len());
        let start = keep - block as u64;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buffer[..block])?;
        if let Some(position) = buffer[..block].iter().rposition(|&b| b == b'\n') {
            keep = start + position as u64 + 1;
            break;
        }
        keep = start;
    }
    if keep < length {
        file.set_len(keep)?;
    }
    Ok(length - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_cuts_a_partial_output_line_and_lists_the_recorded_urls() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.jsonl");
        std::fs::write(
            &output,
            "{\"url\":\"http://a.example/\"}\n{\"url\":\"http://a.ex",
        )
        .unwrap();
        let recorded = recorded_urls(&output).unwrap();
        assert_eq!(recorded.records, 1);
        assert_eq!(recorded.truncated_bytes, 19);
        assert!(
            recorded
                .done
                .contains(&trawl_frontier::fingerprint_str("http://a.example/"))
        );
        assert_eq!(
            std::fs::read_to_string(&output).unwrap(),
            "{\"url\":\"http://a.example/\"}\n"
        );
    }

    #[test]
    fn a_line_that_is_not_a_record_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.jsonl");
        std::fs::write(&output, "{\"url\":\"http://a.example/\"}\nnot json\n").unwrap();
        let error = recorded_urls(&output).unwrap_err().to_string();
        assert!(error.contains("output line 2"), "{error}");
    }
}
