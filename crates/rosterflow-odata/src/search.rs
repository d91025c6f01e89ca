//! `$search` as Microsoft Graph's directory APIs take it: `"property:text"` clauses combined with `AND`, `OR`,
//! `NOT` and parentheses, e.g. `"displayName:room"`, `"displayName:a" AND "mail:b"`,
//! `"description:One" AND ("displayName:Video" OR "displayName:Drive")`.
//!
//! Syntax (*Use the $search query parameter*, "Using $search on directory object collections", and the
//! `user-list`, `group-list` and `group-list-members` pages):
//!
//! ```text
//! search  := or
//! or      := and ( "OR" and )*
//! and     := unary ( "AND" unary )*
//! unary   := "NOT" unary | primary
//! primary := "(" or ")" | clause
//! clause  := '"' property ":" text '"'      (inside the quotes, \" is a quote and \\ a backslash)
//! ```
//!
//! * `AND`, `OR` and `NOT` are matched case-insensitively (Graph documents them in upper case). Precedence is
//!   `NOT` > `AND` > `OR`. Two clauses without an operator between them are an error, not an implicit `AND`.
//! * `property` is a property name or a `/`-separated path; `text` is everything after the first `:` and must
//!   contain something to search for. Anything outside quotes other than the operators and parentheses is an
//!   error (a bare word, as in `$search=pizza`, included: directory searches name their property).
//! * Limits ([`crate::limits`]): the value is at most [`MAX_OPTION_LENGTH`] bytes, nesting (parentheses and
//!   `NOT`) at most [`MAX_SEARCH_DEPTH`] levels, checked on entering each, and at most [`MAX_SEARCH_CLAUSES`]
//!   clauses. The parser keeps what it is in the middle of on a stack of its own, never the thread's.
//!
//! How a clause matches a document is in `search_match.rs` ([`Search::matches`]).

use std::fmt::{self, Display, Formatter, Write};

use serde_json::Value;

use crate::limits::{self, MAX_OPTION_LENGTH, MAX_SEARCH_CLAUSES, MAX_SEARCH_DEPTH};
use crate::parse::validate_path;
use crate::QueryError;

/// A parsed `$search`. Build it with [`Search::parse`] (or via [`crate::QueryOptions::parse`]), test documents
/// with [`Search::matches`], or translate [`Search::expr`] into a query of a store's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    expr: SearchExpr,
}

/// The `$search` tree. `AND`/`OR` chains are flat, so it is as deep as the nesting, which the parser bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchExpr {
    /// Two or more operands, any of which must hold.
    Or(Vec<SearchExpr>),
    /// Two or more operands, all of which must hold.
    And(Vec<SearchExpr>),
    Not(Box<SearchExpr>),
    /// `"property:text"`: `property` as given (a name or a `/`-separated path), `text` unescaped.
    Clause {
        property: String,
        text: String,
    },
}

impl Search {
    /// Parses an already percent-decoded `$search` value, within the limits of [`crate::limits`].
    pub fn parse(value: &str) -> Result<Search, QueryError> {
        if value.len() > MAX_OPTION_LENGTH {
            return Err(limits::option_too_long("$search", value.len()));
        }
        let mut p = Parser {
            tokens: tokenize(value)?.into_iter().peekable(),
            len: value.chars().count(),
            stack: Vec::new(),
            depth: 0,
            clauses: 0,
        };
        if p.tokens.peek().is_none() {
            return Err(QueryError::new("The query option '$search' must not be empty."));
        }
        Ok(Search { expr: p.run()? })
    }

    /// The expression tree.
    pub fn expr(&self) -> &SearchExpr {
        &self.expr
    }

    /// Every property the search names, in order, without duplicates.
    pub fn referenced_properties(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.expr.walk_clauses(&mut |property, _| {
            if !out.iter().any(|p| p == property) {
                out.push(property.to_owned());
            }
        });
        out
    }

    /// Whether the document satisfies the search (see `search_match.rs` for what a clause matches).
    pub fn matches(&self, doc: &Value) -> bool {
        crate::search_match::holds(&self.expr, doc)
    }

    /// The tokens a tokenized property's value (`displayName`, `description`) is searched by, lower-cased:
    /// `"OneVideo hello.world"` → `one`, `video`, `hello`, `.`, `world`, `helloworld`. A store that mirrors
    /// [`Search::matches`] indexes these.
    pub fn value_tokens(value: &str) -> Vec<String> {
        crate::search_match::tokens(value, true)
    }

