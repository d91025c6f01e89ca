//! OData v4 system query options for Microsoft Graph style collection requests,
//! evaluated over in-memory JSON documents.
//!
//! [`QueryOptions::parse`] takes the raw (percent-encoded) query string of a
//! request, [`QueryOptions::apply`] filters and sorts a collection of
//! `serde_json::Value` documents, and [`select_properties`] projects an entity.
//! The crate knows no schema: the server checks names with
//! [`QueryOptions::referenced_properties`].
//!
//! The syntax follows *OData Version 4.01. Part 2: URL Conventions*
//! (<https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html>),
//! section 5.1 (system query options) and its ABNF, restricted to this subset; `$search` follows Graph's
//! directory syntax instead (below).
//!
//! # Query string
//! * The string is split on `&` and then on the first `=`. Names and values are
//!   percent-decoded (`%XX`). **`+` decodes to a space**, as in HTML form
//!   encoding and as Graph does, so a literal plus (for example in a
//!   DateTimeOffset offset) must be sent as `%2B`. Both `$top` and `%24top` work,
//!   and so do encoded or raw commas (`%2C`) in values. A leading `?` is ignored.
//! * System option names are case-insensitive (`$TOP`). Supported: `$filter`,
//!   `$orderby`, `$select`, `$top`, `$skip`, `$count`, `$skiptoken`, `$search`. Every other
//!   `$`-option (`$expand`, `$apply`, `$compute`, `$format`, `$levels`,
//!   `$deltatoken`, ...) is an error, and so is an option given twice. `$search` is parsed and exposed
//!   ([`QueryOptions::search`]); whether an API supports it is the caller's decision.
//! * `$top`/`$skip` take non-negative integers. `$count` takes `true` or `false`. `$select` takes
//!   comma-separated property paths, where `*` means all. `$orderby` takes comma-separated
//!   `path [asc|desc]`. Parameters without a `$` (function parameters such as
//!   `resetSession=true`) are passed on decoded in [`QueryOptions::params`].
//!
//! # `$filter`
//! * Supported: `eq ne gt ge lt le`; `in (literal, ...)`; `and`, `or`, `not` (precedence not > and > or)
//!   and parentheses; `startswith(a,b)`, `contains(a,b)`; lambdas `path/any(x: predicate)`,
//!   `path/all(x: predicate)` and `path/any()`, where `x` and `x/sub/path` name the element; `isof('Ns.Type')` (tests the
//!   document's `@odata.type`, ignoring a leading `#` and case) and
//!   `isof(path,'Ns.Type')`; property paths `a/b/c`; a bare path as a boolean
//!   (true when the value is JSON `true`). Literals: `'strings'` with `''`
//!   escapes, integers, decimals, `true`, `false`, `null`, unquoted GUIDs,
//!   DateTimeOffsets (`2024-03-05T02:12:29Z`), dates (`2022-09-01`), and enum
//!   literals `Ns.EnumType'member'`, which are treated as the string `'member'`.
//!   Keywords and function names are case-insensitive. The grammar is in `filter_parser.rs`.
//! * Rejected with a message that names the construct and gives its (0-based)
//!   position: every other function (`endswith`, `tolower`, `length`, ...),
//!   arithmetic (`add`, `sub`, `mul`, `div`, `divby`, `mod`),
//!   the `has` operator, `$it`/`$root`, parameter aliases (`@p`),
//!   type-cast segments, other typed literals (`duration'...'`), numbers out of `f64`'s range,
//!   chained comparisons (`a eq 1 eq true`: parenthesize the first), and malformed syntax.
//! * The tree ([`Expr`]) prints back as canonical `$filter` text (`impl Display for Expr`) that parses to
//!   the same tree.
//!
//! # `$search`
//! Graph's directory syntax ([`Search`]): `"property:text"` clauses in double quotes (`\"` and `\\`
//! escaped), combined with `AND`, `OR`, `NOT` (any case; precedence `NOT` > `AND` > `OR`) and parentheses,
//! e.g. `"displayName:room"` or `"description:One" AND ("displayName:Video" OR "displayName:Drive")`.
//! [`Search::matches`] does what Graph documents for directory objects: `displayName` and `description`
//! match by tokens (every token of the text is a prefix of a token of the value, in any order, ignoring
//! case; values are cut at spaces, case changes, digits and symbols), every other property by a
//! case-insensitive `startswith`. The exact rules are in `search_match.rs`; [`Search::value_tokens`] and
//! [`Search::text_tokens`] give the tokens so a store can mirror them.
//!
//! # Evaluation semantics
//! * A missing property is `null`. `eq null` and `ne null` work.
//! * Strings compare **case-insensitively**, as Graph's directory-backed
//!   collections do, and so do `startswith` and `contains`. Numbers compare numerically and exactly
//!   (an integer with a float too).
//! * A date/time literal compared with an ISO-8601 string compares instants or dates.
//!   A date counts as midnight UTC when it is compared with an instant.
//! * If the two values are of different kinds, or either side is a collection (a JSON array),
//!   the comparison is false. It is not an error.
//! * [`QueryOptions::apply`] keeps the documents that match both `$filter` and `$search`.
//! * `$orderby` sorts stably by a total order. Nulls come first when ascending and last when descending.
//!   Strings sort case-insensitively, except that ISO-8601 instants sort as instants, before other strings.
//!
//! # Limits
//! Query strings are untrusted: every parser here is bounded in depth and size, and a query past a limit is
//! a [`QueryError`] (HTTP 400) whose message names the limit. The figures, all in [`limits`]:
//!
//! | limit | figure |
//! |---|---|
//! | raw query string | [`limits::MAX_QUERY_LENGTH`] = 32 KiB, checked before anything is decoded |
//! | one option's decoded value | [`limits::MAX_OPTION_LENGTH`] = 8 KiB, checked before it is parsed |
//! | `$filter` nesting (parentheses, `not`, function calls, lambdas) | [`limits::MAX_FILTER_DEPTH`] = 32 levels |
//! | `$filter` nodes (operators, functions, paths, literals) | [`limits::MAX_FILTER_NODES`] = 1000 |
//! | lambdas inside lambdas | [`limits::MAX_LAMBDA_DEPTH`] = 2 |
//! | values of one `in (...)` list | [`limits::MAX_IN_ITEMS`] = 500 |
//! | segments of a property path (`$filter`, `$orderby`, `$select`, `$search`) | [`limits::MAX_PATH_SEGMENTS`] = 16 |
//! | `$orderby` items | [`limits::MAX_ORDERBY_ITEMS`] = 32 |
//! | `$select` items | [`limits::MAX_SELECT_ITEMS`] = 256 |
//! | `$search` nesting (parentheses, `NOT`) | [`limits::MAX_SEARCH_DEPTH`] = 32 levels |
//! | `$search` clauses | [`limits::MAX_SEARCH_CLAUSES`] = 100 |
//!
//! The `$filter` and `$search` parsers never recurse (what they are in the middle of is on a stack of their
//! own), so no input can overflow the thread's stack while parsing. The trees they build are as deep as the
//! nesting (a few tree levels per nesting level; `and`/`or` chains are flat and comparisons do not chain),
//! so every recursive walk of a tree (evaluation, printing, cloning, comparing, dropping) is bounded too: at
//! the limits, all of them fit in 256 KiB of stack in an unoptimized build, which the property tests check.
//!
//! # Property tests
//! `tests/properties/` (and a total-order property in `order.rs`) run in the normal test run with modest
//! case counts: arbitrary query strings, token soup built from the grammar's own tokens, printed valid trees
//! with tokens spliced in, and inputs nested far past every limit, parsed on threads with a 256 KiB stack;
//! `parse(print(tree)) == tree`; evaluation and sorting of arbitrary documents. Run them longer with
//! `PROPTEST_CASES=10000 cargo test -p rosterflow-odata`.
//!
//! # Why no third-party `$filter` parser
//! The candidate, `odata-params`, is marked work-in-progress. It cannot parse
//! `/` property paths, enum literals or negative numbers, its errors are generic
//! PEG messages, and it pulls in `chrono-tz`, `bigdecimal` and `peg`. The
//! parser here is small, gives precise errors, is bounded by construction, and handles
//! exactly the subset above.

