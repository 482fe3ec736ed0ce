//! robots.txt parsing and matching after RFC 9309, for one product token.
//!
//! Groups (RFC 9309 2.1, 2.2.1, 2.2.4): a group is one or more
//! `User-agent` lines followed by rules. Only a user-agent line that comes
//! after a rule starts a new group, so blank lines, comments,
//! `Crawl-delay`, `Sitemap` and unknown lines never split one. Rules above
//! the first user-agent line belong to no group and are ignored. The
//! groups naming our product token (case-insensitively) are merged and
//! obeyed; if there are none, the `*` groups are; if there are none of
//! those either, nothing is disallowed.
//!
//! Rules (RFC 9309 2.2.2, 2.2.3): each rule path and the URL's path and
//! query are brought to one percent-encoding ([`canonicalise`]) and
//! compared octet by octet from the first; `*` matches any run of octets
//! and a final `$` anchors the end. The matching rule with the most octets
//! decides, `Allow` winning a tie; a URL no rule matches is allowed.

use std::cmp::Reverse;
use std::time::Duration;

/// What one robots.txt says to one product token.
#[derive(Debug, Clone, Default)]
pub struct ParsedRobots {
    /// The rules of the group(s) we obey, most specific first and, among
    /// equally specific ones, `Allow` first: the first match decides.
    rules: Vec<Rule>,
    /// Seconds, from the first valid `Crawl-delay` of those groups (or,
    /// failing that, one above the first group).
    crawl_delay: Option<f64>,
    /// Every `Sitemap:` line, wherever it is.
    sitemaps: Vec<String>,
}

impl ParsedRobots {
    /// Parses `body` for the product token `agent` (e.g. `trawl`). Never
    /// fails: lines that mean nothing are skipped.
    pub fn parse(agent: &str, body: &[u8]) -> ParsedRobots {
        let agent = agent.trim().as_bytes();
        let mut groups: Vec<Group> = Vec::new();
        // The last group still takes user-agent lines: no rule seen yet.
        let mut open = false;
        let mut preamble_delay = None;
        let mut sitemaps = Vec::new();
        for line in lines(body) {
            let Some((key, value)) = key_value(line) else {
                continue;
            };
            match key {
                Key::UserAgent => {
                    if !open {
                        groups.push(Group::default());
                        open = true;
                    }
                    if let Some(group) = groups.last_mut() {
                        if names_any_agent(value) {
                            group.any = true;
                        } else {
                            let token = product_token(value);
                            if !token.is_empty() && token.eq_ignore_ascii_case(agent) {
                                group.ours = true;
                            }
                        }
                    }
                }
                Key::Allow | Key::Disallow => {
                    // Outside any group: ignored.
                    let Some(group) = groups.last_mut() else {
                        continue;
                    };
                    open = false;
                    if group.ours || group.any {
                        group.rules.extend(Rule::new(value, key == Key::Allow));
                    }
                }
                Key::CrawlDelay => {
                    if let Some(delay) = parse_delay(value) {
                        match groups.last_mut() {
                            Some(group) => group.crawl_delay.get_or_insert(delay),
                            None => preamble_delay.get_or_insert(delay),
                        };
                    }
                }
                Key::Sitemap => {
                    if let Ok(url) = std::str::from_utf8(value)
                        && !url.is_empty()
                    {
                        sitemaps.push(url.to_owned());
                    }
                }
            }
        }

        let named = groups.iter().any(|group| group.ours);
        let mut rules = Vec::new();
        let mut crawl_delay = None;
        for group in groups {
            if (named && group.ours) || (!named && group.any) {
                rules.extend(group.rules);
                crawl_delay = crawl_delay.or(group.crawl_delay);
            }
        }
        rules.sort_by_key(|rule| (Reverse(rule.specificity), !rule.allow));
        ParsedRobots {
            rules,
            crawl_delay: crawl_delay.or(preamble_delay),
            sitemaps,
        }
    }

    /// May a URL with this path and query (`/a/b?c`, no fragment) be
    /// fetched? An empty path is `/`.
    pub fn allowed(&self, path_and_query: &str) -> bool {
        let mut path = Vec::with_capacity(path_and_query.len() + 8);
        canonicalise(path_and_query.as_bytes(), false, &mut path);
        if path.is_empty() {
            path.push(b'/');
        }
        self.rules
            .iter()
            .find(|rule| rule.matches(&path))
            .is_none_or(|rule| rule.allow)
    }

    /// The `Crawl-delay` that applies, if any and positive (capped at a day).
    pub fn crawl_delay(&self) -> Option<Duration> {
        self.crawl_delay
            .filter(|delay| *delay > 0.0)
            .map(|delay| Duration::from_secs_f64(delay.min(86_400.0)))
    }

