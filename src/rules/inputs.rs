//! What the project rules need from every file, computed while the file's facts are live
//! (issue 21): a batch run then packs the facts away (see [`crate::kept`]), and the project
//! phase joins files through these inputs — which classes live for the process, what
//! constructions hand to whom, the function summaries, which collections grow where — and
//! unpacks a file's facts only to report in it.
//!
//! Inputs are small and owned (names, indices into the file's events, spans), never borrowed
//! facts. [`Joins`] are the project-wide tables built from them, once per run, on first use.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::{ProjectCtx, RuleOptions};
use crate::facts::{BindingId, BindingKind, CallArg, EventKind, FileFacts};
use crate::summaries::FileSummary;

#[derive(Debug, Default, Hash, Serialize, Deserialize)]
pub struct ProjectInputs {
    pub is_rust: bool,
    /// The facts say the file is test support (`#[cfg(test)]`-only module and the like).
    pub test_support: bool,
    /// The file starts a server (an example that does is linted like a service).
    pub starts_server: bool,
    /// Function and class summaries (TypeScript/JavaScript; empty for Rust).
    pub summary: Arc<FileSummary>,
    /// Type names the file shows live for the process: singletons, types it names long-lived,
    /// classes it instantiates once at module level (`new C()` not from a factory).
    pub long_lived: Vec<String>,
    /// Classes instantiated at module level outside loops (factories too), by last name.
    pub module_instances: Vec<String>,
    /// `new C(…)` sites and what they hand the instance (TypeScript).
    pub constructions: Vec<(String, super::constructions::Site)>,
    /// Imports (TypeScript): the binding, the module, the name imported.
    pub imports: Vec<(BindingId, Box<str>, Box<str>)>,
    /// Rust: parameters through which a sender's sends are paced by replies.
    pub paced_sender_params: Vec<CallArg>,
    /// Rust: the file's sends on struct fields (see [`crate::facts::FieldSends`]).
    pub field_sends: Vec<crate::facts::FieldSends>,
    /// Rust: growth, shrinking and size checks of named fields and statics.
    pub size_events: Vec<SizeEvent>,
    /// Rust: the file's free functions that grow a parameter they are lent: name, parameter
    /// index, and whether they also bound it (see [`crate::facts::lent_params`]).
    pub grows_params: Vec<(String, u8, bool)>,
    /// Rust: named collections lent mutably to another module's function (`state::record(&mut
    /// log, ..)`): growth if that function grows the parameter (see [`LentArg`]).
    pub lent: Vec<LentArg>,
    /// Rust: the types the file deals with (structs it defines, types it shows long-lived).
    pub rust_types: Vec<String>,
    /// Rust: calls of other modules' functions made where they run per use (see
    /// [`super::factory_callers`]).
    pub per_use_calls: Vec<super::factory_callers::PerUseCall>,
    /// Client constructions duplicate-client counts: event index and the client's kind.
    pub client_sites: Vec<(u32, String)>,
    /// What the file says about the service's shutdown.
    pub shutdown: super::missing_graceful_shutdown::Inputs,
    /// Some project rule may report in this file from its own events (see
    /// `Rule::reports_from`); a file without any is not unpacked for the per-file project pass.
    pub project_pass: bool,
}

/// Some project rule's `check_project_file` may report from an event of `facts`.
fn reported_in(facts: &FileFacts) -> bool {
    let rules: Vec<_> = crate::registry::RULES
        .iter()
        .filter(|r| r.meta().is_project())
        .collect();
    facts
        .events
        .iter()
        .any(|e| rules.iter().any(|r| r.reports_from(e)))
}

/// A Rust collection's growth, shrinking or size check, by the collection's name.
#[derive(Debug, Clone, Hash, Serialize, Deserialize)]
pub struct SizeEvent {
    pub name: String,
    pub kind: SizeKind,
    /// Growth that happens more than once per owner (see `grows_repeatedly`).
    pub repeated: bool,
    pub span: Range<usize>,
    pub stmt: Range<usize>,
    /// Where it happens, for labels ("method `subscribe`").
    pub scope: String,
    /// Growth in a method named for subscribing (`subscribe`, `on_message`, `register`): a
    /// callback registry's, which unremoved-listener judges.
    pub subscribes: bool,
}

