//! The values every store speaks: a queued URL, the limits a crawl honours,
//! why a URL was or was not queued, and the progress counters.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;

use url::Url;

use crate::canon::CanonicalUrl;

/// Limits a crawl honours exactly.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Links deeper than this (seeds are depth 0) are not queued.
    pub max_depth: u32,
    /// At most this many URLs are ever handed out (one record each).
    pub max_pages: u64,
    /// At most this many requests in flight to one host key at a time.
    pub per_host_concurrency: u32,
    /// At most this many URLs queued over the crawl per host key (a trap
    /// guard: one host cannot eat the whole crawl).
    pub max_pages_per_host: u64,
    /// Links whose path repeats one segment more often than this
    /// (`/a/b/a/b/a/b/a`, `next/next/next/...`) are dropped as traps.
    pub max_repeated_segments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: u32::MAX,
            max_pages: u64::MAX,
            per_host_concurrency: 2,
            max_pages_per_host: u64::MAX,
            max_repeated_segments: 3,
        }
    }
}

/// A queued URL with how it was found: what stores queue, journal, spill
/// and hand out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The URL to fetch.
    pub url: CanonicalUrl,
    /// Link distance from a seed.
    pub depth: u32,
    /// The page on which the URL was first found (`None` for seeds).
    /// Siblings share one allocation.
    pub parent: Option<Arc<str>>,
}

impl Entry {
    /// A seed: depth 0, no parent.
    pub fn seed(url: CanonicalUrl) -> Entry {
        Entry {
            url,
            depth: 0,
            parent: None,
        }
    }

    /// A link found at `depth` on page `parent`.
    pub fn link(url: CanonicalUrl, depth: u32, parent: &Arc<str>) -> Entry {
        Entry {
            url,
            depth,
            parent: Some(Arc::clone(parent)),
        }
    }

    /// Appends the journal line (`depth<TAB>parent<TAB>url`, parent `-`
    /// for none), newline included. Canonical URLs contain neither tabs
    /// nor newlines, so the format needs no escaping.
    pub fn write_journal_line(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", self.depth);
        out.push(b'\t');
        out.extend_from_slice(self.parent.as_deref().unwrap_or("-").as_bytes());
        out.push(b'\t');
        out.extend_from_slice(self.url.as_str().as_bytes());
        out.push(b'\n');
    }

    /// Parses one journal line (without its newline). The URL is
    /// canonicalised again because journals written by earlier versions
    /// held seeds as the user spelled them.
    pub fn parse_journal_line(line: &str) -> Option<Entry> {
        let mut parts = line.splitn(3, '\t');
        let depth = parts.next()?.parse().ok()?;
        let parent = match parts.next()? {
            "-" => None,
            parent => Some(Arc::from(parent)),
        };
        let url = CanonicalUrl::parse(parts.next()?).ok()?;
        Some(Entry { url, depth, parent })
    }
}

/// A host's queued entries in memory, by depth, so the host is served
/// breadth-first even when slow pages deliver shallow links late.
///
/// An entry waits as its URL's text: most of a frontier's entries wait
/// here, and a parsed `Url` keeps 88 bytes beside its text where a boxed
/// text keeps 16. It is parsed again when it leaves. The depths are a
/// short list, deepest first, not a map: a host usually has one or two
/// depths waiting, and a map's first node is ~400 bytes per host.
#[derive(Debug, Default)]
pub(crate) struct DepthQueue {
    by_depth: Vec<(u32, VecDeque<Waiting>)>,
}

#[derive(Debug)]
struct Waiting {
    url: Box<str>,
    parent: Option<Arc<str>>,
}

impl DepthQueue {
    pub(crate) fn push(&mut self, entry: Entry) {
        let at = self
            .by_depth
            .partition_point(|(depth, _)| *depth > entry.depth);
        if self
            .by_depth
            .get(at)
            .is_none_or(|(depth, _)| *depth != entry.depth)
        {
            // Exactly one more: most hosts never have a second depth.
            self.by_depth.reserve_exact(1);
            self.by_depth.insert(at, (entry.depth, VecDeque::new()));
        }
        self.by_depth[at].1.push_back(Waiting {
            url: String::from(entry.url).into_boxed_str(),
            parent: entry.parent,
        });
    }

    /// The depth the next [`DepthQueue::pop`] comes from.
    pub(crate) fn next_depth(&self) -> Option<u32> {
        self.by_depth.last().map(|(depth, _)| *depth)
    }

    /// The oldest of the shallowest entries. `Some(Err(text))` if its text
    /// does not parse, which a URL's own serialisation always does.
    pub(crate) fn pop(&mut self) -> Option<Result<Entry, Box<str>>> {
        let (depth, bucket) = self.by_depth.last_mut()?;
        let depth = *depth;
        let waiting = bucket.pop_front();
        if bucket.is_empty() {
            self.by_depth.pop();
        }
        let Waiting { url: text, parent } = waiting?;
        Some(match Url::parse(&text) {
            Ok(url) => Ok(Entry {
                url: CanonicalUrl::from_stored(url),
                depth,
                parent,
            }),
            Err(_) => Err(text),
        })
    }
}

