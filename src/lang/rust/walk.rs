//! The walker's bookkeeping: scopes, bindings, the `use` map, the places expressions denote,
//! and values flowing to places (through `Some(..)`, `Arc::new(..)`, `?`, `.await`).

use std::collections::HashMap;
use std::ops::Range;
use std::time::Instant;

use syn::visit::Visit;
use syn::{Expr, FnArg, Pat, UseTree};

use super::spans::{Ranged, span_range};
use super::syntax::{arc_type, path_text};
use super::{Shape, Walker};
use crate::facts::*;

/// Calls that only look through a wrapper to the value inside.
const LOOK_THROUGH: &[&str] = &[
    "lock",
    "read",
    "write",
    "borrow",
    "borrow_mut",
    "unwrap",
    "expect",
    "as_mut",
    "as_ref",
    "get_mut",
    "entry",
    "deref",
    "deref_mut",
];

impl Walker {
    pub(super) fn new(src: &str) -> Walker {
        let mut facts = FileFacts::default();
        facts.is_rust = true;
        facts.add_scope(Scope::new(ScopeKind::Module, None, 0..src.len()));
        Walker {
            mentions_tracing: src.contains("tracing::"),
            broadcast_rx: Default::default(),
            names_broadcast: src.contains("broadcast"),
            mentions_log: src.contains("log::"),
            spawn_calls: HashMap::new(),
            guards: HashMap::new(),
            len_locals: HashMap::new(),
            cache_places: Vec::new(),
            next_spawn_call: None,
            facts,
            scope: 0,
            class: None,
            in_loop: false,
            loop_span: None,
            stmt: None,
            uses: HashMap::new(),
            loops: Vec::new(),
            shapes: vec![(0, Shape::default())],
            done_shapes: HashMap::new(),
            pending: Vec::new(),
            async_locals: HashMap::new(),
            lazy_init: 0,
            unsafe_depth: 0,
            deadline: None,
            ticks: 0,
            timed_out: false,
        }
    }

    /// Out of time? Then the walk stops descending and the file is reported as timed out.
    pub(super) fn out_of_time(&mut self) -> bool {
        if self.timed_out {
            return true;
        }
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % 256 == 0
            && let Some(d) = self.deadline
            && Instant::now() > d
        {
            self.timed_out = true;
        }
        self.timed_out
    }

    /// Expands the first segment through the `use` map: `spawn` → `tokio::spawn`.
    pub(super) fn full_path(&self, p: &syn::Path) -> String {
        let text = path_text(p);
        let mut segs = text.splitn(2, "::");
        let first = segs.next().unwrap_or("");
        let rest = segs.next();
        match self.uses.get(first) {
            Some(full) => match rest {
                Some(r) => format!("{full}::{r}"),
                None => full.clone(),
            },
            None => text,
        }
    }

    pub(super) fn event(&mut self, kind: EventKind, span: Range<usize>) -> usize {
        let stmt = match &self.stmt {
            Some(s) if s.start <= span.start && span.end <= s.end => s.clone(),
            _ => span.clone(),
        };
        self.facts.events.push(Event {
            hint: None,
            stmt,
            kind,
            span,
            scope: self.scope,
            in_loop: self.in_loop,
            loop_span: self.loop_span.clone(),
            conditional: false,
            // Rust has no `finally`: drop glue and `?` make paths a later refinement, so a
            // release anywhere in the owner counts as on every path.
            path: PathKind::Finally,
        });
        self.facts.events.len() - 1
    }

    pub(super) fn declare(&mut self, name: &str, kind: BindingKind, span: Range<usize>) {
        self.facts.add_binding(name, self.scope, kind, span);
    }

