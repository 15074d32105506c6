//! `unleak lsp`: the language server. Findings while typing, quick fixes, fix-all, "ignore this
//! finding" and rule docs on hover, for Rust and TypeScript/JavaScript, in any LSP client.
//!
//! Built on `lsp-server` (the message loop is ours) and the LSP types generated from the
//! protocol's metamodel (`gen-lsp-types`). The message loop never lints: it keeps the open
//! documents in step with the client and hands snapshots to the analysis [`worker`], which
//! debounces, re-analyses what changed, links the project (project-wide rules see the whole
//! indexed workspace) and sends back findings tagged with the document version they came from;
//! results for a version that is no longer current are dropped. Diagnostics are pushed
//! (`textDocument/publishDiagnostics`) to clients that cannot pull, and served on pull
//! (`textDocument/diagnostic`) to those that can.
//!
//! Robustness: every request and notification is handled under `catch_unwind` (a panic answers
//! that request with an error; the server goes on); unknown methods and bad parameters get
//! JSON-RPC errors; positions out of range are clamped; the stdio transport skips malformed
//! messages. Logs go to stderr only.

pub mod actions;
pub mod convert;
pub mod documents;
pub mod findings;
mod memory;
pub mod transport;
pub mod worker;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, select};
use gen_lsp_types as lsp;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use serde_json::Value;

use actions::EditCaps;
use convert::{Encoding, uri_to_path};
use documents::Document;
use findings::Finding;
use worker::{DocResult, Inbox, Job, Output, Settings, Snapshot};

/// How a server is set up (the command line's options, or a test's).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The quiet time after an edit before the document is linted again.
    pub debounce: Duration,
    /// The baseline file (relative: to each workspace folder), unless the client names one.
    pub baseline: Option<PathBuf>,
    /// Where rule documentation is written for `codeDescription` links when the package names
    /// no web page for it (`None`: the user's cache folder).
    pub docs_dir: Option<PathBuf>,
    /// Tests only: makes the request `unleak/panic` panic, to prove a panic is contained.
    #[doc(hidden)]
    pub fault_injection: bool,
    /// Also log the routine events (start, indexing, reloads, ignored messages) on stderr;
    /// without it stderr carries only what needs attention (clients such as Neovim file every
    /// stderr line as an error).
    pub verbose: bool,
}

/// `--verbose` was given (one server per process).
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Logs a routine event on stderr, only with `--verbose`.
macro_rules! log_info {
    ($($arg:tt)*) => {
        if $crate::lsp::verbose() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use log_info;

pub(crate) fn verbose() -> bool {
    VERBOSE.load(std::sync::atomic::Ordering::Relaxed)
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            debounce: Duration::from_millis(150),
            baseline: None,
            docs_dir: None,
            fault_injection: false,
            verbose: false,
        }
    }
}

/// Serves over stdin/stdout until the client says `exit`; returns the process exit code (0 after
/// a `shutdown` request, 1 otherwise, as the protocol asks).
pub fn run_stdio(config: ServerConfig) -> i32 {
    VERBOSE.store(config.verbose, std::sync::atomic::Ordering::Relaxed);
    let (connection, io) = match transport::stdio() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unleak lsp: cannot start: {e}");
            return 2;
        }
    };
    let clean = match run(connection, config) {
        Ok(clean) => clean,
        Err(e) => {
            eprintln!("unleak lsp: {e}");
            false
        }
    };
    if let Err(e) = io.join() {
        eprintln!("unleak lsp: {e}");
    }
    if clean { 0 } else { 1 }
}

/// Serves one client over `connection` until `exit` (or until the client goes away). `Ok(true)`
/// when the client asked for `shutdown` before `exit`.
pub fn run(connection: Connection, config: ServerConfig) -> Result<bool, String> {
    let Some((id, params)) = wait_for_initialize(&connection)? else {
        return Ok(false);
    };
    let mut server = Server::new(connection, config, &params)?;
    server.respond(Response::new_ok(id, server.initialize_result()));
    server.start();
    let clean = server.main_loop();
    server.stop();
    Ok(clean)
}

