//! The fetcher against the shared test site: real sockets on 127.0.0.1,
//! every fault endpoint that a crawl meets in the wild.

use std::time::Duration;

use trawl_fetcher::{
    AddressClass, ErrorKind, Fetched, Fetcher, FetcherConfig, RedirectVerdict, Retry, StopReason,
};
use trawl_testsite::{SiteConfig, TestSite};
use url::Url;

async fn site() -> TestSite {
    TestSite::start(SiteConfig::default())
        .await
        .expect("test site starts")
}

/// The test site is on loopback, which the network policy allows only
/// when a crawl's seeds are there too: these tests allow it the same way.
fn fetcher(mut config: FetcherConfig) -> Fetcher {
    config.network = config.network.allow_class(AddressClass::Loopback);
    Fetcher::new(config).expect("client builds")
}

fn url(site: &TestSite, path: &str) -> Url {
    Url::parse(&site.url(path)).expect("site URL parses")
}

async fn get(fetcher: &Fetcher, url: &Url) -> Fetched {
    fetcher
        .fetch(url, &mut |_target| RedirectVerdict::Follow)
        .await
}

fn kind(fetched: &Fetched) -> Option<ErrorKind> {
    fetched.error.as_ref().map(|error| error.kind)
}

#[tokio::test]
async fn a_page_is_fetched_with_its_facts() {
    let site = site().await;
    let target = url(&site, "/p/1");
    let fetched = get(&fetcher(FetcherConfig::default()), &target).await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(200));
    assert_eq!(fetched.content_type.as_deref(), Some("text/html"));
    assert_eq!(fetched.charset.as_deref(), Some("utf-8"));
    assert_eq!(fetched.final_url, target);
    assert!(fetched.redirects.is_empty());
    assert!(fetched.stopped_redirect.is_none());
    let body = String::from_utf8_lossy(&fetched.body);
    assert!(body.contains("<html"), "body: {body}");
    assert_eq!(fetched.retry(), None);
    assert_eq!(site.hits("/p/1"), 1);
}

#[tokio::test]
async fn the_user_agent_is_sent() {
    let site = site().await;
    let config = FetcherConfig {
        user_agent: "trawl-test/9.9 (+https://example.invalid/bot)".to_owned(),
        ..FetcherConfig::default()
    };
    let fetched = get(&fetcher(config), &url(&site, "/")).await;
    assert_eq!(fetched.status, Some(200));
    let requests = site.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].user_agent.as_deref(),
        Some("trawl-test/9.9 (+https://example.invalid/bot)")
    );
}

#[tokio::test]
async fn the_default_user_agent_names_trawl_and_its_version() {
    let site = site().await;
    get(&fetcher(FetcherConfig::default()), &url(&site, "/")).await;
    let agent = site.requests()[0].user_agent.clone();
    assert_eq!(agent, Some(format!("trawl/{}", env!("CARGO_PKG_VERSION"))));
}

#[tokio::test]
async fn not_found_is_an_http_error_with_the_body() {
    let site = site().await;
    let target = url(&site, "/fault/status/404");
    let fetched = get(&fetcher(FetcherConfig::default()), &target).await;
    assert_eq!(fetched.status, Some(404));
    let error = fetched.error.as_ref().expect("404 is an error");
    assert_eq!(error.kind, ErrorKind::Http);
    assert!(error.message.contains("404 Not Found"), "{}", error.message);
    assert!(error.message.contains(target.as_str()), "{}", error.message);
    assert!(String::from_utf8_lossy(&fetched.body).contains("Status 404"));
    assert_eq!(fetched.retry(), Some(Retry::GiveUp));
}

#[tokio::test]
async fn service_unavailable_is_retried_and_recovers() {
    let site = site().await;
    let fetcher = fetcher(FetcherConfig::default());
    let target = url(&site, "/fault/flaky/unit?fail=1");
    let first = get(&fetcher, &target).await;
    assert_eq!(first.status, Some(503));
    assert_eq!(kind(&first), Some(ErrorKind::Http));
    assert_eq!(first.retry(), Some(Retry::Backoff));
    let second = get(&fetcher, &target).await;
    assert_eq!(second.status, Some(200));
    assert_eq!(second.error, None);
}

#[tokio::test]
async fn too_many_requests_carries_the_retry_after_hint() {
    let site = site().await;
    let target = url(&site, "/fault/retry-after/unit?secs=7");
    let fetched = get(&fetcher(FetcherConfig::default()), &target).await;
    assert_eq!(fetched.status, Some(429));
    assert_eq!(kind(&fetched), Some(ErrorKind::Http));
    assert_eq!(fetched.retry(), Some(Retry::After(Duration::from_secs(7))));
}

