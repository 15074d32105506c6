//! Rust front end: syn parse, then one `Visit` pass that lowers the file into [`FileFacts`].
//!
//! The same events as TypeScript, with Rust meanings: a spawned task whose body loops forever
//! on a tick with no cancellation is a repeating timer (`Timer { repeat: true }`); a spawned
//! body that sleeps and then signals is a deadline timer; `handle.abort()` / `handle.await` /
//! `set.abort_all()` clear them; `push`/`insert` grow and `remove`/`retain` shrink collections;
//! client constructors are `New { factory: true }` with the full path as class. Task shapes
//! (endless loop, ticks, cancellation) are computed bottom-up during the same pass.
//!
//! syn fails on the whole file at the first error: that is one `parse-error` for the file.
//! syn drops comments; anything that reads comments reads the source text.

use std::collections::HashMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, FnArg, Item, Pat, Stmt, Type, UseTree};

use crate::facts::*;

/// Why a Rust file could not be lowered.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RustParseError {
    pub message: String,
    pub range: Range<usize>,
    /// It ran out of time: a fact about the machine, not the file.
    pub timed_out: bool,
}

/// Deepest nesting score (see [`nesting_score`]) handed to syn. syn's parser and the lowering
/// walk recurse once per level and overflow even a large stack somewhere past ten thousand
/// levels (a debug build spends up to ~36 KiB of stack per `&` of a `& & & … T` type); deeper
/// files are reported, not parsed. Real code stays far below: the deepest of 13,604 source
/// files of 300-odd crates.io packages scores 384; a 600-call builder chain about 1,800.
pub const MAX_NESTING: usize = 3_000;

/// Parses and lowers one Rust file (no time limit).
pub fn lower(text: &str) -> Result<FileFacts, RustParseError> {
    lower_within(text, Duration::MAX)
}

/// Parses and lowers one Rust file, giving up (an error) when it nests deeper than
/// [`MAX_NESTING`] or when lowering takes longer than `budget`.
pub fn lower_within(text: &str, budget: Duration) -> Result<FileFacts, RustParseError> {
    let deadline = Instant::now().checked_add(budget);
    let _lines = AsciiLines::set(text);
    let result = parse_guarded(text).and_then(|file| {
        let mut w = Walker::new(text);
        w.deadline = deadline;
        w.visit_file(&file);
        if w.timed_out {
            return Err(RustParseError {
                message: format!(
                    "timed out: parsing and analysing took longer than the per-file budget of \
                     {budget:?}; file skipped"
                ),
                range: 0..0,
                timed_out: true,
            });
        }
        w.finish();
        let mut facts = w.facts;
        facts.finish();
        Ok(facts)
    });
    // The span map grows with every parse on this thread: reset it so a long-running process
    // (the LSP, a big run) neither leaks nor drifts.
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

/// What `syn::parse_file` does — shebang, tokens, `File` — with the nesting guard between
/// lexing (iterative, safe at any depth) and parsing (recursive). The shebang line is blanked
/// rather than cut off so byte offsets stay those of the file.
fn parse_guarded(text: &str) -> Result<syn::File, RustParseError> {
    let syn_err = |e: syn::Error| RustParseError {
        message: format!("not valid Rust, file skipped: {e}"),
        range: e.span().byte_range(),
        timed_out: false,
    };
    let blanked;
    // After a byte-order mark, which the lexer skips (keeping offsets), as syn does.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let text = match shebang_len(&text[bom..]) {
        Some(n) => {
            blanked = format!("{}{}{}", &text[..bom], " ".repeat(n), &text[bom + n..]);
            blanked.as_str()
        }
        None => text,
    };
    let tokens: TokenStream = text.parse().map_err(|e: proc_macro2::LexError| {
        let start = e.span().byte_range().start;
        RustParseError {
            message: "not valid Rust, file skipped: it does not split into Rust tokens (an \
                      unclosed bracket, string or comment, or a character Rust does not allow)"
                .into(),
            range: start..start,
            timed_out: false,
        }
    })?;
    let score = nesting_score(&tokens, MAX_NESTING);
    if score > MAX_NESTING {
        return Err(RustParseError {
            message: format!(
                "nesting (brackets and chained operators) deeper than {MAX_NESTING} levels; file \
                 skipped (too deep to analyse)"
            ),
            range: 0..0,
            timed_out: false,
        });
    }
    syn::parse2::<syn::File>(tokens).map_err(syn_err)
}

/// Length in bytes of a `#!` first line that is a shebang (not an inner attribute `#![…]`),
/// judged as `syn::parse_file` does.
fn shebang_len(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("#!")?;
    if skip_whitespace(rest).starts_with('[') {
        return None;
    }
    Some(text.find('\n').unwrap_or(text.len()))
}

/// Skips whitespace and (non-doc) comments, as syn does before deciding on a shebang.
fn skip_whitespace(mut s: &str) -> &str {
    loop {
        if s.starts_with("//")
            && (!s.starts_with("///") || s.starts_with("////"))
            && !s.starts_with("//!")
        {
            match s.find('\n') {
                Some(i) => s = &s[i + 1..],
                None => return "",
            }
        } else if s.starts_with("/**/") {
            s = &s[4..];
        } else if s.starts_with("/*")
            && (!s.starts_with("/**") || s.starts_with("/***"))
            && !s.starts_with("/*!")
        {
            // Nested block comments: find the matching `*/`.
            let bytes = s.as_bytes();
            let (mut depth, mut i) = (0usize, 0usize);
            let mut end = None;
            while i + 1 < bytes.len() {
                if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                    depth += 1;
                    i += 1;
                } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 2);
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            match end {
                Some(e) => s = &s[e..],
                None => return s,
            }
        } else {
            match s.chars().next() {
                Some(c) if c.is_whitespace() || c == '\u{200e}' || c == '\u{200f}' => {
                    s = &s[c.len_utf8()..];
                }
                _ => return s,
            }
        }
    }
}

/// An upper bound, in token units, of how deeply syn's recursive-descent parser and the
/// lowering walk will recurse on `tokens`, computed without recursion. Each group adds one
/// level to what encloses it; inside a group, every token of the current statement or element
/// counts (prefix operators, `else if` chains, generic arguments and operator or method chains
/// all nest in syn's tree), and the count restarts where a new statement or element starts: after
/// `;`, after `,` and `=>` (keeping the open generic `<`s, which a comma does not close), and
/// after a `{ … }` block followed by a word or an attribute (except `else` and `as`, which
/// continue the expression); an attribute (`#[…]`, `#![…]`, doc comments) adds nothing once
/// closed. Stops counting once above `limit`.
pub fn nesting_score(tokens: &TokenStream, limit: usize) -> usize {
    struct Frame {
        iter: proc_macro2::token_stream::IntoIter,
        base: usize,
        run: usize,
        angles: usize,
        after_brace: bool,
        joint: Option<char>,
        /// The run before a `#` or `#!`: an attribute (doc comments are attributes) adds
        /// nothing once its `[…]` closes, so consecutive ones do not pile up.
        attr: Option<usize>,
    }
    let frame = |iter, base| Frame {
        iter,
        base,
        run: 0,
        angles: 0,
        after_brace: false,
        joint: None,
        attr: None,
    };
    let mut stack = vec![frame(tokens.clone().into_iter(), 0)];
    let mut max = 0;
    while let Some(top) = stack.last_mut() {
        let Some(tt) = top.iter.next() else {
            stack.pop();
            continue;
        };
        if std::mem::take(&mut top.after_brace) {
            let new_statement = match &tt {
                TokenTree::Ident(i) => i != "else" && i != "as",
                TokenTree::Punct(p) => p.as_char() == '#',
                _ => false,
            };
            if new_statement {
                top.run = 0;
                top.angles = 0;
            }
        }
        let joint = top.joint.take();
        let attr = top.attr.take();
        match &tt {
            TokenTree::Punct(p) => {
                if p.spacing() == proc_macro2::Spacing::Joint {
                    top.joint = Some(p.as_char());
                }
                match (joint, p.as_char()) {
                    (_, ';') => {
                        top.run = 0;
                        top.angles = 0;
                        continue;
                    }
                    (_, ',') => {
                        top.run = top.angles;
                        continue;
                    }
                    (Some('='), '>') => {
                        top.run = top.angles;
                        continue;
                    }
                    (Some('-'), '>') => {}
                    (_, '<') => top.angles += 1,
                    (Some('<'), '=') => top.angles = top.angles.saturating_sub(1),
                    (_, '>') => {
                        // Closes a level: the tokens still open do not get deeper.
                        top.angles = top.angles.saturating_sub(1);
                        continue;
                    }
                    _ => {}
                }
            }
            TokenTree::Group(_) | TokenTree::Ident(_) | TokenTree::Literal(_) => {}
        }
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '#' => top.attr = Some(top.run),
            TokenTree::Punct(p) if p.as_char() == '!' && attr.is_some() => top.attr = attr,
            _ => {}
        }
        top.run += 1;
        let score = top.base + top.run;
        max = max.max(score);
        if max > limit {
            return max;
        }
        if let TokenTree::Group(g) = tt {
            top.after_brace = g.delimiter() == proc_macro2::Delimiter::Brace;
            if let Some(before) = attr
                && g.delimiter() == proc_macro2::Delimiter::Bracket
            {
                top.run = before;
            }
            stack.push(frame(g.stream().into_iter(), score));
        }
    }
    max
}

/// What a task body does, gathered while walking it.
#[derive(Debug, Default, Clone)]
struct Shape {
    /// A `loop`/`while true` with no reachable exit that ticks or sleeps, and no cancellation.
    endless_tick_loop: bool,
    /// Sleeps, then signals (send, notify, store, callback), without looping.
    sleep_then_signal: bool,
    /// Any loop at all.
    has_loop: bool,
    sleeps: bool,
    /// The first statement that ticks (`ticker.tick().await;`), for a fix that selects on a
    /// cancellation next to it.
    tick_stmt: Option<Range<usize>>,
}

/// A loop being walked.
#[derive(Debug, Default)]
struct LoopState {
    exits: bool,
    ticks: bool,
    cancels: bool,
    endless_kind: bool,
    /// `while running`: the variable the condition reads; assigned in the loop → it can end.
    cond_var: Option<String>,
    assigned: bool,
}

/// A spawn whose body shape is known only after the walk (a named async fn).
struct PendingSpawn {
    event: usize,
    body_fn: String,
}

const SPAWN_PATHS: &[&str] = &[
    "tokio::spawn",
    "tokio::task::spawn",
    "tokio::task::spawn_local",
    "tokio::spawn_local",
    "std::thread::spawn",
    "thread::spawn",
    "task::spawn",
    "task::spawn_local",
];

