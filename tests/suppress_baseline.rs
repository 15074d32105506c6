//! Inline suppressions (TypeScript and Rust) and the baseline, through the real binary.

use std::fs;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn unleak() -> Command {
    Command::cargo_bin("unleak").unwrap()
}

fn findings(dir: &std::path::Path, extra: &[&str]) -> (i32, Vec<(String, String, u64)>) {
    let out = unleak()
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["rule"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    (out.status.code().unwrap(), list)
}

fn t(p: &str, r: &str, l: u64) -> (String, String, u64) {
    (p.to_string(), r.to_string(), l)
}

#[test]
fn inline_suppressions_need_a_known_rule_and_a_reason_and_must_be_used() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a.ts"),
        "// unleak-ignore orphaned-interval: a one-shot CLI; the process exits after the job\n\
         setInterval(() => console.log('tick'), 1000);\n\
         setInterval(() => console.log('tock'), 1000); // unleak-ignore orphaned-interval\n\
         // unleak-ignore silent-error: nothing to excuse here\n\
         const x = 1;\n\
         // unleak-ignore no-such-rule: a typo\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("b.rs"),
        "// unleak-ignore-file unbounded-collection: the consumer is awaited in lock-step\n\
         fn main() {\n    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u8>();\n    drop((tx, rx));\n}\n",
    )
    .unwrap();
    let (code, found) = findings(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        found,
        vec![
            // Line 2 is excused by the comment above it; line 3's comment has no reason.
            t("a.ts", "orphaned-interval", 3),
            t("a.ts", "invalid-suppression", 3),
            t("a.ts", "unused-suppression", 4),
            t("a.ts", "invalid-suppression", 6),
        ]
    );
}

#[test]
fn baseline_accepts_known_findings_survives_shifts_and_reports_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let leak = "setInterval(() => poll(), 1000);\n";
    fs::write(d.join("a.ts"), format!("{leak}{leak}")).unwrap();
    fs::write(d.join("b.ts"), "try { connect(); } catch {}\n").unwrap();
    unleak()
        .current_dir(d)
        .args(["check", "--write-baseline", "unleak-baseline.json"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("wrote 3 finding(s)"));
    let b: Value =
        serde_json::from_str(&fs::read_to_string(d.join("unleak-baseline.json")).unwrap()).unwrap();
    assert_eq!(b["version"], 1);
    assert_eq!(b["entries"].as_array().unwrap().len(), 3);

    // Nothing new: clean, exit 0.
    assert_eq!(
        findings(d, &["--baseline", "unleak-baseline.json"]),
        (0, vec![])
    );
    // Unrelated edits shift the lines: still accepted.
    fs::write(
        d.join("a.ts"),
        format!("// a header\nimport './x';\n\n{leak}{leak}"),
    )
    .unwrap();
    assert_eq!(
        findings(d, &["--baseline", "unleak-baseline.json"]),
        (0, vec![])
    );
    // A new leak (a third identical line) is reported, alone.
    fs::write(d.join("a.ts"), format!("// a header\n{leak}{leak}{leak}")).unwrap();
    assert_eq!(
        findings(d, &["--baseline", "unleak-baseline.json"]),
        (1, vec![t("a.ts", "orphaned-interval", 4)])
    );
    // Fixing one leaves a prunable entry, reported on stderr; --prune-baseline drops it.
    fs::write(d.join("b.ts"), "try { connect(); } catch (e) { log(e); }\n").unwrap();
    unleak()
        .current_dir(d)
        .args(["check", "--baseline", "unleak-baseline.json"])
        .assert()
        .stderr(predicate::str::contains("no longer match"));
    unleak()
        .current_dir(d)
        .args([
            "check",
            "--baseline",
            "unleak-baseline.json",
            "--prune-baseline",
        ])
        .assert()
        .stderr(predicate::str::contains("pruned 1 baseline entry"));
    let b: Value =
        serde_json::from_str(&fs::read_to_string(d.join("unleak-baseline.json")).unwrap()).unwrap();
    assert_eq!(b["entries"].as_array().unwrap().len(), 2);
    // A corrupt baseline is a usage error naming the file.
    fs::write(d.join("bad.json"), "{not json").unwrap();
    unleak()
        .current_dir(d)
        .args(["check", "--baseline", "bad.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.json"));
}

/// `--fix` honours the baseline as a check does: the findings it accepts are neither reported
/// nor rewritten; only the new one is fixed.
#[test]
fn fix_with_a_baseline_leaves_accepted_findings_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = "export async function a(p: string) {\n  await unlink(p).catch(() => {});\n}\n";
    fs::write(d.join("old.ts"), old).unwrap();
    unleak()
        .current_dir(d)
        .args(["check", "--write-baseline", "b.json"])
        .assert()
        .code(0);
    let new = "export async function b(p: string) {\n  await unlink(p).catch(() => {});\n}\n";
    fs::write(d.join("new.ts"), new).unwrap();
    unleak()
        .current_dir(d)
        .args(["check", "--fix", "--unsafe-fixes", "--baseline", "b.json"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("applied 1 fix in 1 file"));
    assert_eq!(fs::read_to_string(d.join("old.ts")).unwrap(), old);
    assert_eq!(
        fs::read_to_string(d.join("new.ts")).unwrap(),
        "export async function b(p: string) {\n  await unlink(p).catch((error) => console.error(error));\n}\n"
    );
    // --diff too shows only the new finding's fix.
    fs::write(d.join("new.ts"), new).unwrap();
    let out = unleak()
        .current_dir(d)
        .args(["check", "--diff", "--unsafe-fixes", "--baseline", "b.json"])
        .output()
        .unwrap();
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(
        diff.contains("b/new.ts") && !diff.contains("old.ts"),
        "{diff}"
    );
}
