//! uncleared-timeout: a `setTimeout` used as a deadline (raced against work) that is not
//! cleared on every exit path, so it keeps its closure alive until it fires.

use super::*;
use crate::diagnostic::{Applicability, Fix};
use std::ops::Range;

use super::orphaned_interval::{Verdict, judge_timer};
use crate::facts::{Deadline, Event, PathKind};

pub struct UnclearedTimeout;

static META: RuleMeta = RuleMeta {
    id: "uncleared-timeout",
    summary: "Deadline timers raced against work and not cleared on every path",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::File,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

impl Rule for UnclearedTimeout {
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
        let EventKind::Timer(timer) = &e.kind else {
            continue;
        };
        let TimerFacts {
            repeat: false,
            handle,
            deadline,
            ..
        } = &**timer
        else {
            continue;
        };
        let Some(d) = deadline else {
            if !facts.is_rust
                && let Some(diag) = watchdog(ctx, e, handle).or_else(|| field_timer(ctx, e))
            {
                out.push(diag);
            }
            continue;
        };
        // A deadline raced while its owner's life ends (in `close()`, `forcefulShutdown()`,
        // a 'close' handler): it is armed once per life and holds what it captured for its
        // delay at most, after which the owner is gone anyway.
        if !is_raced(facts, d) || facts.life_end_around(e.scope).is_some() {
            continue;
        }
        let place = facts.resolve(handle);
        let (why, labels) = match &place {
            Place::Discarded => (
                "its handle is discarded, so it can never be cleared".to_string(),
                Vec::new(),
            ),
            Place::Binding(_) | Place::Field { .. } | Place::Global(_) => {
                // Follow the handle where it is copied or moved (`old = self.t.take()`).
                let holders = flow_closure(facts, &place);
                let clears: Vec<&Event> = holders
                    .iter()
                    .flat_map(|h| facts.events_on(h))
                    .filter(|c| matches!(c.kind, EventKind::ClearTimer { .. }))
                    .collect();
                let finally = clears.iter().any(|c| c.path == PathKind::Finally);
                let rejected = clears.iter().any(|c| c.path == PathKind::Rejected);
                let fulfilled = clears
                    .iter()
                    .any(|c| matches!(c.path, PathKind::Fulfilled | PathKind::Normal));
                // Work rejected from another method settles there too: any clear is
                // taken as the release (which method runs on which path is not known).
                if finally || (d.rejects_work && !clears.is_empty()) {
                    continue;
                }
                // The handle is handed on — stored in the pending call's record
                // (`this.pending[id] = { timeout, resolve, reject }`), queued, passed or
                // returned: whoever settles the record holds it and clears it there.
                if holders.iter().any(|h| {
                    facts
                        .events_on(h)
                        .any(|x| matches!(x.kind, EventKind::Escape { .. }))
                }) {
                    continue;
                }
                let name = place_text(facts, &place);
                // A hand-written race: every other way the executor settles the promise
                // must clear the timer first.
                if d.manual_race && !clears.is_empty() {
                    let open = open_settles(facts, e, &clears);
                    if open.is_empty() {
                        continue;
                    }
                    let label = format!(
                        "settles the promise without clearing `{name}` first: the deadline stays armed"
                    );
                    out.push(report(
                        ctx,
                        e,
                        &place,
                        d,
                        format!("`{name}` is not cleared on every path"),
                        open.into_iter().map(|r| (r, label.clone())).collect(),
                    ));
                    continue;
                }
                if rejected && fulfilled {
                    continue;
                }
                if clears.is_empty() {
                    (format!("`{name}` is never cleared"), Vec::new())
                } else {
                    let only = if fulfilled {
                        "cleared only when the work succeeds; a rejection skips this"
                    } else {
                        "cleared only when the work fails; success skips this"
                    };
                    (
                        format!("`{name}` is not cleared on every path"),
                        clears
                            .iter()
                            .map(|c| (c.span.clone(), only.to_string()))
                            .collect(),
                    )
                }
            }
            _ => continue,
        };
        out.push(report(ctx, e, &place, d, why, labels));
    }
    out
}

