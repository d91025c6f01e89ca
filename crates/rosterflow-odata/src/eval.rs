//! Evaluation of a `$filter` AST against a JSON document, and the value
//! comparison rules shared with `$orderby`.
//!
//! * A missing property is `null`; a path through a non-object is `null`.
//! * A path that reaches a JSON array (a collection) makes every comparison
//!   and function on it false.
//! * Strings compare case-insensitively (Unicode lower-casing), as Graph's
//!   directory-backed collections do.
//! * A DateTimeOffset / Date literal compared with a JSON string parses the
//!   string as an ISO-8601 instant or date; a date counts as midnight UTC when
//!   compared with an instant.
//! * Values of different kinds never compare (every operator gives false),
//!   except that `eq null` / `ne null` work on any non-collection value.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Map, Value};

use crate::filter::{CmpOp, Expr, LambdaKind, Literal};
use crate::lexer::parse_datetime;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    DateTime(DateTime<FixedOffset>),
    Date(NaiveDate),
    Collection,
    Object(&'a Map<String, Value>),
}

/// Object member lookup: exact name first, then ASCII case-insensitive.
pub(crate) fn get_field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// Follows a property path. Stops (returning the array) at a collection.
pub(crate) fn resolve<'a, S: AsRef<str>>(doc: &'a Value, path: &[S]) -> Option<&'a Value> {
    let mut cur = doc;
    for seg in path {
        match cur {
            Value::Object(map) => cur = get_field(map, seg.as_ref())?,
            Value::Array(_) => return Some(cur),
            _ => return None,
        }
    }
    Some(cur)
}

fn json_val(v: Option<&Value>) -> Val<'_> {
    match v {
        None | Some(Value::Null) => Val::Null,
        Some(Value::Bool(b)) => Val::Bool(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Val::Int(i),
            None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(Value::String(s)) => Val::Str(s),
        Some(Value::Array(_)) => Val::Collection,
        Some(Value::Object(m)) => Val::Object(m),
    }
}

/// The lambda variables in scope: each binds a name to the collection element being tested.
pub(crate) enum Scope<'a> {
    Root,
    Bound { var: &'a str, value: &'a Value, outer: &'a Scope<'a> },
}

impl<'a> Scope<'a> {
    fn lookup(&self, name: &str) -> Option<&'a Value> {
        match self {
            Scope::Root => None,
            Scope::Bound { var, value, outer } => {
                if *var == name {
                    Some(value)
                } else {
                    outer.lookup(name)
                }
            }
        }
    }
}

fn literal(l: &Literal) -> Val<'_> {
    match l {
        Literal::Null => Val::Null,
        Literal::Bool(b) => Val::Bool(*b),
        Literal::Int(i) => Val::Int(*i),
        Literal::Float(f) => Val::Float(*f),
        Literal::Str(s) => Val::Str(s),
        Literal::DateTime(d) => Val::DateTime(*d),
        Literal::Date(d) => Val::Date(*d),
    }
}

/// The value a lambda variable path names.
fn var_value<'a>(scope: &Scope<'a>, var: &str, path: &[String]) -> Option<&'a Value> {
    resolve(scope.lookup(var)?, path)
}

fn eval<'a>(expr: &'a Expr, doc: &'a Value, scope: &Scope<'a>) -> Val<'a> {
    match expr {
        Expr::Path(p) => json_val(resolve(doc, p)),
        Expr::Var { var, path } => json_val(var_value(scope, var, path)),
        Expr::Literal(l) => literal(l),
        _ => Val::Bool(truthy(expr, doc, scope)),
    }
}

