//! `unleak lsp`: the language server driven in-process over an in-memory connection (open →
//! diagnostics → code action → apply → diagnostics gone, incremental edits, exact columns on
//! non-ASCII lines, pull diagnostics, cross-file updates, configuration and baseline reloads,
//! bad input), the real binary over stdio, and one end-to-end run from a real editor: headless
//! Neovim's built-in LSP client.

mod common;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response, ResponseError};
use serde_json::{Value, json};
use unleak::lsp::ServerConfig;

/// How long any one wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- the test client

/// An LSP client talking to an in-process server.
struct Client {
    conn: Connection,
    server: Option<JoinHandle<Result<bool, String>>>,
    next_id: i32,
    /// Notifications and server requests received while waiting for something else.
    inbox: VecDeque<Message>,
    /// Every `publishDiagnostics` seen, in order: (uri, version, diagnostics).
    published: Vec<(String, Option<i64>, Vec<Value>)>,
    /// How many of `published` a wait has already looked at, per URI.
    seen: HashMap<String, usize>,
    /// The client's copy of each open document: (version, text).
    docs: HashMap<String, (i64, String)>,
    utf8: bool,
    /// The initialize result.
    init: Value,
    _docs_dir: tempfile::TempDir,
}

struct Setup {
    root: Option<PathBuf>,
    /// Offer UTF-8 positions.
    utf8: bool,
    /// Declare pull-diagnostics support.
    pull: bool,
    init_options: Value,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            root: None,
            utf8: false,
            pull: false,
            init_options: json!({}),
        }
    }
}

impl Client {
    fn start(setup: Setup) -> Client {
        let (server_side, client_side) = Connection::memory();
        let docs_dir = tempfile::tempdir().unwrap();
        let config = ServerConfig {
            debounce: Duration::from_millis(20),
            docs_dir: Some(docs_dir.path().to_path_buf()),
            fault_injection: true,
            ..ServerConfig::default()
        };
        let server = std::thread::spawn(move || unleak::lsp::run(server_side, config));
        let mut c = Client {
            conn: client_side,
            server: Some(server),
            next_id: 0,
            inbox: VecDeque::new(),
            published: Vec::new(),
            seen: HashMap::new(),
            docs: HashMap::new(),
            utf8: setup.utf8,
            init: Value::Null,
            _docs_dir: docs_dir,
        };
        // Anything before `initialize` is refused.
        let early = c.request("textDocument/hover", json!({}));
        assert_eq!(early.unwrap_err().code, -32002);
        let mut caps = json!({
            "general": { "positionEncodings": if setup.utf8 { json!(["utf-8", "utf-16"]) } else { json!(["utf-16"]) } },
            "workspace": { "workspaceEdit": { "documentChanges": true } },
            "textDocument": { "publishDiagnostics": { "relatedInformation": true } },
        });
        if setup.pull {
            caps["textDocument"]["diagnostic"] = json!({ "dynamicRegistration": false });
        }
        let folders = match &setup.root {
            Some(r) => json!([{ "uri": file_uri(r), "name": "w" }]),
            None => Value::Null,
        };
        let init = c
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": null,
                    "capabilities": caps,
                    "workspaceFolders": folders,
                    "initializationOptions": setup.init_options,
                }),
            )
            .expect("initialize succeeds");
        c.init = init;
        c.notify("initialized", json!({}));
        c
    }

    fn send(&self, msg: Message) {
        self.conn.sender.send(msg).expect("the server is running");
    }

    fn notify(&self, method: &str, params: Value) {
        self.send(Notification::new(method.into(), params).into());
    }

    /// Sends a request and waits for its response.
    fn request(&mut self, method: &str, params: Value) -> Result<Value, ResponseError> {
        let id = self.send_request(method, params);
        self.response(id)
    }

    fn send_request(&mut self, method: &str, params: Value) -> RequestId {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.send(Request::new(id.clone(), method.into(), params).into());
        id
    }

    fn response(&mut self, id: RequestId) -> Result<Value, ResponseError> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.recv(deadline) {
                Message::Response(Response {
                    id: rid,
                    response_result,
                }) if rid == id => return response_result,
                other => self.keep(other),
            }
        }
    }

    fn recv(&mut self, deadline: Instant) -> Message {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.conn.receiver.recv_timeout(left) {
            Ok(m) => m,
            Err(e) => panic!(
                "no message from the server in time ({e}); published so far: {:#?}",
                self.published
            ),
        }
    }

    fn keep(&mut self, msg: Message) {
        if let Message::Notification(n) = &msg
            && n.method == "textDocument/publishDiagnostics"
        {
            let uri = n.params["uri"].as_str().unwrap().to_string();
            let version = n.params["version"].as_i64();
            let diags = n.params["diagnostics"].as_array().unwrap().clone();
            self.published.push((uri, version, diags));
        }
        self.inbox.push_back(msg);
    }

    fn open(&mut self, uri: &str, language: &str, text: &str) {
        self.docs.insert(uri.into(), (1, text.into()));
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": language, "version": 1, "text": text } }),
        );
    }

    fn close(&mut self, uri: &str) {
        self.docs.remove(uri);
        self.notify(
            "textDocument/didClose",
            json!({ "textDocument": { "uri": uri } }),
        );
    }

    /// Replaces the whole text (a full-sync change).
    fn replace(&mut self, uri: &str, text: &str) {
        let doc = self.docs.get_mut(uri).unwrap();
        doc.0 += 1;
        doc.1 = text.into();
        let version = doc.0;
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    /// Sends incremental changes `(range, text)`, applying them to the client's copy too.
    fn edit(&mut self, uri: &str, changes: &[(Value, &str)]) {
        let utf8 = self.utf8;
        let doc = self.docs.get_mut(uri).unwrap();
        doc.0 += 1;
        for (range, text) in changes {
            doc.1 = apply_text_edit(&doc.1, range, text, utf8);
        }
        let version = doc.0;
        let changes: Vec<Value> = changes
            .iter()
            .map(|(range, text)| json!({ "range": range, "text": text }))
            .collect();
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": changes }),
        );
    }

    fn version(&self, uri: &str) -> i64 {
        self.docs[uri].0
    }

    fn text(&self, uri: &str) -> String {
        self.docs[uri].1.clone()
    }

    /// Waits for a `publishDiagnostics` of `uri` for its current version (or, for a document
    /// that is not open, any) that `pred` accepts, looking only at publications not yet
    /// looked at, and returns its diagnostics.
    fn diagnostics(&mut self, uri: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        let want = self.docs.get(uri).map(|d| d.0);
        loop {
            let from = self.seen.get(uri).copied().unwrap_or(0);
            let mut found = None;
            let mut n = 0;
            for (i, (u, v, diags)) in self.published.iter().enumerate() {
                if u != uri {
                    continue;
                }
                n = i + 1;
                if i >= from && (want.is_none() || *v == want) && pred(diags) {
                    found = Some(diags.clone());
                }
            }
            if let Some(d) = found {
                self.seen.insert(uri.into(), n);
                return d;
            }
            let msg = self.recv(deadline);
            self.keep(msg);
        }
    }

    fn code_actions(&mut self, uri: &str, range: Value, only: Option<&[&str]>) -> Vec<Value> {
        let mut context = json!({ "diagnostics": [] });
        if let Some(only) = only {
            context["only"] = json!(only);
        }
        let r = self
            .request(
                "textDocument/codeAction",
                json!({ "textDocument": { "uri": uri }, "range": range, "context": context }),
            )
            .expect("codeAction succeeds");
        r.as_array().cloned().unwrap_or_default()
    }

    /// Applies a code action's workspace edit to the client's copies and sends the changes
    /// (as full-text changes, as editors often do after a bulk edit).
    fn apply(&mut self, action: &Value) {
        let edit = &action["edit"];
        let mut per_doc: Vec<(String, Option<i64>, Vec<Value>)> = Vec::new();
        if let Some(dc) = edit["documentChanges"].as_array() {
            for c in dc {
                let uri = c["textDocument"]["uri"].as_str().unwrap().to_string();
                let version = c["textDocument"]["version"].as_i64();
                per_doc.push((uri, version, c["edits"].as_array().unwrap().clone()));
            }
        }
        if let Some(ch) = edit["changes"].as_object() {
            for (uri, edits) in ch {
                per_doc.push((uri.clone(), None, edits.as_array().unwrap().clone()));
            }
        }
        assert!(!per_doc.is_empty(), "the action has no edit: {action}");
        for (uri, version, edits) in per_doc {
            let (current, text) = self.docs[&uri].clone();
            if let Some(v) = version {
                assert_eq!(v, current, "the edit is for the current version of {uri}");
            }
            // Edits of one document do not overlap: apply them back to front.
            let mut edits = edits;
            edits.sort_by_key(|e| {
                std::cmp::Reverse((
                    e["range"]["start"]["line"].as_u64(),
                    e["range"]["start"]["character"].as_u64(),
                ))
            });
            let mut new = text;
            for e in &edits {
                new = apply_text_edit(&new, &e["range"], e["newText"].as_str().unwrap(), self.utf8);
            }
            self.replace(&uri, &new);
        }
    }

    /// `shutdown`, `exit`, and the server thread ends cleanly.
    fn finish(mut self) {
        assert_eq!(
            self.request("shutdown", Value::Null).ok(),
            Some(Value::Null)
        );
        let after = self.request("textDocument/hover", json!({}));
        assert_eq!(
            after.unwrap_err().code,
            -32600,
            "requests after shutdown are refused"
        );
        self.notify("exit", Value::Null);
        let clean = self.server.take().unwrap().join().expect("no panic");
        assert_eq!(clean, Ok(true));
    }
}

