//! How an unbounded channel's two ends are used in its file, after the main pass: whether its
//! receiver is drained by the owner's own loop that never waits per message, whether every
//! send waits for a one-shot reply, or whether the sender sends exactly once. Each is a reason
//! the queue cannot pile up; the front end records which one holds ([`QueuePacing`]) and the
//! rule decides. Also whether the file is a test-support module (`#![cfg(test)]`, or a module
//! documented as test utilities).

use std::ops::Range;

use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, Pat};

use super::spans::span_range;
use crate::facts::*;

/// One function of the file: its name, the type of its `impl` (if any), its parameters.
pub(super) struct Func<'a> {
    pub(super) name: String,
    owner: Option<String>,
    /// Parameter names, `self` included.
    pub(super) params: Vec<String>,
    /// Indices (into `params`) of the parameters typed as an unbounded sender.
    sender_params: Vec<usize>,
    block: &'a syn::Block,
}

/// A receiver or sender, as the code names it: a local or parameter of one function, or a
/// field of a struct (`None`: some struct, seen through a value other than `self`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum End {
    Local(usize, String),
    Field(Option<String>, String),
}

/// Sets the pacing of the file's unbounded channels and whether it is test support.
pub(super) fn pace(file: &syn::File, text: &str, facts: &mut FileFacts) {
    facts.test_support = is_test_support(&file.attrs);
    let has_queue = facts
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::UnboundedQueue { .. }));
    // Cheap gate: nothing to pace, and no parameter that could receive a sender.
    if !has_queue && !text.contains("UnboundedSender") {
        return;
    }
    let mut fns = Funcs::default();
    fns.visit_file(file);
    let fns = fns.0;
    if !has_queue && fns.iter().all(|f| f.sender_params.is_empty()) {
        return;
    }
    let mut uses = Uses::default();
    for (i, f) in fns.iter().enumerate() {
        let mut u = FnUses {
            func: i,
            owner: f.owner.clone(),
            selves: vec!["self".into()],
            out: &mut uses,
            replies: oneshot_replies(f.block),
            loops: Vec::new(),
            closures: 0,
            aliases: Default::default(),
        };
        u.visit_block(f.block);
    }
    for e in facts.events.iter_mut() {
        let EventKind::UnboundedQueue { paced, .. } = &mut e.kind else {
            continue;
        };
        let Some(ch) = uses
            .channels
            .iter()
            .find(|c| c.init.contains(&e.span.start))
        else {
            continue;
        };
        *paced = pacing(ch, &fns, &uses);
        // Unpaced here: where the sender went, for the project to pair with its sends there.
        if paced.is_none() {
            for (func, local, to) in &uses.moves {
                if let MovedTo::Arg(Some(owner), callee, i) = to
                    && *func == ch.func
                    && *local == ch.tx
                {
                    facts.queue_handoffs.push((
                        e.span.start,
                        CallArg {
                            owner: owner.clone(),
                            func: callee.clone(),
                            index: *i,
                        },
                    ));
                }
            }
        }
    }
    facts.paced_sender_params = paced_sender_params(&fns, &uses);
}

/// Parameters typed as an unbounded sender whose every send here, on the parameter or on the
/// struct field it is put into, carries a reply that the sending function awaits or returns.
fn paced_sender_params(fns: &[Func], uses: &Uses) -> Vec<CallArg> {
    let mut out = Vec::new();
    for (j, f) in fns.iter().enumerate() {
        let Some(owner) = &f.owner else { continue };
        let has_self = f.params.first().is_some_and(|p| p == "self");
        for &k in &f.sender_params {
            let name = &f.params[k];
            let mut ends = vec![End::Local(j, name.clone())];
            for (func, local, to) in &uses.moves {
                if *func == j
                    && local == name
                    && let MovedTo::Field(o, field) = to
                {
                    ends.push(End::Field(o.clone(), field.clone()));
                }
            }
            let sends: Vec<&Send> = uses
                .sends
                .iter()
                .filter(|s| ends.iter().any(|e| end_matches(e, &s.on)))
                .collect();
            if !sends.is_empty() && sends.iter().all(|s| s.awaits_reply) {
                out.push(CallArg {
                    owner: owner.clone(),
                    func: f.name.clone(),
                    index: k - usize::from(has_self),
                });
            }
        }
    }
    out
}