/// Evaluates a boolean expression.
pub(crate) fn truthy<'a>(expr: &'a Expr, doc: &'a Value, scope: &Scope<'a>) -> bool {
    match expr {
        Expr::Or(v) => v.iter().any(|e| truthy(e, doc, scope)),
        Expr::And(v) => v.iter().all(|e| truthy(e, doc, scope)),
        Expr::Not(a) => !truthy(a, doc, scope),
        Expr::Compare(a, op, b) => compare(&eval(a, doc, scope), *op, &eval(b, doc, scope)),
        Expr::In(a, list) => {
            let a = eval(a, doc, scope);
            list.iter().any(|l| compare(&a, CmpOp::Eq, &literal(l)))
        }
        Expr::StartsWith(a, b) => string_fn(&eval(a, doc, scope), &eval(b, doc, scope), |h, n| h.starts_with(n)),
        Expr::Contains(a, b) => string_fn(&eval(a, doc, scope), &eval(b, doc, scope), |h, n| h.contains(n)),
        Expr::IsOf { path, type_name } => {
            let target = match path {
                None => Some(doc),
                Some(p) => resolve(doc, p),
            };
            target.is_some_and(|v| is_of(v, type_name))
        }
        Expr::Lambda { kind, collection, var, predicate } => {
            let elements = match resolve(doc, collection) {
                Some(Value::Array(items)) => items.as_slice(),
                _ => &[],
            };
            let holds = |value: &'a Value| match predicate {
                None => true,
                Some(p) => truthy(p, doc, &Scope::Bound { var, value, outer: scope }),
            };
            match kind {
                LambdaKind::Any => elements.iter().any(holds),
                LambdaKind::All => elements.iter().all(holds),
            }
        }
        Expr::Path(p) => matches!(resolve(doc, p), Some(Value::Bool(true))),
        Expr::Var { var, path } => matches!(var_value(scope, var, path), Some(Value::Bool(true))),
        Expr::Literal(l) => *l == Literal::Bool(true),
    }
}

fn string_fn(a: &Val, b: &Val, f: impl Fn(&str, &str) -> bool) -> bool {
    match (a, b) {
        (Val::Str(h), Val::Str(n)) => f(&h.to_lowercase(), &n.to_lowercase()),
        _ => false,
    }
}

fn normalize_type(t: &str) -> String {
    t.strip_prefix('#').unwrap_or(t).to_lowercase()
}

fn is_of(v: &Value, type_name: &str) -> bool {
    let want = normalize_type(type_name);
    match v {
        Value::Object(m) => m.get("@odata.type").and_then(Value::as_str).is_some_and(|t| normalize_type(t) == want),
        Value::String(_) => want == "edm.string",
        Value::Bool(_) => want == "edm.boolean",
        Value::Number(n) => match want.as_str() {
            "edm.double" | "edm.decimal" | "edm.single" => true,
            "edm.int64" | "edm.int32" | "edm.int16" | "edm.byte" | "edm.sbyte" => n.is_i64() || n.is_u64(),
            _ => false,
        },
        _ => false,
    }
}

fn compare(a: &Val, op: CmpOp, b: &Val) -> bool {
    match (a, b) {
        (Val::Collection, _) | (_, Val::Collection) => false,
        (Val::Null, Val::Null) => matches!(op, CmpOp::Eq | CmpOp::Ge | CmpOp::Le),
        (Val::Null, _) | (_, Val::Null) => op == CmpOp::Ne,
        _ => match order(a, b) {
            None => false,
            Some(o) => match op {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::Ne => o != Ordering::Equal,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
            },
        },
    }
}

fn midnight_utc(d: NaiveDate) -> DateTime<FixedOffset> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().fixed_offset()
}

/// A JSON string read as an instant (`YYYY-MM-DD` counts as midnight UTC).
fn str_instant(s: &str) -> Option<DateTime<FixedOffset>> {
    parse_datetime(s).or_else(|| str_date(s).map(midnight_utc))
}

fn str_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Case-insensitive string ordering.
pub(crate) fn cmp_str_ci(a: &str, b: &str) -> Ordering {
    a.to_lowercase().cmp(&b.to_lowercase())
}

/// Numbers compare exactly, an integer with a float too: rounding the integer to a float would make
/// 9007199254740993 equal to 9007199254740992.0 and that equal to 9007199254740992, which is not an order.
fn cmp_num(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(y),
        (Val::Int(i), Val::Float(f)) => cmp_int_float(*i, *f),
        (Val::Float(f), Val::Int(i)) => cmp_int_float(*i, *f).map(Ordering::reverse),
        _ => None,
    }
}