/// Applies one LSP text edit to `text` (positions in UTF-16 or UTF-8 code units).
fn apply_text_edit(text: &str, range: &Value, new: &str, utf8: bool) -> String {
    let start = offset_of(text, &range["start"], utf8);
    let end = offset_of(text, &range["end"], utf8);
    format!("{}{new}{}", &text[..start], &text[end..])
}

fn offset_of(text: &str, pos: &Value, utf8: bool) -> usize {
    let line = pos["line"].as_u64().unwrap() as usize;
    let character = pos["character"].as_u64().unwrap() as usize;
    let mut start = 0;
    for _ in 0..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let mut units = 0;
    for (i, c) in text[start..].char_indices() {
        if units >= character || c == '\n' || c == '\r' {
            return start + i;
        }
        units += if utf8 { c.len_utf8() } else { c.len_utf16() };
    }
    text.len()
}

fn file_uri(p: &Path) -> String {
    format!("file://{}", p.display()).replace(' ', "%20")
}

fn range(sl: u32, sc: u32, el: u32, ec: u32) -> Value {
    json!({ "start": { "line": sl, "character": sc }, "end": { "line": el, "character": ec } })
}

fn codes(diags: &[Value]) -> Vec<&str> {
    diags.iter().filter_map(|d| d["code"].as_str()).collect()
}

/// A workspace folder with the given files.
fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    (dir, root)
}

const SWALLOW_TS: &str = "export function stop(x: () => void) {\n  try { x() } catch (e) {}\n}\n";
const LOGGED_TS: &str =
    "export function stop(x: () => void) {\n  try { x() } catch (e) { console.error(e); }\n}\n";

// ---------------------------------------------------------------- tests

