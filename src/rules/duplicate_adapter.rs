//! duplicate-adapter: a long-lived slot (a field, a module binding) that receives a freshly
//! created disposable — an adapter, client, connection, socket, session, a task handle — in code
//! that runs more than once, without disposing the previous occupant first: every reconnect
//! leaves one more live connection behind.

use super::*;
use crate::diagnostic::{Applicability, Fix};
use crate::facts::ScopeKind;

pub struct DuplicateAdapter;

static META: RuleMeta = RuleMeta {
    id: "duplicate-adapter",
    summary: "Slots re-assigned a new connection/adapter without disposing the previous one",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::File,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

const SUFFIXES: &[&str] = &[
    "Adapter",
    "Client",
    "Connection",
    "Socket",
    "WebSocket",
    "Session",
    "Stream",
    "Subscriber",
    "Consumer",
    "Producer",
    "Channel",
    "Pool",
    "JoinHandle",
];

impl Rule for DuplicateAdapter {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx) -> Vec<Diagnostic> {
        let facts = ctx.facts;
        let mut out = Vec::new();
        for (i, e) in facts.events.iter().enumerate() {
            if ctx.out_of_time() {
                break; // the engine reports the time-out
            }
            let EventKind::New {
                class,
                handle,
                lazy,
                factory,
            } = &e.kind
            else {
                continue;
            };
            if *lazy {
                continue;
            }
            let Some(last) = disposable(class, *factory) else {
                continue;
            };
            // A client is duplicate-client's finding: one leak, one finding.
            if super::duplicate_client::client_kind(facts, e).is_some() {
                continue;
            }
            let place = facts.resolve(handle);
            let slot = match &place {
                Place::Field { .. } => true,
                Place::Binding(b) => facts.is_module_binding(*b),
                _ => false,
            };
            if !slot {
                continue;
            }
            // Code that runs more than once: not a constructor, not start-up.
            let owner = named_owner(facts, e.scope);
            let lifetime = event_lifetime(facts, e.scope, e.in_loop);
            let runs_again = runs_again(facts, owner, lifetime);
            if !runs_again {
                continue;
            }
            // Disposed before, in the same function: a release, a `take()`, an abort.
            let disposed = facts.events_on(&place).any(|r| {
                r.span.start < e.span.start
                    && named_owner(facts, r.scope) == owner
                    && matches!(
                        &r.kind,
                        EventKind::Release { .. }
                            | EventKind::ClearTimer { .. }
                            | EventKind::UnlistenAll { .. }
                            | EventKind::Shrink { .. }
                    )
                    // A plain reassignment is recorded as a shrink too; only real disposal counts.
                    && !(matches!(r.kind, EventKind::Shrink { .. }) && r.span.end >= e.span.end)
            }) || released_by_a_call_before(facts, e, owner, &place)
                || facts.latched(e)
                // Every call of the method comes from a latched region of the class's own
                // entry point (`connect()` returns the pending connection when there is one):
                // reached once per state change, like the latched code itself.
                || (facts
                    .ancestors(e.scope)
                    .take_while(|&s| s != owner)
                    .all(|s| {
                        matches!(&facts.scopes[s].kind, ScopeKind::Callback(r) if matches!(
                            r.kind,
                            crate::facts::CallbackKind::PromiseExecutor
                                | crate::facts::CallbackKind::Continuation
                                | crate::facts::CallbackKind::OnceHandler
                        ))
                    })
                    && !e.in_loop
                    && facts.latched_callers(owner))
                || facts.scopes[owner]
                .early_return_guards
                .iter()
                .any(|g| crate::facts::mentions(g, &place_text(facts, &place)))
                // A state guard in the method or in a callback of it around the assignment
                // (`connect() { return new Promise((resolve) => { if (this.isConnected())
                // return resolve(true); … }) }`).
                || facts
                    .ancestors(e.scope)
                    .take_while(|&s| s != owner)
                    .chain([owner])
                    .any(|s| {
                        facts.scopes[s]
                            .early_return_guards
                            .iter()
                            .any(|g| already_open_guard(g))
                    });
            // Wraps the previous occupant instead of replacing it
            // (`this.stream = new Inflate(this.stream)`): the new object holds the old one and
            // closes it with itself.
            let wraps = facts.events[i + 1..]
                .iter()
                .take_while(|c| c.span == e.span)
                .any(|c| match &c.kind {
                    EventKind::Construct { args, .. } => {
                        args.iter().any(|a| facts.resolve(a) == place)
                    }
                    _ => false,
                });
            if disposed
                || wraps
                || started_and_torn_down(facts, e, owner, &place)
                || (!project_class(facts, class, e.scope)
                    && again_only_after_its_end(facts, owner, &place, 0))
            {
                continue;
            }
            let name = place_text(facts, &place);
            let verbs = if facts.is_rust {
                "`abort()`/`close()` it, or `take()` it out"
            } else {
                "`close()`/`disconnect()`/`destroy()` it"
            };
            let fix = if facts.is_rust {
                rust_fix(ctx, e, &place, last)
            } else {
                ts_fix(ctx, e, &place, last)
            };
            out.push(
                META.report(
                    ctx.path.to_path_buf(),
                    e.span.clone(),
                    format!(
                        "`{name}` is given a new `{last}` in {}, which can run more than once, \
                         without disposing the previous one: each run leaves the old one connected \
                         (sockets, listeners, timers) with nothing pointing at it",
                        describe_scope(facts, owner)
                    ),
                )
                .with_help(format!(
                    "before replacing it, {verbs}; or return early when `{name}` is already set"
                ))
                .with_fixes(fix),
            );
        }
        out
    }
}

