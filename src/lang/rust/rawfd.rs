//! Raw file descriptors leaked on an early return: `let fd = new_socket(..)?;` (or
//! `syscall!(socket(..))?`, `libc::socket(..)`) followed, in the same block, by a `?` before the
//! descriptor is wrapped in an owner (`from_raw_fd`), closed, or handed back. A raw `c_int` has
//! no `Drop`: on that error path the descriptor stays open for the life of the process (mio
//! 0.8.5's `uds::listener::bind` returned on `socket_addr(path)?` with the new socket open).
//! After the main pass, each becomes an [`EventKind::RawFdLeak`] at the acquisition.

use std::collections::HashSet;
use std::ops::Range;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, Stmt};

use super::spans::span_range;
use super::stuck::is_test_item;
use crate::facts::*;

/// System calls that return a new descriptor.
const FD_CALLS: &[&str] = &[
    "socket",
    "open",
    "openat",
    "accept",
    "accept4",
    "dup",
    "eventfd",
    "epoll_create",
    "epoll_create1",
    "kqueue",
    "memfd_create",
    "timerfd_create",
    "signalfd",
    "inotify_init1",
];

pub(super) fn mark(file: &syn::File, text: &str, facts: &mut FileFacts) {
    // Cheap gate: only files that make descriptors at all.
    if !(text.contains("syscall!") || text.contains("libc::")) {
        return;
    }
    let mut makers = Makers::default();
    makers.visit_file(file);
    let mut scan = Scan {
        makers: &makers.0,
        defined: &makers.1,
        out: Vec::new(),
    };
    scan.visit_file(file);
    for (acquire, api, exit) in scan.out {
        // The innermost scope holding the acquisition.
        let scope = facts
            .scopes
            .iter()
            .enumerate()
            .filter(|(_, s)| s.span.contains(&acquire.start))
            .min_by_key(|(_, s)| s.span.len())
            .map_or(0, |(i, _)| i);
        facts.events.push(Event {
            hint: None,
            kind: EventKind::RawFdLeak { api, exit },
            stmt: acquire.clone(),
            span: acquire,
            scope,
            in_loop: false,
            loop_span: None,
            conditional: false,
            path: PathKind::Normal,
        });
    }
}

/// The name of the descriptor call an expression makes directly: `libc::socket(..)`,
/// `syscall!(socket(..))`.
fn fd_call(e: &Expr) -> Option<String> {
    match e {
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.path.segments.len() == 2 && p.path.segments[0].ident == "libc" => {
                let name = p.path.segments[1].ident.to_string();
                FD_CALLS.contains(&name.as_str()).then_some(name)
            }
            _ => None,
        },
        Expr::Macro(m) if m.mac.path.is_ident("syscall") => {
            let first = m.mac.tokens.clone().into_iter().next();
            match first {
                Some(TokenTree::Ident(i)) if FD_CALLS.contains(&i.to_string().as_str()) => {
                    Some(i.to_string())
                }
                _ => None,
            }
        }
        Expr::Unsafe(u) => match u.block.stmts.as_slice() {
            [Stmt::Expr(e, None)] => fd_call(e),
            _ => None,
        },
        _ => None,
    }
}

/// Functions of the file that return a new descriptor: a body that makes one and a return type
/// that is a `c_int`/`RawFd` (in a `Result`).
#[derive(Default)]
struct Makers(HashSet<String>, HashSet<String>);

impl Makers {
    fn check(&mut self, sig: &syn::Signature, block: &syn::Block) {
        // Every function of the file, makers or not.
        self.1.insert(sig.ident.to_string());
        let syn::ReturnType::Type(_, ty) = &sig.output else {
            return;
        };
        let ret = ty.to_token_stream().to_string();
        if !(ret.contains("c_int") || ret.contains("RawFd")) {
            return;
        }
        struct Makes(bool);
        impl<'a> Visit<'a> for Makes {
            fn visit_expr(&mut self, e: &'a Expr) {
                if fd_call(e).is_some() {
                    self.0 = true;
                }
                visit::visit_expr(self, e);
            }
        }
        // A function with a `static` inside caches its descriptor for the process
        // (getrandom's `get_rng_fd`): its callers do not own what it returns.
        if idents(block.to_token_stream())
            .iter()
            .any(|i| i == "static")
        {
            return;
        }
        let mut m = Makes(false);
        m.visit_block(block);
        if m.0 {
            self.0.insert(sig.ident.to_string());
        }
    }
}

impl<'a> Visit<'a> for Makers {
    fn visit_item_fn(&mut self, i: &'a syn::ItemFn) {
        self.check(&i.sig, &i.block);
        visit::visit_item_fn(self, i);
    }
    fn visit_impl_item_fn(&mut self, i: &'a syn::ImplItemFn) {
        self.check(&i.sig, &i.block);
        visit::visit_impl_item_fn(self, i);
    }
}

