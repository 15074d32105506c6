//! missing-graceful-shutdown (project-wide): a service that starts a server but does not
//! handle SIGTERM (what orchestrators send), or whose SIGTERM handler releases nothing; in Rust,
//! `axum::serve` without `.with_graceful_shutdown(..)`, or a tokio `main` running long-lived
//! tasks that never listens for `SignalKind::terminate()` (`ctrl_c()` alone misses SIGTERM).

use super::*;
use crate::facts::Handler;

pub struct MissingGracefulShutdown;

static META: RuleMeta = RuleMeta {
    id: "missing-graceful-shutdown",
    summary: "Servers without a SIGTERM path that closes them and stops their jobs",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::Project,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

/// Packages that install graceful shutdown for you.
const HELPERS: &[&str] = &[
    "http-terminator",
    "stoppable",
    "@godaddy/terminus",
    "close-with-grace",
    "lightship",
    "@hapi/hapi",
];

impl Rule for MissingGracefulShutdown {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_project(&self, ctx: &ProjectCtx) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        check_ts(ctx, &mut out);
        check_rust(ctx, &mut out);
        out
    }
}

/// `server.listen(…)` with no SIGTERM handler: add one after it that clears the file's
/// module-level intervals, closes the server, and exits (forcibly after 10 s if connections
/// linger). With a handler that does not close the server (in the same file): close it there.
/// Unsafe: the process now exits on SIGTERM after draining.
fn ts_fix(
    f: &ProjectFile,
    facts: &FileFacts,
    e: &crate::facts::Event,
    api: &str,
    handlers: &[(&ProjectFile, ScopeId)],
) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let source = f.source();
    let src = source.text.as_str();
    let stmt = src.get(e.stmt.clone())?;
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    // The server object to close: the variable the start is stored in (`const server =
    // app.listen(…)`, `const wss = new WebSocketServer(…)`); the receiver of `server.listen(…)`
    // when it is a server; else the value `.listen(…)` returns, stored in a new `server`
    // (`http.createServer(h).listen(port)`, and an express/Koa app, which has no `close`).
    let mut edits = Vec::new();
    let declared = ["const ", "let ", "var "]
        .iter()
        .find_map(|k| stmt.strip_prefix(k))
        .and_then(|r| r.split_once('='))
        .map(|(n, _)| n.trim())
        .filter(|n| ident(n));
    let server = if let Some(n) = declared {
        n.to_string()
    } else {
        let recv = api.strip_suffix(".listen")?;
        let app = ident(recv)
            && facts.lookup(recv, e.scope).is_some_and(|b| {
                let at = facts.bindings[b].span.start;
                let line = &src[line_start(src, at)..];
                let line = line.lines().next().unwrap_or("");
                line.contains("express(") || line.contains("Koa(")
            });
        if ident(recv) && !app && stmt.starts_with(recv) {
            recv.to_string()
        } else {
            let name = unique_name("server", |n| name_in_use(facts, src, n));
            edits.push(insert(e.stmt.start, format!("const {name} = ")));
            name
        }
    };
    let ws = api.contains("WebSocketServer");
    let unit = indent_unit(src, 2);
    let intervals: Vec<String> = facts
        .events
        .iter()
        .filter_map(|t| match &t.kind {
            EventKind::Timer(timer) if timer.repeat && facts.is_module_scope(t.scope) => {
                match facts.resolve(&timer.handle) {
                    Place::Binding(b) if facts.is_module_binding(b) => {
                        Some(format!("clearInterval({});", facts.bindings[b].name))
                    }
                    _ => None,
                }
            }
            _ => None,
        })
        .collect();
    // A WebSocket server's `close()` stops accepting but leaves its clients open.
    let clients = ws.then(|| format!("for (const client of {server}.clients) client.terminate();"));
    if let Some((hf, h)) = handlers.first() {
        // A handler in another file would have to import the server.
        if !std::ptr::eq(*hf, f) {
            return None;
        }
        let body = facts.scopes[*h].body.clone()?;
        let mut lines = intervals.clone();
        lines.extend(clients.clone());
        lines.push(format!("{server}.close();"));
        edits.push(prepend_to_block(src, &body, &lines, &unit)?);
        return Some(fix(
            format!("close `{server}` in the SIGTERM handler"),
            crate::diagnostic::Applicability::Unsafe,
            edits,
        ));
    }
    let mut lines = vec![String::new(), "process.once('SIGTERM', () => {".to_string()];
    lines.extend(intervals.iter().map(|l| format!("{unit}{l}")));
    lines.extend(clients.iter().map(|l| format!("{unit}{l}")));
    lines.push(format!("{unit}{server}.close(() => process.exit(0));"));
    lines.push(format!(
        "{unit}// Connections that outlive the drain are cut after 10 s."
    ));
    lines.push(format!(
        "{unit}setTimeout(() => process.exit(1), 10_000).unref();"
    ));
    lines.push("});".into());
    edits.push(insert_after_statement(
        src,
        e.stmt.start,
        e.stmt.end,
        &lines,
    ));
    Some(fix(
        format!("on SIGTERM, stop the intervals and close `{server}`, then exit"),
        crate::diagnostic::Applicability::Unsafe,
        edits,
    ))
}

