//! unremoved-listener, the `once` half (TypeScript/JavaScript): a `once` listener removes itself
//! only when its event fires. Registered per call on a target that outlives the call, it stays
//! when the event does not come for that call:
//!
//! - **a pair** — `t.once('error', a); t.once('connect', b)`: whichever fires, the other stays
//!   on `t` unless its sibling's handler (or anything in the file) removes it;
//! - **an end-of-life event** — `t.once('error' | 'close' | 'end' | …, h)` on a long-lived
//!   connection per query (not on `this`: there it is the instance's own teardown hook): the event comes once, at the end of `t`'s life, so every call until
//!   then leaves one more listener (and its closure).
//!
//! "Per call" is the function's frequency (`Lifetime`): a method or exported function runs an
//! unknown number of times, which counts as repeated; a constructor runs once per instance and
//! the module top level once. "Outlives the call": a global, a module-level binding or import,
//! an injected field, `this` in a method that is not the constructor (the instance was there
//! before the call and stays after it), or a parameter that names a shared resource (a
//! connection, client, pool, signal, token) — and a local that only aliases one of those.
//! Objects the function creates itself, and callback parameters of per-object events
//! (`wss.on('connection', (ws) => …)`), die with the call or the object.

use std::collections::HashSet;

use super::*;
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{BindingKind, Event, Handler};

/// Parameter names that denote an object handed in from a longer life: the connection a pool
/// hands out, a shared client, an abort signal or cancel token. A parameter is otherwise
/// unknown (often a fresh object the caller just made) and not judged.
const SHARED_PARAM_WORDS: &[&str] = &[
    "connection",
    "conn",
    "con",
    "client",
    "pool",
    "signal",
    "token",
    "emitter",
    "bus",
    "broker",
    "channel",
    "db",
];

/// Functions followed from a handler when looking for the removal of a sibling (the handler,
/// what it calls, what those call): a cleanup is usually one or two calls away, and a bound
/// keeps a file of mutually calling functions linear.
const MAX_CALLEES: usize = 16;

/// Siblings of one registration examined (a `once` pair is two or three registrations; a
/// generated file with thousands on one object must not make this quadratic).
const MAX_SIBLINGS: usize = 8;

/// Events a socket emits while it connects, once in its life: a pooled socket handed to a later
/// request never emits them again.
fn connection_phase(ev: &str) -> bool {
    matches!(ev, "lookup" | "connect" | "secureConnect" | "ready")
}

/// `once` for a connection-phase event on the socket a request's `'socket'` event hands over,
/// not only while that socket is connecting.
fn phase_on_pooled(facts: &FileFacts, e: &Event, ev: &str, target: &Place) -> bool {
    connection_phase(ev)
        && super::unremoved_listener::pooled_socket(facts, target)
            .or_else(|| {
                super::unremoved_listener::pooled_socket(
                    facts,
                    super::constructions::root_place(target),
                )
            })
            .is_some_and(|h| !super::unremoved_listener::pooled_guarded(facts, e, h))
}

/// An event a `once` listener on a long-lived object may wait for until that object ends.
fn end_of_life_event(ev: &str) -> bool {
    ev == "error" || crate::facts::is_close_event(ev)
}

/// An event that ends an operation the other way: a failure, a time-out, an abort or the
/// emitter's end (`'error'`, `'timeout'`, `'connectFailed'`, `'close'`).
fn ends_the_other_way(ev: &str) -> bool {
    end_of_life_event(ev)
        || crate::facts::words(ev).any(|w| {
            matches!(
                w.as_str(),
                "error"
                    | "fail"
                    | "failed"
                    | "failure"
                    | "timeout"
                    | "abort"
                    | "aborted"
                    | "cancel"
                    | "cancelled"
                    | "canceled"
                    | "reject"
                    | "rejected"
            )
        })
}