#[test]
fn open_diagnose_quick_fix_apply_and_the_finding_is_gone() {
    let (_dir, root) = workspace(&[("a.ts", SWALLOW_TS)]);
    let mut c = Client::start(Setup {
        root: Some(root.clone()),
        ..Setup::default()
    });
    assert_eq!(c.init["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(c.init["serverInfo"]["name"], "unleak");
    let uri = file_uri(&root.join("a.ts"));
    c.open(&uri, "typescript", SWALLOW_TS);
    let diags = c.diagnostics(&uri, |d| !d.is_empty());
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert_eq!(d["source"], "unleak");
    assert_eq!(d["code"], "silent-error");
    assert_eq!(d["severity"], 2);
    // `catch` on the second line: columns 14..19.
    assert_eq!(d["range"], range(1, 14, 1, 19));
    let message = d["message"].as_str().unwrap();
    assert!(
        message.starts_with("an empty `catch` block swallows the error"),
        "{message}"
    );
    assert!(message.contains("\nhelp: "), "{message}");
    // The rule's documentation is linked.
    let href = d["codeDescription"]["href"].as_str().unwrap();
    assert!(href.ends_with("/silent-error.md"), "{href}");
    let doc_path = href.strip_prefix("file://").unwrap();
    let doc = std::fs::read_to_string(doc_path).unwrap();
    assert!(doc.starts_with("# silent-error"));

    let actions = c.code_actions(&uri, range(1, 16, 1, 16), None);
    let titles: Vec<&str> = actions
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    let fix = actions
        .iter()
        .find(|a| a["title"].as_str().unwrap().contains("unsafe fix"))
        .unwrap_or_else(|| panic!("no unsafe quick fix among {titles:?}"));
    assert_eq!(fix["kind"], "quickfix");
    assert!(
        fix["title"].as_str().unwrap().starts_with("Log the error"),
        "{titles:?}"
    );
    assert_eq!(fix["diagnostics"][0]["code"], "silent-error");
    assert!(
        fix.get("isPreferred").is_none(),
        "an unsafe fix is not preferred"
    );
    c.apply(fix);
    assert_eq!(
        c.text(&uri),
        "export function stop(x: () => void) {\n  try { x() } catch (e) { console.error(e);}\n}\n"
    );
    let after = c.diagnostics(&uri, |_| true);
    assert!(after.is_empty(), "{after:#?}");
    // Nothing to fix any more.
    assert!(c.code_actions(&uri, range(1, 0, 1, 40), None).is_empty());
    c.finish();
}

#[test]
fn ignore_this_finding_inserts_a_suppression_with_a_reason() {
    let mut c = Client::start(Setup::default());
    // TypeScript, and an existing suppression on the line above gets the rule added.
    let uri = "file:///nowhere/ignore.ts";
    c.open(uri, "typescript", SWALLOW_TS);
    c.diagnostics(uri, |d| codes(d) == ["silent-error"]);
    let actions = c.code_actions(uri, range(1, 14, 1, 19), Some(&["quickfix"]));
    let ignore = actions
        .iter()
        .find(|a| a["title"] == "Ignore `silent-error` here (add an unleak-ignore comment)")
        .expect("an ignore action");
    c.apply(ignore);
    assert_eq!(
        c.text(uri),
        "export function stop(x: () => void) {\n  // unleak-ignore silent-error: <reason>\n  try { x() } catch (e) {}\n}\n"
    );
    assert!(c.diagnostics(uri, |_| true).is_empty());

    let merged = "function stop(x: () => void) {\n    // unleak-ignore orphaned-interval: started once\n    try { x() } catch (e) {}\n}\n";
    c.replace(uri, merged);
    let d = c.diagnostics(uri, |d| codes(d).contains(&"silent-error"));
    assert!(codes(&d).contains(&"unused-suppression"), "{d:#?}");
    let actions = c.code_actions(uri, range(2, 16, 2, 16), None);
    let ignore = actions
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap()
                .starts_with("Ignore `silent-error` here")
        })
        .unwrap();
    c.apply(ignore);
    assert_eq!(
        c.text(uri),
        "function stop(x: () => void) {\n    // unleak-ignore orphaned-interval, silent-error: started once\n    try { x() } catch (e) {}\n}\n"
    );
    assert!(c.diagnostics(uri, |_| true).is_empty());

    // Rust, file-wide, after the shebang-free first line.
    let rs = "file:///nowhere/flush.rs";
    let text = "use std::io::Write;\n\npub fn flush(f: &mut std::fs::File) {\n    if let Err(_) = f.flush() {}\n}\n";
    c.open(rs, "rust", text);
    let d = c.diagnostics(rs, |d| !d.is_empty());
    assert_eq!(codes(&d), ["silent-error"]);
    assert_eq!(d[0]["range"], range(3, 4, 3, 32));
    let actions = c.code_actions(rs, range(3, 10, 3, 10), None);
    let here = actions
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap()
                .starts_with("Ignore `silent-error` here")
        })
        .unwrap();
    assert_eq!(
        here["edit"]["documentChanges"][0]["edits"][0],
        json!({ "range": range(3, 0, 3, 0), "newText": "    // unleak-ignore silent-error: <reason>\n" })
    );
    let file_wide = actions
        .iter()
        .find(|a| a["title"] == "Ignore `silent-error` in this file")
        .unwrap();
    c.apply(file_wide);
    assert!(
        c.text(rs)
            .starts_with("// unleak-ignore-file silent-error: <reason>\nuse std")
    );
    assert!(c.diagnostics(rs, |_| true).is_empty());

    // An unused suppression can be removed.
    c.replace(
        rs,
        "// unleak-ignore silent-error: not here\nfn main() {}\n",
    );
    let d = c.diagnostics(rs, |d| !d.is_empty());
    assert_eq!(codes(&d), ["unused-suppression"]);
    assert_eq!(d[0]["tags"], json!([1]), "shown as unnecessary code");
    let actions = c.code_actions(rs, range(0, 3, 0, 3), None);
    let remove = actions
        .iter()
        .find(|a| a["title"] == "Remove the unused suppression")
        .unwrap();
    c.apply(remove);
    assert_eq!(c.text(rs), "fn main() {}\n");
    assert!(c.diagnostics(rs, |_| true).is_empty());
    c.finish();
}

