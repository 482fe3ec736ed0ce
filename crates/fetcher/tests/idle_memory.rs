//! What a kept-alive connection holds while it waits for its next request.
//! A crawl of many hosts keeps one connection per host open between its
//! widely spaced requests, so whatever an idle connection holds is paid
//! once per host. This binary reads every live heap byte from its
//! allocator's statistics to see it.

use std::time::Duration;

use trawl_fetcher::{AddressClass, Fetcher, FetcherConfig, RedirectVerdict};
use trawl_testsite::{PageProfile, SiteConfig, TestSite};
use url::Url;

// The allocator trawl runs with, whose statistics count live bytes.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bytes the program holds allocated now.
fn live_bytes() -> isize {
    tikv_jemalloc_ctl::epoch::advance().expect("jemalloc epoch");
    tikv_jemalloc_ctl::stats::allocated::read().expect("jemalloc stats") as isize
}

const CONNECTIONS: usize = 16;

/// What an idle connection may hold, both halves of it together (the site
/// runs in this process too). hyper's request channel alone took ~14 KiB
/// of the 24 it held before its slots were boxed.
const IDLE_CONNECTION_BUDGET: isize = 16 * 1024;

// One test: the statistics are the whole process's, so a second test
// running beside it would be counted in.
#[tokio::test]
async fn a_kept_alive_connection_holds_little_while_idle() {
    // Small pages never grow a read buffer past its first size: what an
    // idle connection holds then is its fixed state.
    let fixed = held_per_idle_connection(2 * 1024).await;
    assert!(
        fixed < IDLE_CONNECTION_BUDGET,
        "an idle connection holds {fixed} bytes after small bodies \
         (budget {IDLE_CONNECTION_BUDGET})"
    );
    // Big ones grow each connection's buffer to its cap while reading.
    let after_big_bodies = held_per_idle_connection(256 * 1024).await;
    let read_buffer = trawl_fetcher::READ_BUFFER_MAX as isize;
    assert!(
        after_big_bodies - fixed < read_buffer / 4,
        "an idle connection holds {after_big_bodies} bytes after big bodies, \
         {fixed} after small ones (the read buffer's cap is {read_buffer})"
    );
}

/// Live bytes per connection once `CONNECTIONS` bodies of about
/// `page_bytes` were fetched at once and their connections are idle, each
/// kept for reuse.
async fn held_per_idle_connection(page_bytes: usize) -> isize {
    let site = TestSite::start(SiteConfig {
        pages: CONNECTIONS,
        page_bytes,
        profile: PageProfile::Uniform,
        ..SiteConfig::default()
    })
    .await
    .expect("test site starts");
    let mut config = FetcherConfig::default();
    config.network = config.network.allow_class(AddressClass::Loopback);
    let fetcher = Fetcher::new(config).expect("client builds");
    let url = |page: usize| Url::parse(&site.url(&format!("/p/{page}"))).unwrap();

    // Once, so what a first fetch sets up for good is not counted.
    let warm = fetcher
        .fetch(&url(0), &mut |_| RedirectVerdict::Follow)
        .await;
    assert_eq!(warm.status, Some(200));
    drop(warm);
    settle().await;
    let before = live_bytes();
    let connections_before = site.connections();

    // All at once, so each needs a connection of its own.
    let mut fetches = tokio::task::JoinSet::new();
    for page in 0..CONNECTIONS {
        let fetcher = fetcher.clone();
        let target = url(page);
        fetches.spawn(async move {
            fetcher
                .fetch(&target, &mut |_| RedirectVerdict::Follow)
                .await
        });
    }
    while let Some(fetched) = fetches.join_next().await {
        let fetched = fetched.expect("fetch task");
        assert_eq!(fetched.error, None);
        assert!(fetched.body.len() >= page_bytes / 2, "a whole body");
    }
    settle().await;
    let opened = site.connections() - connections_before;
    assert!(
        opened >= CONNECTIONS as u64 / 2,
        "only {opened} connections were opened"
    );
    let held = (live_bytes() - before) / opened as isize;

    let again = fetcher
        .fetch(&url(1), &mut |_| RedirectVerdict::Follow)
        .await;
    assert_eq!(again.error, None);
    assert_eq!(
        site.connections() - connections_before,
        opened,
        "an idle connection was reused"
    );
    held
}

/// Lets the connections' tasks run until they are idle: the client's
/// and the site's halves of each are tasks on this runtime.
async fn settle() {
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
