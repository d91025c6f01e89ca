//! One file, row by row: its header, then each row's records (`formats::Emit`), each field checked by its
//! type (`schema::Ty`) and stored compactly in the [`Roster`](crate::roster::Roster).

use std::borrow::Cow;
use std::io::Read;

use rosterflow_model::reference::CodeProblem;
use rustc_hash::FxHashMap;

use super::read::{parse, Item, BATCH, RECYCLE_MAX};
use super::values::{self, Problem};
use super::{Progress, Validator};
use crate::finding::{quote, Code, Finding, Severity};
use crate::formats::{Emit, FileSpec, Src};
use crate::roster::IdIndex;
use crate::schema::{user, FieldDef, Kind, Ty, Vocab};

/// Most distinct raw values remembered per code field (hostile input can't grow the cache without bound).
const CODE_CACHE: usize = 4096;
/// Widest kind (users).
const WIDTH: usize = 11;

/// Raw value → code index, or why it is none.
type CodeCache = FxHashMap<Box<str>, Result<u32, Code>>;

/// Per-validation state of the record layer.
#[derive(Default)]
pub(crate) struct State {
    /// Per (kind, field).
    codes: FxHashMap<(u8, u8), CodeCache>,
    /// Lower-cased usernames.
    usernames: IdIndex,
    /// The last reference resolved per (kind, field): rows of one class follow each other in most exports.
    last_ref: FxHashMap<(u8, u8), (String, u32)>,
    username_buf: String,
}

/// A reference to the kind being read (an org's parent), resolved once the file has been read.
struct Deferred {
    kind: Kind,
    row: u32,
    field: usize,
    value: String,
    line: u64,
    column: &'static str,
}

