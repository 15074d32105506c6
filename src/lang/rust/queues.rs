//! How an unbounded channel's two ends are used in its file, after the main pass: whether its
//! receiver is drained by the owner's own loop that never waits per message or read once by
//! the function that made it, whether every send waits for a one-shot reply, follows a permit
//! or is a drop notice, whether the sender sends exactly once, whether the function wraps the
//! channel API for its caller, or whether a comment gives the bound. Each is a reason the queue
//! cannot pile up; the front end records which one holds ([`QueuePacing`]) and the rule
//! decides. Also whether the file is a test-support module (`#![cfg(test)]`, or a module
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
    /// `fn drop` of an `impl Drop`.
    is_drop: bool,
    /// Declared with any `pub` (its callers may be in other files).
    is_pub: bool,
    pub(super) block: &'a syn::Block,
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
    // Cheap gate: nothing to pace, no parameter that could receive a sender, and no send
    // (a send on a field may pace another file's channel: see [`FieldSends`]).
    let sends = text.contains("send(") || text.contains("send_async(");
    if !has_queue && !sends && !text.contains("UnboundedSender") {
        return;
    }
    let mut fns = Funcs::default();
    fns.visit_file(file);
    let fns = fns.0;
    let full = has_queue || fns.iter().any(|f| !f.sender_params.is_empty());
    let mut uses = Uses::default();
    for (i, f) in fns.iter().enumerate() {
        // Only counting sends: the functions that send.
        if !full
            && !text
                .get(span_range(f.block.span()))
                .is_some_and(|b| b.contains("send("))
        {
            continue;
        }
        let mut u = FnUses {
            func: i,
            owner: f.owner.clone(),
            selves: vec!["self".into()],
            out: &mut uses,
            replies: oneshot_replies(f.block),
            in_drop: f.is_drop,
            permit: takes_permit(f.block),
            loops: Vec::new(),
            closures: 0,
            blocking: 0,
            aliases: Default::default(),
            exits_after: 0,
        };
        u.visit_block(f.block);
    }
    facts.field_sends = field_sends(&uses);
    if !full {
        return;
    }
    // Which functions only a drop reaches: computed once, read by every channel's pacing.
    let dropped = drop_reached(&fns, &uses);
    for e in facts.events.iter_mut() {
        let EventKind::UnboundedQueue { paced, .. } = &mut e.kind else {
            continue;
        };
        let Some(ch) = uses
            .channels
            .iter()
            .find(|c| c.init.contains(&e.span.start))
        else {
            // `fn mpsc_unbounded<T>() -> (…) { tokio::sync::mpsc::unbounded_channel() }`: the
            // call is the body's value, both ends go to the caller, who chose.
            if fns
                .iter()
                .any(|f| names_channel(&f.name) && tail_call_at(f.block, e.span.start))
            {
                *paced = Some(QueuePacing::Constructor);
            }
            continue;
        };
        *paced = if documents_bound(text, ch.init.start) {
            Some(QueuePacing::DocumentedBound)
        } else {
            pacing(ch, &fns, &uses, &dropped)
        };
        // Unpaced here: where the sender went, for the project to pair with its sends there.
        if paced.is_none() {
            // Into a struct's field, when its sends through locals here all await a reply:
            // the field's sends across the project decide.
            let locals_replied = uses.sends.iter().all(|s| {
                !matches!(&s.on, End::Local(f, n) if *f == ch.func && *n == ch.tx) || s.awaits_reply
            });
            for (func, local, to) in &uses.moves {
                if *func != ch.func || *local != ch.tx {
                    continue;
                }
                match to {
                    MovedTo::Field(Some(owner), field) if locals_replied => {
                        facts.queue_field_handoffs.push((
                            e.span.start,
                            SenderField {
                                owner: owner.clone(),
                                field: field.clone(),
                            },
                        ));
                    }
                    MovedTo::Arg(Some(owner), callee, i) => {
                        facts.queue_handoffs.push((
                            e.span.start,
                            CallArg {
                                owner: owner.clone(),
                                func: callee.clone(),
                                index: *i,
                            },
                        ));
                    }
                    _ => {}
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

/// The file's sends on struct fields, by field (and owner, when seen through `self`), with
/// how many of them await a reply.
fn field_sends(uses: &Uses) -> Vec<FieldSends> {
    let mut by: std::collections::BTreeMap<(Option<&str>, &str), (u32, u32)> = Default::default();
    for s in &uses.sends {
        if let End::Field(owner, field) = &s.on {
            let c = by.entry((owner.as_deref(), field)).or_default();
            c.0 += 1;
            c.1 += u32::from(s.awaits_reply);
        }
    }
    by.into_iter()
        .map(|((owner, field), (sends, replied))| FieldSends {
            owner: owner.map(str::to_string),
            field: field.to_string(),
            sends,
            replied,
        })
        .collect()
}

/// A function named for the channel it makes (`unbounded`, `mpsc_unbounded`, `channel`).
fn names_channel(name: &str) -> bool {
    name.split('_')
        .any(|w| matches!(w, "channel" | "unbounded"))
}

/// The block's value (its last expression, without a `;`) is a call spanning `at`.
fn tail_call_at(block: &syn::Block, at: usize) -> bool {
    matches!(
        block.stmts.last(),
        Some(syn::Stmt::Expr(e @ Expr::Call(_), None)) if span_range(e.span()).contains(&at)
    )
}

/// Whether a channel end seen one way is the one seen another (a field seen through a value
/// other than `self` matches the field of any struct).
fn end_matches(end: &End, key: &End) -> bool {
    match (end, key) {
        (End::Field(o, f), End::Field(k, g)) => f == g && (o.is_none() || k.is_none() || o == k),
        _ => end == key,
    }
}

fn pacing(ch: &Channel, fns: &[Func], uses: &Uses, dropped: &[bool]) -> Option<QueuePacing> {
    let fun = &fns[ch.func];
    // A wrapper of the channel API that hands both ends back: the caller chose.
    let returned = returned_names(fun.block);
    if names_channel(&fun.name) && returned.contains(&ch.tx) && returned.contains(&ch.rx) {
        return Some(QueuePacing::Constructor);
    }
    let ends = |name: &str| ends_of(ch.func, name, fns, uses);
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
    // Read a fixed number of times by the function that made it (a per-call responder: the
    // reply and its content frames), outside any loop, and going nowhere else.
    let rx_local = End::Local(ch.func, ch.rx.clone());
    let reads: Vec<&Recv> = uses.recvs.iter().filter(|r| r.on == rx_local).collect();
    if rx.len() == 1
        && !reads.is_empty()
        && reads.iter().all(|r| r.once)
        && count_mentions(fun.block, &ch.rx) == 1 + reads.len()
    {
        return Some(QueuePacing::ReceivedOnce);
    }
    let tx = ends(&ch.tx);
    let sends: Vec<&Send> = uses
        .sends
        .iter()
        .filter(|s| tx.iter().any(|t| matches(t, &s.on)))
        .collect();
    if sends.is_empty() {
        // `let (cancel_tx, cancel_rx) = unbounded::<()>(); … drop(cancel_tx);`: every mention of
        // the sender after its binding drops it, so nothing is ever sent.
        let drops = uses
            .moves
            .iter()
            .filter(|(f, n, to)| {
                *f == ch.func
                    && *n == ch.tx
                    && matches!(to, MovedTo::Arg(_, callee, 0) if callee == "drop")
            })
            .count();
        let never_sent = tx.len() == 1 && count_mentions(fun.block, &ch.tx) == 1 + drops;
        return never_sent.then_some(QueuePacing::NeverSent);
    }
    // Every send hands over a fresh one-shot reply sender and awaits its receiver.
    if sends.iter().all(|s| s.awaits_reply) {
        return Some(QueuePacing::AwaitsReply);
    }
    // Notices sent as values are dropped (from `drop` itself, or from private helpers that
    // only `drop` reaches).
    if sends.iter().all(|s| s.in_drop || dropped[s.func]) {
        return Some(QueuePacing::DropNotices);
    }
    // Each send follows a permit its function takes.
    if sends.iter().all(|s| s.after_permit) {
        return Some(QueuePacing::PermitPaced);
    }
    // A hand-made oneshot: the sender stays a local, is never cloned or handed on, and each
    // send runs once, outside any loop or closure, or as the loop's last act before it
    // `break`s or `return`s: a fixed number of messages.
    if tx.len() == 1
        && sends.iter().all(|s| s.once)
        && !uses
            .escapes
            .iter()
            .any(|(f, n)| *f == ch.func && *n == ch.tx)
    {
        return Some(QueuePacing::OneMessage);
    }
    None
}

/// Per function of the file: it runs only when a value is dropped. `Drop::drop` itself, and a
/// private function (no `pub`: its callers are in this module) with at least one call site
/// here, every one of them in such a function (`fn drop` → `pool.return_conn(conn)` →
/// `self.send_to_recycler(conn)`). Calls are matched by name, so a name that is also called
/// elsewhere (another type's method of that name) only adds call sites: it never makes a
/// function look drop-only.
fn drop_reached(fns: &[Func], uses: &Uses) -> Vec<bool> {
    let mut reached: Vec<bool> = fns.iter().map(|f| f.is_drop).collect();
    if !reached.iter().any(|&r| r) {
        return reached;
    }
    // Callers by callee name, once (the fixpoint below reads them many times).
    let mut callers: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (caller, name) in &uses.calls {
        callers.entry(name.as_str()).or_default().push(*caller);
    }
    loop {
        let mut changed = false;
        for (j, f) in fns.iter().enumerate() {
            if reached[j] || f.is_pub {
                continue;
            }
            let Some(sites) = callers.get(f.name.as_str()) else {
                continue;
            };
            if sites.iter().all(|&caller| reached[caller] && caller != j) {
                reached[j] = true;
                changed = true;
            }
        }
        if !changed {
            return reached;
        }
    }
}

/// Where a channel end made as local `name` of function `func` went, followed to a fixpoint:
/// the local itself, a field of the struct it was put into, a parameter of a function of this
/// file it was handed to (and on from there), and a local that reads such a field.
fn ends_of(func: usize, name: &str, fns: &[Func], uses: &Uses) -> Vec<End> {
    let mut out = vec![End::Local(func, name.to_string())];
    let mut i = 0;
    while i < out.len() && out.len() < 64 {
        let next: Vec<End> = match &out[i] {
            End::Local(f, n) => uses
                .moves
                .iter()
                .filter(|(g, local, _)| g == f && local == n)
                .flat_map(|(_, _, to)| match to {
                    MovedTo::Field(owner, field) => {
                        vec![End::Field(owner.clone(), field.clone())]
                    }
                    MovedTo::Arg(_, callee, k) => fns
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| g.name == *callee)
                        .filter_map(|(j, g)| g.params.get(*k).map(|p| End::Local(j, p.clone())))
                        .collect(),
                })
                .collect(),
            field @ End::Field(..) => uses
                .aliases
                .iter()
                .filter(|(_, _, e)| end_matches(field, e))
                .map(|(g, local, _)| End::Local(*g, local.clone()))
                .collect(),
        };
        for e in next {
            if !out.contains(&e) {
                out.push(e);
            }
        }
        i += 1;
    }
    out
}

/// The names a function hands back: those in its tail expression and its `return`s.
fn returned_names(b: &syn::Block) -> Vec<String> {
    struct R(Vec<String>);
    impl<'a> Visit<'a> for R {
        fn visit_expr_return(&mut self, r: &'a syn::ExprReturn) {
            if let Some(e) = &r.expr {
                self.0.extend(names_in(e));
            }
            visit::visit_expr_return(self, r);
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut r = R(Vec::new());
    r.visit_block(b);
    if let Some(syn::Stmt::Expr(tail, None)) = b.stmts.last() {
        r.0.extend(names_in(tail));
    }
    r.0
}

/// How many times `name` appears in the block (its binding included).
fn count_mentions(b: &syn::Block, name: &str) -> usize {
    struct C<'n>(&'n str, usize);
    impl<'a> Visit<'a> for C<'_> {
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            if i == self.0 {
                self.1 += 1;
            }
        }
    }
    let mut c = C(name, 0);
    c.visit_block(b);
    c.1
}

/// Methods that take a permit to send: a connection counter's `inc()` (whose answer says
/// whether there is room), a semaphore's `acquire*`, a `want` signal's `poll_want`, an atomic
/// flag's `swap`/`compare_exchange` (a coalesced wake-up: `if !pending.swap(true, ..) {
/// tx.send(()) }` queues at most one until the receiver clears the flag).
const PERMITS: &[&str] = &[
    "swap",
    "compare_exchange",
    "compare_exchange_weak",
    "inc",
    "acquire",
    "acquire_owned",
    "acquire_many",
    "try_acquire",
    "try_acquire_owned",
    "poll_acquire",
    "poll_want",
];

/// The function takes a permit and keeps its answer: `let ok = self.counter.inc();`,
/// `let _permit = sem.acquire().await?;`, `if !self.counter.inc() { … }`, `match
/// self.giver.poll_want(cx) { … }`. A bare `self.metric.inc();` statement is not one.
fn takes_permit(b: &syn::Block) -> bool {
    fn permit_call(e: &Expr) -> bool {
        struct P(bool);
        impl<'a> Visit<'a> for P {
            fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
                if PERMITS.contains(&m.method.to_string().as_str()) {
                    self.0 = true;
                }
                visit::visit_expr_method_call(self, m);
            }
            fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        }
        let mut p = P(false);
        p.visit_expr(e);
        p.0
    }
    struct T(bool);
    impl<'a> Visit<'a> for T {
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let Some(init) = &l.init
                && let Expr::MethodCall(m) = strip_await(&init.expr)
                && PERMITS.contains(&m.method.to_string().as_str())
            {
                self.0 = true;
            }
            visit::visit_local(self, l);
        }
        fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
            self.0 |= permit_call(&i.cond);
            visit::visit_expr_if(self, i);
        }
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            self.0 |= permit_call(&m.expr);
            visit::visit_expr_match(self, m);
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut t = T(false);
    t.visit_block(b);
    t.0
}

