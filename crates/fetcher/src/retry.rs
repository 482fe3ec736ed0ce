//! Whether a failed fetch is worth another attempt, and when: pure
//! functions of the failure, so the policy is tested exhaustively and the
//! caller owns the clock and the randomness.

use std::time::{Duration, SystemTime};

use crate::error::ErrorKind;

/// The verdict on a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Transient, and the server said when to come back (`Retry-After`).
    After(Duration),
    /// Transient: try again after [`backoff_delay`].
    Backoff,
    /// Permanent: another attempt would fail the same way.
    GiveUp,
}

/// A parsed `Retry-After` header.
///
/// An enum so that a later form (say, a rate-limit reset header) can join
/// without changing the field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long, counted from when the response was received.
    Delay(Duration),
}

impl RetryAfter {
    /// Parses delay-seconds or an HTTP date, relative to `now`. A date in
    /// the past means zero; anything else (negative numbers, garbage) is
    /// `None`, since a wrong hint is worse than none.
    pub fn parse(value: &str, now: SystemTime) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Longer than u64 seconds is "forever"; saturate rather than drop.
            let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
            return Some(RetryAfter::Delay(Duration::from_secs(seconds)));
        }
        let date = httpdate::parse_http_date(value).ok()?;
        Some(RetryAfter::Delay(
            date.duration_since(now).unwrap_or(Duration::ZERO),
        ))
    }

    /// How long to wait.
    pub fn delay(&self) -> Duration {
        match self {
            RetryAfter::Delay(delay) => *delay,
        }
    }
}

/// Decides whether to retry, from the failure kind, the final HTTP status
/// and the server's `Retry-After` hint.
///
/// Retried: timeouts, refused or reset connections, broken bodies, 5xx
/// (except 501 and 505, which say "never"), 408, 425 and 429. Not retried:
/// DNS, TLS, redirect trouble, body too large, bad or too-long URLs, an
/// address the network policy blocks, a proxy's 407, and other 4xx.
/// A proxy that cannot be reached is retried like a refused connection. A retryable failure with a `Retry-After` becomes
/// [`Retry::After`]; the hint never turns a permanent failure into a retry.
pub fn classify(kind: ErrorKind, status: Option<u16>, retry_after: Option<RetryAfter>) -> Retry {
    let transient = match kind {
        ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Io | ErrorKind::Decode => true,
        // A proxy that is down may come back; one that wants credentials
        // will not.
        ErrorKind::Proxy => status != Some(407),
        ErrorKind::Http => match status {
            Some(408 | 425 | 429) => true,
            Some(501 | 505) => false,
            Some(status) => (500..600).contains(&status),
            None => false,
        },
        ErrorKind::Dns
        | ErrorKind::Tls
        | ErrorKind::TooManyRedirects
        | ErrorKind::BodyTooLarge
        | ErrorKind::InvalidUrl
        | ErrorKind::UrlTooLong
        | ErrorKind::UnsupportedScheme
        | ErrorKind::HeadersTooLarge
        | ErrorKind::BlockedAddress
        | ErrorKind::Other => false,
    };
    match (transient, retry_after) {
        (false, _) => Retry::GiveUp,
        (true, Some(hint)) => Retry::After(hint.delay()),
        (true, None) => Retry::Backoff,
    }
}

