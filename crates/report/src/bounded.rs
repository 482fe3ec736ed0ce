//! Fixed-size summaries of unbounded streams: whatever the number of
//! records, each of these holds at most a set number of entries.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

/// Counts of values on a logarithmic scale: one bucket for 0, then eight
/// buckets per power of two (so a bucket is at most 12.5% wide), 513 in
/// all; quantiles read from it are within that width. Exact count, sum,
/// minimum and maximum.
#[derive(Debug, Clone)]
pub struct LogHistogram {
    buckets: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

const SUB_BITS: u32 = 3;
const SUBS: usize = 1 << SUB_BITS;

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            buckets: vec![0; 1 + 64 * SUBS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl LogHistogram {
    fn index(value: u64) -> usize {
        if value == 0 {
            return 0;
        }
        let exponent = 63 - value.leading_zeros();
        let sub = if exponent >= SUB_BITS {
            (value >> (exponent - SUB_BITS)) as usize & (SUBS - 1)
        } else {
            (value << (SUB_BITS - exponent)) as usize & (SUBS - 1)
        };
        1 + exponent as usize * SUBS + sub
    }

    /// The largest value that falls in bucket `index`.
    fn upper(index: usize) -> u64 {
        if index == 0 {
            return 0;
        }
        let exponent = ((index - 1) / SUBS) as u32;
        let sub = ((index - 1) % SUBS) as u64;
        if exponent >= SUB_BITS {
            let width = 1u64 << (exponent - SUB_BITS);
            ((SUBS as u64 + sub) << (exponent - SUB_BITS)).saturating_add(width - 1)
        } else {
            // Below 8 every value has its own bucket (some stay empty).
            (SUBS as u64 + sub) >> (SUB_BITS - exponent)
        }
    }

    pub fn add(&mut self, value: u64) {
        self.buckets[Self::index(value)] += 1;
        self.count += 1;
        self.sum += u128::from(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> u128 {
        self.sum
    }

    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// A value at least as large as the `q` quantile (0 < q ≤ 1) and at
    /// most one bucket (12.5%) above it; never above the maximum.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Self::upper(index).min(self.max));
            }
        }
        Some(self.max)
    }

    /// Counts per power of two: `(low, high, count)` for the values
    /// `low..=high` (`0..=0` first), from the lowest non-empty range to the
    /// highest.
    pub fn octaves(&self) -> Vec<(u64, u64, u64)> {
        let mut octaves = vec![(0, 0, self.buckets[0])];
        for exponent in 0..64u32 {
            let start = 1 + exponent as usize * SUBS;
            let count = self.buckets[start..start + SUBS].iter().sum();
            let low = 1u64 << exponent;
            let high = low.saturating_sub(1).saturating_add(low);
            octaves.push((low, high, count));
        }
        trim(octaves, |&(_, _, count)| count == 0)
    }
}

/// `items` without its leading and trailing entries for which `empty` holds.
pub fn trim<T>(items: Vec<T>, empty: impl Fn(&T) -> bool) -> Vec<T> {
    let Some(first) = items.iter().position(|item| !empty(item)) else {
        return Vec::new();
    };
    let last = items.iter().rposition(|item| !empty(item)).unwrap_or(first);
    items
        .into_iter()
        .skip(first)
        .take(last + 1 - first)
        .collect()
}

/// The most frequent keys of a stream, in at most `capacity` counters
/// (the Misra–Gries summary). While fewer than `capacity` distinct keys
/// have been seen the counts are exact. After that, a key that is not
/// counted makes every counter drop by one (and the empty ones go): every
/// key with more than `total / (capacity + 1)` occurrences is still
/// there, and each count is low by at most [`FrequentItems::undercount`].
#[derive(Debug, Clone)]
pub struct FrequentItems {
    capacity: usize,
    counts: HashMap<Box<str>, u64>,
    total: u64,
    undercount: u64,
}

impl FrequentItems {
    pub fn new(capacity: usize) -> Self {
        FrequentItems {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            total: 0,
            undercount: 0,
        }
    }

    pub fn add(&mut self, key: &str) {
        self.total += 1;
        if let Some(count) = self.counts.get_mut(key) {
            *count += 1;
        } else if self.counts.len() < self.capacity {
            self.counts.insert(key.into(), 1);
        } else {
            // The newcomer's count of one and one of every other cancel.
            self.undercount += 1;
            self.counts.retain(|_, count| {
                *count -= 1;
                *count > 0
            });
        }
    }

