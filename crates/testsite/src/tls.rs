//! The HTTPS mode's certificates and TLS configuration: a certificate
//! authority made at start (rcgen), a server certificate it signs, and a
//! rustls server config offering the ALPN protocols asked for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How [`crate::TestSite::start_tls`] serves HTTPS.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// ALPN protocols offered, in the server's order of preference. The
    /// default offers `h2` then `http/1.1`; with `h2` chosen the site
    /// speaks HTTP/2 (hyper's server), with anything else HTTP/1.1. Empty:
    /// no ALPN, HTTP/1.1.
    pub alpn: Vec<Vec<u8>>,
    /// The names the server certificate is valid for (DNS names, or IP
    /// addresses written as such). The default is `127.0.0.1` and
    /// `localhost`; leave out `127.0.0.1` to serve a certificate for the
    /// wrong name.
    pub names: Vec<String>,
    /// Serve a certificate that expired in 2001 (issued by the same CA).
    pub expired: bool,
    /// Offer TLS 1.2 only (the default offers 1.3 and 1.2).
    pub tls12_only: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            names: vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            expired: false,
            tls12_only: false,
        }
    }
}

/// A new CA, a server certificate it issued, and the server config
/// presenting it. Returns the config and the CA certificate as PEM.
pub(crate) fn server_config(
    config: &TlsConfig,
) -> std::io::Result<(Arc<rustls::ServerConfig>, String)> {
    let (ca_pem, leaf, key) = certificates(config).map_err(std::io::Error::other)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = if config.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(vec![leaf], key)
        })
        .map_err(std::io::Error::other)?;
    server.alpn_protocols = config.alpn.clone();
    Ok((Arc::new(server), ca_pem))
}

type Certificates = (String, CertificateDer<'static>, PrivateKeyDer<'static>);

/// Numbers the CAs a process makes, so each has a name of its own:
/// verifiers find an issuer by name, and two CAs of one name would make
/// the wrong one's certificate fail on its signature, not as unknown.
static CA_SERIAL: AtomicU64 = AtomicU64::new(0);

fn certificates(config: &TlsConfig) -> Result<Certificates, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let serial = CA_SERIAL.fetch_add(1, Ordering::Relaxed);
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("trawl-testsite test CA {}-{serial}", std::process::id()),
    );
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(config.names.clone())?;
    leaf.distinguished_name
        .push(DnType::CommonName, "trawl-testsite");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if config.expired {
        leaf.not_before = rcgen::date_time_ymd(2000, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf.signed_by(&leaf_key, &issuer)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((ca_pem, leaf.der().clone(), key))
}
