//! Spilling queued URLs to disk, so memory stays flat however large the
//! queue grows.
//!
//! Each host keeps its oldest URLs in memory (the *hot* queue). Once the
//! frontier holds `hot_budget` URLs in memory, further URLs of a host go to
//! its *cold* tail: a small in-memory buffer that is written, a chunk at a
//! time, to one append-only spill file. A host whose hot queue runs dry
//! reads its oldest chunk back. A host's chunks form a chain on disk: each
//! chunk's header names the next, patched in when that one is written, so
//! per host only the first and the last chunk's positions stay in memory
//! (32 bytes, however many chunks): with many hosts each flush writes a
//! small chunk per host, and a list of them in memory grew with the queue.
//!
//! The I/O is plain positional file I/O on the caller's thread, a chunk at
//! a time (one write per `chunk_entries` URLs spilled, one read per chunk
//! refilled), which the page cache usually absorbs.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use url::Url;

use crate::canon::CanonicalUrl;
use crate::entry::Entry;

/// When and where queued URLs spill to disk.
#[derive(Debug, Clone)]
pub struct SpillConfig {
    /// Folder for the spill file (created if missing). The file has no
    /// name there: it is gone when the store is dropped or the process
    /// ends, however it ends.
    pub dir: PathBuf,
    /// Queued URLs kept in memory over all hosts before spilling starts.
    pub hot_budget: usize,
    /// URLs per chunk written to or read from disk.
    pub chunk_entries: usize,
    /// Fingerprints of the seen-set kept in memory before older ones move
    /// to sorted files in `dir` (Bloom-filtered, about 1.25 bytes of
    /// memory per URL then); `None` keeps the whole seen-set in memory.
    pub seen_hot_budget: Option<usize>,
}

/// Where one chunk of a host's cold tail lives in the spill file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkRef {
    offset: u64,
    len: u32,
    pub(crate) entries: u32,
}

/// Bytes before a chunk's entries: the next chunk's [`ChunkRef`]
/// (offset, length, entries; all zero while there is none).
const HEADER: usize = 16;

/// A host's spilled chunks, oldest first, chained on disk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColdChain {
    head: ChunkRef,
    tail: ChunkRef,
    /// URLs in all the chain's chunks.
    pub(crate) entries: usize,
}

impl ColdChain {
    /// Appends `entries` as a chunk after `chain` (a new chain for
    /// `None`).
    pub(crate) fn push(
        chain: Option<ColdChain>,
        file: &mut SpillFile,
        entries: &[Entry],
    ) -> std::io::Result<ColdChain> {
        let chunk = file.write_chunk(entries)?;
        Ok(match chain {
            None => ColdChain {
                head: chunk,
                tail: chunk,
                entries: entries.len(),
            },
            Some(chain) => {
                file.link(chain.tail, chunk)?;
                ColdChain {
                    head: chain.head,
                    tail: chunk,
                    entries: chain.entries + entries.len(),
                }
            }
        })
    }

    /// The oldest chunk's entries, and the rest of the chain.
    pub(crate) fn pop(
        self,
        file: &mut SpillFile,
    ) -> Result<(Vec<Entry>, Option<ColdChain>), (std::io::Error, usize)> {
        let (entries, next) = file
            .read_chunk(self.head)
            .map_err(|error| (error, self.entries))?;
        let rest = if self.head == self.tail {
            None
        } else {
            let next = next.ok_or_else(|| {
                (
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "a spill chunk lost its link to the next",
                    ),
                    self.entries,
                )
            })?;
            Some(ColdChain {
                head: next,
                tail: self.tail,
                entries: self.entries - entries.len(),
            })
        };
        Ok((entries, rest))
    }
}

/// The spill file.
#[derive(Debug)]
pub(crate) struct SpillFile {
    file: File,
    end: u64,
}

impl SpillFile {
    pub(crate) fn create(config: &SpillConfig) -> std::io::Result<SpillFile> {
        std::fs::create_dir_all(&config.dir)?;
        // Unnamed (unlinked as it is made), so a crawl killed with SIGKILL
        // leaves no scratch file beside its state.
        let file = tempfile::tempfile_in(&config.dir)?;
        Ok(SpillFile { file, end: 0 })
    }

