//! buffer-concat-in-loop: a buffer, array or string rebuilt from itself on every chunk
//! (`buf = Buffer.concat([buf, chunk])`, `s += chunk`, `v = [v, c].concat()`) in a loop or a
//! repeatedly firing callback: quadratic copying and unbounded growth.

use super::*;
use crate::diagnostic::{Applicability, Fix};

pub struct BufferConcatInLoop;

static META: RuleMeta = RuleMeta {
    id: "buffer-concat-in-loop",
    summary: "Buffers/strings re-concatenated on every chunk in loops or data handlers",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::File,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Safe,
};

/// `out = Buffer.concat([out, chunk]);` / `s += chunk;` → `outChunks.push(chunk);`: the
/// declaration `let out = <empty>;` becomes `const outChunks: Buffer[] = [];` and every read
/// of `out` after it in its scope becomes `Buffer.concat(outChunks)` (`outChunks.join('')`),
/// so each chunk is copied once. Unsafe (each read now concatenates: a read per chunk would
/// copy as much as before). Only when every other use of `out` is a plain read in an argument
/// list, a member access or a return — no other write, no object shorthand, no string — else a
/// display-only suggestion of the two edits.
fn ts_fix(ctx: &FileCtx, e: &crate::facts::Event, place: &Place) -> Option<Fix> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let Place::Binding(b) = place else {
        return None;
    };
    let binding = &facts.bindings[*b];
    let name = &binding.name;
    let stmt = src[e.stmt.clone()].trim_end().trim_end_matches(';');
    let rest = stmt.strip_prefix(name.as_str())?.trim_start();
    // Only an array (declared `= [...]` or typed as one): a string has `concat` too.
    let decl_line = &src[binding.span.start..];
    let decl_line = &decl_line[..decl_line.find(['\n', ';']).unwrap_or(decl_line.len())];
    let array = decl_line
        .split_once('=')
        .is_some_and(|(ty, init)| init.trim_start().starts_with('[') || ty.contains("[]"));
    if let Some(append) = array.then(|| append_in_place(name, rest)).flatten() {
        return Some(fix(
            format!("append to `{name}` in place: `{append}`"),
            Applicability::Unsafe,
            vec![replace(e.stmt.start..e.stmt.start + stmt.len(), append)],
        ));
    }
    let (chunk, buffer) = appended(name, rest)?;
    let chunk = chunk.to_string();
    if chunk.is_empty() || chunk.contains(',') {
        return None;
    }
    let list = unique_name(&format!("{name}Chunks"), |n| name_in_use(facts, src, n));
    let join = if buffer {
        format!("Buffer.concat({list})")
    } else {
        format!("{list}.join('')")
    };
    let ty = match (is_typescript(ctx.path), buffer) {
        (false, _) => "",
        (true, true) => ": Buffer[]",
        (true, false) => ": string[]",
    };
    let push = replace(
        e.stmt.start..e.stmt.start + stmt.len(),
        format!("{list}.push({chunk})"),
    );
    let decl = binding.span.clone();
    let applicable = (|| {
        let edits = vec![declare_list(src, &decl, &list, ty, buffer)?];
        let reads = rewrite_reads(ctx, *b, e.stmt.clone(), &join)?;
        Some((edits, reads))
    })();
    if let Some((mut edits, reads)) = applicable {
        edits.push(push);
        edits.extend(reads);
        return Some(fix(
            format!(
                "collect the chunks in `{list}` and concatenate once where `{name}` is read: `{join}`"
            ),
            Applicability::Unsafe,
            edits,
        ));
    }
    let decl_line_end = src[decl.end..]
        .find('\n')
        .map_or(src.len(), |i| decl.end + i);
    let decl_line_end = if src[..decl_line_end].ends_with('\r') {
        decl_line_end - 1
    } else {
        decl_line_end
    };
    Some(fix(
        format!(
            "collect the chunks in `{list}` and build `{name}` once where it is read: `{join}`"
        ),
        Applicability::DisplayOnly,
        vec![
            insert_after_statement(
                src,
                decl.start,
                decl_line_end,
                &[format!("const {list}{ty} = [];")],
            ),
            push,
        ],
    ))
}

