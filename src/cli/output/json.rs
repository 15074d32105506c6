//! `--format json`: the versioned, documented machine contract (see README, "JSON output").

use serde::Serialize;

use super::span_positions;
use crate::Report;

#[derive(Serialize)]
struct Output<'a> {
    version: u32,
    diagnostics: Vec<Diag<'a>>,
    summary: crate::summary::Summary,
}

#[derive(Serialize)]
struct Diag<'a> {
    rule: &'a str,
    severity: &'a str,
    path: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
    help: Option<&'a str>,
    labels: Vec<Label<'a>>,
    fixes: Vec<Fix<'a>>,
}

#[derive(Serialize)]
struct Label<'a> {
    path: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
}

#[derive(Serialize)]
struct Fix<'a> {
    title: &'a str,
    applicability: crate::diagnostic::Applicability,
    edits: Vec<Edit<'a>>,
}

#[derive(Serialize)]
struct Edit<'a> {
    path: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    content: &'a str,
}

/// Renders the report as one JSON document.
pub fn render(report: &Report) -> String {
    let path_str = |p: &std::path::Path| p.to_string_lossy().replace('\\', "/");
    let diagnostics = report
        .diagnostics
        .iter()
        .map(|d| {
            let (s, e) = span_positions(report, &d.file, &d.range);
            Diag {
                rule: d.rule,
                severity: d.severity.as_str(),
                path: path_str(&d.file),
                line: s.line,
                column: s.column,
                end_line: e.line,
                end_column: e.column,
                message: &d.message,
                help: d.help.as_deref(),
                labels: d
                    .labels
                    .iter()
                    .map(|l| {
                        let file = l.file.as_deref().unwrap_or(&d.file);
                        let (s, e) = span_positions(report, file, &l.range);
                        Label {
                            path: path_str(file),
                            line: s.line,
                            column: s.column,
                            end_line: e.line,
                            end_column: e.column,
                            message: &l.message,
                        }
                    })
                    .collect(),
                fixes: d
                    .fixes
                    .iter()
                    .map(|f| Fix {
                        title: &f.title,
                        applicability: f.applicability,
                        edits: f
                            .edits
                            .iter()
                            .map(|ed| {
                                let file = ed.file.as_deref().unwrap_or(&d.file);
                                let (s, e) = span_positions(report, file, &ed.range);
                                Edit {
                                    path: path_str(file),
                                    line: s.line,
                                    column: s.column,
                                    end_line: e.line,
                                    end_column: e.column,
                                    content: &ed.content,
                                }
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect();
    let out = Output {
        version: 1,
        diagnostics,
        summary: crate::summary::Summary::of(report),
    };
    let mut s = serde_json::to_string_pretty(&out).unwrap_or_else(|e| {
        format!("{{\"version\":1,\"error\":\"cannot serialise the report: {e}\"}}")
    });
    s.push('\n');
    s
}
