//! The files interface (what the server's storage emulation writes and the validator reads), on SQLite always
//! and on PostgreSQL when `ROSTERFLOW_TEST_DATABASE_URL` names a server.

use std::io::Read;

use bytes::Bytes;
use futures_util::TryStreamExt;
use rosterflow_store::files::{
    BlobAt, BlockRef, ByteStream, Conditions, ContainerState, EntrySource, FileError, Files, FilesConfig, Props,
    SyncReader,
};
use rosterflow_store::{open_with, TenantId};

async fn files() -> Vec<Files> {
    let dir = std::env::temp_dir().join(format!("rosterflow-files-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = FilesConfig::local(dir.join("files"));
    let mut out = vec![open_with(dir.join("db.sqlite3").to_str().unwrap(), config.clone()).await.unwrap().files];
    if let Some(admin) = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let prefix = std::env::var("ROSTERFLOW_TEST_DB_PREFIX").unwrap_or_else(|_| "rosterflow_".into());
        let name = format!("{prefix}files_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        let (prefix, _) = admin.rsplit_once('/').unwrap();
        out.push(open_with(&format!("{prefix}/{name}"), config).await.unwrap().files);
    }
    out
}

fn body(data: &'static [u8]) -> ByteStream {
    Box::pin(futures_util::stream::iter(data.chunks(3).map(|c| Ok(Bytes::from_static(c)))))
}

async fn read(stream: ByteStream) -> Vec<u8> {
    stream.try_collect::<Vec<Bytes>>().await.unwrap().concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_takes_files_the_validator_reads_then_finalizes_or_resets() {
    for files in files().await {
        let t = TenantId(format!("t-{}", uuid::Uuid::new_v4()));
        let c = files.session(&t, "Connector-1", false).await.unwrap();
        assert_eq!(files.session(&t, "connector-1", false).await.unwrap().id, c.id, "one open container per connector");
        assert!(files.open_container(&TenantId("other".into()), "connector-1").await.unwrap().is_none());
        let at = |name| BlobAt { tenant: &t, container: &c.id, name };
        files
            .put_blob(at("orgs.csv"), body(b"sourcedId\n1\n"), None, Props::default(), Conditions::default())
            .await
            .unwrap();
        files.put_block(at("users.csv"), "QQ==", body(b"world"), None).await.unwrap();
        files.put_block(at("users.csv"), "Qg==", body(b"hello "), None).await.unwrap();
        let blocks = vec![BlockRef::Latest("Qg==".into()), BlockRef::Latest("QQ==".into())];
        let blob =
            files.put_block_list(at("users.csv"), blocks, Props::default(), Conditions::default()).await.unwrap();
        assert_eq!(blob.size, 11);

        let listing = files.entries(&t, &c.id).await.unwrap();
        assert!(listing.problems.is_empty());
        assert_eq!(listing.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["orgs.csv", "users.csv"]);
        assert!(listing.files.iter().all(|f| f.source == EntrySource::Blob));
        let users = &listing.files[1];
        assert_eq!(read(files.open_entry(&t, &c.id, users).await.unwrap()).await, b"hello world");
        // The validator parses synchronously on a blocking thread: SyncReader bridges the stream.
        let stream = files.open_entry(&t, &c.id, users).await.unwrap();
        let handle = tokio::runtime::Handle::current();
        let text = tokio::task::spawn_blocking(move || {
            let mut s = String::new();
            SyncReader::new(stream, handle).read_to_string(&mut s).unwrap();
            s
        })
        .await
        .unwrap();
        assert_eq!(text, "hello world");

        files.finalize(&t, &c.id).await.unwrap();
        let late = files.put_blob(at("late.csv"), body(b"x"), None, Props::default(), Conditions::default()).await;
        assert!(matches!(late, Err(FileError::Closed(ContainerState::Finalized))), "{late:?}");
        assert!(matches!(files.finalize(&t, &c.id).await, Err(FileError::Closed(_))));
        assert!(matches!(files.finalize(&TenantId("other".into()), &c.id).await, Err(FileError::ContainerNotFound)));
        assert_eq!(files.entries(&t, &c.id).await.unwrap().files.len(), 2, "finalized files stay readable");

        let next = files.session(&t, "connector-1", false).await.unwrap();
        assert_ne!(next.id, c.id);
        files.reset(&t, &next.id).await.unwrap();
        assert!(files.open_container(&t, "connector-1").await.unwrap().is_none());
        assert_eq!(files.sweep().await.unwrap(), 1, "the reset container goes at the next sweep");
        assert!(files.container(&next.id).await.unwrap().is_none());
        assert!(files.container(&c.id).await.unwrap().is_some(), "the finalized one stays until it expires");
    }
}
