//! What a listener's target is, for unremoved-listener and its `once` checks: the keep-alive
//! socket of a request (handed to a handler, or to a function by Node's `req` naming), the
//! server a request came through, and a raw socket the run itself has just made, whose
//! connection phase happens once; and the judgments of a target rooted in a long-lived object
//! or declared outside the repeating code ([`judge_long_lived`], [`judge_outer_binding`]).

use super::constructions::{Constructions, injected_field_param};
use super::unremoved_listener::{
    Owner, forwards_own_handler, fresh_in_run, moves_on_each_iteration, outer_owner,
    released_by_teardown, released_on_every_path, repeated_rhythm,
};
use super::*;
use crate::facts::{CallbackKind, Event, FieldOrigin};

/// The boundary is the connection-phase handler (`'connect'`, `'secureConnect'`, `'ready'`,
/// `'open'`) of raw socket `b`, which the run around it has just made (`const socket =
/// net.connect(…)`, `new WebSocket(url)`, `this.connectSocket()`): a raw socket connects once,
/// so the handler runs once per socket and what it registers on the socket goes with it.
/// Not a reconnecting client (`io(url)`, `mqtt.connect(url)`, `ReconnectingWebSocket`), whose
/// `'connect'` fires again on every reconnect on the same object.
pub(super) fn connection_phase_of_fresh_socket(
    facts: &FileFacts,
    boundary: ScopeId,
    b: crate::facts::BindingId,
) -> bool {
    let ScopeKind::Callback(r) = &facts.scopes[boundary].kind else {
        return false;
    };
    let phase = matches!(
        r.event.as_deref(),
        Some("connect" | "secureConnect" | "ready" | "open")
    );
    let on_b = r
        .target
        .as_ref()
        .is_some_and(|t| facts.resolve(t) == Place::Binding(b));
    if r.kind != CallbackKind::EventHandler || !phase || !on_b {
        return false;
    }
    let binding = &facts.bindings[b];
    if binding.kind != crate::facts::BindingKind::Var || facts.is_module_binding(b) {
        return false;
    }
    let mut made = facts
        .events_on(&Place::Binding(b))
        .filter(|n| matches!(n.kind, EventKind::New { .. }));
    let raw = |class: &str| {
        let (base, last) = class.rsplit_once('.').unwrap_or(("", class));
        match last {
            "Socket" | "TLSSocket" | "WebSocket" => true,
            "connect" | "createConnection" => matches!(base, "net" | "tls"),
            // A method of the class that opens its socket: `this.connectSocket()`.
            m => base == "this" && m.contains("Socket"),
        }
    };
    matches!((made.next(), made.next()), (Some(n), None)
        if n.scope == binding.scope && !n.in_loop
            && matches!(&n.kind, EventKind::New { class, .. } if raw(class)))
}

/// `scope` is the handler of a one-shot event of an HTTP client request the run around it has
/// just made (`const proxyReq = http.request(…); proxyReq.on('upgrade', (res, sock) => …)`):
/// a request emits 'response', 'upgrade', 'socket' and 'connect' at most once, so the handler
/// runs once per run of the code that made the request — it repeats nothing of its own.
pub(super) fn one_shot_of_fresh_request(ctx: &FileCtx, scope: ScopeId) -> bool {
    let facts = ctx.facts;
    let ScopeKind::Callback(r) = &facts.scopes[scope].kind else {
        return false;
    };
    if r.kind != CallbackKind::EventHandler
        || !matches!(
            r.event.as_deref(),
            Some("response" | "upgrade" | "socket" | "connect")
        )
    {
        return false;
    }
    let Some(Place::Binding(b)) = r.target.as_ref().map(|t| facts.resolve(t)) else {
        return false;
    };
    let binding = &facts.bindings[b];
    let parent = facts.scopes[scope].parent;
    if binding.kind != crate::facts::BindingKind::Var
        || facts.is_module_binding(b)
        || parent.is_none_or(|p| !facts.is_within(p, binding.scope))
    {
        return false;
    }
    // Declared from a request call: `= http.request(…)`, `= (ssl ? https : http).request(…)`,
    // `= https.get(…)`, on the declaration's line.
    let src = ctx.source;
    let rest = src.get(binding.span.end..).unwrap_or("");
    let line = rest.split('\n').next().unwrap_or("").trim_start();
    line.starts_with('=')
        && (line.contains(".request(") || line.contains("http.get(") || line.contains("https.get("))
}

