//! A district generator: a valid SDS v2.1 set (`rosterflow generate`) with realistic shapes, deterministic for
//! a seed. Tests and benchmarks use it (the runs benchmark's district: 100k students, 5k teachers, about 21k
//! classes and 600k enrollments).
//!
//! Shapes: a district org above its schools; schools by level (elementary K–5 with a homeroom and three
//! specials per student, middle 6–8 with seven sections, high 9–12 with eight; sizes about 500 / 800 / 1500);
//! teachers at one per [`District::students_per_teacher`] students of their school, each teaching several
//! sections; co-teachers on some classes, substitutes and aides on others; a principal per school; a school
//! year with two semesters (high-school sections are per semester); courses per school, subject and grade;
//! guardians (none, one or two per student, as contacts in relationships.csv); demographics and user flags
//! for students; and mid-year transfers (a student with an ended role at a previous school of the same level).
//!
//! Files are written school by school, so memory stays flat however large the district.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct District {
    pub students: u64,
    pub seed: u64,
    pub students_per_teacher: u64,
    /// Students per section (middle and high; elementary homerooms are a little smaller).
    pub class_size: u64,
    /// Share of classes with a co-teacher, a substitute, an aide (percent).
    pub co_teacher_percent: u32,
    pub substitute_percent: u32,
    pub aide_percent: u32,
    /// Share of students who moved school during the year (percent).
    pub transfer_percent: u32,
    /// Generate guardians, demographics, user flags.
    pub guardians: bool,
    pub domain: String,
    /// The school year's ending year (`2025` is 2024–25).
    pub year: u32,
}

impl Default for District {
    fn default() -> Self {
        District {
            students: 1000,
            seed: 1,
            students_per_teacher: 20,
            class_size: 28,
            co_teacher_percent: 10,
            substitute_percent: 3,
            aide_percent: 5,
            transfer_percent: 2,
            guardians: true,
            domain: "contoso.edu".into(),
            year: 2025,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub schools: u64,
    pub students: u64,
    pub teachers: u64,
    pub guardians: u64,
    pub users: u64,
    pub classes: u64,
    pub courses: u64,
    pub enrollments: u64,
    pub roles: u64,
    pub bytes: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Elementary,
    Middle,
    High,
}

impl Level {
    fn grades(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Level::Elementary => 0..=5,
            Level::Middle => 6..=8,
            Level::High => 9..=12,
        }
    }
    fn size(self) -> u64 {
        match self {
            Level::Elementary => 500,
            Level::Middle => 800,
            Level::High => 1500,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Level::Elementary => "Elementary School",
            Level::Middle => "Middle School",
            Level::High => "High School",
        }
    }
    /// Subjects a student takes (elementary: homeroom plus specials).
    fn subjects(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Level::Elementary => &[("Homeroom", "01"), ("Art", "05"), ("Music", "05"), ("Physical Education", "08")],
            Level::Middle => &[
                ("English", "01"),
                ("Mathematics", "02"),
                ("Science", "03"),
                ("Social Studies", "04"),
                ("Art", "05"),
                ("Physical Education", "08"),
                ("Spanish", "24"),
            ],
            Level::High => &[
                ("English", "01"),
                ("Mathematics", "02"),
                ("Biology", "03"),
                ("History", "04"),
                ("Music", "05"),
                ("Health", "08"),
                ("Computer Science", "10"),
                ("French", "24"),
            ],
        }
    }
}

fn grade_code(g: u32) -> String {
    if g == 0 {
        "KG".into()
    } else {
        format!("{g:02}")
    }
}

const GIVEN: &[&str] = &[
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Mateo", "Sofia", "Lucas", "Mia", "Amir", "Zoe", "Ethan", "Maya", "Leo",
    "Aisha", "Hugo", "Chloe", "Kenji", "Ines", "Omar", "Priya", "Jonas", "Lena", "Diego", "Nora", "Sami",
];
const FAMILY: &[&str] = &[
    "Garcia", "Smith", "Nguyen", "Johnson", "Kim", "Brown", "Martin", "Lopez", "Khan", "Wilson", "Rossi", "Moreau",
    "Okafor", "Novak", "Silva", "Tanaka", "Schmidt", "Haddad", "Andersen", "Murphy", "Costa", "Ivanova",
];
const FLAGS: &[&str] = &["iep", "504", "freeLunch", "reducedLunch", "englishLanguageLearner", "giftedOrTalented"];
const RACES: &[&str] = &[
    "asian",
    "white",
    "blackOrAfricanAmerican",
    "americanIndianOrAlaskaNative",
    "nativeHawaiianOrOtherPacificIslander",
];

