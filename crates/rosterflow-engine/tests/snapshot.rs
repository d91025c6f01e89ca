//! Validated rosters become inbound flows' snapshots, on SQLite and (with `ROSTERFLOW_TEST_DATABASE_URL`)
//! PostgreSQL: Microsoft's sample loads whole and reads back identical; a record removed from the next upload
//! becomes inactive; a forgotten file is warned.

use std::sync::Arc;

use rosterflow_engine::inbound::validate_and_load;
use rosterflow_engine::schema::Kind;
use rosterflow_engine::snapshot::{encode, read_active, read_active_before};
use rosterflow_engine::source::{LocalSource, MemorySource};
use rosterflow_engine::{Code, NoProgress, Options, Roster};
use rosterflow_store::roster::Scan;
use rosterflow_store::{open, Stores, TenantId};

async fn backends() -> Vec<Stores> {
    let dir = std::env::temp_dir().join(format!("rosterflow-engine-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = vec![open(dir.join("db.sqlite3").to_str().unwrap()).await.unwrap()];
    if let Some(admin) = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let prefix = std::env::var("ROSTERFLOW_TEST_DB_PREFIX").unwrap_or_else(|_| "rosterflow_".into());
        let name = format!("{prefix}engine_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        let (prefix, _) = admin.rsplit_once('/').unwrap();
        out.push(open(&format!("{prefix}/{name}")).await.unwrap());
    }
    out
}

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rosters/microsoft-sds-v2.1")
}

/// Every record of a roster, encoded, sorted (row order differs between a validated and a read roster).
fn contents(r: &Roster) -> Vec<String> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        for row in 0..r.len(kind) as u32 {
            let mut s = format!("{}:", kind.name());
            encode(r, kind, row, &mut s);
            out.push(s);
        }
    }
    out.sort();
    out
}

fn files_of(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn microsofts_sample_becomes_the_snapshot_and_a_removed_record_goes_inactive() {
    let validated =
        rosterflow_engine::validate(&mut LocalSource::new(sample()), &Options::default(), &NoProgress).unwrap();
    let expected = contents(validated.roster.as_ref().unwrap());
    for stores in backends().await {
        let t = TenantId(format!("t-{}", uuid::Uuid::new_v4()));
        let first = validate_and_load(
            stores.roster.clone(),
            t.clone(),
            vec!["flow-1".into()],
            Box::new(LocalSource::new(sample())),
            Options::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert!(!first.outcome.report.has_errors());
        let s1 = first.snapshot("flow-1").expect("loaded").clone();
        assert_eq!((s1.seq, s1.records, s1.inserted), (1, 44, 44));
        assert_eq!(s1.format, "schoolDataSyncV2Rev1");
        assert_eq!(contents(&read_active(&*stores.roster, &t, "flow-1").await.unwrap()), expected);

        // The next upload drops student 114008's enrollment line and the whole userFlags.csv.
        let mut files = files_of(&sample());
        files.retain(|(n, _)| n != "userFlags.csv");
        let enrollments = files.iter_mut().find(|(n, _)| n == "enrollments.csv").unwrap();
        let text = String::from_utf8(enrollments.1.clone()).unwrap().replace("112001,114008,student\r\n", "");
        enrollments.1 = text.into_bytes();
        let second = validate_and_load(
            stores.roster.clone(),
            t.clone(),
            vec!["flow-1".into()],
            Box::new(MemorySource::new(files)),
            Options::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert_eq!(second.outcome.report.count_of(Code::PreviouslyUploadedFileNotFound), 1, "userFlags.csv forgotten");
        let s2 = second.snapshot("flow-1").unwrap().clone();
        assert_eq!((s2.seq, s2.inserted, s2.changed, s2.removed, s2.records), (2, 0, 0, 4, 40));
        let mut rx = stores.roster.scan(&t, "flow-1", Scan::ChangedSince(1)).await.unwrap();
        let mut changed = Vec::new();
        while let Some(c) = rx.recv().await {
            changed.extend(c.unwrap());
        }
        assert_eq!(changed.len(), 4);
        assert!(changed.iter().all(|r| r.removed_in == Some(2) && r.first_seen == 1));
        assert!(changed
            .iter()
            .any(|r| r.kind == Kind::Enrollment as i16 && r.key == "112001\u{1f}114008\u{1f}student"));
        let active = read_active(&*stores.roster, &t, "flow-1").await.unwrap();
        assert_eq!((active.len(Kind::Enrollment), active.len(Kind::UserFlag), active.len(Kind::User)), (5, 0, 8));
        // A run's read (`read_active_fields`, borrowed rows) is the scan's roster cut at demographics, row
        // for row in the same order.
        let run_read = read_active_before(&*stores.roster, &t, "flow-1", Kind::Demographic).await.unwrap();
        for kind in Kind::ALL {
            let rows = |r: &Roster| {
                (0..r.len(kind) as u32)
                    .map(|row| {
                        let mut s = String::new();
                        encode(r, kind, row, &mut s);
                        s
                    })
                    .collect::<Vec<_>>()
            };
            let expected = if kind < Kind::Demographic { rows(&active) } else { vec![] };
            assert_eq!(rows(&run_read), expected, "{}", kind.name());
        }
    }
}

#[tokio::test]
async fn a_refused_upload_loads_nothing() {
    for stores in backends().await {
        let t = TenantId("t-refused".into());
        let files = MemorySource::new([("users.csv", "sourcedId,username\nu1,a\n")]);
        let v = validate_and_load(
            stores.roster.clone(),
            t.clone(),
            vec!["f".into()],
            Box::new(files),
            Options::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert!(v.outcome.refused && v.snapshots.is_empty());
        assert_eq!(v.outcome.report.count_of(Code::RequiredFileNotFound), 2, "orgs.csv and roles.csv");
        assert!(stores.roster.latest_snapshot(&t, "f").await.unwrap().is_none());
    }
}
