//! OData collection queries pushed into SQL, for both dialects: a `$filter` ([`rosterflow_odata::Expr`]), a
//! `$search`, `$orderby` keys and a keyset cursor become a `WHERE` clause, an `ORDER BY` and the predicate
//! "after this row", over a [`Mapping`] of property paths to SQL: a real column, or a path into a JSON
//! column. The directory's large collections use it; the configuration documents' collections can reuse it
//! with a mapping of their own.
//!
//! **Semantics equal the in-memory evaluator's** (`rosterflow_odata`'s `eval.rs`), proved by the differential
//! property test `tests/query.rs`:
//! * Strings compare case-insensitively. Mapped values are stored folded (`rosterflow_model::directory::fold`,
//!   the evaluator's own lower-casing) and literals are folded by the same function, so a comparison is a
//!   plain one in SQL and an indexed column's index serves it. PostgreSQL text is compared `COLLATE "C"`
//!   (code point order, as Rust's `str` orders).
//! * A missing value is `NULL`; `eq null` / `ne null` test it; `ne` holds for a missing value; `ge`/`le` a
//!   null literal hold only for a missing value, `gt`/`lt` never. Every predicate this module writes is
//!   two-valued (never SQL `NULL`), so `not` negates exactly as the evaluator does.
//! * `any()` / `all()` over a JSON array: `EXISTS` / `NOT EXISTS ... NOT`; a missing collection has no
//!   elements.
//! * Ordering: nulls first ascending, last descending; ties broken by the row key (`id`) ascending.
//!
//! Shapes the mapping does not allow (an unknown or unfilterable property, an operator the property does not
//! support, a literal of the wrong type, `contains`, `isof`, comparisons between two properties) are refused
//! with [`Unsupported`], which the server answers with Graph's 400; nothing is ever filtered in memory.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rosterflow_model::directory::fold;
use rosterflow_odata::{CmpOp, Expr, LambdaKind, Literal, Search, SearchExpr};

/// The SQL dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The type of a mapped value, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Folded text.
    Text,
    Bool,
    Int,
    /// An instant, stored as sortable text (`rosterflow_model::directory::sortable_time`).
    Time,
    /// A date, stored as `YYYY-MM-DD`.
    Date,
}

/// Which operators a value supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ops {
    /// `eq`, `ne`, `in`, null tests.
    Eq,
    /// Also `gt ge lt le` and `startswith`.
    Full,
}

/// Where a value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loc {
    /// A column of the row (`alias.column`).
    Column(&'static str),
    /// A path into the mapping's JSON column (or, inside a lambda, into the element).
    Json(Vec<&'static str>),
}

/// A mapped property.
#[derive(Clone)]
pub enum Field<'m> {
    Scalar {
        loc: Loc,
        ty: Type,
        ops: Ops,
    },
    /// A JSON array at this path of the JSON column; its elements are scalars or objects.
    Collection {
        path: Vec<&'static str>,
        element: Element<'m>,
    },
}

#[derive(Clone)]
pub enum Element<'m> {
    Scalar(Type, Ops),
    /// Objects, whose members the mapping resolves (as `Loc::Json` paths relative to the element).
    Object(std::rc::Rc<dyn Mapping + 'm>),
}

/// Property paths (`displayName`, `student/grade`) to SQL, case-insensitively as Graph matches names.
pub trait Mapping {
    fn field(&self, path: &[String]) -> Option<Field<'_>>;

    /// How `$search` reads `property` (a name as the client spelled it); `None`: not searchable here.
    fn searched(&self, _property: &str) -> Option<Searched> {
        None
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// A query shape the mapping can't serve; the message says what and why (the server's 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

fn unsupported<T>(message: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(message.into()))
}

/// How a `$search` clause on a property is served (`rosterflow_odata`'s `search_match.rs` says what a clause
/// matches; this is the same rule over stored copies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Searched {
    /// A tokenized property (`displayName`, `description`): `loc` holds [`search_tokens`] of the value, so
    /// "a token of the value starts with this token of the text" is a substring test for `' ' + token`.
    Tokens(Loc),
    /// Any other text property: a case-insensitive prefix of the folded value at `loc`.
    Prefix(Loc),
}

/// The stored form of a tokenized value: its [`Search::value_tokens`], each after a space. Tokens hold no
/// whitespace, so `' ' + t` occurs in it exactly when a token starts with `t`.
pub fn search_tokens(value: &str) -> String {
    Search::value_tokens(value).iter().map(|t| format!(" {t}")).collect()
}

