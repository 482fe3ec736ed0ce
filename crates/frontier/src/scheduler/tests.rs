//! The scheduling core's own tests, driven through a harness that runs the
//! admission rules first, as every store does.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use super::{Frontier, Lease, Pop};
use crate::admission::AdmissionRules;
use crate::canon::CanonicalUrl;
use crate::entry::{Admission, Entry, Limits};
use crate::scope::{Scope, ScopeMode};
use crate::spill::SpillConfig;
use crate::store::Found;

/// The core plus the pure checks: what a store does with one URL.
struct Harness {
    rules: AdmissionRules,
    frontier: Frontier,
}

impl Deref for Harness {
    type Target = Frontier;
    fn deref(&self) -> &Frontier {
        &self.frontier
    }
}

impl DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Frontier {
        &mut self.frontier
    }
}

impl Harness {
    fn new(scope: Scope, limits: Limits) -> Harness {
        Harness {
            rules: AdmissionRules::new(scope, &limits),
            frontier: Frontier::new(limits),
        }
    }

    fn with_spill(scope: Scope, limits: Limits, spill: SpillConfig) -> std::io::Result<Harness> {
        Ok(Harness {
            rules: AdmissionRules::new(scope, &limits),
            frontier: Frontier::with_spill(limits, spill)?,
        })
    }

    fn add(
        &mut self,
        url: &Url,
        entry: impl FnOnce(CanonicalUrl) -> Entry,
        found: Found,
    ) -> Admission {
        let Ok(canonical) = CanonicalUrl::new(url) else {
            return Admission::Invalid;
        };
        let entry = entry(canonical);
        if let Err(refused) = self.rules.check(&entry, found) {
            return refused;
        }
        self.frontier.enqueue(entry)
    }

    fn add_seed(&mut self, url: &Url) -> Admission {
        self.add(url, Entry::seed, Found::Seed)
    }

    fn add_link(&mut self, url: &Url, depth: u32, parent: &Arc<str>) -> Admission {
        self.add(url, |url| Entry::link(url, depth, parent), Found::Link)
    }

    fn restore(&mut self, url: &Url, depth: u32, parent: Option<Arc<str>>, done: bool) -> bool {
        let url = CanonicalUrl::new(url).unwrap();
        self.frontier.restore(Entry { url, depth, parent }, done)
    }

    fn complete(&mut self, lease: Lease) {
        self.frontier.complete(lease.slot);
    }

    fn mark_seen(&mut self, url: &Url) -> bool {
        self.frontier.mark_seen(&CanonicalUrl::new(url).unwrap())
    }