    #[cfg(test)]
    pub(crate) fn lose_contents(&mut self) {
        self.file.set_len(0).expect("truncate the spill file");
    }

    /// Appends `entries` as one chunk.
    fn write_chunk(&mut self, entries: &[Entry]) -> std::io::Result<ChunkRef> {
        let mut bytes = Vec::with_capacity(HEADER + entries.len() * 96);
        bytes.extend_from_slice(&[0; HEADER]);
        for entry in entries {
            bytes.extend_from_slice(&entry.depth.to_le_bytes());
            match &entry.parent {
                Some(parent) => {
                    bytes.extend_from_slice(&(parent.len() as u32).to_le_bytes());
                    bytes.extend_from_slice(parent.as_bytes());
                }
                None => bytes.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
            let url = entry.url.as_str();
            bytes.extend_from_slice(&(url.len() as u32).to_le_bytes());
            bytes.extend_from_slice(url.as_bytes());
        }
        self.file.seek(SeekFrom::Start(self.end))?;
        self.file.write_all(&bytes)?;
        let chunk = ChunkRef {
            offset: self.end,
            len: u32::try_from(bytes.len()).map_err(std::io::Error::other)?,
            entries: entries.len() as u32,
        };
        self.end += bytes.len() as u64;
        Ok(chunk)
    }

    /// Writes `next` into `chunk`'s header.
    fn link(&mut self, chunk: ChunkRef, next: ChunkRef) -> std::io::Result<()> {
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(&next.offset.to_le_bytes());
        header[8..12].copy_from_slice(&next.len.to_le_bytes());
        header[12..].copy_from_slice(&next.entries.to_le_bytes());
        self.file.seek(SeekFrom::Start(chunk.offset))?;
        self.file.write_all(&header)
    }

    /// Reads a chunk back, in the order it was written, with the next
    /// chunk of its chain if one was linked.
    fn read_chunk(&mut self, chunk: ChunkRef) -> std::io::Result<(Vec<Entry>, Option<ChunkRef>)> {
        let mut bytes = vec![0u8; chunk.len as usize];
        self.file.seek(SeekFrom::Start(chunk.offset))?;
        self.file.read_exact(&mut bytes)?;
        let corrupt = || {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "corrupt frontier spill chunk",
            )
        };
        let header = bytes.get(..HEADER).ok_or_else(corrupt)?;
        let next = ChunkRef {
            offset: u64::from_le_bytes(header[..8].try_into().map_err(|_| corrupt())?),
            len: u32::from_le_bytes(header[8..12].try_into().map_err(|_| corrupt())?),
            entries: u32::from_le_bytes(header[12..].try_into().map_err(|_| corrupt())?),
        };
        let next = (next.entries > 0).then_some(next);
        let mut entries = Vec::with_capacity(chunk.entries as usize);
        let mut at = HEADER;
        let mut take = |count: usize| -> std::io::Result<&[u8]> {
            let slice = bytes.get(at..at + count).ok_or_else(corrupt)?;
            at += count;
            Ok(slice)
        };
        for _ in 0..chunk.entries {
            let depth = u32::from_le_bytes(take(4)?.try_into().map_err(|_| corrupt())?);
            let parent_len = u32::from_le_bytes(take(4)?.try_into().map_err(|_| corrupt())?);
            let parent = if parent_len == u32::MAX {
                None
            } else {
                let text =
                    std::str::from_utf8(take(parent_len as usize)?).map_err(|_| corrupt())?;
                Some(Arc::<str>::from(text))
            };
            let url_len = u32::from_le_bytes(take(4)?.try_into().map_err(|_| corrupt())?);
            let text = std::str::from_utf8(take(url_len as usize)?).map_err(|_| corrupt())?;
            // Only canonical URLs were ever written here.
            let url = CanonicalUrl::from_stored(Url::parse(text).map_err(|_| corrupt())?);
            entries.push(Entry { url, depth, parent });
        }
        Ok((entries, next))
    }
}