/// One `$orderby` key, resolved.
#[derive(Debug, Clone)]
pub struct Key {
    pub loc: Loc,
    pub ty: Type,
    pub descending: bool,
}

/// Writes SQL for one statement, collecting its parameters in order.
pub struct Sql {
    pub dialect: Dialect,
    /// The row's alias (`o` in `FROM dir_object o`).
    pub alias: &'static str,
    /// The row's JSON column holding the folded values of `Loc::Json` paths.
    pub json: &'static str,
    pub params: Vec<Param>,
    lambdas: usize,
    /// How deep the condition being written is nested (bounded by [`MAX_DEPTH`]).
    depth: usize,
}

/// The deepest `$filter` this module writes SQL for: a bound on its recursion (and on the SQL's nesting)
/// whatever the parser accepts.
pub const MAX_DEPTH: usize = 64;

/// A lambda variable in scope: its name, the SQL of its element, and the element's shape.
struct Var<'a, 'm> {
    name: &'a str,
    sql: String,
    element: Element<'m>,
}

impl Sql {
    pub fn new(dialect: Dialect, alias: &'static str, json: &'static str) -> Sql {
        Sql { dialect, alias, json, params: Vec::new(), lambdas: 0, depth: 0 }
    }

    /// Bind `p`, returning its placeholder.
    pub fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    /// A two-valued SQL condition equivalent to `expr`.
    pub fn filter(&mut self, expr: &Expr, mapping: &dyn Mapping) -> Result<String, Unsupported> {
        self.boolean(expr, mapping, &[])
    }

    fn boolean(&mut self, expr: &Expr, m: &dyn Mapping, vars: &[Var]) -> Result<String, Unsupported> {
        if self.depth >= MAX_DEPTH {
            return unsupported(format!("The $filter is nested more than {MAX_DEPTH} levels deep."));
        }
        self.depth += 1;
        let out = self.boolean_at(expr, m, vars);
        self.depth -= 1;
        out
    }

    fn boolean_at(&mut self, expr: &Expr, m: &dyn Mapping, vars: &[Var]) -> Result<String, Unsupported> {
        Ok(match expr {
            Expr::Or(items) | Expr::And(items) => {
                let joiner = if matches!(expr, Expr::Or(_)) { " OR " } else { " AND " };
                let parts = items.iter().map(|e| self.boolean(e, m, vars)).collect::<Result<Vec<_>, _>>()?;
                format!("({})", parts.join(joiner))
            }
            Expr::Not(inner) => format!("(NOT {})", self.boolean(inner, m, vars)?),
            Expr::Literal(Literal::Bool(b)) => (if *b { "(1 = 1)" } else { "(1 = 0)" }).to_string(),
            Expr::Path(_) | Expr::Var { .. } => {
                let (sql, ty, _) = self.scalar(expr, m, vars)?;
                if ty != Type::Bool {
                    return unsupported("Only a boolean property can stand alone as a condition in $filter.");
                }
                format!("({sql} IS NOT NULL AND {sql} = {})", self.truth(true))
            }
            Expr::Compare(a, op, b) => self.compare(a, *op, b, m, vars)?,
            Expr::In(a, list) => {
                let (sql, ty, _) = self.scalar(a, m, vars)?;
                let mut values = Vec::new();
                let mut null = false;
                for l in list {
                    match l {
                        Literal::Null => null = true,
                        l => {
                            let p = self.literal(l, ty)?;
                            values.push(self.bind(p));
                        }
                    }
                }
                let mut parts = Vec::new();
                if !values.is_empty() {
                    parts.push(format!("({sql} IS NOT NULL AND {sql} IN ({}))", values.join(", ")));
                }
                if null {
                    parts.push(format!("({sql} IS NULL)"));
                }
                if parts.is_empty() {
                    "(1 = 0)".into()
                } else {
                    format!("({})", parts.join(" OR "))
                }
            }
            Expr::StartsWith(a, b) => {
                let (sql, ty, ops) = self.scalar(a, m, vars)?;
                let Expr::Literal(Literal::Str(prefix)) = &**b else {
                    return unsupported("startswith() takes a property and a string literal.");
                };
                if ty != Type::Text || ops != Ops::Full {
                    return unsupported("startswith() is not supported on this property.");
                }
                let prefix = fold(prefix);
                let n = prefix.chars().count();
                let p = self.bind(Param::Text(prefix));
                // The range lets an index on the column serve the prefix; substr decides exactly.
                format!("({sql} IS NOT NULL AND {sql} >= {p} AND substr({sql}, 1, {n}) = {p})")
            }
            Expr::Lambda { kind, collection, var, predicate } => {
                self.lambda(*kind, collection, var, predicate, m, vars)?
            }
            Expr::Contains(..) => return unsupported("The 'contains' function is not supported on this resource."),
            Expr::IsOf { .. } => return unsupported("isof() is not supported on this resource."),
            Expr::Literal(_) => return unsupported("A literal can't stand alone as a condition in $filter."),
        })
    }