    /// `Sitemap:` URLs listed in the file, in order.
    pub fn sitemaps(&self) -> &[String] {
        &self.sitemaps
    }
}

/// One group as parsed: whether it names us or `*`, and (only if it
/// matters to us) its rules.
#[derive(Debug, Default)]
struct Group {
    ours: bool,
    any: bool,
    rules: Vec<Rule>,
    crawl_delay: Option<f64>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// The canonical pattern: `*` is the wildcard (a literal star is `%2A`).
    pattern: Vec<u8>,
    /// The pattern ended in `$`: it must match the whole path.
    anchored: bool,
    allow: bool,
    /// Octets of the canonical pattern, its `*` and `$` included: the
    /// longest match wins.
    specificity: usize,
}

impl Rule {
    /// `None` for an empty path, which matches nothing (`Disallow:` alone
    /// disallows nothing).
    fn new(value: &[u8], allow: bool) -> Option<Rule> {
        if value.is_empty() {
            return None;
        }
        let (body, anchored) = match value.strip_suffix(b"$") {
            Some(body) => (body, true),
            None => (value, false),
        };
        let mut pattern = Vec::with_capacity(body.len() + 8);
        canonicalise(body, true, &mut pattern);
        let specificity = pattern.len() + usize::from(anchored);
        // Runs of stars match what one star matches.
        pattern.dedup_by(|later, earlier| *later == b'*' && *earlier == b'*');
        Some(Rule {
            pattern,
            anchored,
            allow,
            specificity,
        })
    }

    fn matches(&self, path: &[u8]) -> bool {
        wildcard_match(&self.pattern, self.anchored, path)
    }
}

/// Does `pattern` (with `*` wildcards) match the start of `text` (all of
/// it if `anchored`)? Greedy, going back only to the last star: time
/// O(len(pattern) * len(text)) at worst, no recursion, no allocation.
fn wildcard_match(pattern: &[u8], anchored: bool, text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Just after the last star seen: (pattern index, text index it took).
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if p == pattern.len() {
            if !anchored || t == text.len() {
                return true;
            }
        } else if pattern[p] == b'*' {
            p += 1;
            resume = Some((p, t));
            continue;
        } else if t < text.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
            continue;
        }
        // A difference: the last star takes one more octet, if there is one.
        match resume {
            Some((after_star, taken)) if taken < text.len() => {
                p = after_star;
                t = taken + 1;
                resume = Some((after_star, t));
            }
            _ => return false,
        }
    }
}

/// Appends the form in which `input` (a rule path if `pattern`, else a
/// URL's path and query) is compared:
///
/// - escapes of unreserved characters are decoded and all other escapes
///   use upper-case hex (RFC 3986 2.1, 6.2.2; RFC 9309 2.2.2), so `%7e`,
///   `%7E` and `~` are one octet and `%e3` is `%E3`;
/// - every octet RFC 3986 does not allow bare in a URI (non-ASCII,
///   controls, space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, a
///   `%` that starts no escape) is percent-encoded, so a rule written as
///   `/ツ` matches the URL `/%E3%83%84`;
/// - `*` and `$` are percent-encoded, because in rules they are special
///   (RFC 9309 2.2.3: `%2A` in a rule matches a literal `*` in the URL);
///   in a rule a `*` stays the wildcard (the caller has already taken off
///   a final `$`), and a `$` anywhere else is a literal dollar;
/// - `'` is percent-encoded, because the `url` crate encodes it in the
///   query of http(s) URLs but not in the path: this way `'` and `%27`
///   are one octet wherever they are.
///
/// Both sides go through this one function, so what matches is decided by
/// octets that were written the same way.
fn canonicalise(input: &[u8], pattern: bool, out: &mut Vec<u8>) {
    let mut index = 0;
    while index < input.len() {
        let byte = input[index];
        if byte == b'%'
            && let (Some(high), Some(low)) = (
                input.get(index + 1).copied().and_then(hex_value),
                input.get(index + 2).copied().and_then(hex_value),
            )
        {
            let decoded = high * 16 + low;
            if is_unreserved(decoded) {
                out.push(decoded);
            } else {
                push_escape(out, decoded);
            }
            index += 3;
            continue;
        }
        if (pattern && byte == b'*') || is_kept_bare(byte) {
            out.push(byte);
        } else {
            push_escape(out, byte);
        }
        index += 1;
    }
}

