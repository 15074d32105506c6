//! The whole file re-parsed for a fix that must change code in several places (a channel's
//! constructor, the types of the fields it fills, every send into it): the functions, closures,
//! structs and method calls of the file with their byte ranges. Built on demand by a fix
//! builder, dropped before it returns; the front end's facts stay the source of findings.

use std::ops::Range;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// A function or method of the file.
#[derive(Debug, Clone)]
pub struct FnItem {
    pub name: String,
    pub span: Range<usize>,
    pub body: Range<usize>,
    pub is_async: bool,
    /// The `Self` type of the `impl` the method is in (its last path segment).
    pub impl_ty: Option<String>,
    /// The return type, when one is written.
    pub output: Option<Range<usize>>,
    /// Each parameter bound to a plain name (or `_`): the name and its type's range.
    pub params: Vec<(String, Range<usize>)>,
}

/// A struct of the file: its name and fields (tuple fields named `0`, `1`, …) with the ranges
/// of their types.
#[derive(Debug, Clone)]
pub struct StructItem {
    pub name: String,
    pub fields: Vec<(String, Range<usize>)>,
}

/// A method call of the file: the receiver's text, the method name's range and the whole call.
#[derive(Debug, Clone)]
pub struct MethodCall {
    pub receiver: String,
    pub method: String,
    pub name: Range<usize>,
    pub call: Range<usize>,
}

/// What a fix builder needs to know about a file's structure.
#[derive(Debug, Default)]
pub struct Outline {
    pub fns: Vec<FnItem>,
    /// Closures and async blocks: their range and whether their body is async.
    pub closures: Vec<(Range<usize>, bool)>,
    pub structs: Vec<StructItem>,
    /// `impl [Trait for] Type { … }`: the type's name and the block's range.
    pub impls: Vec<(String, Range<usize>)>,
    pub calls: Vec<MethodCall>,
    /// `for`, `while` and `loop` expressions.
    pub loops: Vec<Range<usize>>,
    /// Calls of a plain path (`s3_for(&config)`): the path's text and the whole call.
    pub fn_calls: Vec<(String, Range<usize>)>,
}

impl Outline {
    /// The outline of `src`, or `None` when it does not parse.
    pub fn of(src: &str) -> Option<Outline> {
        let out = (|| {
            let file = syn::parse_file(src).ok()?;
            let mut v = Collect {
                src,
                lines: line_starts(src),
                out: Outline::default(),
                impl_ty: None,
            };
            v.visit_file(&file);
            Some(v.out)
        })();
        // Parsing grows proc-macro2's span map of this thread; nothing parsed here outlives
        // this call, so reset it (as the front end does after each file).
        proc_macro2::extra::invalidate_current_thread_spans();
        out
    }

    /// The innermost function containing `at`.
    pub fn fn_at(&self, at: usize) -> Option<&FnItem> {
        self.fns
            .iter()
            .filter(|f| f.span.contains(&at))
            .min_by_key(|f| f.span.len())
    }

    /// Whether the code at `at` may `.await`: the innermost function, closure or async block
    /// around it is async.
    pub fn is_async_at(&self, at: usize) -> bool {
        let f = self.fn_at(at);
        let c = self
            .closures
            .iter()
            .filter(|(r, _)| r.contains(&at))
            .min_by_key(|(r, _)| r.len());
        match (f, c) {
            (Some(f), Some((r, a))) if r.len() < f.span.len() => *a,
            (Some(f), _) => f.is_async,
            (None, Some((_, a))) => *a,
            (None, None) => false,
        }
    }

    pub fn struct_named(&self, name: &str) -> Option<&StructItem> {
        self.structs.iter().find(|s| s.name == name)
    }
}

/// Whether `src` still parses as a file (a fix's result is checked before it is offered).
pub fn parses(src: &str) -> bool {
    let ok = syn::parse_file(src).is_ok();
    proc_macro2::extra::invalidate_current_thread_spans();
    ok
}

/// `src` with `edits` (non-overlapping) applied.
pub fn apply(src: &str, edits: &[crate::diagnostic::Edit]) -> Option<String> {
    let mut sorted: Vec<_> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::new();
    let mut at = 0;
    for e in sorted {
        if e.range.start < at {
            return None;
        }
        out.push_str(src.get(at..e.range.start)?);
        out.push_str(&e.content);
        at = e.range.end;
    }
    out.push_str(src.get(at..)?);
    Some(out)
}

fn line_starts(src: &str) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(src.match_indices('\n').map(|(i, _)| i + 1));
    v
}

struct Collect<'a> {
    src: &'a str,
    lines: Vec<usize>,
    out: Outline,
    impl_ty: Option<String>,
}

