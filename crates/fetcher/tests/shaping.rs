//! Request shaping through the library: the cookie jar and the proxy as a
//! `FetcherConfig` takes them, against the test site and its forward
//! proxy on loopback.

use std::sync::Arc;

use trawl_fetcher::{
    AddressClass, CookieJar, Fetched, Fetcher, FetcherConfig, NetworkPolicy, ProxyConfig,
    RedirectVerdict,
};
use trawl_testsite::{ForwardProxy, SiteConfig, TestSite};
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