/// A named collection lent mutably to another module's function: the call's path, the
/// parameter index, and the growth it is if that function grows what it is lent.
#[derive(Debug, Clone, Hash, Serialize, Deserialize)]
pub struct LentArg {
    pub path: String,
    pub index: u8,
    pub growth: SizeEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SizeKind {
    Grow,
    Shrink,
    SizeCheck,
}

/// The `&mut` arguments of calls by path (`state::record(&mut log, ..)`) that lend a named
/// field or static: what the project joins with the callee's [`ProjectInputs::grows_params`].
/// (Loans to this file's own functions became growth in the front end.)
fn lent_args(facts: &FileFacts) -> Vec<LentArg> {
    let mut out = Vec::new();
    let by_start: HashMap<usize, &str> = facts
        .path_calls
        .iter()
        .map(|c| (c.span.start, c.path.as_str()))
        .collect();
    for e in &facts.events {
        let EventKind::Arg { index, place } = &e.kind else {
            continue;
        };
        let Some(&path) = by_start.get(&e.span.start) else {
            continue;
        };
        let Some(name) = crate::facts::place_name(&facts.resolve(place), facts) else {
            continue;
        };
        out.push(LentArg {
            path: path.to_string(),
            index: *index,
            growth: SizeEvent {
                name,
                kind: SizeKind::Grow,
                repeated: super::unbounded_collection::grows_repeatedly(facts, e),
                span: e.span.clone(),
                stmt: e.stmt.clone(),
                scope: super::describe_scope(facts, e.scope),
                subscribes: false,
            },
        });
    }
    out
}

impl ProjectInputs {
    /// Whether every index and span these inputs hold fits `facts`, of a text `len` bytes long:
    /// the cache's check on inputs it reads back, for a rule never to index past the end on a
    /// forged entry (the checksum only proves the bytes are the ones written).
    pub fn fits(&self, facts: &FileFacts, len: usize) -> bool {
        let (events, scopes) = (facts.events.len(), facts.scopes.len());
        let range = |r: &Range<usize>| r.start <= r.end && r.end <= len;
        let s = &self.summary;
        s.functions.iter().all(|f| {
            f.scope < scopes
                && (f.acquires.iter().chain(&f.releases)).all(|e| (e.event as usize) < events)
        }) && s.call_sites.iter().all(|c| {
            c.caller.is_none_or(|i| i < s.functions.len())
                && !matches!(c.callee, crate::summaries::Callee::Local(sc) if sc >= scopes)
        }) && self.imports.iter().all(|(b, ..)| *b < facts.bindings.len())
            && self
                .client_sites
                .iter()
                .all(|(i, _)| (*i as usize) < events)
            && self
                .size_events
                .iter()
                .all(|e| range(&e.span) && range(&e.stmt))
            && self.per_use_calls.iter().all(|c| range(&c.span))
            && (self.lent.iter()).all(|l| range(&l.growth.span) && range(&l.growth.stmt))
            && self.shutdown.fits(events, scopes, len)
    }

