//! The `$filter` parser. It never recurses: what a recursive-descent parser would keep on the call stack
//! (an open parenthesis, a `not`, a function's arguments, a lambda, an `and`/`or` chain being collected, a
//! comparison waiting for its right operand) is a [`Ctx`] on a stack of its own, so no input can overflow the
//! thread's stack, and each token is read once.
//!
//! Grammar (precedence lowest to highest; keywords and function names are matched case-insensitively, as
//! OData 4.01 allows):
//!
//! ```text
//! or_expr    := and_expr ( "or" and_expr )*
//! and_expr   := unary ( "and" unary )*
//! unary      := "not" unary | comparison
//! comparison := primary [ ("eq"|"ne"|"gt"|"ge"|"lt"|"le") primary | "in" "(" literal ("," literal)* ")" ]
//! primary    := "(" or_expr ")" | literal | function | path
//! function   := ("startswith"|"contains") "(" or_expr "," or_expr ")"
//!             | "isof" "(" [path ","] (string | qualifiedName) ")"
//! path       := identifier ( "/" identifier )* [ "/" ("any"|"all") "(" [ identifier ":" or_expr ] ")" ]
//! ```
//!
//! The top level, `and`/`or` operands (when there are two or more), `not`'s operand and a lambda's predicate
//! must be boolean (not a literal other than `true`/`false`). Inside a lambda, a path that starts with the
//! lambda's variable (`x/skuId`, or `c` alone) is relative to the collection's element ([`Expr::Var`]).
//!
//! Notes:
//! * Strict OData gives `not` a higher precedence than comparisons, which makes `not a eq 1` a type error;
//!   here it means `not (a eq 1)`, which is what clients mean.
//! * A comparison does not chain: `a eq 1 eq true` is an error (write `(a eq 1) eq true`). A chain would make
//!   the tree as deep as the expression is long.
//!
//! Limits ([`crate::limits`]): the expression's length is checked before it is read; the depth goes up on
//! entering each parenthesis, `not`, function call and lambda and is checked before anything inside is read;
//! nodes, `in` values, path segments and nested lambdas are counted as they are read. The tree is therefore at
//! most a few levels deeper than [`MAX_FILTER_DEPTH`] (an `or`, an `and` and a comparison per level), which
//! bounds every recursive walk of it (evaluation, printing, cloning, comparing, dropping).

use crate::filter::{CmpOp, Expr, LambdaKind, Literal};
use crate::lexer::{syntax_error, unsupported, Lexer, Tok, Token};
use crate::limits::{
    self, MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_IN_ITEMS, MAX_LAMBDA_DEPTH, MAX_OPTION_LENGTH, MAX_PATH_SEGMENTS,
};
use crate::QueryError;

/// Parses an already percent-decoded `$filter` expression.
pub(crate) fn parse(expression: &str) -> Result<Expr, QueryError> {
    if expression.len() > MAX_OPTION_LENGTH {
        return Err(limits::option_too_long("$filter", expression.len()));
    }
    let mut p = Parser {
        lexer: Lexer::new(expression),
        peeked: None,
        len: expression.chars().count(),
        vars: Vec::new(),
        stack: Vec::new(),
        depth: 0,
        nodes: 0,
    };
    if p.peek()?.is_none() {
        return Err(QueryError::new("The query option '$filter' must not be empty."));
    }
    p.run()
}

/// What the parser is in the middle of, innermost last: the frames a recursive-descent parser would have.
enum Ctx {
    /// After `(` (at `pos`): an `or_expr`, then `)`.
    Paren {
        pos: usize,
    },
    /// After `not` (at `pos`): a boolean `unary`, starting at `operand`.
    Not {
        pos: usize,
        operand: usize,
    },
    /// `operand or operand or ...`, the first operand at `pos`.
    Or {
        operands: Vec<Expr>,
        pos: usize,
    },
    And {
        operands: Vec<Expr>,
        pos: usize,
    },
    /// `left op`: the right operand (a primary) comes next.
    Compare {
        left: Expr,
        left_pos: usize,
        op: CmpOp,
        op_pos: usize,
    },
    /// `startswith(` / `contains(` (at `pos`): two `or_expr` arguments; `first` once the first is read.
    Function {
        contains: bool,
        name: &'static str,
        pos: usize,
        first: Option<Expr>,
    },
    /// `collection/any(var:` / `all(`: a boolean `or_expr`, then `)`. The variable is on `vars`; the path
    /// started at `start`.
    Lambda {
        kind: LambdaKind,
        collection: Vec<String>,
        start: usize,
    },
}

