//! Task handles kept in a field of a type that never stops them: `self.f = tokio::spawn(..)`
//! (or a value built around the handle: `Inner::Future(handle)`, `Some(handle)`, a struct
//! literal's field) in an `impl T`, where `T` has no `Drop` impl and no method of `T` aborts or
//! awaits anything through that field. Dropping a `T` then detaches the task with everything it
//! holds (tower 0.4.6's `SpawnReady` kept `svc.ready_oneshot()`'s handle this way). After the
//! main pass, the spawn's neutral event becomes an [`EventKind::KeptTask`].

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use syn::Expr;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::spans::span_range;
use crate::facts::*;

pub(super) fn mark(file: &syn::File, facts: &mut FileFacts) {
    // Only spawns the main pass saw and left neutral (not judged as a timer).
    let neutral: HashSet<usize> = facts
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Escape { .. }))
        .map(|e| e.span.start)
        .collect();
    if neutral.is_empty() {
        return;
    }
    let mut impls = Impls::default();
    impls.visit_file(file);
    let uses: HashMap<&String, FieldUses> = impls
        .bodies
        .iter()
        .map(|(owner, blocks)| {
            let mut u = FieldUses {
                owner: owner.clone(),
                ..FieldUses::default()
            };
            for (i, b) in blocks.iter().enumerate() {
                u.func = i;
                u.visit_block(b);
            }
            (owner, u)
        })
        .collect();
    let mut found: Vec<(usize, String, String, String)> = Vec::new();
    for u in uses.values() {
        for (func, start, api, local) in &u.spawns {
            if !neutral.contains(start) {
                continue;
            }
            // The innermost store holding the spawn or its handle's local.
            let store = u
                .stores
                .iter()
                .filter(|st| {
                    st.func == *func
                        && (st.range.contains(start)
                            || local.as_ref().is_some_and(|l| st.mentions.contains(l)))
                })
                .min_by_key(|st| st.range.len());
            let Some(Store { owner, field, .. }) = store else {
                continue;
            };
            // Only a type declared here, with no `Drop` impl, and no method of its own that
            // aborts or awaits the handle through that field.
            if !impls.structs.contains(owner)
                || impls.drops.contains(owner)
                || uses.get(owner).is_some_and(|o| o.stopped.contains(field))
            {
                continue;
            }
            found.push((*start, api.clone(), owner.clone(), field.clone()));
        }
    }
    for (start, api, owner, field) in found {
        for e in facts.events.iter_mut() {
            if e.span.start == start && matches!(e.kind, EventKind::Escape { .. }) {
                e.kind = EventKind::KeptTask {
                    api: api.clone(),
                    owner: owner.clone(),
                    field: field.clone(),
                };
            }
        }
    }
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Every `impl` body by self type, and the types with a `Drop` impl.
#[derive(Default)]
struct Impls<'a> {
    bodies: HashMap<String, Vec<&'a syn::Block>>,
    drops: HashSet<String>,
    /// Structs and enums declared in the file.
    structs: HashSet<String>,
}

impl<'a> Visit<'a> for Impls<'a> {
    fn visit_item_struct(&mut self, i: &'a syn::ItemStruct) {
        self.structs.insert(i.ident.to_string());
        visit::visit_item_struct(self, i);
    }
    fn visit_item_enum(&mut self, i: &'a syn::ItemEnum) {
        self.structs.insert(i.ident.to_string());
        visit::visit_item_enum(self, i);
    }
    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        if let Some(t) = type_name(&i.self_ty) {
            let is_drop = i
                .trait_
                .as_ref()
                .is_some_and(|(p, _)| p.segments.last().is_some_and(|s| s.ident == "Drop"));
            if is_drop {
                self.drops.insert(t.clone());
            }
            for item in &i.items {
                if let syn::ImplItem::Fn(f) = item {
                    self.bodies.entry(t.clone()).or_default().push(&f.block);
                }
            }
        }
        visit::visit_item_impl(self, i);
    }
}

/// In the methods of one type: spawns (start, path, the local bound to the handle), stores
/// into fields (field, range of the stored value, names it mentions), and the fields through
/// which something is aborted or awaited.
#[derive(Default)]
struct FieldUses {
    /// The type whose methods these are.
    owner: String,
    /// The method being walked (its index among the type's methods).
    func: usize,
    /// (method, start, path, the local bound to the handle).
    spawns: Vec<(usize, usize, String, Option<String>)>,
    stores: Vec<Store>,
    stopped: HashSet<String>,
    /// Locals bound from a field (`if let Some(t) = self.task.take()`): local → field.
    from_field: HashMap<String, String>,
}

/// A value stored into a field: `self.f = …` or a struct literal's `f: …`.
struct Store {
    /// The method it is in.
    func: usize,
    /// The type whose field it is.
    owner: String,
    field: String,
    /// The stored value's range, and the names it mentions.
    range: Range<usize>,
    mentions: HashSet<String>,
}

fn self_field(e: &Expr) -> Option<String> {
    match e {
        Expr::Field(f) => match (&*f.base, &f.member) {
            (Expr::Path(p), syn::Member::Named(n)) if p.path.is_ident("self") => {
                Some(n.to_string())
            }
            _ => self_field(&f.base),
        },
        Expr::MethodCall(m) => self_field(&m.receiver),
        Expr::Reference(r) => self_field(&r.expr),
        Expr::Paren(p) => self_field(&p.expr),
        Expr::Call(c) => c.args.iter().find_map(self_field),
        _ => None,
    }
}

fn idents(e: &Expr) -> HashSet<String> {
    struct I(HashSet<String>);
    impl<'a> Visit<'a> for I {
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            self.0.insert(i.to_string());
        }
    }
    let mut v = I(HashSet::new());
    v.visit_expr(e);
    v.0
}