#[tokio::test]
async fn a_redirect_chain_is_followed_hop_by_hop() {
    let site = site().await;
    let start = url(&site, "/fault/redirect-chain/3");
    let mut asked = Vec::new();
    let fetched = fetcher(FetcherConfig::default())
        .fetch(&start, &mut |target| {
            asked.push(target.path().to_owned());
            RedirectVerdict::Follow
        })
        .await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(200));
    assert_eq!(fetched.final_url, url(&site, "/fault/redirect-chain/0"));
    let hops: Vec<&str> = fetched.redirects.iter().map(Url::path).collect();
    assert_eq!(
        hops,
        [
            "/fault/redirect-chain/3",
            "/fault/redirect-chain/2",
            "/fault/redirect-chain/1"
        ]
    );
    assert_eq!(
        asked,
        [
            "/fault/redirect-chain/2",
            "/fault/redirect-chain/1",
            "/fault/redirect-chain/0"
        ]
    );
    assert!(String::from_utf8_lossy(&fetched.body).contains("Chain end"));
}

#[tokio::test]
async fn exactly_max_redirects_hops_are_allowed() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/redirect-chain/10"),
    )
    .await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.redirects.len(), 10);
}

#[tokio::test]
async fn a_long_chain_is_too_many_redirects() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/redirect-chain/12"),
    )
    .await;
    assert_eq!(kind(&fetched), Some(ErrorKind::TooManyRedirects));
    assert_eq!(fetched.status, Some(302));
    assert_eq!(fetched.redirects.len(), 10);
    assert_eq!(fetched.final_url, url(&site, "/fault/redirect-chain/2"));
    assert_eq!(
        site.hits("/fault/redirect-chain/1"),
        0,
        "the hop past the limit is not requested"
    );
    assert_eq!(fetched.retry(), Some(Retry::GiveUp));
}

#[tokio::test]
async fn a_redirect_loop_is_caught_without_asking_the_caller() {
    let site = site().await;
    let mut asked = 0;
    let fetched = fetcher(FetcherConfig::default())
        .fetch(&url(&site, "/fault/redirect-loop"), &mut |_| {
            asked += 1;
            RedirectVerdict::Follow
        })
        .await;
    let error = fetched.error.as_ref().expect("a loop is an error");
    assert_eq!(error.kind, ErrorKind::TooManyRedirects);
    assert!(error.message.contains("loop"), "{}", error.message);
    assert_eq!(asked, 0);
    assert_eq!(site.hits("/fault/redirect-loop"), 1);
}

#[tokio::test]
async fn a_stopped_redirect_is_reported_not_followed() {
    let site = site().await;
    let start = url(&site, "/fault/redirect-chain/3");
    let fetched = fetcher(FetcherConfig::default())
        .fetch(&start, &mut |_| {
            RedirectVerdict::Stop(StopReason::OutOfScope)
        })
        .await;
    let next = url(&site, "/fault/redirect-chain/2");
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(302));
    assert_eq!(
        fetched.stopped_redirect,
        Some((next.clone(), StopReason::OutOfScope))
    );
    assert_eq!(fetched.headers.location, Some(next));
    assert_eq!(fetched.final_url, start);
    assert!(fetched.redirects.is_empty());
    assert_eq!(site.hits("/fault/redirect-chain/2"), 0);
}

#[tokio::test]
async fn a_redirect_to_another_scheme_is_refused() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/redirect-to?url=ftp://127.0.0.1/file"),
    )
    .await;
    assert_eq!(kind(&fetched), Some(ErrorKind::UnsupportedScheme));
    assert_eq!(fetched.status, Some(301));
}

#[tokio::test]
async fn a_huge_body_stops_at_the_cap() {
    let site = site().await;
    let cap = 64 * 1024;
    let config = FetcherConfig {
        max_body_bytes: cap,
        ..FetcherConfig::default()
    };
    let fetched = get(&fetcher(config), &url(&site, "/fault/huge?bytes=5000000")).await;
    let error = fetched.error.as_ref().expect("over the cap");
    assert_eq!(error.kind, ErrorKind::BodyTooLarge);
    assert!(error.message.contains("65536"), "{}", error.message);
    assert_eq!(fetched.status, Some(200));
    assert_eq!(fetched.body.len() as u64, cap);
    assert_eq!(fetched.retry(), Some(Retry::GiveUp));
}