/// `i` compared with `f`, exactly.
fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return None;
    }
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // `whole` is an integer in i64's range, so the cast is exact.
    Some(i.cmp(&(whole as i64)).then(whole.partial_cmp(&f).expect("neither is NaN")))
}

/// Ordering of two same-kind values; `None` when they are not comparable.
fn order(a: &Val, b: &Val) -> Option<Ordering> {
    use Val::*;
    match (a, b) {
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Int(_) | Float(_), Int(_) | Float(_)) => cmp_num(a, b),
        (Str(x), Str(y)) => Some(cmp_str_ci(x, y)),
        (DateTime(x), DateTime(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (DateTime(x), Date(y)) => Some(x.cmp(&midnight_utc(*y))),
        (Date(x), DateTime(y)) => Some(midnight_utc(*x).cmp(y)),
        (DateTime(x), Str(s)) => str_instant(s).map(|y| x.cmp(&y)),
        (Str(s), DateTime(y)) => str_instant(s).map(|x| x.cmp(y)),
        (Date(x), Str(s)) => match str_date(s) {
            Some(y) => Some(x.cmp(&y)),
            None => parse_datetime(s).map(|y| midnight_utc(*x).cmp(&y)),
        },
        (Str(s), Date(y)) => order(&Date(*y), &Str(s)).map(Ordering::reverse),
        _ => None,
    }
}

/// Total ordering of JSON values for `$orderby` (ascending): null/missing first, then booleans, numbers
/// (exactly), strings, then everything else (equal among themselves). Strings that are ISO-8601 instants sort
/// as instants, before every other string; other strings sort case-insensitively.
///
/// It must be a total order: `sort_by` may panic on a comparison that is not (an instant compared as an
/// instant with instants but as text with other strings was not: `03:00Z` < `00:00-03:00` by instant,
/// `00:00-03:00` < `01` and `01` < `03:00Z` as text).
pub(crate) fn sort_cmp(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None | Some(Value::Null) => 0,
            Some(Value::Bool(_)) => 1,
            Some(Value::Number(_)) => 2,
            Some(Value::String(_)) => 3,
            Some(_) => 4,
        }
    }
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => match (parse_datetime(x), parse_datetime(y)) {
            (Some(dx), Some(dy)) => dx.cmp(&dy),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => cmp_str_ci(x, y),
        },
        (Some(x @ (Value::Bool(_) | Value::Number(_))), Some(y)) if rank(Some(x)) == rank(Some(y)) => {
            order(&json_val(Some(x)), &json_val(Some(y))).unwrap_or(Ordering::Equal)
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Filter;
    use serde_json::json;

    fn m(filter: &str, doc: &Value) -> bool {
        Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}")).matches(doc)
    }

    fn doc() -> Value {
        json!({
            "@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow",
            "id": "0B3F3A1E-1111-2222-3333-444455556666",
            "displayName": "Grade Sync",
            "count": 5,
            "ratio": 0.5,
            "isValid": true,
            "isEnabled": false,
            "nothing": null,
            "readinessStatus": "notReady",
            "createdDateTime": "2024-03-05T02:12:29Z",
            "startDate": "2022-09-01",
            "tags": ["a", "b"],
            "configuration": {
                "additionalOptions": { "createTeam": true, "name": "Team" },
                "@odata.type": "#microsoft.graph.industryData.classGroupConfiguration"
            }
        })
    }

    #[test]
    fn strings_case_insensitive() {
        let d = doc();
        assert!(m("displayName eq 'grade sync'", &d));
        assert!(m("displayName ne 'other'", &d));
        assert!(!m("displayName ne 'GRADE SYNC'", &d));
        assert!(m("displayName gt 'A' and displayName lt 'h'", &d));
        assert!(m("displayName ge 'grade sync' and displayName le 'Grade Sync'", &d));
        assert!(m("startswith(displayName,'gRa')", &d));
        assert!(!m("startswith(displayName,'Sync')", &d));
        assert!(m("contains(displayName,'DE S')", &d));
        assert!(!m("contains(count,'5')", &d));
        assert!(m("id eq 0b3f3a1e-1111-2222-3333-444455556666", &d));
        assert!(m("readinessStatus eq microsoft.graph.industryData.readinessStatus'NotReady'", &d));
    }

    #[test]
    fn numbers_bools_nulls() {
        let d = doc();
        assert!(m("count eq 5", &d));
        assert!(m("count eq 5.0", &d));
        assert!(m("count gt 4 and count lt 6 and count ge 5 and count le 5", &d));
        assert!(m("ratio lt 1 and ratio gt -1", &d));
        assert!(m("isValid eq true and isEnabled ne true", &d));
        assert!(m("isValid", &d));
        assert!(!m("isEnabled", &d));
        assert!(!m("missing", &d));
        assert!(m("not isEnabled", &d));
        assert!(m("nothing eq null and missing eq null", &d));
        assert!(m("displayName ne null and configuration ne null", &d));
        assert!(!m("displayName eq null", &d));
        assert!(m("missing ne 'x'", &d));
        assert!(!m("missing gt 1", &d));
        assert!(!m("missing lt 1", &d));
        assert!(m("true", &d));
        assert!(!m("false", &d));
    }

    #[test]
    fn kind_mismatch_and_collections() {
        let d = doc();
        assert!(!m("count eq '5'", &d));
        assert!(!m("count ne '5'", &d));
        assert!(!m("displayName gt 1", &d));
        assert!(!m("isValid eq 1", &d));
        assert!(!m("tags eq 'a'", &d));
        assert!(!m("tags ne 'a'", &d));
        assert!(!m("tags eq null", &d));
        assert!(!m("tags ne null", &d));
        assert!(!m("tags/x eq 'a'", &d));
        assert!(!m("contains(tags,'a')", &d));
        assert!(!m("displayName/x eq 'a'", &d));
        assert!(m("displayName/x eq null", &d));
    }

    #[test]
    fn nested_paths() {
        let d = doc();
        assert!(m("configuration/additionalOptions/createTeam eq true", &d));
        assert!(m("configuration/additionalOptions/createTeam", &d));
        assert!(m("configuration/additionalOptions/name eq 'team'", &d));
        assert!(m("configuration/additionalOptions/missing eq null", &d));
        // case-insensitive member fallback
        assert!(m("DisplayName eq 'Grade Sync'", &d));
    }

    #[test]
    fn dates() {
        let d = doc();
        assert!(m("createdDateTime eq 2024-03-05T02:12:29Z", &d));
        assert!(m("createdDateTime eq 2024-03-05T03:12:29+01:00", &d));
        assert!(m("createdDateTime gt 2024-03-05T02:12:28.999Z", &d));
        assert!(m("createdDateTime lt 2024-03-05T02:13Z", &d));
        assert!(m("createdDateTime ge 2024-03-05", &d));
        assert!(m("createdDateTime lt 2024-03-06", &d));
        assert!(m("startDate eq 2022-09-01", &d));
        assert!(m("startDate gt 2022-08-31 and startDate lt 2022-09-02", &d));
        assert!(m("startDate lt 2022-09-01T00:00:01Z", &d));
        assert!(!m("displayName gt 2022-09-01", &d));
        assert!(!m("count gt 2022-09-01", &d));
        assert!(!m("missing gt 2022-09-01", &d));
    }

    #[test]
    fn isof() {
        let d = doc();
        assert!(m("isof('microsoft.graph.industryData.classGroupProvisioningFlow')", &d));
        assert!(m("isof('#Microsoft.Graph.IndustryData.ClassGroupProvisioningFlow')", &d));
        assert!(m("isof(microsoft.graph.industryData.classGroupProvisioningFlow)", &d));
        assert!(!m("isof('microsoft.graph.industryData.userProvisioningFlow')", &d));
        assert!(m("isof(configuration,'microsoft.graph.industryData.classGroupConfiguration')", &d));
        assert!(!m("isof(missing,'microsoft.graph.x')", &d));
        assert!(m("isof(displayName,'Edm.String') and isof(count,'Edm.Int32')", &d));
        assert!(!m("isof('x.y')", &json!({"a": 1})));
    }

    #[test]
    fn in_any_all() {
        let d = json!({
            "id": "AbC",
            "groupTypes": ["Unified", "DynamicMembership"],
            "assignedLicenses": [{"skuId": "sku-1"}, {"skuId": "sku-2", "disabledPlans": []}],
            "empty": [],
            "nested": {"tags": ["x"]}
        });
        assert!(m("id in ('x', 'abc')", &d));
        assert!(!m("id in ('x', 1)", &d));
        assert!(m("groupTypes/any(c:c eq 'unified')", &d));
        assert!(!m("groupTypes/all(c:c eq 'Unified')", &d));
        assert!(m("groupTypes/all(c:startswith(c, 'u') or startswith(c, 'd'))", &d));
        assert!(m("assignedLicenses/any(x:x/skuId eq 'SKU-2')", &d));
        assert!(!m("assignedLicenses/any(x:x/skuId eq 'sku-3')", &d));
        assert!(m("assignedLicenses/any()", &d) && !m("empty/any()", &d) && !m("missing/any()", &d));
        assert!(m("empty/all(x: x eq 1)", &d) && m("missing/all(x: x eq 1)", &d));
        assert!(m("nested/tags/any(t: t eq 'X')", &d));
        // An inner lambda sees the outer lambda's variable.
        assert!(m("assignedLicenses/any(x: groupTypes/any(c: c eq 'Unified') and x/skuId eq 'sku-1')", &d));
    }

    #[test]
    fn logic() {
        let d = doc();
        assert!(m("count eq 1 or count eq 5", &d));
        assert!(!m("count eq 1 and count eq 5", &d));
        assert!(m("not (count eq 1)", &d));
        assert!(m("count eq 1 or count eq 5 and isValid", &d));
        assert!(!m("(count eq 1 or count eq 5) and isEnabled", &d));
        assert!(m("startswith(displayName,'G') eq true", &d));
    }

    #[test]
    fn sort_ordering() {
        let c = |a: Value, b: Value| sort_cmp(Some(&a), Some(&b));
        assert_eq!(sort_cmp(None, Some(&json!(1))), Ordering::Less);
        assert_eq!(c(Value::Null, json!("a")), Ordering::Less);
        assert_eq!(c(json!("b"), json!("A")), Ordering::Greater);
        assert_eq!(c(json!(2), json!(10)), Ordering::Less);
        assert_eq!(c(json!(2.5), json!(2)), Ordering::Greater);
        assert_eq!(c(json!(false), json!(true)), Ordering::Less);
        assert_eq!(c(json!("2024-03-05T02:12:29.5Z"), json!("2024-03-05T02:12:29Z")), Ordering::Greater);
        assert_eq!(c(json!(1), json!("1")), Ordering::Less);
        // Regressions (total-order property): integers and floats compare exactly ...
        assert_eq!(c(json!(9_007_199_254_740_993i64), json!(9_007_199_254_740_992.0)), Ordering::Greater);
        assert_eq!(c(json!(9_007_199_254_740_992i64), json!(9_007_199_254_740_992.0)), Ordering::Equal);
        assert_eq!(c(json!(-2), json!(-1.5)), Ordering::Less);
        assert_eq!(c(json!(i64::MAX), json!(9.223372036854776e18)), Ordering::Less);
        assert_eq!(c(json!(i64::MIN), json!(-9.223372036854776e18)), Ordering::Equal);
        // ... and instants sort before other strings, so instants in other offsets cannot make a cycle.
        assert_eq!(c(json!("2024-01-01T00:00:00-03:00"), json!("2024-01-01T01")), Ordering::Less);
        assert_eq!(c(json!("2024-01-01T03:00:00Z"), json!("2024-01-01T00:00:00-03:00")), Ordering::Equal);
    }
}
