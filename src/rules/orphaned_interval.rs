//! orphaned-interval: a repeating timer (or a self-rescheduling `setTimeout` loop) whose handle
//! no teardown of its owner ever clears.

use super::*;
use crate::diagnostic::{Applicability, Fix};
use crate::facts::Event;

pub struct OrphanedInterval;

static META: RuleMeta = RuleMeta {
    id: "orphaned-interval",
    summary: "Repeating timers whose handle no teardown of their owner clears",
    severity: Severity::Error,
    languages: ALL_LANGUAGES,
    scope: RuleScope::File,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

/// How a timer handle is judged.
pub(crate) enum Verdict {
    /// Released (or handed to code that may release it).
    Released,
    /// Leaked: why, and labels on related places.
    Leaked {
        why: String,
        labels: Vec<(std::ops::Range<usize>, String)>,
    },
}

impl Rule for OrphanedInterval {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx) -> Vec<Diagnostic> {
        findings(ctx)
    }
}

fn findings(ctx: &FileCtx) -> Vec<Diagnostic> {
    let facts = ctx.facts;
    let mut out = Vec::new();
    for e in &facts.events {
        if ctx.out_of_time() {
            break; // the engine reports the time-out
        }
        if let EventKind::StuckTask {
            api,
            handle,
            awaits,
        } = &e.kind
        {
            if let Verdict::Leaked { why, labels } = judge_timer(ctx, e, handle) {
                out.push(stuck_task(ctx, e, api, awaits, &why, labels));
            }
            continue;
        }
        if let EventKind::NeverEndingTask(t) = &e.kind {
            let crate::facts::EndlessTask {
                api,
                handle,
                future,
                func,
            } = &**t;
            if let Verdict::Leaked { why, labels } = judge_timer(ctx, e, handle) {
                out.push(never_ending_task(ctx, e, api, future, func, &why, labels));
            }
            continue;
        }
        if let EventKind::KeptTask { api, owner, field } = &e.kind {
            out.push(
                    META.report(
                        ctx.path.to_path_buf(),
                        e.span.clone(),
                        format!(
                            "task spawned with `{api}` keeps its `JoinHandle` in field `{field}` of `{owner}`, but \
                             `{owner}` has no `Drop` impl and no method aborts or awaits it: dropping \
                             a `{owner}` detaches the task, which keeps running with everything it holds"
                        ),
                    )
                    .with_help(format!(
                        "abort the task when its owner goes: `impl Drop for {owner}` calling \
                         `.abort()` on the handle in `{field}` (or keep a \
                         `tokio_util::task::AbortOnDropHandle`)"
                    ))
                    .with_fixes(rust_fixes::abort_in_drop(ctx.source, owner, field)),
                );
            continue;
        }
        let EventKind::Timer(timer) = &e.kind else {
            continue;
        };
        let TimerFacts {
            api,
            repeat,
            handle,
            unref,
            reschedules,
            spins_when_closed,
            ..
        } = &**timer;
        let rust = facts.is_rust;
        let what = if rust && *spins_when_closed {
            format!(
                "task spawned with `{api}` loops forever on a channel receive that stays in the \
                 loop when the channel closes: once every sender is dropped the receive returns \
                 at once on every turn and the task spins, burning a core, and"
            )
        } else if rust {
            if !*repeat {
                continue;
            }
            format!(
                "task spawned with `{api}` loops forever on a timer with no cancellation path: \
                     no `select!` on a `CancellationToken` or shutdown receiver, no `break`, and"
            )
        } else if *repeat {
            "`setInterval` timer".to_string()
        } else {
            let Some(s) = reschedules else { continue };
            // A loop with a stop condition (an early return, a conditional reschedule) can end.
            if facts.scopes[*s].has_guarded_return
                || e.conditional
                || called_only_conditionally(facts, named_owner(facts, e.scope), *s)
            {
                continue;
            }
            let name = facts.scopes[*s].name.as_deref().unwrap_or("it");
            format!("`setTimeout` loop (it re-schedules `{name}`)")
        };
        let Verdict::Leaked { why, labels } = judge_timer(ctx, e, handle) else {
            continue;
        };
        let unref_note = if *unref {
            " `.unref()` only lets the process exit while it is pending; the timer still fires."
        } else {
            ""
        };
        let (message, help) = if rust && *spins_when_closed {
            (
                format!("{what} {}.", why.replace("clear", "abort")),
                "leave the loop when the channel closes: `while let Some(msg) = rx.recv().await`, \
                 `None => break`, or for a broadcast receiver `Err(RecvError::Closed) => break` \
                 (a lag is not a close)",
            )
        } else if rust {
            (
                format!("{what} {}.", why.replace("clear", "abort")),
                "give the loop a way out: `tokio::select!` on `token.cancelled()` (a \
                     `tokio_util::sync::CancellationToken` cancelled at shutdown) next to the tick, \
                     and keep the `JoinHandle` (or spawn on a `TaskTracker`/`JoinSet`) so shutdown \
                     can await or abort it",
            )
        } else {
            (
                format!("{what} is never stopped: {why}.{unref_note}"),
                "keep the handle where its owner can reach it and call `clearInterval(handle)` \
                     (or `clearTimeout`) in the owner's teardown: `close()`/`dispose()` for a class, an \
                     exported `stop()` wired to the SIGTERM handler for a module",
            )
        };
        let mut d = META
            .report(ctx.path.to_path_buf(), e.span.clone(), message)
            .with_help(help);
        for (r, m) in labels {
            d = d.with_label(r, m);
        }
        if rust {
            d.fixes.extend(rust_fixes::event_fix(facts, ctx.source, e));
        } else if let Some(f) = ts_fix(ctx, e, handle, *repeat)
            .or_else(|| super::interval_fixes::ts_fix(ctx, e, handle, *repeat))
        {
            d.fixes.push(f);
        }
        out.push(d);
    }
    out
}

