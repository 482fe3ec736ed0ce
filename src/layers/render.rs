//! How `trawl config` writes a value: as TOML, with secrets masked.

/// Hides the password of an `auth` entry, a proxy URL or the `frontier`
/// Redis URL, and the value of a header that carries credentials.
pub(super) fn mask(key: &str, value: &str) -> String {
    match key {
        "frontier" => trawl_frontier_redis::redacted(value),
        "auth" => match value.split_once('=') {
            Some((origin, credentials)) => match credentials.split_once(':') {
                Some((user, _)) => format!("{origin}={user}:***"),
                None => format!("{origin}=***"),
            },
            None => "***".to_owned(),
        },
        "proxy" => match (value.split_once("://"), value.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
            (None, Some((_, host))) => format!("***@{host}"),
            _ => value.to_owned(),
        },
        "header" => match value.split_once(':') {
            Some((name, _))
                if ["authorization", "proxy-authorization", "cookie"]
                    .contains(&name.trim().to_ascii_lowercase().as_str()) =>
            {
                format!("{name}: [redacted]")
            }
            _ => value.to_owned(),
        },
        _ => value.to_owned(),
    }
}

/// A number as TOML writes it, anything else as a TOML string.
pub(super) fn toml_scalar(value: &str) -> String {
    let number = !value.is_empty()
        && value
            .strip_prefix('-')
            .unwrap_or(value)
            .split_once('.')
            .map_or_else(
                || is_digits(value.strip_prefix('-').unwrap_or(value)),
                |(whole, fraction)| is_digits(whole) && is_digits(fraction),
            );
    if number {
        value.to_owned()
    } else {
        toml_string(value)
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A TOML basic string.
pub(super) fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
