//! Scopes and bindings: declarations and patterns, functions and callbacks (each a scope),
//! classes, their methods, fields and field initialisers.

use std::ops::Range;

use tree_sitter::Node;

use super::NodeExt;
use super::text::strip;
use super::walk::Walker;
use crate::facts::*;

impl<'a> Walker<'a> {
    pub(super) fn declare(&mut self, name: &str, kind: BindingKind, span: Range<usize>) {
        let id = self.facts.add_binding(name, self.scope, kind, span);
        self.facts.bindings[id].block = self.block.clone();
        self.declared.entry(name.to_string()).or_default().push(id);
    }

    /// The bindings declared so far under `name`, in order.
    pub(super) fn declared(&self, name: &str) -> impl Iterator<Item = &crate::facts::Binding> {
        self.declared
            .get(name)
            .into_iter()
            .flatten()
            .map(|&b| &self.facts.bindings[b])
    }

    /// Declares a pattern's names as visible in `block` only (`let`/`const` in a block, a
    /// `catch` parameter); `None` for the whole scope.
    pub(super) fn declare_block_scoped(
        &mut self,
        pat: Node<'a>,
        kind: &BindingKind,
        block: Option<Range<usize>>,
    ) {
        let saved = std::mem::replace(&mut self.block, block);
        self.declare_pattern(pat, kind);
        self.block = saved;
    }

    /// The block a `let`/`const` declarator on top of the walk's stack is visible in: the
    /// nearest block, `for` head or `switch` body around its declaration. `None` for `var`
    /// and at the top of the module.
    pub(super) fn lexical_block(&self) -> Option<Range<usize>> {
        let n = self.stack.len();
        let decl = *self.stack.get(n.checked_sub(2)?)?;
        if decl.kind_name() != "lexical_declaration" {
            return None;
        }
        let block = self.stack[..n - 2].iter().rev().find(|a| {
            matches!(
                a.kind_name(),
                "statement_block"
                    | "for_statement"
                    | "for_in_statement"
                    | "switch_body"
                    | "class_static_block"
                    | "program"
            )
        })?;
        (block.kind_name() != "program").then(|| block.byte_range())
    }

    /// Declares every identifier a binding pattern introduces.
    pub(super) fn declare_pattern(&mut self, pat: Node<'a>, kind: &BindingKind) {
        match pat.kind_name() {
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
            if p.kind_name() == "comment" {
                continue; // not a parameter: positions must match the call's arguments
            }
            let pat = match p.kind_name() {
                "required_parameter" | "optional_parameter" => p.field("pattern"),
                "assignment_pattern" => p.field("left"),
                _ => Some(p),
            };
            let name = pat
                .filter(|n| n.kind_name() == "identifier")
                .map(|n| self.text(n).to_string())
                .unwrap_or_default();
            names.push(name);
            self.declare_pattern(p, &BindingKind::Param);
        }
        names
    }

    /// `const x = …`: declares the names (imports for `require`), remembers string and server
    /// names, then walks the value.
    pub(super) fn variable_declarator(&mut self, n: Node<'a>) {
        if let Some(name) = n.field("name") {
            match self.required_module(n.field("value")) {
                // `const x = require('m')`, `const { a } = require('m')`: imports.
                Some(source) => self.declare_required(name, &source),
                None => {
                    let block = self.lexical_block();
                    self.declare_block_scoped(name, &BindingKind::Var, block);
                }
            }
            if let Some(v) = n.field("value") {
                self.remember_this_alias(name, v);
                let v = strip(v);
                let text = self.text(name).to_string();
                if matches!(v.kind_name(), "string" | "template_string") {
                    self.strings.push(text.clone());
                } else if name.kind_name() == "identifier" && self.is_number(v) {
                    self.numbers.push(text.clone());
                }
                self.remember_server(text, v);
            }
        }
        if let Some(v) = n.field("value") {
            self.collection_literal(v);
            self.flow_into(v);
            self.visit(v);
        }
    }

    pub(super) fn function_declaration(&mut self, n: Node<'a>) {
        let name = n.field("name").map(|x| self.text(x));
        let id = self.facts.scopes.len();
        if let Some(name) = name {
            self.declare(name, BindingKind::Function(id), n.byte_range());
        }
        if self.es5_constructor(n, name) || self.es5_private_method(n, name) {
            return;
        }
        self.function(n, ScopeKind::Function, name.map(str::to_string), false);
    }

    pub(super) fn function_expression(&mut self, n: Node<'a>) {
        let name = self.name_from_context(n);
        let arrow = n.kind_name() == "arrow_function";
        if self.constructor_method(n) {
            return;
        }
        if !arrow && !self.es5_names.is_empty() {
            let declared = self.stack.iter().rev().nth(1).map(|p| p.kind_name());
            if declared == Some("variable_declarator") && self.es5_constructor(n, name.as_deref()) {
                return;
            }
            if self.es5_method(n) {
                return;
            }
        }
        self.function(n, ScopeKind::Function, name, arrow);
    }

    /// A name for an anonymous function from where it is stored (`const f = () => …`).
    pub(super) fn name_from_context(&self, n: Node<'a>) -> Option<String> {
        let parent = self.stack.iter().rev().nth(1)?;
        let name = match parent.kind_name() {
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

    pub(super) fn function_with(
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
                .filter(|b| b.kind_name() == "statement_block")
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

    pub(super) fn class(&mut self, n: Node<'a>) {
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
        if n.kind_name() != "class"
            && let Some(name) = &name
        {
            self.declare(name, BindingKind::Class(id), n.byte_range());
        }
        let saved_class = self.class;
        self.class = Some(id);
        if let Some(h) = n
            .named_children(&mut n.walk())
            .find(|c| c.kind_name() == "class_heritage")
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
        m.children(&mut c).any(|x| x.kind_name() == "static")
    }

    fn class_member(&mut self, class: ClassId, m: Node<'a>) {
        match m.kind_name() {
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
                let origin = if matches!(value.kind_name(), "new_expression" | "call_expression") {
                    FieldOrigin::Owned
                } else {
                    FieldOrigin::Other
                };
                let ty = matches!(strip(value).kind_name(), "string" | "template_string")
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
                .any(|x| matches!(x.kind_name(), "accessibility_modifier" | "readonly"));
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
}
