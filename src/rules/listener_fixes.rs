//! Fixes for listeners added to something that outlives the code that adds them: a class's
//! registration is removed in the class's teardown (through a field, naming an inline handler
//! first), a per-connection (per-request, per-call) scope's where that scope's life ends — its
//! connection's `close` handler.

use std::ops::Range;

use super::FileCtx;
use super::constructions::root_place;
use super::fixes::*;
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::facts::{
    BindingKind, ClassId, Event, Handler, Place, ScopeId, ScopeKind, is_close_event,
};

/// The removal method that matches registration method `method`.
pub fn removal_method(method: &str) -> Option<&'static str> {
    match method {
        "addEventListener" => Some("removeEventListener"),
        "on" | "addListener" | "prependListener" => Some("off"),
        _ => None,
    }
}

/// A registration's event as a fix writes it: a literal name (`'ready'`, `'job.done'`), or a
/// constant path written as is (`rhea.SessionEvents.sessionError`, see [`EventArg::constant`]).
#[derive(Clone, Copy)]
pub enum EventArg<'a> {
    Literal(&'a str),
    Constant(&'a str),
}

impl<'a> EventArg<'a> {
    /// The event argument of a registration whose event is not a string literal, when it is a
    /// constant path (`Events.MESSAGE`): the text between the call's `(` and the handler at
    /// `handler_start`, without the comma. `None` for a plain name (a variable, perhaps a
    /// loop's) or anything else.
    pub fn constant(src: &'a str, e: &Event, handler_start: usize) -> Option<Self> {
        let head = src.get(e.span.start..handler_start)?;
        let arg = head[head.find('(')? + 1..]
            .trim_end()
            .strip_suffix(',')?
            .trim();
        let mut parts = arg.split('.');
        let dotted = parts.clone().count() >= 2 && parts.all(is_identifier);
        dotted.then_some(EventArg::Constant(arg))
    }

    /// As code: `'ready'`, `Events.MESSAGE`.
    fn code(self) -> String {
        match self {
            EventArg::Literal(ev) => format!("'{ev}'"),
            EventArg::Constant(c) => c.to_string(),
        }
    }

    /// A word for a handler's name: the event, or the constant's last segment.
    fn word(self) -> &'a str {
        match self {
            EventArg::Literal(ev) => ev,
            EventArg::Constant(c) => c.rsplit('.').next().unwrap_or(c),
        }
    }
}

/// A plain JavaScript identifier.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// What every scope fix needs to know about the registration `target.method('event', handler)`.
pub struct Registration<'a> {
    /// The receiver as written; empty for a bare global call (`addEventListener(…)`).
    pub target: &'a str,
    pub method: &'a str,
    pub event: &'a str,
    pub handler: &'a Handler,
    pub handler_span: &'a Range<usize>,
}

impl Registration<'_> {
    /// `target.remove`, or `remove` alone for a bare global registration.
    pub fn removal(&self, remove: &str) -> String {
        if self.target.is_empty() {
            remove.to_string()
        } else {
            format!("{}.{remove}", self.target)
        }
    }
}

/// A listener `e` added in scope `owner` — a callback run per connection or per request, or a
/// function that may run any number of times — and removed nowhere in it:
/// - added directly in `owner`: removed in the connection's close handler inside `owner`
///   (`ws.on('close', () => { … })`), or in a new one on the callback's first parameter when
///   `owner` is a `connection` handler; failing that, in a plain function that returns nothing,
///   by an unsubscribe it now returns;
/// - added in a handler nested in `owner` (once per message of the connection): the previous
///   listener is replaced, and the last one removed where the owner's life ends.
///
/// An inline handler is named first (`const onTyping = …;`) so the removal matches it. Unsafe:
/// the listener now goes away with the connection (or when the caller unsubscribes).
#[allow(clippy::too_many_arguments)]
pub fn ts_scope_fix(
    ctx: &FileCtx,
    e: &Event,
    owner: ScopeId,
    target: &str,
    method: &str,
    event: &str,
    handler: &Handler,
    handler_span: &Range<usize>,
) -> Option<Fix> {
    let src = ctx.source;
    let stmt = src.get(e.stmt.clone())?;
    // `addEventListener('message', …)` in a browser script: the window's, removed the same way.
    let bare = matches!(target, "window" | "self" | "globalThis")
        && stmt.starts_with(&format!("{method}("));
    let r = Registration {
        target: if bare { "" } else { target },
        method,
        event,
        handler,
        handler_span,
    };
    // `target.on('event', handler);` as a statement of its own, on a target the close handler
    // sees as it is (no `this`, which a `function` handler would rebind).
    if !(bare || stmt.starts_with(&format!("{target}.")))
        || target.starts_with("this")
        || !(e.stmt.start <= handler_span.start && handler_span.end <= e.stmt.end)
    {
        return None;
    }
    if e.scope != owner {
        if bare {
            return None;
        }
        return super::listener_scopes::nested_handler_fix(ctx, e, owner, &r)
            .or_else(|| super::listener_scopes::pooled_socket_fix(ctx, e, &r));
    }
    // In a loop, a name given to the handler there is out of the close handler's reach, and
    // one removal would not match the other iterations' listeners: `listener_loops` does it.
    if e.in_loop {
        return None;
    }
    direct_fix(ctx, e, owner, &r)
        .or_else(|| super::listener_scopes::unsubscribe_fix(ctx, e, owner, &r))
        .or_else(|| (!bare).then(|| super::listener_scopes::pooled_socket_fix(ctx, e, &r))?)
}

