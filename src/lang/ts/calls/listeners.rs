//! Listeners and emitters: `on`/`addEventListener`/`once` (with their options: `once`,
//! `signal`), `off`/`removeListener`, `removeAllListeners`, and `AbortController.abort()`.

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::{head_span, is_function, strip};
use super::super::walk::Walker;
use super::CallSite;
use crate::facts::*;

const LISTEN: &[&str] = &[
    "on",
    "addListener",
    "prependListener",
    "addEventListener",
    "once",
    "prependOnceListener",
];
const UNLISTEN: &[&str] = &["off", "removeListener", "removeEventListener"];

impl<'a> Walker<'a> {
    /// A listener call on `o`. `true` when the call was recorded and walked here (`on`, `off`
    /// and their synonyms); `removeAllListeners` and `abort` are recorded and left to the
    /// caller to walk.
    pub(super) fn listener_call(&mut self, s: &CallSite<'a>, o: Node<'a>) -> bool {
        let target = self.listen_target(o);
        self.listener_call_on(s, target, Some(o))
    }

    /// A bare `addEventListener(…)` / `removeEventListener(…)` (no object): in a browser script
    /// it is the global object's, `window`'s (engine.io-client's `beforeunload` handler).
    pub(super) fn global_listener_call(&mut self, s: &CallSite<'a>) -> bool {
        if s.obj.is_some()
            || s.callee.kind_name() != "identifier"
            || !matches!(s.method, "addEventListener" | "removeEventListener")
            // A function of the file's own by that name (declared before the call).
            || self.facts.bindings.iter().any(|b| b.name == s.method)
        {
            return false;
        }
        let target = PlaceRef::Name {
            name: "window".into(),
            scope: self.scope,
            at: At(s.callee.start_byte()),
        };
        self.listener_call_on(s, target, None)
    }

    fn listener_call_on(
        &mut self,
        s: &CallSite<'a>,
        target: PlaceRef,
        o: Option<Node<'a>>,
    ) -> bool {
        let (n, method) = (s.n, s.method);
        if LISTEN.contains(&method) && s.list.len() >= 2 {
            self.listen(s, target);
            return true;
        }
        if UNLISTEN.contains(&method) && !s.list.is_empty() {
            let handler = s
                .list
                .get(1)
                .map_or(Handler::Other, |h| self.handler_of(*h, None));
            self.event(
                EventKind::Unlisten(Box::new(UnlistenFacts {
                    target,
                    event: s.registrar.event.clone(),
                    handler,
                })),
                head_span(n),
            );
            self.visit_children(n);
            return true;
        }
        if method == "removeAllListeners" {
            self.event(
                EventKind::UnlistenAll {
                    target,
                    event: s.registrar.event.clone(),
                },
                n.byte_range(),
            );
        }
        if method == "abort"
            && let Some(o) = o
        {
            let controller = self.place_of(o);
            self.event(EventKind::Abort { controller }, n.byte_range());
        }
        false
    }

    /// The target of a listener call, following chains (`x.on(a, f).on(b, g)` targets `x`).
    fn listen_target(&self, mut o: Node<'a>) -> PlaceRef {
        loop {
            let s = strip(o);
            if s.kind_name() == "call_expression"
                && let Some(f) = s.field("function")
                && f.kind_name() == "member_expression"
                && let Some(p) = f.field("property")
                && LISTEN.contains(&self.text(p))
                && let Some(inner) = f.field("object")
            {
                o = inner;
                continue;
            }
            return self.place_of(s);
        }
    }

    fn handler_of(&self, h: Node<'a>, inline_scope: Option<ScopeId>) -> Handler {
        let h = strip(h);
        match h.kind_name() {
            "identifier" | "member_expression" => {
                let p = self.place_of(h);
                if matches!(p, PlaceRef::Unknown) {
                    Handler::Other
                } else {
                    Handler::Named(p)
                }
            }
            "arrow_function" | "function_expression" | "function" => {
                inline_scope.map_or(Handler::Other, Handler::Inline)
            }
            "call_expression" => {
                let is_bind = h
                    .field("function")
                    .and_then(|f| f.field("property"))
                    .is_some_and(|p| self.text(p) == "bind");
                if is_bind {
                    Handler::Bound
                } else {
                    Handler::Other
                }
            }
            _ => Handler::Other,
        }
    }

