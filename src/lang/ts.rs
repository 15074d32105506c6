//! TypeScript/JavaScript front end: tree-sitter parse, then one recursive walk that lowers the
//! tree into [`FileFacts`]. The walk keeps the ancestor stack itself, so deciding where a value
//! goes (its placement) never asks tree-sitter for a parent.

use std::ops::{ControlFlow, Range};
use std::time::{Duration, Instant};

use tree_sitter::{Node, Parser};

use crate::facts::*;
use crate::source::Language;

/// Why a file could not be lowered.
#[derive(Debug, thiserror::Error)]
pub enum LowerError {
    #[error("tree-sitter could not load the {0:?} grammar")]
    Grammar(Language),
    #[error(
        "timed out: parsing and analysing took longer than the per-file budget of {0:?}; file \
         skipped"
    )]
    Timeout(Duration),
    #[error("nesting deeper than {0} levels; file skipped")]
    TooDeep(usize),
}

/// Deepest nesting the walk follows; deeper files are reported, not walked. A file whose
/// brackets alone nest deeper is rejected before parsing (see [`bracket_depth`]).
pub const MAX_DEPTH: usize = 20_000;

/// The field names the walk asks for, in the order of [`FieldIds`].
const FIELD_NAMES: [&str; 24] = [
    "alias",
    "alternative",
    "argument",
    "arguments",
    "body",
    "condition",
    "consequence",
    "constructor",
    "declaration",
    "finalizer",
    "function",
    "handler",
    "key",
    "left",
    "name",
    "object",
    "operator",
    "parameter",
    "parameters",
    "pattern",
    "property",
    "right",
    "source",
    "value",
];

/// A grammar's id of each name in [`FIELD_NAMES`] (0: the grammar has no such field). Asking
/// tree-sitter by name costs a string comparison against every field name of the grammar, on
/// every call; the walk asks a hundred times per file region, so it asks by id.
type FieldIds = [u16; FIELD_NAMES.len()];

fn field_ids(lang: &tree_sitter::Language) -> FieldIds {
    let mut ids = [0u16; FIELD_NAMES.len()];
    for (i, name) in FIELD_NAMES.iter().enumerate() {
        ids[i] = lang.field_id_for_name(name).map_or(0, |id| id.get());
    }
    ids
}

/// The index of a field name in [`FIELD_NAMES`] (by length first, so most names are told
/// apart by one comparison).
#[inline]
fn field_index(name: &str) -> Option<usize> {
    FIELD_NAMES
        .iter()
        .position(|f| f.len() == name.len() && *f == name)
}

thread_local! {
    /// The field ids of the grammar being walked on this thread (set by [`lower`]).
    static FIELDS: std::cell::Cell<FieldIds> = const { std::cell::Cell::new([0; FIELD_NAMES.len()]) };
    /// One parser per grammar per worker thread, reused from file to file.
    static PARSERS: std::cell::RefCell<Vec<(Language, Parser, FieldIds)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `child_by_field_name` through the current grammar's field ids.
trait NodeExt<'t> {
    fn field(&self, name: &str) -> Option<Node<'t>>;
}

impl<'t> NodeExt<'t> for Node<'t> {
    #[inline]
    fn field(&self, name: &str) -> Option<Node<'t>> {
        let id = field_index(name).map_or(0, |i| FIELDS.with(|f| f.get()[i]));
        match std::num::NonZeroU16::new(id) {
            Some(id) => self.child_by_field_id(id.get()),
            None => self.child_by_field_name(name),
        }
    }
}