/// Two `once` registrations are alternatives — when one fires the other may never come —
/// when one of them is how the operation ends the other way (`once('connect')` with
/// `once('error')`), or when both wait, unconditionally, for the outcome of one operation
/// (`once('noData')` with `once('rowDescription')`). Two progress events each registered
/// under its own condition, while its own operation is in flight (`if (this.polling)
/// this.once('pollComplete', …)`, `if (!this.writable) this.once('drain', …)`), each fire.
fn alternatives(a: &Once, b: &Once) -> bool {
    ends_the_other_way(a.ev) || ends_the_other_way(b.ev) || !(a.e.conditional && b.e.conditional)
}

/// Two registrations that one run never makes both: the earlier sits in a block that leaves
/// the function (`return`, `throw`) before the block ends, and the later comes after that block
/// (`if (!connected) { this.once('ready', …); return; } … this.once('disconnected', …)`), or
/// in its `else`. Read from the text between the two statements, by brace depth.
fn exclusive_paths(src: &str, a: &Event, b: &Event) -> bool {
    let (first, second) = if a.span.start <= b.span.start {
        (a, b)
    } else {
        (b, a)
    };
    if !first.conditional {
        return false;
    }
    let Some(between) = src.get(first.stmt.end..second.stmt.start) else {
        return false;
    };
    let mut depth = 0i32;
    let mut leaves = false;
    for (i, c) in between.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    let rest = between[i + 1..].trim_start();
                    return leaves || rest.starts_with("else");
                }
            }
            _ if depth == 0 && !leaves => {
                let word = |w: &str| {
                    between[i..].starts_with(w)
                        && !between[..i].ends_with(|p: char| p.is_alphanumeric() || p == '_')
                        && !between[i + w.len()..]
                            .starts_with(|n: char| n.is_alphanumeric() || n == '_')
                };
                leaves = word("return") || word("throw");
            }
            _ => {}
        }
    }
    false
}

