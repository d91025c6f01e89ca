//! `rosterflow validate` and `rosterflow generate`, the real binary on the real sample sets: exit codes, the
//! table, and the `--json` fileValidateOperation.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rosters").join(name)
}

fn rosterflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rosterflow")).args(args).output().expect("run rosterflow")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

#[test]
fn validate_a_clean_sample_exits_0() {
    let out = rosterflow(&["validate", fixture("microsoft-sds-v2.1").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("OK. Format schoolDataSyncV2Rev1; 10 files, 44 rows; 0 errors, 0 warnings."), "{table}");

    let out = rosterflow(&["validate", "--json", fixture("microsoft-sds-v1-100-users").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let op = json(&out);
    assert_eq!(op["@odata.type"], "#microsoft.graph.industryData.fileValidateOperation");
    assert_eq!(op["status"], "succeeded");
    assert_eq!(op["errors"], serde_json::json!([]));
    assert_eq!(op["validatedFiles"].as_array().unwrap().len(), 6);
}

#[test]
fn validate_with_errors_exits_1_and_names_each_finding() {
    let out = rosterflow(&["validate", "--json", "--examples", "1", fixture("sdslib-v2.1").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let op = json(&out);
    let errors: Vec<(&str, &str)> = op["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [("InvalidYear", "academicSessions.csv"), ("FieldCountMismatch", "demographics.csv")]);
    assert_eq!(op["errors"][0]["details"][0]["target"], "academicSessions.csv, line 2, column schoolYear");
    let phones = op["warnings"].as_array().unwrap().iter().find(|w| w["code"] == "InvalidPhoneNumber").unwrap();
    assert_eq!(phones["details"].as_array().unwrap().len(), 1, "--examples 1");
    assert!(phones["message"].as_str().unwrap().contains("2 occurrences"));

    let out = rosterflow(&["validate", fixture("catalyst-oneroster-1.2").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("RequiredHeaderNotFound") && table.contains("REFUSED"), "{table}");
    let out = rosterflow(&["validate", "--json", fixture("catalyst-oneroster-1.2").to_str().unwrap()]);
    let op = json(&out);
    assert_eq!(op["validatedFiles"], serde_json::json!([]), "a refused upload validates no file for processing");
    assert!(op["statusDetail"].as_str().unwrap().starts_with("refused"));
}

#[test]
fn validate_refuses_bad_arguments_with_exit_2() {
    let out = rosterflow(&["validate", "--format", "xml", fixture("microsoft-sds-v2.1").to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown --format"));
    let out = rosterflow(&["validate", "/nonexistent/roster"]);
    assert_ne!(out.status.code(), Some(0));
    // --format overrides detection: v1 files read as v2.1 lack every required file.
    let out =
        rosterflow(&["validate", "--format", "v2.1", "--json", fixture("microsoft-sds-v1-min").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["errors"][0]["code"], "RequiredFileNotFound");
}

#[test]
fn generate_then_validate_clean_and_deterministic() {
    let base = std::env::temp_dir().join(format!("rosterflow-cli-{}", uuid::Uuid::new_v4()));
    let (a, b) = (base.join("a"), base.join("b"));
    for d in [&a, &b] {
        let out = rosterflow(&["generate", "--students", "300", "--seed", "9", d.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("300 students"));
    }
    assert_eq!(std::fs::read(a.join("enrollments.csv")).unwrap(), std::fs::read(b.join("enrollments.csv")).unwrap());
    let out = rosterflow(&["validate", "--json", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let op = json(&out);
    assert_eq!((op["errors"].as_array().unwrap().len(), op["warnings"].as_array().unwrap().len()), (0, 0));
    std::fs::remove_dir_all(base).unwrap();
}