    fn is_seen(&self, url: &Url) -> bool {
        self.frontier.is_seen(&CanonicalUrl::new(url).unwrap())
    }
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn frontier(seeds: &[&str], limits: Limits) -> Harness {
    let mut scope = Scope::new(ScopeMode::Host, Vec::new(), Vec::new());
    for seed in seeds {
        scope.add_seed(&url(seed));
    }
    let mut frontier = Harness::new(scope, limits);
    for seed in seeds {
        assert_eq!(frontier.add_seed(&url(seed)), Admission::Queued);
    }
    frontier
}

fn open(_: &str) -> Result<(), Instant> {
    Ok(())
}

fn pop_ready(frontier: &mut Harness, now: Instant) -> Lease {
    match frontier.pop(now, &mut open) {
        Pop::Ready(lease) => lease,
        other => panic!("expected a lease, got {other:?}"),
    }
}

#[test]
fn each_canonical_url_is_handed_out_once() {
    let mut frontier = frontier(&["http://a.example/"], Limits::default());
    let now = Instant::now();
    let seed = pop_ready(&mut frontier, now);
    let parent: Arc<str> = seed.entry.url.as_str().into();
    for spelling in [
        "http://a.example/x",
        "HTTP://A.example/x#y",
        "http://a.example/./x",
        "http://a.example/",
    ] {
        frontier.add_link(&url(spelling), 1, &parent);
    }
    frontier.complete(seed);
    let x = pop_ready(&mut frontier, now);
    assert_eq!(x.entry.url.as_str(), "http://a.example/x");
    assert_eq!(x.entry.parent.as_deref(), Some("http://a.example/"));
    frontier.complete(x);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
}

#[test]
fn scope_and_depth_are_applied_before_enqueue() {
    let limits = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let mut frontier = frontier(&["http://a.example/"], limits);
    let parent: Arc<str> = "http://a.example/".into();
    assert_eq!(
        frontier.add_link(&url("http://b.example/"), 1, &parent),
        Admission::OutOfScope
    );
    assert_eq!(
        frontier.add_link(&url("http://a.example/deep"), 2, &parent),
        Admission::TooDeep
    );
    assert_eq!(
        frontier.add_link(&url("mailto:x@a.example"), 1, &parent),
        Admission::Invalid
    );
    assert_eq!(
        frontier.add_link(&url("http://a.example/ok"), 1, &parent),
        Admission::Queued
    );
    assert_eq!(frontier.counts().queued, 2);
}

#[test]
fn max_pages_is_exact() {
    let limits = Limits {
        max_pages: 3,
        per_host_concurrency: 10,
        ..Limits::default()
    };
    let mut frontier = frontier(&["http://a.example/"], limits);
    let now = Instant::now();
    let seed = pop_ready(&mut frontier, now);
    let parent: Arc<str> = "http://a.example/".into();
    let admitted: Vec<_> = (0..10)
        .map(|i| frontier.add_link(&url(&format!("http://a.example/{i}")), 1, &parent))
        .collect();
    assert_eq!(
        admitted.iter().filter(|a| **a == Admission::Queued).count(),
        2
    );
    frontier.complete(seed);
    let first = pop_ready(&mut frontier, now);
    let second = pop_ready(&mut frontier, now);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
    frontier.complete(first);
    frontier.complete(second);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
    assert_eq!(frontier.counts().handed_out, 3);
}

#[test]
fn per_host_concurrency_cap_does_not_block_other_hosts() {
    let limits = Limits {
        per_host_concurrency: 1,
        ..Limits::default()
    };
    let mut frontier = frontier(&["http://a.example/", "http://b.example/"], limits);
    let parent: Arc<str> = "http://a.example/".into();
    frontier.add_link(&url("http://a.example/2"), 1, &parent);
    let now = Instant::now();
    let first = pop_ready(&mut frontier, now);
    let second = pop_ready(&mut frontier, now);
    assert_ne!(
        first.host, second.host,
        "the capped host must not be handed out twice"
    );
    assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
    let a_lease = if first.host.contains("a.example") {
        first
    } else {
        second
    };
    frontier.complete(a_lease);
    let third = pop_ready(&mut frontier, now);
    assert_eq!(third.entry.url.as_str(), "http://a.example/2");
}

#[test]
fn resting_host_never_blocks_other_hosts_and_wakes_on_time() {
    let mut frontier = frontier(
        &["http://a.example/", "http://b.example/"],
        Limits::default(),
    );
    let now = Instant::now();
    let later = now + Duration::from_millis(500);
    let mut gate = |host: &str| {
        if host.contains("a.example") {
            Err(later)
        } else {
            Ok(())
        }
    };
    let lease = match frontier.pop(now, &mut gate) {
        Pop::Ready(lease) => lease,
        other => panic!("{other:?}"),
    };
    assert!(lease.host.contains("b.example"));
    match frontier.pop(now, &mut gate) {
        Pop::WaitUntil(at) => assert_eq!(at, later),
        other => panic!("{other:?}"),
    }
    let woken = pop_ready(&mut frontier, later);
    assert!(woken.host.contains("a.example"));
}

#[test]
fn a_gate_refusal_rests_every_url_of_that_host() {
    let mut frontier = frontier(&["http://a.example/"], Limits::default());
    let parent: Arc<str> = "http://a.example/".into();
    frontier.add_link(&url("http://a.example/2"), 1, &parent);
    let now = Instant::now();
    let until = now + Duration::from_secs(5);
    let mut asked = 0;
    let mut resting = |_: &str| {
        asked += 1;
        Err(until)
    };
    assert!(matches!(frontier.pop(now, &mut resting), Pop::WaitUntil(at) if at == until));
    assert_eq!(asked, 1);
    // The host rests: neither of its URLs is offered to the gate again
    // before `until`.
    let mut never = |_: &str| -> Result<(), Instant> { panic!("a resting host was offered") };
    assert!(matches!(frontier.pop(now, &mut never), Pop::WaitUntil(at) if at == until));
    let lease = pop_ready(&mut frontier, until);
    assert_eq!(lease.entry.url.as_str(), "http://a.example/");
}

#[test]
fn each_host_is_served_breadth_first() {
    let limits = Limits {
        per_host_concurrency: 10,
        ..Limits::default()
    };
    let mut frontier = frontier(&["http://a.example/"], limits);
    let now = Instant::now();
    let seed = pop_ready(&mut frontier, now);
    let parent: Arc<str> = "http://a.example/".into();
    frontier.add_link(&url("http://a.example/deep"), 3, &parent);
    frontier.add_link(&url("http://a.example/shallow"), 1, &parent);
    frontier.add_link(&url("http://a.example/middle"), 2, &parent);
    frontier.complete(seed);
    let order: Vec<u32> = (0..3)
        .map(|_| {
            let lease = pop_ready(&mut frontier, now);
            let depth = lease.entry.depth;
            frontier.complete(lease);
            depth
        })
        .collect();
    assert_eq!(order, vec![1, 2, 3]);
}

#[test]
fn deeper_urls_wait_for_shallower_leases_of_their_host() {
    let limits = Limits {
        per_host_concurrency: 10,
        ..Limits::default()
    };
    let mut frontier = frontier(&["http://a.example/", "http://b.example/"], limits);
    let now = Instant::now();
    let a_seed = pop_ready(&mut frontier, now);
    let b_seed = pop_ready(&mut frontier, now);
    let (a_seed, b_seed) = if a_seed.host.contains("a.example") {
        (a_seed, b_seed)
    } else {
        (b_seed, a_seed)
    };
    let parent: Arc<str> = "http://a.example/".into();
    frontier.add_link(&url("http://a.example/child"), 1, &parent);
    // a's depth-0 lease is still out, so its depth-1 URL must wait, and
    // b's outstanding seed does not hold a up once a's seed is back.
    assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
    frontier.complete(a_seed);
    let child = pop_ready(&mut frontier, now);
    assert_eq!(child.entry.url.as_str(), "http://a.example/child");
    frontier.complete(child);
    frontier.complete(b_seed);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
}

#[test]
fn trap_guards_drop_repeating_paths_and_enforce_host_budgets() {
    let limits = Limits {
        max_pages_per_host: 3,
        max_repeated_segments: 2,
        ..Limits::default()
    };
    let mut frontier = frontier(&["http://a.example/"], limits);
    let parent: Arc<str> = "http://a.example/".into();
    assert_eq!(
        frontier.add_link(&url("http://a.example/a/b/a/b/"), 1, &parent),
        Admission::Queued
    );
    assert_eq!(
        frontier.add_link(&url("http://a.example/a/b/a/b/a/"), 1, &parent),
        Admission::Trap
    );
    assert_eq!(
        frontier.add_link(&url("http://a.example/next/next/next/"), 1, &parent),
        Admission::Trap
    );
    assert_eq!(
        frontier.add_link(&url("http://a.example/x"), 1, &parent),
        Admission::Queued
    );
    assert_eq!(
        frontier.add_link(&url("http://a.example/y"), 1, &parent),
        Admission::LimitReached
    );
    assert!(
        !frontier.is_seen(&url("http://a.example/y")),
        "a refused URL is not marked seen"
    );
}

#[test]
fn restore_requeues_unfinished_work_only() {
    let mut scope = Scope::new(ScopeMode::Host, Vec::new(), Vec::new());
    scope.add_seed(&url("http://a.example/"));
    let limits = Limits {
        max_pages: 3,
        ..Limits::default()
    };
    let mut frontier = Harness::new(scope, limits);
    assert!(frontier.restore(&url("http://a.example/"), 0, None, true));
    let parent: Arc<str> = "http://a.example/".into();
    assert!(frontier.restore(
        &url("http://a.example/x"),
        1,
        Some(Arc::clone(&parent)),
        false
    ));
    assert!(!frontier.restore(
        &url("http://a.example/x"),
        1,
        Some(Arc::clone(&parent)),
        false
    ));
    assert!(frontier.restore(&url("http://a.example/y"), 1, Some(parent), false));
    frontier.restore_handed_out(1);
    assert_eq!(
        frontier.add_seed(&url("http://a.example/")),
        Admission::LimitReached
    );
    let now = Instant::now();
    let x = pop_ready(&mut frontier, now);
    assert_eq!(x.entry.url.as_str(), "http://a.example/x");
    assert_eq!(x.entry.parent.as_deref(), Some("http://a.example/"));
    frontier.complete(x);
    let y = pop_ready(&mut frontier, now);
    frontier.complete(y);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
    assert_eq!(frontier.counts().handed_out, 3);
}

#[test]
fn a_hold_keeps_the_crawl_open() {
    let mut frontier = frontier(&["http://a.example/"], Limits::default());
    let now = Instant::now();
    frontier.hold();
    let seed = pop_ready(&mut frontier, now);
    frontier.complete(seed);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Busy));
    let parent: Arc<str> = "http://a.example/sitemap.xml".into();
    frontier.add_link(&url("http://a.example/from-sitemap"), 0, &parent);
    frontier.release();
    let lease = pop_ready(&mut frontier, now);
    frontier.complete(lease);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
}

