//! TLS against the test site's HTTPS mode (loopback, a CA made by the
//! test): certificates are verified by default, a failure is a `tls`
//! error a person can act on, `extra_roots` trusts a CA, and ALPN gives
//! HTTP/2 or HTTP/1.1 as the server offers.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trawl_fetcher::{
    AddressClass, ErrorKind, Fetched, Fetcher, FetcherConfig, RedirectVerdict, Retry, parse_ca_pem,
};
use trawl_testsite::{SiteConfig, TestSite, TlsConfig};
use url::Url;

async fn tls_site(tls: TlsConfig) -> TestSite {
    let config = SiteConfig {
        pages: 5,
        ..SiteConfig::default()
    };
    TestSite::start_tls(config, tls)
        .await
        .expect("test site starts")
}

/// Loopback allowed, as a crawl with seeds there would.
fn fetcher(mut config: FetcherConfig) -> Fetcher {
    config.network = config.network.allow_class(AddressClass::Loopback);
    Fetcher::new(config).expect("client builds")
}

/// Trusts `site`'s CA, keeps every exchange (for the HTTP version).
fn trusting(site: &TestSite) -> FetcherConfig {
    let pem = site.ca_pem().expect("HTTPS mode has a CA");
    FetcherConfig {
        extra_roots: parse_ca_pem(pem.as_bytes()).expect("the CA parses"),
        keep_headers: true,
        ..FetcherConfig::default()
    }
}

async fn get(fetcher: &Fetcher, url: &str) -> Fetched {
    let url = Url::parse(url).expect("URL");
    fetcher.fetch(&url, &mut |_| RedirectVerdict::Follow).await
}

