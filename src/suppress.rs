//! Inline suppressions: `// unleak-ignore <rule-id>: <reason>` on the line of a finding or the
//! line above, and `// unleak-ignore-file <rule-id>: <reason>` anywhere in a file. The same
//! syntax in TypeScript and Rust (read from the source text: syn drops comments). A reason is
//! required; a suppression without one, for an unknown rule, or that suppresses nothing is
//! itself reported.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::LineIndex;

pub const UNUSED: &str = "unused-suppression";
pub const INVALID: &str = "invalid-suppression";

/// One suppression comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// 0-based line of the comment.
    pub line: usize,
    pub file_wide: bool,
    pub rules: Vec<String>,
    pub reason: Option<String>,
    /// The comment's byte range.
    pub span: Range<usize>,
}

/// Finds the suppression comments of a source text.
pub fn parse(text: &str, lines: &LineIndex, in_strings: &[Range<usize>]) -> Vec<Suppression> {
    let mut out = Vec::new();
    if !text.contains("unleak-ignore") {
        return out;
    }
    for line in 0..lines.line_count() {
        let range = lines.line_range(text, line);
        let Some(l) = text.get(range.clone()) else {
            continue;
        };
        let Some(at) = l.find("unleak-ignore") else {
            continue;
        };
        // Only in a `//` comment (or a `/* … */` one) that starts before the marker — not in a
        // doc comment (`///`, `//!`, `/**`: documentation may quote the syntax) and not in a
        // string literal (an odd number of quotes before the `//`).
        let before = &l[..at];
        let Some(comment) = before.find("//").or_else(|| before.find("/*")) else {
            continue;
        };
        if !before[comment + 2..].trim().is_empty() {
            continue;
        }
        let opener = &l[comment..];
        if opener.starts_with("///") || opener.starts_with("//!") || opener.starts_with("/**") {
            continue;
        }
        if comment > 0 && before[..comment].ends_with('/') {
            continue;
        }
        // Inside a string literal (the front end knows where they are).
        let at_byte = range.start + comment;
        if in_strings
            .iter()
            .any(|s| s.start <= at_byte && at_byte < s.end)
        {
            continue;
        }
        let rest = &l[at + "unleak-ignore".len()..];
        let (file_wide, rest) = match rest.strip_prefix("-file") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        // A bare `// unleak-ignore` (no rule, no reason) is a suppression too — an invalid one,
        // reported as such — but `unleak-ignored` or `unleak-ignore-foo` are other words.
        if !(rest.trim().is_empty()
            || rest.starts_with(char::is_whitespace)
            || rest.starts_with("*/"))
        {
            continue;
        }
        let rest = rest.trim().trim_end_matches("*/").trim();
        let (rules_part, reason) = match rest.split_once(':') {
            Some((r, why)) => (r, Some(why.trim()).filter(|w| !w.is_empty())),
            None => (rest, None),
        };
        let rules = rules_part
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        out.push(Suppression {
            line,
            file_wide,
            rules,
            reason: reason.map(String::from),
            span: range.start + comment..range.end,
        });
    }
    out
}