/// The `//` comment lines right above the statement at `at` say why the channel cannot grow
/// without limit: they speak of it being unbounded and name what bounds it anyway ("bounded
/// by", "at most", "one per", …), and are not a to-do. A reason without a bound ("unbounded
/// because producers must not block") is a choice, not a bound.
fn documents_bound(text: &str, at: usize) -> bool {
    let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let mut comment = String::new();
    for line in text[..line_start].lines().rev() {
        let t = line.trim();
        let Some(c) = t.strip_prefix("//") else { break };
        comment.insert_str(0, &format!("{} ", c.trim_start_matches(['/', '!'])));
    }
    let c = comment.to_lowercase();
    c.contains("bounded")
        && [
            "bounded by",
            "at most",
            "one per",
            "only ever",
            "never more than",
            "limited by",
        ]
        .iter()
        .any(|w| c.contains(w))
        && !["todo", "fixme", "xxx", "leak"]
            .iter()
            .any(|w| c.contains(w))
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
        let is_pub = !matches!(i.vis, syn::Visibility::Inherited);
        self.0.push(func(&i.sig, &i.block, None, false, is_pub));
        visit::visit_item_fn(self, i);
    }
    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let owner = match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        let drop_impl = i
            .trait_
            .as_ref()
            .and_then(|t| t.0.segments.last())
            .is_some_and(|s| s.ident == "Drop");
        for item in &i.items {
            if let syn::ImplItem::Fn(f) = item {
                let is_drop = drop_impl && f.sig.ident == "drop";
                // A trait method is called through the trait, from anywhere.
                let is_pub = i.trait_.is_some() || !matches!(f.vis, syn::Visibility::Inherited);
                self.0
                    .push(func(&f.sig, &f.block, owner.clone(), is_drop, is_pub));
            }
        }
        visit::visit_item_impl(self, i);
    }
}