/// The registration `e` on a pooled socket (see [`pooled_socket`]) happens only while the
/// socket is connecting (`if (socket.connecting) …`) or after a return on a socket that is not
/// connecting, between the `'socket'` handler and the registration: a socket still connecting
/// is a new one. A null check (`if (req.socket) …`) says nothing about which socket it is.
pub(super) fn pooled_guarded(facts: &FileFacts, e: &Event, handler: ScopeId) -> bool {
    matches!(&e.kind, EventKind::Listen(l) if l.while_connecting)
        || facts
            .ancestors(e.scope)
            .take_while(|&s| Some(s) != facts.scopes[handler].parent)
            .any(|s| {
                facts.scopes[s]
                    .early_return_guards
                    .iter()
                    .any(|g| g.contains("connecting"))
            })
}

/// The handler scope when `target` is a socket that a keep-alive connection shares between
/// requests: the socket a client request's `'socket'` event hands over (`req.on('socket',
/// (socket) => …)`: the handler's first parameter), or the `.socket` / `.connection` of a
/// request or response a handler is given (a route handler's `req`/`res`, a `'request'` or
/// `'response'` event's argument) — one socket serves many requests, so per-request
/// listeners on it pile up.
pub(super) fn pooled_socket(facts: &FileFacts, target: &Place) -> Option<ScopeId> {
    if let Some(h) = request_socket(facts, target) {
        return Some(h);
    }
    let Place::Binding(b) = target else {
        return None;
    };
    // `const socket = req.connection`: a local that only ever holds a request's socket.
    let binding = &facts.bindings[*b];
    if binding.kind == crate::facts::BindingKind::Var {
        let mut sources =
            facts
                .events_within(binding.scope)
                .filter_map(|i| match &facts.events[i].kind {
                    EventKind::Flow { from, to } if facts.resolve(to) == *target => {
                        Some(request_socket(facts, &facts.resolve(from)))
                    }
                    _ => None,
                });
        if let Some(Some(h)) = sources.next()
            && sources.all(|s| s.is_some())
        {
            return Some(h);
        }
    }
    let binding = &facts.bindings[*b];
    if binding.kind != crate::facts::BindingKind::Param {
        return None;
    }
    let sc = &facts.scopes[binding.scope];
    match &sc.kind {
        ScopeKind::Callback(r)
            if r.event.as_deref() == Some("socket")
                && matches!(r.method.as_str(), "on" | "once" | "addListener")
                && sc.params.first() == Some(&binding.name) =>
        {
            Some(binding.scope)
        }
        _ => None,
    }
}