/// Removes the diagnostics of `file` that its suppressions cover, and adds diagnostics for
/// suppressions that are invalid or unused. `is_rule` says whether an id is a known rule.
pub fn apply(
    file: &std::path::Path,
    text: &str,
    lines: &LineIndex,
    suppressions: &[Suppression],
    diagnostics: &mut Vec<Diagnostic>,
    is_rule: &dyn Fn(&str) -> bool,
) {
    let mut used = vec![false; suppressions.len()];
    let mut valid = vec![true; suppressions.len()];
    let mut extra = Vec::new();
    for (i, s) in suppressions.iter().enumerate() {
        let problem = if s.rules.is_empty() {
            Some("names no rule".to_string())
        } else if let Some(bad) = s.rules.iter().find(|r| !is_rule(r)) {
            Some(format!("names an unknown rule `{bad}`"))
        } else if s.reason.is_none() {
            Some("gives no reason".to_string())
        } else {
            None
        };
        if let Some(p) = problem {
            valid[i] = false;
            extra.push(
                Diagnostic::new(
                    INVALID,
                    Severity::Warning,
                    file.to_path_buf(),
                    s.span.clone(),
                    format!("this suppression {p}, so it suppresses nothing"),
                )
                .with_help(
                    "write `// unleak-ignore <rule-id>: <why this is not a leak>` (or \
                     `unleak-ignore-file`); `unleak rules` lists the ids",
                ),
            );
        }
    }
    diagnostics.retain(|d| {
        if d.file != file || d.is_failure() {
            return true;
        }
        let line = lines.line_col(text, d.range.start).line as usize - 1;
        let hit = suppressions.iter().enumerate().position(|(i, s)| {
            valid[i]
                && s.rules.iter().any(|r| r == d.rule)
                && (s.file_wide || s.line == line || s.line + 1 == line)
        });
        match hit {
            Some(i) => {
                used[i] = true;
                false
            }
            None => true,
        }
    });
    for (i, s) in suppressions.iter().enumerate() {
        if valid[i] && !used[i] {
            extra.push(
                Diagnostic::new(
                    UNUSED,
                    Severity::Warning,
                    file.to_path_buf(),
                    s.span.clone(),
                    format!(
                        "unused suppression: no `{}` finding {}",
                        s.rules.join("`/`"),
                        if s.file_wide {
                            "in this file"
                        } else {
                            "on this line or the next"
                        }
                    ),
                )
                .with_help("remove it: the code it excused changed, or the finding is fixed"),
            );
        }
    }
    diagnostics.extend(extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sups(text: &str) -> Vec<Suppression> {
        parse(text, &LineIndex::new(text), &[])
    }

    #[test]
    fn parses_line_and_file_suppressions_with_reasons() {
        let s = sups(
            "a();\n// unleak-ignore orphaned-interval: runs once in tests\nx\n  /* unleak-ignore-file silent-error, duplicate-client: vendored */\n// unleak-ignore uncleared-timeout\nconst s = \"unleak-ignore nope: x\";\n",
        );
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!((s[0].line, s[0].file_wide), (1, false));
        assert_eq!(s[0].rules, ["orphaned-interval"]);
        assert_eq!(s[0].reason.as_deref(), Some("runs once in tests"));
        assert!(s[1].file_wide);
        assert_eq!(s[1].rules, ["silent-error", "duplicate-client"]);
        assert_eq!(s[1].reason.as_deref(), Some("vendored"));
        assert_eq!(s[2].reason, None);
    }

    #[test]
    fn not_in_strings_or_doc_comments() {
        let src = "let s = \"// unleak-ignore x: y\";\n";
        let strings = [Range { start: 8, end: 33 }];
        assert!(parse(src, &LineIndex::new(src), &strings).is_empty());
        assert!(sups("/// use `// unleak-ignore <rule-id>: <reason>`\n").is_empty());
        assert!(sups("//! `// unleak-ignore-file rule: why`\n").is_empty());
        assert_eq!(sups("let s = \"a\"; // unleak-ignore x: y\n").len(), 1);
    }

    #[test]
    fn not_a_suppression() {
        assert!(
            sups("// unleak-ignored: no\nlet x = 1; // see unleak-ignore docs? no: prose\n")
                .is_empty()
        );
        assert!(sups("const a = 'unleak-ignore x: y';\n").is_empty());
        // Bare markers are suppressions naming no rule (reported as invalid).
        for bare in [
            "x(); // unleak-ignore\n",
            "/* unleak-ignore */\n",
            "// unleak-ignore-file\n",
        ] {
            let found = sups(bare);
            assert_eq!(found.len(), 1, "{bare:?}");
            assert!(found[0].rules.is_empty(), "{bare:?}");
        }
    }
}