/// Whether the code at `owner` (with `lifetime`) runs more than once on the same slot.
fn runs_again(
    facts: &crate::facts::FileFacts,
    owner: crate::facts::ScopeId,
    lifetime: Lifetime,
) -> bool {
    match lifetime {
        Lifetime::Repeated => true,
        Lifetime::Once | Lifetime::PerInstance => false,
        // A method runs again when something makes it: see [`method_repeats`].
        _ if !facts.is_rust && matches!(facts.scopes[owner].kind, ScopeKind::Method { .. }) => {
            method_repeats(facts, owner, 0)
        }
        Lifetime::PerCall => true,
        Lifetime::Unknown => {
            !matches!(facts.scopes[owner].kind, ScopeKind::Function)
                || facts.scopes[owner]
                    .parent
                    .is_some_and(|p| !facts.is_module_scope(p))
        }
    }
}

/// A method runs again on the same object when its name says so (`reconnect()`, `retry()`,
/// `restart()`, `reset()`, `resume()`, …, and event handlers by name: `onLost()`,
/// `handleClose()`), or when the class calls it from code that repeats: a per-event
/// handler (`this.ws.on('close', () => this.connect())`), a timer set there
/// (`setTimeout(this.connect, backoff)` in a close handler), a loop, or another method that
/// repeats. A method only its users call (`connect()`, `listen()`, `doOpen()` from a base
/// class) runs once per object as far as the project shows: calling `connect()` twice on a
/// client is the caller's doing, and real libraries re-create what they connect with a new
/// object rather than a second call.
fn method_repeats(facts: &crate::facts::FileFacts, m: crate::facts::ScopeId, depth: u8) -> bool {
    let sc = &facts.scopes[m];
    let (Some(class), Some(name)) = (sc.class, sc.name.as_deref()) else {
        return true;
    };
    let first = crate::facts::words(name).next().unwrap_or_default();
    if matches!(
        first.as_str(),
        "reconnect"
            | "retry"
            | "restart"
            | "reload"
            | "refresh"
            | "reset"
            | "renew"
            | "reopen"
            | "respawn"
            | "rotate"
            | "resume"
            | "on"
            | "handle"
    ) {
        return true;
    }
    if depth > 3 {
        return false;
    }
    facts.method_calls(class, name, true).any(|c| {
        if event_lifetime(facts, c.scope, c.in_loop) == Lifetime::Repeated {
            return true;
        }
        let caller = named_owner(facts, c.scope);
        caller != m
            && matches!(
                facts.scopes[caller].kind,
                ScopeKind::Method {
                    constructor: false,
                    ..
                }
            )
            && method_repeats(facts, caller, depth + 1)
    })
}

