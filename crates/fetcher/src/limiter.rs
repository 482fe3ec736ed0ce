//! One host's request schedule: a GCRA (generic cell rate algorithm) kept
//! as a single instant, the theoretical arrival time (TAT) of the next
//! request. Each admitted request takes the slot at the TAT and moves it on
//! by the host's gap.
//!
//! Two rules keep the average rate the one asked for without a timer per
//! request, at any rate:
//!
//! - A dispatcher that wakes up late (a timer fires on a millisecond tick,
//!   later on a busy runtime) loses nothing: a slot missed by up to
//!   [`TIMER_SLACK`] is still taken as it was, so the next one may already
//!   be due and is admitted in the same wake-up.
//! - Gaps shorter than the slack (high rates, adaptive pacing on a fast
//!   server), which no timer could honour one by one, are admitted up to
//!   the slack ahead of their slot: several starts share one wake-up, and
//!   a host whose gap has passed never waits for a timer at all.
//!
//! Gaps of at least the slack (Crawl-delay, rates up to 250/s) never start
//! before their slot.
//!
//! Pure and synchronous: [`HostPolicy`](crate::HostPolicy) keeps one per
//! host and reads the clock.

use std::time::{Duration, Instant};

/// How late a wake-up may be without losing its slot, and how far ahead of
/// its slot a request with a shorter gap may start. It must exceed how
/// late a dispatcher's wake-up usually is (timer resolution plus
/// scheduling), or the late part is lost and the rate falls short. The
/// price: after a late start the next may follow it sooner than the gap
/// (the average is unaffected), and gaps below the slack come in bursts of
/// up to `TIMER_SLACK ÷ gap`.
pub const TIMER_SLACK: Duration = Duration::from_millis(4);

/// A host's GCRA schedule; the default is a fresh host (nothing owed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// When the next request is due; `None` (or a past instant) when the
    /// host owes nothing.
    tat: Option<Instant>,
}

impl Schedule {
    /// `Ok` when a request may start at `now`: it takes its slot and the
    /// schedule moves on by `gap`. Otherwise the earliest instant one may
    /// (the schedule is unchanged: a refusal costs nothing).
    pub fn admit(&mut self, now: Instant, gap: Duration) -> Result<(), Instant> {
        let due = self.due(now, gap);
        let earliest = due.checked_sub(early(gap)).unwrap_or(due);
        if earliest > now {
            return Err(earliest);
        }
        self.tat = Some(due + gap);
        Ok(())
    }

    /// Takes the next slot whatever it is (a request already on its way):
    /// `None` to start now, or the instant to wait for.
    pub fn reserve(&mut self, now: Instant, gap: Duration) -> Option<Instant> {
        let due = self.due(now, gap);
        self.tat = Some(due + gap);
        (due > now + early(gap)).then_some(due)
    }

    /// No request before `at` (on top of what is owed already).
    pub fn not_before(&mut self, at: Instant) {
        self.tat = Some(self.tat.map_or(at, |tat| tat.max(at)));
    }

    /// When the next request is due, if anything is owed.
    pub fn next_due(&self) -> Option<Instant> {
        self.tat
    }

    /// True when the host owes nothing at `now` and has no missed slot to
    /// catch up on: forgetting the schedule would change nothing.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.tat.is_none_or(|tat| tat + TIMER_SLACK <= now)
    }

    /// The slot the next request takes: the TAT if it is ahead or was
    /// missed by at most the slack (a late wake-up), otherwise now (the
    /// host was idle: unused time is not saved up). Short gaps start early
    /// instead, so they keep no missed slots.
    fn due(&self, now: Instant, gap: Duration) -> Instant {
        let late = if gap < TIMER_SLACK {
            Duration::ZERO
        } else {
            TIMER_SLACK
        };
        match self.tat {
            Some(tat) if tat + late >= now => tat,
            _ => now,
        }
    }
}

