//! Byte ranges of syntax nodes: proc-macro2 spans turned into byte offsets (directly from line
//! and column in an all-ASCII file), and the first and last tokens of common nodes so a range
//! does not cost printing the node.

use std::ops::Range;

use proc_macro2::Span;
use syn::Expr;
use syn::spanned::Spanned;

thread_local! {
    /// While an all-ASCII file is lowered on this thread: the byte offset of each of its lines.
    static ASCII_LINES: std::cell::RefCell<Option<Vec<usize>>> =
        const { std::cell::RefCell::new(None) };
}

/// The byte range of a span. proc-macro2 keeps character offsets and turns them into bytes
/// through a per-file map it grows on every call; in an all-ASCII file (nearly every file)
/// characters are bytes, so the line and column it already knows give the offset directly.
pub(super) fn span_range(s: Span) -> Range<usize> {
    ASCII_LINES.with(|lines| match &*lines.borrow() {
        Some(lines) => {
            let at = |lc: proc_macro2::LineColumn| {
                lines
                    .get(lc.line.wrapping_sub(1))
                    .map(|start| start + lc.column)
            };
            match (at(s.start()), at(s.end())) {
                (Some(a), Some(b)) => a..b,
                _ => s.byte_range(),
            }
        }
        None => s.byte_range(),
    })
}

/// Lines of `text` for [`span_range`] while it is lowered, if it is all ASCII.
pub(super) struct AsciiLines;

impl AsciiLines {
    pub(super) fn set(text: &str) -> AsciiLines {
        if text.is_ascii() {
            let mut lines = vec![0];
            lines.extend(memchr_lines(text.as_bytes()));
            ASCII_LINES.with(|l| *l.borrow_mut() = Some(lines));
        }
        AsciiLines
    }
}

impl Drop for AsciiLines {
    fn drop(&mut self) {
        ASCII_LINES.with(|l| *l.borrow_mut() = None);
    }
}

/// Offsets just after each `\n` (proc-macro2 counts lines by `\n` alone).
fn memchr_lines(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
}

/// Byte ranges of syntax nodes from their first and last tokens. syn's `Spanned::span` prints
/// the whole node into a token stream to find those two tokens: for a closure, a loop, an
/// `async` block or a function that is every token of its body (doc comments included), and
/// nested bodies are printed again for every node around them. Shapes not handled here fall
/// back to `Spanned`, so the ranges are the same either way.
pub(super) trait Ranged {
    fn range(&self) -> Range<usize>;
}

/// The first and last tokens of a node, when they are cheap to find (`None`: ask `Spanned`).
pub(super) trait Ends {
    fn first(&self) -> Option<Span>;
    fn last(&self) -> Option<Span>;
}

impl<T: Ends + Spanned> Ranged for T {
    fn range(&self) -> Range<usize> {
        match (self.first(), self.last()) {
            (Some(a), Some(b)) => span_range(a).start..span_range(b).end,
            _ => span_range(self.span()),
        }
    }
}

fn label_first(l: &Option<syn::Label>) -> Option<Span> {
    l.as_ref().map(|l| l.name.apostrophe)
}

/// `Some(first)` when the node has no attributes in front of it.
fn bare<T>(attrs: &[syn::Attribute], first: impl FnOnce() -> Option<T>) -> Option<T> {
    if attrs.is_empty() { first() } else { None }
}

macro_rules! ends {
    ($t:ty, |$x:ident| $first:expr, $last:expr) => {
        impl Ends for $t {
            fn first(&self) -> Option<Span> {
                let $x = self;
                bare(&$x.attrs, || $first)
            }
            fn last(&self) -> Option<Span> {
                let $x = self;
                $last
            }
        }
    };
}