    pub(super) fn declare_pat(&mut self, pat: &Pat) {
        match pat {
            Pat::Ident(i) => {
                let name = i.ident.to_string();
                self.declare(&name, BindingKind::Var, span_range(i.ident.span()));
                if let Some((_, sub)) = &i.subpat {
                    self.declare_pat(sub);
                }
            }
            Pat::Tuple(t) => t.elems.iter().for_each(|p| self.declare_pat(p)),
            Pat::TupleStruct(t) => t.elems.iter().for_each(|p| self.declare_pat(p)),
            Pat::Struct(s) => s.fields.iter().for_each(|f| self.declare_pat(&f.pat)),
            Pat::Type(t) => self.declare_pat(&t.pat),
            Pat::Reference(r) => self.declare_pat(&r.pat),
            Pat::Slice(s) => s.elems.iter().for_each(|p| self.declare_pat(p)),
            Pat::Or(o) => {
                if let Some(p) = o.cases.first() {
                    self.declare_pat(p);
                }
            }
            Pat::Paren(p) => self.declare_pat(&p.pat),
            _ => {}
        }
    }

    /// The single identifier a pattern binds (`h`, `Some(h)`, `mut h`), if any.
    pub(super) fn pat_name(pat: &Pat) -> Option<String> {
        match pat {
            Pat::Ident(i) => Some(i.ident.to_string()),
            Pat::TupleStruct(t) if t.elems.len() == 1 => t.elems.first().and_then(Self::pat_name),
            Pat::Type(t) => Self::pat_name(&t.pat),
            Pat::Reference(r) => Self::pat_name(&r.pat),
            Pat::Paren(p) => Self::pat_name(&p.pat),
            _ => None,
        }
    }

    /// The place an expression denotes, looking through `.lock()`, `.unwrap()`, `&`, `*`, `?`.
    pub(super) fn place_of(&self, e: &Expr) -> PlaceRef {
        match e {
            Expr::Path(p) if p.qself.is_none() => {
                let t = path_text(&p.path);
                if t == "self" {
                    PlaceRef::This { class: self.class }
                } else if p.path.segments.len() == 1 {
                    match self.guards.get(&t) {
                        Some((place, scope)) if self.facts.is_within(self.scope, *scope) => {
                            place.clone()
                        }
                        _ => PlaceRef::Name {
                            name: t,
                            scope: self.scope,
                            at: At::default(),
                        },
                    }
                } else {
                    PlaceRef::Unknown
                }
            }
            Expr::Field(f) => {
                let name = match &f.member {
                    syn::Member::Named(i) => i.to_string(),
                    syn::Member::Unnamed(i) => i.index.to_string(),
                };
                match self.place_of(&f.base) {
                    PlaceRef::This { class: Some(c) } => PlaceRef::Field { class: c, name },
                    PlaceRef::Unknown => PlaceRef::Unknown,
                    base => PlaceRef::Member {
                        base: Box::new(base),
                        name,
                    },
                }
            }
            Expr::MethodCall(m) if LOOK_THROUGH.contains(&m.method.to_string().as_str()) => {
                self.place_of(&m.receiver)
            }
            Expr::Await(a) => self.place_of(&a.base),
            Expr::Try(t) => self.place_of(&t.expr),
            Expr::Reference(r) => self.place_of(&r.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.place_of(&u.expr),
            Expr::Paren(p) => self.place_of(&p.expr),
            Expr::Group(g) => self.place_of(&g.expr),
            _ => PlaceRef::Unknown,
        }
    }

    /// `name` is a local variable or parameter visible here (not a fn item): calling it calls
    /// a value, such as a callback. (The name index is built after the walk, so search.)
    pub(super) fn is_local_value(&self, name: &str) -> bool {
        self.facts.bindings.iter().rev().any(|b| {
            b.name == name
                && b.kind == BindingKind::Var
                && b.scope != 0
                && self.facts.is_within(self.scope, b.scope)
        })
    }

    pub(super) fn shape_mut(&mut self) -> &mut Shape {
        &mut self.shapes.last_mut().expect("module shape").1
    }

    /// Opens a function-like scope and walks `body` in it.
    pub(super) fn scoped(
        &mut self,
        kind: ScopeKind,
        name: Option<String>,
        span: Range<usize>,
        is_async: bool,
        class: Option<ClassId>,
        body: impl FnOnce(&mut Self),
    ) -> ScopeId {
        let id = self.facts.add_scope(Scope {
            name,
            class,
            in_loop: self.in_loop,
            is_async,
            ..Scope::new(kind, Some(self.scope), span)
        });
        let saved = (
            self.scope,
            self.class,
            self.in_loop,
            self.loop_span.take(),
            std::mem::take(&mut self.loops),
        );
        self.scope = id;
        self.class = class;
        self.in_loop = false;
        self.shapes.push((id, Shape::default()));
        body(self);
        if let Some((sid, shape)) = self.shapes.pop() {
            self.done_shapes.insert(sid, shape);
        }
        self.scope = saved.0;
        self.class = saved.1;
        self.in_loop = saved.2;
        self.loop_span = saved.3;
        self.loops = saved.4;
        id
    }

    pub(super) fn declare_inputs<'i>(&mut self, inputs: impl Iterator<Item = &'i FnArg>) {
        for arg in inputs {
            if let FnArg::Typed(t) = arg {
                // In order, `self` aside (`_` for a pattern): calls pass arguments by position.
                let name = Self::pat_name(&t.pat).unwrap_or_else(|| "_".into());
                self.facts.scopes[self.scope].params.push(name);
                self.declare_pat(&t.pat);
                if let Some(name) = Self::pat_name(&t.pat) {
                    self.note_receiver(&name, Some(&t.ty), None);
                }
                if let Some(ty) = arc_type(&t.ty) {
                    self.note_long_lived_type(&ty);
                }
            }
        }
    }

