//! Output formats, one file each. Every format renders the same [`crate::Report`].

pub mod cargo;
pub mod concise;
pub mod github;
pub mod gitlab;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

use crate::Report;
use crate::source::LineCol;

/// 1-based start and end positions of a byte range in a file of the report.
pub fn span_positions(
    report: &Report,
    file: &std::path::Path,
    range: &std::ops::Range<usize>,
) -> (LineCol, LineCol) {
    match report.sources.get(file) {
        Some(src) => (
            src.lines().line_col(&src.text, range.start),
            src.lines().line_col(&src.text, range.end),
        ),
        None => (
            LineCol { line: 1, column: 1 },
            LineCol { line: 1, column: 1 },
        ),
    }
}

/// A path as the machine formats print it: as the report holds it (relative to the working
/// directory when under it), with `/` separators.
pub fn path_str(path: &std::path::Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// `s` with control characters (C0 but tab and line breaks, DEL, C1) written as `\x1b` /
/// `\u{9b}`, so source text, messages and file names in a terminal report cannot replay escape
/// sequences (as git and ripgrep do), whatever `--color` says.
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_hidden_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden_control(c) {
            if (c as u32) < 0x80 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `s` with each control character replaced by `?` repeated to its byte length: for source
/// text quoted by offsets (the byte positions of labels must not move).
pub fn visible_same_width(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_hidden_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if is_hidden_control(c) {
                    "?".repeat(c.len_utf8())
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

fn is_hidden_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

/// The fingerprint of every diagnostic of the report, in order (see
/// [`crate::diagnostic::fingerprint`]).
pub fn fingerprints(report: &Report) -> Vec<crate::diagnostic::fingerprint::Fingerprint> {
    crate::diagnostic::fingerprint::of(&report.diagnostics, &report.sources)
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_made_visible() {
        use super::{visible, visible_same_width};
        assert_eq!(visible("a\u{1b}[31mb\u{9b}c\td"), "a\\x1b[31mb\\u{9b}c\td");
        assert_eq!(visible_same_width("a\u{1b}b\u{9b}"), "a?b??");
        assert_eq!(visible("plain"), "plain");
    }
}