    fn listen(&mut self, s: &CallSite<'a>, target: PlaceRef) {
        let (n, method, arg_list) = (s.n, s.method, &s.list);
        let (mut once, signal) = self.listen_options(arg_list.get(2).copied());
        once |= matches!(method, "once" | "prependOnceListener");
        let kind = if once {
            CallbackKind::OnceHandler
        } else {
            CallbackKind::EventHandler
        };
        let reg = Registrar {
            target: Some(target.clone()),
            ..s.registrar.clone()
        };
        let event_idx = self.event(
            EventKind::Listen(Box::new(ListenFacts {
                target,
                method: method.to_string(),
                event: s.registrar.event.clone(),
                handler: Handler::Other,
                handler_span: arg_list.get(1).map(|h| h.byte_range()),
                once,
                signal,
                per_key: false,
                while_connecting: self.guards.iter().any(|g| {
                    let g = g.to_ascii_lowercase();
                    g.contains("connecting") || g.contains(".pending") || g.contains("readystate")
                }),
            })),
            head_span(n),
        );
        let first = arg_list.first().copied();
        let per_loop = self.in_loop && self.event_per_key(first);
        if per_loop {
            // `for (const k in handlers) target.on(k, handlers[k])`: each iteration registers
            // a different event, so the loop does not repeat a registration.
            let e = &mut self.facts.events[event_idx];
            e.in_loop = false;
            e.loop_span = None;
        }
        if per_loop || self.event_per_item(first) {
            if let EventKind::Listen(l) = &mut self.facts.events[event_idx].kind {
                l.per_key = true;
            }
        }
        if let Some(callee) = n.field("function") {
            self.visit(callee);
        }
        let created = match s.args {
            Some(a) => self.arguments(a, &reg, |i| if i == 1 { kind } else { CallbackKind::Other }),
            None => Vec::new(),
        };
        let inline = created.get(1).copied().flatten();
        let handler = arg_list
            .get(1)
            .map_or(Handler::Other, |h| self.handler_of(*h, inline));
        if let EventKind::Listen(l) = &mut self.facts.events[event_idx].kind {
            l.handler = handler;
        }
    }

    /// The event argument is the variable of the only loop around the call in its function
    /// (`for (const k in handlers)`, `for (const [k, f] of Object.entries(map))`): a different
    /// event each iteration.
    fn event_per_key(&self, ev: Option<Node<'a>>) -> bool {
        let Some(ev) = ev.map(strip).filter(|e| e.kind_name() == "identifier") else {
            return false;
        };
        let name = self.text(ev);
        let mut loops = self.stack.iter().rev().take_while(|a| {
            !is_function(**a)
                && !matches!(
                    a.kind_name(),
                    "function_declaration" | "method_definition" | "generator_function_declaration"
                )
        });
        let mut found = None;
        for a in loops.by_ref() {
            if matches!(
                a.kind_name(),
                "for_statement" | "for_in_statement" | "while_statement" | "do_statement"
            ) {
                if found.is_some() {
                    return false;
                }
                found = Some(*a);
            }
        }
        let Some(left) = found
            .filter(|l| l.kind_name() == "for_in_statement")
            .and_then(|l| l.field("left"))
        else {
            return false;
        };
        let mut stack = vec![left];
        while let Some(n) = stack.pop() {
            if matches!(
                n.kind_name(),
                "identifier" | "shorthand_property_identifier_pattern"
            ) && self.text(n) == name
            {
                return true;
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
        false
    }

    /// The event argument is the item of the `.forEach`/`.map` callback the call is directly
    /// in (`events.forEach((ev) => target.on(ev, …))`), outside any loop of that callback.
    fn event_per_item(&self, ev: Option<Node<'a>>) -> bool {
        let Some(ev) = ev.map(strip).filter(|e| e.kind_name() == "identifier") else {
            return false;
        };
        let sc = &self.facts.scopes[self.scope];
        !self.in_loop
            && matches!(&sc.kind, ScopeKind::Callback(r) if r.kind == CallbackKind::Iteration)
            && sc.params.first().is_some_and(|p| p == self.text(ev))
    }

    /// The options object of a listener call (`{ once: true, signal: ac.signal }`): whether it
    /// says `once`, and the controller of its `signal` (unknown for a `signal` shorthand).
    fn listen_options(&self, opts: Option<Node<'a>>) -> (bool, Option<PlaceRef>) {
        let mut once = false;
        let mut signal = None;
        let Some(opts) = opts.map(strip).filter(|o| o.kind_name() == "object") else {
            return (once, signal);
        };
        let mut c = opts.walk();
        for p in opts.named_children(&mut c) {
            match p.kind_name() {
                "pair" => {
                    let key = p.field("key").map(|k| self.text(k));
                    let val = p.field("value");
                    match key {
                        Some("once") => once |= val.is_some_and(|v| self.text(v) == "true"),
                        Some("signal") => {
                            signal = Some(
                                val.map(strip)
                                    .filter(|v| v.kind_name() == "member_expression")
                                    .and_then(|v| v.field("object"))
                                    .map_or(PlaceRef::Unknown, |o| self.place_of(o)),
                            );
                        }
                        _ => {}
                    }
                }
                "shorthand_property_identifier" if self.text(p) == "signal" => {
                    signal = Some(PlaceRef::Unknown);
                }
                _ => {}
            }
        }
        (once, signal)
    }
}