/// Where an emit's field comes from, resolved against the file's header.
#[derive(Clone, Copy)]
enum Plan {
    Col(Option<usize>, &'static str),
    Const(&'static str),
    Each(&'static str),
    Map(Option<usize>, &'static str, fn(&str) -> Option<String>),
}

struct EmitPlan<'s> {
    emit: &'s Emit,
    fields: Vec<(usize, Plan)>,
    each: Option<(Option<usize>, &'static str)>,
    when: Option<Option<usize>>,
}

/// The value a field got from a row, before checks.
enum Raw<'a> {
    Absent,
    Skip,
    Value(Cow<'a, str>, &'static str),
}

fn field_str(rec: &csv::StringRecord, i: usize) -> &str {
    rec.get(i).unwrap_or_default()
}

impl Validator<'_> {
    /// Read a file: a thread of its own parses it (the `csv` crate, the guard, UTF-8 and NUL checks) and
    /// hands rows over in batches, while this thread validates them.
    pub(super) fn read_csv(
        &mut self,
        input: Box<dyn Read + Send + '_>,
        spec: &FileSpec,
        progress: &dyn Progress,
    ) -> u64 {
        let limits = self.opts.limits;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(8);
        let (recycle_tx, recycle_rx) = std::sync::mpsc::channel::<Vec<csv::StringRecord>>();
        std::thread::scope(|scope| {
            scope.spawn(move || parse(input, limits, tx, recycle_rx));
            self.consume(rx, recycle_tx, spec, progress)
        })
    }

    fn consume(
        &mut self,
        rx: std::sync::mpsc::Receiver<Vec<Item>>,
        recycle: std::sync::mpsc::Sender<Vec<csv::StringRecord>>,
        spec: &FileSpec,
        progress: &dyn Progress,
    ) -> u64 {
        let mut items = rx.iter().flatten();
        let header = match items.next() {
            None => {
                let message = format!("{} is empty: it has no header row", spec.name);
                self.refuse(spec, Code::EmptyFile, 0, None, None, message);
                return 0;
            }
            Some(Item::Failed { malformed, message, .. }) => {
                let code = if malformed { Code::MalformedCsv } else { Code::FileUnreadable };
                self.refuse(spec, code, 1, None, None, message);
                return 0;
            }
            Some(Item::Row { rec, .. }) => rec.into_byte_record(),
            Some(Item::Nul { rec, .. } | Item::BadUtf8 { rec, .. }) => rec,
        };
        let Some((columns, min_len)) = self.header(spec, &header) else { return 0 };
        let plans: Vec<EmitPlan> = spec.emits.iter().map(|e| plan(e, &columns)).collect();
        let status = spec.status.and_then(|s| columns.get(s).copied());
        let (max_len, mut rows, mut deferred) = (header.len(), 0u64, Vec::new());
        let column_name = |ix: usize| columns.iter().find(|(_, &c)| c == ix).map(|(n, _)| n.to_string());
        let mut done = Vec::with_capacity(BATCH);
        for item in items {
            rows += 1;
            match item {
                Item::Row { line, byte, rec } => {
                    if rows % super::PROGRESS_EVERY == 0 {
                        progress.advanced(spec.name, rows, byte);
                    }
                    self.row(spec, &plans, &rec, line, (min_len, max_len), status, &mut deferred);
                    if rec.as_byte_record().as_slice().len() <= RECYCLE_MAX {
                        done.push(rec);
                    }
                    if done.len() == BATCH {
                        let _ = recycle.send(std::mem::replace(&mut done, Vec::with_capacity(BATCH)));
                    }
                }
                Item::Nul { line, rec, offset } => {
                    let column = column_of(&rec, offset).and_then(column_name);
                    let message = format!("line {line}: a NUL character; the file was refused");
                    self.refuse(spec, Code::EmbeddedNullCharacter, line, column, None, message);
                }
                Item::BadUtf8 { line, rec, field } => {
                    let value = quote(rec.get(field).unwrap_or_default());
                    let message = format!("line {line}: bytes that are not UTF-8 ({value}); the file was refused");
                    self.refuse(spec, Code::InvalidEncoding, line, column_name(field), Some(value), message);
                }
                Item::Failed { line, malformed, message } => {
                    rows -= 1;
                    let code = if malformed { Code::MalformedCsv } else { Code::FileUnreadable };
                    self.refuse(spec, code, line, None, None, message);
                }
            }
        }
        self.resolve_deferred(spec, deferred);
        rows
    }

    /// One data row, known to be UTF-8 without NULs.
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        spec: &FileSpec,
        plans: &[EmitPlan],
        rec: &csv::StringRecord,
        line: u64,
        (min_len, max_len): (usize, usize),
        status: Option<usize>,
        deferred: &mut Vec<Deferred>,
    ) {
        {
            if rec.len() < min_len || rec.len() > max_len {
                let message =
                    format!("line {line}: {} fields where the header has {max_len}; the record was dropped", rec.len());
                self.finding(Severity::Error, Code::FieldCountMismatch, spec.name, line, None, None, message);
                return;
            }
            if let Some(s) = status {
                let st = field_str(rec, s).trim();
                if st.eq_ignore_ascii_case("tobedeleted") || st.eq_ignore_ascii_case("inactive") {
                    let message = format!("line {line}: status '{st}'; the record was skipped");
                    self.finding(
                        Severity::Warning,
                        Code::RecordNotActive,
                        spec.name,
                        line,
                        Some("status"),
                        Some(st),
                        message,
                    );
                    return;
                }
            }
            for p in plans {
                self.emit(spec, p, rec, line, deferred);
            }
        }
    }

    /// Check the header row; the column of each known header, and the fewest fields a row may have (trailing
    /// columns with empty headers may be left out). `None`: the file was refused.
    fn header(&mut self, spec: &FileSpec, rec: &csv::ByteRecord) -> Option<(FxHashMap<&'static str, usize>, usize)> {
        if memchr::memchr(0, rec.as_slice()).is_some() {
            self.refuse(
                spec,
                Code::EmbeddedNullCharacter,
                1,
                None,
                None,
                "the header row holds a NUL character".into(),
            );
            return None;
        }
        let Ok(names) = (0..rec.len()).map(|i| std::str::from_utf8(&rec[i])).collect::<Result<Vec<_>, _>>() else {
            self.refuse(spec, Code::InvalidEncoding, 1, None, None, "the header row is not UTF-8".into());
            return None;
        };
        let min_len = names.iter().rposition(|n| !n.is_empty()).map_or(0, |i| i + 1);
        let mut columns: FxHashMap<&'static str, usize> = FxHashMap::default();
        let mut ok = true;
        for (i, &name) in names.iter().enumerate() {
            let canonical = spec.aliases.iter().find(|(a, _)| *a == name).map_or(name, |(_, c)| c);
            let known = spec.required_headers.iter().chain(&spec.optional_headers).find(|h| **h == canonical);
            match known {
                Some(&h) => {
                    if columns.insert(h, i).is_some() {
                        ok = false;
                        let message = format!("header '{name}' appears more than once");
                        self.refuse(spec, Code::DuplicateHeader, 1, Some(name.to_string()), None, message);
                    }
                }
                None => {
                    let hint = spec
                        .required_headers
                        .iter()
                        .chain(&spec.optional_headers)
                        .find(|h| h.eq_ignore_ascii_case(name))
                        .map(|h| format!(" (headers are case-sensitive: '{h}'?)"))
                        .unwrap_or_default();
                    let what = if name.is_empty() {
                        format!("column {} has an empty header", i + 1)
                    } else {
                        format!("'{}' is not a header of {}{hint}", quote(name.as_bytes()), spec.name)
                    };
                    let message = format!("{what}; the column was ignored");
                    self.finding(Severity::Warning, Code::UnknownHeader, spec.name, 1, Some(name), None, message);
                }
            }
        }
        for &h in &spec.required_headers {
            if !columns.contains_key(h) {
                ok = false;
                let message =
                    format!("the required header '{h}' is missing (headers are case-sensitive); the file was refused");
                self.refuse(spec, Code::RequiredHeaderNotFound, 1, Some(h.to_string()), None, message);
            }
        }
        ok.then_some((columns, min_len))
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &mut self,
        severity: Severity,
        code: Code,
        file: &'static str,
        line: u64,
        column: Option<&str>,
        value: Option<&str>,
        message: String,
    ) {
        self.report.add(severity, code, file, || Finding {
            code,
            severity,
            file: file.to_string(),
            line,
            column: column.map(str::to_string),
            value: value.map(|v| quote(v.as_bytes())),
            message,
        });
    }

    fn emit(
        &mut self,
        spec: &FileSpec,
        p: &EmitPlan,
        rec: &csv::StringRecord,
        line: u64,
        deferred: &mut Vec<Deferred>,
    ) {
        if let Some(when) = p.when {
            if when.is_none_or(|i| field_str(rec, i).trim().is_empty()) {
                return;
            }
        }
        match p.each {
            None => self.record(spec, p, rec, line, None, deferred),
            Some((col, name)) => {
                let list = col.map_or("", |i| field_str(rec, i));
                let mut any = false;
                for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    any = true;
                    self.record(spec, p, rec, line, Some(item), deferred);
                }
                if !any {
                    let message =
                        format!("line {line}, column {name}: no value; no {} record was made", p.emit.kind.name());
                    self.finding(
                        Severity::Error,
                        Code::RequiredValueMissing,
                        spec.name,
                        line,
                        Some(name),
                        None,
                        message,
                    );
                }
            }
        }
    }

