//! The walk: [`Walker`], its state, and the one cursor walk over the tree that dispatches on
//! node kinds to the concern that lowers each (see the list in the parent module).

use std::ops::Range;
use std::time::Instant;

use tree_sitter::Node;

use super::calls::Executor;
use super::{MAX_DEPTH, NodeExt};
use crate::facts::*;

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

/// The state of the one walk over a file: the facts so far and where the walk is.
pub(super) struct Walker<'a> {
    pub(super) src: &'a str,
    /// The file calls `.unsubscribe(…)` somewhere: only then is `subscribe(fn)` a registration
    /// (see `calls::listeners`).
    pub(super) unsubscribes: bool,
    pub(super) facts: FileFacts,
    pub(super) scope: ScopeId,
    pub(super) class: Option<ClassId>,
    pub(super) in_loop: bool,
    pub(super) loop_span: Option<Range<usize>>,
    pub(super) conditional: u32,
    pub(super) path: PathKind,
    pub(super) race: u32,
    /// The `Promise.race(…)` calls being walked, with their statements.
    pub(super) races: Vec<(Range<usize>, Range<usize>)>,
    /// Texts of `if` conditions around the current node (lazy-initialisation guards).
    pub(super) guards: Vec<String>,
    pub(super) executors: Vec<Executor>,
    /// Ancestors of the node being visited, outermost first.
    pub(super) stack: Vec<Node<'a>>,
    /// Indexes into `stack` of the statements and statement boundaries on it (see
    /// [`is_anchor`]), so finding the statement around a node does not walk up every expression
    /// level (quadratic in nesting: minutes for ten thousand nested calls).
    anchors: Vec<usize>,
    /// Constructor parameter names, while walking a constructor.
    pub(super) ctor_params: Vec<String>,
    /// Per class: the synthetic scope field initialisers run in.
    pub(super) field_scopes: Vec<(ClassId, ScopeId)>,
    pub(super) too_deep: bool,
    /// When the walk must stop (the per-file time budget); checked every few hundred nodes.
    pub(super) deadline: Option<Instant>,
    ticks: u32,
    pub(super) timed_out: bool,
    /// Names initialised with a string literal (for `s += chunk`).
    pub(super) strings: Vec<String>,
    /// Names declared with a number (`let offset = 0`, `const chunk = end - start`).
    pub(super) numbers: Vec<String>,
    /// Names holding a server (`const app = express()`, `http.createServer(..)`).
    pub(super) servers: Vec<String>,
    /// Places (as written) assigned a promise whose chain ends in a rejection handler that does
    /// something (`this.ready = init().then(ok, (err) => { this.emit('error', err); throw err; })`).
    pub(super) handled_promises: Vec<String>,
    /// One tree cursor per nesting level, reused for every node at that level (a new cursor
    /// per node is an allocation per node).
    pub(super) cursors: Vec<Option<tree_sitter::TreeCursor<'a>>>,
    /// Names of the file's ES5 constructor functions (see `es5.rs`), and their classes once
    /// made.
    pub(super) es5_names: Vec<String>,
    /// Objects of methods copied onto an ES5 class's prototype (`for (k in o) X.prototype[k] =
    /// o[k]`, `Object.assign(X.prototype, o)`): (object name, class name).
    pub(super) es5_mixins: Vec<(String, String)>,
    pub(super) es5_classes: Vec<(String, ClassId)>,
    /// `var self = this` in a method: the alias, the scope it is declared in, the class.
    pub(super) this_aliases: Vec<(String, ScopeId, ClassId)>,
    /// Functions a method runs with its own `this` (`f.call(this)`, `f.bind(this)`): ES5
    /// private methods of that class.
    pub(super) private_methods: Vec<(String, ClassId)>,
    /// The bindings declared so far, by name: the walk asks "is `x` declared (here, as an
    /// import)?" at every call and assignment, which a scan of all bindings made quadratic on
    /// bundles (see [`Walker::declared`]).
    pub(super) declared:
        std::collections::HashMap<String, Vec<BindingId>, foldhash::fast::RandomState>,
    /// Where the names being declared are visible, when narrower than the scope (see
    /// [`Binding::block`]).
    pub(super) block: Option<Range<usize>>,
    /// Per function, its `if`s on the object's own state so far (see `latches.rs`).
    pub(super) state_ifs: std::collections::HashMap<ScopeId, Vec<super::latches::StateIf>>,
}

