//! Fixes for listeners a per-connection (per-request, per-call) scope adds to something that
//! outlives it: remove the listener where that scope's life ends — its connection's `close`
//! handler — naming an inline handler first so the removal can match it.

use std::ops::Range;

use super::FileCtx;
use super::fixes::*;
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{Event, Handler, ScopeId, ScopeKind, is_close_event};

/// The removal method that matches registration method `method`.
pub fn removal_method(method: &str) -> Option<&'static str> {
    match method {
        "addEventListener" => Some("removeEventListener"),
        "on" | "addListener" | "prependListener" => Some("off"),
        _ => None,
    }
}

/// A plain JavaScript identifier.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// A listener `e` (`target.method('event', handler)`) added directly in scope `owner` — a
/// callback run per connection or per request — and removed nowhere in it: remove it in the
/// connection's close handler inside `owner` (`ws.on('close', () => { … })`), or in a new one
/// on the callback's first parameter when `owner` is a `connection` handler. An inline handler
/// is named first (`const onTyping = …;`) so the removal matches it. Unsafe: the listener now
/// goes away with the connection.
#[allow(clippy::too_many_arguments)]
pub fn ts_scope_fix(
    ctx: &FileCtx,
    e: &Event,
    owner: ScopeId,
    target: &str,
    method: &str,
    event: &str,
    handler: &Handler,
    handler_span: &Range<usize>,
) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let remove = removal_method(method)?;
    // `target.on('event', handler);` as a statement of its own, directly in the owner (a
    // handler named there is in reach of a close handler inside it), on a target the close
    // handler sees as it is (no `this`, which a `function` handler would rebind).
    if e.scope != owner
        || !src.get(e.stmt.clone())?.starts_with(target)
        || target.starts_with("this")
        || !(e.stmt.start <= handler_span.start && handler_span.end <= e.stmt.end)
    {
        return None;
    }
    let mut edits = Vec::new();
    let name = match handler {
        Handler::Named(_) => {
            let h = src.get(handler_span.clone())?;
            if !is_identifier(h) {
                return None;
            }
            h.to_string()
        }
        Handler::Inline(_) | Handler::Bound => {
            let name = unique_name(&camel(&["on", event]), |n| name_in_use(facts, src, n));
            let text = src.get(handler_span.clone())?;
            edits.push(insert_before_statement(
                src,
                e.stmt.start,
                // The handler's parameters were typed by the registration's overload; as a
                // `const` of its own it takes any listener's arguments.
                &[if is_typescript(ctx.path) {
                    format!("const {name}: (...args: any[]) => void = {text};")
                } else {
                    format!("const {name} = {text};")
                }],
            ));
            edits.push(replace(handler_span.clone(), name.clone()));
            name
        }
        Handler::Other => return None,
    };
    let line = format!("{target}.{remove}('{event}', {name});");
    let unit = indent_unit(src, 2);
    // A close handler of the connection, registered directly in the owner, with a block body.
    let close = facts.scopes.iter().enumerate().find(|(_, s)| {
        s.parent == Some(owner)
            && s.body.is_some()
            && matches!(&s.kind, ScopeKind::Callback(r)
                if matches!(r.method.as_str(), "on" | "once" | "addListener" | "addEventListener")
                    && r.event.as_deref().is_some_and(is_close_event)
                    && !matches!(r.event.as_deref(), Some("SIGTERM" | "SIGINT" | "SIGHUP" | "exit" | "beforeExit")))
    });
    let where_ = if let Some((_, s)) = close {
        let body = s.body.clone()?;
        edits.push(append_to_block(src, &body, &[line], &unit)?);
        let ev = match &s.kind {
            ScopeKind::Callback(r) => r.event.clone().unwrap_or_default(),
            _ => String::new(),
        };
        format!("in the '{ev}' handler")
    } else {
        // A `connection` handler: the connection is its first parameter.
        let o = &facts.scopes[owner];
        let ScopeKind::Callback(r) = &o.kind else {
            return None;
        };
        if r.event.as_deref() != Some("connection") {
            return None;
        }
        let conn = o.params.first().filter(|p| is_identifier(p))?;
        let body = o.body.clone()?;
        // socket.io sockets end with 'disconnect'; `ws`/`net` sockets with 'close'.
        let ev = if src.contains("socket.io") {
            "disconnect"
        } else {
            "close"
        };
        edits.push(append_to_block(
            src,
            &body,
            &[format!(
                "{conn}.on('{ev}', () => {line_trim});",
                line_trim = line.trim_end_matches(';')
            )],
            &unit,
        )?);
        format!("when `{conn}` emits '{ev}'")
    };
    Some(fix(
        format!("remove the '{event}' listener `{name}` {where_}"),
        Applicability::Unsafe,
        edits,
    ))
}
