//! Where each crawl setting comes from: built-in defaults, then a TOML
//! config file, then `TRAWL_*` environment variables, then the command
//! line, each level overriding the ones before.
//!
//! The crawl flags are the one list of settings: the keys of the file and
//! the names of the variables are derived from clap's own definition of
//! `trawl crawl` (the long name, `_` for `-`), so a new flag gets a key and a
//! variable without anyone writing them down. Each value from a file or a
//! variable is checked by that flag's own clap parser as soon as it is read,
//! so a mistake names the file, line and key (or the variable). The final
//! arguments are then built by clap itself from a synthesized command line:
//! the file's and the environment's winners as `--flag=value`, followed by
//! the real command line. Which keys the real command line set is decided
//! by `ArgMatches::value_source`, never by comparing against defaults, so a
//! flag given with its default value still beats the file, and a clap
//! default never hides a file's value (clap issue 6162).
//!
//! Repeatable flags (`include`, `header`, ...) are replaced, not extended,
//! by a higher level.

mod env;
mod file;
mod render;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::config::ConfigError;
use render::{mask, toml_scalar, toml_string};

/// The config file read when neither `--config` nor `TRAWL_CONFIG` names one.
pub const DEFAULT_FILE: &str = "trawl.toml";

/// How `./trawl.toml` was chosen: it was there.
const FOUND: &str = "in the working directory";

/// The variable that names a config file.
pub const CONFIG_VAR: &str = "TRAWL_CONFIG";

/// Prefix of every setting's environment variable.
const ENV_PREFIX: &str = "TRAWL_";

/// The subcommands that take the crawl's settings (`CrawlArgs`).
const LAYERED_COMMANDS: &[&str] = &["crawl", "config"];

