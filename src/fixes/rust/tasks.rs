//! Fixes for spawned tasks: a drop guard that aborts a detached deadline task, a `select!` that
//! ends an endless ticking loop on a shutdown token.

use std::ops::Range;

use syn::Expr;

use super::{edit, fix, print};
use crate::diagnostic::{Applicability, Fix};
use crate::facts::Event;
use crate::fixes::text::{line_indent, newline};

/// A detached sleep-then-signal task (`e`, spawned by the call `call`): keep its handle in a
/// guard that aborts it when the function returns, however it returns (the `finally` of Rust).
pub(super) fn abort_on_drop(src: &str, e: &Event, call: &Range<usize>) -> Option<Fix> {
    let end = call.end;
    // Only `spawn(…);` as a statement of its own.
    if e.stmt.start != e.span.start || !src.get(end..e.stmt.end)?.trim().starts_with(';') {
        return None;
    }
    let guard = print::stmts(quote::quote! {
        /// Aborts the deadline task when this function returns, however it returns.
        struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
        impl<T> Drop for AbortOnDrop<T> {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
    })?;
    let nl = newline(src);
    let indent = line_indent(src, e.stmt.start);
    let mut head = print::indent(&guard, indent, nl);
    head.push_str(nl);
    head.push_str(indent);
    head.push_str("let _deadline = AbortOnDrop(");
    fix(
        "abort the deadline task when the function returns (a drop guard)",
        Applicability::Unsafe,
        vec![edit(e.stmt.start..e.stmt.start, head), edit(end..end, ")")],
    )
}

/// An endless ticking loop: select on a shutdown token next to the tick statement `tick`.
/// Display-only: the token has to come from the caller (a parameter or the app state).
pub(super) fn cancellable_tick(src: &str, tick: &Range<usize>) -> Option<Fix> {
    let text = src.get(tick.clone())?.trim().trim_end_matches(';');
    let tick_expr: Expr = print::parse(text.strip_suffix(".await")?)?;
    let select = print::stmts(quote::quote! {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = #tick_expr => {}
        }
    })?;
    let indent = line_indent(src, tick.start);
    fix(
        "end the loop when a shutdown `CancellationToken` is cancelled (pass the token \
         `shutdown` in and cancel it on SIGTERM)",
        Applicability::DisplayOnly,
        vec![edit(
            tick.clone(),
            print::indent(&select, indent, newline(src)),
        )],
    )
}