/// The `once` findings of one file, each with its message and help.
pub(super) fn check_once(
    ctx: &FileCtx,
    summaries: &crate::summaries::ProjectSummaries,
) -> Vec<(Event, String, String, Option<Fix>)> {
    let facts = ctx.facts;
    // Removals anywhere in the file, by event and handler identity (any target: `this.conn`
    // in another method is the same connection as `con` here, so a removal of the same
    // handler is taken on trust). A handler unleak cannot name matches any removal.
    let removals: Vec<(&Option<String>, Option<&Handler>)> = facts
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Unlisten(u) => Some((&u.event, Some(&u.handler))),
            EventKind::UnlistenAll { event, .. } => Some((event, None)),
            _ => None,
        })
        .collect();
    let removed = |ev: &str, h: &Handler| {
        removals.iter().any(|(rev, rh)| {
            rev.as_deref().is_none_or(|r| r == ev)
                && match (h, rh) {
                    (_, None) => true,
                    (Handler::Named(a), Some(Handler::Named(b))) => {
                        facts.resolve(a) == facts.resolve(b)
                    }
                    (Handler::Other, Some(_)) | (Handler::Named(_), Some(Handler::Other)) => true,
                    _ => false,
                }
        })
    };
    let onces: Vec<Once> = facts
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Listen(l) => match &**l {
                ListenFacts {
                    target,
                    event: Some(ev),
                    handler,
                    handler_span,
                    once: true,
                    signal: None,
                    ..
                } => Some(Once {
                    e,
                    ev: ev.as_str(),
                    handler,
                    handler_span: handler_span.clone(),
                    target: facts.resolve(target),
                }),
                _ => None,
            },
            _ => None,
        })
        .collect();
    if onces.is_empty() {
        return Vec::new();
    }
    let aliases = crate::summaries::Aliases::new(facts);
    // Registrations grouped by (scope, target): siblings are looked up in the group, and a
    // group is done once it has its finding.
    let mut groups: std::collections::HashMap<(ScopeId, &Place), Vec<usize>> =
        std::collections::HashMap::new();
    for (i, o) in onces.iter().enumerate() {
        // The first registration of each event in the group (a few are enough: see
        // MAX_SIBLINGS), so a group of thousands costs no more than a pair.
        let g = groups.entry((o.e.scope, &o.target)).or_default();
        if g.len() <= MAX_SIBLINGS && g.iter().all(|&j| onces[j].ev != o.ev) {
            g.push(i);
        }
    }
    // Whether sibling `i`'s handler removes event `ev`: asked once per pair.
    let mut removes: std::collections::HashMap<(usize, &str), Option<bool>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut reported_groups: HashSet<(ScopeId, &Place)> = HashSet::new();
    for o in &onces {
        if ctx.out_of_time() {
            break; // the engine reports the time-out
        }
        let (e, ev, handler, target) = (o.e, o.ev, o.handler, &o.target);
        if matches!(target, Place::Unknown) || reported_groups.contains(&(e.scope, target)) {
            continue;
        }
        // Taken off in a `finally` around the registration (`try { await new Promise(…
        // client.once('ready', onReady) …) } finally { client.removeListener('ready',
        // onReady) }`): whichever way the wait ends, it is not left behind.
        if removed_in_finally(facts, o) {
            continue;
        }
        // A pair or a handful, in practice: the first few siblings with other events.
        let siblings: Vec<usize> = groups[&(e.scope, target)]
            .iter()
            .copied()
            .filter(|&i| onces[i].ev != ev)
            .take(MAX_SIBLINGS)
            .collect();
        // The sibling whose firing leaves this one registered: its handler (or a function it
        // calls) does not remove this event. A handler unleak cannot find is taken on trust.
        let left_by = siblings
            .iter()
            .filter(|&&i| {
                alternatives(o, &onces[i])
                    && !exclusive_paths(ctx.source, o.e, onces[i].e)
                    && !ends_together(onces[i].ev, ev)
            })
            .find(|&&i| {
                *removes
                    .entry((i, ev))
                    .or_insert_with(|| handler_removes(ctx, &onces[i], ev))
                    == Some(false)
            })
            .map(|&i| onces[i].ev);
        match left_by {
            Some(_) => {}
            None if !siblings.is_empty() => continue,
            // A connection-phase event on a socket a keep-alive agent may hand back already
            // connected: it never comes for this request.
            None if phase_on_pooled(facts, e, ev, target) && !removed(ev, handler) => {}
            // Alone, an end-of-life `once` on the instance itself is its own teardown hook
            // (`this.once('close', () => client.off(…))`), not a registration from outside.
            None if !end_of_life_event(ev) || matches!(target, Place::This(_)) => continue,
            None if removed(ev, handler) => continue,
            None if untracks_on_end(ctx, o) => continue,
            None => {}
        }
        // On the instance itself, a method of its own (`this.onClose`,
        // `this.handleClose.bind(this)`) is its standing business, consumed by the next such
        // event; what piles up per call is a closure over the call (its callback, arguments).
        if matches!(target, Place::This(_)) && !closure_over_call(ctx, o) {
            continue;
        }
        let Some((desc, rhythm)) = outlives_call(ctx, summaries, &aliases, e, target) else {
            continue;
        };
        // One finding per group of registrations: the first one left behind.
        reported_groups.insert((e.scope, target));
        let t = place_text(facts, target);
        let fix = left_by.and_then(|_| {
            let members: Vec<&Once> = groups[&(e.scope, target)]
                .iter()
                .map(|&i| &onces[i])
                .collect();
            pair_fix(ctx, &members, &t)
        });
        let pooled = phase_on_pooled(facts, e, ev, target);
        let (message, help) = once_message(left_by, pooled, ev, &desc, &rhythm, &t);
        out.push(((*e).clone(), message, help, fix));
    }
    out
}

/// When `fired` fires on a target, `left` is no listener left on a live object: a resource's
/// `'error'` is followed by its `'close'` (Node streams and sockets destroy themselves on
/// error, `ws` and amqplib channels emit `'close'` after `'error'`), so a `once('close')` still
/// fires; and after its `'close'` (or `'end'`, `'exit'`, …) the target's life is over, so a
/// `once('error')` left on it goes with it.
fn ends_together(fired: &str, left: &str) -> bool {
    (fired == "error" && left == "close")
        || (left == "error" && crate::facts::is_close_event(fired))
}

