//! The network policy in the fetcher, against test sites on loopback only:
//! 127.0.0.1 plays the allowed site, 127.0.0.2 the one that must never
//! see a request. Every blocked case asserts on the blocked site's request
//! log that nothing reached it.

use std::net::IpAddr;
use std::time::Duration;

use trawl_fetcher::{
    AddressClass, ErrorKind, Fetched, Fetcher, FetcherConfig, IpNet, NetworkPolicy,
    RedirectVerdict, Retry,
};
use trawl_testsite::{SiteConfig, TestSite};
use url::Url;

const OTHER: &str = "127.0.0.2";

async fn sites() -> (TestSite, TestSite) {
    let allowed = TestSite::start(SiteConfig::default())
        .await
        .expect("site on 127.0.0.1");
    let other: IpAddr = OTHER.parse().unwrap();
    let blocked = TestSite::start_at(SiteConfig::default(), other)
        .await
        .expect("site on 127.0.0.2");
    (allowed, blocked)
}

fn deny_other() -> NetworkPolicy {
    NetworkPolicy::default()
        .allow_class(AddressClass::Loopback)
        .deny(format!("{OTHER}/32").parse::<IpNet>().unwrap())
}

fn fetcher(network: NetworkPolicy, resolve: Vec<(String, std::net::SocketAddr)>) -> Fetcher {
    Fetcher::new(FetcherConfig {
        network,
        resolve,
        ..FetcherConfig::default()
    })
    .expect("client builds")
}

async fn get(fetcher: &Fetcher, url: &str) -> Fetched {
    let url = Url::parse(url).expect("test URL");
    fetcher
        .fetch(&url, &mut |_target| RedirectVerdict::Follow)
        .await
}

fn blocked_message(fetched: &Fetched) -> &str {
    let error = fetched.error.as_ref().expect("an error");
    assert_eq!(error.kind, ErrorKind::BlockedAddress, "{}", error.message);
    assert_eq!(fetched.retry(), Some(Retry::GiveUp));
    &error.message
}

#[tokio::test]
async fn the_default_policy_sends_nothing_to_loopback() {
    let (site, _other) = sites().await;
    let fetched = get(
        &fetcher(NetworkPolicy::default(), Vec::new()),
        &site.url("/"),
    )
    .await;
    let message = blocked_message(&fetched);
    assert!(message.contains("127.0.0.1 is blocked"), "{message}");
    assert!(message.contains("loopback"), "{message}");
    assert_eq!(fetched.status, None);
    assert!(site.requests().is_empty(), "no request reached the site");
}

#[tokio::test]
async fn an_allowed_class_is_fetched_and_a_denied_address_is_not() {
    let (site, other) = sites().await;
    let fetcher = fetcher(deny_other(), Vec::new());
    let fetched = get(&fetcher, &site.url("/p/1")).await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(200));

    let fetched = get(&fetcher, &other.url("/p/1")).await;
    let message = blocked_message(&fetched);
    assert!(message.contains("denied range 127.0.0.2/32"), "{message}");
    // The IPv4-mapped spelling of the same address is the same address.
    let mapped = format!("http://[::ffff:{OTHER}]:{}/p/2", other.addr().port());
    blocked_message(&get(&fetcher, &mapped).await);
    assert!(other.requests().is_empty(), "nothing reached 127.0.0.2");
}

#[tokio::test]
async fn a_redirect_to_a_denied_address_is_not_followed() {
    let (site, other) = sites().await;
    let fetcher = fetcher(deny_other(), Vec::new());
    let target = other.url("/p/3");
    let fetched = get(
        &fetcher,
        &site.url(&format!("/fault/redirect-to?url={target}")),
    )
    .await;
    blocked_message(&fetched);
    assert_eq!(fetched.final_url.as_str(), target);
    assert_eq!(fetched.redirects.len(), 1);
    assert_eq!(fetched.status, Some(301), "the redirect's status is kept");
    assert_eq!(site.requests().len(), 1);
    assert!(other.requests().is_empty(), "nothing reached 127.0.0.2");
}

#[tokio::test]
async fn a_resolved_name_is_checked_on_its_address() {
    let (site, other) = sites().await;
    let fetcher = fetcher(
        deny_other(),
        vec![
            ("rebound.test".to_owned(), other.addr()),
            ("fine.test".to_owned(), site.addr()),
        ],
    );
    let port = other.addr().port();
    let fetched = get(&fetcher, &format!("http://rebound.test:{port}/p/4")).await;
    let message = blocked_message(&fetched);
    assert!(
        message.contains("rebound.test resolves to 127.0.0.2, blocked by the network policy: it is in the denied range 127.0.0.2/32"),
        "{message}"
    );
    assert!(message.contains("no connection was made"), "{message}");

    // A redirect to the name is caught the same way.
    let hop = format!("http://rebound.test:{port}/p/5");
    let fetched = get(
        &fetcher,
        &site.url(&format!("/fault/redirect-to?url={hop}")),
    )
    .await;
    blocked_message(&fetched);
    assert!(other.requests().is_empty(), "nothing reached 127.0.0.2");

    // And a name resolving to an allowed address is fetched.
    let fine = format!("http://fine.test:{}/p/6", site.addr().port());
    let fetched = get(&fetcher, &fine).await;
    assert_eq!(fetched.error, None);
    assert_eq!(site.hits("/p/6"), 1);
}

#[tokio::test]
async fn seed_classes_open_their_class_except_link_local() {
    let (site, _other) = sites().await;
    let fetcher = fetcher(NetworkPolicy::default(), Vec::new());
    let seed = Url::parse(&site.url("/")).unwrap();
    let learnt = fetcher
        .allow_seed_classes([&seed], Duration::from_secs(5))
        .await;
    assert_eq!(learnt.iter().collect::<Vec<_>>(), [AddressClass::Loopback]);
    assert!(
        fetcher
            .network_policy()
            .classes()
            .contains(AddressClass::Loopback)
    );
    // Copies share the policy (robots.txt and sitemaps use them).
    let copy = fetcher.with_limits(1 << 20, 1);
    let fetched = get(&copy, &site.url("/p/7")).await;
    assert_eq!(fetched.error, None);

    // Link-local stays blocked: checked before anything is sent. fe80::
    // without an interface is also refused by the kernel, so even a broken
    // check would put no packet on any network.
    let fetched = get(&fetcher, "http://[fe80::1]:9/").await;
    let message = blocked_message(&fetched);
    assert!(message.contains("link-local"), "{message}");
}

// On the paused clock: the back-off between attempts would advance it.
#[tokio::test(start_paused = true)]
async fn a_blocked_robots_txt_is_not_asked_for_again() {
    let (_site, other) = sites().await;
    let fetcher = fetcher(deny_other(), Vec::new());
    let robots = trawl_fetcher::RobotsCache::new(&fetcher, "trawl");
    let url = Url::parse(&other.url("/p/1")).unwrap();
    let started = tokio::time::Instant::now();
    let rules = robots.rules_for("other", &url).await;
    assert!(!rules.allowed(&url));
    assert_eq!(rules.refusal_kind(), "blocked_address");
    assert_eq!(started.elapsed(), Duration::ZERO, "no back-off, no retry");
    assert!(other.requests().is_empty());
}
