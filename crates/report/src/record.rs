//! One JSONL line as a record: only the fields the report reads, borrowed
//! from the line where the JSON needs no unescaping.

use std::borrow::Cow;

use serde::Deserialize;

/// The fields of a crawl record the report uses (see the README's "The
/// record"); others, and fields added later, are ignored.
#[derive(Debug, Deserialize)]
pub struct Record<'a> {
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    pub depth: u64,
    #[serde(borrow, default)]
    pub parent: Option<Cow<'a, str>>,
    #[serde(default)]
    pub status: Option<u64>,
    #[serde(borrow, default)]
    pub content_type: Option<Cow<'a, str>>,
    pub bytes: u64,
    pub elapsed_ms: u64,
    #[serde(borrow)]
    pub fetched_at: Cow<'a, str>,
    #[serde(borrow, default)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub links: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub error: Option<RecordError<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct RecordError<'a> {
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub reason: String,
}

/// A parsed record and its time in milliseconds since the Unix epoch.
pub fn parse(line: &[u8]) -> Result<(Record<'_>, i64), BadLine> {
    let record: Record<'_> = serde_json::from_slice(line).map_err(|error| BadLine {
        reason: match error.classify() {
            serde_json::error::Category::Data => format!("not a record: {error}"),
            _ => format!("not JSON: {error}"),
        },
    })?;
    if let Some(status) = record.status
        && !(100..=999).contains(&status)
    {
        return Err(BadLine {
            reason: format!("not a record: status {status} is not an HTTP status"),
        });
    }
    let Some(millis) = parse_utc_millis(&record.fetched_at) else {
        return Err(BadLine {
            reason: "not a record: fetched_at is not an RFC 3339 UTC time".to_owned(),
        });
    };
    Ok((record, millis))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` as milliseconds since the Unix epoch.
pub fn parse_utc_millis(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || *bytes.last()? != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = bytes.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0i64, |n, digit| n * 10 + i64::from(digit - b'0')),
        )
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, byte)| bytes[at] != byte) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // 60 is a leap second.
    if second > 60 {
        return None;
    }
    let mut millis = 0;
    let rest = &bytes[19..bytes.len() - 1];
    if !rest.is_empty() {
        let fraction = rest.strip_prefix(b".")?;
        if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for (place, digit) in fraction.iter().take(3).enumerate() {
            millis += i64::from(digit - b'0') * [100, 10, 1][place];
        }
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub fn format_utc_millis(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let in_day = millis.rem_euclid(86_400_000);
    // The inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The authority of an http(s) URL (host and port, without user info), or
/// `None` when the text is not one.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_format_round_trip() {
        assert_eq!(parse_utc_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        let millis = parse_utc_millis("2026-11-25T07:00:00.123456Z").unwrap();
        assert_eq!(format_utc_millis(millis), "2026-11-25 07:00:00.123");
        assert_eq!(
            format_utc_millis(parse_utc_millis("2000-02-29T23:59:59.999Z").unwrap()),
            "2000-02-29 23:59:59.999"
        );
        for bad in [
            "",
            "2026-11-25 07:00:00Z",
            "2026-11-25T07:00:00",
            "2026-13-25T07:00:00Z",
            "2026-11-25T07:00:00.Z",
            "2026-11-25T07:00:00+01:00",
            "２０２６-11-25T07:00:00Z",
        ] {
            assert_eq!(parse_utc_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn hosts_are_the_authority() {
        assert_eq!(host_of("http://a.example:8080/x?y"), Some("a.example:8080"));
        assert_eq!(host_of("https://u:p@b.example#f"), Some("b.example"));
        assert_eq!(host_of("https://c.example"), Some("c.example"));
        assert_eq!(host_of("ftp://c.example/"), None);
        assert_eq!(host_of("http:///x"), None);
    }

    #[test]
    fn lines_are_records_or_say_why_not() {
        let line = br#"{"url":"http://a/","depth":0,"parent":null,"status":200,"bytes":3,"elapsed_ms":1,"fetched_at":"2026-01-01T00:00:00Z","links":["http://a/\u0062"],"extra":{"x":[1]}}"#;
        let (record, millis) = parse(line).unwrap();
        assert_eq!(record.links, vec!["http://a/b"]);
        assert!(millis > 0);
        assert!(parse(b"nope").unwrap_err().reason.starts_with("not JSON"));
        assert!(
            parse(b"{\"url\":1}")
                .unwrap_err()
                .reason
                .starts_with("not a record")
        );
        assert!(
            parse(b"[1,2]")
                .unwrap_err()
                .reason
                .starts_with("not a record")
        );
        let bad_status = br#"{"url":"http://a/","depth":0,"status":7,"bytes":3,"elapsed_ms":1,"fetched_at":"2026-01-01T00:00:00Z"}"#;
        assert!(parse(bad_status).unwrap_err().reason.contains("status 7"));
    }
}
