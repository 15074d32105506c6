//! The fix for a Rust callback registry on a struct that has no teardown method: one is added
//! (`pub fn close(&self)`) at the end of the inherent `impl` that holds the subscribe method,
//! dropping the subscribers — the struct's owner must call it where its life ends, as a new
//! TypeScript `dispose()` must be called.

use super::fixes::*;
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{ClassId, FileFacts, ScopeId};

/// `clear` (`self.listeners.lock().unwrap().clear();`) in a new `close()` of `class`, placed at
/// the end of the inherent `impl` block around `subscribe` (so two registries of one struct
/// add one method: the second fix finds it as the teardown on the next round).
pub fn new_close(
    facts: &FileFacts,
    src: &str,
    class: ClassId,
    subscribe: ScopeId,
    field: &str,
    clear: &str,
) -> Option<Fix> {
    let cname = facts.classes[class].name.as_deref()?;
    let taken = |n: &str| {
        facts
            .scopes
            .iter()
            .any(|s| s.class == Some(class) && s.name.as_deref() == Some(n))
    };
    // A subscribe method that hands back a key (`-> usize`) already offers removal one by
    // one: its callers must keep the key and remove with it, which a `close()` does not do.
    if taken("close") || signature(facts, src, subscribe)?.contains("->") {
        return None;
    }
    let block = inherent_impl(src, facts.scopes[subscribe].span.start)?;
    let unit = indent_unit(src, 4);
    let mut code = vec![
        String::new(),
        format!(
            "/// Drops every subscriber of this `{cname}`: call it where its owner is done with it."
        ),
        "pub fn close(&self) {".to_string(),
    ];
    code.extend(clear.lines().map(|l| format!("{unit}{l}")));
    code.push("}".into());
    let sub = facts.scopes[subscribe]
        .name
        .as_deref()
        .unwrap_or("subscribe");
    Some(fix(
        format!(
            "add `{cname}::close()`, which drops the subscribers `{sub}()` added to `{field}` \
             (call it where the `{cname}` is done)"
        ),
        Applicability::Unsafe,
        vec![append_to_block(src, &block, &code, &unit)?],
    ))
}

/// The braces of the inherent `impl Type {` block (not `impl Trait for Type`) that encloses
/// offset `at`: the last `impl` line before it whose block reaches past it.
fn inherent_impl(src: &str, at: usize) -> Option<std::ops::Range<usize>> {
    let before = src.get(..at)?;
    let mut search = before.len();
    while let Some(i) = before[..search].rfind("impl") {
        search = i;
        let starts_line = before[..i].ends_with('\n') || i == 0;
        let header_end = i + src[i..].find('{')?;
        let header = &src[i..header_end];
        if !starts_line || header.contains(';') {
            continue;
        }
        let close = matching_brace(src, header_end)?;
        if close < at {
            return None;
        }
        if has_for(header) || header.contains("where") {
            return None;
        }
        return Some(header_end..close + 1);
    }
    None
}

/// ` for ` as a word of an `impl` header: a trait impl, where a new method cannot go.
fn has_for(header: &str) -> bool {
    header.split_whitespace().any(|w| w == "for")
}

/// The offset of the `}` that closes the `{` at `open` (braces in strings and comments are
/// not told apart: `None` when the count never returns to zero).
fn matching_brace(src: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in src.get(open..)?.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A subscribe method that hands back the key of its entry (`-> usize` of a `Slab` or a map
/// registry) with no way to give it back: a removal by that key next to it (`on_order` →
/// `off_order(key)`, `subscribe_x` → `unsubscribe_x`), for the callers that keep the key to
/// call when they are done. `receiver` is the registry as the subscribe method reaches it
/// (`self.listeners.lock().unwrap()`). Not for a `Vec` (removing by index moves the others).
pub fn new_remove_by_key(
    facts: &FileFacts,
    src: &str,
    class: ClassId,
    subscribe: ScopeId,
    field: &str,
    receiver: &str,
) -> Option<Fix> {
    let cname = facts.classes[class].name.as_deref()?;
    let ty = facts.classes[class]
        .fields
        .iter()
        .find(|f| f.name == field)?
        .ty
        .clone()?;
    let sc = &facts.scopes[subscribe];
    let sub = sc.name.as_deref()?;
    let key_ty = signature(facts, src, subscribe)?
        .rsplit_once("->")?
        .1
        .trim();
    if !matches!(key_ty, "usize" | "u64" | "u32") {
        return None;
    }
    let remove = if ty.contains("Slab<") {
        format!(
            "let mut subscribers = {receiver};{nl}if subscribers.contains(key) {{{nl}    subscribers.remove(key);{nl}}}",
            nl = "\n"
        )
    } else if ty.contains("HashMap<") || ty.contains("BTreeMap<") {
        format!("{receiver}.remove(&key);")
    } else {
        return None;
    };
    let name = match sub.split_once('_') {
        Some(("on", rest)) => format!("off_{rest}"),
        Some(("subscribe", rest)) => format!("unsubscribe_{rest}"),
        Some(("register", rest)) => format!("unregister_{rest}"),
        _ => format!("remove_{}", field.trim_start_matches('_')),
    };
    if facts
        .scopes
        .iter()
        .any(|s| s.class == Some(class) && s.name.as_deref() == Some(name.as_str()))
    {
        return None;
    }
    let block = inherent_impl(src, sc.span.start)?;
    let unit = indent_unit(src, 4);
    let mut code = vec![
        String::new(),
        format!(
            "/// Removes the subscriber `{sub}()` returned `key` for: call it when it is done."
        ),
        format!("pub fn {name}(&self, key: {key_ty}) {{"),
    ];
    code.extend(remove.lines().map(|l| format!("{unit}{l}")));
    code.push("}".into());
    Some(fix(
        format!(
            "add `{cname}::{name}(key)`, which removes the subscriber `{sub}()` returned the key \
             of (its callers keep the key and call it when they are done)"
        ),
        Applicability::Unsafe,
        vec![append_to_block(src, &block, &code, &unit)?],
    ))
}

/// The text of method `m` up to its body's `{` (Rust method scopes may have no `body`).
fn signature<'a>(facts: &FileFacts, src: &'a str, m: ScopeId) -> Option<&'a str> {
    let sc = &facts.scopes[m];
    let text = src.get(sc.span.clone())?;
    let end = sc
        .body
        .as_ref()
        .map_or_else(|| text.find('{'), |b| b.start.checked_sub(sc.span.start))?;
    text.get(..end)
}
