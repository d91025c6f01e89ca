//! A validated roster in memory: the records of every [`Kind`] in the normalized model, stored compactly.
//!
//! Each record is a row of `u32` values, one per field of its kind (`schema.rs`), 0 meaning "no value":
//! - an id or a reference is a row number (+1) of the referenced kind, so an enrollment is 12 bytes and
//!   following a foreign key is an index, not a lookup;
//! - a text (names, emails lower-cased, dates, phones, booleans lower-cased) is an index (+1) into one text
//!   arena: one allocation for all of them;
//! - a code is an index (+1) into the roster's code table, which holds each canonical code once;
//! - a list (`sessionSourcedIds`, `raceCodes`) is an index (+1) into a list arena of row numbers or code
//!   indexes.
//!
//! Ids are interned per kind ([`IdIndex`]): the id → row index is the same structure the validator's foreign-key
//! checks use, so a roster built for a snapshot costs no second index. Validation without a snapshot (`rosterflow
//! validate`) keeps only the indexes (`keep_records: false`), so memory follows the number of ids, not the file.

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;

use crate::schema::{Kind, Ty};

/// Interned byte strings with dense indexes: the ids of one kind, or the canonical codes of a roster.
#[derive(Default, Clone)]
pub struct IdIndex {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    table: HashTable<u32>,
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdIndex({} ids)", self.ends.len())
    }
}

fn hash(b: &[u8]) -> u64 {
    FxBuildHasher.hash_one(b)
}

impl IdIndex {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// `get` as text: every id was checked UTF-8 before it was interned.
    pub fn str(&self, i: u32) -> &str {
        std::str::from_utf8(self.get(i)).unwrap_or_default()
    }

    pub fn find(&self, id: &[u8]) -> Option<u32> {
        self.table.find(hash(id), |&i| self.get(i) == id).copied()
    }

    /// The new index, or `Err(existing)` when the id is already there.
    pub fn insert(&mut self, id: &[u8]) -> Result<u32, u32> {
        let h = hash(id);
        if let Some(&i) = self.table.find(h, |&i| self.get(i) == id) {
            return Err(i);
        }
        let i = self.ends.len() as u32;
        self.bytes.extend_from_slice(id);
        self.ends.push(self.bytes.len());
        let (bytes, ends) = (&self.bytes, &self.ends);
        self.table.insert_unique(h, i, |&j| {
            let j = j as usize;
            hash(&bytes[if j == 0 { 0 } else { ends[j - 1] }..ends[j]])
        });
        Ok(i)
    }

    /// The index of `id`, interning it if new.
    pub fn intern(&mut self, id: &[u8]) -> u32 {
        self.insert(id).unwrap_or_else(|i| i)
    }

    /// Bytes held (ids and their index), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 8 + self.table.capacity() * 5
    }
}

pub(crate) use crate::keys::Keys;

/// Strings appended one after another.
#[derive(Debug, Default, Clone)]
struct Arena {
    bytes: String,
    ends: Vec<usize>,
}

impl Arena {
    fn push(&mut self, s: &str) -> u32 {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        self.ends.len() as u32
    }

