//! `--format junit`: JUnit XML for CI test reports (GitLab `artifacts:reports:junit`, Jenkins,
//! Azure Pipelines…). `<testsuites>` holds one `<testsuite>` per file with diagnostics and one
//! `<testcase>` per diagnostic: a `<failure>` for an error or warning, an `<error>` for a file
//! that could not be linted (`io-error`, `parse-error`, `timeout`, `internal-error`), and a passing test
//! case with the note in `<system-out>` for an info-level diagnostic (a finding or a skipped
//! unparsable region) (which does not fail the
//! run either). A clean run is one passing test case.

use std::fmt::Write as _;
use std::path::Path;

use super::{path_str, span_positions};
use crate::Report;
use crate::diagnostic::Severity;
use crate::diagnostic::is_failure;

/// Escapes text content. Characters XML 1.0 cannot hold (most control characters) become
/// U+FFFD.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

/// Escapes an attribute value (for double quotes); whitespace other than the space is written
/// as a character reference so that attribute normalisation keeps it.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
}

/// The element a diagnostic's test case holds: `failure` for a finding at warning level or
/// above, `error` for a file that could not be linted, none for an info-level note.
fn element(d: &crate::Diagnostic) -> Option<&'static str> {
    if d.severity < Severity::Warning {
        None
    } else if is_failure(d.rule) {
        Some("error")
    } else {
        Some("failure")
    }
}

/// Renders the report as one XML document.
pub fn render(report: &Report) -> String {
    // Group by file, keeping the report's order (sorted by path, then position).
    let mut groups: Vec<(&Path, Vec<&crate::Diagnostic>)> = Vec::new();
    for d in &report.diagnostics {
        match groups.last_mut() {
            Some((p, v)) if *p == d.file.as_path() => v.push(d),
            _ => groups.push((d.file.as_path(), vec![d])),
        }
    }
    let count = |v: &[&crate::Diagnostic]| {
        let n = |el| v.iter().filter(|d| element(d) == Some(el)).count();
        (n("failure"), n("error"))
    };
    let all: Vec<&crate::Diagnostic> = report.diagnostics.iter().collect();
    let (failures, errors) = count(&all);
    let tests = all.len().max(1);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"unleak\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">"
    );
    if groups.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"unleak\" tests=\"1\" failures=\"0\" errors=\"0\">\n    \
             <testcase name=\"no leaks found in {} file(s)\" classname=\"unleak\"/>\n  \
             </testsuite>",
            report.files
        );
    }
    for (path, diags) in &groups {
        let path = path_str(path);
        let (failures, errors) = count(diags);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">",
            escape_attr(&path),
            diags.len()
        );
        for d in diags {
            let (s, _) = span_positions(report, &d.file, &d.range);
            let location = format!("{path}:{}:{}", s.line, s.column);
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\">",
                escape_attr(&format!("{} at {location}", d.rule)),
                escape_attr(&path),
                escape_attr(&path),
                s.line
            );
            let mut body = format!(
                "{location}: {} {}: {}",
                d.severity.as_str(),
                d.rule,
                d.message
            );
            if let Some(h) = &d.help {
                body.push_str("\nhelp: ");
                body.push_str(h);
            }
            match element(d) {
                Some(el) => {
                    let _ = writeln!(
                        out,
                        "      <{el} message=\"{}\" type=\"{}\">{}</{el}>",
                        escape_attr(&d.message),
                        escape_attr(d.rule),
                        escape_text(&body)
                    );
                }
                None => {
                    let _ = writeln!(out, "      <system-out>{}</system-out>", escape_text(&body));
                }
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_text("a<b>&c\n\u{1}"), "a&lt;b&gt;&amp;c\n\u{fffd}");
        assert_eq!(
            escape_attr("\"x\" & 'y'\n<"),
            "&quot;x&quot; &amp; &apos;y&apos;&#10;&lt;"
        );
    }
}