/// How far ahead of its slot a request with `gap` may start.
fn early(gap: Duration) -> Duration {
    if gap < TIMER_SLACK {
        TIMER_SLACK
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn one_request_per_gap_never_early_at_low_rates() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        let gap = Duration::from_millis(250);
        assert_eq!(schedule.admit(now, gap), Ok(()));
        assert_eq!(schedule.admit(now, gap), Err(now + gap));
        assert_eq!(
            schedule.admit(now + 100 * MS, gap),
            Err(now + gap),
            "a refusal does not consume the slot"
        );
        assert_eq!(schedule.admit(now + gap - MS, gap), Err(now + gap));
        assert_eq!(schedule.admit(now + gap, gap), Ok(()));
        assert_eq!(schedule.admit(now + gap, gap), Err(now + 2 * gap));
    }

    #[test]
    fn a_late_wake_up_keeps_its_slot_so_the_average_holds() {
        // 200/s, and every wake-up comes 1.5 ms after the instant asked for.
        let gap = Duration::from_millis(5);
        let mut schedule = Schedule::default();
        let start = Instant::now();
        let mut now = start;
        let mut admitted = 0u32;
        while now < start + Duration::from_secs(10) {
            match schedule.admit(now, gap) {
                Ok(()) => admitted += 1,
                Err(at) => now = at + Duration::from_micros(1500),
            }
        }
        assert!((1999..=2001).contains(&admitted), "{admitted} in 10 s");
    }

    #[test]
    fn short_gaps_share_a_wake_up_so_the_average_holds() {
        // 10,000/s: a gap of 100 µs, far below any timer's resolution.
        let gap = Duration::from_micros(100);
        let mut schedule = Schedule::default();
        let start = Instant::now();
        let mut now = start;
        let mut admitted = 0u32;
        // A dispatcher that only ever wakes up every 3 ms (late timers),
        // for one second.
        while now < start + Duration::from_secs(1) {
            while schedule.admit(now, gap).is_ok() {
                admitted += 1;
            }
            now += 3 * MS;
        }
        // 10,000 slots in the second, plus the slack's worth admitted early.
        let slack = (TIMER_SLACK.as_micros() / gap.as_micros()) as u32;
        assert!(
            (10_000..=10_000 + slack + 1).contains(&admitted),
            "{admitted} admitted in 1 s at 10,000/s"
        );
    }

    #[test]
    fn unused_time_is_not_saved_up() {
        let gap = Duration::from_millis(10);
        let mut schedule = Schedule::default();
        let now = Instant::now();
        assert_eq!(schedule.admit(now, gap), Ok(()));
        // Idle for a minute: then one request, and the next a gap later.
        let later = now + Duration::from_secs(60);
        assert!(schedule.is_idle(later));
        assert_eq!(schedule.admit(later, gap), Ok(()));
        assert_eq!(
            schedule.admit(later, gap),
            Err(later + gap),
            "nothing is kept from the idle minute"
        );
        assert!(!schedule.is_idle(later));
    }

    #[test]
    fn zero_gaps_never_wait() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(schedule.admit(now, Duration::ZERO), Ok(()));
        }
    }

    #[test]
    fn reservations_queue_up_behind_each_other() {
        let gap = Duration::from_secs(1);
        let mut schedule = Schedule::default();
        let now = Instant::now();
        assert_eq!(schedule.reserve(now, gap), None);
        assert_eq!(schedule.reserve(now, gap), Some(now + gap));
        assert_eq!(schedule.reserve(now, gap), Some(now + 2 * gap));
        // Late for its slot: starts at once, the next keeps its own slot.
        assert_eq!(schedule.reserve(now + 3 * gap + MS, gap), None);
        assert_eq!(
            schedule.reserve(now + 3 * gap + MS, gap),
            Some(now + 4 * gap)
        );
        schedule.not_before(now + 10 * gap);
        assert_eq!(schedule.admit(now + 5 * gap, gap), Err(now + 10 * gap));
    }
}
