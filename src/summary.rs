//! What a run did, counted once for every output: findings by severity, the files they are in,
//! what is fixable and with which flag, what could not be linted, and what was passed over.

use std::collections::HashSet;

use serde::Serialize;

use crate::Report;
use crate::diagnostic::{Applicability, Diagnostic, Severity};
use crate::discover::Skipped;

/// The counts of a run (the JSON `summary`; the human summary lines say the same).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files linted (including those that could not be).
    pub files: usize,
    /// Every diagnostic of the report: findings and per-file failures.
    pub diagnostics: usize,
    /// Kept for compatibility: the same count as `failures` — files that could not be linted,
    /// *not* findings of severity error (those are in `by_severity`).
    pub errors: usize,
    /// Diagnostics that are findings of a rule (not per-file failures).
    pub findings: usize,
    /// Files that could not be linted (`io-error`, `parse-error`, `timeout`, `internal-error` of
    /// severity error).
    pub failures: usize,
    /// Findings by severity (per-file failures are counted in `failures`).
    pub by_severity: BySeverity,
    /// Files holding at least one finding.
    pub files_with_findings: usize,
    /// Findings that carry a fix: `safe` ones `--fix` applies, `unsafe` ones only with
    /// `--unsafe-fixes` (a finding with both counts as safe).
    pub fixable: Fixable,
    /// What discovery passed over.
    pub skipped: Skipped,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BySeverity {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Fixable {
    pub safe: usize,
    #[serde(rename = "unsafe")]
    pub unsafe_: usize,
}

impl Fixable {
    /// Counts the fixes of `diagnostics` by the best applicability each finding offers.
    pub fn count<'a>(diagnostics: impl IntoIterator<Item = &'a Diagnostic>) -> Fixable {
        let mut f = Fixable::default();
        for d in diagnostics {
            let best = d
                .fixes
                .iter()
                .map(|x| x.applicability)
                .filter(|a| *a != Applicability::DisplayOnly)
                .min();
            match best {
                Some(Applicability::Safe) => f.safe += 1,
                Some(_) => f.unsafe_ += 1,
                None => {}
            }
        }
        f
    }
}

impl Summary {
    pub fn of(report: &Report) -> Summary {
        let is_failure = |d: &Diagnostic| d.is_failure() && d.severity == Severity::Error;
        let findings: Vec<&Diagnostic> = report
            .diagnostics
            .iter()
            .filter(|d| !d.is_failure())
            .collect();
        let mut by_severity = BySeverity::default();
        for d in &findings {
            match d.severity {
                Severity::Error => by_severity.error += 1,
                Severity::Warning => by_severity.warning += 1,
                Severity::Info => by_severity.info += 1,
            }
        }
        let failures = report.diagnostics.iter().filter(|d| is_failure(d)).count();
        let files_with_findings = findings
            .iter()
            .map(|d| d.file.as_path())
            .collect::<HashSet<_>>()
            .len();
        Summary {
            files: report.files,
            diagnostics: report.diagnostics.len(),
            errors: failures,
            findings: findings.len(),
            failures,
            by_severity,
            files_with_findings,
            fixable: Fixable::count(findings.iter().copied()),
            skipped: report.skipped.clone(),
        }
    }

    /// The closing lines of the human output, e.g. "Found 27 findings in 13 files (9 errors,
    /// 18 warnings); 13 files linted." and "25 fixable with `--fix --unsafe-fixes` (2 of them
    /// with `--fix` alone)."
    pub fn lines(&self, nothing_linted: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        if let (0, Some(why)) = (self.files, nothing_linted) {
            out.push(why.to_string());
            return out;
        }
        let linted = plural(self.files, "file");
        if self.findings == 0 {
            out.push(format!("No leaks found in {linted}."));
        } else {
            let mut kinds = Vec::new();
            for (n, what) in [
                (self.by_severity.error, "error"),
                (self.by_severity.warning, "warning"),
                (self.by_severity.info, "note"),
            ] {
                if n > 0 {
                    kinds.push(plural(n, what));
                }
            }
            out.push(format!(
                "Found {} in {} ({}); {linted} linted.",
                plural(self.findings, "finding"),
                plural(self.files_with_findings, "file"),
                kinds.join(", ")
            ));
        }
        if let Some(line) = self.fixable.line() {
            out.push(line);
        }
        if self.failures > 0 {
            out.push(format!(
                "{} could not be linted (see the io-error, parse-error or timeout above).",
                plural(self.failures, "file")
            ));
        }
        out
    }
}

