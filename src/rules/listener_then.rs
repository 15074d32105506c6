//! A listener added to the value a promise hands to a class's `.then` callback
//! (`getClient().then((client) => { client.on('error', …); this.client = client; })`): the
//! teardown reaches that value through the field the callback keeps it in.

use super::FileCtx;
use crate::facts::{ClassId, Event, EventKind, Place, ScopeKind};

/// The field of `class` that the `.then` arrow registering on its own first parameter (the
/// registration `e`, directly in the arrow, on `target`) sets to that parameter — and that
/// nothing else assigns — so a teardown can remove the listener through `this.<field>` once it
/// is set.
pub fn then_field(ctx: &FileCtx, e: &Event, class: ClassId, target: &Place) -> Option<String> {
    let facts = ctx.facts;
    let Place::Binding(b) = target else {
        return None;
    };
    let binding = &facts.bindings[*b];
    let cb = &facts.scopes[binding.scope];
    let ScopeKind::Callback(r) = &cb.kind else {
        return None;
    };
    // An arrow (its `this` is the instance) in a method of the class, registering directly.
    let arrow = !ctx
        .source
        .get(cb.span.clone())?
        .trim_start()
        .starts_with("function");
    if r.method != "then"
        || cb.params.first() != Some(&binding.name)
        || e.scope != binding.scope
        || e.in_loop
        || cb.class != Some(class)
        || !arrow
        || facts.enclosing_method(e.scope).is_none()
    {
        return None;
    }
    let assigned_from = |name: &str| {
        let field = Place::Field {
            class,
            name: name.to_string(),
        };
        let mut flows = facts.events.iter().filter_map(move |f| match &f.kind {
            EventKind::Flow { from, to } if facts.resolve(to) == field => {
                Some((facts.resolve(from), f.scope))
            }
            _ => None,
        });
        let first = flows.next();
        first.is_some_and(|(from, scope)| from == Place::Binding(*b) && scope == binding.scope)
            && flows.all(|(from, _)| from == Place::Binding(*b))
    };
    facts.classes[class]
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| super::listener_fixes::is_identifier(n))
        .find(|n| assigned_from(n))
        .map(str::to_string)
}
