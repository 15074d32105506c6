//! Small questions about syntax the walk asks: a node as compact text, `unsafe fn`, `Arc<…>`
//! types, builder chains, `Err(_)` patterns, a value rebuilt from itself, suppression comments
//! quoted in string literals.

use std::ops::Range;

use proc_macro2::TokenStream;
use proc_macro2::TokenTree;
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Expr, Pat, Type};

use super::spans::span_range;

/// Whether `compact(node)` could contain what the caller looks for, judged without printing
/// the node: some identifier in it ends with `ident_suffix`, or it holds a macro, a literal or a
/// function-pointer type (not looked into). `false` means it certainly does not.
fn may_print<'n, T: ?Sized>(
    node: &'n T,
    ident_suffix: &str,
    visit: fn(&mut Mentions, &'n T),
) -> bool {
    let mut m = Mentions {
        suffix: ident_suffix,
        found: false,
    };
    visit(&mut m, node);
    m.found
}

struct Mentions<'s> {
    suffix: &'s str,
    found: bool,
}

impl<'ast> Visit<'ast> for Mentions<'_> {
    fn visit_ident(&mut self, i: &'ast proc_macro2::Ident) {
        if !self.found && i.to_string().ends_with(self.suffix) {
            self.found = true;
        }
    }
    fn visit_macro(&mut self, _: &'ast syn::Macro) {
        self.found = true;
    }
    fn visit_lit(&mut self, _: &'ast syn::Lit) {
        self.found = true;
    }
    // `unsafe fn(..)` types: `unsafe` is a keyword, not an identifier.
    fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {
        self.found = true;
    }
}

/// `unsafe fn …` (as `compact(sig).contains("unsafefn")` judges it, without printing the
/// signature unless an `unsafe` is somewhere in it).
pub(super) fn is_unsafe_fn(sig: &syn::Signature) -> bool {
    if matches!(sig.safety, syn::Safety::Unsafe(_)) && sig.abi.is_none() {
        return true;
    }
    may_print(sig, "unsafe", |m, s| m.visit_signature(s)) && compact(sig).contains("unsafefn")
}

/// Notes the `Arc<…>` types of a signature's type (printing it only when it can hold one).
pub(super) fn arc_type(ty: &Type) -> Option<String> {
    may_print(ty, "Arc", |m, t| m.visit_type(t)).then(|| compact(ty))
}

pub(super) fn compact(ts: impl ToTokens) -> String {
    ts.to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// `#[cfg(test)]`, or a `cfg` whose predicate cannot hold outside tests
/// (`#[cfg(all(test, feature = "testing"))]`): the item is compiled for tests only.
/// `any(test, …)` can hold in a normal build, so it is not.
pub(super) fn cfg_test_only(a: &syn::Attribute) -> bool {
    fn needs_test(p: &str) -> bool {
        if p == "test" {
            return true;
        }
        let Some(inner) = p.strip_prefix("all(").and_then(|r| r.strip_suffix(')')) else {
            return false;
        };
        // The top-level arguments of `all(…)`: any one that needs `test` makes it need it.
        let mut depth = 0usize;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    if needs_test(&inner[start..i]) {
                        return true;
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        needs_test(&inner[start..])
    }
    a.path().is_ident("cfg")
        && a.meta
            .require_list()
            .is_ok_and(|l| needs_test(&compact(&l.tokens)))
}

/// A path expression as text: `tokio::spawn`.
/// An identifier's name without its raw prefix (`r#async` → `async`), as written in paths.
pub(super) fn unraw(name: String) -> String {
    match name.strip_prefix("r#") {
        Some(bare) => bare.to_string(),
        None => name,
    }
}

pub(super) fn path_text(p: &syn::Path) -> String {
    p.segments
        .iter()
        .map(|s| unraw(s.ident.to_string()))
        .collect::<Vec<_>>()
        .join("::")
}

/// Collects the string literals that quote a suppression comment, in code the walker skips.
pub(super) struct LiteralScan<'o>(pub(super) &'o mut Vec<Range<usize>>);

impl<'a> Visit<'a> for LiteralScan<'_> {
    fn visit_lit_str(&mut self, s: &'a syn::LitStr) {
        if s.value().contains("unleak-ignore") {
            self.0.push(span_range(s.span()));
        }
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        literal_lookalikes(&m.tokens, self.0);
    }
}

pub(super) fn literal_lookalikes(ts: &TokenStream, out: &mut Vec<Range<usize>>) {
    for tt in ts.clone() {
        match tt {
            TokenTree::Literal(l) if l.to_string().contains("unleak-ignore") => {
                out.push(span_range(l.span()))
            }
            TokenTree::Group(g) => literal_lookalikes(&g.stream(), out),
            _ => {}
        }
    }
}

/// `static NAME: Ty = expr;` items inside `thread_local!` / `lazy_static!`.
pub(super) struct StaticItems(pub(super) Vec<StaticItem>);

pub(super) struct StaticItem {
    pub(super) ident: syn::Ident,
    pub(super) ty: Type,
}

impl syn::parse::Parse for StaticItems {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let _attrs = input.call(syn::Attribute::parse_outer)?;
            let _vis: syn::Visibility = input.parse()?;
            let _static: syn::Token![static] = input.parse()?;
            if input.peek(syn::Token![ref]) {
                let _r: syn::Token![ref] = input.parse()?;
            }
            let ident: syn::Ident = input.parse()?;
            let _colon: syn::Token![:] = input.parse()?;
            let ty: Type = input.parse()?;
            let _eq: syn::Token![=] = input.parse()?;
            let _expr: Expr = input.parse()?;
            if input.peek(syn::Token![;]) {
                let _semi: syn::Token![;] = input.parse()?;
            }
            out.push(StaticItem { ident, ty });
        }
        Ok(StaticItems(out))
    }
}

