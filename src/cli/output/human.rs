//! Human output: codespan-reporting diagnostics with labels and help, then a summary line.

use std::collections::HashMap;
use std::path::PathBuf;

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity,
};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::WriteColor};

use crate::Report;
use crate::diagnostic::Severity;

/// Writes every diagnostic and a summary to `out`.
pub fn render(report: &Report, out: &mut dyn WriteColor) -> std::io::Result<()> {
    let mut files = SimpleFiles::new();
    let mut ids: HashMap<PathBuf, usize> = HashMap::new();
    let mut paths: Vec<&PathBuf> = report.sources.keys().collect();
    paths.sort();
    for p in paths {
        let src = &report.sources[p];
        ids.insert(
            p.clone(),
            files.add(p.display().to_string(), src.text.clone()),
        );
    }
    let config = term::Config::default();
    for d in &report.diagnostics {
        let severity = match d.severity {
            Severity::Error => CsSeverity::Error,
            Severity::Warning => CsSeverity::Warning,
            Severity::Info => CsSeverity::Note,
        };
        let mut cs = CsDiagnostic::new(severity)
            .with_code(d.rule)
            .with_message(&d.message);
        match ids.get(&d.file) {
            Some(&id) => {
                let mut labels = vec![CsLabel::primary(id, d.range.clone())];
                for l in &d.labels {
                    let file = l.file.as_ref().unwrap_or(&d.file);
                    if let Some(&lid) = ids.get(file) {
                        labels.push(
                            CsLabel::secondary(lid, l.range.clone()).with_message(&l.message),
                        );
                    }
                }
                cs = cs.with_labels(labels);
            }
            None => {
                // A file that could not be read has no source to show: name it in a note.
                cs = cs.with_notes(vec![format!("in {}", d.file.display())]);
            }
        }
        if let Some(h) = &d.help {
            cs = cs.with_notes(vec![format!("help: {h}")]);
        }
        if term::emit_to_write_style(out, &config, &files, &cs).is_err() {
            writeln!(out, "{}: {}: {}", d.file.display(), d.rule, d.message)?;
        }
    }
    let n = report.diagnostics.len();
    let failures = report.failures();
    if n == 0 {
        writeln!(out, "unleak: no leaks found in {} file(s)", report.files)?;
    } else {
        writeln!(
            out,
            "unleak: {} finding(s) in {} file(s){}",
            n - failures,
            report.files,
            if failures > 0 {
                format!(", {failures} file(s) could not be linted")
            } else {
                String::new()
            }
        )?;
    }
    Ok(())
}