/// What `name` appends (`rest` follows the name in the statement): `+= chunk` (a string) or
/// `= Buffer.concat([name, chunk])` (a Buffer, `true`).
fn appended<'s>(name: &str, rest: &'s str) -> Option<(&'s str, bool)> {
    if let Some(r) = rest.strip_prefix("+=") {
        return Some((r.trim(), false));
    }
    let inner = rest
        .strip_prefix('=')?
        .trim()
        .strip_prefix("Buffer.concat([")?
        .strip_suffix("])")?;
    let chunk = inner.strip_prefix(name)?.trim_start().strip_prefix(',')?;
    Some((chunk.trim(), true))
}

/// The fixes of a TS finding: the chunk list when the reads can be rewritten; otherwise a cap
/// ([`cap_fix`]) that `--fix` can apply, with the chunk list as a suggestion beside it.
fn ts_fixes(ctx: &FileCtx, e: &crate::facts::Event, place: &Place) -> Vec<Fix> {
    let list = ts_fix(ctx, e, place);
    if list
        .as_ref()
        .is_some_and(|f| f.applicability != Applicability::DisplayOnly)
    {
        return list.into_iter().collect();
    }
    cap_fix(ctx, e).into_iter().chain(list).collect()
}

/// The cap an unbounded accumulator gets when its chunks cannot be collected instead (it is
/// read per chunk: a framing parser, a progress report): 16 MiB, in bytes or characters.
const CAP: usize = 16 * 1024 * 1024;

/// `buf = Buffer.concat([buf, chunk]);` / `text += chunk;` read on every chunk (a parser that
/// looks for a complete frame each time): the chunks cannot wait in a list, so the fix bounds
/// the value instead — `if (buf.length > 16777216) buf = buf.subarray(-16777216);` right
/// after the append, the shape this rule accepts as capped. Unsafe: past the cap the oldest
/// bytes are dropped, so a frame that long is cut (a peer that never ends one can no longer
/// grow the buffer without bound). Only for a statement of its own line in a block, where a
/// statement can follow.
fn cap_fix(ctx: &FileCtx, e: &crate::facts::Event) -> Option<Fix> {
    use super::fixes::*;
    let src = ctx.source;
    let stmt = src.get(e.stmt.clone())?.trim_end();
    let body = stmt.trim_end_matches(';').trim_end();
    let lhs = body[..body.find(['=', '+'])?].trim();
    if lhs.is_empty() || lhs.contains(|c: char| !(c.is_alphanumeric() || "_$.".contains(c))) {
        return None;
    }
    let (chunk, buffer) = appended(lhs, body[lhs.len()..].trim_start())?;
    if chunk.is_empty() {
        return None;
    }
    let method = if buffer { "subarray" } else { "slice" };
    // The statement starts its line, in a block (the code line above ends a statement or
    // opens the block: not an arrow's expression body), and only a comment follows it there.
    let line_start = src[..e.stmt.start].rfind('\n').map_or(0, |i| i + 1);
    let indent = &src[line_start..e.stmt.start];
    if !indent.chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    let above = src[..line_start].lines().rev().map(str::trim).find(|l| {
        !l.is_empty() && !l.starts_with("//") && !l.starts_with('*') && !l.ends_with("*/")
    });
    if !above.is_some_and(|l| l.ends_with(['{', ';', '}'])) {
        return None;
    }
    let end = e.stmt.start + stmt.len();
    let after = src[end..].split('\n').next().unwrap_or("").trim();
    if !(after.is_empty() || after.starts_with("//")) {
        return None;
    }
    let line_end = src[end..].find('\n').map_or(src.len(), |i| end + i);
    let line_end = if src[..line_end].ends_with('\r') {
        line_end - 1
    } else {
        line_end
    };
    let nl = if src[line_end..].starts_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    Some(fix(
        format!(
            "cap `{lhs}` at 16 MiB: past it the oldest data is dropped, so it can no longer grow \
             without bound (a frame that long is cut)"
        ),
        Applicability::Unsafe,
        vec![insert(
            line_end,
            format!("{nl}{indent}if ({lhs}.length > {CAP}) {lhs} = {lhs}.{method}(-{CAP});"),
        )],
    ))
}

