//! The HTTPS mode over real sockets, spoken to with rustls directly (no
//! HTTP library): the certificate chains to the CA the site hands out,
//! ALPN picks HTTP/2 or HTTP/1.1, pages link over https, and a client that
//! does not trust the CA fails the handshake.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use trawl_testsite::{SiteConfig, TestSite, TlsConfig};

/// Every network step of a test is bounded by this, so a hang fails fast.
const STEP: Duration = Duration::from_secs(5);

fn small() -> SiteConfig {
    SiteConfig {
        pages: 5,
        ..SiteConfig::default()
    }
}

/// A client trusting `ca_pem` only, offering `alpn`.
fn connector(ca_pem: &str, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn connect(
    site: &TestSite,
    connector: &TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = tokio::time::timeout(STEP, TcpStream::connect(site.addr())).await??;
    let name = ServerName::try_from("127.0.0.1").expect("IP name");
    tokio::time::timeout(STEP, connector.connect(name, tcp)).await?
}

#[tokio::test]
async fn http11_over_tls_serves_pages_with_https_links() {
    let site = TestSite::start_tls(small(), TlsConfig::default())
        .await
        .expect("site starts");
    assert!(site.base_url().starts_with("https://127.0.0.1:"));
    let ca = site.ca_pem().expect("a CA in HTTPS mode");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let mut tls = connect(&site, &connector(ca, &[b"http/1.1"]))
        .await
        .expect("the CA is trusted");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut reply = Vec::new();
    // The site closes without close_notify; what was read before is whole.
    let _ = tokio::time::timeout(STEP, tls.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        reply.contains(&format!("href=\"{}/p/", site.base_url())),
        "absolute links use https: {reply}"
    );
    let requests = site.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].version, "HTTP/1.1");
    assert_eq!(site.tls_handshake_failures(), 0);
}

#[tokio::test]
async fn alpn_prefers_h2_and_the_site_speaks_http2() {
    let site = TestSite::start_tls(small(), TlsConfig::default())
        .await
        .expect("site starts");
    let ca = site.ca_pem().expect("CA");
    let mut tls = connect(&site, &connector(ca, &[b"h2", b"http/1.1"]))
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The HTTP/2 connection preface and an empty SETTINGS frame; an
    // HTTP/2 server answers with its own SETTINGS frame (type 4).
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("preface");
    tls.flush().await.expect("flush");
    let mut frame_head = [0u8; 9];
    tokio::time::timeout(STEP, tls.read_exact(&mut frame_head))
        .await
        .expect("in time")
        .expect("a frame");
    assert_eq!(frame_head[3], 4, "a SETTINGS frame first: {frame_head:?}");
}

#[tokio::test]
async fn without_alpn_or_h2_the_site_speaks_http11() {
    let config = TlsConfig {
        alpn: vec![b"http/1.1".to_vec()],
        ..TlsConfig::default()
    };
    let site = TestSite::start_tls(small(), config)
        .await
        .expect("site starts");
    let ca = site.ca_pem().expect("CA");
    let tls = connect(&site, &connector(ca, &[b"h2", b"http/1.1"]))
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn tls12_only_negotiates_tls12() {
    let config = TlsConfig {
        tls12_only: true,
        ..TlsConfig::default()
    };
    let site = TestSite::start_tls(small(), config)
        .await
        .expect("site starts");
    let tls = connect(&site, &connector(site.ca_pem().expect("CA"), &[]))
        .await
        .expect("handshake");
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[tokio::test]
async fn a_client_trusting_another_ca_fails_the_handshake() {
    let site = TestSite::start_tls(small(), TlsConfig::default())
        .await
        .expect("site starts");
    let other = TestSite::start_tls(small(), TlsConfig::default())
        .await
        .expect("other site starts");
    let error = connect(&site, &connector(other.ca_pem().expect("CA"), &[]))
        .await
        .expect_err("each site has its own CA");
    assert!(
        error.to_string().contains("UnknownIssuer"),
        "rustls names the failure: {error}"
    );
    // The client's alert reaches the server after the client gave up.
    let deadline = tokio::time::Instant::now() + STEP;
    while site.tls_handshake_failures() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(site.tls_handshake_failures(), 1);
    assert!(site.requests().is_empty(), "no request got through");
}