/// Deepest bracket nesting of a JS/TS text, by a quick lexical scan: comments, strings and
/// template literals (with their `${…}` holes) are skipped; regular expressions are not
/// recognised, so a bracket inside one counts (an over-estimate only). Stops once above `limit`.
pub fn bracket_depth(text: &str, limit: usize) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    // For each open `${` hole: the depth at which its `}` goes back into the template.
    let mut holes: Vec<usize> = Vec::new();
    // Scans template text from `i`; returns where code resumes (after the closing backtick or
    // after a `${`, which then counts as an open bracket).
    let template = |mut i: usize, depth: &mut usize, holes: &mut Vec<usize>| -> usize {
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'`' => return i + 1,
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    *depth += 1;
                    holes.push(*depth);
                    return i + 2;
                }
                _ => i += 1,
            }
        }
        i
    };
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            }
            q @ (b'\'' | b'"') => {
                // A string ends at its quote or, unterminated, at the end of the line.
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'`' => {
                i = template(i + 1, &mut depth, &mut holes);
                max = max.max(depth);
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
                i += 1;
            }
            b'}' if holes.last() == Some(&depth) => {
                holes.pop();
                depth -= 1;
                i = template(i + 1, &mut depth, &mut holes);
                max = max.max(depth);
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
        if max > limit {
            break;
        }
    }
    max
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

/// Parses and lowers one file.
pub fn lower(text: &str, language: Language, budget: Duration) -> Result<FileFacts, LowerError> {
    PARSERS.with(|cell| {
        let mut parsers = cell.borrow_mut();
        let at = match parsers.iter().position(|(l, ..)| *l == language) {
            Some(at) => at,
            None => {
                let lang: tree_sitter::Language = match language {
                    Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                    Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
                    Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
                    Language::Rust => return Err(LowerError::Grammar(language)),
                };
                let mut parser = Parser::new();
                parser
                    .set_language(&lang)
                    .map_err(|_| LowerError::Grammar(language))?;
                parsers.push((language, parser, field_ids(&lang)));
                parsers.len() - 1
            }
        };
        let (_, parser, ids) = &mut parsers[at];
        FIELDS.with(|f| f.set(*ids));
        lower_with(parser, text, budget)
    })
}

fn lower_with(parser: &mut Parser, text: &str, budget: Duration) -> Result<FileFacts, LowerError> {
    // A parse abandoned at the budget would otherwise resume on the next file.
    parser.reset();
    if bracket_depth(text, MAX_DEPTH) > MAX_DEPTH {
        return Err(LowerError::TooDeep(MAX_DEPTH));
    }
    let start = Instant::now();
    let bytes = text.as_bytes();
    let mut progress = |_: &tree_sitter::ParseState| {
        if start.elapsed() > budget {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
    let tree = parser
        .parse_with_options(
            &mut |i, _| if i < bytes.len() { &bytes[i..] } else { &[] },
            None,
            Some(options),
        )
        .ok_or(LowerError::Timeout(budget))?;
    let mut w = Walker::new(text);
    w.deadline = start.checked_add(budget);
    w.visit(tree.root_node());
    drop(w.cursors);
    if w.too_deep {
        return Err(LowerError::TooDeep(MAX_DEPTH));
    }
    if w.timed_out {
        return Err(LowerError::Timeout(budget));
    }
    let mut facts = w.facts;
    facts.finish();
    Ok(facts)
}

/// Statements a fix can be placed before or after ([`Walker::statement_around`]).
fn is_statement(kind: &str) -> bool {
    matches!(
        kind,
        "expression_statement"
            | "lexical_declaration"
            | "variable_declaration"
            | "return_statement"
            | "throw_statement"
            | "public_field_definition"
            | "field_definition"
    )
}

/// Statements and the nodes that bound the search for one (a block, a class body, the
/// program, an arrow function).
fn is_anchor(kind: &str) -> bool {
    is_statement(kind)
        || matches!(
            kind,
            "statement_block" | "class_body" | "program" | "arrow_function"
        )
}

/// A `new Promise(executor)` being walked.
struct Executor {
    scope: ScopeId,
    settle: [Option<String>; 2],
    settles_otherwise: bool,
    /// > 0 while walking the callback of a timer created in this executor.
    in_timer: u32,
    /// Timers that settle the promise, and whether they reject it.
    timers: Vec<(usize, bool)>,
    promise: PlaceRef,
    in_race: bool,
    race_call: Option<(Range<usize>, Range<usize>)>,
}

struct Walker<'a> {
    src: &'a str,
    facts: FileFacts,
    scope: ScopeId,
    class: Option<ClassId>,
    in_loop: bool,
    loop_span: Option<Range<usize>>,
    conditional: u32,
    path: PathKind,
    race: u32,
    /// The `Promise.race(…)` calls being walked, with their statements.
    races: Vec<(Range<usize>, Range<usize>)>,
    /// Texts of `if` conditions around the current node (lazy-initialisation guards).
    guards: Vec<String>,
    executors: Vec<Executor>,
    /// Ancestors of the node being visited, outermost first.
    stack: Vec<Node<'a>>,
    /// Indexes into `stack` of the statements and statement boundaries on it (see
    /// [`is_anchor`]), so finding the statement around a node does not walk up every expression
    /// level (quadratic in nesting: minutes for ten thousand nested calls).
    anchors: Vec<usize>,
    /// Constructor parameter names, while walking a constructor.
    ctor_params: Vec<String>,
    /// Per class: the synthetic scope field initialisers run in.
    field_scopes: Vec<(ClassId, ScopeId)>,
    too_deep: bool,
    /// When the walk must stop (the per-file time budget); checked every few hundred nodes.
    deadline: Option<Instant>,
    ticks: u32,
    timed_out: bool,
    /// Names initialised with a string literal (for `s += chunk`).
    strings: Vec<String>,
    /// Names holding a server (`const app = express()`, `http.createServer(..)`).
    servers: Vec<String>,
    /// One tree cursor per nesting level, reused for every node at that level (a new cursor
    /// per node is an allocation per node).
    cursors: Vec<Option<tree_sitter::TreeCursor<'a>>>,
}

const LISTEN: &[&str] = &[
    "on",
    "addListener",
    "prependListener",
    "addEventListener",
    "once",
    "prependOnceListener",
];
const UNLISTEN: &[&str] = &["off", "removeListener", "removeEventListener"];
const GROW: &[&str] = &["set", "add", "push", "unshift"];
const SHRINK: &[&str] = &["delete", "clear", "splice", "shift", "pop"];
const ITERATE: &[&str] = &[
    "forEach",
    "map",
    "filter",
    "reduce",
    "reduceRight",
    "some",
    "every",
    "find",
    "findIndex",
    "flatMap",
    "sort",
];
const ROUTE: &[&str] = &[
    "get", "post", "put", "patch", "delete", "all", "use", "options", "head", "route", "ws",
];
const RELEASE: &[&str] = &[
    "close",
    "end",
    "destroy",
    "dispose",
    "disconnect",
    "terminate",
    "abort",
    "shutdown",
    "stop",
    "removeAllListeners",
    "cancel",
    "quit",
];
const GLOBAL_OBJECTS: &[&str] = &["global", "globalThis", "window", "self", "timers"];

impl<'a> Walker<'a> {
    fn new(src: &'a str) -> Walker<'a> {
        let mut facts = FileFacts::default();
        facts.add_scope(Scope::new(ScopeKind::Module, None, 0..src.len()));
        Walker {
            src,
            facts,
            scope: 0,
            class: None,
            in_loop: false,
            loop_span: None,
            conditional: 0,
            path: PathKind::Normal,
            race: 0,
            races: Vec::new(),
            guards: Vec::new(),
            executors: Vec::new(),
            stack: Vec::new(),
            anchors: Vec::new(),
            ctor_params: Vec::new(),
            field_scopes: Vec::new(),
            too_deep: false,
            deadline: None,
            ticks: 0,
            timed_out: false,
            strings: Vec::new(),
            servers: Vec::new(),
            cursors: Vec::new(),
        }
    }

    fn text(&self, n: Node) -> &'a str {
        self.src.get(n.byte_range()).unwrap_or("")
    }

    fn event(&mut self, kind: EventKind, span: Range<usize>) -> usize {
        let stmt = self.statement_around(&span);
        self.facts.events.push(Event {
            hint: None,
            kind,
            stmt,
            span,
            scope: self.scope,
            in_loop: self.in_loop,
            loop_span: self.loop_span.clone(),
            conditional: self.conditional > 0,
            path: self.path,
        });
        self.facts.events.len() - 1
    }

    /// The innermost simple statement on the ancestor stack that holds `span` (an `export`
    /// around a declaration included), or `span` itself.
    fn statement_around(&self, span: &Range<usize>) -> Range<usize> {
        for &i in self.anchors.iter().rev() {
            let n = self.stack[i];
            let r = n.byte_range();
            if r.start > span.start || r.end < span.end {
                continue;
            }
            if is_statement(n.kind()) {
                if i > 0 && self.stack[i - 1].kind() == "export_statement" {
                    return self.stack[i - 1].byte_range();
                }
                return r;
            }
            if matches!(
                n.kind(),
                "statement_block" | "class_body" | "program" | "arrow_function"
            ) {
                break;
            }
        }
        span.clone()
    }

    fn declare(&mut self, name: &str, kind: BindingKind, span: Range<usize>) {
        self.facts.add_binding(name, self.scope, kind, span);
    }

    /// Declares every identifier a binding pattern introduces.
    fn declare_pattern(&mut self, pat: Node<'a>, kind: &BindingKind) {
        match pat.kind() {
            "identifier" | "shorthand_property_identifier_pattern" => {
                let name = self.text(pat);
                self.declare(name, kind.clone(), pat.byte_range());
            }
            "required_parameter" | "optional_parameter" => {
                if let Some(p) = pat.field("pattern") {
                    self.declare_pattern(p, kind);
                }
            }
            "assignment_pattern" | "object_assignment_pattern" => {
                if let Some(l) = pat.field("left") {
                    self.declare_pattern(l, kind);
                }
            }
            "pair_pattern" => {
                if let Some(v) = pat.field("value") {
                    self.declare_pattern(v, kind);
                }
            }
            "object_pattern" | "array_pattern" | "rest_pattern" => {
                let mut c = pat.walk();
                for child in pat.named_children(&mut c) {
                    self.declare_pattern(child, kind);
                }
            }
            _ => {}
        }
    }

    /// The names of a parameter list, declaring them in the current scope.
    fn declare_params(&mut self, f: Node<'a>) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(p) = f.field("parameter") {
            // `x => …`
            names.push(self.text(p).to_string());
            self.declare_pattern(p, &BindingKind::Param);
            return names;
        }
        let Some(params) = f.field("parameters") else {
            return names;
        };
        let mut c = params.walk();
        for p in params.named_children(&mut c) {
            let pat = match p.kind() {
                "required_parameter" | "optional_parameter" => p.field("pattern"),
                "assignment_pattern" => p.field("left"),
                _ => Some(p),
            };
            let name = pat
                .filter(|n| n.kind() == "identifier")
                .map(|n| self.text(n).to_string())
                .unwrap_or_default();
            names.push(name);
            self.declare_pattern(p, &BindingKind::Param);
        }
        names
    }

    /// Where the value of expression `node` (at the top of the stack) goes.
    /// Returns the place, whether `.unref()` was called on it, and whether it is a lazy
    /// initialisation (`x ??= …`, `x = x ?? …`, `if (!x) x = …`).
    fn placement(&self, node: Node<'a>) -> (PlaceRef, bool, bool) {
        let mut cur = node;
        let mut unref = false;
        let mut alt_of: Option<&str> = None;
        // stack[len-1] is node itself when called from visit of node's children; callers pass
        // the node being visited, whose ancestors are stack[..len-1].
        let mut i = self.stack.len();
        while i > 0 && self.stack[i - 1].id() == cur.id() {
            i -= 1;
        }
        while i > 0 {
            let parent = self.stack[i - 1];
            i -= 1;
            match parent.kind() {
                "parenthesized_expression"
                | "as_expression"
                | "non_null_expression"
                | "satisfies_expression"
                | "type_assertion"
                | "await_expression"
                | "ternary_expression" => {}
                "member_expression" => {
                    let prop = parent.field("property").map(|p| self.text(p)).unwrap_or("");
                    let is_call = i > 0 && self.stack[i - 1].kind() == "call_expression";
                    if matches!(prop, "unref" | "ref") && is_call {
                        unref |= prop == "unref";
                        i -= 1;
                        cur = self.stack[i];
                        continue;
                    }
                    return (PlaceRef::Unknown, unref, false);
                }
                "binary_expression" => {
                    let op = parent.field("operator").map(|o| self.text(o)).unwrap_or("");
                    let right = parent.field("right");
                    if matches!(op, "??" | "||") && right.is_some_and(|r| r.id() == cur.id()) {
                        alt_of = parent.field("left").map(|l| self.text(l));
                    } else {
                        return (PlaceRef::Unknown, unref, false);
                    }
                }
                "variable_declarator" => {
                    let name = parent.field("name");
                    return match name {
                        Some(n) if n.kind() == "identifier" => (
                            PlaceRef::Name {
                                name: self.text(n).to_string(),
                                scope: self.scope,
                            },
                            unref,
                            false,
                        ),
                        _ => (PlaceRef::Unknown, unref, false),
                    };
                }
                "assignment_expression" | "augmented_assignment_expression" => {
                    let Some(left) = parent.field("left") else {
                        return (PlaceRef::Unknown, unref, false);
                    };
                    if left.id() == cur.id() {
                        return (PlaceRef::Unknown, unref, false);
                    }
                    let left_text = self.text(left);
                    let op = parent
                        .field("operator")
                        .map(|o| self.text(o))
                        .unwrap_or("=");
                    let mut lazy = matches!(op, "??=" | "||=")
                        || alt_of == Some(left_text)
                        || self.guards.iter().any(|g| mentions(g, left_text))
                        || self.facts.scopes[self.scope]
                            .early_return_guards
                            .iter()
                            .any(|g| mentions(g, left_text));
                    // `return x ?? (x = new X())`
                    if i > 0 {
                        let mut j = i;
                        while j > 0 && self.stack[j - 1].kind() == "parenthesized_expression" {
                            j -= 1;
                        }
                        if j > 0 && self.stack[j - 1].kind() == "binary_expression" {
                            let b = self.stack[j - 1];
                            let l = b.field("left").map(|l| self.text(l));
                            lazy |= l == Some(left_text);
                        }
                    }
                    return (self.place_of(left), unref, lazy);
                }
                "expression_statement" | "sequence_expression" => {
                    return (PlaceRef::Discarded, unref, false);
                }
                "return_statement" => return (PlaceRef::Returned(self.scope), unref, false),
                "arrow_function" => {
                    let in_callback =
                        matches!(self.facts.scopes[self.scope].kind, ScopeKind::Callback(_));
                    return if in_callback {
                        (PlaceRef::Discarded, unref, false)
                    } else {
                        (PlaceRef::Returned(self.scope), unref, false)
                    };
                }
                "arguments" => return (PlaceRef::Argument, unref, false),
                "public_field_definition" => {
                    let name = parent.field("name").map(|n| self.text(n));
                    return match (self.class, name) {
                        (Some(class), Some(name)) => (
                            PlaceRef::Field {
                                class,
                                name: name.trim_start_matches('#').to_string(),
                            },
                            unref,
                            false,
                        ),
                        _ => (PlaceRef::Unknown, unref, false),
                    };
                }
                _ => return (PlaceRef::Unknown, unref, false),
            }
            cur = parent;
        }
        (PlaceRef::Unknown, unref, false)
    }

    /// The place an expression denotes.
    fn place_of(&self, n: Node<'a>) -> PlaceRef {
        match n.kind() {
            "identifier" | "shorthand_property_identifier" => PlaceRef::Name {
                name: self.text(n).to_string(),
                scope: self.scope,
            },
            "this" => PlaceRef::This { class: self.class },
            "parenthesized_expression"
            | "non_null_expression"
            | "as_expression"
            | "satisfies_expression" => match n.named_child(0) {
                Some(inner) => self.place_of(inner),
                None => PlaceRef::Unknown,
            },
            "member_expression" => {
                let (Some(obj), Some(prop)) = (n.field("object"), n.field("property")) else {
                    return PlaceRef::Unknown;
                };
                let name = self.text(prop).trim_start_matches('#').to_string();
                if obj.kind() == "this" {
                    match self.class {
                        Some(class) => PlaceRef::Field { class, name },
                        None => PlaceRef::Unknown,
                    }
                } else {
                    match self.place_of(obj) {
                        PlaceRef::Unknown => PlaceRef::Unknown,
                        base => PlaceRef::Member {
                            base: Box::new(base),
                            name,
                        },
                    }
                }
            }
            _ => PlaceRef::Unknown,
        }
    }

    fn visit_children(&mut self, n: Node<'a>) {
        let depth = self.stack.len();
        if self.cursors.len() <= depth {
            self.cursors.resize_with(depth + 1, || None);
        }
        let mut c = match self.cursors[depth].take() {
            Some(mut c) => {
                c.reset(n);
                c
            }
            None => n.walk(),
        };
        if c.goto_first_child() {
            loop {
                let child = c.node();
                self.visit(child);
                if !c.goto_next_sibling() {
                    break;
                }
            }
        }
        self.cursors[depth] = Some(c);
    }

    fn visit(&mut self, n: Node<'a>) {
        if self.stack.len() >= MAX_DEPTH {
            self.too_deep = true;
            return;
        }
        if self.timed_out {
            return;
        }
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % 256 == 0
            && let Some(d) = self.deadline
            && Instant::now() > d
        {
            self.timed_out = true;
            return;
        }
        if n.is_error() || n.is_missing() {
            self.facts.syntax_errors.push(n.byte_range());
        }
        self.push(n);
        self.visit_node(n);
        self.pop();
    }

    fn push(&mut self, n: Node<'a>) {
        if is_anchor(n.kind()) {
            self.anchors.push(self.stack.len());
        }
        self.stack.push(n);
    }

    fn pop(&mut self) {
        self.stack.pop();
        if self.anchors.last() == Some(&self.stack.len()) {
            self.anchors.pop();
        }
    }

    fn visit_node(&mut self, n: Node<'a>) {
        match n.kind() {
            "function_declaration" | "generator_function_declaration" => {
                let name = n.field("name").map(|x| self.text(x));
                let id = self.facts.scopes.len();
                if let Some(name) = name {
                    self.declare(name, BindingKind::Function(id), n.byte_range());
                }
                self.function(n, ScopeKind::Function, name.map(str::to_string), false);
            }
            "function_expression" | "function" | "generator_function" | "arrow_function" => {
                let name = self.name_from_context(n);
                self.function(n, ScopeKind::Function, name, n.kind() == "arrow_function");
            }
            "class_declaration" | "class" | "abstract_class_declaration" => self.class(n),
            "call_expression" => self.call(n),
            "new_expression" => self.new_expr(n),
            "variable_declarator" => {
                if let Some(name) = n.field("name") {
                    match self.required_module(n.field("value")) {
                        // `const x = require('m')`, `const { a } = require('m')`: imports.
                        Some(source) => self.declare_required(name, &source),
                        None => self.declare_pattern(name, &BindingKind::Var),
                    }
                    if let Some(v) = n.field("value") {
                        let v = strip(v);
                        let text = self.text(name).to_string();
                        if matches!(v.kind(), "string" | "template_string") {
                            self.strings.push(text.clone());
                        }
                        if is_server_factory(self.text(v)) {
                            self.servers.push(text);
                        }
                    }
                }
                if let Some(v) = n.field("value") {
                    self.collection_literal(v);
                    self.flow_into(v);
                    self.visit(v);
                }
            }
            "assignment_expression" | "augmented_assignment_expression" => self.assignment(n),
            "unary_expression" => {
                let op = n.field("operator").map(|o| self.text(o));
                if op == Some("delete")
                    && let Some(arg) = n.field("argument")
                    && let Some(obj) = arg.field("object")
                {
                    let place = self.place_of(obj);
                    self.event(EventKind::Shrink { place }, n.byte_range());
                }
                self.visit_children(n);
            }
            "binary_expression" => {
                let op = n.field("operator").map(|o| self.text(o));
                if matches!(
                    op,
                    Some("<" | "<=" | ">" | ">=" | "==" | "===" | "!=" | "!==")
                ) {
                    for side in ["left", "right"] {
                        if let Some(s) = n.field(side)
                            && s.kind() == "member_expression"
                            && let Some(p) = s.field("property")
                            && matches!(self.text(p), "size" | "length")
                            && let Some(obj) = s.field("object")
                        {
                            let place = self.place_of(obj);
                            self.event(EventKind::SizeCheck { place }, s.byte_range());
                        }
                    }
                }
                if matches!(op, Some("&&" | "||" | "??")) {
                    if let Some(l) = n.field("left") {
                        self.visit(l);
                    }
                    self.conditional += 1;
                    if let Some(r) = n.field("right") {
                        self.visit(r);
                    }
                    self.conditional -= 1;
                } else {
                    self.visit_children(n);
                }
            }
            "if_statement" => self.if_statement(n),
            "ternary_expression" => {
                if let Some(c) = n.field("condition") {
                    self.visit(c);
                }
                self.conditional += 1;
                for f in ["consequence", "alternative"] {
                    if let Some(x) = n.field(f) {
                        self.visit(x);
                    }
                }
                self.conditional -= 1;
            }
            "switch_case" | "switch_default" => {
                self.conditional += 1;
                self.visit_children(n);
                self.conditional -= 1;
            }
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement" => {
                if n.kind() == "for_in_statement"
                    && let Some(left) = n.field("left")
                {
                    self.declare_pattern(left, &BindingKind::Var);
                }
                // `for (const s of ['SIGINT', 'SIGTERM'])`: a fixed count, not a repeating rhythm.
                let literal = n.kind() == "for_in_statement"
                    && n.field("right").is_some_and(|r| strip(r).kind() == "array");
                let saved = (self.in_loop, self.loop_span.take());
                if !literal {
                    self.in_loop = true;
                    self.loop_span = Some(n.byte_range());
                }
                self.visit_children(n);
                (self.in_loop, self.loop_span) = saved;
            }
            "try_statement" => {
                let saved = self.path;
                if let Some(b) = n.field("body") {
                    if self.path == PathKind::Normal {
                        self.path = PathKind::Fulfilled;
                    }
                    self.visit(b);
                    self.path = saved;
                }
                if let Some(h) = n.field("handler") {
                    if let Some(body) = h.field("body").filter(|b| is_empty_block(*b)) {
                        let start = h.start_byte();
                        // Log what was caught, right after the `{` (comments in the block stay):
                        // name the binding, or add one.
                        let open = body.start_byte() + 1;
                        let fix = match h.field("parameter") {
                            Some(p) if p.kind() == "identifier" => Some(FixHint {
                                range: open..open,
                                text: format!(" console.error({});", self.text(p)),
                            }),
                            Some(_) => None,
                            None => Some(FixHint {
                                range: start + "catch".len()..open,
                                text: " (error) { console.error(error);".into(),
                            }),
                        };
                        self.event(
                            EventKind::SwallowedError {
                                what: "an empty `catch` block".into(),
                                fix,
                            },
                            start..start + 5,
                        );
                    }
                    if self.path != PathKind::Finally {
                        self.path = PathKind::Rejected;
                    }
                    if let Some(p) = h.field("parameter") {
                        self.declare_pattern(p, &BindingKind::Var);
                    }
                    self.visit(h);
                    self.path = saved;
                }
                if let Some(f) = n.field("finalizer") {
                    self.path = PathKind::Finally;
                    self.visit(f);
                    self.path = saved;
                }
            }
            "return_statement" => {
                if self.conditional > 0 {
                    self.facts.scopes[self.scope].has_guarded_return = true;
                }
                self.event(
                    EventKind::Exit {
                        conditional: self.conditional > 0,
                    },
                    n.byte_range(),
                );
                if let Some(arg) = n.named_child(0) {
                    let place = self.place_of(arg);
                    if !matches!(place, PlaceRef::Unknown) {
                        self.event(EventKind::Escape { place }, arg.byte_range());
                    }
                }
                self.visit_children(n);
            }
            "throw_statement" => {
                if self.conditional > 0 {
                    self.facts.scopes[self.scope].has_guarded_return = true;
                }
                self.event(
                    EventKind::Exit {
                        conditional: self.conditional > 0,
                    },
                    n.byte_range(),
                );
                self.visit_children(n);
            }
            "break_statement" if self.conditional > 0 => {
                self.facts.scopes[self.scope].has_guarded_return = true;
            }
            "import_statement" => self.import(n),
            "export_statement" => self.export(n),
            "shorthand_property_identifier" => {
                // `{ stream }`: the value is stored in an object, which someone else owns.
                let place = self.place_of(n);
                self.event(EventKind::Escape { place }, n.byte_range());
            }
            "pair" | "array" => {
                // `{ stream: s }`, `[a, b]`: stored in a structure.
                let values: Vec<Node<'a>> = if n.kind() == "pair" {
                    n.field("value").into_iter().collect()
                } else {
                    let mut c = n.walk();
                    n.named_children(&mut c).collect()
                };
                for v in values {
                    let v = strip(v);
                    if matches!(v.kind(), "identifier" | "member_expression") {
                        let place = self.place_of(v);
                        if !matches!(place, PlaceRef::Unknown) {
                            self.event(EventKind::Escape { place }, v.byte_range());
                        }
                    }
                }
                self.visit_children(n);
            }
            "identifier" => {
                // A settle function of an enclosing executor used outside its timer: the
                // promise settles another way too (a manual race).
                let name = self.text(n);
                if let Some(ex) = self.executors.last_mut()
                    && ex.in_timer == 0
                    && ex.settle.iter().any(|s| s.as_deref() == Some(name))
                {
                    ex.settles_otherwise = true;
                }
            }
            "string" | "template_string" => {
                if self.text(n).contains("unleak-ignore") {
                    self.facts.suppression_lookalikes.push(n.byte_range());
                }
                self.visit_children(n);
            }
            "ERROR" => {
                // Keep going around what did not parse: lint the rest.
                self.visit_children(n);
            }
            _ => self.visit_children(n),
        }
    }

    /// A name for an anonymous function from where it is stored (`const f = () => …`).
    fn name_from_context(&self, n: Node<'a>) -> Option<String> {
        let parent = self.stack.iter().rev().nth(1)?;
        let name = match parent.kind() {
            "variable_declarator" => parent.field("name"),
            "assignment_expression" => parent
                .field("left")
                .map(|l| l.field("property").unwrap_or(l)),
            "pair" => parent.field("key"),
            "public_field_definition" => parent.field("name"),
            _ => n.field("name"),
        }?;
        Some(self.text(name).trim_start_matches('#').to_string())
    }

    /// Walks a function-like node in a new scope.
    fn function(&mut self, n: Node<'a>, kind: ScopeKind, name: Option<String>, arrow: bool) {
        let class = if arrow || matches!(kind, ScopeKind::Method { .. }) {
            self.class
        } else {
            None
        };
        self.function_with(n, kind, name, class, false);
    }

    fn function_with(
        &mut self,
        n: Node<'a>,
        kind: ScopeKind,
        name: Option<String>,
        class: Option<ClassId>,
        in_loop_override: bool,
    ) -> ScopeId {
        let path = match &kind {
            ScopeKind::Callback(r) if r.kind == CallbackKind::Continuation => {
                match (r.method.as_str(), r.arg_index) {
                    ("then", 0) => PathKind::Fulfilled,
                    ("then", _) | ("catch", _) => PathKind::Rejected,
                    ("finally", _) => PathKind::Finally,
                    _ => self.path,
                }
            }
            _ => self.path,
        };
        let id = self.facts.add_scope(Scope {
            name,
            class,
            in_loop: self.in_loop || in_loop_override,
            path,
            body: n
                .child_by_field_name("body")
                .filter(|b| b.kind() == "statement_block")
                .map(|b| b.byte_range()),
            ..Scope::new(kind, Some(self.scope), n.byte_range())
        });
        let saved_loop = self.loop_span.take();
        let saved = (
            self.scope,
            self.class,
            self.in_loop,
            self.conditional,
            self.path,
            std::mem::take(&mut self.guards),
        );
        self.scope = id;
        self.class = class;
        self.in_loop = false;
        self.conditional = 0;
        self.path = path;
        let params = self.declare_params(n);
        if matches!(
            self.facts.scopes[id].kind,
            ScopeKind::Method {
                constructor: true,
                ..
            }
        ) {
            self.ctor_params = params.clone();
        }
        self.facts.scopes[id].params = params;
        if let Some(body) = n.field("body") {
            self.visit(body);
        }
        self.scope = saved.0;
        self.class = saved.1;
        self.in_loop = saved.2;
        self.conditional = saved.3;
        self.path = saved.4;
        self.guards = saved.5;
        self.loop_span = saved_loop;
        id
    }

    fn class(&mut self, n: Node<'a>) {
        let name = n
            .field("name")
            .map(|x| self.text(x).to_string())
            .or_else(|| self.name_from_context(n));
        let id = self.facts.classes.len();
        self.facts.classes.push(Class {
            name: name.clone(),
            span: n.byte_range(),
            body: n
                .child_by_field_name("body")
                .map_or(0..0, |b| b.byte_range()),
            scope: self.scope,
            fields: Vec::new(),
            singleton: false,
        });
        if n.kind() != "class"
            && let Some(name) = &name
        {
            self.declare(name, BindingKind::Class(id), n.byte_range());
        }
        let saved_class = self.class;
        self.class = Some(id);
        if let Some(h) = n
            .named_children(&mut n.walk())
            .find(|c| c.kind() == "class_heritage")
        {
            self.visit(h);
        }
        let Some(body) = n.field("body") else {
            self.class = saved_class;
            return;
        };
        let mut c = body.walk();
        let members: Vec<Node<'a>> = body.named_children(&mut c).collect();
        for m in members {
            self.push(body);
            self.push(m);
            self.class_member(id, m);
            self.pop();
            self.pop();
        }
        self.class = saved_class;
    }

    fn is_static(&self, m: Node<'a>) -> bool {
        let mut c = m.walk();
        m.children(&mut c).any(|x| x.kind() == "static")
    }

    fn class_member(&mut self, class: ClassId, m: Node<'a>) {
        match m.kind() {
            "method_definition" => {
                let name = m
                    .field("name")
                    .map(|x| self.text(x).trim_start_matches('#').to_string());
                let is_static = self.is_static(m);
                let constructor = name.as_deref() == Some("constructor");
                if name.as_deref() == Some("getInstance") && is_static {
                    self.facts.classes[class].singleton = true;
                }
                if constructor {
                    self.parameter_properties(class, m);
                }
                let kind = ScopeKind::Method {
                    constructor,
                    is_static,
                };
                let saved = std::mem::take(&mut self.ctor_params);
                self.function_with(m, kind, name, Some(class), false);
                self.ctor_params = saved;
            }
            "public_field_definition" => {
                let name = m
                    .field("name")
                    .map(|x| self.text(x).trim_start_matches('#').to_string())
                    .unwrap_or_default();
                let is_static = self.is_static(m);
                if is_static && name == "instance" {
                    self.facts.classes[class].singleton = true;
                }
                let Some(value) = m.field("value") else {
                    return;
                };
                let origin = if matches!(value.kind(), "new_expression" | "call_expression") {
                    FieldOrigin::Owned
                } else {
                    FieldOrigin::Other
                };
                let ty = matches!(strip(value).kind(), "string" | "template_string")
                    .then(|| "string".to_string());
                self.facts.classes[class].fields.push(Field {
                    name,
                    origin,
                    span: m.byte_range(),
                    ty,
                });
                // Field initialisers run per instance, like the constructor.
                let scope = match self.field_scopes.iter().find(|(c, _)| *c == class) {
                    Some(&(_, s)) => s,
                    None => {
                        let kind = ScopeKind::Method {
                            constructor: !is_static,
                            is_static,
                        };
                        let s = self.facts.add_scope(Scope {
                            name: Some("constructor".into()),
                            class: Some(class),
                            in_loop: self.in_loop,
                            ..Scope::new(kind, Some(self.scope), m.byte_range())
                        });
                        self.field_scopes.push((class, s));
                        s
                    }
                };
                let saved = self.scope;
                self.scope = scope;
                self.collection_literal(value);
                self.visit(value);
                self.scope = saved;
            }
            "class_static_block" => self.visit(m),
            _ => self.visit(m),
        }
    }

    /// `constructor(private readonly bus: Bus)`: a field handed in from outside.
    fn parameter_properties(&mut self, class: ClassId, m: Node<'a>) {
        let Some(params) = m.field("parameters") else {
            return;
        };
        let mut c = params.walk();
        for p in params.named_children(&mut c) {
            let mut cc = p.walk();
            let is_prop = p
                .children(&mut cc)
                .any(|x| matches!(x.kind(), "accessibility_modifier" | "readonly"));
            if is_prop && let Some(pat) = p.field("pattern") {
                let name = self.text(pat).to_string();
                self.facts.classes[class].fields.push(Field {
                    name,
                    origin: FieldOrigin::Injected,
                    span: p.byte_range(),
                    ty: None,
                });
            }
        }
    }

    fn if_statement(&mut self, n: Node<'a>) {
        let cond = n.field("condition");
        if let Some(c) = cond {
            self.visit(c);
        }
        let cond_text = cond.map(|c| self.text(c).to_string()).unwrap_or_default();
        if let Some(cons) = n.field("consequence") {
            // `if (…) return;`, `if (…) { log(..); return; }`: an early exit guarding what follows.
            let exits = match cons.kind() {
                "return_statement" | "throw_statement" => true,
                "statement_block" => {
                    let mut c = cons.walk();
                    cons.named_children(&mut c)
                        .filter(|s| s.kind() != "comment")
                        .last()
                        .is_some_and(|s| matches!(s.kind(), "return_statement" | "throw_statement"))
                }
                _ => false,
            };
            if exits && n.field("alternative").is_none() {
                self.facts.scopes[self.scope]
                    .early_return_guards
                    .push(cond_text.clone());
            }
            self.conditional += 1;
            self.guards.push(cond_text);
            self.visit(cons);
            self.guards.pop();
            if let Some(alt) = n.field("alternative") {
                self.visit(alt);
            }
            self.conditional -= 1;
        }
    }

    fn import(&mut self, n: Node<'a>) {
        let source = n
            .field("source")
            .map(|s| unquote(self.text(s)))
            .unwrap_or_default();
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            if child.kind() != "import_clause" {
                continue;
            }
            let mut cc = child.walk();
            for part in child.named_children(&mut cc) {
                match part.kind() {
                    "identifier" => self.declare(
                        self.text(part),
                        BindingKind::Import {
                            source: source.clone(),
                            imported: "default".into(),
                        },
                        part.byte_range(),
                    ),
                    "namespace_import" => {
                        if let Some(id) = part.named_child(0) {
                            self.declare(
                                self.text(id),
                                BindingKind::Import {
                                    source: source.clone(),
                                    imported: "*".into(),
                                },
                                id.byte_range(),
                            );
                        }
                    }
                    "named_imports" => {
                        let mut c3 = part.walk();
                        for spec in part.named_children(&mut c3) {
                            let Some(name) = spec.field("name") else {
                                continue;
                            };
                            let local = spec.field("alias").unwrap_or(name);
                            self.declare(
                                self.text(local),
                                BindingKind::Import {
                                    source: source.clone(),
                                    imported: unquote(self.text(name)),
                                },
                                local.byte_range(),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn export(&mut self, n: Node<'a>) {
        if let Some(decl) = n.field("declaration") {
            match decl.kind() {
                "lexical_declaration" | "variable_declaration" => {
                    let mut c = decl.walk();
                    for d in decl.named_children(&mut c) {
                        if let Some(name) = d.field("name") {
                            self.facts.exports.push(self.text(name).to_string());
                        }
                    }
                }
                _ => {
                    if let Some(name) = decl.field("name") {
                        self.facts.exports.push(self.text(name).to_string());
                    }
                }
            }
        }
        if let Some(v) = n.field("value")
            && v.kind() == "identifier"
        {
            self.facts.exports.push(self.text(v).to_string());
        }
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            if child.kind() == "export_clause" {
                let mut cc = child.walk();
                for spec in child.named_children(&mut cc) {
                    if let Some(name) = spec.field("name") {
                        self.facts.exports.push(self.text(name).to_string());
                    }
                }
            }
        }
        self.visit_children(n);
    }

    /// `require('m')` → `m`.
    fn required_module(&self, v: Option<Node<'a>>) -> Option<String> {
        let v = strip(v?);
        if v.kind() != "call_expression" {
            return None;
        }
        let f = v.field("function")?;
        if self.text(f) != "require" {
            return None;
        }
        let arg = v.field("arguments")?.named_child(0)?;
        string_value(self.text(arg), arg.kind())
    }

    fn declare_required(&mut self, pat: Node<'a>, source: &str) {
        match pat.kind() {
            "identifier" => self.declare(
                self.text(pat),
                BindingKind::Import {
                    source: source.to_string(),
                    imported: "default".into(),
                },
                pat.byte_range(),
            ),
            "object_pattern" => {
                let mut c = pat.walk();
                let parts: Vec<Node<'a>> = pat.named_children(&mut c).collect();
                for p in parts {
                    let (imported, local) = match p.kind() {
                        "shorthand_property_identifier_pattern" => (self.text(p), p),
                        "pair_pattern" => match (p.field("key"), p.field("value")) {
                            (Some(k), Some(v)) if v.kind() == "identifier" => (self.text(k), v),
                            _ => continue,
                        },
                        _ => continue,
                    };
                    self.declare(
                        self.text(local),
                        BindingKind::Import {
                            source: source.to_string(),
                            imported: imported.to_string(),
                        },
                        local.byte_range(),
                    );
                }
            }
            _ => self.declare_pattern(pat, &BindingKind::Var),
        }
    }

    /// The keys of an object literal (`{ stdTTL: 60, max }` → `stdTTL`, `max`).
    fn object_keys(&self, o: Node<'a>) -> Vec<String> {
        let o = strip(o);
        if o.kind() != "object" {
            return Vec::new();
        }
        let mut c = o.walk();
        o.named_children(&mut c)
            .filter_map(|p| match p.kind() {
                "pair" => p.field("key").map(|k| unquote(self.text(k))),
                "shorthand_property_identifier" => Some(self.text(p).to_string()),
                _ => None,
            })
            .collect()
    }

    /// `[]`, `{}`, `new Map()` … stored somewhere: a collection declaration.
    fn collection_literal(&mut self, v: Node<'a>) {
        let v = strip(v);
        let kind = match v.kind() {
            "array" if v.named_child_count() == 0 => CollectionKind::Array,
            "object" if v.named_child_count() == 0 => CollectionKind::Object,
            "new_expression" => {
                let ctor = v.field("constructor").map(|c| self.text(c)).unwrap_or("");
                match ctor {
                    "Map" => CollectionKind::Map,
                    "Set" => CollectionKind::Set,
                    "Array" => CollectionKind::Array,
                    _ => return,
                }
            }
            _ => return,
        };
        self.push(v);
        let (place, _, _) = self.placement(v);
        self.pop();
        if matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. }) {
            self.event(EventKind::Collection { kind, place }, v.byte_range());
        }
    }

    /// `to = from` where `from` is a place: record the flow so a handle stored twice is followed.
    fn flow_into(&mut self, v: Node<'a>) {
        let v = strip(v);
        if !matches!(v.kind(), "identifier" | "member_expression") {
            return;
        }
        let from = self.place_of(v);
        if matches!(from, PlaceRef::Unknown) {
            return;
        }
        self.push(v);
        let (to, _, _) = self.placement(v);
        self.pop();
        if matches!(
            to,
            PlaceRef::Name { .. } | PlaceRef::Field { .. } | PlaceRef::Member { .. }
        ) {
            self.event(EventKind::Flow { from, to }, v.byte_range());
        }
    }

    fn assignment(&mut self, n: Node<'a>) {
        let left = n.field("left");
        let right = n.field("right");
        if let Some(left) = left {
            match left.kind() {
                "subscript_expression" => {
                    if let Some(obj) = left.field("object") {
                        let place = self.place_of(obj);
                        self.event(EventKind::Grow { place }, left.byte_range());
                    }
                }
                "member_expression" => {
                    let prop = left.field("property").map(|p| self.text(p));
                    let obj = left.field("object");
                    if prop == Some("length")
                        && let Some(obj) = obj
                    {
                        let place = self.place_of(obj);
                        self.event(EventKind::Shrink { place }, left.byte_range());
                    }
                    // module.exports = {...}; exports.x = …; module.exports.x = …
                    let left_text = self.text(left);
                    if self.facts.is_module_scope(self.scope) || left_text.contains("exports") {
                        self.cjs_exports(left_text, prop, right);
                    }
                    // `this.x = param` in a constructor: an injected field.
                    if let (Some(obj), Some(prop), Some(class)) = (obj, prop, self.class)
                        && obj.kind() == "this"
                        && let Some(r) = right
                    {
                        let r = strip(r);
                        let origin = if matches!(r.kind(), "new_expression" | "call_expression")
                            && !self.is_param_root(r)
                        {
                            FieldOrigin::Owned
                        } else if self.is_param_root(r) {
                            FieldOrigin::Injected
                        } else {
                            FieldOrigin::Other
                        };
                        let in_ctor = self.ctor_params.iter().any(|p| !p.is_empty())
                            || matches!(
                                self.facts.scopes[self.scope].kind,
                                ScopeKind::Method {
                                    constructor: true,
                                    ..
                                }
                            );
                        if in_ctor || origin == FieldOrigin::Owned {
                            self.facts.classes[class].fields.push(Field {
                                name: prop.trim_start_matches('#').to_string(),
                                origin,
                                span: n.byte_range(),
                                ty: None,
                            });
                        }
                    }
                }
                _ => {}
            }
            // A reassignment replaces the old value: for a collection, that is a shrink.
            if n.kind() == "assignment_expression" {
                let place = self.place_of(left);
                if matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. }) {
                    self.event(EventKind::Shrink { place }, n.byte_range());
                }
            }
        }
        if let Some(r) = right {
            self.collection_literal(r);
            self.flow_into(r);
        }
        if let (Some(l), Some(r)) = (left, right)
            && self.rebuilds_from_itself(n, l, r)
        {
            let place = self.place_of(l);
            self.event(EventKind::Reconcat { place }, n.byte_range());
        }
        self.visit_children(n);
    }

    /// `x = Buffer.concat([x, c])`, `x = x.concat(c)`, `x = [...x, c]`, or `x += c` on a string.
    fn rebuilds_from_itself(&self, n: Node<'a>, l: Node<'a>, r: Node<'a>) -> bool {
        let lt = self.text(l);
        let r = strip(r);
        let op = n.field("operator").map(|o| self.text(o));
        if n.kind() == "augmented_assignment_expression" {
            if op != Some("+=") {
                return false;
            }
            let string_var = self.strings.iter().any(|s| s == lt)
                || (l.kind() == "member_expression"
                    && self.class.is_some_and(|c| {
                        self.facts.classes[c].fields.iter().any(|f| {
                            lt.ends_with(&format!(".{}", f.name))
                                && f.ty.as_deref() == Some("string")
                        })
                    }));
            let chunk_like = words(self.text(r)).any(|w| {
                matches!(
                    w.as_str(),
                    "chunk" | "delta" | "data" | "piece" | "part" | "fragment"
                )
            });
            // A string built up from an event's payload (`body += d` in a 'data' handler) grows
            // per event; in a plain loop only chunk-like values count (`current += sentence`
            // building bounded lines is ordinary string code).
            let in_handler = matches!(
                &self.facts.scopes[self.scope].kind,
                ScopeKind::Callback(r) if r.kind == CallbackKind::EventHandler
            );
            return chunk_like || (string_var && in_handler);
        }
        match r.kind() {
            "call_expression" => {
                let f = r.field("function").map(|f| self.text(f));
                let first_arg = r
                    .field("arguments")
                    .and_then(|a| a.named_child(0))
                    .map(strip);
                match f {
                    Some("Buffer.concat") => first_arg.is_some_and(|a| {
                        a.kind() == "array" && a.named_child(0).is_some_and(|e| self.text(e) == lt)
                    }),
                    Some(f) => f == format!("{lt}.concat"),
                    None => false,
                }
            }
            "array" => r.named_child(0).is_some_and(|e| {
                e.kind() == "spread_element" && e.named_child(0).is_some_and(|x| self.text(x) == lt)
            }),
            _ => false,
        }
    }

    /// The value is (a member of) a constructor parameter.
    fn is_param_root(&self, mut n: Node<'a>) -> bool {
        loop {
            match n.kind() {
                "identifier" => return self.ctor_params.iter().any(|p| p == self.text(n)),
                "member_expression" | "subscript_expression" => match n.field("object") {
                    Some(o) => n = o,
                    None => return false,
                },
                "parenthesized_expression" | "non_null_expression" | "as_expression" => {
                    match n.named_child(0) {
                        Some(o) => n = o,
                        None => return false,
                    }
                }
                _ => return false,
            }
        }
    }

    fn cjs_exports(&mut self, left: &str, prop: Option<&str>, right: Option<Node<'a>>) {
        if left == "module.exports" {
            let Some(r) = right.map(strip) else { return };
            match r.kind() {
                "identifier" => self.facts.exports.push(self.text(r).to_string()),
                "object" => {
                    let mut c = r.walk();
                    for p in r.named_children(&mut c) {
                        match p.kind() {
                            "shorthand_property_identifier" => {
                                self.facts.exports.push(self.text(p).to_string())
                            }
                            "pair" => {
                                if let Some(v) = p.field("value")
                                    && v.kind() == "identifier"
                                {
                                    self.facts.exports.push(self.text(v).to_string());
                                }
                                if let Some(k) = p.field("key") {
                                    self.facts.exports.push(self.text(k).to_string());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        } else if left.starts_with("exports.") || left.starts_with("module.exports.") {
            if let Some(p) = prop {
                self.facts.exports.push(p.to_string());
            }
            if let Some(r) = right.map(strip)
                && r.kind() == "identifier"
            {
                self.facts.exports.push(self.text(r).to_string());
            }
        }
    }

    fn new_expr(&mut self, n: Node<'a>) {
        let ctor = n.field("constructor");
        let class = ctor.map(|c| self.text(c)).unwrap_or("");
        let (handle, _, lazy) = self.placement(n);
        let last = class.rsplit('.').next().unwrap_or(class);
        let first_arg_keys = n
            .field("arguments")
            .and_then(|a| a.named_child(0))
            .map(|o| self.object_keys(o))
            .unwrap_or_default();
        if matches!(last, "NodeCache" | "LRUCache" | "LRU") {
            let args = n.child_by_field_name("arguments");
            let at = match args.map(|a| (a, a.named_child(0))) {
                Some((_, Some(o))) if o.kind() == "object" => Some(o.start_byte() + 1),
                Some((a, None)) if self.text(a).starts_with('(') => Some(a.start_byte() + 1),
                None => Some(n.end_byte()),
                _ => None,
            };
            self.event(
                EventKind::CacheCtor {
                    api: last.to_string(),
                    options: first_arg_keys.clone(),
                    at,
                },
                head_span(n),
            );
        }
        // A WebSocket server that listens on its own port (not attached to an HTTP server).
        if (last == "WebSocketServer" || class == "WebSocket.Server" || class == "ws.Server")
            && first_arg_keys.iter().any(|k| k == "port")
        {
            self.event(
                EventKind::ServerStart {
                    api: format!("new {class}"),
                    graceful: false,
                },
                head_span(n),
            );
        }
        self.event(
            EventKind::New {
                class: class.to_string(),
                handle: handle.clone(),
                lazy,
                factory: false,
            },
            head_span(n),
        );
        let args = n.field("arguments");
        if class == "Promise"
            && let Some(args) = args
            && let Some(exec) = args.named_child(0)
            && matches!(
                exec.kind(),
                "arrow_function" | "function_expression" | "function"
            )
        {
            if let Some(c) = ctor {
                self.visit(c);
            }
            self.push(args);
            self.push(exec);
            self.executor(exec, handle);
            self.pop();
            self.pop();
            return;
        }
        let registrar = Registrar {
            callee: class.to_string(),
            method: class.rsplit('.').next().unwrap_or(class).to_string(),
            event: None,
            target: None,
            arg_index: 0,
            kind: CallbackKind::Other,
        };
        if let Some(c) = ctor {
            self.visit(c);
        }
        if let Some(a) = args {
            self.arguments(a, &registrar, |_| CallbackKind::Other);
        }
    }

    fn executor(&mut self, exec: Node<'a>, promise: PlaceRef) {
        let mut settle = [None, None];
        if let Some(params) = exec.field("parameters") {
            let mut c = params.walk();
            for (i, p) in params.named_children(&mut c).take(2).enumerate() {
                let pat = p.field("pattern").unwrap_or(p);
                if pat.kind() == "identifier" {
                    settle[i] = Some(self.text(pat).to_string());
                }
            }
        } else if let Some(p) = exec.field("parameter") {
            settle[0] = Some(self.text(p).to_string());
        }
        let registrar = Registrar {
            callee: "Promise".into(),
            method: "Promise".into(),
            event: None,
            target: None,
            arg_index: 0,
            kind: CallbackKind::PromiseExecutor,
        };
        let scope_id = self.facts.scopes.len();
        self.executors.push(Executor {
            scope: scope_id,
            settle,
            settles_otherwise: false,
            in_timer: 0,
            timers: Vec::new(),
            promise: promise.clone(),
            in_race: self.race > 0,
            race_call: self.races.last().cloned(),
        });
        let class = if exec.kind() == "arrow_function" {
            self.class
        } else {
            None
        };
        self.function_with(exec, ScopeKind::Callback(registrar), None, class, false);
        let Some(ex) = self.executors.pop() else {
            return;
        };
        // A helper named like a timeout that returns the promise: a deadline by intent.
        let helper = match &ex.promise {
            PlaceRef::Returned(s) => self.facts.scopes[*s]
                .name
                .as_deref()
                .is_some_and(is_timeout_helper_name),
            _ => false,
        };
        for (t, rejects) in ex.timers {
            if let EventKind::Timer { deadline, .. } = &mut self.facts.events[t].kind {
                *deadline = Some(Deadline {
                    in_race: ex.in_race,
                    promise: Some(ex.promise.clone()),
                    // A timer that resolves while another path rejects is a cancellable
                    // sleep, not a deadline: only a rejecting timer races the work.
                    manual_race: ex.settles_otherwise && rejects,
                    timeout_helper: helper,
                    race_call: ex.race_call.clone(),
                });
            }
        }
        let _ = ex.scope;
    }

    /// Visits call arguments; function arguments become callback scopes.
    fn arguments(
        &mut self,
        args: Node<'a>,
        registrar: &Registrar,
        kind_of: impl Fn(usize) -> CallbackKind,
    ) -> Vec<Option<ScopeId>> {
        let mut created = Vec::new();
        self.push(args);
        let mut c = args.walk();
        let list: Vec<Node<'a>> = args.named_children(&mut c).collect();
        for (i, a) in list.into_iter().enumerate() {
            if a.kind() == "comment" {
                continue;
            }
            let kind = kind_of(i);
            let r = Registrar {
                arg_index: i,
                kind,
                ..registrar.clone()
            };
            match a.kind() {
                "arrow_function" | "function_expression" | "function" => {
                    let class = if a.kind() == "arrow_function" {
                        self.class
                    } else {
                        None
                    };
                    let name = a.field("name").map(|x| self.text(x).to_string());
                    self.push(a);
                    let id = self.function_with(a, ScopeKind::Callback(r), name, class, false);
                    self.pop();
                    created.push(Some(id));
                }
                "identifier" | "member_expression" => {
                    let func = self.place_of(a);
                    if kind != CallbackKind::Other || !matches!(func, PlaceRef::Unknown) {
                        self.event(
                            EventKind::PassedAsCallback {
                                func: func.clone(),
                                registrar: r,
                            },
                            a.byte_range(),
                        );
                    }
                    if !matches!(func, PlaceRef::Unknown) {
                        self.event(EventKind::Escape { place: func }, a.byte_range());
                    }
                    self.visit(a);
                    created.push(None);
                }
                _ => {
                    self.visit(a);
                    created.push(None);
                }
            }
        }
        self.pop();
        created
    }

    fn call(&mut self, n: Node<'a>) {
        let Some(callee) = n.field("function") else {
            self.visit_children(n);
            return;
        };
        let args = n.field("arguments").filter(|a| a.kind() == "arguments");
        let callee = strip(callee);
        let (obj, method): (Option<Node<'a>>, &str) = match callee.kind() {
            "member_expression" => (
                callee.field("object"),
                callee.field("property").map(|p| self.text(p)).unwrap_or(""),
            ),
            "identifier" => (None, self.text(callee)),
            _ => (None, ""),
        };
        let callee_text = self.text(callee);
        let obj_text = obj.map(|o| self.text(o));
        let global_obj = obj_text.is_none_or(|o| GLOBAL_OBJECTS.contains(&o));
        let arg_list: Vec<Node<'a>> = args
            .map(|a| {
                let mut c = a.walk();
                a.named_children(&mut c)
                    .filter(|x| x.kind() != "comment")
                    .collect()
            })
            .unwrap_or_default();
        let registrar = Registrar {
            callee: truncate(callee_text, 80),
            method: method.to_string(),
            event: arg_list
                .first()
                .and_then(|a| string_value(self.text(*a), a.kind())),
            target: obj.map(|o| self.place_of(o)),
            arg_index: 0,
            kind: CallbackKind::Other,
        };

        self.call_facts(n, callee, obj, method, callee_text, &arg_list);

        // Timers.
        if matches!(method, "setInterval" | "setTimeout")
            && global_obj
            && !self.is_promise_timer(method)
        {
            self.timer(n, method == "setInterval", &arg_list, &registrar, args);
            return;
        }
        if matches!(method, "clearInterval" | "clearTimeout") && global_obj {
            if let Some(a) = arg_list.first() {
                let handle = self.place_of(*a);
                self.event(EventKind::ClearTimer { handle }, n.byte_range());
            }
            self.visit_children(n);
            return;
        }
        // Promise.race / Promise.any: what is raced against what.
        if matches!(callee_text, "Promise.race" | "Promise.any") {
            if let Some(arr) = arg_list.first()
                && arr.kind() == "array"
            {
                let mut c = arr.walk();
                for el in arr.named_children(&mut c) {
                    let el = strip(el);
                    match el.kind() {
                        "identifier" | "member_expression" => {
                            let place = self.place_of(el);
                            let call = n.byte_range();
                            self.event(EventKind::Raced { place, call }, el.byte_range());
                        }
                        "call_expression" => {
                            if let Some(f) = el.field("function") {
                                let name = match f.kind() {
                                    "member_expression" => {
                                        f.field("property").map(|p| self.text(p))
                                    }
                                    "identifier" => Some(self.text(f)),
                                    _ => None,
                                };
                                if let Some(name) = name {
                                    self.event(
                                        EventKind::RacedCall {
                                            callee: name.to_string(),
                                        },
                                        el.byte_range(),
                                    );
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            self.race += 1;
            let stmt = self.statement_around(&n.byte_range());
            self.races.push((n.byte_range(), stmt));
            self.visit_children(n);
            self.races.pop();
            self.race -= 1;
            return;
        }

        if let Some(o) = obj {
            let target = self.listen_target(o);
            if LISTEN.contains(&method) && arg_list.len() >= 2 {
                self.listen(n, method, target, &arg_list, &registrar, args);
                return;
            }
            if UNLISTEN.contains(&method) && !arg_list.is_empty() {
                let handler = arg_list
                    .get(1)
                    .map_or(Handler::Other, |h| self.handler_of(*h, None));
                self.event(
                    EventKind::Unlisten {
                        target,
                        event: registrar.event.clone(),
                        handler,
                    },
                    head_span(n),
                );
                self.visit_children(n);
                return;
            }
            if method == "removeAllListeners" {
                self.event(
                    EventKind::UnlistenAll {
                        target,
                        event: registrar.event.clone(),
                    },
                    n.byte_range(),
                );
            }
            if method == "abort" {
                let controller = self.place_of(o);
                self.event(EventKind::Abort { controller }, n.byte_range());
            }
            let place = self.place_of(o);
            if !matches!(place, PlaceRef::Unknown) {
                if GROW.contains(&method) {
                    self.event(EventKind::Grow { place }, n.byte_range());
                } else if SHRINK.contains(&method) {
                    self.event(EventKind::Shrink { place }, n.byte_range());
                }
            }
        }

        // A connection or adapter from a factory stored in a slot (duplicate-adapter).
        if !matches!(
            callee_text,
            "twilio" | "Twilio" | "createClient" | "axios.create" | "redis.createClient"
        ) && ["connect", "create", "open"]
            .iter()
            .any(|p| method.starts_with(p))
            && !method.starts_with("createRead")
            && !method.starts_with("createWrite")
        {
            let (handle, _, lazy) = self.placement(n);
            if matches!(handle, PlaceRef::Field { .. } | PlaceRef::Name { .. }) {
                self.event(
                    EventKind::New {
                        class: callee_text.to_string(),
                        handle,
                        lazy,
                        factory: true,
                    },
                    head_span(n),
                );
            }
        }

        // Client factories.
        let factory = matches!(
            callee_text,
            "twilio" | "Twilio" | "createClient" | "axios.create" | "redis.createClient"
        );
        if factory {
            let (handle, _, lazy) = self.placement(n);
            self.event(
                EventKind::New {
                    class: callee_text.to_string(),
                    handle,
                    lazy,
                    factory: true,
                },
                head_span(n),
            );
        }

        // A call of a named function: for call-graph lifetimes.
        let callee_place = match callee.kind() {
            "identifier" => Some(self.place_of(callee)),
            "member_expression" if obj.is_some_and(|o| o.kind() == "this") => {
                Some(self.place_of(callee))
            }
            _ => None,
        };
        if let Some(callee) = callee_place {
            self.event(EventKind::Call { callee }, n.byte_range());
        }

        // Callback rhythm by the callee's shape.
        let route = obj.is_some()
            && ROUTE.contains(&method)
            && arg_list.iter().any(|a| is_function(*a))
            && (arg_list
                .first()
                .is_some_and(|a| matches!(a.kind(), "string" | "template_string"))
                || method == "use");
        let kind: Box<dyn Fn(usize) -> CallbackKind> = if route {
            Box::new(|_| CallbackKind::Route)
        } else if ITERATE.contains(&method) && obj.is_some_and(|o| strip(o).kind() != "array") {
            // Over an array literal the count is fixed in the code: not a repeating rhythm.
            Box::new(|_| CallbackKind::Iteration)
        } else if matches!(method, "then" | "catch" | "finally") && obj.is_some() {
            Box::new(|_| CallbackKind::Continuation)
        } else if matches!(
            callee_text,
            "setImmediate" | "queueMicrotask" | "process.nextTick" | "requestAnimationFrame"
        ) {
            Box::new(|_| CallbackKind::Deferred)
        } else {
            Box::new(|_| CallbackKind::Other)
        };
        self.visit(callee);
        if let Some(a) = args {
            // Arguments that are places escape into code unleak does not follow.
            for arg in &arg_list {
                let arg = strip(*arg);
                if matches!(arg.kind(), "identifier" | "member_expression")
                    && !is_function(arg)
                    && !matches!(method, "log" | "debug" | "info" | "warn" | "error")
                {
                    let place = self.place_of(arg);
                    if !matches!(place, PlaceRef::Unknown) {
                        self.event(EventKind::Escape { place }, arg.byte_range());
                    }
                }
            }
            let r = registrar.clone();
            self.arguments(a, &r, kind);
        } else if let Some(t) = n.field("arguments") {
            self.visit(t);
        }
    }

    /// Facts of issue-5 rules read from a call: releases, pipes, streams, caches, swallowed
    /// errors, servers.
    fn call_facts(
        &mut self,
        n: Node<'a>,
        callee: Node<'a>,
        obj: Option<Node<'a>>,
        method: &str,
        callee_text: &str,
        args: &[Node<'a>],
    ) {
        if let Some(o) = obj {
            let place = self.place_of(o);
            if RELEASE.contains(&method) && !matches!(place, PlaceRef::Unknown) {
                self.event(
                    EventKind::Release {
                        place,
                        method: method.to_string(),
                    },
                    head_span(n),
                );
            }
            if method == "pipe"
                && let Some(dest) = args.first()
            {
                let from = self.place_of(o);
                let to = self.place_of(*dest);
                self.event(
                    EventKind::Pipe {
                        from,
                        to,
                        source_start: strip(o).start_byte(),
                    },
                    head_span(n),
                );
            }
            if method == "listen"
                && (self.servers.iter().any(|s| s == self.text(o))
                    || self.text(o).contains("createServer("))
            {
                self.event(
                    EventKind::ServerStart {
                        api: format!("{}.listen", truncate(self.text(o), 40)),
                        graceful: false,
                    },
                    head_span(n),
                );
            }
            // `.catch(() => {})`, `.then(ok, () => {})`
            let swallowed = match method {
                "catch" => args.first().filter(|a| is_noop_fn(**a, self.src)),
                "then" => args.get(1).filter(|a| is_noop_fn(**a, self.src)),
                _ => None,
            };
            if let Some(handler) = swallowed {
                // Point at `.catch` itself: in a long chain the call starts lines earlier.
                let span = callee
                    .field("property")
                    .map_or_else(|| head_span(n), |p| p.byte_range());
                self.event(
                    EventKind::SwallowedError {
                        what: format!("`.{method}(..)` with a handler that ignores the error"),
                        fix: Some(FixHint {
                            range: handler.byte_range(),
                            text: "(error) => console.error(error)".into(),
                        }),
                    },
                    span,
                );
            }
            if matches!(
                callee_text,
                "process.on" | "process.once" | "process.addListener"
            ) && args.first().is_some_and(|e| {
                matches!(
                    string_value(self.text(*e), e.kind()).as_deref(),
                    Some("unhandledRejection" | "uncaughtException")
                )
            }) && args.get(1).is_some_and(|h| is_noop_fn(*h, self.src))
            {
                let fix = args.get(1).map(|h| FixHint {
                    range: h.byte_range(),
                    text: "(error) => console.error(error)".into(),
                });
                self.event(
                    EventKind::SwallowedError {
                        what: "an empty process-level error handler".into(),
                        fix,
                    },
                    head_span(n),
                );
            }
        }
        // Streams and file handles.
        let last = callee_text.rsplit('.').next().unwrap_or(callee_text);
        let stream = matches!(
            last,
            "createReadStream"
                | "createWriteStream"
                | "createGzip"
                | "createGunzip"
                | "createDeflate"
                | "createInflate"
                | "createBrotliCompress"
                | "createBrotliDecompress"
        );
        let file_handle = last == "open"
            && (callee_text.ends_with("promises.open")
                || self.imported_from(
                    callee_text.split('.').next().unwrap_or(""),
                    &["fs/promises", "node:fs/promises"],
                ));
        if stream || file_handle {
            let (handle, _, _) = self.placement(n);
            self.event(
                EventKind::Stream {
                    api: callee_text.to_string(),
                    handle,
                    file_handle,
                },
                head_span(n),
            );
        }
        // Memoizers.
        let memo = matches!(
            callee_text,
            "_.memoize" | "lodash.memoize" | "memoize" | "memoizee" | "moize"
        );
        if memo {
            let options = args
                .get(1)
                .map(|o| self.object_keys(*o))
                .unwrap_or_default();
            let source = self
                .import_source(callee_text.split('.').next().unwrap_or(""))
                .unwrap_or_else(|| callee_text.to_string());
            self.event(
                EventKind::CacheCtor {
                    api: source,
                    options,
                    at: None,
                },
                head_span(n),
            );
        }
    }

    /// The module a name was imported from, if it was.
    fn import_source(&self, name: &str) -> Option<String> {
        self.facts.bindings.iter().find_map(|b| match &b.kind {
            BindingKind::Import { source, .. } if b.name == name => Some(source.clone()),
            _ => None,
        })
    }

    fn imported_from(&self, name: &str, sources: &[&str]) -> bool {
        self.import_source(name)
            .is_some_and(|s| sources.contains(&s.as_str()))
    }

    /// `setTimeout` imported from `timers/promises` returns a promise, not a handle.
    fn is_promise_timer(&self, name: &str) -> bool {
        self.facts.bindings.iter().any(|b| {
            b.name == name
                && matches!(&b.kind, BindingKind::Import { source, .. } if source.contains("timers/promises"))
        })
    }

    /// The target of a listener call, following chains (`x.on(a, f).on(b, g)` targets `x`).
    fn listen_target(&self, mut o: Node<'a>) -> PlaceRef {
        loop {
            let s = strip(o);
            if s.kind() == "call_expression"
                && let Some(f) = s.field("function")
                && f.kind() == "member_expression"
                && let Some(p) = f.field("property")
                && LISTEN.contains(&self.text(p))
                && let Some(inner) = f.field("object")
            {
                o = inner;
                continue;
            }
            return self.place_of(s);
        }
    }

    fn handler_of(&self, h: Node<'a>, inline_scope: Option<ScopeId>) -> Handler {
        let h = strip(h);
        match h.kind() {
            "identifier" | "member_expression" => {
                let p = self.place_of(h);
                if matches!(p, PlaceRef::Unknown) {
                    Handler::Other
                } else {
                    Handler::Named(p)
                }
            }
            "arrow_function" | "function_expression" | "function" => {
                inline_scope.map_or(Handler::Other, Handler::Inline)
            }
            "call_expression" => {
                let is_bind = h
                    .field("function")
                    .and_then(|f| f.field("property"))
                    .is_some_and(|p| self.text(p) == "bind");
                if is_bind {
                    Handler::Bound
                } else {
                    Handler::Other
                }
            }
            _ => Handler::Other,
        }
    }

    fn listen(
        &mut self,
        n: Node<'a>,
        method: &str,
        target: PlaceRef,
        arg_list: &[Node<'a>],
        registrar: &Registrar,
        args: Option<Node<'a>>,
    ) {
        let mut once = matches!(method, "once" | "prependOnceListener");
        let mut signal = None;
        if let Some(opts) = arg_list.get(2).map(|o| strip(*o)) {
            if opts.kind() == "object" {
                let mut c = opts.walk();
                for p in opts.named_children(&mut c) {
                    match p.kind() {
                        "pair" => {
                            let key = p.field("key").map(|k| self.text(k));
                            let val = p.field("value");
                            match key {
                                Some("once") => once |= val.is_some_and(|v| self.text(v) == "true"),
                                Some("signal") => {
                                    signal = Some(
                                        val.map(strip)
                                            .filter(|v| v.kind() == "member_expression")
                                            .and_then(|v| v.field("object"))
                                            .map_or(PlaceRef::Unknown, |o| self.place_of(o)),
                                    );
                                }
                                _ => {}
                            }
                        }
                        "shorthand_property_identifier" if self.text(p) == "signal" => {
                            signal = Some(PlaceRef::Unknown);
                        }
                        _ => {}
                    }
                }
            }
        }
        let kind = if once {
            CallbackKind::OnceHandler
        } else {
            CallbackKind::EventHandler
        };
        let reg = Registrar {
            target: Some(target.clone()),
            ..registrar.clone()
        };
        let event_idx = self.event(
            EventKind::Listen {
                target,
                method: method.to_string(),
                event: registrar.event.clone(),
                handler: Handler::Other,
                handler_span: arg_list.get(1).map(|h| h.byte_range()),
                once,
                signal,
            },
            head_span(n),
        );
        if let Some(callee) = n.field("function") {
            self.visit(callee);
        }
        let created = match args {
            Some(a) => self.arguments(a, &reg, |i| if i == 1 { kind } else { CallbackKind::Other }),
            None => Vec::new(),
        };
        let inline = created.get(1).copied().flatten();
        let handler = arg_list
            .get(1)
            .map_or(Handler::Other, |h| self.handler_of(*h, inline));
        if let EventKind::Listen { handler: h, .. } = &mut self.facts.events[event_idx].kind {
            *h = handler;
        }
    }

    fn timer(
        &mut self,
        n: Node<'a>,
        repeat: bool,
        arg_list: &[Node<'a>],
        registrar: &Registrar,
        args: Option<Node<'a>>,
    ) {
        let (handle, unref, _) = self.placement(n);
        // A timer loop: setTimeout(f) inside f, or a callback that calls f.
        let reschedules = if repeat {
            None
        } else {
            arg_list.first().and_then(|cb| self.rescheduled_scope(*cb))
        };
        // Which of the executor's settle functions the timer's callback calls.
        let calls = |ex: &Executor, i: usize| {
            let (Some(cb), Some(s)) = (arg_list.first(), ex.settle[i].as_deref()) else {
                return false;
            };
            let text = self.text(*cb);
            text == s || mentions(text, &format!("{s}("))
        };
        let (settles, rejects) = match self.executors.last() {
            Some(ex) if !repeat => (calls(ex, 0) || calls(ex, 1), calls(ex, 1)),
            _ => (false, false),
        };
        let idx = self.event(
            EventKind::Timer {
                api: if repeat { "setInterval" } else { "setTimeout" }.to_string(),
                repeat,
                handle,
                unref,
                reschedules,
                deadline: None,
                callback: None,
            },
            head_span(n),
        );
        if settles && let Some(ex) = self.executors.last_mut() {
            ex.timers.push((idx, rejects));
            ex.in_timer += 1;
        }
        if let Some(callee) = n.field("function") {
            self.visit(callee);
        }
        let kind = if repeat {
            CallbackKind::Interval
        } else {
            CallbackKind::Deferred
        };
        let created = match args {
            Some(a) => self.arguments(a, registrar, |i| {
                if i == 0 { kind } else { CallbackKind::Other }
            }),
            None => Vec::new(),
        };
        if settles && let Some(ex) = self.executors.last_mut() {
            ex.in_timer -= 1;
        }
        if let EventKind::Timer { callback, .. } = &mut self.facts.events[idx].kind {
            *callback = created.first().copied().flatten();
        }
    }

    /// The enclosing named function a `setTimeout` callback re-schedules, if any.
    fn rescheduled_scope(&self, cb: Node<'a>) -> Option<ScopeId> {
        let cb = strip(cb);
        let text = self.text(cb);
        for s in self.facts.ancestors(self.scope) {
            let scope = &self.facts.scopes[s];
            if matches!(scope.kind, ScopeKind::Module) {
                break;
            }
            let Some(name) = scope.name.as_deref() else {
                continue;
            };
            let direct = match cb.kind() {
                "identifier" => text == name,
                "member_expression" => text == format!("this.{name}"),
                "call_expression" => {
                    // setTimeout(this.tick.bind(this))
                    text.starts_with(&format!("this.{name}.bind"))
                        || text.starts_with(&format!("{name}.bind"))
                }
                "arrow_function" | "function_expression" | "function" => {
                    mentions(text, &format!("{name}("))
                }
                _ => false,
            };
            if direct {
                return Some(s);
            }
        }
        None
    }
}

/// A block with no statements (comments only count as nothing).
fn is_empty_block(b: Node) -> bool {
    b.kind() == "statement_block" && {
        let mut c = b.walk();
        b.named_children(&mut c).all(|s| s.kind() == "comment")
    }
}

/// A function that does nothing with what it is given: `() => {}`, `() => undefined`,
/// `() => null`, `noop`.
fn is_noop_fn(n: Node, src: &str) -> bool {
    let n = strip(n);
    let text = src.get(n.byte_range()).unwrap_or("");
    match n.kind() {
        "arrow_function" | "function_expression" | "function" => match n.field("body") {
            Some(b) if b.kind() == "statement_block" => is_empty_block(b),
            Some(b) => matches!(
                src.get(b.byte_range()).unwrap_or(""),
                "undefined" | "null" | "void 0"
            ),
            None => false,
        },
        "identifier" | "member_expression" => {
            matches!(text, "noop" | "_.noop" | "lodash.noop" | "R.identity")
        }
        _ => false,
    }
}

/// An expression that creates a server: `express()`, `http.createServer(..)`, `Fastify()`.
fn is_server_factory(text: &str) -> bool {
    let head = text.split('(').next().unwrap_or("").trim();
    matches!(
        head,
        "express" | "fastify" | "Fastify" | "new Koa" | "new Hapi.Server" | "Hapi.server"
    ) || head.ends_with("createServer")
}

/// The shortest useful span of a call or `new`: from its start to the end of the callee
/// (`setInterval`, `bus.on`, `new OpenAI`), so multi-line arguments are not underlined.
fn head_span(n: Node) -> Range<usize> {
    let callee = n.field("function").or_else(|| n.field("constructor"));
    match callee {
        Some(c) => n.start_byte()..c.end_byte(),
        None => n.byte_range(),
    }
}

/// Strips parentheses and TS-only wrappers around an expression.
fn strip(mut n: Node) -> Node {
    while matches!(
        n.kind(),
        "parenthesized_expression"
            | "non_null_expression"
            | "as_expression"
            | "satisfies_expression"
            | "await_expression"
    ) {
        match n.named_child(0) {
            Some(c) => n = c,
            None => break,
        }
    }
    n
}

fn is_function(n: Node) -> bool {
    matches!(
        n.kind(),
        "arrow_function" | "function_expression" | "function"
    )
}

/// `haystack` contains `needle` as a whole identifier path (not inside a longer name).
pub(crate) fn mentions(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut start = 0;
    while let Some(i) = haystack[start..].find(needle) {
        let at = start + i;
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        let first = needle.chars().next().unwrap_or(' ');
        let last = needle.chars().next_back().unwrap_or(' ');
        let ok_before = before.is_none_or(|b| !(ident(b) || b == '.') || !ident(first));
        let ok_after = after.is_none_or(|a| !ident(a) || !ident(last));
        if ok_before && ok_after {
            return true;
        }
        start = at + needle.len().max(1);
    }
    false
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string()
}

/// The value of a string literal (or a template without substitutions).
fn string_value(text: &str, kind: &str) -> Option<String> {
    match kind {
        "string" => Some(unquote(text)),
        "template_string" if !text.contains("${") => Some(unquote(text)),
        _ => None,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `withTimeout`, `timeoutAfter`, `deadline`, `raceTimeout`: helpers whose timer is a deadline.
fn is_timeout_helper_name(name: &str) -> bool {
    words(name).any(|w| matches!(w.as_str(), "timeout" | "deadline"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_whole_identifiers() {
        assert!(mentions("!client", "client"));
        assert!(mentions("!this.client", "this.client"));
        assert!(!mentions("!clientId", "client"));
        assert!(!mentions("!this.client", "client"));
        assert!(mentions("() => reject(new Error())", "reject("));
    }

    fn lower_ts(src: &str) -> FileFacts {
        lower(src, Language::TypeScript, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn timer_handles_are_placed() {
        let f = lower_ts(
            "const a = setInterval(f, 1);\nsetInterval(g, 2).unref();\nclass C { t?: any; start() { this.t = setInterval(h, 3); } }\n",
        );
        let timers: Vec<_> = f
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Timer { handle, unref, .. } => Some((f.resolve(handle), *unref)),
                _ => None,
            })
            .collect();
        assert!(matches!(timers[0], (Place::Binding(_), false)));
        assert_eq!(timers[1], (Place::Discarded, true));
        assert!(matches!(&timers[2].0, Place::Field { name, .. } if name == "t"));
    }

    #[test]
    fn deadline_from_race_and_sleep_is_not_one() {
        let f = lower_ts(
            "async function a(p) { await Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('t')), 10))]); }\nasync function s() { await new Promise(r => setTimeout(r, 5)); }\n",
        );
        let d: Vec<_> = f
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Timer { deadline, .. } => Some(deadline.clone()),
                _ => None,
            })
            .collect();
        assert!(d[0].as_ref().is_some_and(|d| d.in_race));
        let sleep = d[1].as_ref().unwrap();
        assert!(!sleep.in_race && !sleep.manual_race && !sleep.timeout_helper);
    }

    #[test]
    fn error_regions_are_skipped_and_the_rest_is_lowered() {
        let f = lower_ts("const x = ;;; }}}\nsetInterval(tick, 1000);\n");
        assert!(!f.syntax_errors.is_empty());
        assert!(
            f.events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Timer { .. }))
        );
    }

    #[test]
    fn lifetimes_follow_callers() {
        let f = lower_ts(
            "function main() { helper(); }\nfunction helper() {}\nwss.on('connection', onConn);\nfunction onConn(ws) {}\nmain();\n",
        );
        let by_name = |n: &str| {
            f.scopes
                .iter()
                .position(|s| s.name.as_deref() == Some(n))
                .unwrap()
        };
        assert_eq!(f.lifetime(by_name("main")), Lifetime::Once);
        assert_eq!(f.lifetime(by_name("helper")), Lifetime::Once);
        assert_eq!(f.lifetime(by_name("onConn")), Lifetime::Repeated);
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn bracket_depth_skips_strings_comments_and_template_text() {
        assert_eq!(bracket_depth("f([{}])", usize::MAX), 3);
        assert_eq!(
            bracket_depth("'((((' \"[[[[\" // {{{{\n /* (((( */ x", usize::MAX),
            0
        );
        assert_eq!(bracket_depth("`(((( ${ a[0] } ))))` + (1)", usize::MAX), 2);
        assert_eq!(bracket_depth("`${`${ (x) }`}`", usize::MAX), 3);
        // An unterminated string stops at the end of its line.
        assert_eq!(bracket_depth("'((((\n(x)", usize::MAX), 1);
        // Stops counting once past the limit.
        assert_eq!(bracket_depth(&"[".repeat(1_000_000), 10), 11);
    }

    #[test]
    fn too_deep_files_are_rejected_before_parsing() {
        let deep = format!("x = {};", "[".repeat(MAX_DEPTH + 1));
        let start = Instant::now();
        let err = lower(&deep, Language::JavaScript, Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, LowerError::TooDeep(_)));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_slow_parse_times_out() {
        let src =
            "function a(b,c){var d=b.map(function(e){return e*c});return{k:d}}".repeat(20_000);
        let err = lower(&src, Language::JavaScript, Duration::from_millis(5)).unwrap_err();
        assert!(matches!(err, LowerError::Timeout(_)));
        assert!(err.to_string().starts_with("timed out"));
    }
}
