//! How much of a TypeScript/JavaScript file tree-sitter could not parse: a few skipped regions
//! (known grammar gaps on valid modern syntax) are a note and the rest is linted; a file that
//! is mostly not code fails the check, as it does in ESLint and ruff. A skipped region that
//! looks like it holds an acquisition is named, so a leak in it does not pass silently.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, PARSE_ERROR, Severity};
use crate::source::SourceFile;

/// Text that starts an acquisition some rule would judge, looked for in skipped regions.
const ACQUISITIONS: &[&str] = &[
    "setInterval(",
    "setTimeout(",
    ".on(",
    ".once(",
    ".addListener(",
    ".addEventListener(",
    "createReadStream(",
    "createWriteStream(",
    "Client(",
    "new Map(",
    "new Set(",
];

/// The skipped regions of a file, merged, and what they cover.
#[derive(Debug, Default)]
pub struct Gaps {
    pub regions: Vec<Range<usize>>,
    /// Lines holding some skipped text, and lines holding any text.
    pub lines_hit: usize,
    pub lines_with_text: usize,
    /// Bytes inside skipped regions, and bytes that are not whitespace.
    pub bytes_hit: usize,
    pub bytes_of_text: usize,
}

impl Gaps {
    /// Measures `errors` (error and missing nodes' ranges, possibly nested) against `text`.
    pub fn measure(text: &str, errors: &[Range<usize>]) -> Gaps {
        let mut sorted: Vec<Range<usize>> = errors
            .iter()
            .map(|r| r.start.min(text.len())..r.end.min(text.len()))
            .collect();
        sorted.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut regions: Vec<Range<usize>> = Vec::new();
        for r in sorted {
            match regions.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => regions.push(r),
            }
        }
        let bytes_hit = regions
            .iter()
            .map(|r| {
                text[r.clone()]
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .count()
            })
            .sum();
        let bytes_of_text = text.bytes().filter(|b| !b.is_ascii_whitespace()).count();
        // Lines: walk once, with the regions in order.
        let (mut lines_hit, mut lines_with_text) = (0, 0);
        let mut next = 0;
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let end = start + line.len();
            if !line.trim().is_empty() {
                lines_with_text += 1;
                while next < regions.len() && regions[next].end <= start {
                    next += 1;
                }
                // A missing node has an empty range: it still marks its line.
                let hit = regions[next..]
                    .iter()
                    .take_while(|r| r.start < end)
                    .any(|r| r.end > start || (r.start == r.end && r.start >= start));
                if hit {
                    lines_hit += 1;
                }
            }
            start = end;
        }
        Gaps {
            regions,
            lines_hit,
            lines_with_text,
            bytes_hit,
            bytes_of_text,
        }
    }

    /// Most of the file is not code: over half its text lines hold errors, or over half its
    /// text is inside skipped regions.
    pub fn is_mostly_unparsable(&self) -> bool {
        self.lines_hit * 2 > self.lines_with_text || self.bytes_hit * 2 > self.bytes_of_text
    }

    /// The first acquisition-looking text inside a skipped region: its offset and the text.
    pub fn hidden_acquisition(&self, text: &str) -> Option<(usize, &'static str)> {
        self.regions.iter().find_map(|r| {
            let region = &text[r.clone()];
            ACQUISITIONS
                .iter()
                .filter_map(|a| region.find(a).map(|i| (r.start + i, *a)))
                .min_by_key(|(i, _)| *i)
        })
    }
}

/// The `parse-error` diagnostic for a file with skipped regions: an error when most of it did
/// not parse, else a note — which names any acquisition the skipped text seems to hold.
pub fn diagnostic(source: &SourceFile, errors: &[Range<usize>]) -> Option<Diagnostic> {
    let first = errors.iter().min_by_key(|r| r.start)?.clone();
    let gaps = Gaps::measure(&source.text, errors);
    let lang = match source.language {
        crate::source::Language::Rust => "Rust",
        crate::source::Language::TypeScript => "TypeScript",
        crate::source::Language::Tsx => "TypeScript/JSX",
        crate::source::Language::JavaScript => "JavaScript",
    };
    if gaps.is_mostly_unparsable() {
        return Some(
            Diagnostic::new(
                PARSE_ERROR,
                Severity::Error,
                source.path.clone(),
                first,
                format!(
                    "this file does not parse as {lang}: {} of its {} lines hold syntax errors",
                    gaps.lines_hit, gaps.lines_with_text
                ),
            )
            .with_help(
                "unleak cannot tell what this file acquires; fix the syntax, or exclude the file \
                 if it is not source code",
            ),
        );
    }
    let n = gaps.regions.len();
    let mut message = format!(
        "{} could not be parsed and {} skipped; the rest of the file was linted",
        crate::summary::plural(n, "region"),
        if n == 1 { "was" } else { "were" }
    );
    let mut range = first;
    if let Some((at, what)) = gaps.hidden_acquisition(&source.text) {
        let line = source.lines().line_col(&source.text, at).line;
        message = format!(
            "{message}; the skipped text holds `{what}` on line {line}, which was not checked"
        );
        range = at..at + what.len();
    }
    Some(
        Diagnostic::new(
            PARSE_ERROR,
            Severity::Info,
            source.path.clone(),
            range,
            message,
        )
        .with_help(
            "check the syntax here (some valid modern syntax is a known gap of the \
                 TypeScript grammar: see docs/reliability.md); unleak lints what parses",
        ),
    )
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one skipped region is the common case
mod tests {
    use super::*;

    #[test]
    fn nested_regions_merge_and_lines_count_once() {
        let text = "a b c\n\nlet x = 1;\nzz zz\n";
        let g = Gaps::measure(text, &[0..5, 2..3, 18..23]);
        assert_eq!(g.regions, vec![0..5, 18..23]);
        assert_eq!((g.lines_hit, g.lines_with_text), (2, 3));
        assert!(g.is_mostly_unparsable());
        let g = Gaps::measure(text, &[18..20]);
        assert!(!g.is_mostly_unparsable());
        // A missing node (empty range) marks its line.
        let g = Gaps::measure(text, &[16..16]);
        assert_eq!(g.lines_hit, 1);
    }

    #[test]
    fn finds_the_first_acquisition_in_skipped_text() {
        let text = "ok();\n@@ x.on('data', f); setInterval(tick, 5) @@\n";
        let g = Gaps::measure(text, &[6..50]);
        assert_eq!(g.hidden_acquisition(text), Some((10, ".on(")));
        assert_eq!(Gaps::measure(text, &[0..4]).hidden_acquisition(text), None);
    }
}
