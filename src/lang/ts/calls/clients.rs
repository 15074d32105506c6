//! Clients and other handles: constructions (`new X(..)`), client and adapter factories
//! (`createClient()`, `connect()`), and the calls that release a handle (`close`, `end`, …).

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::head_span;
use super::super::walk::Walker;
use super::CallSite;
use crate::facts::*;

const RELEASE: &[&str] = &[
    "close",
    "end",
    "destroy",
    "dispose",
    "disconnect",
    "terminate",
    "abort",
    "shutdown",
    "stop",
    "removeAllListeners",
    "cancel",
    "quit",
];

/// Calls that return a client (`twilio(..)`, `axios.create(..)`, `redis.createClient(..)`).
fn is_client_factory(callee: &str) -> bool {
    matches!(
        callee,
        "twilio" | "Twilio" | "createClient" | "axios.create" | "redis.createClient"
    )
}

impl<'a> Walker<'a> {
    /// `x.close()` and the other release methods, on a known place.
    pub(super) fn release_call(&mut self, s: &CallSite<'a>, o: Node<'a>) {
        let place = self.place_of(o);
        if RELEASE.contains(&s.method) && !matches!(place, PlaceRef::Unknown) {
            self.event(
                EventKind::Release {
                    place,
                    method: s.method.to_string(),
                },
                head_span(s.n),
            );
        }
    }

    /// Clients from factories, and connections or adapters from a factory stored in a slot
    /// (duplicate-adapter).
    pub(super) fn factory_call(&mut self, s: &CallSite<'a>) {
        let (n, method, callee_text) = (s.n, s.method, s.text);
        if !is_client_factory(callee_text)
            && ["connect", "create", "open"]
                .iter()
                .any(|p| method.starts_with(p))
            && !method.starts_with("createRead")
            && !method.starts_with("createWrite")
        {
            let (handle, _, lazy) = self.placement(n);
            if matches!(handle, PlaceRef::Field { .. } | PlaceRef::Name { .. }) {
                self.event(
                    EventKind::New {
                        class: callee_text.to_string(),
                        handle,
                        lazy,
                        factory: true,
                    },
                    head_span(n),
                );
            }
        }
        if is_client_factory(callee_text) {
            let (handle, _, lazy) = self.placement(n);
            self.event(
                EventKind::New {
                    class: callee_text.to_string(),
                    handle,
                    lazy,
                    factory: true,
                },
                head_span(n),
            );
        }
    }

    /// `new X(..)`: a construction (caches and servers among them), then the constructor and
    /// its arguments walked (a `new Promise` executor as such).
    pub(in crate::lang::ts) fn new_expr(&mut self, n: Node<'a>) {
        let ctor = n.field("constructor");
        let class = ctor.map(|c| self.text(c)).unwrap_or("");
        let (handle, _, lazy) = self.placement(n);
        let last = class.rsplit('.').next().unwrap_or(class);
        let first_arg_keys = n
            .field("arguments")
            .and_then(|a| a.named_child(0))
            .map(|o| self.object_keys(o))
            .unwrap_or_default();
        self.cache_construction(n, last, &first_arg_keys);
        // `new C(…).m(…)`: `m` runs on an instance nothing else holds.
        if n.field("arguments").is_some()
            && let Some(member) = n.parent().filter(|p| p.kind_name() == "member_expression")
            && let Some(call) = member
                .parent()
                .filter(|c| c.kind_name() == "call_expression")
            && call
                .field("function")
                .is_some_and(|f| f.id() == member.id())
            && let Some(prop) = member.field("property")
        {
            let method = self.text(prop).to_string();
            self.facts.fresh_calls.push((last.to_string(), method));
        }
        self.ws_server_construction(n, class, last, &first_arg_keys);
        self.event(
            EventKind::New {
                class: class.to_string(),
                handle: handle.clone(),
                lazy,
                factory: false,
            },
            head_span(n),
        );
        if let Some(a) = n.field("arguments") {
            let mut c = a.walk();
            let nodes: Vec<Node<'a>> = a
                .named_children(&mut c)
                .filter(|x| x.kind_name() != "comment")
                .collect();
            for (i, x) in nodes.iter().enumerate() {
                if x.kind_name() == "false"
                    && let Ok(i) = u8::try_from(i)
                {
                    self.facts.false_args.push((head_span(n), i));
                }
            }
            let args = nodes.iter().map(|x| self.place_of(*x)).collect();
            self.event(
                EventKind::Construct {
                    class: class.to_string(),
                    args,
                },
                head_span(n),
            );
        }
        if super::promises::is_promise_ctor(class) && self.promise_construction(n, ctor, handle) {
            return;
        }
        let registrar = Registrar {
            callee: class.to_string(),
            method: class.rsplit('.').next().unwrap_or(class).to_string(),
            event: None,
            target: None,
            arg_index: 0,
            kind: CallbackKind::Other,
        };
        if let Some(c) = ctor {
            self.visit(c);
        }
        if let Some(a) = n.field("arguments") {
            self.arguments(a, &registrar, |_| CallbackKind::Other);
        }
    }
}
