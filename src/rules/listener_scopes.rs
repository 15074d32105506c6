//! Two more listener fixes for a scope that owns a registration (see
//! [`super::listener_fixes::ts_scope_fix`]): a plain function that registers and returns nothing
//! returns an unsubscribe; a handler nested in a per-connection callback (one registration per
//! message) replaces its previous listener, and the connection's end removes the last.

use super::FileCtx;
use super::fixes::*;
use super::listener_fixes::{Registration, at_owner_end, named_handler, removal_method};
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{CallbackKind, Event, EventKind, Handler, ScopeId, ScopeKind};

/// `function watchPrices(render) { bus.on('price', (p) => render(p)); }` — registered directly in
/// the body of a function or method that returns nothing (no `return` anywhere in it, no
/// declared return type, not a generator): it now returns `() => bus.off('price', onPrice)`, the
/// unsubscribe its callers keep and call when done. Unsafe: the function now returns a value.
pub fn unsubscribe_fix(ctx: &FileCtx, e: &Event, owner: ScopeId, r: &Registration) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let sc = &facts.scopes[owner];
    if e.conditional || e.in_loop {
        return None;
    }
    // A declared return type would have to change too: only untyped functions here.
    let ReturnsNothing {
        body,
        void_type: None,
    } = returns_nothing(ctx, owner)?
    else {
        return None;
    };
    // Directly in the body block, not in an inner block (the named handler must be in reach of
    // the `return` at the end).
    let before = src.get(body.start..e.stmt.start)?;
    let depth = before.matches('{').count() as i64 - before.matches('}').count() as i64;
    if depth != 1 {
        return None;
    }
    let remove = removal_method(r.method)?;
    let (name, mut edits) = named_handler(ctx, e, r)?;
    let unit = indent_unit(src, 2);
    edits.push(append_to_block(
        src,
        &body,
        &[format!(
            "return () => {}('{}', {name});",
            r.removal(remove),
            r.event
        )],
        &unit,
    )?);
    let fname = sc.name.as_deref().unwrap_or("the function");
    Some(fix(
        format!(
            "return an unsubscribe from `{fname}()` that removes the '{}' listener `{name}` \
             (its callers call it when they are done)",
            r.event
        ),
        Applicability::Unsafe,
        edits,
    ))
}

/// `ws.on('message', () => { bus.on('typing', (who) => …); })` inside the connection's callback
/// `owner`: one more listener per message. The handler goes in a `let` of `owner`; each message
/// removes the previous one before adding its own, and the connection's close handler removes
/// the last. Only for an inline handler, in per-event handlers (no loop between), on a target
/// `owner` itself reaches. Unsafe: one listener per connection remains, the latest.
pub fn nested_handler_fix(
    ctx: &FileCtx,
    e: &Event,
    owner: ScopeId,
    r: &Registration,
) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    if !matches!(r.handler, Handler::Inline(_) | Handler::Bound) || e.in_loop {
        return None;
    }
    // Every scope between the registration and the owner is a per-event handler.
    let between: Vec<ScopeId> = facts
        .ancestors(e.scope)
        .take_while(|&s| s != owner)
        .collect();
    if facts.scopes[e.scope].parent.is_none()
        || !facts.is_within(e.scope, owner)
        || between.iter().any(|&s| {
            let sc = &facts.scopes[s];
            sc.in_loop
                || !matches!(&sc.kind, ScopeKind::Callback(c) if c.kind == CallbackKind::EventHandler)
        })
    {
        return None;
    }
    // The target as the owner sees it: global, module-level, or declared in the owner or
    // around it (not in a handler between).
    let root = r.target.split('.').next()?;
    let reachable = match facts.lookup(root, e.scope) {
        Some(b) => facts.is_module_binding(b) || facts.is_within(owner, facts.bindings[b].scope),
        None => matches!(root, "process" | "window" | "document" | "globalThis"),
    };
    if !reachable {
        return None;
    }
    let remove = removal_method(r.method)?;
    let body = facts.scopes[owner].body.clone()?;
    let name = unique_name(&camel(&["on", r.event]), |n| name_in_use(facts, src, n));
    let off = format!("if ({name}) {}.{remove}('{}', {name});", r.target, r.event);
    let (end, where_) = at_owner_end(ctx, owner, &off)?;
    let unit = indent_unit(src, 2);
    let decl = if is_typescript(ctx.path) {
        format!("let {name}: ((...args: any[]) => void) | undefined;")
    } else {
        format!("let {name};")
    };
    let text = src.get(r.handler_span.clone())?;
    let edits = vec![
        prepend_to_block(src, &body, &[decl], &unit)?,
        insert_before_statement(src, e.stmt.start, &[off, format!("{name} = {text};")]),
        replace(r.handler_span.clone(), name.clone()),
        end,
    ];
    Some(fix(
        format!(
            "keep one '{}' listener at a time in {}: each registration replaces the previous \
             one (`{name}`), and the last is removed {where_}",
            r.event,
            super::describe_scope(facts, owner)
        ),
        Applicability::Unsafe,
        edits,
    ))
}