fn spawn_path(e: &Expr) -> Option<String> {
    let Expr::Call(c) = e else { return None };
    spawn_call_path(c)
}

fn spawn_call_path(c: &syn::ExprCall) -> Option<String> {
    let Expr::Path(p) = &*c.func else { return None };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    // A thread's handle cannot be aborted: only async tasks.
    (segs
        .last()
        .is_some_and(|s| s == "spawn" || s == "spawn_local")
        && !segs.iter().any(|s| s == "thread"))
    .then(|| segs.join("::"))
}

impl FieldUses {
    /// The bindings of a struct pattern over `self`, each taken from its field.
    fn destructured(&mut self, pat: &syn::Pat) {
        let syn::Pat::Struct(ps) = pat else { return };
        for fp in &ps.fields {
            let syn::Member::Named(field) = &fp.member else {
                continue;
            };
            let mut names = Vec::new();
            collect_pat_idents(&fp.pat, &mut names);
            for n in names {
                self.from_field.insert(n, field.to_string());
            }
        }
    }

    fn stop_through(&mut self, e: &Expr) {
        if let Some(f) = self_field(e) {
            self.stopped.insert(f);
        } else if let Some(n) = idents(e)
            .into_iter()
            .find_map(|i| self.from_field.get(&i).cloned())
        {
            self.stopped.insert(n);
        }
    }
}

impl<'a> Visit<'a> for FieldUses {
    fn visit_local(&mut self, l: &'a syn::Local) {
        if let Some(init) = &l.init {
            let name = super::queues::ident_of(&l.pat);
            if let Some(api) = spawn_path(&init.expr) {
                self.spawns.push((
                    self.func,
                    span_range(init.expr.span()).start,
                    api,
                    name.clone(),
                ));
            }
            if let Some(f) = self_field(&init.expr) {
                let mut names = Vec::new();
                collect_pat_idents(&l.pat, &mut names);
                for n in names {
                    self.from_field.insert(n, f.clone());
                }
            } else if is_self(&init.expr) {
                // `let Self { task, .. } = self;` (or `let Conn { mut task, .. } = self;`):
                // each field's binding is the field.
                self.destructured(&l.pat);
            }
        }
        visit::visit_local(self, l);
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        // `select! { r = &mut task => .., }`, `task.abort()` inside a macro's tokens: a handle
        // taken from a field and awaited or aborted there stops it too.
        let flat = super::syntax::flat_tokens(m.tokens.clone());
        for (i, t) in flat.iter().enumerate() {
            let Some(field) = self.from_field.get(t.as_str()).cloned() else {
                continue;
            };
            let after = |k: usize| flat.get(i + k).map(String::as_str);
            let before = |k: usize| {
                i.checked_sub(k)
                    .and_then(|j| flat.get(j))
                    .map(String::as_str)
            };
            let stops = (after(1) == Some(".") && matches!(after(2), Some("abort" | "await")))
                || (after(1) == Some(")") && after(2) == Some(".") && after(3) == Some("await"))
                || (before(1) == Some("mut") && before(2) == Some("&"));
            if stops {
                self.stopped.insert(field);
            }
        }
        visit::visit_macro(self, m);
    }

    fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
        if let Some(f) = self_field(&l.expr) {
            let mut names = Vec::new();
            collect_pat_idents(&l.pat, &mut names);
            for n in names {
                self.from_field.insert(n, f.clone());
            }
        }
        visit::visit_expr_let(self, l);
    }

    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let Some(api) = spawn_call_path(c) {
            let start = span_range(c.span()).start;
            if !self.spawns.iter().any(|(_, s, _, _)| *s == start) {
                self.spawns.push((self.func, start, api, None));
            }
        }
        visit::visit_expr_call(self, c);
    }

    fn visit_expr_assign(&mut self, a: &'a syn::ExprAssign) {
        if let Expr::Field(f) = &*a.left
            && let (Expr::Path(p), syn::Member::Named(n)) = (&*f.base, &f.member)
            && p.path.is_ident("self")
        {
            self.stores.push(Store {
                func: self.func,
                owner: self.owner.clone(),
                field: n.to_string(),
                range: span_range(a.right.span()),
                mentions: idents(&a.right),
            });
        }
        visit::visit_expr_assign(self, a);
    }

    fn visit_expr_struct(&mut self, s: &'a syn::ExprStruct) {
        let ty = s.path.segments.last().map(|x| x.ident.to_string());
        let ty = match ty.as_deref() {
            Some("Self") | None => self.owner.clone(),
            Some(t) => t.to_string(),
        };
        for fv in &s.fields {
            if let syn::Member::Named(n) = &fv.member {
                self.stores.push(Store {
                    func: self.func,
                    owner: ty.clone(),
                    field: n.to_string(),
                    range: span_range(fv.expr.span()),
                    mentions: idents(&fv.expr),
                });
            }
        }
        visit::visit_expr_struct(self, s);
    }

    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        if m.method == "abort" {
            self.stop_through(&m.receiver);
        }
        visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
        self.stop_through(&a.base);
        visit::visit_expr_await(self, a);
    }
}

/// `self` (or `*self`).
fn is_self(e: &Expr) -> bool {
    match e {
        Expr::Path(p) => p.path.is_ident("self"),
        Expr::Unary(u) => is_self(&u.expr),
        _ => false,
    }
}

fn collect_pat_idents(p: &syn::Pat, out: &mut Vec<String>) {
    struct P<'o>(&'o mut Vec<String>);
    impl<'a> Visit<'a> for P<'_> {
        fn visit_pat_ident(&mut self, i: &'a syn::PatIdent) {
            self.0.push(i.ident.to_string());
            visit::visit_pat_ident(self, i);
        }
    }
    P(out).visit_pat(p);
}