    /// The tokens of a clause's text on a tokenized property; each must be a prefix of one of the value's
    /// [`Search::value_tokens`] for the clause to hold.
    pub fn text_tokens(text: &str) -> Vec<String> {
        crate::search_match::tokens(text, false)
    }

    /// Whether a clause on `property` is matched by tokens (`displayName`, `description`) rather than as a
    /// case-insensitive prefix of the whole value.
    pub fn is_tokenized(property: &str) -> bool {
        crate::search_match::is_tokenized(property)
    }
}

impl SearchExpr {
    fn walk_clauses(&self, f: &mut impl FnMut(&str, &str)) {
        match self {
            SearchExpr::Or(v) | SearchExpr::And(v) => v.iter().for_each(|e| e.walk_clauses(f)),
            SearchExpr::Not(e) => e.walk_clauses(f),
            SearchExpr::Clause { property, text } => f(property, text),
        }
    }
}

fn error(pos: usize, detail: impl Display) -> QueryError {
    QueryError::new(format!("Syntax error in $search at position {pos}: {detail}."))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// A quoted clause, unescaped, not yet split at its `:`.
    Phrase(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Phrase(p) => format!("the clause \"{}\"", limits::shorten(p)),
        }
    }
}

/// The tokens of a `$search` value with their (0-based, in characters) positions. Linear in the input,
/// which the caller has already bounded.
fn tokenize(s: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let mut out = Vec::new();
    let mut chars = s.chars().enumerate().peekable();
    while let Some((pos, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push((Tok::LParen, pos)),
            ')' => out.push((Tok::RParen, pos)),
            '"' => {
                let mut phrase = String::new();
                loop {
                    match chars.next() {
                        None => return Err(error(pos, "unterminated clause: a '\"' is missing")),
                        Some((_, '"')) => break,
                        Some((at, '\\')) => match chars.next() {
                            Some((_, e @ ('"' | '\\'))) => phrase.push(e),
                            _ => return Err(error(at, "a backslash inside a clause must be followed by '\"' or '\\'")),
                        },
                        Some((_, c)) => phrase.push(c),
                    }
                }
                out.push((Tok::Phrase(phrase), pos));
            }
            _ => {
                let mut word = String::from(c);
                while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && !matches!(c, '(' | ')' | '"')) {
                    word.push(c);
                }
                let tok = if word.eq_ignore_ascii_case("and") {
                    Tok::And
                } else if word.eq_ignore_ascii_case("or") {
                    Tok::Or
                } else if word.eq_ignore_ascii_case("not") {
                    Tok::Not
                } else {
                    return Err(error(
                        pos,
                        format!(
                            "unexpected '{}': each clause must be in double quotes, as in \"displayName:room\"",
                            limits::shorten(&word)
                        ),
                    ));
                };
                out.push((tok, pos));
            }
        }
    }
    Ok(out)
}

/// What the parser is in the middle of, innermost last: it never recurses (see `filter_parser.rs`).
enum Ctx {
    /// After `(`: an `or`, then `)`.
    Paren,
    /// After `NOT`: a unary.
    Not,
    /// Operands of an `AND` / `OR` chain being collected.
    And(Vec<SearchExpr>),
    Or(Vec<SearchExpr>),
}

struct Parser {
    tokens: std::iter::Peekable<std::vec::IntoIter<(Tok, usize)>>,
    len: usize,
    stack: Vec<Ctx>,
    depth: usize,
    clauses: usize,
}