/// The finding for deadline timer `e` with handle `place`: `why` it is not cleared, `labels`
/// on the sites that skip the clear.
fn report(
    ctx: &FileCtx,
    e: &Event,
    place: &Place,
    d: &Deadline,
    why: String,
    labels: Vec<(Range<usize>, String)>,
) -> Diagnostic {
    let facts = ctx.facts;
    {
        {
            let (message, help) = if facts.is_rust {
                (
                    format!(
                        "detached timer task: the spawned body sleeps and then signals, and {}; it \
                         fires even after the work it guards has finished, holding what it captured \
                         until then",
                        why.replace("cleared", "aborted").replace(
                            "its handle is discarded, so it can never be aborted",
                            "its `JoinHandle` is dropped, so nothing can abort it"
                        )
                    ),
                    "race the work against the deadline instead: `tokio::time::timeout(d, work).await` \
                     or `tokio::select!` with a `sleep(d)` arm — the timer is dropped with the future",
                )
            } else {
                (
                    format!(
                        "deadline timer raced against other work: {why}; after the race settles the \
                         pending timer keeps its callback and everything it captures alive until it fires"
                    ),
                    "keep the handle (`const timer = setTimeout(…)`) and call `clearTimeout(timer)` in a \
                     `finally` block after the race, or use `AbortSignal.timeout(ms)` / \
                     `setTimeout` from 'timers/promises' with a signal you abort",
                )
            };
            let mut diag = META
                .report(ctx.path.to_path_buf(), e.span.clone(), message)
                .with_help(help);
            for (r, m) in labels {
                diag = diag.with_label(r, m);
            }
            if facts.is_rust {
                diag.fixes
                    .extend(rust_fixes::event_fix(facts, ctx.source, e));
                if diag.fixes.is_empty() {
                    diag.fixes
                        .extend(rust_fixes::deadline_suggestion(ctx.source, e));
                }
            } else if let Some(f) = ts_fix(ctx, e, place, d) {
                diag.fixes.push(f);
            }
            diag
        }
    }
}

/// Keeps the handle and chains `.finally(() => clearTimeout(timer))` onto what settles when the
/// deadline is no longer needed: the `Promise.race(…)` the timer's promise takes part in, or —
/// for a hand-written race inside a `new Promise` executor — that `new Promise(…)` itself,
/// which settles however the race ends. A handle the executor declares (or a discarded one)
/// is hoisted to a `let` before the statement holding the race. Unsafe: the deadline no longer
/// fires after the race settles.
fn ts_fix(ctx: &FileCtx, e: &Event, place: &Place, d: &Deadline) -> Option<Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let race_of = |p: &Place| {
        facts.events_on(p).find_map(|r| match &r.kind {
            EventKind::Raced { call, .. } => Some((call.clone(), r.scope)),
            _ => None,
        })
    };
    // What the clear is chained onto, and the statement a hoisted handle is declared before.
    // `can_hoist`: `stmt` is a statement a declaration can go before.
    let (target, stmt, can_hoist) = if let Some((call, stmt)) = &d.race_call {
        (call.clone(), stmt.clone(), true)
    } else if let Some((call, race_scope)) =
        d.promise.as_ref().and_then(|p| race_of(&facts.resolve(p)))
    {
        // The promise is raced through a variable: declare the handle before the
        // `new Promise`, which must be in reach of the race.
        match &d.executor {
            Some((_, stmt))
                if facts.is_within(race_scope, scope_holding(facts, e.scope, stmt)?) =>
            {
                (call, stmt.clone(), true)
            }
            _ if matches!(place, Place::Binding(_) | Place::Field { .. }) => {
                let at = call.clone();
                (call, at, false)
            }
            _ => return None,
        }
    } else if d.manual_race || d.timeout_helper {
        let (call, stmt) = d.executor.clone()?;
        (call, stmt, true)
    } else {
        return None;
    };
    let outer = scope_holding(facts, e.scope, &stmt);
    let typed = is_typescript(ctx.path);
    let decl = |kw: &str, name: &str| {
        if typed {
            format!("{kw} {name}: ReturnType<typeof setTimeout> | undefined;")
        } else {
            format!("{kw} {name};")
        }
    };
    let mut edits = Vec::new();
    let name = match place {
        Place::Discarded => {
            if !starts_expression(src, e) {
                return None;
            }
            let owner = named_owner(facts, outer.unwrap_or(e.scope));
            let name = unique_name("timer", |n| name_taken_near(facts, owner, n));
            edits.push(insert_before_statement(
                src,
                stmt.start,
                &[decl("let", &name)],
            ));
            edits.push(insert(e.span.start, format!("{name} = ")));
            name
        }
        Place::Binding(b) => {
            let binding = &facts.bindings[*b];
            let name = binding.name.clone();
            let visible = outer.is_some_and(|o| facts.is_within(o, binding.scope));
            if !visible {
                // Declared inside the executor: hoist the declaration.
                let outer = outer.filter(|_| can_hoist)?;
                let clash = facts.lookup(&name, outer).is_some()
                    || facts
                        .bindings
                        .iter()
                        .any(|x| x.name == name && x.scope == outer);
                if clash {
                    return None;
                }
                edits.push(unhoisted_declaration(src, e, &binding.span, &name)?);
                // Keep the code's own style: a `var` stays a `var`.
                let line = &src[line_start(src, binding.span.start)..binding.span.start];
                let kw = if line.trim_start().starts_with("var ") {
                    "var"
                } else {
                    "let"
                };
                edits.push(insert_before_statement(src, stmt.start, &[decl(kw, &name)]));
            }
            name
        }
        Place::Field { .. } if d.race_call.is_some() || d.executor.is_none() => {
            place_text(facts, place)
        }
        _ => return None,
    };
    edits.push(insert(
        target.end,
        format!(".finally(() => clearTimeout({name}))"),
    ));
    let on_executor = d.executor.as_ref().is_some_and(|(x, _)| *x == target);
    let what = if on_executor {
        "the promise"
    } else {
        "the race"
    };
    Some(fix(
        format!("clear `{name}` when {what} settles (`.finally`)"),
        Applicability::Unsafe,
        edits,
    ))
}

