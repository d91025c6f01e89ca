//! Timestamps as Graph writes them: UTC, RFC 3339, `Z`, sub-second digits only when present.
//!
//! Precision is the microsecond: every JSON date parser the SDKs use reads six fractional digits, not all
//! read nine.

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};

pub fn format(t: DateTime<Utc>) -> String {
    let t = t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t);
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub fn now() -> String {
    format(Utc::now())
}

/// A `lastModifiedDateTime` for a change made now that is strictly later than `previous`, even when the clock
/// has not moved since (two PATCHes within one clock tick, or a clock step backwards).
pub fn advance(previous: Option<&str>) -> String {
    let now = Utc::now();
    let prev = previous.and_then(|p| DateTime::parse_from_rfc3339(p).ok()).map(|p| p.with_timezone(&Utc));
    match prev {
        Some(p) if p >= now => format(p + chrono::Duration::microseconds(1)),
        _ => format(now),
    }
}

/// Parse an `Edm.DateTimeOffset` in any offset and normalise it to UTC.
pub fn normalize_datetime(value: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(value).ok().map(|t| format(t.with_timezone(&Utc)))
}

/// Check an `Edm.Date` (`YYYY-MM-DD`).
pub fn is_date(value: &str) -> bool {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() && value.len() == 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_and_advances_strictly() {
        assert_eq!(
            normalize_datetime("2023-03-12T16:40:46.924769+05:30").as_deref(),
            Some("2023-03-12T11:10:46.924769Z")
        );
        let future = "2999-01-01T00:00:00Z";
        assert_eq!(advance(Some(future)), "2999-01-01T00:00:00.000001Z");
        assert!(is_date("2022-09-01") && !is_date("2022-9-1") && !is_date("2022-02-30"));
    }
}