#[test]
fn incremental_edits_keep_the_text_and_the_findings_in_step() {
    let mut c = Client::start(Setup::default());
    let uri = "file:///nowhere/inc.ts";
    c.open(uri, "typescript", LOGGED_TS);
    assert!(c.diagnostics(uri, |_| true).is_empty());
    // Delete the logging call: `{ console.error(e); }` → `{}` (columns 25..44 on line 1).
    c.edit(uri, &[(range(1, 25, 1, 44), "")]);
    assert_eq!(c.text(uri), SWALLOW_TS);
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 14, 1, 19));
    // Two changes in one notification, the second relative to the first's result: a line
    // with an emoji above, then the catch (now on line 2) logs again.
    c.edit(
        uri,
        &[
            (range(0, 0, 0, 0), "// 😀 note\n"),
            (range(2, 25, 2, 25), " console.warn(e); "),
        ],
    );
    assert!(c.text(uri).contains("catch (e) { console.warn(e); }"));
    assert!(c.diagnostics(uri, |_| true).is_empty());
    // Remove the first line and the log again; the finding is back where it was.
    c.edit(uri, &[(range(2, 24, 2, 44), "{}"), (range(0, 0, 1, 0), "")]);
    assert_eq!(c.text(uri), SWALLOW_TS);
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 14, 1, 19));
    c.finish();
}

/// `  const s = "é😀漢"; try { rm() } catch (e) {}`: 13 ASCII characters, then é (1 UTF-16 unit,
/// 2 UTF-8 bytes), 😀 (2 units, 4 bytes), 漢 (1 unit, 3 bytes), then 16 ASCII characters before
/// `catch`: UTF-16 column 13 + 1 + 2 + 1 + 16 = 33, UTF-8 column 13 + 2 + 4 + 3 + 16 = 38.
const NON_ASCII: &str =
    "export function run(x: () => void) {\n  const s = \"é😀漢\"; try { rm() } catch (e) {}\n}\n";

#[test]
fn columns_are_exact_on_non_ascii_lines_in_utf16_and_utf8() {
    let mut c = Client::start(Setup::default());
    let uri = "file:///nowhere/unicode.ts";
    c.open(uri, "typescript", NON_ASCII);
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 33, 1, 38));
    // Insert after the emoji (UTF-16 column 13 + 1 + 2 = 16): `catch` moves one column right.
    c.edit(uri, &[(range(1, 16, 1, 16), "!")]);
    assert!(c.text(uri).contains("é😀!漢"));
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 34, 1, 39));
    // A position between the emoji's two surrogates (column 15) means the emoji's start.
    c.edit(uri, &[(range(1, 15, 1, 15), "?")]);
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 35, 1, 40));
    // The quick fix's insertion point is in UTF-16 too: inside the `{}` after `(e) `.
    let actions = c.code_actions(uri, range(1, 35, 1, 35), None);
    let fix = actions
        .iter()
        .find(|a| a["title"].as_str().unwrap().contains("unsafe fix"))
        .unwrap();
    assert_eq!(
        fix["edit"]["documentChanges"][0]["edits"][0]["range"],
        range(1, 46, 1, 46)
    );
    c.finish();

    // A client offering UTF-8 gets UTF-8 columns.
    let mut c = Client::start(Setup {
        utf8: true,
        ..Setup::default()
    });
    assert_eq!(c.init["capabilities"]["positionEncoding"], "utf-8");
    c.open(uri, "typescript", NON_ASCII);
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 38, 1, 43));
    // After 😀 in UTF-8: 13 + 2 + 4 = 19.
    c.edit(uri, &[(range(1, 19, 1, 19), "!")]);
    assert!(c.text(uri).contains("é😀!漢"));
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 39, 1, 44));
    c.finish();
}

#[test]
fn pull_diagnostics_are_served_for_the_current_version_and_nothing_is_pushed() {
    let mut c = Client::start(Setup {
        pull: true,
        ..Setup::default()
    });
    let uri = "file:///nowhere/pull.ts";
    c.open(uri, "typescript", SWALLOW_TS);
    let pull = |c: &mut Client, previous: Option<&str>| {
        c.request(
            "textDocument/diagnostic",
            json!({ "textDocument": { "uri": uri }, "previousResultId": previous }),
        )
        .expect("a report")
    };
    let report = pull(&mut c, None);
    assert_eq!(report["kind"], "full");
    let items = report["items"].as_array().unwrap();
    assert_eq!(codes(items), ["silent-error"]);
    assert_eq!(items[0]["range"], range(1, 14, 1, 19));
    let id = report["resultId"].as_str().unwrap().to_string();
    let again = pull(&mut c, Some(&id));
    assert_eq!(again, json!({ "kind": "unchanged", "resultId": id }));
    // A pull right after a change is answered for the new version, never the old one.
    c.replace(uri, LOGGED_TS);
    let report = pull(&mut c, Some(&id));
    assert_eq!(report["kind"], "full");
    assert_eq!(report["items"], json!([]));
    assert_ne!(report["resultId"].as_str().unwrap(), id);
    // Not open, or not a language unleak lints: an empty report.
    let other = c
        .request(
            "textDocument/diagnostic",
            json!({ "textDocument": { "uri": "file:///nowhere/closed.ts" } }),
        )
        .unwrap();
    assert_eq!(other["items"], json!([]));
    // A client that pulls is not pushed to as well (that would show everything twice).
    assert!(c.published.is_empty(), "{:?}", c.published);
    c.finish();
}