fn func<'a>(
    sig: &syn::Signature,
    block: &'a syn::Block,
    owner: Option<String>,
    is_drop: bool,
    is_pub: bool,
) -> Func<'a> {
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
        is_drop,
        is_pub,
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
/// The pattern under a type ascription: `(tx, rx)` of `let (tx, rx): (Sender, Receiver) = …`.
fn untyped(p: &Pat) -> &Pat {
    match p {
        Pat::Type(t) => untyped(&t.pat),
        p => p,
    }
}

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
    /// The sending function (an index into the file's functions).
    func: usize,
    /// The message carries a fresh one-shot sender whose receiver the function awaits.
    awaits_reply: bool,
    /// Not inside a loop or a closure, or followed by a `break`/`return` of its only loop.
    once: bool,
    /// In `Drop::drop`.
    in_drop: bool,
    /// The sending function takes a permit ([`takes_permit`]).
    after_permit: bool,
}

/// `rx.recv()` (or another receiving call).
struct Recv {
    on: End,
    /// Not inside a loop or a closure.
    once: bool,
}

/// What a loop's body waits for: anything other than receiving (`other`), and the
/// receivers (as written) it awaits a receive on.
#[derive(Default)]
struct Waits {
    other: bool,
    recvs: Vec<String>,
}

