//! Who hands what to constructors, across the project (TypeScript): for each class name, the
//! `new C(…)` sites and which argument positions receive an object shared beyond the new
//! instance. An object given to a constructor is owned one-to-one by default (the request's
//! socket handed to its transport, the connection just opened handed to its wrapper); it is
//! shared when a construction site passes something that outlives the instance: a module-level
//! binding or import, a global, or the constructing object's own field (or itself) from code
//! that runs more than once per that object.

use std::collections::HashMap;

use super::*;
use crate::facts::{BindingKind, CallbackKind, Event};

/// Globals whose listeners outlive any object.
pub const GLOBALS: &[&str] = &[
    "process",
    "window",
    "document",
    "globalThis",
    "global",
    "self",
];

/// One `new C(…)` site: per argument, why it is shared (`None` when it is not), and which
/// arguments are the literal `false`.
#[derive(Debug, Clone, Hash, serde::Serialize, serde::Deserialize)]
pub struct Site {
    args: Vec<Option<String>>,
    off: Vec<u8>,
}

/// The construction sites of one file (TypeScript), by the class's name as written last: a
/// file's part of [`Constructions`], made while its facts are live.
pub fn file_sites(facts: &FileFacts, src: &str) -> Vec<(String, Site)> {
    let mut out = Vec::new();
    if facts.is_rust {
        return out;
    }
    for e in &facts.events {
        let EventKind::Construct { class, args } = &e.kind else {
            continue;
        };
        let name = class.rsplit('.').next().unwrap_or(class);
        let args = args
            .iter()
            .map(|a| {
                shared_arg(facts, src, e, &facts.resolve(a)).map(|why| {
                    format!(
                        "`new {name}(…)` in {} hands it {why}",
                        describe_scope(facts, named_owner(facts, e.scope))
                    )
                })
            })
            .collect();
        let off = facts
            .false_args
            .iter()
            .filter(|(span, _)| *span == e.span)
            .map(|&(_, i)| i)
            .collect();
        out.push((name.to_string(), Site { args, off }));
    }
    out
}

/// The construction sites of the project, by the class's name as written last
/// (`new ns.Session(…)` counts for `Session`).
pub struct Constructions<'a> {
    by_class: HashMap<&'a str, Vec<&'a Site>>,
}