/// The previous occupant of `place` is released by a call the method makes before it fills
/// the slot: `this.disposeSocket()` or a local `closeExistingServer()` whose own body releases
/// it (`this.socket.close()`, `this.dataSocket.destroy()`), directly or through the helpers it
/// calls (a few calls deep). Re-creation after closing the old one is the object's lifecycle.
fn released_by_a_call_before(
    facts: &crate::facts::FileFacts,
    e: &crate::facts::Event,
    owner: crate::facts::ScopeId,
    place: &Place,
) -> bool {
    // Functions whose own body (not a callback inside) releases the slot, and their callers.
    let own_name = |s: crate::facts::ScopeId| facts.scopes[s].name.as_deref().into_iter().collect();
    let seeds: Vec<&str> = facts
        .events_on(place)
        .filter(|r| {
            matches!(
                r.kind,
                EventKind::Release { .. } | EventKind::UnlistenAll { .. }
            )
        })
        .filter_map(|r| facts.scopes[r.scope].name.as_deref())
        .collect();
    let releasing = facts.helpers_reaching(seeds, own_name, 3);
    facts.events.iter().any(|c| {
        c.span.start < e.span.start
            && named_owner(facts, c.scope) == owner
            && c.called_name().is_some_and(|n| releasing.contains(&n))
    })
}

/// The constructed class is the project's own: declared in the file, or imported from a
/// relative module. Its `'close'` is an event it emits, not the end of everything it holds
/// (an adapter closes its socket and keeps its listeners on the session), unlike a package's
/// socket, whose `'close'` is its end.
fn project_class(
    facts: &crate::facts::FileFacts,
    class: &str,
    scope: crate::facts::ScopeId,
) -> bool {
    let head = class.split(['.', '(']).next().unwrap_or(class);
    facts
        .lookup(head, scope)
        .is_some_and(|b| match &facts.bindings[b].kind {
            crate::facts::BindingKind::Class(_) => true,
            crate::facts::BindingKind::Import { source, .. } => source.starts_with('.'),
            _ => false,
        })
}

/// Every way the code at `owner` runs again starts from the end of the slot's occupant: each
/// use of it (a call, or a pass as a callback: `retry(connect)`) sits in a `'close'`, `'end'` or
/// `'error'` handler registered on `place` itself (a reconnect after the old connection ended),
/// in start-up code (once, or per instance), in a method only its users call, or in a
/// function whose every use is such itself (`processClose` → `reconnect()` → `retry(connect)`,
/// a few calls deep). A use in a loop, a timer or a handler of another object repeats. Not when
/// `owner` has no use in the file: how often an API runs is judged by [`runs_again`].
fn again_only_after_its_end(
    facts: &crate::facts::FileFacts,
    owner: crate::facts::ScopeId,
    place: &Place,
    depth: u8,
) -> bool {
    use crate::facts::CallbackKind;
    let ends_place = |r: &crate::facts::Registrar| {
        matches!(
            r.kind,
            CallbackKind::EventHandler | CallbackKind::OnceHandler
        ) && r
            .event
            .as_deref()
            .is_some_and(|ev| ev == "error" || crate::facts::is_close_event(ev))
            && r.target
                .as_ref()
                .is_some_and(|t| facts.resolve(t) == *place)
    };
    let sc = &facts.scopes[owner];
    let Some(name) = sc.name.as_deref() else {
        return false;
    };
    let me = match (&sc.kind, sc.class) {
        (ScopeKind::Method { .. }, Some(class)) => Place::Field {
            class,
            name: name.to_string(),
        },
        (ScopeKind::Function, _) => match sc.parent.and_then(|p| facts.lookup(name, p)) {
            Some(b) => Place::Binding(b),
            None => return false,
        },
        _ => return false,
    };
    if depth > 3 {
        return false;
    }
    let mut used = false;
    for u in &facts.events {
        let (func, registrar) = match &u.kind {
            EventKind::Call { callee } => (callee, None),
            EventKind::PassedAsCallback { func, registrar } => (func, Some(&**registrar)),
            _ => continue,
        };
        if func.surface_name() != Some(name)
            || facts.resolve(func) != me
            || facts.is_within(u.scope, owner)
        {
            continue;
        }
        used = true;
        if registrar.is_some_and(ends_place) {
            continue;
        }
        if registrar.is_some_and(|r| r.kind.repeats()) || u.in_loop {
            return false;
        }
        // The handler of the occupant's end around the use, or start-up code.
        let mut ok = false;
        let mut caller = None;
        for s in facts.ancestors(u.scope) {
            let a = &facts.scopes[s];
            match &a.kind {
                ScopeKind::Callback(r) if ends_place(r) => {
                    ok = true;
                    break;
                }
                ScopeKind::Callback(r) if r.kind.repeats() || a.in_loop => {
                    break;
                }
                ScopeKind::Callback(_) => {}
                _ => {
                    caller = Some(s);
                    break;
                }
            }
        }
        if ok {
            continue;
        }
        let Some(c) = caller else {
            return false;
        };
        let fine = match facts.lifetime(c) {
            Lifetime::Once | Lifetime::PerInstance => true,
            _ => match facts.scopes[c].kind {
                ScopeKind::Method { .. } => !method_repeats(facts, c, 0),
                _ => again_only_after_its_end(facts, c, place, depth + 1),
            },
        };
        if !fine {
            return false;
        }
    }
    used
}

