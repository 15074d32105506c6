//! Unit tests of the server: requests and notifications through an in-memory connection.
use super::*;
use crate::diagnostic::{Applicability, Diagnostic, Edit, Fix, Severity};
use serde_json::json;

const URI: &str = "file:///nowhere/unit.ts";
const TEXT: &str = "export function run(x: () => void) {\n  try { x() } catch (e) {}\n}\n";

fn server(docs: &Path) -> (Server, Connection) {
    let (server_side, client) = Connection::memory();
    let config = ServerConfig {
        docs_dir: Some(docs.to_path_buf()),
        ..ServerConfig::default()
    };
    let caps = json!({ "capabilities": { "workspace": { "workspaceEdit": { "documentChanges": true } } } });
    (Server::new(server_side, config, &caps).unwrap(), client)
}

fn publications(client: &Connection) -> Vec<Value> {
    client
        .receiver
        .try_iter()
        .filter_map(|m| match m {
            Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                Some(n.params)
            }
            _ => None,
        })
        .collect()
}

fn result(epoch: u64, version: i32, findings: Vec<Finding>) -> DocResult {
    DocResult {
        uri: URI.into(),
        epoch,
        version,
        findings: Arc::new(findings),
    }
}

/// A silent-error finding carrying a made-up fix inside the empty `catch` block (no rule
/// has a safe fix yet).
fn finding_with_fix(doc: &Document, applicability: Applicability, content: &str) -> Finding {
    let at = TEXT.find("{}\n}").unwrap() + 1;
    let mut d = Diagnostic::new(
        "silent-error",
        Severity::Warning,
        doc.path.clone().unwrap(),
        TEXT.find("catch").unwrap()..TEXT.find("catch").unwrap() + 5,
        "swallowed",
    );
    d.fixes.push(Fix {
        title: "fill the catch block".into(),
        applicability,
        edits: vec![Edit {
            file: None,
            range: at..at,
            content: content.into(),
        }],
    });
    let links = HashMap::new();
    let ctx = findings::Context {
        encoding: Encoding::Utf16,
        doc_links: &links,
        source_of: &|_| None,
        uri_of: &|_| (URI.to_string(), Some(doc.version)),
    };
    findings::prepare(d, doc.view(), &ctx)
}

#[test]
fn results_for_an_older_version_or_opening_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, client) = server(dir.path());
    s.open(URI.into(), "typescript", 1, TEXT.into());
    let whole = |t: &str| {
        vec![
            lsp::TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(
                lsp::TextDocumentContentChangeWholeDocument { text: t.into() },
            ),
        ]
    };
    s.docs.get_mut(URI).unwrap().apply(2, whole("x"));
    // Version 1 is no longer the document's: dropped.
    s.on_results(vec![result(1, 1, Vec::new())]);
    assert!(publications(&client).is_empty());
    s.on_results(vec![result(1, 2, Vec::new())]);
    let p = publications(&client);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["version"], 2);
    // The same version of an earlier opening of the URI: dropped too.
    s.close(URI);
    s.open(URI.into(), "typescript", 2, TEXT.into());
    let _ = publications(&client);
    s.on_results(vec![result(1, 2, Vec::new())]);
    assert!(publications(&client).is_empty());
    s.on_results(vec![result(2, 2, Vec::new())]);
    assert_eq!(publications(&client).len(), 1);
    // Unchanged findings are not published again.
    s.on_results(vec![result(2, 2, Vec::new())]);
    assert!(publications(&client).is_empty());
    s.stop();
}

#[test]
fn a_change_that_repeats_a_version_still_drops_results_for_the_old_text() {
    // Found by the soak test: results computed from one text were placed on another of the
    // same version, and building a quick fix sliced the new text with the old ranges.
    let dir = tempfile::tempdir().unwrap();
    let (mut s, client) = server(dir.path());
    s.open(URI.into(), "typescript", 1, TEXT.into());
    let change = |s: &mut Server, version: i32, text: &str| {
        s.on_notification(Notification::new(
            "textDocument/didChange".into(),
            serde_json::json!({
                "textDocument": { "uri": URI, "version": version },
                "contentChanges": [{ "text": text }],
            }),
        ));
        s.docs[URI].epoch
    };
    let first = change(&mut s, 2, "x");
    let _ = publications(&client);
    let second = change(&mut s, 2, "yy");
    assert_ne!(first, second);
    // Computed from "x", which version 2 no longer holds: dropped.
    s.on_results(vec![result(first, 2, Vec::new())]);
    assert!(publications(&client).is_empty());
    s.on_results(vec![result(second, 2, Vec::new())]);
    assert_eq!(publications(&client).len(), 1);
    s.stop();
}

#[test]
fn fix_all_takes_each_safe_fix_once_and_none_that_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _client) = server(dir.path());
    s.open(URI.into(), "typescript", 3, TEXT.into());
    let doc = &s.docs[URI];
    // Two findings whose safe fixes insert at the same place, and an unsafe fix.
    let first = finding_with_fix(doc, Applicability::Safe, " throw e; ");
    let second = finding_with_fix(doc, Applicability::Safe, " log(e); ");
    let unsafe_fix = finding_with_fix(doc, Applicability::Unsafe, " exit(); ");
    s.on_results(vec![result(1, 3, vec![unsafe_fix, first, second])]);
    let params: lsp::CodeActionParams = serde_json::from_value(json!({
        "textDocument": { "uri": URI },
        "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
        "context": { "diagnostics": [], "only": ["source.fixAll"] },
    }))
    .unwrap();
    let response = s.code_action(RequestId::from(7), params).unwrap();
    let actions = response.response_result.unwrap();
    let actions = actions.as_array().unwrap();
    assert_eq!(actions.len(), 1, "only the fix-all action: {actions:?}");
    let action = &actions[0];
    assert_eq!(action["kind"], "source.fixAll.unleak");
    assert_eq!(
        action["title"],
        "Fix all safely fixable unleak findings (1 fix)"
    );
    let doc_edit = &action["edit"]["documentChanges"][0];
    assert_eq!(
        doc_edit["textDocument"],
        json!({ "uri": URI, "version": 3 })
    );
    assert_eq!(
        doc_edit["edits"],
        json!([{
            "range": { "start": { "line": 1, "character": 25 }, "end": { "line": 1, "character": 25 } },
            "newText": " throw e; ",
        }])
    );
    s.stop();
}

#[test]
fn settings_and_roots_from_initialize() {
    let s = read_settings(
        &json!({ "unleak": { "baseline": "b.json" } }),
        Settings::default(),
    );
    assert_eq!(s.baseline, Some(PathBuf::from("b.json")));
    let s = read_settings(&json!({ "baseline": null }), s);
    assert_eq!(s.baseline, None);
    assert_eq!(
        workspace_roots(
            &json!({ "workspaceFolders": [{ "uri": "file:///w/a", "name": "a" }], "rootUri": "file:///w" })
        ),
        [PathBuf::from("/w/a")]
    );
    assert_eq!(
        workspace_roots(&json!({ "rootUri": "file:///w", "workspaceFolders": null })),
        [PathBuf::from("/w")]
    );
    assert_eq!(
        workspace_roots(&json!({ "rootPath": "/p" })),
        [PathBuf::from("/p")]
    );
    assert!(workspace_roots(&json!({})).is_empty());
}