/// What the parser just read: an expression ending at one of the grammar's levels, and where it started.
enum Done {
    /// A `primary`: it may still be the left operand of a comparison.
    Primary(Expr, usize),
    /// A `unary`: `not`s and `and` may apply to it.
    Unary(Expr, usize),
    /// An `or_expr`: complete; the context decides what follows.
    Or(Expr, usize),
}

struct Parser {
    lexer: Lexer,
    peeked: Option<Option<Token>>,
    len: usize,
    /// The variables of the lambdas being parsed, innermost last.
    vars: Vec<String>,
    stack: Vec<Ctx>,
    /// Nesting constructs open at this point.
    depth: usize,
    /// Nodes built so far.
    nodes: usize,
}

fn not_boolean(pos: usize) -> QueryError {
    syntax_error(pos, "expected a boolean expression (a comparison, function or property), found a literal")
}

fn keyword(t: &Option<Token>, kw: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
}

fn cmp_op(word: &str) -> Option<CmpOp> {
    Some(match word {
        "eq" => CmpOp::Eq,
        "ne" => CmpOp::Ne,
        "gt" => CmpOp::Gt,
        "ge" => CmpOp::Ge,
        "lt" => CmpOp::Lt,
        "le" => CmpOp::Le,
        _ => return None,
    })
}

