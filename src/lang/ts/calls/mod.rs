//! Calls and constructions: the call site read once, then each API family (one file each)
//! records what the call means to it; then the callbacks passed as arguments become scopes,
//! with the rhythm their registrar gives them.
//!
//! The order in which the families are asked is the order their events are recorded in.

mod clients;
mod collections;
mod listeners;
mod promises;
mod servers;
mod streams;
mod swallowed_work;
mod swallows;
mod timers;

use tree_sitter::Node;

pub(super) use promises::Executor;

use super::NodeExt;
use super::text::{is_function, string_value, strip, truncate, unquote};
use super::walk::Walker;
use crate::facts::*;

const ITERATE: &[&str] = &[
    "forEach",
    "map",
    "filter",
    "reduce",
    "reduceRight",
    "some",
    "every",
    "find",
    "findIndex",
    "flatMap",
    "sort",
];
const ROUTE: &[&str] = &[
    "get", "post", "put", "patch", "delete", "all", "use", "options", "head", "route", "ws",
];
const GLOBAL_OBJECTS: &[&str] = &["global", "globalThis", "window", "self", "timers"];

/// A call being lowered, its parts read once.
struct CallSite<'a> {
    /// The `call_expression`.
    n: Node<'a>,
    /// The callee, stripped of wrappers.
    callee: Node<'a>,
    /// The object of a method call (`bus` in `bus.on(..)`).
    obj: Option<Node<'a>>,
    /// The method or function name (`on`, `setInterval`).
    method: &'a str,
    /// The callee's text (`bus.on`, `process.nextTick`).
    text: &'a str,
    /// The `arguments` node (absent for a tagged template).
    args: Option<Node<'a>>,
    /// The arguments, comments left out.
    list: Vec<Node<'a>>,
    registrar: Registrar,
    /// Arguments of the call before `list` starts: 1 for a helper that takes the target first
    /// (`util.addListener(socket, 'error', fn)` is read as `socket.on('error', fn)`).
    shift: usize,
}

impl<'a> CallSite<'a> {
    /// A global function or one on a global object (`setInterval`, `window.setTimeout`).
    fn on_global(&self, w: &Walker<'a>) -> bool {
        self.obj
            .map(|o| w.text(o))
            .is_none_or(|o| GLOBAL_OBJECTS.contains(&o))
    }
}

