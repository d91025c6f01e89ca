use rosterflow_engine::{source::LocalSource, validate, NoProgress, Options};
fn main() {
    for dir in std::env::args().skip(1) {
        let out = validate(&mut LocalSource::new(&dir), &Options::default(), &NoProgress).unwrap();
        println!("== {dir} {:?} roster={}", out.format, out.roster.is_some());
        for f in out.report.examples() {
            println!("{:?} {} {} L{} {:?} {:?} | {}", f.severity, f.code, f.file, f.line, f.column, f.value, f.message);
        }
        if let Some(r) = &out.roster {
            for k in rosterflow_engine::schema::Kind::ALL {
                print!("{}={} ", k.name(), r.len(k));
            }
            println!();
        }
    }
}
