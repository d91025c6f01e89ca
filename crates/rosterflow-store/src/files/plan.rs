//! What each write does to a blob's rows, decided once for both backends: a pure function of the blob's state
//! as the write's transaction sees it (its row, its chunks, the container's counts) and the operation. The
//! backends load the state under the container's lock, call [`plan`] and apply the [`Plan`] it returns.
//!
//! The rules are Azure's: Put Blob and Put Block List replace a blob's content and discard its uncommitted
//! blocks; Put Block stages a block by id (a second Put Block of an id replaces it); a Data Lake append stages
//! bytes at a position and flush commits the appends that exactly tile the file from its current length to the
//! flush position. Staged bytes never become visible until committed, and a refused write changes nothing.

use std::collections::{HashMap, HashSet};

use super::{Blob, BlockRef, ChunkRow, Conditions, Container, ContainerState, FileError, Kind, Limits, Props};

/// Most committed blocks in one blob, and most uncommitted blocks staged for one (Azure's limits).
pub const MAX_COMMITTED_BLOCKS: usize = 50_000;
pub const MAX_UNCOMMITTED_BLOCKS: i64 = 100_000;
/// Most pending appends on one file.
pub const MAX_APPENDS: usize = 50_000;

/// A write to one blob.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Put Blob: the whole content at once (`object` is `None` for an empty body).
    PutBlob { object: Option<(String, i64)>, props: Props, cond: Conditions },
    /// Put Block: stage `object` as the block `id`.
    PutBlock { id: String, object: String, size: i64 },
    /// Put Block List: commit these blocks, in order.
    PutBlockList { blocks: Vec<BlockRef>, props: Props, cond: Conditions },
    /// Delete Blob / Data Lake delete.
    Delete { cond: Conditions },
    /// Data Lake create (`PUT ?resource=file`): an empty file, replacing any content.
    CreatePath { props: Props, cond: Conditions },
    /// Data Lake append at `position`.
    Append { position: i64, object: String, size: i64 },
    /// Data Lake flush to `position`.
    Flush { position: i64, retain: bool, props: Props, cond: Conditions },
}

/// The chunk kinds an operation needs loaded.
impl Op {
    pub(crate) fn kinds(&self) -> &'static [Kind] {
        match self {
            Op::PutBlob { .. } | Op::Delete { .. } | Op::CreatePath { .. } => {
                &[Kind::Committed, Kind::Block, Kind::Append]
            }
            Op::PutBlockList { .. } => &[Kind::Committed, Kind::Block],
            Op::Append { .. } | Op::Flush { .. } => &[Kind::Append],
            Op::PutBlock { .. } => &[],
        }
    }

    /// The block whose current row Put Block needs.
    pub(crate) fn block_id(&self) -> Option<&str> {
        match self {
            Op::PutBlock { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The objects this operation wrote before its transaction: removed again when the plan is refused.
    pub(crate) fn written(&self) -> Vec<String> {
        match self {
            Op::PutBlob { object: Some((o, _)), .. }
            | Op::PutBlock { object: o, .. }
            | Op::Append { object: o, .. } => {
                vec![o.clone()]
            }
            _ => Vec::new(),
        }
    }
}

/// A blob's state inside the write's transaction.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub container: Container,
    pub now: i64,
    pub blob: Option<Blob>,
    /// The chunks of the kinds the operation asked for ([`Op::kinds`]), committed ones in order.
    pub chunks: Vec<ChunkRow>,
    /// Whether the name has a blob or any chunk (it counts towards the container's files).
    pub has_name: bool,
    /// Names in the container (blobs, and names with only staged chunks); loaded only when `!has_name`.
    pub names: i64,
    /// Uncommitted blocks of this blob: how many and their bytes.
    pub staged: (i64, i64),
    /// The current row of the block Put Block stages, if any.
    pub same_block: Option<ChunkRow>,
    /// One past the last committed chunk's `seq`.
    pub next_seq: i64,
}

/// What the write changes.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// `Some(Some(b))`: write the blob row; `Some(None)`: delete it; `None`: leave it.
    pub blob: Option<Option<Blob>>,
    /// Delete every chunk of these kinds (of this blob).
    pub delete_kinds: Vec<Kind>,
    /// Delete these chunks: (kind, seq, block_id).
    pub delete: Vec<(Kind, i64, String)>,
    pub insert: Vec<ChunkRow>,
    /// Objects no chunk refers to once the plan is applied; deleted after it commits.
    pub garbage: Vec<String>,
}

