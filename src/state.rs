//! Crash-safe crawl state: a folder beside the output that lets
//! `trawl crawl --resume` continue after Ctrl-C, a crash, `kill -9` or a
//! power cut.
//!
//! The state is deliberately small: an append-only journal of every URL
//! ever queued (`queue.tsv`: depth, parent, URL) and a `meta.json` naming
//! the format version. Which URLs are done is read from the JSONL output
//! itself, so output and state can never disagree: a URL with a line in the
//! output is never fetched again. The sink writes (and syncs) the journal
//! lines of a page's links before that page's record, so a recorded page's
//! links are always in the journal. URLs in flight at a crash have no
//! record and are fetched again (at-least-once).
//!
//! An append-only journal was chosen over an embedded LSM store because
//! the queue's only random access is "is it done", which the output
//! answers; appends are the cheapest durable write there is, and replay is
//! one sequential read.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use url::Url;

/// Bumped whenever the files' format changes incompatibly.
const STATE_VERSION: u64 = 1;
const META_FILE: &str = "meta.json";
const QUEUE_FILE: &str = "queue.tsv";

/// A state folder problem; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "crawl state {} already exists: add --resume to continue that crawl, or --fresh to discard it and start over",
        path.display()
    )]
    Exists { path: PathBuf },
    #[error("--resume: no crawl state at {} (nothing to resume; run without --resume to start)", path.display())]
    Missing { path: PathBuf },
    #[error("crawl state {} is from another version of trawl (format {found}, this trawl reads {STATE_VERSION}); use --fresh to start over", path.display())]
    Version { path: PathBuf, found: String },
    #[error("crawl state {} is corrupt: {detail}; use --fresh to start over", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("crawl state {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--resume needs the output file, but `-o -` writes to standard output")]
    Stdout,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One queued URL as journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedUrl {
    pub url: Url,
    pub depth: u32,
    pub parent: Option<Arc<str>>,
}

impl QueuedUrl {
    /// The journal line, newline included. Canonical URLs contain neither
    /// tabs nor newlines, so the format needs no escaping.
    pub fn journal_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.depth.to_string().as_bytes());
        out.push(b'\t');
        out.extend_from_slice(self.parent.as_deref().unwrap_or("-").as_bytes());
        out.push(b'\t');
        out.extend_from_slice(self.url.as_str().as_bytes());
        out.push(b'\n');
    }

    fn parse(line: &str) -> Option<QueuedUrl> {
        let mut parts = line.splitn(3, '\t');
        let depth = parts.next()?.parse().ok()?;
        let parent = match parts.next()? {
            "-" => None,
            parent => Some(Arc::from(parent)),
        };
        let url = Url::parse(parts.next()?).ok()?;
        Some(QueuedUrl { url, depth, parent })
    }
}

/// What a resumed crawl starts from.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Fingerprints of the canonical URLs that already have a record in the
    /// output (8 bytes each, however many there are).
    pub done: HashSet<u64>,
    /// Records already in the output.
    pub records: u64,
    /// Bytes cut from the end of the output (a line half-written by a crash).
    pub truncated_bytes: u64,
}

/// Where the state of a crawl writing to `output` lives by default:
/// `output/crawl.jsonl` → `output/crawl.state/`.
pub fn default_dir(output: &Path) -> PathBuf {
    output.with_extension("state")
}

/// Paths of the state files.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub path: PathBuf,
}

impl StateDir {
    pub fn queue_file(&self) -> PathBuf {
        self.path.join(QUEUE_FILE)
    }

    /// Starts a new crawl's state: refuses to overwrite an existing one
    /// unless `fresh`.
    pub fn create(path: &Path, fresh: bool) -> Result<StateDir, StateError> {
        if path.exists() {
            if !fresh {
                return Err(StateError::Exists {
                    path: path.to_owned(),
                });
            }
            std::fs::remove_dir_all(path).map_err(io_error(path))?;
        }
        std::fs::create_dir_all(path).map_err(io_error(path))?;
        let meta = serde_json::json!({ "format": "trawl-state", "version": STATE_VERSION });
        std::fs::write(path.join(META_FILE), format!("{meta}\n")).map_err(io_error(path))?;
        std::fs::File::create(path.join(QUEUE_FILE)).map_err(io_error(path))?;
        Ok(StateDir {
            path: path.to_owned(),
        })
    }

