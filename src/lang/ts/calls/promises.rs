//! Promises, races and errors: `new Promise(executor)` (which timers settle it, and whether
//! it also settles another way), `Promise.race`/`Promise.any`, and errors swallowed by an
//! empty `catch`, a no-op `.catch(..)` or an empty process-level error handler.

use std::ops::Range;

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::{head_span, is_empty_block, string_value, strip};
use super::super::walk::Walker;
use super::{CallSite, swallowed_work, swallows};
use crate::facts::*;

/// A `new Promise(executor)` being walked.
pub(in crate::lang::ts) struct Executor {
    pub(super) scope: ScopeId,
    pub(super) settle: [Option<String>; 2],
    pub(super) settles_otherwise: bool,
    /// > 0 while walking the callback of a timer created in this executor.
    pub(super) in_timer: u32,
    /// Timers that settle the promise, and whether they reject it.
    pub(super) timers: Vec<(usize, bool)>,
    pub(super) promise: PlaceRef,
    pub(super) in_race: bool,
    pub(super) race_call: Option<(Range<usize>, Range<usize>)>,
    /// The `new Promise(…)` expression and its statement (see `Deadline::executor`).
    pub(super) call: Option<(Range<usize>, Range<usize>)>,
}

impl<'a> Walker<'a> {
    /// `Promise.race([..])`/`Promise.any([..])`: what is raced against what; recorded and
    /// walked here (`true`), or not a race.
    pub(super) fn race_call(&mut self, s: &CallSite<'a>) -> bool {
        if !matches!(s.text, "Promise.race" | "Promise.any") {
            return false;
        }
        let n = s.n;
        if let Some(arr) = s.list.first()
            && arr.kind_name() == "array"
        {
            let mut c = arr.walk();
            for el in arr.named_children(&mut c) {
                self.raced(n, strip(el));
            }
        }
        self.race += 1;
        let stmt = self.statement_around(&n.byte_range());
        self.races.push((n.byte_range(), stmt));
        self.visit_children(n);
        self.races.pop();
        self.race -= 1;
        true
    }

