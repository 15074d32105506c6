//! Function and class summaries (language-neutral, built from a file's facts), and how often
//! each function runs across the project.
//!
//! A [`FileSummary`] says, per function or method: what it acquires and releases (listeners,
//! timers, instances) on which [`Slot`] (its parameters, `this` and its fields, module
//! bindings, globals), which parameters it may hand back as its result (`return settings`: the
//! caller gets its own object back, a shared one, not a fresh one), and how often it runs as
//! far as its own file can tell; the file's call sites say whom each function calls. Per
//! class: its name and the methods that end an instance's life (`close`, `disconnect`,
//! `destroy`, …) — an instance of such a class holds something that must be let go.
//!
//! [`ProjectSummaries`] joins the files: a call of an imported function (ES named/default,
//! CommonJS destructured `require`) resolves to the exporting file's summary, and a function
//! whose own file cannot tell how often it runs (an exported function nobody in its file calls)
//! takes the most frequent rhythm among its callers in other files, iterated to a fixpoint (a
//! bounded number of rounds; a cycle adds no rhythm of its own).
//!
//! Summaries are small (names, slots, indices) so project rules can keep them instead of full
//! facts; the cache stores them with a file's entry (see `ProjectInputs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::facts::{
    BindingKind, EventKind, FileFacts, Handler, Lifetime, Place, PlaceRef, ScopeId, ScopeKind,
};

/// Where a function's effect lands, as its callers see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Slot {
    /// The function's `n`-th parameter (or a member of it).
    Param(u8),
    /// `this` itself.
    This,
    /// `this.name`.
    Field(Box<str>),
    /// A module-level binding or import of the function's file.
    Module(Box<str>),
    /// A global (`process`, `window`).
    Global(Box<str>),
    /// Something the function made or holds locally.
    Local,
}

/// What is acquired or released.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resource {
    Listener {
        event: Option<Box<str>>,
        once: bool,
        /// The handler is a closure made by this call (inline, `.bind`, a call's result).
        closure: bool,
    },
    Timer,
    /// `new C(…)` or a known factory.
    Instance {
        class: Box<str>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Effect {
    pub resource: Resource,
    pub slot: Slot,
    /// The fact it came from (an index into the file's events), for locations.
    pub event: u32,
}

/// A call the function makes, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Callee {
    /// A function of the same file (its scope).
    Local(ScopeId),
    /// `this.name()`: a method of the same class (or a subclass's).
    Method(Box<str>),
    /// A name imported from `source` (`imported` is `default` for default/CommonJS imports).
    Imported {
        source: Box<str>,
        imported: Box<str>,
    },
}

/// One function or method.
#[derive(Debug, Clone, Hash, Serialize, Deserialize)]
pub struct FnSummary {
    pub scope: ScopeId,
    pub name: Option<Box<str>>,
    /// The class whose method this is, by name.
    pub class: Option<Box<str>>,
    /// Exported from its module under this name.
    pub exported: bool,
    /// How often it runs as far as its own file can tell.
    pub lifetime: Lifetime,
    pub acquires: Vec<Effect>,
    pub releases: Vec<Effect>,
    /// Parameters it may return as they are (directly or through a local alias).
    pub returns_params: Vec<u8>,
}

/// One class.
#[derive(Debug, Clone, Hash, Serialize, Deserialize)]
pub struct ClassSummary {
    pub name: Box<str>,
    pub exported: bool,
    /// Methods whose name ends an instance's life (`close`, `disconnect`, `destroy`, `quit`).
    pub life_enders: Vec<Box<str>>,
}

/// `this.name()` call sites (event indices), by (class, method name).
type MethodSites = HashMap<(crate::facts::ClassId, String), Vec<usize>>;

/// One call (or pass as a callback) of a named function, anywhere in the file.
#[derive(Debug, Clone, Hash, Serialize, Deserialize)]
pub struct CallSite {
    pub callee: Callee,
    /// The function whose body makes the call directly (not from a callback or loop in it):
    /// the call runs as often as that function, project-wide.
    pub caller: Option<usize>,
    /// How often the call runs as far as the file can tell.
    pub rhythm: Lifetime,
}

