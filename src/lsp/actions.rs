//! Code actions and hover: each fix as a quick fix (its title says whether it is safe), "ignore
//! this finding" (an `unleak-ignore` comment with a reason placeholder, on the line above, or
//! added to the suppression already there; or file-wide), removing an unused suppression,
//! `source.fixAll.unleak` (the safe fixes), and the rule's documentation on hover.

use std::collections::HashMap;

use gen_lsp_types as lsp;

use super::documents::Document;
use super::findings::{FileEdits, Finding, PreparedFix};
use crate::diagnostic::Applicability;
use crate::suppress;

/// The kind of the fix-all action.
pub const FIX_ALL_KIND: &str = "source.fixAll.unleak";

/// The placeholder the "ignore" actions leave for the reason, which a suppression requires.
pub const REASON_PLACEHOLDER: &str = "<reason>";

/// What the client's workspace edits support.
#[derive(Clone, Copy, Debug, Default)]
pub struct EditCaps {
    /// Versioned `documentChanges` rather than a plain `changes` map.
    pub document_changes: bool,
    /// `create` resource operations.
    pub create_files: bool,
}

/// A workspace edit of per-document edits.
pub fn workspace_edit(files: &[FileEdits], caps: EditCaps) -> lsp::WorkspaceEdit {
    if caps.document_changes {
        let mut changes = Vec::new();
        for f in files {
            if f.create {
                changes.push(lsp::DocumentChange::CreateFile(lsp::CreateFile {
                    uri: f.uri.clone().into(),
                    options: Some(lsp::CreateFileOptions {
                        overwrite: None,
                        ignore_if_exists: Some(true),
                    }),
                    annotation_id: None,
                }));
            }
            changes.push(lsp::DocumentChange::TextDocumentEdit(
                lsp::TextDocumentEdit {
                    text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                        version: f.version,
                        text_document_identifier: lsp::TextDocumentIdentifier {
                            uri: f.uri.clone().into(),
                        },
                    },
                    edits: f.edits.iter().cloned().map(lsp::Edit::TextEdit).collect(),
                },
            ));
        }
        lsp::WorkspaceEdit {
            changes: None,
            document_changes: Some(changes),
            change_annotations: None,
        }
    } else {
        let mut map: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
        for f in files {
            map.entry(f.uri.clone().into())
                .or_default()
                .extend(f.edits.iter().cloned());
        }
        lsp::WorkspaceEdit {
            changes: Some(map),
            document_changes: None,
            change_annotations: None,
        }
    }
}

fn action(
    title: String,
    kind: lsp::CodeActionKind,
    finding: Option<&Finding>,
    preferred: bool,
    edit: lsp::WorkspaceEdit,
) -> lsp::CodeAction {
    lsp::CodeAction {
        title,
        kind: Some(kind),
        diagnostics: finding.map(|f| vec![f.lsp.clone()]),
        is_preferred: preferred.then_some(true),
        disabled: None,
        edit: Some(edit),
        command: None,
        data: None,
        tags: None,
    }
}