/// One slow document does not hold up the others (issue 22): documents are analysed off the
/// worker, so a small file opened after a large minified bundle gets its findings while the
/// bundle is still being analysed.
#[test]
fn a_slow_document_does_not_block_the_others() {
    let (_dir, root) = workspace(&[]);
    let mut c = Client::start(Setup::default());
    let mut bundle = String::new();
    for i in 0..6_000 {
        bundle.push_str(&format!(
            "var a{i}=new Map();setInterval(function(){{a{i}.set(Date.now(),1)}},5);"
        ));
    }
    let big = file_uri(&root.join("bundle.js"));
    let small = file_uri(&root.join("small.ts"));
    c.open(&big, "javascript", &bundle);
    c.open(&small, "typescript", "setInterval(() => poll(), 1000);\n");
    let d = c.diagnostics(&small, |d| !d.is_empty());
    assert_eq!(codes(&d), ["orphaned-interval"]);
    assert!(
        !c.published.iter().any(|(u, _, _)| *u == big),
        "the bundle was published first: it held the small file up"
    );
    c.finish();
}

#[test]
fn project_wide_findings_follow_edits_in_other_files() {
    let server_ts = "import http from 'node:http';\nimport { registerShutdown } from './shutdown';\n\nexport const server = http.createServer((_req, res) => res.end('ok'));\nregisterShutdown(server);\nserver.listen(8080);\n";
    let shutdown_ts = "import type { Server } from 'node:http';\n\nexport function registerShutdown(server: Server): void {\n  process.once('SIGTERM', () => {\n    server.close(() => process.exit(0));\n  });\n}\n";
    let client_a = "import OpenAI from 'openai';\nexport const a = new OpenAI();\n";
    let client_b = "import OpenAI from 'openai';\nexport const b = new OpenAI();\n";
    let (_dir, root) = workspace(&[
        ("src/server.ts", server_ts),
        ("src/shutdown.ts", shutdown_ts),
        ("src/ai/a.ts", client_a),
        ("src/ai/b.ts", client_b),
        ("node_modules/x/index.ts", client_b),
    ]);
    let mut c = Client::start(Setup {
        root: Some(root.clone()),
        ..Setup::default()
    });
    let a = file_uri(&root.join("src/ai/a.ts"));
    let b = file_uri(&root.join("src/ai/b.ts"));
    // Only a.ts is open: the second client comes from the index of the workspace.
    c.open(&a, "typescript", client_a);
    let d = c.diagnostics(&a, |d| codes(d) == ["duplicate-client"]);
    assert_eq!(d[0]["range"], range(1, 17, 1, 27));
    let related = d[0]["relatedInformation"].as_array().unwrap();
    assert_eq!(related.len(), 1, "node_modules is not indexed: {related:?}");
    assert_eq!(related[0]["location"]["uri"], b);
    assert_eq!(related[0]["location"]["range"], range(1, 17, 1, 27));

    // The SIGTERM handler in shutdown.ts (indexed, not open) covers server.ts.
    let server = file_uri(&root.join("src/server.ts"));
    let shutdown = file_uri(&root.join("src/shutdown.ts"));
    c.open(&server, "typescript", server_ts);
    assert!(c.diagnostics(&server, |_| true).is_empty());
    // Editing shutdown.ts to drop the handler updates server.ts, which did not change.
    c.open(&shutdown, "typescript", shutdown_ts);
    c.replace(
        &shutdown,
        "import type { Server } from 'node:http';\n\nexport function registerShutdown(server: Server): void {\n  console.log(server);\n}\n",
    );
    let d = c.diagnostics(&server, |d| !d.is_empty());
    assert_eq!(codes(&d), ["missing-graceful-shutdown"]);
    assert_eq!(c.version(&server), 1);

    // Removing b.ts's client clears a.ts's finding; closing b.ts unsaved brings the disk back.
    c.open(&b, "typescript", client_b);
    c.diagnostics(&b, |d| codes(d) == ["duplicate-client"]);
    c.replace(&b, "export const b = 1;\n");
    c.diagnostics(&a, |d| d.is_empty());
    c.close(&b);
    c.diagnostics(&b, |d| d.is_empty());
    c.diagnostics(&a, |d| codes(d) == ["duplicate-client"]);
    c.finish();
}

#[test]
fn each_workspace_folder_is_a_project_and_folders_can_change() {
    let client = "import OpenAI from 'openai';\nexport const c = new OpenAI();\n";
    let (_dir, root) = workspace(&[("app/a.ts", client), ("lib/b.ts", client)]);
    let mut c = Client::start(Setup {
        root: Some(root.clone()),
        ..Setup::default()
    });
    let a = file_uri(&root.join("app/a.ts"));
    c.open(&a, "typescript", client);
    c.diagnostics(&a, |d| codes(d) == ["duplicate-client"]);
    // `lib` becomes a workspace folder of its own: its client is no longer a.ts's project's.
    c.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({ "event": { "added": [{ "uri": file_uri(&root.join("lib")), "name": "lib" }], "removed": [] } }),
    );
    c.diagnostics(&a, |d| d.is_empty());
    // And back.
    c.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({ "event": { "added": [], "removed": [{ "uri": file_uri(&root.join("lib")), "name": "lib" }] } }),
    );
    c.diagnostics(&a, |d| codes(d) == ["duplicate-client"]);
    c.finish();
}