/// The summaries of one file.
#[derive(Debug, Clone, Default, Hash, Serialize, Deserialize)]
pub struct FileSummary {
    pub functions: Vec<FnSummary>,
    pub classes: Vec<ClassSummary>,
    pub call_sites: Vec<CallSite>,
}

impl FileSummary {
    /// Summarises every named function and method of `facts` (TypeScript/JavaScript).
    pub fn build(facts: &FileFacts, src: &str) -> FileSummary {
        let mut out = FileSummary::default();
        if facts.is_rust {
            return out;
        }
        let mut index: HashMap<ScopeId, usize> = HashMap::new();
        for (id, s) in facts.scopes.iter().enumerate() {
            if !matches!(s.kind, ScopeKind::Function | ScopeKind::Method { .. }) {
                continue;
            }
            let class = s
                .class
                .and_then(|c| facts.classes.get(c))
                .and_then(|c| c.name.as_deref())
                .map(Box::from);
            let exported = s.name.as_deref().is_some_and(|n| facts.is_exported(n));
            index.insert(id, out.functions.len());
            out.functions.push(FnSummary {
                scope: id,
                name: s.name.as_deref().map(Box::from),
                class,
                exported,
                lifetime: facts.lifetime(id),
                acquires: Vec::new(),
                releases: Vec::new(),
                returns_params: Vec::new(),
            });
        }
        let aliases = Aliases::new(facts);
        for (i, e) in facts.events.iter().enumerate() {
            // The function the event belongs to: the nearest function or method around it.
            let f = facts
                .ancestors(e.scope)
                .find_map(|s| index.get(&s).copied());
            // Every call site, with its own rhythm (a call from a per-event callback at module
            // level belongs to no function but runs per event).
            if let EventKind::Call { callee: p } | EventKind::PassedAsCallback { func: p, .. } =
                &e.kind
                && let Some(callee) = callee_of(facts, p)
            {
                let passed = match &e.kind {
                    EventKind::PassedAsCallback { registrar, .. } => matches!(
                        registrar.kind,
                        crate::facts::CallbackKind::EventHandler
                            | crate::facts::CallbackKind::Route
                            | crate::facts::CallbackKind::Interval
                            | crate::facts::CallbackKind::Iteration
                    ),
                    _ => false,
                };
                let direct = f.is_some_and(|f| out.functions[f].scope == e.scope) && !e.in_loop;
                out.call_sites.push(CallSite {
                    callee,
                    caller: if direct && !passed { f } else { None },
                    rhythm: if passed {
                        Lifetime::Repeated
                    } else {
                        crate::rules::event_lifetime(facts, e.scope, e.in_loop)
                    },
                });
            }
            let Some(f) = f else {
                continue;
            };
            let owner = out.functions[f].scope;
            let slot = |p: &PlaceRef| slot_of(facts, &aliases, owner, &facts.resolve(p));
            let ev = i as u32;
            let summary = &mut out.functions[f];
            match &e.kind {
                EventKind::Listen(l) => summary.acquires.push(Effect {
                    resource: Resource::Listener {
                        event: l.event.as_deref().map(Box::from),
                        once: l.once,
                        closure: !matches!(l.handler, Handler::Named(_)),
                    },
                    slot: slot(&l.target),
                    event: ev,
                }),
                EventKind::Unlisten(u) => summary.releases.push(Effect {
                    resource: Resource::Listener {
                        event: u.event.as_deref().map(Box::from),
                        once: false,
                        closure: false,
                    },
                    slot: slot(&u.target),
                    event: ev,
                }),
                EventKind::UnlistenAll { target, event } => summary.releases.push(Effect {
                    resource: Resource::Listener {
                        event: event.as_deref().map(Box::from),
                        once: false,
                        closure: false,
                    },
                    slot: slot(target),
                    event: ev,
                }),
                EventKind::Timer(t) => summary.acquires.push(Effect {
                    resource: Resource::Timer,
                    slot: slot(&t.handle),
                    event: ev,
                }),
                EventKind::ClearTimer { handle } => summary.releases.push(Effect {
                    resource: Resource::Timer,
                    slot: slot(handle),
                    event: ev,
                }),
                EventKind::New { class, handle, .. } => summary.acquires.push(Effect {
                    resource: Resource::Instance {
                        class: Box::from(class.as_str()),
                    },
                    slot: slot(handle),
                    event: ev,
                }),
                EventKind::Release { place, method } => summary.releases.push(Effect {
                    resource: Resource::Instance {
                        class: Box::from(method.as_str()),
                    },
                    slot: slot(place),
                    event: ev,
                }),
                EventKind::Escape { place } if is_return(facts, src, i) => {
                    if let Slot::Param(n) = slot(place)
                        && !summary.returns_params.contains(&n)
                    {
                        summary.returns_params.push(n);
                    }
                }
                _ => {}
            }
        }
        // Each class's life-ending methods, in one pass over the scopes.
        let mut enders: Vec<Vec<Box<str>>> = vec![Vec::new(); facts.classes.len()];
        for sc in &facts.scopes {
            if let (
                Some(c),
                Some(n),
                ScopeKind::Method {
                    constructor: false,
                    is_static: false,
                },
            ) = (sc.class, sc.name.as_deref(), &sc.kind)
                && (crate::facts::ends_a_life(n) || n == "quit")
                && let Some(list) = enders.get_mut(c)
            {
                list.push(Box::from(n));
            }
        }
        for (c, life_enders) in facts.classes.iter().zip(enders) {
            let Some(name) = c.name.as_deref() else {
                continue;
            };
            out.classes.push(ClassSummary {
                name: Box::from(name),
                exported: facts.is_exported(name),
                life_enders,
            });
        }
        out.refine_methods(facts);
        out
    }

