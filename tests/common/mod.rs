//! Helpers shared by the integration tests: expectation markers and finding sets.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use unleak::{Diagnostic, Options};

/// (line, rule) pairs.
pub type Findings = BTreeSet<(u32, String)>;

/// 1-based line of a diagnostic's start in `text`.
pub fn line_of(text: &str, offset: usize) -> u32 {
    text[..offset.min(text.len())].matches('\n').count() as u32 + 1
}

/// The findings of the five leak rules (not per-file failures) as (line, rule).
pub fn findings(text: &str, diags: &[Diagnostic]) -> Findings {
    diags
        .iter()
        .filter(|d| !matches!(d.rule, "io-error" | "parse-error" | "internal-error"))
        .map(|d| (line_of(text, d.range.start), d.rule.to_string()))
        .collect()
}

/// Lints one in-memory file as its own project.
pub fn lint_one(path: &str, text: &str) -> Vec<Diagnostic> {
    unleak::lint_source(Path::new(path), text, &Options::default())
}

/// Lines marked `// expect: rule-a, rule-b` in a case file.
pub fn expected_markers(text: &str) -> Findings {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(pos) = line.find("// expect:") {
            for rule in line[pos + "// expect:".len()..].split(',') {
                let rule = rule.trim();
                if !rule.is_empty() {
                    out.insert((i as u32 + 1, rule.to_string()));
                }
            }
        }
    }
    out
}

/// Renders a findings diff for assertion messages.
pub fn describe(expected: &Findings, actual: &Findings) -> String {
    let missing: Vec<_> = expected.difference(actual).collect();
    let extra: Vec<_> = actual.difference(expected).collect();
    format!(
        "missing (expected, not reported): {missing:?}\nunexpected (reported, not expected): {extra:?}"
    )
}
