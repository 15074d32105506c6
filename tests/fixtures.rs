//! The legacy service reports exactly its planted leaks (tests/expected/legacy-ts.txt, written
//! by hand from the rule semantics); its fixed twin and the reference runtime stay clean.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use unleak::{Options, lint_paths};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `path:line rule` for every finding (not per-file failures), paths relative to `base`.
fn findings_under(base: &Path) -> BTreeSet<String> {
    let report = lint_paths(&[base.to_path_buf()], &Options::default());
    let failures: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_failure())
        .collect();
    assert!(failures.is_empty(), "files failed to lint: {failures:#?}");
    report
        .diagnostics
        .iter()
        .map(|d| {
            let src = &report.sources[&d.file];
            let line = src.lines().line_col(&src.text, d.range.start).line;
            let abs = root().join(&d.file);
            let rel = abs
                .strip_prefix(base)
                .or_else(|_| d.file.strip_prefix(base))
                .unwrap_or(&d.file)
                .to_string_lossy()
                .replace('\\', "/");
            format!("{rel}:{line} {}", d.rule)
        })
        .collect()
}

fn expected(name: &str) -> BTreeSet<String> {
    std::fs::read_to_string(root().join(format!("tests/expected/{name}.txt")))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The findings on `fixtures/<name>` equal `tests/expected/<name>.txt` exactly.
fn assert_exact(name: &str) {
    let expected = expected(name);
    assert!(expected.len() >= 10, "{name}: too few expectations");
    let actual = findings_under(&root().join("fixtures").join(name));
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}\nmissing: {missing:#?}\nunexpected: {extra:#?}"
    );
}

#[test]
fn legacy_ts_reports_exactly_the_planted_leaks() {
    assert_exact("legacy-ts");
}

#[test]
fn legacy_rust_reports_exactly_the_planted_leaks() {
    assert_exact("legacy-rust");
}

#[test]
fn every_core_rule_fires_on_the_legacy_rust_service() {
    let actual = findings_under(&root().join("fixtures/legacy-rust"));
    for meta in unleak::registry::all() {
        assert!(
            actual.iter().any(|f| f.ends_with(&format!(" {}", meta.id))),
            "{} never fires on legacy-rust",
            meta.id
        );
    }
}

#[test]
fn every_core_rule_fires_on_the_legacy_service() {
    let actual = findings_under(&root().join("fixtures/legacy-ts"));
    for meta in unleak::registry::all() {
        assert!(
            actual.iter().any(|f| f.ends_with(&format!(" {}", meta.id))),
            "{} never fires on legacy-ts",
            meta.id
        );
    }
}

#[test]
fn fixed_ts_is_clean() {
    let actual = findings_under(&root().join("fixtures/fixed-ts"));
    assert!(actual.is_empty(), "fixed-ts must be clean: {actual:#?}");
}

#[test]
fn reference_runtime_is_clean() {
    let actual = findings_under(&root().join("runtime"));
    assert!(actual.is_empty(), "runtime/ must be clean: {actual:#?}");
}

/// A batch run packs every file's facts and text after its file rules and unpacks them for the
/// project pass (`unleak::kept`); the editor and the fixer keep them live. Both must report the
/// same findings, messages, labels and fixes, on both languages' fixtures and the cases.
#[test]
fn packed_and_live_project_passes_report_the_same() {
    let options = Options::default();
    for dir in [
        "fixtures/legacy-ts",
        "fixtures/legacy-rust",
        "fixtures/cases",
    ] {
        // Relative (tests run in the manifest folder): both runs name files the same way.
        let base = PathBuf::from(dir);
        let packed = lint_paths(std::slice::from_ref(&base), &options);
        let (files, _) = unleak::engine::find_files(std::slice::from_ref(&base), &options);
        let analyses = unleak::engine::analyse_files(&files, &options);
        let live = unleak::engine::link(&analyses, &options);
        let show = |r: &unleak::Report| {
            r.diagnostics
                .iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
        };
        let (packed, live) = (show(&packed), show(&live));
        assert!(packed.len() > 10, "{dir}: too few findings to compare");
        assert_eq!(packed, live, "{dir}");
    }
}
