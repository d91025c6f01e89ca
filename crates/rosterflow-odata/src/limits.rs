//! Every bound on what a query may make this crate do, in one place.
//!
//! A query string is untrusted input: any caller with a read permission can send one. Each limit below caps
//! either the stack (nesting depth) or the work (input size, tree size) that one query can cost, and a query
//! past a limit is a [`QueryError`] (HTTP 400) whose message names the limit and its figure.
//!
//! The figures are generous for real clients (Graph's own directory refuses a `$filter` with more than 15
//! `or` clauses, and clients rarely nest more than a few levels) and small enough that the worst case costs
//! microseconds per document: parsing is linear in the (capped) input and never recurses, and the trees are
//! as deep as their nesting (never as deep as the input is long: `and`/`or` chains are flat and comparisons
//! do not chain), so every recursive walk of a tree is bounded by [`MAX_FILTER_DEPTH`] (or
//! [`MAX_SEARCH_DEPTH`]). The depth limits are set so that, at the limit, every walk fits in 256 KiB of stack
//! in an unoptimized build (the property tests run the deepest inputs on threads that small); an optimized
//! server on tokio's 2 MiB worker stacks has more than tenfold margin. `docs/decisions.md` says why each
//! figure was chosen.

use crate::QueryError;

/// The raw (still percent-encoded) query string, in bytes. Checked before anything is decoded.
pub const MAX_QUERY_LENGTH: usize = 32 * 1024;

/// One query option's value after percent-decoding, in bytes (`$filter`, `$search`, `$select`, ...).
/// Checked before the value is parsed.
pub const MAX_OPTION_LENGTH: usize = 8 * 1024;

/// Nesting levels of a `$filter`: each parenthesis, `not`, function call (`startswith(`, `contains(`,
/// `isof(`) and lambda (`any(`, `all(`) opens one level. A level adds at most four levels to the tree (an
/// `or`, an `and`, a comparison and the function or lambda itself).
pub const MAX_FILTER_DEPTH: usize = 32;

/// Nodes of a `$filter` tree: operators, functions, lambdas, property paths and literals (the values of an
/// `in` list count under [`MAX_IN_ITEMS`] instead).
pub const MAX_FILTER_NODES: usize = 1000;

/// Lambdas (`any`/`all`) nested inside one another. Each level multiplies the evaluation by the length of a
/// collection (an inner lambda runs once per element of the outer one's), so this stays small.
pub const MAX_LAMBDA_DEPTH: usize = 2;

/// Values in one `in (...)` list.
pub const MAX_IN_ITEMS: usize = 500;

/// Segments of one property path (`a/b/c` has 3), in `$filter`, `$orderby`, `$select` and `$search`.
pub const MAX_PATH_SEGMENTS: usize = 16;

/// Items of `$orderby`.
pub const MAX_ORDERBY_ITEMS: usize = 32;

/// Items of `$select`.
pub const MAX_SELECT_ITEMS: usize = 256;

/// Nesting levels of a `$search`: each parenthesis and `NOT` opens one level.
pub const MAX_SEARCH_DEPTH: usize = 32;

/// Clauses (`"property:text"`) of one `$search`.
pub const MAX_SEARCH_CLAUSES: usize = 100;

pub(crate) fn query_too_long(len: usize) -> QueryError {
    QueryError::new(format!("The query string is {len} bytes long; the limit is {MAX_QUERY_LENGTH}."))
}

pub(crate) fn option_too_long(option: &str, len: usize) -> QueryError {
    QueryError::new(format!(
        "The value of the query option '{option}' is {len} bytes long; the limit is {MAX_OPTION_LENGTH}."
    ))
}

pub(crate) fn too_deep(option: &str, depth: usize, limit: usize, pos: usize) -> QueryError {
    QueryError::new(format!(
        "The {option} expression is nested {depth} levels deep (at position {pos}); the limit is {limit}."
    ))
}

pub(crate) fn too_many(option: &str, what: &str, limit: usize) -> QueryError {
    QueryError::new(format!("The {option} expression has more than {limit} {what}; the limit is {limit}."))
}

pub(crate) fn path_too_deep(option: &str, path: &str) -> QueryError {
    QueryError::new(format!(
        "The property path '{}' in {option} has more than {MAX_PATH_SEGMENTS} segments; the limit is \
         {MAX_PATH_SEGMENTS}.",
        shorten(path)
    ))
}

pub(crate) fn too_many_items(option: &str, count: usize, limit: usize) -> QueryError {
    QueryError::new(format!("The query option '{option}' has {count} items; the limit is {limit}."))
}

/// At most 100 characters of an echoed input, so an error message stays small whatever the input.
pub(crate) fn shorten(s: &str) -> String {
    const KEEP: usize = 100;
    match s.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}