impl Fixable {
    /// "25 fixable with `--fix --unsafe-fixes` (2 of them with `--fix` alone)."; `None` when
    /// nothing is fixable.
    pub fn line(&self) -> Option<String> {
        match (self.safe, self.unsafe_) {
            (0, 0) => None,
            (s, 0) => Some(format!("{s} fixable with `--fix`.")),
            (0, u) => Some(format!("{u} fixable with `--fix --unsafe-fixes`.")),
            (s, u) => Some(format!(
                "{} fixable with `--fix --unsafe-fixes` ({s} of them with `--fix` alone).",
                s + u
            )),
        }
    }
}

/// "1 file", "3 files", "2 fixes".
pub fn plural(n: usize, what: &str) -> String {
    let suffix = match (n, what.ends_with(['s', 'x'])) {
        (1, _) => "",
        (_, true) => "es",
        _ => "s",
    };
    format!("{n} {what}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Fix;

    fn diag(rule: &'static str, sev: Severity, file: &str, fixes: &[Applicability]) -> Diagnostic {
        let mut d = Diagnostic::new(rule, sev, file.into(), 0..1, "m");
        d.fixes = fixes
            .iter()
            .map(|a| Fix {
                title: "t".into(),
                applicability: *a,
                edits: Vec::new(),
            })
            .collect();
        d
    }

    #[test]
    fn counts_findings_failures_and_fixes_apart() {
        let report = Report {
            files: 4,
            diagnostics: vec![
                diag(
                    "orphaned-interval",
                    Severity::Error,
                    "a.ts",
                    &[Applicability::Unsafe],
                ),
                diag(
                    "silent-error",
                    Severity::Warning,
                    "a.ts",
                    &[Applicability::Unsafe, Applicability::Safe],
                ),
                diag(
                    "silent-error",
                    Severity::Warning,
                    "b.ts",
                    &[Applicability::DisplayOnly],
                ),
                diag("parse-error", Severity::Error, "c.ts", &[]),
                diag("parse-error", Severity::Info, "d.ts", &[]),
            ],
            ..Report::default()
        };
        let s = Summary::of(&report);
        assert_eq!((s.findings, s.failures, s.errors), (3, 1, 1));
        assert_eq!(s.files_with_findings, 2);
        assert_eq!(
            s.by_severity,
            BySeverity {
                error: 1,
                warning: 2,
                info: 0
            }
        );
        assert_eq!(
            s.fixable,
            Fixable {
                safe: 1,
                unsafe_: 1
            }
        );
        assert_eq!(
            s.lines(None),
            vec![
                "Found 3 findings in 2 files (1 error, 2 warnings); 4 files linted.",
                "2 fixable with `--fix --unsafe-fixes` (1 of them with `--fix` alone).",
                "1 file could not be linted (see the io-error, parse-error or timeout above).",
            ]
        );
    }

    #[test]
    fn a_clean_run_and_an_empty_one() {
        let clean = Summary::of(&Report {
            files: 1,
            ..Report::default()
        });
        assert_eq!(clean.lines(None), vec!["No leaks found in 1 file."]);
        let empty = Summary::of(&Report::default());
        assert_eq!(
            empty.lines(Some("0 files linted: no files found")),
            vec!["0 files linted: no files found"]
        );
    }
}