/// Whether a channel end seen one way is the one seen another (a field seen through a value
/// other than `self` matches the field of any struct).
fn end_matches(end: &End, key: &End) -> bool {
    match (end, key) {
        (End::Field(o, f), End::Field(k, g)) => f == g && (o.is_none() || k.is_none() || o == k),
        _ => end == key,
    }
}

fn pacing(ch: &Channel, fns: &[Func], uses: &Uses) -> Option<QueuePacing> {
    // Where each end went: the local itself, a field of the struct it was put into, a
    // parameter of a function of this file it was handed to.
    let ends = |name: &str| -> Vec<End> {
        let mut out = vec![End::Local(ch.func, name.to_string())];
        for (func, local, to) in &uses.moves {
            if *func == ch.func && local == name {
                match to {
                    MovedTo::Field(owner, f) => out.push(End::Field(owner.clone(), f.clone())),
                    MovedTo::Arg(_, callee, i) => {
                        for (j, g) in fns.iter().enumerate() {
                            if g.name == *callee
                                && let Some(p) = g.params.get(*i)
                            {
                                out.push(End::Local(j, p.clone()));
                            }
                        }
                    }
                }
            }
        }
        out
    };
    let matches = end_matches;
    // Drained by the owner's own loop that does not wait for anything else per message.
    let rx = ends(&ch.rx);
    let drains: Vec<&Drain> = uses
        .drains
        .iter()
        .filter(|d| rx.iter().any(|r| matches(r, &d.on)))
        .collect();
    if !drains.is_empty() && drains.iter().all(|d| !d.waits) {
        return Some(QueuePacing::DrainedWithoutWaiting);
    }
    let tx = ends(&ch.tx);
    let sends: Vec<&Send> = uses
        .sends
        .iter()
        .filter(|s| tx.iter().any(|t| matches(t, &s.on)))
        .collect();
    if sends.is_empty() {
        return None;
    }
    // Every send hands over a fresh one-shot reply sender and awaits its receiver.
    if sends.iter().all(|s| s.awaits_reply) {
        return Some(QueuePacing::AwaitsReply);
    }
    // A hand-made oneshot: the sender stays a local, is never cloned or handed on, and is sent
    // on once, outside any loop or closure.
    if tx.len() == 1
        && sends.len() == 1
        && sends[0].once
        && !uses
            .escapes
            .iter()
            .any(|(f, n)| *f == ch.func && *n == ch.tx)
    {
        return Some(QueuePacing::OneMessage);
    }
    None
}

/// `#![cfg(test)]`, `#![cfg(any(test, …))]`, or a module doc whose first line says it holds
/// test utilities or helpers (`//! Test utilities to test your filters.`).
fn is_test_support(attrs: &[syn::Attribute]) -> bool {
    let cfg_test = attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta.require_list().is_ok_and(|l| {
                let t = l.tokens.to_string();
                t == "test"
                    || (t.starts_with("any") && t.split([' ', '(', ',', ')']).any(|w| w == "test"))
            })
    });
    let first_doc = attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value().trim().to_lowercase()),
            _ => None,
        },
        _ => None,
    });
    cfg_test
        || first_doc.is_some_and(|d| {
            [
                "test utilit",
                "testing utilit",
                "test helper",
                "testing helper",
                "test support",
                "utilities for testing",
                "helpers for testing",
            ]
            .iter()
            .any(|p| d.starts_with(p))
        })
}

#[derive(Default)]
pub(super) struct Funcs<'a>(pub(super) Vec<Func<'a>>);

impl<'a> Visit<'a> for Funcs<'a> {
    fn visit_item_fn(&mut self, i: &'a syn::ItemFn) {
        self.0.push(func(&i.sig, &i.block, None));
        visit::visit_item_fn(self, i);
    }
    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let owner = match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        for item in &i.items {
            if let syn::ImplItem::Fn(f) = item {
                self.0.push(func(&f.sig, &f.block, owner.clone()));
            }
        }
        visit::visit_item_impl(self, i);
    }
}