fn boolean(e: Expr, pos: usize) -> Result<Expr, QueryError> {
    if e.is_boolean() {
        Ok(e)
    } else {
        Err(not_boolean(pos))
    }
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

    /// Opens a nesting level (parenthesis, `not`, function call, lambda) before anything inside it is read.
    fn enter(&mut self, pos: usize, ctx: Ctx) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(limits::too_deep("$filter", self.depth, MAX_FILTER_DEPTH, pos));
        }
        self.stack.push(ctx);
        Ok(())
    }

    /// Closes the innermost nesting level.
    fn leave(&mut self) {
        self.depth -= 1;
        self.stack.pop();
    }

    /// Counts `e` as one more node of the tree.
    fn node(&mut self, e: Expr) -> Result<Expr, QueryError> {
        self.nodes += 1;
        if self.nodes > MAX_FILTER_NODES {
            return Err(limits::too_many(
                "$filter",
                "nodes (operators, functions, properties and literals)",
                MAX_FILTER_NODES,
            ));
        }
        Ok(e)
    }

    /// The whole expression: read operands and reduce them by their contexts until the top level is done.
    fn run(&mut self) -> Result<Expr, QueryError> {
        let mut done = self.operand()?;
        loop {
            done = match done {
                Done::Primary(e, pos) => self.after_primary(e, pos)?,
                Done::Unary(e, pos) => match self.after_unary(e, pos)? {
                    Some(d) => d,
                    None => self.operand()?,
                },
                Done::Or(e, pos) => match self.stack.last_mut() {
                    None => {
                        let e = boolean(e, pos)?;
                        if let Some(t) = self.next()? {
                            return Err(syntax_error(
                                t.pos,
                                format!(
                                    "unexpected {}; expected 'and', 'or' or the end of the expression",
                                    t.tok.describe()
                                ),
                            ));
                        }
                        return Ok(e);
                    }
                    Some(&mut Ctx::Paren { pos: open }) => {
                        self.expect(Tok::RParen, "to close the parenthesis")?;
                        self.leave();
                        Done::Primary(e, open)
                    }
                    Some(Ctx::Function { first: first @ None, name, .. }) => {
                        *first = Some(e);
                        let name = *name;
                        self.expect(Tok::Comma, &format!("between the arguments of {name}()"))?;
                        self.operand()?
                    }
                    Some(Ctx::Function { .. }) => {
                        let Some(Ctx::Function { contains, name, pos: fpos, first: Some(a) }) = self.stack.pop() else {
                            unreachable!("matched above")
                        };
                        self.expect(Tok::RParen, &format!("after the arguments of {name}()"))?;
                        self.depth -= 1;
                        let (a, b) = (Box::new(a), Box::new(e));
                        let f = if contains { Expr::Contains(a, b) } else { Expr::StartsWith(a, b) };
                        Done::Primary(self.node(f)?, fpos)
                    }
                    Some(Ctx::Lambda { kind, .. }) => {
                        let e = boolean(e, pos)?;
                        let name = if *kind == LambdaKind::Any { "any" } else { "all" };
                        self.expect(Tok::RParen, &format!("to close {name}()"))?;
                        let Some(Ctx::Lambda { kind, collection, start }) = self.stack.pop() else {
                            unreachable!("matched above")
                        };
                        self.depth -= 1;
                        let var = self.vars.pop().expect("a lambda's variable");
                        let lambda = Expr::Lambda { kind, collection, var, predicate: Some(Box::new(e)) };
                        Done::Primary(self.node(lambda)?, start)
                    }
                    Some(Ctx::Not { .. } | Ctx::Or { .. } | Ctx::And { .. } | Ctx::Compare { .. }) => {
                        unreachable!("reduced before an or_expr completes")
                    }
                },
            };
        }
    }

    /// At an operand position: reads `not`s and openings (pushing their contexts) up to a complete primary.
    fn operand(&mut self) -> Result<Done, QueryError> {
        loop {
            // The right operand of a comparison is a primary: there, `not` is a property name.
            let unary = !matches!(self.stack.last(), Some(Ctx::Compare { .. }));
            if unary && keyword(self.peek()?, "not") {
                let pos = self.peek_pos()?;
                self.next()?;
                let operand = self.peek_pos()?;
                self.enter(pos, Ctx::Not { pos, operand })?;
                continue;
            }
            let Some(Token { tok, pos }) = self.next()? else {
                return Err(syntax_error(self.len, "unexpected end of the expression; expected an operand"));
            };
            let literal = match tok {
                Tok::LParen => {
                    self.enter(pos, Ctx::Paren { pos })?;
                    continue;
                }
                Tok::Word(w) => match self.word(w, pos)? {
                    Some(done) => return Ok(done),
                    None => continue,
                },
                Tok::Str(s) | Tok::Guid(s) | Tok::Enum(s) => Literal::Str(s),
                Tok::Int(i) => Literal::Int(i),
                Tok::Float(f) => Literal::Float(f),
                Tok::DateTime(d) => Literal::DateTime(d),
                Tok::Date(d) => Literal::Date(d),
                other => {
                    return Err(syntax_error(pos, format!("unexpected {}; expected an operand", other.describe())))
                }
            };
            return Ok(Done::Primary(self.node(Expr::Literal(literal))?, pos));
        }
    }

    /// After a primary: the right operand of a pending comparison, or the left operand of a new one.
    fn after_primary(&mut self, e: Expr, pos: usize) -> Result<Done, QueryError> {
        if let Some(Ctx::Compare { .. }) = self.stack.last() {
            let Some(Ctx::Compare { left, left_pos, op, op_pos }) = self.stack.pop() else {
                unreachable!("matched above")
            };
            let e = self.node(Expr::Compare(Box::new(left), op, Box::new(e)))?;
            self.no_chain(op_pos)?;
            return Ok(Done::Unary(e, left_pos));
        }
        let Some((word, op_pos)) = self.operator()? else {
            return Ok(Done::Unary(e, pos));
        };
        self.next()?;
        if word == "in" {
            let list = self.literal_list()?;
            let e = self.node(Expr::In(Box::new(e), list))?;
            self.no_chain(op_pos)?;
            return Ok(Done::Unary(e, pos));
        }
        let op = cmp_op(&word).expect("operator() returns comparison operators and 'in'");
        self.stack.push(Ctx::Compare { left: e, left_pos: pos, op, op_pos });
        self.operand()
    }

    /// After a unary: applies pending `not`s, then extends or closes the `and` and `or` chains. `None` when
    /// an `and`/`or` was read and another operand comes next.
    fn after_unary(&mut self, mut e: Expr, mut pos: usize) -> Result<Option<Done>, QueryError> {
        while let Some(Ctx::Not { .. }) = self.stack.last() {
            let Some(Ctx::Not { pos: not_pos, operand }) = self.stack.pop() else { unreachable!("matched above") };
            self.depth -= 1;
            e = self.node(Expr::Not(Box::new(boolean(e, operand)?)))?;
            pos = not_pos;
        }
        let Some((e, pos)) = self.chain("and", e, pos)? else {
            return Ok(None);
        };
        Ok(self.chain("or", e, pos)?.map(|(e, pos)| Done::Or(e, pos)))
    }

    /// Adds `e` (at `pos`) to the `kw` chain being collected, or starts one if `kw` follows; `None` when `kw`
    /// was read and another operand comes next, else the finished chain (or `e` alone, when there is none).
    fn chain(&mut self, kw: &str, e: Expr, pos: usize) -> Result<Option<(Expr, usize)>, QueryError> {
        let collecting =
            matches!((self.stack.last(), kw), (Some(Ctx::And { .. }), "and") | (Some(Ctx::Or { .. }), "or"));
        let more = keyword(self.peek()?, kw);
        if !collecting && !more {
            return Ok(Some((e, pos)));
        }
        let e = boolean(e, pos)?;
        if !collecting {
            self.stack.push(if kw == "and" {
                Ctx::And { operands: vec![e], pos }
            } else {
                Ctx::Or { operands: vec![e], pos }
            });
        } else if let Some(Ctx::And { operands, .. } | Ctx::Or { operands, .. }) = self.stack.last_mut() {
            operands.push(e);
        }
        if more {
            self.next()?;
            return Ok(None);
        }
        match self.stack.pop() {
            Some(Ctx::And { operands, pos }) => Ok(Some((self.node(Expr::And(operands))?, pos))),
            Some(Ctx::Or { operands, pos }) => Ok(Some((self.node(Expr::Or(operands))?, pos))),
            _ => unreachable!("a chain is being collected"),
        }
    }

    /// After a comparison whose operator was at `first`: another operator is an error.
    fn no_chain(&mut self, first: usize) -> Result<(), QueryError> {
        match self.operator()? {
            Some((word, pos)) => Err(syntax_error(
                pos,
                format!(
                    "'{word}' cannot follow the comparison at position {first}: comparisons do not chain \
                     (put the first one in parentheses)"
                ),
            )),
            None => Ok(()),
        }
    }

    /// The comparison operator (or `in`) that comes next, lower-cased with its position; `None` when the next
    /// token is not one. Operators this crate does not support are errors.
    fn operator(&mut self) -> Result<Option<(String, usize)>, QueryError> {
        let (word, pos) = match self.peek()? {
            Some(Token { tok: Tok::Word(w), pos }) => (w.to_ascii_lowercase(), *pos),
            _ => return Ok(None),
        };
        match word.as_str() {
            "add" | "sub" | "mul" | "div" | "divby" | "mod" => {
                Err(unsupported(pos, format!("The arithmetic operator '{word}'")))
            }
            "has" => Err(unsupported(pos, format!("The '{word}' operator"))),
            "in" => Ok(Some((word, pos))),
            w if cmp_op(w).is_some() => Ok(Some((word, pos))),
            _ => Ok(None),
        }
    }

    /// After `in`: `(literal, ...)`.
    fn literal_list(&mut self) -> Result<Vec<Literal>, QueryError> {
        self.expect(Tok::LParen, "after 'in'")?;
        let mut out = Vec::new();
        loop {
            let Some(Token { tok, pos }) = self.next()? else {
                return Err(syntax_error(self.len, "unexpected end of the expression in the list after 'in'"));
            };
            if out.len() == MAX_IN_ITEMS {
                return Err(limits::too_many("$filter", "values in an 'in' list", MAX_IN_ITEMS));
            }
            out.push(match tok {
                Tok::Str(s) | Tok::Guid(s) | Tok::Enum(s) => Literal::Str(s),
                Tok::Int(i) => Literal::Int(i),
                Tok::Float(f) => Literal::Float(f),
                Tok::DateTime(d) => Literal::DateTime(d),
                Tok::Date(d) => Literal::Date(d),
                Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                Tok::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
                other => {
                    return Err(syntax_error(
                        pos,
                        format!("expected a literal in the list after 'in', found {}", other.describe()),
                    ))
                }
            });
            match self.next()? {
                Some(Token { tok: Tok::Comma, .. }) => {}
                Some(Token { tok: Tok::RParen, .. }) => return Ok(out),
                Some(t) => {
                    return Err(syntax_error(
                        t.pos,
                        format!("expected ',' or ')' in the list after 'in', found {}", t.tok.describe()),
                    ))
                }
                None => return Err(syntax_error(self.len, "expected ')' to close the list after 'in'")),
            }
        }
    }

    /// A word at an operand position: a literal, a function call, a path, a lambda variable's path or a
    /// lambda. `None` when it opened a context (a function's arguments or a lambda's predicate come next).
    fn word(&mut self, w: String, pos: usize) -> Result<Option<Done>, QueryError> {
        let lower = w.to_ascii_lowercase();
        let literal = match lower.as_str() {
            "true" => Some(Literal::Bool(true)),
            "false" => Some(Literal::Bool(false)),
            "null" => Some(Literal::Null),
            _ => None,
        };
        if let Some(l) = literal {
            return Ok(Some(Done::Primary(self.node(Expr::Literal(l))?, pos)));
        }
        if w.starts_with('$') {
            return Err(unsupported(pos, format!("'{w}'")));
        }
        if w.starts_with('@') {
            return Err(unsupported(pos, format!("The parameter alias '{w}'")));
        }
        if self.peek_is(&Tok::LParen)? {
            self.next()?;
            let contains = match lower.as_str() {
                "startswith" => false,
                "contains" => true,
                "isof" => {
                    if self.depth == MAX_FILTER_DEPTH {
                        return Err(limits::too_deep("$filter", self.depth + 1, MAX_FILTER_DEPTH, pos));
                    }
                    let e = self.isof(pos)?;
                    return Ok(Some(Done::Primary(self.node(e)?, pos)));
                }
                _ => return Err(unsupported(pos, format!("The function '{w}'"))),
            };
            let name = if contains { "contains" } else { "startswith" };
            self.enter(pos, Ctx::Function { contains, name, pos, first: None })?;
            return Ok(None);
        }
        let var = self.vars.contains(&w).then(|| w.clone());
        let mut segments = if var.is_some() { Vec::new() } else { vec![segment(w, pos)?] };
        while self.peek_is(&Tok::Slash)? {
            self.next()?;
            match self.next()? {
                Some(Token { tok: Tok::Word(seg), pos: seg_pos }) => {
                    if self.peek_is(&Tok::LParen)? {
                        let kind = match seg.to_ascii_lowercase().as_str() {
                            "any" => LambdaKind::Any,
                            "all" => LambdaKind::All,
                            _ => return Err(unsupported(seg_pos, format!("The bound function '{seg}'"))),
                        };
                        if var.is_some() {
                            return Err(unsupported(seg_pos, format!("A lambda over a lambda variable ('{seg}')")));
                        }
                        self.next()?;
                        return self.lambda(kind, segments, seg_pos, pos);
                    }
                    segments.push(segment(seg, seg_pos)?);
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
            if segments.len() + usize::from(var.is_some()) > MAX_PATH_SEGMENTS {
                return Err(limits::path_too_deep("$filter", &segments.join("/")));
            }
        }
        let e = match var {
            Some(var) => Expr::Var { var, path: segments },
            None => Expr::Path(segments),
        };
        Ok(Some(Done::Primary(self.node(e)?, pos)))
    }

    /// After `collection/any(` or `.../all(` (`any` at `pos`, the path at `start`): `)`, or `var:` and then
    /// the predicate, read in the lambda's context.
    fn lambda(
        &mut self,
        kind: LambdaKind,
        collection: Vec<String>,
        pos: usize,
        start: usize,
    ) -> Result<Option<Done>, QueryError> {
        let name = if kind == LambdaKind::Any { "any" } else { "all" };
        if self.peek_is(&Tok::RParen)? {
            self.next()?;
            if kind == LambdaKind::All {
                return Err(syntax_error(pos, "all() needs a lambda: all(x: predicate)"));
            }
            let e = self.node(Expr::Lambda { kind, collection, var: String::new(), predicate: None })?;
            return Ok(Some(Done::Primary(e, start)));
        }
        let var = match self.next()? {
            Some(Token { tok: Tok::Word(v), .. })
                if v.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !v.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                v
            }
            Some(t) => {
                return Err(syntax_error(
                    t.pos,
                    format!("expected the lambda variable of {name}(), found {}", t.tok.describe()),
                ))
            }
            None => return Err(syntax_error(self.len, format!("expected the lambda variable of {name}()"))),
        };
        self.expect(Tok::Colon, &format!("after the lambda variable of {name}()"))?;
        if self.vars.len() == MAX_LAMBDA_DEPTH {
            return Err(QueryError::new(format!(
                "The $filter expression nests a lambda {} levels deep (at position {pos}); the limit is \
                 {MAX_LAMBDA_DEPTH}.",
                MAX_LAMBDA_DEPTH + 1
            )));
        }
        self.enter(pos, Ctx::Lambda { kind, collection, start })?;
        self.vars.push(var);
        Ok(None)
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
                // Anything but a plain path (a literal, a variable, a function or a lambda) is refused here,
                // before a function's or lambda's contents are read: `word` must not read a function call
                // here, as it would call `isof` again (the stack would grow with nested `isof(`s).
                if self.peek_is(&Tok::LParen)? {
                    return Err(bad());
                }
                let Some(Done::Primary(Expr::Path(p), _)) = self.word(w, pos)? else {
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

/// A property path segment: not `$...`/`@...`, not a type cast.
fn segment(seg: String, pos: usize) -> Result<String, QueryError> {
    if seg.starts_with(['$', '@']) {
        Err(unsupported(pos, format!("'{seg}' in a property path")))
    } else if seg.contains('.') {
        Err(unsupported(pos, format!("The type-cast segment '{seg}'")))
    } else {
        Ok(seg)
    }
}

#[cfg(test)]
#[path = "filter_parser_tests.rs"]
mod tests;