    /// Occurrences added, counted or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How much any count may be below the truth; 0 means exact.
    pub fn undercount(&self) -> u64 {
        self.undercount
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The `n` largest counts, largest first (ties by key).
    pub fn top(&self, n: usize) -> Vec<(&str, u64)> {
        let mut top: Vec<(&str, u64)> = self
            .counts
            .iter()
            .map(|(key, &count)| (&**key, count))
            .collect();
        top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        top.truncate(n);
        top
    }
}

/// The `capacity` largest items of a stream; on a tie the earlier one stays.
#[derive(Debug, Clone)]
pub struct TopN<T> {
    capacity: usize,
    heap: BinaryHeap<Reverse<(u64, Reverse<u64>, T)>>,
    seq: u64,
}

impl<T: Ord> TopN<T> {
    pub fn new(capacity: usize) -> Self {
        TopN {
            capacity,
            heap: BinaryHeap::with_capacity(capacity + 1),
            seq: 0,
        }
    }

    /// Whether an item of this weight would be kept: check it before
    /// building the item, so most records allocate nothing.
    pub fn wants(&self, weight: u64) -> bool {
        if self.capacity == 0 {
            return false;
        }
        self.heap.len() < self.capacity
            || self
                .heap
                .peek()
                .is_some_and(|Reverse((least, _, _))| weight > *least)
    }

    pub fn offer(&mut self, weight: u64, item: impl FnOnce() -> T) {
        self.seq += 1;
        if !self.wants(weight) {
            return;
        }
        self.heap.push(Reverse((weight, Reverse(self.seq), item())));
        if self.heap.len() > self.capacity {
            self.heap.pop();
        }
    }

    /// Heaviest first.
    pub fn sorted(&self) -> Vec<(u64, &T)> {
        let mut items: Vec<&(u64, Reverse<u64>, T)> =
            self.heap.iter().map(|Reverse(entry)| entry).collect();
        items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        items
            .into_iter()
            .map(|(weight, _, item)| (*weight, item))
            .collect()
    }
}

/// Distinct keys, exactly up to `capacity` (as 64-bit fingerprints, 8
/// bytes each plus the table's slack); beyond that only "at least".
#[derive(Debug, Clone)]
pub struct DistinctCount {
    capacity: usize,
    seen: HashSet<u64>,
    overflowed: bool,
}

impl DistinctCount {
    pub fn new(capacity: usize) -> Self {
        DistinctCount {
            capacity,
            seen: HashSet::new(),
            overflowed: false,
        }
    }

    pub fn add(&mut self, key: &str) {
        let fingerprint = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        if self.seen.len() < self.capacity {
            self.seen.insert(fingerprint);
        } else if !self.seen.contains(&fingerprint) {
            self.overflowed = true;
        }
    }

    /// The count, and whether it is only a lower bound.
    pub fn count(&self) -> (u64, bool) {
        (self.seen.len() as u64, self.overflowed)
    }
}

/// Counts over time in a fixed number of equal bins. The bins start 1 ms
/// wide; a time past the last bin doubles their width (pairs merge), a time
/// before the first moves the start back by the whole span and doubles the
/// width, so any order of times fits without knowing the range first.
#[derive(Debug, Clone)]
pub struct TimeBins {
    bins: Vec<u64>,
    origin: i64,
    width: i64,
    started: bool,
}

impl TimeBins {
    /// `bins` is rounded up to an even number, at least 2.
    pub fn new(bins: usize) -> Self {
        let bins = bins.max(2).next_multiple_of(2);
        TimeBins {
            bins: vec![0; bins],
            origin: 0,
            width: 1,
            started: false,
        }
    }

    pub fn add(&mut self, millis: i64) {
        if !self.started {
            self.started = true;
            self.origin = millis;
        }
        let n = self.bins.len() as i64;
        while millis < self.origin {
            // [origin - span, origin + span) in bins twice as wide: the old
            // bins land in the upper half.
            let span = n * self.width;
            let mut merged = vec![0; self.bins.len()];
            for (i, &count) in self.bins.iter().enumerate() {
                merged[self.bins.len() / 2 + i / 2] += count;
            }
            self.bins = merged;
            self.origin = self.origin.saturating_sub(span);
            self.width = self.width.saturating_mul(2);
        }
        while millis - self.origin >= n * self.width {
            let mut merged = vec![0; self.bins.len()];
            for (i, &count) in self.bins.iter().enumerate() {
                merged[i / 2] += count;
            }
            self.bins = merged;
            self.width = self.width.saturating_mul(2);
        }
        let index = ((millis - self.origin) / self.width) as usize;
        let last = self.bins.len() - 1;
        self.bins[index.min(last)] += 1;
    }