/// `o` is removed — same event, the same named handler — by a removal on the `finally` path
/// of a function that encloses the registration.
fn removed_in_finally(facts: &FileFacts, o: &Once) -> bool {
    let Handler::Named(h) = o.handler else {
        return false;
    };
    let handler = facts.resolve(h);
    facts.events.iter().any(|r| {
        let EventKind::Unlisten(u) = &r.kind else {
            return false;
        };
        u.event.as_deref() == Some(o.ev)
            && matches!(&u.handler, Handler::Named(x) if facts.resolve(x) == handler)
            && r.path == crate::facts::PathKind::Finally
            && !r.conditional
            && facts.is_within(o.e.scope, r.scope)
    })
}

/// The message and help of a `once` finding: a pair where `left_by`'s handler leaves `ev`
/// behind, a connection-phase `once` on a pooled socket, or an end-of-life `once` per call.
fn once_message(
    left_by: Option<&str>,
    pooled: bool,
    ev: &str,
    desc: &str,
    rhythm: &str,
    t: &str,
) -> (String, String) {
    if let Some(first) = left_by {
        (
            format!(
                "`once('{ev}')` and `once('{first}')` are added to {desc} ({rhythm}); when \
                 '{first}' fires, the '{ev}' listener stays on `{t}` (the '{first}' handler does not \
                 remove it), so \
                 every call leaves one more listener and its closure on an object that \
                 outlives the call"
            ),
            format!(
                "keep both handlers in named functions and have each remove the other: \
                 `{t}.removeListener('{ev}', onEv)` in the '{first}' handler (and the reverse)"
            ),
        )
    } else if pooled {
        (
            format!(
                "`once('{ev}')` is added to {desc}, the socket a request was given, \
                 and never removed: '{ev}' comes only while a socket connects, and a keep-alive \
                 agent hands the same socket, already connected, to later requests, so every \
                 request leaves one more listener and its closure on it"
            ),
            format!(
                "register only while the socket connects (`if (socket.connecting)`), or keep \
                 the handler in a named function and remove it once connected \
                 (`{t}.removeListener('{ev}', onEv)`)"
            ),
        )
    } else {
        (
            format!(
                "`once('{ev}')` is added to {desc} ({rhythm}) and never removed: '{ev}' comes \
                 at most once, at the end of `{t}`'s life, so until then every call leaves \
                 one more listener and its closure"
            ),
            format!(
                "keep the handler in a named function and remove it when the call's work \
                 ends (`{t}.removeListener('{ev}', onEv)` on success and on failure)"
            ),
        )
    }
}

