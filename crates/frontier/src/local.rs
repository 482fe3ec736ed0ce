//! The embedded store: the scheduling core in this process, behind one
//! mutex, with an optional spill file and an optional journal for resumes.
//!
//! Every call does its work synchronously under the lock and returns a
//! future that is already ready, except [`FrontierStore::sync`], which
//! writes the journal on tokio's blocking pool so a slow disk never stalls
//! an async thread.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::admission::AdmissionRules;
use crate::canon::CanonicalUrl;
use crate::entry::{Admission, Counts, Entry, Limits};
use crate::scheduler::{Frontier, Pop, Slot};
use crate::scope::Scope;
use crate::spill::SpillConfig;
use crate::state::{StateDir, StateError, io_error};
use crate::store::{
    Claim, Found, FrontierStore, HostGate, Lease, LeaseToken, RedirectAdmission, StoreError,
    StoreFuture,
};

/// How a [`LocalStore`] is set up.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Which hosts and patterns belong to the crawl (seeds already added).
    pub scope: Scope,
    /// The limits the crawl honours.
    pub limits: Limits,
    /// Spill queued URLs past a memory budget to a file; `None` keeps
    /// everything in memory.
    pub spill: Option<SpillConfig>,
    /// Journal every queued URL here, for a resume; `None` journals
    /// nothing ([`LocalStore::resume`] sets it).
    pub journal: Option<StateDir>,
    /// Leases older than this are taken back by
    /// [`FrontierStore::requeue_expired`]; `None` (the crawler's choice, as
    /// its drop guard always acks) lets leases live until acked.
    pub lease_time: Option<Duration>,
}

impl LocalConfig {
    /// In memory, no journal, leases that never expire.
    pub fn new(scope: Scope, limits: Limits) -> Self {
        LocalConfig {
            scope,
            limits,
            spill: None,
            journal: None,
            lease_time: None,
        }
    }
}

