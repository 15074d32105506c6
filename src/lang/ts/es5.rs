//! ES5 and CommonJS classes: a constructor function whose prototype gets methods
//! (`X.prototype.m = function`, `X.prototype = { m: function }`, `Object.assign(X.prototype,
//! {…})`) or which inherits (`util.inherits(X, EventEmitter)`, Babel's `_inherits(X, _Y)`)
//! becomes a `Class`: the function is its constructor and the prototype functions its
//! methods, so `this.x` in them is a field and every rule sees them as it sees a `class`. A
//! `var self = this` (`that`, `_this`) in a method makes `self.x` that field too, in the
//! plain `function` callbacks where `this` is something else.

use tree_sitter::Node;

use super::NodeExt;
use super::text::strip;
use super::walk::Walker;
use crate::facts::*;

/// Globals whose prototype code patches (polyfills): never a class of the file's own.
const BUILTINS: &[&str] = &[
    "Array", "Object", "String", "Function", "Promise", "Buffer", "Error", "Date", "Map", "Set",
    "Symbol", "Number", "Boolean", "RegExp", "WeakMap", "WeakSet",
];

impl<'a> Walker<'a> {
    /// Finds the names of the file's ES5 classes (before the walk: a prototype method may be
    /// written before or after its constructor). Files that never say `prototype`,
    /// `inherits` or `createClass` cost one text search.
    ///
    /// Every piece of evidence spells one of those words inside its node, so the walk only
    /// enters nodes whose text holds one (a sorted list of where they occur): in a bundle that
    /// says `prototype` a few hundred times, a few thousand nodes of millions.
    pub(super) fn find_es5_classes(&mut self, root: Node<'a>) {
        const WORDS: [&str; 3] = ["prototype", "nherits", "createClass"];
        let shortest = WORDS.iter().map(|w| w.len()).min().unwrap_or(0);
        let mut at: Vec<usize> = WORDS
            .iter()
            .flat_map(|w| memchr::memmem::find_iter(self.src.as_bytes(), w.as_bytes()))
            .collect();
        if at.is_empty() {
            return;
        }
        at.sort_unstable();
        // Whether a word starts within `range` (and ends there: the node holds all of it).
        let holds = |range: std::ops::Range<usize>| {
            let i = at.partition_point(|&p| p < range.start);
            at.get(i).is_some_and(|&p| p + shortest <= range.end)
        };
        let mut c = root.walk();
        'walk: loop {
            let n = c.node();
            if holds(n.byte_range()) {
                self.es5_evidence(n);
                if c.goto_first_child() {
                    continue;
                }
            }
            loop {
                if c.goto_next_sibling() {
                    continue 'walk;
                }
                if !c.goto_parent() {
                    break 'walk;
                }
            }
        }
    }

    /// `X.prototype… = …`, `Object.assign(X.prototype, …)`, `inherits(X, Y)`: X is a class.
    fn es5_evidence(&mut self, n: Node<'a>) {
        let name = match n.kind_name() {
            "assignment_expression" => n.field("left").and_then(|l| prototype_owner(self.text(l))),
            "call_expression" => {
                let f = n.field("function").map(|f| self.text(f)).unwrap_or("");
                let first = n.field("arguments").and_then(|a| a.named_child(0));
                match first {
                    Some(a)
                        if (f.ends_with("inherits") || is_create_class(f))
                            && a.kind_name() == "identifier" =>
                    {
                        Some(self.text(a))
                    }
                    Some(a) if matches!(f, "Object.assign" | "Object.defineProperty") => {
                        let owner = prototype_owner(self.text(a));
                        // `Object.assign(X.prototype, methods)`: `methods` holds X's methods.
                        if let Some(owner) = owner.filter(|_| self.text(a).ends_with(".prototype"))
                        {
                            let mut c = n.walk();
                            let args = n
                                .field("arguments")
                                .into_iter()
                                .flat_map(|x| x.named_children(&mut c).skip(1).collect::<Vec<_>>());
                            for m in args.filter(|m| m.kind_name() == "identifier") {
                                self.es5_mixins
                                    .push((self.text(m).to_string(), owner.to_string()));
                            }
                        }
                        owner
                    }
                    _ => None,
                }
            }
            // `for (var k in methods) X.prototype[k] = methods[k];`
            "for_in_statement" => self.mixin_loop(n),
            _ => None,
        };
        if let Some(name) = name
            && !BUILTINS.contains(&name)
            && !self.es5_names.iter().any(|x| x == name)
        {
            self.es5_names.push(name.to_string());
        }
    }

    /// The class named `name` (created on first use), when `name` is an ES5 class and is not
    /// shadowed by a `class` declaration.
    pub(super) fn es5_class(
        &mut self,
        name: &str,
        span: std::ops::Range<usize>,
    ) -> Option<ClassId> {
        if !self.es5_names.iter().any(|x| x == name) {
            return None;
        }
        if let Some(&(_, id)) = self.es5_classes.iter().find(|(n, _)| n == name) {
            return Some(id);
        }
        let id = self.facts.classes.len();
        self.facts.classes.push(Class {
            name: Some(name.to_string()),
            span,
            body: 0..0,
            scope: self.scope,
            fields: Vec::new(),
            singleton: false,
        });
        self.es5_classes.push((name.to_string(), id));
        Some(id)
    }

    /// `for (var k in methods) X.prototype[k] = methods[k];`: `methods` is a mixin of `X`, and
    /// `X` is a class.
    fn mixin_loop(&mut self, n: Node<'a>) -> Option<&'a str> {
        let key = self.text(n.field("left")?);
        let source = n.field("right")?;
        if source.kind_name() != "identifier" {
            return None;
        }
        let mut body = n.field("body")?;
        while body.kind_name() == "statement_block" {
            body = body.named_child(0)?;
        }
        let assign = body
            .named_child(0)
            .filter(|a| a.kind_name() == "assignment_expression")?;
        let left = self.text(assign.field("left")?);
        let right = self.text(assign.field("right")?);
        let owner = prototype_owner(left)?;
        let from = self.text(source);
        if left != format!("{owner}.prototype[{key}]") || right != format!("{from}[{key}]") {
            return None;
        }
        self.es5_mixins.push((from.to_string(), owner.to_string()));
        Some(owner)
    }

    /// `function X(…) {…}` or `var X = function (…) {…}` of an ES5 class: walked as its
    /// constructor (`true`), or not one.
    pub(super) fn es5_constructor(&mut self, n: Node<'a>, name: Option<&str>) -> bool {
        let Some(name) = name else {
            return false;
        };
        if self.class.is_some() {
            return false;
        }
        let Some(class) = self.es5_class(name, n.byte_range()) else {
            return false;
        };
        let kind = ScopeKind::Method {
            constructor: true,
            is_static: false,
        };
        let saved = std::mem::take(&mut self.ctor_params);
        self.function_with(n, kind, Some("constructor".into()), Some(class), false);
        self.ctor_params = saved;
        true
    }

    /// A function expression stored on an ES5 class's prototype: walked as its method
    /// (`true`), or not one. `stack` ends with the function expression.
    pub(super) fn es5_method(&mut self, n: Node<'a>) -> bool {
        if self.es5_names.is_empty() {
            return false;
        }
        let Some((class_name, method)) = self.prototype_slot() else {
            return false;
        };
        let Some(class) = self.es5_class(&class_name, n.byte_range()) else {
            return false;
        };
        self.walk_as_method(n, method, class)
    }

    /// A function stored on the instance by its constructor (`this.shutdown = function (next)
    /// { … }`, `self.close = () => …` with `self` aliasing `this`), directly in the
    /// constructor's body: walked as a method of the class (`true`). Classes written this way
    /// define their methods per instance; `shutdown()` is as much the class's teardown as a
    /// prototype method would be.
    pub(super) fn constructor_method(&mut self, n: Node<'a>) -> bool {
        let Some(class) = self.class else {
            return false;
        };
        if !matches!(
            self.facts.scopes[self.scope].kind,
            ScopeKind::Method {
                constructor: true,
                ..
            }
        ) {
            return false;
        }
        let len = self.stack.len();
        let Some(parent) = len.checked_sub(2).and_then(|i| self.stack.get(i)).copied() else {
            return false;
        };
        if parent.kind_name() != "assignment_expression" {
            return false;
        }
        let Some(left) = parent
            .field("left")
            .filter(|l| l.kind_name() == "member_expression")
        else {
            return false;
        };
        let (Some(obj), Some(prop)) = (left.field("object"), left.field("property")) else {
            return false;
        };
        let own = match obj.kind_name() {
            "this" => true,
            "identifier" => self.this_alias(self.text(obj)) == Some(class),
            _ => false,
        };
        let method = self.text(prop);
        if !own || !is_ident(method) {
            return false;
        }
        self.walk_as_method(n, method.to_string(), class)
    }

    /// Where the function expression being visited is stored: `X.prototype.m = ƒ`, a pair
    /// `m: ƒ` of `X.prototype = {…}` or of an object handed to a call with `X.prototype` first
    /// (`Object.assign(X.prototype, {…})`).
    fn prototype_slot(&self) -> Option<(String, String)> {
        let len = self.stack.len();
        let parent = *self.stack.get(len.checked_sub(2)?)?;
        match parent.kind_name() {
            "assignment_expression" => {
                let left = self.text(parent.field("left")?);
                let (owner, method) = left.split_once(".prototype.")?;
                is_ident(owner)
                    .then(|| is_ident(method).then(|| (owner.to_string(), method.to_string())))
                    .flatten()
            }
            "pair" => {
                let key = self.text(parent.field("key")?).trim_matches(['\'', '"']);
                let object = *self.stack.get(len.checked_sub(3)?)?;
                if object.kind_name() != "object" {
                    return None;
                }
                if key == "value"
                    && let Some(found) = self.create_class_slot(object)
                {
                    return Some(found);
                }
                let holder = *self.stack.get(len.checked_sub(4)?)?;
                let target = match holder.kind_name() {
                    "assignment_expression" => holder.field("left")?,
                    "arguments" => strip(holder.named_child(0)?),
                    // `var methods = { m: ƒ }` copied onto a prototype.
                    "variable_declarator" => {
                        let name = self.text(holder.field("name")?);
                        let (_, owner) = self.es5_mixins.iter().find(|(o, _)| o == name)?;
                        return is_ident(key).then(|| (owner.clone(), key.to_string()));
                    }
                    _ => return None,
                };
                let target = self.text(target);
                let owner = prototype_owner(target).filter(|_| target.ends_with(".prototype"))?;
                is_ident(key).then(|| (owner.to_string(), key.to_string()))
            }
            _ => None,
        }
    }

    /// `function f(…) {…}` that methods of exactly one class run with their `this`: walked as
    /// a method of that class (`true`).
    pub(super) fn es5_private_method(&mut self, n: Node<'a>, name: Option<&str>) -> bool {
        let Some(name) = name else {
            return false;
        };
        if self.class.is_some() {
            return false;
        }
        let mut classes = self.private_methods.iter().filter(|(f, _)| f == name);
        let (Some(&(_, class)), None) = (classes.next(), classes.next()) else {
            return false;
        };
        self.walk_as_method(n, name.to_string(), class)
    }

    /// Walks the function `n` as method `name` of `class` (not a constructor, not static).
    fn walk_as_method(&mut self, n: Node<'a>, name: String, class: ClassId) -> bool {
        let kind = ScopeKind::Method {
            constructor: false,
            is_static: false,
        };
        self.function_with(n, kind, Some(name), Some(class), false);
        true
    }

    /// `var self = this` in a method: `self.x` is the field `x` below.
    pub(super) fn remember_this_alias(&mut self, name: Node<'a>, value: Node<'a>) {
        if let Some(class) = self.class
            && name.kind_name() == "identifier"
            && self.is_this_value(value)
        {
            let alias = self.text(name).to_string();
            self.this_aliases.push((alias, self.scope, class));
        }
    }

    /// `this`, or what compiled subclass constructors use for it: `_super.call(this, …) ||
    /// this` (Babel, TypeScript's ES5 output), `Base.apply(this, arguments) || this`, and
    /// Babel's `_super.call(this, …)` / `_callSuper(this, X, args)` on their own.
    fn is_this_value(&self, value: Node<'a>) -> bool {
        let v = strip(value);
        if v.kind_name() == "this" {
            return true;
        }
        // Babel's helpers return the instance itself: `_super.call(this, …)` (with
        // `_createSuper`) and `_callSuper(this, X, [...])`.
        if v.kind_name() == "call_expression"
            && let Some(f) = v.field("function")
            && matches!(self.text(f), "_super.call" | "_super.apply" | "_callSuper")
            && v.field("arguments").is_some_and(|a| {
                let mut c = a.walk();
                a.named_children(&mut c)
                    .next()
                    .is_some_and(|first| strip(first).kind_name() == "this")
            })
        {
            return true;
        }
        if v.kind_name() != "binary_expression"
            || v.field("operator").map(|o| self.text(o)) != Some("||")
            || v.field("right")
                .is_none_or(|r| strip(r).kind_name() != "this")
        {
            return false;
        }
        // The left side: `X.call(this, …)` / `X.apply(this, …)`.
        v.field("left").map(strip).is_some_and(|call| {
            call.kind_name() == "call_expression"
                && call
                    .field("function")
                    .and_then(|f| f.field("property"))
                    .is_some_and(|p| matches!(self.text(p), "call" | "apply"))
                && call.field("arguments").is_some_and(|a| {
                    let mut c = a.walk();
                    a.named_children(&mut c)
                        .next()
                        .is_some_and(|first| strip(first).kind_name() == "this")
                })
        })
    }

    /// The class whose instance the identifier `name` aliases (`self` after `var self = this`).
    pub(super) fn this_alias(&self, name: &str) -> Option<ClassId> {
        self.this_aliases
            .iter()
            .rev()
            .find(|(n, s, _)| n == name && self.facts.is_within(self.scope, *s))
            .map(|&(_, _, c)| c)
    }
}