/// A server's start method (`listen()`, `start()`, `serve()`, `bootstrap()`) filling a field
/// that the class's own teardown (a method named for the end of a life: `close()`, `stop()`)
/// releases: the object's lifecycle is start, close, start again, and the teardown disposes what
/// the start made (a second `listen()` on a listening server is the caller's error, as Node's
/// `server.listen()` twice is). Not when the class calls the start method from code that
/// repeats (a reconnect handler, a loop), nor for `connect()`-like methods, which reconnect
/// paths call again.
fn started_and_torn_down(
    facts: &crate::facts::FileFacts,
    e: &crate::facts::Event,
    owner: crate::facts::ScopeId,
    place: &Place,
) -> bool {
    let sc = &facts.scopes[owner];
    let (Some(class), Some(name), ScopeKind::Method { .. }) =
        (sc.class, sc.name.as_deref(), &sc.kind)
    else {
        return false;
    };
    if !matches!(name, "listen" | "start" | "serve" | "bootstrap") || e.in_loop {
        return false;
    }
    let released_in_teardown = facts.events_on(place).any(|r| {
        matches!(r.kind, EventKind::Release { .. })
            && facts.ancestors(r.scope).any(|s| {
                let t = &facts.scopes[s];
                t.class == Some(class)
                    && matches!(t.kind, ScopeKind::Method { .. })
                    && t.name.as_deref().is_some_and(crate::facts::ends_a_life)
            })
    });
    let called_again = facts
        .method_calls(class, name, false)
        .any(|c| event_lifetime(facts, c.scope, c.in_loop) == Lifetime::Repeated);
    released_in_teardown && !called_again
}

/// An early return when the object says it is already open, connected or connecting
/// (`if (~this._readyState.indexOf('open')) return this;`, `if (this._connectLock || …) return;`,
/// `if (this.isConnected()) return;`): the method replaces the slot only when the previous
/// occupant was closed by the object's own state machine. Only an operand that reads the
/// object's own state (`this.`, `_this.`, `self.`) without negating it counts:
/// `if (!this.isOpen) return;` guards the opposite, and `if (this.reconnects >= MAX) return;`
/// is a retry budget, not a state.
fn already_open_guard(guard: &str) -> bool {
    guard.split("||").any(|operand| {
        let operand = operand.trim().trim_start_matches('(').trim_start();
        let own = ["this.", "_this.", "self."]
            .iter()
            .any(|o| operand.contains(o));
        own && !operand.starts_with('!')
            && !operand.contains("!=")
            && operand
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .flat_map(crate::facts::words)
                .any(|w| {
                    matches!(
                        w.as_str(),
                        "ready"
                            | "connected"
                            | "connecting"
                            | "opening"
                            | "open"
                            | "lock"
                            | "locked"
                    )
                })
    })
}

/// The type a construction names (`SpeechSession::new` → `SpeechSession`; `this.createSocket`
/// → `createSocket`), when its name says it is disposable: a connection, client, socket, …, or a
/// `connect*`/`open*` factory (`create*` only when it names a connection, not `Object.create`
/// or `createRetryer`).
pub(crate) fn disposable(class: &str, factory: bool) -> Option<&str> {
    let segments: Vec<&str> = class.split(['.', ':']).filter(|s| !s.is_empty()).collect();
    let last = match segments.as_slice() {
        [.., ty, ctor] if matches!(*ctor, "new" | "connect" | "open") => *ty,
        [.., l] => *l,
        [] => class,
    };
    let named = SUFFIXES.iter().any(|s| last.ends_with(s))
        || last == "connect_async"
        || (factory
            && !class.starts_with("Object.")
            && (last.starts_with("connect") || last.starts_with("open")));
    named.then_some(last)
}