    pub fn build(facts: &FileFacts, src: &str, options: &RuleOptions) -> ProjectInputs {
        let mut out = ProjectInputs {
            is_rust: facts.is_rust,
            test_support: facts.test_support,
            starts_server: facts
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::ServerStart { .. })),
            summary: Arc::new(kept_summary(facts, src)),
            constructions: super::constructions::file_sites(facts, src),
            paced_sender_params: facts.paced_sender_params.clone(),
            field_sends: facts.field_sends.clone(),
            client_sites: super::duplicate_client::file_sites(facts, options),
            shutdown: super::missing_graceful_shutdown::Inputs::build(facts, src),
            project_pass: reported_in(facts),
            ..ProjectInputs::default()
        };
        out.long_lived
            .extend(facts.long_lived_types.iter().cloned());
        for c in &facts.classes {
            if c.singleton
                && let Some(n) = &c.name
            {
                out.long_lived.push(n.clone());
            }
        }
        for e in &facts.events {
            if let EventKind::New { class, factory, .. } = &e.kind
                && !e.in_loop
                && facts.is_module_scope(e.scope)
            {
                let last = class.rsplit('.').next().unwrap_or(class).to_string();
                if !factory {
                    out.long_lived.push(last.clone());
                }
                out.module_instances.push(last);
            }
        }
        if facts.is_rust {
            out.rust_types = facts
                .classes
                .iter()
                .filter_map(|c| c.name.clone())
                .chain(facts.long_lived_types.iter().cloned())
                .collect();
            out.per_use_calls = super::factory_callers::file_calls(facts);
            let (grown, bounded) = crate::facts::lent_params(facts);
            out.grows_params = grown
                .iter()
                .filter_map(|(f, k)| {
                    let i = u8::try_from(*k).ok()?;
                    Some((f.clone(), i, bounded.contains(&(f.clone(), *k))))
                })
                .collect();
            out.grows_params.sort();
            out.lent = lent_args(facts);
            for g in &facts.events {
                let (p, kind) = match &g.kind {
                    EventKind::Grow { place } => (place, SizeKind::Grow),
                    EventKind::Shrink { place } => (place, SizeKind::Shrink),
                    EventKind::SizeCheck { place } => (place, SizeKind::SizeCheck),
                    _ => continue,
                };
                if let Some(name) = crate::facts::place_name(&facts.resolve(p), facts) {
                    let grow = kind == SizeKind::Grow;
                    out.size_events.push(SizeEvent {
                        name,
                        kind,
                        repeated: grow && super::unbounded_collection::grows_repeatedly(facts, g),
                        span: g.span.clone(),
                        stmt: g.stmt.clone(),
                        scope: if grow {
                            super::describe_scope(facts, g.scope)
                        } else {
                            String::new()
                        },
                        subscribes: grow
                            && facts.scopes[super::named_owner(facts, g.scope)]
                                .name
                                .as_deref()
                                .is_some_and(super::unremoved_listener::is_subscribe_name),
                    });
                }
            }
        } else {
            for (b, binding) in facts.bindings.iter().enumerate() {
                if let BindingKind::Import { source, imported } = &binding.kind {
                    out.imports
                        .push((b, source.as_str().into(), imported.as_str().into()));
                }
            }
        }
        out
    }
}

/// Positions in the project: (file index, index in one of the file's input lists), by name.
type ByName<K> = HashMap<K, Vec<(usize, usize)>>;

/// The file's summary as the project keeps it: the call sites that cross files (imports) are
/// all the propagation reads (the others did their work inside the file), and no list keeps
/// the slack it grew with.
fn kept_summary(facts: &FileFacts, src: &str) -> FileSummary {
    let mut s = FileSummary::build(facts, src);
    s.call_sites
        .retain(|c| matches!(c.callee, crate::summaries::Callee::Imported { .. }));
    s.call_sites.shrink_to_fit();
    s.functions.shrink_to_fit();
    for f in &mut s.functions {
        f.acquires.shrink_to_fit();
        f.releases.shrink_to_fit();
    }
    s.classes.shrink_to_fit();
    s
}

/// The project-wide tables the rules join files through, each built on first use.
#[derive(Default)]
pub struct Joins<'a> {
    pub(super) summaries: OnceLock<crate::summaries::ProjectSummaries>,
    long_lived: OnceLock<HashSet<String>>,
    module_instances: OnceLock<HashSet<String>>,
    constructions: OnceLock<super::constructions::Constructions<'a>>,
    paced: OnceLock<HashSet<CallArg>>,
    field_sends: OnceLock<HashMap<String, (u32, u32)>>,
    size_events: OnceLock<HashMap<String, Vec<(usize, SizeEvent)>>>,
    importers: OnceLock<ByName<Box<str>>>,
}

impl<'a> ProjectCtx<'a> {
    /// Type names whose values live for the process, project-wide.
    pub fn long_lived_types(&self) -> &HashSet<String> {
        self.joins.long_lived.get_or_init(|| {
            self.files
                .iter()
                .flat_map(|f| f.inputs.long_lived.iter().cloned())
                .collect()
        })
    }

    /// Classes instantiated at module level somewhere in the project (they live for the
    /// process).
    pub fn module_instances(&self) -> &HashSet<String> {
        self.joins.module_instances.get_or_init(|| {
            self.files
                .iter()
                .flat_map(|f| f.inputs.module_instances.iter().cloned())
                .collect()
        })
    }

