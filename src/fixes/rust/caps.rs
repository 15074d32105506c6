//! Caps for collections that only grow: before each growth statement, make room when the
//! collection is at 10,000 entries — the oldest entries of a list, an arbitrary entry of a map
//! or set — through the same receiver the growth uses. Handles of spawned tasks piled in a loop:
//! reap the finished ones before each push.

use std::ops::Range;

use syn::Expr;

use super::syntax;
use super::{edit, fix, print};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::fixes::text::{line_indent, line_start, newline};

/// What kind of collection, for how room is made.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `Vec`/`VecDeque`: drop the oldest (`drain(..n)`).
    List,
    /// `HashMap`/`BTreeMap`: remove an arbitrary key.
    Map,
    /// `HashSet`/`BTreeSet`: remove an arbitrary element.
    Set,
    /// `DashMap`/`DashSet`: remove an arbitrary key, copied out of the iterator first so that
    /// no shard lock is held while removing.
    Sharded,
}

impl Shape {
    /// The shape of a declared type (`Mutex<HashMap<..>>`, `LazyLock<Mutex<Vec<..>>>`).
    pub fn of(ty: &str) -> Option<Shape> {
        let ty: String = ty.split_whitespace().collect();
        let first = [
            "HashMap", "BTreeMap", "HashSet", "BTreeSet", "VecDeque", "Vec", "DashMap", "DashSet",
        ]
        .iter()
        .filter_map(|n| ty.find(&format!("{n}<")).map(|i| (i, *n)))
        .min()?;
        Some(match first.1 {
            "HashMap" | "BTreeMap" => Shape::Map,
            "HashSet" | "BTreeSet" => Shape::Set,
            "DashMap" | "DashSet" => Shape::Sharded,
            _ => Shape::List,
        })
    }
}

/// The collection a growth call reaches: `R.push(x)`, `R.insert(k, v)`, `R.entry(k).or_*(..)`.
fn collection_of(src: &str, call: &Range<usize>) -> Option<String> {
    let text = src.get(call.clone())?;
    let m = match print::parse::<Expr>(text)? {
        Expr::MethodCall(m) => m,
        // A loan to a function that grows it (`append(&mut log, line)`): the one collection
        // lent mutably.
        Expr::Call(c) => {
            let lent: Vec<&Expr> = c
                .args
                .iter()
                .filter_map(|a| match a {
                    Expr::Reference(r) if r.mutability.is_some() => Some(&*r.expr),
                    _ => None,
                })
                .collect();
            let [one] = lent[..] else {
                return None;
            };
            let r = print::expr(one)?;
            return (!r.contains('\n')).then_some(r);
        }
        _ => return None,
    };
    let mut recv = &*m.receiver;
    if m.method.to_string().starts_with("or_")
        && let Expr::MethodCall(e) = recv
        && e.method == "entry"
    {
        recv = &*e.receiver;
    }
    if !crate::facts::RUST_GROWTH_METHODS.contains(&m.method.to_string().as_str()) {
        return None;
    }
    let r = print::expr(recv)?;
    (!r.contains('\n')).then_some(r)
}

