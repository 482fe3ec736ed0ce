//! `TRAWL_<KEY>` environment variables: `TRAWL_PER_HOST_RATE=0.5`,
//! `TRAWL_IGNORE_ROBOTS=true`, `TRAWL_INCLUDE` with one pattern per line.

use std::ffi::OsString;

use super::{Assigned, CONFIG_VAR, ENV_PREFIX, Key, Kind, LayerError, Origin, Setting, suggestion};

/// Every `TRAWL_*` variable, checked. An empty variable counts as unset; an
/// unknown `TRAWL_*` name is an error (a misspelt variable would otherwise
/// be ignored in silence).
pub(super) fn parse(
    env: &[(OsString, OsString)],
    keys: &[Key],
) -> Result<Vec<Assigned>, LayerError> {
    let mut vars: Vec<(&str, &OsString)> = env
        .iter()
        .filter_map(|(name, value)| Some((name.to_str()?, value)))
        .filter(|(name, _)| name.starts_with(ENV_PREFIX) && *name != CONFIG_VAR)
        .collect();
    // The first mistake reported is the same whatever the process's order.
    vars.sort_by(|a, b| a.0.cmp(b.0));
    let names: Vec<String> = keys.iter().map(Key::env_var).collect();
    let mut assigned = Vec::new();
    for (var, value) in vars {
        let Some(index) = names.iter().position(|name| name == var) else {
            let hint = suggestion(
                var,
                names
                    .iter()
                    .map(String::as_str)
                    .chain(std::iter::once(CONFIG_VAR)),
            )
            .map(|name| format!("; did you mean {name}?"))
            .unwrap_or_default();
            return Err(LayerError(format!(
                "environment variable {var}: no such setting{hint} (TRAWL_* variables are \
                 the crawl flags' long names in upper case, `_` for `-`)"
            )));
        };
        let key = &keys[index];
        let fail = |reason: String| LayerError(format!("environment variable {var}: {reason}"));
        let value = value
            .to_str()
            .ok_or_else(|| fail("the value is not valid UTF-8".to_owned()))?;
        if value.is_empty() {
            continue;
        }
        let setting = match key.kind {
            Kind::Switch => Setting::Switch(parse_switch(value).ok_or_else(|| {
                fail(format!(
                    "invalid value '{value}': expected true or false (or 1/0, yes/no, on/off)"
                ))
            })?),
            Kind::Value => {
                key.check(value).map_err(fail)?;
                Setting::Value(value.to_owned())
            }
            Kind::List => {
                let items: Vec<String> = value
                    .split('\n')
                    .map(|line| line.strip_suffix('\r').unwrap_or(line))
                    .filter(|line| !line.is_empty())
                    .map(str::to_owned)
                    .collect();
                for item in &items {
                    key.check(item).map_err(fail)?;
                }
                Setting::List(items)
            }
        };
        assigned.push(Assigned {
            key: index,
            setting,
            origin: Origin::Env {
                var: var.to_owned(),
            },
            item_lines: Vec::new(),
        });
    }
    Ok(assigned)
}

fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}