    /// A method's own file says "per call" for every method; its `this.m()` callers in the
    /// class say more: called only from the constructor, it runs once per instance; called
    /// from a per-event handler or a loop, repeatedly. A method nobody in the file calls is
    /// the class's API and stays "per call".
    fn refine_methods(&mut self, facts: &FileFacts) {
        // (class, method name) → call sites (event indices) of `this.name()` in that class.
        let mut sites: MethodSites = HashMap::new();
        for (i, e) in facts.events.iter().enumerate() {
            if let EventKind::Call { callee } = &e.kind
                && let Place::Field { class, name } = facts.resolve(callee)
            {
                sites.entry((class, name)).or_default().push(i);
            }
        }
        let n = self.functions.len();
        let mut memo: Vec<Option<Lifetime>> = vec![None; n];
        let mut visiting = vec![false; n];
        for f in 0..n {
            let l = self.method_rhythm(facts, &sites, f, &mut memo, &mut visiting);
            self.functions[f].lifetime = l;
        }
    }

    fn method_rhythm(
        &self,
        facts: &FileFacts,
        sites: &MethodSites,
        f: usize,
        memo: &mut Vec<Option<Lifetime>>,
        visiting: &mut Vec<bool>,
    ) -> Lifetime {
        if let Some(l) = memo[f] {
            return l;
        }
        let own = self.functions[f].lifetime;
        let scope = &facts.scopes[self.functions[f].scope];
        let (
            Some(class),
            Some(name),
            ScopeKind::Method {
                constructor: false,
                is_static: false,
            },
        ) = (scope.class, scope.name.as_deref(), &scope.kind)
        else {
            return own;
        };
        if visiting[f] {
            // Recursion adds no rhythm of its own.
            return Lifetime::Once;
        }
        let Some(calls) = sites.get(&(class, name.to_string())) else {
            return if fresh_only(facts, class, name) {
                Lifetime::PerInstance
            } else {
                own
            };
        };
        visiting[f] = true;
        let mut rhythm = Lifetime::Once;
        for &i in calls {
            let e = &facts.events[i];
            let at = crate::rules::event_lifetime(facts, e.scope, e.in_loop);
            // Directly in another method's body (not in a callback of it): that method's rhythm.
            let caller = self.functions.iter().position(|g| g.scope == e.scope);
            let l = match caller {
                Some(g) if g != f && !e.in_loop => {
                    self.method_rhythm(facts, sites, g, memo, visiting)
                }
                Some(g) if g == f => Lifetime::Once,
                _ => at,
            };
            rhythm = rhythm.max(l);
        }
        visiting[f] = false;
        // Called only from code that runs once (start-up): still at least once per instance.
        let l = rhythm.max(Lifetime::PerInstance);
        memo[f] = Some(l);
        l
    }
}

