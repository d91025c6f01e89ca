//! The `$filter` expression tree ([`Expr`]) and [`Filter`], its parsed form with evaluation.
//!
//! The grammar and its limits are in `filter_parser.rs`, the canonical printer in `filter_print.rs`, evaluation
//! in `eval.rs`.
//!
//! `and` / `or` chains are flat ([`Expr::And`] / [`Expr::Or`] hold every operand) and comparisons do not chain,
//! so the tree is only as deep as the expression's nesting (parentheses, `not`, function arguments, lambdas),
//! which the parser bounds ([`crate::limits::MAX_FILTER_DEPTH`]), never as deep as it is long: every walk of a
//! parsed tree (evaluation, printing, cloning, comparing, dropping) is bounded by the same depth.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value;

use crate::QueryError;

/// A parsed `$filter` expression. Build it with [`Filter::parse`] (or via
/// [`crate::QueryOptions::parse`]) and test documents with [`Filter::matches`], or translate
/// [`Filter::expr`] into a query of a store's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub(crate) expr: Expr,
    source: String,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Literal values.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Strings, GUIDs and enum members (compared like strings).
    Str(String),
    DateTime(DateTime<FixedOffset>),
    Date(NaiveDate),
}

/// `any` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    Any,
    All,
}

/// The expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more operands, any of which must hold.
    Or(Vec<Expr>),
    /// Two or more operands, all of which must hold.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, CmpOp, Box<Expr>),
    /// `operand in (literal, ...)`: equal (as `eq` compares) to one of the literals.
    In(Box<Expr>, Vec<Literal>),
    StartsWith(Box<Expr>, Box<Expr>),
    Contains(Box<Expr>, Box<Expr>),
    /// `isof('Type')` (path `None`: the document itself) or `isof(path,'Type')`.
    IsOf {
        path: Option<Vec<String>>,
        type_name: String,
    },
    /// `collection/any(var: predicate)` or `collection/all(var: predicate)`. `any()` without a predicate holds
    /// when the collection has an element. A missing or null collection has none: `any` is false, `all` true.
    Lambda {
        kind: LambdaKind,
        collection: Vec<String>,
        var: String,
        predicate: Option<Box<Expr>>,
    },
    /// Property path; as a boolean expression it is true when the value is JSON `true`.
    Path(Vec<String>),
    /// Inside a lambda: the element bound to `var`, or a path below it (`x/skuId` is `var: x, path: [skuId]`).
    Var {
        var: String,
        path: Vec<String>,
    },
    Literal(Literal),
}

impl Expr {
    pub(crate) fn is_boolean(&self) -> bool {
        !matches!(
            self,
            Expr::Literal(
                Literal::Null
                    | Literal::Int(_)
                    | Literal::Float(_)
                    | Literal::Str(_)
                    | Literal::DateTime(_)
                    | Literal::Date(_)
            )
        )
    }

    fn collect_paths(&self, out: &mut Vec<String>) {
        match self {
            Expr::Or(v) | Expr::And(v) => v.iter().for_each(|e| e.collect_paths(out)),
            Expr::Compare(a, _, b) | Expr::StartsWith(a, b) | Expr::Contains(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            Expr::Not(a) | Expr::In(a, _) => a.collect_paths(out),
            Expr::IsOf { path: Some(p), type_name: _ } | Expr::Path(p) => out.push(p.join("/")),
            // The collection is a property of the document; what the predicate names is relative to its elements.
            Expr::Lambda { collection, .. } => out.push(collection.join("/")),
            Expr::IsOf { path: None, .. } | Expr::Var { .. } | Expr::Literal(_) => {}
        }
    }
}

impl Filter {
    /// Parses an already percent-decoded `$filter` expression, within the limits of [`crate::limits`].
    pub fn parse(expression: &str) -> Result<Filter, QueryError> {
        let expr = crate::filter_parser::parse(expression)?;
        Ok(Filter { expr, source: expression.to_owned() })
    }

    /// The expression tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The expression text as given (decoded).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every property path the expression references, `/`-joined, in source order.
    pub fn referenced_properties(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.collect_paths(&mut out);
        out
    }

    /// Whether the document satisfies the filter.
    pub fn matches(&self, doc: &Value) -> bool {
        crate::eval::truthy(&self.expr, doc, &crate::eval::Scope::Root)
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referenced() {
        let f = Filter::parse("a eq 1 and (startswith(b/c,'x') or isof(d,'n.T')) and not e and isof('n.U')").unwrap();
        assert_eq!(f.referenced_properties(), vec!["a", "b/c", "d", "e"]);
        assert_eq!(f.to_string(), f.as_str());
    }
}
