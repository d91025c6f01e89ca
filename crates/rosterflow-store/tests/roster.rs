//! Roster snapshots on both backends: full-snapshot loads, inactive and changed markers, streaming scans.

mod common;

use rosterflow_store::roster::{RecordRow, RosterStore, Scan, SnapshotMeta, StoredRecord};
use rosterflow_store::StoreError;

fn row(kind: i16, key: &str, fields: &str) -> RecordRow {
    // Any stable function of the fields does for the store; the engine uses xxh3.
    let hash = fields.bytes().fold(17i64, |h, b| h.wrapping_mul(31).wrapping_add(b as i64));
    RecordRow { kind, key: key.into(), hash, fields: fields.into() }
}

fn meta(files: &[&str]) -> SnapshotMeta {
    SnapshotMeta { format: "schoolDataSyncV2Rev1".into(), files: files.iter().map(|f| f.to_string()).collect() }
}

async fn collect(store: &dyn RosterStore, t: &rosterflow_store::TenantId, flow: &str, scan: Scan) -> Vec<StoredRecord> {
    let mut rx = store.scan(t, flow, scan).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend(chunk.unwrap());
    }
    out
}

fn keys(records: &[StoredRecord]) -> Vec<&str> {
    records.iter().map(|r| r.key.as_str()).collect()
}