impl Parser {
    /// Opens a nesting level (parenthesis or `NOT`) before anything inside it is read.
    fn enter(&mut self, pos: usize, ctx: Ctx) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_SEARCH_DEPTH {
            return Err(limits::too_deep("$search", self.depth, MAX_SEARCH_DEPTH, pos));
        }
        self.stack.push(ctx);
        Ok(())
    }

    fn next_is(&mut self, tok: &Tok) -> bool {
        self.tokens.next_if(|(t, _)| t == tok).is_some()
    }

    /// Adds `e` to the `op` (`AND`/`OR`) chain being collected, or starts one if `op` follows. `None` when `op`
    /// was read and another operand comes next, else the finished chain (or `e` alone, when there is none).
    fn chain(&mut self, op: Tok, e: SearchExpr) -> Option<SearchExpr> {
        let collecting =
            matches!((self.stack.last(), &op), (Some(Ctx::And(_)), Tok::And) | (Some(Ctx::Or(_)), Tok::Or));
        if self.next_is(&op) {
            match self.stack.last_mut() {
                Some(Ctx::And(v) | Ctx::Or(v)) if collecting => v.push(e),
                _ => self.stack.push(if op == Tok::And { Ctx::And(vec![e]) } else { Ctx::Or(vec![e]) }),
            }
            return None;
        }
        if !collecting {
            return Some(e);
        }
        Some(match self.stack.pop() {
            Some(Ctx::And(mut v)) => {
                v.push(e);
                SearchExpr::And(v)
            }
            Some(Ctx::Or(mut v)) => {
                v.push(e);
                SearchExpr::Or(v)
            }
            _ => unreachable!("a chain is being collected"),
        })
    }

    /// Reads operands and reduces them by their contexts until the whole search is read.
    fn run(&mut self) -> Result<SearchExpr, QueryError> {
        'operand: loop {
            let Some((tok, pos)) = self.tokens.next() else {
                return Err(error(self.len, "unexpected end of the search; expected a clause"));
            };
            let mut e = match tok {
                Tok::Not => {
                    self.enter(pos, Ctx::Not)?;
                    continue;
                }
                Tok::LParen => {
                    self.enter(pos, Ctx::Paren)?;
                    continue;
                }
                Tok::Phrase(p) => {
                    self.clauses += 1;
                    if self.clauses > MAX_SEARCH_CLAUSES {
                        return Err(limits::too_many("$search", "clauses", MAX_SEARCH_CLAUSES));
                    }
                    let e = clause(&p, pos)?;
                    if let Some((Tok::Phrase(_) | Tok::LParen | Tok::Not, at)) = self.tokens.peek() {
                        return Err(error(*at, "expected AND or OR between two clauses"));
                    }
                    e
                }
                other => return Err(error(pos, format!("unexpected {}; expected a clause", other.describe()))),
            };
            loop {
                while let Some(Ctx::Not) = self.stack.last() {
                    self.stack.pop();
                    self.depth -= 1;
                    e = SearchExpr::Not(Box::new(e));
                }
                let Some(and) = self.chain(Tok::And, e) else {
                    continue 'operand;
                };
                let Some(or) = self.chain(Tok::Or, and) else {
                    continue 'operand;
                };
                e = or;
                match self.stack.last() {
                    None => {
                        return match self.tokens.next() {
                            None => Ok(e),
                            Some((t, pos)) => Err(error(
                                pos,
                                format!("expected AND, OR or the end of the search, found {}", t.describe()),
                            )),
                        }
                    }
                    Some(Ctx::Paren) => {
                        match self.tokens.next() {
                            Some((Tok::RParen, _)) => {}
                            Some((t, at)) => return Err(error(at, format!("expected ')', found {}", t.describe()))),
                            None => return Err(error(self.len, "expected ')', found the end of the search")),
                        }
                        self.stack.pop();
                        self.depth -= 1;
                    }
                    Some(_) => unreachable!("NOT and chains are reduced above"),
                }
            }
        }
    }
}

/// `property:text` → the clause.
fn clause(phrase: &str, pos: usize) -> Result<SearchExpr, QueryError> {
    let Some((property, text)) = phrase.split_once(':') else {
        return Err(error(
            pos,
            format!("the clause \"{}\" must name a property, as in \"displayName:room\"", limits::shorten(phrase)),
        ));
    };
    validate_path("$search", property)?;
    if text.trim().is_empty() {
        return Err(error(pos, format!("the clause \"{}\" has no text to search for", limits::shorten(phrase))));
    }
    Ok(SearchExpr::Clause { property: property.to_owned(), text: text.to_owned() })
}

