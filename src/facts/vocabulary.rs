//! The words unleak reads code by: names of teardowns and close events, types that share or
//! register, the growth methods of Rust collections — shared by the front ends, the rules and
//! the fixes.

/// `haystack` contains `needle` as a whole identifier path (not inside a longer name): a text
/// predicate on source snippets (guards, callbacks), shared by the front ends and the rules.
pub fn mentions(haystack: &str, needle: &str) -> bool {
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

/// A map or set keyed by names written in the program (`HashMap<&'static str, _>`,
/// `HashMap<Cow<'static, str>, _>`): inserting a name again replaces its entry, so it holds at
/// most one entry per name the code spells out — bounded by the program, not by traffic.
/// (`ty` is written without spaces.)
pub fn keyed_by_static_names(ty: &str) -> bool {
    ["Map<", "Set<"].iter().any(|head| {
        ty.match_indices(head).any(|(i, _)| {
            let key = &ty[i + head.len()..];
            key.starts_with("&'staticstr") || key.starts_with("Cow<'static,str>")
        })
    })
}

/// A Rust type that can change behind a shared reference (`Mutex`, `RwLock`, `RefCell`,
/// `DashMap`, …). A struct shared through `Arc` or a `static` can only grow at run time through
/// such a field; `&mut self` growth happened while it was still being built.
pub fn is_interior_mutable(ty: &str) -> bool {
    [
        "Mutex<",
        "RwLock<",
        "RefCell<",
        "Cell<",
        "DashMap<",
        "DashSet<",
        "ArcSwap",
        "OnceCell<",
        "UnsafeCell<",
        "scc::",
        "papaya::",
        "flurry::",
        "SkipMap<",
        "SkipSet<",
        "SegQueue<",
    ]
    .iter()
    .any(|w| ty.contains(w))
}

/// A Rust field or static type that is a registry of callbacks or subscribers:
/// `Mutex<Vec<Box<dyn Fn(Event) + Send>>>`, `HashMap<u64, Sender<Msg>>`, `Vec<Listener>`.
pub fn is_registry_type(ty: &str) -> bool {
    let t: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    let collection = [
        "Vec<",
        "VecDeque<",
        "HashMap<",
        "BTreeMap<",
        "Slab<",
        "DashMap<",
        "IndexMap<",
    ]
    .iter()
    .any(|c| t.contains(c));
    if !collection {
        return false;
    }
    t.contains("dynFn")
        || t.contains("Sender<")
        || t.contains("broadcast::Receiver<")
        || ["Callback", "Listener", "Handler", "Subscriber", "Observer"]
            .iter()
            .any(|w| t.contains(&format!("{w}>")) || t.contains(&format!("{w},")))
}

/// `undo` is the event that undoes `event` on the same emitter: what a handler of `event`
/// sets up, a handler of `undo` takes down — Node's `'newListener'` / `'removeListener'`
/// (lazy event forwarding), `'subscribe'` / `'unsubscribe'`, `'add'` / `'remove'`,
/// `'attach'` / `'detach'`, `'register'` / `'unregister'`, `'join'` / `'leave'`.
pub fn undoes(undo: &str, event: &str) -> bool {
    matches!(
        (event, undo),
        ("newListener", "removeListener")
            | ("subscribe", "unsubscribe")
            | ("add", "remove")
            | ("attach", "detach")
            | ("register", "unregister")
            | ("join", "leave")
    )
}

/// Events that mean "this object (or process) is going away".
pub fn is_close_event(event: &str) -> bool {
    matches!(
        event,
        "close"
            | "end"
            | "exit"
            | "beforeExit"
            | "SIGTERM"
            | "SIGINT"
            | "SIGHUP"
            | "disconnect"
            | "disconnected"
            | "finish"
            | "destroy"
            | "shutdown"
            | "unload"
            | "beforeunload"
            | "pagehide"
    )
}

/// Splits an identifier into lowercase words: `stopHeartbeat` → `stop`, `heartbeat`;
/// `on_close` → `on`, `close`; `HTTPServer` → `httpserver` is kept whole where case gives no hint.
pub fn words(name: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '$' || c == '-' || c == '#' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && i > 0
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase())
                    && chars[i - 1].is_uppercase());
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
}

/// The default teardown words (configurable later).
pub const TEARDOWN_WORDS: &[&str] = &[
    "close",
    "dispose",
    "destroy",
    "stop",
    "shutdown",
    "disconnect",
    "end",
    "cleanup",
    "terminate",
    "teardown",
    "unmount",
    "unsubscribe",
    "release",
    "abort",
    "kill",
    "cancel",
    "deactivate",
];

/// A method or function named like a teardown: one of its words is a teardown word, or it
/// is `cleanUp`/`tearDown` spelled as two words.
pub fn is_teardown_name(name: &str) -> bool {
    // `impl Drop for T { fn drop(&mut self) }`; a pool's `drain()`, its documented shutdown
    // (generic-pool, tarn: stop handing out resources, then `clear()` them). Only as the whole
    // name: `onDrain`, `drainQueue` handle a stream's 'drain' event or flush a queue.
    if name == "drop" || name == "drain" {
        return true;
    }
    // A numbered hook of a teardown (`destroy0()`, which a base class's `destroy()` calls).
    let name = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let ws: Vec<String> = words(name).collect();
    ws.iter().any(|w| TEARDOWN_WORDS.contains(&w.as_str()))
        || ws
            .windows(2)
            .any(|p| (p[0] == "clean" && p[1] == "up") || (p[0] == "tear" && p[1] == "down"))
}

/// Methods that add to a Rust collection (`Vec`, maps, sets, deques), `entry(..).or_*` included.
pub const RUST_GROWTH_METHODS: &[&str] = &[
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

/// Words naming an operation that takes or gives back something outside the process — a
/// connection, a subscription, a lock, a file, a child, a call — beside the teardown words.
pub const RESOURCE_OP_WORDS: &[&str] = &[
    "connect",
    "reconnect",
    "open",
    "reopen",
    "create",
    "spawn",
    "fork",
    "listen",
    "subscribe",
    "resubscribe",
    "start",
    "restart",
    "init",
    "initialize",
    "launch",
    "acquire",
    "lock",
    "unlock",
    "bind",
    "mount",
    "register",
    "unregister",
    "watch",
    "unwatch",
    "unlisten",
    "reset",
    "dial",
    "redial",
    "login",
    "logout",
    "attach",
    "detach",
    "join",
    "leave",
    "claim",
    "lease",
    "allocate",
    "mkdir",
    "mkdtemp",
    "unlink",
    "rm",
    "rmdir",
    "remove",
    "delete",
    "hangup",
    "quit",
    "rollback",
    "drain",
    "clean",
    "clear",
    "resign",
    "revoke",
];

/// A function or method named for taking or giving back a resource (`connect`, `hangupCall`,
/// `fs.unlink`, `gracefulShutdown`): whether its failure can strand something.
pub fn is_resource_op(name: &str) -> bool {
    is_teardown_name(name) || words(name).any(|w| RESOURCE_OP_WORDS.contains(&w.as_str()))
}