#[test]
fn configuration_and_baseline_are_honoured_and_reloaded() {
    let (_dir, root) = workspace(&[("a.ts", SWALLOW_TS)]);
    // The baseline as `unleak check --write-baseline` writes it in the folder.
    let status = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .args(["check", "--write-baseline", "baseline.json", "."])
        .current_dir(&root)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut c = Client::start(Setup {
        root: Some(root.clone()),
        init_options: json!({ "baseline": "baseline.json" }),
        ..Setup::default()
    });
    let uri = file_uri(&root.join("a.ts"));
    c.open(&uri, "typescript", SWALLOW_TS);
    // In the baseline: not reported.
    assert!(c.diagnostics(&uri, |_| true).is_empty());
    // Editing the reported line makes it a new finding.
    c.edit(&uri, &[(range(1, 8, 1, 9), "y")]);
    assert_eq!(
        c.diagnostics(&uri, |d| !d.is_empty())[0]["code"],
        "silent-error"
    );
    c.edit(&uri, &[(range(1, 8, 1, 9), "x")]);
    assert!(c.diagnostics(&uri, |_| true).is_empty());

    let watched = |c: &Client, name: &str, kind: u32| {
        c.notify(
            "workspace/didChangeWatchedFiles",
            json!({ "changes": [{ "uri": file_uri(&root.join(name)), "type": kind }] }),
        );
    };
    // The baseline is deleted: the finding is back.
    std::fs::remove_file(root.join("baseline.json")).unwrap();
    watched(&c, "baseline.json", 3);
    c.diagnostics(&uri, |d| codes(d) == ["silent-error"]);
    // A configuration turns the rule off.
    std::fs::write(
        root.join("unleak.toml"),
        "[rules]\nsilent-error = \"off\"\n",
    )
    .unwrap();
    watched(&c, "unleak.toml", 1);
    c.diagnostics(&uri, |d| d.is_empty());
    // Without a watcher event, a changed configuration is still noticed at the next lint.
    std::fs::write(
        root.join("unleak.toml"),
        "[rules]\nsilent-error = \"error\"\n",
    )
    .unwrap();
    c.replace(&uri, SWALLOW_TS);
    let d = c.diagnostics(&uri, |d| !d.is_empty());
    assert_eq!(d[0]["severity"], 1);
    // An invalid configuration says so on the document.
    std::fs::write(
        root.join("unleak.toml"),
        "[rules]\nsilent-error = \"loud\"\n",
    )
    .unwrap();
    watched(&c, "unleak.toml", 2);
    let d = c.diagnostics(&uri, |d| codes(d) == ["io-error"]);
    let message = d[0]["message"].as_str().unwrap();
    assert!(message.contains("unleak.toml:2"), "{message}");
    c.finish();
}

#[test]
fn hover_shows_the_rule_documentation() {
    let mut c = Client::start(Setup::default());
    let uri = "file:///nowhere/hover.ts";
    let text = "// unleak-ignore orphaned-interval: fine\nexport function stop(x: () => void) {\n  try { x() } catch (e) {}\n}\n";
    c.open(uri, "typescript", text);
    c.diagnostics(uri, |d| codes(d).contains(&"silent-error"));
    let hover = |c: &mut Client, line: u32, character: u32| {
        c.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }),
        )
        .unwrap()
    };
    let h = hover(&mut c, 2, 16);
    assert_eq!(h["contents"]["kind"], "markdown");
    let value = h["contents"]["value"].as_str().unwrap();
    assert!(
        value.starts_with("**unleak: `silent-error`** (warning)"),
        "{value}"
    );
    assert!(
        value.contains("\n# silent-error"),
        "the rule's documentation: {value}"
    );
    assert_eq!(h["range"], range(2, 14, 2, 19));
    // On a rule id in a suppression comment: that rule's documentation.
    let h = hover(&mut c, 0, 22);
    assert!(
        h["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("# orphaned-interval")
    );
    assert_eq!(h["range"], range(0, 17, 0, 34));
    // Nothing there, or out of range.
    assert_eq!(hover(&mut c, 1, 2), Value::Null);
    assert_eq!(hover(&mut c, 999, 999), Value::Null);
    c.finish();
}

#[test]
fn fix_all_is_offered_only_for_safe_fixes() {
    let mut c = Client::start(Setup::default());
    let uri = "file:///nowhere/fixall.ts";
    c.open(uri, "typescript", SWALLOW_TS);
    c.diagnostics(uri, |d| !d.is_empty());
    // silent-error's only fix is unsafe: fix-all has nothing to apply.
    let all = c.code_actions(uri, range(0, 0, 0, 0), Some(&["source.fixAll.unleak"]));
    assert!(all.is_empty(), "{all:#?}");
    // Asking for source actions only gives no quick fixes.
    let source = c.code_actions(uri, range(1, 14, 1, 19), Some(&["source"]));
    assert!(source.is_empty(), "{source:#?}");
    assert_eq!(
        c.init["capabilities"]["codeActionProvider"]["codeActionKinds"],
        json!(["quickfix", "source.fixAll.unleak"])
    );
    c.finish();
}

