//! State latches: an `if` on one of the object's own fields whose function also sets that
//! field (`if (!this.ended) { …; this.ended = true }`, `if (this._connectCalled) throw …;
//! this._connectCalled = true;`). The guarded code runs once per transition of the flag, so a
//! second call of the function skips it (recorded as [`Latch`]es for the rules).

use std::ops::Range;

use tree_sitter::Node;

use super::NodeExt;
use super::walk::Walker;
use crate::facts::{Latch, ScopeKind, mentions};

/// An `if` whose condition reads the object's own state, in the function being walked.
pub(super) struct StateIf {
    /// Where the `if` starts: only a later assignment moves the state it tested.
    start: usize,
    cond: String,
    /// What it guards (see [`Latch::region`]).
    region: Range<usize>,
}

impl<'a> Walker<'a> {
    /// Remembers `if (cond)` at `n` when `cond` reads a field of `this` (or of a `self` alias)
    /// in a function: its consequence is the guarded region, or, for an early exit
    /// (`if (this.x) return;`), everything after it up to the function's end.
    pub(super) fn note_state_if(&mut self, n: Node<'a>, cond: &str, exits: bool) {
        let scope = &self.facts.scopes[self.scope];
        if matches!(scope.kind, ScopeKind::Module)
            || !(self.reads_own_state(cond) || flags_in(cond).next().is_some())
        {
            return;
        }
        let region = if exits {
            n.end_byte()..scope.span.end
        } else {
            match n.field("consequence") {
                Some(c) => c.byte_range(),
                None => return,
            }
        };
        self.state_ifs.entry(self.scope).or_default().push(StateIf {
            start: n.start_byte(),
            cond: cond.to_string(),
            region,
        });
    }

    /// `this.flag = value` (a plain `=`, not a counter: the value does not read the flag):
    /// every earlier `if` of the same function on that flag becomes a latch.
    ///
    /// Also a flag of an enclosing function, tested bare (`if (!wsInitialized) { server.on(…);
    /// wsInitialized = true; }` in a closure): the closure runs the guarded code once per run
    /// of the function that declared the flag. A flag declared in the same function is reset
    /// on every call, and latches nothing.
    pub(super) fn note_state_set(&mut self, n: Node<'a>, left: Node<'a>, right: Node<'a>) {
        if n.kind_name() != "assignment_expression" {
            return;
        }
        let own = match left.kind_name() {
            "member_expression" => left.field("object").is_some_and(|o| {
                o.kind_name() == "this"
                    || (o.kind_name() == "identifier" && self.this_alias(self.text(o)).is_some())
            }),
            "identifier" => {
                let name = self.text(left);
                !self.declared(name).any(|b| b.scope == self.scope)
                    && self.declared(name).next().is_some()
            }
            _ => false,
        };
        let flag = self.text(left);
        if !own || mentions(self.text(right), flag) {
            return;
        }
        let at = n.start_byte();
        let Some(ifs) = self.state_ifs.get(&self.scope) else {
            return;
        };
        let bare = left.kind_name() == "identifier";
        // The flag's binding: the innermost one declared so far that this scope sees.
        let per_process = bare
            && self
                .declared(flag)
                .filter(|b| self.facts.is_within(self.scope, b.scope))
                .max_by_key(|b| b.scope)
                .is_some_and(|b| self.facts.is_module_scope(b.scope));
        for s in ifs.iter().filter(|s| {
            s.start < at
                && if bare {
                    flags_in(&s.cond).any(|f| f == flag)
                } else {
                    mentions(&s.cond, flag)
                }
        }) {
            let latch = Latch {
                scope: self.scope,
                region: s.region.clone(),
                per_process,
            };
            if !self.facts.latches.contains(&latch) {
                self.facts.latches.push(latch);
            }
        }
    }

    /// `cond` mentions `this.x` or `alias.x` for a `self`-style alias of `this`.
    fn reads_own_state(&self, cond: &str) -> bool {
        cond.contains("this.")
            || self.this_aliases.iter().any(|(a, s, _)| {
                self.facts.is_within(self.scope, *s) && cond.contains(&format!("{a}."))
            })
    }
}

/// The bare flags a condition requires: the whole condition, or one of the parts of an `&&`
/// chain (`name === eventName && !isEventProxied`), each maybe negated. An `||` anywhere
/// makes no part required.
fn flags_in(cond: &str) -> impl Iterator<Item = &str> {
    let cond = cond.trim();
    let cond = cond
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
        .unwrap_or(cond);
    let parts: Vec<&str> = if cond.contains("||") {
        vec![cond]
    } else {
        cond.split("&&").collect()
    };
    parts.into_iter().filter_map(plain_flag)
}

/// A condition that is one bare flag, maybe negated (`!wsInitialized`, `started`): the flag.
fn plain_flag(cond: &str) -> Option<&str> {
    let c = cond.trim();
    let c = c
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
        .unwrap_or(c)
        .trim();
    let c = c.strip_prefix('!').unwrap_or(c).trim();
    let ident = !c.is_empty()
        && !c.starts_with(|ch: char| ch.is_ascii_digit())
        && c.chars()
            .all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '$');
    ident.then_some(c)
}
