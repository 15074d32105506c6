//! Swallowed errors that hide nothing: which empty `catch` blocks and no-op rejection handlers
//! are deliberate, best-effort or redundant, by the shape of the code around them. Pure tree
//! and text helpers; `promises.rs` records the swallows that are left.

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::strip;

/// The author said why, the way linters read it (ESLint `no-empty`, `no-empty-function`: a
/// comment marks an empty block as intentional): a comment inside the handler's `body`.
pub(super) fn explained(body: Option<Node>) -> bool {
    body.is_some_and(|b| {
        let mut c = b.walk();
        let children: Vec<Node> = b.children(&mut c).collect();
        // Between the braces: a comment after the closing `}` is not inside, though the
        // TypeScript grammar can hang one at the end of the block.
        let close = children
            .iter()
            .rev()
            .find(|x| x.kind_name() == "}")
            .map_or(b.end_byte(), |x| x.start_byte());
        children
            .iter()
            .any(|x| x.kind_name() == "comment" && x.end_byte() <= close)
    })
}

/// A comment ends on the line right above the statement that starts at `start` (for a
/// `.catch(noop)`, which has no block to hold one:
/// `// observed so a late failure is not unhandled` / `p.catch(() => {});`).
pub(super) fn commented_above(start: usize, src: &str) -> bool {
    let Some(head) = src.get(..start) else {
        return false;
    };
    // The start of the statement's line, then the line before it.
    let line_start = head.rfind('\n').map_or(0, |i| i + 1);
    if !head[line_start..].trim().is_empty() {
        return false; // something else precedes the statement on its line
    }
    let Some(before) = head.get(..line_start.saturating_sub(1)) else {
        return false;
    };
    let prev = before[before.rfind('\n').map_or(0, |i| i + 1)..].trim();
    prev.starts_with("//") || prev.ends_with("*/")
}

/// Method calls that release an in-process handle by themselves: called synchronously, the
/// call is the release; when it throws, the handle was already destroyed or closed.
const RELEASES: &[&str] = &[
    "destroy",
    "end",
    "abort",
    "close",
    "terminate",
    "removeAllListeners",
    "removeListener",
    "off",
    "unref",
];

/// A `try` block that only releases handles (`try { sock.destroy(); } catch {}`,
/// `try { if (isWritable(sock)) sock.end(); } catch {}`, `try { await consumer.cancel(); }
/// catch {}`): nothing is acquired; the failure means the handle is already gone, and there is
/// nothing left to do. An awaited release is the `try` form of `consumer.cancel().catch(noop)`
/// ([`releases_handle`]): a method whose name starts with a give-up verb.
pub(super) fn releases_only(block: Node, src: &str) -> bool {
    let mut c = block.walk();
    let statements: Vec<Node> = block
        .named_children(&mut c)
        .filter(|s| s.kind_name() != "comment")
        .collect();
    !statements.is_empty() && statements.iter().all(|s| is_release(*s, src))
}

fn is_release(s: Node, src: &str) -> bool {
    match s.kind_name() {
        "expression_statement" => s.named_child(0).is_some_and(|e| {
            // `delete global[name]`: drops a reference (old engines throw on some globals).
            if e.kind_name() == "unary_expression"
                && e.field("operator").and_then(|o| src.get(o.byte_range())) == Some("delete")
            {
                return true;
            }
            if e.kind_name() == "await_expression" {
                return e.named_child(0).is_some_and(|a| releases_handle(a, src));
            }
            e.kind_name() == "call_expression"
                && e.field("function")
                    .filter(|f| f.kind_name() == "member_expression")
                    .and_then(|f| f.field("property"))
                    .and_then(|p| src.get(p.byte_range()))
                    .is_some_and(|m| RELEASES.contains(&m))
        }),
        "statement_block" => releases_only(s, src),
        // `try { server.close(done); return; } catch {}`: leaving after the release.
        "return_statement" => s.named_child_count() == 0,
        "if_statement" => {
            s.field("alternative").is_none()
                && s.field("consequence").is_some_and(|b| is_release(b, src))
        }
        _ => false,
    }
}

