//! A detached deadline task armed by a free function that returns nothing — a watchdog armed for
//! its caller, one expiry timer per item: the function returns the task's `JoinHandle` (a `Vec`
//! of them, in item order, for a loop), so the caller that knows when the guarded work ends can
//! `abort()` it. A dropped `JoinHandle` detaches the task, so a caller that ignores the result
//! behaves as before.

use super::syntax::{FnItem, Outline};
use super::{edit, fix};
use crate::diagnostic::{Applicability, Fix};
use crate::facts::Event;
use crate::fixes::edits::{indent_unit, unique_name};
use crate::fixes::text::{line_indent, newline};

/// The fix for the `tokio::spawn(…);` statement of event `e`; `None` when the function has a
/// return type, a `return`, attributes (`#[test]`, `#[tokio::main]`), is a method or `main`, or
/// the spawn is not a statement directly in its body (or directly in one loop there), or the
/// task's block ends in a value (its output would not be `()`).
pub fn return_handle(src: &str, e: &Event) -> Option<Fix> {
    let callee = src.get(e.span.clone())?;
    if !matches!(callee, "tokio::spawn" | "tokio::task::spawn") || e.stmt.start != e.span.start {
        return None;
    }
    let stmt = src.get(e.stmt.clone())?.trim_end();
    let call = stmt.strip_suffix(';')?.trim_end();
    // `async move { …; }`: the block's last statement ends with `;`, so the output is `()`.
    let inner = call.strip_suffix(')')?.trim_end().strip_suffix('}')?;
    if !inner.trim_end().ends_with(';') {
        return None;
    }
    let outline = Outline::of(src)?;
    let f = outline.fn_at(e.span.start)?.clone();
    plain_free_fn(src, &f)?;
    let body = src.get(f.body.clone())?;
    // Inside a closure of the function: its own scope, not the function's body.
    if outline
        .closures
        .iter()
        .any(|(r, _)| f.span.contains(&r.start) && r.contains(&e.stmt.start))
    {
        return None;
    }
    let loops: Vec<_> = outline
        .loops
        .iter()
        .filter(|l| f.body.contains(&l.start) && l.contains(&e.stmt.start))
        .collect();
    let nl = newline(src);
    let unit = indent_unit(src, 4);
    let taken = |n: &str| body.contains(n);
    let (name, ty, mut edits) = match loops.as_slice() {
        [] => {
            if depth(src, f.body.start, e.stmt.start) != 1 {
                return None;
            }
            let name = unique_name("deadline", taken);
            let store = edit(e.stmt.start..e.stmt.start, format!("let {name} = "));
            (name, "tokio::task::JoinHandle<()>", vec![store])
        }
        [l] => {
            let l = (*l).clone();
            if depth(src, f.body.start, l.start) != 1 || depth(src, l.start, e.stmt.start) != 1 {
                return None;
            }
            let name = unique_name("deadlines", taken);
            let indent = line_indent(src, l.start);
            let stmt_end = e.stmt.start + call.len();
            let edits = vec![
                edit(
                    l.start..l.start,
                    format!("let mut {name} = Vec::new();{nl}{indent}"),
                ),
                edit(e.stmt.start..e.stmt.start, format!("{name}.push(")),
                edit(stmt_end..stmt_end, ")"),
            ];
            (name, "Vec<tokio::task::JoinHandle<()>>", edits)
        }
        _ => return None,
    };
    let head = src.get(f.span.start..f.body.start)?;
    let after_params = f.span.start + head.trim_end().len();
    edits.push(edit(after_params..after_params, format!(" -> {ty}")));
    let close = f.body.end - 1;
    let last = body[..body.len() - 1].trim_end();
    let indent = format!("{}{unit}", line_indent(src, close));
    let at = f.body.start + last.len();
    edits.push(edit(at..at, format!("{nl}{indent}{name}")));
    let what = if loops.is_empty() {
        "the deadline task's handle"
    } else {
        "the deadline tasks' handles (one per item, in order)"
    };
    fix(
        format!(
            "return {what} from `{}()`, so the caller can `abort()` a deadline once the work it \
             guards is done (a dropped handle leaves the task running, as before)",
            f.name
        ),
        Applicability::Unsafe,
        edits,
    )
}

/// A free function (not a method, not `main`) with no return type, no `return`, no attribute
/// and no `where` clause.
fn plain_free_fn(src: &str, f: &FnItem) -> Option<()> {
    if f.impl_ty.is_some() || f.output.is_some() || f.name == "main" {
        return None;
    }
    let head = src.get(f.span.start..f.body.start)?;
    let body = src.get(f.body.clone())?;
    let line = crate::fixes::text::line_start(src, f.span.start);
    let above = src.get(..line)?.trim_end();
    let attributed = head.contains("#[") || above.ends_with(']');
    let returns = body.match_indices("return").any(|(i, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        !body[..i].chars().next_back().is_some_and(ident)
            && !body[i + 6..].chars().next().is_some_and(ident)
    });
    (!attributed && !returns && !head.contains("where")).then_some(())
}

/// How many braces are open at `at`, counted from `from` (a block's `{`).
fn depth(src: &str, from: usize, at: usize) -> i64 {
    let text = src.get(from..at).unwrap_or_default();
    text.matches('{').count() as i64 - text.matches('}').count() as i64
}
