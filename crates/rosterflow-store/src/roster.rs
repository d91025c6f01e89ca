//! Roster snapshots: each inbound flow's validated records, by natural key, across its loads (the `roster`
//! table family, `migrations/0004_roster.*.sql`; design in docs/architecture.md, "Roster snapshots").
//!
//! Full-snapshot semantics (sds-semantics §0): loading snapshot N+1 of a flow is one transaction in which
//! - a record whose key is new is inserted (`first_seen = changed_in = N+1`);
//! - a record whose hash changed, or that comes back after a removal, is rewritten (`changed_in = N+1`);
//! - a record absent from N+1 becomes inactive (`removed_in = changed_in = N+1`);
//! - an unchanged record is not touched at all: it is active (`removed_in IS NULL`) and so last seen in the
//!   flow's latest snapshot. Its "last seen" needs no bump: [`StoredRecord::last_seen`] derives it.
//!
//! So a run asks "what changed since snapshot M" with `changed_in > M` (an index), and reads the whole active
//! snapshot with one streaming scan. The store knows records only as (kind, key, hash, fields): the model
//! (`rosterflow-engine`'s `schema`) encodes and decodes them.

use async_trait::async_trait;
use rustc_hash::FxHashMap;

use crate::{Result, StoreError, TenantId};

/// A record as loaded: its kind (the engine's `Kind` discriminant), natural key, content hash and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub kind: i16,
    pub key: String,
    pub hash: i64,
    pub fields: String,
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub kind: i16,
    pub key: String,
    pub hash: i64,
    pub fields: String,
    /// The snapshot that first held it.
    pub first_seen: i64,
    /// The snapshot that last inserted, changed, removed or restored it.
    pub changed_in: i64,
    /// The snapshot that no longer held it (`None`: active).
    pub removed_in: Option<i64>,
}

impl StoredRecord {
    pub fn active(&self) -> bool {
        self.removed_in.is_none()
    }

    /// The last snapshot that held it, given the flow's latest snapshot.
    pub fn last_seen(&self, latest: i64) -> i64 {
        self.removed_in.map_or(latest, |r| r - 1)
    }
}

/// What a load is, besides its records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotMeta {
    /// The `RefFileFormat` code the files were read as.
    pub format: String,
    /// The files validated (a later upload that leaves one out is warned).
    pub files: Vec<String>,
}

/// One load of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub seq: i64,
    /// RFC 3339 UTC.
    pub loaded_at: String,
    pub format: String,
    pub files: Vec<String>,
    /// Active records after the load.
    pub records: i64,
    pub inserted: i64,
    pub changed: i64,
    pub removed: i64,
}

/// Which records a scan returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The active snapshot.
    Active,
    /// The active records of the kinds below this one (a run reads the kinds it provisions from, not
    /// demographics, flags or relationships).
    ActiveBelow(i16),
    /// Records inserted, changed, removed or restored by a snapshot after this one (active or not).
    ChangedSince(i64),
    /// Everything, removed records included.
    All,
}

/// Records arrive in chunks of at most [`SCAN_CHUNK`], in (kind, key) order; the channel closes at the end.
pub type RecordStream = tokio::sync::mpsc::Receiver<Result<Vec<StoredRecord>>>;

pub const SCAN_CHUNK: usize = 8192;