#[test]
fn spilled_urls_come_back_once_each_in_order() {
    let dir = std::env::temp_dir().join(format!("trawl-spill-test-{}", std::process::id()));
    let mut scope = Scope::new(ScopeMode::Any, Vec::new(), Vec::new());
    scope.add_seed(&url("http://a.example/"));
    let limits = Limits {
        per_host_concurrency: 1,
        ..Limits::default()
    };
    let spill = SpillConfig {
        dir: dir.clone(),
        hot_budget: 4,
        chunk_entries: 3,
        seen_hot_budget: None,
    };
    let mut frontier = Harness::with_spill(scope, limits, spill).unwrap();
    let parent: Arc<str> = "http://a.example/".into();
    for i in 0..40 {
        let host = if i % 2 == 0 { "a" } else { "b" };
        assert_eq!(
            frontier.add_link(&url(&format!("http://{host}.example/{i}")), 1, &parent),
            Admission::Queued
        );
    }
    let spill = frontier.spill.as_ref().unwrap();
    assert!(
        spill.hot_total + spill.buffered_total < 40,
        "URLs were spilled"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "the spill file has no name to leave behind"
    );
    let now = Instant::now();
    let mut order: HashMap<String, Vec<u32>> = HashMap::new();
    while let Pop::Ready(lease) = frontier.pop(now, &mut open) {
        let number: u32 = lease.entry.url.path()[1..].parse().unwrap();
        assert_eq!(lease.entry.parent.as_deref(), Some("http://a.example/"));
        order
            .entry(lease.host.to_string())
            .or_default()
            .push(number);
        frontier.complete(lease);
    }
    assert!(frontier.spill_error().is_none());
    let a = &order["http://a.example:80"];
    let b = &order["http://b.example:80"];
    assert_eq!(
        a,
        &(0..40).step_by(2).collect::<Vec<u32>>(),
        "host a in FIFO order"
    );
    assert_eq!(
        b,
        &(1..40).step_by(2).collect::<Vec<u32>>(),
        "host b in FIFO order"
    );
    assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
    drop(frontier);
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn idle_hosts_are_pruned_and_their_slots_reused() {
    let mut frontier = frontier(
        &["http://a.example/", "http://b.example/"],
        Limits::default(),
    );
    let now = Instant::now();
    let first = pop_ready(&mut frontier, now);
    let second = pop_ready(&mut frontier, now);
    assert_eq!(
        frontier.prune_idle_hosts(now),
        0,
        "hosts with leases out stay"
    );
    frontier.complete(first);
    frontier.complete(second);
    assert_eq!(frontier.prune_idle_hosts(now), 2);
    assert_eq!(frontier.counts().hosts, 0);
    let parent: Arc<str> = "http://a.example/".into();
    assert_eq!(
        frontier.add_link(&url("http://a.example/again"), 1, &parent),
        Admission::Queued
    );
    assert_eq!(
        frontier.add_link(&url("http://a.example/"), 1, &parent),
        Admission::Seen,
        "the seen-set outlives pruning"
    );
    assert_eq!(frontier.hosts.len(), 2, "the slot was reused");
    let lease = pop_ready(&mut frontier, now);
    assert_eq!(lease.entry.url.as_str(), "http://a.example/again");
    frontier.complete(lease);
    assert!(matches!(frontier.pop(now, &mut open), Pop::Finished));
}

#[test]
fn redirect_targets_marked_seen_are_not_queued_again() {
    let mut frontier = frontier(&["http://a.example/"], Limits::default());
    assert!(frontier.mark_seen(&url("http://a.example/final")));
    assert!(!frontier.mark_seen(&url("http://a.example/final#x")));
    let parent: Arc<str> = "http://a.example/".into();
    assert_eq!(
        frontier.add_link(&url("http://a.example/final"), 1, &parent),
        Admission::Seen
    );
}
