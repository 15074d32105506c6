//! buffer-concat-in-loop: a buffer, array or string rebuilt from itself on every chunk
//! (`buf = Buffer.concat([buf, chunk])`, `s += chunk`, `v = [v, c].concat()`) in a loop or a
//! repeatedly firing callback: quadratic copying and unbounded growth.

use super::*;

pub struct BufferConcatInLoop;

static META: RuleMeta = RuleMeta {
    id: "buffer-concat-in-loop",
    summary: "Buffers/strings re-concatenated on every chunk in loops or data handlers",
    severity: Severity::Warning,
    languages: &["typescript", "javascript", "rust"],
    project: false,
};

impl Rule for BufferConcatInLoop {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx) -> Vec<Diagnostic> {
        let facts = ctx.facts;
        if is_test_file(ctx.path) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in &facts.events {
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
                Diagnostic::new(
                    META.id,
                    META.severity,
                    ctx.path.to_path_buf(),
                    e.span.clone(),
                    format!(
                        "`{name}` is rebuilt from itself {where_}: every chunk copies everything \
                         accumulated so far (quadratic time) and the buffer grows without bound"
                    ),
                )
                .with_help(help),
            );
        }
        out
    }
}