/// A fresh ETag (Azure's form, without quotes).
pub(crate) fn etag() -> String {
    let n = uuid::Uuid::new_v4().as_u128() as u64 & 0x000F_FFFF_FFFF_FFFF;
    format!("0x8D{n:013X}")
}

pub(crate) fn plan(op: Op, s: &State, limits: &Limits) -> Result<Plan, FileError> {
    writable(&s.container, s.now)?;
    match op {
        Op::PutBlob { object, props, cond } => {
            check(&cond, s.blob.as_ref())?;
            new_name(s, limits)?;
            let size = object.as_ref().map_or(0, |(_, n)| *n);
            check_size(size, limits)?;
            let insert: Vec<ChunkRow> = object.into_iter().map(|(o, n)| committed(0, 0, "", o, n)).collect();
            Ok(replace(s, size, props, insert, &[Kind::Committed, Kind::Block, Kind::Append]))
        }
        Op::PutBlock { id, object, size } => {
            new_name(s, limits)?;
            let (count, bytes) = s.staged;
            let (count, bytes) = match &s.same_block {
                Some(old) => (count, bytes - old.size),
                None => (count + 1, bytes),
            };
            if count > MAX_UNCOMMITTED_BLOCKS {
                return Err(FileError::TooManyBlocks(format!(
                    "a blob may have at most {MAX_UNCOMMITTED_BLOCKS} uncommitted blocks"
                )));
            }
            if bytes + size > limits.max_file_bytes as i64 {
                return Err(FileError::TooLarge(limits.max_file_bytes));
            }
            let mut plan = Plan::default();
            if let Some(old) = &s.same_block {
                plan.delete.push((Kind::Block, 0, id.clone()));
                plan.garbage.push(old.object.clone());
            }
            plan.insert.push(ChunkRow { kind: Kind::Block, seq: 0, block_id: id, start: 0, object, size });
            Ok(plan)
        }
        Op::PutBlockList { blocks, props, cond } => {
            check(&cond, s.blob.as_ref())?;
            if blocks.len() > MAX_COMMITTED_BLOCKS {
                return Err(FileError::TooManyBlocks(format!(
                    "a block list may name at most {MAX_COMMITTED_BLOCKS} blocks"
                )));
            }
            new_name(s, limits)?;
            let committed_by_id: HashMap<&str, &ChunkRow> = s
                .chunks
                .iter()
                .filter(|c| c.kind == Kind::Committed && !c.block_id.is_empty())
                .map(|c| (c.block_id.as_str(), c))
                .collect();
            let staged: HashMap<&str, &ChunkRow> =
                s.chunks.iter().filter(|c| c.kind == Kind::Block).map(|c| (c.block_id.as_str(), c)).collect();
            let mut insert = Vec::with_capacity(blocks.len());
            let mut offset = 0i64;
            for (i, b) in blocks.iter().enumerate() {
                let found = match b {
                    BlockRef::Committed(id) => committed_by_id.get(id.as_str()),
                    BlockRef::Uncommitted(id) => staged.get(id.as_str()),
                    BlockRef::Latest(id) => staged.get(id.as_str()).or_else(|| committed_by_id.get(id.as_str())),
                };
                let Some(chunk) = found else {
                    return Err(FileError::InvalidBlockList(format!(
                        "the block '{}' ({}) is not among the blob's {} blocks",
                        b.id(),
                        i,
                        b.list_name()
                    )));
                };
                insert.push(committed(i as i64, offset, b.id(), chunk.object.clone(), chunk.size));
                offset += chunk.size;
            }
            check_size(offset, limits)?;
            Ok(replace(s, offset, props, insert, &[Kind::Committed, Kind::Block]))
        }
        Op::Delete { cond } => {
            let Some(blob) = &s.blob else { return Err(FileError::BlobNotFound) };
            check(&cond, Some(blob))?;
            let mut plan = Plan {
                blob: Some(None),
                delete_kinds: vec![Kind::Committed, Kind::Block, Kind::Append],
                ..Plan::default()
            };
            plan.garbage = s.chunks.iter().map(|c| c.object.clone()).collect();
            Ok(plan)
        }
        Op::CreatePath { props, cond } => {
            check(&cond, s.blob.as_ref())?;
            new_name(s, limits)?;
            Ok(replace(s, 0, props, Vec::new(), &[Kind::Committed, Kind::Block, Kind::Append]))
        }
        Op::Append { position, object, size } => {
            new_name(s, limits)?;
            let flushed = s.blob.as_ref().map_or(0, |b| b.size as i64);
            if position < flushed {
                return Err(FileError::InvalidPosition(format!(
                    "the append position {position} is before the end of the flushed data ({flushed} bytes); \
                     flushed data can't be written again"
                )));
            }
            let end = position + size;
            if end > limits.max_file_bytes as i64 {
                return Err(FileError::TooLarge(limits.max_file_bytes));
            }
            let mut plan = Plan::default();
            for a in &s.chunks {
                let (a_start, a_end) = (a.seq, a.seq + a.size);
                if a.seq == position {
                    // The same append again (a retry): it replaces the first.
                    plan.delete.push((Kind::Append, a.seq, String::new()));
                    plan.garbage.push(a.object.clone());
                } else if a_start < end && position < a_end {
                    return Err(FileError::InvalidPosition(format!(
                        "the append at position {position} ({size} bytes) overlaps the pending append at \
                         {a_start} ({} bytes)",
                        a.size
                    )));
                }
            }
            if s.chunks.len() >= MAX_APPENDS && plan.delete.is_empty() {
                return Err(FileError::TooManyBlocks(format!("a file may have at most {MAX_APPENDS} pending appends")));
            }
            plan.insert.push(ChunkRow {
                kind: Kind::Append,
                seq: position,
                block_id: String::new(),
                start: 0,
                object,
                size,
            });
            Ok(plan)
        }
        Op::Flush { position, retain, props, cond } => {
            check(&cond, s.blob.as_ref())?;
            new_name(s, limits)?;
            let flushed = s.blob.as_ref().map_or(0, |b| b.size as i64);
            let mut appends: Vec<&ChunkRow> = s.chunks.iter().collect();
            appends.sort_by_key(|a| a.seq);
            let invalid = || {
                FileError::InvalidPosition(format!(
                    "the uploaded data is not contiguous or the position {position} is not equal to the length of \
                     the file after appending the uploaded data ({flushed} bytes flushed)"
                ))
            };
            let mut end = flushed;
            let mut taken = Vec::new();
            for a in appends.iter().filter(|a| a.seq < position) {
                if a.seq != end || a.seq + a.size > position {
                    return Err(invalid());
                }
                end += a.size;
                taken.push(*a);
            }
            if end != position {
                return Err(invalid());
            }
            let mut plan = Plan::default();
            for (seq, a) in (s.next_seq..).zip(&taken) {
                plan.delete.push((Kind::Append, a.seq, String::new()));
                plan.insert.push(committed(seq, a.seq, "", a.object.clone(), a.size));
            }
            if !retain {
                for a in appends.iter().filter(|a| a.seq >= position) {
                    plan.delete.push((Kind::Append, a.seq, String::new()));
                    plan.garbage.push(a.object.clone());
                }
            }
            let changed = !taken.is_empty() || s.blob.is_none() || !props.is_empty();
            if changed {
                let old = s.blob.clone();
                plan.blob = Some(Some(Blob {
                    name: String::new(),
                    size: position as u64,
                    etag: if taken.is_empty() && old.is_some() && props.is_empty() {
                        old.as_ref().map(|b| b.etag.clone()).unwrap_or_else(etag)
                    } else {
                        etag()
                    },
                    created: old.as_ref().map_or(s.now, |b| b.created),
                    modified: s.now,
                    content_type: props.content_type.or(old.as_ref().and_then(|b| b.content_type.clone())),
                    content_md5: props.content_md5.or(old.as_ref().and_then(|b| b.content_md5.clone())),
                }));
            }
            Ok(plan)
        }
    }
}

