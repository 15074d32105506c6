//! Fix coverage holds its floor (issue 19, item 2): the share of findings that carry a
//! machine-applicable fix (safe or unsafe), counted from `unleak check --format json` over the
//! legacy services, as `scripts/fix-coverage.py` counts it (which also covers the cases, the
//! rule docs and the corpora). The floors are the levels measured when the fix builders of
//! issue 19 landed; raise them as builders are added, never lower them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (findings, with a safe/unsafe fix, with only a suggestion) per rule, over `dir`.
fn coverage(dir: &Path) -> BTreeMap<String, (usize, usize, usize)> {
    let mut by_rule = BTreeMap::new();
    count(dir, ".", |_| true, &mut by_rule);
    by_rule
}

/// Adds the findings of one `unleak check path` run in `dir` whose file `keep` accepts.
fn count(
    dir: &Path,
    path: &str,
    keep: impl Fn(&str) -> bool,
    by_rule: &mut BTreeMap<String, (usize, usize, usize)>,
) {
    let out = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .current_dir(dir)
        .args(["check", "--no-cache", "--format", "json", path])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for d in report["diagnostics"].as_array().unwrap() {
        if !keep(d["path"].as_str().unwrap_or("")) {
            continue;
        }
        let rule = d["rule"].as_str().unwrap();
        assert!(
            !unleak::diagnostic::FAILURES.contains(&rule),
            "{dir:?} does not lint cleanly: {d}"
        );
        let apps: Vec<&str> = d["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["applicability"].as_str().unwrap())
            .collect();
        let row = by_rule.entry(rule.to_string()).or_default();
        row.0 += 1;
        if apps.iter().any(|a| *a == "safe" || *a == "unsafe") {
            row.1 += 1;
        } else if !apps.is_empty() {
            row.2 += 1;
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Asserts the floor and that every finding has at least a suggestion (`bare` lists the rules
/// allowed findings without one, with how many).
fn holds(name: &str, floor_percent: usize, bare: &[(&str, usize)]) {
    let rows = coverage(&fixture(name));
    let total: usize = rows.values().map(|r| r.0).sum();
    let fixed: usize = rows.values().map(|r| r.1).sum();
    assert!(total >= 25, "{name}: only {total} findings");
    assert!(
        fixed * 100 >= floor_percent * total,
        "{name}: {fixed} of {total} findings carry a machine-applicable fix, below the floor of \
         {floor_percent}%: {rows:?}"
    );
    let without: BTreeMap<&str, usize> = rows
        .iter()
        .filter(|(_, r)| r.0 > r.1 + r.2)
        .map(|(k, r)| (k.as_str(), r.0 - r.1 - r.2))
        .collect();
    let allowed: BTreeMap<&str, usize> = bare.iter().copied().collect();
    assert_eq!(
        without, allowed,
        "{name}: findings with neither a fix nor a suggestion, by rule"
    );
}

#[test]
fn every_legacy_typescript_finding_carries_a_fix() {
    // 27 of 27 (was 25: the two chunk accumulations of the transcoder were suggestions).
    holds("legacy-ts", 100, &[]);
}

#[test]
fn legacy_rust_fix_coverage_holds_its_floor() {
    // 28 of 31 (was 15): the menu's channel, whose receiver type is public, is a suggestion;
    // the two closure registries have nothing yet.
    holds("legacy-rust", 90, &[("unremoved-listener", 2)]);
}

#[test]
fn typescript_case_fix_coverage_holds_its_floor() {
    // Each case as `scripts/fix-coverage.py --set cases` runs it: a folder as one project, a
    // file alone. 106 of 140 TypeScript/JavaScript findings (was 77): hand-written races in
    // executors, per-connection listeners, servers stored or chained, pg pools, streams and
    // watchdogs closed in `finally`.
    let ts = |p: &str| !p.ends_with(".rs");
    let root = fixture("cases");
    let mut rows = BTreeMap::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for rule_dir in dirs {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&rule_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for entry in entries {
            let name = entry.file_name().unwrap().to_string_lossy().into_owned();
            if entry.is_dir() {
                count(&entry, ".", ts, &mut rows);
            } else if [".ts", ".tsx", ".js", ".mjs", ".cjs"]
                .iter()
                .any(|x| name.ends_with(x))
            {
                count(&rule_dir, &name, ts, &mut rows);
            }
        }
    }
    let total: usize = rows.values().map(|r| r.0).sum();
    let fixed: usize = rows.values().map(|r| r.1).sum();
    assert!(
        total >= 100,
        "only {total} TypeScript case findings: {rows:?}"
    );
    assert!(
        fixed * 100 >= 75 * total,
        "{fixed} of {total} TypeScript case findings carry a machine-applicable fix, below the \
         floor of 75%: {rows:?}"
    );
}