/// The call at the root of a method chain (`Cache::builder()` in
/// `Cache::builder().max_capacity(..).build()`) and the method names along the chain.
pub(super) fn builder_chain(m: &syn::ExprMethodCall) -> Option<(&syn::ExprCall, Vec<String>)> {
    let mut names = vec![m.method.to_string()];
    let mut cur = &*m.receiver;
    loop {
        match cur {
            Expr::MethodCall(inner) => {
                names.push(inner.method.to_string());
                cur = &inner.receiver;
            }
            Expr::Await(a) => cur = &a.base,
            Expr::Try(t) => cur = &t.expr,
            Expr::Paren(p) => cur = &p.expr,
            Expr::Call(c) => return Some((c, names)),
            _ => return None,
        }
    }
}

/// `Err(_)`.
pub(super) fn is_err_wild(p: &Pat) -> bool {
    matches!(p, Pat::TupleStruct(t)
        if t.path.segments.last().is_some_and(|s| s.ident == "Err")
            && t.elems.len() == 1
            && matches!(t.elems.first(), Some(Pat::Wild(_))))
}

/// `{}` or `()`.
pub(super) fn is_unit_body(e: &Expr) -> bool {
    match e {
        Expr::Block(b) => b.block.stmts.is_empty(),
        Expr::Tuple(t) => t.elems.is_empty(),
        _ => false,
    }
}

pub(super) fn rebuilds_from_itself(left: &Expr, right: &Expr) -> bool {
    let Expr::Path(lp) = left else {
        return false;
    };
    let name = path_text(&lp.path);
    fn is_name(e: &Expr, name: &str) -> bool {
        match e {
            Expr::Path(p) => path_text(&p.path) == name,
            // `v.clone()`, `v.as_slice()`, `s.as_str()`, `&v`, `&v[..]`
            Expr::MethodCall(m)
                if matches!(
                    m.method.to_string().as_str(),
                    "clone" | "as_slice" | "as_str" | "to_vec"
                ) =>
            {
                is_name(&m.receiver, name)
            }
            Expr::Reference(r) => is_name(&r.expr, name),
            Expr::Index(i) => is_name(&i.expr, name),
            Expr::Paren(p) => is_name(&p.expr, name),
            _ => false,
        }
    }
    let is_name = |e: &Expr| is_name(e, &name);
    match right {
        Expr::MethodCall(m) if m.method == "concat" => {
            matches!(&*m.receiver, Expr::Array(a) if a.elems.first().is_some_and(is_name))
        }
        // `s + &x`, `s + "…"`, `s + x.as_str()`: string building (not `pos + 1`).
        Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_)) => {
            // `s.clone() + part`: only a String is cloned to be added to.
            let cloned = matches!(&*b.left, Expr::MethodCall(m) if m.method == "clone");
            is_name(&b.left)
                && match &*b.right {
                    Expr::Reference(_) => true,
                    Expr::Path(_) => cloned,
                    Expr::Lit(l) => matches!(l.lit, syn::Lit::Str(_)),
                    Expr::MethodCall(m) => {
                        matches!(
                            m.method.to_string().as_str(),
                            "as_str" | "to_string" | "to_owned"
                        )
                    }
                    _ => false,
                }
        }
        Expr::Macro(mac) if mac.mac.path.is_ident("format") => {
            let text = mac.mac.tokens.to_string();
            text.trim_start_matches('"')
                .starts_with(&format!("{{{name}}}"))
                || (text.starts_with("\"{}") && text.contains(&format!(", {name}")))
        }
        _ => false,
    }
}

/// Associated fns that build the value they belong to.
pub(super) fn is_constructor_name(name: &str) -> bool {
    matches!(
        name,
        "new" | "build" | "init" | "connect" | "open" | "default"
    ) || name.starts_with("new_")
        || name.starts_with("with_")
        || name.starts_with("from_")
        || name.starts_with("create")
        || name.starts_with("build_")
        || name.starts_with("connect_")
}

/// A token stream as text, one entry per identifier, punctuation character, literal and group
/// delimiter, groups opened (`select! { _ = &mut t => … }` → `_`, `=`, `&`, `mut`, `t`, …): for
/// reading macro arguments, which `syn` leaves as tokens.
pub(super) fn flat_tokens(ts: TokenStream) -> Vec<String> {
    fn walk(ts: TokenStream, out: &mut Vec<String>) {
        for tt in ts {
            match tt {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                        proc_macro2::Delimiter::Brace => ("{", "}"),
                        proc_macro2::Delimiter::Bracket => ("[", "]"),
                        proc_macro2::Delimiter::None => ("", ""),
                    };
                    out.push(open.to_string());
                    walk(g.stream(), out);
                    out.push(close.to_string());
                }
                TokenTree::Ident(i) => out.push(i.to_string()),
                TokenTree::Punct(p) => out.push(p.as_char().to_string()),
                TokenTree::Literal(l) => out.push(l.to_string()),
            }
        }
    }
    let mut out = Vec::new();
    walk(ts, &mut out);
    out
}