#[tokio::test]
async fn a_body_exactly_at_the_cap_is_whole() {
    let site = site().await;
    let config = FetcherConfig {
        max_body_bytes: 10_000,
        ..FetcherConfig::default()
    };
    let fetched = get(&fetcher(config), &url(&site, "/fault/huge?bytes=10000")).await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.body.len(), 10_000);
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_cap_on_decompressed_bytes() {
    let site = site().await;
    let cap = 1024 * 1024;
    let config = FetcherConfig {
        max_body_bytes: cap,
        ..FetcherConfig::default()
    };
    let fetched = get(
        &fetcher(config),
        &url(&site, "/fault/gzip-bomb?bytes=104857600"),
    )
    .await;
    assert_eq!(kind(&fetched), Some(ErrorKind::BodyTooLarge));
    assert_eq!(fetched.body.len() as u64, cap);
    assert!(fetched.body.iter().all(|&byte| byte == 0));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let target = Url::parse(&format!("http://127.0.0.1:{port}/")).expect("url");
    let fetched = get(&fetcher(FetcherConfig::default()), &target).await;
    let error = fetched.error.as_ref().expect("refused");
    assert_eq!(error.kind, ErrorKind::Connect, "{}", error.message);
    assert!(error.message.contains(target.as_str()), "{}", error.message);
    assert_eq!(fetched.status, None);
    assert_eq!(fetched.retry(), Some(Retry::Backoff));
}

#[tokio::test]
async fn slow_headers_time_out() {
    let site = site().await;
    let config = FetcherConfig {
        read_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(300),
        ..FetcherConfig::default()
    };
    let fetched = get(&fetcher(config), &url(&site, "/fault/slow-headers?ms=5000")).await;
    assert_eq!(
        kind(&fetched),
        Some(ErrorKind::Timeout),
        "{:?}",
        fetched.error
    );
    assert_eq!(fetched.status, None);
    assert_eq!(fetched.retry(), Some(Retry::Backoff));
}

#[tokio::test]
async fn a_dripping_body_hits_the_overall_deadline() {
    let site = site().await;
    let config = FetcherConfig {
        // Each byte arrives well within the idle timeout: only the overall
        // deadline can end this.
        read_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_millis(400),
        ..FetcherConfig::default()
    };
    let fetched = get(&fetcher(config), &url(&site, "/fault/drip?bytes=100&ms=50")).await;
    assert_eq!(
        kind(&fetched),
        Some(ErrorKind::Timeout),
        "{:?}",
        fetched.error
    );
    assert_eq!(fetched.status, Some(200));
    assert!(fetched.body.len() < 100);
}

#[tokio::test]
async fn a_dripping_body_hits_the_idle_timeout() {
    let site = site().await;
    let config = FetcherConfig {
        read_timeout: Duration::from_millis(100),
        request_timeout: Duration::from_secs(20),
        ..FetcherConfig::default()
    };
    let fetched = get(
        &fetcher(config),
        &url(&site, "/fault/drip?bytes=10&ms=2000"),
    )
    .await;
    assert_eq!(
        kind(&fetched),
        Some(ErrorKind::Timeout),
        "{:?}",
        fetched.error
    );
}

#[tokio::test]
async fn a_truncated_body_is_a_decode_error_with_what_arrived() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/truncated"),
    )
    .await;
    assert_eq!(
        kind(&fetched),
        Some(ErrorKind::Decode),
        "{:?}",
        fetched.error
    );
    assert_eq!(fetched.status, Some(200));
    assert!(fetched.body.len() < 1000);
    assert_eq!(fetched.retry(), Some(Retry::Backoff));
}

#[tokio::test]
async fn bad_chunking_is_a_decode_error() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/bad-chunked"),
    )
    .await;
    assert_eq!(
        kind(&fetched),
        Some(ErrorKind::Decode),
        "{:?}",
        fetched.error
    );
}

#[tokio::test]
async fn a_reset_connection_is_an_io_error() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/reset"),
    )
    .await;
    assert_eq!(kind(&fetched), Some(ErrorKind::Io), "{:?}", fetched.error);
    assert_eq!(fetched.status, None);
    assert_eq!(fetched.retry(), Some(Retry::Backoff));
}

#[tokio::test]
async fn huge_headers_are_an_error_not_a_crash() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/huge-headers"),
    )
    .await;
    let error = fetched.error.as_ref().expect("headers too large");
    assert_eq!(error.kind, ErrorKind::HeadersTooLarge, "{}", error.message);
    assert!(!error.message.is_empty());
    assert_eq!(fetched.status, None);
}

