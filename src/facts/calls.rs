//! Calls of crate functions by path, recorded for the project rules that follow a function to
//! its callers in other files (Rust: `helpers::make_client()` in a handler).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::ScopeId;

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
