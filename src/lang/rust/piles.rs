//! Task handles piled up by a connection loop, after the main pass: a local
//! `FuturesUnordered`/`FuturesOrdered`/`JoinSet`/`Vec` that a `loop` pushes a spawned task's
//! handle into on every turn — a loop that awaits its next message each turn, so it runs for as
//! long as its connection — while nothing in the loop polls, drains or measures the collection.
//! The handles (and the finished tasks' outputs) stay until the loop ends: one per message for
//! the connection's whole life (jsonrpsee-server 0.20.0's WebSocket `background_task`). Each
//! such push becomes an [`EventKind::PiledTasks`].

use proc_macro2::TokenTree;
use syn::Expr;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::queues::{Funcs, ident_of};
use super::spans::span_range;
use crate::facts::*;

/// Collection types whose handles stay until they are polled or drained.
const PILES: &[&str] = &["FuturesUnordered", "FuturesOrdered", "JoinSet", "Vec"];

pub(super) fn mark(file: &syn::File, text: &str, facts: &mut FileFacts) {
    if !(text.contains("spawn") && text.contains("loop")) {
        return;
    }
    let mut fns = Funcs::default();
    fns.visit_file(file);
    let mut found = Vec::new();
    for f in &fns.0 {
        let mut locals = Locals(Vec::new());
        locals.visit_block(f.block);
        for name in locals.0 {
            let mut loops = Loops(Vec::new());
            loops.visit_block(f.block);
            for body in loops.0 {
                found.extend(piled_in(body, &name));
            }
        }
    }
    for (span, stmt, collection) in found {
        let scope = facts
            .scopes
            .iter()
            .enumerate()
            .filter(|(_, s)| s.span.contains(&span.start))
            .min_by_key(|(_, s)| s.span.len())
            .map_or(0, |(i, _)| i);
        facts.events.push(Event {
            hint: None,
            kind: EventKind::PiledTasks { collection },
            stmt,
            span,
            scope,
            in_loop: true,
            loop_span: None,
            conditional: false,
            path: PathKind::Normal,
        });
    }
}

/// `let [mut] name = FuturesUnordered::new();` (or `::default()`, `Vec::with_capacity(..)`).
struct Locals(Vec<String>);

impl<'a> Visit<'a> for Locals {
    fn visit_local(&mut self, l: &'a syn::Local) {
        if let Some(init) = &l.init
            && let Expr::Call(c) = &*init.expr
            && let Expr::Path(p) = &*c.func
            && let [.., ty, ctor] = &p.path.segments.iter().collect::<Vec<_>>()[..]
            && PILES.contains(&ty.ident.to_string().as_str())
            && matches!(
                ctor.ident.to_string().as_str(),
                "new" | "default" | "with_capacity"
            )
            && let Some(name) = ident_of(&l.pat)
        {
            self.0.push(name);
        }
        visit::visit_local(self, l);
    }
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'a syn::Item) {}
}

/// The bodies of the `loop`s of a function (not of its closures or nested items).
struct Loops<'a>(Vec<&'a syn::Block>);

impl<'a> Visit<'a> for Loops<'a> {
    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        self.0.push(&l.body);
        visit::visit_expr_loop(self, l);
    }
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'a syn::Item) {}
}

