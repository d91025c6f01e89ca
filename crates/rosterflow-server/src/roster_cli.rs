//! The roster commands of the `rosterflow` binary: `validate` (an admin checks an export before uploading it;
//! the same validator and findings as the `validate` action) and `generate` (a district for tests and
//! benchmarks). The work is the engine's (`rosterflow-engine`); this wires flags, a progress bar and the exit
//! code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rosterflow_engine::generate::{generate as write_district, District};
use rosterflow_engine::source::LocalSource;
use rosterflow_engine::{render, validate as run, Format, Options, Progress};
use rosterflow_model::reference::Catalog;

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// A folder of roster files (zips in it are read too) or a zip file.
    pub path: PathBuf,
    /// schoolDataSyncV2Rev1 (v2.1), schoolDataSyncV1 (v1) or oneRosterCsv (oneroster); default: from the
    /// files present (v1 if School.csv or Section.csv, OneRoster if manifest.csv, else v2.1).
    #[arg(long)]
    pub format: Option<String>,
    /// Print the fileValidateOperation as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Examples listed per finding code and file (every occurrence is counted).
    #[arg(long, default_value_t = 20)]
    pub examples: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print each file's rows and time on stderr.
    #[arg(long)]
    pub timings: bool,
}

/// Files smaller than this get no progress bar.
const BAR_FROM_BYTES: u64 = 8 << 20;

/// A bar per large file, on stderr (hidden when stderr is not a terminal).
struct Bar {
    bar: ProgressBar,
    quiet: bool,
    /// `--timings`: when the current file started.
    timings: Option<std::sync::Mutex<Instant>>,
}

impl Progress for Bar {
    fn file_started(&self, name: &str, size: Option<u64>) {
        if let Some(t) = &self.timings {
            *t.lock().expect("timer") = Instant::now();
        }
        match size {
            Some(n) if n >= BAR_FROM_BYTES && !self.quiet => {
                self.bar.set_draw_target(ProgressDrawTarget::stderr());
                self.bar.reset();
                self.bar.set_length(n);
                self.bar.set_position(0);
                self.bar.set_message(name.to_string());
            }
            _ => self.bar.set_draw_target(ProgressDrawTarget::hidden()),
        }
    }
    fn advanced(&self, _name: &str, _rows: u64, bytes: u64) {
        self.bar.set_position(bytes);
    }
    fn file_finished(&self, name: &str, rows: u64) {
        self.bar.finish_and_clear();
        if let Some(t) = &self.timings {
            let secs = t.lock().expect("timer").elapsed().as_secs_f64();
            eprintln!("{name:>22} {rows:>10} rows {secs:>8.3} s {:>12.0} rows/s", rows as f64 / secs.max(1e-9));
        }
    }
}

/// Validate; the process's exit code: 0 clean or warnings only, 1 errors.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<i32> {
    let format = match &args.format {
        Some(f) => Some(Format::parse(f).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown --format '{f}': use schoolDataSyncV2Rev1 (v2.1), schoolDataSyncV1 (v1) or oneRosterCsv"
            )
        })?),
        None => None,
    };
    if !args.path.exists() {
        anyhow::bail!("{} does not exist", args.path.display());
    }
    let opts = Options {
        format,
        catalog: Arc::new(Catalog::default()),
        examples_per_code: args.examples,
        keep_records: false,
        ..Options::default()
    };
    let style = ProgressStyle::with_template("{msg:>20} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let timings = args.timings.then(|| std::sync::Mutex::new(Instant::now()));
    let bar = Bar { bar: ProgressBar::hidden().with_style(style), quiet: args.quiet, timings };
    let started = Instant::now();
    let created = rosterflow_model::time::now();
    let outcome = run(&mut LocalSource::new(&args.path), &opts, &bar)?;
    let elapsed = started.elapsed();
    if args.json {
        let id = uuid::Uuid::new_v4().to_string();
        let op = render::operation_json(&outcome, &id, &created, &rosterflow_model::time::now());
        print(&format!("{}\n", serde_json::to_string_pretty(&op)?))?;
    } else {
        print(&render::table(&outcome))?;
        let secs = elapsed.as_secs_f64().max(1e-9);
        eprintln!("{} rows in {:.2} s ({:.0} rows/s)", outcome.rows, secs, outcome.rows as f64 / secs);
    }
    Ok(i32::from(outcome.report.has_errors()))
}

/// Print to stdout; a closed pipe (`| head`) ends the output quietly.
fn print(s: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(s.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// The folder to write the SDS v2.1 files into (created if missing; files there are replaced).
    pub dir: PathBuf,
    /// Students in the district (elementary 45 %, middle 23 %, high 32 %).
    #[arg(long, default_value_t = 1000)]
    pub students: u64,
    /// Seed: the same seed and flags write the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Students per teacher, per school.
    #[arg(long, default_value_t = 20)]
    pub students_per_teacher: u64,
    /// Students per middle- and high-school section.
    #[arg(long, default_value_t = 28)]
    pub class_size: u64,
    /// Percent of classes with a co-teacher.
    #[arg(long, default_value_t = 10)]
    pub co_teachers: u32,
    /// Percent of classes with a substitute.
    #[arg(long, default_value_t = 3)]
    pub substitutes: u32,
    /// Percent of students who changed school mid-year.
    #[arg(long, default_value_t = 2)]
    pub transfers: u32,
    /// Leave out guardians, demographics and user flags.
    #[arg(long)]
    pub no_guardians: bool,
    /// The users' email domain.
    #[arg(long, default_value = "contoso.edu")]
    pub domain: String,
    /// The school year's ending year (2025 is 2024-25).
    #[arg(long, default_value_t = 2025)]
    pub year: u32,
}

pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    if args.students_per_teacher == 0 || args.class_size < 8 {
        anyhow::bail!("--students-per-teacher must be at least 1 and --class-size at least 8");
    }
    let d = District {
        students: args.students,
        seed: args.seed,
        students_per_teacher: args.students_per_teacher,
        class_size: args.class_size,
        co_teacher_percent: args.co_teachers,
        substitute_percent: args.substitutes,
        transfer_percent: args.transfers,
        guardians: !args.no_guardians,
        domain: args.domain.clone(),
        year: args.year,
        ..District::default()
    };
    let s = write_district(&d, &args.dir)?;
    print(&format!(
        "{}: {} schools, {} users ({} students, {} teachers, {} guardians), {} classes, {} courses, {} roles, {} enrollments, {} bytes\n",
        args.dir.display(),
        s.schools,
        s.users,
        s.students,
        s.teachers,
        s.guardians,
        s.classes,
        s.courses,
        s.roles,
        s.enrollments,
        s.bytes
    ))
}
