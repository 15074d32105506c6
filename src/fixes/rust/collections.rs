//! Fixes for growth without bound: bound a channel or an LRU cache, append in place instead of
//! rebuilding a buffer from itself.

use std::ops::Range;

use syn::Expr;

use super::{edit, fix, print};
use crate::diagnostic::{Applicability, Fix};

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
    let bounded = match last.ident.to_string().as_str() {
        "unbounded_channel" => "channel",
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
            let method = match elems.next()? {
                Expr::MethodCall(first) if first.method == "as_slice" => "extend_from_slice",
                Expr::MethodCall(first) if first.method == "as_str" => "push_str",
                _ => return None,
            };
            let rest: Vec<&Expr> = elems.collect();
            let [one] = rest.as_slice() else {
                return None;
            };
            let method = syn::Ident::new(method, proc_macro2::Span::call_site());
            syn::parse_quote!(#left.#method(#one))
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
