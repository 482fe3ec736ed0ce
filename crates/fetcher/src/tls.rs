//! TLS: the certificates a crawl trusts besides the system's, read from
//! PEM, and a TLS failure told in words.
//!
//! What is trusted is decided by reqwest's rustls setup, which uses
//! `rustls-platform-verifier`: on Linux and the BSDs the system's CA
//! bundle as `rustls-native-certs` finds it (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` when set, otherwise OpenSSL's usual places such as
//! `/etc/ssl/certs/ca-certificates.crt`), checked by webpki; on macOS and
//! Windows the operating system's own verifier and trust store. The
//! roots of [`crate::FetcherConfig::extra_roots`] are trusted as well.

use std::io::{self, Read};
use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::{AlertDescription, CertificateError, Error as TlsError};

/// Largest file [`read_ca_file`] reads: a bundle of every public root is
/// about 200 KiB.
const MAX_CA_FILE: u64 = 10 * 1024 * 1024;

/// Why a PEM file gave no certificate to trust. The messages say what is
/// wrong with the file; the caller names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaCertError {
    #[error("cannot read it: {0}")]
    Read(io::Error),
    #[error("it is larger than {} MiB, too large for a certificate file", MAX_CA_FILE >> 20)]
    TooLarge,
    #[error(
        "it is not PEM (binary data that looks like a DER certificate; convert it with \
         `openssl x509 -inform der -in FILE -out FILE.pem`)"
    )]
    Der,
    #[error("it is not PEM: no `-----BEGIN CERTIFICATE-----` block in it")]
    NotPem,
    #[error("it is not valid PEM: {0}")]
    BadPem(String),
    #[error("it holds no certificate, only {0}")]
    NoCertificate(String),
    #[error("certificate {index} in it is not a usable X.509 certificate: {reason}")]
    BadCertificate { index: usize, reason: String },
}

/// Reads a PEM file of one or more certificates (a CA, a bundle, or a
/// server's own self-signed certificate) to trust with
/// [`crate::FetcherConfig::extra_roots`]. Every certificate in it is
/// checked, so a bad file is refused here rather than at the first
/// request.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaCertError> {
    let file = std::fs::File::open(path).map_err(CaCertError::Read)?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(CaCertError::Read)?;
    if bytes.len() as u64 > MAX_CA_FILE {
        return Err(CaCertError::TooLarge);
    }
    parse_ca_pem(&bytes)
}

/// The certificates in PEM text, each checked to be a certificate rustls
/// can use as a trust anchor. Other PEM blocks (keys, CRLs) are skipped;
/// a text with no certificate at all is an error.
pub fn parse_ca_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CaCertError> {
    let mut certificates = Vec::new();
    let mut others = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        match section.map_err(|error| CaCertError::BadPem(error.to_string()))? {
            (SectionKind::Certificate, der) => certificates.push(CertificateDer::from(der)),
            (kind, _) => others.push(section_name(kind)),
        }
    }
    if certificates.is_empty() {
        return Err(if !others.is_empty() {
            others.dedup();
            CaCertError::NoCertificate(others.join(", "))
        } else if pem.first() == Some(&0x30) {
            // An ASN.1 SEQUENCE: the start of every DER certificate.
            CaCertError::Der
        } else {
            CaCertError::NotPem
        });
    }
    for (index, certificate) in certificates.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(certificate.clone())
            .map_err(|error| CaCertError::BadCertificate {
                index: index + 1,
                reason: error.to_string(),
            })?;
    }
    Ok(certificates)
}

fn section_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "a certificate",
        SectionKind::PublicKey => "a public key",
        SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey => {
            "a private key"
        }
        SectionKind::Crl => "a revocation list",
        SectionKind::Csr => "a certificate request",
        _ => "other PEM blocks",
    }
}

/// A TLS failure in words a person can act on, followed by rustls's own
/// text in parentheses.
pub(crate) fn explain(error: &TlsError) -> String {
    let what = match error {
        TlsError::InvalidCertificate(problem) => certificate_problem(problem),
        TlsError::AlertReceived(
            alert @ (AlertDescription::HandshakeFailure
            | AlertDescription::ProtocolVersion
            | AlertDescription::InsufficientSecurity),
        ) => format!(
            "the server refused the TLS handshake ({alert:?}): it shares no TLS version or \
             cipher suite with trawl (TLS 1.2 and 1.3), or wants something trawl does not send"
        ),
        TlsError::AlertReceived(alert) => {
            format!("the server ended the TLS handshake with the alert {alert:?}")
        }
        TlsError::PeerIncompatible(_) => {
            "the server and trawl have no TLS version or cipher suite in common \
             (trawl speaks TLS 1.2 and 1.3)"
                .to_owned()
        }
        TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => {
            "the server did not answer in TLS; it may serve plain HTTP on this port \
             (try http://)"
                .to_owned()
        }
        TlsError::NoCertificatesPresented => "the server presented no certificate".to_owned(),
        _ => "the TLS handshake failed".to_owned(),
    };
    format!("{what} ({error})")
}