/// Tenant-first storage of inbound flows' roster snapshots.
#[async_trait]
pub trait RosterStore: Send + Sync + 'static {
    /// Load the flow's next snapshot: `records` is the complete set (unique by kind and key), in one
    /// transaction, diffed against what is stored.
    async fn load_snapshot(
        &self,
        tenant: &TenantId,
        flow: &str,
        meta: SnapshotMeta,
        records: Vec<RecordRow>,
    ) -> Result<SnapshotInfo>;
    /// The flow's loads, oldest first.
    async fn snapshots(&self, tenant: &TenantId, flow: &str) -> Result<Vec<SnapshotInfo>>;
    /// A bulk streaming read.
    async fn scan(&self, tenant: &TenantId, flow: &str, scan: Scan) -> Result<RecordStream>;
    /// Forget a flow's snapshots (the flow was deleted).
    async fn delete_flow(&self, tenant: &TenantId, flow: &str) -> Result<()>;

    async fn latest_snapshot(&self, tenant: &TenantId, flow: &str) -> Result<Option<SnapshotInfo>> {
        Ok(self.snapshots(tenant, flow).await?.pop())
    }

    /// What a run reads: the kind and fields of every active record of the kinds below `below`, in (kind, key)
    /// order, handed to `sink` as they are read. The same records as [`Scan::ActiveBelow`], without their keys
    /// and history and without a copy of each (a backend may lend them straight from its row buffer).
    async fn read_active_fields(&self, tenant: &TenantId, flow: &str, below: i16, mut sink: FieldSink) -> Result<()> {
        let mut rx = self.scan(tenant, flow, Scan::ActiveBelow(below)).await?;
        while let Some(chunk) = rx.recv().await {
            for r in chunk? {
                sink(r.kind, &r.fields);
            }
        }
        Ok(())
    }

    /// The fields of the active records of one `kind` whose natural key starts with one of `prefixes` (every
    /// active record of the kind when `None`), prefix by prefix, each prefix's records in key order, handed to
    /// `sink`. An incremental run reads only the enrollments of the classes it replans this way: an
    /// enrollment's key starts with its class's `sourcedId` and U+001F, so each class is one key range.
    async fn read_active_fields_of(
        &self,
        tenant: &TenantId,
        flow: &str,
        kind: i16,
        prefixes: Option<Vec<String>>,
        mut sink: FieldSink,
    ) -> Result<()> {
        // A portable fallback: one scan of the kinds up to `kind`, filtered here.
        let mut rx = self.scan(tenant, flow, Scan::ActiveBelow(kind + 1)).await?;
        let mut found: Vec<StoredRecord> = Vec::new();
        while let Some(chunk) = rx.recv().await {
            found.extend(chunk?.into_iter().filter(|r| r.kind == kind));
        }
        match prefixes {
            None => found.iter().for_each(|r| sink(r.kind, &r.fields)),
            Some(prefixes) => {
                for p in &prefixes {
                    found.iter().filter(|r| r.key.starts_with(p.as_str())).for_each(|r| sink(r.kind, &r.fields));
                }
            }
        }
        Ok(())
    }

    /// The kind and natural key of every record that a snapshot after `since` inserted, changed, removed or
    /// restored, in no particular order: what an incremental run asks first. Backends answer from the
    /// `changed_in` index alone (on SQLite it holds the primary key: no record is read).
    async fn changed_keys(&self, tenant: &TenantId, flow: &str, since: i64) -> Result<Vec<(i16, String)>> {
        let mut rx = self.scan(tenant, flow, Scan::ChangedSince(since)).await?;
        let mut keys = Vec::new();
        while let Some(chunk) = rx.recv().await {
            keys.extend(chunk?.into_iter().map(|r| (r.kind, r.key)));
        }
        Ok(keys)
    }

    /// Per kind, how many records the flow's latest snapshot holds (its active records), from the digests
    /// stored with it; `None` when the flow has no snapshot or its digests can't be read. An incremental run
    /// reports the active enrollment count from here instead of reading every enrollment.
    async fn active_counts(&self, _tenant: &TenantId, _flow: &str) -> Result<Option<ActiveCounts>> {
        Ok(None)
    }
}

/// Active records per kind ([`RosterStore::active_counts`]).
pub type ActiveCounts = std::collections::BTreeMap<i16, i64>;

/// The counts of a snapshot's stored digests (`kind:count:sum,...`).
pub(crate) fn counts_of_digests(digests: &str) -> Option<ActiveCounts> {
    Some(parse_digests(digests)?.into_iter().map(|(k, (n, _))| (k, n)).collect())
}

/// The smallest string after every string that starts with `prefix` (`None`: no bound, the empty prefix):
/// the exclusive upper end of a prefix's key range, as text compares byte by byte (SQLite's `BINARY`,
/// PostgreSQL's `"C"`; UTF-8 byte order is code point order).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        // The next code point (surrogates are not chars); char::MAX has none: drop it and carry.
        let next = (c as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Receives records' kinds and fields ([`RosterStore::read_active_fields`]).
pub type FieldSink = Box<dyn FnMut(i16, &str) + Send>;

/// Per kind: how many records and a sum of their (key, hash) mixes. A load whose digest of a kind equals the
/// latest snapshot's leaves that kind alone without reading it: a snapshot's active records are exactly what
/// it loaded. (Unequal digests only cost a full diff of the kind; equal digests of different sets need a
/// 64-bit collision.)
pub(crate) type Digests = std::collections::BTreeMap<i16, (i64, u64)>;

pub(crate) fn digests(records: &[RecordRow]) -> Digests {
    use std::hash::{BuildHasher, Hasher};
    let mut d = Digests::new();
    for r in records {
        let mut h = rustc_hash::FxBuildHasher.build_hasher();
        h.write(r.key.as_bytes());
        h.write_i64(r.hash);
        // splitmix64's finalizer: spreads the bits so that a sum of mixes behaves as a set hash.
        let mut z = h.finish().wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let e = d.entry(r.kind).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.wrapping_add(z);
    }
    d
}

/// `kind:count:sum` per kind, comma-separated (stored with each snapshot).
pub(crate) fn format_digests(d: &Digests) -> String {
    d.iter().map(|(k, (n, s))| format!("{k}:{n}:{s:x}")).collect::<Vec<_>>().join(",")
}

pub(crate) fn parse_digests(s: &str) -> Option<Digests> {
    let mut d = Digests::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let mut it = part.split(':');
        let (k, n, sum) =
            (it.next()?.parse().ok()?, it.next()?.parse().ok()?, u64::from_str_radix(it.next()?, 16).ok()?);
        d.insert(k, (n, sum));
    }
    Some(d)
}

