//! How a validation reads: the `fileValidateOperation` JSON (`rosterflow validate --json`, and what the
//! `validate` action stores), and a plain table for people (`rosterflow validate`).

use serde_json::{json, Value};

use crate::finding::Severity;
use crate::validate::Outcome;

/// The operation as Graph returns it (graph-docs `industrydata-filevalidateoperation.md`), with the
/// validation's `errors`, `warnings` and `validatedFiles`. `status` is `succeeded` when validation ran to the
/// end, whatever it found (as the docs' example: a missing required file is an error of a succeeded
/// operation); `statusDetail` says whether the files were loaded.
pub fn operation_json(outcome: &Outcome, id: &str, created: &str, finished: &str) -> Value {
    let loaded = !outcome.refused;
    json!({
        "@odata.type": "#microsoft.graph.industryData.fileValidateOperation",
        "id": id,
        "createdDateTime": created,
        "lastActionDateTime": finished,
        "status": "succeeded",
        "statusDetail": if loaded { "validated: the files can be loaded" } else { "refused: the files can't be loaded (see errors)" },
        "errors": outcome.report.public_errors(Severity::Error),
        "warnings": outcome.report.public_errors(Severity::Warning),
        // The docs' example of a refused upload lists none: validated files are those that will be processed.
        "validatedFiles": if loaded { outcome.report.validated_files.clone() } else { Vec::new() },
    })
}

/// A table of every finding group (count, severity, code, file) and its examples, then a summary line.
pub fn table(outcome: &Outcome) -> String {
    let mut out = String::new();
    let r = &outcome.report;
    if !r.groups().is_empty() {
        out.push_str(&format!("{:<8} {:>9}  {:<32} {}\n", "SEVERITY", "COUNT", "CODE", "FILE"));
    }
    for g in r.groups() {
        let sev = match g.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{:<8} {:>9}  {:<32} {}\n", sev, g.count, g.code.as_str(), g.file));
        for f in &g.examples {
            out.push_str(&format!("{:>20}{}\n", "", f.message));
        }
        if g.count > g.examples.len() as u64 && !g.examples.is_empty() {
            out.push_str(&format!("{:>20}… and {} more\n", "", g.count - g.examples.len() as u64));
        }
    }
    let (errors, warnings) = (r.count(Severity::Error), r.count(Severity::Warning));
    let verdict = match (outcome.refused, errors) {
        (true, _) => "REFUSED: the upload can't be loaded",
        (false, 0) => "OK",
        (false, _) => "LOADABLE: records with errors would be dropped",
    };
    out.push_str(&format!(
        "{verdict}. Format {}; {} files, {} rows; {errors} errors, {warnings} warnings.\n",
        outcome.format,
        r.validated_files.len(),
        outcome.rows
    ));
    out
}