/// A `once` group whose handlers are all inline (`t.once('error', (err) => cb(err));
/// t.once('connect', () => cb(null));`), each its own statement on `t`: name each handler
/// (`const onError = …;` before the first registration) and have each remove the others when it
/// fires, so whichever event comes, none is left behind. Unsafe: the other handlers no longer
/// run for a later event of this call.
fn pair_fix(ctx: &FileCtx, members: &[&Once], target: &str) -> Option<Fix> {
    use super::fixes::*;
    let (facts, src) = (ctx.facts, ctx.source);
    if members.len() < 2 {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    for m in members {
        let hs = m.handler_span.clone()?;
        match m.handler {
            Handler::Inline(_) => {}
            // A named handler is wrapped: `(...args) => { …removals; h.apply(t, args); }`.
            Handler::Named(_) => {
                let h = src.get(hs.clone())?;
                if !(super::listener_fixes::is_identifier(h)
                    || h.strip_prefix("this.")
                        .is_some_and(super::listener_fixes::is_identifier))
                {
                    return None;
                }
            }
            _ => return None,
        }
        let stmt = src.get(m.e.stmt.clone())?;
        let own_statement = m.e.stmt.start <= hs.start && hs.end <= m.e.stmt.end;
        if !(own_statement && stmt.starts_with(target)) {
            return None;
        }
        // A `function` handler runs with the emitter as `this`: a removal through `this…`
        // would name another object there.
        let text = src.get(hs.clone())?.trim_start();
        let text = text.strip_prefix("async").unwrap_or(text).trim_start();
        if text.starts_with("function") && target.starts_with("this") {
            return None;
        }
        let name = unique_name(&camel(&["on", m.ev]), |n| {
            name_in_use(facts, src, n) || names.iter().any(|x| x == n)
        });
        names.push(name);
    }
    let unit = indent_unit(src, 2);
    let mut consts = Vec::new();
    let mut edits = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let hs = m.handler_span.clone()?;
        let removals: Vec<String> = members
            .iter()
            .zip(&names)
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (o, n))| format!("{target}.removeListener('{}', {n});", o.ev))
            .collect();
        let scope = match m.handler {
            Handler::Inline(scope) => *scope,
            _ => {
                // Called as the emitter calls it: with the emitter as `this`.
                let h = src.get(hs.clone())?;
                let text = format!(
                    "(...args) => {{ {} {h}.apply({target}, args); }}",
                    removals.join(" ")
                );
                consts.push(if is_typescript(ctx.path) {
                    format!("const {}: (...args: any[]) => void = {text};", names[i])
                } else {
                    format!("const {} = {text};", names[i])
                });
                edits.push(replace(hs, names[i].clone()));
                continue;
            }
        };
        let text = match facts.scopes[scope].body.clone() {
            Some(body) if hs.start <= body.start && body.end <= hs.end => {
                let edit = prepend_to_block(src, &body, &removals, &unit)?;
                format!(
                    "{}{}{}",
                    src.get(hs.start..edit.range.start)?,
                    edit.content,
                    src.get(edit.range.end..hs.end)?
                )
            }
            // An expression body: `(err) => cb(err)` becomes a block that removes, then runs it.
            _ => {
                let whole = src.get(hs.clone())?;
                let arrow = whole.find("=>")?;
                let (head, expr) = (&whole[..arrow], whole[arrow + 2..].trim());
                if head.contains('=') || expr.is_empty() {
                    return None;
                }
                let expr = if ["function", "class", "{"]
                    .iter()
                    .any(|k| expr.starts_with(k))
                {
                    format!("({expr});")
                } else {
                    format!("{expr};")
                };
                format!("{head}=> {{ {} {expr} }}", removals.join(" "))
            }
        };
        consts.push(if is_typescript(ctx.path) {
            format!("const {}: (...args: any[]) => void = {text};", names[i])
        } else {
            format!("const {} = {text};", names[i])
        });
        edits.push(replace(hs, names[i].clone()));
    }
    let first = members.iter().map(|m| m.e.stmt.start).min()?;
    edits.push(insert_before_statement(src, first, &consts));
    let events: Vec<String> = members.iter().map(|m| format!("'{}'", m.ev)).collect();
    Some(fix(
        format!(
            "name the `once` handlers ({}) and have each remove the others from `{target}`",
            events.join(", ")
        ),
        Applicability::Unsafe,
        edits,
    ))
}

/// How the target is described and how often the registration runs, when the target outlives
/// one run of the registering code and the registration repeats; `None` otherwise.
fn outlives_call(
    ctx: &FileCtx,
    summaries: &crate::summaries::ProjectSummaries,
    aliases: &crate::summaries::Aliases,
    e: &Event,
    target: &Place,
) -> Option<(String, String)> {
    let facts = ctx.facts;
    let owner = named_owner(facts, e.scope);
    let lifetime = project_lifetime(ctx, summaries, e);
    if matches!(lifetime, Lifetime::Once | Lifetime::PerInstance) {
        return None;
    }
    let owner_scope = &facts.scopes[owner];
    if matches!(
        owner_scope.kind,
        ScopeKind::Method {
            constructor: true,
            ..
        } | ScopeKind::Module
    ) {
        return None;
    }
    // A teardown waits for the end it causes: `close(cb) { this.once('close', cb) }`.
    if owner_scope
        .name
        .as_deref()
        .is_some_and(crate::facts::is_teardown_name)
    {
        return None;
    }
    let rhythm = match lifetime {
        Lifetime::Repeated => "repeatedly".to_string(),
        _ => format!("on every call of {}", describe_scope(facts, owner)),
    };
    let desc = describe_place(facts, target);
    let root = super::constructions::root_place(target);
    let long_lived = match root {
        Place::Global(g) => super::constructions::GLOBALS.contains(&g.as_str()),
        // `this` inside a method (or a prototype function) that is not the constructor.
        Place::This(_) => true,
        Place::Field { class, name } => facts.classes[*class]
            .fields
            .iter()
            .any(|f| f.name == *name && f.origin == crate::facts::FieldOrigin::Injected),
        Place::Binding(b) => {
            facts.is_module_binding(*b)
                || shared_param(facts, aliases, *b, owner)
                // A pooled socket, unless registered only while it connects (a new one).
                || super::unremoved_listener::pooled_socket(facts, target)
                    .or_else(|| super::unremoved_listener::pooled_socket(facts, root))
                    .is_some_and(|h| !super::unremoved_listener::pooled_guarded(facts, e, h))
        }
        _ => false,
    };
    long_lived.then_some((desc, rhythm))
}