/// `let fd = <descriptor>?;` then a later `?` in the same block before the descriptor is
/// owned, closed or returned: the `let`'s range, the call's name, the `?`'s range.
struct Scan<'m> {
    makers: &'m HashSet<String>,
    /// Every function of the file: one that is not a maker makes no descriptor.
    defined: &'m HashSet<String>,
    out: Vec<(Range<usize>, String, Range<usize>)>,
}

impl Scan<'_> {
    /// The call an initialiser makes, when it returns early on failure (`…?`), and whether it
    /// is known to make a descriptor (a system call, or a function of this file that makes one).
    fn acquired(&self, init: &Expr) -> Option<(String, bool)> {
        let Expr::Try(t) = init else { return None };
        if let Some(name) = fd_call(&t.expr) {
            return Some((name, true));
        }
        match &*t.expr {
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) if p.path.segments.len() == 1 => {
                    let name = p.path.segments[0].ident.to_string();
                    let known = self.makers.contains(&name);
                    // Another file's function: only one named for what it makes
                    // (`new_socket`, `open_fd`), not a result converter (`ret_c_int`).
                    let named = !self.defined.contains(&name)
                        && (name.contains("socket")
                            || name.contains("open")
                            || name.ends_with("_fd"));
                    (known || named).then_some((name, known))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// The identifiers of a statement, macro arguments included, in order.
fn idents(ts: TokenStream) -> Vec<String> {
    let mut ids = super::syntax::flat_tokens(ts);
    ids.retain(|t| t.starts_with(|c: char| c.is_alphabetic() || c == '_'));
    ids
}

/// A statement that uses the descriptor as a descriptor: in a system call or handed to
/// `from_raw_fd`.
fn raw_use(ids: &[String], name: &str) -> bool {
    ids.iter().any(|i| i == name)
        && ids
            .iter()
            .any(|i| matches!(i.as_str(), "syscall" | "libc" | "from_raw_fd"))
}

/// A statement that takes the descriptor over: it wraps, closes, drops or returns it, or uses
/// it other than as a system call's argument (moved into a struct that owns it, say).
fn releases(ids: &[String], name: &str) -> bool {
    ids.iter().any(|i| i == name)
        && (ids.iter().any(|i| {
            matches!(
                i.as_str(),
                "from_raw_fd" | "close" | "OwnedFd" | "return" | "Ok" | "drop"
            )
        }) || !ids.iter().any(|i| i == "syscall" || i == "libc"))
}

/// The first `?` of a statement outside closures and async blocks.
fn first_try(s: &Stmt) -> Option<Range<usize>> {
    struct T(Option<Range<usize>>);
    impl<'a> Visit<'a> for T {
        fn visit_expr_try(&mut self, t: &'a syn::ExprTry) {
            if self.0.is_none() {
                self.0 = Some(span_range(t.question_token.span()));
            }
            visit::visit_expr_try(self, t);
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut t = T(None);
    t.visit_stmt(s);
    t.0
}

impl<'a> Visit<'a> for Scan<'_> {
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
    fn visit_block(&mut self, b: &'a syn::Block) {
        for (i, s) in b.stmts.iter().enumerate() {
            let Stmt::Local(l) = s else { continue };
            let (Some(name), Some(init)) = (super::queues::ident_of(&l.pat), &l.init) else {
                continue;
            };
            if init.diverge.is_some() {
                continue;
            }
            let Some((api, known)) = self.acquired(&init.expr) else {
                continue;
            };
            let rest: Vec<Vec<String>> = b.stmts[i + 1..]
                .iter()
                .map(|s| idents(s.to_token_stream()))
                .collect();
            // A call of another file's function: a descriptor only if the block uses the
            // value as one.
            // `x.as_raw_fd()`: `x` owns its descriptor (a socket type, not an integer).
            let owner = rest.iter().any(|ids| {
                ids.windows(2).any(|w| {
                    w[0] == name && matches!(w[1].as_str(), "as_raw_fd" | "as_fd" | "into_raw_fd")
                })
            });
            if owner || (!known && !rest.iter().any(|ids| raw_use(ids, &name))) {
                continue;
            }
            for (later, ids) in b.stmts[i + 1..].iter().zip(&rest) {
                if releases(ids, &name) {
                    break;
                }
                if let Some(exit) = first_try(later) {
                    self.out.push((span_range(l.span()), api.clone(), exit));
                    break;
                }
            }
        }
        visit::visit_block(self, b);
    }
}