#[test]
fn bad_input_is_answered_or_ignored_and_the_server_goes_on() {
    let mut c = Client::start(Setup::default());
    let uri = "file:///nowhere/bad.ts";
    // Unknown method.
    let e = c.request("textDocument/rename", json!({})).unwrap_err();
    assert_eq!(e.code, -32601);
    // Parameters of the wrong shape.
    let e = c
        .request("textDocument/codeAction", json!({ "textDocument": 5 }))
        .unwrap_err();
    assert_eq!(e.code, -32602);
    let e = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": { "line": -1, "character": 0 } }),
        )
        .unwrap_err();
    assert_eq!(e.code, -32602);
    // Notifications with bad parameters, changes to documents never opened, unknown ones.
    c.notify("textDocument/didOpen", json!({ "textDocument": "nope" }));
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": "file:///nowhere/never.ts", "version": 2 }, "contentChanges": [{ "text": "x" }] }),
    );
    c.notify("$/unknownNotification", json!([1, 2]));
    c.notify("$/cancelRequest", json!({ "id": 12345 }));
    // A panic inside a request: an internal error, and the server goes on.
    let e = c.request("unleak/panic", Value::Null).unwrap_err();
    assert_eq!(e.code, -32603);
    assert!(
        e.message.contains("unleak crashed handling `unleak/panic`"),
        "{}",
        e.message
    );

    c.open(uri, "typescript", SWALLOW_TS);
    c.diagnostics(uri, |d| codes(d) == ["silent-error"]);
    // Positions out of range are clamped: edits far past the end append.
    c.edit(uri, &[(range(999, 999, 1000, 0), "\n// tail\n")]);
    c.edit(
        uri,
        &[(range(70, 3, 70, 3), "try { open() } catch (e) {}\n")],
    );
    assert!(
        c.text(uri)
            .ends_with("}\n\n// tail\ntry { open() } catch (e) {}\n")
    );
    let d = c.diagnostics(uri, |d| d.len() == 2);
    assert_eq!(d[0]["range"], range(1, 14, 1, 19));
    assert_eq!(d[1]["range"], range(5, 15, 5, 20));
    let actions = c.code_actions(uri, range(500, 0, 400, 0), None);
    assert!(actions.is_empty(), "{actions:#?}");
    // A document that does not parse: one parse-error, and the rest goes on.
    let rs = "file:///nowhere/broken.rs";
    c.open(rs, "rust", "fn main( {\n");
    let d = c.diagnostics(rs, |d| !d.is_empty());
    assert_eq!(codes(&d), ["parse-error"]);
    assert_eq!(d[0]["severity"], 1);
    // TypeScript with broken regions is linted around them.
    let ts = "file:///nowhere/partial.ts";
    c.open(
        ts,
        "typescript",
        "const = ;\nexport function stop(x: () => void) {\n  try { x() } catch (e) {}\n}\n",
    );
    let d = c.diagnostics(ts, |d| codes(d).contains(&"silent-error"));
    assert!(codes(&d).contains(&"parse-error"), "{d:#?}");
    // A document in a language unleak does not lint is accepted and left alone.
    c.open("file:///nowhere/notes.md", "markdown", "# notes\n");
    let e = c
        .request("initialize", json!({ "capabilities": {} }))
        .unwrap_err();
    assert_eq!(e.code, -32600, "initialize twice");
    // Still serving.
    assert!(
        c.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": { "line": 1, "character": 15 } }),
        )
        .unwrap()["contents"]
            .is_object()
    );
    c.finish();
}

#[test]
fn only_results_for_the_current_version_are_published() {
    // A long debounce: all the changes below arrive well inside one quiet period.
    let mut c = Client::start(Setup {
        init_options: json!({ "debounceMs": 400 }),
        ..Setup::default()
    });
    let uri = "file:///nowhere/stale.ts";
    c.open(uri, "typescript", LOGGED_TS);
    for i in 0..19 {
        let text = if i % 2 == 0 { SWALLOW_TS } else { LOGGED_TS };
        c.replace(uri, text);
    }
    assert_eq!(c.version(uri), 20);
    let d = c.diagnostics(uri, |_| true);
    assert_eq!(codes(&d), ["silent-error"]);
    let versions: Vec<Option<i64>> = c
        .published
        .iter()
        .filter(|(u, ..)| u == uri)
        .map(|(_, v, _)| *v)
        .collect();
    assert_eq!(versions, [Some(20)]);
    c.finish();
}

#[test]
fn rust_spans_stay_exact_over_many_reparses() {
    let mut c = Client::start(Setup::default());
    let uri = "file:///nowhere/long_session.rs";
    let body = "pub fn flush(f: &mut std::fs::File) {\n    if let Err(_) = f.flush() {}\n}\n";
    c.open(uri, "rust", body);
    let d = c.diagnostics(uri, |d| !d.is_empty());
    assert_eq!(d[0]["range"], range(1, 4, 1, 32));
    // Every edit re-parses the file; spans must not drift across parses.
    for i in 1..=15u32 {
        c.edit(uri, &[(range(0, 0, 0, 0), "// é😀 line\n")]);
        let d = c.diagnostics(uri, |d| !d.is_empty());
        assert_eq!(d[0]["range"], range(1 + i, 4, 1 + i, 32), "after {i} edits");
    }
    c.finish();
}

// ---------------------------------------------------------------- the real binary

/// Frames a JSON-RPC message for stdio.
fn frame(v: &Value) -> Vec<u8> {
    let body = v.to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

#[test]
fn the_binary_serves_stdio_and_survives_malformed_messages() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .args(["lsp", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut input = Vec::new();
    input.extend(b"Content-Length: 9\r\n\r\n{not json");
    input.extend(b"this is not a header\r\n\r\n");
    input.extend(frame(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } })));
    input.extend(frame(
        &json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }),
    ));
    input.extend(frame(&json!({ "jsonrpc": "2.0", "id": 2, "method": "textDocument/diagnostic", "params": { "textDocument": { "uri": "file:///x.ts" } } })));
    input.extend(frame(
        &json!({ "jsonrpc": "2.0", "id": 3, "method": "shutdown" }),
    ));
    input.extend(frame(&json!({ "jsonrpc": "2.0", "method": "exit" })));
    stdin.write_all(&input).unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut responses = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while responses.len() < 3 && Instant::now() < deadline {
        let mut len = None;
        loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "stdout ended early");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(": ")
                .expect("only headers and bodies on stdout");
            if name == "Content-Length" {
                len = Some(value.parse::<usize>().unwrap());
            }
        }
        let mut body = vec![0; len.unwrap()];
        out.read_exact(&mut body).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        if v.get("id").is_some() && v.get("method").is_none() {
            responses.push(v);
        }
    }
    assert_eq!(responses[0]["id"], 1);
    assert_eq!(responses[0]["result"]["serverInfo"]["name"], "unleak");
    assert_eq!(responses[1]["id"], 2);
    assert_eq!(responses[1]["result"]["kind"], "full");
    assert_eq!(
        responses[2],
        json!({ "jsonrpc": "2.0", "id": 3, "result": null })
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit after shutdown");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("malformed") || err.contains("not valid JSON"),
        "{err}"
    );
}

