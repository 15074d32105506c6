//! Fixes for growth without bound: bound a channel or an LRU cache, append in place instead of
//! rebuilding a buffer from itself.

use std::ops::Range;

use syn::Expr;

use super::{edit, fix, print};
use crate::diagnostic::{Applicability, Fix};
use crate::fixes::text::newline;

/// The call at `call` re-parsed, with the path it calls.
fn parse_call(src: &str, call: &Range<usize>) -> Option<(syn::ExprCall, syn::Path)> {
    let Expr::Call(c) = print::parse::<Expr>(src.get(call.clone())?)? else {
        return None;
    };
    let Expr::Path(p) = &*c.func else {
        return None;
    };
    let path = p.path.clone();
    Some((c, path))
}

/// `mpsc::unbounded_channel::<T>()` → `mpsc::channel::<T>(1024)` (and `crossbeam`/`flume`
/// `unbounded()` → `bounded(1024)`). A suggestion only: every `send` must then decide what a
/// full channel does (`send(..).await`, `try_send`), which the call sites do not show.
pub(super) fn bounded_channel(src: &str, call: &Range<usize>) -> Option<Fix> {
    let (_, mut path) = parse_call(src, call)?;
    let last = path.segments.last_mut()?;
    // `futures::channel::mpsc::unbounded()`'s twin is `channel(N)`; crossbeam's and flume's
    // is `bounded(N)`.
    let path_text = src.get(call.clone())?;
    let futures = !path_text.contains("crossbeam")
        && !path_text.contains("flume")
        && [
            "futures::channel::mpsc",
            "futures_channel::mpsc",
            "futures::sync::mpsc",
        ]
        .iter()
        .any(|m| src.contains(m));
    let bounded = match last.ident.to_string().as_str() {
        "unbounded_channel" => "channel",
        "unbounded" if futures => "channel",
        "unbounded" => "bounded",
        _ => return None,
    };
    last.ident = syn::Ident::new(bounded, last.ident.span());
    let new: Expr = syn::parse_quote!(#path(1024));
    let text = print::expr(&new)?;
    fix(
        format!(
            "bound the channel (`{text}`) and decide what a full channel does at each send: \
             wait (`send(..).await`), drop (`try_send`) or disconnect the slow consumer"
        ),
        Applicability::DisplayOnly,
        vec![edit(call.clone(), text)],
    )
}

/// `LruCache::unbounded()` → `LruCache::new(NonZeroUsize::new(10_000).expect(..))`.
pub(super) fn bounded_lru(src: &str, call: &Range<usize>) -> Option<Fix> {
    let (c, mut path) = parse_call(src, call)?;
    if !c.args.is_empty() || path.segments.last()?.ident != "unbounded" {
        return None;
    }
    if let Some(l) = path.segments.last_mut() {
        l.ident = syn::Ident::new("new", l.ident.span());
    }
    let bounded: Expr = syn::parse_quote!(
        #path(std::num::NonZeroUsize::new(10_000).expect("a non-zero capacity"))
    );
    let text = print::expr(&bounded)?;
    fix(
        "keep at most 10,000 entries (least recently used evicted)",
        Applicability::Unsafe,
        vec![edit(call.clone(), text)],
    )
}

/// `v = [v, chunk].concat()`, `s = s + &x`, `s = s.clone() + ..` (the assignment at `assign`):
/// `v = [v.as_slice(), x].concat()` → `v.extend_from_slice(x)`; `s = s + x` → `s += x`: the
/// same value, appended in place instead of copied. Safe: behaviour is kept.
pub(super) fn append_in_place(src: &str, assign: &Range<usize>) -> Option<Fix> {
    let Expr::Assign(a) = print::parse::<Expr>(src.get(assign.clone())?)? else {
        return None;
    };
    let left = &a.left;
    let new: Expr = match &*a.right {
        Expr::MethodCall(m) if m.method == "concat" => {
            let Expr::Array(arr) = &*m.receiver else {
                return None;
            };
            let mut elems = arr.elems.iter();
            let first = elems.next()?;
            let rest: Vec<&Expr> = elems.collect();
            let [one] = rest.as_slice() else {
                return None;
            };
            let (method, one): (&str, Expr) = match first {
                Expr::MethodCall(first) if first.method == "as_slice" => {
                    ("extend_from_slice", (*one).clone())
                }
                Expr::MethodCall(first) if first.method == "as_str" => ("push_str", (*one).clone()),
                // `[v, x].concat()` of owned values: append a borrow of `x` (without the copy
                // a `.clone()` made), by the type the buffer is declared with.
                first if print::expr(first)? == print::expr(left)? => {
                    let name = print::expr(left)?;
                    let decl = src[..assign.start].rfind(&format!("let mut {name}"))?;
                    let line = src[decl..].lines().next()?;
                    let method = if line.contains("String") {
                        "push_str"
                    } else if line.contains("Vec") || line.contains("vec!") {
                        "extend_from_slice"
                    } else {
                        return None;
                    };
                    let inner = match one {
                        Expr::MethodCall(c) if c.method == "clone" && c.args.is_empty() => {
                            (*c.receiver).clone()
                        }
                        other => (*other).clone(),
                    };
                    (method, syn::parse_quote!(&#inner))
                }
                _ => return None,
            };
            let method = syn::Ident::new(method, proc_macro2::Span::call_site());
            syn::parse_quote!(#left.#method(#one))
        }
        // `s = format!("{s}…", ..)`: push the rest of the text instead of copying `s` into it.
        Expr::Macro(m) if m.mac.path.is_ident("format") => {
            let name = print::expr(left)?;
            let args = m
                .mac
                .parse_body_with(
                    syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated,
                )
                .ok()?;
            // Only inline arguments (`{x}`): positional ones would shift.
            let [
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(lit),
                    ..
                }),
            ] = args.iter().collect::<Vec<_>>()[..]
            else {
                return None;
            };
            let value = lit.value();
            let rest = value.strip_prefix(&format!("{{{name}}}"))?;
            if rest.contains(&format!("{{{name}")) || rest.contains("{}") {
                return None;
            }
            let lit = syn::LitStr::new(rest, lit.span());
            syn::parse_quote!(#left.push_str(&format!(#lit)))
        }
        Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_)) => {
            let right = &b.right;
            syn::parse_quote!(#left += #right)
        }
        _ => return None,
    };
    // The printer ends a compound assignment with `;`; the statement's own stays after it.
    let text = print::expr(&new)?
        .trim_end()
        .trim_end_matches(';')
        .to_string();
    if text.contains('\n') {
        return None;
    }
    fix(
        format!("append in place: `{text}`"),
        Applicability::Safe,
        vec![edit(assign.clone(), text)],
    )
}

/// The growth call `R.method(args)` spanned by `call`, re-parsed: the receiver's text and the
/// call's arguments.
fn growth_call(src: &str, call: &Range<usize>) -> Option<(String, String, Vec<Expr>)> {
    let text = src.get(call.clone())?;
    let Expr::MethodCall(m) = print::parse::<Expr>(text)? else {
        return None;
    };
    let dot = text.rfind(&format!(".{}", m.method))?;
    Some((
        text[..dot].trim_end().to_string(),
        m.method.to_string(),
        m.args.into_iter().collect(),
    ))
}

/// A list (`Vec`/`VecDeque` behind a lock) that only grows: after each growth statement
/// (`R.push(x);`, `R.push_back(x);`, spanned by `(call, stmt)`), an `if` that drops the oldest
/// entries beyond 10,000 through the same receiver. Unsafe: entries now leave.
pub fn cap_list(src: &str, field: &str, growth: &[(Range<usize>, Range<usize>)]) -> Option<Fix> {
    let mut edits = Vec::new();
    let nl = newline(src);
    for (call, stmt) in growth {
        let (receiver, method, _) = growth_call(src, call)?;
        if !matches!(method.as_str(), "push" | "push_back")
            || !receiver.contains(&format!(".{field}"))
            || !src.get(stmt.clone())?.trim_end().ends_with(';')
        {
            return None;
        }
        let r: Expr = print::parse(&receiver)?;
        // Through the receiver each time (a guard taken per statement, as the growth does).
        let code = print::stmts(quote::quote! {
            if #r.len() > 10_000 {
                let excess = #r.len() - 10_000;
                #r.drain(..excess);
            }
        })?;
        let indent = crate::fixes::text::line_indent(src, stmt.start);
        let at = stmt.end;
        edits.push(edit(
            at..at,
            format!(
                "{nl}{indent}// Keep the newest 10,000 entries.{nl}{indent}{}",
                print::indent(&code, indent, nl)
            ),
        ));
    }
    if edits.is_empty() {
        return None;
    }
    fix(
        format!("cap `{field}` at 10,000 entries, dropping the oldest"),
        Applicability::Unsafe,
        edits,
    )
}

/// A map entry inserted with a key named like a parameter of a method that ends that entry
/// (`create()` inserts `id.clone()`; `end(&self, id: &str)` ends session `id`): remove it at
/// the end of that method (`method`: its whole `fn` item; `body`: its braces), through the
/// receiver the insert used (`self.sessions.lock().unwrap().remove(id);`). `None` when the
/// method keeps a guard of the map in a local (removing there would deadlock) or the receiver
/// is not reached through `self`. Unsafe: entries now leave.
pub fn remove_in_method(
    src: &str,
    field: &str,
    insert: &Range<usize>,
    method: &Range<usize>,
) -> Option<(String, crate::diagnostic::Edit)> {
    let (receiver, m, args) = growth_call(src, insert)?;
    if m != "insert" || !receiver.starts_with(&format!("self.{field}")) {
        return None;
    }
    let key = key_root(args.first()?)?;
    let item: syn::ImplItemFn = print::parse(src.get(method.clone())?)?;
    let by_ref = item.sig.inputs.iter().find_map(|a| match a {
        syn::FnArg::Typed(t) => match &*t.pat {
            syn::Pat::Ident(i) if i.ident == key => Some(matches!(*t.ty, syn::Type::Reference(_))),
            _ => None,
        },
        _ => None,
    })?;
    let body = &fn_body(src, method)?;
    let text = src.get(body.clone())?;
    if text.contains(&format!("self.{field}.")) && text.contains("let ") {
        return None;
    }
    let r: Expr = print::parse(&receiver)?;
    let k = syn::Ident::new(&key, proc_macro2::Span::call_site());
    let call = if by_ref {
        print::stmts(quote::quote! { #r.remove(#k); })?
    } else {
        print::stmts(quote::quote! { #r.remove(&#k); })?
    };
    let unit = crate::fixes::text::indent_unit(src, 4);
    let e = crate::fixes::edits::append_to_block(src, body, &[call], &unit)?;
    // The method still parses with the statement in (the braces were found by counting).
    let mut fixed = src[method.start..e.range.start].to_string();
    fixed.push_str(&e.content);
    fixed.push_str(&src[e.range.end..method.end]);
    print::parse::<syn::ImplItemFn>(&fixed)?;
    Some((item.sig.ident.to_string(), e))
}

/// The body `{ … }` of the `fn` item spanning `method`: its last `}` and the `{` it closes.
fn fn_body(src: &str, method: &Range<usize>) -> Option<Range<usize>> {
    let text = src.get(method.clone())?.trim_end();
    if !text.ends_with('}') {
        return None;
    }
    let close = method.start + text.len() - 1;
    let mut depth = 0usize;
    for (i, c) in src[method.start..=close].char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' => {
                depth -= 1;
                if depth == 0 {
                    return Some(method.start + i..close + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The variable a key expression is built from: `id`, `id.clone()`, `id.to_string()`, `&id`.
fn key_root(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        Expr::Reference(r) => key_root(&r.expr),
        Expr::MethodCall(m)
            if m.args.is_empty()
                && matches!(
                    m.method.to_string().as_str(),
                    "clone" | "to_string" | "to_owned" | "into"
                ) =>
        {
            key_root(&m.receiver)
        }
        _ => None,
    }
}

/// `let (tx, rx) = mpsc::unbounded_channel();` (the statement `stmt`, the call `call`) inside
/// the function spanning `func`, whose sender and its clones only ever `send(..)` (and are
/// cloned, dropped or asked `is_closed()`) and whose receiver only receives, all within that
/// function: bound it at 1,024 messages and make every send a `try_send(..)`, which drops the
/// message when the consumer is 1,024 behind (a send that works in sync closures too). `None`
/// when a handle leaves the function or the file names the unbounded types. Unsafe: a slow
/// consumer now loses messages instead of the process growing without bound. A send whose
/// failure ends a loop (`.is_err()`) still ends it only when the channel is closed.
pub fn bounded_channel_try_send(
    src: &str,
    stmt: &Range<usize>,
    call: &Range<usize>,
    func: &Range<usize>,
) -> Option<Fix> {
    if src.contains("UnboundedSender") || src.contains("UnboundedReceiver") {
        return None;
    }
    let (_, mut path) = parse_call(src, call)?;
    let last = path.segments.last_mut()?;
    if last.ident != "unbounded_channel" {
        return None;
    }
    last.ident = syn::Ident::new("channel", last.ident.span());
    let (tx, rx) = print::tuple_pair(src, stmt)?;
    let body = src.get(stmt.end..func.end)?;
    let at = stmt.end;
    // The sender and its clones (`let t2 = tx.clone();`), to a fixpoint.
    let mut senders = vec![tx];
    loop {
        let before = senders.len();
        for s in senders.clone() {
            for (i, _) in body.match_indices(&format!("{s}.clone()")) {
                let head = body[..i].trim_end();
                let Some(h) = head.strip_suffix('=') else {
                    continue;
                };
                let line = &h[h.rfind('\n').map_or(0, |n| n + 1)..];
                if let Some(name) = line.trim().strip_prefix("let ") {
                    let name = name.trim().trim_start_matches("mut ").trim().to_string();
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                        && !senders.contains(&name)
                    {
                        senders.push(name);
                    }
                }
            }
        }
        if senders.len() == before {
            break;
        }
    }
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = src.as_bytes();
    let mut edits = Vec::new();
    let uses = |name: &str| {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(k) = body[from..].find(name) {
            let i = at + from + k;
            from += k + name.len();
            let end = i + name.len();
            if (i > 0 && is_word(bytes[i - 1])) || bytes.get(end).is_some_and(|&c| is_word(c)) {
                continue;
            }
            out.push(i);
        }
        out
    };
    for s in &senders {
        for i in uses(s) {
            let after = &src[i + s.len()..];
            let before = src[..i].trim_end();
            if after.starts_with(".send(") {
                let m = i + s.len() + 1;
                edits.push(edit(m..m + 4, "try_send"));
                // `if tx.send(..).is_err() { break }` ends on a closed channel, not a full one.
                let end = crate::fixes::edits::call_end(src, m + 4)?;
                if src[end..].starts_with(".is_err()") {
                    edits.push(edit(
                        end..end + ".is_err()".len(),
                        ".is_err_and(|e| matches!(e, tokio::sync::mpsc::error::TrySendError::Closed(_)))",
                    ));
                }
            } else if after.starts_with(".clone()")
                || after.starts_with(".is_closed()")
                || before.ends_with("drop(")
                || before.ends_with("let")
                || before.ends_with("let mut")
            {
            } else {
                return None;
            }
        }
    }
    for i in uses(&rx) {
        let after = &src[i + rx.len()..];
        if !(after.starts_with(".recv()") || after.starts_with(".try_recv()")) {
            return None;
        }
    }
    let new: Expr = syn::parse_quote!(#path(1024));
    let text = print::expr(&new)?;
    edits.push(edit(call.clone(), text.clone()));
    fix(
        format!(
            "bound the channel (`{text}`) and `try_send` into it: a consumer 1,024 messages \
             behind loses messages instead of the process growing"
        ),
        Applicability::Unsafe,
        edits,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_in_place_keeps_one_semicolon() {
        for (src, want) in [
            ("text = text + &line", "text += &line"),
            (
                "out = [out.as_slice(), &c[..n]].concat()",
                "out.extend_from_slice(&c[..n])",
            ),
        ] {
            let f = append_in_place(src, &(0..src.len())).unwrap();
            assert_eq!(f.edits[0].content, want);
        }
    }
}