/// What getUploadSession does with the connector's current open container.
#[derive(Debug, PartialEq)]
pub(crate) enum Session {
    /// Keep it; `renew`: its new session expiry, when the old session has ended.
    Keep { container: Container, renew: Option<i64> },
    /// Discard `discard` (if any) and create `fresh`.
    Replace { discard: Option<String>, fresh: Container },
}

/// `current`: the connector's open container; `open`: the tenant's open, unexpired containers (counting
/// `current`); `fresh`: a new container, created at `fresh.created` (now).
pub(crate) fn session(
    current: Option<Container>,
    fresh: Container,
    reset: bool,
    open: i64,
    max: u32,
) -> Result<Session, FileError> {
    let now = fresh.created;
    match current {
        Some(c) if !reset && now < c.container_expires => {
            let renew = (now >= c.session_expires)
                .then(|| whole_seconds(now + (fresh.session_expires - fresh.created)).min(c.container_expires));
            Ok(Session::Keep {
                container: Container { session_expires: renew.unwrap_or(c.session_expires), ..c },
                renew,
            })
        }
        current => {
            let counted = current.as_ref().is_some_and(|c| now < c.container_expires);
            if open - i64::from(counted) >= i64::from(max) {
                return Err(FileError::TooManyContainers(max));
            }
            Ok(Session::Replace { discard: current.map(|c| c.id), fresh })
        }
    }
}