/// The handler's name, and the edits that name an inline one with a `const` before the
/// registration statement.
pub fn named_handler(ctx: &FileCtx, e: &Event, r: &Registration) -> Option<(String, Vec<Edit>)> {
    let facts = ctx.facts;
    let src = ctx.source;
    match r.handler {
        Handler::Named(_) => {
            let h = src.get(r.handler_span.clone())?;
            is_identifier(h).then(|| (h.to_string(), Vec::new()))
        }
        Handler::Inline(_) | Handler::Bound => {
            let name = unique_name(&camel(&["on", r.event]), |n| name_in_use(facts, src, n));
            let text = src.get(r.handler_span.clone())?;
            let named = insert_before_statement(
                src,
                e.stmt.start,
                // The handler's parameters were typed by the registration's overload; as a
                // `const` of its own it takes any listener's arguments.
                &[if is_typescript(ctx.path) {
                    format!("const {name}: (...args: any[]) => void = {text};")
                } else {
                    format!("const {name} = {text};")
                }],
            );
            Some((
                name.clone(),
                vec![named, replace(r.handler_span.clone(), name)],
            ))
        }
        Handler::Other => None,
    }
}

/// Added directly in `owner`: removed where `owner`'s connection ends.
fn direct_fix(ctx: &FileCtx, e: &Event, owner: ScopeId, r: &Registration) -> Option<Fix> {
    let remove = removal_method(r.method)?;
    let (name, mut edits) = named_handler(ctx, e, r)?;
    let line = format!("{}('{}', {name});", r.removal(remove), r.event);
    let (edit, where_) = at_owner_end(ctx, owner, &line)?;
    edits.push(edit);
    Some(fix(
        format!("remove the '{}' listener `{name}` {where_}", r.event),
        Applicability::Unsafe,
        edits,
    ))
}

/// The close handler of a connection registered directly in `owner` (`conn.on('close', () =>
/// { … })`, also 'end', 'disconnect', 'finish'), with a block body: where `owner`'s
/// per-connection life ends. Not a process signal or exit handler.
pub fn close_handler(facts: &crate::facts::FileFacts, owner: ScopeId) -> Option<ScopeId> {
    facts.scopes.iter().position(|s| {
        s.parent == Some(owner)
            && s.body.is_some()
            && matches!(&s.kind, ScopeKind::Callback(r)
                if matches!(r.method.as_str(), "on" | "once" | "addListener" | "addEventListener")
                    && r.event.as_deref().is_some_and(is_close_event)
                    && !matches!(r.event.as_deref(), Some("SIGTERM" | "SIGINT" | "SIGHUP" | "exit" | "beforeExit")))
    })
}