    /// `Arc<AppState>`, `State<Arc<AppState>>`: the inner type lives as long as its holders.
    pub(super) fn note_long_lived_type(&mut self, ty: &str) {
        let self_name = self
            .class
            .and_then(|c| self.facts.classes[c].name.clone())
            .unwrap_or_default();
        let ty = ty.replace("Arc<Self>", &format!("Arc<{self_name}>"));
        let mut rest = ty.as_str();
        while let Some(i) = rest.find("Arc<") {
            let inner = &rest[i + 4..];
            let name: String = inner
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let last = name.rsplit("::").next().unwrap_or("").to_string();
            if !last.is_empty() && !matches!(last.as_str(), "Mutex" | "RwLock" | "str") {
                self.facts.long_lived_types.push(last);
            }
            rest = inner;
        }
    }

    pub(super) fn class_id(&mut self, name: &str) -> ClassId {
        if let Some(i) = self
            .facts
            .classes
            .iter()
            .position(|c| c.name.as_deref() == Some(name))
        {
            return i;
        }
        self.facts.classes.push(Class {
            name: Some(name.to_string()),
            span: 0..0,
            body: 0..0,
            scope: 0,
            fields: Vec::new(),
            singleton: false,
        });
        self.facts.classes.len() - 1
    }

    /// Walks a value that goes to `place`, handling the constructs whose placement matters
    /// (spawns, clients, collections) and looking through `Some(..)`, `Arc::new(..)`, `?`.
    pub(super) fn value(&mut self, e: &Expr, place: PlaceRef) {
        if self.out_of_time() {
            return;
        }
        match e {
            Expr::Call(c) => {
                if let Expr::Path(p) = &*c.func {
                    let full = self.full_path(&p.path);
                    let last = full.rsplit("::").next().unwrap_or("");
                    if matches!(last, "Some" | "Ok" | "new" | "from")
                        && matches!(
                            full.as_str(),
                            "Some"
                                | "Ok"
                                | "Arc::new"
                                | "Box::new"
                                | "Mutex::new"
                                | "RwLock::new"
                                | "std::sync::Arc::new"
                                | "Rc::new"
                                | "RefCell::new"
                        )
                        && c.args.len() == 1
                        && let Some(inner) = c.args.first()
                    {
                        self.value(inner, place);
                        return;
                    }
                    // `Transport::Unix(client)`: a tuple variant or struct (named in
                    // UpperCamelCase) kept in `place` holds its fields, like a struct literal.
                    if last.starts_with(|ch: char| ch.is_ascii_uppercase()) {
                        self.held_in(c.args.iter(), &place);
                    }
                }
                self.call(c, place);
            }
            Expr::MethodCall(m) => {
                // `self.task.take()`: the handle moves out of the field into `place`.
                // `let client = builder.build(connector)`: what the builder was set up to make
                // is made here, so the client `Client::builder(..)` began is now in `place`.
                let moved_out = match m.method.to_string().as_str() {
                    "take" if m.args.is_empty() => Some(e),
                    "build" if matches!(&*m.receiver, Expr::Path(_)) => Some(&*m.receiver),
                    _ => None,
                };
                if let Some(from) = moved_out.and_then(|x| self.simple_place(x))
                    && matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. })
                {
                    self.event(
                        EventKind::Flow {
                            from,
                            to: place.clone(),
                        },
                        e.range(),
                    );
                }
                self.method_call(m, place)
            }
            // `Transport::Https { client }` (an enum variant, a struct of another file) kept
            // in `place`: what its fields hold is held by `place`, and dropped with it.
            Expr::Struct(s) if self.struct_class(s).is_none() => {
                self.held_in(s.fields.iter().map(|f| &f.expr), &place);
                self.visit_expr(e);
            }
            Expr::Paren(p) => self.value(&p.expr, place),
            Expr::Try(t) => self.value(&t.expr, place),
            Expr::Await(a) => self.value(&a.base, place),
            _ => {
                if let Some(from) = self.simple_place(e) {
                    if matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. }) {
                        self.event(EventKind::Flow { from, to: place }, e.range());
                    } else if matches!(place, PlaceRef::Returned(_) | PlaceRef::Argument) {
                        // Handed to the caller or a callee: judged there.
                        self.event(EventKind::Escape { place: from }, e.range());
                    }
                }
                self.visit_expr(e);
            }
        }
    }

    /// The locals and fields among `parts` (of a struct literal or tuple variant kept in
    /// `place`) are now held by `place` too.
    fn held_in<'e>(&mut self, parts: impl Iterator<Item = &'e Expr>, place: &PlaceRef) {
        if !matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. }) {
            return;
        }
        for part in parts {
            if let Some(from) = self.simple_place(part) {
                self.event(
                    EventKind::Flow {
                        from,
                        to: place.clone(),
                    },
                    part.range(),
                );
            }
        }
    }

    /// Where a `let` pattern puts its value: a local, nowhere (`_`), or somewhere unfollowed.
    pub(super) fn bound_place(&self, pat: &syn::Pat) -> PlaceRef {
        if matches!(pat, syn::Pat::Wild(_)) {
            return PlaceRef::Discarded;
        }
        match Walker::pat_name(pat) {
            Some(name) if name == "_" => PlaceRef::Discarded,
            Some(name) => PlaceRef::Name {
                name,
                scope: self.scope,
                at: At::default(),
            },
            None => PlaceRef::Unknown,
        }
    }

    /// The struct of the file a struct literal builds (`Self { .. }`, `Docker { .. }`), if
    /// any: `None` for an enum variant or a type declared elsewhere.
    pub(super) fn struct_class(&self, s: &syn::ExprStruct) -> Option<ClassId> {
        match s.path.segments.last()?.ident.to_string().as_str() {
            "Self" => self.class,
            name => self
                .facts
                .classes
                .iter()
                .position(|c| c.name.as_deref() == Some(name)),
        }
    }

    /// A place expression worth following (`h`, `self.task`, `self.task.take()`).
    pub(super) fn simple_place(&self, e: &Expr) -> Option<PlaceRef> {
        let e = match e {
            Expr::MethodCall(m) if m.method == "take" && m.args.is_empty() => &*m.receiver,
            other => other,
        };
        let p = self.place_of(e);
        matches!(p, PlaceRef::Name { .. } | PlaceRef::Field { .. }).then_some(p)
    }

    pub(super) fn record_use(&mut self, tree: &UseTree, prefix: &str) {
        let join = |p: &str, s: &str| {
            if p.is_empty() {
                s.to_string()
            } else {
                format!("{p}::{s}")
            }
        };
        match tree {
            UseTree::Path(p) => self.record_use(
                &p.tree,
                &join(prefix, &super::syntax::unraw(p.ident.to_string())),
            ),
            UseTree::Name(n) => {
                let name = super::syntax::unraw(n.ident.to_string());
                if name == "self" {
                    if let Some(last) = prefix.rsplit("::").next() {
                        self.uses.insert(last.to_string(), prefix.to_string());
                    }
                } else {
                    self.uses.insert(name.clone(), join(prefix, &name));
                }
            }
            UseTree::Rename(r) => {
                self.uses.insert(
                    super::syntax::unraw(r.rename.to_string()),
                    join(prefix, &super::syntax::unraw(r.ident.to_string())),
                );
            }
            UseTree::Group(g) => {
                for t in &g.items {
                    self.record_use(t, prefix);
                }
            }
            UseTree::Glob(_) => {}
        }
    }

    /// A collection-typed declaration (`HashMap<..>` behind `Mutex`/`RwLock`/`Arc`).
    pub(super) fn collection_kind(ty: &str) -> Option<CollectionKind> {
        let mut t = ty;
        loop {
            let stripped = [
                "Mutex<",
                "RwLock<",
                "Arc<",
                "RefCell<",
                "tokio::sync::Mutex<",
                "std::sync::Mutex<",
                "tokio::sync::RwLock<",
                "std::sync::RwLock<",
                "LazyLock<",
                "Lazy<",
                "OnceLock<",
                "parking_lot::Mutex<",
                "parking_lot::RwLock<",
                "std::sync::LazyLock<",
            ]
            .iter()
            .find_map(|w| t.strip_prefix(w));
            match stripped {
                Some(rest) => t = rest,
                None => break,
            }
        }
        let head: String = t
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let last = head.rsplit("::").next().unwrap_or("");
        Some(match last {
            "HashMap" | "BTreeMap" | "DashMap" | "IndexMap" => CollectionKind::Map,
            "HashSet" | "BTreeSet" | "DashSet" | "IndexSet" => CollectionKind::Set,
            "Vec" | "VecDeque" => CollectionKind::Array,
            _ => return None,
        })
    }
}