/// Method `name` of a class no other file can reach (not exported) is called only straight
/// on a fresh instance: every `new C(…)` of the file is `new C(…).name(…)`, so no one holds
/// the instance to call it again — it runs once per instance
/// (`return new StreamBasedExecutor(client, query, stream).execute()`).
fn fresh_only(facts: &FileFacts, class: crate::facts::ClassId, name: &str) -> bool {
    let Some(cname) = facts.classes[class].name.as_deref() else {
        return false;
    };
    if facts.is_exported(cname) {
        return false;
    }
    let chained = facts
        .fresh_calls
        .iter()
        .filter(|(c, m)| c == cname && m == name)
        .count();
    // Most methods have no such call: the events are scanned only for those that do.
    if chained == 0 {
        return false;
    }
    let built = facts
        .events
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::Construct { class, .. }
                if class.rsplit('.').next() == Some(cname))
        })
        .count();
    chained == built
}

/// Event `i` is `return x` / `return Promise.resolve(x)`: an escape right after the `Exit` of
/// its return statement, the returned value itself.
fn is_return(facts: &FileFacts, src: &str, i: usize) -> bool {
    let e = &facts.events[i];
    let exit = facts.events[..i].iter().rev().take(4).find(|x| {
        matches!(x.kind, EventKind::Exit { .. })
            && x.span.start <= e.span.start
            && e.span.end <= x.span.end
    });
    let Some(exit) = exit else {
        return false;
    };
    let Some(head) = src.get(exit.span.start..e.span.start) else {
        return false;
    };
    let head: String = head.chars().filter(|c| !c.is_whitespace()).collect();
    head == "return" || head == "returnPromise.resolve("
}

/// The slot a resolved place is, seen from function `owner`.
fn slot_of(facts: &FileFacts, aliases: &Aliases, owner: ScopeId, place: &Place) -> Slot {
    let root = crate::rules::constructions::root_place(place);
    match root {
        Place::This(_) => Slot::This,
        Place::Field { name, .. } => Slot::Field(Box::from(name.as_str())),
        Place::Global(g) => Slot::Global(Box::from(g.as_str())),
        Place::Binding(b) => {
            let binding = &facts.bindings[*b];
            if facts.is_module_binding(*b) {
                return Slot::Module(Box::from(binding.name.as_str()));
            }
            if binding.kind == BindingKind::Param && binding.scope == owner {
                let pos = facts.scopes[owner]
                    .params
                    .iter()
                    .position(|p| *p == binding.name);
                if let Some(pos) = pos.and_then(|p| u8::try_from(p).ok()) {
                    return Slot::Param(pos);
                }
            }
            // A local that only aliases a parameter (`const con = connection`).
            if binding.kind == BindingKind::Var
                && let Some(p) = aliases.param_of(facts, *b, owner)
            {
                return Slot::Param(p);
            }
            Slot::Local
        }
        _ => Slot::Local,
    }
}

/// What flows into each local: the one binding it was assigned from, or `None` when it was
/// assigned more than once or from something else. Built in one pass over the events, so
/// alias questions cost a lookup, not a scan.
pub struct Aliases(HashMap<crate::facts::BindingId, Option<crate::facts::BindingId>>);

impl Aliases {
    pub fn new(facts: &FileFacts) -> Aliases {
        let mut map: HashMap<crate::facts::BindingId, Option<crate::facts::BindingId>> =
            HashMap::new();
        for f in &facts.events {
            if let EventKind::Flow { from, to } = &f.kind
                && let Place::Binding(t) = facts.resolve(to)
            {
                let source = match facts.resolve(from) {
                    Place::Binding(p) => Some(p),
                    _ => None,
                };
                map.entry(t).and_modify(|v| *v = None).or_insert(source);
            }
        }
        Aliases(map)
    }

