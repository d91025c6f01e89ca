//! Tokenizer for `$filter` expressions (OData v4.01 ABNF, the subset we support).
//!
//! The lexer is pulled lazily by the parser, so the first problem in source order
//! is the one reported (e.g. `members/any(m:...)` reports the lambda, not the `:`).

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::QueryError;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Identifier, keyword or qualified name (may contain `.`); also `$it` / `@alias`
    /// so the parser can reject them by name.
    Word(String),
    /// Single-quoted string literal, `''` already unescaped.
    Str(String),
    Int(i64),
    Float(f64),
    DateTime(DateTime<FixedOffset>),
    Date(NaiveDate),
    /// Unquoted GUID literal.
    Guid(String),
    /// Enum literal `Namespace.EnumType'member'`.
    Enum(String),
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
}

impl Tok {
    /// How the token is shown in error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(s) => format!("string literal '{}'", s.replace('\'', "''")),
            Tok::Int(i) => format!("number {i}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::DateTime(d) => format!("DateTimeOffset literal {}", d.to_rfc3339()),
            Tok::Date(d) => format!("Date literal {d}"),
            Tok::Guid(g) => format!("GUID literal {g}"),
            Tok::Enum(v) => format!("enum literal '{v}'"),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Slash => "'/'".into(),
            Tok::Colon => "':'".into(),
        }
    }
}

/// A token and the (0-based, in characters) position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

pub(crate) struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

pub(crate) fn syntax_error(pos: usize, detail: impl std::fmt::Display) -> QueryError {
    QueryError::new(format!("Syntax error in $filter at position {pos}: {detail}."))
}