fn certificate_problem(problem: &CertificateError) -> String {
    let untrusted = "the server's certificate is not trusted";
    match problem {
        CertificateError::UnknownIssuer => format!(
            "{untrusted}: it is self-signed or issued by a certificate authority that is not \
             among the trusted roots (the system's, and any --ca-cert); pass --ca-cert FILE \
             with that CA's certificate to trust it"
        ),
        CertificateError::BadSignature => format!(
            "{untrusted}: its signature does not verify against the CA that seems to have \
             issued it (a forged certificate, or a different CA of the same name)"
        ),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names = if presented.is_empty() {
                "no name at all".to_owned()
            } else {
                presented
                    .iter()
                    .map(|name| bare_name(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "the server's certificate is not valid for {}: it is for {names}",
                expected.to_str()
            )
        }
        CertificateError::NotValidForName => {
            "the server's certificate is not valid for this host name".to_owned()
        }
        CertificateError::ExpiredContext { not_after, .. } => format!(
            "the server's certificate expired on {}",
            date(not_after.as_secs())
        ),
        CertificateError::Expired => "the server's certificate has expired".to_owned(),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "the server's certificate is not valid before {} (is this machine's clock right?)",
            date(not_before.as_secs())
        ),
        CertificateError::NotValidYet => {
            "the server's certificate is not valid yet (is this machine's clock right?)".to_owned()
        }
        CertificateError::Revoked => "the server's certificate has been revoked".to_owned(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the server's certificate is not meant for TLS servers (its extended key usage)"
                .to_owned()
        }
        // rustls-platform-verifier turns InvalidPurpose into this.
        CertificateError::Other(other) if other.to_string().contains("invalid extensions") => {
            "the server's certificate is not meant for TLS servers (its extensions)".to_owned()
        }
        CertificateError::BadEncoding | CertificateError::UnhandledCriticalExtension => {
            "the server's certificate is malformed or uses an extension trawl cannot check"
                .to_owned()
        }
        _ => "the server's certificate was rejected".to_owned(),
    }
}

/// `localhost` from webpki's `DnsName("localhost")` (and the like for
/// addresses); anything else as it is.
fn bare_name(presented: &str) -> &str {
    match (presented.find('('), presented.rfind(')')) {
        (Some(open), Some(close)) if open < close => presented[open + 1..close].trim_matches('"'),
        _ => presented,
    }
}

/// `secs` after the epoch as an HTTP date (`Mon, 01 Jan 2001 00:00:00 GMT`).
fn date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_certificates_are_refused_with_a_reason() {
        assert!(matches!(parse_ca_pem(b""), Err(CaCertError::NotPem)));
        assert!(matches!(
            parse_ca_pem(b"just some text\n"),
            Err(CaCertError::NotPem)
        ));
        assert!(matches!(
            parse_ca_pem(&[0x30, 0x82, 0x01, 0x0a, 0x02]),
            Err(CaCertError::Der)
        ));
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        match parse_ca_pem(key) {
            Err(CaCertError::NoCertificate(what)) => assert_eq!(what, "a private key"),
            other => panic!("{other:?}"),
        }
        let unterminated = b"-----BEGIN CERTIFICATE-----\nAAAA\n";
        assert!(matches!(
            parse_ca_pem(unterminated),
            Err(CaCertError::BadPem(_))
        ));
        let not_x509 = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        match parse_ca_pem(not_x509) {
            Err(error @ CaCertError::BadCertificate { index: 1, .. }) => {
                assert!(
                    error.to_string().starts_with("certificate 1 in it"),
                    "{error}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failures_are_explained() {
        let unknown = explain(&TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(unknown.contains("not trusted"), "{unknown}");
        assert!(unknown.contains("--ca-cert FILE"), "{unknown}");
        assert!(
            unknown.ends_with("(invalid peer certificate: UnknownIssuer)"),
            "{unknown}"
        );
        let expired = explain(&TlsError::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(1_000_000_000),
                ),
                not_after: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(978_307_200),
                ),
            },
        ));
        assert!(
            expired.starts_with("the server's certificate expired on Mon, 01 Jan 2001"),
            "{expired}"
        );
        let plain = explain(&TlsError::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(plain.contains("plain HTTP"), "{plain}");
        assert_eq!(bare_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("plain"), "plain");
    }
}
