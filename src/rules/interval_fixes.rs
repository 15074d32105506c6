//! orphaned-interval fixes for the TypeScript shapes the rule's own builder leaves (see
//! `orphaned_interval::ts_fix`): a timer started per connection, cleared in that connection's
//! close handler; a module function's `setTimeout` loop, given a stop flag and an exported stop.

use super::FileCtx;
use super::fixes::*;
use super::listener_fixes::at_owner_end;
use super::listener_scopes::has_word;
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{Event, EventKind, Place, PlaceRef, ScopeKind};

/// The fix for timer `e` (its handle at `handle`) that `orphaned_interval::ts_fix` has none for.
pub fn ts_fix(ctx: &FileCtx, e: &Event, handle: &PlaceRef, repeat: bool) -> Option<Fix> {
    let EventKind::Timer(t) = &e.kind else {
        return None;
    };
    match t.reschedules {
        Some(f) if !repeat => loop_fix(ctx, e, handle, f),
        _ => per_connection_fix(ctx, e, handle, repeat)
            .or_else(|| local_in_method_fix(ctx, e, handle, repeat))
            .or_else(|| stopper_fix(ctx, e, handle, repeat)),
    }
}

/// The handle kept only in a local of the method that starts the timer (`const timer =
/// setInterval(check, ms); timer.unref();` in `healthCheck()`): also kept in a field right
/// after (`this.healthCheckTimer = timer;`) and cleared in the class's teardown. A method that
/// can run more than once clears the field's previous timer first. Unsafe: the timer now stops.
fn local_in_method_fix(ctx: &FileCtx, e: &Event, handle: &PlaceRef, repeat: bool) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let Place::Binding(b) = facts.resolve(handle) else {
        return None;
    };
    let binding = &facts.bindings[b];
    let method = facts.enclosing_method(e.scope)?;
    let class = facts.scopes[method].class?;
    if binding.scope != e.scope || method != e.scope || e.in_loop || e.conditional {
        return None;
    }
    let body = facts.scopes[method].body.clone()?;
    // `const timer = setInterval(…);` directly in the method's body.
    let stmt = src.get(e.stmt.clone())?.trim_start();
    if !directly_in(src, &body, e.stmt.start)
        || !(stmt.starts_with("const ") || stmt.starts_with("let "))
    {
        return None;
    }
    let name = binding.name.clone();
    let clear = clear_fn(repeat);
    let base = facts.scopes[method].name.clone().unwrap_or_default();
    let field = unique_name(&camel(&[&base, "timer"]), |n| {
        facts.classes[class].fields.iter().any(|f| f.name == n) || facts.has_word(src, n)
    });
    let h = super::member("this", &field);
    let cleanup = cleanup_in_class(ctx, class, &[format!("{clear}({h});")])?;
    let mut lines = Vec::new();
    if super::runs_again(facts, e) {
        lines.push(format!("if ({h}) {clear}({h});"));
    }
    lines.push(format!("{h} = {name};"));
    let mut edits = vec![insert_after_statement(
        src,
        e.stmt.start,
        e.stmt.end,
        &lines,
    )];
    let api = if repeat { "setInterval" } else { "setTimeout" };
    edits.extend(private_field(
        ctx,
        class,
        &format!("{field}?: ReturnType<typeof {api}>"),
    )?);
    edits.extend(cleanup.edits);
    Some(fix(
        format!("keep `{name}` in `{h}` and clear it {}", cleanup.where_),
        Applicability::Unsafe,
        edits,
    ))
}

/// A plain function that starts the timer directly in its body (the handle discarded or in a
/// local) and returns nothing: it returns a stop function (`return () =>
/// clearInterval(timeout);`), which its callers keep and call when they are done. Unsafe: the
/// callers must call it.
fn stopper_fix(ctx: &FileCtx, e: &Event, handle: &PlaceRef, repeat: bool) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let owner = e.scope;
    let sc = &facts.scopes[owner];
    if sc.kind != ScopeKind::Function || sc.class.is_some() || e.in_loop || e.conditional {
        return None;
    }
    let fname = sc.name.clone()?;
    let returns = super::listener_scopes::returns_nothing(ctx, owner)?;
    if !directly_in(src, &returns.body, e.stmt.start) {
        return None;
    }
    let (name, mut edits) = local_handle(ctx, e, handle, owner, &fname, repeat)?;
    let clear = clear_fn(repeat);
    edits.extend(return_closure(src, &returns, &format!("{clear}({name})"))?);
    Some(fix(
        format!(
            "return a stop function from `{fname}()` that clears `{name}` (its callers call it \
             when they are done)"
        ),
        Applicability::Unsafe,
        edits,
    ))
}

/// `setInterval(…)` run directly in a per-connection callback (`wss.on('connection', (ws) =>
/// …)`) or in a function that registers its connection's close handler, its handle thrown away or kept in a local: kept in a `const` (named after the
/// callback's event) and cleared in the connection's close handler — the one the callback
/// registers, or a new `ws.on('close', …)`. Not in a loop or a branch of the callback (the
/// handle would be out of the close handler's reach). Unsafe: the timer now stops.
fn per_connection_fix(ctx: &FileCtx, e: &Event, handle: &PlaceRef, repeat: bool) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let owner = e.scope;
    // A `connection` callback, or any function that registers its connection's close handler.
    let event = match &facts.scopes[owner].kind {
        ScopeKind::Callback(r) => r.event.as_deref(),
        _ if super::listener_fixes::close_handler(facts, owner).is_some() => None,
        _ => return None,
    };
    let body = facts.scopes[owner].body.clone()?;
    if e.in_loop || e.conditional || !directly_in(src, &body, e.stmt.start) {
        return None;
    }
    let clear = clear_fn(repeat);
    let base = event.unwrap_or("connection");
    let (name, mut edits) = local_handle(ctx, e, handle, owner, base, repeat)?;
    let (end, where_) = at_owner_end(ctx, owner, &format!("{clear}({name});"))?;
    edits.push(end);
    Some(fix(
        format!("clear `{name}` {where_}"),
        Applicability::Unsafe,
        edits,
    ))
}