/// Clap ids of `trawl crawl` arguments that are not crawl settings.
const NOT_SETTINGS: &[&str] = &["config", "no_config"];

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--ignore-robots`: on or off; `true`/`false` in a file.
    Switch,
    /// `--per-host-rate R`: one value; the last level that sets it wins.
    Value,
    /// `--include REGEX`, repeatable: a list in a file, one item per line in
    /// a variable; a higher level replaces the whole list.
    List,
}

/// One crawl setting: a flag (or the positional SEEDS) of `trawl crawl`.
#[derive(Debug, Clone)]
pub struct Key {
    /// The config key and the variable's stem: `per_host_rate`.
    pub name: String,
    /// clap's id of the argument (the field of `CrawlArgs`): `headers`.
    id: String,
    /// The long flag without dashes (`header`); `None` for the positional.
    long: Option<String>,
    pub kind: Kind,
    /// clap's definition, whose value parser checks values from files and
    /// variables.
    arg: clap::Arg,
}

impl Key {
    /// `TRAWL_PER_HOST_RATE`.
    pub fn env_var(&self) -> String {
        format!("{ENV_PREFIX}{}", self.name.to_ascii_uppercase())
    }

    /// `--per-host-rate`, or `SEEDS` for the positional.
    pub fn flag(&self) -> String {
        match &self.long {
            Some(long) => format!("--{long}"),
            None => self.id.to_ascii_uppercase(),
        }
    }

    /// Checks one value with the flag's own clap parser (its type, range or
    /// possible values), outside the flags it requires or conflicts with.
    fn check(&self, value: &str) -> Result<(), String> {
        let arg = self
            .arg
            .clone()
            .requires(clap::builder::Resettable::<clap::Id>::Reset)
            .conflicts_with(clap::builder::Resettable::<clap::Id>::Reset);
        let probe = clap::Command::new("trawl").arg(arg);
        let argv = match &self.long {
            Some(long) => vec!["trawl".to_owned(), format!("--{long}={value}")],
            None => vec!["trawl".to_owned(), "--".to_owned(), value.to_owned()],
        };
        match probe.try_get_matches_from(argv) {
            Ok(_) => Ok(()),
            Err(error) => Err(format!("invalid value '{value}': {}", clap_reason(&error))),
        }
    }
}

/// Every crawl setting, in the order `trawl crawl --help` lists them.
pub fn keys() -> Vec<Key> {
    let cli = Cli::command();
    let crawl = cli
        .find_subcommand("crawl")
        .expect("the crawl subcommand exists");
    crawl
        .get_arguments()
        .filter(|arg| !NOT_SETTINGS.contains(&arg.get_id().as_str()))
        .filter_map(|arg| {
            let kind = match arg.get_action() {
                ArgAction::SetTrue => Kind::Switch,
                ArgAction::Append => Kind::List,
                ArgAction::Set => Kind::Value,
                _ => return None,
            };
            let long = arg.get_long().map(str::to_owned);
            let name = long
                .as_deref()
                .unwrap_or(arg.get_id().as_str())
                .replace('-', "_");
            Some(Key {
                name,
                id: arg.get_id().to_string(),
                long,
                kind,
                arg: arg.clone(),
            })
        })
        .collect()
}

/// A setting's value as a file or a variable gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Switch(bool),
    Value(String),
    List(Vec<String>),
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// The config file (as its path was given) and the key's line.
    File {
        path: String,
        line: usize,
    },
    Env {
        var: String,
    },
    /// The flag (`--max-pages`), or `None` for the positional SEEDS.
    CommandLine {
        flag: Option<String>,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Env { var } => write!(f, "env {var}"),
            Origin::CommandLine { flag: Some(flag) } => write!(f, "flag {flag}"),
            Origin::CommandLine { flag: None } => f.write_str("command line"),
        }
    }
}

/// One key set by a file or a variable.
#[derive(Debug, Clone)]
struct Assigned {
    /// Index into [`keys`].
    key: usize,
    setting: Setting,
    origin: Origin,
    /// For a list from a file: each item's line, to point at the bad one.
    item_lines: Vec<usize>,
}

/// Which config file was read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileUse {
    /// `--no-config`.
    Disabled,
    /// No `--config`, no `TRAWL_CONFIG`, no `./trawl.toml`.
    Absent,
    Read {
        path: String,
        chosen_by: &'static str,
    },
}

/// A configuration mistake found before any request: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerError(pub String);

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LayerError {}

/// The parsed command line with every level applied, and where each value
/// came from.
#[derive(Debug)]
pub struct Resolved {
    pub cli: Cli,
    pub report: Report,
}

/// Each setting's origin and effective value: what `trawl config` prints,
/// and what turns a flag check's error into one naming the file or variable.
#[derive(Debug)]
pub struct Report {
    pub file: FileUse,
    entries: Vec<ReportEntry>,
}

#[derive(Debug)]
struct ReportEntry {
    key: Key,
    origin: Origin,
    item_lines: Vec<usize>,
    /// The raw values clap ended with (defaults included); empty when unset.
    values: Vec<String>,
}

/// Applies the config file and the environment to a command line that clap
/// has already accepted (`first`, from `argv`): help, version and usage
/// errors of the real command line are clap's, before any of this. Other
/// subcommands (`demo`, `man`, ...) are returned as clap parsed them.
///
/// `env` is the process environment; `default_file` is `./trawl.toml`.
pub fn resolve(
    argv: &[OsString],
    first: &ArgMatches,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    default_file: &Path,
) -> Result<Resolved, LayerError> {
    let keys = keys();
    let (command, sub) = first
        .subcommand()
        .ok_or_else(|| LayerError("no command given".to_owned()))?;
    if !LAYERED_COMMANDS.contains(&command) {
        // A command without the crawl's settings: nothing to layer.
        let cli = Cli::from_arg_matches(first).map_err(|error| LayerError(clap_reason(&error)))?;
        return Ok(Resolved {
            cli,
            report: Report::empty(),
        });
    }
    let env: Vec<(OsString, OsString)> = env.into_iter().collect();

    let file_use = choose_file(sub, &env, default_file)?;
    let mut assigned: Vec<Option<Assigned>> = vec![None; keys.len()];
    if let FileUse::Read { path, chosen_by } = &file_use {
        let text = read_file(path, chosen_by)?;
        for entry in file::parse(path, &text, &keys)? {
            let index = entry.key;
            assigned[index] = Some(entry);
        }
    }
    for entry in env::parse(&env, &keys)? {
        let index = entry.key;
        assigned[index] = Some(entry);
    }

    // What the real command line set always wins: those keys are left to
    // the real arguments, which follow the synthesized ones.
    let mut origins = vec![Origin::Default; keys.len()];
    let mut item_lines = vec![Vec::new(); keys.len()];
    let mut synthesized: Vec<OsString> = Vec::new();
    let mut positional: Option<String> = None;
    for (index, key) in keys.iter().enumerate() {
        if sub.value_source(&key.id) == Some(ValueSource::CommandLine) {
            origins[index] = Origin::CommandLine {
                flag: key.long.as_ref().map(|_| key.flag()),
            };
            continue;
        }
        let Some(entry) = assigned[index].take() else {
            continue;
        };
        origins[index] = entry.origin;
        item_lines[index] = entry.item_lines;
        match (&key.long, entry.setting) {
            (Some(long), Setting::Switch(true)) => synthesized.push(format!("--{long}").into()),
            (Some(_), Setting::Switch(false)) => {}
            (Some(long), Setting::Value(value)) => {
                synthesized.push(format!("--{long}={value}").into());
            }
            (Some(long), Setting::List(items)) => {
                synthesized.extend(items.iter().map(|item| format!("--{long}={item}").into()));
            }
            (None, Setting::Value(value)) => positional = Some(value),
            (None, _) => unreachable!("the positional takes one value"),
        }
    }

    // argv[1] is the subcommand: nothing but --help and --version (which
    // have exited already) can come before it.
    let mut final_argv: Vec<OsString> = vec![
        argv.first().cloned().unwrap_or_else(|| "trawl".into()),
        command.into(),
    ];
    final_argv.extend(synthesized);
    let rest = argv.get(2..).unwrap_or_default();
    final_argv.extend(rest.iter().cloned());
    if let Some(seeds) = positional {
        if !rest.iter().any(|arg| arg == "--") {
            final_argv.push("--".into());
        }
        final_argv.push(seeds.into());
    }

    let combined = Cli::command()
        .try_get_matches_from(&final_argv)
        .map_err(|error| {
            LayerError(format!(
                "{} (with the settings from {})",
                clap_reason(&error),
                describe_levels(&origins)
            ))
        })?;
    let cli = Cli::from_arg_matches(&combined).map_err(|error| LayerError(clap_reason(&error)))?;
    let (_, final_sub) = combined
        .subcommand()
        .expect("the same subcommand as the real command line");
    let entries = keys
        .into_iter()
        .zip(origins)
        .zip(item_lines)
        .map(|((key, origin), item_lines)| {
            let values = final_sub
                .get_raw(&key.id)
                .map(|raw| {
                    raw.map(|value| value.to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            ReportEntry {
                key,
                origin,
                item_lines,
                values,
            }
        })
        .collect();
    Ok(Resolved {
        cli,
        report: Report {
            file: file_use,
            entries,
        },
    })
}

/// `--no-config`, else `--config FILE`, else `TRAWL_CONFIG`, else
/// `./trawl.toml` if it exists.
fn choose_file(
    sub: &ArgMatches,
    env: &[(OsString, OsString)],
    default_file: &Path,
) -> Result<FileUse, LayerError> {
    if sub.get_flag("no_config") {
        return Ok(FileUse::Disabled);
    }
    if let Some(path) = sub.get_one::<PathBuf>("config") {
        return Ok(FileUse::Read {
            path: path.display().to_string(),
            chosen_by: "--config",
        });
    }
    if let Some((_, value)) = env.iter().find(|(name, _)| name == CONFIG_VAR)
        && !value.is_empty()
    {
        let path = value
            .to_str()
            .ok_or_else(|| LayerError(format!("{CONFIG_VAR}: the path is not valid UTF-8")))?;
        return Ok(FileUse::Read {
            path: path.to_owned(),
            chosen_by: CONFIG_VAR,
        });
    }
    if default_file.exists() {
        return Ok(FileUse::Read {
            path: default_file.display().to_string(),
            chosen_by: FOUND,
        });
    }
    Ok(FileUse::Absent)
}

fn read_file(path: &str, chosen_by: &str) -> Result<String, LayerError> {
    std::fs::read_to_string(path).map_err(|error| {
        LayerError(format!(
            "cannot read the config file {path} ({chosen_by}): {error}"
        ))
    })
}

/// "trawl.toml and TRAWL_MAX_PAGES": the levels that took part.
fn describe_levels(origins: &[Origin]) -> String {
    let mut files: Vec<&str> = Vec::new();
    let mut vars: Vec<&str> = Vec::new();
    for origin in origins {
        match origin {
            Origin::File { path, .. } if !files.contains(&path.as_str()) => files.push(path),
            Origin::Env { var } => vars.push(var),
            _ => {}
        }
    }
    files.extend(vars);
    files.join(", ")
}

/// The reason in a clap error, without clap's `error:` prefix, usage and
/// help lines.
fn clap_reason(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match error.kind() {
        ErrorKind::ValueValidation => {
            if let Some(source) = std::error::Error::source(error) {
                return source.to_string();
            }
        }
        ErrorKind::InvalidValue => {
            if let Some(ContextValue::Strings(values)) = error.get(ContextKind::ValidValue) {
                return format!("possible values: {}", values.join(", "));
            }
        }
        _ => {}
    }
    // The first paragraph: `error: the following required arguments were
    // not provided:` and the list under it, on one line.
    let rendered = error.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let text = paragraph.join(" ");
    text.strip_prefix("error: ").unwrap_or(&text).to_owned()
}

