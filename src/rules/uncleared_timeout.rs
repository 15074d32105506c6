//! uncleared-timeout: a `setTimeout` used as a deadline (raced against work) that is not
//! cleared on every exit path, so it keeps its closure alive until it fires.

use super::*;
use crate::diagnostic::{Applicability, Fix};
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
        let facts = ctx.facts;
        let mut out = Vec::new();
        for e in &facts.events {
            if ctx.out_of_time() {
                break; // the engine reports the time-out
            }
            let EventKind::Timer {
                repeat: false,
                handle,
                deadline: Some(d),
                ..
            } = &e.kind
            else {
                continue;
            };
            if !is_raced(facts, d) {
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
                    if finally
                        || (rejected && fulfilled)
                        || (fulfilled && d.manual_race && !work_can_reject(facts, e))
                    {
                        continue;
                    }
                    let name = place_text(facts, &place);
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
            } else if let Some(f) = ts_fix(ctx, e, &place, d) {
                diag.fixes.push(f);
            }
            out.push(diag);
        }
        out
    }
}

/// Keeps the handle (declaring `let timer` before the race when it was discarded) and chains
/// `.finally(() => clearTimeout(timer))` onto the `Promise.race(…)`, which clears it however
/// the race settles. Unsafe: the deadline no longer fires after the race.
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
    let (call, mut edits, name) = match place {
        Place::Discarded => {
            let (call, race_stmt) = d.race_call.clone()?;
            if e.stmt.start != e.span.start {
                return None;
            }
            let owner = named_owner(facts, e.scope);
            let name = unique_name("timer", |n| name_taken_near(facts, owner, n));
            let decl = if is_typescript(ctx.path) {
                format!("let {name}: ReturnType<typeof setTimeout> | undefined;")
            } else {
                format!("let {name};")
            };
            let edits = vec![
                insert_before_statement(src, race_stmt.start, &[decl]),
                insert(e.span.start, format!("{name} = ")),
            ];
            (call, edits, name)
        }
        Place::Binding(_) | Place::Field { .. } => {
            let name = place_text(facts, place);
            let call = match &d.race_call {
                Some((call, _)) => call.clone(),
                None => {
                    let promise = facts.resolve(d.promise.as_ref()?);
                    let (call, scope) = race_of(&promise)?;
                    // The handle must be in reach where the race is.
                    if let Place::Binding(b) = place
                        && !facts.is_within(scope, facts.bindings[*b].scope)
                    {
                        return None;
                    }
                    call
                }
            };
            (call, Vec::new(), name)
        }
        _ => return None,
    };
    edits.push(insert(
        call.end,
        format!(".finally(() => clearTimeout({name}))"),
    ));
    Some(fix(
        format!("clear `{name}` when the race settles (`.finally`)"),
        Applicability::Unsafe,
        edits,
    ))
}

/// The timer's promise takes part in a race: lexically inside `Promise.race`, a manual race,
/// a helper named like a timeout, or the promise (a variable or a helper's return) is raced.
fn is_raced(facts: &FileFacts, d: &Deadline) -> bool {
    if d.in_race || d.manual_race || d.timeout_helper {
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

/// In a hand-written race (`new Promise((resolve, reject) => …)`), whether anything besides
/// the timer can reject: `reject` used outside the timer's callback. When only the timer
/// rejects, the other way out is success, and a clear there covers every path on which the
/// timer is still pending (a lock's waiter that clears its timeout when it gets the lock).
fn work_can_reject(facts: &FileFacts, timer: &Event) -> bool {
    let Some(executor) = facts.ancestors(timer.scope).find(|&s| {
        matches!(
            &facts.scopes[s].kind,
            ScopeKind::Callback(r) if r.kind == crate::facts::CallbackKind::PromiseExecutor
        )
    }) else {
        return true;
    };
    let span = &facts.scopes[executor].span;
    facts.events.iter().any(|x| {
        matches!(x.kind, EventKind::SettlesOtherwise { reject: true })
            && span.start <= x.span.start
            && x.span.end <= span.end
    })
}