/// The innermost scope around the timer's scope that holds statement `stmt` whole.
fn scope_holding(facts: &FileFacts, from: ScopeId, stmt: &Range<usize>) -> Option<ScopeId> {
    facts.ancestors(from).find(|&s| {
        let span = &facts.scopes[s].span;
        span.start <= stmt.start && stmt.end <= span.end && *span != *stmt
    })
}

/// The timer call can take an assignment in front of it: it starts its statement, or it is
/// the expression body of an arrow (`(_, reject) => setTimeout(reject, ms)`).
fn starts_expression(src: &str, e: &Event) -> bool {
    e.stmt.start == e.span.start || src[..e.span.start].trim_end().ends_with("=>")
}

/// The edit that turns the executor's own declaration of handle `name` into an assignment to
/// the hoisted one: `const t = setTimeout(…)` → `t = setTimeout(…)`, or a bare `let t;` line
/// removed. `None` for any other declaration form.
fn unhoisted_declaration(
    src: &str,
    e: &Event,
    decl: &Range<usize>,
    name: &str,
) -> Option<crate::diagnostic::Edit> {
    use super::fixes::*;
    let head = &src[e.stmt.start..e.span.start];
    if e.stmt.start <= decl.start && decl.end <= e.span.start {
        let rest = head
            .strip_prefix("const ")
            .or_else(|| head.strip_prefix("let "))
            .or_else(|| head.strip_prefix("var "))?
            .trim_start();
        let after = rest.strip_prefix(name)?.trim_start();
        let after = match after.strip_prefix(':') {
            Some(ty) => &ty[ty.find('=')?..],
            None => after,
        };
        if after.trim_end() != "=" {
            return None;
        }
        return Some(replace(e.stmt.start..e.span.start, format!("{name} = ")));
    }
    // A bare `let t;` (or `let t: T;`) on a line of its own.
    let from = line_start(src, decl.start);
    let to = src[decl.start..]
        .find('\n')
        .map_or(src.len(), |i| decl.start + i + 1);
    let line = src[from..to].trim();
    let bare = line
        .strip_prefix("let ")
        .or_else(|| line.strip_prefix("var "))
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix(name))
        .and_then(|r| r.strip_suffix(';'))
        .is_some_and(|r| r.trim().is_empty() || r.trim_start().starts_with(':'));
    bare.then(|| replace(from..to, ""))
}

/// The timer's promise takes part in a race: lexically inside `Promise.race`, a manual race,
/// a helper named like a timeout, or the promise (a variable or a helper's return) is raced.
fn is_raced(facts: &FileFacts, d: &Deadline) -> bool {
    if d.in_race || d.manual_race || d.timeout_helper || d.rejects_work {
        return true;
    }
    let Some(promise) = &d.promise else {
        return false;
    };
    match facts.resolve(promise) {
        Place::Returned(s) => {
            let Some(name) = facts.scopes[s].name.as_deref() else {
                return false;
            };
            facts
                .events
                .iter()
                .any(|e| matches!(&e.kind, EventKind::RacedCall { callee } if callee == name))
        }
        p @ (Place::Binding(_) | Place::Field { .. }) => facts
            .events_on(&p)
            .any(|e| matches!(e.kind, EventKind::Raced { .. })),
        _ => false,
    }
}

