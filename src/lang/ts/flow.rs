//! Control flow: branches, loops, `try`, early exits. What it records is how the events inside
//! run — conditionally, in a loop, on the fulfilled/rejected/finally path — and which guards
//! an exit leaves behind.

use tree_sitter::Node;

use super::NodeExt;
use super::text::strip;
use super::walk::Walker;
use crate::facts::*;

impl<'a> Walker<'a> {
    pub(super) fn if_statement(&mut self, n: Node<'a>) {
        let cond = n.field("condition");
        if let Some(c) = cond {
            self.visit(c);
        }
        let cond_text = cond.map(|c| self.text(c).to_string()).unwrap_or_default();
        if let Some(cons) = n.field("consequence") {
            // `if (…) return;`, `if (…) { log(..); return; }`: an early exit guarding what follows.
            let exits = match cons.kind_name() {
                "return_statement" | "throw_statement" => true,
                "statement_block" => {
                    let mut c = cons.walk();
                    cons.named_children(&mut c)
                        .filter(|s| s.kind_name() != "comment")
                        .last()
                        .is_some_and(|s| {
                            matches!(s.kind_name(), "return_statement" | "throw_statement")
                        })
                }
                _ => false,
            };
            let early_exit = exits && n.field("alternative").is_none();
            if early_exit {
                self.facts.scopes[self.scope]
                    .early_return_guards
                    .push(cond_text.clone());
            }
            self.note_state_if(n, &cond_text, early_exit);
            if let Some(alt) = n.field("alternative")
                && self.in_promise_executor()
            {
                self.facts
                    .exclusive_arms
                    .push((cons.byte_range(), alt.byte_range()));
            }
            self.conditional += 1;
            self.guards.push(cond_text);
            self.visit(cons);
            self.guards.pop();
            if let Some(alt) = n.field("alternative") {
                self.visit(alt);
            }
            self.conditional -= 1;
        }
    }

    /// The walk is inside a `new Promise(executor)` callback (at any depth).
    fn in_promise_executor(&self) -> bool {
        self.facts.ancestors(self.scope).any(|s| {
            matches!(&self.facts.scopes[s].kind,
                ScopeKind::Callback(r) if r.kind == CallbackKind::PromiseExecutor)
        })
    }

    /// `a && b`, `a || b`, `a ?? b`: the right side runs conditionally. Comparisons of a
    /// `.size`/`.length` are size checks.
    pub(super) fn binary(&mut self, n: Node<'a>) {
        let op = n.field("operator").map(|o| self.text(o));
        if matches!(
            op,
            Some("<" | "<=" | ">" | ">=" | "==" | "===" | "!=" | "!==")
        ) {
            self.size_checks(n);
        }
        if matches!(op, Some("&&" | "||" | "??")) {
            if let Some(l) = n.field("left") {
                self.visit(l);
            }
            self.conditional += 1;
            if let Some(r) = n.field("right") {
                self.visit(r);
            }
            self.conditional -= 1;
        } else {
            self.visit_children(n);
        }
    }

    pub(super) fn ternary(&mut self, n: Node<'a>) {
        if let Some(c) = n.field("condition") {
            self.visit(c);
        }
        self.conditional += 1;
        for f in ["consequence", "alternative"] {
            if let Some(x) = n.field(f) {
                self.visit(x);
            }
        }
        self.conditional -= 1;
    }

    pub(super) fn switch_case(&mut self, n: Node<'a>) {
        self.conditional += 1;
        self.visit_children(n);
        self.conditional -= 1;
    }

    /// `for`, `for … in/of`, `while`, `do`: what runs inside runs repeatedly.
    pub(super) fn loop_statement(&mut self, n: Node<'a>) {
        if n.kind_name() == "for_in_statement"
            && let Some(left) = n.field("left")
        {
            // `for (const x of …)` / `let`: visible in the loop only.
            let lexical = n
                .field("kind")
                .is_some_and(|k| matches!(self.text(k), "const" | "let"));
            let block = lexical.then(|| n.byte_range());
            self.declare_block_scoped(left, &BindingKind::Var, block);
        }
        // `for (const s of ['SIGINT', 'SIGTERM'])`: a fixed count, not a repeating rhythm.
        let literal = n.kind_name() == "for_in_statement"
            && n.field("right")
                .is_some_and(|r| strip(r).kind_name() == "array");
        let saved = (self.in_loop, self.loop_span.take());
        if !literal {
            self.in_loop = true;
            self.loop_span = Some(n.byte_range());
        }
        self.visit_children(n);
        (self.in_loop, self.loop_span) = saved;
    }

    /// `try`: the body runs on the fulfilled path, the handler on the rejected one, the
    /// finalizer on both.
    pub(super) fn try_statement(&mut self, n: Node<'a>) {
        let saved = self.path;
        if let Some(b) = n.field("body") {
            if self.path == PathKind::Normal {
                self.path = PathKind::Fulfilled;
            }
            self.visit(b);
            self.path = saved;
        }
        if let Some(h) = n.field("handler") {
            self.empty_catch(h);
            if self.path != PathKind::Finally {
                self.path = PathKind::Rejected;
            }
            if let Some(p) = h.field("parameter") {
                self.declare_block_scoped(p, &BindingKind::Var, Some(h.byte_range()));
            }
            self.visit(h);
            self.path = saved;
        }
        if let Some(f) = n.field("finalizer") {
            self.path = PathKind::Finally;
            self.visit(f);
            self.path = saved;
        }
    }

    /// An exit of the function; a guarded one leaves the rest of the function conditional.
    fn exit(&mut self, n: Node<'a>) {
        if self.conditional > 0 {
            self.facts.scopes[self.scope].has_guarded_return = true;
        }
        self.event(
            EventKind::Exit {
                conditional: self.conditional > 0,
            },
            n.byte_range(),
        );
    }

    pub(super) fn return_statement(&mut self, n: Node<'a>) {
        self.exit(n);
        if let Some(arg) = n.named_child(0) {
            let place = self.place_of(arg);
            if !matches!(place, PlaceRef::Unknown) {
                self.event(EventKind::Escape { place }, arg.byte_range());
            }
        }
        self.visit_children(n);
    }

    pub(super) fn throw_statement(&mut self, n: Node<'a>) {
        self.exit(n);
        self.visit_children(n);
    }
}
