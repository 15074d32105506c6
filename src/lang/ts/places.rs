//! Places: where the value of an expression goes (its placement), what place an expression
//! denotes, and what assignments and stored values do to places (flows, escapes, fields,
//! growth by subscript, rebuilding a buffer from itself).

use tree_sitter::Node;

use super::NodeExt;
use super::text::{is_function, strip};
use super::walk::Walker;
use crate::facts::*;

impl<'a> Walker<'a> {
    /// Where the value of expression `node` (at the top of the stack) goes.
    /// Returns the place, whether `.unref()` was called on it, and whether it is a lazy
    /// initialisation (`x ??= …`, `x = x ?? …`, `if (!x) x = …`).
    pub(super) fn placement(&self, node: Node<'a>) -> (PlaceRef, bool, bool) {
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
            match parent.kind_name() {
                "parenthesized_expression"
                | "as_expression"
                | "non_null_expression"
                | "satisfies_expression"
                | "type_assertion"
                | "await_expression"
                | "ternary_expression" => {}
                "member_expression" => {
                    let prop = parent.field("property").map(|p| self.text(p)).unwrap_or("");
                    let is_call = i > 0 && self.stack[i - 1].kind_name() == "call_expression";
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
                        Some(n) if n.kind_name() == "identifier" => (
                            PlaceRef::Name {
                                name: self.text(n).to_string(),
                                scope: self.scope,
                                at: At(n.start_byte()),
                            },
                            unref,
                            false,
                        ),
                        _ => (PlaceRef::Unknown, unref, false),
                    };
                }
                "assignment_expression" | "augmented_assignment_expression" => {
                    // `const cache = (module.exports.cache = new Map())`: the value is the
                    // local binding's; the export is one more name for it.
                    let left = parent.field("left").map(|l| self.text(l)).unwrap_or("");
                    let exported =
                        left.starts_with("module.exports.") || left.starts_with("exports.");
                    let mut j = i;
                    while j > 0 && self.stack[j - 1].kind_name() == "parenthesized_expression" {
                        j -= 1;
                    }
                    if exported
                        && parent.kind_name() == "assignment_expression"
                        && j > 0
                        && self.stack[j - 1].kind_name() == "variable_declarator"
                    {
                        cur = parent;
                        continue;
                    }
                    let (place, lazy) = self.assigned_place(parent, cur, i, alt_of);
                    return (place, unref, lazy);
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

    /// The place assigned by `parent`, an assignment whose right side holds `cur` (`stack[..i]`
    /// are the ancestors of `parent`), and whether the assignment is a lazy initialisation.
    fn assigned_place(
        &self,
        parent: Node<'a>,
        cur: Node<'a>,
        i: usize,
        alt_of: Option<&str>,
    ) -> (PlaceRef, bool) {
        let Some(left) = parent.field("left") else {
            return (PlaceRef::Unknown, false);
        };
        if left.id() == cur.id() {
            return (PlaceRef::Unknown, false);
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
            while j > 0 && self.stack[j - 1].kind_name() == "parenthesized_expression" {
                j -= 1;
            }
            if j > 0 && self.stack[j - 1].kind_name() == "binary_expression" {
                let b = self.stack[j - 1];
                let l = b.field("left").map(|l| self.text(l));
                lazy |= l == Some(left_text);
            }
        }
        (self.place_of(left), lazy)
    }

    /// The place an expression denotes.
    pub(super) fn place_of(&self, n: Node<'a>) -> PlaceRef {
        match n.kind_name() {
            "identifier" | "shorthand_property_identifier" => PlaceRef::Name {
                name: self.text(n).to_string(),
                scope: self.scope,
                at: At(n.start_byte()),
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
                self.member_place(obj, name)
            }
            // `this[kTimer]`, `this['timer']`: a member under a fixed key (a symbol constant,
            // a string) is a field like any other; `obj[key]` of a variable key is not.
            "subscript_expression" => match (n.field("object"), n.field("index")) {
                (Some(obj), Some(index)) => match self.static_key(index) {
                    Some(name) => self.member_place(obj, name),
                    None => PlaceRef::Unknown,
                },
                _ => PlaceRef::Unknown,
            },
            _ => PlaceRef::Unknown,
        }
    }

    /// `obj.name` (or `obj[key]` under a fixed key) as a place: a field when `obj` is `this`
    /// (or an alias of it), else a member of `obj`'s place.
    fn member_place(&self, obj: Node<'a>, name: String) -> PlaceRef {
        if obj.kind_name() == "this" {
            match self.class {
                Some(class) => PlaceRef::Field { class, name },
                None => PlaceRef::Unknown,
            }
        } else if obj.kind_name() == "identifier"
            && let Some(class) = self.this_alias(self.text(obj))
        {
            PlaceRef::Field { class, name }
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

    /// The member name a subscript's index fixes: a string literal (`'timer'` → `timer`), or a
    /// symbol constant, kept with its brackets (`kTimer` → `[kTimer]`) — a module-level
    /// `const k = Symbol(…)`, or a name in Node's `kName` convention for symbol keys (undici,
    /// ws and Node itself import them from a `symbols` module).
    pub(super) fn static_key(&self, index: Node<'a>) -> Option<String> {
        let text = self.text(index);
        match index.kind_name() {
            "string" => Some(text.trim_matches(['\'', '"']).to_string()).filter(|k| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            }),
            "identifier" => {
                let by_name = text.len() > 1
                    && text.starts_with('k')
                    && text[1..].starts_with(|c: char| c.is_ascii_uppercase());
                (by_name || self.declared_symbol(text)).then(|| format!("[{text}]"))
            }
            _ => None,
        }
    }

    /// `name` is a module-level `const name = Symbol(…)` / `Symbol.for(…)`.
    fn declared_symbol(&self, name: &str) -> bool {
        let Some(b) = self.facts.lookup(name, self.scope) else {
            return false;
        };
        let binding = &self.facts.bindings[b];
        self.facts.is_module_binding(b)
            && self.src.get(binding.span.end..).is_some_and(|rest| {
                let rest = rest.trim_start();
                rest.strip_prefix('=').is_some_and(|v| {
                    let v = v.trim_start();
                    v.starts_with("Symbol(") || v.starts_with("Symbol.for(")
                })
            })
    }

    /// `to = from` where `from` is a place: record the flow so a handle stored twice is followed.
    pub(super) fn flow_into(&mut self, v: Node<'a>) {
        let v = strip(v);
        if !matches!(v.kind_name(), "identifier" | "member_expression") {
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

    pub(super) fn assignment(&mut self, n: Node<'a>) {
        let left = n.field("left");
        let right = n.field("right");
        if let Some(left) = left {
            match left.kind_name() {
                "subscript_expression" => {
                    let key = left.field("index").and_then(|i| self.static_key(i));
                    match (left.field("object"), key) {
                        // `this[kTimer] = …`: a field under a fixed key, not a new entry.
                        (Some(obj), Some(name)) => {
                            if let (Some(class), Some(r)) = (self.class, right)
                                && obj.kind_name() == "this"
                            {
                                self.field_assignment(n, class, &name, r);
                            }
                        }
                        (Some(obj), None) => {
                            let place = self.place_of(obj);
                            self.event(EventKind::Grow { place }, left.byte_range());
                        }
                        _ => {}
                    }
                }
                "member_expression" => {
                    self.member_assignment(n, left, right);
                    if let Some(r) = right {
                        self.note_state_set(n, left, r);
                    }
                }
                "identifier" => {
                    if let Some(r) = right {
                        self.note_state_set(n, left, r);
                    }
                }
                _ => {}
            }
            // A reassignment replaces the old value: for a collection, that is a shrink.
            if n.kind_name() == "assignment_expression" {
                let place = self.place_of(left);
                if matches!(place, PlaceRef::Name { .. } | PlaceRef::Field { .. }) {
                    self.event(EventKind::Shrink { place }, n.byte_range());
                }
            }
        }
        if let Some(r) = right {
            // `_this = _super.call(this, opts) || this` after a bare `var _this;` (Babel).
            if let Some(l) = left.filter(|l| l.kind_name() == "identifier") {
                self.remember_this_alias(l, r);
            }
            self.collection_literal(r);
            self.flow_into(r);
            if let Some(l) = left
                && self.handles_rejection(r)
            {
                self.handled_promises.push(self.text(l).to_string());
            }
        }
        if let (Some(l), Some(r)) = (left, right)
            && self.rebuilds_from_itself(n, l, r)
            && !self.bounded_rebuild(n, l, r)
        {
            let place = self.place_of(l);
            self.event(EventKind::Reconcat { place }, n.byte_range());
        }
        self.visit_children(n);
    }

    /// `x.length = 0`, `module.exports.x = …`, `this.x = …`.
    fn member_assignment(&mut self, n: Node<'a>, left: Node<'a>, right: Option<Node<'a>>) {
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
            && obj.kind_name() == "this"
            && let Some(r) = right
        {
            self.field_assignment(n, class, prop, r);
        }
    }

    /// `this.prop = r`: a field of `class`, owned (made here), injected (from a constructor
    /// parameter) or other.
    fn field_assignment(&mut self, n: Node<'a>, class: ClassId, prop: &str, r: Node<'a>) {
        let r = strip(r);
        let origin = if matches!(r.kind_name(), "new_expression" | "call_expression")
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

    /// `x = Buffer.concat([x, c])`, `x = x.concat(c)`, `x = [...x, c]`, or `x += c` on a string.
    fn rebuilds_from_itself(&self, n: Node<'a>, l: Node<'a>, r: Node<'a>) -> bool {
        let lt = self.text(l);
        let r = strip(r);
        let op = n.field("operator").map(|o| self.text(o));
        if n.kind_name() == "augmented_assignment_expression" {
            if op != Some("+=") {
                return false;
            }
            // A number accumulated (`offset += len`, `info.size += maxChunk`): no copying.
            if self.adds_numbers(l, r) {
                return false;
            }
            let string_var = self.strings.iter().any(|s| s == lt)
                || (l.kind_name() == "member_expression"
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
        match r.kind_name() {
            "call_expression" => {
                let f = r.field("function").map(|f| self.text(f));
                let first_arg = r
                    .field("arguments")
                    .and_then(|a| a.named_child(0))
                    .map(strip);
                match f {
                    Some("Buffer.concat") => first_arg.is_some_and(|a| {
                        a.kind_name() == "array"
                            && a.named_child(0).is_some_and(|e| self.text(e) == lt)
                    }),
                    Some(f) => f == format!("{lt}.concat"),
                    None => false,
                }
            }
            "array" => r.named_child(0).is_some_and(|e| {
                e.kind_name() == "spread_element"
                    && e.named_child(0).is_some_and(|x| self.text(x) == lt)
            }),
            _ => false,
        }
    }

    /// `x += y` adds numbers: `x` was declared with a numeric value (`let psrc = 0`) or is
    /// named like a count or a position (`offset`, `inOff`, `info.size`), or `y` is a number
    /// (`featureAckDataLen`, `buf.length`, `end - start`, a name declared with one). A string
    /// never counts (`let s = ''`).
    fn adds_numbers(&self, l: Node<'a>, r: Node<'a>) -> bool {
        let lt = self.text(l);
        if self.strings.iter().any(|s| s == lt) {
            return false;
        }
        let last = lt.rsplit('.').next().unwrap_or(lt);
        self.numbers.iter().any(|s| s == lt)
            || words(last).last().is_some_and(|w| is_number_word(&w))
            || self.is_number(r)
    }

    /// An expression that evaluates to a number by its shape: a numeric literal, `.length` /
    /// `.byteLength`, arithmetic other than `+` (or `+` with a numeric side), `Math.*(..)`,
    /// `Number(..)`, `parseInt(..)`, a ternary with a numeric branch, or a name declared with
    /// a number or named like one (`dataLen`, `chunkSize`).
    pub(super) fn is_number(&self, n: Node<'a>) -> bool {
        let n = strip(n);
        match n.kind_name() {
            "number" => true,
            "identifier" => {
                let t = self.text(n);
                !self.strings.iter().any(|s| s == t)
                    && (self.numbers.iter().any(|s| s == t)
                        || words(t).last().is_some_and(|w| is_number_word(&w)))
            }
            "member_expression" => n
                .field("property")
                .is_some_and(|p| matches!(self.text(p), "length" | "byteLength")),
            "unary_expression" => n
                .field("operator")
                .is_some_and(|o| matches!(self.text(o), "-" | "+" | "~")),
            "update_expression" => true,
            "binary_expression" => match n.field("operator").map(|o| self.text(o)) {
                Some("+") => {
                    n.field("left").is_some_and(|x| self.is_number(x))
                        && n.field("right").is_some_and(|x| self.is_number(x))
                }
                Some("-" | "*" | "/" | "%" | "**" | "|" | "&" | "^" | "<<" | ">>" | ">>>") => true,
                _ => false,
            },
            "ternary_expression" => {
                n.field("consequence").is_some_and(|x| self.is_number(x))
                    || n.field("alternative").is_some_and(|x| self.is_number(x))
            }
            "call_expression" => n.field("function").is_some_and(|f| {
                let f = self.text(f);
                f.starts_with("Math.")
                    || matches!(f, "Number" | "parseInt" | "parseFloat" | "Number.parseInt")
            }),
            _ => false,
        }
    }

    /// An array (`results = results.concat(r)`, `[...results, r]`) or a string (`text += …`)
    /// rebuilt once per item of an in-memory collection — `for … in`/`for … of`, a C-style
    /// `for` up to a `.length`/`.size`, `.forEach`/`.reduce` — into the run's own value: a
    /// local of the function that loops (or a member of one: `dest.slots`), or the accumulator
    /// of a `.reduce` seeded with a fresh value. The work is bounded by a collection already in
    /// memory and the value is that run's own. Not a `Buffer.concat` (a real copy per item),
    /// and not a stream read chunk by chunk (`while`, `for await`, data handlers).
    fn bounded_rebuild(&self, n: Node<'a>, l: Node<'a>, r: Node<'a>) -> bool {
        let r = strip(r);
        let lt = self.text(l);
        let rebuilt = n.kind_name() == "augmented_assignment_expression"
            || match r.kind_name() {
                "call_expression" => {
                    r.field("function").map(|f| self.text(f)) == Some(&format!("{lt}.concat"))
                }
                "array" => true,
                _ => false,
            };
        if !rebuilt {
            return false;
        }
        // The accumulator's root: `results`, or `dest` in `dest.slots`.
        let mut root = l;
        while root.kind_name() == "member_expression" {
            match root.field("object") {
                Some(o) => root = strip(o),
                None => return false,
            }
        }
        if root.kind_name() != "identifier" {
            return false;
        }
        let root = self.text(root);
        let declared_in = |home: ScopeId, kind: &BindingKind| {
            self.facts
                .bindings
                .iter()
                .rev()
                .any(|b| b.name == root && b.scope == home && b.kind == *kind)
        };
        if self.in_loop {
            let innermost = self.stack.iter().rev().find(|x| {
                matches!(
                    x.kind_name(),
                    "for_statement" | "for_in_statement" | "while_statement" | "do_statement"
                )
            });
            let over_collection = innermost.is_some_and(|x| match x.kind_name() {
                "for_in_statement" => {
                    let mut c = x.walk();
                    !x.children(&mut c).any(|k| k.kind_name() == "await")
                }
                "for_statement" => self.counts_up_to_a_size(*x),
                _ => false,
            });
            return over_collection && declared_in(self.scope, &BindingKind::Var);
        }
        let Scope {
            kind: ScopeKind::Callback(reg),
            parent: Some(p),
            in_loop: false,
            ..
        } = &self.facts.scopes[self.scope]
        else {
            return false;
        };
        if reg.kind != CallbackKind::Iteration {
            return false;
        }
        declared_in(*p, &BindingKind::Var)
            || (matches!(reg.method.as_str(), "reduce" | "reduceRight")
                && l.kind_name() == "member_expression"
                && self.reduce_accumulator(root))
    }

    /// A C-style `for` that steps a fixed number of items at a time (`i++`, `++i`, `i += 1`,
    /// `ix += 2` over key/value pairs) up to a collection's size (`i < rows.length`,
    /// `i !== errors.length`, `i < set.size`, or `iy` from `let ix = 0, iy = value.length`).
    /// Stepping through a buffer by a chunk's size (`offset += frameBytes`) is a chunked read,
    /// not this.
    fn counts_up_to_a_size(&self, f: Node<'a>) -> bool {
        let (Some(cond), Some(step)) = (f.field("condition"), f.field("increment")) else {
            return false;
        };
        let step = self.text(step).replace(' ', "");
        let by_literal = step.split_once("+=").is_some_and(|(_, n)| {
            !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()) && n != "0"
        });
        if !(step.ends_with("++") || step.starts_with("++") || by_literal) {
            return false;
        }
        let cond = match cond.kind_name() {
            "expression_statement" => match cond.named_child(0) {
                Some(c) => c,
                None => return false,
            },
            _ => cond,
        };
        cond.kind_name() == "binary_expression"
            && matches!(
                cond.field("operator").map(|o| self.text(o)),
                Some("<" | "<=" | "!==" | "!=")
            )
            && cond.field("right").is_some_and(|r| {
                let r = strip(r);
                let sized = |t: &str| t.ends_with(".length") || t.ends_with(".size");
                sized(self.text(r))
                    || (r.kind_name() == "identifier"
                        && f.field("initializer").is_some_and(|init| {
                            let name = self.text(r);
                            let mut c = init.walk();
                            init.named_children(&mut c).any(|d| {
                                d.kind_name() == "variable_declarator"
                                    && d.field("name").is_some_and(|n| self.text(n) == name)
                                    && d.field("value").is_some_and(|v| sized(self.text(strip(v))))
                            })
                        }))
            })
    }

    /// `name` is the first parameter of the `.reduce` callback being walked, and the reduce is
    /// seeded with a fresh value (a call, an object or array literal, `new`): the accumulator
    /// belongs to that one reduce.
    fn reduce_accumulator(&self, name: &str) -> bool {
        let Some(i) = self.stack.iter().rposition(|x| {
            matches!(
                x.kind_name(),
                "arrow_function" | "function_expression" | "function"
            )
        }) else {
            return false;
        };
        let callback = self.stack[i];
        let first = callback
            .field("parameters")
            .and_then(|ps| ps.named_child(0))
            .or_else(|| callback.field("parameter"));
        let first = first.map(|p| p.field("pattern").unwrap_or(p));
        if first.map(|p| self.text(p)) != Some(name) {
            return false;
        }
        let Some(args) = callback.parent().filter(|a| a.kind_name() == "arguments") else {
            return false;
        };
        args.named_child(1).is_some_and(|seed| {
            matches!(
                strip(seed).kind_name(),
                "call_expression" | "object" | "array" | "new_expression"
            )
        })
    }

    /// The value is (a member of) a constructor parameter.
    fn is_param_root(&self, mut n: Node<'a>) -> bool {
        loop {
            match n.kind_name() {
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

    /// `{ stream }`: the value is stored in an object, which someone else owns.
    pub(super) fn stored_shorthand(&mut self, n: Node<'a>) {
        let place = self.place_of(n);
        self.event(EventKind::Escape { place }, n.byte_range());
    }

    /// `{ stream: s }`, `[a, b]`: stored in a structure.
    pub(super) fn stored_values(&mut self, n: Node<'a>) {
        let values: Vec<Node<'a>> = if n.kind_name() == "pair" {
            n.field("value").into_iter().collect()
        } else {
            let mut c = n.walk();
            n.named_children(&mut c).collect()
        };
        for v in values {
            let v = strip(v);
            if matches!(v.kind_name(), "identifier" | "member_expression") {
                let place = self.place_of(v);
                if !matches!(place, PlaceRef::Unknown) {
                    self.event(EventKind::Escape { place }, v.byte_range());
                }
            }
        }
        self.visit_children(n);
    }

    /// Call arguments that are places escape into code unleak does not follow (logging aside).
    pub(super) fn escaping_arguments(&mut self, method: &str, args: &[Node<'a>]) {
        for arg in args {
            let arg = strip(*arg);
            if matches!(arg.kind_name(), "identifier" | "member_expression")
                && !is_function(arg)
                && !matches!(method, "log" | "debug" | "info" | "warn" | "error")
            {
                let place = self.place_of(arg);
                if !matches!(place, PlaceRef::Unknown) {
                    self.event(EventKind::Escape { place }, arg.byte_range());
                }
            }
        }
    }
}

/// The last word of a name that holds a count, a size or a position.
fn is_number_word(w: &str) -> bool {
    matches!(
        w,
        "offset"
            | "off"
            | "size"
            | "len"
            | "length"
            | "count"
            | "total"
            | "pos"
            | "position"
            | "idx"
            | "index"
            | "seq"
            | "sum"
    )
}
