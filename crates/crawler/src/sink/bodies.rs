//! Saved bodies: each distinct body stored once, named by its SHA-256
//! (`DIR/ab/cdef…`), written to a temporary file and renamed into place,
//! so no half-written file ever has a body's name and no path is built
//! from a URL.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{FinishedFetch, RecordSink, SinkError};

/// The SHA-256 of `body` (hex) and the file it is saved in under `dir`.
pub(crate) fn address(dir: &Path, body: &[u8]) -> (String, PathBuf) {
    let hex = data_encoding::HEXLOWER.encode(&Sha256::digest(body));
    let path = dir.join(&hex[..2]).join(&hex[2..]);
    (hex, path)
}

/// Writes the bodies the records name in `body_path`.
#[derive(Debug)]
pub struct BodySink {
    dir: PathBuf,
    pending: Vec<(PathBuf, Bytes)>,
    pending_bytes: usize,
    /// Bodies written by this run (a later one checks the disk).
    written: HashSet<PathBuf>,
    /// Names temporary files uniquely within this run.
    counter: u64,
}

impl BodySink {
    /// Saves bodies under `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<BodySink, SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError {
            name: dir.display().to_string(),
            source,
        })?;
        Ok(BodySink {
            dir: dir.to_owned(),
            pending: Vec::new(),
            pending_bytes: 0,
            written: HashSet::new(),
            counter: 0,
        })
    }

    fn save(&mut self, path: &Path, body: &[u8]) -> std::io::Result<()> {
        if self.written.contains(path) || path.exists() {
            return Ok(());
        }
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent)?;
        self.counter += 1;
        let temporary = parent.join(format!(".tmp-{}-{}", std::process::id(), self.counter));
        let written = std::fs::File::create(&temporary).and_then(|mut file| {
            file.write_all(body)?;
            file.sync_data()
        });
        if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
        self.written.insert(path.to_owned());
        Ok(())
    }
}

impl RecordSink for BodySink {
    fn wants_response(&self) -> bool {
        true
    }

    fn accept(&mut self, fetch: FinishedFetch<'_>) -> Result<(), SinkError> {
        if let (Some(path), Some(response)) = (&fetch.record.body_path, fetch.response) {
            self.pending_bytes += response.body.len();
            self.pending
                .push((PathBuf::from(path), response.body.clone()));
        }
        Ok(())
    }

    fn flush_threshold(&self) -> usize {
        super::BODY_FLUSH_THRESHOLD
    }

    fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        for (path, body) in std::mem::take(&mut self.pending) {
            self.save(&path, &body).map_err(|source| SinkError {
                name: path.display().to_string(),
                source,
            })?;
        }
        self.pending_bytes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_stored_once_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (hex, path) = address(dir.path(), b"hello");
        assert_eq!(
            hex,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(path, dir.path().join("2c").join(&hex[2..]));
        let mut sink = BodySink::open(dir.path()).unwrap();
        sink.save(&path, b"hello").unwrap();
        sink.save(&path, b"hello").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file left behind");
    }
}