/// In a hand-written race (`new Promise((resolve, reject) => …)`), the places where the
/// executor settles the promise some other way than the deadline timer `timer` without
/// clearing it. A settle (`resolve`/`reject`) is covered by a clear of the handle, or a call of
/// a function that clears it: before it in its own function or an enclosing one inside the
/// executor, or after it in its own function with no `return`/`throw` in between
/// (`reject(err); finalize();`). A settle inside a named helper (`abort()`) is covered when
/// every call of the helper is. Settles in the timer's own callback, and those that run before
/// the timer exists, do not count. When only the timer rejects (a lock waiter), the resolve
/// that clears first covers the other path.
fn open_settles(facts: &FileFacts, timer: &Event, clears: &[&Event]) -> Vec<Range<usize>> {
    let callback = match &timer.kind {
        EventKind::Timer(t) => t.callback,
        _ => None,
    };
    open_settles_around(facts, timer, callback, clears)
}

/// [`open_settles`] for any acquisition `anchor` in a promise executor that `releases` undo
/// (a timer's clears, a listener's removals), its own callback `callback` excluded: the
/// settles of the executor that run after `anchor` with no release on their way.
pub(super) fn open_settles_around(
    facts: &FileFacts,
    anchor: &Event,
    callback: Option<ScopeId>,
    releases: &[&Event],
) -> Vec<Range<usize>> {
    let Some(executor) = facts.ancestors(anchor.scope).find(|&s| {
        matches!(
            &facts.scopes[s].kind,
            ScopeKind::Callback(r) if r.kind == crate::facts::CallbackKind::PromiseExecutor
        )
    }) else {
        return Vec::new();
    };
    let race = Race {
        facts,
        executor,
        timer: anchor,
        clears: releases,
        callback,
        clearing: clearing_functions(facts, executor, releases),
    };
    facts
        .events
        .iter()
        .filter(|x| matches!(x.kind, EventKind::SettlesOtherwise { .. }))
        .filter(|x| race.counts(x))
        .filter(|x| !race.covered(x, 0))
        .map(|x| x.span.clone())
        .collect()
}

/// The names of functions whose run clears the handle: a function in the executor whose
/// body clears it (`const done = () => { clearTimeout(t); … }`), a method of the file that
/// clears it in its own body (`_onConnect() { clearTimeout(this.connectTimer); … }`), and,
/// to a fixpoint, those that call one of them (`finish = async (settle) => { await
/// cleanup(); settle(); }`): a settle reached through such a call, or after it, is covered.
fn clearing_functions<'a>(
    facts: &'a FileFacts,
    executor: ScopeId,
    clears: &[&Event],
) -> Vec<&'a str> {
    // The named functions a scope runs in: those inside the executor around it, or the method
    // whose own body it is.
    let names_of = |scope: ScopeId| -> Vec<&'a str> {
        let method = matches!(facts.scopes[scope].kind, ScopeKind::Method { .. });
        facts
            .ancestors(scope)
            .filter(|&s| s != executor && facts.is_within(s, executor))
            .chain(method.then_some(scope))
            .filter_map(|s| facts.scopes[s].name.as_deref())
            .collect()
    };
    let seeds: Vec<&'a str> = clears.iter().flat_map(|c| names_of(c.scope)).collect();
    facts.helpers_reaching(seeds, names_of, 4)
}

/// A hand-written race around one deadline timer, for [`open_settles`].
struct Race<'a> {
    facts: &'a FileFacts,
    executor: ScopeId,
    timer: &'a Event,
    clears: &'a [&'a Event],
    callback: Option<ScopeId>,
    clearing: Vec<&'a str>,
}