#[tokio::test]
async fn a_second_load_marks_removed_changed_and_new_records_and_leaves_the_rest_alone() {
    for stores in common::all_backends().await {
        let store = &*stores.roster;
        let (t, other) = (common::tenant(), common::tenant());
        let first = vec![
            row(3, "u1", "u1\u{1f}ann"),
            row(3, "u2", "u2\u{1f}bob"),
            row(3, "u3", "u3\u{1f}cy"),
            row(6, "c1\u{1f}u1\u{1f}student", "x"),
        ];
        let s1 = store.load_snapshot(&t, "flow-a", meta(&["orgs.csv", "users.csv"]), first).await.unwrap();
        assert_eq!((s1.seq, s1.records, s1.inserted, s1.changed, s1.removed), (1, 4, 4, 0, 0));

        // u2 removed, u3 changed, u1 and the enrollment unchanged, u4 new.
        let second = vec![
            row(3, "u1", "u1\u{1f}ann"),
            row(3, "u3", "u3\u{1f}cyd"),
            row(3, "u4", "u4\u{1f}dee"),
            row(6, "c1\u{1f}u1\u{1f}student", "x"),
        ];
        let s2 = store.load_snapshot(&t, "flow-a", meta(&["users.csv"]), second).await.unwrap();
        assert_eq!((s2.seq, s2.records, s2.inserted, s2.changed, s2.removed), (2, 4, 1, 1, 1));

        let active = collect(store, &t, "flow-a", Scan::Active).await;
        assert_eq!(keys(&active), ["u1", "u3", "u4", "c1\u{1f}u1\u{1f}student"]);
        let u1 = &active[0];
        assert_eq!(
            (u1.first_seen, u1.changed_in, u1.removed_in, u1.last_seen(s2.seq)),
            (1, 1, None, 2),
            "unchanged: only last-seen moves (derived)"
        );
        let u3 = &active[1];
        assert_eq!((u3.first_seen, u3.changed_in, u3.fields.as_str()), (1, 2, "u3\u{1f}cyd"), "changed in snapshot 2");
        assert_eq!((active[2].first_seen, active[2].changed_in), (2, 2), "new in snapshot 2");

        let changed = collect(store, &t, "flow-a", Scan::ChangedSince(1)).await;
        assert_eq!(keys(&changed), ["u2", "u3", "u4"]);
        let u2 = &changed[0];
        assert_eq!(
            (u2.active(), u2.removed_in, u2.last_seen(s2.seq), u2.first_seen),
            (false, Some(2), 1, 1),
            "absent: inactive"
        );
        assert!(collect(store, &t, "flow-a", Scan::ChangedSince(2)).await.is_empty());

        // u2 comes back: restored, first seen kept.
        let third = vec![
            row(3, "u1", "u1\u{1f}ann"),
            row(3, "u2", "u2\u{1f}bob"),
            row(3, "u3", "u3\u{1f}cyd"),
            row(3, "u4", "u4\u{1f}dee"),
            row(6, "c1\u{1f}u1\u{1f}student", "x"),
        ];
        let s3 = store.load_snapshot(&t, "flow-a", meta(&["users.csv"]), third).await.unwrap();
        assert_eq!((s3.seq, s3.records, s3.inserted, s3.changed, s3.removed), (3, 5, 0, 1, 0));
        let all = collect(store, &t, "flow-a", Scan::All).await;
        let u2 = all.iter().find(|r| r.key == "u2").unwrap();
        assert_eq!((u2.active(), u2.first_seen, u2.changed_in), (true, 1, 3));

        let snaps = store.snapshots(&t, "flow-a").await.unwrap();
        assert_eq!(snaps.iter().map(|s| s.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(snaps[0].files, ["orgs.csv", "users.csv"]);
        assert_eq!(store.latest_snapshot(&t, "flow-a").await.unwrap().unwrap().seq, 3);

        // Tenants and flows are apart.
        assert!(collect(store, &other, "flow-a", Scan::All).await.is_empty());
        assert!(store.snapshots(&other, "flow-a").await.unwrap().is_empty());
        assert!(collect(store, &t, "flow-b", Scan::All).await.is_empty());

        store.delete_flow(&t, "flow-a").await.unwrap();
        assert!(collect(store, &t, "flow-a", Scan::All).await.is_empty());
        assert!(store.latest_snapshot(&t, "flow-a").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn large_loads_go_in_batches_and_scans_stream_in_chunks() {
    for stores in common::all_backends().await {
        let store = &*stores.roster;
        let t = common::tenant();
        let records: Vec<RecordRow> = (0..45_000).map(|i| row(6, &format!("k{i:06}"), &format!("f{i}"))).collect();
        let s1 = store.load_snapshot(&t, "f", meta(&["enrollments.csv"]), records.clone()).await.unwrap();
        assert_eq!(s1.inserted, 45_000);
        // Every third record changes, the last 1000 go.
        let next: Vec<RecordRow> = records[..44_000]
            .iter()
            .enumerate()
            .map(|(i, r)| if i % 3 == 0 { row(6, &r.key, &format!("g{i}")) } else { r.clone() })
            .collect();
        let s2 = store.load_snapshot(&t, "f", meta(&["enrollments.csv"]), next).await.unwrap();
        assert_eq!((s2.records, s2.inserted, s2.changed, s2.removed), (44_000, 0, 14_667, 1000));
        let mut rx = store.scan(&t, "f", Scan::Active).await.unwrap();
        let (mut chunks, mut n, mut last) = (0, 0, String::new());
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= rosterflow_store::roster::SCAN_CHUNK);
            for r in &chunk {
                assert!(r.key > last, "ordered by key");
                last = r.key.clone();
            }
            chunks += 1;
            n += chunk.len();
        }
        assert_eq!((n, chunks), (44_000, 6));
    }
}

#[tokio::test]
async fn a_load_with_a_repeated_key_fails_whole() {
    for stores in common::all_backends().await {
        let store = &*stores.roster;
        let t = common::tenant();
        let bad = vec![row(3, "u1", "a"), row(3, "u1", "b")];
        assert!(matches!(store.load_snapshot(&t, "f", meta(&[]), bad).await, Err(StoreError::Backend(_))));
        assert!(store.snapshots(&t, "f").await.unwrap().is_empty());
        let fine = vec![row(3, "u1", "a"), row(4, "u1", "b")];
        assert_eq!(store.load_snapshot(&t, "f", meta(&[]), fine).await.unwrap().seq, 1, "keys are per kind");
    }
}

#[tokio::test]
async fn keys_and_fields_keep_every_character_and_unchanged_kinds_are_skipped() {
    for stores in common::all_backends().await {
        let store = &*stores.roster;
        let t = common::tenant();
        let odd = vec![row(1, "a\\b\tc\nd\re", "x\\y\tz"), row(2, "é—ß", "\u{1f}\u{1e}"), row(3, "u1", "u1")];
        store.load_snapshot(&t, "f", meta(&[]), odd.clone()).await.unwrap();
        let back = collect(store, &t, "f", Scan::All).await;
        let got: Vec<(&str, &str)> = back.iter().map(|r| (r.key.as_str(), r.fields.as_str())).collect();
        assert_eq!(got, [("a\\b\tc\nd\re", "x\\y\tz"), ("é—ß", "\u{1f}\u{1e}"), ("u1", "u1")]);
        // Kinds 1 and 2 unchanged (skipped by their digests), kind 3 changed.
        let next = vec![odd[0].clone(), odd[1].clone(), row(3, "u1", "u1 changed")];
        let s = store.load_snapshot(&t, "f", meta(&[]), next).await.unwrap();
        assert_eq!((s.records, s.inserted, s.changed, s.removed), (3, 0, 1, 0));
        // Kind 2 left out: its records go.
        let s =
            store.load_snapshot(&t, "f", meta(&[]), vec![odd[0].clone(), row(3, "u1", "u1 changed")]).await.unwrap();
        assert_eq!((s.records, s.inserted, s.changed, s.removed), (2, 0, 0, 1));
    }
}