fn func<'a>(sig: &syn::Signature, block: &'a syn::Block, owner: Option<String>) -> Func<'a> {
    let params = sig
        .inputs
        .iter()
        .map(|a| match a {
            syn::FnArg::Typed(t) => ident_of(&t.pat).unwrap_or_default(),
            syn::FnArg::Receiver(_) => "self".into(),
        })
        .collect();
    let sender_params = sig
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, a)| match a {
            syn::FnArg::Typed(t) => mentions_unbounded_sender(&t.ty),
            syn::FnArg::Receiver(_) => false,
        })
        .map(|(i, _)| i)
        .collect();
    Func {
        name: sig.ident.to_string(),
        owner,
        params,
        sender_params,
        block,
    }
}

/// `UnboundedSender<T>` (tokio, futures), also inside a path or a generic argument.
fn mentions_unbounded_sender(ty: &syn::Type) -> bool {
    use quote::ToTokens;
    fn walk(ts: proc_macro2::TokenStream) -> bool {
        ts.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Ident(i) => i == "UnboundedSender",
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    walk(ty.to_token_stream())
}

pub(super) fn ident_of(p: &Pat) -> Option<String> {
    match p {
        Pat::Ident(i) => Some(i.ident.to_string()),
        Pat::Type(t) => ident_of(&t.pat),
        _ => None,
    }
}

/// `let (tx, rx) = <call>`: the two ends and the range of the call.
struct Channel {
    func: usize,
    tx: String,
    rx: String,
    init: Range<usize>,
}

enum MovedTo {
    /// Put into a struct literal's field (the struct's name when known).
    Field(Option<String>, String),
    /// Passed as the i-th argument of a call to a function of that name (and of that type,
    /// when the path names one: `Client::new`).
    Arg(Option<String>, String, usize),
}

/// `while let … = rx.recv()…`: the receiver, and whether the body waits for anything else.
struct Drain {
    on: End,
    waits: bool,
}

/// `tx.send(…)`.
struct Send {
    on: End,
    /// The message carries a fresh one-shot sender whose receiver the function awaits.
    awaits_reply: bool,
    /// Not inside a loop or a closure.
    once: bool,
}

#[derive(Default)]
struct Uses {
    channels: Vec<Channel>,
    moves: Vec<(usize, String, MovedTo)>,
    drains: Vec<Drain>,
    sends: Vec<Send>,
    /// Locals cloned or used other than as the receiver of a method call.
    escapes: Vec<(usize, String)>,
}

struct FnUses<'u> {
    func: usize,
    owner: Option<String>,
    /// Names that stand for `self` (`self`, and `let this = self.project()`).
    selves: Vec<String>,
    out: &'u mut Uses,
    /// One-shot reply senders made in this function whose receivers it awaits.
    replies: Vec<String>,
    loops: Vec<()>,
    closures: usize,
    /// Locals cloned from a field (`let rx = self.receiver.clone();`): the same channel end.
    aliases: std::collections::HashMap<String, End>,
}

impl FnUses<'_> {
    fn end_of(&self, e: &Expr) -> Option<End> {
        match e {
            Expr::Path(p) => p.path.get_ident().map(|i| {
                let name = i.to_string();
                self.aliases
                    .get(&name)
                    .cloned()
                    .unwrap_or(End::Local(self.func, name))
            }),
            Expr::Field(f) => {
                let syn::Member::Named(name) = &f.member else {
                    return None;
                };
                let owner = match &*f.base {
                    Expr::Path(p)
                        if p.path
                            .get_ident()
                            .is_some_and(|i| self.selves.iter().any(|s| i == s.as_str())) =>
                    {
                        self.owner.clone()
                    }
                    _ => None,
                };
                Some(End::Field(owner, name.to_string()))
            }
            Expr::Paren(p) => self.end_of(&p.expr),
            Expr::Reference(r) => self.end_of(&r.expr),
            _ => None,
        }
    }
}

fn local_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
        _ => None,
    }
}

fn strip_await(e: &Expr) -> &Expr {
    match e {
        Expr::Await(a) => strip_await(&a.base),
        Expr::Try(t) => strip_await(&t.expr),
        _ => e,
    }
}