/// Methods that hand out a guard to the value behind a lock or cell.
const GUARDS: &[&str] = &[
    "lock",
    "read",
    "write",
    "borrow_mut",
    "try_lock",
    "blocking_lock",
];

impl Walker {
    /// `let g = <place>.lock().unwrap();` binds a guard of `<place>`: remember it so that
    /// `g.insert(..)`/`g.drain(..)` count on the place. Any other `let` of the name forgets it.
    ///
    /// An entry of a map (`let e = map.entry(k)`, `if let Occupied(e) = map.entry(k)`) is a
    /// handle on the map too: `e.remove()` shrinks it. What `.or_default()` hands back is the
    /// value inside, not the map. Another name for a guard (`let e = entry;`) is the same guard.
    pub(super) fn bind_guard(&mut self, name: &str, init: &Expr) {
        let mut e = init;
        let mut guarded = match init {
            Expr::MethodCall(m) => m.method == "entry",
            Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|i| self.guards.contains_key(&i.to_string())),
            _ => false,
        };
        loop {
            match e {
                Expr::MethodCall(m) => {
                    let method = m.method.to_string();
                    if GUARDS.contains(&method.as_str()) {
                        guarded = true;
                    } else if !matches!(method.as_str(), "unwrap" | "expect") {
                        break;
                    }
                    e = &m.receiver;
                }
                Expr::Await(a) => e = &a.base,
                Expr::Try(t) => e = &t.expr,
                _ => break,
            }
        }
        let place = if guarded {
            self.place_of(init)
        } else {
            self.shared_handle_of(init).unwrap_or(PlaceRef::Unknown)
        };
        if matches!(
            place,
            PlaceRef::Field { .. } | PlaceRef::Name { .. } | PlaceRef::Member { .. }
        ) {
            self.guards.insert(name.to_string(), (place, self.scope));
        } else {
            self.guards.remove(name);
        }
        let sized = len_call(init).map(|m| self.place_of(&m.receiver));
        match sized {
            Some(p) if !matches!(p, PlaceRef::Unknown) => {
                self.len_locals.insert(name.to_string(), (p, self.scope));
            }
            _ => {
                self.len_locals.remove(name);
            }
        }
    }

    /// `Arc::clone(&P)`, `Rc::clone(&P)`, or `P.clone()` of a field declared `Arc<..>`/`Rc<..>`
    /// (or of a member whose type is not known here): another handle on the same collection,
    /// so growth and shrinking through it count on `P` (`let pending = Arc::clone(&self.pending);
    /// spawn(async move { pending.lock().unwrap().remove(&k) })`).
    fn shared_handle_of(&self, init: &Expr) -> Option<PlaceRef> {
        let of = match init {
            Expr::Call(c) if c.args.len() == 1 => {
                let Expr::Path(f) = &*c.func else { return None };
                let f = path_text(&f.path);
                if !(f.ends_with("Arc::clone") || f.ends_with("Rc::clone")) {
                    return None;
                }
                self.place_of(c.args.first()?)
            }
            // The handle itself, not what a lock guards (`x.lock().unwrap().clone()` copies).
            Expr::MethodCall(m)
                if m.method == "clone"
                    && m.args.is_empty()
                    && matches!(&*m.receiver, Expr::Field(_) | Expr::Path(_)) =>
            {
                let p = self.place_of(&m.receiver);
                let shared = match &p {
                    PlaceRef::Field { class, name } => self.facts.classes[*class]
                        .fields
                        .iter()
                        .find(|f| f.name == *name)
                        .and_then(|f| f.ty.as_deref())
                        .is_some_and(|t| t.starts_with("Arc<") || t.starts_with("Rc<")),
                    PlaceRef::Member { .. } => true,
                    _ => false,
                };
                if !shared {
                    return None;
                }
                p
            }
            _ => return None,
        };
        matches!(of, PlaceRef::Field { .. } | PlaceRef::Member { .. }).then_some(of)
    }

    /// The name a pattern binds from `scrutinee` (`Occupied(e)`, `Ok(mut g)`, `e`), as a guard
    /// when the scrutinee is one ([`Walker::bind_guard`]).
    pub(super) fn bind_pattern_guard(&mut self, pat: &Pat, scrutinee: &Expr) {
        if let Some(name) = Self::pat_name(pat) {
            self.bind_guard(&name, scrutinee);
        }
    }

    /// The collection whose size `e` is: `x.len()`, `x.is_empty()`, or a local bound to one.
    pub(super) fn size_of(&self, e: &Expr) -> Option<PlaceRef> {
        if let Some(m) = len_call(e) {
            let p = self.place_of(&m.receiver);
            return (!matches!(p, PlaceRef::Unknown)).then_some(p);
        }
        let Expr::Path(p) = e else { return None };
        let name = p.path.get_ident()?.to_string();
        let (place, scope) = self.len_locals.get(&name)?;
        self.facts
            .is_within(self.scope, *scope)
            .then(|| place.clone())
    }
}

/// `x.len()` or `x.is_empty()`, looking through `+`/`-` arithmetic and parentheses.
pub(super) fn len_call(e: &Expr) -> Option<&syn::ExprMethodCall> {
    match e {
        Expr::MethodCall(m) if m.method == "len" || m.method == "is_empty" => Some(m),
        Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_) | syn::BinOp::Sub(_)) => {
            len_call(&b.left).or_else(|| len_call(&b.right))
        }
        Expr::Paren(p) => len_call(&p.expr),
        _ => None,
    }
}