    /// Opens an existing state for `--resume`, checking its version.
    pub fn open(path: &Path) -> Result<StateDir, StateError> {
        let meta_path = path.join(META_FILE);
        if !meta_path.exists() {
            return Err(StateError::Missing {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(&meta_path).map_err(io_error(path))?;
        let meta: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| StateError::Corrupt {
                path: meta_path.clone(),
                detail: format!("meta.json is not JSON ({error})"),
            })?;
        if meta["format"] != "trawl-state" {
            return Err(StateError::Corrupt {
                path: meta_path,
                detail: "meta.json is not a trawl state file".into(),
            });
        }
        if meta["version"].as_u64() != Some(STATE_VERSION) {
            return Err(StateError::Version {
                path: path.to_owned(),
                found: meta["version"].to_string(),
            });
        }
        Ok(StateDir {
            path: path.to_owned(),
        })
    }

    /// Reads the output for a resume (after cutting a half-written last
    /// line): which URLs are done, as fingerprints, and how many records.
    pub fn load(&self, output: &Path) -> Result<Resumed, StateError> {
        /// Only the field a resume needs; the rest of each line is skipped.
        #[derive(serde::Deserialize)]
        struct UrlOnly<'a> {
            #[serde(borrow)]
            url: std::borrow::Cow<'a, str>,
        }
        let mut resumed = Resumed::default();
        if !output.exists() {
            return Ok(resumed);
        }
        resumed.truncated_bytes = cut_partial_line(output)?;
        let file = std::fs::File::open(output).map_err(io_error(output))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            if reader
                .read_until(b'\n', &mut line)
                .map_err(io_error(output))?
                == 0
            {
                break;
            }
            number += 1;
            let record: UrlOnly<'_> =
                serde_json::from_slice(&line).map_err(|error| StateError::Corrupt {
                    path: output.to_owned(),
                    detail: format!("output line {number} is not a trawl record ({error})"),
                })?;
            resumed
                .done
                .insert(trawl_frontier::fingerprint_str(&record.url));
            resumed.records += 1;
        }
        Ok(resumed)
    }

    /// Streams the queue journal, oldest first, to `restore`; a partial last
    /// line (a crash mid-append) is ignored. Returns the entries replayed.
    pub fn replay(&self, mut restore: impl FnMut(QueuedUrl)) -> Result<u64, StateError> {
        let path = self.queue_file();
        let file = std::fs::File::open(&path).map_err(io_error(&path))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        let mut number = 0u64;
        // Siblings share their parent: one allocation per parent, not per link.
        let mut last_parent: Option<Arc<str>> = None;
        loop {
            line.clear();
            if reader
                .read_until(b'\n', &mut line)
                .map_err(io_error(&path))?
                == 0
            {
                break;
            }
            if line.last() != Some(&b'\n') {
                break;
            }
            number += 1;
            let corrupt = || StateError::Corrupt {
                path: path.clone(),
                detail: format!("queue journal line {number} is not `depth<TAB>parent<TAB>url`"),
            };
            let text = std::str::from_utf8(&line[..line.len() - 1]).map_err(|_| corrupt())?;
            let mut queued = QueuedUrl::parse(text).ok_or_else(corrupt)?;
            if let Some(parent) = &queued.parent {
                match &last_parent {
                    Some(shared) if shared == parent => queued.parent = Some(Arc::clone(shared)),
                    _ => last_parent = Some(Arc::clone(parent)),
                }
            }
            restore(queued);
        }
        Ok(number)
    }
}

