//! Timers: `setInterval`/`setTimeout` (their handle, `unref`, re-scheduling, and whether they
//! settle an enclosing promise executor) and `clearInterval`/`clearTimeout`.

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::{head_span, is_function, strip};
use super::super::walk::Walker;
use super::{CallSite, Executor};
use crate::facts::*;

impl<'a> Walker<'a> {
    /// A timer created or cleared: recorded and walked here (`true`), or not a timer call.
    pub(super) fn timer_call(&mut self, s: &CallSite<'a>) -> bool {
        let global_obj = s.on_global(self);
        if matches!(s.method, "setInterval" | "setTimeout")
            && global_obj
            && !self.is_promise_timer(s.method)
        {
            self.timer(s, s.method == "setInterval");
            return true;
        }
        if matches!(s.method, "clearInterval" | "clearTimeout") && global_obj {
            if let Some(a) = s.list.first() {
                let handle = self.place_of(*a);
                self.event(EventKind::ClearTimer { handle }, s.n.byte_range());
            }
            self.visit_children(s.n);
            return true;
        }
        false
    }

    /// `setTimeout` imported from `timers/promises` returns a promise, not a handle.
    fn is_promise_timer(&self, name: &str) -> bool {
        self.declared(name).any(|b| {
            matches!(&b.kind, BindingKind::Import { source, .. } if source.contains("timers/promises"))
        })
    }

    fn timer(&mut self, s: &CallSite<'a>, repeat: bool) {
        let (n, arg_list, registrar, args) = (s.n, &s.list, &s.registrar, s.args);
        let (handle, unref, guarded) = self.placement(n);
        // A timer loop: setTimeout(f) inside f, or a callback that calls f.
        let reschedules = if repeat {
            None
        } else {
            arg_list.first().and_then(|cb| self.rescheduled_scope(*cb))
        };
        // A callback passed by name (`setTimeout(onTimeout, ms)`): the function declared
        // earlier in reach, whose body is what runs.
        let named_cb = arg_list
            .first()
            .map(|cb| strip(*cb))
            .filter(|cb| cb.kind_name() == "identifier")
            .and_then(|cb| self.function_named(self.text(cb)));
        let cb_text = match (named_cb, arg_list.first()) {
            (Some(f), _) => &self.src[self.facts.scopes[f].span.clone()],
            (None, Some(cb)) => self.text(*cb),
            (None, None) => "",
        };
        // Which of the executor's settle functions the timer's callback calls. An inline
        // callback must call it itself: one that settles only in the continuation of work it
        // starts (`setTimeout(() => retry(cb).then(resolve).catch((e) => reject(e)), backoff)`)
        // is a delayed retry, not a deadline.
        let inline_cb = arg_list
            .first()
            .map(|cb| strip(*cb))
            .filter(|cb| named_cb.is_none() && is_function(*cb));
        let calls = |ex: &Executor, i: usize| {
            let Some(s) = ex.settle[i].as_deref() else {
                return false;
            };
            match inline_cb {
                Some(f) => calls_directly(f, s, self.src),
                None => cb_text == s || mentions(cb_text, &format!("{s}(")),
            }
        };
        let (settles, rejects) = match self.executors.last() {
            Some(ex) if !repeat => (calls(ex, 0) || calls(ex, 1), calls(ex, 1)),
            _ => (false, false),
        };
        // Outside an executor, a callback that rejects some pending work with a time-out
        // (`command.reject(new Error('Command timed out'))`) is a deadline on that work, which
        // settles elsewhere.
        // So is one whose body starts by checking that the work has not finished yet
        // (`if (!hasExited(child)) child.kill('SIGKILL')`): a fallback that races it.
        let rejects_work = !repeat
            && !settles
            && ((mentions(cb_text, ".reject(") && says_time_out(cb_text))
                || (arg_list
                    .first()
                    .is_some_and(|cb| self.checks_not_done_first(*cb))
                    && self.returns_after(n.start_byte())));
        let idx = self.event(
            EventKind::Timer(Box::new(TimerFacts {
                api: if repeat { "setInterval" } else { "setTimeout" }.to_string(),
                repeat,
                handle,
                unref,
                reschedules,
                deadline: rejects_work.then_some(Deadline {
                    in_race: false,
                    promise: None,
                    manual_race: false,
                    timeout_helper: false,
                    race_call: None,
                    executor: None,
                    rejects_work: true,
                }),
                callback: None,
                guarded,
                spins_when_closed: false,
            })),
            head_span(n),
        );
        if settles && let Some(ex) = self.executors.last_mut() {
            ex.timers.push((idx, rejects));
            ex.in_timer += 1;
        }
        if let Some(callee) = n.field("function") {
            self.visit(callee);
        }
        let kind = if repeat {
            CallbackKind::Interval
        } else {
            CallbackKind::Deferred
        };
        let created = match args {
            Some(a) => self.arguments(a, registrar, |i| {
                if i == 0 { kind } else { CallbackKind::Other }
            }),
            None => Vec::new(),
        };
        if settles && let Some(ex) = self.executors.last_mut() {
            ex.in_timer -= 1;
        }
        if let EventKind::Timer(t) = &mut self.facts.events[idx].kind {
            t.callback = created.first().copied().flatten().or(named_cb);
        }
    }