    fn raw<'a>(&self, plan: Plan, rec: &'a csv::StringRecord, item: Option<&'a str>, def: &FieldDef) -> Raw<'a> {
        let trim = |s: &'a str| if def.ty == Ty::Text { s } else { s.trim() };
        match plan {
            Plan::Col(None, _) | Plan::Map(None, ..) => Raw::Absent,
            Plan::Col(Some(i), name) => Raw::Value(Cow::Borrowed(trim(field_str(rec, i))), name),
            Plan::Const(v) => Raw::Value(Cow::Borrowed(v), def.name),
            Plan::Each(name) => Raw::Value(Cow::Borrowed(item.unwrap_or_default()), name),
            Plan::Map(Some(i), name, f) => {
                let s = trim(field_str(rec, i));
                if s.is_empty() {
                    return Raw::Value(Cow::Borrowed(""), name);
                }
                match f(s) {
                    Some(v) => Raw::Value(Cow::Owned(v), name),
                    None => Raw::Skip,
                }
            }
        }
    }

    /// Check and store one record; an error drops it, a warning drops the value.
    fn record(
        &mut self,
        spec: &FileSpec,
        p: &EmitPlan,
        rec: &csv::StringRecord,
        line: u64,
        item: Option<&str>,
        deferred: &mut Vec<Deferred>,
    ) {
        let kind = p.emit.kind;
        let defs = kind.fields();
        let mut vals = [0u32; WIDTH];
        let mut texts: Vec<(usize, Cow<str>)> = Vec::new();
        let mut lists: Vec<(usize, Vec<u32>)> = Vec::new();
        let mut id: &str = "";
        let mut self_refs: Vec<(usize, String, &'static str)> = Vec::new();
        // Values are checked for control characters one by one only when the row has any (a tab, at least):
        // one branch-free pass over the row is cheaper than a check per value.
        let controls = rec.as_byte_record().as_slice().iter().fold(false, |any, &b| any | (b < 0x20));
        for &(fi, plan) in &p.fields {
            let def = &defs[fi];
            let (value, column) = match self.raw(plan, rec, item, def) {
                Raw::Skip => return,
                Raw::Absent => (Cow::Borrowed(""), def.name),
                Raw::Value(v, c) => (v, c),
            };
            let drop = |v: &mut Self, code: Code, what: String| {
                let (severity, consequence) = if def.required {
                    (Severity::Error, "the record was dropped")
                } else {
                    (Severity::Warning, "the value was dropped")
                };
                let message =
                    format!("line {line}, column {column}: '{}' {what}; {consequence}", quote(value.as_bytes()));
                v.finding(severity, code, spec.name, line, Some(column), Some(&value), message);
                def.required
            };
            if value.is_empty() {
                if def.required {
                    let message =
                        format!("line {line}, column {column}: a required value is missing; the record was dropped");
                    self.finding(
                        Severity::Error,
                        Code::RequiredValueMissing,
                        spec.name,
                        line,
                        Some(column),
                        None,
                        message,
                    );
                    return;
                }
                continue;
            }
            if let Some((code, what)) = controls.then(|| values::control(&value)).flatten() {
                if drop(self, code, what) {
                    return;
                }
                continue;
            }
            let checked: Result<(), Problem> = match def.ty {
                Ty::Id => {
                    id = match &value {
                        Cow::Borrowed(s) => s,
                        Cow::Owned(_) => "", // ids never come from conversions
                    };
                    vals[fi] = 1;
                    Ok(())
                }
                Ty::Ref(target) if target == kind => {
                    self_refs.push((fi, value.to_string(), column));
                    Ok(())
                }
                Ty::Ref(target) => match self.find_ref(kind, fi, target, &value) {
                    Some(row) => {
                        vals[fi] = row + 1;
                        Ok(())
                    }
                    None if self.incomplete[target as usize] => Ok(()),
                    None => Err((Code::ReferenceNotFound, format!("names no record of {}", target.name()))),
                },
                Ty::Refs(target) => {
                    let mut rows = Vec::new();
                    for part in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match self.roster.table(target).ids.find(part.as_bytes()) {
                            Some(r) => rows.push(r),
                            None if self.incomplete[target as usize] => {}
                            None => {
                                let message = format!(
                                    "line {line}, column {column}: '{}' names no record of {}; the value was dropped",
                                    quote(part.as_bytes()),
                                    target.name()
                                );
                                self.finding(
                                    Severity::Warning,
                                    Code::ReferenceNotFound,
                                    spec.name,
                                    line,
                                    Some(column),
                                    Some(part),
                                    message,
                                );
                            }
                        }
                    }
                    lists.push((fi, rows));
                    Ok(())
                }
                Ty::Code(vocab) => match self.code(kind, fi, vocab, &value) {
                    Ok(c) => {
                        vals[fi] = c + 1;
                        Ok(())
                    }
                    Err(code) => Err((code, vocab_what(vocab, code))),
                },
                Ty::Codes(vocab) => {
                    let mut codes = Vec::new();
                    for part in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match self.code(kind, fi, vocab, part) {
                            Ok(c) => codes.push(c),
                            Err(code) => {
                                let message = format!(
                                    "line {line}, column {column}: '{}' {}; the value was dropped",
                                    quote(part.as_bytes()),
                                    vocab_what(vocab, code)
                                );
                                self.finding(
                                    Severity::Warning,
                                    code,
                                    spec.name,
                                    line,
                                    Some(column),
                                    Some(part),
                                    message,
                                );
                            }
                        }
                    }
                    lists.push((fi, codes));
                    Ok(())
                }
                Ty::Text => {
                    texts.push((fi, value.clone()));
                    Ok(())
                }
                Ty::Email if values::is_email(&value) => {
                    let keep = self.roster.keeps_records();
                    texts.push((fi, if keep { Cow::Owned(value.to_lowercase()) } else { value.clone() }));
                    Ok(())
                }
                Ty::Email => Err((Code::InvalidEmail, "is not a valid email address".into())),
                Ty::Date if values::is_iso_date(&value) => {
                    texts.push((fi, value.clone()));
                    Ok(())
                }
                Ty::Date => Err((Code::InvalidDate, "is not an ISO 8601 date (YYYY-MM-DD)".into())),
                Ty::Phone if values::is_e164(&value) => {
                    texts.push((fi, value.clone()));
                    Ok(())
                }
                Ty::Phone => Err((Code::InvalidPhoneNumber, "is not an E.164 phone number (+1234567890)".into())),
                Ty::Bool => match values::boolean(&value) {
                    Some(b) => {
                        texts.push((fi, Cow::Borrowed(b)));
                        Ok(())
                    }
                    None => Err((Code::InvalidBoolean, "is not true or false".into())),
                },
                Ty::Year if values::is_year(&value) => {
                    texts.push((fi, value.clone()));
                    Ok(())
                }
                Ty::Year => Err((Code::InvalidYear, "is not a four-digit year".into())),
            };
            if let Err((code, what)) = checked {
                if drop(self, code, what) {
                    return;
                }
            }
        }
        // Uniqueness, then the record is in.
        let table = self.roster.table_mut(kind);
        if kind.has_id() {
            if let Err(first) = table.ids.insert(id.as_bytes()) {
                if !p.emit.repeated {
                    let message = format!(
                        "line {line}: id '{}' was already used (record {}); the record was dropped",
                        quote(id.as_bytes()),
                        first + 1
                    );
                    self.finding(
                        Severity::Error,
                        Code::DuplicateId,
                        spec.name,
                        line,
                        Some(defs[0].name),
                        Some(id),
                        message,
                    );
                }
                return;
            }
        } else {
            let key = kind.key();
            let k = [vals[key[0]], key.get(1).map_or(0, |&f| vals[f]), key.get(2).map_or(0, |&f| vals[f])];
            // A key holding an unresolved reference to an incomplete kind can't be judged: keep the record out.
            if k.iter().take(key.len()).any(|&v| v == 0) {
                return;
            }
            if !table.keys.insert(k) {
                if !p.emit.repeated {
                    let message = format!(
                        "line {line}: the same {} as an earlier record; the record was dropped",
                        key_names(kind)
                    );
                    self.finding(Severity::Error, Code::DuplicateRecord, spec.name, line, None, None, message);
                }
                return;
            }
        }
        for (fi, t) in texts {
            vals[fi] = self.roster.text(&t);
        }
        for (fi, l) in lists {
            vals[fi] = self.roster.list_of(&l);
        }
        if kind == Kind::User {
            self.check_username(spec, line, p, rec);
        }
        let row = self.roster.push(kind, &vals[..defs.len()]);
        for (field, value, column) in self_refs {
            deferred.push(Deferred { kind, row, field, value, line, column });
        }
    }

    /// The row `id` names in `target`, remembering the last answer per field.
    fn find_ref(&mut self, kind: Kind, field: usize, target: Kind, id: &str) -> Option<u32> {
        let slot = (kind as u8, field as u8);
        if let Some((last, row)) = self.record.last_ref.get(&slot) {
            if last == id {
                return Some(*row);
            }
        }
        let row = self.roster.table(target).ids.find(id.as_bytes())?;
        let entry = self.record.last_ref.entry(slot).or_default();
        entry.0.clear();
        entry.0.push_str(id);
        entry.1 = row;
        Some(row)
    }

    fn check_username(&mut self, spec: &FileSpec, line: u64, p: &EmitPlan, rec: &csv::StringRecord) {
        let Some(&(_, Plan::Col(Some(i), column))) = p.fields.iter().find(|(f, _)| *f == user::USERNAME) else {
            return;
        };
        let name = field_str(rec, i).trim();
        let st = &mut self.record;
        st.username_buf.clear();
        if name.is_ascii() {
            st.username_buf.push_str(name);
            st.username_buf.make_ascii_lowercase();
        } else {
            st.username_buf.extend(name.chars().flat_map(char::to_lowercase));
        }
        if st.usernames.insert(st.username_buf.as_bytes()).is_err() {
            let message = format!(
                "line {line}, column {column}: username '{}' is shared with an earlier user",
                quote(name.as_bytes())
            );
            self.finding(
                Severity::Warning,
                Code::DuplicateUsername,
                spec.name,
                line,
                Some(column),
                Some(name),
                message,
            );
        }
    }

    fn resolve_deferred(&mut self, spec: &FileSpec, deferred: Vec<Deferred>) {
        for d in deferred {
            let Ty::Ref(target) = d.kind.fields()[d.field].ty else { continue };
            match self.roster.table(target).ids.find(d.value.as_bytes()) {
                Some(row) => self.roster.set(d.kind, d.row, d.field, row + 1),
                None => {
                    let message = format!(
                        "line {}, column {}: '{}' names no record of {}; the value was dropped",
                        d.line,
                        d.column,
                        quote(d.value.as_bytes()),
                        target.name()
                    );
                    self.finding(
                        Severity::Warning,
                        Code::ReferenceNotFound,
                        spec.name,
                        d.line,
                        Some(d.column),
                        Some(&d.value),
                        message,
                    );
                }
            }
        }
    }

    /// A code's index in the roster's code table, cached per field and raw value.
    fn code(&mut self, kind: Kind, field: usize, vocab: Vocab, raw: &str) -> Result<u32, Code> {
        let cache = self.record.codes.entry((kind as u8, field as u8)).or_default();
        if let Some(r) = cache.get(raw) {
            return *r;
        }
        let resolved = match vocab {
            Vocab::Catalog(ty) => {
                let mut r = self.opts.catalog.resolve(ty, raw);
                // Grade levels are padded: `1` is `01` (sds-semantics §2).
                if r == Err(CodeProblem::Unknown) && raw.len() == 1 && raw.as_bytes()[0].is_ascii_digit() {
                    r = self.opts.catalog.resolve(ty, &format!("0{raw}"));
                }
                match r {
                    Ok(c) => Ok(c),
                    Err(CodeProblem::Unknown) => Err(Code::InvalidReferenceCode),
                    Err(CodeProblem::Disabled) => Err(Code::DisabledReferenceCode),
                }
            }
            Vocab::Fixed(list) => list
                .iter()
                .find(|c| c.eq_ignore_ascii_case(raw))
                .map(|c| c.to_string())
                .ok_or(Code::InvalidReferenceCode),
        };
        let r = resolved.map(|c| self.roster.codes.intern(c.as_bytes()));
        let cache = self.record.codes.entry((kind as u8, field as u8)).or_default();
        if cache.len() < CODE_CACHE {
            cache.insert(raw.into(), r);
        }
        r
    }
}

