//! `$filter` expression AST and recursive-descent parser.
//!
//! Grammar (precedence lowest to highest; keywords and function names are matched
//! case-insensitively, as OData 4.01 allows):
//!
//! ```text
//! or_expr    := and_expr ( "or" and_expr )*
//! and_expr   := unary ( "and" unary )*
//! unary      := "not" unary | comparison
//! comparison := primary ( ("eq"|"ne"|"gt"|"ge"|"lt"|"le") primary )*
//! primary    := "(" or_expr ")" | literal | function | path
//! function   := ("startswith"|"contains") "(" or_expr "," or_expr ")"
//!             | "isof" "(" [path ","] (string | qualifiedName) ")"
//! path       := identifier ( "/" identifier )*
//! ```
//!
//! Note: strict OData gives `not` a higher precedence than comparisons, which makes
//! `not a eq 1` a type error; here it means `not (a eq 1)`, which is what clients mean.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value;

use crate::lexer::{syntax_error, unsupported, Lexer, Tok, Token};
use crate::QueryError;

/// A parsed `$filter` expression. Build it with [`Filter::parse`] (or via
/// [`crate::QueryOptions::parse`]) and test documents with [`Filter::matches`].
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub(crate) expr: Expr,
    source: String,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Literal values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Strings, GUIDs and enum members (compared like strings).
    Str(String),
    DateTime(DateTime<FixedOffset>),
    Date(NaiveDate),
}

/// The expression tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, CmpOp, Box<Expr>),
    StartsWith(Box<Expr>, Box<Expr>),
    Contains(Box<Expr>, Box<Expr>),
    /// `isof('Type')` (path `None`: the document itself) or `isof(path,'Type')`.
    IsOf {
        path: Option<Vec<String>>,
        type_name: String,
    },
    /// Property path; as a boolean expression it is true when the value is JSON `true`.
    Path(Vec<String>),
    Literal(Literal),
}

impl Expr {
    fn is_boolean(&self) -> bool {
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
            Expr::Or(a, b)
            | Expr::And(a, b)
            | Expr::Compare(a, _, b)
            | Expr::StartsWith(a, b)
            | Expr::Contains(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            Expr::Not(a) => a.collect_paths(out),
            Expr::IsOf { path: Some(p), type_name: _ } | Expr::Path(p) => out.push(p.join("/")),
            Expr::IsOf { path: None, .. } | Expr::Literal(_) => {}
        }
    }
}

impl Filter {
    /// Parses an already percent-decoded `$filter` expression.
    pub fn parse(expression: &str) -> Result<Filter, QueryError> {
        let mut p = Parser { lexer: Lexer::new(expression), peeked: None, len: expression.chars().count() };
        if p.peek()?.is_none() {
            return Err(QueryError::new("The query option '$filter' must not be empty."));
        }
        let expr = p.boolean(Parser::or_expr)?;
        if let Some(t) = p.next()? {
            return Err(syntax_error(
                t.pos,
                format!("unexpected {}; expected 'and', 'or' or the end of the expression", t.tok.describe()),
            ));
        }
        Ok(Filter { expr, source: expression.to_owned() })
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
        crate::eval::truthy(&self.expr, doc)
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

struct Parser {
    lexer: Lexer,
    peeked: Option<Option<Token>>,
    len: usize,
}

fn not_boolean(pos: usize) -> QueryError {
    syntax_error(pos, "expected a boolean expression (a comparison, function or property), found a literal")
}

fn keyword(t: &Option<Token>, kw: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&mut self) -> Result<&Option<Token>, QueryError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn next(&mut self) -> Result<Option<Token>, QueryError> {
        self.peek()?;
        Ok(self.peeked.take().flatten())
    }

    fn peek_is(&mut self, tok: &Tok) -> Result<bool, QueryError> {
        Ok(matches!(self.peek()?, Some(t) if &t.tok == tok))
    }

    fn peek_pos(&mut self) -> Result<usize, QueryError> {
        let len = self.len;
        Ok(self.peek()?.as_ref().map_or(len, |t| t.pos))
    }

    fn expect(&mut self, tok: Tok, context: &str) -> Result<(), QueryError> {
        match self.next()? {
            Some(t) if t.tok == tok => Ok(()),
            Some(t) => {
                Err(syntax_error(t.pos, format!("expected {} {context}, found {}", tok.describe(), t.tok.describe())))
            }
            None => Err(syntax_error(
                self.len,
                format!("expected {} {context}, found the end of the expression", tok.describe()),
            )),
        }
    }

    /// Runs `f` and checks that it produced a boolean-valued expression.
    fn boolean(&mut self, f: fn(&mut Parser) -> Result<Expr, QueryError>) -> Result<Expr, QueryError> {
        let pos = self.peek_pos()?;
        let e = f(self)?;
        if e.is_boolean() {
            Ok(e)
        } else {
            Err(not_boolean(pos))
        }
    }

    /// `or`/`and` chains. Operands are only required to be boolean when an
    /// operator actually combines them, so function arguments can reuse this.
    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        self.chain("or", Parser::and_expr, Expr::Or)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        self.chain("and", Parser::unary, Expr::And)
    }