/// A `try` block that only configures an object it holds through setters
/// (`try { xhr.setRequestHeader('Accept', '*/*'); } catch {}`, also in `if`s and loops over the
/// options): a setter that throws leaves an option unset on an object the code goes on using;
/// nothing is acquired, released or left behind.
pub(super) fn configures_only(block: Node, src: &str) -> bool {
    let mut c = block.walk();
    let statements: Vec<Node> = block
        .named_children(&mut c)
        .filter(|s| s.kind_name() != "comment")
        .collect();
    !statements.is_empty() && statements.iter().all(|s| configures(*s, src))
}

fn configures(s: Node, src: &str) -> bool {
    match s.kind_name() {
        "expression_statement" => s.named_child(0).is_some_and(|e| is_setter_call(e, src)),
        "statement_block" => configures_only(s, src),
        "if_statement" => {
            s.field("consequence").is_some_and(|b| configures(b, src))
                && s.field("alternative")
                    .and_then(|a| a.named_child(0))
                    .is_none_or(|b| configures(b, src))
        }
        "for_in_statement" | "for_statement" => s.field("body").is_some_and(|b| configures(b, src)),
        _ => false,
    }
}

/// `obj.setRequestHeader(..)`, or one guarded by a feature test (`x.setY && x.setY(true)`).
fn is_setter_call(e: Node, src: &str) -> bool {
    let e = strip(e);
    if e.kind_name() == "binary_expression" {
        return e.field("right").is_some_and(|r| is_setter_call(r, src));
    }
    e.kind_name() == "call_expression"
        && e.field("function")
            .filter(|f| f.kind_name() == "member_expression")
            .and_then(|f| f.field("property"))
            .and_then(|p| src.get(p.byte_range()))
            .is_some_and(|m| {
                m.strip_prefix("set")
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
                    && !matches!(m, "setTimeout" | "setInterval" | "setImmediate")
            })
}

/// A swallow at `n` inside the handling of another error that is reported anyway: in a
/// `catch (err)` or a rejection/error callback `(err) => …` whose body rethrows `err` or passes
/// it on (`throw err`, `cb(err)`, `this.emit('error', err)`, `reject(err)`). What is swallowed
/// is a second failure of the clean-up; the first one — the one that explains the state — still
/// surfaces.
pub(super) fn secondary_failure(n: Node, src: &str) -> bool {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        match p.kind_name() {
            "catch_clause" => {
                let name = p
                    .field("parameter")
                    .filter(|x| x.kind_name() == "identifier")
                    .and_then(|x| src.get(x.byte_range()));
                return match (name, p.field("body")) {
                    (Some(name), Some(body)) => reports(body, name, src),
                    _ => false,
                };
            }
            "arrow_function"
            | "function_expression"
            | "function"
            | "function_declaration"
            | "method_definition" => {
                let Some(name) = first_param(p, src) else {
                    return false;
                };
                let error_name = matches!(name, "err" | "error" | "e" | "ex" | "er" | "reason");
                return (error_name || is_rejection_handler(p, src))
                    && p.field("body").is_some_and(|b| reports(b, name, src));
            }
            _ => cur = p,
        }
    }
    false
}

/// The statement after `stmt` reports an error: `throw err`, or a call handing one on
/// (`cb(err)`, `cb(new Error('…'))`, `reject(error)`, `this.emit('error', err)`) — the failure
/// being cleaned up after is about to surface, and a failure of the clean-up would only hide it.
pub(super) fn error_reported_next(stmt: Node, src: &str) -> bool {
    let mut next = stmt.next_named_sibling();
    while let Some(n) = next.filter(|n| n.kind_name() == "comment") {
        next = n.next_named_sibling();
    }
    let Some(next) = next else {
        return false;
    };
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    let is_error = |a: Node| {
        let a = strip(a);
        match a.kind_name() {
            "identifier" => matches!(text(a), "err" | "error" | "e" | "ex" | "er" | "reason"),
            "new_expression" => a
                .field("constructor")
                .is_some_and(|c| text(c).ends_with("Error")),
            _ => false,
        }
    };
    let call = match next.kind_name() {
        "throw_statement" => return true,
        "expression_statement" | "return_statement" => next.named_child(0).map(strip),
        _ => None,
    };
    call.filter(|c| c.kind_name() == "call_expression")
        .and_then(|c| c.field("arguments"))
        .is_some_and(|args| {
            let mut c = args.walk();
            args.named_children(&mut c).any(is_error)
        })
}

