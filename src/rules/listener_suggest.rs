//! The suggestion (a display-only fix) for a leaking listener no automatic edit can remove
//! safely — registered in a loop, in a nested handler, on a target no teardown reaches, with a
//! handler named nowhere: it names an inline handler the way the removal needs and marks the
//! registration with where to remove it, so every finding says what to do and where.

use std::ops::Range;

use super::FileCtx;
use super::fixes::*;
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{ClassId, Event, Handler, ScopeId};

/// What a removal of the listener would need.
pub struct Removal<'a> {
    /// The class whose teardown must remove it, when a class owns it.
    pub class: Option<ClassId>,
    /// The scope whose end must remove it, otherwise.
    pub scope: Option<ScopeId>,
    /// The target as the registration names it (`bus`, `this.client`).
    pub target: &'a str,
    /// The registration method (`on`, `addEventListener`, `once`).
    pub method: &'a str,
    pub event: Option<&'a str>,
    pub handler: &'a Handler,
    pub handler_span: Option<&'a Range<usize>>,
}

/// The display-only fix: an inline handler named (`const onTyping = …;`, when the registration is
/// a statement of its own) and a comment above the registration with the removal and where it
/// belongs; the title says the same.
pub fn suggestion(ctx: &FileCtx, e: &Event, r: &Removal) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let remove = match r.method {
        "addEventListener" => "removeEventListener",
        "addListener" | "prependListener" | "prependOnceListener" | "once" | "on" => "off",
        // `subscribe`, `watch`, …: their own removal.
        _ => "the matching removal",
    };
    let ev = r
        .event
        .map_or("the same event".to_string(), |ev| format!("'{ev}'"));
    let stmt = src.get(e.stmt.clone())?;
    let standalone =
        line_indent(src, e.stmt.start).len() + line_start(src, e.stmt.start) == e.stmt.start;
    let mut edits = Vec::new();
    // Name an inline handler, so a removal can match it.
    let name = match (r.handler, r.handler_span) {
        (Handler::Named(_), Some(hs)) => src.get(hs.clone())?.to_string(),
        (Handler::Inline(_) | Handler::Bound, Some(hs))
            if standalone && e.stmt.start <= hs.start && hs.end <= e.stmt.end =>
        {
            let base = r
                .event
                .map_or("onEvent".to_string(), |ev| camel(&["on", ev]));
            let name = unique_name(&base, |n| name_in_use(facts, src, n));
            let text = src.get(hs.clone())?;
            let typed = if is_typescript(ctx.path) {
                ": (...args: any[]) => void"
            } else {
                ""
            };
            edits.push(insert_before_statement(
                src,
                e.stmt.start,
                &[format!("const {name}{typed} = {text};")],
            ));
            edits.push(replace(hs.clone(), name.clone()));
            name
        }
        _ => "handler".to_string(),
    };
    let call = if remove.starts_with("the ") {
        format!("{remove} of `{}`", r.target)
    } else if r.target.is_empty() || !stmt.starts_with(&format!("{}.", r.target)) {
        format!("`{remove}({ev}, {name})`")
    } else {
        format!("`{}.{remove}({ev}, {name})`", r.target)
    };
    let where_ = where_to_remove(ctx, e, r);
    let title = if edits.is_empty() {
        let which = r.event.map_or(String::new(), |ev| format!("'{ev}' "));
        format!("remove the {which}listener with {call} {where_}")
    } else {
        let which = r.event.map_or(String::new(), |ev| format!("'{ev}' "));
        format!("name the {which}handler `{name}` and remove it with {call} {where_}")
    };
    // The comment goes on a line of its own above the registration's line, at its indentation.
    let at = line_start(src, e.stmt.start);
    let indent = line_indent(src, e.stmt.start);
    let nl = newline(src);
    edits.push(insert(
        at,
        format!("{indent}// unleak: remove this listener with {call} {where_}{nl}"),
    ));
    Some(fix(title, Applicability::DisplayOnly, edits))
}

/// "in `close()`", "in a teardown of `Child` (it has none: add one)", "once per iteration: …".
fn where_to_remove(ctx: &FileCtx, e: &Event, r: &Removal) -> String {
    let facts = ctx.facts;
    if let Some(c) = r.class {
        let cname = facts.classes[c].name.as_deref().unwrap_or("the class");
        return match super::class_teardowns(facts, c, ctx.options).first() {
            Some(&t) => format!(
                "in {} (the registration must keep the handler where it can reach it)",
                super::describe_scope(facts, t)
            ),
            None => format!(
                "in a teardown of `{cname}` (it has none: add `dispose()` and call it when the \
                 instance is done)"
            ),
        };
    }
    let owner = r.scope.map_or("the registering code".to_string(), |s| {
        super::describe_scope(facts, s)
    });
    // In a loop, or in a `.forEach`/`.map` callback, below the owner.
    let iterated = e.in_loop
        || facts
            .ancestors(e.scope)
            .take_while(|&s| Some(s) != r.scope)
            .any(|s| {
                facts.scopes[s].in_loop
                    || matches!(&facts.scopes[s].kind, crate::facts::ScopeKind::Callback(c)
                        if c.kind == crate::facts::CallbackKind::Iteration)
            });
    if iterated {
        format!(
            "once per iteration: collect one removal per registration (`offs.push(() => …)`) and \
             run them when {owner} is done with the target, or return them as an unsubscribe"
        )
    } else {
        format!(
            "when {owner} is done with the target (its 'close' handler, or an unsubscribe it \
             returns)"
        )
    }
}