/// Answers everything before `initialize` as the protocol says; `None` on `exit`.
fn wait_for_initialize(conn: &Connection) -> Result<Option<(RequestId, Value)>, String> {
    loop {
        let msg = conn
            .receiver
            .recv()
            .map_err(|_| "the client went away before initializing".to_string())?;
        match msg {
            Message::Request(req) if req.method == "initialize" => {
                if !req.params.is_object() {
                    let _ = conn.sender.send(
                        Response::new_err(
                            req.id,
                            ErrorCode::InvalidParams as i32,
                            "initialize: the parameters must be an object".into(),
                        )
                        .into(),
                    );
                    continue;
                }
                return Ok(Some((req.id, req.params)));
            }
            Message::Request(req) => {
                let _ = conn.sender.send(
                    Response::new_err(
                        req.id,
                        ErrorCode::ServerNotInitialized as i32,
                        format!("`{}` before `initialize`", req.method),
                    )
                    .into(),
                );
            }
            Message::Notification(n) if n.method == "exit" => return Ok(None),
            Message::Notification(_) | Message::Response(_) => {}
        }
    }
}

/// What the client can do, read defensively from its capabilities.
#[derive(Debug, Clone, Copy, Default)]
struct ClientCaps {
    /// Pulls diagnostics (`textDocument/diagnostic`): then nothing is pushed.
    pull: bool,
    /// Understands `workspace/diagnostic/refresh`.
    refresh: bool,
    /// Lets the server register file watchers.
    watch: bool,
    edits: EditCaps,
}

impl ClientCaps {
    fn read(caps: &Value) -> ClientCaps {
        let flag = |ptr: &str| caps.pointer(ptr).and_then(Value::as_bool) == Some(true);
        ClientCaps {
            pull: caps
                .pointer("/textDocument/diagnostic")
                .is_some_and(Value::is_object),
            refresh: flag("/workspace/diagnostics/refreshSupport"),
            watch: flag("/workspace/didChangeWatchedFiles/dynamicRegistration"),
            edits: EditCaps {
                document_changes: flag("/workspace/workspaceEdit/documentChanges"),
                create_files: caps
                    .pointer("/workspace/workspaceEdit/resourceOperations")
                    .and_then(Value::as_array)
                    .is_some_and(|ops| ops.iter().any(|o| o == "create")),
            },
        }
    }
}

/// The latest findings of an open document.
struct Stored {
    epoch: u64,
    version: i32,
    findings: Arc<Vec<Finding>>,
    result_id: String,
}

/// Restarts of an analysis worker that ended unexpectedly before the server stops linting.
const MAX_RESTARTS: u32 = 3;

/// Configuration files whose change reloads the options.
const CONFIG_FILES: &[&str] = &["unleak.toml", ".unleak.toml", "Cargo.toml"];

struct Server {
    conn: Connection,
    config: ServerConfig,
    encoding: Encoding,
    caps: ClientCaps,
    settings: Settings,
    roots: Vec<PathBuf>,
    docs: HashMap<String, Document>,
    results: HashMap<String, Stored>,
    /// Pull requests waiting for the findings of the current version of a document.
    pulls: HashMap<String, Vec<(RequestId, Option<String>)>>,
    worker: Inbox,
    from_worker: Receiver<Output>,
    worker_config: worker::Config,
    next_epoch: u64,
    next_result: u64,
    next_request: i32,
    shutdown: bool,
    /// Times the worker was restarted after it ended unexpectedly.
    restarts: u32,
}