ends!(
    syn::ExprCall,
    |c| c.func.first(),
    Some(c.paren_token.span.close())
);
ends!(
    syn::ExprMethodCall,
    |m| m.receiver.first(),
    Some(m.paren_token.span.close())
);
ends!(
    syn::ExprField,
    |f| f.base.first(),
    Some(match &f.member {
        syn::Member::Named(i) => i.span(),
        syn::Member::Unnamed(i) => i.span,
    })
);
ends!(syn::ExprAwait, |a| a.base.first(), Some(a.await_token.span));
ends!(
    syn::ExprTry,
    |t| t.expr.first(),
    Some(t.question_token.spans[0])
);
ends!(
    syn::ExprIndex,
    |i| i.expr.first(),
    Some(i.bracket_token.span.close())
);
ends!(syn::ExprBinary, |b| b.left.first(), b.right.last());
ends!(syn::ExprAssign, |a| a.left.first(), a.right.last());
ends!(
    syn::ExprPath,
    |p| if p.qself.is_none() {
        path_first(&p.path)
    } else {
        None
    },
    p.path
        .segments
        .last()
        .filter(|s| s.arguments.is_none())
        .map(|s| s.ident.span())
);
ends!(
    syn::ExprMacro,
    |m| path_first(&m.mac.path),
    Some(match &m.mac.delimiter {
        syn::MacroDelimiter::Paren(d) => d.span.close(),
        syn::MacroDelimiter::Brace(d) => d.span.close(),
        syn::MacroDelimiter::Bracket(d) => d.span.close(),
    })
);
ends!(
    syn::ExprStruct,
    |st| if st.qself.is_none() {
        path_first(&st.path)
    } else {
        None
    },
    Some(st.brace_token.span.close())
);
ends!(
    syn::ExprParen,
    |p| Some(p.paren_token.span.open()),
    Some(p.paren_token.span.close())
);
ends!(
    syn::ExprTuple,
    |t| Some(t.paren_token.span.open()),
    Some(t.paren_token.span.close())
);
ends!(
    syn::ExprArray,
    |a| Some(a.bracket_token.span.open()),
    Some(a.bracket_token.span.close())
);
ends!(
    syn::ExprReference,
    |r| Some(r.and_token.span),
    r.expr.last()
);
ends!(syn::ExprLit, |l| Some(l.lit.span()), Some(l.lit.span()));
ends!(
    syn::ExprAsync,
    |a| Some(a.async_token.span),
    Some(a.block.brace_token.span.close())
);
ends!(
    syn::ExprBlock,
    |b| label_first(&b.label).or(Some(b.block.brace_token.span.open())),
    Some(b.block.brace_token.span.close())
);
ends!(
    syn::ExprLoop,
    |l| label_first(&l.label).or(Some(l.loop_token.span)),
    Some(l.body.brace_token.span.close())
);
ends!(
    syn::ExprWhile,
    |l| label_first(&l.label).or(Some(l.while_token.span)),
    Some(l.body.brace_token.span.close())
);
ends!(
    syn::ExprForLoop,
    |l| label_first(&l.label).or(Some(l.for_token.span)),
    Some(l.body.brace_token.span.close())
);
ends!(
    syn::ExprIf,
    |i| Some(i.if_token.span),
    match &i.else_branch {
        Some((_, e)) => e.last(),
        None => Some(i.then_branch.brace_token.span.close()),
    }
);
ends!(
    syn::ExprMatch,
    |m| Some(m.match_token.span),
    Some(m.brace_token.span.close())
);
ends!(
    syn::ExprReturn,
    |r| Some(r.return_token.span),
    match &r.expr {
        Some(e) => e.last(),
        None => Some(r.return_token.span),
    }
);
ends!(
    syn::ExprClosure,
    |c| Some(if let Some(l) = &c.lifetimes {
        l.for_token.span
    } else if let Some(t) = &c.constness {
        t.span
    } else if let Some(t) = &c.asyncness {
        t.span
    } else if let Some(t) = &c.capture {
        t.span
    } else {
        c.inputs_begin.spans[0]
    }),
    c.body.last()
);