/// A detached task that starts by awaiting a future some caller passes as `pending()`.
fn stuck_task(
    ctx: &FileCtx,
    e: &crate::facts::Event,
    api: &str,
    awaits: &str,
    why: &str,
    labels: Vec<(std::ops::Range<usize>, String)>,
) -> Diagnostic {
    let mut d = META
        .report(
            ctx.path.to_path_buf(),
            e.span.clone(),
            format!(
                "task spawned with `{api}` first awaits `{awaits}`, which a call in this file sets \
                 to `pending()`: on that path it never ends, and {}.",
                why.replace("clear", "abort")
            ),
        )
        .with_help(
            "spawn the task only when there is something to wait for (the path with a real \
             signal), or keep the `JoinHandle` and abort it when its owner ends",
        )
        .with_fixes(rust_fixes::abort_on_return(ctx.facts, ctx.source, e));
    for (r, m) in labels {
        d = d.with_label(r, m);
    }
    d
}

/// A future whose `poll` never answers `Ready`, holding its owner's state in an `Rc`/`Arc`
/// field: a suggestion that answers `Ready` once that handle is the last one (the owner is
/// gone). Display-only: the task is only polled again when something wakes it, so the owner's
/// `Drop` must wake it too, and spawning once per owner is the caller's change.
fn finish_when_owner_gone(src: &str, future: &str) -> Option<Fix> {
    use super::fixes::*;
    let imp = src.find(&format!("impl Future for {future} "))?;
    let poll = imp + src[imp..].find("fn poll(")?;
    let open = poll + src[poll..].find('{')?;
    let decl = src.find(&format!("struct {future} {{"))?;
    let fields = &src[decl..decl + src[decl..].find('}')?];
    let (field, kind) = fields.lines().find_map(|l| {
        let (name, ty) = l.trim().split_once(':')?;
        let ty = ty.trim();
        let kind = ["Rc<", "Arc<"]
            .into_iter()
            .find(|k| ty.starts_with(k) || ty.contains(&format!("::{k}")))?;
        Some((name.trim().to_string(), kind.trim_end_matches('<')))
    })?;
    let nl = newline(src);
    let indent = format!("{}{}", line_indent(src, poll), indent_unit(src, 4));
    let code = format!(
        "{nl}{indent}// The owner is gone once this is the last handle (its Drop must wake the task).\
         {nl}{indent}if {kind}::strong_count(&self.{field}) == 1 {{{nl}{indent}    return Poll::Ready(());{nl}{indent}}}"
    );
    Some(fix(
        format!("let `{future}` finish once its owner is gone (the last `{kind}` of `{field}`)"),
        crate::diagnostic::Applicability::DisplayOnly,
        vec![insert(open + 1, code)],
    ))
}