/// The kinds a load must diff: those whose digest differs from the previous snapshot's (all of them when
/// there is none, or its digests can't be read).
pub(crate) fn kinds_to_diff(new: &Digests, previous: Option<&str>) -> Vec<i16> {
    let Some(old) = previous.and_then(parse_digests) else {
        let mut all: Vec<i16> = new.keys().copied().collect();
        all.extend(0..16);
        all.sort();
        all.dedup();
        return all;
    };
    let mut kinds: Vec<i16> = new.keys().chain(old.keys()).copied().filter(|k| new.get(k) != old.get(k)).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// What a load changes, worked out in memory from the stored (kind, key, hash, removed) of the flow.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    /// Indexes into the load's records.
    pub insert: Vec<usize>,
    pub update: Vec<usize>,
    /// Stored active records the load doesn't have.
    pub remove: Vec<(i16, String)>,
    pub active_after: i64,
}

impl Diff {
    /// The load's row of `roster_snapshot`.
    pub(crate) fn info(&self, seq: i64, meta: SnapshotMeta) -> SnapshotInfo {
        SnapshotInfo {
            seq,
            loaded_at: rosterflow_model::time::now(),
            format: meta.format,
            files: meta.files,
            records: self.active_after,
            inserted: self.insert.len() as i64,
            changed: self.update.len() as i64,
            removed: self.remove.len() as i64,
        }
    }
}

/// A stored record's state, for diffing.
pub(crate) struct Known {
    pub hash: i64,
    pub removed: bool,
}

/// Stored records by kind, then key.
pub(crate) type KnownRecords = FxHashMap<i16, FxHashMap<String, Known>>;

/// Diff the records of the `kinds` that changed against what is stored of those kinds (`known`).
pub(crate) fn diff(mut known: KnownRecords, records: &[RecordRow], kinds: &[i16]) -> Result<Diff> {
    let mut d = Diff { active_after: records.len() as i64, ..Diff::default() };
    let mut seen: rustc_hash::FxHashSet<(i16, &str)> = Default::default();
    for (i, r) in records.iter().enumerate() {
        if kinds.binary_search(&r.kind).is_err() {
            continue; // the same records as the previous snapshot (a repeated key would have changed the digest)
        }
        if !seen.insert((r.kind, r.key.as_str())) {
            return Err(StoreError::Backend(format!("snapshot record kind {} key {:?} appears twice", r.kind, r.key)));
        }
        // Take it out: what's left afterwards is what the load doesn't have.
        match known.get_mut(&r.kind).and_then(|m| m.remove(r.key.as_str())) {
            None => d.insert.push(i),
            Some(k) if k.removed || k.hash != r.hash => d.update.push(i),
            Some(_) => {}
        }
    }
    d.remove = known
        .into_iter()
        .flat_map(|(kind, m)| m.into_iter().filter(|(_, k)| !k.removed).map(move |(key, _)| (kind, key)))
        .collect();
    d.remove.sort();
    // New rows in primary-key order: B-tree inserts append instead of splitting pages all over the index.
    d.insert.sort_by(|&a, &b| (records[a].kind, &records[a].key).cmp(&(records[b].kind, &records[b].key)));
    Ok(d)
}

pub(crate) fn join_files(files: &[String]) -> String {
    files.join("\n")
}

pub(crate) fn split_files(s: &str) -> Vec<String> {
    s.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::{counts_of_digests, prefix_end};

    #[test]
    fn a_prefix_ends_at_its_next_string() {
        assert_eq!(prefix_end("c-1\u{1f}").as_deref(), Some("c-1\u{20}"));
        assert_eq!(prefix_end("a").as_deref(), Some("b"));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
        // Every string with the prefix sorts before its end, byte by byte.
        for s in ["c-1\u{1f}", "c-1\u{1f}u\u{1f}student", "c-1\u{1f}\u{10ffff}"] {
            assert!(s < "c-1\u{20}");
        }
        assert!("c-10\u{1f}u" > "c-1\u{20}", "a longer class id is another range");
    }

    #[test]
    fn counts_come_from_digests() {
        let counts = counts_of_digests("0:3:ab,6:625288:ff").unwrap();
        assert_eq!(counts.get(&6), Some(&625_288));
        assert_eq!(counts.get(&7), None);
        assert!(counts_of_digests("").unwrap().is_empty());
        assert!(counts_of_digests("x").is_none());
    }
}