impl Collect<'_> {
    /// A span's byte range (proc-macro2 counts columns in characters).
    fn range(&self, s: Span) -> Range<usize> {
        let at = |lc: proc_macro2::LineColumn| {
            let start = *self.lines.get(lc.line.wrapping_sub(1))?;
            let line = self.src.get(start..)?;
            Some(
                start
                    + line
                        .char_indices()
                        .nth(lc.column)
                        .map_or(line.len(), |(i, _)| i),
            )
        };
        match (at(s.start()), at(s.end())) {
            (Some(a), Some(b)) if a <= b => a..b,
            _ => 0..0,
        }
    }

    fn push_fn(&mut self, name: &syn::Ident, sig: &syn::Signature, span: Span, body: Span) {
        let output = match &sig.output {
            syn::ReturnType::Type(_, t) => Some(self.range(t.span())),
            syn::ReturnType::Default => None,
        };
        let params = sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                syn::FnArg::Typed(t) => match &*t.pat {
                    syn::Pat::Ident(i) => Some((i.ident.to_string(), self.range(t.ty.span()))),
                    syn::Pat::Wild(_) => Some(("_".into(), self.range(t.ty.span()))),
                    _ => None,
                },
                syn::FnArg::Receiver(_) => None,
            })
            .collect();
        self.out.fns.push(FnItem {
            name: name.to_string(),
            span: self.range(span),
            body: self.range(body),
            is_async: sig.asyncness.is_some(),
            impl_ty: self.impl_ty.clone(),
            output,
            params,
        });
    }
}

fn last_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Collect<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        let outer = self.impl_ty.take();
        self.push_fn(&f.sig.ident, &f.sig, f.span(), f.block.span());
        syn::visit::visit_item_fn(self, f);
        self.impl_ty = outer;
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.push_fn(&f.sig.ident, &f.sig, f.span(), f.block.span());
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        let ty = last_ident(&i.self_ty);
        if let Some(t) = &ty {
            let r = self.range(i.span());
            self.out.impls.push((t.clone(), r));
        }
        let outer = std::mem::replace(&mut self.impl_ty, ty);
        syn::visit::visit_item_impl(self, i);
        self.impl_ty = outer;
    }

    fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
        let fields = s
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let name = f.ident.as_ref().map_or(i.to_string(), |n| n.to_string());
                (name, self.range(f.ty.span()))
            })
            .collect();
        self.out.structs.push(StructItem {
            name: s.ident.to_string(),
            fields,
        });
        syn::visit::visit_item_struct(self, s);
    }

    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        let is_async = c.asyncness.is_some() || matches!(&*c.body, syn::Expr::Async(_));
        let r = self.range(c.span());
        self.out.closures.push((r, is_async));
        syn::visit::visit_expr_closure(self, c);
    }

    fn visit_expr_async(&mut self, a: &'ast syn::ExprAsync) {
        let r = self.range(a.span());
        self.out.closures.push((r, true));
        syn::visit::visit_expr_async(self, a);
    }

    fn visit_expr_for_loop(&mut self, l: &'ast syn::ExprForLoop) {
        let r = self.range(l.span());
        self.out.loops.push(r);
        syn::visit::visit_expr_for_loop(self, l);
    }

    fn visit_expr_while(&mut self, l: &'ast syn::ExprWhile) {
        let r = self.range(l.span());
        self.out.loops.push(r);
        syn::visit::visit_expr_while(self, l);
    }

    fn visit_expr_loop(&mut self, l: &'ast syn::ExprLoop) {
        let r = self.range(l.span());
        self.out.loops.push(r);
        syn::visit::visit_expr_loop(self, l);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*c.func {
            let r = self.range(p.span());
            let path = self.src.get(r).unwrap_or("").to_string();
            let call = self.range(c.span());
            self.out.fn_calls.push((path, call));
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let r = self.range(m.receiver.span());
        let receiver = self.src.get(r).unwrap_or("").to_string();
        let call = MethodCall {
            receiver,
            method: m.method.to_string(),
            name: self.range(m.method.span()),
            call: self.range(m.span()),
        };
        self.out.calls.push(call);
        syn::visit::visit_expr_method_call(self, m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_functions_structs_and_calls() {
        let src = "struct S { tx: Tx }\nimpl S {\n    fn f(&self, é: u8) {\n        \
                   let g = async move { self.tx.send(1) };\n    }\n}\n";
        let o = Outline::of(src).unwrap();
        assert_eq!(o.fns[0].name, "f");
        assert_eq!(o.fns[0].impl_ty.as_deref(), Some("S"));
        assert_eq!(&src[o.structs[0].fields[0].1.clone()], "Tx");
        let send = o.calls.iter().find(|c| c.method == "send").unwrap();
        assert_eq!(send.receiver, "self.tx");
        assert_eq!(&src[send.name.clone()], "send");
        assert!(o.is_async_at(send.name.start));
        assert!(!o.is_async_at(o.fns[0].body.start + 1));
    }
}