fn never_ending_task(
    ctx: &FileCtx,
    e: &crate::facts::Event,
    api: &str,
    future: &str,
    func: &str,
    why: &str,
    labels: Vec<(std::ops::Range<usize>, String)>,
) -> Diagnostic {
    // `Service::call` and `handle*` functions run per request: one more task each time.
    let per_call = if func == "call" || func.starts_with("handle") {
        format!(" It is spawned in `{func}`, so every call adds one more.")
    } else {
        String::new()
    };
    let mut d = META
        .report(
            ctx.path.to_path_buf(),
            e.span.clone(),
            format!(
                "task spawned with `{api}` runs `{future}`, whose `Future::poll` never returns \
                 `Poll::Ready`: the task never ends, and {}.{per_call}",
                why.replace("clear", "abort")
            ),
        )
        .with_help(format!(
            "let `{future}` finish when its owner goes (hold the owner through a `Weak` and return \
             `Poll::Ready(())` once `upgrade()` fails, or select on a shutdown signal), and spawn it \
             once per owner, not per call"
        ))
        .with_fixes(finish_when_owner_gone(ctx.source, future));
    for (r, m) in labels {
        d = d.with_label(r, m);
    }
    d
}

/// Stores the handle where its owner can reach it (a field, a module-level `const`) and clears
/// it in the owner's teardown: the class's `close()`/`dispose()` (added when missing), the
/// module's signal handler, or a new exported `stop…()`. Unsafe: the timer now stops.
fn ts_fix(ctx: &FileCtx, e: &Event, handle: &PlaceRef, repeat: bool) -> Option<Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let clear = super::interval_fixes::clear_fn(repeat);
    let api = if repeat { "setInterval" } else { "setTimeout" };
    let place = facts.resolve(handle);
    let scope = &facts.scopes[e.scope];
    // A name for a new handle: the function the callback calls, else the enclosing function.
    let base = handle_base_name(ctx, e);
    let (edits_store, handle_expr, cleanup) = match &place {
        Place::Field { class, name } => {
            let h = super::member("this", name);
            let c = cleanup_in_class(ctx, *class, &[format!("{clear}({h});")])?;
            (Vec::new(), h, c)
        }
        Place::Binding(b) if facts.is_module_binding(*b) => {
            let name = facts.bindings[*b].name.clone();
            let c = cleanup_in_module(ctx, &e.stmt, &[format!("{clear}({name});")], &name)?;
            (Vec::new(), name, c)
        }
        Place::Discarded => {
            // Only a statement that starts with the call can take an assignment in front.
            if !super::interval_fixes::bare_statement(src, e) {
                return None;
            }
            if facts.is_module_scope(e.scope) {
                let name = unique_name(&camel(&[&base, "timer"]), |n| name_in_use(facts, src, n));
                let c = cleanup_in_module(ctx, &e.stmt, &[format!("{clear}({name});")], &name)?;
                (
                    vec![insert(e.span.start, format!("const {name} = "))],
                    name,
                    c,
                )
            } else if let Some(class) = scope.class
                && facts.enclosing_method(e.scope).is_some()
            {
                let field = unique_name(&camel(&[&base, "timer"]), |n| {
                    facts.classes[class].fields.iter().any(|f| f.name == n)
                        || facts.has_word(src, n)
                });
                let h = super::member("this", &field);
                let c = cleanup_in_class(ctx, class, &[format!("{clear}({h});")])?;
                let mut store = vec![insert(e.span.start, format!("{h} = "))];
                store.extend(private_field(
                    ctx,
                    class,
                    &format!("{field}?: ReturnType<typeof {api}>"),
                )?);
                (store, h, c)
            } else {
                return None;
            }
        }
        _ => return None,
    };
    let mut edits = edits_store;
    edits.extend(cleanup.edits);
    Some(fix(
        format!("clear `{handle_expr}` {}", cleanup.where_),
        Applicability::Unsafe,
        edits,
    ))
}

