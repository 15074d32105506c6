//! The per-rule realistic cases under `fixtures/cases/<rule>/`: lines marked
//! `// expect: <rule>` must be reported exactly; everything else must stay clean. A file is
//! linted alone; a subfolder is linted as one project (cross-file rules).

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn check_file(path: &Path, failures: &mut Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let diags = lint_one(&path.to_string_lossy(), &text);
    let actual = findings(&text, &diags);
    let expected = expected_markers(&text);
    if actual != expected {
        failures.push(format!(
            "{}\n{}",
            path.display(),
            describe(&expected, &actual)
        ));
    }
}

fn check_project(dir: &Path, failures: &mut Vec<String>) {
    let report = unleak::lint_paths(&[dir.to_path_buf()], &unleak::Options::default());
    let mut files: Vec<PathBuf> = walk(dir);
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let shown = unleak::discover::display_path(&f);
        let diags: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.file == shown)
            .cloned()
            .collect();
        let actual = findings(&text, &diags);
        let expected = expected_markers(&text);
        if actual != expected {
            failures.push(format!(
                "{} (project {})\n{}",
                f.display(),
                dir.display(),
                describe(&expected, &actual)
            ));
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if unleak::source::Language::from_path(&p).is_some() {
            out.push(p);
        }
    }
    out
}

#[test]
fn realistic_cases_report_exactly_the_marked_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cases");
    let mut failures = Vec::new();
    let mut count = 0;
    let mut rules: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    rules.sort();
    for rule_dir in rules {
        let mut entries: Vec<_> = std::fs::read_dir(&rule_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            count += 1;
            if p.is_dir() {
                check_project(&p, &mut failures);
            } else if unleak::source::Language::from_path(&p).is_some() {
                check_file(&p, &mut failures);
            }
        }
    }
    assert!(
        count >= 25,
        "expected the case corpus, found {count} entries"
    );
    assert!(
        failures.is_empty(),
        "{} case file(s) wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
