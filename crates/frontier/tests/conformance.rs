//! The storage seam's contract, checked against every store: the same
//! cases run on each implementation (see `conformance!` at the end), and a
//! new store (Redis) joins by adding one maker.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::runtime::Runtime;
use trawl_frontier::{
    Admission, CanonicalUrl, Claim, Entry, Found, FrontierStore, HostGate, LeaseToken, Limits,
    LocalConfig, LocalStore, Scope, ScopeMode, SpillConfig, StateDir, StoreLease,
};

// ---------------------------------------------------------------- the site

/// Pages per host of the synthetic site.
const PAGES: u32 = 30;
/// The site's hosts; the crawl's seeds are on the first two, so links to
/// the third are out of scope.
const HOSTS: [&str; 3] = ["a.example", "b.example", "c.example"];

fn page(host: usize, number: u32) -> CanonicalUrl {
    CanonicalUrl::parse(&format!("http://{}/p{number}", HOSTS[host])).unwrap()
}

fn locate(url: &CanonicalUrl) -> (usize, u32) {
    let host = HOSTS
        .iter()
        .position(|known| url.host_str() == Some(*known))
        .expect("a site host");
    (host, url.path()[2..].parse().unwrap())
}

/// The links on a page: a few on its own host, some to the next host, and
/// a trap that must never be queued.
fn links_of(url: &CanonicalUrl) -> Vec<CanonicalUrl> {
    let (host, n) = locate(url);
    let mut links = vec![
        page(host, (n * 7 + 1) % PAGES),
        page(host, (n * 3 + 2) % PAGES),
        page(host, (n + 1) % PAGES),
        page(host, n),
    ];
    if n % 5 == 0 {
        links.push(page((host + 1) % HOSTS.len(), n / 2 + 3));
    }
    if n % 4 == 1 {
        let trap = format!("http://{}/cal/next/next/next/next/{n}", HOSTS[host]);
        links.push(CanonicalUrl::parse(&trap).unwrap());
    }
    links
}

/// What a breadth-first crawl of the site from `seeds` reaches, by depth.
fn reachable(seeds: &[CanonicalUrl], max_depth: u32) -> BTreeSet<String> {
    let scope = scope(seeds);
    let mut seen: BTreeSet<String> = seeds.iter().map(|s| s.as_str().to_owned()).collect();
    let mut frontier: Vec<CanonicalUrl> = seeds.to_vec();
    for _ in 0..max_depth {
        if frontier.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for url in &frontier {
            for link in links_of(url) {
                if link.path().starts_with("/p")
                    && scope.allows(&link)
                    && seen.insert(link.as_str().to_owned())
                {
                    next.push(link);
                }
            }
        }
        frontier = next;
    }
    seen
}

fn scope(seeds: &[CanonicalUrl]) -> Scope {
    let mut scope = Scope::new(ScopeMode::Host, Vec::new(), Vec::new());
    for seed in seeds {
        scope.add_seed(seed);
    }
    scope
}

// ------------------------------------------------------------ the makers

/// What a case asks of the store it runs against.
struct Setup {
    seeds: Vec<CanonicalUrl>,
    limits: Limits,
    lease_time: Option<Duration>,
}

impl Setup {
    fn new(seeds: &[CanonicalUrl], limits: Limits) -> Setup {
        Setup {
            seeds: seeds.to_vec(),
            limits,
            lease_time: None,
        }
    }

    fn config(&self) -> LocalConfig {
        let mut config = LocalConfig::new(scope(&self.seeds), self.limits.clone());
        config.lease_time = self.lease_time;
        config
    }
}

type Make = fn(&Setup) -> Driver;

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

// ------------------------------------------------------------ the driver

/// A store and a runtime to drive its futures.
struct Driver {
    runtime: Runtime,
    store: Box<dyn FrontierStore>,
    _dir: Option<TempDir>,
}

fn open_gate() -> impl HostGate {
    |_: &str, _: Instant| Ok::<(), Instant>(())
}

impl Driver {
    fn new(store: impl FrontierStore + 'static, dir: Option<TempDir>) -> Driver {
        Driver {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            store: Box::new(store),
            _dir: dir,
        }
    }

    fn add_seeds(&self, seeds: &[CanonicalUrl]) -> Vec<Admission> {
        let entries = seeds.iter().cloned().map(Entry::seed).collect();
        self.runtime
            .block_on(self.store.add(entries, Found::Seed))
            .unwrap()
    }

    /// Adds the links of the fetched page `entry`.
    fn add_links_of(&self, entry: &Entry) -> Vec<Admission> {
        let parent: Arc<str> = entry.url.as_str().into();
        let entries = links_of(&entry.url)
            .into_iter()
            .map(|url| Entry::link(url, entry.depth + 1, &parent))
            .collect();
        self.runtime
            .block_on(self.store.add(entries, Found::Link))
            .unwrap()
    }