/// A whole session, framed: `initialize` (id 1), `initialized`, `shutdown` (id 2), `exit`.
fn clean_session() -> Vec<u8> {
    let mut input = Vec::new();
    input.extend(frame(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } })));
    input.extend(frame(
        &json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }),
    ));
    input.extend(frame(
        &json!({ "jsonrpc": "2.0", "id": 2, "method": "shutdown" }),
    ));
    input.extend(frame(&json!({ "jsonrpc": "2.0", "method": "exit" })));
    input
}

/// One bad frame does not deafen the server (issue 22): after a body shorter than its
/// `Content-Length`, an absurd length and a megabyte of garbage, `initialize` and `shutdown` are
/// still answered, the process exits 0, and the log holds a short line per malformed input
/// rather than the garbage itself.
#[test]
fn broken_framing_is_survived_and_not_echoed() {
    use std::io::{Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_unleak"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let short = r#"{"jsonrpc":"2.0","id":99,"method":"shutdown"}"#;
    let mut input = Vec::new();
    input.extend(format!("Content-Length: {}\r\n\r\n{short}", short.len() - 9).into_bytes());
    input.extend(b"Content-Length: 4294967296\r\n\r\n");
    input.extend(vec![b'x'; 1 << 20]);
    input.extend(clean_session());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = writer.join();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(out.contains(r#""id":1,"result""#), "{out}");
    assert!(out.contains(r#""id":2,"result":null"#), "{out}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.len() < 4096,
        "the log echoes the input: {} bytes",
        err.len()
    );
    assert!(err.contains("larger than"), "{err}");
}

/// A clean session's stderr: empty without `--verbose` (Neovim files every stderr line of a
/// server as `[ERROR]`), the routine start line with it.
#[test]
fn routine_logging_only_with_verbose() {
    use std::io::{Read, Write};
    for verbose in [false, true] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_unleak"));
        cmd.arg("lsp");
        if verbose {
            cmd.arg("--verbose");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = clean_session();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(0));
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        if verbose {
            assert!(err.starts_with("unleak lsp "), "{err}");
        } else {
            assert_eq!(err, "", "a clean session logs nothing without --verbose");
        }
    }
}

// ---------------------------------------------------------------- a real editor

const NVIM_SCRIPT: &str = r#"
-- Started by tests/lsp.rs: unleak's server under Neovim's built-in client.
local cmd, root, file, out = _G.arg_cmd, _G.arg_root, _G.arg_file, _G.arg_out
local client_id = vim.lsp.start_client({
  name = 'unleak',
  cmd = { cmd, 'lsp' },
  root_dir = root,
  workspace_folders = { { uri = vim.uri_from_fname(root), name = 'root' } },
})
if not client_id then
  vim.fn.writefile({ 'ERROR could not start the client' }, out)
  vim.cmd('qall!')
end
vim.cmd('edit ' .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
vim.bo[buf].filetype = 'typescript'
vim.lsp.buf_attach_client(buf, client_id)
local ok = vim.wait(20000, function()
  return #vim.diagnostic.get(buf) > 0
end, 50)
local lines = {}
if not ok then
  table.insert(lines, 'TIMEOUT')
end
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(lines, string.format('%s %s %d:%d %s', d.source or '', tostring(d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code) or ''), d.lnum, d.col, (d.message:gsub('\n', ' '))))
end
vim.fn.writefile(lines, out)
vim.lsp.stop_client(client_id)
vim.wait(2000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
vim.cmd('qall!')
"#;

#[test]
fn neovim_shows_the_finding_of_a_leaky_file() {
    let nvim = Command::new("nvim").arg("--version").output();
    if !common::tool_available(
        nvim.is_ok(),
        "Neovim (`nvim`, for the end-to-end LSP test)",
        "apt-get install -y neovim",
    ) {
        return;
    }
    let version = nvim.unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with("NVIM v"),
        "unexpected `nvim --version`: {version}"
    );
    let leaky = "// A class whose interval nobody clears.\nexport class Poller {\n  private timer: ReturnType<typeof setInterval> | undefined;\n\n  start(): void {\n    this.timer = setInterval(() => this.poll(), 1000);\n  }\n\n  close(): void {\n    console.log('closing');\n  }\n\n  private poll(): void {}\n}\n";
    let (_dir, root) = workspace(&[("poller.ts", leaky)]);
    let script = root.join("drive.lua");
    let out = root.join("diagnostics.txt");
    std::fs::write(&script, NVIM_SCRIPT).unwrap();
    let lua_str = |p: &Path| format!("{:?}", p.to_string_lossy());
    let setup = format!(
        "lua _G.arg_cmd={} _G.arg_root={} _G.arg_file={} _G.arg_out={}",
        format_args!("{:?}", env!("CARGO_BIN_EXE_unleak")),
        lua_str(&root),
        lua_str(&root.join("poller.ts")),
        lua_str(&out),
    );
    let mut child = Command::new("nvim")
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n"])
        .arg("-c")
        .arg(&setup)
        .arg("-c")
        .arg(format!("luafile {}", script.display()))
        .current_dir(&root)
        .env("XDG_STATE_HOME", root.join("state"))
        .env("XDG_CACHE_HOME", root.join("cache"))
        .env("XDG_DATA_HOME", root.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Neovim did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let written = std::fs::read_to_string(&out).unwrap_or_else(|e| {
        let mut err = String::new();
        use std::io::Read;
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("Neovim wrote no diagnostics ({e}); stderr:\n{err}")
    });
    assert!(
        !written.starts_with("TIMEOUT"),
        "no diagnostics arrived:\n{written}"
    );
    let line = written
        .lines()
        .find(|l| l.contains("orphaned-interval"))
        .unwrap_or_else(|| panic!("no orphaned-interval finding in:\n{written}"));
    // `setInterval` on line 6 (0-based 5), column 17.
    assert!(line.starts_with("unleak orphaned-interval 5:"), "{line}");
}
