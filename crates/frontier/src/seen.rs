//! The seen-set: every URL fingerprint the crawl has queued, fetched or
//! redirected to, exact (no false "seen", which would lose a page).
//!
//! Small crawls keep it in one hash set. Past a budget of fingerprints in
//! memory it becomes two tiers, after IRLbot's DRUM and the LSM idea:
//!
//! - the *hot* set: the newest fingerprints, in memory;
//! - the *cold* runs: everything older, sorted on disk, split into
//!   [`PARTITIONS`] by the fingerprint's top bits, each with a Bloom filter
//!   (10 bits a key, ~1% false positives) and the first key of every
//!   4 KiB block in memory, so a lookup costs a Bloom probe and, when the
//!   filter says maybe, one positional read of one block (usually from the
//!   page cache).
//!
//! When the hot set is full it is frozen into a sorted array (still
//! searched) and merged into the runs on a background thread, one
//! partition at a time, so the crawl never waits for the merge unless the
//! next hot set fills before it ends. Memory is then about 9 bytes per hot
//! fingerprint, 8 per frozen one, and 1.25 per cold one (the filters).
//!
//! A failure to write the runs keeps everything in memory instead (nothing
//! is lost; memory just stops being flat). A failure to read a block
//! answers "not seen": at worst a page is fetched twice, never skipped.

use std::collections::HashSet;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::scheduler::FingerprintHasher;

/// Cold partitions, by the top bits of the fingerprint: a merge rewrites
/// one at a time, so its temporary memory is a sixteenth of the filters.
const PARTITIONS: usize = 16;
/// Keys per block: 4 KiB, one page.
const BLOCK_KEYS: usize = 512;
const BLOOM_BITS_PER_KEY: usize = 10;
const BLOOM_PROBES: u32 = 7;

type HotSet = HashSet<u64, BuildHasherDefault<FingerprintHasher>>;

/// Where and when the seen-set moves to disk.
#[derive(Debug, Clone)]
pub(crate) struct SeenTiering {
    pub(crate) dir: PathBuf,
    /// Fingerprints kept in the hot set before it is merged to disk.
    pub(crate) hot_budget: usize,
}

/// The seen-set; see the module doc.
#[derive(Debug)]
pub(crate) struct SeenSet {
    hot: HotSet,
    tiering: Option<SeenTiering>,
    /// The previous hot set, sorted, while it is merged.
    frozen: Arc<Vec<u64>>,
    runs: Arc<Vec<Run>>,
    merge: Option<JoinHandle<std::io::Result<Vec<Run>>>>,
    len: u64,
    /// Set after a failed merge: everything stays in memory from then on.
    disabled: bool,
}

impl Default for SeenSet {
    fn default() -> Self {
        SeenSet::in_memory()
    }
}

impl SeenSet {
    /// All in memory, however large.
    pub(crate) fn in_memory() -> SeenSet {
        SeenSet {
            hot: HotSet::default(),
            tiering: None,
            frozen: Arc::new(Vec::new()),
            runs: Arc::new(Vec::new()),
            merge: None,
            len: 0,
            disabled: false,
        }
    }

    /// In memory up to `tiering.hot_budget` fingerprints, then on disk.
    pub(crate) fn tiered(tiering: SeenTiering) -> SeenSet {
        let mut seen = SeenSet::in_memory();
        seen.tiering = Some(SeenTiering {
            hot_budget: tiering.hot_budget.max(1),
            ..tiering
        });
        seen
    }

    /// Fingerprints held.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn contains(&self, fingerprint: u64) -> bool {
        self.hot.contains(&fingerprint)
            || self.frozen.binary_search(&fingerprint).is_ok()
            || self
                .runs
                .get(partition(fingerprint))
                .is_some_and(|run| run.contains(fingerprint))
    }

    /// Adds `fingerprint`; false when it was there already.
    pub(crate) fn insert(&mut self, fingerprint: u64) -> bool {
        if self.contains(fingerprint) {
            return false;
        }
        self.hot.insert(fingerprint);
        self.len += 1;
        self.finish_merge(false);
        if let Some(tiering) = &self.tiering
            && !self.disabled
            && self.hot.len() >= tiering.hot_budget
        {
            // The next merge needs the frozen slot: wait for the last one.
            self.finish_merge(true);
            if !self.disabled {
                self.start_merge();
            }
        }
        true
    }

    /// Takes a finished merge's runs in (or, with `wait`, waits for it).
    fn finish_merge(&mut self, wait: bool) {
        let Some(merge) = self.merge.take() else {
            return;
        };
        if !wait && !merge.is_finished() {
            self.merge = Some(merge);
            return;
        }
        match merge.join() {
            Ok(Ok(runs)) => {
                self.runs = Arc::new(runs);
                self.frozen = Arc::new(Vec::new());
            }
            outcome => {
                let reason = match outcome {
                    Ok(Err(error)) => error.to_string(),
                    _ => "the merge thread panicked".to_owned(),
                };
                tracing::warn!(
                    "cannot move the seen-set to disk ({reason}); keeping it in memory from now on"
                );
                self.disabled = true;
                self.hot.extend(self.frozen.iter().copied());
                self.frozen = Arc::new(Vec::new());
            }
        }
    }

    fn start_merge(&mut self) {
        let Some(tiering) = &self.tiering else { return };
        let mut frozen: Vec<u64> = self.hot.drain().collect();
        frozen.sort_unstable();
        // The hot set keeps its allocation: it fills to the same size again.
        self.frozen = Arc::new(frozen);
        let frozen = Arc::clone(&self.frozen);
        let runs = Arc::clone(&self.runs);
        let dir = tiering.dir.clone();
        let spawned = std::thread::Builder::new()
            .name("trawl-seen-merge".to_owned())
            .spawn(move || merge_all(&dir, &runs, &frozen));
        match spawned {
            Ok(handle) => self.merge = Some(handle),
            Err(error) => {
                tracing::warn!("cannot start the seen-set merge ({error}); keeping it in memory");
                self.disabled = true;
                self.hot.extend(self.frozen.iter().copied());
                self.frozen = Arc::new(Vec::new());
            }
        }
    }
}