    fn truth(&self, b: bool) -> &'static str {
        match b {
            true => "TRUE",
            false => "FALSE",
        }
    }

    fn compare(&mut self, a: &Expr, op: CmpOp, b: &Expr, m: &dyn Mapping, vars: &[Var]) -> Result<String, Unsupported> {
        // `'x' eq displayName` is `displayName eq 'x'`.
        let (field, op, lit) = match (a, b) {
            (_, Expr::Literal(l)) if !matches!(a, Expr::Literal(_)) => (a, op, l),
            (Expr::Literal(l), _) if !matches!(b, Expr::Literal(_)) => (b, flip(op), l),
            _ => {
                return unsupported("A comparison in $filter needs a property on one side and a literal on the other.")
            }
        };
        // `startswith(...) eq true`, `(a eq 1) ne false`: a condition compared with a boolean.
        if !matches!(field, Expr::Path(_) | Expr::Var { .. }) {
            let Literal::Bool(want) = lit else {
                return unsupported("A condition can only be compared with true or false.");
            };
            let cond = self.boolean(field, m, vars)?;
            return match op {
                CmpOp::Eq if *want => Ok(cond),
                CmpOp::Ne if !*want => Ok(cond),
                CmpOp::Eq | CmpOp::Ne => Ok(format!("(NOT {cond})")),
                _ => unsupported("A condition can only be compared with 'eq' or 'ne'."),
            };
        }
        let (sql, ty, ops) = self.scalar(field, m, vars)?;
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) && ops != Ops::Full {
            return unsupported(format!("The operator '{}' is not supported on this property.", op_name(op)));
        }
        if *lit == Literal::Null {
            return Ok(match op {
                CmpOp::Eq | CmpOp::Ge | CmpOp::Le => format!("({sql} IS NULL)"),
                CmpOp::Ne => format!("({sql} IS NOT NULL)"),
                CmpOp::Gt | CmpOp::Lt => "(1 = 0)".into(),
            });
        }
        let p = self.literal(lit, ty)?;
        let p = self.bind(p);
        Ok(match op {
            CmpOp::Ne => format!("({sql} IS NULL OR {sql} <> {p})"),
            _ => format!("({sql} IS NOT NULL AND {sql} {} {p})", sql_op(op)),
        })
    }

    /// A literal as a parameter of the value's stored type; a literal of another type is refused.
    fn literal(&self, l: &Literal, ty: Type) -> Result<Param, Unsupported> {
        let wrong = || unsupported(format!("The literal {l:?} can't be compared with a value of type {ty:?}."));
        Ok(match (ty, l) {
            (Type::Text, Literal::Str(s)) => Param::Text(fold(s)),
            (Type::Date, Literal::Str(s)) => Param::Text(fold(s)),
            (Type::Date, Literal::Date(d)) => Param::Text(d.format("%Y-%m-%d").to_string()),
            (Type::Bool, Literal::Bool(b)) => Param::Bool(*b),
            (Type::Int, Literal::Int(i)) => Param::Int(*i),
            (Type::Time, Literal::DateTime(t)) => Param::Text(sortable(*t)),
            (Type::Time, Literal::Date(d)) => Param::Text(sortable(midnight(*d))),
            _ => return wrong(),
        })
    }

    /// The SQL of a property path (or lambda variable path) with a scalar value.
    fn scalar(&mut self, e: &Expr, m: &dyn Mapping, vars: &[Var]) -> Result<(String, Type, Ops), Unsupported> {
        match e {
            Expr::Path(path) => match m.field(path) {
                Some(Field::Scalar { loc, ty, ops }) => Ok((self.loc(&loc, ty), ty, ops)),
                Some(Field::Collection { .. }) => {
                    unsupported(format!("'{}' is a collection: use any() or all().", path.join("/")))
                }
                None => unsupported(format!("The property '{}' can't be used in $filter here.", path.join("/"))),
            },
            Expr::Var { var, path } => {
                let v = vars
                    .iter()
                    .rev()
                    .find(|v| v.name == var)
                    .ok_or_else(|| Unsupported(format!("Unknown variable '{var}'.")))?;
                match (&v.element, path.is_empty()) {
                    (Element::Scalar(ty, ops), true) => Ok((self.element_value(&v.sql, *ty, None), *ty, *ops)),
                    (Element::Object(members), false) => match members.field(path) {
                        Some(Field::Scalar { loc: Loc::Json(p), ty, ops }) => {
                            Ok((self.element_value(&v.sql, ty, Some(&p)), ty, ops))
                        }
                        _ => unsupported(format!("'{var}/{}' can't be used in $filter here.", path.join("/"))),
                    },
                    _ => unsupported(format!("'{var}' can't be compared here.")),
                }
            }
            _ => unsupported("Expected a property in $filter."),
        }
    }

    /// A value at `loc` of the row.
    fn loc(&self, loc: &Loc, ty: Type) -> String {
        match loc {
            Loc::Column(c) => match self.dialect {
                Dialect::Postgres if matches!(ty, Type::Text | Type::Time | Type::Date) => {
                    format!("({}.{c} COLLATE \"C\")", self.alias)
                }
                _ => format!("{}.{c}", self.alias),
            },
            Loc::Json(path) => self.json_value(&format!("{}.{}", self.alias, self.json), path, ty),
        }
    }

    /// A typed scalar at `path` inside the JSON value `base`.
    fn json_value(&self, base: &str, path: &[&str], ty: Type) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let p: String = path.iter().map(|s| format!(".\"{s}\"")).collect();
                format!("json_extract({base}, '${p}')")
            }
            Dialect::Postgres => {
                let text = format!("({base} #>> '{{{}}}')", path.join(","));
                pg_typed(text, ty)
            }
        }
    }

    /// An element of a lambda's collection (`sql` is its alias), or a member of it.
    fn element_value(&self, sql: &str, ty: Type, path: Option<&[&str]>) -> String {
        match (self.dialect, path) {
            (Dialect::Sqlite, None) => format!("{sql}.value"),
            (Dialect::Sqlite, Some(p)) => self.json_value(&format!("{sql}.value"), p, ty),
            (Dialect::Postgres, None) => pg_typed(format!("({sql}.v #>> '{{}}')"), ty),
            (Dialect::Postgres, Some(p)) => self.json_value(&format!("{sql}.v"), p, ty),
        }
    }

    fn lambda(
        &mut self,
        kind: LambdaKind,
        collection: &[String],
        var: &str,
        predicate: &Option<Box<Expr>>,
        m: &dyn Mapping,
        vars: &[Var],
    ) -> Result<String, Unsupported> {
        let Some(Field::Collection { path, element }) = m.field(collection) else {
            return unsupported(format!(
                "'{}' is not a collection that any() or all() can filter.",
                collection.join("/")
            ));
        };
        self.lambdas += 1;
        let alias = format!("e{}", self.lambdas);
        let base = format!("{}.{}", self.alias, self.json);
        let from = match self.dialect {
            Dialect::Sqlite => {
                let p: String = path.iter().map(|s| format!(".\"{s}\"")).collect();
                format!("json_each({base}, '${p}') AS {alias}")
            }
            Dialect::Postgres => format!("jsonb_array_elements({base} #> '{{{}}}') AS {alias}(v)", path.join(",")),
        };
        let Some(predicate) = predicate else {
            return Ok(format!("(EXISTS (SELECT 1 FROM {from}))"));
        };
        let mut inner: Vec<Var> =
            vars.iter().map(|v| Var { name: v.name, sql: v.sql.clone(), element: v.element.clone() }).collect();
        inner.push(Var { name: var, sql: alias, element });
        let cond = self.boolean(predicate, m, &inner)?;
        Ok(match kind {
            LambdaKind::Any => format!("(EXISTS (SELECT 1 FROM {from} WHERE {cond}))"),
            LambdaKind::All => format!("(NOT EXISTS (SELECT 1 FROM {from} WHERE NOT {cond}))"),
        })
    }

    /// A two-valued condition equivalent to `Search::matches` (the parser bounds the tree's depth).
    pub fn search(&mut self, search: &SearchExpr, mapping: &dyn Mapping) -> Result<String, Unsupported> {
        Ok(match search {
            SearchExpr::Or(items) | SearchExpr::And(items) => {
                let joiner = if matches!(search, SearchExpr::Or(_)) { " OR " } else { " AND " };
                let parts = items.iter().map(|e| self.search(e, mapping)).collect::<Result<Vec<_>, _>>()?;
                format!("({})", parts.join(joiner))
            }
            SearchExpr::Not(inner) => format!("(NOT {})", self.search(inner, mapping)?),
            SearchExpr::Clause { property, text } => match mapping.searched(property) {
                Some(Searched::Tokens(loc)) => {
                    let sql = self.loc(&loc, Type::Text);
                    let mut all = vec![format!("{sql} IS NOT NULL")];
                    for token in Search::text_tokens(text) {
                        let p = self.bind(Param::Text(format!(" {token}")));
                        all.push(match self.dialect {
                            Dialect::Sqlite => format!("instr({sql}, {p}) > 0"),
                            Dialect::Postgres => format!("strpos({sql}, {p}) > 0"),
                        });
                    }
                    format!("({})", all.join(" AND "))
                }
                Some(Searched::Prefix(loc)) => {
                    let sql = self.loc(&loc, Type::Text);
                    let prefix = fold(text);
                    let n = prefix.chars().count();
                    let p = self.bind(Param::Text(prefix));
                    format!("({sql} IS NOT NULL AND substr({sql}, 1, {n}) = {p})")
                }
                None => return unsupported(format!("$search is not supported on the property '{property}'.")),
            },
        })
    }

    /// The SQL of each sort key's value (select them to make the next page's cursor).
    pub fn key_values(&self, keys: &[Key]) -> Vec<String> {
        keys.iter().map(|k| self.loc(&k.loc, k.ty)).collect()
    }

    /// `ORDER BY` the keys, then the row's id.
    pub fn order_by(&self, keys: &[Key], id: &str) -> String {
        let mut parts: Vec<String> = keys
            .iter()
            .map(|k| {
                let v = self.loc(&k.loc, k.ty);
                if k.descending {
                    format!("{v} DESC NULLS LAST")
                } else {
                    format!("{v} ASC NULLS FIRST")
                }
            })
            .collect();
        parts.push(format!("{}.{id} ASC", self.alias));
        format!("ORDER BY {}", parts.join(", "))
    }

    /// The rows after `cursor` in the order of [`Self::order_by`] (a two-valued condition).
    pub fn after(&mut self, keys: &[Key], id: &str, cursor: &Cursor) -> Result<String, Unsupported> {
        if cursor.keys.len() != keys.len() {
            return unsupported("The $skiptoken does not belong to this query.");
        }
        let last = self.bind(Param::Text(cursor.id.clone()));
        let mut cond = format!("({}.{id} > {last})", self.alias);
        for (k, v) in keys.iter().zip(&cursor.keys).rev() {
            let sql = self.loc(&k.loc, k.ty);
            let (after, same) = if *v == Param::Null {
                // Nulls come first ascending (everything non-null is after), last descending (nothing is).
                let after = if k.descending { "(1 = 0)".to_string() } else { format!("({sql} IS NOT NULL)") };
                (after, format!("({sql} IS NULL)"))
            } else {
                let p = self.bind(v.clone());
                let after = if k.descending {
                    format!("({sql} IS NULL OR {sql} < {p})")
                } else {
                    format!("({sql} IS NOT NULL AND {sql} > {p})")
                };
                (after, format!("({sql} IS NOT NULL AND {sql} = {p})"))
            };
            cond = format!("({after} OR ({same} AND {cond}))");
        }
        Ok(cond)
    }
}