/// Babel's class helper: `_createClass`, `(0, _createClass2.default)`.
fn is_create_class(callee: &str) -> bool {
    callee.contains("createClass")
}

impl<'a> Walker<'a> {
    /// `{ key: "m", value: ƒ }` in the instance-method list of Babel's `_createClass(X, [...])`
    /// (its second argument; the third holds statics): X's method `m`.
    fn create_class_slot(&self, object: Node<'a>) -> Option<(String, String)> {
        let array = object.parent()?;
        let args = array.parent()?;
        let call = args.parent()?;
        if array.kind_name() != "array"
            || args.kind_name() != "arguments"
            || call.kind_name() != "call_expression"
            || !is_create_class(self.text(call.field("function")?))
        {
            return None;
        }
        let mut c = args.walk();
        let list: Vec<Node<'a>> = args
            .named_children(&mut c)
            .filter(|x| x.kind_name() != "comment")
            .collect();
        let (owner, methods) = (list.first()?, list.get(1)?);
        if methods.id() != array.id() || owner.kind_name() != "identifier" {
            return None;
        }
        let mut c = object.walk();
        let name = object.named_children(&mut c).find_map(|p| {
            (p.kind_name() == "pair"
                && p.field("key")
                    .is_some_and(|k| self.text(k).trim_matches(['\'', '"']) == "key"))
            .then(|| p.field("value"))
            .flatten()
            .filter(|v| v.kind_name() == "string")
            .map(|v| self.text(v).trim_matches(['\'', '"']).to_string())
        })?;
        is_ident(&name).then(|| (self.text(*owner).to_string(), name))
    }
}

/// `X` in `X.prototype`, `X.prototype.m`, `X.prototype[…]`.
fn prototype_owner(text: &str) -> Option<&str> {
    let (owner, rest) = text.split_once(".prototype")?;
    (is_ident(owner) && (rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')))
        .then_some(owner)
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
