//! Indices over a file's facts that fix builders and rules ask for once per finding, built on
//! first use beside the facts (never stored): the words of the source text, the scope tree with
//! each scope's events, the module's signal handlers. Each replaced a scan of the whole file per
//! finding, which made files with thousands of findings quadratic.

use super::{FileFacts, ScopeId, ScopeKind};

#[derive(Debug, Clone, Default)]
pub(super) struct ScopeTree {
    children: Vec<Vec<ScopeId>>,
    events: Vec<Vec<usize>>,
}

impl FileFacts {
    /// Whether `word` occurs in `src` (the text these facts were lowered from) as a whole
    /// identifier-like word — in code, comments or strings alike. Indexed once per file.
    pub fn has_word(&self, src: &str, word: &str) -> bool {
        self.words
            .get_or_init(|| {
                let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
                src.split(|c: char| !is_word(c))
                    .filter(|w| !w.is_empty())
                    .map(Box::from)
                    .collect()
            })
            .contains(word)
    }

    /// The events inside `scope` and the scopes nested in it, in scope-tree order (each scope's
    /// own events in order, then its children's).
    pub fn events_within(&self, scope: ScopeId) -> impl Iterator<Item = usize> + '_ {
        let tree = self.tree.get_or_init(|| {
            let mut t = ScopeTree {
                children: vec![Vec::new(); self.scopes.len()],
                events: vec![Vec::new(); self.scopes.len()],
            };
            for (i, s) in self.scopes.iter().enumerate() {
                if let Some(p) = s.parent.filter(|&p| p < i) {
                    t.children[p].push(i);
                }
            }
            for (i, e) in self.events.iter().enumerate() {
                if let Some(list) = t.events.get_mut(e.scope) {
                    list.push(i);
                }
            }
            t
        });
        let mut stack = vec![scope];
        let mut pending: std::vec::IntoIter<usize> = Vec::new().into_iter();
        std::iter::from_fn(move || {
            loop {
                if let Some(e) = pending.next() {
                    return Some(e);
                }
                let s = stack.pop()?;
                if let Some(kids) = tree.children.get(s) {
                    stack.extend(kids.iter().rev());
                }
                pending = tree.events.get(s).cloned().unwrap_or_default().into_iter();
            }
        })
    }

    /// The module-level callbacks registered for a signal (`process.on('SIGTERM', …)`), whose
    /// bodies a fix can add cleanup to.
    pub fn module_signal_handlers(&self) -> &[ScopeId] {
        self.signal_handlers.get_or_init(|| {
            (0..self.scopes.len())
                .filter(|&s| {
                    let sc = &self.scopes[s];
                    sc.body.is_some()
                        && sc.parent.is_some_and(|p| self.is_module_scope(p))
                        && matches!(&sc.kind, ScopeKind::Callback(r)
                            if r.event.as_deref().is_some_and(|e| e.starts_with("SIG")))
                })
                .collect()
        })
    }
}
