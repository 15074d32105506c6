//! `--format sarif`: SARIF 2.1.0, as GitHub code scanning (`github/codeql-action/upload-sarif`)
//! and other SARIF viewers read it. One run; the rules of the registry as `tool.driver.rules`;
//! one result per finding; files that could not be linted (`io-error`, `parse-error`, `timeout`,
//! `internal-error`) as tool execution notifications of the invocation, not as results.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{fingerprints, path_str, span_positions};
use crate::diagnostic::is_failure;
use crate::diagnostic::{INTERNAL_ERROR, IO_ERROR, PARSE_ERROR, Severity, TIMEOUT};
use crate::uri::{encode_path, file_uri};
use crate::{Report, registry};

/// The schema the document declares.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where users learn about the tool: the package's repository or homepage when it names one.
fn information_uri() -> &'static str {
    let repo = env!("CARGO_PKG_REPOSITORY");
    let home = env!("CARGO_PKG_HOMEPAGE");
    if !repo.is_empty() {
        repo
    } else if !home.is_empty() {
        home
    } else {
        "https://crates.io/crates/unleak"
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The artifact location of a path of the report: relative to `%SRCROOT%` (the working
/// directory) when the report holds it relative, an absolute `file:` URI otherwise.
pub fn artifact_location(path: &Path) -> Value {
    let s = path_str(path);
    let windows_abs = s.as_bytes().get(1) == Some(&b':');
    if path.is_absolute() || s.starts_with('/') || windows_abs {
        json!({ "uri": file_uri(&s) })
    } else {
        json!({ "uri": encode_path(&s), "uriBaseId": "%SRCROOT%" })
    }
}

/// A region in a file of the report, or `None` when its source is unknown (unreadable file).
fn region(report: &Report, file: &Path, range: &std::ops::Range<usize>) -> Option<Value> {
    report.sources.get(file)?;
    let (s, e) = span_positions(report, file, range);
    Some(json!({
        "startLine": s.line,
        "startColumn": s.column,
        "endLine": e.line,
        "endColumn": e.column,
    }))
}

fn physical_location(report: &Report, file: &Path, range: &std::ops::Range<usize>) -> Value {
    let mut loc = Map::new();
    loc.insert("artifactLocation".into(), artifact_location(file));
    if let Some(r) = region(report, file, range) {
        loc.insert("region".into(), r);
    }
    Value::Object(loc)
}

/// The first paragraph of a rule's "What it does" section, as plain-ish text.
fn full_description(doc: &str, summary: &str) -> String {
    let Some(start) = doc.find("## What it does") else {
        return summary.to_string();
    };
    let para: Vec<&str> = doc[start..]
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    if para.is_empty() {
        summary.to_string()
    } else {
        para.join(" ")
    }
}

/// Descriptors of the per-file failures, reported as notifications.
const NOTIFICATIONS: &[(&str, &str)] = &[
    (
        IO_ERROR,
        "A file could not be read (or is over the size cap).",
    ),
    (
        PARSE_ERROR,
        "A file, or a region of it, could not be parsed; it was not linted (or only in part).",
    ),
    (
        TIMEOUT,
        "Parsing and analysing a file took longer than the per-file budget; it was not linted.",
    ),
    (
        INTERNAL_ERROR,
        "unleak crashed on a file; the other files were linted.",
    ),
];

/// Renders the report as one SARIF log.
/// A fix as SARIF: one artifact change per file, its replacements in edit order.
fn sarif_fix(report: &Report, d: &crate::Diagnostic, f: &crate::diagnostic::Fix) -> Value {
    // One artifact change per file, its replacements in edit order.
    let mut by_file: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
    for ed in &f.edits {
        let file = ed.file.as_deref().unwrap_or(&d.file);
        let deleted = region(report, file, &ed.range).unwrap_or_else(
            || json!({ "startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1 }),
        );
        by_file
            .entry(path_str(file))
            .or_insert_with(|| (artifact_location(file), Vec::new()))
            .1
            .push(json!({
                "deletedRegion": deleted,
                "insertedContent": { "text": ed.content },
            }));
    }
    let changes: Vec<Value> = by_file
        .into_values()
        .map(|(loc, replacements)| json!({ "artifactLocation": loc, "replacements": replacements }))
        .collect();
    json!({
        "description": { "text": f.title },
        "artifactChanges": changes,
        "properties": { "applicability": f.applicability },
    })
}

pub fn render(report: &Report) -> String {
    // Rules: the registry, in documentation order, then any other rule a diagnostic names.
    let mut rule_ids: Vec<&str> = registry::all().map(|m| m.id).collect();
    for d in &report.diagnostics {
        if !is_failure(d.rule) && !rule_ids.contains(&d.rule) {
            rule_ids.push(d.rule);
        }
    }
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let meta = registry::all().find(|m| m.id == *id);
            let summary = meta.map_or(*id, |m| m.summary);
            let severity = meta.map_or(Severity::Warning, |m| m.severity);
            let doc = registry::doc(id).unwrap_or(summary);
            json!({
                "id": id,
                "shortDescription": { "text": summary },
                "fullDescription": { "text": full_description(doc, summary) },
                "help": { "text": doc, "markdown": doc },
                "defaultConfiguration": { "level": level(severity) },
            })
        })
        .collect();
    let notification_descriptors: Vec<Value> = NOTIFICATIONS
        .iter()
        .map(|(id, text)| json!({ "id": id, "shortDescription": { "text": text } }))
        .collect();

    let prints = fingerprints(report);
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for (d, fp) in report.diagnostics.iter().zip(&prints) {
        let location = json!({ "physicalLocation": physical_location(report, &d.file, &d.range) });
        if is_failure(d.rule) {
            let mut descriptor = json!({ "id": d.rule });
            if let Some(i) = NOTIFICATIONS.iter().position(|(id, _)| *id == d.rule) {
                descriptor["index"] = json!(i);
            }
            notifications.push(json!({
                "level": level(d.severity),
                "message": { "text": d.message_with_help() },
                "descriptor": descriptor,
                "locations": [location],
            }));
            continue;
        }
        let mut result = Map::new();
        result.insert("ruleId".into(), json!(d.rule));
        if let Some(i) = rule_ids.iter().position(|id| *id == d.rule) {
            result.insert("ruleIndex".into(), json!(i));
        }
        result.insert("level".into(), json!(level(d.severity)));
        result.insert("message".into(), json!({ "text": d.message_with_help() }));
        result.insert("locations".into(), json!([location]));
        if !d.labels.is_empty() {
            let related: Vec<Value> = d
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let file = l.file.as_deref().unwrap_or(&d.file);
                    json!({
                        "id": i + 1,
                        "physicalLocation": physical_location(report, file, &l.range),
                        "message": { "text": l.message },
                    })
                })
                .collect();
            result.insert("relatedLocations".into(), json!(related));
        }
        result.insert(
            "partialFingerprints".into(),
            json!({
                "primaryLocationLineHash": format!("{}:{}", &fp.line_hash[..16], fp.occurrence),
                "unleakFingerprint/v1": fp.full(),
            }),
        );
        if !d.fixes.is_empty() {
            let fixes: Vec<Value> = d.fixes.iter().map(|f| sarif_fix(report, d, f)).collect();
            result.insert("fixes".into(), json!(fixes));
        }
        results.push(Value::Object(result));
    }

    let mut run = Map::new();
    run.insert(
        "tool".into(),
        json!({ "driver": {
            "name": "unleak",
            "informationUri": information_uri(),
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules,
            "notifications": notification_descriptors,
        }}),
    );
    run.insert(
        "invocations".into(),
        json!([{
            // The tool ran to the end unless a rule crashed (exit code 2); files that could not
            // be read or parsed are error notifications of a successful execution.
            "executionSuccessful": !report.has_internal_error(),
            "toolExecutionNotifications": notifications,
        }]),
    );
    if let Ok(cwd) = std::env::current_dir() {
        let mut uri = file_uri(&path_str(&cwd));
        if !uri.ends_with('/') {
            uri.push('/');
        }
        run.insert(
            "originalUriBaseIds".into(),
            json!({ "%SRCROOT%": { "uri": uri } }),
        );
    }
    run.insert("columnKind".into(), json!("unicodeCodePoints"));
    run.insert("results".into(), json!(results));
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [Value::Object(run)],
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_else(|e| {
        format!(
            "{{\"version\":\"2.1.0\",\"runs\":[],\"error\":\"cannot serialise the report: {e}\"}}"
        )
    });
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(encode_path("a b/c:d%e,f.ts"), "a%20b/c%3Ad%25e%2Cf.ts");
        assert_eq!(file_uri("/x y/z"), "file:///x%20y/z");
        assert_eq!(file_uri("C:/x/z"), "file:///C:/x/z");
        assert_eq!(
            artifact_location(Path::new("src/a.ts")),
            json!({ "uri": "src/a.ts", "uriBaseId": "%SRCROOT%" })
        );
    }

    #[test]
    fn fixes_become_artifact_changes() {
        use std::path::PathBuf;
        use std::sync::Arc;

        use crate::diagnostic::{Applicability, Diagnostic, Edit, Fix};
        use crate::source::{Language, SourceFile};

        let path = PathBuf::from("src/a.ts");
        let other = PathBuf::from("src/b.ts");
        let text = "let x = 1;\nsetInterval(f, 10);\n";
        let mut report = Report {
            files: 2,
            ..Report::default()
        };
        for p in [&path, &other] {
            report.sources.insert(
                p.clone(),
                Arc::new(SourceFile::new(
                    p.clone(),
                    Language::TypeScript,
                    text.into(),
                )),
            );
        }
        let mut d = Diagnostic::new(
            "orphaned-interval",
            Severity::Error,
            path.clone(),
            11..22,
            "leak",
        );
        d.fixes.push(Fix {
            title: "keep the handle".into(),
            applicability: Applicability::Unsafe,
            edits: vec![
                Edit {
                    file: None,
                    range: 11..11,
                    content: "const t = ".into(),
                },
                Edit {
                    file: Some(other.clone()),
                    range: 0..3,
                    content: "const".into(),
                },
            ],
        });
        report.diagnostics.push(d);
        let v: Value = serde_json::from_str(&render(&report)).unwrap();
        let fix = &v["runs"][0]["results"][0]["fixes"][0];
        assert_eq!(fix["description"]["text"], "keep the handle");
        assert_eq!(fix["properties"]["applicability"], "unsafe");
        let changes = fix["artifactChanges"].as_array().unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0]["artifactLocation"]["uri"], "src/a.ts");
        assert_eq!(
            changes[0]["replacements"][0],
            json!({
                "deletedRegion": { "startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 1 },
                "insertedContent": { "text": "const t = " },
            })
        );
        assert_eq!(changes[1]["artifactLocation"]["uri"], "src/b.ts");
        assert_eq!(
            changes[1]["replacements"][0]["deletedRegion"],
            json!({ "startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 4 })
        );
    }

    #[test]
    fn description_is_the_first_paragraph() {
        let doc = "# x\n\nintro\n\n## What it does\n\nReports a\nthing.\n\nMore.\n";
        assert_eq!(full_description(doc, "s"), "Reports a thing.");
        assert_eq!(full_description("# x\n", "s"), "s");
    }
}
