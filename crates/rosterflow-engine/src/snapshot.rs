//! A validated [`Roster`] as an inbound flow's snapshot in the store (`rosterflow_store::roster`), and back.
//!
//! Each record is stored by kind and natural key (`schema::Kind::key`: a `sourcedId`, or for enrollments
//! class + user + role) with its normalized fields as one string: every field in schema order, separated by
//! U+001F, lists (`sessionSourcedIds`, `raceCodes`) joined by U+001E, references as the referenced record's
//! `sourcedId`, codes canonical, emails lower-cased. The validator refuses control characters in values, so
//! the separators can't occur in them. The hash is xxh3-64 of those fields, seeded with the kind: the next
//! load rewrites a record only when its hash changed.

use rosterflow_store::roster::{RecordRow, RosterStore, Scan, SnapshotInfo, SnapshotMeta, StoredRecord};
use rosterflow_store::{StoreError, TenantId};

use crate::roster::{natural_key, Roster, Val};
use crate::schema::{Kind, Ty};

pub const FIELD_SEP: char = '\u{1f}';
pub const LIST_SEP: char = '\u{1e}';

/// Append the normalized fields of a record to `out`.
pub fn encode(roster: &Roster, kind: Kind, row: u32, out: &mut String) {
    for f in 0..kind.fields().len() {
        if f > 0 {
            out.push(FIELD_SEP);
        }
        match roster.get(kind, row, f) {
            Val::None => {}
            Val::Str(s) => out.push_str(s),
            Val::Row(k, r) => out.push_str(roster.id(k, r)),
            Val::Rows(k, rows) => {
                for (i, &r) in rows.iter().enumerate() {
                    if i > 0 {
                        out.push(LIST_SEP);
                    }
                    out.push_str(roster.id(k, r));
                }
            }
            Val::Codes(codes) => {
                for (i, &c) in codes.iter().enumerate() {
                    if i > 0 {
                        out.push(LIST_SEP);
                    }
                    out.push_str(roster.code(c));
                }
            }
        }
    }
}

/// The content hash of a record's encoded fields.
pub fn hash(kind: Kind, fields: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(fields.as_bytes(), kind as u64) as i64
}

/// Every record of a roster (records must have been kept), ready to load.
pub fn rows(roster: &Roster) -> Vec<RecordRow> {
    let total = Kind::ALL.iter().map(|&k| roster.len(k)).sum();
    let mut out = Vec::with_capacity(total);
    for kind in Kind::ALL {
        for row in 0..roster.len(kind) as u32 {
            let mut fields = String::new();
            encode(roster, kind, row, &mut fields);
            let key = natural_key(roster, kind, row);
            out.push(RecordRow { kind: kind as i16, key, hash: hash(kind, &fields), fields });
        }
    }
    out
}

/// Load a roster as the flow's next snapshot.
pub async fn load(
    store: &dyn RosterStore,
    tenant: &TenantId,
    flow: &str,
    meta: SnapshotMeta,
    roster: &Roster,
) -> Result<SnapshotInfo, StoreError> {
    let records = rows(roster);
    store.load_snapshot(tenant, flow, meta, records).await
}

/// Rebuilds a [`Roster`] from stored records, kind by kind in dependency order (as scans return them).
#[derive(Default)]
pub struct Decoder {
    roster: Roster,
    /// Fields of records of a kind that references itself (orgs' parents), decoded once all its ids are known.
    pending: Vec<String>,
    pending_kind: Option<Kind>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    fn self_referencing(kind: Kind) -> bool {
        kind.fields().iter().any(|f| matches!(f.ty, Ty::Ref(k) | Ty::Refs(k) if k == kind))
    }

    /// Add records; they must come kind by kind in `Kind::ALL` order.
    pub fn push(&mut self, records: impl IntoIterator<Item = StoredRecord>) {
        for r in records {
            self.record(r.kind, &r.fields);
        }
    }

    /// Add one record by its kind and encoded fields (borrowed: a scan hands them over without a copy).
    pub fn record(&mut self, kind: i16, fields: &str) {
        let Some(kind) = Kind::from_u8(kind as u8) else { return };
        if self.pending_kind.is_some_and(|k| k != kind) {
            self.flush();
        }
        if Self::self_referencing(kind) {
            self.pending_kind = Some(kind);
            self.pending.push(fields.to_string());
        } else {
            self.decode(kind, fields, true);
        }
    }

