//! unbounded-collection, per instance: a map whose entries come and go through the class's
//! own API — a method adds under a key its caller chooses, a removal method (`unsubscribe`,
//! `remove`, `leave`, `del`) takes them out again — where the removal keeps the key. Either
//! nothing ever deletes a key (the removal stores the emptied entry back:
//! graphql-redis-subscriptions 1.2.0's `subsRefsMap[trigger] = []`), or the removal puts back
//! an entry that is already gone (`this.sids[id] = this.sids[id] || {}` in socket.io-adapter
//! 1.1.1's `del()`, run after `delAll()` deleted it). The instance's life is not known, but
//! its add/remove pair says entries end while it lives on: each key ever used stays.

use super::pending_replies::{Shrinking, shrink_kind};
use super::*;
use crate::facts::{ClassId, CollectionKind, Event};

/// How the removal keeps the key.
enum Kept<'a> {
    /// Nothing deletes keys; the removal method reads or updates entries by key.
    NeverDeleted { removal: ScopeId },
    /// The removal method creates the entry when it is missing (`m[k] = m[k] || {}`).
    PutBack { removal: ScopeId, at: &'a Event },
}

impl Kept<'_> {
    /// The finding's message, help, and the label on the removal, for collection `name` added
    /// to by `adder`.
    fn describe(
        &self,
        facts: &FileFacts,
        name: &str,
        adder: &str,
    ) -> (String, String, (std::ops::Range<usize>, String)) {
        match self {
            Kept::NeverDeleted { removal } => {
                let r = describe_scope(facts, *removal);
                (
                    format!(
                        "entries of `{name}` are added per key by {adder} and taken out by {r}, but \
                         nothing ever deletes a key: every key ever used keeps its (emptied) entry \
                         for the life of the instance"
                    ),
                    format!(
                        "in {r}, delete the key once its entry is empty (`delete {name}[key]`, \
                         `{name}.delete(key)`) instead of storing the empty entry back"
                    ),
                    (
                        facts.scopes[*removal].span.start..facts.scopes[*removal].span.start,
                        format!("{r} empties entries here but keeps their keys"),
                    ),
                )
            }
            Kept::PutBack { removal, at } => {
                let r = describe_scope(facts, *removal);
                (
                    format!(
                        "{r} puts back the entry of `{name}` it removes from when the entry is \
                         already gone: a removal after the key was deleted (a late leave after a \
                         disconnect) leaves an empty entry that nothing deletes again, one per such \
                         key for the life of the instance"
                    ),
                    format!(
                        "in {r}, return early when the entry is missing instead of creating it \
                         (`if (!{name}[key]) return;`)"
                    ),
                    (
                        at.span.clone(),
                        "creates the entry it should remove from".to_string(),
                    ),
                )
            }
        }
    }
}

/// The finding for collection `decl` at `place` of an object of unknown life, or `None`.
pub(super) fn kept_keys(
    path: &std::path::Path,
    facts: &FileFacts,
    src: &str,
    decl: &Event,
    kind: CollectionKind,
    place: &Place,
    meta: &'static RuleMeta,
) -> Option<Diagnostic> {
    let Place::Field { class, name: field } = place else {
        return None;
    };
    if !matches!(kind, CollectionKind::Map | CollectionKind::Object)
        || super::pending_replies::per_call_method(facts, decl.scope, *class)
    {
        return None;
    }
    let mut growth: Vec<&Event> = Vec::new();
    let mut deletes = 0;
    // Methods that delete a key of the collection itself (not a key of an entry).
    let mut key_deleters: Vec<ScopeId> = Vec::new();
    for e in facts.events_on(place) {
        match &e.kind {
            EventKind::Grow { .. } => {
                if !super::pending_replies::per_call_method(facts, e.scope, *class) {
                    continue; // filled while the instance is made
                }
                growth.push(e);
            }
            EventKind::Shrink { .. } => match shrink_kind(src, decl, e) {
                Shrinking::Declaring => {}
                Shrinking::KeyDelete(text) => {
                    deletes += 1;
                    if deletes_key(text, field)
                        && let Some(m) = facts.enclosing_method(e.scope)
                    {
                        key_deleters.push(m);
                    }
                }
                Shrinking::Reset => return None,
            },
            EventKind::SizeCheck { .. } | EventKind::Escape { .. } => return None,
            EventKind::Collection { .. } if e.span != decl.span => return None,
            _ => {}
        }
    }
    let method_of = |e: &Event| facts.enclosing_method(e.scope);
    let is_removal = |m: ScopeId| facts.scopes[m].name.as_deref().is_some_and(names_removal);
    // Entries are added by a method that is not a removal, under a key its caller chooses:
    // not an emitter's own listener table, whose keys are the program's event names.
    let adds: Vec<&Event> = growth
        .iter()
        .copied()
        .filter(|g| method_of(g).is_some_and(|m| !is_removal(m)))
        .collect();
    if adds.is_empty()
        || growth
            .iter()
            .filter_map(|g| method_of(g))
            .any(|m| facts.scopes[m].name.as_deref().is_some_and(emitter_api))
    {
        return None;
    }
    let kept = if deletes == 0 {
        // A removal method of the class that reaches the entries by key.
        let reads = [format!(".{field}["), format!(".{field}.get(")];
        let removal = removal_methods(facts, *class).find(|&m| {
            facts.scopes[m]
                .body
                .as_ref()
                .and_then(|b| src.get(b.clone()))
                .is_some_and(|body| reads.iter().any(|r| body.contains(r.as_str())))
        })?;
        Kept::NeverDeleted { removal }
    } else {
        let at = growth.iter().copied().find(|g| {
            // The same removal deleting the key afterwards (once the entry is empty) undoes it.
            method_of(g).is_some_and(|m| is_removal(m) && !key_deleters.contains(&m))
                && puts_back(src.get(g.stmt.clone()).unwrap_or(""))
        })?;
        Kept::PutBack {
            removal: method_of(at)?,
            at,
        }
    };
    let name = place_text(facts, place);
    let adder = describe_scope(facts, named_owner(facts, adds[0].scope));
    let (message, help, label) = kept.describe(facts, &name, &adder);
    let mut d = meta
        .report(path.to_path_buf(), decl.span.clone(), message)
        .with_help(help)
        .with_label(label.0, label.1);
    d.fixes.extend(fix(facts, src, kind, &growth, &kept));
    Some(label_adds(d, facts, &adds, "added"))
}

