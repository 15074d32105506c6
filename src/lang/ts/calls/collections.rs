//! Collections and caches: literals and `new Map()`/`new Set()` stored somewhere, growth
//! (`set`, `push`, …) and shrinkage (`delete`, `clear`, `delete x[k]`, …), size checks
//! (`x.size > N`), cache constructions (`new LRUCache(..)`) and memoizers.

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::{head_span, strip};
use super::super::walk::Walker;
use super::CallSite;
use crate::facts::*;

const GROW: &[&str] = &["set", "add", "push", "unshift"];
const SHRINK: &[&str] = &["delete", "clear", "splice", "shift", "pop"];

impl<'a> Walker<'a> {
    /// `[]`, `{}`, `new Map()` … stored somewhere: a collection declaration.
    pub(in crate::lang::ts) fn collection_literal(&mut self, v: Node<'a>) {
        let v = strip(v);
        let kind = match v.kind_name() {
            "array" if v.named_child_count() == 0 => CollectionKind::Array,
            "object" if v.named_child_count() == 0 => CollectionKind::Object,
            "new_expression" => {
                let ctor = v.field("constructor").map(|c| self.text(c)).unwrap_or("");
                match ctor {
                    "Map" => CollectionKind::Map,
                    "Set" => CollectionKind::Set,
                    "Array" => CollectionKind::Array,
                    _ => return,
                }
            }
            _ => return,
        };
        self.push(v);
        let (place, _, _) = self.placement(v);
        self.pop();
        if matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. }) {
            self.event(EventKind::Collection { kind, place }, v.byte_range());
        }
    }

    /// `x.set(..)`, `x.push(..)` …, `x.delete(..)`, `x.clear()` … on a known place.
    pub(super) fn grow_shrink_call(&mut self, s: &CallSite<'a>, o: Node<'a>) {
        let place = self.place_of(o);
        if !matches!(place, PlaceRef::Unknown) {
            if GROW.contains(&s.method) {
                self.event(EventKind::Grow { place }, s.n.byte_range());
            } else if SHRINK.contains(&s.method) {
                self.event(EventKind::Shrink { place }, s.n.byte_range());
            }
        }
    }

    /// `delete x[k]`, `delete x.k`: a shrink of `x`.
    pub(in crate::lang::ts) fn unary(&mut self, n: Node<'a>) {
        let op = n.field("operator").map(|o| self.text(o));
        if op == Some("delete")
            && let Some(arg) = n.field("argument")
            && let Some(obj) = arg.field("object")
        {
            let place = self.place_of(obj);
            self.event(EventKind::Shrink { place }, n.byte_range());
        }
        self.visit_children(n);
    }

    /// `x.size > N`, `x.length >= N` (either side of comparison `n`): a size check of `x`.
    pub(in crate::lang::ts) fn size_checks(&mut self, n: Node<'a>) {
        for side in ["left", "right"] {
            if let Some(s) = n.field(side)
                && s.kind_name() == "member_expression"
                && let Some(p) = s.field("property")
                && matches!(self.text(p), "size" | "length")
                && let Some(obj) = s.field("object")
            {
                let place = self.place_of(obj);
                self.event(EventKind::SizeCheck { place }, s.byte_range());
            }
        }
    }

    /// `new NodeCache(..)`, `new LRUCache(..)`: a cache, its options, and where a bound would go.
    pub(super) fn cache_construction(&mut self, n: Node<'a>, last: &str, keys: &[String]) {
        if matches!(last, "NodeCache" | "LRUCache" | "LRU") {
            let args = n.child_by_field_name("arguments");
            let at = match args.map(|a| (a, a.named_child(0))) {
                Some((_, Some(o))) if o.kind_name() == "object" => Some(o.start_byte() + 1),
                Some((a, None)) if self.text(a).starts_with('(') => Some(a.start_byte() + 1),
                None => Some(n.end_byte()),
                _ => None,
            };
            self.event(
                EventKind::CacheCtor {
                    api: last.to_string(),
                    options: keys.to_vec(),
                    at,
                },
                head_span(n),
            );
        }
    }

    /// `_.memoize(f, ..)` and other memoizers: an unbounded cache unless its options bound it.
    pub(super) fn memoizer_call(&mut self, s: &CallSite<'a>) {
        let callee_text = s.text;
        let memo = matches!(
            callee_text,
            "_.memoize" | "lodash.memoize" | "memoize" | "memoizee" | "moize"
        );
        if memo {
            let options = s
                .list
                .get(1)
                .map(|o| self.object_keys(*o))
                .unwrap_or_default();
            let source = self
                .import_source(callee_text.split('.').next().unwrap_or(""))
                .unwrap_or_else(|| callee_text.to_string());
            // Where a bound would go: inside the options object, or after the function when
            // there is none (`memoizee(f)` → `memoizee(f, { … })`).
            let at = match (s.list.first(), s.list.get(1)) {
                (_, Some(o)) if o.kind_name() == "object" => Some(o.start_byte() + 1),
                (Some(f), None) => Some(f.end_byte()),
                _ => None,
            };
            self.event(
                EventKind::CacheCtor {
                    api: source,
                    options,
                    at,
                },
                head_span(s.n),
            );
        }
    }
}
