//! Calls of crate functions by path, recorded for the project rules that follow a function to
//! its callers in other files (Rust: `helpers::make_client()` in a handler).

use std::collections::HashSet;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{EventKind, FileFacts, Place, ScopeId, ScopeKind};

/// `module::function(..)` (Rust), its path as the code spells it after `use` expansion
/// (`crate::ai::client::make_client`, `helpers::make_client`): the last two segments are
/// lower-case, a module's function rather than a type's associated one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathCall {
    pub path: String,
    /// The scope the call is made in.
    pub scope: ScopeId,
    /// Inside a loop of that scope.
    pub in_loop: bool,
    /// The call expression.
    pub span: Range<usize>,
}

impl PathCall {
    /// The function's name (the path's last segment) and the module it is called through (the
    /// segment before it).
    pub fn function(&self) -> (&str, &str) {
        let mut segs = self.path.rsplit("::");
        let name = segs.next().unwrap_or("");
        (name, segs.next().unwrap_or(""))
    }
}

/// A function's parameter: its name and the parameter's index.
pub type FnParam = (String, usize);

/// (function name, parameter index) of every free function of `facts` that grows a parameter
/// it is lent (`fn append(out: &mut Vec<String>, ..) { out.push(..) }`), and of those that
/// shrink or measure one (`if out.len() > MAX { out.remove(0); }`): a loan to those is bounded
/// by the function itself. Read on indexed facts.
pub fn lent_params(facts: &FileFacts) -> (HashSet<FnParam>, HashSet<FnParam>) {
    let mut grown = HashSet::new();
    let mut bounded = HashSet::new();
    for e in &facts.events {
        let (place, into) = match &e.kind {
            EventKind::Grow { place } => (place, &mut grown),
            EventKind::Shrink { place } | EventKind::SizeCheck { place } => (place, &mut bounded),
            _ => continue,
        };
        let Place::Binding(b) = facts.resolve(place) else {
            continue;
        };
        let binding = &facts.bindings[b];
        let f = &facts.scopes[binding.scope];
        if !matches!(f.kind, ScopeKind::Function) || facts.named_owner(e.scope) != binding.scope {
            continue;
        }
        if let (Some(name), Some(k)) = (
            f.name.as_deref(),
            f.params.iter().position(|p| *p == binding.name),
        ) {
            into.insert((name.to_string(), k));
        }
    }
    (grown, bounded)
}