impl Drop for SeenSet {
    fn drop(&mut self) {
        // The runs' files go with their last owner; a merge still running
        // owns the old ones until it ends.
        if let Some(merge) = self.merge.take() {
            let _ = merge.join();
        }
    }
}

fn partition(fingerprint: u64) -> usize {
    (fingerprint >> 60) as usize % PARTITIONS
}

/// Merges `frozen` into every partition of `runs`, writing new files.
fn merge_all(dir: &Path, runs: &[Run], frozen: &[u64]) -> std::io::Result<Vec<Run>> {
    std::fs::create_dir_all(dir)?;
    let mut merged = Vec::with_capacity(PARTITIONS);
    let mut start = 0;
    for index in 0..PARTITIONS {
        let end = start + frozen[start..].partition_point(|&key| partition(key) == index);
        let old = runs.get(index);
        merged.push(Run::merge(dir, old, &frozen[start..end])?);
        start = end;
    }
    Ok(merged)
}

/// One partition's sorted keys on disk, with its filter and block index.
#[derive(Debug)]
struct Run {
    /// Unnamed (unlinked as it is made): gone with its last handle, or
    /// with the process however it ends.
    file: File,
    keys: u64,
    /// The first key of each block.
    fences: Vec<u64>,
    bloom: Vec<u64>,
}

impl Run {
    /// The keys of `old` (if any) and `new`, merged into a new file.
    fn merge(dir: &Path, old: Option<&Run>, new: &[u64]) -> std::io::Result<Run> {
        let keys = old.map_or(0, |run| run.keys) + new.len() as u64;
        let file = tempfile::tempfile_in(dir)?;
        let mut run = Run {
            file,
            keys,
            fences: Vec::with_capacity((keys as usize).div_ceil(BLOCK_KEYS)),
            bloom: vec![0; (keys as usize * BLOOM_BITS_PER_KEY).div_ceil(64).max(16)],
        };
        let mut writer = BufWriter::with_capacity(1 << 16, &run.file);
        let mut written = 0usize;
        let mut emit = |key: u64, run_fences: &mut Vec<u64>, bloom: &mut [u64]| {
            if written.is_multiple_of(BLOCK_KEYS) {
                run_fences.push(key);
            }
            bloom_set(bloom, key);
            written += 1;
            writer.write_all(&key.to_le_bytes())
        };
        let mut new_keys = new.iter().copied().peekable();
        if let Some(old) = old {
            for key in old.iter() {
                let key = key?;
                while let Some(&next) = new_keys.peek().filter(|&&next| next < key) {
                    emit(next, &mut run.fences, &mut run.bloom)?;
                    new_keys.next();
                }
                emit(key, &mut run.fences, &mut run.bloom)?;
            }
        }
        for key in new_keys {
            emit(key, &mut run.fences, &mut run.bloom)?;
        }
        writer.flush()?;
        drop(writer);
        Ok(run)
    }

    /// Every key, in order, read sequentially.
    fn iter(&self) -> impl Iterator<Item = std::io::Result<u64>> + '_ {
        let from_start = ReadAt {
            file: &self.file,
            offset: 0,
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 16, from_start);
        let mut left = self.keys;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let mut bytes = [0u8; 8];
            Some(
                reader
                    .read_exact(&mut bytes)
                    .map(|()| u64::from_le_bytes(bytes)),
            )
        })
    }

    fn contains(&self, key: u64) -> bool {
        if self.keys == 0 || !bloom_maybe(&self.bloom, key) {
            return false;
        }
        // The last block whose first key is at most `key`.
        let block = match self.fences.partition_point(|&first| first <= key) {
            0 => return false,
            after => after - 1,
        };
        let start = block * BLOCK_KEYS;
        let count = (self.keys as usize - start).min(BLOCK_KEYS);
        let mut bytes = vec![0u8; count * 8];
        let mut block = ReadAt {
            file: &self.file,
            offset: (start * 8) as u64,
        };
        if let Err(error) = block.read_exact(&mut bytes) {
            tracing::warn!("seen-set read failed ({error}); a page may be fetched twice");
            return false;
        }
        let (keys, _) = bytes.as_chunks::<8>();
        keys.binary_search_by_key(&key, |chunk| u64::from_le_bytes(*chunk))
            .is_ok()
    }
}