/// A base for a new handle's name: the function the timer's callback calls
/// (`refreshMenu` → `refreshMenuTimer`), else the enclosing function without a leading
/// `start`, else the file's name.
fn handle_base_name(ctx: &FileCtx, e: &Event) -> String {
    let facts = ctx.facts;
    if let EventKind::Timer(t) = &e.kind
        && let Some(cb) = &t.callback
    {
        // The first call made inside the callback, in source order.
        let first = facts
            .events_within(*cb)
            .filter_map(|i| match &facts.events[i].kind {
                EventKind::Call {
                    callee: PlaceRef::Name { name, .. } | PlaceRef::Field { name, .. },
                } => Some((facts.events[i].span.start, name)),
                _ => None,
            })
            .min_by_key(|(start, _)| *start);
        if let Some((_, name)) = first {
            return name.clone();
        }
    }
    if let Some(n) = facts.scopes[named_owner(facts, e.scope)].name.as_deref()
        && !facts.is_module_scope(e.scope)
    {
        let n = n
            .strip_prefix("start")
            .filter(|r| r.starts_with(|c: char| c.is_uppercase()))
            .unwrap_or(n);
        return n.to_string();
    }
    ctx.path
        .file_stem()
        .and_then(|s| s.to_str())
        .map_or("interval".into(), |s| {
            s.split('.').next().unwrap_or(s).to_string()
        })
}

/// Judges where a timer handle goes and whether a clear reaches it in the right teardown.
pub(crate) fn judge_timer(ctx: &FileCtx, e: &Event, handle: &PlaceRef) -> Verdict {
    let facts = ctx.facts;
    let place = facts.resolve(handle);
    if place == Place::Discarded {
        return Verdict::Leaked {
            why: "its handle is discarded, so nothing can ever clear it".into(),
            labels: Vec::new(),
        };
    }
    // Follow copies (`const t = setInterval(…); this.t = t;`): released if any holder is.
    let holders = flow_closure(facts, &place);
    let mut first_leak = None;
    for p in &holders {
        match judge_place(ctx, e, p) {
            Verdict::Released => return Verdict::Released,
            leak => {
                if first_leak.is_none() {
                    first_leak = Some(leak);
                }
            }
        }
    }
    first_leak.unwrap_or(Verdict::Released)
}

fn clears_of<'a>(facts: &'a FileFacts, place: &'a Place) -> impl Iterator<Item = &'a Event> + 'a {
    facts
        .events_on(place)
        .filter(|c| matches!(c.kind, EventKind::ClearTimer { .. }))
}

