//! What a swallowed error came from: the calls of the work whose failure a no-op handler or an
//! empty `catch` drops, so the rule can judge whether that work acquires or releases anything.
//! Pure tree helpers; `promises.rs` records the result on the `SwallowedError` fact.

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::{is_function, strip};
use super::swallows::enclosing_function;
use crate::facts::SwallowedWork;

/// The work of a `try` block: every call in it.
pub(super) fn of_block(block: Node, src: &str) -> SwallowedWork {
    let mut work = SwallowedWork {
        whole_body_of: whole_body_of(block, src),
        ..SwallowedWork::default()
    };
    collect(block, src, &mut work);
    work
}

/// The work behind a promise `obj` whose rejection `.catch(noop)` / `.then(ok, noop)` drops:
/// the calls of the expression itself (`fs.unlink(p)`, `a().then(() => b())`), of an immediately
/// invoked function (`(async () => { for await (…) … })()`, marked a background loop when its
/// body loops), or — for a local or `this.x` holding the promise — of what the same function
/// assigned to it (`this.pending = this.dial(); await this.pending.catch(noop)`).
pub(super) fn of_promise(call: Node, obj: Node, src: &str) -> SwallowedWork {
    let mut work = SwallowedWork {
        whole_body_of: whole_body_of(call, src),
        ..SwallowedWork::default()
    };
    let obj = strip(obj);
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    if matches!(obj.kind_name(), "identifier" | "member_expression")
        && !(obj.kind_name() == "member_expression"
            && obj
                .field("object")
                .is_none_or(|o| !matches!(o.kind_name(), "this" | "identifier")))
    {
        let name = text(obj);
        if let Some(f) = enclosing_function(call) {
            for value in assigned_values(f, name, src) {
                collect(value, src, &mut work);
            }
        }
        return work;
    }
    collect(obj, src, &mut work);
    work
}

/// Every call in `n` (nested callbacks included: `a().then(() => b())` is one piece of work),
/// and whether an immediately invoked function in it loops.
fn collect(n: Node, src: &str, work: &mut SwallowedWork) {
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        if n.kind_name() == "call_expression"
            && let Some(f) = n.field("function")
        {
            let f = strip(f);
            match f.kind_name() {
                "identifier" => work.calls.push(text(f).to_string()),
                "member_expression" => {
                    if let Some(p) = f.field("property") {
                        work.calls.push(text(p).to_string());
                    }
                }
                _ if is_function(f) => work.background_loop |= loops(f),
                _ => {}
            }
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
}

/// A loop anywhere in `f`'s body (a transpiled `async` body is a nested generator).
fn loops(f: Node) -> bool {
    let mut stack = vec![f];
    while let Some(n) = stack.pop() {
        if matches!(
            n.kind_name(),
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement"
        ) {
            return true;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

/// The values `f` assigns to `name` (`const name = v`, `name = v`, `this.x = v`), outside the
/// functions nested in it.
fn assigned_values<'t>(f: Node<'t>, name: &str, src: &str) -> Vec<Node<'t>> {
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    let mut out = Vec::new();
    let mut stack: Vec<Node> = f.field("body").into_iter().collect();
    while let Some(n) = stack.pop() {
        let (target, value) = match n.kind_name() {
            "variable_declarator" => (n.field("name"), n.field("value")),
            "assignment_expression" => (n.field("left"), n.field("right")),
            _ => (None, None),
        };
        if let (Some(t), Some(v)) = (target, value)
            && text(t) == name
        {
            out.push(v);
        }
        if n.id() != f.id() && (is_function(n) || n.kind_name() == "class_body") {
            continue;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    out
}

/// The name of the function whose body is the one statement around `n` (comments aside).
fn whole_body_of(n: Node, src: &str) -> Option<String> {
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    let f = enclosing_function(n)?;
    let body = f
        .field("body")
        .filter(|b| b.kind_name() == "statement_block")?;
    let mut c = body.walk();
    let statements = body
        .named_children(&mut c)
        .filter(|s| s.kind_name() != "comment")
        .count();
    if statements != 1 {
        return None;
    }
    let name = match f.kind_name() {
        "method_definition" | "function_declaration" | "generator_function_declaration" => {
            f.field("name")
        }
        _ => f.parent().and_then(|p| match p.kind_name() {
            "variable_declarator" => p.field("name"),
            "pair" => p.field("key"),
            "assignment_expression" => p.field("left").map(|l| l.field("property").unwrap_or(l)),
            _ => None,
        }),
    }?;
    Some(text(name).to_string())
}
