//! Which scopes end an owner's life (issue 19, item 1): a method or function named like a
//! teardown, or a handler of a close-like event — but not a method the owner itself calls per
//! event. `cancelResponse()` called from an `interrupt` handler runs many times in a session's
//! life; cleanup placed there (removing the session's `audio` listener) would stop the session
//! working after its first interruption. A method named for the end of a life (`close`,
//! `dispose`, `destroy`, `disconnect`, `shutdown`, `terminate`, …) stays a teardown wherever it
//! is called from: closing on a `bye` message is still closing.
//!
//! A class's teardowns are ranked for fixes: life-ending names first, then those no method of
//! the class undoes (`shutdown()` before a circuit breaker's `close()` beside its `open()`),
//! then those no other life-ending teardown calls (`close()` before the `disconnectClient(id)` it runs for each
//! client), then those called from a close handler (`ws.on('close', () => this.cleanup())`),
//! then source order.

use std::collections::{HashMap, HashSet};

use super::{
    CallbackKind, ClassId, EventKind, FileFacts, Place, ScopeId, ScopeKind, is_close_event, words,
};

#[derive(Debug, Clone, Default)]
pub(super) struct TeardownIndex {
    /// Per scope: named like a teardown and not a method its owner calls per event.
    named: Vec<bool>,
    /// Per class: its teardown methods, best first.
    methods_by_class: Vec<Vec<ScopeId>>,
}

/// Words that name the end of an owner's life, whatever calls the method.
const LIFE_ENDING: &[&str] = &[
    "close",
    "dispose",
    "destroy",
    "disconnect",
    "shutdown",
    "terminate",
    "teardown",
    "unmount",
    "drop",
    "deactivate",
];

/// Life-ending words and the word of the method that undoes them.
const INVERSE: &[(&str, &str)] = &[
    ("close", "open"),
    ("disconnect", "connect"),
    ("deactivate", "activate"),
    ("unmount", "mount"),
];

/// `name` is named for the end of a life (`close`, `disposeAll`, `on_shutdown`, `tearDown`).
pub fn ends_a_life(name: &str) -> bool {
    let ws: Vec<String> = words(name).collect();
    ws.iter().any(|w| LIFE_ENDING.contains(&w.as_str()))
        || ws.windows(2).any(|p| p[0] == "tear" && p[1] == "down")
}

/// How a scope relates to its owner's events, judged from where the owner's code calls it.
#[derive(Default)]
struct Callers {
    /// Methods (class, name) the class calls from a per-event handler, directly or through
    /// other such methods.
    per_event: HashSet<(ClassId, String)>,
    /// Methods the class calls from a close-like handler.
    on_close: HashSet<(ClassId, String)>,
    /// Per method: the methods that call it directly from their own bodies.
    called_by: HashMap<(ClassId, String), Vec<(ClassId, String)>>,
}

impl FileFacts {
    /// The teardown index, computed once per file (the predicate of the first call is kept: a
    /// lint run asks with one set of options).
    fn teardown_index(&self, teardown: &dyn Fn(&str) -> bool) -> &TeardownIndex {
        self.teardowns.get_or_init(|| {
            let callers = self.callers();
            let method_key = |s: &super::Scope| match (&s.kind, s.class, s.name.as_deref()) {
                (ScopeKind::Method { .. }, Some(c), Some(n)) => Some((c, n.to_string())),
                _ => None,
            };
            let named: Vec<bool> = self
                .scopes
                .iter()
                .map(|s| {
                    let Some(name) = s.name.as_deref().filter(|n| teardown(n)) else {
                        return false;
                    };
                    ends_a_life(name)
                        || method_key(s).is_none_or(|k| !callers.per_event.contains(&k))
                })
                .collect();
            let mut methods_by_class = vec![Vec::new(); self.classes.len()];
            for (i, s) in self.scopes.iter().enumerate() {
                if named[i]
                    && let Some(key) = method_key(s)
                    && let Some(list) = methods_by_class.get_mut(key.0)
                {
                    list.push(i);
                }
            }
            // The first word of each class's method names (`open`, `connect`): what undoes a
            // life-ending name, read once per file.
            let mut starts: Vec<HashSet<String>> = vec![HashSet::new(); self.classes.len()];
            for s in &self.scopes {
                if let Some((c, name)) = method_key(s)
                    && let (Some(set), Some(first)) = (starts.get_mut(c), words(&name).next())
                {
                    set.insert(first);
                }
            }
            for (c, list) in methods_by_class.iter_mut().enumerate() {
                // Stable: source order among equals.
                list.sort_by_cached_key(|&m| {
                    let s = &self.scopes[m];
                    let name = s.name.as_deref().unwrap_or_default();
                    let key = method_key(s);
                    let closing = key.as_ref().is_some_and(|k| callers.on_close.contains(k));
                    // A step of another teardown (`close()` runs `disconnectClient(id)` for
                    // each client): the caller ends more of the life.
                    let step = key.as_ref().is_some_and(|k| {
                        callers.called_by.get(k).is_some_and(|by| {
                            by.iter()
                                .any(|c| c != k && teardown(&c.1) && ends_a_life(&c.1))
                        })
                    });
                    // Undone by a method of the same class (`close()` beside `open()`, a
                    // circuit breaker's state): a state the object leaves again, not its end.
                    let reversible = words(name).any(|w| {
                        INVERSE
                            .iter()
                            .any(|(end, start)| w == *end && starts[c].contains(*start))
                    });
                    (!ends_a_life(name), reversible, step, !closing)
                });
            }
            TeardownIndex {
                named,
                methods_by_class,
            }
        })
    }