/// Method names that receive from a channel.
fn is_recv(method: &str) -> bool {
    matches!(
        method,
        "recv" | "recv_async" | "try_recv" | "blocking_recv" | "recv_timeout" | "next"
    )
}

#[derive(Default)]
struct Uses {
    channels: Vec<Channel>,
    moves: Vec<(usize, String, MovedTo)>,
    drains: Vec<Drain>,
    sends: Vec<Send>,
    /// Locals cloned or used other than as the receiver of a method call.
    escapes: Vec<(usize, String)>,
    recvs: Vec<Recv>,
    /// Locals of a function that stand for a field (`let tx = &self.tx;`).
    aliases: Vec<(usize, String, End)>,
    /// Calls by name (a method's, or a path's last segment), with the calling function.
    calls: Vec<(usize, String)>,
}

struct FnUses<'u> {
    func: usize,
    owner: Option<String>,
    /// Names that stand for `self` (`self`, and `let this = self.project()`).
    selves: Vec<String>,
    out: &'u mut Uses,
    /// One-shot reply senders made in this function whose receivers it awaits.
    replies: Vec<String>,
    /// This function is `Drop::drop`.
    in_drop: bool,
    /// This function takes a permit ([`takes_permit`]).
    permit: bool,
    /// What each enclosing loop's body waits for, innermost last.
    loops: Vec<Waits>,
    closures: usize,
    /// Inside the closure handed to `spawn_blocking`: work that blocks by design, so a loop
    /// there waits on every message it handles.
    blocking: usize,
    /// Locals cloned from a field (`let rx = self.receiver.clone();`): the same channel end.
    aliases: std::collections::HashMap<String, End>,
    /// Statements being walked that a later statement of their block follows with a `break`
    /// or `return`: what they send is the last thing the loop does.
    exits_after: usize,
}