/// Before each growth statement (`(call, stmt)`) of a collection named `name` of shape
/// `shape`: make room at 10,000 entries. `None` when a growth is not a statement of a block
/// or the fixed file does not parse. Unsafe: entries now leave.
pub fn cap_before_growth(
    src: &str,
    name: &str,
    shape: Shape,
    growth: &[(Range<usize>, Range<usize>)],
) -> Option<Fix> {
    let nl = newline(src);
    let mut edits: Vec<Edit> = Vec::new();
    for (call, stmt) in growth {
        let r = collection_of(src, call)?;
        let start = stmt.start;
        // A statement of its own line, inside a block.
        if !src[line_start(src, start)..start].trim().is_empty() {
            return None;
        }
        let before = src[..start].trim_end();
        if !(before.ends_with('{') || before.ends_with(';') || before.ends_with('}')) {
            return None;
        }
        // Through the receiver each time, as the growth does: a guard taken on the spot is
        // released at the end of each statement, so the growth's own lock is not held twice.
        let g: Expr = print::parse(&r)?;
        let cap = syn::LitInt::new("10_000", proc_macro2::Span::call_site());
        let room = match shape {
            Shape::List => quote::quote! {
                if #g.len() >= #cap {
                    let excess = #g.len() + 1 - #cap;
                    #g.drain(..excess);
                }
            },
            Shape::Map => quote::quote! {
                if #g.len() >= #cap {
                    let any = #g.keys().next().cloned();
                    if let Some(key) = any {
                        #g.remove(&key);
                    }
                }
            },
            Shape::Set => quote::quote! {
                if #g.len() >= #cap {
                    let first = #g.iter().next().cloned();
                    if let Some(item) = first {
                        #g.remove(&item);
                    }
                }
            },
            Shape::Sharded => quote::quote! {
                if #g.len() >= #cap {
                    let any = #g.iter().next().map(|e| e.key().clone());
                    if let Some(key) = any {
                        #g.remove(&key);
                    }
                }
            },
        };
        let code = print::stmts(room)?;
        let indent = line_indent(src, start);
        let what = match shape {
            Shape::List => "drop the oldest",
            Shape::Map | Shape::Set | Shape::Sharded => "make room",
        };
        edits.push(edit(
            start..start,
            format!(
                "// At 10,000 entries, {what} before adding.{nl}{indent}{}{nl}{indent}",
                print::indent(&code, indent, nl)
            ),
        ));
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| e.range.start);
    edits.dedup_by(|a, b| a.range == b.range);
    if !syntax::parses(&syntax::apply(src, &edits)?) {
        return None;
    }
    let how = match shape {
        Shape::List => "dropping the oldest entries",
        Shape::Map | Shape::Sharded => {
            "removing an arbitrary entry when full (an LRU or a TTL would choose better)"
        }
        Shape::Set => "removing an arbitrary element when full",
    };
    fix(
        format!("cap `{name}` at 10,000 entries, {how}"),
        Applicability::Unsafe,
        edits,
    )
}

/// `handles.push(tokio::spawn(..));` in a loop that never polls `handles` (the statement
/// `stmt`): reap finished tasks before each push — `retain` the unfinished handles of a `Vec`,
/// take the ready outputs of a `FuturesUnordered` without waiting. Unsafe: the outputs of
/// tasks that finished are dropped instead of kept for after the loop.
pub fn reap_piled(src: &str, collection: &str, stmt: &Range<usize>) -> Option<Fix> {
    let text = src.get(stmt.clone())?;
    if !text
        .trim_start()
        .starts_with(&format!("{collection}.push("))
        || !is_name(collection)
    {
        return None;
    }
    let start = stmt.start;
    if !src[line_start(src, start)..start].trim().is_empty() {
        return None;
    }
    // The collection's declaration, before the loop.
    let decl = [
        format!("let mut {collection} ="),
        format!("let {collection} ="),
    ]
    .iter()
    .filter_map(|d| src[..start].rfind(d.as_str()).map(|i| (i, d.clone())))
    .max()?;
    let init = src[decl.0 + decl.1.len()..start].trim_start();
    let c: Expr = print::parse(collection)?;
    let mut edits = Vec::new();
    let (code, title) = if init.starts_with("Vec::") || init.starts_with("vec![") {
        (
            print::stmts(quote::quote! { #c.retain(|task| !task.is_finished()); })?,
            format!("drop the handles of finished tasks from `{collection}` before each push"),
        )
    } else if init.starts_with("FuturesUnordered::") {
        let krate = if src.contains("futures_util") {
            quote::quote!(futures_util)
        } else {
            quote::quote!(futures)
        };
        if !decl.1.starts_with("let mut") {
            let at = decl.0 + "let ".len();
            edits.push(edit(at..at, "mut "));
        }
        (
            print::stmts(quote::quote! {
                while let Some(Some(_)) =
                    #krate::FutureExt::now_or_never(#krate::StreamExt::next(&mut #c))
                {}
            })?,
            format!("collect the tasks of `{collection}` that finished before each push"),
        )
    } else {
        return None;
    };
    let nl = newline(src);
    let indent = line_indent(src, start);
    edits.push(edit(
        start..start,
        format!("{}{nl}{indent}", print::indent(&code, indent, nl)),
    ));
    if !syntax::parses(&syntax::apply(src, &edits)?) {
        return None;
    }
    fix(title, Applicability::Unsafe, edits)
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}