/// A parameter of the named function `owner` (or a local that only aliases one: `const con =
/// connection`) whose name says it is a shared resource.
fn shared_param(
    facts: &FileFacts,
    aliases: &crate::summaries::Aliases,
    b: crate::facts::BindingId,
    owner: ScopeId,
) -> bool {
    let binding = &facts.bindings[b];
    let name = match binding.kind {
        BindingKind::Param if binding.scope == owner => binding.name.as_str(),
        BindingKind::Var => {
            let Some(pos) = aliases.param_of(facts, b, owner) else {
                return false;
            };
            match facts.scopes[owner].params.get(usize::from(pos)) {
                Some(name) => name.as_str(),
                None => return false,
            }
        }
        _ => return false,
    };
    crate::facts::words(name).any(|w| SHARED_PARAM_WORDS.contains(&w.as_str()))
}

/// A `once` registration.
struct Once<'a> {
    e: &'a Event,
    ev: &'a str,
    handler: &'a Handler,
    handler_span: Option<std::ops::Range<usize>>,
    target: Place,
}

/// The handler is a closure made for this call (inline, a local function or a call's
/// result), not one of the instance's own methods (`this.onClose`, `this.m.bind(this)`).
fn closure_over_call(ctx: &FileCtx, o: &Once) -> bool {
    match o.handler {
        Handler::Inline(_) => true,
        Handler::Named(p) => !matches!(ctx.facts.resolve(p), Place::Field { .. }),
        Handler::Bound | Handler::Other => !handler_text(ctx, o).starts_with("this."),
    }
}

fn handler_text<'s>(ctx: &FileCtx<'s>, o: &Once) -> &'s str {
    o.handler_span
        .clone()
        .and_then(|r| ctx.source.get(r))
        .unwrap_or("")
        .trim()
}

/// Whether the handler of `sibling` removes a listener of `ev` (in its own body or in a
/// function of the file it calls): `Some(true)`/`Some(false)`, or `None` when the handler's
/// code is not found.
fn handler_removes(ctx: &FileCtx, sibling: &Once, ev: &str) -> Option<bool> {
    let facts = ctx.facts;
    let bodies = handler_bodies(ctx, sibling)?;
    Some(bodies.iter().any(|&b| {
        facts.events_within(b).any(|i| match &facts.events[i].kind {
            EventKind::Unlisten(u) => u.event.as_deref().is_none_or(|x| x == ev),
            EventKind::UnlistenAll { event, .. } => event.as_deref().is_none_or(|x| x == ev),
            _ => false,
        })
    }))
}

/// The scopes a handler's code runs in: its body and the file's functions it calls, and those
/// they call (`onupgrade` → `freeze()` → `cleanup()`), up to [`MAX_CALLEES`] functions.
/// `None` when the handler's code is not found.
fn handler_bodies(ctx: &FileCtx, o: &Once) -> Option<Vec<ScopeId>> {
    let facts = ctx.facts;
    let mut bodies = handler_scopes(ctx, o);
    if bodies.is_empty() {
        return None;
    }
    let mut next = 0;
    while next < bodies.len() && bodies.len() < MAX_CALLEES {
        let s = bodies[next];
        next += 1;
        for i in facts.events_within(s) {
            if let EventKind::Call { callee } = &facts.events[i].kind
                && let Some(c) = callee_scope(facts, &facts.resolve(callee))
                && !bodies.contains(&c)
            {
                bodies.push(c);
            }
        }
    }
    Some(bodies)
}

