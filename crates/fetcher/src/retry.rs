//! Whether a failed fetch is worth another attempt, and when: pure
//! functions of the failure, so the policy is tested exhaustively.

use std::time::{Duration, SystemTime};

use crate::error::ErrorKind;

/// The verdict on a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Transient: try again after a back-off.
    Backoff,
    /// Permanent: another attempt would fail the same way.
    GiveUp,
}

/// Decides retry or give up from the failure kind and the HTTP status.
pub fn classify(kind: ErrorKind, status: Option<u16>) -> Retry {
    match kind {
        ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Io | ErrorKind::Decode => {
            Retry::Backoff
        }
        ErrorKind::Http => match status {
            Some(408 | 425 | 429) => Retry::Backoff,
            Some(status) if status >= 500 && status != 501 => Retry::Backoff,
            _ => Retry::GiveUp,
        },
        ErrorKind::Dns
        | ErrorKind::Tls
        | ErrorKind::TooManyRedirects
        | ErrorKind::BodyTooLarge
        | ErrorKind::InvalidUrl
        | ErrorKind::UrlTooLong
        | ErrorKind::UnsupportedScheme
        | ErrorKind::Other => Retry::GiveUp,
    }
}

/// Exponential back-off with full jitter: a delay drawn from
/// `[0, min(cap, base · 2^attempt)]`, where `jitter` in `[0, 1]` is the
/// caller's random draw (so this stays pure). Attempt 0 is the first retry.
pub fn backoff_delay(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .min(cap);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        1.0
    };
    // Never zero: half the ceiling is guaranteed, the rest is jittered, so
    // retries still spread out but never hammer.
    ceiling.mul_f64(0.5 + 0.5 * jitter)
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date. A date in
/// the past means "now" (zero); garbage means no hint.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retried_permanent_ones_not() {
        let table = [
            (ErrorKind::Connect, None, Retry::Backoff),
            (ErrorKind::Timeout, None, Retry::Backoff),
            (ErrorKind::Io, None, Retry::Backoff),
            (ErrorKind::Decode, Some(200), Retry::Backoff),
            (ErrorKind::Http, Some(500), Retry::Backoff),
            (ErrorKind::Http, Some(502), Retry::Backoff),
            (ErrorKind::Http, Some(503), Retry::Backoff),
            (ErrorKind::Http, Some(429), Retry::Backoff),
            (ErrorKind::Http, Some(408), Retry::Backoff),
            (ErrorKind::Http, Some(501), Retry::GiveUp),
            (ErrorKind::Http, Some(404), Retry::GiveUp),
            (ErrorKind::Http, Some(403), Retry::GiveUp),
            (ErrorKind::Http, Some(410), Retry::GiveUp),
            (ErrorKind::Tls, None, Retry::GiveUp),
            (ErrorKind::Dns, None, Retry::GiveUp),
            (ErrorKind::TooManyRedirects, Some(302), Retry::GiveUp),
            (ErrorKind::BodyTooLarge, Some(200), Retry::GiveUp),
            (ErrorKind::UrlTooLong, None, Retry::GiveUp),
            (ErrorKind::InvalidUrl, None, Retry::GiveUp),
            (ErrorKind::UnsupportedScheme, Some(301), Retry::GiveUp),
        ];
        for (kind, status, expected) in table {
            assert_eq!(classify(kind, status), expected, "{kind} {status:?}");
        }
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_within_jitter_bounds() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        for attempt in 0..40 {
            let ceiling = (base * 2u32.saturating_pow(attempt.min(20))).min(cap);
            let low = backoff_delay(attempt, base, cap, 0.0);
            let high = backoff_delay(attempt, base, cap, 1.0);
            assert_eq!(high, ceiling, "attempt {attempt}");
            assert_eq!(low, ceiling / 2, "attempt {attempt}");
            let mid = backoff_delay(attempt, base, cap, 0.3);
            assert!(low <= mid && mid <= high);
        }
        assert_eq!(backoff_delay(3, base, cap, 1.0), Duration::from_millis(800));
        assert_eq!(backoff_delay(0, base, cap, f64::NAN), base);
        assert_eq!(backoff_delay(1, base, cap, 7.0), Duration::from_millis(200));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let future = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&future, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