/// A run's keys read from `offset` on, with positional reads: the file has
/// no name to open a second handle by, and lookups and the merge thread
/// read it at once.
struct ReadAt<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = read_some_at(self.file, buffer, self.offset)?;
        self.offset += read as u64;
        Ok(read)
    }
}

#[cfg(unix)]
fn read_some_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, offset)
}

#[cfg(not(unix))]
fn read_some_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let mut file = file.try_clone()?;
    file.seek(SeekFrom::Start(offset))?;
    file.read(buffer)
}

/// The filter's bit positions for `key`: double hashing from the key
/// itself, which is already a uniform hash.
fn bloom_bits(bits: u64, key: u64) -> impl Iterator<Item = u64> {
    let second = key.rotate_left(29).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..BLOOM_PROBES).map(move |i| key.wrapping_add(u64::from(i).wrapping_mul(second)) % bits)
}

fn bloom_set(bloom: &mut [u64], key: u64) {
    let bits = bloom.len() as u64 * 64;
    for bit in bloom_bits(bits, key) {
        bloom[(bit / 64) as usize] |= 1 << (bit % 64);
    }
}

fn bloom_maybe(bloom: &[u64], key: u64) -> bool {
    let bits = bloom.len() as u64 * 64;
    bloom_bits(bits, key).all(|bit| bloom[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of uniform 64-bit keys (splitmix64).
    fn keys(seed: u64, count: usize) -> Vec<u64> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            })
            .collect()
    }

    fn tiered(dir: &Path, budget: usize) -> SeenSet {
        SeenSet::tiered(SeenTiering {
            dir: dir.to_owned(),
            hot_budget: budget,
        })
    }

    #[test]
    fn the_tiered_set_answers_exactly_like_a_hash_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = tiered(dir.path(), 1000);
        let mut reference = std::collections::HashSet::new();
        let inserted = keys(1, 20_000);
        for (i, &key) in inserted.iter().enumerate() {
            assert_eq!(seen.insert(key), reference.insert(key), "insert {i}");
            // Re-inserting an old key, wherever it now lives, is refused.
            let old = inserted[i / 2];
            assert!(!seen.insert(old), "key {} of {i} forgotten", i / 2);
        }
        seen.finish_merge(true);
        assert!(!seen.runs.is_empty(), "the set went to disk");
        assert!(seen.hot.len() < 1000);
        assert_eq!(seen.len(), 20_000);
        for &key in &inserted {
            assert!(seen.contains(key));
        }
        let absent = keys(2, 20_000);
        let false_seen = absent.iter().filter(|&&key| seen.contains(key)).count();
        assert_eq!(false_seen, 0, "an unseen key was reported seen");
        // Extremes of the key space land in the first and last partition.
        for key in [0, 1, u64::MAX, u64::MAX - 1, 1 << 63] {
            assert_eq!(seen.insert(key), !reference.contains(&key));
            assert!(seen.contains(key));
        }
    }

    #[test]
    fn filters_keep_most_absent_keys_off_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = tiered(dir.path(), 4096);
        for key in keys(3, 50_000) {
            seen.insert(key);
        }
        seen.finish_merge(true);
        let runs = Arc::clone(&seen.runs);
        let probed = keys(4, 100_000)
            .into_iter()
            .filter(|&key| bloom_maybe(&runs[partition(key)].bloom, key))
            .count();
        assert!(
            probed < 3_000,
            "{probed} of 100,000 absent keys passed the filter"
        );
    }

    #[test]
    fn the_runs_leave_no_file_behind_however_the_process_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = tiered(dir.path(), 600);
        let inserted = keys(5, 5_000);
        for &key in &inserted {
            seen.insert(key);
        }
        seen.finish_merge(true);
        assert_eq!(seen.runs.len(), PARTITIONS, "the set is on disk");
        // Merged twice over: the second merge read the first one's runs.
        assert!(inserted.iter().all(|&key| seen.contains(key)));
        // Nothing has a name a killed process could leave behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_merge_keeps_everything_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the folder should be: every merge fails.
        let blocked = dir.path().join("not-a-dir");
        std::fs::write(&blocked, b"x").unwrap();
        let mut seen = tiered(&blocked, 600);
        let inserted = keys(6, 3_000);
        for &key in &inserted {
            seen.insert(key);
        }
        seen.finish_merge(true);
        assert!(seen.disabled);
        assert!(inserted.iter().all(|&key| seen.contains(key)));
        assert_eq!(seen.len(), 3_000);
    }
}
