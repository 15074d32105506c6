//! Which code runs once per state change of its object: latched regions, methods whose every
//! call is latched, and the exclusive arms of an `if … else` (promise executors).

use std::ops::Range;

use super::{CallbackKind, Event, EventKind, FileFacts, Place, ScopeId, ScopeKind};

impl FileFacts {
    /// Code at `a` and code at `b` sit in the two arms of one `if … else` (recorded inside
    /// promise executors only: [`FileFacts::exclusive_arms`]).
    pub fn exclusive(&self, a: &Range<usize>, b: &Range<usize>) -> bool {
        let within = |r: &Range<usize>, x: &Range<usize>| r.start <= x.start && x.end <= r.end;
        self.exclusive_arms
            .iter()
            .any(|(c, e)| (within(c, a) && within(e, b)) || (within(e, a) && within(c, b)))
    }

    /// Every run of method `m` starts from a latched call: each `this.m()` of its class in
    /// the file is [latched](FileFacts::latched) itself, or sits directly in a method whose
    /// callers are (`connect() { if (this.pending) return this.pending; this.pending =
    /// this.handleConnection(); }`). A method nobody in the file calls is not (it is the
    /// class's API). A few levels deep at most.
    pub fn latched_callers(&self, m: ScopeId) -> bool {
        self.latched_callers_within(m, 0)
    }

    fn latched_callers_within(&self, m: ScopeId, depth: u32) -> bool {
        let sc = &self.scopes[m];
        let (
            Some(class),
            Some(name),
            ScopeKind::Method {
                constructor: false, ..
            },
        ) = (sc.class, sc.name.as_deref(), &sc.kind)
        else {
            return false;
        };
        if depth > 3 || self.latches.is_empty() {
            return false;
        }
        let mut called = false;
        for e in &self.events {
            let EventKind::Call { callee } = &e.kind else {
                continue;
            };
            if !matches!(self.resolve(callee), Place::Field { class: c, name: n } if c == class && n == name)
            {
                continue;
            }
            called = true;
            let through_caller = !e.in_loop
                && e.scope != m
                && matches!(self.scopes[e.scope].kind, ScopeKind::Method { .. })
                && self.latched_callers_within(e.scope, depth + 1);
            if !self.latched(e) && !through_caller {
                return false;
            }
        }
        called
    }

    /// Event `e` runs once per state transition of its object: it lies in a [`Latch`](super::Latch) region,
    /// not in a loop, and between the latch's function and `e` there are only callbacks that
    /// run once with it (a promise executor, a continuation, a deferred or once handler) — a
    /// per-event handler registered under the latch still runs per event.
    pub fn latched(&self, e: &Event) -> bool {
        self.latched_by(e, |_| true)
    }

    /// Event `e` is [latched](FileFacts::latched) by a module-level flag: it runs once per
    /// process (`if (!setUp) { process.on(…); setUp = true }`, a memo
    /// `if (!impl) { impl = select(); }`).
    pub fn latched_per_process(&self, e: &Event) -> bool {
        self.latched_by(e, |l| l.per_process)
    }

    fn latched_by(&self, e: &Event, which: impl Fn(&super::Latch) -> bool) -> bool {
        self.latches.iter().filter(|l| which(l)).any(|l| {
            l.region.start <= e.span.start
                && e.span.end <= l.region.end
                && !(e.in_loop
                    && e.loop_span
                        .as_ref()
                        .is_some_and(|s| l.region.start <= s.start))
                && self
                    .ancestors(e.scope)
                    .take_while(|&s| s != l.scope)
                    .all(|s| {
                        let sc = &self.scopes[s];
                        !sc.in_loop
                            && matches!(&sc.kind, ScopeKind::Callback(r) if matches!(
                                r.kind,
                                CallbackKind::PromiseExecutor
                                    | CallbackKind::Continuation
                                    | CallbackKind::Deferred
                                    | CallbackKind::OnceHandler
                            ))
                    })
                && self.is_within(e.scope, l.scope)
        })
    }
}
