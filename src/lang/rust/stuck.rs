//! Spawned tasks that never end on some path: the body starts by awaiting a future that a call
//! in the same file passes as `pending()` (axum 0.8.3's `serve` without graceful shutdown ran
//! `with_graceful_shutdown(std::future::pending())`, whose detached task awaited the signal
//! forever). After the main pass, the spawn's neutral event becomes a [`EventKind::StuckTask`].

use std::collections::HashSet;

use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, Stmt};

use super::queues::Funcs;
use super::spans::span_range;
use crate::facts::*;

pub(super) fn mark(file: &syn::File, facts: &mut FileFacts) {
    let mut calls = PendingArgs::default();
    calls.visit_file(file);
    if calls.0.is_empty() {
        return;
    }
    let mut fns = Funcs::default();
    fns.visit_file(file);
    // The parameters that receive `pending()` somewhere: by name, as they flow into a field of
    // the same name and out again (`Self { signal, .. }`, `let Self { signal, .. } = self`).
    let mut never: HashSet<String> = HashSet::new();
    for (callee, i, method) in &calls.0 {
        for f in fns.0.iter().filter(|f| f.name == *callee) {
            let has_self = f.params.first().is_some_and(|p| p == "self");
            let idx = if *method && has_self { i + 1 } else { *i };
            if let Some(p) = f.params.get(idx).filter(|p| !p.is_empty()) {
                never.insert(p.clone());
            }
        }
    }
    if never.is_empty() {
        return;
    }
    let mut spawns = Spawns {
        never: &never,
        out: Vec::new(),
    };
    spawns.visit_file(file);
    for (start, api, awaits) in spawns.out {
        for e in facts.events.iter_mut() {
            if e.span.start == start
                && let EventKind::Escape { place } = &e.kind
            {
                e.kind = EventKind::StuckTask {
                    api: api.clone(),
                    handle: place.clone(),
                    awaits: awaits.clone(),
                };
            }
        }
    }
}

fn is_pending_call(e: &Expr) -> bool {
    matches!(e, Expr::Call(c) if c.args.is_empty()
        && matches!(&*c.func, Expr::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "pending")))
}

/// `callee(…, pending(), …)` / `x.callee(…, pending(), …)`: callee, argument index, method.
#[derive(Default)]
struct PendingArgs(Vec<(String, usize, bool)>);

/// `#[cfg(test)]` or a test attribute (`#[test]`, `#[tokio::test]`, `#[crate::test]`).
pub(super) fn is_test_item(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().segments.last().is_some_and(|s| s.ident == "test")
            || super::syntax::cfg_test_only(a)
    })
}

impl<'a> Visit<'a> for PendingArgs {
    // A test passing `pending()` does not make the service's task wait forever.
    fn visit_item_mod(&mut self, i: &'a syn::ItemMod) {
        if !is_test_item(&i.attrs) {
            visit::visit_item_mod(self, i);
        }
    }
    fn visit_item_fn(&mut self, i: &'a syn::ItemFn) {
        if !is_test_item(&i.attrs) {
            visit::visit_item_fn(self, i);
        }
    }
    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*c.func
            && let Some(last) = p.path.segments.last()
        {
            for (i, a) in c.args.iter().enumerate() {
                if is_pending_call(a) {
                    self.0.push((last.ident.to_string(), i, false));
                }
            }
        }
        visit::visit_expr_call(self, c);
    }
    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        for (i, a) in m.args.iter().enumerate() {
            if is_pending_call(a) {
                self.0.push((m.method.to_string(), i, true));
            }
        }
        visit::visit_expr_method_call(self, m);
    }
}

/// `spawn(async move { never.await; … })`: the call's start, its path, the awaited name.
struct Spawns<'n> {
    never: &'n HashSet<String>,
    out: Vec<(usize, String, String)>,
}

impl<'a> Visit<'a> for Spawns<'_> {
    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*c.func
            && p.path.segments.last().is_some_and(|s| s.ident == "spawn")
            && let Some(Expr::Async(ab)) = c.args.first()
            && let Some(Stmt::Expr(Expr::Await(a), _)) = ab.block.stmts.first()
        {
            let name = match &*a.base {
                Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
                Expr::Field(f) => match &f.member {
                    syn::Member::Named(n) => Some(n.to_string()),
                    syn::Member::Unnamed(_) => None,
                },
                _ => None,
            };
            if let Some(n) = name.filter(|n| self.never.contains(n)) {
                let api = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect::<Vec<_>>()
                    .join("::");
                self.out.push((span_range(c.span()).start, api, n));
            }
        }
        visit::visit_expr_call(self, c);
    }
}