fn push_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[
        b'%',
        HEX[usize::from(byte >> 4)],
        HEX[usize::from(byte & 15)],
    ]);
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Unreserved and reserved characters (RFC 3986 2.2), less `*`, `$` and `'`.
fn is_kept_bare(byte: u8) -> bool {
    is_unreserved(byte)
        || matches!(
            byte,
            b':' | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'&'
                | b'('
                | b')'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The file's lines, after a UTF-8 byte order mark (or a leading part of
/// one). A line ends at LF, CR or CRLF (RFC 9309 2.2); NUL is taken as a
/// line end too, as some servers pad files with it.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    for mark in [0xEF, 0xBB, 0xBF] {
        match rest.split_first() {
            Some((&byte, tail)) if byte == mark => rest = tail,
            _ => break,
        }
    }
    rest.split(|byte| matches!(byte, b'\n' | b'\r' | 0))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    UserAgent,
    Allow,
    Disallow,
    Sitemap,
    CrawlDelay,
}

/// The record on one line, without its comment and surrounding
/// whitespace. Keys are case-insensitive and common misspellings are
/// accepted (RFC 9309 2.2.4 allows leniency); a missing colon is accepted
/// when the line is exactly a key and a value.
fn key_value(line: &[u8]) -> Option<(Key, &[u8])> {
    let line = match line.iter().position(|&byte| byte == b'#') {
        Some(comment) => &line[..comment],
        None => line,
    };
    let line = line.trim_ascii();
    let (key, value) = match line.iter().position(|&byte| byte == b':') {
        Some(colon) => (line[..colon].trim_ascii(), line[colon + 1..].trim_ascii()),
        None => {
            let blank = line.iter().position(|byte| matches!(byte, b' ' | b'\t'))?;
            let value = line[blank..].trim_ascii();
            if value.iter().any(|byte| matches!(byte, b' ' | b'\t')) {
                return None;
            }
            (&line[..blank], value)
        }
    };
    const KEYS: &[(&[u8], Key)] = &[
        (b"user-agent", Key::UserAgent),
        (b"useragent", Key::UserAgent),
        (b"user agent", Key::UserAgent),
        (b"allow", Key::Allow),
        (b"disallow", Key::Disallow),
        (b"dissallow", Key::Disallow),
        (b"dissalow", Key::Disallow),
        (b"disalow", Key::Disallow),
        (b"diasllow", Key::Disallow),
        (b"disallaw", Key::Disallow),
        (b"sitemap", Key::Sitemap),
        (b"site-map", Key::Sitemap),
        (b"site map", Key::Sitemap),
        (b"crawl-delay", Key::CrawlDelay),
        (b"crawldelay", Key::CrawlDelay),
        (b"crawl delay", Key::CrawlDelay),
    ];
    KEYS.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|&(_, key)| (key, value))
}

/// `User-agent: *` (alone, or followed by blank space and anything).
fn names_any_agent(value: &[u8]) -> bool {
    value.first() == Some(&b'*') && value.get(1).is_none_or(u8::is_ascii_whitespace)
}

/// The product token a user-agent value starts with: letters, `-` and `_`
/// (RFC 9309 2.2.1), so `trawl/1.0` and `trawl (compatible)` name `trawl`.
fn product_token(value: &[u8]) -> &[u8] {
    let end = value
        .iter()
        .position(|&byte| !(byte.is_ascii_alphabetic() || byte == b'-' || byte == b'_'))
        .unwrap_or(value.len());
    &value[..end]
}