fn judge_place(ctx: &FileCtx, e: &Event, place: &Place) -> Verdict {
    let facts = ctx.facts;
    let opts = ctx.options;
    match place {
        Place::Binding(b) => {
            let binding = &facts.bindings[*b];
            let name = &binding.name;
            let module_level = facts.is_module_scope(binding.scope);
            if escapes(facts, place) || (module_level && facts.is_exported(name)) {
                return Verdict::Released;
            }
            let clears: Vec<&Event> = clears_of(facts, place).collect();
            if module_level {
                if clears
                    .iter()
                    .any(|c| in_module_teardown(facts, c.scope, opts))
                {
                    return Verdict::Released;
                }
                let labels = clears
                    .iter()
                    .map(|c| {
                        (
                            c.span.clone(),
                            format!(
                                "cleared only in {}, which is neither exported nor a shutdown handler",
                                describe_scope(facts, named_owner(facts, c.scope))
                            ),
                        )
                    })
                    .collect();
                Verdict::Leaked {
                    why: format!(
                        "the handle lives in module-level `{name}` for the life of the process and \
                         no exported function, teardown or shutdown handler clears it"
                    ),
                    labels,
                }
            } else {
                let local: Vec<&Event> = clears
                    .iter()
                    .copied()
                    .filter(|c| facts.is_within(c.scope, binding.scope))
                    .collect();
                if let Some(v) = stops_only_itself(facts, e, binding.scope, &local) {
                    return v;
                }
                if !local.is_empty() {
                    return Verdict::Released;
                }
                Verdict::Leaked {
                    why: format!(
                        "the handle is kept only in local `{name}`, and nothing in {} clears it",
                        describe_scope(facts, binding.scope)
                    ),
                    labels: vec![(binding.span.clone(), "stored here".into())],
                }
            }
        }
        Place::Global(name) => {
            let clears: Vec<&Event> = clears_of(facts, place).collect();
            if clears
                .iter()
                .any(|c| in_module_teardown(facts, c.scope, opts))
            {
                return Verdict::Released;
            }
            Verdict::Leaked {
                why: format!(
                    "the handle lives in the global `{name}` and no shutdown path clears it"
                ),
                labels: Vec::new(),
            }
        }
        Place::Field { class, name } => {
            if escapes(facts, place) {
                return Verdict::Released;
            }
            let clears: Vec<&Event> = clears_of(facts, place).collect();
            if clears.iter().any(|c| {
                in_class_teardown(facts, c.scope, *class, opts)
                    || (class_teardowns(facts, *class, opts).is_empty()
                        && in_clearing_method(facts, c.scope, *class, opts))
            }) || teardowns_follow_clears(facts, *class, &clears, opts)
            {
                return Verdict::Released;
            }
            let class_name = facts.classes[*class].name.as_deref().unwrap_or("the class");
            let mut labels: Vec<(std::ops::Range<usize>, String)> = clears
                .iter()
                .map(|c| {
                    (
                        c.span.clone(),
                        format!(
                            "cleared only in {}, which is not a teardown",
                            describe_scope(facts, named_owner(facts, c.scope))
                        ),
                    )
                })
                .collect();
            for t in class_teardowns(facts, *class, opts) {
                labels.push((
                    scope_head(facts, t),
                    format!(
                        "{} does not {} `{}`",
                        describe_scope(facts, t),
                        if facts.is_rust { "abort" } else { "clear" },
                        super::member(self_kw(facts), name)
                    ),
                ));
            }
            let _ = e;
            let held = super::member(self_kw(facts), name);
            Verdict::Leaked {
                why: format!(
                    "the handle is stored in `{held}`, but no teardown of `{class_name}` \
                     (close, dispose, destroy, stop, …) clears it, so the timer outlives the instance"
                ),
                labels,
            }
        }
        // Returned, passed on or stored somewhere unleak does not follow: judged elsewhere.
        _ => Verdict::Released,
    }
}

/// Every teardown of `class` runs only after the handle is cleared: each is private (`_abort`,
/// `#close`) and every use of it in the class is a call from another method, after a clear of
/// the handle there (`_reply()` clears the server timeout, then calls `this._abort()`). That
/// method is then the way the instance is torn down, and it clears.
fn teardowns_follow_clears(
    facts: &FileFacts,
    class: crate::facts::ClassId,
    clears: &[&Event],
    opts: &crate::rules::RuleOptions,
) -> bool {
    let teardowns = facts.class_teardown_methods(class, &|n| opts.is_teardown(n));
    !clears.is_empty()
        && !teardowns.is_empty()
        && teardowns.iter().all(|&t| {
            let Some(name) = facts.scopes[t].name.as_deref() else {
                return false;
            };
            if !(name.starts_with('_') || name.starts_with('#')) {
                return false;
            }
            let method = Place::Field {
                class,
                name: name.to_string(),
            };
            let mut uses = facts.events.iter().filter(|u| match &u.kind {
                EventKind::Call { callee } => facts.resolve(callee) == method,
                EventKind::PassedAsCallback { func, .. } => facts.resolve(func) == method,
                _ => false,
            });
            let mut any = false;
            let all = uses.all(|u| {
                any = true;
                let EventKind::Call { .. } = u.kind else {
                    return false;
                };
                let Some(m) = facts.enclosing_method(u.scope).filter(|&m| m != t) else {
                    return false;
                };
                clears.iter().any(|c| {
                    facts.enclosing_method(c.scope) == Some(m) && c.span.end <= u.span.start
                })
            });
            any && all
        })
}

