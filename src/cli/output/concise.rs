//! `--format concise`: one line per finding, `path:line:col: rule message`, and nothing else
//! (no summary), for editors' quickfix lists and `grep`.

use super::{path_str, span_positions, visible};
use crate::Report;

/// Renders one line per diagnostic. Line breaks inside a message are written as `\n` so that
/// every finding stays on one line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let (s, _) = span_positions(report, &d.file, &d.range);
        let message = visible(&d.message)
            .replace("\r\n", "\\n")
            .replace(['\n', '\r'], "\\n");
        out.push_str(&format!(
            "{}:{}:{}: {} {}\n",
            visible(&path_str(&d.file)),
            s.line,
            s.column,
            d.rule,
            message
        ));
    }
    out
}