    /// A local assigned exactly once, from a parameter of `owner`: that parameter's position.
    pub fn param_of(
        &self,
        facts: &FileFacts,
        b: crate::facts::BindingId,
        owner: ScopeId,
    ) -> Option<u8> {
        let p = (*self.0.get(&b)?)?;
        let pb = &facts.bindings[p];
        if pb.kind != BindingKind::Param || pb.scope != owner {
            return None;
        }
        let pos = facts.scopes[owner]
            .params
            .iter()
            .position(|x| *x == pb.name)?;
        u8::try_from(pos).ok()
    }
}

fn callee_of(facts: &FileFacts, callee: &PlaceRef) -> Option<Callee> {
    match (callee, facts.resolve(callee)) {
        (_, Place::Field { name, .. }) => Some(Callee::Method(Box::from(name.as_str()))),
        // `util.send()` on a whole module (`require('./util')`, `import * as util`): its
        // export `send`.
        (_, Place::Member { base, name }) => match *base {
            Place::Binding(b) => match &facts.bindings[b].kind {
                BindingKind::Import { source, imported }
                    if imported == "default" || imported == "*" =>
                {
                    Some(Callee::Imported {
                        source: Box::from(source.as_str()),
                        imported: Box::from(name.as_str()),
                    })
                }
                _ => None,
            },
            _ => None,
        },
        (_, Place::Binding(b)) => match &facts.bindings[b].kind {
            BindingKind::Function(s) => Some(Callee::Local(*s)),
            BindingKind::Import { source, imported } => Some(Callee::Imported {
                source: Box::from(source.as_str()),
                imported: Box::from(imported.as_str()),
            }),
            _ => None,
        },
        _ => None,
    }
}

/// The project's summaries and the cross-file frequency of every function.
pub struct ProjectSummaries {
    files: Vec<(PathBuf, std::sync::Arc<FileSummary>)>,
    by_path: HashMap<PathBuf, usize>,
    /// Per file, per function (same order as `functions`): how often it runs, project-wide.
    frequency: Vec<Vec<Lifetime>>,
}

/// Rounds of cross-file propagation: each round lets a rhythm cross one more file boundary.
const MAX_ROUNDS: usize = 8;