/// What one file says about the service's shutdown, made while its facts are live.
#[derive(Debug, Default, Hash, serde::Serialize, serde::Deserialize)]
pub struct Inputs {
    /// TypeScript: servers started (not handed back to a caller): event index, API.
    ts_starts: Vec<(usize, String)>,
    /// TypeScript: imports a package that installs graceful shutdown.
    imports_helper: bool,
    /// TypeScript: `process.on('SIGTERM', h)` handlers.
    sigterm: Vec<Sigterm>,
    /// TypeScript: a `process` SIGINT listener.
    sigint: bool,
    /// TypeScript: module-level intervals.
    module_intervals: Vec<std::ops::Range<usize>>,
    /// Rust: servers started: event index, API, with graceful shutdown.
    rust_starts: Vec<(usize, String, bool)>,
    /// Rust: signals listened for.
    rust_sigterm: bool,
    rust_sigint: bool,
    /// Rust: long-lived background tasks.
    long_task: bool,
    /// Rust: module-level `fn main`s: scope and the binding's span.
    mains: Vec<(ScopeId, std::ops::Range<usize>)>,
}

#[derive(Debug, Hash, serde::Serialize, serde::Deserialize)]
struct Sigterm {
    /// The scope that runs on SIGTERM; `None` when unleak cannot see into it (imported, bound).
    scope: Option<ScopeId>,
    /// Something in it closes a server, clears a timer or calls imported code.
    releases: bool,
}

impl Inputs {
    /// Whether its event and scope indices and spans fit a file with this many events and
    /// scopes and this length (see `ProjectInputs::fits`).
    pub fn fits(&self, events: usize, scopes: usize, len: usize) -> bool {
        let range = |r: &std::ops::Range<usize>| r.start <= r.end && r.end <= len;
        self.ts_starts.iter().all(|(i, _)| *i < events)
            && self.rust_starts.iter().all(|(i, ..)| *i < events)
            && self
                .sigterm
                .iter()
                .all(|h| h.scope.is_none_or(|sc| sc < scopes))
            && self.module_intervals.iter().all(range)
            && self.mains.iter().all(|(sc, r)| *sc < scopes && range(r))
    }