struct Out {
    files: Vec<(&'static str, BufWriter<File>)>,
}

impl Out {
    fn w(&mut self, i: usize) -> &mut BufWriter<File> {
        &mut self.files[i].1
    }
}

const ORGS: usize = 0;
const SESSIONS: usize = 1;
const COURSES: usize = 2;
const USERS: usize = 3;
const ROLES: usize = 4;
const CLASSES: usize = 5;
const ENROLLMENTS: usize = 6;
const DEMOGRAPHICS: usize = 7;
const FLAGS_FILE: usize = 8;
const RELATIONSHIPS: usize = 9;

/// Write the district's SDS v2.1 files into `dir` (created if missing).
pub fn generate(d: &District, dir: &Path) -> std::io::Result<Summary> {
    std::fs::create_dir_all(dir)?;
    let names: [(&str, &str); 10] = [
        ("orgs.csv", "sourcedId,name,type,parentSourcedId"),
        ("academicSessions.csv", "sourcedId,title,type,schoolYear,startDate,endDate"),
        ("courses.csv", "sourcedId,orgSourcedId,title,code,schoolYearSourcedId,subject,grade"),
        (
            "users.csv",
            "sourcedId,username,givenName,familyName,password,activeDirectoryMatchId,email,phone,sms,userNumber",
        ),
        ("roles.csv", "userSourcedId,orgSourcedId,role,sessionSourcedIds,grade,isPrimary,roleStartDate,roleEndDate"),
        ("classes.csv", "sourcedId,orgSourcedId,title,sessionSourcedIds,courseSourcedId,code"),
        ("enrollments.csv", "classSourcedId,userSourcedId,role"),
        ("demographics.csv", "userSourcedId,sex,birthDate,birthCity,birthState,birthCountry,ethnicityCodes,raceCodes"),
        ("userFlags.csv", "userSourcedId,flag"),
        ("relationships.csv", "userSourcedId,relationshipUserSourcedId,relationshipRole"),
    ];
    let mut out = Out { files: Vec::new() };
    for (name, header) in names {
        let mut w = BufWriter::with_capacity(1 << 18, File::create(dir.join(name))?);
        writeln!(w, "{header}")?;
        out.files.push((name, w));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(d.seed);
    let mut s = Summary::default();
    let y = d.year;
    let (sy, fall, spring) = (format!("SY{y}"), format!("FA{y}"), format!("SP{y}"));
    writeln!(out.w(SESSIONS), "{sy},{} School Year,schoolYear,{y},{}-08-20,{y}-06-15", y - 1, y - 1)?;
    writeln!(out.w(SESSIONS), "{fall},Fall {},semester,{y},{}-08-20,{}-12-20", y - 1, y - 1, y - 1)?;
    writeln!(out.w(SESSIONS), "{spring},Spring {y},semester,{y},{y}-01-06,{y}-06-15")?;
    writeln!(out.w(ORGS), "D1,Contoso Unified School District,district,")?;

    // Schools by level: 45 % of students in elementary, 23 % middle, 32 % high.
    let mut schools: Vec<(Level, u64)> = Vec::new();
    for (level, share) in [(Level::Elementary, 45), (Level::Middle, 23), (Level::High, 32)] {
        let mut left = d.students * share / 100;
        if level == Level::High {
            left = d.students - schools.iter().map(|(_, n)| n).sum::<u64>();
        }
        let count = left.div_ceil(level.size()).max(1);
        for i in 0..count {
            let n = left / (count - i);
            left -= n;
            schools.push((level, n));
        }
    }
    let (mut next_student, mut next_teacher, mut next_guardian, mut next_class) = (0u64, 0u64, 0u64, 0u64);
    let mut first_of_level: Vec<(Level, u64)> = Vec::new();
    for (school_index, &(level, size)) in schools.iter().enumerate() {
        let org = format!("S{}", school_index + 1);
        writeln!(out.w(ORGS), "{org},{} {},school,D1", FAMILY[school_index % FAMILY.len()], level.name())?;
        if !first_of_level.iter().any(|(l, _)| *l == level) {
            first_of_level.push((level, school_index as u64 + 1));
        }
        s.schools += 1;
        // The principal.
        let p = format!("P{}", school_index + 1);
        let (given, family) = (GIVEN[school_index % GIVEN.len()], FAMILY[(school_index + 7) % FAMILY.len()]);
        user_row(&mut out, &p, given, family, &d.domain, &mut rng, &mut s)?;
        writeln!(out.w(ROLES), "{p},{org},principal,{sy},,true,{}-07-01,{y}-06-30", y - 1)?;
        s.roles += 1;

        // Teachers of the school.
        let teachers: Vec<String> = (0..(size / d.students_per_teacher).max(2))
            .map(|_| {
                next_teacher += 1;
                format!("T{next_teacher}")
            })
            .collect();
        for t in &teachers {
            let (given, family) = (GIVEN[rng.gen_range(0..GIVEN.len())], FAMILY[rng.gen_range(0..FAMILY.len())]);
            user_row(&mut out, t, given, family, &d.domain, &mut rng, &mut s)?;
            writeln!(out.w(ROLES), "{t},{org},teacher,{sy},,true,{}-08-15,{y}-06-30", y - 1)?;
            s.roles += 1;
            s.teachers += 1;
        }

        // Students by grade, and each grade's sections per subject.
        let grades: Vec<u32> = level.grades().collect();
        let mut teacher_cursor = 0usize;
        for (gi, &grade) in grades.iter().enumerate() {
            let n = grades.len() as u64;
            let in_grade = size / n + u64::from((gi as u64) < size % n);
            let students: Vec<String> = (0..in_grade)
                .map(|_| {
                    next_student += 1;
                    format!("U{next_student}")
                })
                .collect();
            let g = grade_code(grade);
            for st in &students {
                let (given, family) = (GIVEN[rng.gen_range(0..GIVEN.len())], FAMILY[rng.gen_range(0..FAMILY.len())]);
                user_row(&mut out, st, given, family, &d.domain, &mut rng, &mut s)?;
                s.students += 1;
                let transfer = rng.gen_range(0..100) < d.transfer_percent && school_index > 0;
                if transfer {
                    // Moved here in January from another school (the first of the same level, or the previous one).
                    let from = first_of_level
                        .iter()
                        .find(|(l, i)| *l == level && *i != school_index as u64 + 1)
                        .map_or(school_index as u64, |(_, i)| *i);
                    writeln!(out.w(ROLES), "{st},S{from},student,{sy},{g},false,{}-08-20,{}-12-20", y - 1, y - 1)?;
                    writeln!(out.w(ROLES), "{st},{org},student,{sy},{g},true,{y}-01-06,{y}-06-15")?;
                    s.roles += 2;
                } else {
                    writeln!(out.w(ROLES), "{st},{org},student,{sy},{g},true,{}-08-20,{y}-06-15", y - 1)?;
                    s.roles += 1;
                }
                if d.guardians {
                    student_extras(&mut out, st, &mut rng, &mut next_guardian, &mut s)?;
                }
            }
            let class_size = if level == Level::Elementary { d.class_size - 4 } else { d.class_size };
            let sections = (in_grade.div_ceil(class_size)).max(1);
            for (subject, subject_code) in level.subjects() {
                let course = format!("C{}-{}-{}", school_index + 1, g, subject.replace(' ', ""));
                writeln!(
                    out.w(COURSES),
                    "{course},{org},{subject} {g},{}{g},{sy},{subject_code},{g}",
                    &subject[..3].to_uppercase()
                )?;
                s.courses += 1;
                let mut order: Vec<&String> = students.iter().collect();
                order.shuffle(&mut rng);
                for section in 0..sections {
                    next_class += 1;
                    let class = format!("K{next_class}");
                    let session = match level {
                        Level::High if section % 2 == 1 => &spring,
                        Level::High => &fall,
                        _ => &sy,
                    };
                    writeln!(
                        out.w(CLASSES),
                        "{class},{org},{subject} {g} - {},{session},{course},{}",
                        section + 1,
                        next_class
                    )?;
                    s.classes += 1;
                    let teacher = &teachers[teacher_cursor % teachers.len()];
                    teacher_cursor += 1;
                    writeln!(out.w(ENROLLMENTS), "{class},{teacher},teacher")?;
                    s.enrollments += 1;
                    let extra = rng.gen_range(0..100);
                    if extra < d.co_teacher_percent {
                        let co = &teachers[(teacher_cursor + teachers.len() / 2) % teachers.len()];
                        if co != teacher {
                            writeln!(out.w(ENROLLMENTS), "{class},{co},teacher")?;
                            s.enrollments += 1;
                        }
                    } else if extra < d.co_teacher_percent + d.substitute_percent {
                        let sub = &teachers[(teacher_cursor + 1) % teachers.len()];
                        if sub != teacher {
                            writeln!(out.w(ENROLLMENTS), "{class},{sub},substitute")?;
                            s.enrollments += 1;
                        }
                    } else if extra < d.co_teacher_percent + d.substitute_percent + d.aide_percent {
                        let aide = &teachers[(teacher_cursor + 2) % teachers.len()];
                        if aide != teacher {
                            writeln!(out.w(ENROLLMENTS), "{class},{aide},aide")?;
                            s.enrollments += 1;
                        }
                    }
                    let lo = (section * in_grade / sections) as usize;
                    let hi = ((section + 1) * in_grade / sections) as usize;
                    for st in &order[lo..hi] {
                        writeln!(out.w(ENROLLMENTS), "{class},{st},student")?;
                        s.enrollments += 1;
                    }
                }
            }
        }
    }
    for (name, mut w) in out.files {
        w.flush()?;
        s.bytes += dir.join(name).metadata()?.len();
    }
    Ok(s)
}

fn user_row(
    out: &mut Out,
    id: &str,
    given: &str,
    family: &str,
    domain: &str,
    rng: &mut ChaCha8Rng,
    s: &mut Summary,
) -> std::io::Result<()> {
    let username = format!("{}.{}.{}@{domain}", given.to_lowercase(), family.to_lowercase(), id.to_lowercase());
    let number = rng.gen_range(100_000..999_999);
    writeln!(out.w(USERS), "{id},{username},{given},{family},,{username},{username},,,{number}")?;
    s.users += 1;
    Ok(())
}

fn student_extras(
    out: &mut Out,
    st: &str,
    rng: &mut ChaCha8Rng,
    next_guardian: &mut u64,
    s: &mut Summary,
) -> std::io::Result<()> {
    let sex = ["male", "female", "notSelected"][rng.gen_range(0..3)];
    let race = RACES[rng.gen_range(0..RACES.len())];
    let ethnicity = if rng.gen_range(0..4) == 0 { "hispanicOrLatinoEthnicity" } else { "" };
    let (by, bm, bd) = (rng.gen_range(2006..2020), rng.gen_range(1..=12), rng.gen_range(1..=28));
    writeln!(out.w(DEMOGRAPHICS), "{st},{sex},{by}-{bm:02}-{bd:02},Redmond,WA,USA,{ethnicity},{race}")?;
    if rng.gen_range(0..100) < 12 {
        writeln!(out.w(FLAGS_FILE), "{st},{}", FLAGS[rng.gen_range(0..FLAGS.len())])?;
    }
    let guardians = match rng.gen_range(0..100) {
        0..15 => 0,
        15..75 => 1,
        _ => 2,
    };
    for n in 0..guardians {
        *next_guardian += 1;
        let g = format!("G{next_guardian}");
        let (given, family) = (GIVEN[rng.gen_range(0..GIVEN.len())], FAMILY[rng.gen_range(0..FAMILY.len())]);
        let email = format!("{}.{}{}@mail.example.org", given.to_lowercase(), family.to_lowercase(), next_guardian);
        let phone = format!("+1425{:07}", rng.gen_range(0..10_000_000));
        writeln!(out.w(USERS), "{g},{email},{given},{family},,,{email},{phone},{phone},")?;
        s.users += 1;
        s.guardians += 1;
        writeln!(out.w(RELATIONSHIPS), "{st},{g},{}", if n == 0 { "parent" } else { "guardian" })?;
    }
    Ok(())
}