/// Labels each growth of `adds` as an entry per key, `verb` by the method around it.
fn label_adds(mut d: Diagnostic, facts: &FileFacts, adds: &[&Event], verb: &str) -> Diagnostic {
    for g in adds {
        d = d.with_label(
            g.span.clone(),
            format!(
                "an entry per key, {verb} by {}",
                describe_scope(facts, named_owner(facts, g.scope))
            ),
        );
    }
    d
}

/// Rust: a map in a field of struct `class` (of any life) with the same shape — inserted per
/// key by a method of the struct that is not a constructor, reached by a removal method of the
/// struct in the same file (`pop_evicted(&self, meta)` reads `self.pool`), and never shrunk
/// anywhere in the workspace: pingora-pool 0.8.0 kept one empty `PoolNode` per upstream it
/// ever reached. Growth and shrinking are matched by field name, as for long-lived structs.
pub(super) fn rust_kept_keys(
    scan: super::unbounded_collection::Scan,
    decl: &Event,
    kind: CollectionKind,
    class: ClassId,
    field: &str,
) -> Option<Diagnostic> {
    use super::inputs::SizeKind;
    let super::unbounded_collection::Scan {
        ctx,
        file,
        facts,
        src,
        meta,
        ..
    } = scan;
    if kind != CollectionKind::Map {
        return None;
    }
    let c = &facts.classes[class];
    let ty = c.fields.iter().find(|f| f.name == field)?.ty.as_deref()?;
    if !crate::facts::is_interior_mutable(ty)
        || crate::facts::keyed_by_static_names(ty)
        || crate::facts::is_registry_type(ty)
    {
        return None;
    }
    if ctx
        .size_events(field)
        .any(|(_, g)| g.kind != SizeKind::Grow)
    {
        return None;
    }
    let adds: Vec<&Event> = facts
        .events
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::Grow { place }
                if crate::facts::place_name(&facts.resolve(place), facts).as_deref() == Some(field))
                && super::pending_replies::per_call_method(facts, e.scope, class)
                && facts
                    .enclosing_method(e.scope)
                    .is_some_and(|m| !facts.scopes[m].name.as_deref().is_some_and(names_removal))
                && super::unbounded_collection::grows_repeatedly(facts, e)
        })
        .collect();
    if adds.is_empty() {
        return None;
    }
    let reach = format!("self.{field}");
    let removal = removal_methods(facts, class).find(|&m| {
        let sc = &facts.scopes[m];
        src.get(sc.body.clone().unwrap_or_else(|| sc.span.clone()))
            .is_some_and(|body| body.contains(&reach))
    })?;
    let cname = c.name.as_deref().unwrap_or("the struct");
    let r = describe_scope(facts, removal);
    let adder = describe_scope(facts, named_owner(facts, adds[0].scope));
    let mut d = meta
        .report(
            file.path.clone(),
            decl.span.clone(),
            format!(
                "entries of `{field}` in `{cname}` are inserted per key by {adder} and {r} takes \
                 things out of them, but nothing in the workspace ever removes a key: every key \
                 ever used keeps its (emptied) entry for the life of the value"
            ),
        )
        .with_help(format!(
            "in {r}, remove the key once its entry is empty (`if entry.is_empty() {{ \
             map.remove(&key); }}`, under the same lock), or prune empty entries with `retain`"
        ))
        .with_label(
            facts.scopes[removal].span.start..facts.scopes[removal].span.start,
            format!("{r} takes out of entries here but keeps their keys"),
        );
    // No entry type is known to say when it is empty: the fix is the cap that every
    // unbounded map gets (room made at 10,000 keys before each insert, through its receiver).
    let sites: Vec<_> = adds
        .iter()
        .map(|g| (g.span.clone(), g.stmt.clone()))
        .collect();
    if let Some(shape) = crate::fixes::rust::caps::Shape::of(ty) {
        d.fixes.extend(crate::fixes::rust::caps::cap_before_growth(
            src, field, shape, &sites,
        ));
    }
    Some(label_adds(d, facts, &adds, "inserted"))
}