/// `req.socket` / `req.connection` of a request or response handed to a handler (see
/// [`request_param`]): the handler's scope.
pub(super) fn request_socket(facts: &FileFacts, place: &Place) -> Option<ScopeId> {
    match place {
        Place::Member { base, name } if matches!(name.as_str(), "socket" | "connection") => {
            match &**base {
                Place::Binding(b) => request_param(facts, *b),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The handler scope when binding `b` is a request or response handed to a handler: a
/// parameter of a route handler, or of a `'request'`/`'response'` event handler.
pub(super) fn request_param(facts: &FileFacts, b: crate::facts::BindingId) -> Option<ScopeId> {
    let binding = &facts.bindings[b];
    if binding.kind != crate::facts::BindingKind::Param {
        return None;
    }
    let ScopeKind::Callback(r) = &facts.scopes[binding.scope].kind else {
        return request_by_name(facts, b);
    };
    if r.kind == CallbackKind::Other
        && let Some(h) = request_by_name(facts, b)
    {
        return Some(h);
    }
    let request = match r.kind {
        CallbackKind::Route => true,
        CallbackKind::EventHandler | CallbackKind::OnceHandler => {
            matches!(r.event.as_deref(), Some("request" | "response"))
        }
        _ => false,
    };
    request.then_some(binding.scope)
}

/// Binding `b` is a function's request by Node's convention: its first parameter named `req`
/// or `request`, or a `res`/`response` right after one (`function send(req, path, fn)`,
/// Connect middleware `(req, res, next)`). The function's scope.
pub(super) fn request_by_name(facts: &FileFacts, b: crate::facts::BindingId) -> Option<ScopeId> {
    let binding = &facts.bindings[b];
    if binding.kind != crate::facts::BindingKind::Param {
        return None;
    }
    let params = &facts.scopes[binding.scope].params;
    let is_req = |p: &String| matches!(p.as_str(), "req" | "request");
    let named = match params.iter().position(|p| *p == binding.name)? {
        0 => is_req(&binding.name),
        1 => is_req(&params[0]) && matches!(binding.name.as_str(), "res" | "response"),
        _ => false,
    };
    named.then_some(binding.scope)
}

/// `req.socket.server` / `req.connection.server` of a request a function is given: the server
/// that accepted the connection, which lives as long as the process serves.
pub(super) fn request_server(facts: &FileFacts, place: &Place) -> Option<ScopeId> {
    let Place::Member { base, name } = place else {
        return None;
    };
    if name != "server" {
        return None;
    }
    match &**base {
        Place::Member { base, name } if matches!(name.as_str(), "socket" | "connection") => {
            match &**base {
                Place::Binding(b) => request_param(facts, *b),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A listener a function adds to its own parameter (`function catchUpgrade(server) {
/// server.on('upgrade', …) }`), judged at the function's call sites in the file: when some call
/// hands it the server a request came through (`catchUpgrade(req.connection.server)` in a
/// request handler), every request adds one more listener to that server. The call (its event
/// index), the argument as written, and the request handler around the call.
pub(super) fn param_is_request_server(
    facts: &FileFacts,
    e: &crate::facts::Event,
    target: &Place,
) -> Option<(usize, String, ScopeId)> {
    let Place::Binding(b) = target else {
        return None;
    };
    let binding = &facts.bindings[*b];
    if binding.kind != crate::facts::BindingKind::Param {
        return None;
    }
    let func = binding.scope;
    if !facts.ancestors(e.scope).any(|s| s == func) {
        return None;
    }
    let index = facts.scopes[func]
        .params
        .iter()
        .position(|p| *p == binding.name)?;
    for (i, c) in facts.events.iter().enumerate() {
        let crate::facts::EventKind::Call { callee } = &c.kind else {
            continue;
        };
        let Place::Binding(f) = facts.resolve(callee) else {
            continue;
        };
        if facts.bindings[f].kind != crate::facts::BindingKind::Function(func) {
            continue;
        }
        let arg = facts.events[i + 1..]
            .iter()
            .take_while(|a| a.span == c.span)
            .find_map(|a| match &a.kind {
                crate::facts::EventKind::Arg { index: n, place } if usize::from(*n) == index => {
                    Some(facts.resolve(place))
                }
                _ => None,
            });
        if let Some(arg) = arg
            && let Some(handler) = request_server(facts, &arg)
        {
            return Some((i, crate::rules::place_text(facts, &arg), handler));
        }
    }
    None
}

/// A field holding an object the instance made itself (`this.client = new Client()`): its
/// listeners go with the instance when registered once per instance. A method that runs per
/// call (`list() { this.client.on('error', reject) }`) or per event adds one more to the same
/// object on every run, for the instance's whole life; only a removal in that run keeps it
/// bounded. Not when the run first puts a new object in the field (`connect() { this.socket =
/// new Socket(); this.socket.on(…) }`: one listener per object), nor under a latch.
pub(super) fn owned_field_per_call(
    facts: &FileFacts,
    e: &Event,
    lifetime: Lifetime,
    target: &Place,
    desc: &str,
    rhythm: &dyn Fn(Lifetime) -> String,
) -> Option<(Owner, String, String)> {
    let Place::Field { class, name } = target else {
        return None;
    };
    // A registration API (`on(event, cb) { this.client.on(event, cb) }`): the caller chooses
    // the event and the handler, and removes it with the API's `off`.
    let EventKind::Listen(listen) = &e.kind else {
        return None;
    };
    if listen.event.is_none() || forwards_own_handler(facts, &listen.handler) {
        return None;
    }
    let owned = facts.classes[*class]
        .fields
        .iter()
        .any(|f| f.name == *name && f.origin == FieldOrigin::Owned);
    if !owned || !matches!(lifetime, Lifetime::PerCall | Lifetime::Repeated) || facts.latched(e) {
        return None;
    }
    let method = named_owner(facts, e.scope);
    let method_name = facts.scopes[method].name.as_deref()?;
    if facts.scopes[method].class != Some(*class) {
        return None;
    }
    // A teardown (`close()`), a set-up step by its name (`setupReceiveTimeout()`, `init()`),
    // or a step the class itself calls only while it starts (`self.acceptLoop()` once
    // `open()`'s handshake succeeds, from the constructor): each runs once per instance — not
    // once per call of the object's users. A method the class also calls from its other
    // operations (`rmdir()` calling `this.list()`) still runs per call.
    let first = crate::facts::words(method_name).next().unwrap_or_default();
    let mut calls = facts.method_calls(*class, method_name, false).peekable();
    let called_by_class = calls.peek().is_some()
        && calls.all(|c| {
            facts.enclosing_method(c.scope).is_some_and(|m| {
                let sc = &facts.scopes[m];
                matches!(
                    sc.kind,
                    ScopeKind::Method {
                        constructor: true,
                        ..
                    }
                ) || sc.name.as_deref().is_some_and(|n| {
                    let w = crate::facts::words(n).next().unwrap_or_default();
                    matches!(
                        w.as_str(),
                        "connect" | "open" | "start" | "listen" | "init" | "initialize" | "setup"
                    )
                })
            })
        });
    if crate::facts::ends_a_life(method_name)
        || matches!(
            first.as_str(),
            "setup" | "set" | "init" | "initialize" | "configure" | "install"
        )
        || called_by_class
    {
        return None;
    }
    // The instance's one object: filled only by the constructor. A field that a method fills
    // (`connect() { this.socket = net.connect(…) }`) holds one object per run of that method.
    let refilled = facts.events_on(target).any(|x| {
        matches!(x.kind, EventKind::New { .. } | EventKind::Shrink { .. })
            && !matches!(
                facts.scopes[named_owner(facts, x.scope)].kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            )
    });
    if refilled {
        return None;
    }
    Some((
        Owner::Scope(method),
        rhythm(lifetime),
        format!("{desc}, an object the instance keeps for its whole life"),
    ))
}

/// The function that registers removes itself as a handler (`const onErr = () => {
/// stdout.off('error', onErr); stdout.on('error', ignore); }`): a hand-written `once`, it runs
/// at most once per registration of it, and so does what it registers — judged where it is
/// itself registered.
pub(super) fn in_self_removing_handler(facts: &FileFacts, e: &Event) -> bool {
    let f = named_owner(facts, e.scope);
    let Some(name) = facts.scopes[f].name.as_deref() else {
        return false;
    };
    facts.events.iter().any(|r| {
        matches!(&r.kind, EventKind::Unlisten(u)
            if matches!(&u.handler, crate::facts::Handler::Named(PlaceRef::Name { name: n, .. }) if n == name))
            && named_owner(facts, r.scope) == f
    })
}

/// Where a registration happens: its file, the event, how often it runs, the class whose
/// method holds it, and whether it sits in a loop that repeats.
pub(super) struct Registration<'a> {
    pub(super) ctx: &'a FileCtx<'a>,
    pub(super) e: &'a Event,
    pub(super) lifetime: Lifetime,
    pub(super) class: Option<crate::facts::ClassId>,
    pub(super) in_loop: bool,
}

/// How often the registration `e` runs, as the message says it.
pub(super) fn rhythm_of(facts: &FileFacts, e: &Event, l: Lifetime) -> String {
    match l {
        Lifetime::Repeated => repeated_rhythm(facts, e),
        Lifetime::PerInstance => "once per instance".into(),
        Lifetime::PerCall => format!(
            "on every call of {}",
            describe_scope(facts, named_owner(facts, e.scope))
        ),
        Lifetime::Unknown => format!(
            "on every call of {}, which nothing shows runs only once",
            describe_scope(facts, named_owner(facts, e.scope))
        ),
        _ => "more than once".into(),
    }
}

/// A target rooted in a long-lived object (`root`: a global, a module-level binding, an
/// injected field) registered on more than once: who must remove it, how often it runs, and
/// the target's description (`desc`, completed with what kind of object it is).
pub(super) fn judge_long_lived(
    reg: &Registration,
    constructions: &Constructions,
    root: &Place,
    desc: &str,
) -> Option<(Owner, String, String)> {
    let Registration {
        ctx,
        e,
        lifetime,
        class,
        in_loop,
    } = *reg;
    let facts = ctx.facts;
    if !matches!(
        lifetime,
        Lifetime::Repeated | Lifetime::PerInstance | Lifetime::PerCall | Lifetime::Unknown
    ) {
        return None;
    }
    // Handed in, but closed by the class's own teardown (`close() { this.client.close() }`):
    // the class took ownership, and the object's listeners go when it does. Only a
    // registration that repeats within the instance's life (per event, per tick, in a
    // loop) still piles up on it.
    if let Place::Field { class: c, .. } = root
        && lifetime != Lifetime::Repeated
        && released_by_teardown(ctx, *c, root)
    {
        return None;
    }
    let kind = match root {
        Place::Global(_) => "a global object".to_string(),
        // Handed in through the constructor; shared when some construction site says so.
        Place::Field { class: c, name } => {
            let why = facts.classes[*c].name.as_deref().and_then(|cname| {
                let index = injected_field_param(facts, *c, name)?;
                constructions.shared_param_unless(
                    cname,
                    index,
                    &super::constructions::guard_params(facts, e, *c),
                )
            });
            match why {
                Some(why) => format!("an injected object (shared: {why})"),
                // Once per instance, like a registration in the constructor itself (a
                // method only ever called on a fresh instance): the instance's own object
                // unless some construction site hands it something shared.
                None if lifetime == Lifetime::PerInstance => return None,
                None => "an injected object, handed in through the constructor".to_string(),
            }
        }
        _ => "a module-level object".to_string(),
    };
    let owner = match class {
        Some(c) if !in_loop => Owner::Class(c),
        _ => Owner::Scope(outer_owner(facts, e.scope)),
    };
    Some((
        owner,
        rhythm_of(facts, e, lifetime),
        format!("{desc}, {kind}"),
    ))
}

/// An outer-scope object (a binding, not a member of one: `conn.stream` may be a
/// per-connection part of it) registered on from a repeated scope or a constructor.
pub(super) fn judge_outer_binding(
    reg: &Registration,
    target: &Place,
    desc: &str,
) -> Option<(Owner, String, String)> {
    let Registration {
        ctx,
        e,
        class,
        in_loop,
        ..
    } = *reg;
    let facts = ctx.facts;
    let Place::Binding(b) = target else {
        return None;
    };
    let bscope = facts.bindings[*b].scope;
    let is_param = facts.bindings[*b].kind == crate::facts::BindingKind::Param;
    let boundary = if in_loop {
        Some(e.scope)
    } else {
        facts.ancestors(e.scope).find(|&s| {
            let sc = &facts.scopes[s];
            sc.in_loop
                || matches!(
                    sc.kind,
                    ScopeKind::Method {
                        constructor: true,
                        ..
                    }
                )
                || (matches!(&sc.kind, ScopeKind::Callback(r) if r.kind.repeats())
                    && !one_shot_of_fresh_request(ctx, s))
        })
    }?;
    let outside = if in_loop {
        // Declared outside the loop: in an outer scope, or in this scope but not inside the
        // loop (a loop variable is a new object each iteration).
        let bspan = &facts.bindings[*b].span;
        let in_loop = e
            .loop_span
            .as_ref()
            .is_some_and(|l| l.start <= bspan.start && bspan.end <= l.end);
        facts.is_within(e.scope, bscope) && !(bscope == e.scope && in_loop)
    } else {
        let ctor_param = is_param
            && bscope == boundary
            && matches!(
                facts.scopes[boundary].kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            );
        ctor_param || (bscope != boundary && facts.is_within(boundary, bscope))
    };
    if !outside
        || fresh_in_run(facts, e, *b, boundary, in_loop)
        || moves_on_each_iteration(ctx, e, *b, in_loop)
        || connection_phase_of_fresh_socket(facts, boundary, *b)
        || released_on_every_path(facts, *b)
    {
        return None;
    }
    let owner = match class {
        Some(c)
            if matches!(
                facts.scopes[boundary].kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            ) =>
        {
            Owner::Class(c)
        }
        _ => Owner::Scope(boundary),
    };
    let l = if in_loop {
        Lifetime::Repeated
    } else {
        facts.lifetime(boundary)
    };
    Some((
        owner,
        rhythm_of(facts, e, l),
        format!("{desc}, declared outside it"),
    ))
}