/// Why a URL was or was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Newly queued.
    Queued,
    /// Its canonical form was seen before in this crawl.
    Seen,
    /// Its host is outside the crawl's scope, or a pattern rejects it.
    OutOfScope,
    /// It is deeper than `max_depth`.
    TooDeep,
    /// The page limit, or its host's page budget, leaves no room for it.
    LimitReached,
    /// Its path repeats a segment too often: a crawler trap.
    Trap,
    /// It is not an http(s) URL with a host (for callers that
    /// canonicalise; a store never sees such a URL).
    Invalid,
}

/// Counters for progress reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// URLs waiting in queues.
    pub queued: u64,
    /// URLs handed out and not yet completed.
    pub in_flight: u64,
    /// URLs handed out so far (completed or not).
    pub handed_out: u64,
    /// Distinct canonical URLs seen.
    pub seen: u64,
    /// Host keys known.
    pub hosts: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_round_trip() {
        let entry = Entry::link(
            CanonicalUrl::parse("http://a.example/x?q=1").unwrap(),
            3,
            &Arc::from("http://a.example/"),
        );
        let mut line = Vec::new();
        entry.write_journal_line(&mut line);
        assert_eq!(line, b"3\thttp://a.example/\thttp://a.example/x?q=1\n");
        let text = String::from_utf8(line).unwrap();
        assert_eq!(Entry::parse_journal_line(text.trim_end()), Some(entry));
        let seed = Entry::parse_journal_line("0\t-\thttp://a.example/").unwrap();
        assert_eq!(seed.parent, None);
        assert!(Entry::parse_journal_line("x\t-\thttp://a.example/").is_none());
        assert!(Entry::parse_journal_line("0\t-\tmailto:x@a.example").is_none());
    }

    #[test]
    fn seeds_journaled_as_spelled_by_older_versions_read_back_canonical() {
        let seed = Entry::parse_journal_line("0\t-\tHTTP://A.example:80/x#top").unwrap();
        assert_eq!(seed.url.as_str(), "http://a.example/x");
    }

    #[test]
    fn the_depth_queue_gives_back_what_it_took_shallowest_first_oldest_first() {
        let parent: Arc<str> = Arc::from("http://a.example/");
        let entry = |path: &str, depth| {
            let url = CanonicalUrl::parse(&format!("http://a.example/{path}")).unwrap();
            Entry::link(url, depth, &parent)
        };
        let pushed = [
            entry("b2", 2),
            entry("a1?q=%C3%A9&x=1", 1),
            entry("c2", 2),
            Entry::seed(CanonicalUrl::parse("https://[::1]:8443/s").unwrap()),
            entry("d1", 1),
        ];
        let mut queue = DepthQueue::default();
        for entry in pushed.iter().cloned() {
            queue.push(entry);
        }
        assert_eq!(queue.next_depth(), Some(0));
        let mut popped = Vec::new();
        while let Some(next) = queue.pop() {
            popped.push(next.expect("a canonical URL parses again"));
        }
        let order = [3, 1, 4, 0, 2].map(|i| pushed[i].clone());
        assert_eq!(popped, order);
        assert_eq!(queue.next_depth(), None);
    }

    #[test]
    fn depths_pushed_between_pops_keep_the_queue_breadth_first() {
        let entry = |path: &str, depth| Entry {
            url: CanonicalUrl::parse(&format!("http://a.example/{path}")).unwrap(),
            depth,
            parent: None,
        };
        let mut queue = DepthQueue::default();
        queue.push(entry("a3", 3));
        queue.push(entry("b3", 3));
        let pop = |queue: &mut DepthQueue| queue.pop().map(|next| next.unwrap().url);
        assert_eq!(pop(&mut queue), Some(entry("a3", 3).url));
        // Shallower, deeper and emptied depths arrive while it drains.
        queue.push(entry("c5", 5));
        queue.push(entry("d1", 1));
        queue.push(entry("e4", 4));
        assert_eq!(queue.next_depth(), Some(1));
        assert_eq!(pop(&mut queue), Some(entry("d1", 1).url));
        queue.push(entry("f1", 1));
        let rest: Vec<_> = std::iter::from_fn(|| pop(&mut queue)).collect();
        let expected = [
            entry("f1", 1),
            entry("b3", 3),
            entry("e4", 4),
            entry("c5", 5),
        ];
        assert_eq!(rest, expected.map(|entry| entry.url));
        assert_eq!(queue.next_depth(), None);
    }
}