/// Deletes the key where the removal leaves it (unsafe: entries now go, and a later add makes
/// them afresh): right after the removal stores the emptied entry back (`if (!m[k] ||
/// m[k].length === 0) delete m[k];`), or, when the removal puts the entry back, at the end of
/// its body when the key is one of its parameters. Only for a dictionary whose entries are
/// known to be arrays, objects, sets or maps (what counts as empty depends on it).
fn fix(
    facts: &FileFacts,
    src: &str,
    kind: CollectionKind,
    growth: &[&Event],
    kept: &Kept,
) -> Option<crate::diagnostic::Fix> {
    use crate::fixes::edits::{fix, indent_unit, insert_after_statement};
    if kind != CollectionKind::Object {
        return None;
    }
    let texts: Vec<&str> = growth
        .iter()
        .filter_map(|g| src.get(g.stmt.clone()))
        .collect();
    let empty = entry_emptiness(&texts)?;
    let store_lhs = |g: &Event| -> Option<String> {
        let text = src.get(g.stmt.clone())?;
        let (lhs, _) = text.split_once(" = ")?;
        let lhs = lhs.trim();
        (lhs.ends_with(']') && !lhs.contains('\n')).then(|| lhs.to_string())
    };
    let (removal, edit, lhs) = match kept {
        Kept::NeverDeleted { removal } => {
            // The removal's own store of the entry, put back emptied.
            let g = growth
                .iter()
                .copied()
                .find(|g| facts.enclosing_method(g.scope) == Some(*removal))?;
            let lhs = store_lhs(g)?;
            let line = format!("if (!{lhs} || {}) delete {lhs};", empty.replace("{}", &lhs));
            (
                *removal,
                insert_after_statement(src, g.stmt.start, g.stmt.end, &[line]),
                lhs,
            )
        }
        Kept::PutBack { removal, at } => {
            let lhs = store_lhs(at)?;
            let key = lhs.rsplit_once('[')?.1.trim_end_matches(']').trim();
            if !facts.scopes[*removal].params.iter().any(|p| p == key) {
                return None;
            }
            let body = facts.scopes[*removal].body.clone()?;
            let line = format!("if (!{lhs} || {}) delete {lhs};", empty.replace("{}", &lhs));
            let edit = super::fixes::append_to_body(
                facts,
                src,
                *removal,
                &body,
                &[line],
                &indent_unit(src, 2),
            )?;
            (*removal, edit, lhs)
        }
    };
    Some(fix(
        format!(
            "delete `{lhs}` in {} once its entry is empty",
            describe_scope(facts, removal)
        ),
        crate::diagnostic::Applicability::Unsafe,
        vec![edit],
    ))
}

/// How to test an entry for emptiness (`{}` stands for the entry), from how the growth sites
/// make entries: `|| []`, `.concat(..)`, `[...xs, x]` make arrays; `|| {}` objects; `new
/// Set()`/`new Map()` sets and maps. `None` when they say nothing, or disagree.
fn entry_emptiness(texts: &[&str]) -> Option<&'static str> {
    let mut found = None;
    for t in texts {
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        let this = if ["||[]", "??[]", "=[]", ".concat(", ".filter(", "=[..."]
            .iter()
            .any(|p| compact.contains(p))
        {
            "{}.length === 0"
        } else if ["||{}", "??{}"].iter().any(|p| compact.contains(p)) {
            "Object.keys({}).length === 0"
        } else if ["newSet(", "newMap("].iter().any(|p| compact.contains(p)) {
            "{}.size === 0"
        } else {
            continue;
        };
        if found.is_some_and(|f| f != this) {
            return None;
        }
        found = Some(this);
    }
    found
}

