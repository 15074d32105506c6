//! The fix for a listener registered once per iteration — in a loop, or in a `.forEach`
//! callback — of a scope that owns the registrations: a single field or `let` cannot hold one
//! handler per item, so each registration pushes its own removal on a list (`offs`) declared in
//! the owner, and the owner runs the list where its life ends: its connection's close handler,
//! or an unsubscribe it now returns.

use std::ops::Range;

use super::FileCtx;
use super::fixes::*;
use super::listener_fixes::{Registration, at_owner_end, is_identifier, named_handler};
use super::listener_scopes::returns_nothing;
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::facts::{CallbackKind, Event, Handler, ScopeId, ScopeKind};

/// `for (const w of workers) { bus.on('reload', () => w.kill()); }` in `owner`: the handler
/// named (`const onReload = …;`), a removal pushed after the registration
/// (`offs.push(() => bus.off('reload', onReload));`), `const offs = [];` at the top of the
/// owner, and `offs.forEach((off) => off())` where the owner ends — its connection's close
/// handler, else the unsubscribe a function that returned nothing now returns. A second
/// registration in the same owner reuses the list. Only for a registration that is a statement
/// of its own in a braced block, with a literal or plain-name event, on a target that is not
/// reassigned (the removal reads it later). Unsafe: the listeners now go when the owner ends.
pub fn loop_fix(
    ctx: &FileCtx,
    e: &Event,
    owner: ScopeId,
    target: &str,
    method: &str,
    handler: &Handler,
    handler_span: &Range<usize>,
) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let remove = super::listener_fixes::removal_method(method)?;
    if !iterated_in(ctx, e, owner) || !target_is_stable(ctx, e, owner, target) {
        return None;
    }
    let event = event_argument(src, e, target, method, handler_span)?;
    // Named for the event: `onReload`; for a variable event, after the variable (`onEvent`).
    let base = event.trim_matches(['\'', '"']);
    let r = Registration {
        target,
        method,
        event: base,
        handler,
        handler_span,
    };
    let (name, mut edits) = named_handler(ctx, e, &r)?;
    let body = facts.scopes[owner].body.clone()?;
    let inner = src.get(body.clone())?;
    let fname = facts.scopes[owner]
        .name
        .as_deref()
        .map_or("the function".to_string(), |n| format!("`{n}()`"));
    let what = format!("the {} listener `{name}`", quoted(&event));
    let (offs, title) = match existing_list(inner) {
        Some(offs) => {
            let title =
                format!("remove {what} with the other removals `{offs}` collects in {fname}");
            (offs, title)
        }
        None => {
            let offs = unique_name("offs", |n| name_in_use(facts, src, n));
            let run = format!("{offs}.forEach((off) => off());");
            let (end, where_) = match at_owner_end(ctx, owner, &run) {
                Some((edit, where_)) => (vec![edit], where_),
                None => (
                    returned_unsubscribe(ctx, owner, &offs)?,
                    format!("from the unsubscribe {fname} now returns"),
                ),
            };
            let decl = if is_typescript(ctx.path) {
                format!("const {offs}: Array<() => void> = [];")
            } else {
                format!("const {offs} = [];")
            };
            let unit = indent_unit(src, 2);
            edits.push(prepend_to_block(src, &body, &[decl], &unit)?);
            edits.extend(end);
            let title = format!(
                "collect a removal of {what} per iteration in `{offs}` and run them {where_}"
            );
            (offs, title)
        }
    };
    edits.push(insert_after_statement(
        src,
        e.stmt.start,
        e.stmt.end,
        &[format!(
            "{offs}.push(() => {target}.{remove}({event}, {name}));"
        )],
    ));
    Some(fix(title, Applicability::Unsafe, edits))
}

fn quoted(event: &str) -> String {
    if event.starts_with(['\'', '"']) {
        event.to_string()
    } else {
        format!("`{event}`")
    }
}

/// The registration runs once per iteration below `owner`: in a loop of `owner` itself, or in
/// `.forEach`-style callbacks (blocks of their own) between it and `owner`; and it is a
/// statement of its own in a braced block, where a `const` before it and a statement after it
/// are allowed.
fn iterated_in(ctx: &FileCtx, e: &Event, owner: ScopeId) -> bool {
    let facts = ctx.facts;
    let src = ctx.source;
    if !facts.is_within(e.scope, owner) {
        return false;
    }
    let between: Vec<ScopeId> = facts
        .ancestors(e.scope)
        .take_while(|&s| s != owner)
        .collect();
    let iterations = between.iter().all(|&s| {
        matches!(&facts.scopes[s].kind, ScopeKind::Callback(c) if c.kind == CallbackKind::Iteration)
            && facts.scopes[s].body.is_some()
    });
    if !iterations || (between.is_empty() && !e.in_loop) {
        return false;
    }
    // On a line of its own, after `{`, `;` or `}`: not the body of an unbraced `for`.
    let before = src.get(..e.stmt.start).unwrap_or_default();
    let standalone =
        line_indent(src, e.stmt.start).len() + line_start(src, e.stmt.start) == e.stmt.start;
    standalone
        && before
            .trim_end()
            .chars()
            .next_back()
            .is_some_and(|c| matches!(c, '{' | ';' | '}'))
}