/// An edit that runs `line` where the life of `owner` — a per-connection callback — ends: in
/// the connection's close handler registered directly in it, or in a new one on its first
/// parameter when it is a `connection` handler (on its response, the second parameter, when
/// it is a `request` handler); and where that is, for the title.
pub fn at_owner_end(ctx: &FileCtx, owner: ScopeId, line: &str) -> Option<(Edit, String)> {
    let facts = ctx.facts;
    let src = ctx.source;
    let unit = indent_unit(src, 2);
    if let Some(c) = close_handler(facts, owner) {
        let s = &facts.scopes[c];
        let body = s.body.clone()?;
        let ev = match &s.kind {
            ScopeKind::Callback(r) => r.event.clone().unwrap_or_default(),
            _ => String::new(),
        };
        return Some((
            append_to_body(facts, src, c, &body, &[line.to_string()], &unit)?,
            format!("in the '{ev}' handler"),
        ));
    }
    // A `connection` handler: the connection is its first parameter. A `request` handler
    // (`(req, res) => …`): the request ends when its response closes.
    let o = &facts.scopes[owner];
    let ScopeKind::Callback(r) = &o.kind else {
        return None;
    };
    let (conn, ev) = match r.event.as_deref() {
        // socket.io sockets end with 'disconnect'; `ws`/`net` sockets with 'close'.
        Some("connection") => (
            o.params.first(),
            if src.contains("socket.io") {
                "disconnect"
            } else {
                "close"
            },
        ),
        Some("request") if o.params.len() >= 2 => (o.params.get(1), "close"),
        _ => return None,
    };
    let conn = conn.filter(|p| is_identifier(p))?;
    let body = o.body.clone()?;
    let call = line.trim_end_matches(';');
    // An `if` needs a block body; a call is the arrow's expression.
    let handler = if call.starts_with("if ") {
        format!("{{ {call}; }}")
    } else {
        call.to_string()
    };
    Some((
        append_to_block(
            src,
            &body,
            &[format!("{conn}.on('{ev}', () => {handler});")],
            &unit,
        )?,
        format!("when `{conn}` emits '{ev}'"),
    ))
}

/// A listener registered by a class on something that outlives it: keep the handler in a
/// field (`this.onAudio = …`), register the field, and remove it in the class's teardown
/// (`close()`, or a new `dispose()`) — chosen by [`cleanup_in_class`], which only takes a
/// method that ends the instance's life. Unsafe: the listener now goes away with the instance.
#[allow(clippy::too_many_arguments)]
pub fn ts_class_fix(
    ctx: &FileCtx,
    e: &Event,
    class: ClassId,
    target: &Place,
    method: &str,
    event: EventArg,
    handler: &Handler,
    handler_span: &Range<usize>,
) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let event_code = event.code();
    let stmt = src.get(e.stmt.clone())?;
    // How the registration names the target, and how the teardown reaches it.
    // Reached through a field set in the same `.then` callback, after the registration: the
    // registration stays as it is, and the teardown checks the field is set.
    let late = super::listener_then::then_field(ctx, e, class, target);
    let (registered, torn_down) = match &late {
        Some(f) => (super::place_text(facts, target), format!("this.{f}")),
        None => teardown_target(ctx, e, class, target)?,
    };
    let guard = if late.is_some() {
        format!(" && {torn_down}")
    } else {
        String::new()
    };
    // `target.on('event', handler);` as a statement of its own, in a method of the class (a
    // browser script's bare `addEventListener(…)` is the window's: removed the same way).
    // `get`, not indexing: tree-sitter's error recovery can end a node inside a character.
    let bare = registered.is_empty();
    let starts = if bare {
        stmt.starts_with(&format!("{method}("))
    } else {
        stmt.starts_with(&format!("{registered}."))
    };
    if !starts
        || facts.enclosing_method(e.scope).is_none()
        || !(e.stmt.start <= handler_span.start && handler_span.end <= e.stmt.end)
    {
        return None;
    }
    let remove = removal_method(method)?;
    // `parent.on(…)` kept in `this.parent`: register through the field, as the teardown removes.
    let mut through = Vec::new();
    if !bare && registered != torn_down && late.is_none() {
        let root = torn_down.strip_suffix(
            super::place_text(facts, target)
                .strip_prefix(registered.as_str())
                .unwrap_or_default(),
        )?;
        through.push(replace(
            e.stmt.start..e.stmt.start + registered.len(),
            root.to_string(),
        ));
    }
    let removal = |h: &str| -> Option<String> {
        let options = trailing_options(src, &e.stmt, handler_span, method)?;
        let dot = if bare { "" } else { "." };
        Some(format!(
            "{torn_down}{dot}{remove}({event_code}, {h}{options})"
        ))
    };
    // A handler the teardown already reaches is removed as it is; an inline, bound or local
    // one is kept in a field first; any other named handler gets no fix.
    match handler_reach(ctx, e, handler, handler_span) {
        Reach::Unreachable => return None,
        Reach::Field => {}
        Reach::AsIs(h) => {
            let line = if late.is_some() {
                format!("if ({torn_down}) {};", removal(h)?)
            } else {
                format!("{};", removal(h)?)
            };
            let cleanup = cleanup_in_class(ctx, class, &[line])?;
            through.extend(cleanup.edits);
            return Some(fix(
                format!("remove the {event_code} listener `{h}` {}", cleanup.where_),
                Applicability::Unsafe,
                through,
            ));
        }
    }
    let field = unique_name(&camel(&["on", event.word()]), |n| {
        facts.classes[class].fields.iter().any(|f| f.name == n) || facts.has_word(src, n)
    });
    let handler_text = src.get(handler_span.clone())?;
    let cleanup = cleanup_in_class(
        ctx,
        class,
        &[format!(
            "if (this.{field}{guard}) {};",
            removal(&format!("this.{field}"))?
        )],
    )?;
    // Registered more than once in the instance's life (per call of a method, per event): the
    // field holds one handler, so the previous one is removed before it is replaced — or the
    // teardown would remove only the last.
    let mut lines = Vec::new();
    if super::runs_again(facts, e) {
        lines.push(format!(
            "if (this.{field}) {};",
            removal(&format!("this.{field}"))?
        ));
    }
    lines.push(format!("this.{field} = {handler_text};"));
    let mut named = insert_before_statement(src, e.stmt.start, &lines);
    // One edit where the statement starts: the new line, then the field it registers through.
    if let Some(t) = through.pop() {
        named.content.push_str(&t.content);
        named.range = t.range;
    }
    let mut edits = vec![
        named,
        replace(handler_span.clone(), format!("this.{field}")),
    ];
    // The handler's own parameter types stay on the arrow; the field takes any listener.
    edits.extend(private_field(
        ctx,
        class,
        &format!("{field}?: (...args: any[]) => void"),
    )?);
    edits.extend(cleanup.edits);
    Some(fix(
        format!(
            "keep the {event_code} handler in `this.{field}` and remove it {}",
            cleanup.where_
        ),
        Applicability::Unsafe,
        edits,
    ))
}

