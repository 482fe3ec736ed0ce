//! Request shaping through the library (the cookie jar and the proxy as a
//! `FetcherConfig` takes them) and the body budget, against the test site
//! and its forward proxy on loopback.

use std::sync::Arc;

use trawl_fetcher::{
    AddressClass, BodyBudget, CookieJar, Fetched, Fetcher, FetcherConfig, NetworkPolicy,
    ProxyConfig, RedirectVerdict,
};
use trawl_testsite::{ForwardProxy, PageProfile, SiteConfig, TestSite};
use url::Url;

fn loopback() -> NetworkPolicy {
    NetworkPolicy::default().allow_class(AddressClass::Loopback)
}

async fn get(fetcher: &Fetcher, url: &str) -> Fetched {
    let url = Url::parse(url).expect("test URL");
    fetcher
        .fetch(&url, &mut |_target| RedirectVerdict::Follow)
        .await
}

#[tokio::test]
async fn a_shared_jar_keeps_what_the_site_sets_and_sends_it_back() {
    let site = TestSite::start(SiteConfig::default()).await.unwrap();
    let jar = Arc::new(CookieJar::new());
    let fetcher = Fetcher::new(FetcherConfig {
        network: loopback(),
        cookies: Some(Arc::clone(&jar)),
        ..FetcherConfig::default()
    })
    .unwrap();
    assert_eq!(
        get(&fetcher, &site.url("/fault/cookie/need")).await.status,
        Some(403)
    );
    assert_eq!(
        get(&fetcher, &site.url("/fault/cookie/set")).await.status,
        Some(200)
    );
    assert_eq!(jar.len(), 1, "the .co.uk cookie is refused");
    assert_eq!(
        get(&fetcher, &site.url("/fault/cookie/need")).await.status,
        Some(200)
    );

    let without = Fetcher::new(FetcherConfig {
        network: loopback(),
        cookies: None,
        ..FetcherConfig::default()
    })
    .unwrap();
    get(&without, &site.url("/fault/cookie/set")).await;
    assert_eq!(
        get(&without, &site.url("/fault/cookie/need")).await.status,
        Some(403)
    );
}

#[tokio::test]
async fn a_proxy_config_routes_requests_and_its_exclusions_do_not() {
    let site = TestSite::start(SiteConfig::default()).await.unwrap();
    let proxy = ForwardProxy::start(None).await.unwrap();
    let through = Fetcher::new(FetcherConfig {
        network: loopback(),
        proxy: Some(ProxyConfig::new(&proxy.url()).unwrap()),
        ..FetcherConfig::default()
    })
    .unwrap();
    assert_eq!(get(&through, &site.url("/p/1")).await.status, Some(200));
    let log = proxy.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].target, site.url("/p/1"));

    let direct = Fetcher::new(FetcherConfig {
        network: loopback(),
        proxy: Some(
            ProxyConfig::new(&proxy.url())
                .unwrap()
                .excluding("127.0.0.0/8"),
        ),
        ..FetcherConfig::default()
    })
    .unwrap();
    assert_eq!(get(&direct, &site.url("/p/2")).await.status, Some(200));
    assert_eq!(proxy.requests().len(), 1, "the excluded host went direct");
    assert_eq!(site.hits("/p/2"), 1);
}

/// Ten pages of 600 KB: two do not fit in a 1 MiB budget.
async fn big_pages_site() -> TestSite {
    TestSite::start(SiteConfig {
        pages: 10,
        page_bytes: 600 * 1024,
        profile: PageProfile::Uniform,
        ..SiteConfig::default()
    })
    .await
    .unwrap()
}

/// Fetches `path` on a task of its own and returns once the site has
/// answered the request (the body may still wait to be read).
async fn fetch_answered(
    fetcher: &Fetcher,
    site: &TestSite,
    path: &str,
) -> tokio::task::JoinHandle<Fetched> {
    let task = {
        let fetcher = fetcher.clone();
        let url = site.url(path);
        tokio::spawn(async move { get(&fetcher, &url).await })
    };
    for _ in 0..500 {
        if site.hits(path) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(site.hits(path), 1, "the request for {path} was sent");
    task
}

/// The body budget (not request shaping, but the same library seam): a
/// body is read only once its bytes are free, and they are free again when
/// the body is dropped.
#[tokio::test]
async fn a_body_waits_for_the_budget_until_the_held_one_is_dropped() {
    let site = big_pages_site().await;
    let budget = BodyBudget::new(1024 * 1024);
    let fetcher = Fetcher::new(FetcherConfig {
        network: loopback(),
        body_budget: budget.clone(),
        ..FetcherConfig::default()
    })
    .unwrap();
    let first = get(&fetcher, &site.url("/")).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    let held = first.body.len() as u64;
    assert!(held > 512 * 1024, "a big page: {held} bytes");
    assert!(budget.available() <= budget.bytes() - held);

    // The request reaches the site and is answered; the body is not read
    // while the first one is held.
    let second = fetch_answered(&fetcher, &site, "/p/1").await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!second.is_finished(), "no room for a second big body");

    drop(first);
    let second = second.await.expect("second fetch");
    assert!(second.error.is_none(), "{:?}", second.error);
    assert!(second.body.len() > 512 * 1024);
    drop(second);
    assert_eq!(budget.available(), budget.bytes(), "all of it back");
}

/// Waiting for room in the budget is trawl's own queueing, not the
/// server's slowness: a body that waits five times the request deadline
/// is still read whole once room is free (paused clock: the wait is
/// virtual time).
#[tokio::test(start_paused = true)]
async fn waiting_for_the_budget_does_not_count_toward_the_deadline() {
    let site = big_pages_site().await;
    let budget = BodyBudget::new(1024 * 1024);
    let deadline = std::time::Duration::from_secs(2);
    let fetcher = Fetcher::new(FetcherConfig {
        network: loopback(),
        body_budget: budget.clone(),
        request_timeout: deadline,
        ..FetcherConfig::default()
    })
    .unwrap();
    let first = get(&fetcher, &site.url("/")).await;
    assert!(first.error.is_none(), "{:?}", first.error);

    let second = fetch_answered(&fetcher, &site, "/p/1").await;
    tokio::time::sleep(deadline * 5).await;
    assert!(
        !second.is_finished(),
        "still waiting for room, not timed out"
    );

    drop(first);
    let second = second.await.expect("second fetch");
    assert!(second.error.is_none(), "{:?}", second.error);
    assert!(second.body.len() > 512 * 1024);
}