/// The registry idiom: the function that registers the end-of-life `once` also adds the
/// target to a collection of its owner (`this.connections.push(connection)`,
/// `this.clients.add(ws)`), and the handler (or a function it calls) takes it out again
/// (`splice`, `delete`). The listener is the registry's bookkeeping: one per tracked entry,
/// gone with it. Registering the same object twice would track it twice, and the collection
/// would show it.
fn untracks_on_end(ctx: &FileCtx, o: &Once) -> bool {
    let facts = ctx.facts;
    let owner = named_owner(facts, o.e.scope);
    let tracked: Vec<Place> = facts
        .events_within(owner)
        .filter_map(|i| {
            let g = &facts.events[i];
            match &g.kind {
                EventKind::Grow { place } if named_owner(facts, g.scope) == owner => {
                    let p = facts.resolve(place);
                    matches!(p, Place::Field { .. } | Place::Binding(_)).then_some(p)
                }
                _ => None,
            }
        })
        .collect();
    if tracked.is_empty() {
        return false;
    }
    let Some(bodies) = handler_bodies(ctx, o) else {
        return false;
    };
    bodies.iter().any(|&b| {
        facts.events_within(b).any(|i| match &facts.events[i].kind {
            EventKind::Shrink { place } => {
                let p = facts.resolve(place);
                tracked.contains(&p)
                    // A plain reassignment is recorded as a shrink too; it untracks nothing.
                    && !ctx
                        .source
                        .get(facts.events[i].span.clone())
                        .is_some_and(|t| t.contains('='))
            }
            _ => false,
        })
    })
}

/// The scopes a handler's code lives in: an inline function, a named function or method,
/// `this.m` / `this.m.bind(this)` / `proto.m` by method name, `make(…)` (the function that makes
/// the handler).
fn handler_scopes(ctx: &FileCtx, o: &Once) -> Vec<ScopeId> {
    let facts = ctx.facts;
    if let Handler::Inline(s) = o.handler {
        return vec![*s];
    }
    if let Handler::Named(p) = o.handler
        && let Some(s) = callee_scope(facts, &facts.resolve(p))
    {
        return vec![s];
    }
    let text = handler_text(ctx, o);
    let text = text.strip_suffix(')').map_or(text, |t| {
        // `f(…)` or `x.m.bind(…)`: the callee.
        t.rsplit_once('(').map_or(t, |(head, _)| head)
    });
    let text = text.strip_suffix(".bind").unwrap_or(text);
    let name = text.rsplit('.').next().unwrap_or(text).trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    {
        return Vec::new();
    }
    let class = facts
        .enclosing_method(o.e.scope)
        .and_then(|m| facts.scopes[m].class);
    facts
        .scopes
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.name.as_deref() == Some(name)
                && matches!(s.kind, ScopeKind::Function | ScopeKind::Method { .. })
                && (class.is_none() || s.class.is_none() || s.class == class)
        })
        .map(|(i, _)| i)
        .collect()
}

/// The function or method a resolved callee place names, when it is one of the file's.
fn callee_scope(facts: &FileFacts, p: &Place) -> Option<ScopeId> {
    match p {
        Place::Binding(b) => match &facts.bindings[*b].kind {
            BindingKind::Function(s) => Some(*s),
            // `const onError = (…) => …`: the function stored in the binding.
            BindingKind::Var => {
                let binding = &facts.bindings[*b];
                facts.scopes.iter().position(|s| {
                    s.name.as_deref() == Some(binding.name.as_str())
                        && s.parent.is_some_and(|p| facts.is_within(p, binding.scope))
                        && matches!(s.kind, ScopeKind::Function)
                })
            }
            _ => None,
        },
        Place::Field { class, name } => facts.scopes.iter().position(|s| {
            s.class == Some(*class)
                && s.name.as_deref() == Some(name.as_str())
                && matches!(s.kind, ScopeKind::Method { .. } | ScopeKind::Function)
        }),
        _ => None,
    }
}
