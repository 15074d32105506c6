//! What a task body does, gathered bottom-up during the walk: loops that tick forever without
//! a cancellation, a sleep followed by a signal. A spawn is judged by its body's shape once the
//! body is walked (or, for a named async fn, after the whole file).

use proc_macro2::TokenStream;

use std::ops::Range;

use super::{LoopState, Shape, Walker};
use crate::facts::*;

impl super::Shape {
    /// The body loops in a way that can last: some loop that is not a counted one.
    pub(super) fn long_lived(&self) -> bool {
        self.loops > self.counted_loops
    }
}

impl Walker {
    /// Sets what a spawn event means from its body's shape; a body that neither loops forever
    /// nor fires a detached timer is no timer at all.
    pub(super) fn apply_shape(&mut self, idx: usize, shape: &Shape, scope: Option<ScopeId>) {
        let EventKind::Timer(timer) = &mut self.facts.events[idx].kind else {
            return;
        };
        let TimerFacts {
            repeat,
            deadline,
            callback,
            spins_when_closed,
            ..
        } = &mut **timer;
        *callback = scope;
        if !shape.endless_tick_loop
            && let Some(site) = &shape.spin_site
        {
            *repeat = true;
            *spins_when_closed = true;
            self.facts.events[idx].hint = Some(Box::new(site.clone()));
        } else if shape.endless_tick_loop {
            *repeat = true;
            // Where a `select!` on a cancellation would go.
            self.facts.events[idx].hint = shape
                .tick_stmt
                .clone()
                .map(|stmt| Box::new(FixSite::Tick { stmt }));
        } else if shape.sleep_then_signal && shape.loops == 0 {
            *deadline = Some(Deadline {
                in_race: true,
                promise: None,
                manual_race: false,
                timeout_helper: false,
                race_call: None,
                executor: None,
                rejects_work: false,
            });
            // Where a drop guard that aborts the task would wrap the spawn.
            self.facts.events[idx].hint = self
                .spawn_calls
                .get(&idx)
                .map(|call| Box::new(FixSite::Call { call: call.clone() }));
        } else {
            self.neutralise(idx);
        }
    }

    /// A spawned task that is neither: keep it as a plain escape of nothing (no timer).
    pub(super) fn neutralise(&mut self, idx: usize) {
        if let EventKind::Timer(t) = &self.facts.events[idx].kind {
            let handle = t.handle.clone();
            self.facts.events[idx].kind = EventKind::Escape { place: handle };
        }
    }

    pub(super) fn finish(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let scope = self.facts.scopes.iter().position(|s| {
                s.name.as_deref() == Some(p.body_fn.as_str())
                    && matches!(s.kind, ScopeKind::Function | ScopeKind::Method { .. })
            });
            let Some(scope) = scope else { continue };
            let shape = self.done_shapes.get(&scope).cloned().unwrap_or_default();
            if shape.long_lived() {
                let span = self.facts.events[p.event].span.clone();
                self.facts.events.push(Event {
                    hint: None,
                    kind: EventKind::LongTask,
                    stmt: self.facts.events[p.event].stmt.clone(),
                    span,
                    scope: self.facts.events[p.event].scope,
                    in_loop: false,
                    loop_span: None,
                    conditional: false,
                    path: PathKind::Normal,
                });
            }
            // Restore the timer event (it was neutralised) and judge it by the fn's shape.
            let e = &self.facts.events[p.event];
            let EventKind::Escape { place } = &e.kind else {
                continue;
            };
            let handle = place.clone();
            self.facts.events[p.event].kind = EventKind::Timer(Box::new(TimerFacts {
                api: "tokio::spawn".into(),
                repeat: false,
                handle,
                unref: false,
                reschedules: None,
                deadline: None,
                callback: None,
                guarded: false,
                spins_when_closed: false,
            }));
            self.apply_shape(p.event, &shape, Some(scope));
        }
    }

    pub(super) fn mark_tick(&mut self) {
        for l in &mut self.loops {
            l.ticks = true;
        }
        let stmt = self.stmt.clone();
        let in_loop = !self.loops.is_empty();
        let shape = self.shape_mut();
        shape.sleeps = true;
        if shape.tick_stmt.is_none() && in_loop {
            shape.tick_stmt = stmt;
        }
    }

    pub(super) fn mark_cancel(&mut self) {
        for l in &mut self.loops {
            l.cancels = true;
        }
    }

    pub(super) fn mark_signal(&mut self) {
        let shape = self.shape_mut();
        if shape.sleeps {
            shape.sleep_then_signal = true;
        }
    }

    pub(super) fn enter_loop(
        &mut self,
        endless_kind: bool,
        cond_var: Option<String>,
        span: Range<usize>,
        body: impl FnOnce(&mut Self),
    ) {
        self.loops.push(LoopState {
            endless_kind,
            cond_var,
            ..LoopState::default()
        });
        self.shape_mut().loops += 1;
        let saved = (self.in_loop, self.loop_span.replace(span));
        self.in_loop = true;
        body(self);
        (self.in_loop, self.loop_span) = saved;
        let Some(l) = self.loops.pop() else { return };
        if l.endless_kind && !l.exits && !l.assigned && l.ticks && !l.cancels {
            self.shape_mut().endless_tick_loop = true;
        }
        // The loop's only way to wait is a receive that stays in it once the channel closes.
        if l.endless_kind && !l.exits && !l.assigned && !l.ticks && !l.cancels {
            let shape = self.shape_mut();
            if shape.spin_site.is_none() {
                shape.spin_site = l.spin;
            }
        }
        // A tick inside an inner loop ticks the outer one too; an exit does not propagate.
        if let Some(outer) = self.loops.last_mut() {
            outer.ticks |= l.ticks;
            outer.cancels |= l.cancels;
        }
    }

    /// Scans a macro's tokens (`select!`, `join!`) for what the task-shape analysis needs.
    pub(super) fn scan_macro(&mut self, tokens: &TokenStream) {
        for id in &super::syntax::flat_tokens(tokens.clone()) {
            match id.as_str() {
                "cancelled" | "is_cancelled" | "changed" | "recv" | "shutdown" | "closed" => {
                    self.mark_cancel()
                }
                "tick" | "sleep" | "sleep_until" => self.mark_tick(),
                "break" | "return" => {
                    for l in &mut self.loops {
                        l.exits = true;
                    }
                }
                "send" | "notify_one" | "notify_waiters" => self.mark_signal(),
                _ => {}
            }
        }
    }
}
