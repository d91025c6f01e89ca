//! Small, bounded parsers for what a storage request carries besides its body: blob names, block ids, byte
//! ranges, positions, `Content-MD5`. Each refuses what it doesn't understand with the Azure error that names
//! the problem, and none can panic (property-tested).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::errors::{Code, StorageError, StorageResult};

/// Azure's longest blob name, in characters.
pub const MAX_NAME_CHARS: usize = 1024;

/// A path as the URL carries it → the text, percent-decoded once (`%2F` is a `/`, as Azure reads it).
pub fn decode(encoded: &str) -> StorageResult<String> {
    percent_encoding::percent_decode_str(encoded).decode_utf8().map(|c| c.into_owned()).map_err(|_| {
        StorageError::with(Code::InvalidResourceName, "The blob name is invalid: it is not UTF-8 once percent-decoded.")
    })
}

/// Check a blob name (decoded).
///
/// Names are case-sensitive and may contain `/` (Azure's virtual folders), but no segment may be empty, `.` or
/// `..`, none may start with `/`, and none may hold a backslash or a control character: a name is never a
/// path on any disk (objects are named by the server, `files/objects.rs`), and these rules keep it from even
/// looking like one to a client that later downloads the files.
pub fn blob_name(name: &str) -> StorageResult<()> {
    let invalid =
        |why: &str| StorageError::with(Code::InvalidResourceName, format!("The blob name is invalid: {why}."));
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(StorageError::with(
            Code::InvalidResourceName,
            format!("The blob name is longer than {MAX_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(invalid("it contains a control character"));
    }
    if name.contains('\\') {
        return Err(invalid("it contains a backslash"));
    }
    if name.starts_with('/') || name.ends_with('/') {
        return Err(invalid("it starts or ends with '/'"));
    }
    if name.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err(invalid("it has an empty, '.' or '..' segment"));
    }
    Ok(())
}

/// A block id: base64 of at most 64 bytes (Azure's rule).
pub fn block_id(id: &str) -> StorageResult<String> {
    let bad = || StorageError::new(Code::InvalidBlockId);
    if id.is_empty() || id.len() > 128 {
        return Err(bad());
    }
    let decoded = STANDARD.decode(id).map_err(|_| bad())?;
    if decoded.is_empty() || decoded.len() > 64 {
        return Err(bad());
    }
    Ok(id.to_string())
}

/// A `Content-MD5`-style header value: base64 of 16 bytes.
pub fn md5(value: &str) -> StorageResult<String> {
    match STANDARD.decode(value.trim()) {
        Ok(d) if d.len() == 16 => Ok(value.trim().to_string()),
        _ => Err(StorageError::new(Code::InvalidMd5)),
    }
}

/// A non-negative integer query value (`position`, `maxresults`).
pub fn number(name: &str, value: &str) -> StorageResult<u64> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StorageError::with(
            Code::InvalidQueryParameterValue,
            format!("The value '{}' of the query parameter '{name}' is not a non-negative integer.", truncate(value)),
        ));
    }
    value
        .parse()
        .map_err(|_| StorageError::with(Code::InvalidQueryParameterValue, format!("'{name}' is out of range.")))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A `Range` / `x-ms-range` value (`bytes=start-end` or `bytes=start-`), against a blob of `size` bytes:
/// `Ok(None)` for the whole blob, `Ok(Some(start..end))`, or `InvalidRange` when it starts past the end.
pub fn range(value: &str, size: u64) -> StorageResult<Option<std::ops::Range<u64>>> {
    let bad = || {
        StorageError::with(
            Code::InvalidHeaderValue,
            format!("The range '{}' is not bytes=START-[END].", truncate(value)),
        )
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (start, end) = spec.split_once('-').ok_or_else(bad)?;
    let parse = |s: &str| {
        (s.len() <= 19 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let start = parse(start).ok_or_else(bad)?;
    let end = if end.is_empty() { None } else { Some(parse(end).ok_or_else(bad)?) };
    if end.is_some_and(|e| e < start) {
        return Err(bad());
    }
    if start >= size {
        return Err(StorageError::new(Code::InvalidRange));
    }
    let end = end.map_or(size, |e| e.saturating_add(1).min(size));
    Ok(Some(start..end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_that_look_like_paths_are_refused() {
        let blob_name = |s: &str| decode(s).and_then(|n| blob_name(&n).map(|()| n));
        for ok in ["users.csv", "Users.CSV", "2024/users.csv", "a b%20c.csv", "ünï.csv", "a..b.csv"] {
            assert!(blob_name(ok).is_ok(), "{ok}");
        }
        assert_eq!(blob_name("a%20b.csv").unwrap(), "a b.csv");
        for bad in [
            "",
            "../etc/passwd",
            "..%2F..%2Fetc",
            "a/../b",
            "./a",
            "/abs",
            "%2Fabs",
            "a//b",
            "a/",
            "a%5Cb",
            "a\\b",
            "a%00b",
            "a%0Ab",
            "%FF",
            "..",
        ] {
            let e = blob_name(bad).unwrap_err();
            assert_eq!(e.code, Code::InvalidResourceName, "{bad}");
        }
        assert!(blob_name(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn ranges_follow_azure() {
        assert_eq!(range("bytes=0-9", 100).unwrap(), Some(0..10));
        assert_eq!(range("bytes=90-", 100).unwrap(), Some(90..100));
        assert_eq!(range("bytes=90-1000", 100).unwrap(), Some(90..100));
        assert_eq!(range("bytes=0-33554431", 5).unwrap(), Some(0..5));
        assert_eq!(range("bytes=0-0", 0).unwrap_err().code, Code::InvalidRange, "an empty blob has no byte 0");
        for bad in ["0-9", "bytes=9-0", "bytes=-5", "bytes=a-b", "bytes=99999999999999999999-"] {
            assert_eq!(range(bad, 100).unwrap_err().code, Code::InvalidHeaderValue, "{bad}");
        }
    }

    #[test]
    fn block_ids_are_base64_of_at_most_64_bytes() {
        assert!(block_id("QUFB").is_ok());
        assert!(block_id(&STANDARD.encode([1u8; 64])).is_ok());
        assert!(block_id(&STANDARD.encode([1u8; 65])).is_err());
        assert!(block_id("not base64!").is_err());
        assert!(block_id("").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the URL carries, a name that passes has no traversal, no absolute form, no control chars.
        #[test]
        fn accepted_names_are_never_paths_out(raw in "(%2[fF]|%5[cC]|%2[eE]|%00|[./\\\\a-z]|%[0-9A-F]{2}){0,30}") {
            if let Ok(name) = decode(&raw).and_then(|n| blob_name(&n).map(|()| n)) {
                prop_assert!(!name.starts_with('/') && !name.contains('\\') && !name.chars().any(char::is_control));
                prop_assert!(name.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
            }
        }

        #[test]
        fn ranges_never_panic_and_stay_inside(value in "(bytes=)?[0-9]{0,21}-?[0-9]{0,21}", size in 0u64..1000) {
            if let Ok(Some(r)) = range(&value, size) {
                prop_assert!(r.start < r.end && r.end <= size);
            }
        }
    }
}