/// The non-constructor methods of `class` named for taking something out.
fn removal_methods(facts: &FileFacts, class: ClassId) -> impl Iterator<Item = ScopeId> + '_ {
    (0..facts.scopes.len()).filter(move |&s| {
        let sc = &facts.scopes[s];
        sc.class == Some(class)
            && matches!(
                sc.kind,
                ScopeKind::Method {
                    constructor: false,
                    ..
                }
            )
            && !sc.params.is_empty()
            && sc.name.as_deref().is_some_and(names_removal)
    })
}

/// A method name that says it takes one thing out (`unsubscribe`, `removeMember`, `del`,
/// `leave`, `unwatch`); not an emitter's own API, whose keys are event names.
fn names_removal(name: &str) -> bool {
    !emitter_api(name)
        && crate::facts::words(name).next().is_some_and(|w| {
            matches!(
                w.to_ascii_lowercase().as_str(),
                "remove"
                    | "pop"
                    | "del"
                    | "delete"
                    | "unsubscribe"
                    | "unregister"
                    | "unwatch"
                    | "untrack"
                    | "unbind"
                    | "leave"
                    | "detach"
                    | "release"
                    | "forget"
                    | "evict"
            )
        })
}

/// An event emitter's own methods: the keys of what they fill are event names.
fn emitter_api(name: &str) -> bool {
    matches!(
        name.trim_start_matches('_'),
        "on" | "once"
            | "off"
            | "addListener"
            | "addEventListener"
            | "prependListener"
            | "prependOnceListener"
            | "removeListener"
            | "removeEventListener"
            | "removeAllListeners"
    )
}

/// A shrink that deletes a key of field `field` itself: `delete this.m[k]`, `this.m.delete(k)`;
/// not `delete this.m[k][inner]`, which empties an entry.
fn deletes_key(text: &str, field: &str) -> bool {
    let text = text.trim().trim_end_matches(';').trim_end();
    if text.contains(&format!(".{field}.delete(")) {
        return true;
    }
    let Some(rest) = text.strip_prefix("delete ") else {
        return false;
    };
    let Some(i) = rest.find(&format!(".{field}[")) else {
        return false;
    };
    // One subscript after the field, closing at the end of the expression.
    let sub = &rest[i + field.len() + 2..];
    let mut depth = 1;
    for (j, c) in sub.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return sub[j + 1..].trim().is_empty();
                }
            }
            _ => {}
        }
    }
    false
}

/// `m[k] = m[k] || {}`, `m[k] = m[k] ?? []`, `m[k] ||= {}`: a store that creates the entry when
/// it is missing.
fn puts_back(stmt: &str) -> bool {
    let stmt = stmt.trim().trim_end_matches(';').trim_end();
    if let Some((lhs, _)) = stmt.split_once("||=").or_else(|| stmt.split_once("??=")) {
        return lhs.trim_end().ends_with(']');
    }
    let Some((lhs, rhs)) = stmt.split_once(" = ") else {
        return false;
    };
    let lhs = lhs.trim();
    lhs.ends_with(']')
        && rhs.trim_start().strip_prefix(lhs).is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.starts_with("||") || rest.starts_with("??")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_back_is_a_store_that_creates_when_missing() {
        assert!(puts_back("this.sids[id] = this.sids[id] || {};"));
        assert!(puts_back("this.sids[id] = this.sids[id] ?? [];"));
        assert!(puts_back("this.sids[id] ||= {};"));
        assert!(!puts_back("this.sids[id] = rest;"));
        assert!(!puts_back("this.sids[id] = other[id] || {};"));
        assert!(!puts_back("x = x || {};"));
    }

    #[test]
    fn deletes_key_only_for_the_collections_own_keys() {
        assert!(deletes_key("delete this.sids[id];", "sids"));
        assert!(deletes_key("delete this.sids[ids[0]]", "sids"));
        assert!(deletes_key("this.sids.delete(id)", "sids"));
        assert!(!deletes_key("delete this.sids[id][room];", "sids"));
        assert!(!deletes_key("delete this.rooms[id];", "sids"));
    }

    #[test]
    fn removal_names() {
        for n in [
            "unsubscribe",
            "del",
            "removeMember",
            "_leave",
            "unwatch",
            "release",
        ] {
            assert!(names_removal(n), "{n}");
        }
        for n in [
            "removeListener",
            "off",
            "subscribe",
            "delay",
            "deleted",
            "add",
        ] {
            assert!(!names_removal(n), "{n}");
        }
    }
}
