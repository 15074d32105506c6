//! unremoved-listener: a listener added to a target that outlives the registering scope
//! (per connection, per request, per instance, per iteration) and never removed in that
//! scope's teardown, so listeners — and everything their closures hold — pile up.

use super::listener_fixes::EventArg;
use super::*;
use crate::facts::{CallbackKind, Event, FieldOrigin, Handler};

pub struct UnremovedListener;

static META: RuleMeta = RuleMeta {
    id: "unremoved-listener",
    summary: "Listeners on longer-lived targets that the registering scope never removes",
    severity: Severity::Error,
    languages: ALL_LANGUAGES,
    // Rust registries are judged against the whole workspace (who holds the struct in an
    // `Arc`, who ever removes from the registry); TypeScript files are judged one by one.
    scope: RuleScope::Project,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

use super::listener_targets::{
    Registration, in_self_removing_handler, judge_long_lived, judge_outer_binding,
    owned_field_per_call, param_is_request_server, request_server, rhythm_of,
};
pub(super) use super::listener_targets::{pooled_guarded, pooled_socket};

use super::constructions::{Constructions, GLOBALS, constructor_param, root_place};

/// Who must remove the listener.
pub(super) enum Owner {
    /// A class: a teardown method (or close handler) of it.
    Class(crate::facts::ClassId),
    /// A scope: anywhere inside it (its close handler, a returned unsubscribe, …).
    Scope(ScopeId),
}

impl Rule for UnremovedListener {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Registrations (TypeScript) and registry growth (Rust).
    fn reports_from(&self, e: &Event) -> bool {
        matches!(e.kind, EventKind::Listen(_) | EventKind::Grow { .. })
    }

    fn check_project_file(
        &self,
        ctx: &ProjectCtx,
        file: &ProjectFile,
        facts: &FileFacts,
        src: &crate::source::SourceFile,
    ) -> Vec<Diagnostic> {
        if facts.is_rust {
            return check_rust_registries(ctx, file, facts, &src.text);
        }
        check_ts(
            &FileCtx {
                path: &file.path,
                source: &src.text,
                facts,
                options: ctx.options,
                is_test: file.is_test,
                deadline: None,
            },
            ctx.constructions(),
            ctx.summaries(),
        )
    }
}

/// Methods that add a subscriber: `subscribe`, `on_event`, `add_listener`, `register`, `watch`.
pub(super) fn is_subscribe_name(name: &str) -> bool {
    crate::facts::words(name).any(|w| {
        matches!(
            w.as_str(),
            "subscribe"
                | "on"
                | "listen"
                | "listener"
                | "register"
                | "watch"
                | "handler"
                | "callback"
                | "attach"
                | "observe"
        )
    })
}

/// Rust: a callback/subscriber registry on a long-lived value that grows in a subscribe-like
/// method and that nothing in the workspace ever removes from.
fn check_rust_registries(
    ctx: &ProjectCtx,
    file: &ProjectFile,
    facts: &FileFacts,
    src: &str,
) -> Vec<Diagnostic> {
    let long_lived = ctx.long_lived_types();
    let mut out = Vec::new();
    for e in &facts.events {
        let EventKind::Grow { place } = &e.kind else {
            continue;
        };
        let place = facts.resolve(place);
        // The registry: a field of a long-lived struct, or a static.
        let (name, ty, owner) = match &place {
            Place::Field { class, name } => {
                let c = &facts.classes[*class];
                let Some(cname) = c.name.as_deref() else {
                    continue;
                };
                let Some(ty) = c
                    .fields
                    .iter()
                    .find(|f| f.name == *name)
                    .and_then(|f| f.ty.clone())
                else {
                    continue;
                };
                if !long_lived.contains(cname) {
                    continue;
                }
                (name.clone(), ty, format!("`{cname}`"))
            }
            // A static registry lives for the process.
            Place::Binding(b) if facts.is_module_binding(*b) => {
                let binding = &facts.bindings[*b];
                let Some(ty) = binding.ty.clone() else {
                    continue;
                };
                (binding.name.clone(), ty, "a `static`".to_string())
            }
            _ => continue,
        };
        // Keyed by names the program spells out, a registry replaces an entry rather than
        // adding one: bounded by the program.
        if !crate::facts::is_registry_type(&ty)
            || !crate::facts::is_interior_mutable(&ty)
            || crate::facts::keyed_by_static_names(&ty)
        {
            continue;
        }
        let method = named_owner(facts, e.scope);
        let Some(mname) = facts.scopes[method].name.as_deref() else {
            continue;
        };
        if !is_subscribe_name(mname) {
            continue;
        }
        if rust_field_ever_shrinks(ctx, &name) {
            continue;
        }
        out.push(
            META.report(file.path.clone(),
                e.span.clone(),
                format!(
                    "`{mname}()` adds a subscriber to `{name}` of {owner}, which lives for the whole \
                     process, and nothing anywhere removes subscribers from it (no `remove`, \
                     `retain`, `clear`, `drain`): every subscription — and everything its callback \
                     captures — stays forever"
                ),
            )
            .with_help(
                "return a guard from the subscribe method whose `Drop` removes the entry (e.g. by id \
                 with `retain`), or prune closed senders (`retain(|tx| !tx.is_closed())`) when \
                 publishing",
            )
            .with_fixes(
                prune_closed_senders_fix(src, e, &ty)
                    .or_else(|| clear_on_teardown_fix(facts, src, e, &place, &name, mname)),
            ),
        );
    }
    out
}

/// A registry of callbacks on a struct: drop them all in the struct's own teardown method
/// (`close`, `end`, `shutdown`, … — the owner's life is over, so are its subscriptions), or,
/// when it has none, a new `close()` that does (see [`super::listener_registry::new_close`]);
/// failing that (a subscribe method that returns a key), a suggested `clear_<field>()` next to
/// the subscribe method for the code that ends the owner to call. Unsafe: subscribers are no longer called after the teardown.
fn clear_on_teardown_fix(
    facts: &FileFacts,
    src: &str,
    e: &Event,
    place: &Place,
    field: &str,
    subscribe: &str,
) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let Place::Field { class, .. } = place else {
        return None;
    };
    let stmt = src.get(e.stmt.clone())?.trim_end();
    let receiver = stmt.strip_suffix(';').unwrap_or(stmt);
    let receiver = receiver[..receiver
        .rfind(".push(")
        .or_else(|| receiver.rfind(".insert("))?]
        .trim();
    if !receiver.starts_with(&format!("self.{field}")) {
        return None;
    }
    let registry: syn::Expr = syn::parse_str(receiver).ok()?;
    let clear = crate::fixes::rust::print::stmts(quote::quote! { #registry.clear(); })?;
    let unit = indent_unit(src, 4);
    // Not a subscribe method (`subscribe_end`, `on_close`): those add, they end nothing.
    let teardown = facts.scopes.iter().find(|sc| {
        sc.class == Some(*class)
            && sc.name.as_deref().is_some_and(|n| {
                !is_subscribe_name(n)
                    && crate::facts::words(n)
                        .any(|w| crate::facts::TEARDOWN_WORDS.contains(&w.as_str()) || w == "end")
            })
    });
    if let Some(t) = teardown {
        let body = t.body.clone().or_else(|| {
            let text = src.get(t.span.clone())?;
            let open = text.find('{')?;
            Some(t.span.start + open..t.span.end)
        })?;
        let name = t.name.clone()?;
        return Some(fix(
            format!("drop the subscribers of `{field}` in `{name}()`, which ends their owner"),
            crate::diagnostic::Applicability::Unsafe,
            vec![append_to_block(src, &body, &[clear], &unit)?],
        ));
    }
    let sub_scope = named_owner(facts, e.scope);
    if let Some(f) = super::listener_registry::new_close(
        facts, src, *class, sub_scope, field, &clear,
    )
    .or_else(|| {
        super::listener_registry::new_remove_by_key(facts, src, *class, sub_scope, field, receiver)
    }) {
        return Some(f);
    }
    let method = &facts.scopes[sub_scope];
    let indent = line_indent(src, method.span.start);
    let nl = newline(src);
    let name = format!("clear_{}", field.trim_start_matches('_'));
    let code = format!(
        "{nl}{nl}{indent}/// Drops every subscriber added with `{subscribe}()`: call it when this \
         ends.{nl}{indent}pub fn {name}(&self) {{{nl}{indent}{unit}{clear}{nl}{indent}}}"
    );
    Some(fix(
        format!(
            "add `{name}()` that drops the subscribers, and call it where the owner's life ends"
        ),
        crate::diagnostic::Applicability::DisplayOnly,
        vec![insert(method.span.end, code)],
    ))
}

/// A registry of channel senders: drop the closed ones (their receivers are gone) before
/// adding the new subscriber, so the list holds live subscribers only. Unsafe: code that
/// counts the registry sees fewer entries.
fn prune_closed_senders_fix(src: &str, e: &Event, ty: &str) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    if !ty.contains("Sender") {
        return None;
    }
    let stmt = src.get(e.stmt.clone())?.trim_end();
    let receiver = stmt.strip_suffix(';').unwrap_or(stmt);
    let receiver = &receiver[..receiver.rfind(".push(")?];
    let registry: syn::Expr = syn::parse_str(receiver).ok()?;
    let prune = crate::fixes::rust::print::stmts(quote::quote! {
        #registry.retain(|subscriber| !subscriber.is_closed());
    })?;
    Some(fix(
        "drop closed subscribers before adding one (`retain(|s| !s.is_closed())`)",
        crate::diagnostic::Applicability::Unsafe,
        vec![insert_before_statement(src, e.stmt.start, &[prune])],
    ))
}

/// Some Rust file shrinks a field or static of this name (matched by name: see [`crate::facts::place_name`]).
pub(crate) fn rust_field_ever_shrinks(ctx: &ProjectCtx, name: &str) -> bool {
    ctx.size_events(name)
        .any(|(_, e)| e.kind == super::inputs::SizeKind::Shrink)
}

fn check_ts(
    ctx: &FileCtx,
    constructions: &Constructions,
    summaries: &crate::summaries::ProjectSummaries,
) -> Vec<Diagnostic> {
    {
        let facts = ctx.facts;
        let mut out = Vec::new();
        for e in &facts.events {
            if ctx.out_of_time() {
                break; // the engine reports the time-out
            }
            let EventKind::Listen(listen) = &e.kind else {
                continue;
            };
            let ListenFacts {
                target,
                method,
                event,
                handler,
                once,
                signal,
                per_key,
                once_per_target,
                just_made,
                ..
            } = &**listen;
            // Once per listener, or once per target (`if (!seen.has(t)) { seen.add(t); t.on(…) }`),
            // or on the object the statements just before made (`this.bus = new EventBus();
            // this.bus.on(…)`): a listener on what this run owns, gone with it.
            if *once || *once_per_target || *just_made || in_self_removing_handler(facts, e) {
                continue;
            }
            let lifted = per_key.then(|| lift_per_key(facts, e)).flatten();
            let e = lifted.as_ref().unwrap_or(e);
            if (forwards_own_handler(facts, handler)
                || (event.is_none() && wraps_own_handler(facts, e.scope, handler)))
                && match event_lifetime(facts, e.scope, e.in_loop) {
                    Lifetime::Unknown => true,
                    // A method that is itself a registration API (`on(event, cb) {
                    // this.port.on(event, cb) }`): each call is its caller's registration.
                    Lifetime::PerCall => names_registration_api(facts, e.scope),
                    _ => false,
                }
            {
                continue;
            }
            let target = facts.resolve(target);
            // The value a getter hands back, which may be the caller's own (shared) object.
            let handed = super::handed_back::handed_back(ctx, summaries, e, &target);
            let judged = match &handed {
                Some((call, arg)) => judge_handed_back(facts, e, &target, call, arg),
                None => {
                    let lifetime = project_lifetime(ctx, summaries, e);
                    judge_target(ctx, constructions, e, lifetime, &target)
                }
            };
            let Some((owner, rhythm, target_desc)) = judged else {
                // Not known to outlive the code — unless the code removes it, on some paths only.
                out.extend(super::listener_settles::removed_on_some_settles(
                    ctx, &META, e, listen, &target,
                ));
                continue;
            };
            // An AbortSignal whose origin is not followed, or whose controller is aborted.
            if let Some(sig) = signal {
                let ctrl = facts.resolve(sig);
                if ctrl == Place::Unknown
                    || facts
                        .events_on(&ctrl)
                        .any(|a| matches!(a.kind, EventKind::Abort { .. }))
                {
                    continue;
                }
            }
            let mut wrong_place = Vec::new();
            let mut bound_removals = Vec::new();
            let mut removed = false;
            // A handed-back object is also reached by another name (`this.client` for the
            // `client` a `.then` received): a removal of the same named handler counts there.
            let elsewhere = facts.events.iter().filter(|r| {
                handed.is_some()
                    && matches!(handler, Handler::Named(_))
                    && matches!(&r.kind, EventKind::Unlisten(u) if same_handler(facts, handler, &u.handler))
            });
            for r in facts.events_on(&target).chain(elsewhere) {
                let matches = match &r.kind {
                    EventKind::Unlisten(u) => {
                        let (ev, h) = (&u.event, &u.handler);
                        if !same_event(event, ev) {
                            continue;
                        }
                        if *h == Handler::Bound {
                            bound_removals.push(r.span.clone());
                            continue;
                        }
                        same_handler(facts, handler, h)
                    }
                    EventKind::UnlistenAll { event: ev, .. } => {
                        ev.is_none() || same_event(event, ev)
                    }
                    _ => continue,
                };
                if !matches {
                    continue;
                }
                if removal_reaches(ctx, &owner, e, r)
                    || removed_through_helper(facts, e, handler, r)
                {
                    removed = true;
                    break;
                }
                wrong_place.push(r);
            }
            if removed {
                continue;
            }
            let ev = event
                .as_deref()
                .map_or("an event".to_string(), |e| format!("'{e}'"));
            let where_ = match &owner {
                Owner::Class(c) => format!(
                    "no teardown of `{}` removes it",
                    facts.classes[*c].name.as_deref().unwrap_or("the class")
                ),
                Owner::Scope(s) => format!("nothing in {} removes it", describe_scope(facts, *s)),
            };
            let mut d = META.report(ctx.path.to_path_buf(),
                e.span.clone(),
                format!(
                    "listener for {ev} is added to {target_desc}, which outlives the code that adds it \
                     ({rhythm}), and {where_}: every run adds one more listener that keeps its \
                     closure alive"
                ),
            );
            let t = place_text(facts, &target);
            let help = match handler {
                Handler::Inline(_) => format!(
                    "an inline function cannot be removed by identity: store it (`const onEvent = …` \
                     or a class field arrow) and call `{t}.off({ev}, onEvent)` in the teardown, or pass \
                     `{{ signal }}` from an AbortController you abort there; use `once` if it fires once"
                ),
                Handler::Bound => format!(
                    "`.bind()` creates a new function each time, so no removal can match it: bind once \
                     into a field (`this.onEvent = this.onEvent.bind(this)`) and call \
                     `{t}.off({ev}, this.onEvent)` in the teardown"
                ),
                _ => format!(
                    "remove it in the teardown with the same handler: `{t}.{}({ev}, handler)`, or \
                     `{t}.removeAllListeners({ev})` if this code owns all of them",
                    if method == "addEventListener" {
                        "removeEventListener"
                    } else {
                        "off"
                    }
                ),
            };
            d = d.with_help(help);
            for r in wrong_place {
                d = d.with_label(
                    r.span.clone(),
                    format!(
                        "removed only in {}, which is not a teardown of the registering scope",
                        describe_scope(facts, named_owner(facts, r.scope))
                    ),
                );
            }
            for r in bound_removals {
                d = d.with_label(r, "`.bind()` returns a new function: this removes nothing");
            }
            d = with_removal_fixes(ctx, d, e, owner, &target, listen);
            out.push(d);
        }
        out.extend(once_findings(ctx, summaries));
        out
    }
}

/// The `once` findings ([`super::once_listeners::check_once`]) with their fix: removal with
/// the pooled request socket's close, else a suggestion to remove when the function is done.
fn once_findings(ctx: &FileCtx, summaries: &crate::summaries::ProjectSummaries) -> Vec<Diagnostic> {
    let facts = ctx.facts;
    let mut out = Vec::new();
    for (e, message, help, mut fix) in super::once_listeners::check_once(ctx, summaries) {
        if fix.is_none()
            && let EventKind::Listen(listen) = &e.kind
        {
            let ListenFacts {
                target,
                method,
                event,
                handler,
                handler_span,
                ..
            } = &**listen;
            let target = place_text(facts, &facts.resolve(target));
            if let (Some(ev), Some(hs)) = (event.as_deref(), handler_span) {
                let r = super::listener_fixes::Registration {
                    target: &target,
                    method,
                    event: ev,
                    handler,
                    handler_span: hs,
                };
                fix = super::listener_scopes::pooled_socket_fix(ctx, &e, &r);
            }
            // Removed when the registering function is done with the target.
            fix = fix.or_else(|| {
                super::listener_suggest::suggestion(
                    ctx,
                    &e,
                    &super::listener_suggest::Removal {
                        class: None,
                        scope: Some(named_owner(facts, e.scope)),
                        target: &target,
                        method,
                        event: event.as_deref(),
                        handler,
                        handler_span: handler_span.as_ref(),
                    },
                )
            });
        }
        out.push(
            META.report(ctx.path.to_path_buf(), e.span.clone(), message)
                .with_help(help)
                .with_fixes(fix),
        );
    }
    out
}

/// The finding's labels on the class's teardowns, and its fixes, in order of preference:
/// removal in the class's teardown or the owning scope, per-iteration removal, a registration
/// hoisted out of a repeated handler of the same emitter, remove-before-add, and a suggestion
/// last.
fn with_removal_fixes(
    ctx: &FileCtx,
    mut d: Diagnostic,
    e: &Event,
    owner: Owner,
    target: &Place,
    listen: &ListenFacts,
) -> Diagnostic {
    let facts = ctx.facts;
    let ListenFacts {
        method,
        event,
        handler,
        handler_span,
        ..
    } = listen;
    let t = place_text(facts, target);
    if let Owner::Class(c) = owner {
        for t in class_teardowns(facts, c, ctx.options) {
            d = d.with_label(
                scope_head(facts, t),
                format!("{} does not remove it", describe_scope(facts, t)),
            );
        }
        // A literal event, or a constant the removal can name the same way.
        let ev = match (event.as_deref(), handler_span) {
            (Some(ev), _) => Some(EventArg::Literal(ev)),
            (None, Some(hs)) if !facts.is_rust => EventArg::constant(ctx.source, e, hs.start),
            _ => None,
        };
        if let (Some(ev), Some(hs)) = (ev, handler_span) {
            d.fixes.extend(super::listener_fixes::ts_class_fix(
                ctx, e, c, target, method, ev, handler, hs,
            ));
        }
    } else if let Owner::Scope(s) = owner
        && let (Some(ev), Some(hs)) = (event.as_deref(), handler_span)
        && !facts.is_rust
    {
        d.fixes.extend(super::listener_fixes::ts_scope_fix(
            ctx, e, s, &t, method, ev, handler, hs,
        ));
    }
    if let (Owner::Scope(s), Some(hs), false) = (&owner, handler_span, facts.is_rust) {
        d.fixes.extend(
            super::listener_loops::loop_fix(ctx, e, *s, &t, method, handler, hs)
                .filter(|_| d.fixes.is_empty()),
        );
    }
    if d.fixes.is_empty()
        && let (Some(ev), Some(hs), false) = (event.as_deref(), handler_span, facts.is_rust)
    {
        let r = super::listener_fixes::Registration {
            target: &t,
            method,
            event: ev,
            handler,
            handler_span: hs,
        };
        d.fixes
            .extend(super::listener_scopes::hoist_out_of_handler(ctx, e, &r));
    }
    if d.fixes.is_empty()
        && let (Some(hs), false) = (handler_span, facts.is_rust)
    {
        d.fixes.extend(super::listener_fixes::replace_not_add(
            ctx,
            e,
            &t,
            method,
            event.as_deref(),
            handler,
            hs,
        ));
    }
    if d.fixes.is_empty() {
        let (class, scope) = match owner {
            Owner::Class(c) => (Some(c), None),
            Owner::Scope(s) => (None, Some(s)),
        };
        d.fixes.extend(super::listener_suggest::suggestion(
            ctx,
            e,
            &super::listener_suggest::Removal {
                class,
                scope,
                target: &t,
                method,
                event: event.as_deref(),
                handler,
                handler_span: handler_span.as_ref(),
            },
        ));
    }
    d
}

/// A target that `call` may hand back as it is (`arg`, which the registering code did not
/// create): registered more than once (per instance, per call, repeatedly), it piles up on
/// that shared object; the class's teardown (or the outer function) must remove it.
fn judge_handed_back(
    facts: &FileFacts,
    e: &Event,
    target: &Place,
    call: &str,
    arg: &str,
) -> Option<(Owner, String, String)> {
    let lifetime = event_lifetime(facts, e.scope, e.in_loop);
    let rhythm = match lifetime {
        Lifetime::Once => return None,
        Lifetime::Repeated => repeated_rhythm(facts, e),
        Lifetime::PerInstance => "once per instance".into(),
        Lifetime::PerCall => format!(
            "on every call of {}",
            describe_scope(facts, named_owner(facts, e.scope))
        ),
        Lifetime::Unknown => "more than once".into(),
    };
    let class = facts
        .enclosing_method(e.scope)
        .and_then(|m| facts.scopes[m].class);
    let owner = match class {
        Some(c) if !in_repeating_loop(facts, e) => Owner::Class(c),
        _ => Owner::Scope(outer_owner(facts, e.scope)),
    };
    Some((
        owner,
        rhythm,
        format!(
            "{}, what `{call}` resolved to — which may be `{arg}` itself (the function can return \
             its argument as it is), an object this code did not create and may share",
            describe_place(facts, target)
        ),
    ))
}

/// Whether the target outlives the registering scope; if so, who must remove the listener,
/// how often the registration runs, and how to name the target.
fn judge_target(
    ctx: &FileCtx,
    constructions: &Constructions,
    e: &Event,
    lifetime: Lifetime,
    target: &Place,
) -> Option<(Owner, String, String)> {
    let facts = ctx.facts;
    let class = facts
        .enclosing_method(e.scope)
        .and_then(|m| facts.scopes[m].class);
    let in_loop = in_repeating_loop(facts, e);
    let rhythm = |l: Lifetime| rhythm_of(facts, e, l);
    // The root of a member path: `this.session.events` → `this.session`.
    let root = root_place(target);
    let long_lived = match root {
        Place::Global(g) => GLOBALS.contains(&g.as_str()),
        Place::Binding(b) => facts.is_module_binding(*b),
        Place::Field { class: c, name } => facts.classes[*c]
            .fields
            .iter()
            .any(|f| f.name == *name && f.origin == FieldOrigin::Injected),
        _ => false,
    };
    let desc = describe_place(facts, target);
    // The server a request came through: registered per request, it piles up for the life
    // of the process.
    // Under a latch (`if (!wsInitialized) { …; wsInitialized = true }`) it runs once.
    // Under a module-level flag (`if (!setUp) { self.addEventListener(…); setUp = true }`)
    // it runs once per process, whatever the target.
    if facts.latched_per_process(e)
        || (facts.latched(e)
            && (request_server(facts, target).is_some() || matches!(target, Place::Binding(_))))
    {
        return None;
    }
    if let Some(handler) = request_server(facts, target) {
        let owner = outer_owner(facts, e.scope);
        if facts.lifetime(owner) == Lifetime::Once {
            return None;
        }
        return Some((
            Owner::Scope(owner),
            format!(
                "on every request {} handles",
                describe_scope(facts, handler)
            ),
            format!("{desc}, the server that accepted the request"),
        ));
    }
    // The same server, handed to a function that registers on its parameter.
    if let Some((_, arg, handler)) = param_is_request_server(facts, e, target) {
        return Some((
            Owner::Scope(outer_owner(facts, e.scope)),
            format!(
                "on every request {} handles",
                describe_scope(facts, handler)
            ),
            format!("{desc}, the server that accepted the request (`{arg}` at the call)"),
        ));
    }
    if let Some(handler) = pooled_socket(facts, target).or_else(|| pooled_socket(facts, root)) {
        return judge_pooled_socket(facts, e, handler, &desc);
    }
    // Registered once per instance, in the constructor, on what the constructor was handed: the
    // object is the instance's own (one transport per socket, one wrapper per connection)
    // unless some construction site hands it something shared.
    if let Some((c, index)) = constructor_param(facts, e, lifetime, target)
        && let Some(owner) = class
    {
        let name = facts.classes[c].name.as_deref()?;
        let why = constructions.shared_param_unless(
            name,
            index,
            &super::constructions::guard_params(facts, e, c),
        )?;
        return Some((
            Owner::Class(owner),
            "once per instance".into(),
            format!("{desc} (shared: {why})"),
        ));
    }
    let reg = Registration {
        ctx,
        e,
        lifetime,
        class,
        in_loop,
    };
    if long_lived {
        return judge_long_lived(&reg, constructions, root, &desc);
    }
    if let Some(found) = owned_field_per_call(facts, e, lifetime, target, &desc, &rhythm) {
        return Some(found);
    }
    judge_outer_binding(&reg, target, &desc)
}

/// `let from = sources[0]; for (…) { from.on('close', …); from = from.pipe(to); }`: the loop
/// registers on its variable and moves the variable on to another object, so each turn adds
/// one listener to a different object (a chain of streams), none piles up. The
/// assignment is read from the loop's text, as [`super::listener_loops`] reads a target's.
pub(super) fn moves_on_each_iteration(
    ctx: &FileCtx,
    e: &Event,
    b: crate::facts::BindingId,
    in_loop: bool,
) -> bool {
    let Some(looped) = e.loop_span.as_ref().filter(|_| in_loop) else {
        return false;
    };
    let name = &ctx.facts.bindings[b].name;
    ctx.source
        .get(looped.clone())
        .is_some_and(|body| super::listener_loops::reassigned(body, name))
}

/// The registration repeats only over a loop or `.forEach` in the run of the function that just
/// made the target (`const ns = new Namespace(…); parent.listeners('x').forEach((l) =>
/// ns.on('x', l))`): each run adds one listener per item to its own new object, bounded by the
/// items and gone with the object. Not when a handler or interval lies between the two.
pub(super) fn fresh_in_run(
    facts: &FileFacts,
    e: &Event,
    b: crate::facts::BindingId,
    boundary: ScopeId,
    in_loop: bool,
) -> bool {
    let binding = &facts.bindings[b];
    if binding.kind != crate::facts::BindingKind::Var || facts.is_module_binding(b) {
        return false;
    }
    let home = binding.scope;
    let bounded = in_loop
        || facts.scopes[boundary].in_loop
        || matches!(&facts.scopes[boundary].kind, ScopeKind::Callback(r) if r.kind == CallbackKind::Iteration);
    if !bounded {
        return false;
    }
    let mut between = facts.ancestors(e.scope).take_while(|&s| s != home);
    let only_bounded = between.all(|s| match &facts.scopes[s].kind {
        ScopeKind::Callback(r) => !matches!(
            r.kind,
            CallbackKind::EventHandler | CallbackKind::Route | CallbackKind::Interval
        ),
        _ => false,
    });
    only_bounded
        && facts
            .events_on(&Place::Binding(b))
            .any(|n| matches!(n.kind, EventKind::New { .. }) && n.scope == home && !n.in_loop)
}

/// The socket a client request's 'socket' event hands over: with a keep-alive agent it is a
/// pooled socket that serves later requests too, so every request adds one more listener
/// to it (timed-out, got, http-timer). Not when the registration happens only on some path
/// (`if (socket.connecting) …`) or after a return on a socket that is not connecting: a
/// socket still connecting is new, not one the pool handed back.
fn judge_pooled_socket(
    facts: &FileFacts,
    e: &Event,
    handler: ScopeId,
    desc: &str,
) -> Option<(Owner, String, String)> {
    let owner = outer_owner(facts, e.scope);
    if pooled_guarded(facts, e, handler) || facts.lifetime(owner) == Lifetime::Once {
        return None;
    }
    let ScopeKind::Callback(r) = &facts.scopes[handler].kind else {
        return Some((
            Owner::Scope(owner),
            format!(
                "on every call of {}, which is handed a request",
                describe_scope(facts, handler)
            ),
            format!(
                "{desc}, the socket of the request's connection (keep-alive reuses it for \
                 later requests)"
            ),
        ));
    };
    let (rhythm, what) = match (r.kind, r.event.as_deref()) {
        (_, Some("socket")) => (
            format!(
                "once per request, on its 'socket' event of `{}`",
                trim_callee(&r.callee)
            ),
            "a socket that a keep-alive agent hands on to later requests, already connected",
        ),
        (CallbackKind::Route, _) => (
            format!("once per request to `{}`", r.callee),
            "the socket of the request's connection (keep-alive reuses it for later requests)",
        ),
        (_, ev) => (
            format!(
                "once per '{}' event of `{}`",
                ev.unwrap_or("request"),
                trim_callee(&r.callee)
            ),
            "the socket of the request's connection (keep-alive reuses it for later requests)",
        ),
    };
    Some((Owner::Scope(owner), rhythm, format!("{desc}, {what}")))
}

/// `per_key` registration `e` in a `.forEach` callback (a different event per item): the same
/// event seen from the code around the `.forEach`, which is what repeats or not.
fn lift_per_key(facts: &FileFacts, e: &Event) -> Option<Event> {
    let sc = &facts.scopes[e.scope];
    let ScopeKind::Callback(r) = &sc.kind else {
        return None;
    };
    if r.kind != CallbackKind::Iteration {
        return None;
    }
    Some(Event {
        scope: sc.parent?,
        in_loop: sc.in_loop,
        ..e.clone()
    })
}

/// The handler is a parameter of the registering function: a registration API
/// (`on(event, handler) { conn.on(event, handler) }`) forwarding its caller's handler, whose
/// removal is the caller's (such wrappers come with their `off`).
pub(super) fn forwards_own_handler(facts: &FileFacts, handler: &Handler) -> bool {
    matches!(handler, Handler::Named(p)
        if matches!(facts.resolve(p), Place::Binding(b)
            if facts.bindings[b].kind == crate::facts::BindingKind::Param))
}

/// The function holding `scope` is named as a registration API: `on`, `once`, `addListener`,
/// `addEventListener`, `prependListener`, `subscribe…`, `on…` (`onMessage`).
fn names_registration_api(facts: &FileFacts, scope: ScopeId) -> bool {
    let Some(name) = facts.scopes[named_owner(facts, scope)].name.as_deref() else {
        return false;
    };
    matches!(
        name,
        "on" | "once"
            | "addListener"
            | "addEventListener"
            | "prependListener"
            | "prependOnceListener"
    ) || name.starts_with("subscribe")
        || name
            .strip_prefix("on")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
}

/// `on(event, callback) { addEventListener(event, (m) => callback(m.data)) }`: a registration
/// API whose event is its caller's and whose handler only adapts its caller's handler (an
/// inline function calling a parameter of the registering function). Like
/// [`forwards_own_handler`], what it adds is its caller's to remove.
fn wraps_own_handler(facts: &FileFacts, registering: ScopeId, handler: &Handler) -> bool {
    let Handler::Inline(inner) = handler else {
        return false;
    };
    facts.events_within(*inner).any(|i| {
        let c = &facts.events[i];
        c.scope == *inner
            && matches!(&c.kind, EventKind::Call { callee } if matches!(facts.resolve(callee),
                Place::Binding(b) if facts.bindings[b].kind == crate::facts::BindingKind::Param
                    && facts.bindings[b].scope == registering))
    })
}

/// "per 'connection' event of `wss`", "per request to `app.post`", "in a loop".
pub(super) fn repeated_rhythm(facts: &FileFacts, e: &Event) -> String {
    if in_repeating_loop(facts, e) {
        return "once per loop iteration".into();
    }
    for s in facts.ancestors(e.scope) {
        let sc = &facts.scopes[s];
        if sc.in_loop {
            return "once per loop iteration".into();
        }
        if let ScopeKind::Callback(r) = &sc.kind {
            match r.kind {
                CallbackKind::EventHandler => {
                    let ev = r.event.as_deref().unwrap_or("event");
                    return format!("once per '{ev}' event of `{}`", trim_callee(&r.callee));
                }
                CallbackKind::Route => return format!("once per request to `{}`", r.callee),
                CallbackKind::Interval => return "on every tick of an interval".into(),
                CallbackKind::Iteration => return format!("once per item of `{}`", r.callee),
                _ => {}
            }
        }
    }
    "repeatedly".into()
}

fn trim_callee(c: &str) -> &str {
    c.rsplit_once('.').map_or(c, |(obj, _)| obj)
}

/// The outermost function (below the module) that contains `scope`.
pub(super) fn outer_owner(facts: &FileFacts, scope: ScopeId) -> ScopeId {
    let mut last = scope;
    for s in facts.ancestors(scope) {
        if facts.is_module_scope(s) {
            break;
        }
        last = s;
    }
    last
}

fn removal_reaches(ctx: &FileCtx, owner: &Owner, e: &Event, r: &Event) -> bool {
    // Inside the registering function itself: a returned unsubscribe, a self-removing handler.
    if ctx.facts.is_within(r.scope, e.scope) && !ctx.facts.is_module_scope(e.scope) {
        return true;
    }
    match owner {
        Owner::Class(c) => in_class_teardown(ctx.facts, r.scope, *c, ctx.options),
        Owner::Scope(s) => {
            ctx.facts.is_within(r.scope, *s) || closing_sibling(ctx.facts, *s, r.scope)
        }
    }
}

/// The removal sits in a helper (`cancelRefEvent() { this.channel.off(this.refEvent) }`) that
/// the registering code calls right before it registers again — it replaces its listener,
/// one at a time — or that the registered handler calls when it fires (it removes itself).
fn removed_through_helper(facts: &FileFacts, e: &Event, handler: &Handler, r: &Event) -> bool {
    let Some(helper) = facts.scopes[r.scope].name.as_deref() else {
        return false;
    };
    if r.scope == e.scope {
        return false;
    }
    facts.events.iter().any(|c| {
        c.called_name() == Some(helper)
            && ((c.scope == e.scope && c.span.end <= e.span.start && !c.in_loop)
                || matches!(handler, Handler::Inline(h) if facts.is_within(c.scope, *h)))
    })
}

/// The removal runs in the handler of a closing event (`'close'`, `'end'`, `'outgoing::end'`)
/// that the same code registers on the same emitter as the registering handler: `primus.on
/// ('outgoing::open', …)` adds, `primus.on('outgoing::end', …)` removes. The emitter's own
/// end event is the teardown of what each open set up; so is the event that undoes the
/// registering one (`'removeListener'` for `'newListener'`: lazy event forwarding).
fn closing_sibling(facts: &FileFacts, owner: ScopeId, removal: ScopeId) -> bool {
    let handler = |s: ScopeId| match &facts.scopes[s].kind {
        ScopeKind::Callback(r)
            if matches!(
                r.kind,
                CallbackKind::EventHandler | CallbackKind::OnceHandler
            ) =>
        {
            r.target
                .as_ref()
                .map(|t| (facts.resolve(t), r.event.as_deref()))
        }
        _ => None,
    };
    let Some((emitter, added_on)) = handler(owner) else {
        return false;
    };
    if matches!(emitter, Place::Unknown | Place::Argument | Place::Discarded) {
        return false;
    }
    let parent = facts.scopes[owner].parent;
    facts
        .ancestors(removal)
        .take_while(|&s| Some(s) != parent)
        .any(|s| {
            facts.scopes[s].parent == parent
                && handler(s).is_some_and(|(t, ev)| {
                    t == emitter
                        && ev.is_some_and(|ev| {
                            crate::facts::is_close_event(ev.rsplit(':').next().unwrap_or(ev))
                                || added_on.is_some_and(|a| crate::facts::undoes(ev, a))
                        })
                })
        })
}

pub(super) fn same_event(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

pub(super) fn same_handler(facts: &FileFacts, added: &Handler, removed: &Handler) -> bool {
    match (added, removed) {
        (Handler::Named(a), Handler::Named(b)) => facts.resolve(a) == facts.resolve(b),
        (Handler::Bound, _) | (Handler::Inline(_), _) => false,
        (Handler::Other, _) => true,
        (Handler::Named(_), _) => false,
    }
}

/// A teardown of `class` releases the field `place` (`close() { this.client.close() }`,
/// `this._socket.destroy()` in a close handler): the instance owns what the field holds.
pub(super) fn released_by_teardown(
    ctx: &FileCtx,
    class: crate::facts::ClassId,
    place: &Place,
) -> bool {
    let facts = ctx.facts;
    facts.events_on(place).any(|r| {
        matches!(&r.kind, EventKind::Release { method, .. } if method != "removeAllListeners")
            && in_class_teardown(facts, r.scope, class, ctx.options)
    })
}

/// The function that holds the local `b` releases it in a `finally` (a `try … finally` block or
/// a `.finally(() => watcher.cancel())`): however the run ends, the object — and every listener
/// on it — goes. A release on one branch, or after an `await` that may throw, does not count.
pub(super) fn released_on_every_path(facts: &FileFacts, b: crate::facts::BindingId) -> bool {
    let binding = &facts.bindings[b];
    if binding.kind != crate::facts::BindingKind::Var || facts.is_module_binding(b) {
        return false;
    }
    let home = binding.scope;
    facts.events_on(&Place::Binding(b)).any(|r| {
        matches!(&r.kind, EventKind::Release { method, .. } if method != "removeAllListeners")
            && !r.conditional
            && facts.is_within(r.scope, home)
            && (r.path == crate::facts::PathKind::Finally
                || facts
                    .ancestors(r.scope)
                    .take_while(|&s| s != home)
                    .any(|s| facts.scopes[s].path == crate::facts::PathKind::Finally))
    })
}
