//! Fixes for spawned tasks: a drop guard that aborts a detached deadline task, a `select!` that
//! ends an endless ticking loop on a shutdown token.

use std::ops::Range;

use syn::Expr;

use super::{edit, fix, print};
use super::{existing_static, item_insertion_point};
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{Event, FileFacts};
use crate::fixes::edits::unique_name;
use crate::fixes::text::{line_indent, newline};

/// A detached sleep-then-signal task (`e`, spawned by the call `call`): keep its handle in a
/// guard that aborts it when the function returns, however it returns (the `finally` of Rust).
/// `nth`: how many such guards come earlier in the same function (their type is numbered).
pub(super) fn abort_on_drop(
    src: &str,
    e: &Event,
    call: &Range<usize>,
    nth: usize,
    what: &str,
) -> Option<Fix> {
    let end = call.end;
    // Only `spawn(…);` (or `let _ = spawn(…);`) as a statement of its own.
    let head_text = src.get(e.stmt.start..e.span.start)?;
    let discarded = head_text.split_whitespace().collect::<String>() == "let_=";
    if !(e.stmt.start == e.span.start || discarded)
        || !src.get(end..e.stmt.end)?.trim().starts_with(';')
    {
        return None;
    }
    // A thread cannot be aborted: `std::thread::JoinHandle` has no `abort`.
    let callee = src.get(call.clone())?;
    if callee.starts_with("std::thread::") || callee.starts_with("thread::") {
        return None;
    }
    let ty = if nth == 0 {
        "AbortOnDrop".to_string()
    } else {
        format!("AbortOnDrop{}", nth + 1)
    };
    let ident = syn::Ident::new(&ty, proc_macro2::Span::call_site());
    let guard = print::stmts(quote::quote! {
        /// Aborts the task when this function returns, however it returns.
        struct #ident<T>(tokio::task::JoinHandle<T>);
        impl<T> Drop for #ident<T> {
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
    let base = if what.starts_with("deadline") {
        "_deadline"
    } else {
        "_task"
    };
    head.push_str(&format!(
        "let {base}{} = {ty}(",
        if nth == 0 {
            String::new()
        } else {
            (nth + 1).to_string()
        }
    ));
    fix(
        format!("abort the {what} when the function returns (a drop guard)"),
        Applicability::Unsafe,
        vec![edit(e.stmt.start..e.span.start, head), edit(end..end, ")")],
    )
}

/// A detached deadline or watchdog task that no drop guard fits (the function returns at once,
/// arming it for its caller; a thread; one per item of a loop): the handle returned to the
/// caller when the function returns nothing ([`super::handles::return_handle`]); otherwise a
/// suggestion that keeps the handle where the work that the deadline guards can cancel it
/// (display-only: who cancels it, and when, is the caller's choice).
pub fn deadline_suggestion(src: &str, e: &Event) -> Option<Fix> {
    if let Some(f) = super::handles::return_handle(src, e) {
        return Some(f);
    }
    let stmt = src.get(e.stmt.clone())?;
    if e.stmt.start != e.span.start || !stmt.trim_end().ends_with(';') {
        return None;
    }
    let callee = src.get(e.span.clone())?;
    let thread = callee.starts_with("std::thread::") || callee.starts_with("thread::");
    let nl = newline(src);
    let indent = line_indent(src, e.stmt.start);
    if thread {
        // A thread cannot be aborted: it must wait on something the work can signal.
        let body = stmt;
        let sleep = body.find("thread::sleep(")?;
        let sleep_start = body[..sleep].rfind(|c: char| c.is_whitespace() || c == '{')? + 1;
        let close = crate::fixes::edits::call_end(body, sleep + "thread::sleep".len())?;
        let dur = body.get(sleep + "thread::sleep(".len()..close - 1)?;
        let at = e.stmt.start + sleep_start;
        let end = e.stmt.start + close + usize::from(body[close..].starts_with(';'));
        return fix(
            "let the work cancel the watchdog: wait on a channel with `recv_timeout` instead of              sleeping, and send (or drop the sender) when the work is done",
            Applicability::DisplayOnly,
            vec![
                edit(
                    e.stmt.start..e.stmt.start,
                    format!(
                        "let (cancel, cancelled) = std::sync::mpsc::channel::<()>();{nl}{indent}"
                    ),
                ),
                edit(
                    at..end,
                    format!(
                        "if cancelled.recv_timeout({dur}) != Err(std::sync::mpsc::RecvTimeoutError::Timeout) {{ return; }}"
                    ),
                ),
            ],
        );
    }
    fix(
        "keep the deadline task's handle and `abort()` it once the work it guards is done",
        Applicability::DisplayOnly,
        vec![
            edit(e.stmt.start..e.stmt.start, "let deadline = "),
            edit(
                e.stmt.end..e.stmt.end,
                format!("{nl}{indent}// Call `deadline.abort()` where the guarded work ends."),
            ),
        ],
    )
}

/// An endless ticking loop (`tick`: its first tick or sleep statement): give it a way out
/// through a process-wide stop signal declared in the same module, which the shutdown path
/// gives. An async loop selects on a `CancellationToken` next to the tick; a thread loop
/// checks an `AtomicBool` before it sleeps. Unsafe: the loop now ends once the signal is given
/// (and nothing changes until some shutdown path gives it).
pub(super) fn cancellable_tick(facts: &FileFacts, src: &str, tick: &Range<usize>) -> Option<Fix> {
    let text = src.get(tick.clone())?.trim().trim_end_matches(';');
    let indent = line_indent(src, tick.start);
    let nl = newline(src);
    let awaited = text.strip_suffix(".await");
    let tick_expr: Expr = print::parse(awaited.unwrap_or(text))?;
    if awaited.is_none() && !matches!(tick_expr, Expr::Call(_) | Expr::MethodCall(_)) {
        return None;
    }
    let (type_text, base) = if awaited.is_some() {
        (
            "std::sync::LazyLock<tokio_util::sync::CancellationToken>",
            "SHUTDOWN",
        )
    } else {
        ("std::sync::atomic::AtomicBool", "STOP")
    };
    // One signal per module: a fix made earlier (for another loop of this file) declared it.
    let existing = existing_static(src, type_text);
    let name = existing
        .clone()
        .unwrap_or_else(|| unique_name(base, |n| facts.has_word(src, n)));
    let ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
    let mut edits = Vec::new();
    if existing.is_none() {
        let item = if awaited.is_some() {
            print::items(quote::quote! {
                /// Cancelled on shutdown: ends this module's background loops. Cancel it from
                /// the shutdown path (the SIGTERM/Ctrl-C handler).
                pub(crate) static #ident: std::sync::LazyLock<tokio_util::sync::CancellationToken> =
                    std::sync::LazyLock::new(tokio_util::sync::CancellationToken::new);
            })?
        } else {
            print::items(quote::quote! {
                /// Set on shutdown: ends this module's background threads. Set it from the
                /// shutdown path (the SIGTERM/Ctrl-C handler).
                pub(crate) static #ident: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
            })?
        };
        let at = item_insertion_point(src);
        edits.push(edit(
            at..at,
            format!("{nl}{}{nl}", item.trim_end().replace('\n', nl)),
        ));
    }
    let (code, title) = if awaited.is_some() {
        (
            print::stmts(quote::quote! {
                tokio::select! {
                    _ = #ident.cancelled() => break,
                    _ = #tick_expr => {}
                }
            })?,
            format!(
                "end the loop when `{name}` (a `CancellationToken` of this module) is \
                 cancelled; cancel it on shutdown"
            ),
        )
    } else {
        (
            print::stmts(quote::quote! {
                if #ident.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                #tick_expr;
            })?,
            format!(
                "end the loop once `{name}` (a stop flag of this module) is set; set it on \
                 shutdown"
            ),
        )
    };
    edits.push(edit(tick.clone(), print::indent(&code, indent, nl)));
    fix(title, Applicability::Unsafe, edits)
}

/// A task whose `JoinHandle` is kept in field `field` of `owner` (a type of this file without
/// `Drop`): abort it when the owner is dropped, with an `impl Drop` after the type's
/// declaration. Only for a field that holds the handle itself or an `Option` of it, and a
/// type whose declaration re-parses; the impl repeats the type's generics and bounds (as a
/// `Drop` impl must). Unsafe: the task now stops with its owner.
pub fn abort_in_drop(src: &str, owner: &str, field: &str) -> Option<Fix> {
    let (decl, item) = find_struct(src, owner)?;
    let syn::Fields::Named(fields) = &item.fields else {
        return None;
    };
    let f = fields
        .named
        .iter()
        .find(|f| f.ident.as_ref().is_some_and(|i| i == field))?;
    let field_ident = f.ident.clone()?;
    let last = |ty: &syn::Type| match ty {
        syn::Type::Path(p) => p.path.segments.last().cloned(),
        _ => None,
    };
    let seg = last(&f.ty)?;
    let body = if seg.ident == "JoinHandle" {
        quote::quote! { self.#field_ident.abort(); }
    } else if seg.ident == "Option" {
        let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
            return None;
        };
        let Some(syn::GenericArgument::Type(inner)) = args.args.first() else {
            return None;
        };
        if last(inner)?.ident != "JoinHandle" {
            return None;
        }
        quote::quote! {
            if let Some(task) = &self.#field_ident {
                task.abort();
            }
        }
    } else if let Some(arms) = enum_handles(src, &seg.ident.to_string()) {
        // An enum of this file with variants holding the handle (`Inner::Future(JoinHandle)`).
        let e = &seg.ident;
        let pats: Vec<_> = arms
            .iter()
            .map(|v| {
                let v = syn::Ident::new(v, proc_macro2::Span::call_site());
                quote::quote! { #e::#v(task) }
            })
            .collect();
        quote::quote! {
            if let #(#pats)|* = &self.#field_ident {
                task.abort();
            }
        }
    } else {
        return None;
    };
    let name = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let code = print::items(quote::quote! {
        impl #impl_generics Drop for #name #ty_generics #where_clause {
            /// Aborts the task when its owner goes: dropping it would detach the task.
            fn drop(&mut self) {
                #body
            }
        }
    })?;
    let nl = newline(src);
    fix(
        format!("abort the task in `{field}` when a `{owner}` is dropped (`impl Drop`)"),
        Applicability::Unsafe,
        vec![edit(
            decl.end..decl.end,
            format!("{nl}{nl}{}", code.trim_end().replace('\n', nl)),
        )],
    )
}