/// A position in a keyset-paged result: the last row's sort-key values and id.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub keys: Vec<Param>,
    pub id: String,
}

impl Cursor {
    /// An opaque `$skiptoken`: the position and a digest binding it to `query` (the request's own options),
    /// so a token is refused by any other query and a damaged one is refused at all.
    pub fn encode(&self, query: &str) -> String {
        use base64::Engine;
        let payload = serde_json::to_vec(self).expect("a cursor serialises");
        let mut bytes = digest(&payload, query).to_vec();
        bytes.extend_from_slice(&payload);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The cursor of a token made by [`Self::encode`] for the same `query`.
    pub fn decode(token: &str, query: &str) -> Option<Cursor> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
        let (mac, payload) = bytes.split_at_checked(DIGEST)?;
        (mac == digest(payload, query)).then_some(())?;
        serde_json::from_slice(payload).ok()
    }
}

const DIGEST: usize = 16;

fn digest(payload: &[u8], query: &str) -> [u8; DIGEST] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update((query.len() as u64).to_le_bytes());
    h.update(query.as_bytes());
    h.update(payload);
    h.finalize()[..DIGEST].try_into().expect("16 bytes")
}

/// The `WHERE` conditions of a page of a stored set (the `resource` table, `Store::page`), naming only the
/// conditions the query has, no `?n IS NULL OR ...`: a prepared statement's plan then reads the index
/// `(tenant, set_name, seq, id_key)` in page order and stops at the page's end, where a catch-all plan scans
/// and sorts. Parameters, numbered in this order: the tenant (1), the set (2), then the parent key, the types
/// (PostgreSQL: a `text[]`; SQLite: a JSON array) and the position after which the page starts (`seq`, then
/// the id key), each only when present. Returns the conditions and the number of parameters they use.
pub(crate) fn resource_page_conditions(dialect: Dialect, parent: bool, types: bool, after: bool) -> (String, usize) {
    let p = |n: usize| match dialect {
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Postgres => format!("${n}"),
    };
    let mut sql = String::from("tenant = ") + &p(1) + " AND set_name = " + &p(2);
    let mut n = 2;
    if parent {
        n += 1;
        sql += &format!(" AND parent_key = {}", p(n));
    }
    if types {
        n += 1;
        sql += &match dialect {
            Dialect::Sqlite => format!(" AND odata_type IN (SELECT value FROM json_each({}))", p(n)),
            Dialect::Postgres => format!(" AND odata_type = ANY({})", p(n)),
        };
    }
    if after {
        // An index range from the position on: PostgreSQL takes it from the whole key as one row value,
        // SQLite from the columns after the equalities.
        let (seq, key) = (p(n + 1), p(n + 2));
        sql += &match dialect {
            Dialect::Sqlite => format!(" AND (seq, id_key) > ({seq}, {key})"),
            Dialect::Postgres => format!(" AND (tenant, set_name, seq, id_key) > ($1, $2, {seq}, {key})"),
        };
        n += 2;
    }
    (sql, n)
}