    /// Who hands what to constructors, project-wide.
    pub fn constructions(&self) -> &super::constructions::Constructions<'a> {
        self.joins
            .constructions
            .get_or_init(|| super::constructions::Constructions::build(self))
    }

    /// Rust: parameters (of any file's functions) through which sends are paced by replies.
    pub fn paced_sender_params(&self) -> &HashSet<CallArg> {
        self.joins.paced.get_or_init(|| {
            self.files
                .iter()
                .flat_map(|f| f.inputs.paced_sender_params.iter().cloned())
                .collect()
        })
    }

    /// Rust: whether every send on field `field` of struct `owner`, project-wide, awaits a
    /// reply (sends through `self` in `impl owner`, and through other values by field name
    /// alone): a sender kept there is paced by its callers.
    pub fn field_sends_replied(&self, owner: &str, field: &str) -> bool {
        let totals = self.joins.field_sends.get_or_init(|| {
            // Keyed `owner.field` for sends through `self`, `.field` for any other value.
            let mut m: HashMap<String, (u32, u32)> = HashMap::new();
            for f in self.files {
                for s in &f.inputs.field_sends {
                    let key = format!("{}.{}", s.owner.as_deref().unwrap_or(""), s.field);
                    let c = m.entry(key).or_default();
                    c.0 += s.sends;
                    c.1 += s.replied;
                }
            }
            m
        });
        let (mut sends, mut replied) = (0, 0);
        for key in [format!("{owner}.{field}"), format!(".{field}")] {
            if let Some((s, r)) = totals.get(&key) {
                sends += s;
                replied += r;
            }
        }
        sends > 0 && sends == replied
    }

    /// Rust: the size events of every file on collections named `name`, in file and event
    /// order, with their file.
    pub fn size_events(
        &self,
        name: &str,
    ) -> impl Iterator<Item = (&'a super::ProjectFile, &SizeEvent)> {
        let index = self.joins.size_events.get_or_init(|| {
            let mut index: HashMap<String, Vec<(usize, SizeEvent)>> = HashMap::new();
            for (fi, f) in self.files.iter().enumerate() {
                for e in &f.inputs.size_events {
                    index
                        .entry(e.name.clone())
                        .or_default()
                        .push((fi, e.clone()));
                }
            }
            // Loans across files: `state::record(&mut log, ..)` grows `log` when `record` of
            // the module `state` grows its parameter (or bounds it, when it also shrinks it).
            let mut lent_to: HashMap<(&str, &str, u8), bool> = HashMap::new();
            for f in self.files.iter().filter(|f| f.is_rust) {
                let Some(module) = super::factory_callers::module_name(&f.path) else {
                    continue;
                };
                for (func, i, bounded) in &f.inputs.grows_params {
                    lent_to.insert((module, func.as_str(), *i), *bounded);
                }
            }
            for (fi, f) in self.files.iter().enumerate() {
                for l in &f.inputs.lent {
                    let mut segs = l.path.rsplit("::");
                    let (Some(func), Some(module)) = (segs.next(), segs.next()) else {
                        continue;
                    };
                    if let Some(&bounded) = lent_to.get(&(module, func, l.index)) {
                        let mut g = l.growth.clone();
                        if bounded {
                            g.kind = SizeKind::SizeCheck;
                        }
                        index.entry(g.name.clone()).or_default().push((fi, g));
                    }
                }
            }
            index
        });
        let files = self.files;
        index
            .get(name)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(move |(fi, e)| (&files[*fi], e))
    }

    /// Files that import `name` (TypeScript), with the importing binding and the module named.
    pub fn importers(
        &self,
        name: &str,
    ) -> impl Iterator<Item = (&'a super::ProjectFile, BindingId, &'a str)> {
        let index = self.joins.importers.get_or_init(|| {
            let mut index: ByName<Box<str>> = HashMap::new();
            for (fi, f) in self.files.iter().enumerate() {
                for (ii, (_, _, imported)) in f.inputs.imports.iter().enumerate() {
                    index.entry(imported.clone()).or_default().push((fi, ii));
                }
            }
            index
        });
        let files = self.files;
        index
            .get(name)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(move |&(fi, ii)| {
                let (b, source, _) = &files[fi].inputs.imports[ii];
                (&files[fi], *b, &**source)
            })
    }
}