fn tls_message(fetched: &Fetched) -> String {
    let error = fetched.error.as_ref().expect("an error");
    assert_eq!(error.kind, ErrorKind::Tls, "{error:?}");
    error.message.clone()
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error_that_says_what_to_do() {
    let site = tls_site(TlsConfig::default()).await;
    let url = site.url("/");
    let fetched = get(&fetcher(FetcherConfig::default()), &url).await;
    let message = tls_message(&fetched);
    assert!(
        message.starts_with(&format!("{url}: the server's certificate is not trusted: it is self-signed or issued by a certificate authority")),
        "{message}"
    );
    assert!(message.contains("pass --ca-cert FILE"), "{message}");
    assert!(
        message.ends_with("(invalid peer certificate: UnknownIssuer)"),
        "{message}"
    );
    assert_eq!(fetched.status, None);
    assert_eq!(
        fetched.retry(),
        Some(Retry::GiveUp),
        "a certificate does not heal"
    );
    assert!(site.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_trusted_ca_gives_http2_through_alpn() {
    let site = tls_site(TlsConfig::default()).await;
    let fetcher = fetcher(trusting(&site));
    let fetched = get(&fetcher, &site.url("/p/1")).await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(200));
    assert_eq!(fetched.content_type.as_deref(), Some("text/html"));
    let body = String::from_utf8_lossy(&fetched.body);
    assert!(body.contains("<title>Page 1"), "{body}");
    assert_eq!(fetched.exchanges.len(), 1);
    assert_eq!(fetched.exchanges[0].version, reqwest::Version::HTTP_2);
    // Redirects and a gzip body over HTTP/2, on the same connection.
    let chain = get(&fetcher, &site.url("/fault/redirect-chain/2")).await;
    assert_eq!(chain.error, None);
    assert_eq!(chain.redirects.len(), 2);
    assert!(
        chain
            .exchanges
            .iter()
            .all(|e| e.version == reqwest::Version::HTTP_2)
    );
    let gzip = get(&fetcher, &site.url("/fault/gzip-page")).await;
    assert_eq!(gzip.error, None);
    assert!(String::from_utf8_lossy(&gzip.body).contains("Gzip page"));
    let requests = site.requests();
    assert_eq!(requests.len(), 5);
    assert!(
        requests.iter().all(|r| r.version == "HTTP/2"),
        "{requests:?}"
    );
    assert_eq!(site.tls_handshake_failures(), 0);
}

#[tokio::test]
async fn a_server_without_h2_gives_http11_over_tls() {
    let site = tls_site(TlsConfig {
        alpn: vec![b"http/1.1".to_vec()],
        ..TlsConfig::default()
    })
    .await;
    let fetcher = fetcher(trusting(&site));
    let fetched = get(&fetcher, &site.url("/p/2")).await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(200));
    assert_eq!(fetched.exchanges[0].version, reqwest::Version::HTTP_11);
    // A byte-level fault still breaks through TLS as it does over TCP.
    let truncated = get(&fetcher, &site.url("/fault/truncated")).await;
    assert!(truncated.error.is_some(), "{truncated:?}");
    assert!(site.requests().iter().all(|r| r.version == "HTTP/1.1"));
}

#[tokio::test]
async fn tls12_servers_are_spoken_to() {
    let site = tls_site(TlsConfig {
        tls12_only: true,
        ..TlsConfig::default()
    })
    .await;
    let fetched = get(&fetcher(trusting(&site)), &site.url("/")).await;
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.status, Some(200));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_named() {
    let site = tls_site(TlsConfig {
        names: vec!["localhost".to_owned(), "www.example.test".to_owned()],
        ..TlsConfig::default()
    })
    .await;
    let fetched = get(&fetcher(trusting(&site)), &site.url("/")).await;
    let message = tls_message(&fetched);
    assert!(
        message.contains(
            "the server's certificate is not valid for 127.0.0.1: it is for localhost, www.example.test ("
        ),
        "{message}"
    );
}

#[tokio::test]
async fn an_expired_certificate_says_when() {
    let site = tls_site(TlsConfig {
        expired: true,
        ..TlsConfig::default()
    })
    .await;
    let fetched = get(&fetcher(trusting(&site)), &site.url("/")).await;
    let message = tls_message(&fetched);
    assert!(
        message.contains("the server's certificate expired on Mon, 01 Jan 2001"),
        "{message}"
    );
}

#[tokio::test]
async fn trusting_one_ca_does_not_trust_another() {
    let site = tls_site(TlsConfig::default()).await;
    let other = tls_site(TlsConfig::default()).await;
    let fetched = get(&fetcher(trusting(&other)), &site.url("/")).await;
    assert!(tls_message(&fetched).contains("not trusted"));
}

#[tokio::test]
async fn plain_http_on_an_https_url_is_told_apart() {
    // A plain HTTP server that answers whatever arrives with a 400, as
    // web servers do to a TLS hello on their HTTP port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        if let Ok((mut stream, _)) = listener.accept().await {
            let mut hello = [0u8; 512];
            let _ = stream.read(&mut hello).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    });
    let fetched = tokio::time::timeout(
        Duration::from_secs(10),
        get(
            &fetcher(FetcherConfig::default()),
            &format!("https://127.0.0.1:{port}/"),
        ),
    )
    .await
    .expect("no hang");
    let message = tls_message(&fetched);
    assert!(message.contains("did not answer in TLS"), "{message}");
    assert!(message.contains("try http://"), "{message}");
    assert_eq!(fetched.retry(), Some(Retry::GiveUp));
    server.abort();
}

#[tokio::test]
async fn a_closing_copy_over_http2_sends_no_connection_header_and_keeps_one_connection() {
    let site = tls_site(TlsConfig::default()).await;
    let closing = fetcher(trusting(&site)).closing_connections();
    for page in 1..=3 {
        let fetched = get(&closing, &site.url(&format!("/p/{page}"))).await;
        assert_eq!(fetched.error, None);
        assert_eq!(fetched.exchanges[0].version, reqwest::Version::HTTP_2);
        // HTTP/2 has no Connection header; the record says what was sent.
        assert!(
            fetched.exchanges[0]
                .request_headers
                .iter()
                .all(|(name, _)| name != "connection"),
            "{:?}",
            fetched.exchanges[0].request_headers
        );
    }
    let requests = site.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(
            |r| r.version == "HTTP/2" && r.headers.iter().all(|(name, _)| name != "connection")
        ),
        "{requests:?}"
    );
    assert_eq!(site.connections(), 1, "one multiplexed connection");
}