pub(crate) fn unsupported(pos: usize, what: impl std::fmt::Display) -> QueryError {
    QueryError::new(format!("{what} is not supported in $filter (at position {pos})."))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

impl Lexer {
    pub(crate) fn new(src: &str) -> Self {
        Lexer { chars: src.chars().collect(), pos: 0 }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    /// Number of consecutive chars from `i` satisfying `f`.
    fn run(&self, i: usize, f: impl Fn(char) -> bool) -> usize {
        self.chars[i.min(self.chars.len())..].iter().take_while(|c| f(**c)).count()
    }

    /// The next token, or `None` at the end of input.
    pub(crate) fn next_token(&mut self) -> Result<Option<Token>, QueryError> {
        self.pos += self.run(self.pos, char::is_whitespace);
        let start = self.pos;
        let Some(c) = self.at(start) else {
            return Ok(None);
        };
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '/' => Some(Tok::Slash),
            ':' => Some(Tok::Colon),
            _ => None,
        };
        let tok = if let Some(t) = single {
            self.pos += 1;
            t
        } else if c == '\'' {
            Tok::Str(self.string_literal()?)
        } else if let Some(g) = self.guid() {
            g
        } else if let Some(d) = self.date_or_datetime()? {
            d
        } else if c.is_ascii_digit() || (c == '-' && self.at(start + 1).is_some_and(|d| d.is_ascii_digit())) {
            self.number()?
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' || c == '@' {
            self.pos += 1;
            self.pos += self.run(self.pos, is_word_char);
            let word = self.text(start, self.pos);
            if self.at(self.pos) == Some('\'') {
                // Enum literal `Ns.Type'value'`, or some other typed literal.
                if word.contains('.') && !word.starts_with(['$', '@']) {
                    Tok::Enum(self.string_literal()?)
                } else {
                    return Err(unsupported(start, format!("The typed literal prefix '{word}' (as in {word}'...')")));
                }
            } else {
                Tok::Word(word)
            }
        } else {
            return Err(syntax_error(start, format!("unexpected character '{c}'")));
        };
        Ok(Some(Token { tok, pos: start }))
    }

    /// `'...'` with `''` as the escaped quote. `self.pos` is at the opening quote.
    fn string_literal(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        let mut out = String::new();
        let mut i = self.pos + 1;
        loop {
            match self.at(i) {
                None => return Err(syntax_error(start, "unterminated string literal")),
                Some('\'') if self.at(i + 1) == Some('\'') => {
                    out.push('\'');
                    i += 2;
                }
                Some('\'') => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// An unquoted GUID `8-4-4-4-12` hex digits not followed by a word char.
    fn guid(&mut self) -> Option<Tok> {
        let mut i = self.pos;
        for (n, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
            if n > 0 {
                if self.at(i) != Some('-') {
                    return None;
                }
                i += 1;
            }
            if self.run(i, |c| c.is_ascii_hexdigit()) < len {
                return None;
            }
            i += len;
        }
        if self.at(i).is_some_and(is_word_char) || self.at(i) == Some('-') {
            return None;
        }
        let text = self.text(self.pos, i);
        self.pos = i;
        Some(Tok::Guid(text))
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DDThh:mm[:ss[.fff]](Z|±hh:mm)`.
    fn date_or_datetime(&mut self) -> Result<Option<Tok>, QueryError> {
        let s = self.pos;
        let digits = |i: usize, n: usize| (i..i + n).all(|k| self.at(k).is_some_and(|c| c.is_ascii_digit()));
        if !(digits(s, 4)
            && self.at(s + 4) == Some('-')
            && digits(s + 5, 2)
            && self.at(s + 7) == Some('-')
            && digits(s + 8, 2))
        {
            return Ok(None);
        }
        let mut end = s + 10;
        let is_datetime = matches!(self.at(end), Some('T' | 't'));
        if is_datetime {
            end += 1;
            end += self.run(end, |c| c.is_ascii_digit() || c == ':' || c == '.');
            match self.at(end) {
                Some('Z' | 'z') => end += 1,
                Some('+' | '-') => {
                    end += 1;
                    end += self.run(end, |c| c.is_ascii_digit() || c == ':');
                }
                _ => {}
            }
        }
        if self.at(end).is_some_and(is_word_char) {
            return Err(syntax_error(s, format!("invalid date/time literal '{}'", self.text(s, end + 1))));
        }
        let text = self.text(s, end);
        self.pos = end;
        if is_datetime {
            parse_datetime(&text).map(|d| Some(Tok::DateTime(d))).ok_or_else(|| {
                syntax_error(
                    s,
                    format!(
                        "invalid DateTimeOffset literal '{text}' (expected e.g. 2024-03-05T02:12:29Z; \
                         send '+' in offsets as %2B)"
                    ),
                )
            })
        } else {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(|d| Some(Tok::Date(d)))
                .map_err(|_| syntax_error(s, format!("invalid Date literal '{text}'")))
        }
    }

    fn number(&mut self) -> Result<Tok, QueryError> {
        let s = self.pos;
        let mut i = s;
        if self.at(i) == Some('-') {
            i += 1;
        }
        i += self.run(i, |c| c.is_ascii_digit());
        let mut float = false;
        if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            i += 1;
            i += self.run(i, |c| c.is_ascii_digit());
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            let n = self.run(j, |c| c.is_ascii_digit());
            if n > 0 {
                float = true;
                i = j + n;
            }
        }
        if self.at(i).is_some_and(is_word_char) {
            let end = i + self.run(i, is_word_char);
            return Err(syntax_error(s, format!("invalid numeric literal '{}'", self.text(s, end))));
        }
        let text = self.text(s, i);
        self.pos = i;
        if !float {
            if let Ok(v) = text.parse::<i64>() {
                return Ok(Tok::Int(v));
            }
        }
        // Finite only: `1e999` would read as infinity, which no literal can spell back.
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
            Ok(_) => Err(syntax_error(s, format!("the numeric literal '{text}' is out of range"))),
            Err(_) => Err(syntax_error(s, format!("invalid numeric literal '{text}'"))),
        }
    }
}

/// Parses an ISO-8601 / RFC 3339 date-time with offset; seconds are optional (OData allows `hh:mm`).
pub(crate) fn parse_datetime(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d);
    }
    // `2024-03-05T02:12Z` / `2024-03-05T02:12+01:00`: insert the missing seconds.
    let t = text.find(['T', 't'])?;
    let time = &text[t + 1..];
    let zone_at = time.find(['Z', 'z', '+', '-'])?;
    if time[..zone_at].len() == 5 {
        let fixed = format!("{}:00{}", &text[..t + 6], &time[zone_at..]);
        return DateTime::parse_from_rfc3339(&fixed).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut l = Lexer::new(s);
        let mut v = Vec::new();
        while let Some(t) = l.next_token().unwrap() {
            v.push(t.tok);
        }
        v
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("'it''s' 42 -7 1.5 2e3"),
            vec![Tok::Str("it's".into()), Tok::Int(42), Tok::Int(-7), Tok::Float(1.5), Tok::Float(2000.0)]
        );
        assert_eq!(
            toks("ab12cdef-0000-4000-8000-0123456789ab 01234567-89ab-cdef-0123-456789abcdef"),
            vec![
                Tok::Guid("ab12cdef-0000-4000-8000-0123456789ab".into()),
                Tok::Guid("01234567-89ab-cdef-0123-456789abcdef".into())
            ]
        );
        assert_eq!(toks("2022-09-01"), vec![Tok::Date(NaiveDate::from_ymd_opt(2022, 9, 1).unwrap())]);
        assert!(matches!(toks("2024-03-05T02:12:29Z")[0], Tok::DateTime(_)));
        assert!(matches!(toks("2024-03-05T02:12:29.123-05:00")[0], Tok::DateTime(_)));
        assert!(matches!(toks("2024-03-05T02:12Z")[0], Tok::DateTime(_)));
        assert_eq!(toks("microsoft.graph.industryData.readinessStatus'notReady'"), vec![Tok::Enum("notReady".into())]);
        assert_eq!(
            toks("a/b(,):"),
            vec![
                Tok::Word("a".into()),
                Tok::Slash,
                Tok::Word("b".into()),
                Tok::LParen,
                Tok::Comma,
                Tok::RParen,
                Tok::Colon
            ]
        );
    }

    #[test]
    fn lex_errors() {
        let err = |s: &str| {
            let mut l = Lexer::new(s);
            loop {
                match l.next_token() {
                    Err(e) => return e.message,
                    Ok(None) => panic!("no error for {s}"),
                    Ok(Some(_)) => {}
                }
            }
        };
        assert_eq!(err("a eq 'x"), "Syntax error in $filter at position 5: unterminated string literal.");
        assert!(err("a eq 2024-13-01").contains("invalid Date literal '2024-13-01'"));
        assert!(err("a eq 2024-03-05T02:12:29").contains("invalid DateTimeOffset literal"));
        assert!(err("a eq 12abc").contains("invalid numeric literal '12abc'"));
        assert!(err("a eq duration'P1D'").contains("typed literal prefix 'duration'"));
        assert!(err("a eq [1]").contains("unexpected character '['"));
        // Regression (round-trip property): an overflowing literal was read as infinity, which prints as `inf`.
        assert!(err("a eq 1e999").contains("numeric literal '1e999' is out of range"));
        assert!(err("a eq -1e999").contains("out of range"));
    }
}