impl<'a> Constructions<'a> {
    pub fn build(ctx: &ProjectCtx<'a>) -> Constructions<'a> {
        let mut by_class: HashMap<&str, Vec<&Site>> = HashMap::new();
        for f in ctx.files {
            for (name, site) in &f.inputs.constructions {
                by_class.entry(name.as_str()).or_default().push(site);
            }
        }
        Constructions { by_class }
    }

    /// Why the `index`-th constructor argument of `class` is shared, from the first site that
    /// shares it; `None` when no site in the project does (or none is seen).
    pub fn shared_param(&self, class: &str, index: usize) -> Option<&str> {
        self.shared_param_unless(class, index, &[])
    }

    /// As [`Constructions::shared_param`], leaving out the sites that pass the literal `false`
    /// at one of the positions `off`: a registration guarded by a flag the constructor takes
    /// from there (`if (this.ownsConnection)`) does not happen for the instances those sites
    /// make.
    pub fn shared_param_unless(&self, class: &str, index: usize, off: &[usize]) -> Option<&str> {
        self.by_class
            .get(class)?
            .iter()
            .filter(|s| !s.off.iter().any(|&i| off.contains(&usize::from(i))))
            .find_map(|s| s.args.get(index)?.as_deref())
    }
}

/// Why the argument at a construction site is shared with more than the new instance.
fn shared_arg(facts: &FileFacts, src: &str, site: &Event, arg: &Place) -> Option<String> {
    let lifetime = event_lifetime(facts, site.scope, site.in_loop);
    // A construction that runs once makes one instance: nothing piles up on what it is given.
    if lifetime == Lifetime::Once {
        return None;
    }
    let root = root_place(arg);
    match root {
        Place::Global(g) if GLOBALS.contains(&g.as_str()) => Some(format!("the global `{g}`")),
        Place::Binding(b) if facts.is_module_binding(*b) => {
            let b = &facts.bindings[*b];
            if matches!(b.kind, BindingKind::Function(_) | BindingKind::Class(_))
                || reassigned_before(facts, src, site, root)
            {
                return None;
            }
            Some(format!("module-level `{}`", b.name))
        }
        // The constructing object's own field, or itself: shared when this construction runs
        // more than once per that object (a method, a handler), not once in its constructor —
        // unless a method fills the field with a fresh object (`connect() { this.netClient =
        // new net.Socket() … this.bindSocketListeners() }`): each construction is handed the
        // object of that run, one instance per socket.
        Place::Field { .. } if refilled_fresh(facts, root) => None,
        Place::Field { .. } | Place::This(Some(_)) if lifetime != Lifetime::PerInstance => {
            Some(format!(
                "`{}` from code that runs more than once for it",
                place_text(facts, arg)
            ))
        }
        _ => None,
    }
}

/// A method other than the constructor stores a fresh object (`new X(…)`) in `field`.
fn refilled_fresh(facts: &FileFacts, field: &Place) -> bool {
    facts.events_on(field).any(|x| {
        matches!(x.kind, EventKind::New { .. })
            && !matches!(
                facts.scopes[named_owner(facts, x.scope)].kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            )
    })
}

/// `slot = make()` earlier in the function that constructs: the instance gets this run's
/// value, not one shared across runs (a module-level `let` reused as a scratch slot).
fn reassigned_before(facts: &FileFacts, src: &str, site: &Event, slot: &Place) -> bool {
    let Place::Binding(b) = slot else {
        return false;
    };
    let name = &facts.bindings[*b].name;
    facts.events_on(slot).any(|r| {
        matches!(r.kind, EventKind::Shrink { .. })
            && r.scope == site.scope
            && r.span.end <= site.span.start
            && src.get(r.span.clone()).is_some_and(|t| {
                t.strip_prefix(name.as_str())
                    .map(str::trim_start)
                    .is_some_and(|rest| rest.starts_with('=') && !rest.starts_with("=="))
            })
    })
}

/// The root of a member path: `this.session.events` → `this.session`.
pub fn root_place(p: &Place) -> &Place {
    match p {
        Place::Member { base, .. } => root_place(base),
        other => other,
    }
}

/// When `e` runs once per construction of a class (in its constructor, or in a method only
/// the constructor reaches — `constructor() { this._init() }`, which `lifetime`, the event's
/// project-wide rhythm, says —, outside any handler) and `target` is what the constructor was
/// handed (a parameter, or a field set from one): the class and the parameter's position.
pub fn constructor_param(
    facts: &FileFacts,
    e: &Event,
    lifetime: Lifetime,
    target: &Place,
) -> Option<(ClassId, usize)> {
    let mut ctor = None;
    for s in facts.ancestors(e.scope) {
        match &facts.scopes[s].kind {
            ScopeKind::Method {
                constructor: true, ..
            } => {
                ctor = Some(s);
                break;
            }
            // A method whose every run is one construction's: its class's constructor stands
            // for it. Only fields reach it (the constructor's parameters are not in scope).
            ScopeKind::Method { .. }
                if !e.in_loop
                    && s == e.scope
                    && lifetime == Lifetime::PerInstance
                    && matches!(root_place(target), Place::Field { .. }) =>
            {
                let class = facts.scopes[s].class?;
                ctor = facts.scopes.iter().position(|c| {
                    c.class == Some(class)
                        && matches!(
                            c.kind,
                            ScopeKind::Method {
                                constructor: true,
                                ..
                            }
                        )
                });
                break;
            }
            ScopeKind::Callback(r)
                if matches!(
                    r.kind,
                    CallbackKind::EventHandler | CallbackKind::Route | CallbackKind::Interval
                ) =>
            {
                return None;
            }
            ScopeKind::Method { .. } | ScopeKind::Function | ScopeKind::Module => return None,
            ScopeKind::Callback(_) => {}
        }
    }
    let ctor = ctor?;
    let class = facts.scopes[ctor].class?;
    let index = match root_place(target) {
        Place::Binding(b) => {
            let b = &facts.bindings[*b];
            if b.kind != BindingKind::Param || b.scope != ctor {
                return None;
            }
            facts.scopes[ctor]
                .params
                .iter()
                .position(|p| *p == b.name)?
        }
        Place::Field { class: c, name } if *c == class => field_param(facts, ctor, class, name)?,
        _ => return None,
    };
    Some((class, index))
}

/// The position of the constructor parameter that `this.name` of `class` was set from, looking
/// in the class's constructor.
pub fn injected_field_param(facts: &FileFacts, class: ClassId, name: &str) -> Option<usize> {
    let ctor = facts.scopes.iter().position(|s| {
        s.class == Some(class)
            && matches!(
                s.kind,
                ScopeKind::Method {
                    constructor: true,
                    ..
                }
            )
            && !s.params.is_empty()
    })?;
    field_param(facts, ctor, class, name)
}

/// `this.name = param` (or `= param.y`) in the constructor `ctor`, or `constructor(private
/// name)`: the parameter's position.
fn field_param(facts: &FileFacts, ctor: ScopeId, class: ClassId, name: &str) -> Option<usize> {
    let params = &facts.scopes[ctor].params;
    let from_flow = facts.events.iter().find_map(|f| {
        let EventKind::Flow { from, to } = &f.kind else {
            return None;
        };
        if !facts.is_within(f.scope, ctor)
            || facts.resolve(to)
                != (Place::Field {
                    class,
                    name: name.to_string(),
                })
        {
            return None;
        }
        match root_place(&facts.resolve(from)) {
            Place::Binding(b)
                if facts.bindings[*b].kind == BindingKind::Param
                    && facts.bindings[*b].scope == ctor =>
            {
                Some(facts.bindings[*b].name.clone())
            }
            _ => None,
        }
    });
    let param_name = from_flow.or_else(|| params.iter().find(|p| *p == name).cloned())?;
    params.iter().position(|p| *p == param_name)
}

/// The constructor parameters that decide whether registration `e` of `class` happens: `e`
/// (or every `this.m()` call of the method holding it) sits in an `if (this.x)` of its
/// function, and the constructor sets `this.x` from that parameter (`if (this.ownsConnection)
/// this.forwardConnectionEvents()`). Sites passing the literal `false` there register nothing.
pub fn guard_params(facts: &FileFacts, e: &Event, class: crate::facts::ClassId) -> Vec<usize> {
    let flags_at = |span: &std::ops::Range<usize>| -> Vec<&str> {
        facts
            .flag_guards
            .iter()
            .filter(|(s, _)| s == span)
            .map(|(_, f)| f.as_str())
            .collect()
    };
    let mut flags = flags_at(&e.span);
    // The method's own callers: the flags every `this.m()` call sits under.
    let m = named_owner(facts, e.scope);
    let ms = &facts.scopes[m];
    if ms.class == Some(class)
        && matches!(ms.kind, ScopeKind::Method { .. })
        && let Some(name) = ms.name.as_deref()
    {
        let calls: Vec<Vec<&str>> = facts
            .events
            .iter()
            .filter(|c| {
                matches!(&c.kind, EventKind::Call { callee } if matches!(facts.resolve(callee),
                    Place::Field { class: k, name: n } if k == class && n == name))
            })
            .map(|c| flags_at(&c.span))
            .collect();
        if let Some((first, rest)) = calls.split_first() {
            flags.extend(first.iter().filter(|f| rest.iter().all(|r| r.contains(f))));
        }
    }
    flags
        .into_iter()
        .filter_map(|f| injected_field_param(facts, class, f))
        .collect()
}