    /// `i` is 1-based.
    fn get(&self, i: u32) -> &str {
        let i = i as usize - 1;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// The records of one kind.
#[derive(Debug, Clone)]
pub struct Table {
    pub kind: Kind,
    width: usize,
    vals: Vec<u32>,
    rows: usize,
    /// Kinds with an id of their own: id → row.
    pub(crate) ids: IdIndex,
    /// Other kinds: their natural keys, for uniqueness ([`Keys`]).
    pub(crate) keys: Keys,
}

impl Table {
    fn new(kind: Kind) -> Table {
        Table {
            kind,
            width: kind.fields().len(),
            vals: Vec::new(),
            rows: 0,
            ids: IdIndex::default(),
            keys: Keys::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn row(&self, row: u32) -> &[u32] {
        let start = row as usize * self.width;
        &self.vals[start..start + self.width]
    }
}

/// A value of a record's field, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val<'a> {
    None,
    /// Ids, texts, emails, dates, phones, booleans, years, codes: as stored.
    Str(&'a str),
    /// A reference: the row of the referenced kind.
    Row(Kind, u32),
    /// A list of references (rows of one kind) or of codes (code indexes; see [`Roster::code`]).
    Rows(Kind, &'a [u32]),
    Codes(&'a [u32]),
}

/// A validated roster (see the module docs).
#[derive(Debug, Clone)]
pub struct Roster {
    tables: Vec<Table>,
    texts: Arena,
    lists: Vec<u32>,
    list_ends: Vec<usize>,
    pub(crate) codes: IdIndex,
    keep_records: bool,
}

impl Default for Roster {
    fn default() -> Self {
        Roster::new(true)
    }
}

impl Roster {
    /// An empty roster; without `keep_records` only ids and keys are kept (validation without a snapshot).
    pub fn new(keep_records: bool) -> Roster {
        Roster {
            tables: Kind::ALL.iter().map(|&k| Table::new(k)).collect(),
            texts: Arena::default(),
            lists: Vec::new(),
            list_ends: Vec::new(),
            codes: IdIndex::default(),
            keep_records,
        }
    }

    pub fn keeps_records(&self) -> bool {
        self.keep_records
    }

    pub fn table(&self, kind: Kind) -> &Table {
        &self.tables[kind as usize]
    }

    pub(crate) fn table_mut(&mut self, kind: Kind) -> &mut Table {
        &mut self.tables[kind as usize]
    }

    pub fn len(&self, kind: Kind) -> usize {
        self.table(kind).rows
    }

    /// Every kind empty.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(Table::is_empty)
    }

    /// The row of the record of `kind` with this `sourcedId`.
    pub fn find(&self, kind: Kind, id: &str) -> Option<u32> {
        self.table(kind).ids.find(id.as_bytes())
    }

    /// The `sourcedId` of a record of a kind with ids.
    pub fn id(&self, kind: Kind, row: u32) -> &str {
        self.table(kind).ids.str(row)
    }

    /// A canonical code by index.
    pub fn code(&self, i: u32) -> &str {
        self.codes.str(i)
    }

    /// The value of `field` of record `row` of `kind` (records must be kept).
    pub fn get(&self, kind: Kind, row: u32, field: usize) -> Val<'_> {
        let v = self.table(kind).row(row)[field];
        if v == 0 {
            return Val::None;
        }
        match kind.fields()[field].ty {
            Ty::Id => Val::Str(self.id(kind, row)),
            Ty::Ref(k) => Val::Row(k, v - 1),
            Ty::Refs(k) => Val::Rows(k, self.list(v)),
            Ty::Code(_) => Val::Str(self.code(v - 1)),
            Ty::Codes(_) => Val::Codes(self.list(v)),
            Ty::Text | Ty::Email | Ty::Date | Ty::Phone | Ty::Bool | Ty::Year => Val::Str(self.texts.get(v)),
        }
    }

    /// A text or code field as a string (`None` when absent or of another type).
    pub fn str(&self, kind: Kind, row: u32, field: usize) -> Option<&str> {
        match self.get(kind, row, field) {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A reference field's target row.
    pub fn reference(&self, kind: Kind, row: u32, field: usize) -> Option<u32> {
        match self.get(kind, row, field) {
            Val::Row(_, r) => Some(r),
            _ => None,
        }
    }

    fn list(&self, v: u32) -> &[u32] {
        let i = v as usize - 1;
        let start = if i == 0 { 0 } else { self.list_ends[i - 1] };
        &self.lists[start..self.list_ends[i]]
    }

    // ---- building (the validator) ----

    pub(crate) fn text(&mut self, s: &str) -> u32 {
        if self.keep_records {
            self.texts.push(s)
        } else {
            1
        }
    }

    pub(crate) fn list_of(&mut self, items: &[u32]) -> u32 {
        if !self.keep_records || items.is_empty() {
            return u32::from(!items.is_empty());
        }
        self.lists.extend_from_slice(items);
        self.list_ends.push(self.lists.len());
        self.list_ends.len() as u32
    }

    /// Append a record whose id (if its kind has one) was already interned as the next row.
    pub(crate) fn push(&mut self, kind: Kind, vals: &[u32]) -> u32 {
        let keep = self.keep_records;
        let t = self.table_mut(kind);
        debug_assert_eq!(vals.len(), t.width);
        if keep {
            t.vals.extend_from_slice(vals);
        }
        t.rows += 1;
        (t.rows - 1) as u32
    }

    /// Set one value of a stored record (a reference resolved after its file was read).
    pub(crate) fn set(&mut self, kind: Kind, row: u32, field: usize, val: u32) {
        let t = self.table_mut(kind);
        if !t.vals.is_empty() {
            let w = t.width;
            t.vals[row as usize * w + field] = val;
        }
    }

    /// Approximate heap use of the ids and keys (what bounds memory when records aren't kept).
    pub fn index_bytes(&self) -> usize {
        self.tables.iter().map(|t| t.ids.heap_bytes() + t.keys.heap_bytes()).sum()
    }
}

/// The natural key of a record, resolved to strings (ids and canonical codes), joined by U+001F.
pub fn natural_key(roster: &Roster, kind: Kind, row: u32) -> String {
    let mut key = String::new();
    for (n, &f) in kind.key().iter().enumerate() {
        if n > 0 {
            key.push('\u{1f}');
        }
        match roster.get(kind, row, f) {
            Val::Str(s) => key.push_str(s),
            Val::Row(k, r) => key.push_str(roster.id(k, r)),
            _ => {}
        }
    }
    key
}

/// Per-kind row counts, for reports.
pub fn counts(roster: &Roster) -> FxHashMap<Kind, usize> {
    Kind::ALL.iter().map(|&k| (k, roster.len(k))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_index_interns_densely_and_finds_by_bytes() {
        let mut ix = IdIndex::default();
        for i in 0..10_000u32 {
            assert_eq!(ix.insert(format!("id-{i}").as_bytes()), Ok(i));
        }
        assert_eq!(ix.insert(b"id-42"), Err(42));
        assert_eq!(ix.find(b"id-9999"), Some(9999));
        assert_eq!(ix.find(b"nope"), None);
        assert_eq!(ix.str(7), "id-7");
        assert_eq!(ix.insert(b""), Ok(10_000));
        assert_eq!(ix.get(10_000), b"");
    }
}
