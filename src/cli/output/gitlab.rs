//! `--format gitlab`: a GitLab Code Quality report (a JSON array of Code Climate issues), for
//! the `artifacts:reports:codequality` of a job.

use serde::Serialize;

use super::{fingerprints, path_str, span_positions};
use crate::Report;
use crate::diagnostic::Severity;

#[derive(Serialize)]
struct Issue<'a> {
    description: &'a str,
    check_name: &'a str,
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

/// GitLab's severities are `blocker`, `critical`, `major`, `minor`, `info`.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Info => "info",
    }
}

/// Renders the report as one JSON array. The fingerprint is the one of the SARIF output
/// (`unleak/v1`): stable when unrelated lines are inserted or removed.
pub fn render(report: &Report) -> String {
    let prints = fingerprints(report);
    let issues: Vec<Issue> = report
        .diagnostics
        .iter()
        .zip(&prints)
        .map(|(d, fp)| {
            let (s, _) = span_positions(report, &d.file, &d.range);
            Issue {
                description: &d.message,
                check_name: d.rule,
                fingerprint: fp.full(),
                severity: severity(d.severity),
                location: Location {
                    path: path_str(&d.file),
                    lines: Lines { begin: s.line },
                },
            }
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).unwrap_or_else(|_| "[]".to_string());
    s.push('\n');
    s
}
