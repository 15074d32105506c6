//! Names to bindings: the per-file lookup table, and block scoping — which of several
//! same-named declarations of one scope a mention at a given position means.

use serde::{Deserialize, Serialize};

use super::{Binding, BindingId, FastMap, FileFacts, ScopeId};

/// Where a name is written (a byte offset): a hint for resolving it among block-scoped
/// bindings, not part of a place's identity — two mentions of one name from one scope are the
/// same place wherever they stand, as they were before blocks were told apart.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct At(pub usize);

impl PartialEq for At {
    fn eq(&self, _: &At) -> bool {
        true
    }
}

impl Eq for At {}

impl std::hash::Hash for At {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// Name → binding per scope, for [`FileFacts::lookup`]: each distinct name once, numbered, and
/// one flat table keyed by (name number, scope). (A table per name cost a hash table for every
/// distinct name of every file the project phase keeps.)
#[derive(Debug, Default, Clone)]
pub(super) struct NameLookup {
    names: FastMap<Box<str>, u32>,
    bindings: FastMap<(u32, ScopeId), BindingId>,
    /// Keys declared more than once in one scope where some declaration is block-scoped: all
    /// their bindings, in declaration order.
    shadowed: FastMap<(u32, ScopeId), Vec<BindingId>>,
}

impl NameLookup {
    /// The table for a file's bindings, in declaration order.
    pub(super) fn build(bindings: &[Binding]) -> NameLookup {
        let mut lookup = NameLookup::default();
        for (id, b) in bindings.iter().enumerate() {
            let next = lookup.names.len() as u32;
            let name = *lookup.names.entry(b.name.as_str().into()).or_insert(next);
            match lookup.bindings.entry((name, b.scope)) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                }
                std::collections::hash_map::Entry::Occupied(o) => {
                    let first = *o.get();
                    if b.block.is_some() || bindings[first].block.is_some() {
                        lookup
                            .shadowed
                            .entry((name, b.scope))
                            .or_insert_with(|| vec![first])
                            .push(id);
                    }
                }
            }
        }
        lookup.names.shrink_to_fit();
        lookup.bindings.shrink_to_fit();
        lookup
    }
}

impl FileFacts {
    /// The binding a name refers to from `scope`, searching outwards. The first declaration
    /// in a scope wins (a redeclaration with `var` is the same variable).
    pub fn lookup(&self, name: &str, mut scope: ScopeId) -> Option<BindingId> {
        let name = *self.lookup.names.get(name)?;
        loop {
            if let Some(&b) = self.lookup.bindings.get(&(name, scope)) {
                return Some(b);
            }
            scope = self.scopes.get(scope)?.parent?;
        }
    }

    /// [`lookup`](Self::lookup) for a name written at byte `at`: where one scope declares the
    /// name more than once and some of those are block-scoped, the innermost block holding
    /// `at` wins, then a declaration of the whole scope (`var`, a parameter); a name outside
    /// every block of its scope's declarations refers to an outer scope.
    pub fn lookup_at(&self, name: &str, mut scope: ScopeId, at: usize) -> Option<BindingId> {
        let name = *self.lookup.names.get(name)?;
        loop {
            if let Some(&b) = self.lookup.bindings.get(&(name, scope)) {
                let Some(all) = self.lookup.shadowed.get(&(name, scope)) else {
                    return Some(b);
                };
                let inner = all
                    .iter()
                    .filter_map(|&c| {
                        let r = self.bindings[c].block.as_ref()?;
                        r.contains(&at).then_some((r.len(), c))
                    })
                    .min();
                if let Some((_, c)) = inner {
                    return Some(c);
                }
                if let Some(&c) = all.iter().find(|&&c| self.bindings[c].block.is_none()) {
                    return Some(c);
                }
            }
            scope = self.scopes.get(scope)?.parent?;
        }
    }
}
