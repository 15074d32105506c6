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
            src.lines.line_col(&src.text, range.start),
            src.lines.line_col(&src.text, range.end),
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

/// The fingerprint of every diagnostic of the report, in order (see
/// [`crate::diagnostic::fingerprint`]).
pub fn fingerprints(report: &Report) -> Vec<crate::diagnostic::fingerprint::Fingerprint> {
    crate::diagnostic::fingerprint::of(&report.diagnostics, &report.sources)
}
