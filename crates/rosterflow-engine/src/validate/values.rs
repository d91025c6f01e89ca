//! Value rules of SDS v2.1's "Validation rules and descriptions" (sds-semantics §2): emails (RFC 5322
//! addr-spec, stored lower-cased), ISO 8601 dates, E.164 phone numbers, booleans (stored lower-cased),
//! four-digit years, and no control characters or line breaks anywhere.

use crate::finding::Code;

/// A value problem and what it says.
pub(super) type Problem = (Code, String);

/// A value with a C0 control character (a line break, NUL, ...; a tab is allowed).
pub(super) fn control(v: &str) -> Option<Problem> {
    let c = v.bytes().find(|&b| b < 0x20 && b != b'\t')?;
    let what =
        if c == b'\n' || c == b'\r' { "a line break (values may not span lines)" } else { "a control character" };
    Some((Code::InvalidCharacter, format!("the value contains {what}")))
}

fn atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// A dot-atom `local@domain` with a domain of at least two labels.
pub(super) fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else { return false };
    let dot_atom = |s: &str, ok: &dyn Fn(char) -> bool| {
        !s.is_empty() && s.split('.').all(|part| !part.is_empty() && part.chars().all(ok))
    };
    let label = |c: char| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii();
    local.len() <= 64
        && domain.len() <= 255
        && dot_atom(local, &atext)
        && dot_atom(domain, &label)
        && domain.contains('.')
        && domain.split('.').all(|l| !l.starts_with('-') && !l.ends_with('-') && l.len() <= 63)
}

/// `+` and 2 to 15 digits, the first not 0.
pub(super) fn is_e164(v: &str) -> bool {
    let Some(digits) = v.strip_prefix('+') else { return false };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// `YYYY-MM-DD`, or a date-time `YYYY-MM-DDTHH:MM[:SS[.f]][Z|±HH:MM]`.
pub(super) fn is_iso_date(v: &str) -> bool {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    // `YYYY-MM-DD` by hand: chrono's format parser is the slow part of a file full of dates.
    let date_ok = |d: &str| {
        let b = d.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
        b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && digits(0..4)
            && digits(5..7)
            && digits(8..10)
            && NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10)).is_some()
    };
    match v.split_once(['T', 't']) {
        None => date_ok(v),
        Some((d, _)) => {
            date_ok(d)
                && (DateTime::parse_from_rfc3339(v).is_ok()
                    || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
                    || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").is_ok())
        }
    }
}

/// `true`/`false` in any case, lower-cased.
pub(super) fn boolean(v: &str) -> Option<&'static str> {
    if v.eq_ignore_ascii_case("true") {
        Some("true")
    } else if v.eq_ignore_ascii_case("false") {
        Some("false")
    } else {
        None
    }
}

pub(super) fn is_year(v: &str) -> bool {
    v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.org", "jean.craig@outlook.com", "x+tag@sub.example.co.uk", "élève@école.fr"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@", "@b.org", "a@b", "a..b@c.org", "a@-b.org", "a b@c.org", "a@b..org", ".a@b.org"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn phones_dates_booleans_years() {
        assert!(is_e164("+11234567890"));
        for bad in ["123456789", "+0123", "+1", "+1234567890123456", "+1-234"] {
            assert!(!is_e164(bad), "{bad}");
        }
        for ok in ["2021-08-24", "2023-05-01T18:25:43.511Z", "2023-05-01T18:25:43", "2023-05-01T18:25:43+02:00"] {
            assert!(is_iso_date(ok), "{ok}");
        }
        for bad in ["08/01/2025 00:00:00", "2021-8-24", "2021-02-30", "1/05/2023", "2017-05-06 08:01:05", ""] {
            assert!(!is_iso_date(bad), "{bad}");
        }
        assert_eq!(boolean("TRUE"), Some("true"));
        assert_eq!(boolean("yes"), None);
        assert!(is_year("2021") && !is_year("Year2025"));
        assert!(control("a\nb").is_some() && control("a\tb").is_none());
    }
}
