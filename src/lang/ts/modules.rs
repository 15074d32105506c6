//! Modules: ES imports and exports, CommonJS `require` and `module.exports`, and which module
//! a name was imported from.

use tree_sitter::Node;

use super::NodeExt;
use super::text::{string_value, strip, unquote};
use super::walk::Walker;
use crate::facts::*;

impl<'a> Walker<'a> {
    pub(super) fn import(&mut self, n: Node<'a>) {
        let source = n
            .field("source")
            .map(|s| unquote(self.text(s)))
            .unwrap_or_default();
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            if child.kind_name() != "import_clause" {
                continue;
            }
            let mut cc = child.walk();
            for part in child.named_children(&mut cc) {
                match part.kind_name() {
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

    pub(super) fn export(&mut self, n: Node<'a>) {
        if let Some(decl) = n.field("declaration") {
            match decl.kind_name() {
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
            && v.kind_name() == "identifier"
        {
            self.facts.exports.push(self.text(v).to_string());
        }
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            if child.kind_name() == "export_clause" {
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
    pub(super) fn required_module(&self, v: Option<Node<'a>>) -> Option<String> {
        let v = strip(v?);
        if v.kind_name() != "call_expression" {
            return None;
        }
        let f = v.field("function")?;
        if self.text(f) != "require" {
            return None;
        }
        let arg = v.field("arguments")?.named_child(0)?;
        string_value(self.text(arg), arg.kind_name())
    }

    pub(super) fn declare_required(&mut self, pat: Node<'a>, source: &str) {
        match pat.kind_name() {
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
                    let (imported, local) = match p.kind_name() {
                        "shorthand_property_identifier_pattern" => (self.text(p), p),
                        "pair_pattern" => match (p.field("key"), p.field("value")) {
                            (Some(k), Some(v)) if v.kind_name() == "identifier" => {
                                (self.text(k), v)
                            }
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

    pub(super) fn cjs_exports(&mut self, left: &str, prop: Option<&str>, right: Option<Node<'a>>) {
        if left == "module.exports" {
            let Some(r) = right.map(strip) else { return };
            match r.kind_name() {
                "identifier" => self.facts.exports.push(self.text(r).to_string()),
                "object" => {
                    let mut c = r.walk();
                    for p in r.named_children(&mut c) {
                        match p.kind_name() {
                            "shorthand_property_identifier" => {
                                self.facts.exports.push(self.text(p).to_string())
                            }
                            "pair" => {
                                if let Some(v) = p.field("value")
                                    && v.kind_name() == "identifier"
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
                && r.kind_name() == "identifier"
            {
                self.facts.exports.push(self.text(r).to_string());
            }
        }
    }

    /// The module a name was imported from, if it was.
    pub(super) fn import_source(&self, name: &str) -> Option<String> {
        self.declared(name).find_map(|b| match &b.kind {
            BindingKind::Import { source, .. } => Some(source.clone()),
            _ => None,
        })
    }

    pub(super) fn imported_from(&self, name: &str, sources: &[&str]) -> bool {
        self.import_source(name)
            .is_some_and(|s| sources.contains(&s.as_str()))
    }
}
