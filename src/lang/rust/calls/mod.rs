//! What a call does: the dispatch of function and method calls to the API families (tasks and
//! timers, channels and collections, clients and connections, servers and signals, leaks), then
//! the call-graph events and the walk of the arguments.

mod channels;
mod clients;
mod leaks;
mod servers;
mod tasks;

use syn::Expr;
use syn::visit::{self, Visit};

use super::Walker;
use super::spans::Ranged;
use crate::facts::*;

/// The last segment of a path: `spawn` of `tokio::spawn`.
fn last_segment(full: &str) -> &str {
    full.rsplit("::").next().unwrap_or("")
}

impl Walker {
    /// A function call whose value goes to `place`.
    pub(in crate::lang::rust) fn call(&mut self, c: &syn::ExprCall, place: PlaceRef) {
        let Expr::Path(p) = &*c.func else {
            visit::visit_expr_call(self, c);
            return;
        };
        let full = self.full_path(&p.path);
        let head = c.func.range();
        let span = c.range().start..head.end;
        // `sleep(d).await`, `thread::sleep(d)`: the enclosing loops tick.
        if matches!(last_segment(&full), "sleep" | "sleep_until") {
            self.mark_tick();
        }
        if self.spawn_call(c, &full, &span, &place) {
            return;
        }
        self.forget_call(c, &full, &span, &place);
        self.server_call(c, &full, &span);
        self.cache_call(c, &full, &span, &place);
        self.adapter_call(&full, &span, &place);
        self.channel_call(c, &full, &span);
        self.client_call(&full, &span, &place);
        if self.drop_call(c, &full) {
            return;
        }
        self.shared_value_call(c, &full);
        let by_path = self.callee_events(p, &full, &span);
        // `record(&mut log, line)`: what a function is lent mutably, for `lent::grow` (a
        // function of this file) or the project (`state::record(&mut log, ..)`, see
        // `rules::inputs::LentArg`) to tell whether the call grows it.
        if p.path.segments.len() == 1 || by_path {
            for (i, a) in c.args.iter().enumerate().take(usize::from(u8::MAX)) {
                if let Expr::Reference(r) = a
                    && r.mutability.is_some()
                {
                    let place = self.place_of(&r.expr);
                    if !matches!(place, PlaceRef::Unknown) {
                        // The whole call (the `Call` event spans its head), for fixes.
                        self.event(
                            EventKind::Arg {
                                index: i as u8,
                                place,
                            },
                            c.range(),
                        );
                    }
                }
            }
        }
        self.call_arguments(c, &full);
    }

    /// Calls of named functions (and of callback values), for call-graph lifetimes; whether
    /// the call was recorded as a call by path (another module's function).
    fn callee_events(
        &mut self,
        p: &syn::ExprPath,
        full: &str,
        span: &std::ops::Range<usize>,
    ) -> bool {
        let last = last_segment(full).to_string();
        // Calling a callback value (`on_timeout()`) after a sleep: a signal.
        if p.path.segments.len() == 1 && self.is_local_value(&last) {
            self.mark_signal();
        }
        // `helpers::make_client()`, or a function a `use` brought in from another module: for
        // the project rules that follow a function to its callers in other files.
        let mut segs = full.rsplit("::");
        let by_path = if let (Some(name), Some(module)) = (segs.next(), segs.next())
            && [name, module]
                .iter()
                .all(|s| s.starts_with(|c: char| c.is_ascii_lowercase()))
            && !matches!(module, "std" | "core" | "alloc" | "tokio" | "self")
            && self.lazy_init == 0
        {
            self.facts.path_calls.push(PathCall {
                path: full.to_string(),
                scope: self.scope,
                in_loop: self.in_loop,
                span: span.clone(),
            });
            true
        } else {
            false
        };
        if p.path.segments.len() == 1 {
            self.event(
                EventKind::Call {
                    callee: PlaceRef::Name {
                        name: last.clone(),
                        scope: self.scope,
                        at: At::default(),
                    },
                },
                span.clone(),
            );
        } else if full.starts_with("Self::")
            && let Some(class) = self.class
        {
            self.event(
                EventKind::Call {
                    callee: PlaceRef::Field {
                        class,
                        name: last.clone(),
                    },
                },
                span.clone(),
            );
        }
        by_path
    }