impl Race<'_> {
    /// `x` is in the executor, outside the timer's callback, and can run after the timer is
    /// set (not earlier in the function that sets it, or in one enclosing it).
    fn counts(&self, x: &Event) -> bool {
        let f = self.facts;
        let before_timer =
            f.is_within(self.timer.scope, x.scope) && x.span.end <= self.timer.span.start;
        // The other arm of the `if … else` that arms the timer: never in the same run.
        if before_timer || f.exclusive(&self.timer.span, &x.span) {
            return false;
        }
        f.is_within(x.scope, self.executor)
            && !self.callback.is_some_and(|cb| f.is_within(x.scope, cb))
    }

    /// The function scopes from `s` up to (not including) the executor, or the executor itself.
    fn reach(&self, s: ScopeId) -> Vec<ScopeId> {
        if s == self.executor {
            return vec![s];
        }
        self.facts
            .ancestors(s)
            .take_while(|&a| a != self.executor)
            .collect()
    }

    fn clears_here(&self, y: &Event) -> bool {
        self.clears.iter().any(|c| std::ptr::eq(*c, y))
            || y.called_name().is_some_and(|n| self.clearing.contains(&n))
    }

    /// Whether the timer is cleared on the way through `x` (a settle, or a call of a helper
    /// that settles).
    fn covered(&self, x: &Event, depth: u32) -> bool {
        let f = self.facts;
        let scopes = self.reach(x.scope);
        let exits_between = |y: &Event| {
            f.events.iter().any(|z| {
                matches!(z.kind, EventKind::Exit { .. })
                    && z.scope == x.scope
                    && z.span.end > x.span.start
                    && z.span.start < y.span.start
            })
        };
        let cleared = f.events.iter().any(|y| {
            self.clears_here(y)
                && scopes.contains(&y.scope)
                && (y.span.start < x.span.start || (y.scope == x.scope && !exits_between(y)))
        });
        if cleared {
            return true;
        }
        // A settle inside a named helper: covered when every call of the helper is.
        let helper = &f.scopes[x.scope];
        if depth > 2 || !matches!(helper.kind, ScopeKind::Function) {
            return false;
        }
        let Some(name) = helper.name.as_deref() else {
            return false;
        };
        // Its calls that run after the acquisition, outside the callback, must all be covered;
        // a helper called only before it or from the callback settles nothing else.
        let calls: Vec<&Event> = f
            .events
            .iter()
            .filter(|c| {
                matches!(&c.kind, EventKind::Call { callee: PlaceRef::Name { name: n, .. } } if n == name)
            })
            .collect();
        !calls.is_empty()
            && calls
                .iter()
                .all(|c| !self.counts(c) || self.covered(c, depth + 1))
    }
}

/// The awaited promise cannot reject: it is `new Promise(executor)` whose executor takes only
/// `resolve` (`(r) => proc.on('exit', r)`), written in place or assigned to what is awaited
/// (`this.waitForExit = new Promise((r) => …)`, every assignment of it in the file).
fn resolve_only(src: &str, await_span: std::ops::Range<usize>) -> bool {
    let Some(text) = src.get(await_span) else {
        return false;
    };
    let awaited = text.trim_start_matches("await").trim();
    let one_param_executor = |rest: &str| {
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("function").unwrap_or(rest).trim_start();
        let params = if let Some(inner) = rest.strip_prefix('(') {
            inner.split(')').next().unwrap_or(",")
        } else {
            rest.split("=>").next().unwrap_or(",")
        };
        let params = params.trim();
        !params.is_empty()
            && !params.contains(',')
            && params
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    if let Some(rest) = awaited.strip_prefix("new Promise(") {
        return one_param_executor(rest);
    }
    // A helper of the file that returns such a promise (`onExitOnce(child)`: `function
    // onExitOnce(child) { return new Promise(resolve => child.once('exit', resolve)); }`).
    let helper_call = |call: &str| {
        call.split_once('(').is_some_and(|(name, _)| {
            let name = name.trim();
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                && returns_resolve_only(src, name, &one_param_executor)
        })
    };
    if helper_call(awaited) {
        return true;
    }
    let simple = !awaited.is_empty()
        && awaited
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'));
    if !simple {
        return false;
    }
    let pattern = format!("{awaited} = ");
    let mut assignments = src.match_indices(&pattern).peekable();
    assignments.peek().is_some()
        && assignments.all(|(i, _)| {
            let before = src[..i].chars().next_back();
            let whole =
                before.is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '$' | '.')));
            let value = &src[i + pattern.len()..];
            !whole
                || value
                    .strip_prefix("new Promise(")
                    .is_some_and(one_param_executor)
                || helper_call(value.split([';', '\n']).next().unwrap_or(""))
        })
}