impl ProjectSummaries {
    pub fn build(ctx: &crate::rules::ProjectCtx) -> ProjectSummaries {
        let files: Vec<(PathBuf, std::sync::Arc<FileSummary>)> = ctx
            .files
            .iter()
            .map(|f| (f.path.clone(), f.inputs.summary.clone()))
            .collect();
        let by_path = files
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (crate::project::normalize(p), i))
            .collect();
        let frequency = files
            .iter()
            .map(|(_, s)| s.functions.iter().map(|f| f.lifetime).collect())
            .collect();
        let mut out = ProjectSummaries {
            files,
            by_path,
            frequency,
        };
        out.propagate();
        out
    }

    /// The file summary for `path`.
    pub fn file(&self, path: &Path) -> Option<&FileSummary> {
        let i = *self.by_path.get(&crate::project::normalize(path))?;
        Some(&self.files[i].1)
    }

    /// The exported class `imported` (`default`: the module's one exported class) of the
    /// module `source` imported from `from`, when it is a project file.
    pub fn imported_class(
        &self,
        from: &Path,
        source: &str,
        imported: &str,
    ) -> Option<&ClassSummary> {
        let target = self.resolve(from, source)?;
        let classes = &self.files[target].1.classes;
        if imported == "default" || imported == "*" {
            let mut exported = classes.iter().filter(|c| c.exported);
            let first = exported.next()?;
            return exported.next().is_none().then_some(first);
        }
        classes.iter().find(|c| &*c.name == imported)
    }

    /// The exported function `imported` (`default`: the module's one exported function) of the
    /// module `source` imported from `from`, when it is a project file.
    pub fn imported_function(
        &self,
        from: &Path,
        source: &str,
        imported: &str,
    ) -> Option<&FnSummary> {
        let target = self.resolve(from, source)?;
        let functions = &self.files[target].1.functions;
        if imported == "default" || imported == "*" {
            let mut exported = functions.iter().filter(|f| f.exported && f.class.is_none());
            let first = exported.next()?;
            return exported.next().is_none().then_some(first);
        }
        functions
            .iter()
            .find(|f| f.exported && f.class.is_none() && f.name.as_deref() == Some(imported))
    }

    /// The project file a relative import names (`./x`, `./x.js` for `./x.ts`, `./x/index`),
    /// looked up in the path index (not a scan of the files).
    fn resolve(&self, from: &Path, source: &str) -> Option<usize> {
        if !source.starts_with("./") && !source.starts_with("../") {
            return None;
        }
        let base = crate::project::normalize(&from.parent()?.join(source));
        if let Some(&i) = self.by_path.get(&base) {
            return Some(i);
        }
        let stem = match base.extension().and_then(|e| e.to_str()) {
            Some("js" | "mjs" | "cjs" | "jsx") => base.with_extension(""),
            _ => base.clone(),
        };
        const EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];
        EXTENSIONS
            .iter()
            .map(|ext| PathBuf::from(format!("{}.{ext}", stem.display())))
            .chain(
                EXTENSIONS
                    .iter()
                    .map(|ext| base.join(format!("index.{ext}"))),
            )
            .find_map(|p| self.by_path.get(&p).copied())
    }

    /// How often the function or method at `scope` of the file at `path` runs, project-wide:
    /// its own file's answer, unless that is "unknown" and callers elsewhere say more.
    pub fn frequency(&self, path: &Path, scope: ScopeId) -> Option<Lifetime> {
        let i = *self.by_path.get(&crate::project::normalize(path))?;
        let f = self.files[i]
            .1
            .functions
            .iter()
            .position(|f| f.scope == scope)?;
        Some(self.frequency[i][f])
    }

    /// Cross-file rhythm: an exported function that its own file never calls runs as often as
    /// its most frequent caller in another file; rounds until nothing changes (bounded, so a
    /// cycle of imports cannot keep it going).
    fn propagate(&mut self) {
        // Cross-file call edges, resolved once: (caller file, call site, callee file, callee fn).
        let mut edges: Vec<(usize, usize, usize, usize)> = Vec::new();
        for (fi, (path, s)) in self.files.iter().enumerate() {
            for (ci, site) in s.call_sites.iter().enumerate() {
                let Callee::Imported { source, imported } = &site.callee else {
                    continue;
                };
                let Some(ti) = self.resolve(path, source) else {
                    continue;
                };
                let target = &self.files[ti].1;
                let callee = target.functions.iter().position(|f| {
                    f.exported
                        && f.class.is_none()
                        && (f.name.as_deref() == Some(&**imported)
                            || (&**imported == "default" && f.name.is_some()))
                });
                if let Some(gi) = callee {
                    edges.push((fi, ci, ti, gi));
                }
            }
        }
        for _ in 0..MAX_ROUNDS {
            // Each callee whose own file could not tell: the most frequent of its callers
            // (an unknown caller keeps it unknown: `Once` < `Unknown` in the ordering).
            let mut incoming: HashMap<(usize, usize), Lifetime> = HashMap::new();
            for &(fi, ci, ti, gi) in &edges {
                if self.files[ti].1.functions[gi].lifetime != Lifetime::Unknown {
                    continue;
                }
                let site = &self.files[fi].1.call_sites[ci];
                let rhythm = match site.caller {
                    Some(f) if (fi, f) != (ti, gi) => self.frequency[fi][f],
                    Some(_) => continue,
                    None => site.rhythm,
                };
                let slot = incoming.entry((ti, gi)).or_insert(rhythm);
                *slot = (*slot).max(rhythm);
            }
            let mut changed = false;
            for ((ti, ci), rhythm) in incoming {
                if self.frequency[ti][ci] != rhythm {
                    self.frequency[ti][ci] = rhythm;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::rules::{ProjectCtx, ProjectFile, RuleOptions};
    use crate::source::{Language, SourceFile};

    fn file(path: &str, src: &str) -> ProjectFile {
        let facts = crate::lang::lower(
            Language::JavaScript,
            src,
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        ProjectFile::from_parts(
            SourceFile::new(PathBuf::from(path), Language::JavaScript, src.to_string()),
            facts,
            &RuleOptions::default(),
        )
    }

    fn function<'a>(s: &'a FileSummary, name: &str) -> &'a FnSummary {
        s.functions
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no summary for {name}"))
    }

    #[test]
    fn a_function_that_may_hand_back_its_argument_says_so() {
        let src = "function get(settings, fresh) {\n  let c;\n  if (fresh) return make();\n  c = settings;\n  return Promise.resolve(c);\n}\nfunction make(x) { return new Client(x); }\nfunction id(a, b) { return b; }\n";
        let f = file("a.js", src);
        let s = FileSummary::build(&f.facts(), &f.source().text);
        assert_eq!(function(&s, "get").returns_params, [0]);
        assert!(function(&s, "make").returns_params.is_empty());
        assert_eq!(function(&s, "id").returns_params, [1]);
        let make = function(&s, "make");
        assert!(
            make.acquires.iter().any(
                |e| matches!(&e.resource, Resource::Instance { class } if &**class == "Client")
            ),
            "{:?}",
            make.acquires
        );
    }

    #[test]
    fn method_rhythm_comes_from_its_callers_in_the_class() {
        let src = "class S {\n  constructor(pool) {\n    this.setup();\n    pool.on('-node', () => this.select());\n  }\n  setup() {}\n  select() { this.pick(); }\n  pick() {}\n  api() {}\n}\n";
        let f = file("s.js", src);
        let s = FileSummary::build(&f.facts(), &f.source().text);
        assert_eq!(function(&s, "setup").lifetime, Lifetime::PerInstance);
        assert_eq!(function(&s, "select").lifetime, Lifetime::Repeated);
        assert_eq!(
            function(&s, "pick").lifetime,
            Lifetime::Repeated,
            "through select()"
        );
        assert_eq!(
            function(&s, "api").lifetime,
            Lifetime::PerCall,
            "nobody calls it"
        );
    }

    #[test]
    fn an_exported_function_takes_its_importers_rhythm() {
        let lib = "function handle(conn) { conn.once('error', () => {}); }\nfunction boot() {}\nexports.handle = handle;\nexports.boot = boot;\n";
        let app = "const { handle, boot } = require('./lib');\nboot();\nconst wss = makeServer();\nwss.on('connection', (c) => handle(c));\n";
        let files = [file("src/lib.js", lib), file("src/app.js", app)];
        let options = RuleOptions::default();
        let ctx = ProjectCtx::new(&files, &options);
        let p = ctx.summaries();
        let s = p.file(&PathBuf::from("src/lib.js")).unwrap();
        let handle = function(s, "handle");
        let boot = function(s, "boot");
        assert_eq!(
            handle.lifetime,
            Lifetime::Unknown,
            "its own file cannot tell"
        );
        let path = PathBuf::from("src/lib.js");
        assert_eq!(p.frequency(&path, handle.scope), Some(Lifetime::Repeated));
        assert_eq!(p.frequency(&path, boot.scope), Some(Lifetime::Once));
        assert!(handle.acquires.iter().any(|e| e.slot == Slot::Param(0)
            && matches!(&e.resource, Resource::Listener { once: true, .. })));
    }

    #[test]
    fn classes_with_a_life_ending_method_are_resources() {
        let src = "class Conn { connect() {} disconnect() {} }\nclass Parser { feed() {} }\nexports.default = Conn;\n";
        let f = file("c.js", src);
        let s = FileSummary::build(&f.facts(), &f.source().text);
        let conn = s.classes.iter().find(|c| &*c.name == "Conn").unwrap();
        assert_eq!(conn.life_enders, [Box::from("disconnect")]);
        assert!(conn.exported);
        let parser = s.classes.iter().find(|c| &*c.name == "Parser").unwrap();
        assert!(parser.life_enders.is_empty());
    }
}