/// `word` occurs in `text` as a whole identifier.
/// A plain function or method (not a constructor, accessor, generator or `async`) with no
/// `return` in its body and no return type but `void`: it can return an unsubscribe.
pub(super) struct ReturnsNothing {
    /// The body block, braces included.
    pub body: std::ops::Range<usize>,
    /// Where `void` stands in a `: void` return type, when there is one.
    pub void_type: Option<usize>,
}

/// `owner` returns nothing (see [`ReturnsNothing`]).
pub(super) fn returns_nothing(ctx: &FileCtx, owner: ScopeId) -> Option<ReturnsNothing> {
    let src = ctx.source;
    let sc = &ctx.facts.scopes[owner];
    let plain = match &sc.kind {
        ScopeKind::Function => true,
        ScopeKind::Method { constructor, .. } => !constructor,
        _ => false,
    };
    if !plain || sc.is_async {
        return None;
    }
    let body = sc.body.clone()?;
    let head = src.get(sc.span.start..body.start)?;
    let inner = src.get(body.clone())?;
    if head.contains('*')
        || has_word(head, "async")
        || has_word(head, "get")
        || has_word(head, "set")
        || has_word(inner, "return")
        || has_word(inner, "yield")
    {
        return None;
    }
    // The parameter list's `)` is the head's last; after it, the return type if any.
    let close = head.rfind(')')?;
    let after = &head[close + 1..];
    let ty = after.trim().trim_end_matches("=>").trim();
    let void_type = match ty.strip_prefix(':') {
        Some(t) if t.trim() == "void" => Some(sc.span.start + close + 1 + after.find("void")?),
        Some(_) => return None,
        None if ty.is_empty() => None,
        None => return None,
    };
    Some(ReturnsNothing { body, void_type })
}

pub(super) fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        !text[..i].chars().next_back().is_some_and(ident)
            && !text[i + word.len()..].chars().next().is_some_and(ident)
    })
}

/// `req.on('socket', (socket) => { socket.on('connect', () => …); })`: a keep-alive agent hands
/// the same socket to later requests, so the listener is removed when this request is done —
/// `req.once('close', () => socket.off('connect', onConnect))` right after the registration,
/// the handler named first. `once` registrations too (a connection-phase event never fires on
/// a reused socket). Only directly in the `'socket'` handler, on its parameter, for a request
/// named by a plain identifier. The same for `req.socket.on(…)` / `req.connection.on(…)`
/// directly in a handler given the request: removed when the response closes (a route
/// handler's or a server `'request'` handler's second parameter, `res.once('close', …)`: a
/// server request's own `'close'` can come before the response is done), or, for a handler
/// given only the request, when the request closes. Unsafe: the listener no longer outlives
/// the request.
pub fn pooled_socket_fix(ctx: &FileCtx, e: &Event, r: &Registration) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let EventKind::Listen(l) = &e.kind else {
        return None;
    };
    let target = facts.resolve(&l.target);
    let handler_scope = super::unremoved_listener::pooled_socket(facts, &target)?;
    // The request whose end removes the listener: the emitter of a `'socket'` handler; for a
    // handler given the request (`req.socket`, or a local holding it), the response when the
    // handler is given one — a server request's own `'close'` can come before the response is
    // done — else the request. A function given the request by name (`send(req, path, fn)`,
    // `(req, res, next)`): its `res`/`response`, else its `req`.
    let params = &facts.scopes[handler_scope].params;
    let req = match &facts.scopes[handler_scope].kind {
        ScopeKind::Callback(reg) if reg.kind != CallbackKind::Other => match params.as_slice() {
            _ if reg.event.as_deref() == Some("socket") => reg.callee.rsplit_once('.')?.0,
            [_, res, ..]
                if reg.kind == CallbackKind::Route || reg.event.as_deref() == Some("request") =>
            {
                res.as_str()
            }
            [req] => req.as_str(),
            _ => return None,
        },
        _ => match params.as_slice() {
            [_, res, ..] if matches!(res.as_str(), "res" | "response") => res.as_str(),
            [req, ..] => req.as_str(),
            _ => return None,
        },
    };
    if e.scope != handler_scope || e.in_loop || !super::listener_fixes::is_identifier(req) {
        return None;
    }
    let starts = src
        .get(e.stmt.clone())?
        .starts_with(&format!("{}.", r.target));
    let inside = e.stmt.start <= r.handler_span.start && r.handler_span.end <= e.stmt.end;
    if !(starts && inside) {
        return None;
    }
    let remove = match r.method {
        "once" | "prependOnceListener" => "off",
        m => removal_method(m)?,
    };
    let (name, mut edits) = named_handler(ctx, e, r)?;
    edits.push(insert_after_statement(
        src,
        e.stmt.start,
        e.stmt.end,
        &[format!(
            "{req}.once('close', () => {}.{remove}('{}', {name}));",
            r.target, r.event
        )],
    ));
    Some(fix(
        format!(
            "remove the '{}' listener `{name}` from the pooled `{}` when `{req}` closes",
            r.event, r.target
        ),
        Applicability::Unsafe,
        edits,
    ))
}