/// The title of a fix, saying how safe it is.
pub fn fix_title(fix: &PreparedFix) -> String {
    let title = capitalise(&fix.title);
    match fix.applicability {
        Applicability::Safe => format!("{title} (safe fix)"),
        Applicability::Unsafe => format!("{title} (unsafe fix: changes behaviour, review it)"),
        Applicability::DisplayOnly => format!("{title} (suggestion: review before keeping)"),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The quick fixes of one finding of `doc`.
pub fn quick_fixes(finding: &Finding, doc: &Document, caps: EditCaps) -> Vec<lsp::CodeAction> {
    let mut out: Vec<lsp::CodeAction> = finding
        .fixes
        .iter()
        .map(|fix| {
            action(
                fix_title(fix),
                lsp::CodeActionKind::QuickFix,
                Some(finding),
                fix.applicability == Applicability::Safe,
                workspace_edit(&fix.files, caps),
            )
        })
        .collect();
    let d = &finding.diagnostic;
    let here = |edits: Vec<lsp::TextEdit>| {
        workspace_edit(
            &[FileEdits {
                uri: doc.uri.clone(),
                version: Some(doc.version),
                create: false,
                edits,
            }],
            caps,
        )
    };
    if d.rule == suppress::UNUSED {
        if let Some(edit) = remove_comment(doc, d.range.clone()) {
            out.push(action(
                "Remove the unused suppression".into(),
                lsp::CodeActionKind::QuickFix,
                Some(finding),
                true,
                here(vec![edit]),
            ));
        }
        return out;
    }
    // Only rules can be suppressed (not read or parse failures, not suppressions themselves).
    if crate::registry::find(d.rule).is_none() {
        return out;
    }
    if let Some(edit) = ignore_here(doc, d.rule, d.range.start) {
        out.push(action(
            format!("Ignore `{}` here (add an unleak-ignore comment)", d.rule),
            lsp::CodeActionKind::QuickFix,
            Some(finding),
            false,
            here(vec![edit]),
        ));
    }
    out.push(action(
        format!("Ignore `{}` in this file", d.rule),
        lsp::CodeActionKind::QuickFix,
        Some(finding),
        false,
        here(vec![ignore_in_file(doc, d.rule)]),
    ));
    out
}

/// The line ending the document uses.
fn eol(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// Suppresses `rule` at the line of `offset`: adds it to the line suppression on the line
/// above when there is one (a new line in between would detach that one), else inserts
/// `// unleak-ignore <rule>: <reason>` above, indented like the line. `None` when the line above
/// already names the rule.
pub fn ignore_here(doc: &Document, rule: &str, offset: usize) -> Option<lsp::TextEdit> {
    let text = &*doc.text;
    let view = doc.view();
    let line = doc.lines.line_col(text, offset).line as usize - 1;
    let line_start = doc.lines.line_range(text, line).start;
    if line > 0 {
        let above = suppress::parse(text, &doc.lines, &[])
            .into_iter()
            .find(|s| !s.file_wide && s.line == line - 1);
        if let Some(s) = above {
            if s.rules.iter().any(|r| r == rule) {
                return None;
            }
            let comment = &text[s.span.clone()];
            let after_marker = comment.find("unleak-ignore")? + "unleak-ignore".len();
            if let Some(colon) = comment[after_marker..].find(':') {
                let rules_end = s.span.start
                    + after_marker
                    + comment[after_marker..after_marker + colon].trim_end().len();
                let pos = view.position(rules_end, doc.encoding);
                return Some(lsp::TextEdit {
                    range: lsp::Range {
                        start: pos,
                        end: pos,
                    },
                    new_text: format!(", {rule}"),
                });
            }
        }
    }
    let indent: String = text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let pos = view.position(line_start, doc.encoding);
    Some(lsp::TextEdit {
        range: lsp::Range {
            start: pos,
            end: pos,
        },
        new_text: format!(
            "{indent}// unleak-ignore {rule}: {REASON_PLACEHOLDER}{}",
            eol(text)
        ),
    })
}

/// Inserts `// unleak-ignore-file <rule>: <reason>` at the top (after a `#!` line).
pub fn ignore_in_file(doc: &Document, rule: &str) -> lsp::TextEdit {
    let text = &*doc.text;
    let at = if text.starts_with("#!") && !text.starts_with("#![") {
        let first = doc.lines.line_range(text, 0);
        doc.lines.line_range(text, 1).start.max(first.end)
    } else {
        0
    };
    let pos = doc.view().position(at, doc.encoding);
    // A `#!` line without a newline after it: start a new line first.
    let lead = if at > 0 && !text[..at].ends_with('\n') {
        eol(text)
    } else {
        ""
    };
    lsp::TextEdit {
        range: lsp::Range {
            start: pos,
            end: pos,
        },
        new_text: format!(
            "{lead}// unleak-ignore-file {rule}: {REASON_PLACEHOLDER}{}",
            eol(text)
        ),
    }
}

/// Deletes a suppression comment (`range`: from its start to the end of its line): its whole
/// line when nothing else is on it, else the comment and the blanks before it. Code after a
/// `/* … */` comment stays.
fn remove_comment(doc: &Document, range: std::ops::Range<usize>) -> Option<lsp::TextEdit> {
    let text = &*doc.text;
    let line = doc.lines.line_col(text, range.start).line as usize - 1;
    let lr = doc.lines.line_range(text, line);
    let before = text.get(lr.start..range.start)?;
    let comment_end = if text[range.start..].starts_with("/*") {
        text[range.start..lr.end]
            .find("*/")
            .map_or(lr.end, |i| range.start + i + 2)
    } else {
        lr.end
    };
    let after_blank = text[comment_end..lr.end].trim().is_empty();
    let bytes = if before.trim().is_empty() && after_blank {
        let next = doc.lines.line_range(text, line + 1).start;
        if next > lr.end {
            lr.start..next
        } else if line > 0 {
            // The last line: take the line break before it instead.
            doc.lines.line_range(text, line - 1).end..lr.end
        } else {
            lr.start..lr.end
        }
    } else if after_blank {
        lr.start + before.trim_end().len()..lr.end
    } else {
        range.start..comment_end
    };
    Some(lsp::TextEdit {
        range: doc.view().range(&bytes, doc.encoding),
        new_text: String::new(),
    })
}

/// The `source.fixAll.unleak` action: the safe fixes of a document's findings, in one edit —
/// each fix whole or not at all, and none overlapping one already taken (what remains is
/// fixed by the next fix-all, against the new text). `None` when there is nothing to apply.
pub fn fix_all(findings: &[Finding], caps: EditCaps) -> Option<lsp::CodeAction> {
    let mut files: Vec<FileEdits> = Vec::new();
    let mut fixes = 0;
    for f in findings {
        let safe = f
            .fixes
            .iter()
            .filter(|x| x.applicability == Applicability::Safe);
        for fix in safe {
            let clashes = fix.files.iter().any(|fe| {
                files.iter().any(|taken| {
                    taken.uri == fe.uri
                        && fe
                            .edits
                            .iter()
                            .any(|e| taken.edits.iter().any(|t| clash(&e.range, &t.range)))
                })
            });
            if clashes {
                continue;
            }
            for fe in &fix.files {
                match files.iter_mut().find(|t| t.uri == fe.uri) {
                    Some(t) => {
                        t.create |= fe.create;
                        t.edits.extend(fe.edits.iter().cloned());
                    }
                    None => files.push(fe.clone()),
                }
            }
            fixes += 1;
            break;
        }
    }
    if fixes == 0 {
        return None;
    }
    Some(action(
        format!(
            "Fix all safely fixable unleak findings ({fixes} fix{})",
            if fixes == 1 { "" } else { "es" }
        ),
        lsp::CodeActionKind::Custom(FIX_ALL_KIND.into()),
        None,
        false,
        workspace_edit(&files, caps),
    ))
}

/// Two edits of one document conflict when their ranges intersect or start at the same place
/// (two insertions there have no order of their own).
fn clash(a: &lsp::Range, b: &lsp::Range) -> bool {
    (a.start < b.end && b.start < a.end) || a.start == b.start
}

/// Whether an action of `kind` was asked for by the request's `only` filter (a kind matches
/// itself and its sub-kinds: `source` asks for `source.fixAll.unleak`).
pub fn wanted(only: Option<&[lsp::CodeActionKind]>, kind: &str) -> bool {
    match only {
        None => true,
        Some(list) => list.iter().any(|k| {
            let k: String = k.clone().into();
            kind == k || kind.starts_with(&format!("{k}."))
        }),
    }
}

/// The hover at `offset`: on a rule id in a suppression comment, that rule's documentation;
/// else, for each finding under it, its message and the rule's documentation.
pub fn hover(findings: &[Finding], doc: &Document, offset: usize) -> Option<lsp::Hover> {
    let markdown = |value: String, range: lsp::Range| lsp::Hover {
        contents: lsp::Contents::MarkupContent(lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value,
        }),
        range: Some(range),
    };
    if let Some((rule, r)) = rule_in_suppression(doc, offset)
        && let Some(docs) = crate::registry::doc(rule)
    {
        return Some(markdown(
            docs.to_string(),
            doc.view().range(&r, doc.encoding),
        ));
    }
    let mut parts = Vec::new();
    let mut range = None;
    for f in findings {
        let d = &f.diagnostic;
        if d.range.start <= offset && offset <= d.range.end {
            let mut s = format!(
                "**unleak: `{}`** ({})\n\n{}",
                d.rule,
                d.severity.as_str(),
                d.message
            );
            if let Some(h) = &d.help {
                s.push_str(&format!("\n\n*help:* {h}"));
            }
            if let Some(docs) = crate::registry::doc(d.rule) {
                s.push_str("\n\n---\n\n");
                s.push_str(docs);
            }
            parts.push(s);
            range.get_or_insert(f.lsp.range);
        }
    }
    Some(markdown(parts.join("\n\n---\n\n"), range?))
}

/// The rule id under `offset` in an `unleak-ignore` comment, with its byte range.
fn rule_in_suppression(
    doc: &Document,
    offset: usize,
) -> Option<(&'static str, std::ops::Range<usize>)> {
    let text = &*doc.text;
    let line = doc.lines.line_col(text, offset).line as usize - 1;
    let lr = doc.lines.line_range(text, line);
    let l = &text[lr.clone()];
    let marker = l.find("unleak-ignore")?;
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let at = offset.checked_sub(lr.start)?;
    if at < marker || at > l.len() {
        return None;
    }
    // After the last character that is not part of a rule id (which may be several bytes).
    let start = l[..at]
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_word(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = l[at..]
        .find(|c: char| !is_word(c))
        .map_or(l.len(), |i| at + i);
    let word = &l[start..end];
    let rule = crate::registry::find(word)?.meta().id;
    Some((rule, lr.start + start..lr.start + end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsp::convert::Encoding;

    #[test]
    fn a_rule_in_a_suppression_after_multibyte_text() {
        // Found by the soak test: a character of several bytes right before `unleak-ignore`
        // made the start of the hovered word fall inside it (a panic).
        let text = "éunleak-ignore orphaned-interval: test\n";
        let doc = Document::new(
            "file:///a.ts".into(),
            "typescript",
            1,
            text.into(),
            1,
            Encoding::Utf16,
        );
        assert_eq!(rule_in_suppression(&doc, 2), None);
        let at = text.find("interval").unwrap();
        let (rule, range) = rule_in_suppression(&doc, at).expect("the rule id is hovered");
        assert_eq!(rule, "orphaned-interval");
        assert_eq!(&text[range], "orphaned-interval");
    }
}