/// The target is read again when the removal runs: its root must still name the same object
/// then — a parameter or variable nothing reassigns in `owner`, a module binding nothing
/// reassigns, or a global (`process`, `window`). Not `this` (a class owns those) and not a
/// computed target.
fn target_is_stable(ctx: &FileCtx, e: &Event, owner: ScopeId, target: &str) -> bool {
    let facts = ctx.facts;
    let src = ctx.source;
    if !target.split('.').all(is_identifier) {
        return false;
    }
    let root = target.split('.').next().unwrap_or_default();
    if root == "this" {
        return false;
    }
    let Some(b) = facts.lookup(root, e.scope) else {
        return matches!(root, "process" | "window" | "document" | "globalThis");
    };
    let home = facts.bindings[b].scope;
    let text = if facts.is_module_binding(b) {
        src
    } else {
        let Some(t) = facts.scopes[home]
            .body
            .clone()
            .or_else(|| Some(facts.scopes[owner].span.clone()))
            .and_then(|r| src.get(r))
        else {
            return false;
        };
        t
    };
    !reassigned(text, root)
}

/// `name = …` (not `==`, not a declaration) somewhere in `text`.
pub(super) fn reassigned(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(name).any(|(i, _)| {
        let before = &text[..i];
        let after = &text[i + name.len()..];
        if before
            .chars()
            .next_back()
            .is_some_and(|c| ident(c) || c == '.')
            || after.chars().next().is_some_and(ident)
        {
            return false;
        }
        let rest = after.trim_start();
        let assigns = rest.starts_with('=') && !rest.starts_with("==") && !rest.starts_with("=>")
            || ["+=", "-=", "||=", "&&=", "??=", "++", "--"]
                .iter()
                .any(|op| rest.starts_with(op));
        let decl = ["const ", "let ", "var "]
            .iter()
            .any(|k| before.trim_end_matches(' ').ends_with(k.trim_end()));
        assigns && !decl
    })
}

/// The event argument as written — a string literal or a plain name — when the statement is
/// `target.method(event, handler)` with nothing after the handler.
fn event_argument(
    src: &str,
    e: &Event,
    target: &str,
    method: &str,
    handler_span: &Range<usize>,
) -> Option<String> {
    let head = format!("{target}.{method}(");
    let stmt = src.get(e.stmt.clone())?;
    let inside = e.stmt.start < handler_span.start && handler_span.end <= e.stmt.end;
    if !(stmt.starts_with(&head) && inside) {
        return None;
    }
    let arg = src
        .get(e.stmt.start + head.len()..handler_span.start)?
        .trim()
        .strip_suffix(',')?
        .trim();
    let tail = src.get(handler_span.end..e.stmt.end)?.trim();
    if !matches!(tail, ")" | ");") {
        return None;
    }
    let literal = |q: char| {
        arg.len() >= 2
            && arg.starts_with(q)
            && arg.ends_with(q)
            && !arg[1..arg.len() - 1].contains([q, '\\'])
    };
    (literal('\'') || literal('"') || is_identifier(arg)).then(|| arg.to_string())
}

/// The list `const offs = [];` declared in `body` whose removals `offs.forEach((off) => off())`
/// runs: the one an earlier fix of a registration in the same owner added (or the same shape
/// written by hand).
fn existing_list(body: &str) -> Option<String> {
    const RUN: &str = ".forEach((off) => off())";
    body.match_indices(RUN).find_map(|(i, _)| {
        let before = &body[..i];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .map_or(0, |p| p + 1);
        let name = &before[start..];
        let declared = [
            format!("const {name}: Array<() => void> = [];"),
            format!("const {name} = [];"),
        ];
        (is_identifier(name) && declared.iter().any(|d| body.contains(d.as_str())))
            .then(|| name.to_string())
    })
}

/// The edits that make `owner` — a plain function or method that returns nothing (no `return`,
/// no return type but `void`, not async, not a generator or accessor) — return
/// `() => offs.forEach((off) => off())`; a `: void` return type becomes `: () => void`.
fn returned_unsubscribe(ctx: &FileCtx, owner: ScopeId, offs: &str) -> Option<Vec<Edit>> {
    let r = returns_nothing(ctx, owner)?;
    return_closure(ctx.source, &r, &format!("{offs}.forEach((off) => off())"))
}
