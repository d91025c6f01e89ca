//! The canonical `$filter` text of a tree: `impl Display for Expr` (and for [`Literal`]).
//!
//! What it prints parses back to the same tree ([`crate::Filter::parse`]): keywords and function names in
//! lower case, single spaces around operators, a parenthesis only where precedence needs one (an `or` inside an
//! `and`, a comparison as the right operand of another, ...), strings single-quoted with `''` escapes, numbers
//! in Rust's shortest round-trip form (floats always with a `.` or an exponent, so `1.0` stays a float), dates
//! and instants in ISO 8601 (`Z` for UTC). GUIDs and enum members were read as strings and print as strings.

use std::fmt::{self, Display, Formatter, Write};

use chrono::SecondsFormat;

use crate::filter::{CmpOp, Expr, LambdaKind, Literal};

/// How tightly an expression binds: an operand that binds looser than its position allows is parenthesized.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Unary,
    Comparison,
    Primary,
}

fn level(e: &Expr) -> Level {
    match e {
        Expr::Or(_) => Level::Or,
        Expr::And(_) => Level::And,
        Expr::Not(_) => Level::Unary,
        Expr::Compare(..) | Expr::In(..) => Level::Comparison,
        _ => Level::Primary,
    }
}

/// Prints `e` where the grammar expects at least `min`, in parentheses if it binds looser. An `or` (`and`)
/// operand that is itself an `or` (`and`) is parenthesized too: the parser reads flat chains, so only the
/// parentheses keep the nested node.
///
/// Sub-expressions are printed by calling `fmt` directly, not through `write!`, which keeps the recursion
/// (as deep as the tree) to one small frame per level.
fn operand(f: &mut Formatter<'_>, e: &Expr, min: Level, strictly: bool) -> fmt::Result {
    let l = level(e);
    if l < min || (strictly && l == min) {
        f.write_char('(')?;
        e.fmt(f)?;
        f.write_char(')')
    } else {
        e.fmt(f)
    }
}

fn path(f: &mut Formatter<'_>, segments: &[String]) -> fmt::Result {
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            f.write_char('/')?;
        }
        f.write_str(s)?;
    }
    Ok(())
}

pub(crate) fn quoted(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        if c == '\'' {
            f.write_char('\'')?;
        }
        f.write_char(c)?;
    }
    f.write_char('\'')
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        })
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            // `{:?}` is the shortest text that reads back as the same f64, and always has a `.` or an `e`.
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Str(s) => quoted(f, s),
            Literal::DateTime(d) => f.write_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Literal::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(v) | Expr::And(v) => {
                let (kw, lvl) = if matches!(self, Expr::Or(_)) { (" or ", Level::Or) } else { (" and ", Level::And) };
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(kw)?;
                    }
                    operand(f, e, lvl, true)?;
                }
                Ok(())
            }
            Expr::Not(e) => {
                f.write_str("not ")?;
                operand(f, e, Level::Unary, false)
            }
            Expr::Compare(a, op, b) => {
                operand(f, a, Level::Primary, false)?;
                f.write_char(' ')?;
                op.fmt(f)?;
                f.write_char(' ')?;
                operand(f, b, Level::Primary, false)
            }
            Expr::In(a, list) => {
                operand(f, a, Level::Primary, false)?;
                f.write_str(" in (")?;
                for (i, l) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{l}")?;
                }
                f.write_char(')')
            }
            Expr::StartsWith(a, b) | Expr::Contains(a, b) => {
                f.write_str(if matches!(self, Expr::Contains(..)) { "contains(" } else { "startswith(" })?;
                a.fmt(f)?;
                f.write_str(", ")?;
                b.fmt(f)?;
                f.write_char(')')
            }
            Expr::IsOf { path: p, type_name } => {
                f.write_str("isof(")?;
                if let Some(p) = p {
                    path(f, p)?;
                    f.write_str(", ")?;
                }
                quoted(f, type_name)?;
                f.write_char(')')
            }
            Expr::Lambda { kind, collection, var, predicate } => {
                path(f, collection)?;
                f.write_str(match kind {
                    LambdaKind::Any => "/any(",
                    LambdaKind::All => "/all(",
                })?;
                if let Some(p) = predicate {
                    f.write_str(var)?;
                    f.write_str(": ")?;
                    p.fmt(f)?;
                }
                f.write_char(')')
            }
            Expr::Path(p) => path(f, p),
            Expr::Var { var, path: p } => {
                f.write_str(var)?;
                if !p.is_empty() {
                    f.write_char('/')?;
                    path(f, p)?;
                }
                Ok(())
            }
            Expr::Literal(l) => write!(f, "{l}"),
        }
    }
}
