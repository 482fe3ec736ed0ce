//! HTTP Basic credentials and where each may be sent: an exact origin
//! (`--auth`) or a host on any port (a netrc `machine`), never a
//! redirect's other host.

use url::Url;

/// Where a [`Credential`] may be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialScope {
    /// `scheme://host:port`, the port always written: that origin only
    /// (`--auth`).
    Origin(String),
    /// A host name on any scheme and port, as a netrc `machine` line
    /// names it (lower-case).
    Host(String),
}

/// HTTP Basic credentials, sent only where their scope says: never on a
/// redirect to another host.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Where they may be sent.
    pub scope: CredentialScope,
    /// The user name.
    pub user: String,
    /// The password (never printed: `Debug` redacts it).
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, wherever a configuration is printed.
        f.debug_struct("Credential")
            .field("scope", &self.scope)
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// The credential for `url`: one for its exact origin first, else one for
/// its host.
pub(crate) fn credential_for<'c>(
    credentials: &'c [Credential],
    url: &Url,
) -> Option<&'c Credential> {
    if credentials.is_empty() {
        return None;
    }
    let host = url.host_str()?;
    let origin = format!("{}://{host}:{}", url.scheme(), url.port_or_known_default()?);
    credentials
        .iter()
        .find(|credential| credential.scope == CredentialScope::Origin(origin.clone()))
        .or_else(|| {
            credentials.iter().find(|credential| {
                matches!(&credential.scope, CredentialScope::Host(name) if name.eq_ignore_ascii_case(host))
            })
        })
}