    /// An inline callback whose first statement is `if (!…)` with no `else`: it acts only if
    /// something has not happened by the time it runs.
    fn checks_not_done_first(&self, cb: Node<'a>) -> bool {
        let cb = strip(cb);
        if !matches!(
            cb.kind_name(),
            "arrow_function" | "function_expression" | "function"
        ) {
            return false;
        }
        let Some(body) = cb
            .field("body")
            .filter(|b| b.kind_name() == "statement_block")
        else {
            return false;
        };
        let mut c = body.walk();
        let Some(first) = body
            .named_children(&mut c)
            .find(|x| x.kind_name() != "comment")
        else {
            return false;
        };
        first.kind_name() == "if_statement"
            && first.field("alternative").is_none()
            && first.field("condition").is_some_and(|k| {
                self.text(k)
                    .trim_start_matches('(')
                    .trim_start()
                    .starts_with('!')
            })
    }

    /// The enclosing function goes on to return a value (`return onExit;`) after `pos`: it
    /// hands the work the fallback races back to its caller. A per-connection
    /// `setTimeout(() => { if (!authed) ws.close() })` in a handler returns nothing: a one-shot
    /// action, not a race.
    fn returns_after(&self, pos: usize) -> bool {
        let Some(f) = self.stack.iter().rev().find(|x| {
            matches!(
                x.kind_name(),
                "function_declaration"
                    | "function_expression"
                    | "function"
                    | "arrow_function"
                    | "method_definition"
            )
        }) else {
            return false;
        };
        let Some(body) = f
            .field("body")
            .filter(|b| b.kind_name() == "statement_block")
        else {
            return false;
        };
        let mut c = body.walk();
        body.named_children(&mut c).any(|x| {
            x.start_byte() > pos && x.kind_name() == "return_statement" && x.named_child_count() > 0
        })
    }

    /// The function (declaration or stored function expression) named `name` declared in a
    /// scope the current one sees, when it was walked already.
    fn function_named(&self, name: &str) -> Option<ScopeId> {
        (0..self.facts.scopes.len()).rev().find(|&s| {
            let scope = &self.facts.scopes[s];
            scope.name.as_deref() == Some(name)
                && matches!(scope.kind, ScopeKind::Function)
                && scope
                    .parent
                    .is_some_and(|p| self.facts.is_within(self.scope, p))
        })
    }

    /// The enclosing named function a `setTimeout` callback re-schedules, if any.
    fn rescheduled_scope(&self, cb: Node<'a>) -> Option<ScopeId> {
        let cb = strip(cb);
        let text = self.text(cb);
        for s in self.facts.ancestors(self.scope) {
            let scope = &self.facts.scopes[s];
            if matches!(scope.kind, ScopeKind::Module) {
                break;
            }
            let Some(name) = scope.name.as_deref() else {
                continue;
            };
            let direct = match cb.kind_name() {
                "identifier" => text == name,
                "member_expression" => text == format!("this.{name}"),
                "call_expression" => {
                    // setTimeout(this.tick.bind(this))
                    text.starts_with(&format!("this.{name}.bind"))
                        || text.starts_with(&format!("{name}.bind"))
                }
                "arrow_function" | "function_expression" | "function" => {
                    mentions(text, &format!("{name}("))
                }
                _ => false,
            };
            if direct {
                return Some(s);
            }
        }
        None
    }
}

/// The text speaks of a time-out (`'Command timed out'`, `ETIMEDOUT`, `new TimeoutError()`,
/// "deadline"), not merely of time (`// retry next time`).
fn says_time_out(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["timeout", "timed out", "time out", "timedout", "deadline"]
        .iter()
        .any(|w| lower.contains(w))
}

/// Function `f` calls `name` in its own body, not only inside a function nested in it.
fn calls_directly(f: Node, name: &str, src: &str) -> bool {
    let mut stack = vec![f];
    while let Some(n) = stack.pop() {
        if n.id() != f.id()
            && (is_function(n)
                || matches!(n.kind_name(), "function_declaration" | "method_definition"))
        {
            continue;
        }
        if n.kind_name() == "call_expression"
            && n.field("function")
                .is_some_and(|c| &src[c.byte_range()] == name)
        {
            return true;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}