/// Cuts the file after its last newline; returns the bytes removed.
fn cut_partial_line(path: &Path) -> Result<u64, StateError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error(path))?;
    let length = file.metadata().map_err(io_error(path))?.len();
    let mut keep = length;
    let mut buffer = vec![0u8; 64 * 1024];
    // Scan backwards for the last newline, a block at a time.
    while keep > 0 {
        let block = (keep as usize).min(buffer.len());
        let start = keep - block as u64;
        file.seek(SeekFrom::Start(start)).map_err(io_error(path))?;
        file.read_exact(&mut buffer[..block])
            .map_err(io_error(path))?;
        if let Some(position) = buffer[..block].iter().rposition(|&b| b == b'\n') {
            keep = start + position as u64 + 1;
            break;
        }
        keep = start;
    }
    if keep < length {
        file.set_len(keep).map_err(io_error(path))?;
    }
    Ok(length - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_round_trip() {
        let entry = QueuedUrl {
            url: Url::parse("http://a.example/x?q=1").unwrap(),
            depth: 3,
            parent: Some("http://a.example/".into()),
        };
        let mut line = Vec::new();
        entry.journal_line(&mut line);
        assert_eq!(line, b"3\thttp://a.example/\thttp://a.example/x?q=1\n");
        let text = String::from_utf8(line).unwrap();
        assert_eq!(QueuedUrl::parse(text.trim_end()), Some(entry));
        let seed = QueuedUrl::parse("0\t-\thttp://a.example/").unwrap();
        assert_eq!(seed.parent, None);
        assert!(QueuedUrl::parse("x\t-\thttp://a.example/").is_none());
    }

    #[test]
    fn existing_state_is_refused_without_resume_or_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crawl.state");
        StateDir::create(&path, false).unwrap();
        let error = StateDir::create(&path, false).unwrap_err().to_string();
        assert!(
            error.contains("--resume") && error.contains("--fresh"),
            "{error}"
        );
        StateDir::create(&path, true).unwrap();
        StateDir::open(&path).unwrap();
    }

    #[test]
    fn other_versions_and_garbage_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        assert!(matches!(
            StateDir::open(&path),
            Err(StateError::Missing { .. })
        ));
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(
            path.join(META_FILE),
            r#"{"format":"trawl-state","version":99}"#,
        )
        .unwrap();
        assert!(matches!(
            StateDir::open(&path),
            Err(StateError::Version { .. })
        ));
        std::fs::write(path.join(META_FILE), "garbage").unwrap();
        assert!(matches!(
            StateDir::open(&path),
            Err(StateError::Corrupt { .. })
        ));
    }

    #[test]
    fn load_cuts_a_partial_output_line_and_reads_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::create(&dir.path().join("s"), false).unwrap();
        std::fs::write(
            state.queue_file(),
            "0\t-\thttp://a.example/\n1\thttp://a.example/\thttp://a.example/x\n1\thttp://a.exa",
        )
        .unwrap();
        let output = dir.path().join("out.jsonl");
        std::fs::write(
            &output,
            "{\"url\":\"http://a.example/\"}\n{\"url\":\"http://a.ex",
        )
        .unwrap();
        let resumed = state.load(&output).unwrap();
        assert_eq!(resumed.records, 1);
        assert_eq!(resumed.truncated_bytes, 19);
        assert!(
            resumed
                .done
                .contains(&trawl_frontier::fingerprint_str("http://a.example/"))
        );
        let mut replayed = Vec::new();
        assert_eq!(state.replay(|queued| replayed.push(queued)).unwrap(), 2);
        assert_eq!(replayed.len(), 2, "a partial journal line is ignored");
        assert_eq!(replayed[1].parent.as_deref(), Some("http://a.example/"));
        assert_eq!(
            std::fs::read_to_string(&output).unwrap(),
            "{\"url\":\"http://a.example/\"}\n"
        );
    }

    #[test]
    fn a_corrupt_journal_line_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::create(&dir.path().join("s"), false).unwrap();
        std::fs::write(state.queue_file(), "0\t-\thttp://a.example/\nnonsense\n").unwrap();
        let error = state.replay(|_| {}).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        let output = dir.path().join("out.jsonl");
        std::fs::write(&output, "{\"url\":\"http://a.example/\"}\nnot json\n").unwrap();
        let error = state.load(&output).unwrap_err().to_string();
        assert!(error.contains("output line 2"), "{error}");
    }
}
