//! Where a crawl's state lives in Redis: key names, the shard of a host,
//! the seen-set bucket of a URL, how a queued URL is spelled, and the
//! clock the scripts share. Pure: no I/O.
//!
//! Every key of one host carries the hash tag `{<crawl>/<shard>}`, so each
//! script touches one Redis Cluster slot; crawl-wide keys carry
//! `{<crawl>}`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use trawl_frontier::Entry;
use xxhash_rust::xxh3::xxh3_64;

/// Shards of a new crawl (fixed for the crawl's life, kept in its meta
/// hash): a host's keys live in one, and one claim round visits each.
pub const DEFAULT_SHARDS: u32 = 16;

/// Seen-set buckets per shard of a new crawl. A bucket stays a compact
/// intset (about 9 bytes per URL) up to Redis's `set-max-intset-entries`
/// (512), so 16 × 256 buckets hold about 2 million URLs compactly; larger
/// crawls set more (see the README's sizing plan).
pub const DEFAULT_BUCKETS: u32 = 256;

/// Why a crawl id cannot name Redis keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "crawl id {0:?}: use 1 to 64 letters, digits, '.', '_' or '-' (it names Redis keys and hash tags)"
)]
pub struct BadCrawlId(pub String);

/// The key names of one crawl.
#[derive(Debug, Clone)]
pub struct Keys {
    crawl: String,
    shards: u32,
    buckets: u32,
}

impl Keys {
    /// Keys of crawl `crawl` with its shard and bucket counts.
    pub fn new(crawl: &str, shards: u32, buckets: u32) -> Result<Keys, BadCrawlId> {
        check_crawl_id(crawl)?;
        Ok(Keys {
            crawl: crawl.to_owned(),
            shards: shards.max(1),
            buckets: buckets.max(1),
        })
    }

    /// Shards of the crawl.
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// A crawl-wide key (`meta`, `workers`, `handed`, `seeds`).
    pub fn global(&self, name: &str) -> String {
        global_key(&self.crawl, name)
    }

    /// The prefix of every key of shard `shard`; the scripts append
    /// `ready`, `leases`, `stats`, `q:<host>`, `h:<host>`, `seen:<bucket>`.
    pub fn shard_prefix(&self, shard: u32) -> String {
        format!("trawl:{{{}/{shard}}}:", self.crawl)
    }

    /// Shard `shard`'s counters.
    pub fn stats(&self, shard: u32) -> String {
        format!("{}stats", self.shard_prefix(shard))
    }

    /// Shard `shard`'s leases.
    pub fn leases(&self, shard: u32) -> String {
        format!("{}leases", self.shard_prefix(shard))
    }

    /// The shard of host key `host`.
    pub fn shard_of(&self, host: &str) -> u32 {
        (xxh3_64(host.as_bytes()) % u64::from(self.shards)) as u32
    }

    /// The seen-set bucket (within its host's shard) of a URL fingerprint.
    pub fn bucket_of(&self, fingerprint: u64) -> u32 {
        // The high bits: the low bits of a fingerprint are also what an
        // intset sorts on, and need not be spread twice.
        ((fingerprint >> 32) % u64::from(self.buckets)) as u32
    }

    /// The seen-set bucket key of a fingerprint of a URL on `host`.
    pub fn seen(&self, host: &str, fingerprint: u64) -> String {
        format!(
            "{}seen:{}",
            self.shard_prefix(self.shard_of(host)),
            self.bucket_of(fingerprint)
        )
    }

    /// `SCAN` patterns matching every key of the crawl.
    pub fn patterns(&self) -> [String; 2] {
        [
            format!("trawl:{{{}/*", self.crawl),
            format!("trawl:{{{}}}:*", self.crawl),
        ]
    }
}

/// A crawl-wide key of crawl `crawl`.
pub fn global_key(crawl: &str, name: &str) -> String {
    format!("trawl:{{{crawl}}}:{name}")
}

/// A crawl id is safe in key names, hash tags and `SCAN` patterns.
pub fn check_crawl_id(crawl: &str) -> Result<(), BadCrawlId> {
    let ok = (1..=64).contains(&crawl.len())
        && crawl
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(BadCrawlId(crawl.to_owned()))
    }
}

/// The seen-set member of a fingerprint: an integer, so a bucket is an
/// intset (8 bytes per member plus a small header) rather than a
/// hashtable of strings.
pub fn member(fingerprint: u64) -> i64 {
    fingerprint as i64
}

/// A queued URL as it is stored: `f` (fresh) or `r` (re-queued after its
/// lease expired, already counted against `max_pages`), then the queue
/// journal's line: `depth<TAB>parent<TAB>url`.
pub fn encode_item(entry: &Entry) -> Vec<u8> {
    let mut item = vec![b'f'];
    entry.write_journal_line(&mut item);
    item.pop();
    item
}