    fn chain(
        &mut self,
        kw: &str,
        operand: fn(&mut Parser) -> Result<Expr, QueryError>,
        combine: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Expr, QueryError> {
        let pos = self.peek_pos()?;
        let mut left = operand(self)?;
        while keyword(self.peek()?, kw) {
            if !left.is_boolean() {
                return Err(not_boolean(pos));
            }
            self.next()?;
            let right = self.boolean(operand)?;
            left = combine(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if keyword(self.peek()?, "not") {
            self.next()?;
            let operand = self.boolean(Parser::unary)?;
            return Ok(Expr::Not(Box::new(operand)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.primary()?;
        loop {
            let (word, pos) = match self.peek()? {
                Some(Token { tok: Tok::Word(w), pos }) => (w.to_ascii_lowercase(), *pos),
                _ => return Ok(left),
            };
            let op = match word.as_str() {
                "eq" => CmpOp::Eq,
                "ne" => CmpOp::Ne,
                "gt" => CmpOp::Gt,
                "ge" => CmpOp::Ge,
                "lt" => CmpOp::Lt,
                "le" => CmpOp::Le,
                "add" | "sub" | "mul" | "div" | "divby" | "mod" => {
                    return Err(unsupported(pos, format!("The arithmetic operator '{word}'")))
                }
                "has" | "in" => return Err(unsupported(pos, format!("The '{word}' operator"))),
                _ => return Ok(left),
            };
            self.next()?;
            let right = self.primary()?;
            left = Expr::Compare(Box::new(left), op, Box::new(right));
        }
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let Some(Token { tok, pos }) = self.next()? else {
            return Err(syntax_error(self.len, "unexpected end of the expression; expected an operand"));
        };
        let lit = |l| Ok(Expr::Literal(l));
        match tok {
            Tok::LParen => {
                let e = self.or_expr()?;
                self.expect(Tok::RParen, "to close the parenthesis")?;
                Ok(e)
            }
            Tok::Str(s) | Tok::Guid(s) | Tok::Enum(s) => lit(Literal::Str(s)),
            Tok::Int(i) => lit(Literal::Int(i)),
            Tok::Float(f) => lit(Literal::Float(f)),
            Tok::DateTime(d) => lit(Literal::DateTime(d)),
            Tok::Date(d) => lit(Literal::Date(d)),
            Tok::Word(w) => self.word(w, pos),
            other => Err(syntax_error(pos, format!("unexpected {}; expected an operand", other.describe()))),
        }
    }

    fn word(&mut self, w: String, pos: usize) -> Result<Expr, QueryError> {
        let lower = w.to_ascii_lowercase();
        match lower.as_str() {
            "true" => return Ok(Expr::Literal(Literal::Bool(true))),
            "false" => return Ok(Expr::Literal(Literal::Bool(false))),
            "null" => return Ok(Expr::Literal(Literal::Null)),
            _ => {}
        }
        if w.starts_with('$') {
            return Err(unsupported(pos, format!("'{w}'")));
        }
        if w.starts_with('@') {
            return Err(unsupported(pos, format!("The parameter alias '{w}'")));
        }
        if self.peek_is(&Tok::LParen)? {
            self.next()?;
            return match lower.as_str() {
                "startswith" | "contains" => {
                    let a = self.or_expr()?;
                    self.expect(Tok::Comma, &format!("between the arguments of {lower}()"))?;
                    let b = self.or_expr()?;
                    self.expect(Tok::RParen, &format!("after the arguments of {lower}()"))?;
                    let (a, b) = (Box::new(a), Box::new(b));
                    Ok(if lower == "contains" { Expr::Contains(a, b) } else { Expr::StartsWith(a, b) })
                }
                "isof" => self.isof(pos),
                _ => Err(unsupported(pos, format!("The function '{w}'"))),
            };
        }
        let mut segments = vec![self.segment(w, pos)?];
        while self.peek_is(&Tok::Slash)? {
            self.next()?;
            match self.next()? {
                Some(Token { tok: Tok::Word(seg), pos }) => {
                    if self.peek_is(&Tok::LParen)? {
                        let lower = seg.to_ascii_lowercase();
                        return Err(if lower == "any" || lower == "all" {
                            unsupported(pos, format!("The lambda operator '{seg}'"))
                        } else {
                            unsupported(pos, format!("The bound function '{seg}'"))
                        });
                    }
                    segments.push(self.segment(seg, pos)?);
                }
                Some(t) => {
                    return Err(syntax_error(
                        t.pos,
                        format!("expected a property name after '/', found {}", t.tok.describe()),
                    ))
                }
                None => {
                    return Err(syntax_error(
                        self.len,
                        "expected a property name after '/', found the end of the expression",
                    ))
                }
            }
        }
        Ok(Expr::Path(segments))
    }

    fn segment(&self, seg: String, pos: usize) -> Result<String, QueryError> {
        if seg.starts_with(['$', '@']) {
            Err(unsupported(pos, format!("'{seg}' in a property path")))
        } else if seg.contains('.') {
            Err(unsupported(pos, format!("The type-cast segment '{seg}'")))
        } else {
            Ok(seg)
        }
    }

    /// After `isof(`: `'Type')`, `Ns.Type)`, or `path, 'Type')`.
    fn isof(&mut self, pos: usize) -> Result<Expr, QueryError> {
        let bad =
            || unsupported(pos, "This form of isof() (use isof('Namespace.Type') or isof(property,'Namespace.Type'))");
        let type_name = |t: Option<Token>| match t.map(|t| t.tok) {
            Some(Tok::Str(s)) => Some(s),
            Some(Tok::Word(w)) if w.contains('.') => Some(w),
            _ => None,
        };
        let (path, type_tok) = match self.next()? {
            Some(Token { tok: Tok::Word(w), pos }) if !w.contains('.') => {
                let Expr::Path(p) = self.word(w, pos)? else {
                    return Err(bad());
                };
                if !self.peek_is(&Tok::Comma)? {
                    return Err(bad());
                }
                self.next()?;
                (Some(p), self.next()?)
            }
            other => (None, other),
        };
        let type_name = type_name(type_tok).ok_or_else(bad)?;
        if !self.peek_is(&Tok::RParen)? {
            return Err(bad());
        }
        self.next()?;
        Ok(Expr::IsOf { path, type_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Expr {
        Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).expr
    }

    fn err(s: &str) -> String {
        Filter::parse(s).expect_err(s).message
    }

    fn path(p: &str) -> Box<Expr> {
        Box::new(Expr::Path(p.split('/').map(String::from).collect()))
    }

    fn s(v: &str) -> Box<Expr> {
        Box::new(Expr::Literal(Literal::Str(v.into())))
    }

    #[test]
    fn comparison_and_paths() {
        assert_eq!(
            parse("configuration/additionalOptions/createTeam eq true"),
            Expr::Compare(
                path("configuration/additionalOptions/createTeam"),
                CmpOp::Eq,
                Box::new(Expr::Literal(Literal::Bool(true)))
            )
        );
        for (op, c) in [
            ("eq", CmpOp::Eq),
            ("ne", CmpOp::Ne),
            ("gt", CmpOp::Gt),
            ("ge", CmpOp::Ge),
            ("lt", CmpOp::Lt),
            ("LE", CmpOp::Le),
        ] {
            assert_eq!(parse(&format!("a {op} 'x'")), Expr::Compare(path("a"), c, s("x")));
        }
    }

    #[test]
    fn precedence() {
        // a or b and not c  ==  a or (b and (not c))
        assert_eq!(
            parse("a or b and not c"),
            Expr::Or(path("a"), Box::new(Expr::And(path("b"), Box::new(Expr::Not(path("c"))))))
        );
        assert_eq!(parse("(a or b) and c"), Expr::And(Box::new(Expr::Or(path("a"), path("b"))), path("c")));
        // `not x eq 1` negates the comparison.
        assert_eq!(parse("not x eq 'y'"), Expr::Not(Box::new(Expr::Compare(path("x"), CmpOp::Eq, s("y")))));
        // and/or are left-associative
        assert_eq!(parse("a and b and c"), Expr::And(Box::new(Expr::And(path("a"), path("b"))), path("c")));
    }

    #[test]
    fn functions() {
        assert_eq!(parse("startswith(displayName,'Gr')"), Expr::StartsWith(path("displayName"), s("Gr")));
        assert_eq!(
            parse("not(contains( displayName , 'x' ))"),
            Expr::Not(Box::new(Expr::Contains(path("displayName"), s("x"))))
        );
        assert_eq!(
            parse("isof('microsoft.graph.industryData.classGroupProvisioningFlow')"),
            Expr::IsOf { path: None, type_name: "microsoft.graph.industryData.classGroupProvisioningFlow".into() }
        );
        assert_eq!(parse("isof(microsoft.graph.x)"), Expr::IsOf { path: None, type_name: "microsoft.graph.x".into() });
        assert_eq!(
            parse("isof(source/conn, 'microsoft.graph.y')"),
            Expr::IsOf { path: Some(vec!["source".into(), "conn".into()]), type_name: "microsoft.graph.y".into() }
        );
    }

    #[test]
    fn literals_in_comparisons() {
        assert_eq!(
            parse("readinessStatus eq microsoft.graph.industryData.readinessStatus'notReady'"),
            Expr::Compare(path("readinessStatus"), CmpOp::Eq, s("notReady"))
        );
        assert_eq!(
            parse("id eq 0b3f3a1e-1111-2222-3333-444455556666"),
            Expr::Compare(path("id"), CmpOp::Eq, s("0b3f3a1e-1111-2222-3333-444455556666"))
        );
        assert!(matches!(
            parse("x eq null"),
            Expr::Compare(_, CmpOp::Eq, b) if *b == Expr::Literal(Literal::Null)
        ));
        assert!(matches!(parse("x gt -1.5"), Expr::Compare(_, CmpOp::Gt, _)));
        assert_eq!(parse("true"), Expr::Literal(Literal::Bool(true)));
    }

    #[test]
    fn rejections() {
        assert_eq!(
            err("endswith(displayName,'x')"),
            "The function 'endswith' is not supported in $filter (at position 0)."
        );
        assert_eq!(
            err("members/any(m: m eq 'x')"),
            "The lambda operator 'any' is not supported in $filter (at position 8)."
        );
        assert!(err("tags/all(t:t eq 'x')").contains("lambda operator 'all'"));
        assert_eq!(
            err("size add 1 eq 2"),
            "The arithmetic operator 'add' is not supported in $filter (at position 5)."
        );
        assert_eq!(err("name in ('a','b')"), "The 'in' operator is not supported in $filter (at position 5).");
        assert!(err("flags has ns.E'a'").contains("The 'has' operator"));
        assert!(err("tolower(name) eq 'x'").contains("The function 'tolower'"));
        assert!(err("$it eq 1").contains("'$it' is not supported"));
        assert!(err("name eq @p").contains("parameter alias '@p'"));
        assert!(err("microsoft.graph.user/name eq 'x'").contains("type-cast segment"));
        assert!(err("isof(a, b, c)").contains("This form of isof()"));
        assert!(err("isof(1)").contains("This form of isof()"));
        assert!(err("a/b() eq 1").contains("bound function 'b'"));
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            err("a eq"),
            "Syntax error in $filter at position 4: unexpected end of the expression; expected an operand."
        );
        assert_eq!(
            err("(a eq 1"),
            "Syntax error in $filter at position 7: expected ')' to close the parenthesis, found the end of the expression."
        );
        assert_eq!(
            err("a eq 1 b"),
            "Syntax error in $filter at position 7: unexpected 'b'; expected 'and', 'or' or the end of the expression."
        );
        assert!(err("'x'").contains("expected a boolean expression"));
        assert!(err("a eq 1 and 5").contains("at position 11: expected a boolean expression"));
        assert!(err("5 and a").contains("at position 0: expected a boolean expression"));
        assert!(err("a or (1)").contains("at position 5: expected a boolean expression"));
        assert!(err("not 'x'").contains("expected a boolean expression"));
        assert!(err("startswith(a 'x')").contains("expected ','"));
        assert!(err("a/) eq 1").contains("expected a property name after '/'"));
        assert!(err("a eq ,").contains("unexpected ','"));
        assert_eq!(err("   "), "The query option '$filter' must not be empty.");
    }

    #[test]
    fn referenced() {
        let f = Filter::parse("a eq 1 and (startswith(b/c,'x') or isof(d,'n.T')) and not e and isof('n.U')").unwrap();
        assert_eq!(f.referenced_properties(), vec!["a", "b/c", "d", "e"]);
        assert_eq!(f.to_string(), f.as_str());
    }
}