    pub fn build(facts: &FileFacts, src: &str) -> Inputs {
        let mut out = Inputs::default();
        let process = || Place::Global("process".into());
        for (i, e) in facts.events.iter().enumerate() {
            match &e.kind {
                EventKind::ServerStart { api, graceful } if facts.is_rust => {
                    out.rust_starts.push((i, api.clone(), *graceful));
                }
                EventKind::ServerStart { api, .. } if !handed_back(facts, src, e) => {
                    out.ts_starts.push((i, api.clone()));
                }
                EventKind::SignalListen { signal } => {
                    out.rust_sigterm |= signal == "SIGTERM";
                    out.rust_sigint |= signal == "SIGINT";
                }
                EventKind::LongTask => out.long_task = true,
                EventKind::Timer(timer) if timer.repeat && facts.is_module_scope(e.scope) => {
                    out.module_intervals.push(e.span.clone());
                }
                EventKind::Listen(l) if facts.resolve(&l.target) == process() => {
                    match l.event.as_deref() {
                        Some("SIGINT") => out.sigint = true,
                        Some("SIGTERM") => out.sigterm.push(sigterm(facts, &l.handler)),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        out.imports_helper = facts.bindings.iter().any(|b| {
            matches!(&b.kind, crate::facts::BindingKind::Import { source, .. } if HELPERS.contains(&source.as_str()))
        });
        if facts.is_rust {
            out.mains = facts
                .bindings
                .iter()
                .filter_map(|b| match b.kind {
                    crate::facts::BindingKind::Function(s)
                        if b.name == "main" && facts.is_module_scope(b.scope) =>
                    {
                        Some((s, b.span.clone()))
                    }
                    _ => None,
                })
                .collect();
        }
        out
    }
}

/// A SIGTERM handler: the scope that runs, and whether it releases anything.
fn sigterm(facts: &FileFacts, handler: &Handler) -> Sigterm {
    let scope = match handler {
        Handler::Inline(s) => Some(*s),
        Handler::Named(p) => match facts.resolve(p) {
            Place::Binding(b) => match facts.bindings[b].kind {
                crate::facts::BindingKind::Function(s) => Some(s),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    // Does it close a server, or call into code unleak does not follow?
    let releases = scope.is_some_and(|h| {
        facts.events.iter().any(|e| {
            runs_during(facts, e.scope, 0, &|s| s == h)
                && match &e.kind {
                    EventKind::Release { method, .. } => {
                        matches!(method.as_str(), "close" | "terminate" | "stop" | "shutdown")
                    }
                    EventKind::ClearTimer { .. } => true,
                    // A call of an imported function (e.g. `await shutdown()`).
                    EventKind::Call { callee } => matches!(
                        facts.resolve(callee),
                        Place::Binding(b) if matches!(facts.bindings[b].kind, crate::facts::BindingKind::Import { .. })
                    ),
                    _ => false,
                }
        })
    });
    Sigterm { scope, releases }
}

/// `return server.listen(…)` in a function: a library's convenience helper (Koa's
/// `app.listen()`) that starts a server and hands it to its caller, who owns its shutdown. A
/// service starts its server at the top level or in its entry point, and keeps it.
fn handed_back(facts: &FileFacts, src: &str, e: &crate::facts::Event) -> bool {
    !facts.is_module_scope(e.scope)
        && src
            .get(e.stmt.clone())
            .is_some_and(|s| s.trim_start().starts_with("return"))
}

fn check_ts(ctx: &ProjectCtx, out: &mut Vec<Diagnostic>) {
    let ts: Vec<&ProjectFile> = ctx.files.iter().filter(|f| !f.is_rust).collect();
    let starts: Vec<(&ProjectFile, usize, &String)> = ts
        .iter()
        .filter(|f| !f.is_test)
        .flat_map(|f| {
            f.inputs
                .shutdown
                .ts_starts
                .iter()
                .map(move |(i, api)| (*f, *i, api))
        })
        .collect();
    if starts.is_empty() {
        return;
    }
    if ts.iter().any(|f| f.inputs.shutdown.imports_helper) {
        return;
    }
    // SIGTERM handlers: (file, scope that runs on SIGTERM).
    let mut handlers: Vec<(&ProjectFile, ScopeId)> = Vec::new();
    let mut releases = false;
    for f in &ts {
        for h in &f.inputs.shutdown.sigterm {
            // A handler unleak cannot see into (imported, bound): assume it does the work.
            let Some(scope) = h.scope else {
                return;
            };
            handlers.push((f, scope));
            releases |= h.releases;
        }
    }
    if releases {
        return;
    }
    // Only Ctrl-C handled: the classic dev-machine shutdown that containers never send.
    let sigint_only = ts.iter().any(|f| f.inputs.shutdown.sigint);
    for (f, i, api) in starts {
        let facts = f.facts();
        let e = &facts.events[i];
        let msg = if handlers.is_empty() {
            format!(
                "`{api}` starts a server, but nothing in the project handles SIGTERM{}: on every \
                 deploy or scale-down the orchestrator's SIGTERM kills it mid-request — open \
                 connections are cut and intervals, sockets and sessions are never released",
                if sigint_only {
                    " (only SIGINT, which orchestrators do not send)"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "`{api}` starts a server, but the SIGTERM handler neither closes it nor stops the \
                 module's timers: shutdown drops live connections and leaves jobs running until the \
                 process is killed"
            )
        };
        let mut d = META.report(f.path.clone(), e.span.clone(), msg)
            .with_help(
                "add `process.once('SIGTERM', shutdown)` where `shutdown` stops accepting \
                 (`server.close()`), closes WebSocket servers and clients, clears the intervals the \
                 service started, and exits after a deadline",
            );
        // Label the module-level intervals nothing stops.
        for g in &ts {
            for span in &g.inputs.shutdown.module_intervals {
                let label = "this interval is not stopped on shutdown";
                if std::ptr::eq(*g, f) {
                    d = d.with_label(span.clone(), label);
                } else {
                    d = d.with_label_in(g.path.clone(), span.clone(), label);
                }
            }
        }
        d.fixes.extend(ts_fix(f, &facts, e, api, &handlers));
        out.push(d);
    }
}

fn check_rust(ctx: &ProjectCtx, out: &mut Vec<Diagnostic>) {
    let rs: Vec<&ProjectFile> = ctx
        .files
        .iter()
        .filter(|f| f.is_rust && !f.is_test)
        .collect();
    let sigterm = rs.iter().any(|f| f.inputs.shutdown.rust_sigterm);
    let sigint = rs.iter().any(|f| f.inputs.shutdown.rust_sigint);
    let help = "wait for both signals — `tokio::signal::unix::signal(SignalKind::terminate())` and \
                `tokio::signal::ctrl_c()` in a `select!` — then cancel a `CancellationToken` that \
                stops the jobs, and pass that future to `axum::serve(..).with_graceful_shutdown(..)`";
    let mut reported = false;
    for f in &rs {
        for (i, api, graceful) in &f.inputs.shutdown.rust_starts {
            let msg = if !graceful {
                format!(
                    "`{api}(..)` runs without `.with_graceful_shutdown(..)`: on SIGTERM in-flight \
                     requests and WebSocket sessions are cut off and nothing drains"
                )
            } else if !sigterm {
                format!(
                    "`{api}(..)` shuts down gracefully, but nothing listens for SIGTERM{}: the \
                     orchestrator's SIGTERM kills the process without draining",
                    if sigint {
                        " (`ctrl_c()` only catches SIGINT)"
                    } else {
                        ""
                    }
                )
            } else {
                continue;
            };
            reported = true;
            let facts = f.facts();
            let e = &facts.events[*i];
            out.push(
                META.report(f.path.clone(), e.span.clone(), msg)
                    .with_help(help)
                    .with_fixes(if *graceful {
                        None
                    } else {
                        rust_fixes::event_fix(&facts, &f.source().text, e)
                    }),
            );
        }
    }
    if reported || sigterm {
        return;
    }
    // No server: a `main` that runs long-lived tasks and never hears SIGTERM. The tasks are
    // looked for in main's own file, or anywhere when the project has a single `main`.
    let mains: Vec<(&ProjectFile, ScopeId, &std::ops::Range<usize>)> = rs
        .iter()
        .flat_map(|f| {
            f.inputs
                .shutdown
                .mains
                .iter()
                .map(move |(s, span)| (*f, *s, span))
        })
        .collect();
    let any_long = rs.iter().any(|f| f.inputs.shutdown.long_task);
    // A library crate (`src/lib.rs`) runs its long tasks for its users; a binary of its own in
    // `src/bin/` (a load test, a benchmark, a CLI) is one more user, judged by its own file.
    let library = rs.iter().any(|f| f.path.ends_with("src/lib.rs"));
    let side_binary = |p: &std::path::Path| {
        p.parent().is_some_and(|d| {
            d.ends_with("src/bin") || d.parent().is_some_and(|d| d.ends_with("src/bin"))
        })
    };
    for (f, scope, span) in &mains {
        let crate_wide = mains.len() == 1 && any_long && !(library && side_binary(&f.path));
        if !(f.inputs.shutdown.long_task || crate_wide) {
            continue;
        }
        let facts = f.facts();
        out.push(
            META.report(
                f.path.clone(),
                (*span).clone(),
                format!(
                    "`main` runs long-lived background tasks but never listens for SIGTERM{}: \
                     on shutdown the tasks are killed mid-work instead of being cancelled and \
                     awaited",
                    if sigint {
                        " (`ctrl_c()` only catches SIGINT)"
                    } else {
                        ""
                    }
                ),
            )
            .with_help(help)
            .with_fixes({
                let s = &facts.scopes[*scope];
                rust_fixes::sigterm_with_ctrl_c(
                    &f.source().text,
                    s.body.as_ref().unwrap_or(&s.span),
                )
            }),
        );
    }
}