/// How a class fix gets at a registration's handler.
enum Reach<'a> {
    /// The teardown reaches it as it is: a field (`this.onData`), a module-level function.
    AsIs(&'a str),
    /// Named, but nothing outside the registering code reaches it (a parameter's member…).
    Unreachable,
    /// Kept in a new field first: inline, `.bind(this)`, or a local of the registering code
    /// (`const quit = …; process.on('SIGTERM', quit)`).
    Field,
}

fn handler_reach<'a>(
    ctx: &FileCtx<'a>,
    e: &Event,
    handler: &Handler,
    handler_span: &Range<usize>,
) -> Reach<'a> {
    let facts = ctx.facts;
    let h = match handler {
        Handler::Named(_) => match ctx.source.get(handler_span.clone()) {
            Some(h) => h,
            None => return Reach::Unreachable,
        },
        Handler::Inline(_) | Handler::Bound => return Reach::Field,
        _ => return Reach::Unreachable,
    };
    let binding = is_identifier(h).then(|| facts.lookup(h, e.scope)).flatten();
    if h.strip_prefix("this.").is_some_and(is_identifier)
        || binding.is_some_and(|b| facts.is_module_binding(b))
    {
        Reach::AsIs(h)
    } else if binding.is_some() {
        Reach::Field
    } else {
        Reach::Unreachable
    }
}

/// How the registration names `target` and how a teardown method of `class` reaches it: as it
/// is when it is a field, `this`, a global or module-level (`("", "")` for a browser script's
/// bare `addEventListener`, the window's); `parent` → `this.parent` when the constructor that
/// registers on its parameter also keeps it in a field (`this.parent = parent`). `None` when
/// no teardown can reach it (a local, a callback's parameter).
fn teardown_target(
    ctx: &FileCtx,
    e: &Event,
    class: ClassId,
    target: &Place,
) -> Option<(String, String)> {
    let facts = ctx.facts;
    let t = super::place_text(facts, target);
    let stmt = src_stmt(ctx, e)?;
    match root_place(target) {
        Place::Global(_) if !stmt.starts_with(&format!("{t}.")) => {
            Some((String::new(), String::new()))
        }
        Place::Field { .. } | Place::This(_) | Place::Global(_) => Some((t.clone(), t)),
        Place::Binding(b) if facts.is_module_binding(*b) => Some((t.clone(), t)),
        Place::Binding(b) => {
            // A parameter of the constructor that registers, kept in a field of the instance.
            let binding = &facts.bindings[*b];
            let ctor = &facts.scopes[binding.scope];
            if binding.kind != BindingKind::Param
                || ctor.class != Some(class)
                || !matches!(
                    ctor.kind,
                    ScopeKind::Method {
                        constructor: true,
                        ..
                    }
                )
                || facts.enclosing_method(e.scope) != Some(binding.scope)
            {
                return None;
            }
            let field = kept_in_field(facts, class, binding.scope, *b, e.stmt.start)?;
            let rest = t.strip_prefix(binding.name.as_str())?;
            Some((
                binding.name.clone(),
                format!("{}{rest}", super::member("this", &field)),
            ))
        }
        _ => None,
    }
}

