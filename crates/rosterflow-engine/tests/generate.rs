//! The district generator writes valid SDS v2.1 sets, the same for the same seed.

use rosterflow_engine::generate::{generate, District};
use rosterflow_engine::schema::Kind;
use rosterflow_engine::source::LocalSource;
use rosterflow_engine::{validate, NoProgress, Options};

fn dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rosterflow-gen-{tag}-{}", uuid::Uuid::new_v4()))
}

#[test]
fn generated_districts_validate_clean_at_several_sizes() {
    for students in [1, 40, 700, 5000] {
        let d = dir("size");
        let s = generate(&District { students, seed: 7, ..District::default() }, &d).unwrap();
        let o = validate(&mut LocalSource::new(&d), &Options::default(), &NoProgress).unwrap();
        let findings: Vec<String> = o.report.examples().map(|f| f.message.clone()).collect();
        assert!(findings.is_empty(), "{students} students: {findings:#?}");
        let r = o.roster.unwrap();
        assert_eq!(r.len(Kind::User) as u64, s.users);
        assert_eq!(r.len(Kind::Enrollment) as u64, s.enrollments);
        assert_eq!(r.len(Kind::Class) as u64, s.classes);
        assert_eq!(r.len(Kind::Role) as u64, s.roles);
        assert_eq!(s.students, students);
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_shapes_are_realistic() {
    let d = dir("shape");
    let s = generate(&District { students: 5000, ..District::default() }, &d).unwrap();
    // About 6 enrollments per student, 20 students per teacher, co-teachers, substitutes, guardians.
    let per_student = s.enrollments as f64 / s.students as f64;
    assert!((5.0..7.5).contains(&per_student), "{per_student}");
    assert!((200..300).contains(&s.teachers), "{}", s.teachers);
    assert!(s.guardians > s.students, "most students have a guardian, some two");
    let enrollments = std::fs::read_to_string(d.join("enrollments.csv")).unwrap();
    for role in [",teacher\n", ",substitute\n", ",aide\n"] {
        assert!(enrollments.contains(role), "{role}");
    }
    let roles = std::fs::read_to_string(d.join("roles.csv")).unwrap();
    assert!(roles.lines().any(|l| l.contains(",student,") && l.ends_with("-12-20")), "a transfer's ended role");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn the_same_seed_writes_the_same_files() {
    let (a, b, c) = (dir("a"), dir("b"), dir("c"));
    let district = District { students: 900, seed: 42, ..District::default() };
    generate(&district, &a).unwrap();
    generate(&district, &b).unwrap();
    generate(&District { seed: 43, ..district }, &c).unwrap();
    let read = |d: &std::path::Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for f in [
        "orgs.csv",
        "users.csv",
        "roles.csv",
        "classes.csv",
        "enrollments.csv",
        "relationships.csv",
        "demographics.csv",
    ] {
        assert_eq!(read(&a, f), read(&b, f), "{f}");
    }
    assert_ne!(read(&a, "users.csv"), read(&c, "users.csv"));
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
