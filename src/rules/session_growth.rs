//! unbounded-collection, per instance: a session object's collection that grows on every
//! message its connection receives and never shrinks — a call's transcript, a conversation's
//! history, the audio chunks of a realtime session. The session lives as long as its
//! connection, which for a voice call or a chat lasts minutes to hours, and the collection
//! holds everything it ever received until then. Only the growth of one instance is judged
//! here; whether the instance itself lives for the process is [`super::unbounded_collection`]'s
//! question.

use super::*;
use crate::facts::{CallbackKind, ClassId, ScopeId};

/// Message events: what a realtime connection, a worker port or a pub/sub client receives one
/// at a time for as long as it is open (not a request body's `'data'`, which ends with it).
const MESSAGE_EVENTS: &[&str] = &["message"];

/// The classes that register a `'message'` handler in their code: the only ones whose
/// collections [`per_message`] can judge (computed once per file).
pub(super) fn message_classes(facts: &FileFacts) -> std::collections::HashSet<ClassId> {
    facts
        .scopes
        .iter()
        .enumerate()
        .filter(|(_, sc)| {
            matches!(&sc.kind, ScopeKind::Callback(r)
                if r.kind == CallbackKind::EventHandler
                    && r.event.as_deref().is_some_and(|e| MESSAGE_EVENTS.contains(&e)))
        })
        .filter_map(|(s, _)| {
            facts
                .enclosing_method(s)
                .and_then(|m| facts.scopes[m].class)
        })
        .collect()
}

/// When every growth of the field collection `place` of `class` runs per message of a
/// connection the instance listens to — inside a `'message'` handler the class registers, or
/// in a method of the class that only such handlers call (`ws.on('message', (d) =>
/// this.onAudio(d))`, `onAudio(d) { this.chunks.push(d) }`) — the handler's description.
pub(super) fn per_message(facts: &FileFacts, class: ClassId, place: &Place) -> Option<String> {
    let mut rhythm = None;
    for g in facts.events_on(place) {
        if !matches!(g.kind, EventKind::Grow { .. }) {
            continue;
        }
        let r = handler_around(facts, class, g.scope).or_else(|| {
            // A method of the class whose every call is in such a handler.
            let m = named_owner(facts, g.scope);
            let sc = &facts.scopes[m];
            if sc.class != Some(class) || !matches!(sc.kind, ScopeKind::Method { .. }) {
                return None;
            }
            let name = sc.name.as_deref()?;
            let mut calls = facts.method_calls(class, name, false).peekable();
            calls.peek()?;
            let mut found = None;
            for c in calls {
                found = Some(handler_around(facts, class, c.scope)?);
            }
            found
        })?;
        rhythm.get_or_insert(r);
    }
    // `None` when nothing grows it (and, above, when one growth is not per message).
    rhythm
}

/// The `'message'` handler of the class around `scope`, described.
fn handler_around(facts: &FileFacts, class: ClassId, scope: ScopeId) -> Option<String> {
    for s in facts.ancestors(scope) {
        let sc = &facts.scopes[s];
        match &sc.kind {
            ScopeKind::Callback(r)
                if r.kind == CallbackKind::EventHandler
                    && r.event
                        .as_deref()
                        .is_some_and(|e| MESSAGE_EVENTS.contains(&e)) =>
            {
                let of_class = facts
                    .enclosing_method(s)
                    .is_some_and(|m| facts.scopes[m].class == Some(class));
                return (of_class && own_connection(facts, class, r.target.as_ref())).then(|| {
                    format!(
                        "every '{}' event of `{}`",
                        r.event.as_deref().unwrap_or("message"),
                        r.callee
                            .rsplit_once('.')
                            .map_or(r.callee.as_str(), |(o, _)| o)
                    )
                });
            }
            ScopeKind::Callback(r) if r.kind == CallbackKind::EventHandler => return None,
            ScopeKind::Method { .. } | ScopeKind::Function | ScopeKind::Module => return None,
            _ => {}
        }
    }
    None
}

/// The emitter is a connection of this instance: one of its fields (`this.ws`), or a
/// parameter or local of its code (the socket a constructor is handed) — not a module-level,
/// imported or global emitter (`cluster`, `process`), whose messages are the process's, not a
/// session's.
fn own_connection(facts: &FileFacts, class: ClassId, target: Option<&PlaceRef>) -> bool {
    match target.map(|t| facts.resolve(t)) {
        Some(Place::Field { class: c, .. }) => c == class,
        Some(Place::Binding(b)) => !facts.is_module_binding(b),
        _ => false,
    }
}