const GROW: &[&str] = &[
    "push",
    "push_back",
    "push_front",
    "insert",
    "extend",
    "or_insert",
    "or_insert_with",
    "or_default",
    "or_insert_with_key",
    "append",
];
const SHRINK: &[&str] = &[
    "remove",
    "retain",
    "clear",
    "drain",
    "swap_remove",
    "truncate",
    "pop",
    "pop_front",
    "pop_back",
    "split_off",
    "take",
    "remove_entry",
    "shrink_to",
];
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

struct Walker {
    facts: FileFacts,
    scope: ScopeId,
    class: Option<ClassId>,
    in_loop: bool,
    loop_span: Option<Range<usize>>,
    /// The innermost statement being walked, for [`Event::stmt`].
    stmt: Option<Range<usize>>,
    /// `use` map: local name → full path.
    uses: HashMap<String, String>,
    loops: Vec<LoopState>,
    /// Per open function-like scope: its shape so far.
    shapes: Vec<(ScopeId, Shape)>,
    /// Shapes of finished scopes.
    done_shapes: HashMap<ScopeId, Shape>,
    pending: Vec<PendingSpawn>,
    /// Inside a `LazyLock`/`OnceLock`/`OnceCell` initialiser.
    lazy_init: u32,
    /// Inside `unsafe` code (an `unsafe fn` or block).
    unsafe_depth: u32,
    /// The source, for the layout of fixes.
    src: String,
    /// Per spawn event: where the whole `spawn(…)` call ends.
    call_ends: HashMap<usize, usize>,
    /// The end of the `spawn(…)` call about to be recorded.
    next_call_end: Option<usize>,
    /// When lowering must stop (the per-file time budget); checked every few hundred nodes.
    deadline: Option<Instant>,
    ticks: u32,
    timed_out: bool,
}

thread_local! {
    /// While an all-ASCII file is lowered on this thread: the byte offset of each of its lines.
    static ASCII_LINES: std::cell::RefCell<Option<Vec<usize>>> =
        const { std::cell::RefCell::new(None) };
}