/// The body waits per message: an `.await` (outside nested closures and async blocks, which
/// run elsewhere), or a blocking sleep/join.
fn body_waits(b: &syn::Block) -> bool {
    struct W(bool);
    impl<'a> Visit<'a> for W {
        fn visit_expr_await(&mut self, _: &'a syn::ExprAwait) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            if matches!(m.method.to_string().as_str(), "join" | "block_on" | "sleep") {
                self.0 = true;
            }
            visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            if let Expr::Path(p) = &*c.func
                && p.path
                    .segments
                    .last()
                    .is_some_and(|s| matches!(s.ident.to_string().as_str(), "sleep" | "block_on"))
            {
                self.0 = true;
            }
            visit::visit_expr_call(self, c);
        }
    }
    let mut w = W(false);
    w.visit_block(b);
    w.0
}

/// The reply senders made in this block: the first name of `let (tx, rx) = oneshot::channel()`
/// (or of a bounded `channel(n)`) whose `rx` the function awaits or hands back to its caller
/// (in its tail expression or a `return`): every message that carries `tx` has a caller
/// waiting on its answer.
fn oneshot_replies(b: &syn::Block) -> Vec<String> {
    struct O {
        pairs: Vec<(String, String)>,
        waited: Vec<String>,
        /// `let request = Request { messages, sender };`: a local and the names its value uses.
        wraps: Vec<(String, Vec<String>)>,
    }
    impl<'a> Visit<'a> for O {
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let Pat::Tuple(t) = &l.pat
                && t.elems.len() == 2
                && let (Some(a), Some(b)) = (ident_of(&t.elems[0]), ident_of(&t.elems[1]))
                && let Some(init) = &l.init
                && let Expr::Call(c) = &*init.expr
                && let Expr::Path(p) = &*c.func
            {
                let segs: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                let oneshot = segs.ends_with(&["oneshot".into(), "channel".into()]);
                let bounded = segs.last().is_some_and(|s| s == "channel") && c.args.len() == 1;
                if oneshot || bounded {
                    self.pairs.push((a, b));
                }
            } else if let Some(name) = ident_of(&l.pat)
                && let Some(init) = &l.init
            {
                self.wraps.push((name, names_in(&init.expr)));
            }
            visit::visit_local(self, l);
        }
        fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
            if let Some(n) = local_name(&a.base) {
                self.waited.push(n);
            }
            visit::visit_expr_await(self, a);
        }
        fn visit_expr_return(&mut self, r: &'a syn::ExprReturn) {
            if let Some(e) = &r.expr {
                self.waited.extend(names_in(e));
            }
            visit::visit_expr_return(self, r);
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    }
    let mut o = O {
        pairs: Vec::new(),
        waited: Vec::new(),
        wraps: Vec::new(),
    };
    o.visit_block(b);
    if let Some(syn::Stmt::Expr(tail, None)) = b.stmts.last() {
        o.waited.extend(names_in(tail));
    }
    let mut replies: Vec<String> = o
        .pairs
        .into_iter()
        .filter(|(_, rx)| o.waited.contains(rx))
        .map(|(tx, _)| tx)
        .collect();
    // A message built around a reply sender carries the reply too.
    let wrapped: Vec<String> = o
        .wraps
        .into_iter()
        .filter(|(_, names)| names.iter().any(|n| replies.contains(n)))
        .map(|(local, _)| local)
        .collect();
    replies.extend(wrapped);
    replies
}

fn names_in(e: &Expr) -> Vec<String> {
    struct N(Vec<String>);
    impl<'a> Visit<'a> for N {
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            self.0.push(i.to_string());
        }
    }
    let mut n = N(Vec::new());
    n.visit_expr(e);
    n.0
}

fn mentions(e: &Expr, name: &str) -> bool {
    struct M<'n>(&'n str, bool);
    impl<'a> Visit<'a> for M<'_> {
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            if i == self.0 {
                self.1 = true;
            }
        }
    }
    let mut m = M(name, false);
    m.visit_expr(e);
    m.1
}

