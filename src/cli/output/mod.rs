//! Output formats, one file each. Every format renders the same [`crate::Report`].

pub mod human;
pub mod json;

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
