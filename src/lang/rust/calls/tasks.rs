//! Tasks and timers: `tokio::spawn`/`thread::spawn`/`set.spawn` (a timer judged by its body's
//! shape, and a `JoinHandle`), and the calls that join, abort or tick them.

use std::ops::Range;

use syn::Expr;
use syn::spanned::Spanned;
use syn::visit::Visit;

use super::super::PendingSpawn;
use super::super::Walker;
use super::super::spans::{Ranged, span_range};
use super::super::syntax::path_text;
use crate::facts::*;

const SPAWN_PATHS: &[&str] = &[
    "tokio::spawn",
    "tokio::task::spawn",
    "tokio::task::spawn_local",
    "tokio::spawn_local",
    "std::thread::spawn",
    "thread::spawn",
    "task::spawn",
    "task::spawn_local",
    "actix_rt::spawn",
    "actix::spawn",
];

impl Walker {
    /// `tokio::spawn(body)` and friends: the spawn and its other arguments are walked here
    /// (`true`), nothing else is done with the call.
    pub(super) fn spawn_call(
        &mut self,
        c: &syn::ExprCall,
        full: &str,
        span: &Range<usize>,
        place: &PlaceRef,
    ) -> bool {
        if !(SPAWN_PATHS.contains(&full)
            || (full == "spawn"
                && self
                    .uses
                    .get("spawn")
                    .is_some_and(|u| u.starts_with("tokio"))))
        {
            return false;
        }
        self.next_spawn_call = Some(span_range(c.span()));
        self.spawn(full, span.clone(), c.args.first(), place.clone());
        for a in c.args.iter().skip(1) {
            self.visit_expr(a);
        }
        true
    }

    /// Method calls on task handles: joins and aborts release them; ticks, cancellations and
    /// signals shape the task body around them.
    pub(super) fn task_method(
        &mut self,
        method: &str,
        recv: &PlaceRef,
        known: bool,
        head: &Range<usize>,
    ) {
        match method {
            // Releases of task handles.
            "abort" | "abort_all" | "shutdown" | "join_next" | "join_all" | "wait" | "close"
            | "detach_all" | "join"
                if known =>
            {
                self.event(
                    EventKind::ClearTimer {
                        handle: recv.clone(),
                    },
                    head.clone(),
                );
            }
            "tick" => self.mark_tick(),
            "is_cancelled" | "cancelled" | "changed" => self.mark_cancel(),
            "send" | "notify_one" | "notify_waiters" | "store" | "call" => self.mark_signal(),
            _ => {}
        }
    }

    /// `tokio::spawn(body)` / `set.spawn(body)`: judge the body's shape once it is known.
    pub(in crate::lang::rust) fn spawn(
        &mut self,
        api: &str,
        span: Range<usize>,
        body: Option<&Expr>,
        handle: PlaceRef,
    ) {
        // A JoinHandle is a disposable too: dropping one detaches its task (duplicate-adapter).
        if api != "JoinSet::spawn" {
            self.event(
                EventKind::New {
                    class: "JoinHandle".into(),
                    handle: handle.clone(),
                    lazy: self.lazy_init > 0,
                    factory: true,
                },
                span.clone(),
            );
        }
        let idx = self.event(
            EventKind::Timer(Box::new(TimerFacts {
                api: api.to_string(),
                repeat: false,
                handle,
                unref: false,
                reschedules: None,
                deadline: None,
                callback: None,
                guarded: false,
                spins_when_closed: false,
            })),
            span,
        );
        if let Some(call) = self.next_spawn_call.take() {
            self.spawn_calls.insert(idx, call);
        }
        let Some(body) = body else { return };
        let registrar = Registrar {
            callee: api.to_string(),
            method: "spawn".into(),
            event: None,
            target: None,
            arg_index: 0,
            kind: CallbackKind::Other,
        };
        let scope = match body {
            Expr::Async(ab) => Some(self.scoped(
                ScopeKind::Callback(Box::new(registrar)),
                None,
                ab.range(),
                true,
                self.class,
                |w| w.visit_block(&ab.block),
            )),
            Expr::Closure(cl) => Some(self.scoped(
                ScopeKind::Callback(Box::new(registrar)),
                None,
                cl.range(),
                cl.asyncness.is_some(),
                self.class,
                |w| w.visit_expr(&cl.body),
            )),
            // `let fut = async { … }; spawn(fut)`: the block bound to that local.
            Expr::Path(p)
                if p.path.segments.len() == 1
                    && self
                        .async_locals
                        .contains_key(&(self.scope, path_text(&p.path))) =>
            {
                self.visit_expr(body);
                self.async_locals
                    .get(&(self.scope, path_text(&p.path)))
                    .copied()
            }
            other => {
                // `tokio::spawn(run(state))`: the body is a named async fn, judged after the walk.
                let mut inner = other;
                if let Expr::Await(a) = inner {
                    inner = &a.base;
                }
                if let Expr::Call(c) = inner
                    && let Expr::Path(p) = &*c.func
                    && p.path.segments.len() == 1
                {
                    self.pending.push(PendingSpawn {
                        event: idx,
                        body_fn: path_text(&p.path),
                    });
                } else if let Expr::MethodCall(m) = inner
                    && let Expr::Path(p) = &*m.receiver
                    && path_text(&p.path) == "self"
                {
                    self.pending.push(PendingSpawn {
                        event: idx,
                        body_fn: m.method.to_string(),
                    });
                }
                self.visit_expr(other);
                None
            }
        };
        if let Some(s) = scope {
            let shape = self.done_shapes.get(&s).cloned().unwrap_or_default();
            if shape.long_lived() {
                let span = self.facts.events[idx].span.clone();
                self.event(EventKind::LongTask, span);
            }
            self.apply_shape(idx, &shape, Some(s));
        } else {
            // Not a task we can judge yet: neutral until `finish`.
            self.neutralise(idx);
        }
    }
}