/// An array rebuilt from itself (`rest` is what follows the name in the statement):
/// `= name.concat(x)` → `name.push(...[x].flat())` (`concat` spreads an array argument and keeps
/// any other value whole; `[x].flat()` does the same), `= name.concat([a, b])` →
/// `name.push(a, b)`, `= [...name, a, ...b]` → `name.push(a, ...b)`. Each chunk is then copied
/// once. Unsafe: the array is changed in place, so a reference to it taken earlier now sees
/// the new items, and a very large spread argument can exceed the engine's argument limit.
fn append_in_place(name: &str, rest: &str) -> Option<String> {
    let rhs = rest.strip_prefix('=')?.trim();
    if rhs.starts_with('=') || rhs.starts_with('>') {
        return None;
    }
    let items: Vec<String> = if let Some(args) = rhs
        .strip_prefix(name)
        .and_then(|r| r.trim_start().strip_prefix(".concat("))
        .and_then(|r| r.strip_suffix(')'))
    {
        let args = split_top_level(args)?;
        let mut items = Vec::new();
        for a in args {
            match a.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
                Some(inner) if split_top_level(inner).is_some() => {
                    items.extend(split_top_level(inner)?);
                }
                _ if a.starts_with('\'') || a.starts_with('"') || a.starts_with('`') => {
                    items.push(a)
                }
                _ => items.push(format!("...[{a}].flat()")),
            }
        }
        items
    } else {
        let inner = rhs.strip_prefix('[')?.strip_suffix(']')?;
        let mut items = split_top_level(inner)?;
        if items.first()?.strip_prefix("...")?.trim() != name {
            return None;
        }
        items.remove(0);
        items
    };
    // The rebuilt array must not also be read on the right (`x = x.concat(x)`).
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mentions = |t: &str| {
        t.match_indices(name)
            .any(|(i, _)| !t[..i].ends_with(is_word) && !t[i + name.len()..].starts_with(is_word))
    };
    if items.is_empty() || items.iter().any(|i| mentions(i)) {
        return None;
    }
    Some(format!("{name}.push({})", items.join(", ")))
}

