//! Tests of the `$filter` parser: the tree it builds, its errors, and its limits.

use super::*;

fn parse(s: &str) -> Expr {
    super::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> String {
    super::parse(s).expect_err(s).message
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
        Expr::Or(vec![*path("a"), Expr::And(vec![*path("b"), Expr::Not(path("c"))])])
    );
    assert_eq!(parse("(a or b) and c"), Expr::And(vec![Expr::Or(vec![*path("a"), *path("b")]), *path("c")]));
    // `not x eq 1` negates the comparison.
    assert_eq!(parse("not x eq 'y'"), Expr::Not(Box::new(Expr::Compare(path("x"), CmpOp::Eq, s("y")))));
    // and/or chains are flat: one node however long
    assert_eq!(parse("a and b and c"), Expr::And(vec![*path("a"), *path("b"), *path("c")]));
    let long = vec!["a eq 1"; 300].join(" or ");
    assert!(matches!(parse(&long), Expr::Or(v) if v.len() == 300));
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
    assert_eq!(err("size add 1 eq 2"), "The arithmetic operator 'add' is not supported in $filter (at position 5).");
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
fn in_and_lambdas() {
    assert_eq!(
        parse("id in ('a', 'B', 3)"),
        Expr::In(path("id"), vec![Literal::Str("a".into()), Literal::Str("B".into()), Literal::Int(3)])
    );
    assert_eq!(
        parse("groupTypes/any(c:c eq 'Unified')"),
        Expr::Lambda {
            kind: LambdaKind::Any,
            collection: vec!["groupTypes".into()],
            var: "c".into(),
            predicate: Some(Box::new(Expr::Compare(
                Box::new(Expr::Var { var: "c".into(), path: vec![] }),
                CmpOp::Eq,
                s("Unified")
            ))),
        }
    );
    let e = parse("assignedLicenses/any(x:x/skuId eq 0b3f3a1e-1111-2222-3333-444455556666) and a/b/all(y: y/c)");
    let Expr::And(v) = e else { panic!("{e:?}") };
    assert!(matches!(&v[0], Expr::Lambda { kind: LambdaKind::Any, var, .. } if var == "x"));
    assert!(matches!(&v[1], Expr::Lambda { kind: LambdaKind::All, collection, predicate: Some(p), .. }
            if collection == &["a", "b"] && **p == Expr::Var { var: "y".into(), path: vec!["c".into()] }));
    assert!(matches!(parse("tags/any()"), Expr::Lambda { predicate: None, .. }));
    // Outside its lambda the variable's name is an ordinary property.
    assert!(
        matches!(parse("t/any(t: t eq 1) and t eq 2"), Expr::And(v) if v[1] == Expr::Compare(path("t"), CmpOp::Eq, Box::new(Expr::Literal(Literal::Int(2)))))
    );
    assert!(err("tags/all()").contains("all() needs a lambda"));
    assert!(err("tags/any(t t eq 1)").contains("expected ':'"));
    assert!(err("tags/any(t: 'x')").contains("expected a boolean expression"));
    assert!(err("a in 'x'").contains("expected '(' after 'in'"));
    assert!(err("a in ('x' 'y')").contains("expected ',' or ')'"));
    assert!(err("a in (b)").contains("expected a literal"));
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
fn nesting_is_bounded_and_the_error_names_the_limit() {
    let nest = |open: &str, core: &str, close: &str, n: usize| format!("{}{core}{}", open.repeat(n), close.repeat(n));
    // The probe that took the server down: 2,000 nested parentheses.
    let message = err(&nest("(", "a", ")", 2000));
    assert_eq!(message, "The $filter expression is nested 33 levels deep (at position 32); the limit is 32.");
    assert!(matches!(parse(&nest("(", "a", ")", MAX_FILTER_DEPTH)), Expr::Path(_)));
    for (open, core, close) in [("not ", "a", ""), ("startswith(", "a", ",'x')"), ("contains('x',", "a", ")")] {
        assert!(super::parse(&nest(open, core, close, MAX_FILTER_DEPTH)).is_ok(), "{open}");
        let message = err(&nest(open, core, close, MAX_FILTER_DEPTH + 1));
        assert!(message.starts_with("The $filter expression is nested 33 levels deep"), "{message}");
    }
    let message = err(&nest("a/any(x:", "true", ")", 500));
    assert!(message.contains("nests a lambda 3 levels deep") && message.contains("the limit is 2"), "{message}");
    assert!(super::parse("a/any(x: b/all(y: y eq x))").is_ok());
}

#[test]
fn sizes_are_bounded_and_the_error_names_the_limit() {
    let message = err(&"a".repeat(MAX_OPTION_LENGTH + 1));
    assert_eq!(message, "The value of the query option '$filter' is 8193 bytes long; the limit is 8192.");
    let message = err(&vec!["a"; MAX_FILTER_NODES].join(" or "));
    assert!(message.ends_with("the limit is 1000."), "{message}");
    assert!(super::parse(&vec!["a"; MAX_FILTER_NODES - 1].join(" or ")).is_ok());
    let list = |n: usize| format!("a in ({})", vec!["1"; n].join(","));
    assert!(super::parse(&list(MAX_IN_ITEMS)).is_ok());
    assert!(err(&list(MAX_IN_ITEMS + 1)).ends_with("values in an 'in' list; the limit is 500."));
    let path = |n: usize| format!("{} eq 1", vec!["a"; n].join("/"));
    assert!(super::parse(&path(MAX_PATH_SEGMENTS)).is_ok());
    assert!(err(&path(MAX_PATH_SEGMENTS + 1)).contains("has more than 16 segments; the limit is 16"));
    assert!(err("t/any(x: x/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p)").contains("the limit is 16"));
}

#[test]
fn nested_isof_is_refused_without_recursing() {
    // Regression (deep-input property, on a small stack): `isof(isof(isof(...` recursed once per level.
    let message = err(&format!("{}'n.T'{}", "isof(".repeat(1300), ")".repeat(1300)));
    assert!(message.contains("This form of isof()"), "{message}");
    assert!(err("isof(startswith(a,'b'), 'n.T')").contains("This form of isof()"));
    assert!(err("isof(tags/any(x: x), 'n.T')").contains("This form of isof()"));
}

#[test]
fn comparisons_do_not_chain() {
    // Regression: `a eq 1 eq 1 eq ...` built a left-deep tree as deep as the input was long, which
    // overflowed the stack when it was evaluated, printed or dropped.
    let message = err(&format!("a{}", " eq 1".repeat(1000)));
    assert_eq!(
        message,
        "Syntax error in $filter at position 7: 'eq' cannot follow the comparison at position 2: comparisons \
         do not chain (put the first one in parentheses)."
    );
    assert!(err("a in (1) eq true").contains("comparisons do not chain"));
    assert!(err("a eq 1 in (true)").contains("comparisons do not chain"));
    assert!(err("a eq 1 add 2").contains("arithmetic operator 'add'"));
    assert_eq!(
        parse("(a eq 1) eq true"),
        Expr::Compare(
            Box::new(Expr::Compare(path("a"), CmpOp::Eq, Box::new(Expr::Literal(Literal::Int(1))))),
            CmpOp::Eq,
            Box::new(Expr::Literal(Literal::Bool(true)))
        )
    );
}
