//! buffer-concat-in-loop: a buffer, array or string rebuilt from itself on every chunk
//! (`buf = Buffer.concat([buf, chunk])`, `s += chunk`, `v = [v, c].concat()`) in a loop or a
//! repeatedly firing callback: quadratic copying and unbounded growth.

use super::*;
use crate::diagnostic::{Applicability, Fix};

pub struct BufferConcatInLoop;

static META: RuleMeta = RuleMeta {
    id: "buffer-concat-in-loop",
    summary: "Buffers/strings re-concatenated on every chunk in loops or data handlers",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::File,
    fix_ts: Fixability::Suggestion,
    fix_rust: Fixability::Safe,
};

/// `out = Buffer.concat([out, chunk]);` / `s += chunk;` → `outChunks.push(chunk);`, with the
/// array declared after `out`. Display-only: every read of `out` must become
/// `Buffer.concat(outChunks)` (or `outChunks.join('')`), which unleak does not track.
fn ts_fix(ctx: &FileCtx, e: &crate::facts::Event, place: &Place) -> Option<Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let Place::Binding(b) = place else {
        return None;
    };
    let name = &facts.bindings[*b].name;
    let stmt = src[e.stmt.clone()].trim_end().trim_end_matches(';');
    let rest = stmt.strip_prefix(name.as_str())?.trim_start();
    let (chunk, join) = if let Some(r) = rest.strip_prefix("+=") {
        (r.trim().to_string(), format!("{name}Chunks.join('')"))
    } else {
        let inner = rest
            .strip_prefix('=')?
            .trim()
            .strip_prefix("Buffer.concat([")?
            .strip_suffix("])")?;
        let chunk = inner
            .strip_prefix(name.as_str())?
            .trim_start()
            .strip_prefix(',')?;
        (
            chunk.trim().to_string(),
            format!("Buffer.concat({name}Chunks)"),
        )
    };
    if chunk.is_empty() || chunk.contains(',') {
        return None;
    }
    let list = unique_name(&format!("{name}Chunks"), |n| name_in_use(facts, src, n));
    let decl = facts.bindings[*b].span.clone();
    let decl_line_end = src[decl.end..]
        .find('\n')
        .map_or(src.len(), |i| decl.end + i);
    let decl_line_end = if src[..decl_line_end].ends_with('\r') {
        decl_line_end - 1
    } else {
        decl_line_end
    };
    let ty = if is_typescript(ctx.path) {
        if join.starts_with("Buffer") {
            ": Buffer[]"
        } else {
            ": string[]"
        }
    } else {
        ""
    };
    let join = join.replace(&format!("{name}Chunks"), &list);
    Some(fix(
        format!(
            "collect the chunks in `{list}` and build `{name}` once where it is read: `{join}`"
        ),
        Applicability::DisplayOnly,
        vec![
            insert_after_statement(
                src,
                decl.start,
                decl_line_end,
                &[format!("const {list}{ty} = [];")],
            ),
            replace(
                e.stmt.start..e.stmt.start + stmt.len(),
                format!("{list}.push({chunk})"),
            ),
        ],
    ))
}

impl Rule for BufferConcatInLoop {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx) -> Vec<Diagnostic> {
        let facts = ctx.facts;
        if ctx.is_test {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in &facts.events {
            if ctx.out_of_time() {
                break; // the engine reports the time-out
            }
            let EventKind::Reconcat { place } = &e.kind else {
                continue;
            };
            let place = facts.resolve(place);
            // The repeating code: the innermost loop, or a callback that fires repeatedly.
            let repeated_scope = facts.ancestors(e.scope).find(|&s| {
                facts.scopes[s].in_loop
                    || matches!(&facts.scopes[s].kind, crate::facts::ScopeKind::Callback(r)
                        if matches!(r.kind, crate::facts::CallbackKind::EventHandler | crate::facts::CallbackKind::Interval | crate::facts::CallbackKind::Iteration))
            });
            if !e.in_loop && repeated_scope.is_none() {
                continue;
            }
            // The value must outlive one iteration: declared outside the loop / callback.
            let outlives = match &place {
                Place::Binding(b) => {
                    let binding = &facts.bindings[*b];
                    if e.in_loop && binding.scope == e.scope {
                        e.loop_span.as_ref().is_some_and(|l| {
                            !(l.start <= binding.span.start && binding.span.end <= l.end)
                        })
                    } else {
                        match repeated_scope {
                            Some(r) => binding.scope != r && facts.is_within(r, binding.scope),
                            None => true,
                        }
                    }
                }
                Place::Field { .. } | Place::Global(_) | Place::Member { .. } => true,
                _ => false,
            };
            if !outlives {
                continue;
            }
            let name = place_text(facts, &place);
            let where_ = if e.in_loop {
                "in a loop".to_string()
            } else {
                format!(
                    "in {}, which runs for every event",
                    describe_scope(facts, repeated_scope.unwrap_or(e.scope))
                )
            };
            let help = if facts.is_rust {
                "append in place (`extend_from_slice`, `push_str`, `+=` on a `String`) into a buffer with \
                 a size cap, or collect the chunks in a `Vec` and join once at the end"
            } else {
                "collect the chunks in an array (`chunks.push(chunk)`) and concatenate once at the end \
                 (`Buffer.concat(chunks)` / `chunks.join('')`), with a size cap"
            };
            out.push(
                META.report(
                    ctx.path.to_path_buf(),
                    e.span.clone(),
                    format!(
                        "`{name}` is rebuilt from itself {where_}: every chunk copies everything \
                         accumulated so far (quadratic time) and the buffer grows without bound"
                    ),
                )
                .with_help(help)
                .with_fixes(rust_fixes::event_fix(facts, ctx.source, e))
                .with_fixes((!facts.is_rust).then(|| ts_fix(ctx, e, &place)).flatten()),
            );
        }
        out
    }
}