/// The file declares `function name(…) { return new Promise(executor) … }` (or `const name =
/// (…) => new Promise(executor)`) and `executor` is one `executor_ok` accepts.
fn returns_resolve_only(src: &str, name: &str, executor_ok: &dyn Fn(&str) -> bool) -> bool {
    let declared = |at: usize| {
        src[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'))
    };
    let function = format!("function {name}");
    let by_function = src.match_indices(&function).any(|(i, _)| {
        let rest = &src[i + function.len()..];
        declared(i)
            && rest.trim_start().starts_with('(')
            && rest.split_once('{').is_some_and(|(_, body)| {
                body.trim_start()
                    .strip_prefix("return new Promise(")
                    .is_some_and(executor_ok)
            })
    });
    let arrow = format!("const {name} = ");
    by_function
        || src.match_indices(&arrow).any(|(i, _)| {
            declared(i)
                && src[i + arrow.len()..]
                    .split_once("=>")
                    .is_some_and(|(_, body)| {
                        body.trim_start()
                            .strip_prefix("new Promise(")
                            .is_some_and(executor_ok)
                    })
        })
}

/// A watchdog armed across an `await` (TypeScript): `const t = setTimeout(…)`, then
/// `await work`, then `clearTimeout(t)` on the fulfilled path only — no `finally`, no clear in
/// a `catch`. When the awaited work rejects, the clear is skipped and the timer still fires
/// (a reconnect, a kill) on work that is already over.
fn watchdog(ctx: &FileCtx, e: &Event, handle: &PlaceRef) -> Option<Diagnostic> {
    let facts = ctx.facts;
    let place = facts.resolve(handle);
    let Place::Binding(b) = place else {
        return None;
    };
    if facts.is_module_binding(b) {
        return None;
    }
    let clears: Vec<&Event> = flow_closure(facts, &place)
        .iter()
        .flat_map(|h| facts.events_on(h))
        .filter(|c| matches!(c.kind, EventKind::ClearTimer { .. }))
        .collect();
    // Every clear in the timer's own function, on its straight-line path.
    if clears.is_empty()
        || clears
            .iter()
            .any(|c| c.scope != e.scope || matches!(c.path, PathKind::Finally | PathKind::Rejected))
    {
        return None;
    }
    // An `await` between the timer and the first clear, at the same `try` level (an await in
    // a `try` whose `catch` falls through to a clear after it is covered).
    let first = clears.iter().map(|c| c.span.start).min()?;
    let awaited = facts.events.iter().any(|a| {
        matches!(a.kind, EventKind::Await)
            && a.scope == e.scope
            && e.span.end <= a.span.start
            && a.span.start < first
            && clears.iter().all(|c| c.path == a.path)
            && !resolve_only(ctx.source, a.span.clone())
    });
    // A `return` between the timer and the clear leaves it armed on purpose: the timer is
    // meant to fire on every way out but success (a handshake deadline that closes the session).
    let exits = facts.events.iter().any(|z| {
        matches!(z.kind, EventKind::Exit { .. })
            && z.scope == e.scope
            && e.span.end <= z.span.start
            && z.span.start < first
    });
    if !awaited || exits {
        return None;
    }
    let name = place_text(facts, &place);
    let mut diag = META
        .report(
            ctx.path.to_path_buf(),
            e.span.clone(),
            format!(
                "watchdog timer armed across an `await`: `{name}` is cleared only after the awaited \
                 work succeeds; when it rejects the clear is skipped and the timer still fires, \
                 keeping its callback and everything it captures alive until then"
            ),
        )
        .with_help(
            "clear the timer in a `finally` block around the `await` (declare the handle before the \
             `try`), so it is cleared however the work ends",
        );
    for c in clears {
        diag = diag.with_label(
            c.span.clone(),
            "cleared only when the awaited work succeeds; a rejection skips this".to_string(),
        );
    }
    // The fix: everything after the timer in its function goes in a `try` whose `finally`
    // clears it (the straight-line clear stays; clearing twice is harmless).
    if let Some(body) = facts.scopes[e.scope].body.as_ref()
        && let Some(edit) = super::fixes::wrap_rest_in_finally(
            ctx.source,
            &e.stmt,
            body,
            &[format!("clearTimeout({name});")],
            &super::fixes::indent_unit(ctx.source, 2),
        )
    {
        diag.fixes.push(super::fixes::fix(
            format!("clear `{name}` in a `finally` around the rest of the function"),
            Applicability::Unsafe,
            vec![edit],
        ));
    }
    Some(diag)
}

/// Outcomes of an operation on an object: it succeeded (a socket connected, a request got its
/// response) or it failed.
const SUCCESS_EVENTS: &[&str] = &[
    "connect",
    "secureConnect",
    "open",
    "ready",
    "response",
    "upgrade",
];
const FAILURE_EVENTS: &[&str] = &["error", "close", "timeout", "abort"];

/// The timer is a deadline on one operation of an object and is cleared in that object's
/// handlers of both outcomes — a success (`'connect'`) and a failure (`'error'`), directly or in
/// the methods registered as those handlers (`socket.on('connect',
/// self.onSocketConnected.bind(self))`). Its life is bounded by the operation plus the deadline,
/// whatever the owner does: a teardown during the operation ends it with one of the outcomes or
/// leaves the deadline to abort it, which is the timer's job.
fn cleared_at_every_outcome(facts: &FileFacts, class: ClassId, clears: &[&Event]) -> bool {
    let mut outcomes: Vec<(Option<Place>, &str)> = Vec::new();
    for c in clears {
        // The clear's own function: a handler, or a method registered as one.
        match &facts.scopes[c.scope].kind {
            ScopeKind::Callback(r) => {
                if let Some(ev) = r.event.as_deref() {
                    outcomes.push((r.target.as_ref().map(|t| facts.resolve(t)), ev));
                }
            }
            ScopeKind::Method { .. } => {
                let Some(name) = facts.scopes[c.scope].name.as_deref() else {
                    continue;
                };
                let method = Place::Field {
                    class,
                    name: name.to_string(),
                };
                for u in &facts.events {
                    if let EventKind::PassedAsCallback { func, registrar } = &u.kind
                        && let Some(ev) = registrar.event.as_deref()
                        && facts.resolve(func) == method
                    {
                        let target = registrar.target.as_ref().map(|t| facts.resolve(t));
                        outcomes.push((target, ev));
                    }
                }
            }
            _ => {}
        }
    }
    outcomes.iter().any(|(t, ok)| {
        t.is_some()
            && SUCCESS_EVENTS.contains(ok)
            && outcomes
                .iter()
                .any(|(u, bad)| u == t && FAILURE_EVENTS.contains(bad))
    })
}

/// A `setTimeout` kept in a field of a class that clears it somewhere — a timer meant to be
/// cancelled (TypeScript). Reported when it is re-armed by a method that can run again without
/// clearing (or checking) the timer already in the field, which can then never be cleared; or
/// when the class has a teardown and none clears it, so a torn-down instance keeps a pending
/// timer that fires on it.
fn field_timer(ctx: &FileCtx, e: &Event) -> Option<Diagnostic> {
    let facts = ctx.facts;
    let EventKind::Timer(timer) = &e.kind else {
        return None;
    };
    let TimerFacts {
        handle,
        reschedules: None,
        guarded: false,
        ..
    } = &**timer
    else {
        return None;
    };
    let place = facts.resolve(handle);
    let Place::Field { class, name } = &place else {
        return None;
    };
    let clears: Vec<&Event> = facts
        .events_on(&place)
        .filter(|c| matches!(c.kind, EventKind::ClearTimer { .. }))
        .collect();
    if clears.is_empty() {
        return None;
    }
    let method = facts.enclosing_method(e.scope)?;
    let ctor = matches!(
        facts.scopes[method].kind,
        ScopeKind::Method {
            constructor: true,
            ..
        }
    );
    let kw = self_kw(facts);
    let class_name = facts.classes[*class].name.as_deref().unwrap_or("the class");
    if !ctor
        && !facts.latched(e)
        && let Some(why) = rearmed(facts, e, method, &place, &clears)
    {
        let m = facts.scopes[method].name.as_deref().unwrap_or("the method");
        let held = super::member(kw, name);
        return Some(
            META.report(
                ctx.path.to_path_buf(),
                e.span.clone(),
                format!(
                    "timer re-armed without clearing the previous one: `{m}()` {why} and stores a \
                     new timer in `{held}` without clearing the one already there; that earlier \
                     timer can no longer be cleared and keeps its callback (and the `{class_name}`) \
                     alive until it fires"
                ),
            )
            .with_help(format!(
                "clear the pending timer before arming a new one: \
                 `if ({held}) clearTimeout({held});` (or return early when one is pending)"
            ))
            .with_fixes(rearm_fix(ctx, e, &held, m)),
        );
    }
    if class_teardowns(facts, *class, ctx.options).is_empty()
        || cleared_at_every_outcome(facts, *class, &clears)
    {
        return None;
    }
    let Verdict::Leaked { labels, .. } = judge_timer(ctx, e, handle) else {
        return None;
    };
    let (held, this_name) = (super::member(kw, name), super::member("this", name));
    let mut diag = META
        .report(
            ctx.path.to_path_buf(),
            e.span.clone(),
            format!(
                "timer not cleared on teardown: `{held}` is cleared on one path, but no teardown \
                 of `{class_name}` clears it; an instance torn down before it fires keeps it pending, \
                 and it fires on the torn-down object holding everything its callback captured"
            ),
        )
        .with_help(format!(
            "clear it in the teardown as well: `clearTimeout({held})` in `close()`/`destroy()`"
        ));
    // `this` in the class's own methods (an ES5 alias is for nested functions only).
    if let Some(c) =
        super::fixes::cleanup_in_class(ctx, *class, &[format!("clearTimeout({this_name});")])
    {
        diag = diag.with_fixes(Some(super::fixes::fix(
            format!("clear `{this_name}` {}", c.where_),
            // Unsafe: a callback that used to run after the teardown no longer does.
            Applicability::Unsafe,
            c.edits,
        )));
    }
    for (r, m) in labels {
        diag = diag.with_label(r, m);
    }
    Some(diag)
}

/// Why the method `method` arming timer `e` on field `place` can replace a pending timer: it
/// can run more than once, runs outside the timer's own callback, and neither clears the field
/// (nor calls a method that does) before arming it. `None` when it cannot.
fn rearmed(
    facts: &FileFacts,
    e: &Event,
    method: ScopeId,
    place: &Place,
    clears: &[&Event],
) -> Option<&'static str> {
    // A public teardown (`terminate()`, `close()`, `destroy()`): callers call it again (a
    // second close, a terminate after a close), and each call must not leave a timer behind.
    // Other methods are judged by their callers, which usually check first (not followed).
    let first = facts.scopes[method]
        .name
        .as_deref()
        .and_then(|n| crate::facts::words(n).next());
    if !first.is_some_and(|w| crate::facts::ends_a_life(&w)) {
        return None;
    }
    let why = match facts.lifetime(method) {
        crate::facts::Lifetime::Once | crate::facts::Lifetime::PerInstance => return None,
        _ => "is a teardown its callers can call again",
    };
    // Re-armed from the callback of a timer on the same field: that one has fired.
    let in_own_callback = facts.events_on(place).any(|t| match &t.kind {
        EventKind::Timer(t) => t.callback.is_some_and(|cb| facts.is_within(e.scope, cb)),
        _ => false,
    });
    if in_own_callback {
        return None;
    }
    // Before the timer in the method, on the way to it: not followed by a `return`/`throw`
    // in its own function before the timer (`catch (e) { cleanup(); return; }`).
    let in_method = |y: &Event| {
        facts.is_within(y.scope, method)
            && y.span.start < e.span.start
            && !facts.events.iter().any(|z| {
                matches!(z.kind, EventKind::Exit { .. })
                    && z.scope == y.scope
                    && y.span.end <= z.span.start
                    && z.span.start < e.span.start
            })
    };
    if clears.iter().any(|c| in_method(c)) {
        return None;
    }
    // A call of a method or function that clears the field (`this.stopTimer()`).
    let clearing: Vec<&str> = clears
        .iter()
        .filter_map(|c| facts.enclosing_method(c.scope).or(Some(c.scope)))
        .filter_map(|s| facts.scopes[s].name.as_deref())
        .collect();
    let calls_clearing = facts.events.iter().any(|y| {
        in_method(y)
            && matches!(&y.kind, EventKind::Call {
                callee: PlaceRef::Name { name, .. } | PlaceRef::Field { name, .. },
            } if clearing.contains(&name.as_str()))
    });
    // A check of the field before arming (`if (this.t) return;`).
    let name = match place {
        Place::Field { name, .. } => name.as_str(),
        _ => return None,
    };
    let checked = facts.scopes[method]
        .early_return_guards
        .iter()
        .any(|g| crate::facts::mentions(g, &format!("{}.{name}", self_kw(facts))));
    (!calls_clearing && !checked).then_some(why)
}

/// `clearTimeout(<field>);` before the statement that re-arms the timer in `method`. Unsafe: the
/// earlier timer's callback no longer runs (the new one runs later instead).
fn rearm_fix(ctx: &FileCtx, e: &Event, field: &str, method: &str) -> Option<Fix> {
    use super::fixes::*;
    if !ctx.source[e.stmt.clone()].trim_start().starts_with(field) {
        return None;
    }
    Some(fix(
        format!("clear the pending `{field}` before re-arming it in `{method}()`"),
        Applicability::Unsafe,
        vec![insert_before_statement(
            ctx.source,
            e.stmt.start,
            &[format!("clearTimeout({field});")],
        )],
    ))
}
