//! Runs every fact of `robots_conformance.txt` (RFC 9309 examples, Google's
//! robotstxt expectations that RFC 9309 agrees on, bugs measured on trawl)
//! through the crawler's own path: `RobotsRules::parse(agent, body)`, then
//! `allowed` on a URL parsed by the url crate. The table's header explains
//! its format.

use std::time::Duration;

use trawl_fetcher::RobotsRules;
use url::Url;

const TABLE: &str = include_str!("robots_conformance.txt");
const TABLE_NAME: &str = "robots_conformance.txt";

#[derive(Debug)]
struct Case {
    id: String,
    body: Vec<u8>,
    checks: Vec<Check>,
}

#[derive(Debug)]
struct Check {
    line: usize,
    what: Expect,
}

#[derive(Debug)]
enum Expect {
    Allowed {
        agent: String,
        url: String,
        allowed: bool,
    },
    CrawlDelay {
        agent: String,
        delay: Option<Duration>,
    },
    Sitemaps(Vec<String>),
}

/// Reads the table; a malformed line is a test failure naming it.
fn read_table(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let at = || format!("{TABLE_NAME}:{line}");
        if let Some(rest) = raw.strip_prefix("==") {
            let id = rest
                .split_whitespace()
                .next()
                .unwrap_or_else(|| panic!("{}: a case without an id", at()));
            assert!(
                cases.iter().all(|case| case.id != id),
                "{}: case id {id} is used twice",
                at()
            );
            cases.push(Case {
                id: id.to_owned(),
                body: Vec::new(),
                checks: Vec::new(),
            });
            continue;
        }
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        let case = cases
            .last_mut()
            .unwrap_or_else(|| panic!("{}: a line before the first `==` case", at()));
        if let Some(text) = raw.strip_prefix('|') {
            assert!(
                case.checks.is_empty(),
                "{}: [{}] body line after a check",
                at(),
                case.id
            );
            let text = text.strip_prefix(' ').unwrap_or(text);
            case.body
                .extend(unescape(text).unwrap_or_else(|problem| panic!("{}: {problem}", at())));
            case.body.push(b'\n');
            continue;
        }
        let words: Vec<&str> = raw.split_whitespace().collect();
        let what = match words.as_slice() {
            ["sitemaps", "none"] => Expect::Sitemaps(Vec::new()),
            ["sitemaps", urls @ ..] => {
                Expect::Sitemaps(urls.iter().map(|url| (*url).to_owned()).collect())
            }
            [agent, verb @ ("allow" | "disallow"), url] => Expect::Allowed {
                agent: (*agent).to_owned(),
                url: full_url(url).unwrap_or_else(|problem| panic!("{}: {problem}", at())),
                allowed: *verb == "allow",
            },
            [agent, "crawl-delay", seconds] => Expect::CrawlDelay {
                agent: (*agent).to_owned(),
                delay: match *seconds {
                    "none" => None,
                    seconds => {
                        Some(Duration::from_secs_f64(seconds.parse().unwrap_or_else(
                            |_| panic!("{}: bad crawl-delay {seconds}", at()),
                        )))
                    }
                },
            },
            _ => panic!("{}: [{}] not a check: {raw}", at(), case.id),
        };
        case.checks.push(Check { line, what });
    }
    cases
}

/// `\r`, `\n`, `\t`, `\\` and `\xHH`; any other backslash is a mistake.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'\\' {
            out.push(bytes[index]);
            index += 1;
            continue;
        }
        match bytes.get(index + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = text
                    .get(index + 2..index + 4)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| format!("bad \\x escape in {text:?}"))?;
                out.push(hex);
                index += 2;
            }
            _ => return Err(format!("unknown escape in {text:?}")),
        }
        index += 2;
    }
    Ok(out)
}

fn full_url(url: &str) -> Result<String, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_owned())
    } else if url.starts_with('/') {
        Ok(format!("http://example.com{url}"))
    } else {
        Err(format!("a URL must be absolute or start with `/`: {url}"))
    }
}

/// What the check found, if it is not what the table says.
fn run(case: &Case, check: &Check) -> Option<String> {
    match &check.what {
        Expect::Allowed {
            agent,
            url,
            allowed,
        } => {
            let parsed = match Url::parse(url) {
                Ok(parsed) => parsed,
                Err(error) => return Some(format!("URL {url} does not parse: {error}")),
            };
            let got = RobotsRules::parse(agent, &case.body).allowed(&parsed);
            (got != *allowed).then(|| {
                let word = |allowed: bool| if allowed { "allowed" } else { "disallowed" };
                let parsed = if parsed.as_str() == url {
                    String::new()
                } else {
                    format!(" (parsed as {parsed})")
                };
                format!(
                    "{agent} {url}{parsed}: expected {}, got {}",
                    word(*allowed),
                    word(got)
                )
            })
        }
        Expect::CrawlDelay { agent, delay } => {
            let got = RobotsRules::parse(agent, &case.body).crawl_delay();
            (got != *delay).then(|| format!("{agent}: expected Crawl-delay {delay:?}, got {got:?}"))
        }
        Expect::Sitemaps(expected) => {
            let rules = RobotsRules::parse("trawl", &case.body);
            let got = rules.sitemaps();
            (got != expected.as_slice())
                .then(|| format!("expected sitemaps {expected:?}, got {got:?}"))
        }
    }
}

#[test]
fn every_fact_of_the_conformance_table_holds() {
    let cases = read_table(TABLE);
    let checks: usize = cases.iter().map(|case| case.checks.len()).sum();
    for case in &cases {
        assert!(!case.checks.is_empty(), "[{}] has no checks", case.id);
    }
    // A guard against the table being cut short by mistake.
    assert!(
        cases.len() >= 60 && checks >= 200,
        "only {} cases and {checks} checks were read",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|case| {
            case.checks.iter().filter_map(move |check| {
                run(case, check)
                    .map(|problem| format!("{TABLE_NAME}:{} [{}] {problem}", check.line, case.id))
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {checks} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_reader_rejects_what_it_does_not_understand() {
    assert_eq!(unescape(r"a\r\n\t\\\xEFb").unwrap(), b"a\r\n\t\\\xEFb");
    assert!(unescape(r"\q").is_err());
    assert!(unescape(r"\xZ1").is_err());
    assert!(full_url("example.com/x").is_err());
    let cases =
        read_table("== one\n| User-agent: *\n| Disallow: /x\nbot disallow /x\nsitemaps none\n");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].body, b"User-agent: *\nDisallow: /x\n");
    assert_eq!(cases[0].checks.len(), 2);
    assert!(std::panic::catch_unwind(|| read_table("== one\nbot frobnicate /x\n")).is_err());
}
