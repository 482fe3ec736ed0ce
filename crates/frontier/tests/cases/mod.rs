//! The storage seam's contract as cases any store can be run through:
//! the synthetic site, a driver, the cases, and `conformance!`, which
//! makes one test per case for each store maker. Shared by the embedded
//! store's suite (`tests/conformance.rs`) and every other store's (the
//! Redis store includes this file from its own crate).
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::runtime::Runtime;
use trawl_frontier::{
    Admission, CanonicalUrl, Claim, Entry, Found, FrontierStore, HostGate, LeaseToken, Limits,
    LocalConfig, Scope, ScopeMode, StoreLease,
};

// ---------------------------------------------------------------- the site

/// Pages per host of the synthetic site.
pub const PAGES: u32 = 30;
/// The site's hosts; the crawl's seeds are on the first two, so links to
/// the third are out of scope.
pub const HOSTS: [&str; 3] = ["a.example", "b.example", "c.example"];

pub fn page(host: usize, number: u32) -> CanonicalUrl {
    CanonicalUrl::parse(&format!("http://{}/p{number}", HOSTS[host])).unwrap()
}

pub fn locate(url: &CanonicalUrl) -> (usize, u32) {
    let host = HOSTS
        .iter()
        .position(|known| url.host_str() == Some(*known))
        .expect("a site host");
    (host, url.path()[2..].parse().unwrap())
}

/// The links on a page: a few on its own host, some to the next host, and
/// a trap that must never be queued.
pub fn links_of(url: &CanonicalUrl) -> Vec<CanonicalUrl> {
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
pub fn reachable(seeds: &[CanonicalUrl], max_depth: u32) -> BTreeSet<String> {
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

pub fn scope(seeds: &[CanonicalUrl]) -> Scope {
    let mut scope = Scope::new(ScopeMode::Host, Vec::new(), Vec::new());
    for seed in seeds {
        scope.add_seed(seed);
    }
    scope
}

// ------------------------------------------------------------ the makers

/// What a case asks of the store it runs against.
pub struct Setup {
    pub seeds: Vec<CanonicalUrl>,
    pub limits: Limits,
    pub lease_time: Option<Duration>,
}

impl Setup {
    pub fn new(seeds: &[CanonicalUrl], limits: Limits) -> Setup {
        Setup {
            seeds: seeds.to_vec(),
            limits,
            lease_time: None,
        }
    }

    pub fn config(&self) -> LocalConfig {
        let mut config = LocalConfig::new(scope(&self.seeds), self.limits.clone());
        config.lease_time = self.lease_time;
        config
    }
}

pub type Make = fn(&Setup) -> Driver;

// ------------------------------------------------------------ the driver

/// A store and a runtime to drive its futures.
pub struct Driver {
    pub runtime: Runtime,
    pub store: Box<dyn FrontierStore>,
    /// Kept alive while the store is: a temporary folder, a server.
    _guard: Option<Box<dyn std::any::Any>>,
}

pub fn open_gate() -> impl HostGate {
    |_: &str, _: Instant| Ok::<(), Instant>(())
}

impl Driver {
    pub fn new(store: impl FrontierStore + 'static, dir: Option<TempDir>) -> Driver {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let guard = dir.map(|dir| Box::new(dir) as Box<dyn std::any::Any>);
        Driver::with_runtime(runtime, Box::new(store), guard)
    }

    /// A store built inside `runtime` (a networked store's connection
    /// lives there), kept with whatever must outlive it.
    pub fn with_runtime(
        runtime: Runtime,
        store: Box<dyn FrontierStore>,
        guard: Option<Box<dyn std::any::Any>>,
    ) -> Driver {
        Driver {
            runtime,
            store,
            _guard: guard,
        }
    }

    pub fn add_seeds(&self, seeds: &[CanonicalUrl]) -> Vec<Admission> {
        let entries = seeds.iter().cloned().map(Entry::seed).collect();
        self.runtime
            .block_on(self.store.add(entries, Found::Seed))
            .unwrap()
    }

    /// Adds the links of the fetched page `entry`.
    pub fn add_links_of(&self, entry: &Entry) -> Vec<Admission> {
        let parent: Arc<str> = entry.url.as_str().into();
        let entries = links_of(&entry.url)
            .into_iter()
            .map(|url| Entry::link(url, entry.depth + 1, &parent))
            .collect();
        self.runtime
            .block_on(self.store.add(entries, Found::Link))
            .unwrap()
    }

    pub fn claim_with(&self, max: usize, now: Instant, gate: &dyn HostGate) -> Claim {
        let claim = self
            .runtime
            .block_on(self.store.claim(max, now, gate))
            .unwrap();
        if let Claim::Ready(leases) = &claim {
            assert!(!leases.is_empty() && leases.len() <= max, "{claim:?}");
        }
        claim
    }

    pub fn claim(&self, max: usize, now: Instant) -> Claim {
        self.claim_with(max, now, &open_gate())
    }

    pub fn claim_one(&self, now: Instant) -> StoreLease {
        match self.claim(1, now) {
            Claim::Ready(mut leases) => leases.pop().unwrap(),
            other => panic!("expected a lease, got {other:?}"),
        }
    }

    pub fn sync(&self) {
        self.runtime.block_on(self.store.sync()).unwrap();
    }

    pub fn requeue_expired(&self, now: Instant) -> u64 {
        self.runtime
            .block_on(self.store.requeue_expired(now))
            .unwrap()
    }
}

/// What one crawl handed out, in order.
#[derive(Debug, Default)]
pub struct Crawl {
    pub handed_out: Vec<Entry>,
    /// Pages whose links were added and synced and whose record was
    /// written, in that order.
    pub recorded: Vec<String>,
    /// Leases still out when the crawl was cut short.
    pub in_flight: Vec<StoreLease>,
}

/// Claims in batches, keeps several leases out at once and finishes the
/// oldest each round: links added, then synced, then "recorded", then
/// acked, as the crawler does. Stops at `Finished` or after `stop_after`
/// records, and checks the per-host cap all along.
pub fn crawl(driver: &Driver, cap: u32, stop_after: Option<usize>) -> Crawl {
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

pub fn urls(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.url.as_str().to_owned()).collect()
}

/// Each URL once; returns them as a set.
pub fn once_each(entries: &[Entry]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for url in urls(entries) {
        assert!(set.insert(url.clone()), "{url} was handed out twice");
    }
    set
}

pub fn seeds_ab() -> Vec<CanonicalUrl> {
    vec![page(0, 0), page(1, 0)]
}

pub fn wide(cap: u32) -> Limits {
    Limits {
        per_host_concurrency: cap,
        ..Limits::default()
    }
}

// -------------------------------------------------------------- the cases

pub fn the_site_is_crawled_once_each_within_the_host_cap(make: Make) {
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

pub fn each_host_is_served_breadth_first(make: Make) {
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

pub fn max_pages_is_exact(make: Make) {
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

pub fn max_depth_cuts_where_breadth_first_would(make: Make) {
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

pub fn a_stale_or_unknown_ack_is_ignored(make: Make) {
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

pub fn finished_only_when_nothing_is_queued_leased_or_held(make: Make) {
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

pub fn a_gate_refusal_is_a_wait(make: Make) {
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

pub fn an_expired_lease_is_handed_out_again_and_its_old_ack_ignored(make: Make) {
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

pub fn without_a_lease_time_leases_never_expire(make: Make) {
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

pub fn redirects_are_admitted_once_and_only_in_scope(make: Make) {
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

pub fn stop_hands_out_nothing_more(make: Make) {
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
