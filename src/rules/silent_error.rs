//! silent-error: an error swallowed without a trace — an empty `catch`, `.catch(() => {})`,
//! an empty process-level error handler, `Err(_) => {}` — so failures (and the resources they
//! strand) go unnoticed.

use super::*;
use crate::facts::{SwallowedWork, is_resource_op};

pub struct SilentError;

static META: RuleMeta = RuleMeta {
    id: "silent-error",
    summary: "Errors swallowed without logging, rethrowing or counting",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::File,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

impl Rule for SilentError {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx) -> Vec<Diagnostic> {
        let facts = ctx.facts;
        // Tests and benchmarks swallow on purpose (expected failures); the rule is about services.
        if ctx.is_test {
            return Vec::new();
        }
        let minified = std::cell::OnceCell::new();
        facts
            .events
            .iter()
            .filter_map(|e| {
                let EventKind::SwallowedError { what, fix, work } = &e.kind else {
                    return None;
                };
                // The premise: the failed work takes or gives back something (a connection, a
                // file, a call, a subscription) or is a background task. A failed read, parse,
                // publish or setting strands nothing; its swallow is a style question.
                if work.as_deref().is_some_and(|w| !strands_something(w)) {
                    return None;
                }
                // Minified or generated code (a wasm loader's glue, a bundle): nobody reviews
                // or fixes it there; its source is elsewhere.
                if !facts.is_rust && *minified.get_or_init(|| is_minified(ctx.source)) {
                    return None;
                }
                // A best-effort step of a teardown: `.catch(noop)` in the middle of a chain that
                // goes on (`.catch(() => {}).finally(() => this.clearTimers())`), so a failed
                // pause or quit does not stop the rest of the shutdown.
                if !facts.is_rust
                    && fix
                        .as_ref()
                        .is_some_and(|f| chain_goes_on(ctx.source, f.range.end))
                    && runs_during(facts, e.scope, 0, &|s| {
                        facts.is_teardown_scope(s, &|n| ctx.options.is_teardown(n))
                    })
                {
                    return None;
                }
                let help = if facts.is_rust {
                    "log the error with context (`tracing::warn!(error = %e, \"…\")`) and count it, \
                     return it (`?`), or handle the case explicitly; `let _ = …` states that a result \
                     is deliberately ignored"
                } else {
                    "log the error with context (and count it), rethrow it, or handle it; if ignoring \
                     is really intended, say why in a comment and log at debug level"
                };
                let mut d = Some(
                    META.report(ctx.path.to_path_buf(),
                        e.span.clone(),
                        format!(
                            "{what} swallows the error: the failure leaves no log, metric or retry, \
                             and whatever the failed operation held (sockets, timers, sessions) is \
                             left behind unnoticed"
                        ),
                    )
                    .with_help(help),
                );
                // The TypeScript front end's edit, or the Rust builder's from the arm's site.
                let edit = match fix {
                    Some(f) => Some(crate::diagnostic::Edit {
                        file: None,
                        range: f.range.clone(),
                        content: f.text.clone(),
                    }),
                    None => rust_fixes::log_error(facts, ctx.source, e)
                        .or_else(|| rust_fixes::log_if_let(facts, ctx.source, e)),
                };
                // Logging changes what the program does (output, volume): an unsafe fix.
                if let (Some(d), Some(edit)) = (d.as_mut(), edit) {
                    d.fixes.push(crate::diagnostic::Fix {
                        title: "log the error instead of swallowing it".into(),
                        applicability: crate::diagnostic::Applicability::Unsafe,
                        edits: vec![edit],
                    });
                }
                d
            })
            .collect()
    }
}

/// The swallowed work acquires or releases a resource: one of its calls is named for that
/// (`fs.unlink`, `connect`, `hangupCall`, `pool.clean`), it loops in the background, or it is the
/// whole body of a function so named (`async hangup() { await api.update(..).catch(noop) }`).
fn strands_something(work: &SwallowedWork) -> bool {
    work.background_loop
        || work.calls.iter().any(|c| is_resource_op(c))
        || (!work.calls.is_empty() && work.whole_body_of.as_deref().is_some_and(is_resource_op))
}

/// After a `.catch(handler` / `.then(ok, handler` handler ending at `at`: the call closes and the
/// chain goes on with `.then`, `.catch` or `.finally` (comments between are skipped).
fn chain_goes_on(src: &str, at: usize) -> bool {
    let Some(mut rest) = src.get(at..) else {
        return false;
    };
    rest = skip_comments(rest);
    let Some(after) = rest.strip_prefix(')') else {
        return false;
    };
    let after = skip_comments(after);
    [".then(", ".catch(", ".finally("]
        .iter()
        .any(|m| after.starts_with(m))
}

/// `r` without leading whitespace and comments.
fn skip_comments(mut r: &str) -> &str {
    loop {
        let t = r.trim_start();
        if let Some(after) = t.strip_prefix("//") {
            r = after.split_once('\n').map_or("", |(_, x)| x);
        } else if let Some(after) = t.strip_prefix("/*") {
            r = after.split_once("*/").map_or("", |(_, x)| x);
        } else {
            return t;
        }
    }
}

/// Longest line a person writes; past it the file is minified or generated.
const MINIFIED_LINE: usize = 1000;

/// Lines longer than [`MINIFIED_LINE`] bytes hold most of the file: a bundle or generated
/// code, where a reviewer reads nothing. One long data line (an inlined base64 blob, a table)
/// in hand-written code does not silence the rest of the file.
fn is_minified(src: &str) -> bool {
    let long: usize = src
        .lines()
        .map(str::len)
        .filter(|&n| n > MINIFIED_LINE)
        .sum();
    long * 2 > src.len()
}

#[cfg(test)]
mod tests {
    use super::is_minified;

    #[test]
    fn a_bundle_is_minified_but_one_data_line_is_not() {
        let bundle = format!("{}\n//# sourceMappingURL=x.map\n", "a();".repeat(600));
        assert!(is_minified(&bundle));
        let code = "function f() {\n  try { g(); } catch (e) {}\n}\n".repeat(100);
        let with_blob = format!("const LOGO = '{}';\n{code}", "A".repeat(1500));
        assert!(!is_minified(&with_blob));
        assert!(!is_minified(&code));
    }
}