/// The canonical text: clauses in double quotes with `\"` and `\\` escapes, operators in upper case,
/// parentheses only where precedence needs them. It parses back to the same tree.
impl Display for SearchExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let rank = |e: &SearchExpr| match e {
            SearchExpr::Or(_) => 0,
            SearchExpr::And(_) => 1,
            SearchExpr::Not(_) | SearchExpr::Clause { .. } => 2,
        };
        match self {
            SearchExpr::Or(v) | SearchExpr::And(v) => {
                let (op, own) = if matches!(self, SearchExpr::Or(_)) { (" OR ", 0) } else { (" AND ", 1) };
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    if rank(e) <= own {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
            SearchExpr::Not(e) if rank(e) < 2 => write!(f, "NOT ({e})"),
            SearchExpr::Not(e) => write!(f, "NOT {e}"),
            SearchExpr::Clause { property, text } => {
                f.write_char('"')?;
                for c in property.chars().chain(std::iter::once(':')).chain(text.chars()) {
                    if matches!(c, '"' | '\\') {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('"')
            }
        }
    }
}

impl Display for Search {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SearchExpr {
        Search::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).expr
    }

    fn err(s: &str) -> String {
        Search::parse(s).expect_err(s).message
    }

    fn clause(p: &str, t: &str) -> SearchExpr {
        SearchExpr::Clause { property: p.into(), text: t.into() }
    }

    #[test]
    fn graphs_examples() {
        assert_eq!(parse("\"displayName:room\""), clause("displayName", "room"));
        assert_eq!(
            parse("\"displayName:wa\" OR \"displayName:to\""),
            SearchExpr::Or(vec![clause("displayName", "wa"), clause("displayName", "to")])
        );
        assert_eq!(
            parse("\"description:One\" AND (\"displayName:Video\" OR \"displayName:Drive\")"),
            SearchExpr::And(vec![
                clause("description", "One"),
                SearchExpr::Or(vec![clause("displayName", "Video"), clause("displayName", "Drive")])
            ])
        );
        // Operators in any case; NOT > AND > OR.
        assert_eq!(
            parse("\"a:1\" or not \"b:2\" And \"c:3\""),
            SearchExpr::Or(vec![
                clause("a", "1"),
                SearchExpr::And(vec![SearchExpr::Not(Box::new(clause("b", "2"))), clause("c", "3")])
            ])
        );
        // Escapes, colons and spaces in the text; paths as properties.
        assert_eq!(parse(r#""displayName:say \"hi\" \\ a:b""#), clause("displayName", r#"say "hi" \ a:b"#));
        assert_eq!(
            parse("\"onPremisesExtensionAttributes/extensionAttribute1:x\"").to_string(),
            "\"onPremisesExtensionAttributes/extensionAttribute1:x\""
        );
    }

    #[test]
    fn errors() {
        assert_eq!(err(""), "The query option '$search' must not be empty.");
        assert!(err("pizza").contains("unexpected 'pizza': each clause must be in double quotes"));
        assert!(err("\"pizza\"").contains("must name a property"));
        assert!(err("\"displayName: \"").contains("has no text to search for"));
        assert!(err("\"display Name:x\"").contains("Invalid $search item 'display Name'"));
        assert!(err("\"a:b\" \"c:d\"").contains("expected AND or OR between two clauses"));
        assert!(err("\"a:b\" AND").contains("unexpected end of the search"));
        assert!(err("(\"a:b\"").contains("expected ')', found the end"));
        assert!(err("\"a:b").contains("unterminated clause"));
        assert!(err("\"a:\\n\"").contains("backslash"));
        assert!(err("\"a:b\")").contains("expected AND, OR or the end of the search, found ')'"));
    }

    #[test]
    fn bounded() {
        let deep = format!("{}\"a:b\"{}", "(".repeat(2000), ")".repeat(2000));
        assert_eq!(err(&deep), "The $search expression is nested 33 levels deep (at position 32); the limit is 32.");
        assert!(err(&format!("{}\"a:b\"", "NOT ".repeat(1000))).contains("the limit is 32"));
        assert!(Search::parse(&format!("{}\"a:b\"", "NOT ".repeat(MAX_SEARCH_DEPTH))).is_ok());
        let many = |n: usize| vec!["\"a:b\""; n].join(" OR ");
        assert!(Search::parse(&many(MAX_SEARCH_CLAUSES)).is_ok());
        assert!(err(&many(MAX_SEARCH_CLAUSES + 1)).ends_with("clauses; the limit is 100."));
        assert!(err(&"\"a:b\" OR ".repeat(2000)).contains("the limit is 8192"));
    }

    #[test]
    fn prints_canonically() {
        for (input, printed) in [
            ("\"a:1\" or (\"b:2\" or \"c:3\")", "\"a:1\" OR (\"b:2\" OR \"c:3\")"),
            ("not (\"a:1\" and \"b:2\")", "NOT (\"a:1\" AND \"b:2\")"),
            ("((\"a:x\\\"y\"))", "\"a:x\\\"y\""),
        ] {
            let s = Search::parse(input).unwrap();
            assert_eq!(s.to_string(), printed);
            assert_eq!(Search::parse(printed).unwrap(), s);
        }
    }
}