impl Server {
    fn new(conn: Connection, config: ServerConfig, params: &Value) -> Result<Server, String> {
        let caps_json = params.get("capabilities").cloned().unwrap_or(Value::Null);
        let offered: Vec<String> = caps_json
            .pointer("/general/positionEncodings")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let encoding = Encoding::negotiate(&offered);
        let caps = ClientCaps::read(&caps_json);
        let init = params.get("initializationOptions");
        let mut settings = Settings {
            baseline: config.baseline.clone(),
        };
        if let Some(opts) = init {
            settings = read_settings(opts, settings);
        }
        let mut config = config;
        if let Some(ms) = init
            .and_then(|o| o.get("debounceMs"))
            .and_then(Value::as_u64)
        {
            config.debounce = Duration::from_millis(ms.min(10_000));
        }
        let roots = workspace_roots(params);
        let worker_config = worker::Config {
            encoding,
            debounce: config.debounce,
            doc_links: Arc::new(findings::doc_links(config.docs_dir.as_deref())),
            settings: settings.clone(),
            edit_caps: caps.edits,
        };
        let (worker, from_worker) = worker::spawn(worker_config.clone())
            .map_err(|e| format!("cannot start the analysis worker: {e}"))?;
        log_info!(
            "unleak lsp {}: {} position encoding, {} diagnostics, workspace: {}",
            env!("CARGO_PKG_VERSION"),
            match encoding {
                Encoding::Utf8 => "UTF-8",
                Encoding::Utf16 => "UTF-16",
                Encoding::Utf32 => "UTF-32",
            },
            if caps.pull { "pulled" } else { "pushed" },
            if roots.is_empty() {
                "none (single files)".to_string()
            } else {
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        Ok(Server {
            conn,
            config,
            encoding,
            caps,
            settings,
            roots,
            docs: HashMap::new(),
            results: HashMap::new(),
            pulls: HashMap::new(),
            worker,
            from_worker,
            worker_config,
            next_epoch: 0,
            next_result: 0,
            next_request: 0,
            shutdown: false,
            restarts: 0,
        })
    }

    fn initialize_result(&self) -> lsp::InitializeResult {
        let kinds = vec![
            lsp::CodeActionKind::QuickFix,
            lsp::CodeActionKind::Custom(actions::FIX_ALL_KIND.into()),
        ];
        lsp::InitializeResult {
            capabilities: lsp::ServerCapabilities {
                position_encoding: Some(self.encoding.kind()),
                text_document_sync: Some(lsp::TextDocumentSync::Options(
                    lsp::TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(lsp::TextDocumentSyncKind::Incremental),
                        will_save: None,
                        will_save_wait_until: None,
                        save: Some(lsp::Save::SaveOptions(lsp::SaveOptions {
                            include_text: Some(false),
                        })),
                    },
                )),
                hover_provider: Some(lsp::HoverProvider::Bool(true)),
                code_action_provider: Some(lsp::CodeActionProvider::CodeActionOptions(
                    lsp::CodeActionOptions {
                        code_action_kinds: Some(kinds),
                        resolve_provider: Some(false),
                        ..Default::default()
                    },
                )),
                diagnostic_provider: Some(lsp::DiagnosticProvider::DiagnosticOptions(
                    lsp::DiagnosticOptions {
                        identifier: Some("unleak".into()),
                        inter_file_dependencies: true,
                        workspace_diagnostics: false,
                        ..Default::default()
                    },
                )),
                workspace: Some(lsp::WorkspaceOptions {
                    workspace_folders: Some(lsp::WorkspaceFoldersServerCapabilities {
                        supported: Some(true),
                        change_notifications: Some(lsp::ChangeNotifications::Bool(true)),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            server_info: Some(lsp::ServerInfo {
                name: "unleak".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        }
    }

    /// Starts indexing the workspace folders.
    fn start(&mut self) {
        self.send_job(Job::Roots(self.roots.clone()));
    }

    fn stop(&mut self) {
        self.worker.send(Job::Shutdown);
        // Pull requests still waiting get an answer.
        let uris: Vec<String> = self.pulls.keys().cloned().collect();
        for uri in uris {
            self.answer_pulls(&uri, Vec::new(), None);
        }
    }

    fn main_loop(&mut self) -> bool {
        loop {
            select! {
                recv(self.conn.receiver) -> msg => {
                    let Ok(msg) = msg else {
                        log_info!("unleak lsp: the client went away without `exit`");
                        return false;
                    };
                    if let Some(clean) = self.handle(msg) {
                        return clean;
                    }
                }
                recv(self.from_worker) -> out => match out {
                    Ok(Output::Results(results)) => self.guarded("worker results", |s| s.on_results(results)),
                    Err(_) => self.restart_worker(),
                },
            }
        }
    }

    /// Handles one message; `Some(clean)` on `exit`.
    fn handle(&mut self, msg: Message) -> Option<bool> {
        match msg {
            Message::Request(req) => {
                let id = req.id.clone();
                let method = req.method.clone();
                let outcome = catch_unwind(AssertUnwindSafe(|| self.on_request(req)));
                match outcome {
                    Ok(Some(response)) => self.respond(response),
                    Ok(None) => {}
                    Err(panic) => {
                        let why = panic_message(&*panic);
                        eprintln!("unleak lsp: `{method}` crashed: {why}");
                        self.respond(Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            format!(
                                "unleak crashed handling `{method}`: {why}; please report this"
                            ),
                        ));
                    }
                }
            }
            Message::Notification(n) if n.method == "exit" => return Some(self.shutdown),
            Message::Notification(n) => {
                let method = n.method.clone();
                self.guarded(&method, |s| s.on_notification(n));
            }
            // Answers to our registration and refresh requests: nothing to do.
            Message::Response(_) => {}
        }
        None
    }

    fn guarded(&mut self, what: &str, f: impl FnOnce(&mut Server)) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            eprintln!(
                "unleak lsp: `{what}` crashed: {}; the server goes on",
                panic_message(&*panic)
            );
        }
    }

    fn respond(&self, response: Response) {
        let _ = self.conn.sender.send(response.into());
    }

    fn notify(&self, method: &str, params: impl serde::Serialize) {
        let _ = self
            .conn
            .sender
            .send(Notification::new(method.into(), params).into());
    }

    fn request_client(&mut self, method: &str, params: impl serde::Serialize) {
        self.next_request += 1;
        let id = RequestId::from(format!("unleak-{}", self.next_request));
        let _ = self
            .conn
            .sender
            .send(Request::new(id, method.into(), params).into());
    }

    fn send_job(&mut self, job: Job) {
        self.worker.send(job);
    }

    /// Starts a new worker (the old one is gone) and gives it the current state.
    fn restart_worker(&mut self) {
        self.restarts += 1;
        if self.restarts > MAX_RESTARTS {
            eprintln!(
                "unleak lsp: the analysis worker keeps ending; nothing more is linted, requests are \
                 still answered (please report this)"
            );
            self.from_worker = crossbeam_channel::never();
            return;
        }
        eprintln!("unleak lsp: restarting the analysis worker");
        let mut config = self.worker_config.clone();
        config.settings = self.settings.clone();
        match worker::spawn(config) {
            Ok((w, from_worker)) => {
                self.worker = w;
                self.from_worker = from_worker;
            }
            Err(e) => {
                // Without a worker nothing is linted; requests are still answered.
                eprintln!("unleak lsp: cannot restart the analysis worker: {e}");
                self.from_worker = crossbeam_channel::never();
                return;
            }
        }
        self.worker.send(Job::Roots(self.roots.clone()));
        for d in self.docs.values() {
            if let Some(s) = snapshot(d) {
                self.worker.send(Job::Document(s));
            }
        }
    }

    // ---- requests ----

    fn on_request(&mut self, req: Request) -> Option<Response> {
        let id = req.id.clone();
        if self.shutdown {
            return Some(Response::new_err(
                id,
                ErrorCode::InvalidRequest as i32,
                "the server is shutting down".into(),
            ));
        }
        match req.method.as_str() {
            "initialize" => Some(Response::new_err(
                id,
                ErrorCode::InvalidRequest as i32,
                "already initialized".into(),
            )),
            "shutdown" => {
                self.shutdown = true;
                Some(Response::new_ok(id, ()))
            }
            "textDocument/codeAction" => {
                with_params(req, |s: &mut Server, id, p| s.code_action(id, p))(self)
            }
            "textDocument/hover" => {
                with_params(req, |s: &mut Server, id, p| Some(s.hover(id, p)))(self)
            }
            "textDocument/diagnostic" => {
                with_params(req, |s: &mut Server, id, p| s.pull(id, p))(self)
            }
            "unleak/viewDocument" => {
                with_params(req, |s: &mut Server, id, p: ViewDocumentParams| {
                    let view = s.docs.get(&p.text_document.uri.0).map(|d| {
                        serde_json::json!({
                            "uri": d.uri,
                            "version": d.version,
                            "text": &*d.text,
                        })
                    });
                    Some(Response::new_ok(id, view))
                })(self)
            }
            "unleak/memoryUsage" => Some(Response::new_ok(
                id,
                serde_json::json!({
                    "heapBytes": memory::heap_in_use(),
                    "residentBytes": memory::resident(),
                }),
            )),
            "unleak/panic" if self.config.fault_injection => {
                panic!("fault injected by a test")
            }
            other => Some(Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("unleak does not handle `{other}`"),
            )),
        }
    }

    /// The current findings of a document, if they are for its current version.
    fn current(&self, uri: &str) -> Option<(&Document, &Stored)> {
        let doc = self.docs.get(uri)?;
        let stored = self.results.get(uri)?;
        (stored.epoch == doc.epoch && stored.version == doc.version).then_some((doc, stored))
    }

    fn code_action(&mut self, id: RequestId, p: lsp::CodeActionParams) -> Option<Response> {
        let uri = p.text_document.uri.0.clone();
        let Some((doc, stored)) = self.current(&uri) else {
            return Some(Response::new_ok(id, Vec::<lsp::CodeAction>::new()));
        };
        let only = p.context.only.as_deref();
        let range = doc.view().byte_range(p.range, self.encoding);
        let mut out = Vec::new();
        if actions::wanted(only, "quickfix") {
            for f in stored.findings.iter() {
                let r = &f.diagnostic.range;
                let touches = r.start <= range.end && range.start <= r.end;
                if touches || p.context.diagnostics.contains(&f.lsp) {
                    out.extend(actions::quick_fixes(f, doc, self.caps.edits));
                }
            }
        }
        // Fix-all when asked for by kind, or in an explicitly invoked menu (not the automatic
        // light bulb, which asks on every cursor move).
        let invoked = p.context.trigger_kind != Some(lsp::CodeActionTriggerKind::Automatic);
        let fix_all = match only {
            Some(_) => actions::wanted(only, actions::FIX_ALL_KIND),
            None => invoked,
        };
        if fix_all {
            out.extend(actions::fix_all(&stored.findings, self.caps.edits));
        }
        Some(Response::new_ok(id, out))
    }

    fn hover(&mut self, id: RequestId, p: lsp::HoverParams) -> Response {
        let at = p.text_document_position_params;
        let uri = at.text_document.uri.0;
        let hover = self.current(&uri).and_then(|(doc, stored)| {
            let offset = doc.view().offset(at.position, self.encoding);
            actions::hover(&stored.findings, doc, offset)
        });
        Response::new_ok(id, hover)
    }

    /// `textDocument/diagnostic`: answered now when the findings of the current version are
    /// known, else as soon as they are.
    fn pull(&mut self, id: RequestId, p: lsp::DocumentDiagnosticParams) -> Option<Response> {
        let uri = p.text_document.uri.0;
        let lintable = self.docs.get(&uri).is_some_and(|d| d.path.is_some());
        if !lintable {
            return Some(Response::new_ok(id, full_report(None, Vec::new())));
        }
        if let Some((_, stored)) = self.current(&uri) {
            return Some(pull_answer(id, stored, p.previous_result_id));
        }
        self.pulls
            .entry(uri)
            .or_default()
            .push((id, p.previous_result_id));
        None
    }

    fn answer_pulls(&mut self, uri: &str, items: Vec<lsp::Diagnostic>, result_id: Option<String>) {
        for (id, _) in self.pulls.remove(uri).unwrap_or_default() {
            self.respond(Response::new_ok(
                id,
                full_report(result_id.clone(), items.clone()),
            ));
        }
    }

    // ---- notifications ----

    fn on_notification(&mut self, n: Notification) {
        let method = n.method.clone();
        let params = n.params;
        macro_rules! parse {
            ($t:ty) => {
                match serde_json::from_value::<$t>(params) {
                    Ok(p) => p,
                    Err(e) => {
                        log_info!("unleak lsp: ignoring `{method}` with bad parameters: {e}");
                        return;
                    }
                }
            };
        }
        match method.as_str() {
            "initialized" => self.register_watchers(),
            "textDocument/didOpen" => {
                let p = parse!(lsp::DidOpenTextDocumentParams);
                let item = p.text_document;
                let language: String = item.language_id.into();
                self.open(item.uri.0, &language, item.version, item.text);
            }
            "textDocument/didChange" => {
                let p = parse!(lsp::DidChangeTextDocumentParams);
                let uri = p.text_document.text_document_identifier.uri.0;
                let Some(doc) = self.docs.get_mut(&uri) else {
                    log_info!("unleak lsp: ignoring a change to {uri}, which is not open");
                    return;
                };
                doc.apply(p.text_document.version, p.content_changes);
                self.next_epoch += 1;
                doc.epoch = self.next_epoch;
                if let Some(s) = snapshot(doc) {
                    self.send_job(Job::Document(s));
                }
            }
            "textDocument/didClose" => {
                let p = parse!(lsp::DidCloseTextDocumentParams);
                self.close(&p.text_document.uri.0);
            }
            "textDocument/didSave" => {
                let p = parse!(lsp::DidSaveTextDocumentParams);
                if let Some(path) = uri_to_path(&p.text_document.uri.0)
                    && self.is_config_file(&path)
                {
                    self.send_job(Job::Reload);
                }
            }
            "workspace/didChangeWatchedFiles" => {
                let p = parse!(lsp::DidChangeWatchedFilesParams);
                let mut reload = false;
                let mut changed = Vec::new();
                for c in p.changes {
                    let Some(path) = uri_to_path(&c.uri.0) else {
                        continue;
                    };
                    if self.is_config_file(&path) {
                        reload = true;
                    } else if crate::source::Language::from_path(&path).is_some() {
                        changed.push(path);
                    }
                }
                if !changed.is_empty() {
                    self.send_job(Job::FilesChanged(changed));
                }
                if reload {
                    self.send_job(Job::Reload);
                }
            }
            "workspace/didChangeWorkspaceFolders" => {
                let p = parse!(lsp::DidChangeWorkspaceFoldersParams);
                for f in p.event.removed {
                    if let Some(path) = uri_to_path(&f.uri.0) {
                        self.roots.retain(|r| *r != path);
                    }
                }
                for f in p.event.added {
                    if let Some(path) = uri_to_path(&f.uri.0)
                        && !self.roots.contains(&path)
                    {
                        self.roots.push(path);
                    }
                }
                self.send_job(Job::Roots(self.roots.clone()));
            }
            "workspace/didChangeConfiguration" => {
                let p = parse!(lsp::DidChangeConfigurationParams);
                let settings = read_settings(&p.settings, self.settings.clone());
                if settings != self.settings {
                    self.settings = settings.clone();
                    self.send_job(Job::Settings(settings));
                }
            }
            "$/cancelRequest" => {
                let p = parse!(lsp::CancelParams);
                let id: RequestId = match p.id {
                    lsp::Id::Int(i) => i.into(),
                    lsp::Id::String(s) => s.into(),
                };
                for waiting in self.pulls.values_mut() {
                    if let Some(i) = waiting.iter().position(|(w, _)| *w == id) {
                        waiting.remove(i);
                        self.respond(Response::new_err(
                            id,
                            ErrorCode::RequestCanceled as i32,
                            "canceled".into(),
                        ));
                        return;
                    }
                }
            }
            // `$/setTrace`, `textDocument/willSave`, and anything unknown: nothing to do.
            _ => {}
        }
    }

    fn open(&mut self, uri: String, language: &str, version: i32, text: String) {
        self.next_epoch += 1;
        let doc = Document::new(
            uri.clone(),
            language,
            version,
            text,
            self.next_epoch,
            self.encoding,
        );
        let snap = snapshot(&doc);
        self.docs.insert(uri.clone(), doc);
        self.results.remove(&uri);
        match snap {
            Some(s) => self.send_job(Job::Document(s)),
            // Not a language unleak lints: nothing will come, answer waiting pulls now.
            None => self.answer_pulls(&uri, Vec::new(), None),
        }
    }

    fn close(&mut self, uri: &str) {
        let Some(doc) = self.docs.remove(uri) else {
            return;
        };
        self.results.remove(uri);
        self.answer_pulls(uri, Vec::new(), None);
        if !self.caps.pull {
            self.publish(uri, None, Vec::new());
        }
        if let Some(path) = doc.path {
            self.send_job(Job::Close(path));
        }
    }

    fn is_config_file(&self, path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if CONFIG_FILES.contains(&name) {
            return true;
        }
        let Some(b) = &self.settings.baseline else {
            return false;
        };
        if b.is_absolute() {
            return path == b;
        }
        self.roots.iter().any(|r| r.join(b) == path)
    }

    /// Asks the client to watch source, configuration and baseline files for the server.
    fn register_watchers(&mut self) {
        if !self.caps.watch {
            return;
        }
        let mut globs = vec![
            "**/*.{rs,ts,tsx,mts,cts,js,jsx,mjs,cjs}".to_string(),
            "**/{unleak.toml,.unleak.toml,Cargo.toml}".to_string(),
        ];
        if let Some(name) = self
            .settings
            .baseline
            .as_ref()
            .and_then(|b| b.file_name())
            .and_then(|n| n.to_str())
        {
            globs.push(format!("**/{name}"));
        }
        let watchers: Vec<Value> = globs
            .into_iter()
            .map(|g| serde_json::json!({ "globPattern": g }))
            .collect();
        self.request_client(
            "client/registerCapability",
            serde_json::json!({
                "registrations": [{
                    "id": "unleak-watched-files",
                    "method": "workspace/didChangeWatchedFiles",
                    "registerOptions": { "watchers": watchers },
                }]
            }),
        );
    }

    // ---- results ----

    fn on_results(&mut self, results: Vec<DocResult>) {
        let mut refresh = false;
        for r in results {
            let Some(doc) = self.docs.get(&r.uri) else {
                continue;
            };
            // Computed from a text the document no longer has: dropped.
            if doc.epoch != r.epoch || doc.version != r.version {
                continue;
            }
            let old = self.results.get(&r.uri);
            let had_old = old.is_some();
            let changed = old.is_none_or(|s| {
                s.findings.len() != r.findings.len()
                    || s.findings
                        .iter()
                        .zip(r.findings.iter())
                        .any(|(a, b)| a.lsp != b.lsp)
            });
            let result_id = match old {
                Some(s) if !changed => s.result_id.clone(),
                _ => {
                    self.next_result += 1;
                    self.next_result.to_string()
                }
            };
            let (uri, version) = (r.uri.clone(), r.version);
            self.results.insert(
                uri.clone(),
                Stored {
                    epoch: r.epoch,
                    version: r.version,
                    findings: r.findings,
                    result_id,
                },
            );
            let waiting = self.pulls.remove(&uri).unwrap_or_default();
            let asked = !waiting.is_empty();
            let stored = &self.results[&uri];
            for (id, previous) in waiting {
                self.respond(pull_answer(id, stored, previous));
            }
            if !self.caps.pull {
                if changed {
                    let items = stored.findings.iter().map(|f| f.lsp.clone()).collect();
                    self.publish(&uri, Some(version), items);
                }
            } else if changed && had_old && !asked {
                refresh = true;
            }
        }
        // Findings of documents the client did not ask about changed (a cross-file rule).
        if refresh && self.caps.refresh {
            self.request_client("workspace/diagnostic/refresh", ());
        }
    }

    fn publish(&self, uri: &str, version: Option<i32>, diagnostics: Vec<lsp::Diagnostic>) {
        self.notify(
            "textDocument/publishDiagnostics",
            lsp::PublishDiagnosticsParams {
                uri: uri.into(),
                version,
                diagnostics,
            },
        );
    }
}

/// `unleak/viewDocument`: the server's copy of an open document (its version and text), for
/// debugging a client's synchronisation (like rust-analyzer's `viewFileText`); `null` when the
/// document is not open.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViewDocumentParams {
    text_document: lsp::TextDocumentIdentifier,
}

/// Parses a request's parameters, answering `InvalidParams` when they do not fit.
fn with_params<P: serde::de::DeserializeOwned>(
    req: Request,
    f: impl FnOnce(&mut Server, RequestId, P) -> Option<Response>,
) -> impl FnOnce(&mut Server) -> Option<Response> {
    move |s| match serde_json::from_value::<P>(req.params) {
        Ok(p) => f(s, req.id, p),
        Err(e) => Some(Response::new_err(
            req.id,
            ErrorCode::InvalidParams as i32,
            format!("invalid parameters for `{}`: {e}", req.method),
        )),
    }
}

fn snapshot(doc: &Document) -> Option<Snapshot> {
    Some(Snapshot {
        uri: doc.uri.clone(),
        path: doc.path.clone()?,
        epoch: doc.epoch,
        version: doc.version,
        text: doc.text.clone(),
    })
}

fn full_report(
    result_id: Option<String>,
    items: Vec<lsp::Diagnostic>,
) -> lsp::DocumentDiagnosticReport {
    lsp::DocumentDiagnosticReport::RelatedFullDocumentDiagnosticReport(
        lsp::RelatedFullDocumentDiagnosticReport {
            related_documents: None,
            full_document_diagnostic_report: lsp::FullDocumentDiagnosticReport { result_id, items },
        },
    )
}

fn pull_answer(id: RequestId, stored: &Stored, previous: Option<String>) -> Response {
    if previous.as_deref() == Some(stored.result_id.as_str()) {
        return Response::new_ok(
            id,
            lsp::DocumentDiagnosticReport::RelatedUnchangedDocumentDiagnosticReport(
                lsp::RelatedUnchangedDocumentDiagnosticReport {
                    related_documents: None,
                    unchanged_document_diagnostic_report: lsp::UnchangedDocumentDiagnosticReport {
                        result_id: stored.result_id.clone(),
                    },
                },
            ),
        );
    }
    let items = stored.findings.iter().map(|f| f.lsp.clone()).collect();
    Response::new_ok(id, full_report(Some(stored.result_id.clone()), items))
}

/// The workspace folders of `initialize` (or its root, from older clients).
fn workspace_roots(params: &Value) -> Vec<PathBuf> {
    let folders: Vec<PathBuf> = params
        .get("workspaceFolders")
        .and_then(Value::as_array)
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f.get("uri")?.as_str().and_then(uri_to_path))
                .collect()
        })
        .unwrap_or_default();
    if !folders.is_empty() {
        return folders;
    }
    if let Some(p) = params
        .get("rootUri")
        .and_then(Value::as_str)
        .and_then(uri_to_path)
    {
        return vec![p];
    }
    params
        .get("rootPath")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(|p| vec![PathBuf::from(p)])
        .unwrap_or_default()
}

/// Settings from `initializationOptions` or `workspace/didChangeConfiguration`: either the
/// object itself or its `unleak` member. Keys: `baseline` (a path; `null` or `""`: none).
fn read_settings(value: &Value, mut settings: Settings) -> Settings {
    let v = value.get("unleak").unwrap_or(value);
    match v.get("baseline") {
        Some(Value::String(s)) if !s.is_empty() => settings.baseline = Some(PathBuf::from(s)),
        Some(Value::String(_)) | Some(Value::Null) => settings.baseline = None,
        _ => {}
    }
    settings
}

impl Drop for Server {
    /// The worker ends with the server, however the server ends.
    fn drop(&mut self) {
        self.worker.send(Job::Shutdown);
    }
}

use crate::engine::panic_message;

#[cfg(test)]
mod tests;