    fn claim_with(&self, max: usize, now: Instant, gate: &dyn HostGate) -> Claim {
        let claim = self
            .runtime
            .block_on(self.store.claim(max, now, gate))
            .unwrap();
        if let Claim::Ready(leases) = &claim {
            assert!(!leases.is_empty() && leases.len() <= max, "{claim:?}");
        }
        claim
    }

    fn claim(&self, max: usize, now: Instant) -> Claim {
        self.claim_with(max, now, &open_gate())
    }

    fn claim_one(&self, now: Instant) -> StoreLease {
        match self.claim(1, now) {
            Claim::Ready(mut leases) => leases.pop().unwrap(),
            other => panic!("expected a lease, got {other:?}"),
        }
    }

    fn sync(&self) {
        self.runtime.block_on(self.store.sync()).unwrap();
    }

    fn requeue_expired(&self, now: Instant) -> u64 {
        self.runtime
            .block_on(self.store.requeue_expired(now))
            .unwrap()
    }
}

/// What one crawl handed out, in order.
#[derive(Debug, Default)]
struct Crawl {
    handed_out: Vec<Entry>,
    /// Pages whose links were added and synced and whose record was
    /// written, in that order.
    recorded: Vec<String>,
    /// Leases still out when the crawl was cut short.
    in_flight: Vec<StoreLease>,
}

/// Claims in batches, keeps several leases out at once and finishes the
/// oldest each round: links added, then synced, then "recorded", then
/// acked, as the crawler does. Stops at `Finished` or after `stop_after`
/// records, and checks the per-host cap all along.
fn crawl(driver: &Driver, cap: u32, stop_after: Option<usize>) -> Crawl {
    let now = Instant::now();
    let mut crawl = Crawl::default();
    let mut out: VecDeque<StoreLease> = VecDeque::new();
    let mut per_host: HashMap<Arc<str>, u32> = HashMap::new();
    for _round in 0..100_000 {
        if stop_after.is_some_and(|stop| crawl.recorded.len() >= stop) {
            crawl.in_flight = out.into();
            return crawl;
        }
        match driver.claim(3, now) {
            Claim::Ready(leases) => {
                for lease in leases {
                    let count = per_host.entry(Arc::clone(&lease.host)).or_default();
                    *count += 1;
                    assert!(*count <= cap, "{} has {count} leases out", lease.host);
                    crawl.handed_out.push(lease.entry.clone());
                    out.push_back(lease);
                }
            }
            Claim::Busy => assert!(!out.is_empty(), "Busy with nothing in flight"),
            Claim::Finished => {
                assert!(out.is_empty(), "Finished with leases out");
                return crawl;
            }
            Claim::WaitUntil(at) => panic!("an open gate never rests a host ({at:?})"),
        }
        if let Some(lease) = out.pop_front() {
            driver.add_links_of(&lease.entry);
            driver.sync();
            crawl.recorded.push(lease.entry.url.as_str().to_owned());
            *per_host.get_mut(&lease.host).unwrap() -= 1;
            driver.store.complete(lease.token);
        }
    }
    panic!("the crawl did not finish");
}

fn urls(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.url.as_str().to_owned()).collect()
}

/// Each URL once; returns them as a set.
fn once_each(entries: &[Entry]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for url in urls(entries) {
        assert!(set.insert(url.clone()), "{url} was handed out twice");
    }
    set
}

fn seeds_ab() -> Vec<CanonicalUrl> {
    vec![page(0, 0), page(1, 0)]
}

fn wide(cap: u32) -> Limits {
    Limits {
        per_host_concurrency: cap,
        ..Limits::default()
    }
}

// -------------------------------------------------------------- the cases

fn the_site_is_crawled_once_each_within_the_host_cap(make: Make) {
    for cap in [1, 2, 4] {
        let seeds = seeds_ab();
        let driver = make(&Setup::new(&seeds, wide(cap)));
        driver.add_seeds(&seeds);
        let crawl = crawl(&driver, cap, None);
        assert_eq!(
            once_each(&crawl.handed_out),
            reachable(&seeds, u32::MAX),
            "cap {cap}"
        );
        let counts = driver.store.counts();
        assert_eq!((counts.queued, counts.in_flight), (0, 0));
    }
}