    /// One element `el` of the array raced by `call`: a place, or a call of a named function.
    fn raced(&mut self, call: Node<'a>, el: Node<'a>) {
        match el.kind_name() {
            "identifier" | "member_expression" => {
                let place = self.place_of(el);
                let call = call.byte_range();
                self.event(EventKind::Raced { place, call }, el.byte_range());
            }
            "call_expression" => {
                if let Some(f) = el.field("function") {
                    let name = match f.kind_name() {
                        "member_expression" => f.field("property").map(|p| self.text(p)),
                        "identifier" => Some(self.text(f)),
                        _ => None,
                    };
                    if let Some(name) = name {
                        self.event(
                            EventKind::RacedCall {
                                callee: name.to_string(),
                            },
                            el.byte_range(),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// `new Promise(executor)`: walks the constructor and the executor (`true`), or `false`
    /// when the first argument is not a function.
    pub(super) fn promise_construction(
        &mut self,
        n: Node<'a>,
        ctor: Option<Node<'a>>,
        handle: PlaceRef,
    ) -> bool {
        if let Some(args) = n.field("arguments")
            && let Some(exec) = args.named_child(0)
            && matches!(
                exec.kind_name(),
                "arrow_function" | "function_expression" | "function"
            )
        {
            if let Some(c) = ctor {
                self.visit(c);
            }
            self.push(args);
            self.push(exec);
            let span = n.byte_range();
            let stmt = self.statement_around(&span);
            let call = (stmt != span).then_some((span, stmt));
            self.executor(exec, handle, call);
            self.pop();
            self.pop();
            return true;
        }
        false
    }

    fn executor(
        &mut self,
        exec: Node<'a>,
        promise: PlaceRef,
        call: Option<(Range<usize>, Range<usize>)>,
    ) {
        let mut settle = [None, None];
        if let Some(params) = exec.field("parameters") {
            let mut c = params.walk();
            for (i, p) in params.named_children(&mut c).take(2).enumerate() {
                let pat = p.field("pattern").unwrap_or(p);
                if pat.kind_name() == "identifier" {
                    settle[i] = Some(self.text(pat).to_string());
                }
            }
        } else if let Some(p) = exec.field("parameter") {
            settle[0] = Some(self.text(p).to_string());
        }
        let registrar = Registrar {
            callee: "Promise".into(),
            method: "Promise".into(),
            event: None,
            target: None,
            arg_index: 0,
            kind: CallbackKind::PromiseExecutor,
        };
        let scope_id = self.facts.scopes.len();
        self.executors.push(Executor {
            scope: scope_id,
            settle,
            settles_otherwise: false,
            in_timer: 0,
            timers: Vec::new(),
            promise: promise.clone(),
            in_race: self.race > 0,
            race_call: self.races.last().cloned(),
            call,
        });
        let class = if exec.kind_name() == "arrow_function" {
            self.class
        } else {
            None
        };
        self.function_with(
            exec,
            ScopeKind::Callback(Box::new(registrar)),
            None,
            class,
            false,
        );
        let Some(ex) = self.executors.pop() else {
            return;
        };
        // A helper named like a timeout that returns the promise: a deadline by intent.
        let helper = match &ex.promise {
            PlaceRef::Returned(s) => self.facts.scopes[*s]
                .name
                .as_deref()
                .is_some_and(is_timeout_helper_name),
            _ => false,
        };
        for (t, rejects) in ex.timers {
            if let EventKind::Timer(timer) = &mut self.facts.events[t].kind {
                timer.deadline = Some(Deadline {
                    in_race: ex.in_race,
                    promise: Some(ex.promise.clone()),
                    // A timer that resolves while another path rejects is a cancellable
                    // sleep, not a deadline: only a rejecting timer races the work.
                    manual_race: ex.settles_otherwise && rejects,
                    timeout_helper: helper,
                    race_call: ex.race_call.clone(),
                    rejects_work: false,
                    executor: ex.call.clone(),
                });
            }
        }
        let _ = ex.scope;
    }

    /// A settle function of an enclosing executor used outside its timer: the promise settles
    /// another way too (a manual race).
    pub(in crate::lang::ts) fn settle_reference(&mut self, n: Node<'a>) {
        let name = self.text(n);
        let mut settles = None;
        if let Some(ex) = self.executors.last_mut()
            && ex.in_timer == 0
            && ex.settle.iter().any(|s| s.as_deref() == Some(name))
        {
            ex.settles_otherwise = true;
            settles = Some(ex.settle[1].as_deref() == Some(name));
        }
        if let Some(reject) = settles {
            self.event(EventKind::SettlesOtherwise { reject }, n.byte_range());
        }
    }

    /// `catch (e) {}`: an empty handler swallows the error. The fix logs what was caught, right
    /// after the `{` (comments in the block stay): it names the binding, or adds one.
    pub(in crate::lang::ts) fn empty_catch(&mut self, h: Node<'a>) {
        let Some(body) = h.field("body").filter(|b| is_empty_block(*b)) else {
            return;
        };
        // Intentional (a comment says why), a synchronous release that failed because the
        // handle was already gone, or a second failure while the first error is reported.
        let block = h.parent().and_then(|t| t.field("body"));
        if swallows::explained(Some(body))
            || swallows::explained_before(block)
            || block.is_some_and(|b| {
                swallows::releases_only(b, self.src) || swallows::configures_only(b, self.src)
            })
            || swallows::secondary_failure(h, self.src)
            || h.parent()
                .is_some_and(|t| swallows::error_reported_next(t, self.src))
        {
            return;
        }
        // A probe — an optional module (`require('bufferutil')`) or a parse-or-default
        // (`JSON.parse(input)`) — expects to fail: the empty catch is the fallback, nothing is
        // left behind by the failure.
        if h.parent()
            .filter(|t| t.kind_name() == "try_statement")
            .and_then(|t| t.field("body"))
            .is_some_and(|block| is_probe_block(block, self.src))
        {
            return;
        }
        // Trying candidates in turn (`for (…) { try { return await connect(id); } catch {} }`),
        // or a result the next statement tests (`let v; try { v = f(); } catch {} if (v) …`):
        // the failure is an answer the code goes on to use.
        if h.parent()
            .filter(|t| t.kind_name() == "try_statement")
            .is_some_and(|t| {
                swallows::tries_next_candidate(t) || swallows::outcome_checked_next(t, self.src)
            })
        {
            return;
        }
        // Compute-or-nothing: `try { return f(); } catch {}` ending a function, which returns
        // `undefined` when `f` throws (a cron schedule with no next date). The exception is
        // the function's way of saying "no value", and the caller sees that.
        if h.parent()
            .filter(|t| t.kind_name() == "try_statement")
            .is_some_and(|t| returns_or_nothing(t))
        {
            return;
        }
        let start = h.start_byte();
        let open = body.start_byte() + 1;
        let fix = match h.field("parameter") {
            Some(p) if p.kind_name() == "identifier" => Some(FixHint {
                range: open..open,
                text: format!(" console.error({});", self.text(p)),
            }),
            Some(_) => None,
            None => Some(FixHint {
                range: start + "catch".len()..open,
                text: " (error) { console.error(error);".into(),
            }),
        };
        let work = block.map(|b| Box::new(swallowed_work::of_block(b, self.src)));
        self.event(
            EventKind::SwallowedError {
                what: "an empty `catch` block".into(),
                fix,
                work,
            },
            start..start + 5,
        );
    }

    /// `.catch(() => {})`, `.then(ok, () => {})`, `process.on('unhandledRejection', () => {})`.
    pub(super) fn swallowing_call(&mut self, s: &CallSite<'a>) {
        let (n, method, args) = (s.n, s.method, &s.list);
        let swallowed = match method {
            "catch" => args.first().filter(|a| is_noop_fn(**a, self.src)),
            // `.then(noop, noop)` drops both outcomes on purpose: a "wait until it settles"
            // helper; whoever holds the original promise still sees its rejection.
            "then" if args.first().is_some_and(|a| is_noop_fn(*a, self.src)) => None,
            "then" => args.get(1).filter(|a| is_noop_fn(**a, self.src)),
            _ => None,
        };
        // `p.catch(noop)` on a promise whose own chain already reports its rejection (and
        // rethrows it to whoever awaits `p`): it only keeps the kept promise from counting as
        // unhandled; the error is not lost.
        let already_handled = swallowed.is_some()
            && s.obj
                .is_some_and(|o| self.handled_promises.iter().any(|h| h == self.text(o)));
        // Explained by a comment (in the handler, after it, or above the statement), a second
        // failure while the first error is reported, or a branch forked off a promise that is
        // handed on and rejects for its holder.
        // `p.then(ok, (e) => report(e)).catch(noop)`: `p`'s rejection was handled a link up;
        // the tail only keeps the handlers' own errors from counting as unhandled.
        let handled_upstream =
            method == "catch" && s.obj.is_some_and(|o| self.handles_rejection(o));
        let excused = |h: &Node<'a>| {
            let body = strip(*h).field("body");
            swallows::explained(body)
                || statement_of(n).is_some_and(|st| {
                    swallows::commented_above(st.start_byte(), self.src)
                        || swallows::explained_by_its_try(st)
                })
                || swallows::secondary_failure(n, self.src)
                || statement_of(n).is_some_and(|st| swallows::error_reported_next(st, self.src))
                || s.obj.is_some_and(|o| {
                    handled_upstream
                        || swallows::releases_handle(o, self.src)
                        || swallows::never_rejects(o, self.src)
                        || swallows::loads_module(o, self.src)
                        || swallows::stored_promise(o)
                        || swallows::forked_promise(n, o, self.src)
                        || (method == "catch" && swallows::awaits_pending(n, o, self.src))
                })
        };
        // `p.catch(reject)` / `p.catch((e) => …)` as a statement: `p`'s rejection is handled
        // here, so a later no-op branch off the same `p` drops nothing.
        if method == "catch"
            && swallowed.is_none()
            && let (Some(o), Some(h)) = (s.obj, args.first())
            && matches!(strip(o).kind_name(), "identifier" | "member_expression")
            && statement_of(n).is_some_and(|st| st.kind_name() == "expression_statement")
            && !is_noop_fn(*h, self.src)
        {
            self.handled_promises.push(self.text(o).to_string());
        }
        if let Some(handler) = swallowed.filter(|h| !already_handled && !excused(h)) {
            // Point at `.catch` itself: in a long chain the call starts lines earlier.
            let span = s
                .callee
                .field("property")
                .map_or_else(|| head_span(n), |p| p.byte_range());
            let work = s
                .obj
                .map(|o| Box::new(swallowed_work::of_promise(n, o, self.src)));
            self.event(
                EventKind::SwallowedError {
                    what: format!("`.{method}(..)` with a handler that ignores the error"),
                    fix: Some(FixHint {
                        range: handler.byte_range(),
                        text: "(error) => console.error(error)".into(),
                    }),
                    work,
                },
                span,
            );
        }
        if matches!(
            s.text,
            "process.on" | "process.once" | "process.addListener"
        ) && args.first().is_some_and(|e| {
            matches!(
                string_value(self.text(*e), e.kind_name()).as_deref(),
                Some("unhandledRejection" | "uncaughtException")
            )
        }) && args.get(1).is_some_and(|h| is_noop_fn(*h, self.src))
        {
            let fix = args.get(1).map(|h| FixHint {
                range: h.byte_range(),
                text: "(error) => console.error(error)".into(),
            });
            self.event(
                EventKind::SwallowedError {
                    what: "an empty process-level error handler".into(),
                    fix,
                    work: None,
                },
                head_span(n),
            );
        }
    }
}

impl<'a> Walker<'a> {
    /// `x.then(ok, onRejected)` / `x.catch(onRejected)` where the rejection handler does
    /// something with the error (not a no-op).
    pub(in crate::lang::ts) fn handles_rejection(&self, r: Node<'a>) -> bool {
        let r = strip(r);
        if r.kind_name() != "call_expression" {
            return false;
        }
        let method = r
            .field("function")
            .filter(|f| f.kind_name() == "member_expression")
            .and_then(|f| f.field("property"))
            .map(|p| self.text(p));
        let Some(args) = r.field("arguments") else {
            return false;
        };
        let mut c = args.walk();
        let list: Vec<Node> = args
            .named_children(&mut c)
            .filter(|a| a.kind_name() != "comment")
            .collect();
        let handler = match method {
            Some("then") => list.get(1),
            Some("catch") => list.first(),
            _ => None,
        };
        handler.is_some_and(|h| {
            matches!(
                strip(*h).kind_name(),
                "arrow_function" | "function_expression" | "function"
            ) && !is_noop_fn(*h, self.src)
        })
    }
}

/// The statement a call is part of (through the chain and `await` around it).
fn statement_of(n: Node) -> Option<Node> {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        match p.kind_name() {
            "expression_statement"
            | "return_statement"
            | "lexical_declaration"
            | "variable_declaration" => return Some(p),
            "statement_block"
            | "program"
            | "arrow_function"
            | "function_expression"
            | "function"
            | "class_body" => return None,
            _ => cur = p,
        }
    }
    None
}

/// A function that does nothing with what it is given: `() => {}`, `() => undefined`,
/// `() => null`, `noop`.
fn is_noop_fn(n: Node, src: &str) -> bool {
    let n = strip(n);
    let text = src.get(n.byte_range()).unwrap_or("");
    match n.kind_name() {
        "arrow_function" | "function_expression" | "function" => match n.field("body") {
            Some(b) if b.kind_name() == "statement_block" => is_empty_block(b),
            Some(b) => matches!(
                src.get(b.byte_range()).unwrap_or(""),
                "undefined" | "null" | "void 0"
            ),
            None => false,
        },
        "identifier" | "member_expression" => {
            matches!(text, "noop" | "_.noop" | "lodash.noop" | "R.identity")
        }
        _ => false,
    }
}

/// `new Promise(…)` and the promise libraries' constructors as compiled code writes them:
/// `Bluebird`, `BPromise`, Babel's `_bluebird2.default`, `_promise2.default`.
pub(in crate::lang::ts) fn is_promise_ctor(class: &str) -> bool {
    let class = class.strip_suffix(".default").unwrap_or(class);
    let last = class
        .rsplit('.')
        .next()
        .unwrap_or(class)
        .to_ascii_lowercase();
    last == "promise"
        || last == "bpromise"
        || last
            .trim_start_matches('_')
            .trim_end_matches(|c: char| c.is_ascii_digit())
            == "bluebird"
        || last
            .trim_start_matches('_')
            .trim_end_matches(|c: char| c.is_ascii_digit())
            == "promise"
}

/// `withTimeout`, `timeoutAfter`, `deadline`, `raceTimeout`: helpers whose timer is a deadline.
fn is_timeout_helper_name(name: &str) -> bool {
    words(name).any(|w| matches!(w.as_str(), "timeout" | "deadline"))
}

/// A `try` block that starts by loading an optional module or parsing input (`require(…)`,
/// `import(…)`, `JSON.parse(…)`) and otherwise only uses what it got — more probes, stores
/// (`module.exports.mask = …`), tests and returns: a probe whose failure is expected, where
/// the code after the `try` is the fallback.
fn is_probe_block(block: Node, src: &str) -> bool {
    let mut cursor = block.walk();
    let statements: Vec<Node> = block
        .named_children(&mut cursor)
        .filter(|s| s.kind_name() != "comment")
        .collect();
    let is_probe = |s: &Node| {
        let text = src.get(s.byte_range()).unwrap_or("");
        [
            "require(",
            "import(",
            "JSON.parse(",
            "url.parse(",
            "new URL(",
            "decodeURIComponent(",
            "querystring.parse(",
        ]
        .iter()
        .any(|probe| text.contains(probe))
            || constructs_host_object(*s, src)
            || loads_module(*s, src)
    };
    let uses_it = |s: &Node| {
        is_probe(s)
            || matches!(s.kind_name(), "if_statement" | "return_statement")
            || (s.kind_name() == "expression_statement"
                && s.named_child(0)
                    .is_some_and(|x| strip(x).kind_name() == "assignment_expression"))
    };
    statements.first().is_some_and(is_probe) && statements.iter().all(uses_it)
}

/// `n` loads a module by name through a loader of the code's own (`Primus.requires('ws')`,
/// `optionalRequire('bufferutil')`, `tryRequire("x")`): a call whose name has the word
/// `require`/`requires` and whose first argument is a string.
fn loads_module(n: Node, src: &str) -> bool {
    let mut stack = vec![n];
    while let Some(x) = stack.pop() {
        if x.kind_name() == "call_expression"
            && let Some(f) = x.field("function")
        {
            let name = match f.kind_name() {
                "identifier" => Some(f),
                "member_expression" => f.field("property"),
                _ => None,
            }
            .and_then(|n| src.get(n.byte_range()))
            .unwrap_or("");
            let first_is_string = x.field("arguments").is_some_and(|a| {
                let mut c = a.walk();
                a.named_children(&mut c)
                    .next()
                    .is_some_and(|s| matches!(s.kind_name(), "string" | "template_string"))
            });
            if first_is_string
                && crate::facts::words(name).any(|w| matches!(w.as_str(), "require" | "requires"))
            {
                return true;
            }
        }
        let mut c = x.walk();
        stack.extend(x.named_children(&mut c));
    }
    false
}

/// `n` constructs a host object that may be missing or disabled — `new XMLHttpRequest()`,
/// `new ActiveXObject(..)`, `new XDomainRequest()`, or a constructor looked up by name
/// (`new globalThis[name](..)`): a capability probe.
fn constructs_host_object(n: Node, src: &str) -> bool {
    let mut stack = vec![n];
    while let Some(x) = stack.pop() {
        if x.kind_name() == "new_expression"
            && let Some(c) = x.field("constructor")
            && (c.kind_name() == "subscript_expression"
                || matches!(
                    src.get(c.byte_range()).unwrap_or(""),
                    "XMLHttpRequest" | "ActiveXObject" | "XDomainRequest"
                ))
        {
            return true;
        }
        let mut c = x.walk();
        stack.extend(x.named_children(&mut c));
    }
    false
}

/// `try { return expr; }` as the last statement of a function body.
fn returns_or_nothing(t: Node) -> bool {
    let Some(body) = t.field("body") else {
        return false;
    };
    let mut c = body.walk();
    let statements: Vec<Node> = body
        .named_children(&mut c)
        .filter(|s| s.kind_name() != "comment")
        .collect();
    let [only] = statements.as_slice() else {
        return false;
    };
    if only.kind_name() != "return_statement" || only.named_child_count() == 0 {
        return false;
    }
    let Some(block) = t.parent().filter(|b| b.kind_name() == "statement_block") else {
        return false;
    };
    let is_function = block.parent().is_some_and(|f| {
        matches!(
            f.kind_name(),
            "function_declaration"
                | "function_expression"
                | "function"
                | "arrow_function"
                | "method_definition"
                | "generator_function_declaration"
        )
    });
    let mut c = block.walk();
    let last = block
        .named_children(&mut c)
        .filter(|s| s.kind_name() != "comment")
        .last();
    is_function && last.is_some_and(|l| l.id() == t.id())
}