impl<'a> Visit<'a> for FnUses<'_> {
    fn visit_local(&mut self, l: &'a syn::Local) {
        if let Some(init) = &l.init {
            if let Pat::Tuple(t) = &l.pat
                && t.elems.len() == 2
                && let (Some(tx), Some(rx)) = (ident_of(&t.elems[0]), ident_of(&t.elems[1]))
                && matches!(&*init.expr, Expr::Call(_))
            {
                self.out.channels.push(Channel {
                    func: self.func,
                    tx,
                    rx,
                    init: span_range(init.expr.span()),
                });
            }
            // `let rx = self.rx.clone();`: `rx` is the field's end.
            if let Some(name) = ident_of(&l.pat) {
                match &*init.expr {
                    Expr::MethodCall(m)
                        if m.method == "clone"
                            && matches!(self.end_of(&m.receiver), Some(End::Field(..))) =>
                    {
                        if let Some(end) = self.end_of(&m.receiver) {
                            self.aliases.insert(name, end);
                        }
                    }
                    _ => {
                        self.aliases.remove(&name);
                    }
                }
            }
            // `let this = self.project();`: `this.f` is a field of `self`.
            if let Some(name) = ident_of(&l.pat)
                && let Expr::MethodCall(m) = strip_await(&init.expr)
                && m.method == "project"
            {
                self.selves.push(name);
            }
        }
        visit::visit_local(self, l);
    }

    fn visit_expr_struct(&mut self, s: &'a syn::ExprStruct) {
        let name = s.path.segments.last().map(|x| x.ident.to_string());
        let owner = if name.as_deref() == Some("Self") {
            self.owner.clone()
        } else {
            name
        };
        for f in &s.fields {
            if let syn::Member::Named(field) = &f.member
                && let Some(local) = local_name(&f.expr)
            {
                self.out.moves.push((
                    self.func,
                    local,
                    MovedTo::Field(owner.clone(), field.to_string()),
                ));
            }
        }
        visit::visit_expr_struct(self, s);
    }

    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*c.func
            && let Some(callee) = p.path.segments.last()
        {
            let segs = &p.path.segments;
            let owner = (segs.len() >= 2).then(|| segs[segs.len() - 2].ident.to_string());
            for (i, a) in c.args.iter().enumerate() {
                if let Some(local) = local_name(a) {
                    self.out.moves.push((
                        self.func,
                        local.clone(),
                        MovedTo::Arg(owner.clone(), callee.ident.to_string(), i),
                    ));
                    self.out.escapes.push((self.func, local));
                }
            }
        }
        visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        let method = m.method.to_string();
        if matches!(
            method.as_str(),
            "send" | "unbounded_send" | "send_async" | "try_send"
        ) && let Some(on) = self.end_of(&m.receiver)
        {
            let awaits_reply = m
                .args
                .iter()
                .any(|a| self.replies.iter().any(|r| mentions(a, r)));
            self.out.sends.push(Send {
                on,
                awaits_reply,
                once: self.loops.is_empty() && self.closures == 0,
            });
        } else if let Some(local) = local_name(&m.receiver)
            && method == "clone"
        {
            self.out.escapes.push((self.func, local));
        }
        for a in &m.args {
            if let Some(local) = local_name(a) {
                self.out.escapes.push((self.func, local));
            }
        }
        visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
        if let Expr::Let(l) = &*w.cond
            && let Expr::MethodCall(m) = strip_await(&l.expr)
            && matches!(
                m.method.to_string().as_str(),
                "recv" | "recv_async" | "try_recv" | "blocking_recv" | "next"
            )
            && let Some(on) = self.end_of(&m.receiver)
        {
            self.out.drains.push(Drain {
                on,
                waits: body_waits(&w.body),
            });
        }
        self.loops.push(());
        visit::visit_expr_while(self, w);
        self.loops.pop();
    }

    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        self.loops.push(());
        visit::visit_expr_loop(self, l);
        self.loops.pop();
    }

    fn visit_expr_for_loop(&mut self, l: &'a syn::ExprForLoop) {
        self.loops.push(());
        visit::visit_expr_for_loop(self, l);
        self.loops.pop();
    }

    fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
        self.closures += 1;
        visit::visit_expr_closure(self, c);
        self.closures -= 1;
    }

    // Items nested in a function are walked as functions of their own.
    fn visit_item(&mut self, _: &'a syn::Item) {}
}