/// Why a [`LocalStore`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The spill file could not be created.
    #[error("cannot create the frontier's spill file in {}: {source}", dir.display())]
    Spill {
        /// The spill folder.
        dir: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The journal could not be read or opened.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The embedded [`FrontierStore`]: everything in this process.
#[derive(Debug)]
pub struct LocalStore {
    inner: Arc<Mutex<Inner>>,
    /// Separate from `inner` so `add` and `claim` go on while the journal
    /// is being written. Lock order: `journal` before `inner`.
    journal: Option<Arc<Mutex<JournalFile>>>,
}

#[derive(Debug)]
struct Inner {
    rules: AdmissionRules,
    core: Frontier,
    leases: HashMap<u64, Held>,
    next_token: u64,
    lease_time: Option<Duration>,
    stopped: bool,
    journaling: bool,
    /// Journal lines of queued URLs not yet written: whole lines only.
    unsynced: Vec<u8>,
}

/// A lease as the store remembers it.
#[derive(Debug)]
struct Held {
    slot: Slot,
    /// With a lease time: when it expires, and the entry to queue again
    /// then (kept only then, so the default costs no copy per URL).
    expiry: Option<(Instant, Entry)>,
}

#[derive(Debug)]
struct JournalFile {
    path: PathBuf,
    file: File,
    /// Length of the file's whole lines: a failed write is cut back to it.
    good_len: u64,
    /// Swapped with `Inner::unsynced` on each sync, so neither buffer is
    /// reallocated once both have grown.
    spare: Vec<u8>,
}

impl JournalFile {
    fn open(state: &StateDir, good_len: u64) -> Result<JournalFile, StateError> {
        let path = state.queue_file();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_error(&path))?;
        // A partial last line (a crash mid-append) would glue itself to the
        // next line written.
        let len = file.metadata().map_err(io_error(&path))?.len();
        if len > good_len {
            file.set_len(good_len).map_err(io_error(&path))?;
        }
        Ok(JournalFile {
            path,
            file,
            good_len: good_len.min(len),
            spare: Vec::new(),
        })
    }

    fn append(&mut self, lines: &[u8]) -> Result<(), StoreError> {
        let written = self
            .file
            .write_all(lines)
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            let _ = self.file.set_len(self.good_len);
            return Err(StoreError(format!(
                "cannot write the queue journal {}: {error}",
                self.path.display()
            )));
        }
        self.good_len += lines.len() as u64;
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every method finishes its bookkeeping before anything can panic, so
    // a poisoned lock still guards consistent state.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ready<T: Send + 'static>(value: Result<T, StoreError>) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl LocalStore {
    /// A store for a fresh crawl (its journal, if any, just created with
    /// [`StateDir::create`]).
    pub fn new(config: LocalConfig) -> Result<LocalStore, OpenError> {
        let core = core(&config)?;
        let journal = match &config.journal {
            Some(state) => {
                let len = std::fs::metadata(state.queue_file())
                    .map(|meta| meta.len())
                    .unwrap_or(0);
                Some(JournalFile::open(state, len)?)
            }
            None => None,
        };
        Ok(LocalStore::assemble(config, core, journal))
    }

    /// Continues an interrupted crawl from `state`'s journal: URLs in
    /// `done` (fingerprints of URLs with a record in the output) are only
    /// marked seen, the rest are queued again, and `records` counts
    /// towards `max_pages`. Seeds added afterwards are journaled only when
    /// new. `config.journal` is replaced by `state`.
    pub fn resume<S: BuildHasher>(
        mut config: LocalConfig,
        state: StateDir,
        done: &HashSet<u64, S>,
        records: u64,
    ) -> Result<LocalStore, OpenError> {
        let mut core = core(&config)?;
        let replayed = state.replay(|entry| {
            let recorded = done.contains(&entry.url.fingerprint());
            core.restore(entry, recorded);
        })?;
        core.restore_handed_out(records);
        let journal = JournalFile::open(&state, replayed.whole_len)?;
        config.journal = Some(state);
        Ok(LocalStore::assemble(config, core, Some(journal)))
    }

    fn assemble(config: LocalConfig, core: Frontier, journal: Option<JournalFile>) -> LocalStore {
        let inner = Inner {
            rules: AdmissionRules::new(config.scope, &config.limits),
            core,
            leases: HashMap::new(),
            next_token: 0,
            lease_time: config.lease_time,
            stopped: false,
            journaling: journal.is_some(),
            unsynced: Vec::new(),
        };
        LocalStore {
            inner: Arc::new(Mutex::new(inner)),
            journal: journal.map(|file| Arc::new(Mutex::new(file))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }
}

fn core(config: &LocalConfig) -> Result<Frontier, OpenError> {
    match &config.spill {
        Some(spill) => {
            Frontier::with_spill(config.limits.clone(), spill.clone()).map_err(|source| {
                OpenError::Spill {
                    dir: spill.dir.clone(),
                    source,
                }
            })
        }
        None => Ok(Frontier::new(config.limits.clone())),
    }
}

impl Inner {
    fn add(&mut self, entries: Vec<Entry>, found: Found) -> Vec<Admission> {
        let mut admissions = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Err(refused) = self.rules.check(&entry, found) {
                admissions.push(refused);
                continue;
            }
            // Written before the entry moves into the queue and taken back
            // if it was not queued: no copy of the entry.
            let mark = self.unsynced.len();
            if self.journaling {
                entry.write_journal_line(&mut self.unsynced);
            }
            let admission = self.core.enqueue(entry);
            if admission != Admission::Queued {
                self.unsynced.truncate(mark);
            }
            admissions.push(admission);
        }
        admissions
    }

    fn claim(
        &mut self,
        max: usize,
        now: Instant,
        gate: &dyn HostGate,
    ) -> Result<Claim, StoreError> {
        if self.stopped {
            return Ok(self.drained());
        }
        if let Some(error) = self.core.spill_error() {
            return Err(StoreError(error.to_owned()));
        }
        let mut leases = Vec::new();
        let mut other = Pop::Busy;
        let mut admit = |host: &str| gate.admit(host, now);
        while leases.len() < max {
            match self.core.pop(now, &mut admit) {
                Pop::Ready(lease) => {
                    self.next_token += 1;
                    let token = self.next_token;
                    let expiry = self
                        .lease_time
                        .map(|time| (now + time, lease.entry.clone()));
                    self.leases.insert(
                        token,
                        Held {
                            slot: lease.slot,
                            expiry,
                        },
                    );
                    leases.push(Lease {
                        entry: lease.entry,
                        host: lease.host,
                        token: LeaseToken::new(token),
                    });
                }
                answer => {
                    other = answer;
                    break;
                }
            }
        }
        if let Some(error) = self.core.spill_error() {
            return Err(StoreError(error.to_owned()));
        }
        if !leases.is_empty() {
            return Ok(Claim::Ready(leases));
        }
        Ok(match other {
            Pop::WaitUntil(at) => Claim::WaitUntil(at),
            Pop::Finished => Claim::Finished,
            Pop::Busy | Pop::Ready(_) => Claim::Busy,
        })
    }

    fn drained(&self) -> Claim {
        let counts = self.core.counts();
        if counts.in_flight > 0 || self.core.holding() {
            Claim::Busy
        } else {
            Claim::Finished
        }
    }

    fn requeue_expired(&mut self, now: Instant) -> u64 {
        if self.lease_time.is_none() {
            return 0;
        }
        let mut expired = Vec::new();
        self.leases.retain(|_, held| match held.expiry.take() {
            Some((deadline, entry)) if deadline <= now => {
                expired.push((held.slot, entry));
                false
            }
            expiry => {
                held.expiry = expiry;
                true
            }
        });
        let count = expired.len() as u64;
        for (slot, entry) in expired {
            if self.stopped {
                self.core.complete(slot);
            } else {
                self.core.requeue(slot, entry);
            }
        }
        count
    }
}

impl FrontierStore for LocalStore {
    fn add(&self, entries: Vec<Entry>, found: Found) -> StoreFuture<'_, Vec<Admission>> {
        ready(Ok(self.lock().add(entries, found)))
    }

    fn claim<'a>(
        &'a self,
        max: usize,
        now: Instant,
        gate: &'a dyn HostGate,
    ) -> StoreFuture<'a, Claim> {
        ready(self.lock().claim(max, now, gate))
    }

    fn complete(&self, token: LeaseToken) {
        let mut inner = self.lock();
        if let Some(held) = inner.leases.remove(&token.get()) {
            inner.core.complete(held.slot);
        }
    }

    fn admit_redirect<'a>(
        &'a self,
        target: &'a CanonicalUrl,
    ) -> StoreFuture<'a, RedirectAdmission> {
        let mut inner = self.lock();
        let verdict = if !inner.rules.redirect_allowed(target) {
            RedirectAdmission::OutOfScope
        } else if !inner.core.mark_seen(target) {
            RedirectAdmission::AlreadySeen
        } else {
            RedirectAdmission::Follow
        };
        ready(Ok(verdict))
    }

    fn hold(&self) {
        self.lock().core.hold();
    }

    fn release(&self) {
        self.lock().core.release();
    }

    fn requeue_expired(&self, now: Instant) -> StoreFuture<'_, u64> {
        ready(Ok(self.lock().requeue_expired(now)))
    }

    fn stop(&self) -> StoreFuture<'_, ()> {
        let mut inner = self.lock();
        inner.stopped = true;
        inner.core.clear_queue();
        ready(Ok(()))
    }

    fn sync(&self) -> StoreFuture<'_, ()> {
        let Some(journal) = self.journal.clone() else {
            return ready(Ok(()));
        };
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // Taking the buffer only once the file is ours means a sync
                // returns after every line added before it was called is
                // on disk, even when an earlier sync took those lines.
                let mut journal = lock(&journal);
                let journal = &mut *journal;
                let mut lines = std::mem::take(&mut journal.spare);
                std::mem::swap(&mut lines, &mut lock(&inner).unsynced);
                if lines.is_empty() {
                    journal.spare = lines;
                    return Ok(());
                }
                match journal.append(&lines) {
                    Ok(()) => {
                        lines.clear();
                        journal.spare = lines;
                        Ok(())
                    }
                    Err(error) => {
                        // Kept, in order, for a later sync to try again.
                        let mut inner = lock(&inner);
                        lines.extend_from_slice(&inner.unsynced);
                        inner.unsynced = lines;
                        Err(error)
                    }
                }
            })
            .await
            .map_err(|error| StoreError(format!("the queue journal's writer failed: {error}")))?
        })
    }

    fn prune_idle_hosts(&self, now: Instant) {
        self.lock().core.prune_idle_hosts(now);
    }

    fn counts(&self) -> Counts {
        self.lock().core.counts()
    }
}

#[cfg(test)]
mod tests;
