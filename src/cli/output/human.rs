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

/// Lines longer than this (in bytes) are not quoted.
const LONGEST_QUOTED_LINE: usize = 1_000;

/// The first and last lines of `range` in `file` are short enough to quote.
fn quotable(report: &Report, file: &std::path::Path, range: &std::ops::Range<usize>) -> bool {
    report.sources.get(file).is_some_and(|src| {
        [range.start, range.end].iter().all(|&o| {
            let line = src.lines.line_at(o);
            src.lines.line_range(&src.text, line).len() <= LONGEST_QUOTED_LINE
        })
    })
}

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
        let mut notes = Vec::new();
        match ids.get(&d.file) {
            Some(&id) if quotable(report, &d.file, &d.range) => {
                let mut labels = vec![CsLabel::primary(id, d.range.clone())];
                for l in &d.labels {
                    let file = l.file.as_ref().unwrap_or(&d.file);
                    if let Some(&lid) = ids.get(file)
                        && quotable(report, file, &l.range)
                    {
                        labels.push(
                            CsLabel::secondary(lid, l.range.clone()).with_message(&l.message),
                        );
                    }
                }
                cs = cs.with_labels(labels);
            }
            Some(_) => {
                // Minified code: quoting a line of megabytes once per finding would flood the
                // terminal (and fill disks): give the position instead.
                let (start, _) = super::span_positions(report, &d.file, &d.range);
                notes.push(format!(
                    "at {}:{}:{} (the line is too long to quote)",
                    d.file.display(),
                    start.line,
                    start.column
                ));
            }
            None => {
                // A file that could not be read has no source to show: name it in a note.
                notes.push(format!("in {}", d.file.display()));
            }
        }
        if let Some(h) = &d.help {
            notes.push(format!("help: {h}"));
        }
        cs = cs.with_notes(notes);
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
