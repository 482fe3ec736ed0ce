//! The netrc file (`~/.netrc`), as curl and ftp read it: `machine HOST
//! login USER password PASS` entries, tokens separated by any whitespace,
//! `macdef` bodies (to a blank line) skipped. Written here rather than
//! taken from a crate because the netrc crates are unmaintained and none
//! says on which line a mistake is, which a user needs.
//!
//! The `default` entry is skipped: it would give its login to every host
//! a crawl wanders onto.

use trawl_fetcher::{Credential, CredentialScope};

/// A netrc that cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct NetrcError {
    pub line: usize,
    pub reason: String,
}

/// What a netrc gives a crawl.
#[derive(Debug, Default)]
pub struct Netrc {
    /// One per `machine` with a login and a password, in file order.
    pub credentials: Vec<Credential>,
    /// A `default` entry was there and skipped.
    pub skipped_default: bool,
}

#[derive(Default)]
struct Entry {
    host: Option<String>,
    line: usize,
    login: Option<String>,
    password: Option<String>,
}

/// Reads a netrc's text.
pub fn parse(text: &str) -> Result<Netrc, NetrcError> {
    let mut tokens = Vec::new();
    let mut in_macro = false;
    for (index, line) in text.lines().enumerate() {
        if in_macro {
            in_macro = !line.trim().is_empty();
            continue;
        }
        let line_number = index + 1;
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            if word.starts_with('#') {
                break;
            }
            if word == "macdef" {
                // The macro's name, then its body up to a blank line.
                words.next();
                in_macro = true;
                break;
            }
            tokens.push((line_number, word.to_owned()));
        }
    }
    let mut netrc = Netrc::default();
    let mut current: Option<Entry> = None;
    let finish = |entry: Option<Entry>, netrc: &mut Netrc| -> Result<(), NetrcError> {
        let Some(entry) = entry else { return Ok(()) };
        let Some(host) = entry.host else {
            netrc.skipped_default = true;
            return Ok(());
        };
        match (entry.login, entry.password) {
            (Some(user), Some(password)) => {
                netrc.credentials.push(Credential {
                    scope: CredentialScope::Host(host.to_ascii_lowercase()),
                    user,
                    password,
                });
                Ok(())
            }
            // A machine with only a login (a password prompt, for ftp)
            // gives a crawler nothing to send.
            (_, None) => Ok(()),
            (None, Some(_)) => Err(NetrcError {
                line: entry.line,
                reason: format!("machine {host} has a password but no login"),
            }),
        }
    };
    let mut tokens = tokens.into_iter();
    while let Some((line, token)) = tokens.next() {
        let mut value = |name: &str| {
            tokens
                .next()
                .map(|(_, value)| value)
                .ok_or_else(|| NetrcError {
                    line,
                    reason: format!("`{name}` needs a value"),
                })
        };
        match token.as_str() {
            "machine" => {
                finish(current.take(), &mut netrc)?;
                current = Some(Entry {
                    host: Some(value("machine")?),
                    line,
                    ..Entry::default()
                });
            }
            "default" => {
                finish(current.take(), &mut netrc)?;
                current = Some(Entry {
                    line,
                    ..Entry::default()
                });
            }
            "login" | "password" | "account" => {
                let given = value(&token)?;
                let Some(entry) = current.as_mut() else {
                    return Err(NetrcError {
                        line,
                        reason: format!("`{token}` before any `machine`"),
                    });
                };
                match token.as_str() {
                    "login" => entry.login = Some(given),
                    "password" => entry.password = Some(given),
                    _ => {}
                }
            }
            other => {
                return Err(NetrcError {
                    line,
                    reason: format!(
                        "unknown word `{other}` (expected machine, default, login, password, account or macdef)"
                    ),
                });
            }
        }
    }
    finish(current, &mut netrc)?;
    Ok(netrc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_give_host_scoped_credentials() {
        let netrc = parse(
            "# work\nmachine Intranet.example login alice password s3cret\n\
             machine ftp.example login anonymous\n\
             macdef init\ncd /pub\n\n\
             machine 127.0.0.1\n  login trawl\n  password secret\n\
             default login guest password guest\n",
        )
        .unwrap();
        let scopes: Vec<_> = netrc
            .credentials
            .iter()
            .map(|credential| (credential.scope.clone(), credential.user.as_str()))
            .collect();
        assert_eq!(
            scopes,
            [
                (CredentialScope::Host("intranet.example".into()), "alice"),
                (CredentialScope::Host("127.0.0.1".into()), "trawl"),
            ]
        );
        assert!(netrc.skipped_default);
    }

    #[test]
    fn mistakes_name_their_line() {
        let error = parse("machine a.example login u\npassword\n").unwrap_err();
        assert_eq!(
            (error.line, error.reason.as_str()),
            (2, "`password` needs a value")
        );
        let error = parse("login u password p\n").unwrap_err();
        assert!(error.reason.contains("before any `machine`"), "{error}");
        let error = parse("machine a.example\nlogn u\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.reason.contains("unknown word `logn`"), "{error}");
        let error = parse("machine a.example password p\n").unwrap_err();
        assert!(error.reason.contains("no login"), "{error}");
    }
}