/// A connection's read buffer stops growing at about `READ_BUFFER_MAX`
/// (hyper reads into whatever the buffer holds, up to twice that), and a
/// response head must fit in it: half the cap is read, two and a half
/// times it is refused, where hyper's own default (~400 KB) reads both.
#[tokio::test]
async fn response_heads_are_read_up_to_the_read_buffer_cap() {
    let site = site().await;
    let fetcher = fetcher(FetcherConfig::default());
    let cap_kib = (trawl_fetcher::READ_BUFFER_MAX / 1024) as u64;
    let under = get(
        &fetcher,
        &url(&site, &format!("/fault/huge-headers?kib={}", cap_kib / 2)),
    )
    .await;
    assert_eq!(under.error, None);
    assert_eq!(under.status, Some(200));
    let over_kib = cap_kib * 5 / 2;
    assert!(
        over_kib < 400,
        "the refused head must be one hyper's default reads"
    );
    let over = get(
        &fetcher,
        &url(&site, &format!("/fault/huge-headers?kib={over_kib}")),
    )
    .await;
    let error = over
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("a {over_kib} KiB head was read: {:?}", over.status));
    assert_eq!(error.kind, ErrorKind::HeadersTooLarge, "{}", error.message);
}

#[tokio::test]
async fn a_missing_content_type_is_none() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/no-content-type"),
    )
    .await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.content_type, None);
    assert_eq!(fetched.charset, None);
    assert!(!fetched.body.is_empty());
}

#[tokio::test]
async fn the_x_robots_tag_header_is_kept() {
    let site = site().await;
    let fetched = get(
        &fetcher(FetcherConfig::default()),
        &url(&site, "/fault/x-robots-nofollow"),
    )
    .await;
    assert_eq!(fetched.headers.x_robots_tag.as_deref(), Some("nofollow"));
}

#[tokio::test]
async fn nothing_is_sent_for_an_unsupported_scheme_or_a_long_url() {
    let site = site().await;
    let fetcher = fetcher(FetcherConfig {
        max_url_len: 100,
        ..FetcherConfig::default()
    });
    let ftp = Url::parse("ftp://127.0.0.1/file").expect("url");
    assert_eq!(
        kind(&get(&fetcher, &ftp).await),
        Some(ErrorKind::UnsupportedScheme)
    );
    let long = url(&site, &format!("/p/1?{}", "q".repeat(200)));
    let fetched = get(&fetcher, &long).await;
    assert_eq!(kind(&fetched), Some(ErrorKind::UrlTooLong));
    assert_eq!(fetched.status, None);
    assert!(site.requests().is_empty());
}

#[tokio::test]
async fn resolve_overrides_send_a_name_to_a_chosen_address() {
    let site = site().await;
    let config = FetcherConfig {
        resolve: vec![("trawl.test".to_owned(), site.addr())],
        ..FetcherConfig::default()
    };
    let port = site.addr().port();
    let target = Url::parse(&format!("http://trawl.test:{port}/p/2")).expect("url");
    let fetched = get(&fetcher(config), &target).await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(200));
    let host = site.requests()[0].host.clone();
    assert_eq!(host, Some(format!("trawl.test:{port}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_run_concurrently_on_spawned_tasks() {
    let site = site().await;
    let fetcher = fetcher(FetcherConfig::default());
    let mut tasks = tokio::task::JoinSet::new();
    for page in 1..=20 {
        let fetcher = fetcher.clone();
        let target = url(&site, &format!("/p/{page}"));
        // Spawning proves the fetch future is Send, which the binary needs.
        tasks.spawn(async move {
            fetcher
                .fetch(&target, &mut |_| RedirectVerdict::Follow)
                .await
        });
    }
    let mut ok = 0;
    while let Some(joined) = tasks.join_next().await {
        let fetched = joined.expect("task does not panic");
        assert_eq!(fetched.error, None, "{}", fetched.final_url);
        ok += 1;
    }
    assert_eq!(ok, 20);
}

#[tokio::test]
async fn a_second_fetcher_in_one_process_builds() {
    // The rustls provider is installed once per process; the second
    // install attempt must be harmless.
    let _first = fetcher(FetcherConfig::default());
    let _second = fetcher(FetcherConfig::default());
}

#[tokio::test]
async fn a_closing_copy_asks_for_a_connection_per_request() {
    let site = site().await;
    let config = FetcherConfig {
        keep_headers: true,
        ..FetcherConfig::default()
    };
    let closing = fetcher(config).closing_connections();
    for page in 1..=3 {
        let fetched = get(&closing, &url(&site, &format!("/p/{page}"))).await;
        assert_eq!(fetched.status, Some(200));
        // What an archive records is what was sent.
        assert!(
            fetched.exchanges[0]
                .request_headers
                .contains(&("connection".to_owned(), "close".to_owned())),
            "{:?}",
            fetched.exchanges[0].request_headers
        );
    }
    for request in site.requests() {
        assert!(
            request
                .headers
                .contains(&("connection".to_owned(), "close".to_owned())),
            "{:?}",
            request.headers
        );
    }
    // The site closes after each answer: three requests, three connections.
    assert_eq!(site.connections(), 3);
}
