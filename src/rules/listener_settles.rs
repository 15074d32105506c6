//! An `'abort'` listener (or a `subscribe(fn)` on a cancel token) that a promise executor adds
//! to a caller's signal and removes on some of the ways its promise settles but not on others (axios' request adapter: removed in
//! `done()`, which the load path runs and the error, abort and time-out paths do not). The
//! removal says the signal outlives the request; every settle must run it.

use super::*;
use crate::facts::{CallbackKind, Event, Handler, ListenFacts};

/// The finding for registration `e` (`l`, on `target`) when the executor around it removes the
/// listener on some settles but not all: `None` when it is not in an executor, nothing in the
/// executor removes it, or every settle after it removes it first.
pub(super) fn removed_on_some_settles(
    ctx: &FileCtx,
    meta: &'static RuleMeta,
    e: &Event,
    l: &ListenFacts,
    target: &Place,
) -> Option<Diagnostic> {
    let facts = ctx.facts;
    // An `'abort'` listener: on an `AbortSignal` the caller hands in, which may serve many
    // operations (Node warns at 11 listeners). A listener on an object the operation made
    // itself (its request, its response) goes with it, removed or not.
    // Or a `subscribe(fn)` on a token the caller hands in (axios' `CancelToken`), paired with
    // `unsubscribe(fn)`: the same kind of shared cancellation source.
    if facts.is_rust
        || l.once
        || !(l.event.as_deref() == Some("abort") || (l.method == "subscribe" && l.event.is_none()))
    {
        return None;
    }
    let executor = facts.ancestors(e.scope).find(|&s| {
        matches!(&facts.scopes[s].kind,
            ScopeKind::Callback(r) if r.kind == CallbackKind::PromiseExecutor)
    })?;
    let removals: Vec<&Event> = facts
        .events_on(target)
        .filter(|r| {
            facts.is_within(r.scope, executor)
                && matches!(&r.kind, EventKind::Unlisten(u)
                    if super::unremoved_listener::same_event(&l.event, &u.event)
                        && super::unremoved_listener::same_handler(facts, &l.handler, &u.handler))
        })
        .collect();
    if removals.is_empty() {
        return None;
    }
    // What the handler itself settles is the event it waits for: not another way out.
    let handler = match &l.handler {
        Handler::Inline(h) => Some(*h),
        Handler::Named(p) => match facts.resolve(p) {
            Place::Binding(b) => {
                let name = &facts.bindings[b].name;
                (0..facts.scopes.len()).find(|&s| {
                    facts.scopes[s].name.as_deref() == Some(name.as_str())
                        && facts.is_within(s, executor)
                })
            }
            _ => None,
        },
        _ => None,
    };
    let open = super::uncleared_timeout::open_settles_around(facts, e, handler, &removals);
    if open.is_empty() {
        return None;
    }
    let t = place_text(facts, target);
    let what = match (&l.event, l.method.as_str()) {
        (Some(ev), _) => format!("listener for '{ev}'"),
        (None, "subscribe") => "subscription".to_string(),
        (None, _) => "listener for an event".to_string(),
    };
    let mut d = meta
        .report(
            ctx.path.to_path_buf(),
            e.span.clone(),
            format!(
                "{what} on `{t}` is removed on some of the ways the promise settles but \
                 not on others: the code removes it, so `{t}` outlives the operation, and each \
                 settle that skips the removal leaves one more listener and its closure on it"
            ),
        )
        .with_help(format!(
            "run the removal on every way out: call it before each `resolve`/`reject` (or once in \
             a `finally` of the promise), so `{t}` keeps no listener of a finished operation"
        ));
    let fix = run_helper_on_open_settles(ctx, executor, &removals, &open);
    for r in &removals {
        d = d.with_label(r.span.clone(), "removed here, on some paths only");
    }
    for o in open {
        d = d.with_label(o, "settles the promise without removing the listener");
    }
    Some(d.with_fixes(fix))
}

/// When the removal sits in a function the executor declares (`function done() { …
/// signal.removeEventListener('abort', onCanceled) }`), call it right after each settle
/// statement that skips it (`reject(err);` → `reject(err);` `done();`). Unsafe: the helper's
/// other clean-up now runs on those paths too.
fn run_helper_on_open_settles(
    ctx: &FileCtx,
    executor: ScopeId,
    removals: &[&Event],
    open: &[std::ops::Range<usize>],
) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let helper = removals.iter().find_map(|r| {
        let sc = &facts.scopes[r.scope];
        (sc.kind == ScopeKind::Function && sc.parent == Some(executor))
            .then_some(sc.name.as_deref())
            .flatten()
    })?;
    let mut edits = Vec::new();
    for o in open {
        let x = facts
            .events
            .iter()
            .find(|x| matches!(x.kind, EventKind::SettlesOtherwise { .. }) && x.span == *o)?;
        let stmt = src.get(x.stmt.clone())?;
        if !(stmt.starts_with("reject(") || stmt.starts_with("resolve(")) {
            return None;
        }
        edits.push(insert_after_statement(
            src,
            x.stmt.start,
            x.stmt.end,
            &[format!("{helper}();")],
        ));
    }
    Some(fix(
        format!("call `{helper}()` on every way the promise settles"),
        crate::diagnostic::Applicability::Unsafe,
        edits,
    ))
}
