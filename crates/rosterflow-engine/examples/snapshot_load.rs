//! Snapshot-load benchmark (bench/validate.sh; figures in docs/benchmarks.md): validate a district, then
//! load it as a flow's snapshot, again unchanged, again with 1 % of enrollments changed, and read the active
//! snapshot back, timing each step.
//!
//! `cargo run --release -p rosterflow-engine --example snapshot_load -- DIR DATABASE_URL`

use std::time::Instant;

use rosterflow_engine::schema::Kind;
use rosterflow_engine::snapshot::{read_active, rows};
use rosterflow_engine::source::LocalSource;
use rosterflow_engine::{validate, NoProgress, Options};
use rosterflow_store::roster::SnapshotMeta;
use rosterflow_store::TenantId;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, url) = (&args[1], &args[2]);
    let t0 = Instant::now();
    let outcome = validate(&mut LocalSource::new(dir), &Options::default(), &NoProgress).expect("validate");
    let roster = outcome.roster.expect("a clean district");
    println!(
        "validate (records kept): {:.2} s, {} enrollments",
        t0.elapsed().as_secs_f64(),
        roster.len(Kind::Enrollment)
    );
    let t = Instant::now();
    let records = rows(&roster);
    println!("encode + hash {} records: {:.2} s", records.len(), t.elapsed().as_secs_f64());
    let stores = rosterflow_store::open(url).await.expect("open store");
    let tenant = TenantId("bench".into());
    let meta = SnapshotMeta { format: "schoolDataSyncV2Rev1".into(), files: outcome.report.validated_files.clone() };

    let copy = records.clone();
    let t = Instant::now();
    let s = stores.roster.load_snapshot(&tenant, "flow", meta.clone(), copy).await.expect("load 1");
    println!("load 1 (all new): {:.2} s, inserted {}", t.elapsed().as_secs_f64(), s.inserted);

    let copy = records.clone();
    let t = Instant::now();
    let s = stores.roster.load_snapshot(&tenant, "flow", meta.clone(), copy).await.expect("load 2");
    println!("load 2 (unchanged): {:.2} s, changed {} removed {}", t.elapsed().as_secs_f64(), s.changed, s.removed);

    // 1 % of enrollments change role (a new key, the old one removed).
    let enrollment = Kind::Enrollment as i16;
    let mut changed = records.clone();
    let mut n = 0;
    for (i, r) in changed.iter_mut().enumerate() {
        if r.kind == enrollment && i % 100 == 0 {
            r.key = r.key.replace("\u{1f}student", "\u{1f}aide");
            r.fields = r.fields.replace("\u{1f}student", "\u{1f}aide");
            r.hash ^= 1;
            n += 1;
        }
    }
    changed.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    changed.dedup_by(|a, b| a.kind == b.kind && a.key == b.key);
    let t = Instant::now();
    let s = stores.roster.load_snapshot(&tenant, "flow", meta, changed).await.expect("load 3");
    println!(
        "load 3 ({n} enrollments changed): {:.2} s, inserted {} changed {} removed {}",
        t.elapsed().as_secs_f64(),
        s.inserted,
        s.changed,
        s.removed
    );

    let t = Instant::now();
    let back = read_active(&*stores.roster, &tenant, "flow").await.expect("read");
    println!("read active snapshot: {:.2} s, {} enrollments", t.elapsed().as_secs_f64(), back.len(Kind::Enrollment));
}
