//! The `Visit` pass: items (uses, structs, statics, fns, impls, test code skipped), statements
//! and the expressions whose place or shape matters (assignments, loops, awaits, `return`,
//! `?`, comparisons of lengths, macros).

use proc_macro2::TokenTree;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, FnArg, Item, Pat, Stmt, Type};

use super::Walker;
use super::spans::{Ranged, span_range};
use super::syntax::{
    LiteralScan, StaticItems, arc_type, cfg_test_only, compact, is_constructor_name, is_unsafe_fn,
    literal_lookalikes, path_text, rebuilds_from_itself,
};
use crate::facts::*;

impl<'a> Visit<'a> for Walker {
    fn visit_item_use(&mut self, i: &'a syn::ItemUse) {
        self.record_use(&i.tree, "");
    }

    fn visit_item_struct(&mut self, i: &'a syn::ItemStruct) {
        let name = i.ident.to_string();
        let class = self.class_id(&name);
        self.facts.classes[class].span = i.range();
        for (n, f) in i.fields.iter().enumerate() {
            let fname = f
                .ident
                .as_ref()
                .map_or_else(|| n.to_string(), |id| id.to_string());
            let ty = compact(&f.ty);
            self.note_long_lived_type(&ty);
            let span = f.range();
            if let Some(kind) = Walker::collection_kind(&ty) {
                self.facts.events.push(Event {
                    kind: EventKind::Collection {
                        kind,
                        place: PlaceRef::Field {
                            class,
                            name: fname.clone(),
                        },
                    },
                    hint: None,
                    stmt: span.clone(),
                    span: span.clone(),
                    scope: 0,
                    in_loop: false,
                    loop_span: None,
                    conditional: false,
                    path: PathKind::Normal,
                });
            }
            self.facts.classes[class].fields.push(Field {
                name: fname,
                origin: FieldOrigin::Other,
                span,
                ty: Some(ty),
            });
        }
    }

    fn visit_item_static(&mut self, i: &'a syn::ItemStatic) {
        let name = i.ident.to_string();
        let ty = compact(&i.ty);
        self.declare(&name, BindingKind::Var, span_range(i.ident.span()));
        if let Some(b) = self.facts.bindings.last_mut() {
            b.ty = Some(ty.clone());
        }
        // A type in a static lives for the process.
        let inner: String = ty
            .rsplit('<')
            .next()
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !inner.is_empty() {
            self.facts.long_lived_types.push(inner);
        }
        if let Some(kind) = Walker::collection_kind(&ty) {
            self.event(
                EventKind::Collection {
                    kind,
                    place: PlaceRef::Name {
                        name: name.clone(),
                        scope: 0,
                        at: At::default(),
                    },
                },
                span_range(i.span()),
            );
        }
        self.lazy_init += 1;
        self.visit_expr(&i.expr);
        self.lazy_init -= 1;
    }

