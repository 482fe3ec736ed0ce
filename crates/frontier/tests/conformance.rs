//! The storage seam's contract, checked against every store: the same
//! cases (`cases/mod.rs`) run on each implementation (see `conformance!`
//! below), and a new store joins by adding one maker; the Redis store's
//! crate runs them from its own `tests/conformance.rs`.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::Instant;

#[macro_use]
mod cases;

use cases::*;
use trawl_frontier::{Admission, Entry, LocalStore, SpillConfig, StateDir};

// ------------------------------------------------------------ the makers

fn local_memory(setup: &Setup) -> Driver {
    Driver::new(LocalStore::new(setup.config()).unwrap(), None)
}

fn tiny_spill(dir: &Path) -> SpillConfig {
    SpillConfig {
        dir: dir.join("spill"),
        hot_budget: 2,
        chunk_entries: 2,
        // The seen-set goes to disk after three URLs: every case then
        // also checks the tiered seen-set.
        seen_hot_budget: Some(3),
    }
}

fn local_spill(setup: &Setup) -> Driver {
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup.config();
    config.spill = Some(tiny_spill(dir.path()));
    Driver::new(LocalStore::new(config).unwrap(), Some(dir))
}

/// Resumed from a journal that holds the seeds (a crawl interrupted
/// before its first record) and half a line a crash cut off.
fn local_resumed(setup: &Setup) -> Driver {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::create(&dir.path().join("crawl.state"), false).unwrap();
    let mut journal = Vec::new();
    for seed in &setup.seeds {
        Entry::seed(seed.clone()).write_journal_line(&mut journal);
    }
    journal.extend_from_slice(b"1\thttp://a.example/\thttp://a.exa");
    std::fs::write(state.queue_file(), journal).unwrap();
    let state = StateDir::open(state.path()).unwrap();
    let store = LocalStore::resume(setup.config(), state, &HashSet::new(), 0).unwrap();
    Driver::new(store, Some(dir))
}

#[test]
fn the_site_graph_is_not_trivial() {
    let all = reachable(&seeds_ab(), u32::MAX);
    assert!(all.len() > 40, "{}", all.len());
    assert!(reachable(&seeds_ab(), 2).len() < all.len());
}

conformance!(local_memory, local_spill, local_resumed);

// --------------------------------------------------------------- resume

fn journal_lines(state: &StateDir) -> usize {
    std::fs::read_to_string(state.queue_file())
        .unwrap()
        .lines()
        .count()
}

fn queued(admissions: &[Admission]) -> usize {
    admissions
        .iter()
        .filter(|a| **a == Admission::Queued)
        .count()
}

/// Crawls part of the site with a journal, "crashes" with leases out and
/// one page's links added but never synced, resumes, and finishes.
fn resume_after_a_crash(spill: bool, stop_after: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds_ab();
    let setup = Setup::new(&seeds, wide(2));
    let config = || {
        let mut config = setup.config();
        if spill {
            config.spill = Some(tiny_spill(dir.path()));
        }
        config
    };
    let path = dir.path().join("crawl.state");
    let state = StateDir::create(&path, false).unwrap();
    let mut first_config = config();
    first_config.journal = Some(state.clone());
    let driver = Driver::new(LocalStore::new(first_config).unwrap(), None);

    assert_eq!(queued(&driver.add_seeds(&seeds)), 2);
    assert_eq!(journal_lines(&state), 0, "nothing is durable before a sync");
    driver.sync();
    assert_eq!(journal_lines(&state), 2);

    let first = crawl(&driver, 2, Some(stop_after));
    let synced = journal_lines(&state);
    assert_eq!(
        synced as u64,
        driver.store.counts().seen,
        "every queued URL is journaled once (no redirects here)"
    );
    // The crash: one page's links are added but neither synced nor
    // recorded, and the leases out never come back.
    let unsynced = first
        .in_flight
        .iter()
        .map(|lease| queued(&driver.add_links_of(&lease.entry)))
        .sum::<usize>();
    assert_eq!(
        journal_lines(&state),
        synced,
        "unsynced lines stay in memory"
    );
    drop(driver);

    let done: HashSet<u64> = first
        .recorded
        .iter()
        .map(|url| trawl_frontier::fingerprint_str(url))
        .collect();
    let state = StateDir::open(&path).unwrap();
    let store =
        LocalStore::resume(config(), state.clone(), &done, first.recorded.len() as u64).unwrap();
    let driver = Driver::new(store, None);
    assert_eq!(
        queued(&driver.add_seeds(&seeds)),
        0,
        "the seeds are in the journal"
    );
    driver.sync();
    assert_eq!(journal_lines(&state), synced, "nothing new to journal");

    let second = crawl(&driver, 2, None);
    let recorded: BTreeSet<String> = first.recorded.iter().cloned().collect();
    let again = once_each(&second.handed_out);
    assert!(
        again.is_disjoint(&recorded),
        "recorded URLs handed out again: {:?}",
        again.intersection(&recorded).collect::<Vec<_>>()
    );
    for lease in &first.in_flight {
        assert!(
            again.contains(lease.entry.url.as_str()),
            "{} was in flight at the crash and is fetched again",
            lease.entry.url
        );
    }
    let union: BTreeSet<String> = recorded.union(&again).cloned().collect();
    assert_eq!(union, reachable(&seeds, u32::MAX));
    unsynced
}

#[test]
fn a_resumed_crawl_covers_the_site_without_refetching_records() {
    let lost: usize = [0, 1, 5, 17, 40]
        .into_iter()
        .map(|stop_after| resume_after_a_crash(false, stop_after))
        .sum();
    assert!(lost > 0, "some crash lost unsynced journal lines");
}

#[test]
fn a_resumed_crawl_with_a_spill_covers_the_site_without_refetching_records() {
    let lost: usize = [1, 9, 33]
        .into_iter()
        .map(|stop_after| resume_after_a_crash(true, stop_after))
        .sum();
    assert!(lost > 0, "some crash lost unsynced journal lines");
}

#[test]
fn the_journal_grows_only_with_synced_queued_entries() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = vec![page(0, 0)];
    let state = StateDir::create(&dir.path().join("s"), false).unwrap();
    let mut config = Setup::new(&seeds, wide(2)).config();
    config.journal = Some(state.clone());
    let driver = Driver::new(LocalStore::new(config).unwrap(), None);
    driver.add_seeds(&seeds);
    driver.add_seeds(&seeds);
    driver.sync();
    let seed = driver.claim_one(Instant::now());
    let admissions = driver.add_links_of(&seed.entry);
    assert_eq!(journal_lines(&state), 1);
    driver.sync();
    driver.sync();
    let text = std::fs::read_to_string(state.queue_file()).unwrap();
    assert_eq!(text.lines().count(), 1 + queued(&admissions));
    let replayed: Vec<Entry> = text
        .lines()
        .map(|line| Entry::parse_journal_line(line).unwrap())
        .collect();
    assert_eq!(replayed[0], Entry::seed(page(0, 0)));
    assert!(
        replayed[1..]
            .iter()
            .all(|e| e.depth == 1 && e.parent.as_deref() == Some("http://a.example/p0"))
    );
}