/// Exponential back-off with full jitter: `min(cap, base · 2^attempt) · jitter`.
///
/// `attempt` 0 is the first retry. `jitter` is the caller's random draw in
/// `[0, 1]` (clamped; NaN counts as 1), which keeps this function pure.
/// Full jitter spreads retries of many workers that failed together.
pub fn backoff_delay(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    let ceiling = base.saturating_mul(factor).min(cap);
    let jitter = if jitter.is_nan() {
        1.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    // Computed in f64, which can round up past Duration::MAX near the top.
    Duration::try_from_secs_f64(ceiling.as_secs_f64() * jitter)
        .unwrap_or(ceiling)
        .min(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retried_permanent_ones_not() {
        let table = [
            (ErrorKind::Connect, None, Retry::Backoff),
            (ErrorKind::Timeout, None, Retry::Backoff),
            (ErrorKind::Timeout, Some(200), Retry::Backoff),
            (ErrorKind::Io, None, Retry::Backoff),
            (ErrorKind::Decode, Some(200), Retry::Backoff),
            (ErrorKind::Http, Some(500), Retry::Backoff),
            (ErrorKind::Http, Some(502), Retry::Backoff),
            (ErrorKind::Http, Some(503), Retry::Backoff),
            (ErrorKind::Http, Some(504), Retry::Backoff),
            (ErrorKind::Http, Some(429), Retry::Backoff),
            (ErrorKind::Http, Some(408), Retry::Backoff),
            (ErrorKind::Http, Some(425), Retry::Backoff),
            (ErrorKind::Http, Some(501), Retry::GiveUp),
            (ErrorKind::Http, Some(505), Retry::GiveUp),
            (ErrorKind::Http, Some(400), Retry::GiveUp),
            (ErrorKind::Http, Some(403), Retry::GiveUp),
            (ErrorKind::Http, Some(404), Retry::GiveUp),
            (ErrorKind::Http, Some(410), Retry::GiveUp),
            (ErrorKind::Http, Some(999), Retry::GiveUp),
            (ErrorKind::Http, None, Retry::GiveUp),
            (ErrorKind::Tls, None, Retry::GiveUp),
            (ErrorKind::Dns, None, Retry::GiveUp),
            (ErrorKind::TooManyRedirects, Some(302), Retry::GiveUp),
            (ErrorKind::BodyTooLarge, Some(200), Retry::GiveUp),
            (ErrorKind::UrlTooLong, None, Retry::GiveUp),
            (ErrorKind::InvalidUrl, None, Retry::GiveUp),
            (ErrorKind::UnsupportedScheme, Some(301), Retry::GiveUp),
            (ErrorKind::Other, None, Retry::GiveUp),
            (ErrorKind::HeadersTooLarge, None, Retry::GiveUp),
            (ErrorKind::BlockedAddress, None, Retry::GiveUp),
            (ErrorKind::BlockedAddress, Some(302), Retry::GiveUp),
        ];
        for (kind, status, expected) in table {
            assert_eq!(classify(kind, status, None), expected, "{kind} {status:?}");
        }
    }

    #[test]
    fn every_kind_is_classified() {
        for kind in ErrorKind::ALL {
            // Exhaustive by construction; this pins that no kind panics.
            let _ = classify(*kind, None, None);
        }
    }

    #[test]
    fn retry_after_applies_only_to_transient_failures() {
        let hint = Some(RetryAfter::Delay(Duration::from_secs(7)));
        assert_eq!(
            classify(ErrorKind::Http, Some(429), hint),
            Retry::After(Duration::from_secs(7))
        );
        assert_eq!(
            classify(ErrorKind::Http, Some(503), hint),
            Retry::After(Duration::from_secs(7))
        );
        assert_eq!(classify(ErrorKind::Http, Some(404), hint), Retry::GiveUp);
        assert_eq!(classify(ErrorKind::Tls, None, hint), Retry::GiveUp);
    }

    #[test]
    fn backoff_ceiling_doubles_up_to_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        let mut previous = Duration::ZERO;
        for attempt in 0..100 {
            let high = backoff_delay(attempt, base, cap, 1.0);
            assert!(high >= previous, "attempt {attempt} shrank");
            assert!(high <= cap, "attempt {attempt} above cap");
            previous = high;
        }
        assert_eq!(backoff_delay(0, base, cap, 1.0), base);
        assert_eq!(backoff_delay(3, base, cap, 1.0), Duration::from_millis(800));
        assert_eq!(backoff_delay(10, base, cap, 1.0), cap);
        assert_eq!(backoff_delay(u32::MAX, base, cap, 1.0), cap);
        assert_eq!(
            backoff_delay(u32::MAX, Duration::MAX, Duration::MAX, 1.0),
            Duration::MAX
        );
    }

    #[test]
    fn jitter_stays_within_zero_and_the_ceiling() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        for attempt in 0..12 {
            let ceiling = backoff_delay(attempt, base, cap, 1.0);
            for step in 0..=20 {
                let jitter = f64::from(step) / 20.0;
                let delay = backoff_delay(attempt, base, cap, jitter);
                assert!(delay <= ceiling, "attempt {attempt} jitter {jitter}");
            }
            assert_eq!(backoff_delay(attempt, base, cap, 0.0), Duration::ZERO);
            assert_eq!(backoff_delay(attempt, base, cap, -3.0), Duration::ZERO);
            assert_eq!(backoff_delay(attempt, base, cap, 7.0), ceiling);
            assert_eq!(backoff_delay(attempt, base, cap, f64::NAN), ceiling);
        }
        assert_eq!(backoff_delay(1, base, cap, 0.5), Duration::from_millis(100));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let delay = |s: &str| RetryAfter::parse(s, now).map(|hint| hint.delay());
        assert_eq!(delay("120"), Some(Duration::from_secs(120)));
        assert_eq!(delay(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            delay("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        let future = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(delay(&future), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(delay(&past), Some(Duration::ZERO));
        assert_eq!(delay("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        for garbage in ["soon", "-5", "1.5", "", "   ", "12abc", "Wed, 99 Foo"] {
            assert_eq!(delay(garbage), None, "{garbage:?}");
        }
    }
}
