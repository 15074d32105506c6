//! unremoved-listener: a target that a getter hands back. `createClient(settings).then((client)
//! => client.on('error', h))` registers on whatever `createClient` resolved to; when the
//! function's summary says it may return its parameter as it is (`return settings`,
//! `return Promise.resolve(client)` with `client = settings`), and the registering code passed
//! in an object it did not create (`this.settings.redis`, a parameter, a module binding), the
//! target is that object — shared with whoever else was given it — not a fresh one.

use super::*;
use crate::facts::{BindingKind, CallbackKind, Event};
use crate::summaries::ProjectSummaries;

/// When `target` is the value a call hands back to a `.then` callback and that value may be
/// the caller's own object: the call as written and the argument it may return.
pub(super) fn handed_back(
    ctx: &FileCtx,
    summaries: &ProjectSummaries,
    e: &Event,
    target: &Place,
) -> Option<(String, String)> {
    let facts = ctx.facts;
    let Place::Binding(b) = target else {
        return None;
    };
    let binding = &facts.bindings[*b];
    if binding.kind != BindingKind::Param || !facts.is_within(e.scope, binding.scope) {
        return None;
    }
    let scope = &facts.scopes[binding.scope];
    let ScopeKind::Callback(r) = &scope.kind else {
        return None;
    };
    if r.kind != CallbackKind::Continuation || r.method != "then" || r.arg_index != 0 {
        return None;
    }
    if scope.params.first() != Some(&binding.name) {
        return None;
    }
    let (callee, args) = split_call(
        r.callee
            .strip_suffix("then")?
            .trim_end()
            .strip_suffix('.')?,
    )?;
    let returned = returned_params(ctx, summaries, binding.scope, &callee)?;
    let arg = returned
        .iter()
        .filter_map(|&i| args.get(usize::from(i)))
        .find(|a| not_made_here(facts, binding.scope, a))?;
    Some((format!("{callee}(…)"), arg.clone()))
}

/// `a.b(x, y)` → (`a.b`, [`x`, `y`]), whitespace removed from the callee; `None` unless the
/// text is one call.
fn split_call(text: &str) -> Option<(String, Vec<String>)> {
    let text = text.trim();
    let body = text.strip_suffix(')')?;
    let mut depth = 0usize;
    let mut open = None;
    for (i, c) in body.char_indices().rev() {
        match c {
            ')' | ']' | '}' => depth += 1,
            '(' | '[' | '{' if depth > 0 => depth -= 1,
            '(' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
    }
    let open = open?;
    let callee: String = body[..open]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if callee.is_empty()
        || !callee
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'))
    {
        return None;
    }
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in body[open + 1..].chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                args.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        args.push(cur.trim().to_string());
    }
    Some((callee, args))
}

/// The parameters the function `callee` (as written at `scope`) may return as they are, from
/// its summary: a function of this file, or one imported from a project module.
fn returned_params(
    ctx: &FileCtx,
    summaries: &ProjectSummaries,
    scope: ScopeId,
    callee: &str,
) -> Option<Vec<u8>> {
    let facts = ctx.facts;
    let (head, name) = match callee.rsplit_once('.') {
        Some((h, n)) if !h.contains('.') => (h, n),
        Some(_) => return None,
        None => (callee, callee),
    };
    let f = match &facts.bindings[facts.lookup(head, scope)?].kind {
        BindingKind::Import { source, imported } => {
            let name = if head == callee {
                imported.as_str()
            } else {
                name
            };
            summaries.imported_function(ctx.path, source, name)?
        }
        BindingKind::Function(s) if head == callee => summaries
            .file(ctx.path)?
            .functions
            .iter()
            .find(|f| f.scope == *s)?,
        _ => return None,
    };
    (!f.returns_params.is_empty()).then(|| f.returns_params.clone())
}

/// The argument names an object the registering code did not create: `this.x…`, a parameter
/// or a module-level binding (not a literal, a `new`, a call).
fn not_made_here(facts: &FileFacts, scope: ScopeId, arg: &str) -> bool {
    if arg.starts_with("this.") {
        return true;
    }
    let root = arg.split('.').next().unwrap_or(arg);
    if root.is_empty()
        || !root
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    {
        return false;
    }
    facts
        .lookup(root, scope)
        .is_some_and(|b| facts.bindings[b].kind == BindingKind::Param || facts.is_module_binding(b))
}

#[cfg(test)]
mod tests {
    use super::split_call;

    #[test]
    fn splits_one_call_into_callee_and_top_level_arguments() {
        let (callee, args) =
            split_call("redis\n  .createClient(this.settings.redis, f(a, b), { x: 1 })").unwrap();
        assert_eq!(callee, "redis.createClient");
        assert_eq!(args, ["this.settings.redis", "f(a, b)", "{ x: 1 }"]);
        assert!(split_call("a.b(c).d").is_none());
        assert!(split_call("make()[0](x)").is_none());
    }
}
