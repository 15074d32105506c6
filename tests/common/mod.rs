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
        .filter(|d| !unleak::diagnostic::FAILURES.contains(&d.rule))
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

/// A fenced example of a rule doc: ```` ```ts bad ```` / ```` ```rust good ````.
pub struct Example {
    pub lang: String,
    pub bad: bool,
    pub code: String,
    /// 1-based line of the block's opening fence in the doc.
    pub doc_line: usize,
}

pub fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut lines = doc.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let mut words = info.split_whitespace();
        let (Some(lang), Some(kind)) = (words.next(), words.next()) else {
            // A fence without `bad`/`good`: skip to its end.
            for (_, l) in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
            }
            continue;
        };
        let mut code = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            code.push_str(l);
            code.push('\n');
        }
        if kind == "bad" || kind == "good" {
            out.push(Example {
                lang: lang.to_string(),
                bad: kind == "bad",
                code,
                doc_line: i + 1,
            });
        }
    }
    out
}

pub fn file_name(lang: &str) -> Option<&'static str> {
    Some(match lang {
        "ts" | "typescript" => "example.ts",
        "tsx" => "example.tsx",
        "js" | "javascript" => "example.js",
        "rust" | "rs" => "example.rs",
        _ => return None,
    })
}

/// Whether a tool a test drives from outside (Neovim, pre-commit, the SARIF schema from npm)
/// is here. When it is not, the test fails under CI (`CI` or `UNLEAK_REQUIRE_TOOLS` set:
/// `.ci/run` installs every tool, so a missing one is a broken set-up), and elsewhere is
/// skipped with a loud message, so a plain `cargo test --workspace` on a new machine does not
/// fail for want of an editor.
pub fn tool_available(present: bool, what: &str, install: &str) -> bool {
    if present {
        return true;
    }
    let required = ["CI", "UNLEAK_REQUIRE_TOOLS"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0" && x != "false"));
    let message = format!("{what} is not installed; install it with `{install}` (.ci/run does)");
    if required {
        panic!("{message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    false
}

/// Every (path, text) the fix checks run on: the case files (named relative to `root`) and the
/// bad examples of the rule docs (named `docs/<rule>/<doc line>/<file>`).
pub fn case_and_doc_inputs(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("fixtures/cases")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if unleak::source::Language::from_path(&p).is_some() {
                let name = p.strip_prefix(root).unwrap().display().to_string();
                out.push((name, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    for entry in std::fs::read_dir(root.join("rules")).unwrap() {
        let p = entry.unwrap().path();
        let doc = std::fs::read_to_string(&p).unwrap();
        for ex in examples(&doc).into_iter().filter(|e| e.bad) {
            if let Some(file) = file_name(&ex.lang) {
                // Keep the doc's name in the path so messages say where the example is.
                let stem = p.file_stem().unwrap().to_str().unwrap();
                out.push((format!("docs/{stem}/{}/{file}", ex.doc_line), ex.code));
            }
        }
    }
    out.sort();
    out
}
