//! Spawned futures that can never finish: `spawn(X { .. })` / `spawn(X::new(..))` where the
//! file's `impl Future for X` has a `poll` that returns nothing but `Poll::Pending` (no
//! `Poll::Ready` anywhere in it, no `?`, every `return` and the tail pending). Such a task lives
//! as long as the runtime, with everything it holds; spawned from a per-call method (`call` of a
//! `Service`) there is one more per call (actix-http 2.0.0-alpha.4's connection pool spawned its
//! `ConnectorPoolSupport` from `call`, and its `poll` never completed). After the main pass, the
//! spawn's neutral event becomes an [`EventKind::NeverEndingTask`].

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, ImplItem, Stmt};

use super::spans::span_range;
use super::stuck::is_test_item;
use crate::facts::*;

pub(super) fn mark(file: &syn::File, text: &str, facts: &mut FileFacts) {
    // Cheap gate: only files with a hand-written future and a spawn.
    if !(text.contains("Future for") && text.contains("spawn")) {
        return;
    }
    let mut futures = NeverReady::default();
    futures.visit_file(file);
    if futures.0.is_empty() {
        return;
    }
    let mut spawns = Spawns {
        never: &futures.0,
        func: None,
        out: Vec::new(),
    };
    spawns.visit_file(file);
    for (start, api, future, func) in spawns.out {
        for e in facts.events.iter_mut() {
            if e.span.start == start
                && let EventKind::Escape { place } = &e.kind
            {
                e.kind = EventKind::NeverEndingTask(Box::new(EndlessTask {
                    api: api.clone(),
                    handle: place.clone(),
                    future: future.clone(),
                    func: func.clone(),
                }));
            }
        }
    }
}

/// The types of the file whose `Future::poll` never returns `Ready`.
#[derive(Default)]
struct NeverReady(HashSet<String>);

impl<'a> Visit<'a> for NeverReady {
    fn visit_item_mod(&mut self, i: &'a syn::ItemMod) {
        if !is_test_item(&i.attrs) {
            visit::visit_item_mod(self, i);
        }
    }
    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let is_future = i
            .trait_
            .as_ref()
            .and_then(|(p, _)| p.segments.last())
            .is_some_and(|s| s.ident == "Future");
        if let (true, syn::Type::Path(ty)) = (is_future, &*i.self_ty)
            && let Some(name) = ty.path.segments.last().map(|s| s.ident.to_string())
        {
            let poll = i.items.iter().find_map(|it| match it {
                ImplItem::Fn(f) if f.sig.ident == "poll" => Some(f),
                _ => None,
            });
            if poll.is_some_and(|f| never_ready(&f.block)) {
                self.0.insert(name);
            }
        }
        visit::visit_item_impl(self, i);
    }
}

/// `Poll::Pending`, `Pending`, `Async::NotReady`, `Ok(Async::NotReady)`.
fn is_pending(e: &Expr) -> bool {
    match e {
        Expr::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Pending" || s.ident == "NotReady"),
        Expr::Call(c) if c.args.len() == 1 => {
            matches!(&*c.func, Expr::Path(p) if p.path.is_ident("Ok")) && is_pending(&c.args[0])
        }
        Expr::Paren(p) => is_pending(&p.expr),
        _ => false,
    }
}

/// A `poll` body that can only answer "not yet": no `Ready` (nor `try_ready!`) anywhere, no `?`
/// (which would return the error), every `return` pending, and a pending tail.
fn never_ready(block: &syn::Block) -> bool {
    fn clean(ts: TokenStream) -> bool {
        ts.into_iter().all(|tt| match tt {
            TokenTree::Ident(i) => i != "Ready" && i != "try_ready",
            TokenTree::Punct(p) => p.as_char() != '?',
            TokenTree::Group(g) => clean(g.stream()),
            TokenTree::Literal(_) => true,
        })
    }
    if !clean(block.to_token_stream()) {
        return false;
    }
    let tail_pending = matches!(block.stmts.last(), Some(Stmt::Expr(e, None)) if is_pending(e));
    let mut returns = Returns { all_pending: true };
    returns.visit_block(block);
    tail_pending && returns.all_pending
}

struct Returns {
    all_pending: bool,
}

impl<'a> Visit<'a> for Returns {
    fn visit_expr_return(&mut self, r: &'a syn::ExprReturn) {
        if !r.expr.as_deref().is_some_and(is_pending) {
            self.all_pending = false;
        }
        visit::visit_expr_return(self, r);
    }
    // A closure's `return` leaves the closure, not `poll`.
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
}

/// `spawn(X { .. })` / `spawn(X::new(..))` of a never-ready `X`: the call's start, its path,
/// `X`, and the enclosing function's name.
struct Spawns<'n> {
    never: &'n HashSet<String>,
    func: Option<String>,
    out: Vec<(usize, String, String, String)>,
}

impl Spawns<'_> {
    fn future_of(&self, e: &Expr) -> Option<String> {
        let name = match e {
            Expr::Struct(s) => s.path.segments.last().map(|s| s.ident.to_string()),
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) if p.path.segments.len() >= 2 => {
                    let segs = &p.path.segments;
                    Some(segs[segs.len() - 2].ident.to_string())
                }
                _ => None,
            },
            _ => None,
        }?;
        self.never.contains(&name).then_some(name)
    }
}

impl<'a> Visit<'a> for Spawns<'_> {
    fn visit_item_mod(&mut self, i: &'a syn::ItemMod) {
        if !is_test_item(&i.attrs) {
            visit::visit_item_mod(self, i);
        }
    }
    fn visit_item_fn(&mut self, i: &'a syn::ItemFn) {
        if is_test_item(&i.attrs) {
            return;
        }
        let saved = self.func.replace(i.sig.ident.to_string());
        visit::visit_item_fn(self, i);
        self.func = saved;
    }
    fn visit_impl_item_fn(&mut self, i: &'a syn::ImplItemFn) {
        let saved = self.func.replace(i.sig.ident.to_string());
        visit::visit_impl_item_fn(self, i);
        self.func = saved;
    }
    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*c.func
            && p.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "spawn" || s.ident == "spawn_local")
            && let Some(future) = c.args.first().and_then(|a| self.future_of(a))
        {
            let api = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::");
            self.out.push((
                span_range(c.span()).start,
                api,
                future,
                self.func.clone().unwrap_or_default(),
            ));
        }
        visit::visit_expr_call(self, c);
    }
}