fn vocab_what(vocab: Vocab, code: Code) -> String {
    let of = match vocab {
        Vocab::Catalog(ty) => format!("the tenant's {ty} codes"),
        Vocab::Fixed(list) => list.join(", "),
    };
    match code {
        Code::DisabledReferenceCode => format!("is disabled among {of}"),
        _ => format!("is not one of {of}"),
    }
}

fn key_names(kind: Kind) -> String {
    kind.key().iter().map(|&f| kind.fields()[f].name).collect::<Vec<_>>().join(" + ")
}

/// The field holding byte `offset` of a record's concatenated fields.
fn column_of(rec: &csv::ByteRecord, offset: usize) -> Option<usize> {
    let mut end = 0;
    for (i, f) in rec.iter().enumerate() {
        end += f.len();
        if offset < end {
            return Some(i);
        }
    }
    None
}

fn plan<'s>(emit: &'s Emit, columns: &FxHashMap<&'static str, usize>) -> EmitPlan<'s> {
    let col = |c: &'static str| columns.get(c).copied();
    let fields = emit
        .fields
        .iter()
        .map(|&(f, src)| {
            let p = match src {
                Src::Col(c) => Plan::Col(col(c), c),
                Src::Const(v) => Plan::Const(v),
                Src::Each => Plan::Each(emit.each.unwrap_or_default()),
                Src::Map(c, m) => Plan::Map(col(c), c, m),
            };
            (f, p)
        })
        .collect();
    EmitPlan { emit, fields, each: emit.each.map(|c| (col(c), c)), when: emit.when.map(col) }
}
