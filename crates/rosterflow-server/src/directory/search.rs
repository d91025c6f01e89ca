//! `$search` on directory collections (`$search="displayName:wa" OR "displayName:to"`), as the list pages
//! show it: quoted `property:term` clauses joined by `AND` / `OR` (`AND` binds tighter).
//!
//! `rosterflow_odata::QueryOptions::parse` refuses `$search` at this branch point; the one function here,
//! [`take`], lifts it out of the query string and parses it into the store's [`Search`]. When the shared
//! `$search` AST lands in `rosterflow_odata`, `take` becomes a conversion from it.

use rosterflow_store::query::Search;

use crate::error::{ApiError, ApiResult};
use rosterflow_model::ErrorKind;

/// The raw query without its `$search` option, and the parsed search (if any).
pub fn take(raw: &str) -> ApiResult<(String, Option<Search>)> {
    let mut rest = Vec::new();
    let mut search = None;
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        if !name.eq_ignore_ascii_case("$search") {
            rest.push(pair);
            continue;
        }
        if search.is_some() {
            return Err(bad("The query option '$search' was specified more than once."));
        }
        let value = percent_encoding::percent_decode_str(&value.replace('+', " ")).decode_utf8_lossy().into_owned();
        search = Some(parse(&value)?);
    }
    Ok((rest.join("&"), search))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message)
}

/// `"p:t" [AND|OR "p:t"]...`.
fn parse(value: &str) -> ApiResult<Search> {
    const MAX_CLAUSES: usize = 32;
    let mut any: Vec<Vec<(String, String)>> = vec![Vec::new()];
    let mut rest = value.trim();
    let mut expect_term = true;
    while !rest.is_empty() {
        if expect_term {
            let inner =
                rest.strip_prefix('"').ok_or_else(|| bad("$search clauses must be quoted: \"displayName:term\"."))?;
            let end = inner.find('"').ok_or_else(|| bad("$search has an unterminated quote."))?;
            let (prop, term) = inner[..end]
                .split_once(':')
                .ok_or_else(|| bad("$search clauses name a property: \"displayName:term\"."))?;
            if term.is_empty() {
                return Err(bad("$search terms must not be empty."));
            }
            any.last_mut().expect("one clause").push((prop.trim().to_string(), term.to_string()));
            if any.iter().map(Vec::len).sum::<usize>() > MAX_CLAUSES {
                return Err(bad(format!("$search takes at most {MAX_CLAUSES} terms.")));
            }
            rest = inner[end + 1..].trim_start();
        } else {
            let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            match word {
                "AND" => {}
                "OR" => any.push(Vec::new()),
                other => return Err(bad(format!("Unexpected '{other}' in $search; expected AND or OR."))),
            }
            rest = after.trim_start();
        }
        expect_term = !expect_term;
    }
    if expect_term {
        return Err(bad("$search is empty or ends with an operator."));
    }
    Ok(Search { any })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_clauses() {
        let (rest, s) =
            take("$top=2&$search=%22displayName:wa%22%20OR%20%22displayName:to%22+AND+%22description:x%22").unwrap();
        assert_eq!(rest, "$top=2");
        let s = s.unwrap();
        assert_eq!(s.any.len(), 2);
        assert_eq!(s.any[1], vec![("displayName".into(), "to".into()), ("description".into(), "x".into())]);
        for bad in [
            "wa",
            "\"displayName\"",
            "\"displayName:wa\" XOR \"displayName:b\"",
            "\"displayName:",
            "\"displayName:a\" OR",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(take("$search=%22displayName:a%22&%24search=%22displayName:b%22").is_err());
    }
}