/// An interval kept in a local of a per-connection function that also registers the
/// connection's close handler (`conn.on('close', …)`), whose every clear is inside the
/// interval's own callback, on a branch (`if (!pongReceived) clearInterval(ping)`): the close
/// handler does not stop it, and after a normal close the branch need not run again (no pong
/// is missed when nothing is pinged), so it keeps firing with everything it captures. Leaked
/// then; `None` when the shape does not apply.
fn stops_only_itself(
    facts: &FileFacts,
    e: &Event,
    owner: ScopeId,
    clears: &[&Event],
) -> Option<Verdict> {
    let EventKind::Timer(t) = &e.kind else {
        return None;
    };
    let cb = t.callback.filter(|_| t.repeat && e.scope == owner)?;
    let on_a_branch = |c: &&Event| facts.is_within(c.scope, cb) && (c.conditional || c.scope != cb);
    if clears.is_empty() || !clears.iter().all(on_a_branch) {
        return None;
    }
    let close = super::listener_fixes::close_handler(facts, owner)?;
    let ScopeKind::Callback(r) = &facts.scopes[close].kind else {
        return None;
    };
    let ev = r.event.as_deref().unwrap_or("close");
    let mut labels: Vec<(std::ops::Range<usize>, String)> = clears
        .iter()
        .map(|c| {
            (
                c.span.clone(),
                "cleared only here, inside its own callback, on one branch".to_string(),
            )
        })
        .collect();
    labels.push((
        scope_head(facts, close),
        format!("the '{ev}' handler does not clear it"),
    ));
    Some(Verdict::Leaked {
        why: format!(
            "the '{ev}' handler registered beside it does not clear it, and its only clear is \
             inside its own callback on one branch, which need not run once the connection has \
             ended normally"
        ),
        labels,
    })
}

/// `scope` is (inside) a method of `class` named for clearing — `clear()`, `clearTimers()` —
/// or named like a teardown but called by the class itself per event, so not counted as one
/// (a monitor's `cancel()`, which its own interval calls to stop itself when the peer is
/// gone, and its owners call on stop): for a class with no teardown, the owner's way to stop
/// its timers (a heartbeat's `clear()`, called when its connection closes).
fn in_clearing_method(
    facts: &FileFacts,
    scope: ScopeId,
    class: ClassId,
    opts: &crate::rules::RuleOptions,
) -> bool {
    facts.enclosing_method(scope).is_some_and(|m| {
        let s = &facts.scopes[m];
        s.class == Some(class)
            && !matches!(
                s.kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            )
            && s.name.as_deref().is_some_and(|n| {
                crate::facts::words(n).next().as_deref() == Some("clear") || opts.is_teardown(n)
            })
    })
}

/// The timer sits in `helper`, a function nested in the re-scheduled function `looped`
/// (`function retry(rest) { setTimeout(() => writev(rest), 500) }`), and every call of the
/// helper is conditional (`if (e.code === QUEUE_FULL) retry(chunks.slice(i))`): the loop goes
/// round only while that condition holds, like a conditional reschedule.
fn called_only_conditionally(facts: &FileFacts, helper: ScopeId, looped: ScopeId) -> bool {
    let sc = &facts.scopes[helper];
    if helper == looped || !facts.is_within(helper, looped) {
        return false;
    }
    let Some(name) = sc.name.as_deref() else {
        return false;
    };
    let Some(b) = sc.parent.and_then(|p| facts.lookup(name, p)) else {
        return false;
    };
    let mut calls = facts.events.iter().filter(|c| {
        matches!(&c.kind, EventKind::Call { callee }
            if callee.surface_name() == Some(name) && facts.resolve(callee) == Place::Binding(b))
    });
    let mut any = false;
    calls.all(|c| {
        any = true;
        c.conditional && !facts.is_within(c.scope, helper)
    }) && any
}