    fn visit_item_fn(&mut self, i: &'a syn::ItemFn) {
        let name = i.sig.ident.to_string();
        for a in &i.attrs {
            let path = a
                .path()
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            if path == "cached" || path == "once" || path == "io_cached" {
                let args = match &a.meta {
                    syn::Meta::List(l) => {
                        let mut out = Vec::new();
                        for tt in l.tokens.clone() {
                            if let TokenTree::Ident(id) = tt {
                                out.push(id.to_string());
                            }
                        }
                        out
                    }
                    _ => Vec::new(),
                };
                self.event(
                    EventKind::CacheCtor {
                        api: format!("#[{path}]"),
                        options: args,
                        at: None,
                    },
                    span_range(a.span()),
                );
            }
        }
        let id = self.facts.scopes.len();
        self.declare(
            &name,
            BindingKind::Function(id),
            span_range(i.sig.ident.span()),
        );
        let is_async = i.sig.asyncness.is_some();
        let unsafe_fn = u32::from(is_unsafe_fn(&i.sig));
        self.unsafe_depth += unsafe_fn;
        self.scoped(
            ScopeKind::Function,
            Some(name),
            i.range(),
            is_async,
            None,
            |w| {
                w.declare_inputs(i.sig.inputs.iter());
                w.visit_block(&i.block);
            },
        );
        self.unsafe_depth -= unsafe_fn;
    }

    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let Type::Path(tp) = &*i.self_ty else {
            visit::visit_item_impl(self, i);
            return;
        };
        let Some(seg) = tp.path.segments.last() else {
            return;
        };
        let class = self.class_id(&seg.ident.to_string());
        for item in &i.items {
            if let syn::ImplItem::Fn(f) = item {
                let name = f.sig.ident.to_string();
                let receiver = match f.sig.inputs.first() {
                    Some(FnArg::Receiver(r)) => Some(matches!(r.kind, syn::ReceiverKind::Value)),
                    _ => None,
                };
                let has_self = receiver.is_some();
                // `new()`, and a builder's consuming `build(self)`: they make a value, once.
                let unsafe_fn = u32::from(is_unsafe_fn(&f.sig));
                self.unsafe_depth += unsafe_fn;
                // A consuming `fn x(mut self, ..) -> Self` builds a new value (a builder step).
                let constructor = match receiver {
                    None => {
                        is_constructor_name(&name)
                            || returns_self(&f.sig.output, &seg.ident.to_string())
                    }
                    Some(by_value) => by_value,
                };
                self.scoped(
                    ScopeKind::Method {
                        constructor,
                        is_static: !has_self,
                    },
                    Some(name),
                    f.range(),
                    f.sig.asyncness.is_some(),
                    Some(class),
                    |w| {
                        w.declare_inputs(f.sig.inputs.iter());
                        if let syn::ReturnType::Type(_, ty) = &f.sig.output {
                            if let Some(ty) = arc_type(ty) {
                                w.note_long_lived_type(&ty);
                            }
                        }
                        w.visit_block(&f.block);
                    },
                );
                self.unsafe_depth -= unsafe_fn;
            } else {
                self.visit_impl_item(item);
            }
        }
    }

    fn visit_item_mod(&mut self, i: &'a syn::ItemMod) {
        // `#[cfg(test)] mod tests { … }`: test code, not the service.
        let is_test = i.attrs.iter().any(cfg_test_only);
        if is_test {
            LiteralScan(&mut self.facts.suppression_lookalikes).visit_item_mod(i);
        } else {
            visit::visit_item_mod(self, i);
        }
    }

    fn visit_expr(&mut self, e: &'a Expr) {
        if self.out_of_time() {
            return;
        }
        visit::visit_expr(self, e);
    }

    fn visit_item(&mut self, i: &'a Item) {
        if self.out_of_time() {
            return;
        }
        if let Item::Fn(f) = i
            && f.attrs.iter().any(|a| {
                // Documentation is an attribute too, and the longest: never `#[test]`.
                if a.path().is_ident("doc") {
                    return false;
                }
                let t = compact(a);
                // A helper compiled only for tests (`#[cfg(test)] pub async fn
                // unload_topic(..)` in a shared test-utilities file) is test code too.
                t == "#[test]" || t.starts_with("#[tokio::test") || cfg_test_only(a)
            })
        {
            // Test code is not linted, but its strings may quote suppression comments.
            LiteralScan(&mut self.facts.suppression_lookalikes).visit_item(i);
            return;
        }
        visit::visit_item(self, i);
    }

    fn visit_local(&mut self, l: &'a syn::Local) {
        self.declare_pat(&l.pat);
        let Some(init) = &l.init else { return };
        // `let (transport, kind) = (Transport::Mock { client }, Kind::Http);`: element by
        // element, as if each were a `let` of its own.
        if let (Pat::Tuple(pt), Expr::Tuple(et)) = (&l.pat, &*init.expr)
            && pt.elems.len() == et.elems.len()
        {
            for (p, e) in pt.elems.iter().zip(&et.elems) {
                let place = self.bound_place(p);
                self.value(e, place);
            }
            return;
        }
        let place = self.bound_place(&l.pat);
        let first_new_scope = self.facts.scopes.len();
        self.value(&init.expr, place);
        if let Some(name) = Walker::pat_name(&l.pat) {
            // `let fut = async { … };`: remember the block's scope for a later `spawn(fut)`
            // (and forget it when the name is bound to something else).
            self.async_locals.remove(&(self.scope, name.clone()));
            if let Expr::Async(ab) = &*init.expr {
                let span = ab.range();
                if let Some(sid) = (first_new_scope..self.facts.scopes.len())
                    .find(|&s| self.facts.scopes[s].span == span)
                {
                    self.async_locals.insert((self.scope, name.clone()), sid);
                }
            }
            self.bind_guard(&name, &init.expr);
            let ty = match &l.pat {
                Pat::Type(t) => Some(&*t.ty),
                _ => None,
            };
            self.note_receiver(&name, ty, Some(&init.expr));
        }
        if let Some((_, diverge)) = &init.diverge {
            self.visit_expr(diverge);
        }
    }

    fn visit_stmt(&mut self, s: &'a Stmt) {
        let saved = self.stmt.replace(span_range(s.span()));
        match s {
            Stmt::Expr(e, Some(_)) => self.value(e, PlaceRef::Discarded),
            _ => visit::visit_stmt(self, s),
        }
        self.stmt = saved;
    }

    fn visit_block(&mut self, b: &'a syn::Block) {
        let n = b.stmts.len();
        for (i, s) in b.stmts.iter().enumerate() {
            // The tail expression is the block's value: returned from a fn body.
            if i + 1 == n
                && let Stmt::Expr(e, None) = s
                && matches!(
                    self.facts.scopes[self.scope].kind,
                    ScopeKind::Function | ScopeKind::Method { .. }
                )
            {
                self.value(e, PlaceRef::Returned(self.scope));
                continue;
            }
            self.visit_stmt(s);
        }
    }

    fn visit_expr_assign(&mut self, a: &'a syn::ExprAssign) {
        let place = self.place_of(&a.left);
        if let Expr::Path(p) = &*a.left {
            let name = path_text(&p.path);
            for l in &mut self.loops {
                if l.cond_var.as_deref() == Some(name.as_str()) {
                    l.assigned = true;
                }
            }
        }
        if matches!(place, PlaceRef::Field { .. } | PlaceRef::Name { .. }) {
            // Replacing the value: for a collection, a reset.
            self.event(
                EventKind::Shrink {
                    place: place.clone(),
                },
                a.range(),
            );
        }
        if rebuilds_from_itself(&a.left, &a.right) {
            let idx = self.event(
                EventKind::Reconcat {
                    place: place.clone(),
                },
                a.range(),
            );
            // Where appending in place would replace the assignment.
            self.facts.events[idx].hint = Some(Box::new(FixSite::Assign {
                assign: span_range(a.span()),
            }));
        }
        self.visit_expr(&a.left);
        self.value(&a.right, place);
    }

    fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
        // `if let Some(h) = self.task.take()`: the handle moves to `h`.
        self.declare_pat(&l.pat);
        if let Some(name) = Walker::pat_name(&l.pat) {
            let to = PlaceRef::Name {
                name,
                scope: self.scope,
                at: At::default(),
            };
            self.value(&l.expr, to);
            self.bind_pattern_guard(&l.pat, &l.expr);
        } else {
            self.visit_expr(&l.expr);
        }
    }

    fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
        // `match map.entry(k) { Occupied(e) => e.remove(), .. }`: each arm's binding is a
        // handle on what the scrutinee guards.
        self.closed_recv_match(m);
        self.visit_expr(&m.expr);
        for arm in &m.arms {
            self.bind_pattern_guard(&arm.pat, &m.expr);
            self.visit_arm(arm);
        }
    }

    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        self.call(c, PlaceRef::Unknown);
    }

    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        self.method_call(m, PlaceRef::Unknown);
    }

    fn visit_expr_struct(&mut self, s: &'a syn::ExprStruct) {
        // `Self { task: tokio::spawn(..), .. }`: the value goes to the field.
        let class = self.struct_class(s);
        for f in &s.fields {
            let place = match (&f.member, class) {
                (syn::Member::Named(id), Some(c)) => PlaceRef::Field {
                    class: c,
                    name: id.to_string(),
                },
                _ => PlaceRef::Unknown,
            };
            self.value(&f.expr, place);
        }
        if let Some(rest) = &s.rest {
            self.visit_expr(rest);
        }
    }

    fn visit_expr_closure(&mut self, cl: &'a syn::ExprClosure) {
        self.scoped(
            ScopeKind::Function,
            None,
            cl.range(),
            cl.asyncness.is_some(),
            self.class,
            |w| {
                for input in &cl.inputs {
                    w.declare_pat(input);
                }
                w.visit_expr(&cl.body);
            },
        );
    }

    fn visit_expr_async(&mut self, ab: &'a syn::ExprAsync) {
        self.scoped(
            ScopeKind::Function,
            None,
            ab.range(),
            true,
            self.class,
            |w| w.visit_block(&ab.block),
        );
    }

    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        self.enter_loop(true, None, l.range(), |w| w.visit_block(&l.body));
    }

    fn visit_expr_while(&mut self, l: &'a syn::ExprWhile) {
        // `while true` loops forever, and so does `while running` when nothing in the loop
        // assigns `running`; `while flag.load(..)`, `while let Some(x) = rx.recv()` stop when
        // something changes.
        let mut cond = &*l.cond;
        if let Expr::Unary(u) = cond
            && matches!(u.op, syn::UnOp::Not(_))
        {
            cond = &u.expr;
        }
        let cond_var = match cond {
            Expr::Path(p) if p.path.segments.len() == 1 => Some(path_text(&p.path)),
            _ => None,
        };
        let endless =
            matches!(&*l.cond, Expr::Lit(lit) if compact(lit) == "true") || cond_var.is_some();
        let cond_cancels = !endless;
        self.enter_loop(endless, cond_var, l.range(), |w| {
            if cond_cancels {
                w.mark_cancel();
            }
            w.visit_expr(&l.cond);
            w.visit_block(&l.body);
        });
    }

    fn visit_expr_for_loop(&mut self, l: &'a syn::ExprForLoop) {
        self.visit_expr(&l.expr);
        // `for i in 0..n`, `for x in [a, b]`: a fixed number of turns, not a long-lived loop.
        let counted = match &*l.expr {
            Expr::Range(r) => r.end.is_some(),
            Expr::Array(_) => true,
            Expr::Reference(r) => matches!(&*r.expr, Expr::Array(_)),
            _ => false,
        };
        if counted {
            self.shape_mut().counted_loops += 1;
        }
        self.enter_loop(false, None, l.range(), |w| {
            w.declare_pat(&l.pat);
            w.visit_block(&l.body);
        });
    }

    fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
        // `handle.await` joins the task: a release of its handle.
        let place = self.place_of(&a.base);
        if matches!(&*a.base, Expr::Path(_) | Expr::Field(_))
            && matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. })
        {
            self.event(EventKind::ClearTimer { handle: place }, a.range());
        }
        visit::visit_expr_await(self, a);
    }

    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        self.swallowed_arm(arm);
        visit::visit_arm(self, arm);
    }

    fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
        // `if self.x.is_some() { return …; }`: a guard for what follows in this fn.
        let exits = i
            .then_branch
            .stmts
            .last()
            .is_some_and(|s| matches!(s, Stmt::Expr(Expr::Return(_), _)));
        if exits && i.else_branch.is_none() {
            let guard = compact(&i.cond);
            self.facts.scopes[self.scope]
                .early_return_guards
                .push(guard);
        }
        self.swallowed_if_let(i);
        self.closed_recv_if(i);
        visit::visit_expr_if(self, i);
    }

    fn visit_expr_unsafe(&mut self, u: &'a syn::ExprUnsafe) {
        self.unsafe_depth += 1;
        visit::visit_expr_unsafe(self, u);
        self.unsafe_depth -= 1;
    }

    fn visit_expr_break(&mut self, b: &'a syn::ExprBreak) {
        if let Some(l) = self.loops.last_mut() {
            l.exits = true;
        }
        visit::visit_expr_break(self, b);
    }

    fn visit_expr_return(&mut self, r: &'a syn::ExprReturn) {
        for l in &mut self.loops {
            l.exits = true;
        }
        if let Some(e) = &r.expr {
            self.value(e, PlaceRef::Returned(self.scope));
        }
    }

    fn visit_expr_try(&mut self, t: &'a syn::ExprTry) {
        // `?` returns on error: an exit from every enclosing loop.
        for l in &mut self.loops {
            l.exits = true;
        }
        visit::visit_expr_try(self, t);
    }

    fn visit_expr_binary(&mut self, b: &'a syn::ExprBinary) {
        use syn::BinOp::*;
        if matches!(b.op, Lt(_) | Le(_) | Gt(_) | Ge(_) | Eq(_) | Ne(_)) {
            for side in [&*b.left, &*b.right] {
                if let Some(place) = self.size_of(side) {
                    self.event(EventKind::SizeCheck { place }, side.range());
                }
            }
        }
        visit::visit_expr_binary(self, b);
    }

    fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
        let full = self.full_path(&p.path);
        let last = full.rsplit("::").next().unwrap_or("");
        // `sleep(d).await`, `thread::sleep(d)` mark the enclosing loops as ticking.
        if matches!(last, "sleep" | "sleep_until" | "IntervalStream") {
            self.mark_tick();
        }
        if full.ends_with("SignalKind::terminate") {
            self.event(
                EventKind::SignalListen {
                    signal: "SIGTERM".into(),
                },
                p.range(),
            );
        }
        visit::visit_expr_path(self, p);
    }

    fn visit_lit_str(&mut self, s: &'a syn::LitStr) {
        if s.value().contains("unleak-ignore") {
            self.facts.suppression_lookalikes.push(span_range(s.span()));
        }
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        self.scan_macro(&m.tokens);
        literal_lookalikes(&m.tokens, &mut self.facts.suppression_lookalikes);
        // thread_local! { static X: RefCell<Vec<..>> = … } and lazy_static!: statics.
        let name = m
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if matches!(name.as_str(), "thread_local" | "lazy_static")
            && let Ok(items) = syn::parse2::<StaticItems>(m.tokens.clone())
        {
            for s in items.0 {
                let ty = compact(&s.ty);
                self.declare(
                    &s.ident.to_string(),
                    BindingKind::Var,
                    span_range(s.ident.span()),
                );
                if let Some(kind) = Walker::collection_kind(&ty) {
                    self.event(
                        EventKind::Collection {
                            kind,
                            place: PlaceRef::Name {
                                name: s.ident.to_string(),
                                scope: 0,
                                at: At::default(),
                            },
                        },
                        span_range(s.ident.span()),
                    );
                }
            }
        }
    }
}

/// An associated function that returns the type it is implemented for — `Self`, the type's
/// name, or either as the first argument of a wrapper (`io::Result<Self>`, `Option<Self>`,
/// `Arc<Self>`) — makes a value: a constructor whatever its name (`try_new`, `bind`).
fn returns_self(output: &syn::ReturnType, ty: &str) -> bool {
    let syn::ReturnType::Type(_, t) = output else {
        return false;
    };
    let is_self = |t: &Type| {
        matches!(t, Type::Path(p) if p.qself.is_none()
            && p.path.segments.last().is_some_and(|s| s.ident == "Self" || s.ident == ty))
    };
    if is_self(t) {
        return true;
    }
    let Type::Path(p) = &**t else {
        return false;
    };
    p.path.segments.last().is_some_and(|s| match &s.arguments {
        syn::PathArguments::AngleBracketed(a) => {
            matches!(a.args.first(), Some(syn::GenericArgument::Type(first)) if is_self(first))
        }
        _ => false,
    })
}
