//! Channels, collections and caches: unbounded channel constructors, growth and shrinking of
//! collections through their methods, cache constructors (`LruCache::unbounded`, moka builders).

use std::ops::Range;

use syn::Expr;
use syn::spanned::Spanned;

use super::super::Walker;
use super::super::spans::{Ranged, span_range};
use super::super::syntax::builder_chain;
use crate::facts::*;

const SHRINK: &[&str] = &[
    "remove",
    "retain",
    "clear",
    "drain",
    "swap_remove",
    "truncate",
    "pop",
    "pop_front",
    "pop_back",
    "split_off",
    "take",
    "remove_entry",
    "shrink_to",
    // DashMap's conditional removals, IndexMap's order-keeping ones, BTreeMap's ends, and
    // the filtering drains (std's `extract_if`, the older `drain_filter`).
    "remove_if",
    "remove_if_mut",
    "shift_remove",
    "shift_remove_entry",
    "swap_remove_entry",
    "pop_first",
    "pop_last",
    "retain_mut",
    "extract_if",
    "drain_filter",
];
impl Walker {
    /// `mpsc::unbounded_channel()` and friends: a queue without a bound.
    pub(super) fn channel_call(&mut self, c: &syn::ExprCall, full: &str, span: &Range<usize>) {
        if let Some(api) = unbounded_api(full, c.args.len()) {
            let idx = self.event(EventKind::UnboundedQueue { api, paced: None }, span.clone());
            self.facts.events[idx].hint = Some(Box::new(FixSite::Call {
                call: span_range(c.span()),
            }));
        }
    }

    /// `LruCache::unbounded()`: a cache without a bound.
    pub(super) fn cache_call(
        &mut self,
        c: &syn::ExprCall,
        full: &str,
        span: &Range<usize>,
        place: &PlaceRef,
    ) {
        if full.ends_with("LruCache::unbounded")
            || full.ends_with("LruCache::unbounded_with_hasher")
        {
            let idx = self.event(
                EventKind::CacheCtor {
                    api: "LruCache::unbounded".into(),
                    options: Vec::new(),
                    at: None,
                },
                span.clone(),
            );
            // Where a bound would go: the fix rewrites the whole call.
            self.facts.events[idx].hint = Some(Box::new(FixSite::Call {
                call: span_range(c.span()),
            }));
            if matches!(place, PlaceRef::Field { .. } | PlaceRef::Name { .. }) {
                self.cache_places.push((idx, place.clone()));
            }
        }
    }

    /// An unbounded `LruCache` used as storage under a bound of the code's own: its size is
    /// compared somewhere in the file (`if self.cache.len() > self.cap { self.cache.pop_lru() }`),
    /// like a collection with a size check. Marks the constructor's options `len-checked`.
    pub(in crate::lang::rust) fn mark_checked_caches(&mut self) {
        for (idx, place) in std::mem::take(&mut self.cache_places) {
            let checked = self
                .facts
                .events
                .iter()
                .any(|e| matches!(&e.kind, EventKind::SizeCheck { place: p } if *p == place));
            if checked
                && let EventKind::CacheCtor { options, .. } = &mut self.facts.events[idx].kind
            {
                options.push("len-checked".into());
            }
        }
    }

    /// `moka::Cache::builder()…build()`: a cache with the options its builder chain sets.
    pub(super) fn cache_builder_method(&mut self, m: &syn::ExprMethodCall, method: &str) {
        if method == "build"
            && let Some((root, chain)) = builder_chain(m)
            && let Expr::Path(p) = &*root.func
        {
            let full = self.full_path(&p.path);
            if full.ends_with("Cache::builder")
                && (full.contains("moka")
                    || self.uses.get("Cache").is_some_and(|u| u.contains("moka")))
            {
                self.event(
                    EventKind::CacheCtor {
                        api: "moka::Cache::builder".into(),
                        options: chain,
                        at: Some(span_range(m.dot_token.span()).start),
                    },
                    root.range(),
                );
            }
        }
    }

    /// `push`/`insert` grow a collection, `remove`/`retain` shrink it.
    pub(super) fn collection_method(
        &mut self,
        method: &str,
        recv: &PlaceRef,
        known: bool,
        span: &Range<usize>,
    ) {
        if known && RUST_GROWTH_METHODS.contains(&method) {
            self.event(
                EventKind::Grow {
                    place: recv.clone(),
                },
                span.clone(),
            );
        } else if known && SHRINK.contains(&method) {
            self.event(
                EventKind::Shrink {
                    place: recv.clone(),
                },
                span.clone(),
            );
        }
    }
}

fn unbounded_api(full: &str, nargs: usize) -> Option<String> {
    let norm = full.trim_start_matches("::");
    let unbounded = match norm {
        "tokio::sync::mpsc::unbounded_channel"
        | "crossbeam_channel::unbounded"
        | "crossbeam::channel::unbounded"
        | "flume::unbounded"
        | "async_channel::unbounded"
        | "futures::channel::mpsc::unbounded"
        | "futures_channel::mpsc::unbounded" => true,
        // std's `channel()` takes no bound; tokio's `channel(n)` does.
        "std::sync::mpsc::channel" => nargs == 0,
        "mpsc::unbounded_channel" => true,
        _ => false,
    };
    unbounded.then(|| norm.to_string())
}