/// `micros` rounded up to a whole second (a session never lasts less than it was given).
pub(crate) fn whole_seconds(micros: i64) -> i64 {
    micros + (1_000_000 - micros.rem_euclid(1_000_000)) % 1_000_000
}

/// Writes need an open container that has not expired.
fn writable(c: &Container, now: i64) -> Result<(), FileError> {
    match c.state {
        ContainerState::Open if now < c.container_expires => Ok(()),
        state => Err(FileError::Closed(if state == ContainerState::Open { ContainerState::Discarded } else { state })),
    }
}

/// `If-Match` / `If-None-Match` against the blob as it is.
pub(crate) fn check(cond: &Conditions, blob: Option<&Blob>) -> Result<(), FileError> {
    let unquote = |s: &str| s.trim().trim_matches('"').to_string();
    if let Some(m) = &cond.if_none_match {
        let m = m.trim();
        match blob {
            Some(_) if m == "*" => return Err(FileError::Exists),
            Some(b) if unquote(m) == b.etag => return Err(FileError::ConditionNotMet),
            _ => {}
        }
    }
    if let Some(m) = &cond.if_match {
        let m = m.trim();
        match blob {
            Some(b) if m == "*" || unquote(m) == b.etag => {}
            _ => return Err(FileError::ConditionNotMet),
        }
    }
    Ok(())
}

fn new_name(s: &State, limits: &Limits) -> Result<(), FileError> {
    if !s.has_name && s.names >= i64::from(limits.max_files) {
        return Err(FileError::TooManyFiles(limits.max_files));
    }
    Ok(())
}

fn check_size(size: i64, limits: &Limits) -> Result<(), FileError> {
    if size > limits.max_file_bytes as i64 {
        return Err(FileError::TooLarge(limits.max_file_bytes));
    }
    Ok(())
}

fn committed(seq: i64, start: i64, block_id: &str, object: String, size: i64) -> ChunkRow {
    ChunkRow { kind: Kind::Committed, seq, block_id: block_id.to_string(), start, object, size }
}

