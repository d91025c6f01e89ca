//! What a `$search` clause matches, as Graph documents it for directory objects (*Use the $search query
//! parameter*, "Using $search on directory object collections"), so that a store can mirror it exactly:
//!
//! * The clause's property is read like a `$filter` path (exact member name first, then ASCII
//!   case-insensitively; a missing property matches nothing). A string value is matched as below; a
//!   collection matches when one of its string elements does; any other value matches nothing.
//! * **`displayName` and `description`** (the property name, case-insensitively) are matched by **tokens**:
//!   both the value and the search text are split into tokens ([`tokens`]), and the clause holds when every
//!   token of the text is a prefix of some token of the value, in any order, ignoring case. So
//!   `"displayName:OneVideo"` matches "One Video Team" and "Video One", `"displayName:vid"` matches
//!   "OneVideo", and `"displayName:helloworld"` matches "hello.world".
//! * **Every other property** is matched the way `$filter`'s `startswith` is: the value starts with the text,
//!   ignoring case (`"mail:onevideo"` matches `OneVideo@contoso.com`).
//!
//! Tokens ([`tokens`]): the string is cut at whitespace into chunks; in a chunk, a run of letters is a word
//! that is cut again where a lower-case letter is followed by an upper-case one (`HelloWorld` → `hello`,
//! `world`, but `HELLOworld` stays one word, as Graph documents), a run of digits is a word
//! (`hello123world` → `hello`, `123`, `world`), and every other character is a token of its own
//! (`hello.world` → `hello`, `.`, `world`). A chunk whose words are separated only by such symbols also
//! yields the words joined (`hello.world` → also `helloworld`), for the value only: that is how
//! `helloworld` finds `hello-world`. Tokens are compared in lower case (Unicode lower-casing).

use serde_json::Value;

use crate::eval::resolve;
use crate::search::SearchExpr;

/// The properties Graph tokenizes; every other one is matched as a prefix.
const TOKENIZED: [&str; 2] = ["displayName", "description"];

pub(crate) fn is_tokenized(property: &str) -> bool {
    TOKENIZED.iter().any(|t| t.eq_ignore_ascii_case(property))
}

/// Whether `doc` satisfies `expr`. The recursion is as deep as the tree, which the parser bounds.
pub(crate) fn holds(expr: &SearchExpr, doc: &Value) -> bool {
    match expr {
        SearchExpr::Or(v) => v.iter().any(|e| holds(e, doc)),
        SearchExpr::And(v) => v.iter().all(|e| holds(e, doc)),
        SearchExpr::Not(e) => !holds(e, doc),
        SearchExpr::Clause { property, text } => {
            let path: Vec<&str> = property.split('/').collect();
            let tokenized = is_tokenized(property);
            let wanted = if tokenized { tokens(text, false) } else { Vec::new() };
            let one = |v: &Value| match v {
                Value::String(s) if tokenized => {
                    let have = tokens(s, true);
                    wanted.iter().all(|w| have.iter().any(|h| h.starts_with(w.as_str())))
                }
                Value::String(s) => s.to_lowercase().starts_with(&text.to_lowercase()),
                _ => false,
            };
            match resolve(doc, &path) {
                Some(Value::Array(items)) => items.iter().any(one),
                Some(v) => one(v),
                None => false,
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Symbol,
}

fn class(c: char) -> Class {
    if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Symbol
    }
}

/// The lower-cased tokens of `s` (see the module docs); `joined`: also the words of each chunk that symbols
/// separate, joined together (for values, not for search texts).
pub(crate) fn tokens(s: &str, joined: bool) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in s.split_whitespace() {
        let mut words: Vec<String> = Vec::new();
        let mut symbols = false;
        let mut word = String::new();
        let mut prev: Option<char> = None;
        for c in chunk.chars() {
            let cut = match prev {
                None => false,
                Some(p) => class(p) != class(c) || class(c) == Class::Symbol || (p.is_lowercase() && c.is_uppercase()),
            };
            if cut && !word.is_empty() {
                push(&mut out, &mut words, &mut word);
            }
            if class(c) == Class::Symbol {
                symbols = true;
                out.push(c.to_lowercase().collect());
            } else {
                word.push(c);
            }
            prev = Some(c);
        }
        if !word.is_empty() {
            push(&mut out, &mut words, &mut word);
        }
        if joined && symbols && words.len() > 1 {
            out.push(words.concat());
        }
    }
    out
}

fn push(out: &mut Vec<String>, words: &mut Vec<String>, word: &mut String) {
    let w = word.to_lowercase();
    word.clear();
    words.push(w.clone());
    out.push(w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Search;
    use serde_json::json;

    fn t(s: &str) -> Vec<String> {
        tokens(s, true)
    }

    #[test]
    fn tokens_as_graph_documents_them() {
        assert_eq!(t("hello world"), ["hello", "world"]);
        assert_eq!(t("HelloWorld"), ["hello", "world"]);
        assert_eq!(t("helloWORLD"), ["hello", "world"]);
        assert_eq!(t("HELLOworld"), ["helloworld"]);
        assert_eq!(t("HelloWORld"), ["hello", "world"]);
        assert_eq!(t("hello.world"), ["hello", ".", "world", "helloworld"]);
        assert_eq!(t("hello123world"), ["hello", "123", "world"]);
        assert_eq!(t("hello@contoso.com"), ["hello", "@", "contoso", ".", "com", "hellocontosocom"]);
        assert_eq!(t("李四(David Li)"), ["李四", "(", "david", "李四david", "li", ")"]);
        assert_eq!(tokens("hello.world", false), ["hello", ".", "world"]);
        assert!(t("  ").is_empty());
    }

    fn m(search: &str, doc: &Value) -> bool {
        Search::parse(search).unwrap_or_else(|e| panic!("{search}: {e}")).matches(doc)
    }

    #[test]
    fn clauses_match_as_graph_documents() {
        let video =
            json!({"displayName": "OneVideo Team", "description": "Production videos", "mail": "OneVideo@contoso.com"});
        assert!(m("\"displayName:OneVideo\"", &video));
        assert!(m("\"displayName:video one\"", &video), "any order");
        assert!(m("\"displayName:vid\"", &video), "tokens match as prefixes");
        assert!(!m("\"displayName:ideo\"", &video), "not contains");
        assert!(m("\"DISPLAYNAME:team\"", &video), "property names ignore case");
        assert!(m("\"description:prod\"", &video));
        assert!(m("\"mail:onevideo\"", &video), "other properties: startswith");
        assert!(!m("\"mail:video\"", &video));
        assert!(m("\"displayName:Video\" OR \"description:nothing\"", &video));
        assert!(!m("\"displayName:Video\" AND \"description:nothing\"", &video));
        assert!(m("NOT \"displayName:Drive\"", &video));
        assert!(!m("\"missing:x\"", &video));
        assert!(!m("\"displayName:Video Drive\"", &video), "every token of the text");
        let li = json!({"displayName": "李四(David Li)"});
        for s in ["李四(David Li)", "李四", "David", "Li", "David)", "(李四", "Li 李"] {
            assert!(m(&format!("\"displayName:{s}\""), &li), "{s}");
        }
        assert!(m("\"displayName:helloworld\"", &json!({"displayName": "hello-world"})));
        assert!(m("\"proxyAddresses:smtp:a\"", &json!({"proxyAddresses": ["SMTP:a@b.c", "x"]})), "collections");
        assert!(!m("\"count:1\"", &json!({"count": 1})), "only strings");
    }
}
