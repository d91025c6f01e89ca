//! A generated district: every class provisioned, then 1% of enrollments changed changes only those.

use rosterflow_engine::generate::{generate, District};
use rosterflow_engine::run::RunStatus;
use rosterflow_engine::source::LocalSource;
use rosterflow_model::directory::Relation;

use crate::common::*;

#[tokio::test]
async fn a_generated_district_runs_and_one_percent_of_changed_enrollments_changes_only_those() {
    let dir = std::env::temp_dir().join(format!("rosterflow-runs-district-{}", uuid::Uuid::new_v4()));
    let summary = generate(&District { students: 2000, seed: 11, ..District::default() }, &dir).unwrap();
    let flows = crate::sample::flows("pw", "pw");
    for b in backends().await {
        let t = tenant();
        b.configure(&t, None, &flows).await;
        b.load(&t, LocalSource::new(&dir)).await;
        let (report, _) = b.run(&t).await;
        assert_ne!(report.status, RunStatus::Failed, "{:#?}", report.blocking_error);
        let inbound = report.activities[0].inbound.as_ref().unwrap();
        assert_eq!(inbound.groups.active as u64, summary.classes);

        // Drop every 100th enrollment line.
        let path = dir.join("enrollments.csv");
        let original = std::fs::read_to_string(&path).unwrap();
        let mut kept = String::new();
        let mut dropped = Vec::new();
        for (i, line) in original.lines().enumerate() {
            if i > 0 && i % 100 == 0 {
                dropped.push(line.to_string());
            } else {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        let changed = dir.join("changed");
        std::fs::create_dir_all(&changed).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.path().is_file() {
                std::fs::copy(e.path(), changed.join(e.file_name())).unwrap();
            }
        }
        std::fs::write(changed.join("enrollments.csv"), kept).unwrap();
        b.load(&t, LocalSource::new(&changed)).await;
        let preview = rosterflow_engine::run::preview(&b.ctx(&t)).await.unwrap();
        let class = preview.flows.iter().find(|f| f.display_name.starts_with("classGroup")).unwrap();
        assert!(class.creates.is_empty() && class.updates.is_empty(), "{class:#?}");
        let removed: u64 = class.removals.iter().map(|(_, n)| n).sum();
        // Student enrollments are member removals; teacher and others' owner removals may wait (last owner).
        assert!(removed > 0 && removed <= dropped.len() as u64, "{removed} of {}", dropped.len());
        let before = b.versions(&t).await;
        b.run(&t).await;
        assert_eq!(b.versions(&t).await, before, "no object is rewritten for membership changes");
        // Every dropped student enrollment is gone from its class; the run wrote no object.
        for line in dropped.iter().filter(|l| l.ends_with(",student")).take(20) {
            let mut it = line.split(',');
            let (class, student) = (it.next().unwrap(), it.next().unwrap());
            let student_id = rosterflow_engine::run::desire::object_id(t.as_str(), &format!("user:{student}"));
            let members = b.related(&t, Relation::Members, &class_id(&t, class)).await;
            assert!(!members.contains(&student_id), "{student} left {class}");
            assert!(!members.is_empty());
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