fn each_host_is_served_breadth_first(make: Make) {
    let seeds = vec![page(0, 0)];
    let driver = make(&Setup::new(&seeds, wide(3)));
    driver.add_seeds(&seeds);
    let crawl = crawl(&driver, 3, None);
    let depths: Vec<u32> = crawl.handed_out.iter().map(|e| e.depth).collect();
    assert!(
        depths.windows(2).all(|pair| pair[0] <= pair[1]),
        "{depths:?}"
    );
    assert_eq!(once_each(&crawl.handed_out), reachable(&seeds, u32::MAX));
}

fn max_pages_is_exact(make: Make) {
    let seeds = seeds_ab();
    let limits = Limits {
        max_pages: 7,
        ..wide(2)
    };
    let driver = make(&Setup::new(&seeds, limits));
    driver.add_seeds(&seeds);
    let crawl = crawl(&driver, 2, None);
    assert_eq!(crawl.handed_out.len(), 7);
    once_each(&crawl.handed_out);
    assert_eq!(driver.store.counts().handed_out, 7);
}

fn max_depth_cuts_where_breadth_first_would(make: Make) {
    for max_depth in [0, 1, 2] {
        let seeds = vec![page(0, 0)];
        let limits = Limits {
            max_depth,
            ..wide(2)
        };
        let driver = make(&Setup::new(&seeds, limits));
        driver.add_seeds(&seeds);
        let crawl = crawl(&driver, 2, None);
        assert!(crawl.handed_out.iter().all(|e| e.depth <= max_depth));
        assert_eq!(
            once_each(&crawl.handed_out),
            reachable(&seeds, max_depth),
            "max_depth {max_depth}"
        );
    }
}

fn a_stale_or_unknown_ack_is_ignored(make: Make) {
    let seeds = vec![page(0, 0), page(0, 1)];
    let driver = make(&Setup::new(&seeds, wide(1)));
    driver.add_seeds(&seeds);
    let now = Instant::now();
    let first = driver.claim_one(now);
    driver.store.complete(first.token);
    let second = driver.claim_one(now);
    assert_ne!(first.token, second.token);
    driver.store.complete(first.token);
    driver.store.complete(LeaseToken::new(u64::MAX));
    assert_eq!(driver.store.counts().in_flight, 1, "no double decrement");
    assert!(
        matches!(driver.claim(4, now), Claim::Busy),
        "the host's one slot is still taken"
    );
    driver.store.complete(second.token);
    assert!(matches!(driver.claim(4, now), Claim::Finished));
}

fn finished_only_when_nothing_is_queued_leased_or_held(make: Make) {
    let seeds = vec![page(0, 0)];
    let driver = make(&Setup::new(&seeds, wide(2)));
    let now = Instant::now();
    driver.store.hold();
    driver.add_seeds(&seeds);
    let seed = driver.claim_one(now);
    assert!(
        matches!(driver.claim(4, now), Claim::Busy),
        "a lease is out"
    );
    driver.store.complete(seed.token);
    assert!(
        matches!(driver.claim(4, now), Claim::Busy),
        "a hold is open"
    );
    let sitemap: Arc<str> = "http://a.example/sitemap.xml".into();
    let from_sitemap = Entry::link(page(0, 9), 0, &sitemap);
    let admitted = driver
        .runtime
        .block_on(driver.store.add(vec![from_sitemap], Found::Link))
        .unwrap();
    assert_eq!(admitted, vec![Admission::Queued]);
    driver.store.release();
    let lease = driver.claim_one(now);
    assert_eq!(lease.entry.url, page(0, 9));
    assert!(matches!(driver.claim(4, now), Claim::Busy));
    driver.store.complete(lease.token);
    assert!(matches!(driver.claim(4, now), Claim::Finished));
}

#[test]
fn the_site_graph_is_not_trivial() {
    let all = reachable(&seeds_ab(), u32::MAX);
    assert!(all.len() > 40, "{}", all.len());
    assert!(reachable(&seeds_ab(), 2).len() < all.len());
}

fn a_gate_refusal_is_a_wait(make: Make) {
    let seeds = seeds_ab();
    let driver = make(&Setup::new(&seeds, wide(2)));
    driver.add_seeds(&seeds);
    let now = Instant::now();
    let later = now + Duration::from_secs(3);
    let a_rests = |host: &str, _: Instant| {
        if host.contains("a.example") {
            Err(later)
        } else {
            Ok(())
        }
    };
    let Claim::Ready(leases) = driver.claim_with(4, now, &a_rests) else {
        panic!("b is open");
    };
    assert_eq!(
        urls(&[leases[0].entry.clone()]),
        vec![page(1, 0).to_string()]
    );
    assert_eq!(leases.len(), 1);
    assert!(matches!(driver.claim_with(4, now, &a_rests), Claim::WaitUntil(at) if at == later));
    let closed = |_: &str, _: Instant| Err(later);
    assert!(matches!(driver.claim_with(4, now, &closed), Claim::WaitUntil(at) if at == later));
    let woken = driver.claim_one(later);
    assert_eq!(woken.entry.url, page(0, 0));
}