/// The field of `class` that constructor `ctor` sets to its parameter `param` itself
/// (`this.parent = parent`, not `= parent.bus`), before offset `before`, and that nothing else
/// assigns: the registration can go through it, and in a teardown it still holds the object
/// the constructor registered on.
fn kept_in_field(
    facts: &crate::facts::FileFacts,
    class: ClassId,
    ctor: ScopeId,
    param: crate::facts::BindingId,
    before: usize,
) -> Option<String> {
    let assignments = |name: &str| {
        let field = Place::Field {
            class,
            name: name.to_string(),
        };
        facts
            .events
            .iter()
            .filter(move |f| matches!(&f.kind, crate::facts::EventKind::Flow { to, .. } if facts.resolve(to) == field))
    };
    facts.classes[class]
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|name| is_identifier(name))
        .find(|name| {
            assignments(name).any(|f| f.span.end <= before)
                && assignments(name).all(|f| {
                    matches!(&f.kind, crate::facts::EventKind::Flow { from, .. }
                        if facts.resolve(from) == Place::Binding(param))
                        && facts.enclosing_method(f.scope) == Some(ctor)
                })
        })
        .map(str::to_string)
}

fn src_stmt<'a>(ctx: &FileCtx<'a>, e: &Event) -> Option<&'a str> {
    ctx.source.get(e.stmt.clone())
}

/// The arguments after the handler that a removal must repeat: `addEventListener`'s capture
/// flag or options (`, true`, `, { capture: true }`; a plain `false` is the default and is
/// dropped). Empty for emitters. `None` when they cannot be read (a comment among them).
fn trailing_options(
    src: &str,
    stmt: &Range<usize>,
    handler_span: &Range<usize>,
    method: &str,
) -> Option<String> {
    if method != "addEventListener" {
        return Some(String::new());
    }
    let text = src.get(stmt.clone())?.trim_end();
    let text = text.strip_suffix(';').unwrap_or(text).trim_end();
    let close = stmt.start + text.strip_suffix(')')?.len();
    let rest = src.get(handler_span.end..close)?;
    if rest.contains("//") || rest.contains("/*") {
        return None;
    }
    let rest = rest.trim().trim_matches(',').trim();
    Some(if rest.is_empty() || rest == "false" {
        String::new()
    } else {
        format!(", {rest}")
    })
}

/// Replace, don't add: a named handler with the same identity on every run (a module-level or
/// outer function, `this.onX`), registered again on each run of a repeating scope on a target
/// that outlives it: removing it right before adding it keeps one listener however often the
/// code runs (`shared.off('ping', onping); shared.on('ping', onping);`). Unsafe: a listener of
/// that handler added elsewhere on purpose goes too. `None` for a handler made per run (a new
/// closure each time, which no removal could match).
pub fn replace_not_add(
    ctx: &FileCtx,
    e: &Event,
    target: &str,
    method: &str,
    event: Option<&str>,
    handler: &Handler,
    handler_span: &Range<usize>,
) -> Option<Fix> {
    let facts = ctx.facts;
    let src = ctx.source;
    let remove = removal_method(method)?;
    let event = event?;
    let Handler::Named(p) = handler else {
        return None;
    };
    let stable = match facts.resolve(p) {
        Place::Binding(b) => {
            let home = facts.bindings[b].scope;
            home != e.scope && facts.is_within(e.scope, home)
        }
        Place::Field { .. } => true,
        _ => false,
    };
    let h = src.get(handler_span.clone())?;
    let named = is_identifier(h) || h.strip_prefix("this.").is_some_and(is_identifier);
    if !stable || !named || target.is_empty() || e.in_loop {
        return None;
    }
    let stmt = src.get(e.stmt.clone())?;
    let standalone =
        line_indent(src, e.stmt.start).len() + line_start(src, e.stmt.start) == e.stmt.start;
    if !standalone || !stmt.starts_with(&format!("{target}.")) {
        return None;
    }
    let line = format!("{target}.{remove}('{event}', {h});");
    Some(fix(
        format!(
            "remove `{h}` from `{target}` before adding it again, so each run keeps one '{event}' listener"
        ),
        Applicability::Unsafe,
        vec![insert_before_statement(src, e.stmt.start, &[line])],
    ))
}
