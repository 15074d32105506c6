//! `cargo unleak --message-format json`: cargo's `compiler-message` JSON lines (one per finding,
//! then `build-finished`), so rust-analyzer's `check.overrideCommand` shows findings in editors.

use serde_json::json;

use super::{path_str, span_positions};
use crate::Report;
use crate::diagnostic::Severity;

/// A cargo package as `cargo metadata` describes it, for the messages about its files.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package's folder (holding its `Cargo.toml`).
    pub root: std::path::PathBuf,
    /// `package_id` as cargo prints it.
    pub id: String,
    pub manifest_path: String,
    /// Its targets, as `cargo metadata` gives them (`kind`, `crate_types`, `name`, `src_path`).
    pub targets: Vec<serde_json::Value>,
}

impl Package {
    /// The target a file belongs to: the one whose source folder holds it most closely (a
    /// binary under `src/bin/`, an example under `examples/`), else the library, else the
    /// first.
    fn target_of(&self, file: &std::path::Path) -> serde_json::Value {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let folder = |t: &serde_json::Value| {
            t["src_path"]
                .as_str()
                .and_then(|p| std::path::Path::new(p).parent().map(|d| d.to_path_buf()))
        };
        self.targets
            .iter()
            .filter(|t| folder(t).is_some_and(|d| abs.starts_with(d)))
            .max_by_key(|t| {
                let lib = t["kind"].as_array().is_some_and(|k| {
                    k.iter()
                        .any(|k| k == "lib" || k == "proc-macro" || k == "rlib")
                });
                (folder(t).map_or(0, |d| d.components().count()), lib)
            })
            .or_else(|| self.targets.iter().find(|t| t["kind"][0] == "lib"))
            .or(self.targets.first())
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Renders the report as cargo JSON messages, one per line; each names the package (of
/// `packages`, the one whose folder holds the file most closely) and target it concerns.
pub fn render(report: &Report, packages: &[Package]) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let abs = std::path::absolute(&d.file).unwrap_or_else(|_| d.file.clone());
        let package = packages
            .iter()
            .filter(|p| abs.starts_with(&p.root))
            .max_by_key(|p| p.root.components().count());
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
            "package_id": package.map_or("", |p| p.id.as_str()),
            "manifest_path": package.map_or("", |p| p.manifest_path.as_str()),
            "target": package.map_or(serde_json::Value::Null, |p| p.target_of(&d.file)),
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