fn first_param<'s>(f: Node, src: &'s str) -> Option<&'s str> {
    if let Some(p) = f.field("parameter") {
        return src.get(p.byte_range());
    }
    let params = f.field("parameters")?;
    let mut c = params.walk();
    let first = params
        .named_children(&mut c)
        .find(|p| p.kind_name() != "comment")?;
    let pat = match first.kind_name() {
        "required_parameter" | "optional_parameter" => first.field("pattern")?,
        _ => first,
    };
    (pat.kind_name() == "identifier")
        .then(|| src.get(pat.byte_range()))
        .flatten()
}

/// `f` is the handler of `.catch(f)` or the second argument of `.then(ok, f)`.
fn is_rejection_handler(f: Node, src: &str) -> bool {
    let Some(args) = f.parent().filter(|a| a.kind_name() == "arguments") else {
        return false;
    };
    let Some(call) = args.parent() else {
        return false;
    };
    let method = call
        .field("function")
        .filter(|x| x.kind_name() == "member_expression")
        .and_then(|x| x.field("property"))
        .and_then(|p| src.get(p.byte_range()));
    let mut c = args.walk();
    let index = args
        .named_children(&mut c)
        .filter(|a| a.kind_name() != "comment")
        .position(|a| a.id() == f.id());
    matches!(
        (method, index),
        (Some("catch"), Some(0)) | (Some("then"), Some(1))
    )
}

