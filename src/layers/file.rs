//! The TOML config file: crawl keys at the top level, `key = value`.
//!
//! Parsed with `toml`'s span-keeping `DeTable`, so every key and every item
//! of a list knows its line for the error messages.

use toml::de::{DeTable, DeValue};

use super::{Assigned, Key, Kind, LayerError, LineIndex, Origin, Setting, suggestion};

/// Every key of the file, checked, in the file's order.
pub(super) fn parse(path: &str, text: &str, keys: &[Key]) -> Result<Vec<Assigned>, LayerError> {
    let lines = LineIndex::new(text);
    let table = DeTable::parse(text).map_err(|error| {
        let line = error.span().map_or(1, |span| lines.line(span.start));
        LayerError(format!(
            "{path}:{line}: not valid TOML: {}",
            error.message().trim_end()
        ))
    })?;
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let mut assigned = Vec::new();
    for (name, value) in entries {
        let line = lines.line(name.span().start);
        let name = name.get_ref().as_ref();
        let fail =
            |line: usize, reason: String| LayerError(format!("{path}:{line}: {name}: {reason}"));
        if let DeValue::Table(_) = value.get_ref() {
            return Err(fail(
                line,
                "the config file has no tables or sections: put the crawl keys at the top \
                 level (`max_pages = 100`, not under `[crawl]`)"
                    .to_owned(),
            ));
        }
        let Some(index) = keys.iter().position(|key| key.name == name) else {
            let hint = suggestion(name, keys.iter().map(|key| key.name.as_str()))
                .map(|key| format!("; did you mean '{key}'?"))
                .unwrap_or_default();
            return Err(fail(
                line,
                format!(
                    "unknown key{hint} (keys are the crawl flags' long names with `_` for `-`)"
                ),
            ));
        };
        let key = &keys[index];
        let mut item_lines = Vec::new();
        let setting = match (key.kind, value.get_ref()) {
            (Kind::Switch, DeValue::Boolean(on)) => Setting::Switch(*on),
            (Kind::Switch, _) => {
                return Err(fail(
                    line,
                    "expected true or false (without quotes)".to_owned(),
                ));
            }
            (Kind::Value, DeValue::Array(_)) => {
                return Err(fail(
                    line,
                    format!(
                        "takes one value, not a list ({} is not repeatable)",
                        key.flag()
                    ),
                ));
            }
            (Kind::Value, scalar) => {
                let text = scalar_text(scalar).map_err(|reason| fail(line, reason))?;
                key.check(&text).map_err(|reason| fail(line, reason))?;
                Setting::Value(text)
            }
            (Kind::List, DeValue::Array(items)) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items.iter() {
                    let item_line = lines.line(item.span().start);
                    let value = match item.get_ref() {
                        DeValue::Array(_) => Err("a list item cannot be a list".to_owned()),
                        scalar => scalar_text(scalar),
                    }
                    .map_err(|reason| fail(item_line, reason))?;
                    key.check(&value)
                        .map_err(|reason| fail(item_line, reason))?;
                    values.push(value);
                    item_lines.push(item_line);
                }
                Setting::List(values)
            }
            // One string for a repeatable flag is a list of one.
            (Kind::List, scalar) => {
                let value = scalar_text(scalar).map_err(|reason| fail(line, reason))?;
                key.check(&value).map_err(|reason| fail(line, reason))?;
                item_lines.push(line);
                Setting::List(vec![value])
            }
        };
        assigned.push(Assigned {
            key: index,
            setting,
            origin: Origin::File {
                path: path.to_owned(),
                line,
            },
            item_lines,
        });
    }
    Ok(assigned)
}

/// A string or a number, as the flag would be given it.
fn scalar_text(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(text) => Ok(text.to_string()),
        DeValue::Integer(integer) => i128::from_str_radix(integer.as_str(), integer.radix())
            .map(|number| number.to_string())
            .map_err(|_| format!("the integer {integer} is out of range")),
        DeValue::Float(float) => Ok(float.as_str().to_owned()),
        DeValue::Boolean(_) => Err("expected a string or a number, not true/false".to_owned()),
        DeValue::Datetime(_) => Err("expected a string or a number, not a date".to_owned()),
        DeValue::Array(_) | DeValue::Table(_) => Err("expected a string or a number".to_owned()),
    }
}
