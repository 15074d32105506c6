//! `cargo unleak --message-format json`: cargo's `compiler-message` JSON lines (one per finding,
//! then `build-finished`), so rust-analyzer's `check.overrideCommand` shows findings in editors.

use serde_json::json;

use super::{path_str, span_positions};
use crate::Report;
use crate::diagnostic::Severity;

/// Renders the report as cargo JSON messages, one per line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let (s, e) = span_positions(report, &d.file, &d.range);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        let file = path_str(&d.file);
        let span = |range: &std::ops::Range<usize>, primary: bool, label: Option<&str>| {
            let (s, e) = span_positions(report, &d.file, range);
            json!({
                "file_name": file, "byte_start": range.start, "byte_end": range.end,
                "line_start": s.line, "line_end": e.line,
                "column_start": s.column, "column_end": e.column,
                "is_primary": primary, "text": [], "label": label,
                "suggested_replacement": null, "suggestion_applicability": null, "expansion": null,
            })
        };
        let mut spans = vec![span(&d.range, true, None)];
        for l in d.labels.iter().filter(|l| l.file.is_none()) {
            spans.push(span(&l.range, false, Some(&l.message)));
        }
        let children: Vec<serde_json::Value> = d
            .help
            .iter()
            .map(|h| {
                json!({"message": h, "code": null, "level": "help", "spans": [], "children": [], "rendered": null})
            })
            .collect();
        let rendered = format!(
            "{level}[{}]: {}\n  --> {file}:{}:{}\n{}",
            d.rule,
            d.message,
            s.line,
            s.column,
            d.help
                .as_deref()
                .map(|h| format!("  = help: {h}\n"))
                .unwrap_or_default()
        );
        let _ = e;
        let msg = json!({
            "reason": "compiler-message",
            "package_id": "unleak",
            "manifest_path": "",
            "target": {"kind": ["lib"], "crate_types": ["lib"], "name": "unleak", "src_path": file},
            "message": {
                "rendered": rendered,
                "$message_type": "diagnostic",
                "message": d.message,
                "code": {"code": d.rule, "explanation": null},
                "level": level,
                "spans": spans,
                "children": children,
            }
        });
        out.push_str(&msg.to_string());
        out.push('\n');
    }
    let success = !report
        .diagnostics
        .iter()
        .any(|d| d.severity >= Severity::Warning);
    out.push_str(&json!({"reason": "build-finished", "success": success}).to_string());
    out.push('\n');
    out
}