/// `body` throws `name` or passes it to a call.
fn reports(body: Node, name: &str, src: &str) -> bool {
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    let mut stack = vec![body];
    while let Some(n) = stack.pop() {
        match n.kind_name() {
            "throw_statement" if n.named_child(0).is_some_and(|x| text(strip(x)) == name) => {
                return true;
            }
            "arguments" => {
                let mut c = n.walk();
                if n.named_children(&mut c).any(|a| text(strip(a)) == name) {
                    return true;
                }
            }
            _ => {}
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

/// `p.catch(noop);` / `p.then(ok, noop);` as a statement of its own, where the promise `p` (a
/// local name) is also handed on in the function that declares it — awaited, returned, yielded,
/// passed to a call (`Promise.all([p, …])`, `withTimeout(p, ms)`), stored in an array or an
/// object: the handler only forks a branch so the promise does not count as unhandled while it
/// waits; its rejection still reaches whoever holds `p`.
pub(super) fn forked_promise(call: Node, obj: Node, src: &str) -> bool {
    // The promise the chain starts from: `p` in `p.then(noop).catch(noop)`.
    let mut obj = chain_head(obj, src, &["then", "catch", "finally"]);
    let field = obj.kind_name() == "member_expression"
        && obj.field("object").is_some_and(|o| o.kind_name() == "this");
    // A promise kept on a local object (`dfd.promise`): follow the object, which is handed on
    // (`return dfd`) with its promise.
    if !field
        && obj.kind_name() == "member_expression"
        && let Some(o) = obj
            .field("object")
            .filter(|o| o.kind_name() == "identifier")
    {
        obj = o;
    }
    if obj.kind_name() != "identifier" && !field {
        return false;
    }
    let name = src.get(obj.byte_range()).unwrap_or("");
    if !statement_chain(call) {
        return false;
    }
    // A field is followed in the method around it; a name in the function that declares it.
    let home = if field {
        enclosing_function(call)
    } else {
        declaring_function(call, name, src)
    };
    let Some(home) = home else {
        return false;
    };
    let mut stack = vec![home];
    while let Some(n) = stack.pop() {
        if n.kind_name() == obj.kind_name()
            && n.id() != obj.id()
            && src.get(n.byte_range()) == Some(name)
            && handed_on(n, src)
        {
            return true;
        }
        // Stored in an object under its own name: `return { kind, closed }`.
        if n.kind_name() == "shorthand_property_identifier" && src.get(n.byte_range()) == Some(name)
        {
            return true;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

/// `await this.p.catch(noop)`: waiting for an operation that the object started elsewhere
/// (a pending connect kept in a field) to settle, either way, before going on (a close that
/// must not race the connect). Its rejection went to whoever started it and holds its
/// promise; the field is not assigned in the waiting function, so this is not a fresh
/// operation of its own.
pub(super) fn awaits_pending(call: Node, obj: Node, src: &str) -> bool {
    let obj = strip(obj);
    let field = obj.kind_name() == "member_expression"
        && obj.field("object").is_some_and(|o| o.kind_name() == "this");
    let awaited = call
        .parent()
        .is_some_and(|p| p.kind_name() == "await_expression");
    let name = src.get(obj.byte_range()).unwrap_or("");
    let Some(home) = enclosing_function(call) else {
        return false;
    };
    // Or a variable of an outer function (a queue of pending work the closure shares).
    let outer = obj.kind_name() == "identifier"
        && declaring_function(call, name, src).is_some_and(|d| d.id() != home.id());
    if !((field || outer) && awaited) {
        return false;
    }
    let mut stack = vec![home];
    while let Some(n) = stack.pop() {
        if n.kind_name() == "assignment_expression"
            && n.field("left")
                .is_some_and(|l| src.get(l.byte_range()) == Some(name))
        {
            return false;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    true
}

/// The call's value is dropped: it is an expression statement, or a link of a
/// `.then`/`.catch`/`.finally` chain that is one.
///
/// Also when the chain is stored (`this.opsLock = result.catch(noop);`): the stored branch
/// only serialises later work; the promise it forks from is judged by where it goes.
fn statement_chain(call: Node) -> bool {
    let mut cur = call;
    while let Some(p) = cur.parent() {
        match p.kind_name() {
            "expression_statement" => return true,
            "member_expression" | "call_expression" => cur = p,
            "assignment_expression" if p.field("right").is_some_and(|r| r.id() == cur.id()) => {
                cur = p
            }
            _ => return false,
        }
    }
    false
}

/// The innermost function around `n`.
pub(super) fn enclosing_function(n: Node) -> Option<Node> {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if matches!(
            p.kind_name(),
            "arrow_function"
                | "function_expression"
                | "function"
                | "function_declaration"
                | "method_definition"
                | "generator_function_declaration"
                | "generator_function"
        ) {
            return Some(p);
        }
        cur = p;
    }
    None
}

/// The innermost function (or the program) around `n` that declares `name` (a `const`/`let`/
/// `var` or a parameter).
fn declaring_function<'t>(n: Node<'t>, name: &str, src: &str) -> Option<Node<'t>> {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        let is_function = matches!(
            p.kind_name(),
            "arrow_function"
                | "function_expression"
                | "function"
                | "function_declaration"
                | "method_definition"
                | "generator_function_declaration"
                | "generator_function"
        );
        if (is_function || p.kind_name() == "program") && declares(p, name, src) {
            return Some(p);
        }
        cur = p;
    }
    None
}

/// `f` has a parameter or a declaration (outside nested functions) named `name`.
fn declares(f: Node, name: &str, src: &str) -> bool {
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    if f.field("parameter").is_some_and(|p| text(p) == name) {
        return true; // `p => …`
    }
    let mut stack = Vec::new();
    for field in ["parameters", "body"] {
        if let Some(x) = f.field(field) {
            stack.push(x);
        }
    }
    if f.kind_name() == "program" {
        stack.push(f);
    }
    while let Some(n) = stack.pop() {
        match n.kind_name() {
            "identifier" if text(n) == name => {
                let is = |x: Option<Node>| x.is_some_and(|x| x.id() == n.id());
                let decl = n.parent().is_some_and(|p| match p.kind_name() {
                    "variable_declarator" => is(p.field("name")),
                    "required_parameter" | "optional_parameter" => is(p.field("pattern")),
                    "pair_pattern" => is(p.field("value")),
                    "formal_parameters" | "object_pattern" | "array_pattern" => true,
                    _ => false,
                });
                if decl {
                    return true;
                }
            }
            "shorthand_property_identifier_pattern" if text(n) == name => return true,
            "arrow_function"
            | "function_expression"
            | "function"
            | "function_declaration"
            | "method_definition"
            | "class_body" => continue,
            _ => {}
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

/// The identifier's value goes somewhere that sees a rejection: awaited, returned, yielded,
/// passed as an argument, put in an array, an object or another variable.
fn handed_on(n: Node, src: &str) -> bool {
    let mut cur = n;
    // Through a chain that passes the rejection on: `await p.finally(unlisten)`, `p.then(f)`.
    while let Some(call) = cur
        .parent()
        .filter(|m| m.kind_name() == "member_expression")
        .filter(|m| m.field("object").is_some_and(|o| o.id() == cur.id()))
        .filter(|m| {
            m.field("property")
                .and_then(|p| src.get(p.byte_range()))
                .is_some_and(|p| matches!(p, "then" | "finally"))
        })
        .and_then(|m| m.parent())
        .filter(|c| c.kind_name() == "call_expression")
    {
        cur = call;
    }
    // Through wrappers: `(p as Promise<void>)`.
    while let Some(p) = cur.parent().filter(|p| {
        matches!(
            p.kind_name(),
            "parenthesized_expression" | "as_expression" | "non_null_expression"
        )
    }) {
        cur = p;
    }
    let Some(p) = cur.parent() else {
        return false;
    };
    match p.kind_name() {
        "await_expression" | "return_statement" | "yield_expression" | "arguments" | "array"
        | "spread_element" => true,
        "pair" => p.field("value").is_some_and(|v| v.id() == cur.id()),
        "variable_declarator" => p.field("value").is_some_and(|v| v.id() == cur.id()),
        "assignment_expression" => p.field("right").is_some_and(|v| v.id() == cur.id()),
        "arrow_function" => p.field("body").is_some_and(|v| v.id() == cur.id()),
        _ => false,
    }
}

/// Verbs of a method that gives a handle up (`writer.close()`, `sub.drain()`, `this.cancel()`,
/// `lock.release()`).
const GIVE_UP: &[&str] = &[
    "close",
    "end",
    "destroy",
    "cancel",
    "abort",
    "terminate",
    "drain",
    "release",
    "dispose",
    "disconnect",
    "quit",
    "unsubscribe",
    "shutdown",
    "stop",
    "leave",
    "nack",
    "unlisten",
    "unwatch",
];

/// The promise is a handle's own release: a method call on a receiver whose name starts or
/// ends with a give-up verb (`writer.close()`, `c.cancel(q)`, `subject.cancelCallback()`,
/// `sub.drain()`, `msg.nack(true)`, `pool.gracefulShutdown()`), also wrapped as
/// `Promise.resolve(pool.gracefulShutdown())` or `new Promise(conn.end.bind(conn))`.
/// The code is done with the handle: when its close fails, the handle is already broken or
/// closed, and there is nothing to retry — a best-effort step. A free function
/// (`closeUpstream()`, `hangup(sid)`) is an operation on something elsewhere, and its failure
/// may strand it.
pub(super) fn releases_handle(obj: Node, src: &str) -> bool {
    let obj = strip(obj);
    let gives_up = |f: Node| {
        f.kind_name() == "member_expression"
            && f.field("property")
                .and_then(|p| src.get(p.byte_range()))
                .is_some_and(|m| {
                    let words: Vec<String> = crate::facts::words(m).collect();
                    [words.first(), words.last()]
                        .into_iter()
                        .flatten()
                        .any(|w| GIVE_UP.contains(&w.as_str()))
                })
    };
    fn first_arg(n: Node) -> Option<Node> {
        n.field("arguments").and_then(|a| {
            let mut c = a.walk();
            a.named_children(&mut c)
                .find(|x| x.kind_name() != "comment")
                .map(strip)
        })
    }
    match obj.kind_name() {
        // A query that only gives server-side state back (sql`unlisten ${name}`, `close`,
        // `deallocate`, `release savepoint`, `rollback`, `discard`): the SQL form of a release.
        "call_expression"
            if obj
                .field("arguments")
                .is_some_and(|a| a.kind_name() == "template_string") =>
        {
            let text = obj
                .field("arguments")
                .and_then(|a| src.get(a.byte_range()))
                .unwrap_or("");
            let first = text
                .trim_start_matches('`')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            matches!(
                first.as_str(),
                "unlisten" | "close" | "deallocate" | "release" | "rollback" | "discard"
            )
        }
        "call_expression" => {
            let Some(f) = obj.field("function") else {
                return false;
            };
            if src.get(f.byte_range()) == Some("Promise.resolve") {
                return first_arg(obj).is_some_and(|a| releases_handle(a, src));
            }
            gives_up(f)
        }
        // `new Promise(conn.end.bind(conn))`: the executor is the release itself.
        "new_expression" => {
            obj.field("constructor")
                .and_then(|c| src.get(c.byte_range()))
                == Some("Promise")
                && first_arg(obj).is_some_and(|a| {
                    a.kind_name() == "call_expression"
                        && a.field("function")
                            .filter(|f| f.kind_name() == "member_expression")
                            .is_some_and(|f| {
                                f.field("property").and_then(|p| src.get(p.byte_range()))
                                    == Some("bind")
                                    && f.field("object").is_some_and(gives_up)
                            })
                })
        }
        _ => false,
    }
}

/// `Promise.allSettled(..)` never rejects: a rejection handler on it drops nothing. Nor on
/// `Promise.allSettled(..).finally(cleanup)`: what could reject there is the cleanup right
/// beside it, not the work.
pub(super) fn never_rejects(obj: Node, src: &str) -> bool {
    let obj = chain_head(obj, src, &["finally"]);
    obj.kind_name() == "call_expression"
        && obj
            .field("function")
            .and_then(|f| src.get(f.byte_range()))
            .is_some_and(|f| f == "Promise.allSettled")
}

/// A promise of a module load — `import('x')`, `Promise.resolve().then(() => require('x'))`
/// (what compilers emit for a dynamic import) — whose `.catch(noop)` makes the module
/// optional: its absence is the expected failure, nothing is held.
pub(super) fn loads_module(obj: Node, src: &str) -> bool {
    let obj = strip(obj);
    if obj.kind_name() != "call_expression" {
        return false;
    }
    let Some(f) = obj.field("function") else {
        return false;
    };
    let is_load = |n: Node| {
        src.get(n.byte_range())
            .is_some_and(|t| t.contains("require(") || t.contains("import("))
    };
    match f.kind_name() {
        "import" => true,
        "member_expression" => {
            f.field("property")
                .and_then(|p| src.get(p.byte_range()))
                .is_some_and(|p| p == "then")
                && obj.field("arguments").is_some_and(is_load)
        }
        _ => false,
    }
}

/// `(item.last = op()).catch(noop)`: the promise is stored where its holder reads it (and sees
/// its rejection); the handler only keeps it from counting as unhandled in between.
pub(super) fn stored_promise(obj: Node) -> bool {
    let mut obj = obj;
    while obj.kind_name() == "parenthesized_expression"
        && let Some(inner) = obj.named_child(0)
    {
        obj = inner;
    }
    obj.kind_name() == "assignment_expression"
        && obj
            .field("left")
            .is_some_and(|l| matches!(l.kind_name(), "member_expression" | "subscript_expression"))
}

/// A comment closes the `try` block right before an empty `catch`
/// (`try { await send(ack); // a failed ack means the connection is gone } catch {}`): the
/// author said why, at the end of what may fail.
pub(super) fn explained_before(try_block: Option<Node>) -> bool {
    try_block.is_some_and(|b| {
        let mut c = b.walk();
        let children: Vec<Node> = b.named_children(&mut c).collect();
        // On a line of its own: a comment trailing the last statement is about that statement.
        match children.as_slice() {
            [.., prev, last] if last.kind_name() == "comment" => {
                last.start_position().row > prev.end_position().row
            }
            [last] => last.kind_name() == "comment",
            _ => false,
        }
    })
}

/// `try { store.delete(key)?.catch?.(noop) } catch { // Fail silently }`: the statement is the
/// only one of a `try` whose `catch` body holds a comment. The author said once, for the whole
/// operation, that it fails silently; the no-op handler is the asynchronous half of that catch.
pub(super) fn explained_by_its_try(statement: Node) -> bool {
    let Some(block) = statement
        .parent()
        .filter(|b| b.kind_name() == "statement_block")
    else {
        return false;
    };
    let Some(t) = block.parent().filter(|t| t.kind_name() == "try_statement") else {
        return false;
    };
    let mut c = block.walk();
    let only = block
        .named_children(&mut c)
        .filter(|s| s.kind_name() != "comment")
        .count()
        == 1;
    only && t.field("body").is_some_and(|b| b.id() == block.id())
        && explained(t.field("handler").and_then(|h| h.field("body")))
}

/// `for (const id of ids) { try { return await connect(id); } catch {} }`: trying candidates
/// in turn. The `try` is the last statement of a loop's body and its block leaves the loop when
/// a candidate works (`return`, `break`), so the empty catch means "try the next one"; and the
/// statement after the loop handles running out — it throws, or falls back to another
/// operation (a call: `await this.connect()`). A loop that ends in `return null` turned every
/// failure into nothing, and is still reported.
pub(super) fn tries_next_candidate(t: Node) -> bool {
    let Some(parent) = t.parent() else {
        return false;
    };
    let (body, lp) = if parent.kind_name() == "statement_block" {
        let mut c = parent.walk();
        let last = parent
            .named_children(&mut c)
            .filter(|s| s.kind_name() != "comment")
            .last();
        if last.is_none_or(|l| l.id() != t.id()) {
            return false;
        }
        (parent, parent.parent())
    } else {
        (t, Some(parent))
    };
    let in_loop = lp.is_some_and(|l| {
        matches!(
            l.kind_name(),
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement"
        ) && l.field("body").is_some_and(|b| b.id() == body.id())
    });
    let Some(block) = t.field("body").filter(|_| in_loop) else {
        return false;
    };
    let mut c = block.walk();
    let leaves = block
        .named_children(&mut c)
        .any(|s| matches!(s.kind_name(), "return_statement" | "break_statement"));
    let mut after = lp.and_then(|l| l.next_named_sibling());
    while let Some(n) = after.filter(|n| n.kind_name() == "comment") {
        after = n.next_named_sibling();
    }
    leaves
        && after.is_some_and(|a| {
            a.kind_name() == "throw_statement" || {
                let mut stack = vec![a];
                let mut calls = false;
                while let Some(n) = stack.pop() {
                    if matches!(n.kind_name(), "call_expression" | "await_expression") {
                        calls = true;
                        break;
                    }
                    let mut c = n.walk();
                    stack.extend(n.named_children(&mut c));
                }
                calls
            }
        })
}

/// `let sig; try { sig = sign(data); } catch {} return Buffer.isBuffer(sig) && …`: the `try`
/// block assigns a variable declared before it, and the statement right after the `try` reads
/// it. A failure leaves the variable unset (or at its default), which is what that statement
/// tests: the exception is the "no value" answer, and it is looked at.
pub(super) fn outcome_checked_next(t: Node, src: &str) -> bool {
    let text = |n: Node| src.get(n.byte_range()).unwrap_or("");
    let Some(block) = t.field("body") else {
        return false;
    };
    let mut c = block.walk();
    let assigned: Vec<&str> = block
        .named_children(&mut c)
        .filter(|s| s.kind_name() == "expression_statement")
        .filter_map(|s| s.named_child(0).map(strip))
        .filter(|e| e.kind_name() == "assignment_expression")
        .filter_map(|e| e.field("left").filter(|l| l.kind_name() == "identifier"))
        .map(text)
        .collect();
    if assigned.is_empty() {
        return false;
    }
    let mut next = t.next_named_sibling();
    while let Some(n) = next.filter(|n| n.kind_name() == "comment") {
        next = n.next_named_sibling();
    }
    let mut stack: Vec<Node> = next.into_iter().collect();
    while let Some(n) = stack.pop() {
        if n.kind_name() == "identifier" && assigned.contains(&text(n)) {
            return true;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

/// The promise a chain of `links` starts from: `p` in `p.then(ok).finally(done)`.
fn chain_head<'t>(obj: Node<'t>, src: &str, links: &[&str]) -> Node<'t> {
    let mut obj = strip(obj);
    while obj.kind_name() == "call_expression"
        && let Some(f) = obj
            .field("function")
            .filter(|f| f.kind_name() == "member_expression")
        && f.field("property")
            .and_then(|p| src.get(p.byte_range()))
            .is_some_and(|p| links.contains(&p))
        && let Some(o) = f.field("object")
    {
        obj = strip(o);
    }
    obj
}
