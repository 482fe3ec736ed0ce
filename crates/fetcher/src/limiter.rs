//! One host's request schedule: a GCRA (generic cell rate algorithm) kept
//! as a single instant, the theoretical arrival time (TAT) of the next
//! request.
//!
//! Each admitted request advances the TAT by the host's gap. A request may
//! start while the TAT is at most [`TIMER_SLACK`] ahead of now, so when
//! the dispatcher wakes up late (a timer fires on a millisecond tick, and
//! later on a busy runtime) it admits every start that fell due meanwhile
//! in one go, instead of losing that time: the average rate is the one
//! asked for, at any rate, with one wake-up per slack rather than one timer
//! per request. Gaps shorter than the slack (adaptive pacing on a fast
//! server) never need a timer at all.
//!
//! Pure and synchronous: [`HostPolicy`](crate::HostPolicy) keeps one per
//! host and reads the clock.

use std::time::{Duration, Instant};

/// How far ahead of its slot a request may start. It must exceed how late
/// a dispatcher's wake-up can be (timer resolution plus scheduling), or the
/// late part is lost and the rate falls short. The price: two requests may
/// be as close as `gap − TIMER_SLACK` (the average is unaffected), and
/// gaps below it come in bursts of up to `TIMER_SLACK ÷ gap`.
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
        let due = self.due(now);
        if due > now + TIMER_SLACK {
            return Err(due - TIMER_SLACK);
        }
        self.tat = Some(due + gap);
        Ok(())
    }

    /// Takes the next slot whatever it is (a request already on its way):
    /// `None` to start now, or the instant to wait for when the slot is
    /// further ahead than the slack.
    pub fn reserve(&mut self, now: Instant, gap: Duration) -> Option<Instant> {
        let due = self.due(now);
        self.tat = Some(due + gap);
        (due > now + TIMER_SLACK).then_some(due)
    }

    /// No request before `at` (on top of what is owed already).
    pub fn not_before(&mut self, at: Instant) {
        self.tat = Some(self.tat.map_or(at, |tat| tat.max(at)));
    }

    /// When the next request is due, if anything is owed.
    pub fn next_due(&self) -> Option<Instant> {
        self.tat
    }

    /// True when the host owes nothing at `now`: forgetting the schedule
    /// would change nothing.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.tat.is_none_or(|tat| tat <= now)
    }

    /// The slot of the next request: the TAT, or now if that has passed
    /// (unused time is not saved up beyond the slack).
    fn due(&self, now: Instant) -> Instant {
        self.tat.map_or(now, |tat| tat.max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn one_request_per_gap_burst_of_one_at_low_rates() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        let gap = Duration::from_millis(250);
        assert_eq!(schedule.admit(now, gap), Ok(()));
        assert_eq!(schedule.admit(now, gap), Err(now + gap - TIMER_SLACK));
        assert_eq!(
            schedule.admit(now + 100 * MS, gap),
            Err(now + gap - TIMER_SLACK),
            "a refusal does not consume the slot"
        );
        assert_eq!(schedule.admit(now + gap - TIMER_SLACK, gap), Ok(()));
        assert_eq!(
            schedule.admit(now + gap, gap),
            Err(now + 2 * gap - TIMER_SLACK)
        );
    }

    #[test]
    fn a_late_wake_up_admits_what_fell_due_so_the_average_holds() {
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
            Err(later + gap - TIMER_SLACK),
            "no burst from the idle minute"
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
        // Within the slack of its slot: no wait.
        assert_eq!(schedule.reserve(now + 3 * gap - MS, gap), None);
        schedule.not_before(now + 10 * gap);
        assert_eq!(
            schedule.admit(now + 5 * gap, gap),
            Err(now + 10 * gap - TIMER_SLACK)
        );
    }
}