/// `async function poll() { …; setTimeout(poll, 5_000); }`, a module-level function declaration
/// that reschedules itself with no way out: a module-level stop flag it checks first
/// (`if (pollStopped) return;`), its timer kept in a module-level `let`, and both set by the
/// module's shutdown handler or a new exported `stopPoll()`. Only when the function returns no
/// value (no `return`, no return type but `void`/`Promise<void>`). Unsafe: the loop now ends
/// when stopped.
fn loop_fix(ctx: &FileCtx, e: &Event, handle: &PlaceRef, f: crate::facts::ScopeId) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let sc = &facts.scopes[f];
    if sc.kind != ScopeKind::Function || !sc.parent.is_some_and(|p| facts.is_module_scope(p)) {
        return None;
    }
    let fname = sc.name.clone()?;
    let body = sc.body.clone()?;
    let decl_line = line_start(src, sc.span.start);
    let lead = src.get(decl_line..sc.span.start)?.trim();
    let head = src.get(sc.span.start..body.start)?;
    let inner = src.get(body.clone())?;
    let declaration = head.trim_start().starts_with("function")
        || head.trim_start().starts_with("async function");
    if !declaration || !matches!(lead, "" | "export" | "export default") {
        return None;
    }
    let ret = head.get(head.rfind(')')? + 1..)?.trim();
    if !matches!(ret, "" | ": void" | ": Promise<void>") || has_word(inner, "return") {
        return None;
    }
    if facts.resolve(handle) != Place::Discarded || e.stmt.start != e.span.start {
        return None;
    }
    let timer = unique_name(&camel(&[&fname, "timer"]), |n| name_in_use(facts, src, n));
    let stopped = unique_name(&camel(&[&fname, "stopped"]), |n| name_in_use(facts, src, n));
    let typed = if is_typescript(ctx.path) {
        ": ReturnType<typeof setTimeout> | undefined"
    } else {
        ""
    };
    let cleanup = cleanup_in_module(
        ctx,
        &(decl_line..sc.span.end),
        &[
            format!("{stopped} = true;"),
            format!("clearTimeout({timer});"),
        ],
        &fname,
    )?;
    let unit = indent_unit(src, 2);
    let mut edits = vec![
        insert(
            decl_line,
            format!(
                "let {timer}{typed};{nl}let {stopped} = false;{nl}{nl}",
                nl = newline(src)
            ),
        ),
        prepend_to_block(src, &body, &[format!("if ({stopped}) return;")], &unit)?,
        insert(e.span.start, format!("{timer} = ")),
    ];
    edits.extend(cleanup.edits);
    Some(fix(
        format!(
            "give the `{fname}()` loop a stop flag `{stopped}` and clear `{timer}` {}",
            cleanup.where_
        ),
        Applicability::Unsafe,
        edits,
    ))
}

/// The statement at `at` is directly in `body`, not in a nested block.
fn directly_in(src: &str, body: &std::ops::Range<usize>, at: usize) -> bool {
    src.get(body.start..at)
        .is_some_and(|before| before.matches('{').count() == before.matches('}').count() + 1)
}

/// The function that clears a timer: `clearInterval` for a repeating one.
pub(super) fn clear_fn(repeat: bool) -> &'static str {
    if repeat {
        "clearInterval"
    } else {
        "clearTimeout"
    }
}

/// The timer call at `e` is a statement of its own that starts with the call (`setInterval(…);`):
/// an assignment can go in front of it.
pub(super) fn bare_statement(src: &str, e: &Event) -> bool {
    e.stmt.start == e.span.start
        && src
            .get(e.stmt.clone())
            .is_some_and(|s| s.trim_end().trim_end_matches(';').ends_with(')'))
}

/// The local of `owner` that holds the timer started at `e`: its own `const`/`let`, or, for a
/// handle thrown away in a statement of its own, a new `const <base>Interval = …` (the edit).
fn local_handle(
    ctx: &FileCtx,
    e: &Event,
    handle: &PlaceRef,
    owner: crate::facts::ScopeId,
    base: &str,
    repeat: bool,
) -> Option<(String, Vec<crate::diagnostic::Edit>)> {
    let facts = ctx.facts;
    match facts.resolve(handle) {
        Place::Binding(b) if facts.bindings[b].scope == owner && !facts.is_module_binding(b) => {
            Some((facts.bindings[b].name.clone(), Vec::new()))
        }
        Place::Discarded if bare_statement(ctx.source, e) => {
            let kind = if repeat { "interval" } else { "timer" };
            let name = unique_name(&camel(&[base, kind]), |n| name_in_use(facts, ctx.source, n));
            let store = insert(e.span.start, format!("const {name} = "));
            Some((name, vec![store]))
        }
        _ => None,
    }
}