impl<'a> Walker<'a> {
    pub(super) fn new(src: &'a str) -> Walker<'a> {
        let mut facts = FileFacts::default();
        facts.add_scope(Scope::new(ScopeKind::Module, None, 0..src.len()));
        Walker {
            src,
            unsubscribes: src.contains(".unsubscribe("),
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
            numbers: Vec::new(),
            servers: Vec::new(),
            handled_promises: Vec::new(),
            cursors: Vec::new(),
            es5_names: Vec::new(),
            es5_mixins: Vec::new(),
            es5_classes: Vec::new(),
            this_aliases: Vec::new(),
            private_methods: Vec::new(),
            declared: Default::default(),
            block: None,
            state_ifs: std::collections::HashMap::new(),
        }
    }

    pub(super) fn text(&self, n: Node) -> &'a str {
        self.src.get(n.byte_range()).unwrap_or("")
    }

    pub(super) fn event(&mut self, kind: EventKind, span: Range<usize>) -> usize {
        if matches!(kind, EventKind::Listen(_) | EventKind::Call { .. }) {
            for flag in self.guards.iter().filter_map(|g| this_flag(g)) {
                self.facts
                    .flag_guards
                    .push((span.clone(), flag.to_string()));
            }
        }
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
    pub(super) fn statement_around(&self, span: &Range<usize>) -> Range<usize> {
        for &i in self.anchors.iter().rev() {
            let n = self.stack[i];
            let r = n.byte_range();
            if r.start > span.start || r.end < span.end {
                continue;
            }
            if is_statement(n.kind_name()) {
                if i > 0 && self.stack[i - 1].kind_name() == "export_statement" {
                    return self.stack[i - 1].byte_range();
                }
                return r;
            }
            if matches!(
                n.kind_name(),
                "statement_block" | "class_body" | "program" | "arrow_function"
            ) {
                break;
            }
        }
        span.clone()
    }

    pub(super) fn visit_children(&mut self, n: Node<'a>) {
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

    pub(super) fn visit(&mut self, n: Node<'a>) {
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

    pub(super) fn push(&mut self, n: Node<'a>) {
        if is_anchor(n.kind_name()) {
            self.anchors.push(self.stack.len());
        }
        self.stack.push(n);
    }

    pub(super) fn pop(&mut self) {
        self.stack.pop();
        if self.anchors.last() == Some(&self.stack.len()) {
            self.anchors.pop();
        }
    }

    /// One node: dispatch on its kind to the concern that lowers it. Kinds with nothing to
    /// record are walked through.
    fn visit_node(&mut self, n: Node<'a>) {
        match n.kind_name() {
            "function_declaration" | "generator_function_declaration" => {
                self.function_declaration(n);
            }
            "function_expression" | "function" | "generator_function" | "arrow_function" => {
                self.function_expression(n);
            }
            // A method of an object literal (`{ close() { … } }`; class members are walked by
            // `class_member`): a function of its own, named by its key.
            "method_definition" => {
                let name = n.field("name").map(|x| self.text(x).to_string());
                self.function_with(n, ScopeKind::Function, name, None, false);
            }
            "class_declaration" | "class" | "abstract_class_declaration" => self.class(n),
            "call_expression" => self.call(n),
            "new_expression" => self.new_expr(n),
            "variable_declarator" => self.variable_declarator(n),
            "assignment_expression" | "augmented_assignment_expression" => self.assignment(n),
            "unary_expression" => self.unary(n),
            "binary_expression" => self.binary(n),
            "if_statement" => self.if_statement(n),
            "ternary_expression" => self.ternary(n),
            "switch_case" | "switch_default" => self.switch_case(n),
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement" => {
                self.loop_statement(n);
            }
            "try_statement" => self.try_statement(n),
            "return_statement" => self.return_statement(n),
            "throw_statement" => self.throw_statement(n),
            "await_expression" => {
                self.event(EventKind::Await, n.byte_range());
                self.visit_children(n);
            }
            "break_statement" if self.conditional > 0 => {
                self.facts.scopes[self.scope].has_guarded_return = true;
            }
            "import_statement" => self.import(n),
            "export_statement" => self.export(n),
            "shorthand_property_identifier" => {
                // `{ resolve, reject }` stores the settle functions as `{ resolve: resolve }`
                // does: the promise may settle through them elsewhere.
                self.stored_shorthand(n);
                self.settle_reference(n);
            }
            "pair" | "array" => self.stored_values(n),
            "identifier" => self.settle_reference(n),
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
}

/// `x` when a condition is exactly `this.x` (parentheses and spaces aside).
fn this_flag(cond: &str) -> Option<&str> {
    let c = cond
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let name = c.strip_prefix("this.")?;
    (!name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '$'))
    .then_some(name)
}