/// The byte range of a span. proc-macro2 keeps character offsets and turns them into bytes
/// through a per-file map it grows on every call; in an all-ASCII file (nearly every file)
/// characters are bytes, so the line and column it already knows give the offset directly.
fn span_range(s: Span) -> Range<usize> {
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
struct AsciiLines;

impl AsciiLines {
    fn set(text: &str) -> AsciiLines {
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
trait Ranged {
    fn range(&self) -> Range<usize>;
}

/// The first and last tokens of a node, when they are cheap to find (`None`: ask `Spanned`).
trait Ends {
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

/// Whether `compact(node)` could contain what the caller looks for, judged without printing
/// the node: some identifier in it ends with `ident_suffix`, or it holds a macro, a literal or a
/// function-pointer type (not looked into). `false` means it certainly does not.
fn may_print<'n, T: ?Sized>(
    node: &'n T,
    ident_suffix: &str,
    visit: fn(&mut Mentions, &'n T),
) -> bool {
    let mut m = Mentions {
        suffix: ident_suffix,
        found: false,
    };
    visit(&mut m, node);
    m.found
}

struct Mentions<'s> {
    suffix: &'s str,
    found: bool,
}

impl<'ast> Visit<'ast> for Mentions<'_> {
    fn visit_ident(&mut self, i: &'ast proc_macro2::Ident) {
        if !self.found && i.to_string().ends_with(self.suffix) {
            self.found = true;
        }
    }
    fn visit_macro(&mut self, _: &'ast syn::Macro) {
        self.found = true;
    }
    fn visit_lit(&mut self, _: &'ast syn::Lit) {
        self.found = true;
    }
    // `unsafe fn(..)` types: `unsafe` is a keyword, not an identifier.
    fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {
        self.found = true;
    }
}

/// `unsafe fn …` (as `compact(sig).contains("unsafefn")` judges it, without printing the
/// signature unless an `unsafe` is somewhere in it).
fn is_unsafe_fn(sig: &syn::Signature) -> bool {
    if matches!(sig.safety, syn::Safety::Unsafe(_)) && sig.abi.is_none() {
        return true;
    }
    may_print(sig, "unsafe", |m, s| m.visit_signature(s)) && compact(sig).contains("unsafefn")
}

/// Notes the `Arc<…>` types of a signature's type (printing it only when it can hold one).
fn arc_type(ty: &Type) -> Option<String> {
    may_print(ty, "Arc", |m, t| m.visit_type(t)).then(|| compact(ty))
}

fn compact(ts: impl ToTokens) -> String {
    ts.to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A path expression as text: `tokio::spawn`.
fn path_text(p: &syn::Path) -> String {
    p.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Fixes the Rust front end proposes, built with `quote` and printed with `prettyplease`.
impl Walker {
    fn newline(&self) -> &'static str {
        crate::rules::fixes::newline(&self.src)
    }

    fn indent_at(&self, offset: usize) -> String {
        crate::rules::fixes::line_indent(&self.src, offset).to_string()
    }

    /// A detached sleep-then-signal task: keep its handle in a guard that aborts it when the
    /// function returns, however it returns (the `finally` of Rust).
    fn abort_on_drop_hint(&self, idx: usize) -> Option<Box<Hint>> {
        let e = &self.facts.events[idx];
        let end = *self.call_ends.get(&idx)?;
        // Only `spawn(…);` as a statement of its own.
        if e.stmt.start != e.span.start || !self.src[end..e.stmt.end].trim().starts_with(';') {
            return None;
        }
        let guard = crate::lang::rust_fix::stmts(quote::quote! {
            /// Aborts the deadline task when this function returns, however it returns.
            struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
            impl<T> Drop for AbortOnDrop<T> {
                fn drop(&mut self) {
                    self.0.abort();
                }
            }
        })?;
        let nl = self.newline();
        let indent = self.indent_at(e.stmt.start);
        let mut head = crate::lang::rust_fix::indent(&guard, &indent, nl);
        head.push_str(nl);
        head.push_str(&indent);
        head.push_str("let _deadline = AbortOnDrop(");
        Some(Box::new(Hint {
            title: "abort the deadline task when the function returns (a drop guard)".into(),
            applicability: crate::diagnostic::Applicability::Unsafe,
            edits: vec![
                FixHint {
                    range: e.stmt.start..e.stmt.start,
                    text: head,
                },
                FixHint {
                    range: end..end,
                    text: ")".into(),
                },
            ],
        }))
    }

    /// An endless ticking loop: select on a shutdown token next to the tick. Display-only: the
    /// token has to come from the caller (a parameter or the app state).
    fn cancellable_tick_hint(&self, tick: &Range<usize>) -> Option<Box<Hint>> {
        let text = self.src.get(tick.clone())?.trim().trim_end_matches(';');
        let tick_expr: Expr = syn::parse_str(text.strip_suffix(".await")?).ok()?;
        let select = crate::lang::rust_fix::stmts(quote::quote! {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = #tick_expr => {}
            }
        })?;
        let indent = self.indent_at(tick.start);
        Some(Box::new(Hint {
            title: "end the loop when a shutdown `CancellationToken` is cancelled (pass the \
                    token `shutdown` in and cancel it on SIGTERM)"
                .into(),
            applicability: crate::diagnostic::Applicability::DisplayOnly,
            edits: vec![FixHint {
                range: tick.clone(),
                text: crate::lang::rust_fix::indent(&select, &indent, self.newline()),
            }],
        }))
    }

    /// `axum::serve(…)` without a graceful shutdown: add `.with_graceful_shutdown(…)` and a
    /// `shutdown_signal()` that waits for SIGTERM or Ctrl-C (unless the file has one).
    fn graceful_shutdown_hint(&self, call_end: usize) -> Option<Box<Hint>> {
        let mut edits = vec![FixHint {
            range: call_end..call_end,
            text: ".with_graceful_shutdown(shutdown_signal())".into(),
        }];
        let has_fn = self
            .facts
            .scopes
            .iter()
            .any(|s| s.name.as_deref() == Some("shutdown_signal"));
        if !has_fn {
            let item = crate::lang::rust_fix::items(quote::quote! {
                /// Resolves on SIGTERM or Ctrl-C: the server stops accepting, drains, and returns.
                async fn shutdown_signal() {
                    let ctrl_c = async {
                        let _ = tokio::signal::ctrl_c().await;
                    };
                    #[cfg(unix)]
                    let terminate = async {
                        match tokio::signal::unix::signal(
                            tokio::signal::unix::SignalKind::terminate(),
                        ) {
                            Ok(mut sigterm) => {
                                sigterm.recv().await;
                            }
                            Err(error) => {
                                eprintln!("cannot listen for SIGTERM: {error}");
                                std::future::pending::<()>().await;
                            }
                        }
                    };
                    #[cfg(not(unix))]
                    let terminate = std::future::pending::<()>();
                    tokio::select! {
                        _ = ctrl_c => {},
                        _ = terminate => {},
                    }
                }
            })?;
            let nl = self.newline();
            let end = self.src.len();
            let sep = if self.src.ends_with('\n') { "" } else { nl };
            edits.push(FixHint {
                range: end..end,
                text: format!("{sep}{nl}{}", item.replace('\n', nl)),
            });
        }
        Some(Box::new(Hint {
            title: "shut the server down gracefully on SIGTERM/Ctrl-C \
                    (`.with_graceful_shutdown(shutdown_signal())`)"
                .into(),
            applicability: crate::diagnostic::Applicability::Unsafe,
            edits,
        }))
    }

    /// `Err(_) => {}`: name the error and log it with the function's name for context, through
    /// the logger the file already uses (`tracing`, `log`, else `eprintln!`).
    fn log_error_hint(&self, arm: &syn::Arm) -> Option<FixHint> {
        let context = self.facts.scopes[crate::rules::named_owner(&self.facts, self.scope)]
            .name
            .clone()
            .unwrap_or_else(|| "operation".into());
        let msg = format!("{context} failed: {{error}}");
        let body: Expr = if self.src.contains("tracing::") || self.uses.contains_key("tracing") {
            syn::parse_quote!(tracing::warn!(#msg))
        } else if self.src.contains("log::") || self.uses.contains_key("log") {
            syn::parse_quote!(log::warn!(#msg))
        } else {
            syn::parse_quote!(eprintln!(#msg))
        };
        let body = crate::lang::rust_fix::expr(&body)?;
        let pat: syn::Pat = match &arm.pat {
            Pat::TupleStruct(t) => {
                let path = &t.path;
                syn::parse_quote!(#path(error))
            }
            _ => return None,
        };
        let pat = crate::lang::rust_fix::stmts(quote::quote! { let #pat = x; })?;
        let pat = pat.strip_prefix("let ")?.strip_suffix(" = x;")?.to_string();
        let start = span_range(arm.pat.span()).start;
        // A block body may hold comments (why the error is ignored): keep them, and log first.
        if let Expr::Block(b) = &*arm.body {
            let open = span_range(b.block.brace_token.span.open()).start;
            let close = span_range(b.block.brace_token.span.close()).start;
            let inner = self.src.get(open + 1..close).unwrap_or("");
            if inner.contains('\n') && !inner.trim().is_empty() {
                // Log on a line of its own, at the indentation of what the block holds.
                let first = inner.trim_start_matches([' ', '\t', '\r', '\n']);
                let indent = self.indent_at(close - inner.len() + (inner.len() - first.len()));
                return Some(FixHint {
                    range: start..open + 1,
                    text: format!("{pat} => {{{}{indent}{body};", self.newline()),
                });
            }
        }
        Some(FixHint {
            range: start..span_range(arm.body.span()).end,
            text: format!("{pat} => {{ {body}; }}"),
        })
    }
}

impl Walker {
    fn new(src: &str) -> Walker {
        let mut facts = FileFacts::default();
        facts.is_rust = true;
        facts.add_scope(Scope::new(ScopeKind::Module, None, 0..src.len()));
        Walker {
            src: src.to_string(),
            call_ends: HashMap::new(),
            next_call_end: None,
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
            lazy_init: 0,
            unsafe_depth: 0,
            deadline: None,
            ticks: 0,
            timed_out: false,
        }
    }

    /// Out of time? Then the walk stops descending and the file is reported as timed out.
    fn out_of_time(&mut self) -> bool {
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
    fn full_path(&self, p: &syn::Path) -> String {
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

    fn event(&mut self, kind: EventKind, span: Range<usize>) -> usize {
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

    fn declare(&mut self, name: &str, kind: BindingKind, span: Range<usize>) {
        self.facts.add_binding(name, self.scope, kind, span);
    }

    fn declare_pat(&mut self, pat: &Pat) {
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
    fn pat_name(pat: &Pat) -> Option<String> {
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
    fn place_of(&self, e: &Expr) -> PlaceRef {
        match e {
            Expr::Path(p) if p.qself.is_none() => {
                let t = path_text(&p.path);
                if t == "self" {
                    PlaceRef::This { class: self.class }
                } else if p.path.segments.len() == 1 {
                    PlaceRef::Name {
                        name: t,
                        scope: self.scope,
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
    fn is_local_value(&self, name: &str) -> bool {
        self.facts.bindings.iter().rev().any(|b| {
            b.name == name
                && b.kind == BindingKind::Var
                && b.scope != 0
                && self.facts.is_within(self.scope, b.scope)
        })
    }

    fn shape_mut(&mut self) -> &mut Shape {
        &mut self.shapes.last_mut().expect("module shape").1
    }

    /// Opens a function-like scope and walks `body` in it.
    fn scoped(
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

    fn declare_inputs<'i>(&mut self, inputs: impl Iterator<Item = &'i FnArg>) {
        for arg in inputs {
            if let FnArg::Typed(t) = arg {
                self.declare_pat(&t.pat);
                if let Some(ty) = arc_type(&t.ty) {
                    self.note_long_lived_type(&ty);
                }
            }
        }
    }

    /// `Arc<AppState>`, `State<Arc<AppState>>`: the inner type lives as long as its holders.
    fn note_long_lived_type(&mut self, ty: &str) {
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

    fn class_id(&mut self, name: &str) -> ClassId {
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
    fn value(&mut self, e: &Expr, place: PlaceRef) {
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
                }
                self.call(c, place);
            }
            Expr::MethodCall(m) => {
                // `self.task.take()`: the handle moves out of the field into `place`.
                if m.method == "take"
                    && m.args.is_empty()
                    && let Some(from) = self.simple_place(e)
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

    /// A place expression worth following (`h`, `self.task`, `self.task.take()`).
    fn simple_place(&self, e: &Expr) -> Option<PlaceRef> {
        let e = match e {
            Expr::MethodCall(m) if m.method == "take" && m.args.is_empty() => &*m.receiver,
            other => other,
        };
        let p = self.place_of(e);
        matches!(p, PlaceRef::Name { .. } | PlaceRef::Field { .. }).then_some(p)
    }

    fn call(&mut self, c: &syn::ExprCall, place: PlaceRef) {
        let Expr::Path(p) = &*c.func else {
            visit::visit_expr_call(self, c);
            return;
        };
        let full = self.full_path(&p.path);
        let head = c.func.range();
        let span = c.range().start..head.end;
        // `sleep(d).await`, `thread::sleep(d)`: the enclosing loops tick.
        if matches!(
            full.rsplit("::").next().unwrap_or(""),
            "sleep" | "sleep_until"
        ) {
            self.mark_tick();
        }
        // Spawned tasks.
        if SPAWN_PATHS.contains(&full.as_str())
            || (full == "spawn"
                && self
                    .uses
                    .get("spawn")
                    .is_some_and(|u| u.starts_with("tokio")))
        {
            self.next_call_end = Some(span_range(c.span()).end);
            self.spawn(&full, span, c.args.first(), place);
            for a in c.args.iter().skip(1) {
                self.visit_expr(a);
            }
            return;
        }
        let last_seg = full.rsplit("::").next().unwrap_or("");
        if matches!(
            full.as_str(),
            "std::mem::forget"
                | "mem::forget"
                | "core::mem::forget"
                | "Box::leak"
                | "ManuallyDrop::new"
                | "std::mem::ManuallyDrop::new"
        ) || (full == "forget" && self.uses.get("forget").is_some_and(|u| u.contains("mem")))
        {
            // Only what owns an OS resource (a file, socket, child, guard, permit) by its name,
            // and not inside `unsafe` code, where forgetting is an ownership technique.
            // `Box::leak` leaks by definition; `forget`/`ManuallyDrop` only matter for values that
            // own an OS resource, judged by name, outside the lock/once primitives that forget
            // their own guards on purpose.
            let arg = c.args.first().map(compact).unwrap_or_default();
            let resource = full.ends_with("Box::leak")
                || crate::facts::words(&arg.replace(['.', '(', ')', '&', ':', '?'], "_")).any(
                    |w| {
                        matches!(
                            w.as_str(),
                            "file"
                                | "socket"
                                | "sock"
                                | "stream"
                                | "conn"
                                | "connection"
                                | "child"
                                | "process"
                                | "listener"
                                | "tcp"
                                | "udp"
                                | "pipe"
                                | "recording"
                                | "writer"
                        )
                    },
                );
            let primitive = self
                .class
                .and_then(|c| self.facts.classes[c].name.as_deref())
                .is_some_and(|n| {
                    [
                        "Guard",
                        "Lock",
                        "Mutex",
                        "Permit",
                        "Semaphore",
                        "Once",
                        "Lazy",
                        "Cell",
                    ]
                    .iter()
                    .any(|w| n.contains(w))
                });
            // Not: a borrowed descriptor (`from_raw_fd`), a defused drop guard (`forget(guard)`
            // is the idiom), nor `Box::leak` handed straight on (`NonNull::from(Box::leak(..))`).
            let borrowed = arg.contains("from_raw") || arg.contains("unsafe");
            let handed_on = full.ends_with("Box::leak") && matches!(place, PlaceRef::Argument);
            if resource && !primitive && !borrowed && !handed_on && self.unsafe_depth == 0 {
                self.event(EventKind::Forget { api: full.clone() }, span.clone());
            }
        }
        if full == "axum::serve"
            || (full == "serve"
                && self
                    .uses
                    .get("serve")
                    .is_some_and(|u| u.starts_with("axum")))
        {
            let idx = self.event(
                EventKind::ServerStart {
                    api: "axum::serve".into(),
                    graceful: false,
                },
                span.clone(),
            );
            self.facts.events[idx].hint = self.graceful_shutdown_hint(span_range(c.span()).end);
        }
        if full.ends_with("SignalKind::terminate") {
            self.event(
                EventKind::SignalListen {
                    signal: "SIGTERM".into(),
                },
                span.clone(),
            );
        }
        if last_seg == "ctrl_c" {
            self.event(
                EventKind::SignalListen {
                    signal: "SIGINT".into(),
                },
                span.clone(),
            );
        }
        if full.ends_with("LruCache::unbounded")
            || full.ends_with("LruCache::unbounded_with_hasher")
        {
            let idx = self.event(
                EventKind::CacheCtor {
                    api: "LruCache::unbounded".into(),
                    options: Vec::new(),
                    at: None,
                },
                span.clone(),
            );
            // `LruCache::unbounded()` → `LruCache::new(NonZeroUsize::new(10_000).expect(..))`.
            if c.args.is_empty()
                && let Some(last) = p.path.segments.last()
                && last.ident == "unbounded"
            {
                let mut path = p.path.clone();
                if let Some(l) = path.segments.last_mut() {
                    l.ident = syn::Ident::new("new", l.ident.span());
                }
                let bounded: Expr = syn::parse_quote!(
                    #path(std::num::NonZeroUsize::new(10_000).expect("a non-zero capacity"))
                );
                if let Some(text) = crate::lang::rust_fix::expr(&bounded) {
                    self.facts.events[idx].hint = Some(Box::new(Hint {
                        title: "keep at most 10,000 entries (least recently used evicted)".into(),
                        applicability: crate::diagnostic::Applicability::Unsafe,
                        edits: vec![FixHint {
                            range: span_range(c.span()),
                            text,
                        }],
                    }));
                }
            }
        }
        // Connections and adapters assigned somewhere (duplicate-adapter).
        let type_seg = full.rsplit("::").nth(1).unwrap_or("");
        let adapterish = [
            "Adapter",
            "Connection",
            "Client",
            "Session",
            "Socket",
            "TcpStream",
            "UnixStream",
            "WebSocketStream",
        ]
        .iter()
        .any(|s| type_seg.ends_with(s));
        if (last_seg == "connect_async"
            || (adapterish && matches!(last_seg, "connect" | "new" | "open")))
            && client_ctor(&full).is_none()
        {
            self.event(
                EventKind::New {
                    class: full.clone(),
                    handle: place.clone(),
                    lazy: self.lazy_init > 0,
                    factory: true,
                },
                span.clone(),
            );
        }
        if let Some(api) = unbounded_api(&full, c.args.len()) {
            let idx = self.event(EventKind::UnboundedQueue { api }, span.clone());
            self.facts.events[idx].hint = bounded_channel_hint(c);
        }
        if let Some(class) = client_ctor(&full) {
            let lazy = self.lazy_init > 0;
            self.event(
                EventKind::New {
                    class,
                    handle: place.clone(),
                    lazy,
                    factory: true,
                },
                span.clone(),
            );
        }
        let last = full.rsplit("::").next().unwrap_or("").to_string();
        if matches!(
            full.as_str(),
            "drop" | "std::mem::drop" | "std::mem::forget"
        ) && let Some(arg) = c.args.first()
        {
            // `drop(tokio::spawn(..))`: the handle is thrown away (the task is detached).
            self.value(arg, PlaceRef::Discarded);
            return;
        }
        if (full == "Arc::new" || full == "std::sync::Arc::new" || full == "Rc::new")
            && let Some(arg) = c.args.first()
        {
            // `Arc::new(Hub { .. })`, `Arc::new(Hub::new(..))`: a shared, long-lived value.
            let name = match arg {
                Expr::Struct(s) => s.path.segments.last().map(|s| s.ident.to_string()),
                Expr::Call(inner) => match &*inner.func {
                    Expr::Path(p) if p.path.segments.len() >= 2 => p
                        .path
                        .segments
                        .iter()
                        .rev()
                        .nth(1)
                        .map(|s| s.ident.to_string()),
                    _ => None,
                },
                _ => None,
            };
            if let Some(mut n) = name {
                if n == "Self"
                    && let Some(c) = self.class
                {
                    n = self.facts.classes[c].name.clone().unwrap_or_default();
                }
                self.facts.long_lived_types.push(n);
            }
        }
        // Calling a callback value (`on_timeout()`) after a sleep: a signal.
        if p.path.segments.len() == 1 && self.is_local_value(&last) {
            self.mark_signal();
        }
        // Calls of named functions, for call-graph lifetimes.
        if p.path.segments.len() == 1 {
            self.event(
                EventKind::Call {
                    callee: PlaceRef::Name {
                        name: last.clone(),
                        scope: self.scope,
                    },
                },
                span.clone(),
            );
        } else if full.starts_with("Self::")
            && let Some(class) = self.class
        {
            self.event(
                EventKind::Call {
                    callee: PlaceRef::Field {
                        class,
                        name: last.clone(),
                    },
                },
                span.clone(),
            );
        }
        let lazy = matches!(
            full.as_str(),
            "LazyLock::new"
                | "std::sync::LazyLock::new"
                | "Lazy::new"
                | "once_cell::sync::Lazy::new"
                | "LazyCell::new"
        );
        // Routing functions take handlers that run per request.
        let route = matches!(
            last.as_str(),
            "get" | "post" | "put" | "delete" | "patch" | "any"
        ) && (full.contains("routing")
            || self.uses.get(&last).is_some_and(|u| u.contains("axum")));
        self.lazy_init += u32::from(lazy);
        for a in &c.args {
            self.argument(
                a,
                &full,
                if route {
                    CallbackKind::Route
                } else {
                    CallbackKind::Other
                },
            );
        }
        self.lazy_init -= u32::from(lazy);
    }

    /// An argument: a closure/async block becomes a callback scope, a fn name a callback
    /// reference, a place an escape.
    fn argument(&mut self, a: &Expr, callee: &str, kind: CallbackKind) {
        let registrar = || Registrar {
            callee: callee.to_string(),
            method: callee.rsplit("::").next().unwrap_or(callee).to_string(),
            event: None,
            target: None,
            arg_index: 0,
            kind,
        };
        match a {
            Expr::Closure(cl) => {
                let is_async = cl.asyncness.is_some();
                self.scoped(
                    ScopeKind::Callback(registrar()),
                    None,
                    cl.range(),
                    is_async,
                    self.class,
                    |w| {
                        for input in &cl.inputs {
                            w.declare_pat(input);
                        }
                        w.visit_expr(&cl.body);
                    },
                );
            }
            Expr::Async(ab) => {
                self.scoped(
                    ScopeKind::Callback(registrar()),
                    None,
                    ab.range(),
                    true,
                    self.class,
                    |w| w.visit_block(&ab.block),
                );
            }
            Expr::Path(p) if p.path.segments.len() == 1 => {
                let func = self.place_of(a);
                if kind != CallbackKind::Other {
                    self.event(
                        EventKind::PassedAsCallback {
                            func: func.clone(),
                            registrar: registrar(),
                        },
                        a.range(),
                    );
                }
                self.event(EventKind::Escape { place: func }, a.range());
            }
            _ => {
                let place = self.place_of(a);
                if !matches!(place, PlaceRef::Unknown) {
                    self.event(EventKind::Escape { place }, a.range());
                }
                self.value(a, PlaceRef::Argument);
            }
        }
    }

    /// `tokio::spawn(body)` / `set.spawn(body)`: judge the body's shape once it is known.
    fn spawn(&mut self, api: &str, span: Range<usize>, body: Option<&Expr>, handle: PlaceRef) {
        // A JoinHandle is a disposable too: dropping one detaches its task (duplicate-adapter).
        if api != "JoinSet::spawn" {
            self.event(
                EventKind::New {
                    class: "JoinHandle".into(),
                    handle: handle.clone(),
                    lazy: self.lazy_init > 0,
                    factory: true,
                },
                span.clone(),
            );
        }
        let idx = self.event(
            EventKind::Timer {
                api: api.to_string(),
                repeat: false,
                handle,
                unref: false,
                reschedules: None,
                deadline: None,
                callback: None,
            },
            span,
        );
        if let Some(end) = self.next_call_end.take() {
            self.call_ends.insert(idx, end);
        }
        let Some(body) = body else { return };
        let registrar = Registrar {
            callee: api.to_string(),
            method: "spawn".into(),
            event: None,
            target: None,
            arg_index: 0,
            kind: CallbackKind::Other,
        };
        let scope = match body {
            Expr::Async(ab) => Some(self.scoped(
                ScopeKind::Callback(registrar),
                None,
                ab.range(),
                true,
                self.class,
                |w| w.visit_block(&ab.block),
            )),
            Expr::Closure(cl) => Some(self.scoped(
                ScopeKind::Callback(registrar),
                None,
                cl.range(),
                cl.asyncness.is_some(),
                self.class,
                |w| w.visit_expr(&cl.body),
            )),
            other => {
                // `tokio::spawn(run(state))`: the body is a named async fn, judged after the walk.
                let mut inner = other;
                if let Expr::Await(a) = inner {
                    inner = &a.base;
                }
                if let Expr::Call(c) = inner
                    && let Expr::Path(p) = &*c.func
                    && p.path.segments.len() == 1
                {
                    self.pending.push(PendingSpawn {
                        event: idx,
                        body_fn: path_text(&p.path),
                    });
                } else if let Expr::MethodCall(m) = inner
                    && let Expr::Path(p) = &*m.receiver
                    && path_text(&p.path) == "self"
                {
                    self.pending.push(PendingSpawn {
                        event: idx,
                        body_fn: m.method.to_string(),
                    });
                }
                self.visit_expr(other);
                None
            }
        };
        if let Some(s) = scope {
            let shape = self.done_shapes.get(&s).cloned().unwrap_or_default();
            if shape.has_loop {
                let span = self.facts.events[idx].span.clone();
                self.event(EventKind::LongTask, span);
            }
            self.apply_shape(idx, &shape, Some(s));
        } else {
            // Not a task we can judge yet: neutral until `finish`.
            self.neutralise(idx);
        }
    }

    /// Sets what a spawn event means from its body's shape; a body that neither loops forever
    /// nor fires a detached timer is no timer at all.
    fn apply_shape(&mut self, idx: usize, shape: &Shape, scope: Option<ScopeId>) {
        let EventKind::Timer {
            repeat,
            deadline,
            callback,
            ..
        } = &mut self.facts.events[idx].kind
        else {
            return;
        };
        *callback = scope;
        if shape.endless_tick_loop {
            *repeat = true;
            let hint = shape
                .tick_stmt
                .as_ref()
                .and_then(|t| self.cancellable_tick_hint(t));
            self.facts.events[idx].hint = hint;
        } else if shape.sleep_then_signal && !shape.has_loop {
            *deadline = Some(Deadline {
                in_race: true,
                promise: None,
                manual_race: false,
                timeout_helper: false,
                race_call: None,
            });
            self.facts.events[idx].hint = self.abort_on_drop_hint(idx);
        } else {
            self.neutralise(idx);
        }
    }

    /// A spawned task that is neither: keep it as a plain escape of nothing (no timer).
    fn neutralise(&mut self, idx: usize) {
        if let EventKind::Timer { handle, .. } = &self.facts.events[idx].kind {
            let handle = handle.clone();
            self.facts.events[idx].kind = EventKind::Escape { place: handle };
        }
    }

    fn finish(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let scope = self.facts.scopes.iter().position(|s| {
                s.name.as_deref() == Some(p.body_fn.as_str())
                    && matches!(s.kind, ScopeKind::Function | ScopeKind::Method { .. })
            });
            let Some(scope) = scope else { continue };
            let shape = self.done_shapes.get(&scope).cloned().unwrap_or_default();
            if shape.has_loop {
                let span = self.facts.events[p.event].span.clone();
                self.facts.events.push(Event {
                    hint: None,
                    kind: EventKind::LongTask,
                    stmt: self.facts.events[p.event].stmt.clone(),
                    span,
                    scope: self.facts.events[p.event].scope,
                    in_loop: false,
                    loop_span: None,
                    conditional: false,
                    path: PathKind::Normal,
                });
            }
            // Restore the timer event (it was neutralised) and judge it by the fn's shape.
            let e = &self.facts.events[p.event];
            let EventKind::Escape { place } = &e.kind else {
                continue;
            };
            let handle = place.clone();
            self.facts.events[p.event].kind = EventKind::Timer {
                api: "tokio::spawn".into(),
                repeat: false,
                handle,
                unref: false,
                reschedules: None,
                deadline: None,
                callback: None,
            };
            self.apply_shape(p.event, &shape, Some(scope));
        }
    }

    fn method_call(&mut self, m: &syn::ExprMethodCall, place: PlaceRef) {
        let method = m.method.to_string();
        let span = m.range();
        let head = span.start..span_range(m.method.span()).end;
        // `set.spawn(body)`, `tracker.spawn(body)`: the set holds the handle.
        if method == "spawn" || method == "spawn_local" {
            let set = self.place_of(&m.receiver);
            self.visit_expr(&m.receiver);
            self.spawn("JoinSet::spawn", head, m.args.first(), set);
            return;
        }
        let recv = self.place_of(&m.receiver);
        let known = !matches!(recv, PlaceRef::Unknown);
        if known
            && matches!(
                method.as_str(),
                "close"
                    | "shutdown"
                    | "abort"
                    | "cancel"
                    | "disconnect"
                    | "stop"
                    | "terminate"
                    | "kill"
                    | "flush_and_close"
            )
        {
            self.event(
                EventKind::Release {
                    place: recv.clone(),
                    method: method.clone(),
                },
                head.clone(),
            );
        }
        if method == "build"
            && let Some((root, chain)) = builder_chain(m)
            && let Expr::Path(p) = &*root.func
        {
            let full = self.full_path(&p.path);
            if full.ends_with("Cache::builder")
                && (full.contains("moka")
                    || self.uses.get("Cache").is_some_and(|u| u.contains("moka")))
            {
                self.event(
                    EventKind::CacheCtor {
                        api: "moka::Cache::builder".into(),
                        options: chain,
                        at: Some(span_range(m.dot_token.span()).start),
                    },
                    root.range(),
                );
            }
        }
        match method.as_str() {
            // Releases of task handles.
            "abort" | "abort_all" | "shutdown" | "join_next" | "join_all" | "wait" | "close"
            | "detach_all" | "join"
                if known =>
            {
                self.event(
                    EventKind::ClearTimer {
                        handle: recv.clone(),
                    },
                    head.clone(),
                );
            }
            "tick" => self.mark_tick(),
            "is_cancelled" | "cancelled" | "changed" => self.mark_cancel(),
            "send" | "notify_one" | "notify_waiters" | "store" | "call" => self.mark_signal(),
            _ => {}
        }
        if known && GROW.contains(&method.as_str()) {
            self.event(
                EventKind::Grow {
                    place: recv.clone(),
                },
                span.clone(),
            );
        } else if known && SHRINK.contains(&method.as_str()) {
            self.event(
                EventKind::Shrink {
                    place: recv.clone(),
                },
                span.clone(),
            );
        } else if method == "len" && known {
            // Judged where compared (binary expressions).
        }
        // `.map(|x| …)` and friends run per item.
        let kind = if matches!(
            method.as_str(),
            "map"
                | "for_each"
                | "then"
                | "filter_map"
                | "and_then"
                | "flat_map"
                | "filter"
                | "fold"
                | "try_for_each"
                | "for_each_concurrent"
                | "buffer_unordered"
        ) {
            CallbackKind::Iteration
        } else {
            CallbackKind::Other
        };
        let lazy = matches!(
            method.as_str(),
            "get_or_init" | "get_or_try_init" | "call_once"
        );
        // A builder chain (`Client::builder().timeout(..).build()`) delivers its receiver's
        // value: the construction at its root goes where the chain's result goes.
        if matches!(&*m.receiver, Expr::Call(_) | Expr::MethodCall(_)) && !known {
            self.value(&m.receiver, place.clone());
        } else {
            self.visit_expr(&m.receiver);
        }
        self.lazy_init += u32::from(lazy);
        for a in &m.args {
            self.argument(a, &method, kind);
        }
        self.lazy_init -= u32::from(lazy);
        if method == "with_graceful_shutdown"
            && let Some((root, _)) = builder_chain(m)
        {
            let start = root.range().start;
            for e in self.facts.events.iter_mut().rev() {
                if let EventKind::ServerStart { graceful, .. } = &mut e.kind
                    && e.span.start == start
                {
                    *graceful = true;
                    break;
                }
            }
        }
    }

    fn mark_tick(&mut self) {
        for l in &mut self.loops {
            l.ticks = true;
        }
        let stmt = self.stmt.clone();
        let in_loop = !self.loops.is_empty();
        let shape = self.shape_mut();
        shape.sleeps = true;
        if shape.tick_stmt.is_none() && in_loop {
            shape.tick_stmt = stmt;
        }
    }

    fn mark_cancel(&mut self) {
        for l in &mut self.loops {
            l.cancels = true;
        }
    }

    fn mark_signal(&mut self) {
        let shape = self.shape_mut();
        if shape.sleeps {
            shape.sleep_then_signal = true;
        }
    }

    fn enter_loop(
        &mut self,
        endless_kind: bool,
        cond_var: Option<String>,
        span: Range<usize>,
        body: impl FnOnce(&mut Self),
    ) {
        self.loops.push(LoopState {
            endless_kind,
            cond_var,
            ..LoopState::default()
        });
        self.shape_mut().has_loop = true;
        let saved = (self.in_loop, self.loop_span.replace(span));
        self.in_loop = true;
        body(self);
        (self.in_loop, self.loop_span) = saved;
        let Some(l) = self.loops.pop() else { return };
        if l.endless_kind && !l.exits && !l.assigned && l.ticks && !l.cancels {
            self.shape_mut().endless_tick_loop = true;
        }
        // A tick inside an inner loop ticks the outer one too; an exit does not propagate.
        if let Some(outer) = self.loops.last_mut() {
            outer.ticks |= l.ticks;
            outer.cancels |= l.cancels;
        }
    }

    /// Scans a macro's tokens (`select!`, `join!`) for what the task-shape analysis needs.
    fn scan_macro(&mut self, tokens: &TokenStream) {
        fn walk(ts: &TokenStream, out: &mut Vec<String>) {
            for tt in ts.clone() {
                match tt {
                    TokenTree::Ident(i) => out.push(i.to_string()),
                    TokenTree::Group(g) => walk(&g.stream(), out),
                    _ => {}
                }
            }
        }
        let mut idents = Vec::new();
        walk(tokens, &mut idents);
        for id in &idents {
            match id.as_str() {
                "cancelled" | "is_cancelled" | "changed" | "recv" | "shutdown" | "closed" => {
                    self.mark_cancel()
                }
                "tick" | "sleep" | "sleep_until" => self.mark_tick(),
                "break" | "return" => {
                    for l in &mut self.loops {
                        l.exits = true;
                    }
                }
                "send" | "notify_one" | "notify_waiters" => self.mark_signal(),
                _ => {}
            }
        }
    }

    fn record_use(&mut self, tree: &UseTree, prefix: &str) {
        let join = |p: &str, s: &str| {
            if p.is_empty() {
                s.to_string()
            } else {
                format!("{p}::{s}")
            }
        };
        match tree {
            UseTree::Path(p) => self.record_use(&p.tree, &join(prefix, &p.ident.to_string())),
            UseTree::Name(n) => {
                let name = n.ident.to_string();
                if name == "self" {
                    if let Some(last) = prefix.rsplit("::").next() {
                        self.uses.insert(last.to_string(), prefix.to_string());
                    }
                } else {
                    self.uses.insert(name.clone(), join(prefix, &name));
                }
            }
            UseTree::Rename(r) => {
                self.uses
                    .insert(r.rename.to_string(), join(prefix, &r.ident.to_string()));
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
    fn collection_kind(ty: &str) -> Option<CollectionKind> {
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

/// The kind of client a constructor path builds, canonically named.
fn client_ctor(full: &str) -> Option<String> {
    let norm = full.trim_start_matches("::");
    Some(
        match norm {
            "reqwest::Client::new" | "reqwest::Client::builder" => "reqwest::Client",
            "reqwest::blocking::Client::new" | "reqwest::blocking::Client::builder" => {
                "reqwest::blocking::Client"
            }
            "hyper_util::client::legacy::Client::builder" => "hyper_util::Client",
            "redis::Client::open" => "redis::Client",
            "async_openai::Client::new" | "async_openai::Client::with_config" => {
                "async_openai::Client"
            }
            "mongodb::Client::with_uri_str" | "mongodb::Client::with_options" => "mongodb::Client",
            "sqlx::PgPool::connect"
            | "sqlx::PgPool::connect_with"
            | "sqlx::Pool::connect"
            | "sqlx::postgres::PgPool::connect"
            | "sqlx::MySqlPool::connect"
            | "sqlx::SqlitePool::connect" => "sqlx::Pool",
            "tonic::transport::Channel::from_static"
            | "tonic::transport::Endpoint::from_static" => "tonic::Channel",
            other => {
                // AWS SDK: `aws_sdk_s3::Client::new(&config)` / `from_conf`.
                if other.starts_with("aws_sdk_")
                    && (other.ends_with("::Client::new") || other.ends_with("::Client::from_conf"))
                {
                    return Some(
                        other
                            .trim_end_matches("::new")
                            .trim_end_matches("::from_conf")
                            .to_string(),
                    );
                }
                return None;
            }
        }
        .to_string(),
    )
}

/// An unbounded channel constructor, if `full` (with `nargs` arguments) is one.
/// `mpsc::unbounded_channel::<T>()` → `mpsc::channel::<T>(1024)` (and `crossbeam`/`flume`
/// `unbounded()` → `bounded(1024)`). A suggestion only: every `send` must then decide what a
/// full channel does (`send(..).await`, `try_send`), which the call sites do not show.
fn bounded_channel_hint(c: &syn::ExprCall) -> Option<Box<Hint>> {
    let Expr::Path(p) = &*c.func else {
        return None;
    };
    let mut path = p.path.clone();
    let last = path.segments.last_mut()?;
    let bounded = match last.ident.to_string().as_str() {
        "unbounded_channel" => "channel",
        "unbounded" => "bounded",
        _ => return None,
    };
    last.ident = syn::Ident::new(bounded, last.ident.span());
    let call: Expr = syn::parse_quote!(#path(1024));
    let text = crate::lang::rust_fix::expr(&call)?;
    Some(Box::new(Hint {
        title: format!(
            "bound the channel (`{text}`) and decide what a full channel does at each send: \
             wait (`send(..).await`), drop (`try_send`) or disconnect the slow consumer"
        ),
        applicability: crate::diagnostic::Applicability::DisplayOnly,
        edits: vec![FixHint {
            range: span_range(c.span()),
            text,
        }],
    }))
}

fn unbounded_api(full: &str, nargs: usize) -> Option<String> {
    let norm = full.trim_start_matches("::");
    let unbounded = match norm {
        "tokio::sync::mpsc::unbounded_channel"
        | "crossbeam_channel::unbounded"
        | "crossbeam::channel::unbounded"
        | "flume::unbounded"
        | "async_channel::unbounded"
        | "futures::channel::mpsc::unbounded"
        | "futures_channel::mpsc::unbounded" => true,
        // std's `channel()` takes no bound; tokio's `channel(n)` does.
        "std::sync::mpsc::channel" => nargs == 0,
        "mpsc::unbounded_channel" => true,
        _ => false,
    };
    unbounded.then(|| norm.to_string())
}

impl<'a> Visit<'a> for Walker {
    fn visit_item_use(&mut self, i: &'a syn::ItemUse) {
        self.record_use(&i.tree, "");
    }

    fn visit_item_struct(&mut self, i: &'a syn::ItemStruct) {
        let name = i.ident.to_string();
        let class = self.class_id(&name);
        self.facts.classes[class].span = i.range();
        for (n, f) in i.fields.iter().enumerate() {
            let fname = f
                .ident
                .as_ref()
                .map_or_else(|| n.to_string(), |id| id.to_string());
            let ty = compact(&f.ty);
            self.note_long_lived_type(&ty);
            let span = f.range();
            if let Some(kind) = Walker::collection_kind(&ty) {
                self.facts.events.push(Event {
                    kind: EventKind::Collection {
                        kind,
                        place: PlaceRef::Field {
                            class,
                            name: fname.clone(),
                        },
                    },
                    hint: None,
                    stmt: span.clone(),
                    span: span.clone(),
                    scope: 0,
                    in_loop: false,
                    loop_span: None,
                    conditional: false,
                    path: PathKind::Normal,
                });
            }
            self.facts.classes[class].fields.push(Field {
                name: fname,
                origin: FieldOrigin::Other,
                span,
                ty: Some(ty),
            });
        }
    }

    fn visit_item_static(&mut self, i: &'a syn::ItemStatic) {
        let name = i.ident.to_string();
        let ty = compact(&i.ty);
        self.declare(&name, BindingKind::Var, span_range(i.ident.span()));
        if let Some(b) = self.facts.bindings.last_mut() {
            b.ty = Some(ty.clone());
        }
        // A type in a static lives for the process.
        let inner: String = ty
            .rsplit('<')
            .next()
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !inner.is_empty() {
            self.facts.long_lived_types.push(inner);
        }
        if let Some(kind) = Walker::collection_kind(&ty) {
            self.event(
                EventKind::Collection {
                    kind,
                    place: PlaceRef::Name {
                        name: name.clone(),
                        scope: 0,
                    },
                },
                span_range(i.span()),
            );
        }
        self.lazy_init += 1;
        self.visit_expr(&i.expr);
        self.lazy_init -= 1;
    }

    fn visit_item_fn(&mut self, i: &'a syn::ItemFn) {
        let name = i.sig.ident.to_string();
        for a in &i.attrs {
            let path = a
                .path()
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            if path == "cached" || path == "once" || path == "io_cached" {
                let args = match &a.meta {
                    syn::Meta::List(l) => {
                        let mut out = Vec::new();
                        for tt in l.tokens.clone() {
                            if let TokenTree::Ident(id) = tt {
                                out.push(id.to_string());
                            }
                        }
                        out
                    }
                    _ => Vec::new(),
                };
                self.event(
                    EventKind::CacheCtor {
                        api: format!("#[{path}]"),
                        options: args,
                        at: None,
                    },
                    span_range(a.span()),
                );
            }
        }
        let id = self.facts.scopes.len();
        self.declare(
            &name,
            BindingKind::Function(id),
            span_range(i.sig.ident.span()),
        );
        let is_async = i.sig.asyncness.is_some();
        let unsafe_fn = u32::from(is_unsafe_fn(&i.sig));
        self.unsafe_depth += unsafe_fn;
        self.scoped(
            ScopeKind::Function,
            Some(name),
            i.range(),
            is_async,
            None,
            |w| {
                w.declare_inputs(i.sig.inputs.iter());
                w.visit_block(&i.block);
            },
        );
        self.unsafe_depth -= unsafe_fn;
    }

    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let Type::Path(tp) = &*i.self_ty else {
            visit::visit_item_impl(self, i);
            return;
        };
        let Some(seg) = tp.path.segments.last() else {
            return;
        };
        let class = self.class_id(&seg.ident.to_string());
        for item in &i.items {
            if let syn::ImplItem::Fn(f) = item {
                let name = f.sig.ident.to_string();
                let receiver = match f.sig.inputs.first() {
                    Some(FnArg::Receiver(r)) => Some(matches!(r.kind, syn::ReceiverKind::Value)),
                    _ => None,
                };
                let has_self = receiver.is_some();
                // `new()`, and a builder's consuming `build(self)`: they make a value, once.
                let unsafe_fn = u32::from(is_unsafe_fn(&f.sig));
                self.unsafe_depth += unsafe_fn;
                // A consuming `fn x(mut self, ..) -> Self` builds a new value (a builder step).
                let constructor = match receiver {
                    None => is_constructor_name(&name),
                    Some(by_value) => by_value,
                };
                self.scoped(
                    ScopeKind::Method {
                        constructor,
                        is_static: !has_self,
                    },
                    Some(name),
                    f.range(),
                    f.sig.asyncness.is_some(),
                    Some(class),
                    |w| {
                        w.declare_inputs(f.sig.inputs.iter());
                        if let syn::ReturnType::Type(_, ty) = &f.sig.output {
                            if let Some(ty) = arc_type(ty) {
                                w.note_long_lived_type(&ty);
                            }
                        }
                        w.visit_block(&f.block);
                    },
                );
                self.unsafe_depth -= unsafe_fn;
            } else {
                self.visit_impl_item(item);
            }
        }
    }

    fn visit_item_mod(&mut self, i: &'a syn::ItemMod) {
        // `#[cfg(test)] mod tests { … }`: test code, not the service.
        let is_test = i.attrs.iter().any(|a| compact(a).contains("cfg(test)"));
        if is_test {
            LiteralScan(&mut self.facts.suppression_lookalikes).visit_item_mod(i);
        } else {
            visit::visit_item_mod(self, i);
        }
    }

    fn visit_expr(&mut self, e: &'a Expr) {
        if self.out_of_time() {
            return;
        }
        visit::visit_expr(self, e);
    }

    fn visit_item(&mut self, i: &'a Item) {
        if self.out_of_time() {
            return;
        }
        if let Item::Fn(f) = i
            && f.attrs.iter().any(|a| {
                // Documentation is an attribute too, and the longest: never `#[test]`.
                if a.path().is_ident("doc") {
                    return false;
                }
                let t = compact(a);
                t == "#[test]" || t.starts_with("#[tokio::test")
            })
        {
            // Test code is not linted, but its strings may quote suppression comments.
            LiteralScan(&mut self.facts.suppression_lookalikes).visit_item(i);
            return;
        }
        visit::visit_item(self, i);
    }

    fn visit_local(&mut self, l: &'a syn::Local) {
        self.declare_pat(&l.pat);
        let Some(init) = &l.init else { return };
        let place = match &l.pat {
            Pat::Wild(_) => PlaceRef::Discarded,
            pat => match Walker::pat_name(pat) {
                Some(name) if name == "_" => PlaceRef::Discarded,
                Some(name) => PlaceRef::Name {
                    name,
                    scope: self.scope,
                },
                None => PlaceRef::Unknown,
            },
        };
        self.value(&init.expr, place);
        if let Some((_, diverge)) = &init.diverge {
            self.visit_expr(diverge);
        }
    }

    fn visit_stmt(&mut self, s: &'a Stmt) {
        let saved = self.stmt.replace(span_range(s.span()));
        match s {
            Stmt::Expr(e, Some(_)) => self.value(e, PlaceRef::Discarded),
            _ => visit::visit_stmt(self, s),
        }
        self.stmt = saved;
    }

    fn visit_block(&mut self, b: &'a syn::Block) {
        let n = b.stmts.len();
        for (i, s) in b.stmts.iter().enumerate() {
            // The tail expression is the block's value: returned from a fn body.
            if i + 1 == n
                && let Stmt::Expr(e, None) = s
                && matches!(
                    self.facts.scopes[self.scope].kind,
                    ScopeKind::Function | ScopeKind::Method { .. }
                )
            {
                self.value(e, PlaceRef::Returned(self.scope));
                continue;
            }
            self.visit_stmt(s);
        }
    }

    fn visit_expr_assign(&mut self, a: &'a syn::ExprAssign) {
        let place = self.place_of(&a.left);
        if let Expr::Path(p) = &*a.left {
            let name = path_text(&p.path);
            for l in &mut self.loops {
                if l.cond_var.as_deref() == Some(name.as_str()) {
                    l.assigned = true;
                }
            }
        }
        if matches!(place, PlaceRef::Field { .. } | PlaceRef::Name { .. }) {
            // Replacing the value: for a collection, a reset.
            self.event(
                EventKind::Shrink {
                    place: place.clone(),
                },
                a.range(),
            );
        }
        if rebuilds_from_itself(&a.left, &a.right) {
            let idx = self.event(
                EventKind::Reconcat {
                    place: place.clone(),
                },
                a.range(),
            );
            self.facts.events[idx].hint = append_in_place_hint(a);
        }
        self.visit_expr(&a.left);
        self.value(&a.right, place);
    }

    fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
        // `if let Some(h) = self.task.take()`: the handle moves to `h`.
        self.declare_pat(&l.pat);
        if let Some(name) = Walker::pat_name(&l.pat) {
            let to = PlaceRef::Name {
                name,
                scope: self.scope,
            };
            self.value(&l.expr, to);
        } else {
            self.visit_expr(&l.expr);
        }
    }

    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        self.call(c, PlaceRef::Unknown);
    }

    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        self.method_call(m, PlaceRef::Unknown);
    }

    fn visit_expr_struct(&mut self, s: &'a syn::ExprStruct) {
        // `Self { task: tokio::spawn(..), .. }`: the value goes to the field.
        let target = s.path.segments.last().map(|seg| seg.ident.to_string());
        let class = match target.as_deref() {
            Some("Self") => self.class,
            Some(name) => self
                .facts
                .classes
                .iter()
                .position(|c| c.name.as_deref() == Some(name)),
            None => None,
        };
        for f in &s.fields {
            let place = match (&f.member, class) {
                (syn::Member::Named(id), Some(c)) => PlaceRef::Field {
                    class: c,
                    name: id.to_string(),
                },
                _ => PlaceRef::Unknown,
            };
            self.value(&f.expr, place);
        }
        if let Some(rest) = &s.rest {
            self.visit_expr(rest);
        }
    }

    fn visit_expr_closure(&mut self, cl: &'a syn::ExprClosure) {
        self.scoped(
            ScopeKind::Function,
            None,
            cl.range(),
            cl.asyncness.is_some(),
            self.class,
            |w| {
                for input in &cl.inputs {
                    w.declare_pat(input);
                }
                w.visit_expr(&cl.body);
            },
        );
    }

    fn visit_expr_async(&mut self, ab: &'a syn::ExprAsync) {
        self.scoped(
            ScopeKind::Function,
            None,
            ab.range(),
            true,
            self.class,
            |w| w.visit_block(&ab.block),
        );
    }

    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        self.enter_loop(true, None, l.range(), |w| w.visit_block(&l.body));
    }

    fn visit_expr_while(&mut self, l: &'a syn::ExprWhile) {
        // `while true` loops forever, and so does `while running` when nothing in the loop
        // assigns `running`; `while flag.load(..)`, `while let Some(x) = rx.recv()` stop when
        // something changes.
        let mut cond = &*l.cond;
        if let Expr::Unary(u) = cond
            && matches!(u.op, syn::UnOp::Not(_))
        {
            cond = &u.expr;
        }
        let cond_var = match cond {
            Expr::Path(p) if p.path.segments.len() == 1 => Some(path_text(&p.path)),
            _ => None,
        };
        let endless =
            matches!(&*l.cond, Expr::Lit(lit) if compact(lit) == "true") || cond_var.is_some();
        let cond_cancels = !endless;
        self.enter_loop(endless, cond_var, l.range(), |w| {
            if cond_cancels {
                w.mark_cancel();
            }
            w.visit_expr(&l.cond);
            w.visit_block(&l.body);
        });
    }

    fn visit_expr_for_loop(&mut self, l: &'a syn::ExprForLoop) {
        self.visit_expr(&l.expr);
        self.enter_loop(false, None, l.range(), |w| {
            w.declare_pat(&l.pat);
            w.visit_block(&l.body);
        });
    }

    fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
        // `handle.await` joins the task: a release of its handle.
        let place = self.place_of(&a.base);
        if matches!(&*a.base, Expr::Path(_) | Expr::Field(_))
            && matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. })
        {
            self.event(EventKind::ClearTimer { handle: place }, a.range());
        }
        visit::visit_expr_await(self, a);
    }

    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        if is_err_wild(&arm.pat) && is_unit_body(&arm.body) {
            let fix = self.log_error_hint(arm);
            self.event(
                EventKind::SwallowedError {
                    what: "an `Err(_) => {}` arm".into(),
                    fix,
                },
                span_range(arm.pat.span()),
            );
        }
        visit::visit_arm(self, arm);
    }

    fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
        // `if self.x.is_some() { return …; }`: a guard for what follows in this fn.
        let exits = i
            .then_branch
            .stmts
            .last()
            .is_some_and(|s| matches!(s, Stmt::Expr(Expr::Return(_), _)));
        if exits && i.else_branch.is_none() {
            let guard = compact(&i.cond);
            self.facts.scopes[self.scope]
                .early_return_guards
                .push(guard);
        }
        if let Expr::Let(l) = &*i.cond
            && is_err_wild(&l.pat)
            && i.then_branch.stmts.is_empty()
            && i.else_branch.is_none()
        {
            self.event(
                EventKind::SwallowedError {
                    what: "an empty `if let Err(_) = …` body".into(),
                    fix: None,
                },
                i.range(),
            );
        }
        visit::visit_expr_if(self, i);
    }

    fn visit_expr_unsafe(&mut self, u: &'a syn::ExprUnsafe) {
        self.unsafe_depth += 1;
        visit::visit_expr_unsafe(self, u);
        self.unsafe_depth -= 1;
    }

    fn visit_expr_break(&mut self, b: &'a syn::ExprBreak) {
        if let Some(l) = self.loops.last_mut() {
            l.exits = true;
        }
        visit::visit_expr_break(self, b);
    }

    fn visit_expr_return(&mut self, r: &'a syn::ExprReturn) {
        for l in &mut self.loops {
            l.exits = true;
        }
        if let Some(e) = &r.expr {
            self.value(e, PlaceRef::Returned(self.scope));
        }
    }

    fn visit_expr_try(&mut self, t: &'a syn::ExprTry) {
        // `?` returns on error: an exit from every enclosing loop.
        for l in &mut self.loops {
            l.exits = true;
        }
        visit::visit_expr_try(self, t);
    }

    fn visit_expr_binary(&mut self, b: &'a syn::ExprBinary) {
        use syn::BinOp::*;
        if matches!(b.op, Lt(_) | Le(_) | Gt(_) | Ge(_) | Eq(_) | Ne(_)) {
            for side in [&*b.left, &*b.right] {
                if let Expr::MethodCall(m) = side
                    && (m.method == "len" || m.method == "is_empty")
                {
                    let place = self.place_of(&m.receiver);
                    if !matches!(place, PlaceRef::Unknown) {
                        self.event(EventKind::SizeCheck { place }, side.range());
                    }
                }
            }
        }
        visit::visit_expr_binary(self, b);
    }

    fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
        let full = self.full_path(&p.path);
        let last = full.rsplit("::").next().unwrap_or("");
        // `sleep(d).await`, `thread::sleep(d)` mark the enclosing loops as ticking.
        if matches!(last, "sleep" | "sleep_until" | "IntervalStream") {
            self.mark_tick();
        }
        if full.ends_with("SignalKind::terminate") {
            self.event(
                EventKind::SignalListen {
                    signal: "SIGTERM".into(),
                },
                p.range(),
            );
        }
        visit::visit_expr_path(self, p);
    }

    fn visit_lit_str(&mut self, s: &'a syn::LitStr) {
        if s.value().contains("unleak-ignore") {
            self.facts.suppression_lookalikes.push(span_range(s.span()));
        }
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        self.scan_macro(&m.tokens);
        literal_lookalikes(&m.tokens, &mut self.facts.suppression_lookalikes);
        // thread_local! { static X: RefCell<Vec<..>> = … } and lazy_static!: statics.
        let name = m
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if matches!(name.as_str(), "thread_local" | "lazy_static")
            && let Ok(items) = syn::parse2::<StaticItems>(m.tokens.clone())
        {
            for s in items.0 {
                let ty = compact(&s.ty);
                self.declare(
                    &s.ident.to_string(),
                    BindingKind::Var,
                    span_range(s.ident.span()),
                );
                if let Some(kind) = Walker::collection_kind(&ty) {
                    self.event(
                        EventKind::Collection {
                            kind,
                            place: PlaceRef::Name {
                                name: s.ident.to_string(),
                                scope: 0,
                            },
                        },
                        span_range(s.ident.span()),
                    );
                }
            }
        }
    }
}

/// Collects the string literals that quote a suppression comment, in code the walker skips.
struct LiteralScan<'o>(&'o mut Vec<Range<usize>>);

impl<'a> Visit<'a> for LiteralScan<'_> {
    fn visit_lit_str(&mut self, s: &'a syn::LitStr) {
        if s.value().contains("unleak-ignore") {
            self.0.push(span_range(s.span()));
        }
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        literal_lookalikes(&m.tokens, self.0);
    }
}

fn literal_lookalikes(ts: &TokenStream, out: &mut Vec<Range<usize>>) {
    for tt in ts.clone() {
        match tt {
            TokenTree::Literal(l) if l.to_string().contains("unleak-ignore") => {
                out.push(span_range(l.span()))
            }
            TokenTree::Group(g) => literal_lookalikes(&g.stream(), out),
            _ => {}
        }
    }
}

/// `static NAME: Ty = expr;` items inside `thread_local!` / `lazy_static!`.
struct StaticItems(Vec<StaticItem>);

struct StaticItem {
    ident: syn::Ident,
    ty: Type,
}

impl syn::parse::Parse for StaticItems {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let _attrs = input.call(syn::Attribute::parse_outer)?;
            let _vis: syn::Visibility = input.parse()?;
            let _static: syn::Token![static] = input.parse()?;
            if input.peek(syn::Token![ref]) {
                let _r: syn::Token![ref] = input.parse()?;
            }
            let ident: syn::Ident = input.parse()?;
            let _colon: syn::Token![:] = input.parse()?;
            let ty: Type = input.parse()?;
            let _eq: syn::Token![=] = input.parse()?;
            let _expr: Expr = input.parse()?;
            if input.peek(syn::Token![;]) {
                let _semi: syn::Token![;] = input.parse()?;
            }
            out.push(StaticItem { ident, ty });
        }
        Ok(StaticItems(out))
    }
}

/// The call at the root of a method chain (`Cache::builder()` in
/// `Cache::builder().max_capacity(..).build()`) and the method names along the chain.
fn builder_chain(m: &syn::ExprMethodCall) -> Option<(&syn::ExprCall, Vec<String>)> {
    let mut names = vec![m.method.to_string()];
    let mut cur = &*m.receiver;
    loop {
        match cur {
            Expr::MethodCall(inner) => {
                names.push(inner.method.to_string());
                cur = &inner.receiver;
            }
            Expr::Await(a) => cur = &a.base,
            Expr::Try(t) => cur = &t.expr,
            Expr::Paren(p) => cur = &p.expr,
            Expr::Call(c) => return Some((c, names)),
            _ => return None,
        }
    }
}

/// `Err(_)`.
fn is_err_wild(p: &Pat) -> bool {
    matches!(p, Pat::TupleStruct(t)
        if t.path.segments.last().is_some_and(|s| s.ident == "Err")
            && t.elems.len() == 1
            && matches!(t.elems.first(), Some(Pat::Wild(_))))
}

/// `{}` or `()`.
fn is_unit_body(e: &Expr) -> bool {
    match e {
        Expr::Block(b) => b.block.stmts.is_empty(),
        Expr::Tuple(t) => t.elems.is_empty(),
        _ => false,
    }
}

/// `v = [v, chunk].concat()`, `s = s + &x`, `s = s.clone() + ..`, `s = format!("{s}{x}")`.
/// `v = [v.as_slice(), x].concat()` → `v.extend_from_slice(x)`; `s = s + x` → `s += x`: the
/// same value, appended in place instead of copied. Safe: behaviour is kept.
fn append_in_place_hint(a: &syn::ExprAssign) -> Option<Box<Hint>> {
    let left = &a.left;
    let new: Expr = match &*a.right {
        Expr::MethodCall(m) if m.method == "concat" => {
            let Expr::Array(arr) = &*m.receiver else {
                return None;
            };
            let mut elems = arr.elems.iter();
            let method = match elems.next()? {
                Expr::MethodCall(first) if first.method == "as_slice" => "extend_from_slice",
                Expr::MethodCall(first) if first.method == "as_str" => "push_str",
                _ => return None,
            };
            let rest: Vec<&Expr> = elems.collect();
            let [one] = rest.as_slice() else {
                return None;
            };
            let method = syn::Ident::new(method, proc_macro2::Span::call_site());
            syn::parse_quote!(#left.#method(#one))
        }
        Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_)) => {
            let right = &b.right;
            syn::parse_quote!(#left += #right)
        }
        _ => return None,
    };
    let text = crate::lang::rust_fix::expr(&new)?;
    if text.contains('\n') {
        return None;
    }
    Some(Box::new(Hint {
        title: format!("append in place: `{text}`"),
        applicability: crate::diagnostic::Applicability::Safe,
        edits: vec![FixHint {
            range: span_range(a.span()),
            text,
        }],
    }))
}

fn rebuilds_from_itself(left: &Expr, right: &Expr) -> bool {
    let Expr::Path(lp) = left else {
        return false;
    };
    let name = path_text(&lp.path);
    fn is_name(e: &Expr, name: &str) -> bool {
        match e {
            Expr::Path(p) => path_text(&p.path) == name,
            // `v.clone()`, `v.as_slice()`, `s.as_str()`, `&v`, `&v[..]`
            Expr::MethodCall(m)
                if matches!(
                    m.method.to_string().as_str(),
                    "clone" | "as_slice" | "as_str" | "to_vec"
                ) =>
            {
                is_name(&m.receiver, name)
            }
            Expr::Reference(r) => is_name(&r.expr, name),
            Expr::Index(i) => is_name(&i.expr, name),
            Expr::Paren(p) => is_name(&p.expr, name),
            _ => false,
        }
    }
    let is_name = |e: &Expr| is_name(e, &name);
    match right {
        Expr::MethodCall(m) if m.method == "concat" => {
            matches!(&*m.receiver, Expr::Array(a) if a.elems.first().is_some_and(is_name))
        }
        // `s + &x`, `s + "…"`, `s + x.as_str()`: string building (not `pos + 1`).
        Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_)) => {
            // `s.clone() + part`: only a String is cloned to be added to.
            let cloned = matches!(&*b.left, Expr::MethodCall(m) if m.method == "clone");
            is_name(&b.left)
                && match &*b.right {
                    Expr::Reference(_) => true,
                    Expr::Path(_) => cloned,
                    Expr::Lit(l) => matches!(l.lit, syn::Lit::Str(_)),
                    Expr::MethodCall(m) => {
                        matches!(
                            m.method.to_string().as_str(),
                            "as_str" | "to_string" | "to_owned"
                        )
                    }
                    _ => false,
                }
        }
        Expr::Macro(mac) if mac.mac.path.is_ident("format") => {
            let text = mac.mac.tokens.to_string();
            text.trim_start_matches('"')
                .starts_with(&format!("{{{name}}}"))
                || (text.starts_with("\"{}") && text.contains(&format!(", {name}")))
        }
        _ => false,
    }
}

/// Associated fns that build the value they belong to.
fn is_constructor_name(name: &str) -> bool {
    matches!(
        name,
        "new" | "build" | "init" | "connect" | "open" | "default"
    ) || name.starts_with("new_")
        || name.starts_with("with_")
        || name.starts_with("from_")
        || name.starts_with("create")
        || name.starts_with("build_")
        || name.starts_with("connect_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timers(src: &str) -> Vec<(bool, bool, Place)> {
        let f = lower(src).unwrap();
        f.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Timer {
                    repeat,
                    deadline,
                    handle,
                    ..
                } => Some((*repeat, deadline.is_some(), f.resolve(handle))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn endless_ticking_spawn_is_a_repeating_timer_unless_cancellable() {
        let leak = "fn main() { tokio::spawn(async move { let mut i = tokio::time::interval(d); loop { i.tick().await; work(); } }); }";
        assert_eq!(timers(leak), vec![(true, false, Place::Discarded)]);
        let ok = "fn main() { let t = token.clone(); tokio::spawn(async move { loop { tokio::select! { _ = t.cancelled() => break, _ = i.tick() => work() } } }); }";
        assert!(timers(ok).is_empty());
        let exits = "fn main() { tokio::spawn(async move { loop { sleep(d).await; if tx.send(1).await.is_err() { break; } } }); }";
        assert!(timers(exits).is_empty());
    }

    #[test]
    fn detached_sleep_then_signal_is_a_deadline_timer() {
        let src = "use tokio::time::sleep; fn f(tx: Sender<()>) { tokio::spawn(async move { sleep(Duration::from_secs(5)).await; let _ = tx.send(()); }); }";
        assert_eq!(timers(src), vec![(false, true, Place::Discarded)]);
    }

    #[test]
    fn spawn_of_a_named_fn_is_judged_by_its_body() {
        let src = "async fn beat(s: S) { loop { sleep(D).await; s.ping(); } }\nfn main() { tokio::spawn(beat(s)); }";
        assert_eq!(timers(src), vec![(true, false, Place::Discarded)]);
    }

    #[test]
    fn parse_errors_carry_a_location() {
        let e = lower("fn main() { let x = ; }").unwrap_err();
        assert!(e.range.start > 0 && e.message.contains("not valid Rust"));
    }

    #[test]
    fn use_map_expands_paths_and_finds_clients_and_channels() {
        let src = "use reqwest::Client;\nuse tokio::sync::mpsc;\nasync fn h() { let c = Client::new(); let (tx, rx) = mpsc::unbounded_channel::<u8>(); }";
        let f = lower(src).unwrap();
        assert!(f.events.iter().any(
            |e| matches!(&e.kind, EventKind::New { class, .. } if class == "reqwest::Client")
        ));
        assert!(
            f.events
                .iter()
                .any(|e| matches!(&e.kind, EventKind::UnboundedQueue { .. }))
        );
    }
}

#[cfg(test)]
mod handle_tests {
    use super::*;

    #[test]
    fn a_handle_taken_out_of_a_field_flows_to_the_local() {
        let src = "struct A { t: Option<JoinHandle<()>> }\nimpl A {\n    fn stop(&mut self) { if let Some(t) = self.t.take() { t.abort(); } }\n}";
        let f = lower(src).unwrap();
        let flow = f.events.iter().find_map(|e| match &e.kind {
            EventKind::Flow { from, to } => Some((f.resolve(from), f.resolve(to))),
            _ => None,
        });
        let Some((Place::Field { name, .. }, Place::Binding(b))) = flow else {
            panic!("no flow: {:?}", f.events);
        };
        assert_eq!(name, "t");
        assert_eq!(f.bindings[b].name, "t");
        assert!(f.events.iter().any(|e| matches!(&e.kind, EventKind::ClearTimer { handle } if f.resolve(handle) == Place::Binding(b))));
    }
}

#[cfg(test)]
mod adapter_tests {
    use super::*;

    #[test]
    fn adapter_constructions_are_recorded_with_their_slot() {
        let src = "struct B { speech: SpeechSession }\nimpl B {\n    pub fn restart(&mut self) {\n        self.speech = SpeechSession::new(&self.url);\n    }\n}";
        let f = lower(src).unwrap();
        let news: Vec<_> = f
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::New { class, handle, .. } => Some((class.clone(), f.resolve(handle))),
                _ => None,
            })
            .collect();
        assert!(
            matches!(news.as_slice(), [(c, Place::Field { name, .. })] if c == "SpeechSession::new" && name == "speech"),
            "{news:?}"
        );
    }
}

#[cfg(test)]
mod nesting_tests {
    use super::*;

    fn score(src: &str) -> usize {
        nesting_score(&src.parse().unwrap(), usize::MAX)
    }

    #[test]
    fn brackets_chains_and_generics_nest() {
        assert_eq!(score("{{{}}}"), 3);
        assert!(score(&format!("type T = {}u8;", "& ".repeat(100))) > 100);
        assert!(score(&format!("fn f() {{ a{}; }}", ".b()".repeat(100))) > 300);
        assert!(
            score(&format!(
                "fn f() {{ if a {{}} {} }}",
                "else if a {} ".repeat(100)
            )) > 400
        );
        // `A<B, C<D, …>>`: a comma does not close the open `<`s.
        let generic = format!("type T = {}u8{};", "A<B, ".repeat(200), ">".repeat(200));
        assert!(score(&generic) > 200, "{}", score(&generic));
    }

    #[test]
    fn statements_items_elements_and_attributes_do_not_pile_up() {
        let items = "/// docs\n#[inline]\nfn f() { let x = a.b().c(); if x {} else {} }\n";
        assert!(
            score(&items.repeat(500)) < 20,
            "{}",
            score(&items.repeat(500))
        );
        let docs = format!("{}fn f() {{}}", "//! crate docs\n".repeat(2_000));
        assert!(score(&docs) < 10, "{}", score(&docs));
        let list = format!("const A: [i32; 3000] = [{}];", "-1, ".repeat(3_000));
        assert!(score(&list) < 10, "{}", score(&list));
        let arms = format!("fn f() {{ match x {{ {} }} }}", "A => {} ".repeat(2_000));
        assert!(score(&arms) < 10, "{}", score(&arms));
        // Closing `>`s do not count: `Vec<Vec<…>>` scores its opening half.
        let nested = format!("type T = {}u8{};", "Vec<".repeat(100), ">".repeat(100));
        assert!((200..210).contains(&score(&nested)), "{}", score(&nested));
    }

    #[test]
    fn too_deep_is_an_error_and_a_shebang_keeps_offsets() {
        let deep = format!("type T = {}u8;", "& ".repeat(MAX_NESTING + 1));
        let err = lower(&deep).unwrap_err();
        assert!(err.message.contains("too deep"), "{}", err.message);
        // syn cuts a shebang line off (shifting every offset); it is blanked instead.
        let src = "#!/usr/bin/env run-cargo-script\nfn f() {}\n";
        let facts = lower(src).unwrap();
        let f = facts
            .scopes
            .iter()
            .find(|s| s.name.as_deref() == Some("f"))
            .unwrap();
        assert_eq!(&src[f.span.start..f.span.start + 2], "fn");
        // `#![…]` is an inner attribute, not a shebang.
        assert_eq!(shebang_len("#![allow(x)]\nfn f() {}"), None);
        assert_eq!(shebang_len("#! // c\n[allow(x)]"), None);
        assert_eq!(shebang_len("#!/bin/x\nfn f() {}"), Some(8));
        let bom = "\u{feff}#!/bin/x\nfn f() {}\n";
        let facts = lower(bom).unwrap();
        let f = facts
            .scopes
            .iter()
            .find(|s| s.name.as_deref() == Some("f"))
            .unwrap();
        assert_eq!(&bom[f.span.start..f.span.start + 2], "fn");
    }

    #[test]
    fn a_slow_walk_times_out() {
        let chain = format!("    a{};\n", ".b()".repeat(900));
        let src = format!("fn f() {{\n{}}}\n", chain.repeat(30));
        let err = lower_within(&src, Duration::from_millis(20)).unwrap_err();
        assert!(err.message.starts_with("timed out"), "{}", err.message);
    }
}