/// `self.task = Some(spawn(…))`: abort the task the field held before replacing it. Built
/// with `quote`. Unsafe: the previous task stops now.
fn rust_fix(ctx: &FileCtx, e: &crate::facts::Event, place: &Place, ty: &str) -> Option<Fix> {
    use super::fixes::*;
    let src = ctx.source;
    let name = place_text(ctx.facts, place);
    if ty != "JoinHandle" {
        return close_previous_suggestion(ctx, e, &name, ty);
    }
    let stmt = &src[e.stmt.clone()];
    let rest = stmt.strip_prefix(&name)?.trim_start().strip_prefix('=')?;
    if !rest.trim_start().starts_with("Some(") {
        return None;
    }
    let field: syn::Expr = syn::parse_str(&name).ok()?;
    let abort = crate::fixes::rust::print::stmts(quote::quote! {
        if let Some(previous) = #field.take() {
            previous.abort();
        }
    })?;
    let indent = line_indent(src, e.stmt.start);
    let text = crate::fixes::rust::print::indent(&abort, indent, newline(src));
    Some(fix(
        format!("abort the task `{name}` held before replacing it"),
        Applicability::Unsafe,
        vec![insert_before_statement(src, e.stmt.start, &[text])],
    ))
}

/// Rust, a connection or session replaced in a field: close the previous one first. The close
/// method of a type from another module is not known here: a suggestion with `close()`.
fn close_previous_suggestion(
    ctx: &FileCtx,
    e: &crate::facts::Event,
    name: &str,
    ty: &str,
) -> Option<Fix> {
    use super::fixes::*;
    let src = ctx.source;
    let stmt = &src[e.stmt.clone()];
    let rest = stmt.strip_prefix(name)?.trim_start().strip_prefix('=')?;
    let field: syn::Expr = syn::parse_str(name).ok()?;
    let close = if rest.trim_start().starts_with("Some(") {
        quote::quote! {
            if let Some(previous) = #field.take() {
                previous.close();
            }
        }
    } else {
        quote::quote! { #field.close(); }
    };
    let code = crate::fixes::rust::print::stmts(close)?;
    let indent = line_indent(src, e.stmt.start);
    let text = crate::fixes::rust::print::indent(&code, indent, newline(src));
    Some(fix(
        format!(
            "close the previous `{ty}` in `{name}` before replacing it (with the method that \
             closes a `{ty}`; `.await` it if it is async)"
        ),
        Applicability::DisplayOnly,
        vec![insert_before_statement(src, e.stmt.start, &[text])],
    ))
}

/// Disposes the previous value just before the replacing statement, with the release method
/// the code already uses on it elsewhere (`this.adapter?.disconnect();`). Unsafe: the old one
/// is closed now.
fn ts_fix(ctx: &FileCtx, e: &crate::facts::Event, place: &Place, ty: &str) -> Option<Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let name = place_text(facts, place);
    // Only `name = new X(…)` as its own statement.
    let stmt = &src[e.stmt.clone()];
    if !stmt.starts_with(&name) || !stmt[name.len()..].trim_start().starts_with('=') {
        return None;
    }
    let used = facts.events_on(place).find_map(|r| match &r.kind {
        EventKind::Release { method, .. } if method != "removeAllListeners" => Some(method.clone()),
        _ => None,
    });
    let method = used.unwrap_or_else(|| {
        if ty.ends_with("Adapter") || ty.ends_with("Client") || ty.ends_with("Session") {
            "disconnect".into()
        } else {
            "close".into()
        }
    });
    // Its own handlers (`on('close', () => { this.ws = null })`) would run against the new one:
    // detach an EventEmitter's listeners first.
    let emitter = facts
        .events_on(place)
        .any(|l| matches!(&l.kind, EventKind::Listen(l) if l.method == "on" || l.method == "once"));
    let mut lines = Vec::new();
    if emitter && method != "removeAllListeners" {
        lines.push(format!("{name}?.removeAllListeners();"));
    }
    lines.push(format!("{name}?.{method}();"));
    Some(fix(
        format!("`{method}()` the previous `{name}` before replacing it"),
        Applicability::Unsafe,
        vec![insert_before_statement(src, e.stmt.start, &lines)],
    ))
}