    /// The arguments of a call: lazy initialisers, per-request route handlers, callbacks.
    fn call_arguments(&mut self, c: &syn::ExprCall, full: &str) {
        let last = last_segment(full);
        let lazy = matches!(
            full,
            "LazyLock::new"
                | "std::sync::LazyLock::new"
                | "Lazy::new"
                | "once_cell::sync::Lazy::new"
                | "LazyCell::new"
        );
        // Routing functions take handlers that run per request.
        let route = matches!(last, "get" | "post" | "put" | "delete" | "patch" | "any")
            && (full.contains("routing")
                || self.uses.get(last).is_some_and(|u| u.contains("axum")));
        self.lazy_init += u32::from(lazy);
        for a in &c.args {
            self.argument(
                a,
                full,
                if route {
                    CallbackKind::Route
                } else {
                    CallbackKind::Other
                },
            );
        }
        self.lazy_init -= u32::from(lazy);
    }

    /// A method call whose value goes to `place`.
    pub(in crate::lang::rust) fn method_call(&mut self, m: &syn::ExprMethodCall, place: PlaceRef) {
        let method = m.method.to_string();
        let span = m.range();
        let head = span.start..super::spans::span_range(m.method.span()).end;
        // `set.spawn(body)`, `tracker.spawn(body)`: the set holds the handle.
        if method == "spawn" || method == "spawn_local" {
            let set = self.place_of(&m.receiver);
            self.visit_expr(&m.receiver);
            self.spawn("JoinSet::spawn", head, m.args.first(), set);
            return;
        }
        let recv = self.place_of(&m.receiver);
        let known = !matches!(recv, PlaceRef::Unknown);
        self.release_method(&method, &recv, known, &head);
        self.cache_builder_method(m, &method);
        self.task_method(&method, &recv, known, &head);
        self.collection_method(&method, &recv, known, &span);
        self.method_arguments(m, &method, known, place);
        self.graceful_method(m, &method);
    }

    /// The receiver and arguments of a method call: per-item callbacks, lazy initialisers, and
    /// builder chains whose root construction goes where the chain's value goes.
    fn method_arguments(
        &mut self,
        m: &syn::ExprMethodCall,
        method: &str,
        known: bool,
        place: PlaceRef,
    ) {
        // `.map(|x| …)` and friends run per item.
        let kind = if matches!(
            method,
            "map"
                | "for_each"
                | "then"
                | "filter_map"
                | "and_then"
                | "flat_map"
                | "filter"
                | "fold"
                | "try_for_each"
                | "for_each_concurrent"
                | "buffer_unordered"
        ) {
            CallbackKind::Iteration
        } else {
            CallbackKind::Other
        };
        let lazy = matches!(method, "get_or_init" | "get_or_try_init" | "call_once");
        // A builder chain (`Client::builder().timeout(..).build()`) delivers its receiver's
        // value: the construction at its root goes where the chain's result goes.
        if matches!(&*m.receiver, Expr::Call(_) | Expr::MethodCall(_)) && !known {
            self.value(&m.receiver, place.clone());
        } else {
            self.visit_expr(&m.receiver);
        }
        self.lazy_init += u32::from(lazy);
        for a in &m.args {
            self.argument(a, method, kind);
        }
        self.lazy_init -= u32::from(lazy);
    }

    /// An argument: a closure/async block becomes a callback scope, a fn name a callback
    /// reference, a place an escape.
    pub(in crate::lang::rust) fn argument(&mut self, a: &Expr, callee: &str, kind: CallbackKind) {
        let registrar = || Registrar {
            callee: callee.to_string(),
            method: callee.rsplit("::").next().unwrap_or(callee).to_string(),
            event: None,
            target: None,
            arg_index: 0,
            kind,
        };
        match a {
            Expr::Closure(cl) => {
                let is_async = cl.asyncness.is_some();
                self.scoped(
                    ScopeKind::Callback(Box::new(registrar())),
                    None,
                    cl.range(),
                    is_async,
                    self.class,
                    |w| {
                        for input in &cl.inputs {
                            w.declare_pat(input);
                        }
                        w.visit_expr(&cl.body);
                    },
                );
            }
            Expr::Async(ab) => {
                self.scoped(
                    ScopeKind::Callback(Box::new(registrar())),
                    None,
                    ab.range(),
                    true,
                    self.class,
                    |w| w.visit_block(&ab.block),
                );
            }
            Expr::Path(p) if p.path.segments.len() == 1 => {
                let func = self.place_of(a);
                if kind != CallbackKind::Other {
                    self.event(
                        EventKind::PassedAsCallback {
                            func: func.clone(),
                            registrar: Box::new(registrar()),
                        },
                        a.range(),
                    );
                }
                self.event(EventKind::Escape { place: func }, a.range());
            }
            _ => {
                let place = self.place_of(a);
                if !matches!(place, PlaceRef::Unknown) {
                    self.event(EventKind::Escape { place }, a.range());
                }
                self.value(a, PlaceRef::Argument);
            }
        }
    }
}