impl Ends for Expr {
    fn first(&self) -> Option<Span> {
        match self {
            Expr::Call(x) => x.first(),
            Expr::MethodCall(x) => x.first(),
            Expr::Field(x) => x.first(),
            Expr::Await(x) => x.first(),
            Expr::Try(x) => x.first(),
            Expr::Index(x) => x.first(),
            Expr::Binary(x) => x.first(),
            Expr::Assign(x) => x.first(),
            Expr::Path(x) => x.first(),
            Expr::Macro(x) => x.first(),
            Expr::Struct(x) => x.first(),
            Expr::Paren(x) => x.first(),
            Expr::Tuple(x) => x.first(),
            Expr::Array(x) => x.first(),
            Expr::Reference(x) => x.first(),
            Expr::Lit(x) => x.first(),
            Expr::Async(x) => x.first(),
            Expr::Block(x) => x.first(),
            Expr::Loop(x) => x.first(),
            Expr::While(x) => x.first(),
            Expr::ForLoop(x) => x.first(),
            Expr::If(x) => x.first(),
            Expr::Match(x) => x.first(),
            Expr::Return(x) => x.first(),
            Expr::Closure(x) => x.first(),
            _ => None,
        }
    }
    fn last(&self) -> Option<Span> {
        match self {
            Expr::Call(x) => x.last(),
            Expr::MethodCall(x) => x.last(),
            Expr::Field(x) => x.last(),
            Expr::Await(x) => x.last(),
            Expr::Try(x) => x.last(),
            Expr::Index(x) => x.last(),
            Expr::Binary(x) => x.last(),
            Expr::Assign(x) => x.last(),
            Expr::Path(x) => x.last(),
            Expr::Macro(x) => x.last(),
            Expr::Struct(x) => x.last(),
            Expr::Paren(x) => x.last(),
            Expr::Tuple(x) => x.last(),
            Expr::Array(x) => x.last(),
            Expr::Reference(x) => x.last(),
            Expr::Lit(x) => x.last(),
            Expr::Async(x) => x.last(),
            Expr::Block(x) => x.last(),
            Expr::Loop(x) => x.last(),
            Expr::While(x) => x.last(),
            Expr::ForLoop(x) => x.last(),
            Expr::If(x) => x.last(),
            Expr::Match(x) => x.last(),
            Expr::Return(x) => x.last(),
            Expr::Closure(x) => x.last(),
            _ => None,
        }
    }
}

fn path_first(p: &syn::Path) -> Option<Span> {
    match &p.leading_colon {
        Some(c) => Some(c.spans[0]),
        None => p.segments.first().map(|s| s.ident.span()),
    }
}

/// The first token of an item: its first outer attribute, else its visibility, else `first`.
fn item_first(attrs: &[syn::Attribute], vis: &syn::Visibility, first: Span) -> Span {
    if let Some(a) = attrs
        .iter()
        .find(|a| matches!(a.style, syn::AttrStyle::Outer))
    {
        return a.pound_token.span;
    }
    match vis {
        syn::Visibility::Public(p) => p.span,
        syn::Visibility::Restricted(r) => r.pub_token.span,
        _ => first,
    }
}

fn sig_first(sig: &syn::Signature) -> Span {
    if let Some(t) = &sig.constness {
        t.span
    } else if let Some(t) = &sig.asyncness {
        t.span
    } else if let syn::Safety::Unsafe(t) = &sig.safety {
        t.span
    } else if let syn::Safety::Safe(t) = &sig.safety {
        t.span
    } else if let Some(a) = &sig.abi {
        a.extern_token.span
    } else {
        sig.fn_token.span
    }
}

impl Ends for syn::ItemFn {
    fn first(&self) -> Option<Span> {
        Some(item_first(&self.attrs, &self.vis, sig_first(&self.sig)))
    }
    fn last(&self) -> Option<Span> {
        Some(self.block.brace_token.span.close())
    }
}

impl Ends for syn::ImplItemFn {
    fn first(&self) -> Option<Span> {
        let after_vis = match &self.modifiers.defaultness {
            Some(d) => d.span,
            None => sig_first(&self.sig),
        };
        Some(item_first(&self.attrs, &self.vis, after_vis))
    }
    fn last(&self) -> Option<Span> {
        Some(self.block.brace_token.span.close())
    }
}

impl Ends for syn::ItemStruct {
    fn first(&self) -> Option<Span> {
        Some(item_first(&self.attrs, &self.vis, self.struct_token.span))
    }
    fn last(&self) -> Option<Span> {
        match (&self.semi_token, &self.fields) {
            (Some(s), _) => Some(s.spans[0]),
            (None, syn::Fields::Named(n)) => Some(n.brace_token.span.close()),
            (None, syn::Fields::Unnamed(u)) => Some(u.paren_token.span.close()),
            (None, syn::Fields::Unit) => None,
        }
    }
}

impl Ends for syn::Field {
    fn first(&self) -> Option<Span> {
        let ident = self.ident.as_ref()?;
        Some(item_first(&self.attrs, &self.vis, ident.span()))
    }
    fn last(&self) -> Option<Span> {
        // Only the type is printed, not the field's documentation.
        self.ident.as_ref()?;
        Some(self.ty.span())
    }
}