/// The pushes of a spawned task's handle into `name` in this loop body, when the body awaits
/// (it waits for its next message each turn) and mentions `name` nowhere else — macros
/// included (`select!` arms polling it are opaque to the parser, so any mention counts).
fn piled_in(
    body: &syn::Block,
    name: &str,
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>, String)> {
    struct P<'n> {
        name: &'n str,
        pushes: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
        mentions: usize,
        awaits: bool,
        stmt: std::ops::Range<usize>,
        nested: usize,
        /// Locals of the loop body bound to a spawned task's handle (`let conn =
        /// tokio::spawn(..);`).
        spawned: Vec<String>,
    }
    impl<'a> Visit<'a> for P<'_> {
        fn visit_local(&mut self, l: &'a syn::Local) {
            if self.nested == 0
                && let Some(init) = &l.init
                && spawns(&init.expr)
                && let Some(local) = ident_of(&l.pat)
            {
                self.spawned.push(local);
            }
            visit::visit_local(self, l);
        }
        fn visit_stmt(&mut self, s: &'a syn::Stmt) {
            let saved = std::mem::replace(&mut self.stmt, span_range(s.span()));
            visit::visit_stmt(self, s);
            self.stmt = saved;
        }
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let on_name = matches!(&*m.receiver, Expr::Path(p) if p.path.is_ident(self.name));
            let grows = match m.method.to_string().as_str() {
                "push" | "push_back" => m.args.first().is_some_and(|a| {
                    spawns(a)
                        || matches!(a, Expr::Path(p)
                            if p.path.get_ident().is_some_and(|i| self.spawned.iter().any(|s| i == s)))
                }),
                "spawn" | "spawn_local" => true,
                _ => false,
            };
            if on_name && grows && self.nested == 0 {
                self.pushes.push((span_range(m.span()), self.stmt.clone()));
            }
            visit::visit_expr_method_call(self, m);
        }
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            if i == self.name {
                self.mentions += 1;
            }
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            if mentions_in_tokens(m.tokens.clone(), self.name) {
                // Counted twice: never equal to the pushes alone.
                self.mentions += 2;
            }
            // `select! { r = listener.accept() => r, .. }`, or a macro of the crate wrapping
            // one (`accept!(&handle, &listener)?`): the loop may wait inside it. Only the
            // standard formatting, logging and assertion macros are known not to.
            let name = m.path.segments.last().map(|s| s.ident.to_string());
            if self.nested == 0
                && !name.as_deref().is_some_and(|n| {
                    matches!(
                        n,
                        "println"
                            | "eprintln"
                            | "print"
                            | "eprint"
                            | "format"
                            | "write"
                            | "writeln"
                            | "vec"
                            | "assert"
                            | "assert_eq"
                            | "assert_ne"
                            | "debug_assert"
                            | "debug_assert_eq"
                            | "trace"
                            | "debug"
                            | "info"
                            | "warn"
                            | "error"
                            | "log"
                            | "event"
                            | "panic"
                            | "unreachable"
                            | "todo"
                            | "dbg"
                            | "matches"
                            | "concat"
                            | "stringify"
                    )
                })
            {
                self.awaits = true;
            }
        }
        fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
            if self.nested == 0 {
                self.awaits = true;
            }
            visit::visit_expr_await(self, a);
        }
        fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
            self.nested += 1;
            visit::visit_expr_closure(self, c);
            self.nested -= 1;
        }
        fn visit_expr_async(&mut self, a: &'a syn::ExprAsync) {
            self.nested += 1;
            visit::visit_expr_async(self, a);
            self.nested -= 1;
        }
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut p = P {
        name,
        pushes: Vec::new(),
        mentions: 0,
        awaits: false,
        stmt: 0..0,
        nested: 0,
        spawned: Vec::new(),
    };
    p.visit_block(body);
    if !p.awaits || p.pushes.is_empty() || p.mentions != p.pushes.len() {
        return Vec::new();
    }
    p.pushes
        .into_iter()
        .map(|(span, stmt)| (span, stmt, name.to_string()))
        .collect()
}

/// The value is a spawned task's handle: `tokio::spawn(..)`, `task::spawn_local(..)`,
/// `handle.spawn(..)`.
fn spawns(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => matches!(&*c.func, Expr::Path(p)
            if p.path.segments.last().is_some_and(|s| matches!(s.ident.to_string().as_str(), "spawn" | "spawn_local"))),
        Expr::MethodCall(m) => matches!(m.method.to_string().as_str(), "spawn" | "spawn_local"),
        _ => false,
    }
}

fn mentions_in_tokens(ts: proc_macro2::TokenStream, name: &str) -> bool {
    ts.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == name,
        TokenTree::Group(g) => mentions_in_tokens(g.stream(), name),
        _ => false,
    })
}