fn an_expired_lease_is_handed_out_again_and_its_old_ack_ignored(make: Make) {
    let seeds = vec![page(0, 0)];
    let limits = Limits {
        max_pages: 1,
        ..wide(1)
    };
    let mut setup = Setup::new(&seeds, limits);
    setup.lease_time = Some(Duration::from_secs(10));
    let driver = make(&setup);
    driver.add_seeds(&seeds);
    let start = Instant::now();
    let first = driver.claim_one(start);
    assert_eq!(driver.requeue_expired(start + Duration::from_secs(5)), 0);
    let expired_at = start + Duration::from_secs(10);
    assert_eq!(driver.requeue_expired(expired_at), 1);
    assert_eq!(driver.store.counts().in_flight, 0);
    let again = driver.claim_one(expired_at);
    assert_eq!(again.entry, first.entry, "within max_pages, the same URL");
    assert_ne!(again.token, first.token);
    driver.store.complete(first.token);
    assert_eq!(driver.store.counts().in_flight, 1, "the old ack is stale");
    assert!(matches!(driver.claim(1, expired_at), Claim::Busy));
    driver.store.complete(again.token);
    assert!(matches!(driver.claim(1, expired_at), Claim::Finished));
    assert_eq!(driver.store.counts().handed_out, 1);
}

fn without_a_lease_time_leases_never_expire(make: Make) {
    let seeds = vec![page(0, 0)];
    let driver = make(&Setup::new(&seeds, wide(1)));
    driver.add_seeds(&seeds);
    let start = Instant::now();
    let lease = driver.claim_one(start);
    assert_eq!(
        driver.requeue_expired(start + Duration::from_secs(86_400)),
        0
    );
    assert!(matches!(driver.claim(1, start), Claim::Busy));
    driver.store.complete(lease.token);
    assert!(matches!(driver.claim(1, start), Claim::Finished));
}

fn redirects_are_admitted_once_and_only_in_scope(make: Make) {
    use trawl_frontier::RedirectAdmission;
    let seeds = vec![page(0, 0)];
    let driver = make(&Setup::new(&seeds, wide(1)));
    driver.add_seeds(&seeds);
    let admit = |url: &CanonicalUrl| {
        driver
            .runtime
            .block_on(driver.store.admit_redirect(url))
            .unwrap()
    };
    assert_eq!(admit(&page(0, 5)), RedirectAdmission::Follow);
    assert_eq!(admit(&page(0, 5)), RedirectAdmission::AlreadySeen);
    assert_eq!(admit(&page(0, 0)), RedirectAdmission::AlreadySeen);
    assert_eq!(admit(&page(2, 5)), RedirectAdmission::OutOfScope);
    let parent: Arc<str> = "http://a.example/".into();
    let admitted = driver
        .runtime
        .block_on(
            driver
                .store
                .add(vec![Entry::link(page(0, 5), 1, &parent)], Found::Link),
        )
        .unwrap();
    assert_eq!(admitted, vec![Admission::Seen]);
}

fn stop_hands_out_nothing_more(make: Make) {
    let seeds = vec![page(0, 0), page(0, 1), page(0, 2)];
    let driver = make(&Setup::new(&seeds, wide(1)));
    driver.add_seeds(&seeds);
    let now = Instant::now();
    let lease = driver.claim_one(now);
    driver.runtime.block_on(driver.store.stop()).unwrap();
    assert_eq!(driver.store.counts().queued, 0);
    driver.add_links_of(&lease.entry);
    assert!(matches!(driver.claim(4, now), Claim::Busy));
    driver.store.complete(lease.token);
    assert!(matches!(driver.claim(4, now), Claim::Finished));
}

macro_rules! conformance {
    ($($maker:ident),* $(,)?) => {$(
        mod $maker {
            conformance!(@cases $maker:
                the_site_is_crawled_once_each_within_the_host_cap,
                each_host_is_served_breadth_first,
                max_pages_is_exact,
                max_depth_cuts_where_breadth_first_would,
                a_stale_or_unknown_ack_is_ignored,
                finished_only_when_nothing_is_queued_leased_or_held,
                a_gate_refusal_is_a_wait,
                an_expired_lease_is_handed_out_again_and_its_old_ack_ignored,
                without_a_lease_time_leases_never_expire,
                redirects_are_admitted_once_and_only_in_scope,
                stop_hands_out_nothing_more,
            );
        }
    )*};
    (@cases $maker:ident: $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            super::$case(super::$maker);
        }
    )*};
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