    fn flush(&mut self) {
        let Some(kind) = self.pending_kind.take() else { return };
        let pending = std::mem::take(&mut self.pending);
        // Ids first, so that references to records later in the kind resolve.
        let first = self.roster.len(kind);
        for fields in &pending {
            let id = fields.split(FIELD_SEP).next().unwrap_or_default();
            let _ = self.roster.table_mut(kind).ids.insert(id.as_bytes());
        }
        for (i, fields) in pending.iter().enumerate() {
            debug_assert_eq!(self.roster.len(kind), first + i);
            self.decode(kind, fields, false);
        }
    }

    fn decode(&mut self, kind: Kind, fields: &str, intern_id: bool) {
        let defs = kind.fields();
        let mut vals = [0u32; 11];
        for (f, value) in fields.split(FIELD_SEP).enumerate().take(defs.len()) {
            if value.is_empty() {
                continue;
            }
            let r = &mut self.roster;
            vals[f] = match defs[f].ty {
                Ty::Id => {
                    if intern_id && r.table_mut(kind).ids.insert(value.as_bytes()).is_err() {
                        return; // a repeated key can't be stored twice; the store prevents it
                    }
                    1
                }
                Ty::Ref(k) => r.table(k).ids.find(value.as_bytes()).map_or(0, |row| row + 1),
                Ty::Refs(k) => {
                    let rows: Vec<u32> =
                        value.split(LIST_SEP).filter_map(|id| r.table(k).ids.find(id.as_bytes())).collect();
                    r.list_of(&rows)
                }
                Ty::Code(_) => r.codes.intern(value.as_bytes()) + 1,
                Ty::Codes(_) => {
                    let codes: Vec<u32> = value.split(LIST_SEP).map(|c| r.codes.intern(c.as_bytes())).collect();
                    r.list_of(&codes)
                }
                Ty::Text | Ty::Email | Ty::Date | Ty::Phone | Ty::Bool | Ty::Year => r.text(value),
            };
        }
        self.roster.push(kind, &vals[..defs.len()]);
    }

    pub fn finish(mut self) -> Roster {
        self.flush();
        self.roster
    }
}

/// The flow's active snapshot as a [`Roster`], read with one streaming scan.
pub async fn read_active(store: &dyn RosterStore, tenant: &TenantId, flow: &str) -> Result<Roster, StoreError> {
    read(store, tenant, flow, Scan::Active).await
}

/// The active records of the kinds before `first_not_read` (a run needs orgs through enrollments, not
/// demographics, flags and relationships).
pub async fn read_active_before(
    store: &dyn RosterStore,
    tenant: &TenantId,
    flow: &str,
    first_not_read: Kind,
) -> Result<Roster, StoreError> {
    decode_with(Decoder::new(), |sink| store.read_active_fields(tenant, flow, first_not_read as i16, sink)).await
}

/// `roster` (read by [`read_active_before`] up to `kind`) with the active records of `kind` added: those whose
/// natural key starts with one of `prefixes`, or all of them (`None`). An incremental run reads the enrollments
/// of the classes it replans this way (`Kind::Enrollment`, each prefix a class's `sourcedId` and U+001F).
pub async fn read_active_of(
    store: &dyn RosterStore,
    tenant: &TenantId,
    flow: &str,
    roster: Roster,
    kind: Kind,
    prefixes: Option<Vec<String>>,
) -> Result<Roster, StoreError> {
    debug_assert!(Kind::ALL.iter().filter(|&&k| k >= kind).all(|&k| roster.len(k) == 0), "kinds in order");
    let decoder = Decoder { roster, ..Decoder::default() };
    decode_with(decoder, |sink| store.read_active_fields_of(tenant, flow, kind as i16, prefixes, sink)).await
}

/// Decode what `read` hands its sink, after what `decoder` holds.
async fn decode_with<F, Fut>(decoder: Decoder, read: F) -> Result<Roster, StoreError>
where
    F: FnOnce(rosterflow_store::roster::FieldSink) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    // The store calls the sink on its reading thread; the lock is never contended (one reader, then us).
    let decoder = std::sync::Arc::new(std::sync::Mutex::new(decoder));
    let sink = decoder.clone();
    read(Box::new(move |kind: i16, fields: &str| sink.lock().expect("decoder lock").record(kind, fields))).await?;
    let decoder = std::sync::Arc::try_unwrap(decoder).ok().expect("the store dropped the sink");
    Ok(decoder.into_inner().expect("decoder lock").finish())
}

async fn read(store: &dyn RosterStore, tenant: &TenantId, flow: &str, scan: Scan) -> Result<Roster, StoreError> {
    let mut rx = store.scan(tenant, flow, scan).await?;
    let mut d = Decoder::new();
    while let Some(chunk) = rx.recv().await {
        d.push(chunk?);
    }
    Ok(d.finish())
}