/// The variants of the enum `name` declared in `src` that hold one `JoinHandle` (a tuple
/// variant of one field), or `None` when there is no such enum or no such variant.
fn enum_handles(src: &str, name: &str) -> Option<Vec<String>> {
    let file = syn::parse_file(src).ok();
    proc_macro2::extra::invalidate_current_thread_spans();
    let e = file?.items.into_iter().find_map(|i| match i {
        syn::Item::Enum(e) if e.ident == name => Some(e),
        _ => None,
    })?;
    let out: Vec<String> = e
        .variants
        .iter()
        .filter(|v| match &v.fields {
            syn::Fields::Unnamed(f) if f.unnamed.len() == 1 => matches!(
                &f.unnamed[0].ty,
                syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "JoinHandle")
            ),
            _ => false,
        })
        .map(|v| v.ident.to_string())
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The declaration `struct {name} … { … }` of `src` (its span, from `struct` or the
/// visibility before it) re-parsed.
fn find_struct(src: &str, name: &str) -> Option<(Range<usize>, syn::ItemStruct)> {
    let mut from = 0;
    while let Some(i) = src[from..].find("struct ") {
        let at = from + i;
        from = at + 7;
        let rest = &src[from..];
        let Some(after) = rest.strip_prefix(name) else {
            continue;
        };
        if !after.starts_with(|c: char| c == '<' || c == '{' || c.is_whitespace()) {
            continue;
        }
        // Only a declaration at the start of its line (after a visibility).
        let start = crate::fixes::text::line_start(src, at);
        let head = src[start..at].trim();
        if !(head.is_empty() || head.starts_with("pub")) {
            continue;
        }
        let open = from + rest.find('{')?;
        let mut depth = 0usize;
        let mut end = None;
        for (j, c) in src[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(open + j + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end?;
        let decl_start = start + (src[start..at].len() - src[start..at].trim_start().len());
        let item = print::parse::<syn::ItemStruct>(&src[decl_start..end])?;
        return Some((decl_start..end, item));
    }
    None
}

/// An endless task loop whose receive stays in the loop when its channel closes
/// ([`FixSite::ClosedRecv`](crate::facts::FixSite::ClosedRecv)): make the closed case leave it.
/// The closed arm's body ends with `break` (`None => {}` → `None => break`, a block gets
/// `break;` as its last statement, another expression becomes `{ expr; break; }`); a broadcast
/// receiver's `Err(..)` arm gets a `Closed => break` arm before it, so a lag still goes on; an
/// `if let` without `else` gets `else { break; }`. Unsafe: the task now ends when the channel
/// closes, and whatever follows the loop runs.
pub(super) fn break_when_closed(
    src: &str,
    at: &Range<usize>,
    exit: crate::facts::ClosedExit,
) -> Option<Fix> {
    use crate::facts::ClosedExit;
    let nl = newline(src);
    let text = src.get(at.clone())?;
    let edits = match exit {
        ClosedExit::Unsure => return None,
        ClosedExit::NoElse => vec![edit(at.end..at.end, " else { break; }")],
        ClosedExit::BroadcastArm => {
            let indent = line_indent(src, at.start);
            vec![edit(
                at.start..at.start,
                format!(
                    "Err(tokio::sync::broadcast::error::RecvError::Closed) => break,{nl}{indent}"
                ),
            )]
        }
        ClosedExit::Arm => {
            let inner = text.trim();
            if inner.starts_with('{') && inner.ends_with('}') {
                let body = inner[1..inner.len() - 1].trim();
                if body.is_empty() {
                    vec![edit(at.clone(), "break")]
                } else {
                    // `break;` on a line of its own, after the block's last statement.
                    let close = at.start + text.rfind('}')?;
                    let last = src[..close].trim_end();
                    let indent = line_indent(src, close);
                    let unit = if text.contains(nl) { "    " } else { "" };
                    let sep = if last.ends_with(';') || last.ends_with('}') {
                        ""
                    } else {
                        ";"
                    };
                    let (from, to) = (last.len(), close);
                    if text.contains(nl) {
                        vec![edit(
                            from..to,
                            format!("{sep}{nl}{indent}{unit}break;{nl}{indent}"),
                        )]
                    } else {
                        vec![edit(from..to, format!("{sep} break; "))]
                    }
                }
            } else {
                vec![edit(at.clone(), format!("{{ {inner}; break; }}"))]
            }
        }
    };
    if !super::syntax::parses(&super::syntax::apply(src, &edits)?) {
        return None;
    }
    fix(
        "leave the loop when the channel closes",
        Applicability::Unsafe,
        edits,
    )
}
