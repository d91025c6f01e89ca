//! Query-string splitting, percent-decoding and the simple system query options.

use crate::limits::{self, MAX_OPTION_LENGTH, MAX_PATH_SEGMENTS, MAX_QUERY_LENGTH, MAX_SELECT_ITEMS};
use crate::order::parse_orderby;
use crate::{Filter, QueryError, QueryOptions, Search};

/// The system query options this crate supports (canonical lower-case names);
/// every other `$`-option is rejected.
const SUPPORTED: [&str; 8] = ["filter", "orderby", "select", "top", "skip", "count", "skiptoken", "search"];

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes one query-string component: `%XX` becomes the byte XX and `+`
/// becomes a space (HTML form encoding, which is how Graph's front end reads
/// query strings; a literal plus must be sent as `%2B`). A `%` that is not
/// followed by two hex digits is kept literally (WHATWG URL behaviour). The
/// decoded bytes must be UTF-8.
pub(crate) fn percent_decode(component: &str) -> Result<String, QueryError> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) =
                    (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
                {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| {
        QueryError::new(format!(
            "The query string component '{}' does not decode to valid UTF-8.",
            limits::shorten(component)
        ))
    })
}

/// Checks a `$select` / `$orderby` / `$search` property path: at most [`MAX_PATH_SEGMENTS`] `/`-separated
/// identifiers.
pub(crate) fn validate_path(option: &str, path: &str) -> Result<(), QueryError> {
    if path.split('/').nth(MAX_PATH_SEGMENTS).is_some() {
        return Err(limits::path_too_deep(option, path));
    }
    if path.contains('(') {
        return Err(QueryError::new(format!(
            "Functions and nested options in {option} are not supported: '{}'.",
            limits::shorten(path)
        )));
    }
    for seg in path.split('/') {
        let ident = seg.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            let what = if seg.contains('.') {
                "type-cast segments are not supported"
            } else {
                "expected a property name or a '/'-separated property path"
            };
            return Err(QueryError::new(format!("Invalid {option} item '{}': {what}.", limits::shorten(path))));
        }
    }
    Ok(())
}

fn parse_uint(option: &str, value: &str) -> Result<usize, QueryError> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = value.parse() {
            return Ok(n);
        }
    }
    Err(QueryError::new(format!(
        "The value of the query option '{option}' must be a non-negative integer, but was '{}'.",
        limits::shorten(value)
    )))
}

fn parse_select(value: &str) -> Result<Option<Vec<String>>, QueryError> {
    if value.trim().is_empty() {
        return Err(QueryError::new("The query option '$select' must not be empty."));
    }
    let items: Vec<String> = value.split(',').map(|s| s.trim().to_owned()).collect();
    if items.len() > MAX_SELECT_ITEMS {
        return Err(limits::too_many_items("$select", items.len(), MAX_SELECT_ITEMS));
    }
    if items.iter().any(|s| s == "*") {
        return Ok(None);
    }
    for item in &items {
        if item.is_empty() {
            return Err(QueryError::new("The query option '$select' contains an empty item."));
        }
        validate_path("$select", item)?;
    }
    Ok(Some(items))
}

pub(crate) fn parse_query(raw_query: &str) -> Result<QueryOptions, QueryError> {
    // Before anything proportional to the input is done.
    if raw_query.len() > MAX_QUERY_LENGTH {
        return Err(limits::query_too_long(raw_query.len()));
    }
    let raw = raw_query.strip_prefix('?').unwrap_or(raw_query);
    let mut opts = QueryOptions::default();
    let mut seen: Vec<&str> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(raw_name)?;
        let value = percent_decode(raw_value)?;
        if value.len() > MAX_OPTION_LENGTH {
            return Err(limits::option_too_long(&limits::shorten(&name), value.len()));
        }
        let Some(option) = name.strip_prefix('$') else {
            opts.params.push((name, value));
            continue;
        };
        let lower = option.to_ascii_lowercase();
        let Some(canonical) = SUPPORTED.iter().copied().find(|s| *s == lower) else {
            return Err(QueryError::new(format!("The query option '{}' is not supported.", limits::shorten(&name))));
        };
        if seen.contains(&canonical) {
            return Err(QueryError::new(format!("The query option '${canonical}' was specified more than once.")));
        }
        seen.push(canonical);
        match canonical {
            "filter" => opts.filter = Some(Filter::parse(&value)?),
            "orderby" => opts.orderby = parse_orderby(&value)?,
            "select" => opts.select = parse_select(&value)?,
            "top" => opts.top = Some(parse_uint("$top", &value)?),
            "skip" => opts.skip = Some(parse_uint("$skip", &value)?),
            "count" => {
                opts.count = if value.eq_ignore_ascii_case("true") {
                    true
                } else if value.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(QueryError::new(format!(
                        "The value of the query option '$count' must be 'true' or 'false', but was '{}'.",
                        limits::shorten(&value)
                    )));
                }
            }
            "search" => opts.search = Some(Search::parse(&value)?),
            "skiptoken" => {
                if value.is_empty() {
                    return Err(QueryError::new("The query option '$skiptoken' must not be empty."));
                }
                opts.skiptoken = Some(value);
            }
            _ => unreachable!("all SUPPORTED names are handled"),
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c%2Cd").unwrap(), "a b c,d");
        assert_eq!(percent_decode("%24filter").unwrap(), "$filter");
        assert_eq!(percent_decode("%C3%A9t%C3%A9").unwrap(), "été");
        assert_eq!(percent_decode("100%").unwrap(), "100%");
        assert_eq!(percent_decode("%zz%2").unwrap(), "%zz%2");
        assert_eq!(percent_decode("a%2Bb").unwrap(), "a+b");
        assert!(percent_decode("%FF").is_err());
    }

    #[test]
    fn paths() {
        assert!(validate_path("$select", "a/b_c/D1").is_ok());
        for bad in ["", "a//b", "1a", "a b", "ns.T/a", "a-b"] {
            assert!(validate_path("$select", bad).is_err(), "{bad}");
        }
        let deep = vec!["a"; 17].join("/");
        assert!(validate_path("$select", &deep).unwrap_err().message.ends_with("the limit is 16."));
    }
}
