//! Human output: codespan-reporting diagnostics with labels and help, then a summary line.

use std::collections::HashMap;
use std::path::PathBuf;

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity,
};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::WriteColor};

use crate::Report;
use crate::diagnostic::Severity;

/// Lines of a fix's diff shown under a finding; longer diffs are cut (`--diff` shows them all).
const FIX_PREVIEW_LINES: usize = 12;

/// Largest stretch of a file (whole lines around a fix's edits) whose diff is previewed.
const LONGEST_PREVIEW: usize = 64 * 1024;

/// Each fix of `d` as a short diff with its applicability, under the finding. Only the lines
/// the edits touch are diffed (not the whole file once per finding); a change on lines too long
/// to quote is named, not shown.
fn write_fixes(
    out: &mut dyn WriteColor,
    d: &crate::Diagnostic,
    src: &crate::source::SourceFile,
) -> std::io::Result<()> {
    use codespan_reporting::term::termcolor::{Color, ColorSpec};
    for f in &d.fixes {
        let how = match f.applicability {
            crate::diagnostic::Applicability::Safe => "safe fix (--fix)",
            crate::diagnostic::Applicability::Unsafe => "unsafe fix (--fix --unsafe-fixes)",
            crate::diagnostic::Applicability::DisplayOnly => {
                "suggestion (not applied automatically)"
            }
        };
        out.set_color(ColorSpec::new().set_bold(true))?;
        write!(out, "  {how}")?;
        out.reset()?;
        writeln!(out, ": {}", super::visible(&f.title))?;
        let here: Vec<&crate::diagnostic::Edit> = f
            .edits
            .iter()
            .filter(|e| e.file.as_ref().is_none_or(|p| p == &d.file))
            .collect();
        let (Some(lo), Some(hi)) = (
            here.iter().map(|e| e.range.start).min(),
            here.iter().map(|e| e.range.end).max(),
        ) else {
            continue;
        };
        let text = &src.text;
        let (lo, hi) = (lo.min(text.len()), hi.min(text.len()));
        let first = src.lines().line_range(text, src.lines().line_at(lo));
        let last = src.lines().line_range(text, src.lines().line_at(hi));
        // Whole lines, with the last one's line ending.
        let end = text[last.end..]
            .find('\n')
            .map_or(text.len(), |n| last.end + n + 1);
        // One line of context on each side.
        let start = if first.start > 0 {
            src.lines()
                .line_range(text, src.lines().line_at(first.start - 1))
                .start
        } else {
            first.start
        };
        let end = if end < text.len() {
            let next = src.lines().line_range(text, src.lines().line_at(end));
            text[next.end..]
                .find('\n')
                .map_or(text.len(), |n| next.end + n + 1)
        } else {
            end
        };
        let region = start..end;
        if region.len() > LONGEST_PREVIEW
            || first.len() > LONGEST_QUOTED_LINE
            || last.len() > LONGEST_QUOTED_LINE
        {
            writeln!(
                out,
                "    (the change is too long to preview here; --diff shows it)"
            )?;
            continue;
        }
        let before = &text[region.clone()];
        let edits: Vec<(std::ops::Range<usize>, String)> = here
            .iter()
            .map(|e| {
                let r = e.range.start.saturating_sub(region.start)
                    ..e.range.end.saturating_sub(region.start);
                (r, e.content.clone())
            })
            .collect();
        let (after, _) = crate::fix::apply_edits(before, &edits);
        let diff = similar::TextDiff::from_lines(before, after.as_str());
        // The line numbers of the file as it is (an inserted line has none yet), one line of
        // context around each change, `┆` between changes apart.
        let first_line = src.lines().line_at(region.start) + 1;
        let width = (first_line + before.lines().count()).to_string().len();
        let mut shown = 0;
        for (g, group) in diff.grouped_ops(1).into_iter().enumerate() {
            if g > 0 && shown < FIX_PREVIEW_LINES {
                writeln!(out, "    {:>width$} ┆", "")?;
            }
            for op in group {
                for change in diff.iter_changes(&op) {
                    let (sign, color) = match change.tag() {
                        similar::ChangeTag::Delete => ('-', Some(Color::Red)),
                        similar::ChangeTag::Insert => ('+', Some(Color::Green)),
                        similar::ChangeTag::Equal => (' ', None),
                    };
                    if shown == FIX_PREVIEW_LINES {
                        writeln!(out, "    {:>width$} │ …", "")?;
                    }
                    shown += 1;
                    if shown > FIX_PREVIEW_LINES {
                        continue;
                    }
                    let line = change.value().trim_end_matches(['\n', '\r']);
                    let number = match change.tag() {
                        similar::ChangeTag::Insert => String::new(),
                        _ => change
                            .old_index()
                            .map_or(String::new(), |i| (first_line + i).to_string()),
                    };
                    write!(out, "    {number:>width$} │")?;
                    if let Some(color) = color {
                        out.set_color(ColorSpec::new().set_fg(Some(color)))?;
                    }
                    let text = format!(" {sign} {}", super::visible(line));
                    write!(out, "{}", text.trim_end())?;
                    out.reset()?;
                    writeln!(out)?;
                }
            }
        }
    }
    if !d.fixes.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// Lines longer than this (in bytes) are not quoted.
const LONGEST_QUOTED_LINE: usize = 1_000;

/// The first and last lines of `range` in `file` are short enough to quote.
fn quotable(report: &Report, file: &std::path::Path, range: &std::ops::Range<usize>) -> bool {
    report.sources.get(file).is_some_and(|src| {
        [range.start, range.end].iter().all(|&o| {
            let line = src.lines().line_at(o);
            src.lines().line_range(&src.text, line).len() <= LONGEST_QUOTED_LINE
        })
    })
}

/// Writes every diagnostic and a summary to `out`.
pub fn render(report: &Report, out: &mut dyn WriteColor) -> std::io::Result<()> {
    // The sources are borrowed, not copied: a report over a big project holds many files.
    let mut files: SimpleFiles<String, std::borrow::Cow<str>> = SimpleFiles::new();
    let mut ids: HashMap<PathBuf, usize> = HashMap::new();
    let mut paths: Vec<&PathBuf> = report.sources.keys().collect();
    paths.sort();
    for p in paths {
        let src = &report.sources[p];
        ids.insert(
            p.clone(),
            files.add(
                super::visible(&p.display().to_string()).into_owned(),
                super::visible_same_width(&src.text),
            ),
        );
    }
    let config = term::Config::default();
    // A rule's explanation is the same on many findings: shown the first time only.
    let mut explained: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
    for d in &report.diagnostics {
        let (headline, explanation) = d.headline();
        let severity = match d.severity {
            Severity::Error => CsSeverity::Error,
            Severity::Warning => CsSeverity::Warning,
            Severity::Info => CsSeverity::Note,
        };
        let mut cs = CsDiagnostic::new(severity)
            .with_code(d.rule)
            .with_message(super::visible(headline));
        let mut notes = Vec::new();
        if let Some(why) = explanation
            && explained.insert((d.rule, why))
        {
            notes.push(format!("why: {}", super::visible(why)));
        }
        match ids.get(&d.file) {
            Some(&id) if quotable(report, &d.file, &d.range) => {
                let mut labels = vec![CsLabel::primary(id, d.range.clone())];
                for l in &d.labels {
                    let file = l.file.as_ref().unwrap_or(&d.file);
                    if let Some(&lid) = ids.get(file)
                        && quotable(report, file, &l.range)
                    {
                        labels.push(
                            CsLabel::secondary(lid, l.range.clone())
                                .with_message(super::visible(&l.message)),
                        );
                    }
                }
                cs = cs.with_labels(labels);
            }
            Some(_) => {
                // Minified code: quoting a line of megabytes once per finding would flood the
                // terminal (and fill disks): give the position instead.
                let (start, _) = super::span_positions(report, &d.file, &d.range);
                notes.push(format!(
                    "at {}:{}:{} (the line is too long to quote)",
                    super::visible(&d.file.display().to_string()),
                    start.line,
                    start.column
                ));
            }
            None => {
                // A file that could not be read has no source to show: name it in a note.
                notes.push(format!(
                    "in {}",
                    super::visible(&d.file.display().to_string())
                ));
            }
        }
        if let Some(h) = &d.help {
            notes.push(format!("help: {}", super::visible(h)));
        }
        cs = cs.with_notes(notes);
        if term::emit_to_write_style(out, &config, &files, &cs).is_err() {
            writeln!(
                out,
                "{}: {}: {}",
                super::visible(&d.file.display().to_string()),
                d.rule,
                super::visible(headline)
            )?;
        }
        if let Some(src) = report.sources.get(&d.file) {
            write_fixes(out, d, src)?;
        }
    }
    let summary = crate::summary::Summary::of(report);
    for line in summary.lines(report.nothing_linted.as_deref()) {
        writeln!(out, "{}", super::visible(&line))?;
    }
    Ok(())
}