/// `a, [b, c], f(d, e)` → its top-level items, trimmed; `None` when the brackets or quotes do
/// not balance, an item is empty, or there is a comment (refuse rather than guess).
fn split_top_level(text: &str) -> Option<Vec<String>> {
    if text.contains("//") || text.contains("/*") {
        return None;
    }
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            ',' if depth == 0 => {
                items.push(text[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || quote.is_some() {
        return None;
    }
    let last = text[start..].trim();
    if !last.is_empty() {
        items.push(last.to_string());
    }
    if items.iter().any(|i| i.is_empty()) {
        return None;
    }
    Some(items)
}

/// `let out = Buffer.alloc(0);` (`decl` spans the declared name, or the declarator) →
/// `const outChunks: Buffer[] = [];` (an initial value that is not empty becomes the first
/// chunk). Only a `let` declaring this one variable.
fn declare_list(
    src: &str,
    decl: &std::ops::Range<usize>,
    list: &str,
    ty: &str,
    buffer: bool,
) -> Option<crate::diagnostic::Edit> {
    use super::fixes::*;
    let line = line_start(src, decl.start);
    let head = &src[line..decl.start];
    let kw = head.trim_start();
    if kw.trim_end() != "let" {
        return None;
    }
    let start = line + (head.len() - kw.len());
    let end_rel = src[decl.start..].find(['\n', ';'])?;
    let end = decl.start + end_rel;
    let text = &src[decl.start..end];
    let (_, init) = text.split_once('=')?;
    let init = init.trim();
    if init.contains(',') || init.is_empty() {
        return None;
    }
    let empty = matches!(init, "''" | "\"\"" | "``") || (buffer && init == "Buffer.alloc(0)");
    let first = if empty {
        String::new()
    } else {
        init.to_string()
    };
    Some(replace(start..end, format!("const {list}{ty} = [{first}]")))
}

/// Every read of binding `b` after its declaration, outside the statement `skip`, replaced by
/// `join`; `None` when a use is not a plain read unleak can rewrite.
fn rewrite_reads(
    ctx: &FileCtx,
    b: crate::facts::BindingId,
    skip: std::ops::Range<usize>,
    join: &str,
) -> Option<Vec<crate::diagnostic::Edit>> {
    use super::fixes::*;
    let facts = ctx.facts;
    let src = ctx.source;
    let binding = &facts.bindings[b];
    let name = binding.name.as_str();
    let scope = facts.scopes[binding.scope].span.clone();
    let from = src[binding.span.end..].find('\n')? + binding.span.end;
    let to = scope.end.min(src.len());
    let bytes = src.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
    let mut out = Vec::new();
    let mut i = from;
    while let Some(k) = src[i..to].find(name) {
        let at = i + k;
        let end = at + name.len();
        i = end;
        if (at > 0 && is_word(bytes[at - 1])) || bytes.get(end).is_some_and(|&c| is_word(c)) {
            continue;
        }
        if skip.contains(&at) {
            continue;
        }
        let before = src[..at].trim_end();
        let after = src[end..].trim_start();
        // A property of something else (`x.out`), or an object key (`{ out: … }`).
        if before.ends_with('.') && !before.ends_with("...") {
            continue;
        }
        // Inside a quoted string or a `//` comment on this line (`on('data', …)` beside a
        // variable `data`): no read. Inside a template literal: refuse rather than guess.
        match lexical_state(&src[line_start(src, at)..at]) {
            Lexical::Code => {}
            Lexical::Quoted | Lexical::Comment => continue,
            Lexical::Template => return None,
        }
        // Another binding of the same name in an inner scope would be rewritten too.
        if facts.bindings.iter().any(|o| {
            o.name == name
                && o.span.start != binding.span.start
                && o.span.start >= from
                && o.span.start < to
        }) {
            return None;
        }
        // A write, a key, a shorthand property, an update.
        let writes =
            (after.starts_with('=') && !after.starts_with("==") && !after.starts_with("=>"))
                || ["+=", "-=", "++", "--", "??=", "||=", "&&="]
                    .iter()
                    .any(|op| after.starts_with(op))
                || before.ends_with("++")
                || before.ends_with("--");
        let opens_item = before.ends_with('{') || before.ends_with(',');
        // An object key (`{ out: … }`) names no variable.
        if after.starts_with(':') && opens_item {
            continue;
        }
        // A shorthand property (`{ out }`) would need a key.
        let shorthand = opens_item
            && (after.starts_with('}') || after.starts_with(','))
            && enclosing_brace(src, at);
        if writes || shorthand {
            return None;
        }
        out.push(replace(at..end, join.to_string()));
    }
    (!out.is_empty()).then_some(out)
}

/// Where the end of `line` (a line's text up to some position) stands.
#[derive(Debug, PartialEq)]
enum Lexical {
    Code,
    Quoted,
    Template,
    Comment,
}

/// Scans `line` for quotes (with escapes) and a `//` comment outside them.
fn lexical_state(line: &str) -> Lexical {
    let mut open: Option<u8> = None;
    let mut bytes = line.bytes().peekable();
    while let Some(c) = bytes.next() {
        match (open, c) {
            (Some(_), b'\\') => {
                bytes.next();
            }
            (Some(q), c) if c == q => open = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"' | b'`') => open = Some(c),
            (None, b'/') if bytes.peek() == Some(&b'/') => return Lexical::Comment,
            (None, _) => {}
        }
    }
    match open {
        None => Lexical::Code,
        Some(b'`') => Lexical::Template,
        Some(_) => Lexical::Quoted,
    }
}

/// The innermost unclosed bracket before `at` is a `{` (an object literal or a block).
fn enclosing_brace(src: &str, at: usize) -> bool {
    let mut depth = 0i32;
    for c in src[..at].bytes().rev() {
        match c {
            b')' | b']' | b'}' => depth += 1,
            b'(' | b'[' | b'{' => {
                if depth == 0 {
                    return c == b'{';
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    false
}

impl Rule for BufferConcatInLoop {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx) -> Vec<Diagnostic> {
        findings(ctx)
    }
}

fn findings(ctx: &FileCtx) -> Vec<Diagnostic> {
    let facts = ctx.facts;
    if ctx.is_test {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in &facts.events {
        if ctx.out_of_time() {
            break; // the engine reports the time-out
        }
        let EventKind::Reconcat { place } = &e.kind else {
            continue;
        };
        let place = facts.resolve(place);
        // The repeating code: the innermost loop, or a callback that fires repeatedly.
        // A handler of an event a stream emits once ('end', 'close', 'finish') does not repeat.
        let repeated_scope = facts.ancestors(e.scope).find(|&s| {
                facts.scopes[s].in_loop
                    || matches!(&facts.scopes[s].kind, crate::facts::ScopeKind::Callback(r)
                        if matches!(r.kind, crate::facts::CallbackKind::EventHandler | crate::facts::CallbackKind::Interval | crate::facts::CallbackKind::Iteration)
                            && !r.event.as_deref().is_some_and(crate::facts::is_close_event))
            });
        if !e.in_loop && repeated_scope.is_none() {
            continue;
        }
        if !e.in_loop
            && !facts.is_rust
            && repeated_scope.is_some_and(|s| client_response_text(ctx, e, s))
        {
            continue;
        }
        // Trimmed to its last K bytes in the same handler (`x = x.slice(-MAX)`): capped.
        if !facts.is_rust && trimmed_to_a_cap(ctx, e, repeated_scope) {
            continue;
        }
        // Cut frame by frame, each frame's length a 16-bit header field: one partial frame.
        if !facts.is_rust && consumed_by_short_frames(ctx, e, repeated_scope) {
            continue;
        }
        // A loop that runs while the buffer is long enough: each turn must take from it.
        if !facts.is_rust && drains_while_long(ctx, e) {
            continue;
        }
        // Given up past a size cap (`if (data.length > MAX_BODY_SIZE) { reject(…);
        // req.destroy(); }`): it never grows beyond the cap and one chunk.
        if !facts.is_rust && abandoned_past_a_cap(ctx, e, repeated_scope) {
            continue;
        }
        // A loop that runs only while the value is short (`while (… && page.length < size)`):
        // it stops at the bound, one turn's worth past it at most.
        if !facts.is_rust && stops_at_a_length(ctx, e) {
            continue;
        }
        // The value must outlive one iteration: declared outside the loop / callback.
        let outlives = match &place {
            Place::Binding(b) => {
                let binding = &facts.bindings[*b];
                if e.in_loop && binding.scope == e.scope {
                    e.loop_span.as_ref().is_some_and(|l| {
                        !(l.start <= binding.span.start && binding.span.end <= l.end)
                    })
                } else {
                    match repeated_scope {
                        Some(r) => binding.scope != r && facts.is_within(r, binding.scope),
                        None => true,
                    }
                }
            }
            Place::Field { .. } | Place::Global(_) | Place::Member { .. } => true,
            _ => false,
        };
        if !outlives {
            continue;
        }
        let name = place_text(facts, &place);
        let where_ = if e.in_loop {
            "in a loop".to_string()
        } else {
            let s = repeated_scope.unwrap_or(e.scope);
            let per = match &facts.scopes[s].kind {
                crate::facts::ScopeKind::Callback(r)
                    if r.kind == crate::facts::CallbackKind::Iteration =>
                {
                    "item"
                }
                _ => "event",
            };
            format!(
                "in {}, which runs for every {per}",
                describe_scope(facts, s)
            )
        };
        let help = if facts.is_rust {
            "append in place (`extend_from_slice`, `push_str`, `+=` on a `String`) into a buffer with \
                 a size cap, or collect the chunks in a `Vec` and join once at the end"
        } else {
            "collect the chunks in an array (`chunks.push(chunk)`) and concatenate once at the end \
                 (`Buffer.concat(chunks)` / `chunks.join('')`), with a size cap"
        };
        out.push(
            META.report(
                ctx.path.to_path_buf(),
                e.span.clone(),
                format!(
                    "`{name}` is rebuilt from itself {where_}: every chunk copies everything \
                         accumulated so far (quadratic time) and the buffer grows without bound"
                ),
            )
            .with_help(help)
            .with_fixes(rust_fixes::event_fix(facts, ctx.source, e))
            .with_fixes(if facts.is_rust {
                Vec::new()
            } else {
                ts_fixes(ctx, e, &place)
            }),
        );
    }
    out
}

/// The assigned name as written (`self._buffer`, `modbus._buffer`, `buf`) and the text of the
/// code that appends (`scope`, the repeating callback, or the function holding the loop).
fn appender_text<'s>(
    ctx: &FileCtx<'s>,
    e: &crate::facts::Event,
    scope: Option<ScopeId>,
) -> Option<(&'s str, &'s str)> {
    let stmt = ctx.source.get(e.stmt.clone())?;
    let (lhs, _) = stmt.split_once('=')?;
    // `text += chunk` as well as `buf = Buffer.concat([buf, chunk])`.
    let lhs = lhs.trim().trim_end_matches('+').trim_end();
    if lhs.is_empty() || lhs.contains(|c: char| !(c.is_alphanumeric() || "_$.".contains(c))) {
        return None;
    }
    let body = ctx.facts.scopes[scope.unwrap_or(e.scope)].body.clone()?;
    Some((lhs, ctx.source.get(body)?))
}

/// The code that appends gives up once the value is too long: an `if` on `x.length >` (or
/// `>=`) whose body ends the reading — destroys or ends the stream, rejects, throws, returns,
/// stops listening (`if (data.length > MAX_BODY_SIZE) { reject(tooLarge); req.destroy(); }`).
/// The value never holds more than the cap and one chunk, so its copies are bounded by it.
fn abandoned_past_a_cap(ctx: &FileCtx, e: &crate::facts::Event, scope: Option<ScopeId>) -> bool {
    let Some((lhs, text)) = appender_text(ctx, e, scope) else {
        return false;
    };
    let probe = format!("{lhs}.length");
    text.match_indices(&probe).any(|(i, _)| {
        let rest = text[i + probe.len()..].trim_start();
        if !rest.starts_with('>') || rest.starts_with(">>") {
            return false;
        }
        // Inside an `if (` condition: nothing but the condition between them.
        let head = &text[..i];
        let in_if = head
            .rfind("if (")
            .is_some_and(|j| !head[j..].contains([';', '{', '}']));
        // The body: up to the end of its block (or statement), a few hundred bytes at most.
        let body: String = rest.chars().take(400).collect();
        let body = match body.find('}') {
            Some(k) => &body[..k],
            None => body.as_str(),
        };
        in_if
            && [
                "destroy(",
                "throw ",
                "reject(",
                "abort(",
                ".end(",
                "return",
                ".off(",
                "removeListener(",
                "close(",
            ]
            .iter()
            .any(|stop| body.contains(stop))
    })
}

/// A framing parser (modbus' MBAP reader): the code that appends also moves the buffer past
/// each complete frame (`x = x.slice(len)`, `x.subarray(len)`), and reads each frame's length
/// from a 16-bit or 8-bit header field (`x.readUInt16BE(4)`) and nothing wider. The buffer holds
/// one partial frame, at most 64 KiB. A 32-bit length (or none read) lets a peer announce a
/// frame of gigabytes and have it buffered, and is still reported.
fn consumed_by_short_frames(
    ctx: &FileCtx,
    e: &crate::facts::Event,
    scope: Option<ScopeId>,
) -> bool {
    let Some((lhs, text)) = appender_text(ctx, e, scope) else {
        return false;
    };
    let cut = ["slice", "subarray"].iter().any(|m| {
        let probe = format!("{lhs} = {lhs}.{m}(");
        text.match_indices(&probe)
            .any(|(i, _)| !text[i + probe.len()..].trim_start().starts_with('-'))
    });
    let reads = |widths: &[&str]| {
        widths.iter().any(|w| {
            ["readUInt", "readUint", "readInt"]
                .iter()
                .any(|r| text.contains(&format!("{lhs}.{r}{w}")))
        })
    };
    cut && reads(&["16BE(", "16LE(", "8("])
        && !reads(&["32BE(", "32LE("])
        && !text.contains(&format!("{lhs}.readBig"))
}

/// The loop around the append runs while the buffer is long enough
/// (`while (this.packet.length + chunk.length >= this.max) { …; this.emitPacket(); }`,
/// `while (buf.length > HEADER)`): a loop that ends only when the buffer gets shorter must take
/// from it on every turn, so each turn flushes what it appended — a flush loop, not an
/// accumulation (modbus-serial's serial packet splitter).
fn drains_while_long(ctx: &FileCtx, e: &crate::facts::Event) -> bool {
    let Some((lhs, _, cond)) = loop_around(ctx, e) else {
        return false;
    };
    let len = format!("{lhs}.length");
    cond.match_indices(&len).any(|(i, _)| {
        // `len >`, `len >=`, or `… + len … >=` further on, never `<`.
        let rest = &cond[i + len.len()..];
        (rest.contains('>') && !rest.contains("=>")) && !cond.contains('<')
    })
}

/// The loop around the append `e`: the assigned name, the loop statement's text and its
/// condition ([`loop_condition`]).
fn loop_around<'s>(
    ctx: &FileCtx<'s>,
    e: &crate::facts::Event,
) -> Option<(&'s str, &'s str, &'s str)> {
    let (lhs, _) = appender_text(ctx, e, None)?;
    let text = ctx.source.get(e.loop_span.clone()?)?;
    Some((lhs, text, loop_condition(text)?))
}

/// The condition of the loop statement `text`: after `while` in a `do … while`, the header
/// before the body of a `while` or a `for` (its init and update included).
fn loop_condition(text: &str) -> Option<&str> {
    if text.starts_with("do") {
        text.rsplit_once("while").map(|(_, c)| c)
    } else if text.starts_with("while") || text.starts_with("for") {
        text.split_once('{').map(|(c, _)| c)
    } else {
        None
    }
}

/// The loop around `e` goes on only while the value it rebuilds is shorter than something:
/// its condition (of a `while`, a `do … while` or a `for` header) compares `x.length <` or
/// `x.length <=` — a page filled up to its size, a buffer read up to a limit — or the length of
/// a sibling the same loop fills.
fn stops_at_a_length(ctx: &FileCtx, e: &crate::facts::Event) -> bool {
    let Some((lhs, text, cond)) = loop_around(ctx, e) else {
        return false;
    };
    // `y.length <` for the value itself, or for a sibling the same loop fills
    // (`page = page.concat(items); jobs = jobs.concat(…)` while `page.length < pageSize`):
    // the loop ends once that one is long enough, and each turn appends to both.
    let fills = |y: &str| {
        y == lhs
            || [format!("{y} = {y}.concat("), format!("{y}.push(")]
                .iter()
                .any(|p| text.contains(p.as_str()))
    };
    cond.match_indices(".length").any(|(i, _)| {
        let head = &cond[..i];
        let y_start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
            .map_or(0, |j| j + 1);
        let y = &head[y_start..];
        let rest = cond[i + ".length".len()..].trim_start();
        !y.is_empty() && fills(y) && rest.starts_with('<') && !rest.starts_with("<<")
    })
}

/// The code that appends (`scope`, the repeating callback, or the function holding the loop)
/// also cuts the buffer down to its last K elements — `x = x.slice(-MAX_BUFFER_LENGTH)`,
/// `x = x.subarray(-256)` — so it never holds more than K: a capped buffer, whose copies are
/// bounded by the cap.
fn trimmed_to_a_cap(ctx: &FileCtx, e: &crate::facts::Event, scope: Option<ScopeId>) -> bool {
    let Some((lhs, text)) = appender_text(ctx, e, scope) else {
        return false;
    };
    ["slice", "subarray"].iter().any(|m| {
        let probe = format!("{lhs} = {lhs}.{m}(-");
        text.match_indices(&probe).any(|(i, _)| {
            let rest = &text[i + probe.len()..];
            let k: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            rest[k.len()..].trim_start().starts_with(')')
                && (k.chars().all(|c| c.is_ascii_digit())
                    || k.chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
                && !k.is_empty()
        })
    })
}

/// `s += chunk` in the `'data'` handler of a response this code asked for: the first
/// parameter of a `'response'` handler (`req.on('response', (res) => …)`) or of the callback of
/// `http.get`/`https.request` and friends. A client reads the body of one reply from the server
/// it chose, gone with the reply, and a string `+=` is an append (engines keep the pieces as a
/// rope and flatten once), not a copy per chunk. A server reading its request body, or
/// `Buffer.concat`/an array rebuilt per chunk, is still reported.
fn client_response_text(ctx: &FileCtx, e: &crate::facts::Event, repeated: ScopeId) -> bool {
    use crate::facts::{BindingKind, CallbackKind, ScopeKind};
    let facts = ctx.facts;
    let appends = ctx
        .source
        .get(e.span.clone())
        .is_some_and(|t| t.contains("+=") && !t.contains("concat"));
    let ScopeKind::Callback(r) = &facts.scopes[repeated].kind else {
        return false;
    };
    if !appends || r.kind != CallbackKind::EventHandler || r.event.as_deref() != Some("data") {
        return false;
    }
    let Some(Place::Binding(b)) = r.target.as_ref().map(|t| facts.resolve(t)) else {
        return false;
    };
    let binding = &facts.bindings[b];
    // A parameter named `res`/`response` that emits 'data' is a reply being read (an
    // `IncomingMessage`): a server's `res` is a `ServerResponse`, which never emits 'data'
    // (superagent's parsers, faye's `_handleResponse(messages, response)`).
    // Only when the handler does nothing else with what it gathered: one that reads the text
    // per chunk (`self.emit('chunk', responseText)`, a streaming reply) keeps the whole stream.
    if binding.kind == BindingKind::Param && matches!(binding.name.as_str(), "res" | "response") {
        let target = ctx
            .source
            .get(e.span.clone())
            .and_then(|t| t.split("+=").next())
            .map(str::trim)
            .unwrap_or("");
        let handler = ctx
            .source
            .get(facts.scopes[repeated].span.clone())
            .unwrap_or("");
        let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        let uses = handler
            .match_indices(target)
            .filter(|(i, _)| {
                !handler[..*i].ends_with(is_word)
                    && !handler[i + target.len()..].starts_with(is_word)
            })
            .count();
        return !target.is_empty() && uses == 1;
    }
    let home = &facts.scopes[binding.scope];
    let ScopeKind::Callback(outer) = &home.kind else {
        return false;
    };
    let first = binding.kind == BindingKind::Param && home.params.first() == Some(&binding.name);
    let response_event = matches!(
        outer.kind,
        CallbackKind::EventHandler | CallbackKind::OnceHandler
    ) && outer.event.as_deref() == Some("response");
    let request_callback = matches!(outer.method.as_str(), "get" | "request")
        && outer
            .callee
            .split_whitespace()
            .collect::<String>()
            .rsplit_once('.')
            .is_some_and(|(base, _)| matches!(base, "http" | "https" | "http2"));
    first && (response_event || request_callback)
}

#[cfg(test)]
mod tests {
    use super::{Lexical, append_in_place, lexical_state, split_top_level};

    #[test]
    fn arrays_rebuilt_from_themselves_become_pushes() {
        let a = |rest| append_in_place("xs", rest);
        assert_eq!(
            a("= xs.concat(batch)").as_deref(),
            Some("xs.push(...[batch].flat())")
        );
        assert_eq!(
            a("= xs.concat([a, f(b, c)])").as_deref(),
            Some("xs.push(a, f(b, c))")
        );
        assert_eq!(a("= xs.concat('a,b')").as_deref(), Some("xs.push('a,b')"));
        assert_eq!(
            a("= [...xs, a, ...more]").as_deref(),
            Some("xs.push(a, ...more)")
        );
        // Not the same array, the array read again, an arrow, nothing added, unbalanced.
        assert_eq!(a("= [...ys, a]"), None);
        assert_eq!(a("= [a, ...xs]"), None);
        assert_eq!(a("= xs.concat(xs)"), None);
        assert_eq!(a("= [...xs, xs.length]"), None);
        assert_eq!(a("=> xs.concat(a)"), None);
        assert_eq!(a("= [...xs]"), None);
        assert_eq!(a("= xs.concat(a)).x("), None);
        assert_eq!(a("= xs.slice(1).concat(a)"), None);
    }

    #[test]
    fn a_name_inside_quotes_or_a_comment_is_no_read() {
        assert_eq!(lexical_state("  stream.on('"), Lexical::Quoted);
        assert_eq!(lexical_state("  stream.on(\"a\\\" "), Lexical::Quoted);
        assert_eq!(lexical_state("  f('x', "), Lexical::Code);
        assert_eq!(lexical_state("  log(`got ${"), Lexical::Template);
        assert_eq!(lexical_state("  x(); // the "), Lexical::Comment);
        assert_eq!(lexical_state("  x('//', "), Lexical::Code);
    }

    #[test]
    fn top_level_items_respect_brackets_and_quotes() {
        assert_eq!(
            split_top_level("a, [b, c], f(d, ')'), `x,${y}`").unwrap(),
            ["a", "[b, c]", "f(d, ')')", "`x,${y}`"]
        );
        assert_eq!(split_top_level("a, (b"), None);
        assert_eq!(split_top_level("a,, b"), None);
        assert_eq!(split_top_level("a /* c */"), None);
        assert_eq!(split_top_level("").unwrap(), Vec::<String>::new());
    }
}