    /// `(start in ms, count)` per bin of the occupied range, and the width.
    pub fn occupied(&self) -> (Vec<(i64, u64)>, i64) {
        let bins = self
            .bins
            .iter()
            .enumerate()
            .map(|(i, &count)| (self.origin + i as i64 * self.width, count))
            .collect();
        (trim(bins, |&(_, count)| count == 0), self.width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_histogram_buckets_hold_their_values() {
        for value in (0..5000).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let index = LogHistogram::index(value);
            assert!(LogHistogram::upper(index) >= value, "{value}");
            if index > 0 {
                assert!(LogHistogram::upper(index - 1) < value, "{value}");
            }
        }
        let mut histogram = LogHistogram::default();
        for value in 1..=1000 {
            histogram.add(value);
        }
        let median = histogram.quantile(0.5).unwrap();
        assert!((500..=563).contains(&median), "{median}");
        assert_eq!(histogram.quantile(1.0), Some(1000));
        assert_eq!(histogram.min(), Some(1));
        let octaves = histogram.octaves();
        assert_eq!(octaves.first(), Some(&(1, 1, 1)));
        assert_eq!(octaves.last(), Some(&(512, 1023, 489)));
        assert_eq!(octaves.iter().map(|o| o.2).sum::<u64>(), 1000);
    }

    #[test]
    fn frequent_items_are_exact_below_capacity_and_keep_heavy_hitters_above() {
        let mut items = FrequentItems::new(4);
        for key in ["a", "b", "a", "c", "a"] {
            items.add(key);
        }
        assert_eq!(items.top(2), vec![("a", 3), ("b", 1)]);
        assert_eq!(items.undercount(), 0);
        let mut items = FrequentItems::new(10);
        for i in 0..100_000u32 {
            items.add(if i % 3 == 0 { "home" } else { "" });
            items.add(&format!("unique-{i}"));
        }
        let top = items.top(1);
        assert_eq!(top[0].0, "");
        let home = items.top(2)[1];
        assert_eq!(home.0, "home");
        assert!(home.1 <= 33_334 && home.1 + items.undercount() >= 33_334);
        assert!(items.counts.len() <= 10);
    }

    #[test]
    fn top_n_keeps_the_heaviest_and_the_first_of_a_tie() {
        let mut top = TopN::new(3);
        for (weight, name) in [(5, "a"), (1, "b"), (9, "c"), (5, "d"), (7, "e"), (5, "f")] {
            top.offer(weight, || name);
        }
        let kept: Vec<_> = top.sorted().into_iter().map(|(w, n)| (w, *n)).collect();
        assert_eq!(kept, vec![(9, "c"), (7, "e"), (5, "a")]);
        assert!(!top.wants(5));
        assert!(top.wants(6));
    }

    #[test]
    fn distinct_count_is_exact_up_to_its_capacity() {
        let mut distinct = DistinctCount::new(3);
        for key in ["a", "b", "a", "c"] {
            distinct.add(key);
        }
        assert_eq!(distinct.count(), (3, false));
        distinct.add("c");
        assert_eq!(distinct.count(), (3, false));
        distinct.add("d");
        assert_eq!(distinct.count(), (3, true));
    }

    #[test]
    fn time_bins_grow_both_ways_and_lose_nothing() {
        let mut bins = TimeBins::new(10);
        let times = [1_000, 1_003, 999, 5_000, 200, 1_000_000, 1_000];
        for &t in &times {
            bins.add(t);
        }
        let (occupied, width) = bins.occupied();
        assert_eq!(
            occupied.iter().map(|b| b.1).sum::<u64>(),
            times.len() as u64
        );
        let first = occupied.first().unwrap().0;
        let last = occupied.last().unwrap().0;
        assert!(
            first <= 200 && last + width > 1_000_000,
            "{occupied:?} {width}"
        );
        assert!(occupied.len() <= 10);
        // Every time is in the bin that covers it.
        let mut check = TimeBins::new(10);
        check.add(0);
        check.add(25);
        let (occupied, width) = check.occupied();
        assert_eq!(width, 4);
        assert_eq!(occupied.first(), Some(&(0, 1)));
        assert_eq!(occupied.last(), Some(&(24, 1)));
    }
}