/// The blob's content replaced by `insert` (committed chunks), its chunks of `kinds` dropped.
fn replace(s: &State, size: i64, props: Props, insert: Vec<ChunkRow>, kinds: &[Kind]) -> Plan {
    let kept: HashSet<&str> = insert.iter().map(|c| c.object.as_str()).collect();
    let garbage = s
        .chunks
        .iter()
        .filter(|c| kinds.contains(&c.kind) && !kept.contains(c.object.as_str()))
        .map(|c| c.object.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let blob = Blob {
        name: String::new(),
        size: size as u64,
        etag: etag(),
        created: s.blob.as_ref().map_or(s.now, |b| b.created),
        modified: s.now,
        content_type: props.content_type,
        content_md5: props.content_md5,
    };
    Plan { blob: Some(Some(blob)), delete_kinds: kinds.to_vec(), delete: Vec::new(), insert, garbage }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantId;

    fn limits() -> Limits {
        Limits { max_file_bytes: 1000, max_files: 3, max_containers: 10 }
    }

    fn state() -> State {
        State {
            container: Container {
                id: "c".into(),
                tenant: TenantId("t".into()),
                connector: "k".into(),
                state: ContainerState::Open,
                created: 0,
                session_expires: 100,
                container_expires: 200,
            },
            now: 10,
            blob: None,
            chunks: Vec::new(),
            has_name: false,
            names: 0,
            staged: (0, 0),
            same_block: None,
            next_seq: 0,
        }
    }

    fn append(pos: i64, size: i64) -> ChunkRow {
        ChunkRow { kind: Kind::Append, seq: pos, block_id: String::new(), start: 0, object: format!("a{pos}"), size }
    }

    fn block(id: &str, size: i64) -> ChunkRow {
        ChunkRow { kind: Kind::Block, seq: 0, block_id: id.into(), start: 0, object: format!("b{id}"), size }
    }

    fn flush(position: i64) -> Op {
        Op::Flush { position, retain: false, props: Props::default(), cond: Conditions::default() }
    }

    #[test]
    fn a_session_is_kept_renewed_or_replaced() {
        const S: i64 = 1_000_000;
        // Created at 0, its session until 100 s, the container until 200 s.
        let c = Container { session_expires: 100 * S, container_expires: 200 * S, ..state().container };
        let fresh = |now: i64| Container {
            id: "new".into(),
            created: now,
            session_expires: now + 50 * S,
            container_expires: now + 150 * S,
            ..c.clone()
        };
        let Ok(Session::Keep { container, renew: None }) = session(Some(c.clone()), fresh(10 * S), false, 1, 1) else {
            panic!()
        };
        assert_eq!(container, c);
        let Ok(Session::Keep { container, renew }) = session(Some(c.clone()), fresh(120 * S - 7), false, 1, 1) else {
            panic!()
        };
        assert_eq!((renew, container.session_expires), (Some(170 * S), 170 * S), "a new session, same container");
        let Ok(Session::Keep { renew, .. }) = session(Some(c.clone()), fresh(190 * S), false, 1, 1) else { panic!() };
        assert_eq!(renew, Some(200 * S), "never past the container");
        assert!(matches!(
            session(Some(c.clone()), fresh(10 * S), true, 1, 1),
            Ok(Session::Replace { discard: Some(_), .. })
        ));
        assert!(matches!(
            session(Some(c.clone()), fresh(250 * S), false, 0, 1),
            Ok(Session::Replace { discard: Some(_), .. })
        ));
        assert!(matches!(session(None, fresh(10 * S), false, 1, 1), Err(FileError::TooManyContainers(1))));
    }

    #[test]
    fn a_flush_commits_exactly_the_contiguous_appends() {
        let mut s = state();
        s.has_name = true;
        s.chunks = vec![append(0, 5), append(5, 5), append(20, 1)];
        let p = plan(flush(10), &s, &limits()).unwrap();
        assert_eq!(p.insert.iter().map(|c| (c.start, c.size)).collect::<Vec<_>>(), vec![(0, 5), (5, 5)]);
        assert_eq!(p.garbage, vec!["a20".to_string()], "appends past the flush position are dropped");
        assert_eq!(p.blob.unwrap().unwrap().size, 10);
        for bad in [5 + 1, 9, 11, 21] {
            assert!(matches!(plan(flush(bad), &s, &limits()), Err(FileError::InvalidPosition(_))), "{bad}");
        }
        s.chunks = vec![append(0, 5), append(6, 4)];
        assert!(matches!(plan(flush(10), &s, &limits()), Err(FileError::InvalidPosition(_))), "a gap");
    }

    #[test]
    fn appends_never_rewrite_flushed_data_or_overlap() {
        let mut s = state();
        s.has_name = true;
        s.blob = Some(Blob { size: 10, ..Blob::default() });
        s.chunks = vec![append(10, 5)];
        let op = |position, size| Op::Append { position, object: "n".into(), size };
        assert!(matches!(plan(op(0, 3), &s, &limits()), Err(FileError::InvalidPosition(_))));
        assert!(matches!(plan(op(12, 3), &s, &limits()), Err(FileError::InvalidPosition(_))));
        assert_eq!(plan(op(10, 5), &s, &limits()).unwrap().garbage, vec!["a10".to_string()], "a retry replaces");
        assert!(plan(op(15, 5), &s, &limits()).is_ok());
        assert!(matches!(plan(op(995, 10), &s, &limits()), Err(FileError::TooLarge(1000))));
    }

    #[test]
    fn a_block_list_names_staged_or_committed_blocks_only() {
        let mut s = state();
        s.has_name = true;
        s.chunks = vec![block("A", 3), block("B", 4)];
        let list = |refs: Vec<BlockRef>| Op::PutBlockList {
            blocks: refs,
            props: Props::default(),
            cond: Conditions::default(),
        };
        let p =
            plan(list(vec![BlockRef::Latest("B".into()), BlockRef::Uncommitted("A".into())]), &s, &limits()).unwrap();
        assert_eq!(
            p.insert.iter().map(|c| (c.object.as_str(), c.start)).collect::<Vec<_>>(),
            vec![("bB", 0), ("bA", 4)]
        );
        assert!(p.garbage.is_empty());
        assert_eq!(p.blob.as_ref().unwrap().as_ref().unwrap().size, 7);
        assert!(matches!(
            plan(list(vec![BlockRef::Committed("A".into())]), &s, &limits()),
            Err(FileError::InvalidBlockList(_))
        ));
        assert!(matches!(
            plan(list(vec![BlockRef::Latest("Z".into())]), &s, &limits()),
            Err(FileError::InvalidBlockList(_))
        ));
        // Only A committed: B's staged object becomes garbage.
        let p = plan(list(vec![BlockRef::Latest("A".into())]), &s, &limits()).unwrap();
        assert_eq!(p.garbage, vec!["bB".to_string()]);
    }

    #[test]
    fn limits_and_conditions_are_checked_before_anything_changes() {
        let mut s = state();
        s.names = 3;
        let put = |cond| Op::PutBlob { object: Some(("o".into(), 10)), props: Props::default(), cond };
        assert!(matches!(plan(put(Conditions::default()), &s, &limits()), Err(FileError::TooManyFiles(3))));
        s.names = 0;
        assert!(matches!(
            plan(
                Op::PutBlob { object: Some(("o".into(), 1001)), props: Props::default(), cond: Conditions::default() },
                &s,
                &limits()
            ),
            Err(FileError::TooLarge(1000))
        ));
        s.blob = Some(Blob { etag: "0x1".into(), ..Blob::default() });
        let none_match = Conditions { if_none_match: Some("*".into()), if_match: None };
        assert!(matches!(plan(put(none_match), &s, &limits()), Err(FileError::Exists)));
        let wrong = Conditions { if_match: Some("\"0x2\"".into()), if_none_match: None };
        assert!(matches!(plan(put(wrong), &s, &limits()), Err(FileError::ConditionNotMet)));
        let right = Conditions { if_match: Some("\"0x1\"".into()), if_none_match: None };
        assert!(plan(put(right), &s, &limits()).is_ok());
        s.container.state = ContainerState::Finalized;
        assert!(matches!(
            plan(put(Conditions::default()), &s, &limits()),
            Err(FileError::Closed(ContainerState::Finalized))
        ));
        s.container.state = ContainerState::Open;
        s.now = 200;
        assert!(matches!(plan(put(Conditions::default()), &s, &limits()), Err(FileError::Closed(_))), "expired");
    }
}
