//! Listeners and emitters: `on`/`addEventListener`/`once` (with their options: `once`,
//! `signal`), `off`/`removeListener`, `removeAllListeners`, and `AbortController.abort()`.

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::{head_span, is_function, string_value, strip};
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
        // `util.addListener(socket, 'error', fn)`, `Event.on(el, 'unload', fn)`,
        // `Event.detach(el, 'unload', fn)`: a helper that takes the target first, not an
        // emitter's own `on(event, fn[, options])`. It registers on (or removes from) its first
        // argument: read as `el.on('unload', fn)`, not as a listener on the helper's module.
        if helper_shaped(s) {
            let first = s.list[0];
            let shifted = CallSite {
                obj: Some(first),
                method: if LISTEN.contains(&s.method) {
                    s.method
                } else {
                    "removeListener"
                },
                list: s.list[1..].to_vec(),
                registrar: crate::facts::Registrar {
                    event: string_value(self.text(s.list[1]), s.list[1].kind_name()),
                    target: Some(self.place_of(first)),
                    ..s.registrar.clone()
                },
                shift: 1,
                ..*s
            };
            let target = self.listen_target(first);
            return self.listener_call_on(&shifted, target, Some(first));
        }
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
            || self.declared(s.method).next().is_some()
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
        if self.subscription(s, &target) {
            return true;
        }
        if LISTEN.contains(&method) && s.list.len() >= 2 {
            self.listen(s, target);
            return true;
        }
        // `x.off(event)` without a listener: the emitter libraries that accept it (EventEmitter3,
        // component-emitter, socket.io's and Phoenix's emitters) remove every listener of it.
        if method == "off" && s.list.len() == 1 {
            self.event(
                EventKind::UnlistenAll {
                    target,
                    event: s.registrar.event.clone(),
                },
                head_span(n),
            );
            self.visit_children(n);
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

    /// `token.subscribe(onCanceled)` / `token.unsubscribe(onCanceled)`: a registration API that
    /// takes the handler alone (axios' `CancelToken`, observable-style emitters), recorded as a
    /// listener without an event — only for a named function that the file also unsubscribes by
    /// name (`.unsubscribe(onCanceled)`; not a topic name), so an Rx `subscribe(fn)` whose removal is the returned
    /// subscription's `unsubscribe()` is not taken for one.
    fn subscription(&mut self, s: &CallSite<'a>, target: &PlaceRef) -> bool {
        let [h] = s.list.as_slice() else {
            return false;
        };
        let h = strip(*h);
        if !self.unsubscribes
            || !matches!(s.method, "subscribe" | "unsubscribe")
            || h.kind_name() != "identifier"
        {
            return false;
        }
        let name = self.text(h);
        // A function, not a topic (`ws.subscribe(topic)` of uWebSockets' pub/sub).
        let function = [
            format!("function {name}("),
            format!("{name} = ("),
            format!("{name} = function"),
            format!("{name} = async"),
        ]
        .iter()
        .any(|p| self.src.contains(p.as_str()));
        if !function || !self.src.contains(&format!(".unsubscribe({name})")) {
            return false;
        }
        let handler = self.handler_of(h, None);
        let kind = if s.method == "subscribe" {
            EventKind::Listen(Box::new(ListenFacts {
                target: target.clone(),
                method: s.method.to_string(),
                event: None,
                handler,
                handler_span: Some(h.byte_range()),
                once: false,
                signal: None,
                per_key: false,
                while_connecting: false,
                once_per_target: false,
                just_made: false,
            }))
        } else {
            EventKind::Unlisten(Box::new(UnlistenFacts {
                target: target.clone(),
                event: None,
                handler,
            }))
        };
        self.event(kind, head_span(s.n));
        self.visit_children(s.n);
        true
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

    fn just_made(&self, n: Node<'a>, o: Node<'a>) -> bool {
        just_made_here(self.src, n, o)
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
                once_per_target: n
                    .field("function")
                    .and_then(|f| f.field("object"))
                    .is_some_and(|o| {
                        let t = self.text(o);
                        self.guards.iter().any(|g| admits_once(g, t))
                    }),
                just_made: n
                    .field("function")
                    .and_then(|f| f.field("object"))
                    .is_some_and(|o| self.just_made(n, o)),
            })),
            head_span(n),
        );
        let first = arg_list.first().copied();
        let second = arg_list.get(1).copied();
        // The event or the handler is the loop's key or item (`for (const k in handlers)
        // target.on(k, handlers[k])`, `server.listeners('request').forEach((fn) =>
        // other.on('request', fn))`): each iteration registers a different event or function.
        let per_loop = self.in_loop
            && (self.event_per_key(first)
                || self.event_per_key(second)
                || self.handler_per_item(second)
                || self.event_and_handler_per_key(first, second));
        if per_loop {
            // Each iteration registers something different, so the loop does not repeat a
            // registration.
            let e = &mut self.facts.events[event_idx];
            e.in_loop = false;
            e.loop_span = None;
        }
        if per_loop || self.event_per_item(first) || self.event_per_item(second) {
            if let EventKind::Listen(l) = &mut self.facts.events[event_idx].kind {
                l.per_key = true;
            }
        }
        if let Some(callee) = n.field("function") {
            self.visit(callee);
        }
        let created = match s.args {
            Some(a) => self.arguments(a, &reg, |i| {
                if i == 1 + s.shift {
                    kind
                } else {
                    CallbackKind::Other
                }
            }),
            None => Vec::new(),
        };
        let inline = created.get(1 + s.shift).copied().flatten();
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
        let Some(name) = ev.and_then(|e| self.event_key(e)) else {
            return false;
        };
        self.collection_loop()
            .and_then(|l| l.field("left"))
            .is_some_and(|left| self.binds_name(left, name))
    }

    /// The event is the key of a `for … in` loop around the call, and every loop inside that one
    /// indexes the handler by its counter (`for (const ev in handlers) for (let i = 0; i <
    /// handlers[ev].length; i++) t.on(ev, handlers[ev][i])`): each turn of each loop registers
    /// another function of the table, which the loops walk once.
    fn event_and_handler_per_key(&self, ev: Option<Node<'a>>, handler: Option<Node<'a>>) -> bool {
        let (Some(name), Some(h)) = (ev.and_then(|e| self.event_key(e)), handler.map(strip)) else {
            return false;
        };
        if h.kind_name() != "subscript_expression" {
            return false;
        }
        let handler_text = self.text(h);
        for a in self.stack.iter().rev().take_while(|a| {
            !is_function(**a)
                && !matches!(
                    a.kind_name(),
                    "function_declaration" | "method_definition" | "generator_function_declaration"
                )
        }) {
            match a.kind_name() {
                "for_in_statement" => {
                    return a.field("left").is_some_and(|l| self.binds_name(l, name));
                }
                // A counting loop whose counter indexes the handler.
                "for_statement" => {
                    let counter = a
                        .field("initializer")
                        .and_then(|i| {
                            let mut c = i.walk();
                            i.named_children(&mut c)
                                .find(|d| d.kind_name() == "variable_declarator")
                        })
                        .and_then(|d| d.field("name"))
                        .map(|n| self.text(n));
                    if !counter.is_some_and(|c| handler_text.contains(&format!("[{c}]"))) {
                        return false;
                    }
                }
                "while_statement" | "do_statement" => return false,
                _ => {}
            }
        }
        false
    }

    /// The only loop around the call in its function, when it walks a collection
    /// (`for (const x of xs)`, `for (const k in o)`) rather than retrying.
    fn collection_loop(&self) -> Option<Node<'a>> {
        let mut found = None;
        for a in self.stack.iter().rev().take_while(|a| {
            !is_function(**a)
                && !matches!(
                    a.kind_name(),
                    "function_declaration" | "method_definition" | "generator_function_declaration"
                )
        }) {
            if matches!(
                a.kind_name(),
                "for_statement" | "for_in_statement" | "while_statement" | "do_statement"
            ) {
                if found.is_some() {
                    return None;
                }
                found = Some(*a);
            }
        }
        found.filter(|l| l.kind_name() == "for_in_statement")
    }

    /// The handler is the teardown hook of something made for this iteration's item: a
    /// function written in the body of a loop over a collection (inline, or a `const` of that
    /// body) that ends an object the body itself created (`for (const adr of addresses) { const
    /// secondary = listenOn(adr); const closeSecondary = () => secondary.close();
    /// main.on('close', closeSecondary); }`). The listener ties the item's own object to the
    /// target's life, one per item of the collection; the loop repeats only as often as the
    /// code around it. A handler that only uses the loop variable (`() => worker.kill()`) is a
    /// registration per iteration, as before.
    fn handler_per_item(&self, handler: Option<Node<'a>>) -> bool {
        let (Some(h), Some(lp)) = (handler.map(strip), self.collection_loop()) else {
            return false;
        };
        let Some(body) = lp.field("body") else {
            return false;
        };
        // The body's own `const`/`let` names (an `if` block's too; not in nested functions),
        // and the function the handler names when it is one of them.
        let mut made: Vec<&'a str> = Vec::new();
        let mut func = None;
        let mut stack = vec![body];
        while let Some(n) = stack.pop() {
            if n.id() != body.id() && is_function(n) {
                continue;
            }
            if n.kind_name() == "variable_declarator"
                && let Some(name) = n.field("name").filter(|x| x.kind_name() == "identifier")
            {
                let value = n.field("value").map(strip);
                if h.kind_name() == "identifier"
                    && self.text(h) == self.text(name)
                    && value.is_some_and(is_function)
                {
                    func = value;
                } else {
                    made.push(self.text(name));
                }
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
        if is_function(h) && body.start_byte() <= h.start_byte() && h.end_byte() <= body.end_byte()
        {
            func = Some(h);
        }
        let Some(f) = func.and_then(|f| f.field("body")) else {
            return false;
        };
        // `secondary.close()`, `conn.destroy()` on a name the body made.
        let mut stack = vec![f];
        while let Some(n) = stack.pop() {
            if n.kind_name() == "call_expression"
                && let Some(m) = n
                    .field("function")
                    .filter(|m| m.kind_name() == "member_expression")
                && let (Some(obj), Some(prop)) = (m.field("object"), m.field("property"))
                && obj.kind_name() == "identifier"
                && made.contains(&self.text(obj))
                && crate::facts::ends_a_life(self.text(prop))
            {
                return true;
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
        false
    }

    /// The event argument is the item of the `.forEach`/`.map` callback the call is directly
    /// in (`events.forEach((ev) => target.on(ev, …))`, `list.forEach(({ event, callback }) =>
    /// target.on(event, …))`), outside any loop of that callback.
    fn event_per_item(&self, ev: Option<Node<'a>>) -> bool {
        let Some(name) = ev.and_then(|e| self.event_key(e)) else {
            return false;
        };
        let sc = &self.facts.scopes[self.scope];
        if self.in_loop
            || !matches!(&sc.kind, ScopeKind::Callback(r) if r.kind == CallbackKind::Iteration)
        {
            return false;
        }
        if sc.params.first().is_some_and(|p| p == name) {
            return true;
        }
        // A destructured item: the name is bound by the callback's first parameter pattern.
        let Some(func) = self.stack.iter().rev().copied().find(|a| is_function(*a)) else {
            return false;
        };
        let first = func.field("parameter").or_else(|| {
            let params = func.field("parameters")?;
            let mut c = params.walk();
            params
                .named_children(&mut c)
                .find(|p| p.kind_name() != "comment")
        });
        first.is_some_and(|p| self.binds_name(p, name))
    }

    /// The name an event argument is keyed by: the identifier itself (`on(ev, …)`) or the key
    /// of a lookup (`on(Events[name], …)`: a table of distinct event names).
    fn event_key(&self, ev: Node<'a>) -> Option<&'a str> {
        let ev = strip(ev);
        let key = match ev.kind_name() {
            "identifier" => ev,
            "subscript_expression" => strip(ev.field("index")?),
            _ => return None,
        };
        (key.kind_name() == "identifier").then(|| self.text(key))
    }

    /// The pattern `p` (a parameter, a loop's left side) declares `name`.
    fn binds_name(&self, p: Node<'a>, name: &str) -> bool {
        let mut stack = vec![p];
        while let Some(n) = stack.pop() {
            if matches!(
                n.kind_name(),
                "identifier" | "shorthand_property_identifier_pattern"
            ) && self.text(n) == name
            {
                // `{ event: other }` binds `other`, not `event`: a pair's key is not a binding.
                let is_key = n.parent().is_some_and(|p| {
                    p.kind_name() == "pair_pattern"
                        && p.field("key").is_some_and(|k| k.id() == n.id())
                });
                if !is_key {
                    return true;
                }
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
        false
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

/// Guard text `g` admits target `t` only while it is not a member of a set: `!s.has(t)`,
/// `s.has(t) === false` (the code it guards adds `t`, or it would never pass twice).
/// A listener-named method called as a helper on some target: `x.on(target, 'event', fn)`,
/// the event name second (a string) and the first argument not one.
fn helper_shaped(s: &CallSite<'_>) -> bool {
    let is_string = |n: &Node<'_>| matches!(strip(*n).kind_name(), "string" | "template_string");
    (LISTEN.contains(&s.method) || UNLISTEN.contains(&s.method) || s.method == "detach")
        && s.shift == 0
        && s.list.len() >= 3
        && is_string(&s.list[1])
        && !is_string(&s.list[0])
}

fn admits_once(g: &str, t: &str) -> bool {
    let probe = format!(".has({t})");
    let Some(at) = g.find(&probe) else {
        return false;
    };
    let rest = g[at + probe.len()..].trim_start();
    if rest.starts_with("=== false") || rest.starts_with("== false") {
        return true;
    }
    // The receiver before `.has`: `this.seen`, `conns`.
    let head = g[..at].trim_end_matches(|c: char| c.is_alphanumeric() || "_$.".contains(c));
    head.trim_end().ends_with('!')
}

/// The member `o` (`this.bus`) that call `n` registers on was given a new object by an
/// earlier statement of the block holding `n`'s statement (`this.bus = new EventBus();`), and
/// no statement between assigns it again. Not across a function boundary (a callback runs
/// later, maybe after a reassignment).
fn just_made_here(src: &str, n: Node, o: Node) -> bool {
    let o = strip(o);
    if o.kind_name() != "member_expression" {
        return false;
    }
    let t = &src[o.byte_range()];
    let mut stmt = n;
    while let Some(p) = stmt.parent() {
        if matches!(p.kind_name(), "statement_block" | "program") {
            break;
        }
        if matches!(
            p.kind_name(),
            "arrow_function" | "function_expression" | "function_declaration" | "method_definition"
        ) {
            return false;
        }
        stmt = p;
    }
    let mut prev = stmt.prev_named_sibling();
    while let Some(s) = prev {
        if s.kind_name() == "expression_statement"
            && let Some(a) = s.named_child(0)
            && a.kind_name() == "assignment_expression"
            && a.field("left").is_some_and(|l| &src[l.byte_range()] == t)
        {
            return a
                .field("right")
                .is_some_and(|r| strip(r).kind_name() == "new_expression");
        }
        if assigns_to(&src[s.byte_range()], t) {
            return false;
        }
        prev = s.prev_named_sibling();
    }
    false
}

/// `text` holds an assignment to `t` (`t = …`, `t ??= …`; not `t == …` or `t => …`).
fn assigns_to(text: &str, t: &str) -> bool {
    text.match_indices(t).any(|(i, _)| {
        let rest = text[i + t.len()..].trim_start();
        let rest = rest
            .strip_prefix("??")
            .or_else(|| rest.strip_prefix("||"))
            .or_else(|| rest.strip_prefix("&&"))
            .unwrap_or(rest);
        rest.starts_with('=') && !rest.starts_with("==") && !rest.starts_with("=>")
    })
}

#[cfg(test)]
mod admits_once_tests {
    use super::admits_once;

    #[test]
    fn a_negated_membership_test_on_the_target_admits_it_once() {
        assert!(admits_once("!seen.has(socket)", "socket"));
        assert!(admits_once("!this.conns.has(req.socket)", "req.socket"));
        assert!(admits_once("conns.has(req.socket) === false", "req.socket"));
        assert!(!admits_once("conns.has(req.socket)", "req.socket"));
        assert!(!admits_once("!seen.has(other)", "socket"));
    }
}