mod eval;
mod filter;
mod filter_parser;
mod filter_print;
mod lexer;
pub mod limits;
mod order;
mod parse;
mod search;
mod search_match;
mod select;

use serde_json::Value;

pub use filter::{CmpOp, Expr, Filter, LambdaKind, Literal};
pub use order::OrderBy;
pub use search::{Search, SearchExpr};
pub use select::select_properties;

/// A query that cannot be served. The message says exactly what is wrong or
/// unsupported (the server answers HTTP 400 with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        QueryError { message: message.into() }
    }
}

/// The parsed system query options of a collection request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    pub filter: Option<Filter>,
    /// `$orderby` items in the order given.
    pub orderby: Vec<OrderBy>,
    /// `$select` property paths as given; `None` when absent or `*`.
    pub select: Option<Vec<String>>,
    pub top: Option<usize>,
    pub skip: Option<usize>,
    /// `$count=true`.
    pub count: bool,
    /// Opaque server paging token (decoded).
    pub skiptoken: Option<String>,
    /// Parameters without `$` (e.g. function parameters like `resetSession=true`), decoded, in order.
    pub params: Vec<(String, String)>,
    /// `$search`, parsed; whether an API supports it is the caller's decision.
    pub search: Option<Search>,
}

impl QueryOptions {
    /// Parses the raw (still percent-encoded) query string, e.g.
    /// `$top=5&%24filter=displayName%20eq%20%27x%27`.
    pub fn parse(raw_query: &str) -> Result<QueryOptions, QueryError> {
        parse::parse_query(raw_query)
    }

    /// Every property path referenced by `$filter`, `$orderby`, `$select` and `$search`
    /// (e.g. `displayName`, `configuration/additionalOptions/createTeam`),
    /// without duplicates, in that order.
    pub fn referenced_properties(&self) -> Vec<String> {
        let mut all = self.filter.as_ref().map(Filter::referenced_properties).unwrap_or_default();
        all.extend(self.orderby.iter().map(|o| o.property.clone()));
        all.extend(self.select.iter().flatten().cloned());
        all.extend(self.search.as_ref().map(Search::referenced_properties).unwrap_or_default());
        let mut out: Vec<String> = Vec::with_capacity(all.len());
        for p in all {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// Filters (by `$filter` and `$search`, both of which must hold), then stably sorts, the documents.
    /// Does no paging.
    pub fn apply(&self, docs: Vec<Value>) -> Vec<Value> {
        let mut docs: Vec<Value> = match (&self.filter, &self.search) {
            (None, None) => docs,
            (f, s) => docs
                .into_iter()
                .filter(|d| f.as_ref().is_none_or(|f| f.matches(d)) && s.as_ref().is_none_or(|s| s.matches(d)))
                .collect(),
        };
        if !self.orderby.is_empty() {
            docs.sort_by(|a, b| order::compare_docs(&self.orderby, a, b));
        }
        docs
    }
}

#[cfg(test)]
mod tests;