/// `socket.on('connect', () => { socket.on('message', onMessage); })` on a client that fires
/// `'connect'` again after every reconnect: the registration moves out of the handler, right
/// after the statement that registers it, so it runs once for the emitter — when the moved
/// statement uses nothing the handler declares (its parameters, its locals) and fits on one
/// line. Unsafe: the listener is now in place before the first connect too.
pub fn hoist_out_of_handler(ctx: &FileCtx, e: &Event, r: &Registration) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let ScopeKind::Callback(reg) = &facts.scopes[e.scope].kind else {
        return None;
    };
    let EventKind::Listen(l) = &e.kind else {
        return None;
    };
    let same_target = reg
        .target
        .as_ref()
        .is_some_and(|t| facts.resolve(t) == facts.resolve(&l.target));
    if reg.kind != CallbackKind::EventHandler || !same_target || e.in_loop || e.conditional {
        return None;
    }
    // The statement that registers the handler.
    let outer = facts.events.iter().find(
        |o| matches!(&o.kind, EventKind::Listen(ol) if ol.handler == Handler::Inline(e.scope)),
    )?;
    let stmt = src.get(e.stmt.clone())?;
    let start = line_start(src, e.stmt.start);
    let standalone = line_indent(src, e.stmt.start).len() + start == e.stmt.start;
    let line_end = src[e.stmt.end..]
        .find('\n')
        .map_or(src.len(), |i| e.stmt.end + i + 1);
    let tail = src.get(e.stmt.end..line_end)?.trim();
    if !standalone
        || stmt.contains('\n')
        || !(tail.is_empty() || tail.starts_with("//"))
        || !stmt.starts_with(&format!("{}.", r.target))
    {
        return None;
    }
    // Nothing the handler declares: its parameters and locals would be out of reach.
    let declared = facts
        .bindings
        .iter()
        .filter(|b| b.scope == e.scope)
        .map(|b| b.name.as_str())
        .chain(facts.scopes[e.scope].params.iter().map(String::as_str));
    let mut used = declared.filter(|n| {
        stmt.match_indices(n).any(|(i, _)| {
            let before = stmt[..i].chars().next_back();
            let after = stmt[i + n.len()..].chars().next();
            let word =
                |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
            !word(before) && !word(after) && before != Some('.')
        })
    });
    if used.next().is_some() {
        return None;
    }
    Some(fix(
        format!(
            "register the '{}' listener once, outside the '{}' handler of `{}`",
            r.event,
            reg.event.as_deref().unwrap_or("event"),
            r.target
        ),
        Applicability::Unsafe,
        vec![
            replace(start..line_end, ""),
            // A comment at the end of the line goes with the statement.
            insert_after_statement(
                src,
                outer.stmt.start,
                outer.stmt.end,
                &[if tail.is_empty() {
                    stmt.to_string()
                } else {
                    format!("{stmt} {tail}")
                }],
            ),
        ],
    ))
}
