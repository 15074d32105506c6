//! `--format github`: GitHub Actions workflow commands, one per diagnostic, which the runner
//! turns into annotations on the pull request:
//! `::error file=PATH,line=L,endLine=EL,col=C,endColumn=EC,title=unleak RULE::MESSAGE`.

use super::{path_str, span_positions};
use crate::Report;
use crate::diagnostic::Severity;

/// Escapes the message of a workflow command (the runner's `escapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (the runner's `escapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Renders one workflow command per diagnostic. The message is the diagnostic's message and,
/// on a second line, its help. A file that could not be read has no position: only `file=`.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = vec![format!(
            "file={}",
            escape_property(&super::visible(&path_str(&d.file)))
        )];
        if report.sources.contains_key(&d.file) {
            let (s, e) = span_positions(report, &d.file, &d.range);
            props.push(format!("line={}", s.line));
            props.push(format!("endLine={}", e.line));
            props.push(format!("col={}", s.column));
            props.push(format!("endColumn={}", e.column));
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("unleak {}", d.rule))
        ));
        out.push_str(&format!(
            "::{command} {}::{}\n",
            props.join(","),
            escape_data(&super::visible(&d.message_with_help()))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(escape_data("a%b\r\nc:d,e"), "a%25b%0D%0Ac:d,e");
        assert_eq!(escape_property("a%b\r\nc:d,e"), "a%25b%0D%0Ac%3Ad%2Ce");
    }
}