fn pg_typed(text: String, ty: Type) -> String {
    match ty {
        Type::Text | Type::Time | Type::Date => format!("({text} COLLATE \"C\")"),
        Type::Bool => format!("({text})::boolean"),
        Type::Int => format!("({text})::bigint"),
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        other => other,
    }
}

fn sql_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
    }
}

fn op_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
    }
}

fn midnight(d: NaiveDate) -> DateTime<FixedOffset> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().fixed_offset()
}

fn sortable(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Param::Null => ToSqlOutput::Owned(Value::Null),
            Param::Bool(b) => ToSqlOutput::Owned(Value::Integer(*b as i64)),
            Param::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            Param::Float(f) => ToSqlOutput::Owned(Value::Real(*f)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl Param {
    /// Bind to a PostgreSQL query.
    pub fn bind_pg<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        match self {
            Param::Null => q.bind(None::<String>),
            Param::Bool(b) => q.bind(*b),
            Param::Int(i) => q.bind(*i),
            Param::Float(f) => q.bind(*f),
            Param::Text(s) => q.bind(s.as_str()),
        }
    }

    /// A value read back from a row's sort-key column (SQLite).
    pub fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Param {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Param::Null,
            ValueRef::Integer(i) => Param::Int(i),
            ValueRef::Real(f) => Param::Float(f),
            ValueRef::Text(t) | ValueRef::Blob(t) => Param::Text(String::from_utf8_lossy(t).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_query() {
        let c = Cursor { keys: vec![Param::Text("a".into()), Param::Null, Param::Bool(true)], id: "x".into() };
        let t = c.encode("q1");
        assert_eq!(Cursor::decode(&t, "q1"), Some(c));
        assert_eq!(Cursor::decode(&t, "q2"), None);
        let mut damaged = t.clone();
        damaged.insert(5, 'A');
        assert_eq!(Cursor::decode(&damaged, "q1"), None);
        assert_eq!(Cursor::decode("!!", "q1"), None);
    }
}