/// `did you mean 'max_pages'?` for a near miss among `candidates`.
fn suggestion<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let normalize = |text: &str| text.to_ascii_lowercase().replace('-', "_");
    let wanted = normalize(wanted);
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&wanted, &normalize(candidate));
        if score > 0.8 && best.is_none_or(|(top, _)| score > top) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// 1-based line of a byte offset.
/// Line numbers of byte offsets in a text, from one pass over it: a
/// config file with a hundred thousand list items (`resolve` for a crawl
/// of many hosts) must not be re-read from the top for each.
struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex {
            newlines: memchr::memchr_iter(b'\n', text.as_bytes()).collect(),
        }
    }

    /// The 1-based line `offset` is on (past the end: the last line).
    fn line(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&newline| newline < offset) + 1
    }
}

impl Report {
    /// A report for arguments that did not come from the levels (`trawl
    /// demo`'s own): errors are left as the flag checks put them.
    pub fn empty() -> Report {
        Report {
            file: FileUse::Absent,
            entries: Vec::new(),
        }
    }

    /// What `trawl config` prints: one `key = value  # origin` line per
    /// setting, in the flags' order. Without the origins it is a valid
    /// `trawl.toml`; secrets (`auth` passwords, `Authorization` and
    /// `Cookie` header values, a password in the `frontier` URL) are
    /// masked.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&match &self.file {
            FileUse::Disabled => "# config file: none (--no-config)\n".to_owned(),
            FileUse::Absent => format!("# config file: none (no ./{DEFAULT_FILE})\n"),
            FileUse::Read { path, chosen_by } => {
                format!("# config file: {path} ({chosen_by})\n")
            }
        });
        for entry in &self.entries {
            let key = &entry.key;
            let shown: Vec<String> = entry
                .values
                .iter()
                .map(|value| mask(&key.name, value))
                .collect();
            let value = match key.kind {
                Kind::Switch => Some(shown.last().map_or("false", String::as_str).to_owned()),
                Kind::List => Some(format!(
                    "[{}]",
                    shown
                        .iter()
                        .map(|item| toml_string(item))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Kind::Value => shown.last().map(|value| toml_scalar(value)),
            };
            match value {
                Some(value) => {
                    out.push_str(&format!("{} = {value}  # {}\n", key.name, entry.origin))
                }
                None => out.push_str(&format!("# {} is not set  # {}\n", key.name, entry.origin)),
            }
        }
        out
    }

    /// A flag check's error (`invalid --per-host-rate value ...`) restated
    /// for where the value came from: `trawl.toml:3: per_host_rate: ...` or
    /// `environment variable TRAWL_PER_HOST_RATE: ...`.
    pub fn explain(&self, error: &ConfigError) -> String {
        let Some((flag, detail, value)) = error.parts() else {
            return error.to_string();
        };
        let Some(entry) = self
            .entries
            .iter()
            .find(|entry| entry.key.long.as_deref() == Some(flag))
        else {
            return error.to_string();
        };
        match &entry.origin {
            Origin::File { path, line } => {
                let line = value
                    .and_then(|value| entry.values.iter().position(|item| item == value))
                    .and_then(|index| entry.item_lines.get(index).copied())
                    .unwrap_or(*line);
                format!("{path}:{line}: {}: {detail}", entry.key.name)
            }
            Origin::Env { var } => format!("environment variable {var}: {detail}"),
            Origin::Default | Origin::CommandLine { .. } => error.to_string(),
        }
    }

    /// The origin of a setting, by key name.
    #[cfg(test)]
    fn origin(&self, name: &str) -> &Origin {
        &self
            .entries
            .iter()
            .find(|entry| entry.key.name == name)
            .unwrap_or_else(|| panic!("no key {name}"))
            .origin
    }
}

#[cfg(test)]
mod tests;