impl FnUses<'_> {
    /// Walks a loop whose body is `body`: what the body waits for is known to the sends and
    /// receives inside, and a `break` after a statement counts only within this loop.
    fn in_loop(&mut self, body: &syn::Block, walk: impl FnOnce(&mut Self)) {
        self.loops.push(waits_in(body));
        let outer = std::mem::take(&mut self.exits_after);
        walk(self);
        self.exits_after = outer;
        self.loops.pop();
    }

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

/// What a loop body waits for per turn: an `.await` (outside nested closures and async
/// blocks, which run elsewhere) or a blocking sleep/join (`other`); an awaited receive is
/// noted by its receiver, so the drain it is can tell its own receive from another wait.
fn waits_in(b: &syn::Block) -> Waits {
    struct W(Waits);
    impl<'a> Visit<'a> for W {
        fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
            match &*a.base {
                Expr::MethodCall(m) if is_recv(&m.method.to_string()) => {
                    use quote::ToTokens;
                    self.0.recvs.push(m.receiver.to_token_stream().to_string());
                }
                _ => self.0.other = true,
            }
            visit::visit_expr_await(self, a);
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            if matches!(m.method.to_string().as_str(), "join" | "block_on" | "sleep") {
                self.0.other = true;
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
                self.0.other = true;
            }
            visit::visit_expr_call(self, c);
        }
    }
    let mut w = W(Waits::default());
    w.visit_block(b);
    w.0
}