/// Seconds, if the value is a finite, non-negative number.
fn parse_delay(value: &[u8]) -> Option<f64> {
    std::str::from_utf8(value)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|delay| delay.is_finite() && *delay >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str, pattern: bool) -> String {
        let mut out = Vec::new();
        canonicalise(text.as_bytes(), pattern, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_are_brought_to_one_form() {
        assert_eq!(canonical("/a/%e3%83%84", false), "/a/%E3%83%84");
        assert_eq!(canonical("/a/ツ", true), "/a/%E3%83%84");
        assert_eq!(canonical("/%7euser/%41", false), "/~user/A");
        assert_eq!(canonical("/a%2fb%zz%", false), "/a%2Fb%25zz%25");
        assert_eq!(canonical("/x*y$z'", false), "/x%2Ay%24z%27");
        assert_eq!(canonical("/x*y$z", true), "/x*y%24z");
        assert_eq!(
            canonical("/a b\"<>{}|^`\\", false),
            "/a%20b%22%3C%3E%7B%7D%7C%5E%60%5C"
        );
        assert_eq!(
            canonical("/?q=http://x.y/&a=[1];@!()+,", false),
            "/?q=http://x.y/&a=[1];@!()+,"
        );
        // Canonical text is a fixed point.
        for text in ["/a/%e3%83%84", "/%zz%%41", "/x*y$'ツ"] {
            let once = canonical(text, false);
            assert_eq!(canonical(&once, false), once);
        }
    }

    #[test]
    fn wildcards_and_anchors() {
        let cases: &[(&str, bool, &str, bool)] = &[
            ("/a", false, "/abc", true),
            ("/a", true, "/abc", false),
            ("/a", true, "/a", true),
            ("/a*c", true, "/abc", true),
            ("/a*c", true, "/abcd", false),
            ("/a*c", false, "/abcd", true),
            ("*", true, "", true),
            ("/*b*b", true, "/abab", true),
            ("/*b*b", true, "/abba", false),
            ("/*.php", false, "/x.ph", false),
            ("", false, "", true),
        ];
        for &(pattern, anchored, text, expected) in cases {
            assert_eq!(
                wildcard_match(pattern.as_bytes(), anchored, text.as_bytes()),
                expected,
                "{pattern} (anchored: {anchored}) against {text}"
            );
        }
    }

    #[test]
    fn adversarial_stars_stay_cheap() {
        let pattern = format!("/{}b", "a*".repeat(2_000));
        let robots = ParsedRobots::parse(
            "trawl",
            format!("User-agent: *\nDisallow: {pattern}\n").as_bytes(),
        );
        assert!(robots.allowed(&format!("/{}", "a".repeat(4_000))));
    }

    #[test]
    fn product_tokens_and_the_any_agent() {
        assert_eq!(product_token(b"trawl/1.0"), b"trawl");
        assert_eq!(product_token(b"Trawl_Bot-2"), b"Trawl_Bot-");
        assert!(names_any_agent(b"*"));
        assert!(names_any_agent(b"* # all"));
        assert!(!names_any_agent(b"*bot"));
        let robots = ParsedRobots::parse(
            "trawl",
            b"User-agent: *\nDisallow: /\n\nUser-agent: trawl/1.0\nDisallow: /private\n",
        );
        assert!(robots.allowed("/public"));
        assert!(!robots.allowed("/private"));
        let robots = ParsedRobots::parse("trawl", b"User-agent: trawler\nDisallow: /\n");
        assert!(robots.allowed("/"));
    }

    #[test]
    fn empty_rules_match_nothing() {
        let robots = ParsedRobots::parse("trawl", b"User-agent: *\nDisallow: /\nDisallow:\n");
        assert!(!robots.allowed("/x"));
        let robots = ParsedRobots::parse("trawl", b"User-agent: *\nDisallow:\n");
        assert!(robots.allowed("/x"));
    }

    #[test]
    fn crawl_delay_of_our_group_then_of_the_preamble() {
        let delay = |text: &str| ParsedRobots::parse("trawl", text.as_bytes()).crawl_delay();
        assert_eq!(
            delay("User-agent: *\nCrawl-delay: 3\nUser-agent: other\nCrawl-delay: 9\n"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            delay("Crawl-delay: 4\nUser-agent: trawl\nDisallow: /x\n"),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            delay("User-agent: trawl\nCrawl-delay: soon\nCrawl-delay: 0.5\n"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            delay("User-agent: trawl\nCrawl-delay: 1e9\n"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(delay("User-agent: trawl\nCrawl-delay: 0\n"), None);
        assert_eq!(delay("User-agent: other\nCrawl-delay: 5\n"), None);
    }

    #[test]
    fn a_missing_colon_is_accepted_between_two_words_only() {
        let robots = ParsedRobots::parse("trawl", b"user-agent trawl\ndisallow /x\n");
        assert!(!robots.allowed("/x"));
        let robots = ParsedRobots::parse("trawl", b"user-agent: trawl\ndisallow /x y\n");
        assert!(robots.allowed("/x"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// `text` with the hex digits of its escapes in lower case.
    fn lower_escapes(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                out.extend(chars.by_ref().take(2).map(|c| c.to_ascii_lowercase()));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn the_verdict_ignores_how_escapes_are_spelt(
            rules in proptest::collection::vec(
                "(Allow|Disallow): /(%[0-9a-fA-F]{2}|[a-c*/]){0,6}\\$?", 0..6),
            path in "/(%[0-9A-F]{2}|[a-c/]){0,8}",
        ) {
            let body = format!("User-agent: trawl\n{}\n", rules.join("\n"));
            let robots = ParsedRobots::parse("trawl", body.as_bytes());
            let lowered = ParsedRobots::parse("trawl", lower_escapes(&body).as_bytes());
            let verdict = robots.allowed(&path);
            prop_assert_eq!(verdict, robots.allowed(&lower_escapes(&path)));
            prop_assert_eq!(verdict, lowered.allowed(&path));
        }
    }
}
