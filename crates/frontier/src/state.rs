//! Crash-safe crawl state: a folder beside the output that lets a crawl be
//! resumed after Ctrl-C, a crash, `kill -9` or a power cut.
//!
//! The state is deliberately small: an append-only journal of every URL
//! ever queued (`queue.tsv`: depth, parent, URL) and a `meta.json` naming
//! the format version. Which URLs are done is not stored here: the crawler
//! reads it from its output, so output and state can never disagree. The
//! store's [`sync`](crate::FrontierStore::sync) makes the journal lines of
//! a page's links durable before that page's record is written, so a
//! recorded page's links are always in the journal. URLs in flight at a
//! crash have no record and are fetched again (at-least-once).
//!
//! An append-only journal was chosen over an embedded LSM store because
//! the queue's only random access is "is it done", which the output
//! answers; appends are the cheapest durable write there is, and replay is
//! one sequential read.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::entry::Entry;

/// Bumped whenever the files' format changes incompatibly.
const STATE_VERSION: u64 = 1;
const META_FILE: &str = "meta.json";
const QUEUE_FILE: &str = "queue.tsv";

/// A state folder problem; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A fresh crawl would overwrite an earlier crawl's state.
    #[error(
        "crawl state {} already exists: add --resume to continue that crawl, or --fresh to discard it and start over",
        path.display()
    )]
    Exists {
        /// The state folder.
        path: PathBuf,
    },
    /// A resume found no state to resume.
    #[error("--resume: no crawl state at {} (nothing to resume; run without --resume to start)", path.display())]
    Missing {
        /// The state folder.
        path: PathBuf,
    },
    /// The state was written in another format version.
    #[error("crawl state {} is from another version of trawl (format {found}, this trawl reads {STATE_VERSION}); use --fresh to start over", path.display())]
    Version {
        /// The state folder.
        path: PathBuf,
        /// The version it names.
        found: String,
    },
    /// A state file cannot be read as one.
    #[error("crawl state {} is corrupt: {detail}; use --fresh to start over", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        detail: String,
    },
    /// Reading or writing the state failed.
    #[error("crawl state {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where the state of a crawl writing to `output` lives by default:
/// `output/crawl.jsonl` → `output/crawl.state/`.
pub fn default_state_dir(output: &Path) -> PathBuf {
    output.with_extension("state")
}

/// A crawl's state folder, checked: created fresh or opened at this
/// trawl's format version.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The queue journal.
    pub fn queue_file(&self) -> PathBuf {
        self.path.join(QUEUE_FILE)
    }

    /// Where the binary keeps the crawl's cookie jar for a resume.
    pub fn cookie_file(&self) -> PathBuf {
        self.path.join("cookies.txt")
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

    /// Opens an existing state for a resume, checking its version.
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

    /// Streams the queue journal, oldest first, to `restore`; a partial last
    /// line (a crash mid-append) is ignored. Returns the entries replayed
    /// and the length of the journal's whole lines, where appends resume.
    pub(crate) fn replay(&self, mut restore: impl FnMut(Entry)) -> Result<Replayed, StateError> {
        let path = self.queue_file();
        let file = std::fs::File::open(&path).map_err(io_error(&path))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        let mut replayed = Replayed::default();
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
            replayed.entries += 1;
            let number = replayed.entries;
            let corrupt = || StateError::Corrupt {
                path: path.clone(),
                detail: format!("queue journal line {number} is not `depth<TAB>parent<TAB>url`"),
            };
            let text = std::str::from_utf8(&line[..line.len() - 1]).map_err(|_| corrupt())?;
            let mut entry = Entry::parse_journal_line(text).ok_or_else(corrupt)?;
            if let Some(parent) = &entry.parent {
                match &last_parent {
                    Some(shared) if shared == parent => entry.parent = Some(Arc::clone(shared)),
                    _ => last_parent = Some(Arc::clone(parent)),
                }
            }
            replayed.whole_len += line.len() as u64;
            restore(entry);
        }
        Ok(replayed)
    }
}

/// What [`StateDir::replay`] read.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Replayed {
    pub(crate) entries: u64,
    /// Bytes of whole lines: a partial line after them is cut before the
    /// journal is appended to, or the next line would be glued to it.
    pub(crate) whole_len: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn replay_ignores_a_partial_last_line_and_shares_parents() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::create(&dir.path().join("s"), false).unwrap();
        let whole = "0\t-\thttp://a.example/\n1\thttp://a.example/\thttp://a.example/x\n1\thttp://a.example/\thttp://a.example/y\n";
        std::fs::write(state.queue_file(), format!("{whole}1\thttp://a.exa")).unwrap();
        let mut replayed = Vec::new();
        let read = state.replay(|entry| replayed.push(entry)).unwrap();
        assert_eq!(read.entries, 3);
        assert_eq!(read.whole_len, whole.len() as u64);
        assert_eq!(replayed.len(), 3, "a partial journal line is ignored");
        assert_eq!(replayed[1].parent.as_deref(), Some("http://a.example/"));
        assert!(Arc::ptr_eq(
            replayed[1].parent.as_ref().unwrap(),
            replayed[2].parent.as_ref().unwrap()
        ));
    }

    #[test]
    fn a_corrupt_journal_line_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::create(&dir.path().join("s"), false).unwrap();
        std::fs::write(state.queue_file(), "0\t-\thttp://a.example/\nnonsense\n").unwrap();
        let error = state.replay(|_| {}).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
    }
}