/// The reply senders made in this block: the first name of `let (tx, rx) = oneshot::channel()`
/// (or of a bounded `channel(n)`, `sync_channel(n)`, `bounded(n)`) whose `rx` the function
/// awaits, blocks on (`rx.recv()`, `rx.recv_timeout(d)`) or hands back to its caller (in its
/// tail expression or a `return`): every message that carries `tx` has a caller waiting on its
/// answer.
fn oneshot_replies(b: &syn::Block) -> Vec<String> {
    struct O {
        pairs: Vec<(String, String)>,
        waited: Vec<String>,
        /// `let request = Request { messages, sender };`: a local and the names its value uses.
        wraps: Vec<(String, Vec<String>)>,
    }
    impl<'a> Visit<'a> for O {
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let Pat::Tuple(t) = untyped(&l.pat)
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
                // Bounded: tokio's `channel(n)`, std's `sync_channel(n)`, crossbeam's, flume's
                // and async-channel's `bounded(n)`.
                let bounded = segs
                    .last()
                    .is_some_and(|s| matches!(s.as_str(), "channel" | "sync_channel" | "bounded"))
                    && c.args.len() == 1;
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
        // A blocking wait for the reply (`rx.recv()`, `rx.recv_timeout(d)`): the sync client's
        // form of `rx.await`.
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            if matches!(
                m.method.to_string().as_str(),
                "recv" | "recv_timeout" | "recv_deadline" | "blocking_recv"
            ) && let Some(n) = local_name(&m.receiver)
            {
                self.waited.push(n);
            }
            visit::visit_expr_method_call(self, m);
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
            if let Pat::Tuple(t) = untyped(&l.pat)
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
            // `let rx = self.rx.clone();` (or `self.rx`, `&self.rx`): `rx` is the field's end.
            if let Some(name) = ident_of(&l.pat) {
                let read = match &*init.expr {
                    Expr::MethodCall(m) if m.method == "clone" => &*m.receiver,
                    e => e,
                };
                match self.end_of(read) {
                    Some(end @ End::Field(..)) if !matches!(read, Expr::Path(_)) => {
                        self.out
                            .aliases
                            .push((self.func, name.clone(), end.clone()));
                        self.aliases.insert(name, end);
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
            // `Tracker { tx }`, `Tracker { tx: tx.clone() }`.
            let value = match &f.expr {
                Expr::MethodCall(m) if m.method == "clone" && m.args.is_empty() => &*m.receiver,
                e => e,
            };
            if let syn::Member::Named(field) = &f.member
                && let Some(local) = local_name(value)
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
        // `spawn_blocking(|| …)`: a loop in the closure blocks on every message it handles.
        let blocking = matches!(&*c.func, Expr::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "spawn_blocking"));
        self.blocking += usize::from(blocking);
        if let Expr::Path(p) = &*c.func
            && let Some(callee) = p.path.segments.last()
        {
            self.out.calls.push((self.func, callee.ident.to_string()));
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
        self.blocking -= usize::from(blocking);
    }

    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        let method = m.method.to_string();
        self.out.calls.push((self.func, method.clone()));
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
                func: self.func,
                awaits_reply,
                once: (self.loops.is_empty() || (self.loops.len() == 1 && self.exits_after > 0))
                    && self.closures == 0,
                in_drop: self.in_drop,
                after_permit: self.permit,
            });
        } else if is_recv(&method)
            && let Some(on) = self.end_of(&m.receiver)
        {
            // Read in a loop: a drain, which waits when the loop's body awaits anything but
            // this receive.
            if let Some(w) = self.loops.last() {
                use quote::ToTokens;
                let me = m.receiver.to_token_stream().to_string();
                self.out.drains.push(Drain {
                    on: on.clone(),
                    waits: w.other || w.recvs.iter().any(|r| *r != me) || self.blocking > 0,
                });
            }
            self.out.recvs.push(Recv {
                on,
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
        self.in_loop(&w.body, |u| visit::visit_expr_while(u, w));
    }

    fn visit_expr_for_loop(&mut self, l: &'a syn::ExprForLoop) {
        self.in_loop(&l.body, |u| visit::visit_expr_for_loop(u, l));
    }

    fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
        self.closures += 1;
        let outer = std::mem::take(&mut self.exits_after);
        visit::visit_expr_closure(self, c);
        self.exits_after = outer;
        self.closures -= 1;
    }

    /// `if let Err(e) = tx.send(v) { … } break 'receiving;`: a statement that a later one of
    /// its block follows with a `break` or `return` is the last thing its loop does, so it
    /// runs at most once per run of that loop (a loop inside it starts the count afresh).
    fn visit_block(&mut self, b: &'a syn::Block) {
        let exit_at = b
            .stmts
            .iter()
            .position(|st| matches!(st, syn::Stmt::Expr(Expr::Break(_) | Expr::Return(_), _)));
        for (i, st) in b.stmts.iter().enumerate() {
            let exits = exit_at.is_some_and(|j| j > i);
            self.exits_after += usize::from(exits);
            self.visit_stmt(st);
            self.exits_after -= usize::from(exits);
        }
    }

    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        self.in_loop(&l.body, |u| visit::visit_expr_loop(u, l));
    }

    // Items nested in a function are walked as functions of their own.
    fn visit_item(&mut self, _: &'a syn::Item) {}
}