    /// Where each method of a class is called from by the class itself: `this.m()` and `this.m`
    /// passed as a callback (a handler), followed through methods that call other methods.
    fn callers(&self) -> Callers {
        let mut out = Callers::default();
        // Per method scope: the methods it calls from its own body (not from nested handlers).
        let mut calls_from: HashMap<(ClassId, String), Vec<(ClassId, String)>> = HashMap::new();
        let mut per_event_roots = Vec::new();
        for e in &self.events {
            let (callee, registrar) = match &e.kind {
                EventKind::Call { callee } => (callee, None),
                EventKind::PassedAsCallback { func, registrar } => (func, Some(registrar)),
                _ => continue,
            };
            let Place::Field { class, name } = self.resolve(callee) else {
                continue;
            };
            let key = (class, name);
            if let Some(r) = registrar {
                match r.event.as_deref() {
                    Some(ev) if is_close_event(ev) => {
                        out.on_close.insert(key.clone());
                    }
                    _ if repeats(r.kind) => per_event_roots.push(key.clone()),
                    _ => {}
                }
            }
            match self.context(e.scope) {
                Context::PerEvent => per_event_roots.push(key),
                Context::Closing => {
                    out.on_close.insert(key);
                }
                Context::Method(m) => {
                    let s = &self.scopes[m];
                    if let (Some(c), Some(n)) = (s.class, s.name.as_deref()) {
                        calls_from.entry((c, n.to_string())).or_default().push(key);
                    }
                }
                Context::Other => {}
            }
        }
        for (caller, callees) in &calls_from {
            for c in callees {
                out.called_by
                    .entry(c.clone())
                    .or_default()
                    .push(caller.clone());
            }
        }
        // A method called per event runs the methods it calls per event too.
        while let Some(k) = per_event_roots.pop() {
            if out.per_event.insert(k.clone())
                && let Some(next) = calls_from.get(&k)
            {
                per_event_roots.extend(next.iter().cloned());
            }
        }
        out
    }

    /// What the code at `scope` runs as, seen from its nearest handler or method.
    fn context(&self, scope: ScopeId) -> Context {
        for s in self.ancestors(scope) {
            match &self.scopes[s].kind {
                ScopeKind::Callback(r) => match r.event.as_deref() {
                    Some(ev)
                        if is_close_event(ev)
                            && matches!(
                                r.kind,
                                CallbackKind::EventHandler | CallbackKind::OnceHandler
                            ) =>
                    {
                        return Context::Closing;
                    }
                    _ if repeats(r.kind) => return Context::PerEvent,
                    _ => {}
                },
                ScopeKind::Method { .. } => return Context::Method(s),
                ScopeKind::Function | ScopeKind::Module => return Context::Other,
            }
        }
        Context::Other
    }

    /// The methods of `class` named like a teardown, best first: life-ending names, then those
    /// called from a close handler, then source order (see [`FileFacts::is_teardown_scope`]).
    pub fn class_teardown_methods(
        &self,
        class: ClassId,
        teardown: &dyn Fn(&str) -> bool,
    ) -> &[ScopeId] {
        self.teardown_index(teardown)
            .methods_by_class
            .get(class)
            .map_or(&[], Vec::as_slice)
    }

    /// `s` is a teardown: named like one by `teardown` (a function, method or named callback)
    /// and, unless its name ends a life, not a method its owner calls per event; or a
    /// close-like event handler. Judged once per file: the predicate of the first call is kept.
    pub fn is_teardown_scope(&self, s: ScopeId, teardown: &dyn Fn(&str) -> bool) -> bool {
        let scope = &self.scopes[s];
        let named = self
            .teardown_index(teardown)
            .named
            .get(s)
            .copied()
            .unwrap_or(false);
        match &scope.kind {
            ScopeKind::Module => false,
            ScopeKind::Function | ScopeKind::Method { .. } => named,
            ScopeKind::Callback(r) => {
                named
                    || (matches!(
                        r.kind,
                        CallbackKind::EventHandler | CallbackKind::OnceHandler
                    ) && r.event.as_deref().is_some_and(is_close_event))
            }
        }
    }
}

impl FileFacts {
    /// The function or method whose life-ending run `s` belongs to, if any: `s` is, or runs once
    /// inside, a function named for the end of a life (`close()`, `forcefulShutdown()`,
    /// `disconnectClient(id)`) or a close-like event handler. Callbacks on the way up must run
    /// once per run of what encloses them (a promise executor, a continuation, a deferred or
    /// one-time callback, one per item of a list); a per-event, per-request or per-tick callback
    /// starts a life of its own and ends the search.
    pub fn life_end_around(&self, mut s: ScopeId) -> Option<ScopeId> {
        loop {
            let scope = self.scopes.get(s)?;
            match &scope.kind {
                ScopeKind::Module => return None,
                ScopeKind::Function | ScopeKind::Method { .. } => {
                    return scope.name.as_deref().is_some_and(ends_a_life).then_some(s);
                }
                ScopeKind::Callback(r) => {
                    if r.event.as_deref().is_some_and(is_close_event)
                        && matches!(
                            r.kind,
                            CallbackKind::EventHandler | CallbackKind::OnceHandler
                        )
                    {
                        return Some(s);
                    }
                    if repeats(r.kind) {
                        return None;
                    }
                }
            }
            s = scope.parent?;
        }
    }
}

enum Context {
    /// Inside a handler that runs per event, request or tick.
    PerEvent,
    /// Inside a close-like event handler.
    Closing,
    /// Directly in this method's body.
    Method(ScopeId),
    Other,
}

/// A callback of this kind runs many times in its owner's life.
fn repeats(kind: CallbackKind) -> bool {
    matches!(
        kind,
        CallbackKind::EventHandler | CallbackKind::Route | CallbackKind::Interval
    )
}