/// Reads an item back; `None` when it is not one.
pub fn decode_item(item: &str) -> Option<(Entry, bool)> {
    let fresh = match item.as_bytes().first()? {
        b'f' => true,
        b'r' => false,
        _ => return None,
    };
    Some((Entry::parse_journal_line(&item[1..])?, fresh))
}

/// A lease member (`id<TAB>host<TAB>item`): its host and item.
pub fn split_member(member: &str) -> Option<(&str, &str)> {
    let (_, rest) = member.split_once('\t')?;
    rest.split_once('\t')
}

/// Maps this process's monotonic instants to the milliseconds since the
/// Unix epoch the scripts compare, so every worker's clock means the same
/// (to the accuracy of the machines' clocks).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    instant: Instant,
    ms: u64,
}

impl Clock {
    /// Anchored at this moment.
    pub fn now() -> Clock {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis() as u64)
            .unwrap_or(0);
        Clock::anchored(Instant::now(), ms)
    }

    /// `instant` is `ms`.
    pub fn anchored(instant: Instant, ms: u64) -> Clock {
        Clock { instant, ms }
    }

    /// `at` in milliseconds, rounded up: a gate never opens early.
    pub fn ms(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.instant) {
            Some(after) => self.ms + ceil_ms(after),
            None => self
                .ms
                .saturating_sub(self.instant.duration_since(at).as_millis() as u64),
        }
    }

    /// The instant of `ms`.
    pub fn instant(&self, ms: u64) -> Instant {
        if ms >= self.ms {
            self.instant + Duration::from_millis(ms - self.ms)
        } else {
            self.instant
                .checked_sub(Duration::from_millis(self.ms - ms))
                .unwrap_or(self.instant)
        }
    }
}

/// A duration in whole milliseconds, rounded up.
pub fn ceil_ms(duration: Duration) -> u64 {
    let ms = duration.as_millis() as u64;
    if Duration::from_millis(ms) < duration {
        ms + 1
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use trawl_frontier::CanonicalUrl;

    #[test]
    fn crawl_ids_that_could_break_a_key_or_pattern_are_refused() {
        assert!(check_crawl_id("news-2026.v1_a").is_ok());
        for bad in ["", "a{b", "a}b", "a*", "a b", "a:b", &"x".repeat(65)] {
            assert_eq!(check_crawl_id(bad), Err(BadCrawlId(bad.to_owned())));
        }
        let error = Keys::new("a{", 1, 1).unwrap_err().to_string();
        assert!(error.contains("\"a{\""), "{error}");
    }

    #[test]
    fn keys_of_one_host_share_one_hash_tag() {
        let keys = Keys::new("c", 16, 256).unwrap();
        let host = "http://a.example:80";
        let shard = keys.shard_of(host);
        assert!(shard < 16);
        let tag = format!("{{c/{shard}}}");
        assert!(keys.seen(host, 12345).contains(&tag));
        assert!(keys.stats(shard).contains(&tag));
        assert!(keys.leases(shard).contains(&tag));
        assert_eq!(keys.global("meta"), "trawl:{c}:meta");
        let spread: std::collections::HashSet<u32> = (0..200)
            .map(|n| keys.shard_of(&format!("http://h{n}.example:80")))
            .collect();
        assert_eq!(spread.len(), 16, "hosts spread over every shard");
    }

    #[test]
    fn items_round_trip_and_members_split() {
        let parent: Arc<str> = "http://a.example/".into();
        let entry = Entry::link(
            CanonicalUrl::parse("http://a.example/x").unwrap(),
            2,
            &parent,
        );
        let item = String::from_utf8(encode_item(&entry)).unwrap();
        assert_eq!(item, "f2\thttp://a.example/\thttp://a.example/x");
        assert_eq!(decode_item(&item), Some((entry.clone(), true)));
        let requeued = format!("r{}", &item[1..]);
        assert_eq!(decode_item(&requeued), Some((entry, false)));
        assert_eq!(decode_item("x0\t-\thttp://a.example/"), None);
        assert_eq!(decode_item(""), None);
        let member = format!("7\thttp://a.example:80\t{item}");
        assert_eq!(split_member(&member), Some(("http://a.example:80", &*item)));
        assert_eq!(split_member("7"), None);
    }

    #[test]
    fn the_clock_rounds_up_and_maps_back() {
        let start = Instant::now();
        let clock = Clock::anchored(start, 1_000_000);
        assert_eq!(clock.ms(start), 1_000_000);
        assert_eq!(clock.ms(start + Duration::from_micros(1)), 1_000_001);
        assert_eq!(clock.ms(start + Duration::from_millis(5)), 1_000_005);
        assert_eq!(clock.instant(1_000_005), start + Duration::from_millis(5));
        assert_eq!(ceil_ms(Duration::from_micros(1500)), 2);
        assert_eq!(ceil_ms(Duration::ZERO), 0);
    }
}