impl<'a> Walker<'a> {
    /// `x.bind(…)` with `x` a name or a member (`this.onData.bind(this)`): `x`.
    fn bound_method(&self, call: Node<'a>) -> Option<Node<'a>> {
        let f = call.field("function")?;
        if f.kind_name() != "member_expression"
            || f.field("property").is_none_or(|p| self.text(p) != "bind")
        {
            return None;
        }
        f.field("object")
            .filter(|o| matches!(o.kind_name(), "identifier" | "member_expression"))
    }

    /// `f.call(this, …)`, `f.apply(this, …)`, `f.bind(this)` in a method: `f` runs as one of
    /// the class's methods (remembered for its declaration, usually further down), and the
    /// call is one of `f` for the call graph.
    fn private_method_call(&mut self, s: &CallSite<'a>) {
        let (Some(class), Some(obj)) = (self.class, s.obj) else {
            return;
        };
        if !matches!(s.method, "call" | "apply" | "bind")
            || obj.kind_name() != "identifier"
            || s.list.first().is_none_or(|a| a.kind_name() != "this")
        {
            return;
        }
        let name = self.text(obj).to_string();
        let callee = self.place_of(obj);
        self.event(EventKind::Call { callee }, s.n.byte_range());
        if !self
            .private_methods
            .iter()
            .any(|(n, c)| *n == name && *c == class)
        {
            self.private_methods.push((name, class));
        }
    }

    pub(super) fn call(&mut self, n: Node<'a>) {
        let Some(site) = self.call_site(n) else {
            self.visit_children(n);
            return;
        };
        self.call_facts(&site);
        self.private_method_call(&site);
        if self.timer_call(&site) || self.race_call(&site) {
            return;
        }
        if let Some(o) = site.obj {
            if self.listener_call(&site, o) {
                return;
            }
            self.grow_shrink_call(&site, o);
        } else if self.global_listener_call(&site) {
            return;
        }
        self.factory_call(&site);
        // A call of a named function: for call-graph lifetimes.
        let callee_place = match site.callee.kind_name() {
            "identifier" => Some(self.place_of(site.callee)),
            // `this.m()`, and `self.m()` through an alias of `this` (`var self = this`).
            "member_expression"
                if site.obj.is_some_and(|o| {
                    o.kind_name() == "this"
                        || (o.kind_name() == "identifier"
                            && self.this_alias(self.text(o)).is_some())
                }) =>
            {
                Some(self.place_of(site.callee))
            }
            // `util.send()` on a module (`const util = require('./util')`, `import * as util`),
            // and TypeScript's compiled `(0, utils_1.send)()`: a call of that module's export.
            "member_expression"
                if site.obj.is_some_and(|o| {
                    o.kind_name() == "identifier" && self.import_source(self.text(o)).is_some()
                }) =>
            {
                Some(self.place_of(site.callee))
            }
            _ => None,
        };
        if let Some(callee) = callee_place {
            self.event(EventKind::Call { callee }, n.byte_range());
            for (index, a) in site.list.iter().enumerate().take(8) {
                let a = strip(*a);
                if !matches!(a.kind_name(), "identifier" | "member_expression") {
                    continue;
                }
                let place = self.place_of(a);
                if !matches!(place, PlaceRef::Unknown) {
                    self.event(
                        EventKind::Arg {
                            index: index as u8,
                            place,
                        },
                        n.byte_range(),
                    );
                }
            }
        }
        let kind = self.callback_kind(&site);
        self.visit(site.callee);
        if let Some(a) = site.args {
            self.escaping_arguments(site.method, &site.list);
            self.arguments(a, &site.registrar, |_| kind);
        } else if let Some(t) = n.field("arguments") {
            self.visit(t);
        }
    }

    /// The parts of a call, or `None` without a callee.
    fn call_site(&self, n: Node<'a>) -> Option<CallSite<'a>> {
        let callee = strip(n.field("function")?);
        let args = n
            .field("arguments")
            .filter(|a| a.kind_name() == "arguments");
        let (obj, method): (Option<Node<'a>>, &str) = match callee.kind_name() {
            "member_expression" => (
                callee.field("object"),
                callee.field("property").map(|p| self.text(p)).unwrap_or(""),
            ),
            "identifier" => (None, self.text(callee)),
            _ => (None, ""),
        };
        let text = self.text(callee);
        let list: Vec<Node<'a>> = args
            .map(|a| {
                let mut c = a.walk();
                a.named_children(&mut c)
                    .filter(|x| x.kind_name() != "comment")
                    .collect()
            })
            .unwrap_or_default();
        // A chain broken over lines (`target\n    .on(…)`) is named on one line in messages.
        let one_line = if text.contains('\n') {
            text.split_whitespace().collect::<String>()
        } else {
            text.to_string()
        };
        let registrar = Registrar {
            callee: truncate(&one_line, 80),
            method: method.to_string(),
            event: list
                .first()
                .and_then(|a| string_value(self.text(*a), a.kind_name())),
            target: obj.map(|o| self.place_of(o)),
            arg_index: 0,
            kind: CallbackKind::Other,
        };
        Some(CallSite {
            n,
            callee,
            obj,
            method,
            text,
            args,
            list,
            registrar,
            shift: 0,
        })
    }

    /// What each family reads from any call before the call is dispatched: releases, pipes,
    /// servers, swallowed errors, streams, memoizers.
    fn call_facts(&mut self, s: &CallSite<'a>) {
        if let Some(o) = s.obj {
            self.release_call(s, o);
            self.pipe_call(s, o);
            self.server_listen_call(s, o);
            self.swallowing_call(s);
        }
        self.stream_call(s);
        self.memoizer_call(s);
    }

    /// The rhythm of the callbacks a call is given, by the callee's shape.
    fn callback_kind(&self, s: &CallSite<'a>) -> CallbackKind {
        let route = s.obj.is_some()
            && ROUTE.contains(&s.method)
            && s.list.iter().any(|a| is_function(*a))
            && (s
                .list
                .first()
                .is_some_and(|a| matches!(a.kind_name(), "string" | "template_string"))
                || s.method == "use");
        // `net.createServer((socket) => …)`, `http.createServer(opts, (req, res) => …)`: the
        // listener runs per connection or request.
        let server = matches!(s.method, "createServer" | "createSecureServer")
            && s.list.iter().any(|a| is_function(*a));
        if route || server {
            CallbackKind::Route
        } else if ITERATE.contains(&s.method)
            && s.obj.is_some_and(|o| strip(o).kind_name() != "array")
        {
            // Over an array literal the count is fixed in the code: not a repeating rhythm.
            CallbackKind::Iteration
        } else if matches!(s.method, "then" | "catch" | "finally") && s.obj.is_some() {
            CallbackKind::Continuation
        } else if matches!(
            s.text,
            "setImmediate" | "queueMicrotask" | "process.nextTick" | "requestAnimationFrame"
        ) {
            CallbackKind::Deferred
        } else {
            CallbackKind::Other
        }
    }

    /// A function argument whose parameters are `(resolve)` or `(resolve, reject)`.
    fn executor_shaped(&self, a: Node<'a>) -> bool {
        if !matches!(
            a.kind_name(),
            "arrow_function" | "function_expression" | "function"
        ) {
            return false;
        }
        let names: Vec<&str> = match a.field("parameters") {
            Some(ps) => {
                let mut c = ps.walk();
                ps.named_children(&mut c)
                    .filter(|p| p.kind_name() != "comment")
                    .map(|p| {
                        // `required_parameter` (TypeScript) wraps the name.
                        let n = p.field("pattern").unwrap_or(p);
                        self.text(n)
                    })
                    .collect()
            }
            None => a
                .field("parameter")
                .map(|p| vec![self.text(p)])
                .unwrap_or_default(),
        };
        matches!(names.as_slice(), ["resolve"] | ["resolve", "reject"])
    }

    /// The keys of an object literal (`{ stdTTL: 60, max }` → `stdTTL`, `max`).
    fn object_keys(&self, o: Node<'a>) -> Vec<String> {
        let o = strip(o);
        if o.kind_name() != "object" {
            return Vec::new();
        }
        let mut c = o.walk();
        o.named_children(&mut c)
            .filter_map(|p| match p.kind_name() {
                "pair" => p.field("key").map(|k| unquote(self.text(k))),
                "shorthand_property_identifier" => Some(self.text(p).to_string()),
                _ => None,
            })
            .collect()
    }

    /// Visits call arguments; function arguments become callback scopes.
    pub(super) fn arguments(
        &mut self,
        args: Node<'a>,
        registrar: &Registrar,
        kind_of: impl Fn(usize) -> CallbackKind,
    ) -> Vec<Option<ScopeId>> {
        let mut created = Vec::new();
        self.push(args);
        let mut c = args.walk();
        let list: Vec<Node<'a>> = args.named_children(&mut c).collect();
        for (i, a) in list.into_iter().enumerate() {
            if a.kind_name() == "comment" {
                continue;
            }
            let mut kind = kind_of(i);
            // A promise helper's executor by its shape (`guardedPromise((resolve, reject) =>
            // …)`, `pRetry`-style wrappers): it runs once, as `new Promise`'s does.
            if kind == CallbackKind::Other && self.executor_shaped(a) {
                kind = CallbackKind::PromiseExecutor;
            }
            let r = Registrar {
                arg_index: i,
                kind,
                ..registrar.clone()
            };
            match a.kind_name() {
                "arrow_function" | "function_expression" | "function" => {
                    let class = if a.kind_name() == "arrow_function" {
                        self.class
                    } else {
                        None
                    };
                    let name = a.field("name").map(|x| self.text(x).to_string());
                    self.push(a);
                    let id =
                        self.function_with(a, ScopeKind::Callback(Box::new(r)), name, class, false);
                    self.pop();
                    created.push(Some(id));
                }
                "identifier" | "member_expression" => {
                    let func = self.place_of(a);
                    if kind != CallbackKind::Other || !matches!(func, PlaceRef::Unknown) {
                        self.event(
                            EventKind::PassedAsCallback {
                                func: func.clone(),
                                registrar: Box::new(r),
                            },
                            a.byte_range(),
                        );
                    }
                    if !matches!(func, PlaceRef::Unknown) {
                        self.event(EventKind::Escape { place: func }, a.byte_range());
                    }
                    self.visit(a);
                    created.push(None);
                }
                // `socket.on('connect', this.onConnected.bind(this))`: the method itself is the
                // handler. (Bound methods handed to timers and other callers are not followed
                // yet: a timer armed per event would make its callee a per-event method.)
                "call_expression"
                    if matches!(kind, CallbackKind::EventHandler | CallbackKind::OnceHandler)
                        && let Some(bound) = self.bound_method(a) =>
                {
                    let func = self.place_of(bound);
                    if !matches!(func, PlaceRef::Unknown) {
                        self.event(
                            EventKind::PassedAsCallback {
                                func,
                                registrar: Box::new(r),
                            },
                            bound.byte_range(),
                        );
                    }
                    self.visit(a);
                    created.push(None);
                }
                _ => {
                    self.visit(a);
                    created.push(None);
                }
            }
        }
        self.pop();
        created
    }
}
