//! The language-neutral facts model that rules read: scopes, bindings, classes and
//! acquire/release events. Front ends lower syntax into it in one walk; rules never see a tree.
//!
//! Every leak is an acquire without a matching release in the right lifetime. Events name the
//! place a handle lives in as a [`PlaceRef`] (a name as written, a `this` field, …); after the
//! walk [`FileFacts::resolve`] turns it into a [`Place`] by looking the name up in the scope
//! chain, so a use before its declaration (hoisting) still resolves.

use std::collections::HashMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

mod helpers;
mod indices;
mod latches;
mod vocabulary;
pub use vocabulary::*;
mod names;
pub use names::At;
use names::NameLookup;
/// The derived indices' maps: keyed by names and places of one file, looked up once per event
/// and use; a fast non-cryptographic hash (SipHash was 2% of a big file's profile).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
mod pacing;
pub use pacing::{CallArg, FieldSends, QueuePacing, SenderField};
mod calls;
pub use calls::{PathCall, lent_params};
mod teardowns;
pub use teardowns::ends_a_life;
mod validate;

pub type ScopeId = usize;
pub type BindingId = usize;
pub type ClassId = usize;

/// The facts of one file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct FileFacts {
    pub scopes: Vec<Scope>,
    pub bindings: Vec<Binding>,
    pub classes: Vec<Class>,
    pub events: Vec<Event>,
    /// Names the module exports (ES `export`, `module.exports`, `exports.x`).
    pub exports: Vec<String>,
    /// Byte ranges tree-sitter could not parse; they were skipped.
    pub syntax_errors: Vec<Range<usize>>,
    /// Lowered from Rust (the rules' Rust halves read the same events with Rust meanings).
    pub is_rust: bool,
    /// Type names this file shows to be shared for the life of the process: in a `static`,
    /// behind `Arc<…>`, passed to `.with_state(…)` (Rust). Unioned over the project.
    pub long_lived_types: Vec<String>,
    /// String literals that mention `unleak-ignore`: a suppression comment's text inside one is
    /// not a comment.
    pub suppression_lookalikes: Vec<Range<usize>>,
    /// A test-support module (Rust: `#![cfg(test)]`, or documented as test utilities): its
    /// code runs in tests, not in the service.
    #[serde(default)]
    pub test_support: bool,
    /// Rust: unbounded channels (by the event's span start) whose sender this file hands to a
    /// function of another type (`Client::new(sender, ..)`), and where it went.
    #[serde(default)]
    pub queue_handoffs: Vec<(usize, CallArg)>,
    /// Rust: parameters of this file's functions that receive an unbounded sender and whose
    /// every send (on the parameter, or on the field it is stored in) carries a reply channel
    /// whose receiver is awaited or handed back: the queue is paced by its callers' replies.
    #[serde(default)]
    pub paced_sender_params: Vec<CallArg>,
    /// Rust: unbounded channels (by span start) whose sender goes into a struct's field here,
    /// judged by that field's sends across the project (see [`FieldSends`]).
    #[serde(default)]
    pub queue_field_handoffs: Vec<(usize, SenderField)>,
    /// Rust: the file's sends on struct fields, and how many of them await a reply.
    #[serde(default)]
    pub field_sends: Vec<FieldSends>,
    /// Rust: calls of other modules' functions by path (see [`PathCall`]).
    #[serde(default)]
    pub path_calls: Vec<PathCall>,
    /// Code that runs once per state transition of its object (TypeScript): the body of an
    /// `if` on one of the object's own fields (or what follows an early exit on one), in a
    /// function that itself sets that field (`if (!this.ended) { …; this.ended = true }`,
    /// `if (this.readyState < CLOSING) { … } this.readyState = CLOSING`). A second call finds
    /// the state moved on and skips it. See [`FileFacts::latched`].
    #[serde(default)]
    pub latches: Vec<Latch>,
    /// The two arms (`consequence`, `else` clause) of each `if … else` inside a promise
    /// executor: code in one arm never runs in the same pass as code in the other (a settle in
    /// the `else` of the branch that arms a deadline timer is not a way that timer is left
    /// armed). TypeScript; see [`FileFacts::exclusive`].
    #[serde(default)]
    pub exclusive_arms: Vec<(Range<usize>, Range<usize>)>,
    /// Listener registrations and calls inside an `if (this.x)` of their own function: the
    /// event's span and `x`, once per such `if` around it (an instance that owns its
    /// connection, `if (this.ownsConnection)`, registers on it; one built with the flag off
    /// does not). TypeScript.
    #[serde(default)]
    pub flag_guards: Vec<(Range<usize>, String)>,
    /// `new C(…)` arguments that are the literal `false`: the construction's span and the
    /// argument's position. TypeScript.
    #[serde(default)]
    pub false_args: Vec<(Range<usize>, u8)>,
    /// `new C(…).m(…)`: the class as written last and the method called straight on the
    /// fresh instance, which nothing else holds. TypeScript.
    #[serde(default)]
    pub fresh_calls: Vec<(String, String)>,
    /// name → scope → first binding of that name in that scope, filled by
    /// [`FileFacts::finish`]. (Minified code declares the same short names in thousands of
    /// scopes: a list per name made every lookup linear.) This and the two indices below are
    /// derived, never stored: a cache entry is checked, then `finish` rebuilds them.
    #[serde(skip)]
    lookup: NameLookup,
    /// Resolved primary place → events on it, filled by [`FileFacts::finish`].
    #[serde(skip)]
    by_place: FastMap<Place, Vec<usize>>,
    /// Per scope, how often it runs, filled by [`FileFacts::finish`].
    #[serde(skip)]
    lifetimes: Vec<Lifetime>,
    /// Teardown-named scopes and each class's teardown methods, computed on first use: rules
    /// ask once per finding, and re-deriving them from every scope's name each time made a
    /// class with thousands of methods quadratic (minutes for a 1 MB file). Not cached: it is
    /// rebuilt on first use.
    #[serde(skip)]
    teardowns: std::sync::OnceLock<teardowns::TeardownIndex>,
    /// Every identifier-like word of the source text, computed on first use: fix builders ask
    /// whether a name is free once per finding, and scanning the text each time made files with
    /// thousands of findings quadratic (a minute for 40,000 `setInterval`s).
    #[serde(skip)]
    words: std::sync::OnceLock<std::collections::HashSet<Box<str>>>,
    /// Per scope, its child scopes and its own events (not nested ones), computed on first use,
    /// so "the events inside this callback" costs the callback's size, not the file's.
    #[serde(skip)]
    tree: std::sync::OnceLock<indices::ScopeTree>,
    /// The module's signal handlers (`process.on('SIGTERM', …)` at module level), on first use.
    #[serde(skip)]
    signal_handlers: std::sync::OnceLock<Vec<ScopeId>>,
}

/// A region of a function guarded by a state flag the function itself moves (see
/// [`FileFacts::latches`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latch {
    /// The function (or method) that tests and sets the flag.
    pub scope: ScopeId,
    /// The guarded code: the `if`'s consequence, or from an early exit to the function's end.
    pub region: Range<usize>,
    /// The flag is a module-level binding (`let setUp = false; … if (!setUp) { …; setUp =
    /// true }`): the guarded code runs once per process, not once per object or per call of
    /// an enclosing function.
    pub per_process: bool,
}

/// A region of code that runs as a unit: the module, a function, a method, a callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scope {
    pub kind: ScopeKind,
    pub parent: Option<ScopeId>,
    /// The function's name, a method's name, or the binding a function expression is stored in.
    pub name: Option<String>,
    /// The class whose `this` this scope sees (methods, and arrows inside them).
    pub class: Option<ClassId>,
    pub span: Range<usize>,
    /// Created inside a loop of its parent: runs once per iteration.
    pub in_loop: bool,
    /// Which settlement path of a promise this scope runs on (a `.then`/`.catch`/`.finally` callback).
    pub path: PathKind,
    /// Contains a `return` inside a conditional: the scope has a way to stop early.
    pub has_guarded_return: bool,
    /// Conditions of `if (…) return …;` early exits, as source text, for lazy-singleton guards.
    pub early_return_guards: Vec<String>,
    /// The parameter names, in order.
    pub params: Vec<String>,
    /// An `async fn` / async block.
    pub is_async: bool,
    /// The body block, braces included, when the scope has one: where a fix inserts a statement.
    pub body: Option<Range<usize>>,
}

impl Scope {
    /// A scope with nothing known yet beyond where it is; front ends fill in the rest.
    pub fn new(kind: ScopeKind, parent: Option<ScopeId>, span: Range<usize>) -> Scope {
        Scope {
            kind,
            parent,
            name: None,
            class: None,
            span,
            in_loop: false,
            path: PathKind::Normal,
            has_guarded_return: false,
            early_return_guards: Vec::new(),
            params: Vec::new(),
            is_async: false,
            body: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScopeKind {
    Module,
    /// A function declaration or expression not passed as a callback.
    Function,
    Method {
        constructor: bool,
        is_static: bool,
    },
    /// A function passed as an argument to a call: it runs when the callee decides.
    Callback(Box<Registrar>),
}

/// What a callback was handed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registrar {
    /// The callee as written, e.g. `wss.on`, `app.post`, `setInterval`, `Promise`.
    pub callee: String,
    /// The last segment of the callee: `on`, `post`, `setInterval`.
    pub method: String,
    /// For event registrations: the event name when it is a literal.
    pub event: Option<String>,
    /// The object the method was called on (`wss` in `wss.on`).
    pub target: Option<PlaceRef>,
    /// Which argument the callback was.
    pub arg_index: usize,
    pub kind: CallbackKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallbackKind {
    /// `x.on(event, cb)` and friends: runs per event.
    EventHandler,
    /// `x.once(event, cb)`: runs at most once.
    OnceHandler,
    /// `app.get(path, cb)`: runs per request.
    Route,
    /// `setInterval(cb)`: runs per tick.
    Interval,
    /// `setTimeout(cb)`, `queueMicrotask(cb)`, `process.nextTick(cb)`: runs once, later.
    Deferred,
    /// `xs.forEach(cb)`, `.map(cb)`: runs per item.
    Iteration,
    /// `new Promise(executor)`: runs once, now.
    PromiseExecutor,
    /// `.then(cb)`, `.catch(cb)`, `.finally(cb)`: runs once, later.
    Continuation,
    /// Anything else.
    Other,
}

/// Which way out of a `try`/promise an event lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PathKind {
    #[default]
    Normal,
    /// A `try` body, a `.then(onFulfilled)` callback: runs only if nothing threw before.
    Fulfilled,
    /// A `catch` clause, `.catch(cb)`, `.then(_, onRejected)`.
    Rejected,
    /// A `finally` clause or `.finally(cb)`: runs on every path.
    Finally,
}

/// A declared name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Binding {
    pub name: String,
    pub scope: ScopeId,
    pub kind: BindingKind,
    pub span: Range<usize>,
    /// The declared type as written, without spaces (Rust statics).
    pub ty: Option<String>,
    /// Where a block-scoped binding (`let`/`const` in a block or a `for` head, a `catch`
    /// parameter) is visible, when that is narrower than its scope: two `const client` in
    /// sibling loops of one function are two variables.
    #[serde(default)]
    pub block: Option<Range<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BindingKind {
    Var,
    Param,
    Function(ScopeId),
    Class(ClassId),
    /// `import { imported as name } from 'source'`; `imported` is `default` or `*` for those forms.
    Import {
        source: String,
        imported: String,
    },
}

/// A class declaration or expression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Class {
    pub name: Option<String>,
    pub span: Range<usize>,
    /// The class body between its braces, braces included (`0..0` when unknown): where a fix
    /// adds a field or a method.
    pub body: Range<usize>,
    /// The scope the class is declared in.
    pub scope: ScopeId,
    pub fields: Vec<Field>,
    /// Has a `static instance` field or a `getInstance` method.
    pub singleton: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub origin: FieldOrigin,
    pub span: Range<usize>,
    /// The declared type as written, without spaces (Rust struct fields).
    pub ty: Option<String>,
}

/// Where the value of a `this` field came from, which decides who owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldOrigin {
    /// Created by the instance (`new X()`, a factory call): dies with it.
    Owned,
    /// Handed in through the constructor: shared, and outlives the instance.
    Injected,
    Other,
}

/// A place as written at the event, resolved after the walk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PlaceRef {
    /// An identifier, looked up from `scope` outwards; `at` is where it is written, to choose
    /// among block-scoped bindings of the same name in one scope.
    Name {
        name: String,
        scope: ScopeId,
        #[serde(default)]
        at: At,
    },
    /// `this.name` inside a class.
    Field { class: ClassId, name: String },
    /// `this` itself.
    This { class: Option<ClassId> },
    /// `base.name` where base is not `this`.
    Member { base: Box<PlaceRef>, name: String },
    /// The value a function scope returns.
    Returned(ScopeId),
    /// Passed as an argument to a call.
    Argument,
    /// The value is thrown away.
    Discarded,
    /// Something unleak does not follow (an array element, a computed member, …).
    Unknown,
}

/// A resolved place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Place {
    Binding(BindingId),
    /// An undeclared name: a global such as `process`, `window`, `document`.
    Global(String),
    Field {
        class: ClassId,
        name: String,
    },
    This(Option<ClassId>),
    Member {
        base: Box<Place>,
        name: String,
    },
    Returned(ScopeId),
    Argument,
    Discarded,
    Unknown,
}

/// A fact located in the source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub span: Range<usize>,
    pub scope: ScopeId,
    /// Inside a loop body within `scope`.
    pub in_loop: bool,
    /// Byte range of the innermost enclosing loop within `scope`, when `in_loop`.
    pub loop_span: Option<Range<usize>>,
    /// Byte range of the innermost statement holding the event (`span` when there is none):
    /// where a fix inserts a statement before, or rewrites the whole statement.
    pub stmt: Range<usize>,
    /// What a fix for this event needs to know about its site beyond the event's own spans
    /// (recorded by the front end, read by the builders in `crate::fixes`); `None` for most.
    pub hint: Option<Box<FixSite>>,
    /// Inside an `if`/ternary/`&&` within `scope`.
    pub conditional: bool,
    pub path: PathKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum EventKind {
    /// `setInterval` / `setTimeout`: a timer whose handle goes to `handle`.
    Timer(Box<TimerFacts>),
    /// `clearInterval(h)` / `clearTimeout(h)`.
    ClearTimer { handle: PlaceRef },
    /// A spawned task (Rust) whose body starts by awaiting `awaits`, a future that a call in
    /// the same file passes as `pending()`: on that path the task never ends.
    StuckTask {
        api: String,
        handle: PlaceRef,
        awaits: String,
    },
    /// A spawned task (Rust) whose `JoinHandle` is kept in field `field` of `owner`, a type
    /// with no `Drop` impl and no method that aborts or awaits the handle: dropping the owner
    /// detaches the task.
    KeptTask {
        api: String,
        owner: String,
        field: String,
    },
    /// A listener registration.
    Listen(Box<ListenFacts>),
    /// `off` / `removeListener` / `removeEventListener`.
    Unlisten(Box<UnlistenFacts>),
    /// `removeAllListeners(event?)`.
    UnlistenAll {
        target: PlaceRef,
        event: Option<String>,
    },
    /// `controller.abort()`.
    Abort { controller: PlaceRef },
    /// `new C(…)`, or a known factory call (`twilio(…)`, `createClient(…)`, `axios.create(…)`).
    New {
        class: String,
        handle: PlaceRef,
        /// Assigned only when the place is empty (`??=`, `if (!x) x = …`).
        lazy: bool,
        factory: bool,
    },
    /// A collection literal or constructor (`new Map()`, `[]`, `{}`) stored in `place`.
    Collection {
        kind: CollectionKind,
        place: PlaceRef,
    },
    /// The collection at `place` grows (`set`, `add`, `push`, `unshift`, `obj[k] = v`).
    Grow { place: PlaceRef },
    /// The collection at `place` shrinks or is replaced.
    Shrink { place: PlaceRef },
    /// `place.size` / `place.length` is compared: something bounds it.
    SizeCheck { place: PlaceRef },
    /// The value at `place` is handed to code unleak does not follow (an argument, a return).
    Escape { place: PlaceRef },
    /// `to = from`: the value moves to another place.
    Flow { from: PlaceRef, to: PlaceRef },
    /// A queue that never pushes back: an unbounded channel (`mpsc::unbounded_channel()`).
    UnboundedQueue {
        api: String,
        /// Why it cannot pile up, when its file shows one (Rust).
        #[serde(default)]
        paced: Option<QueuePacing>,
    },
    /// A connection loop pushes a spawned task's handle into the local `collection` every turn
    /// and never polls or drains it inside the loop (Rust): the handles pile up until the loop
    /// ends.
    PiledTasks { collection: String },
    /// `place.close()`, `.end()`, `.destroy()`, `.dispose()`, `.disconnect()`, `.terminate()`,
    /// `.abort()`, `.shutdown()`, `.stop()`, `.removeAllListeners()`, `.cancel()`.
    Release { place: PlaceRef, method: String },
    /// A `return` or `throw` (TypeScript): an exit that can skip later cleanup.
    Exit { conditional: bool },
    /// A stream or file handle is opened (`fs.createWriteStream`, `await open(..)`, zlib).
    Stream {
        api: String,
        handle: PlaceRef,
        /// A `FileHandle` from `fs/promises` `open()`: only `finally` closes it on every path.
        file_handle: bool,
    },
    /// `source.pipe(dest)`; `source_start` is where the source expression starts, so a chained
    /// `createReadStream(..).pipe(res)` can be matched to its stream.
    Pipe {
        from: PlaceRef,
        to: PlaceRef,
        source_start: usize,
    },
    /// `std::mem::forget`, `Box::leak`, `ManuallyDrop::new` (Rust).
    Forget { api: String },
    /// A cache constructor with the option keys / builder methods it was given.
    CacheCtor {
        api: String,
        options: Vec<String>,
        /// Where a fix adds bounds: just inside the options object's `{`, just inside an empty
        /// argument list's `(`, or at the `.build` of a builder chain.
        at: Option<usize>,
    },
    /// An error swallowed without a trace (empty catch, `.catch(() => {})`, `Err(_) => {}`).
    SwallowedError {
        what: String,
        /// The front end's edit that logs the error instead, in the file's own syntax.
        fix: Option<FixHint>,
        /// What failed: the calls of the swallowed work, when the front end can tell (a `try`
        /// block, the promise a no-op handler hangs on). `None`: not known (a process-level
        /// handler, Rust's `Err(_) => {}`).
        work: Option<Box<SwallowedWork>>,
    },
    /// A server starts listening (`app.listen`, `axum::serve`); `graceful` when the code wires a
    /// graceful shutdown into it (`.with_graceful_shutdown(..)`).
    ServerStart { api: String, graceful: bool },
    /// The process listens for a signal (`signal(SignalKind::terminate())`, `ctrl_c()`).
    SignalListen { signal: String },
    /// A long-running task is spawned (a body with a loop), cancellable or not (Rust).
    LongTask,
    /// `x = Buffer.concat([x, c])`, `x += chunk`, `v = [v, c].concat()`: the value at `place`
    /// is rebuilt from itself, copying everything accumulated so far.
    Reconcat { place: PlaceRef },
    /// `place` is an element of `Promise.race([...])`.
    Raced {
        place: PlaceRef,
        /// The whole `Promise.race(…)` call, where a fix chains `.finally(…)`.
        call: Range<usize>,
    },
    /// A call of a named function inside `Promise.race([...])`.
    RacedCall { callee: String },
    /// A settle function of an enclosing `new Promise` executor used outside the executor's
    /// timers (TypeScript): the promise can settle this way too; `reject` when it is the
    /// executor's second parameter, so the work can fail, not only succeed.
    SettlesOtherwise { reject: bool },
    /// A call of a function by name (`f()`, `this.m()`), for call-graph lifetimes.
    Call { callee: PlaceRef },
    /// An argument of the `Call` right before it (same span) that names a place
    /// (`catchUpgrade(req.connection.server)`): what the callee's `index`-th parameter is at
    /// this call, so what a callee does to its parameter is judged on the caller's object.
    Arg { index: u8, place: PlaceRef },
    /// An `await` (TypeScript): the rest of the function runs only if the awaited promise
    /// fulfils; a rejection leaves by the nearest `catch`/`finally`, or the caller.
    Await,
    /// `new C(a, b)` (TypeScript): what each argument is, so the project layer can tell whether
    /// a class's constructor parameters are handed objects shared with others (a module-level
    /// emitter, the constructing instance's own field from a method) or owned one-to-one (a
    /// value made for this construction).
    Construct { class: String, args: Vec<PlaceRef> },
    /// A function passed by name as a callback (`wss.on('connection', onConnection)`).
    PassedAsCallback {
        func: PlaceRef,
        registrar: Box<Registrar>,
    },
    /// A spawned task (Rust) running `future`, a type of the file whose `Future::poll` never
    /// returns `Ready`: the task never ends. `func` is the function the spawn is in.
    NeverEndingTask(Box<EndlessTask>),
    /// A raw file descriptor (Rust: `let fd = new_socket(..)?;`, made by the system call `api`)
    /// that an early return (the `?` at `exit`) leaves open: nothing owns or closes it yet.
    RawFdLeak { api: String, exit: Range<usize> },
}

/// `setInterval` / `setTimeout`: a timer whose handle goes to `handle`. Boxed in
/// [`EventKind::Timer`], which is rare: every event is as large as the largest variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimerFacts {
    /// What created it, for messages: `setInterval`, `setTimeout`, `tokio::spawn`.
    pub api: String,
    pub repeat: bool,
    pub handle: PlaceRef,
    /// `.unref()` was called on it.
    pub unref: bool,
    /// A `setTimeout` that re-schedules the function it is in (a timer loop).
    pub reschedules: Option<ScopeId>,
    /// Set when the timer serves as a deadline.
    pub deadline: Option<Deadline>,
    /// The callback scope, when inline or a function passed by name.
    pub callback: Option<ScopeId>,
    /// A task's endless loop receives from a channel and stays in the loop when it is closed
    /// (Rust): once every sender is gone it spins.
    #[serde(default)]
    pub spins_when_closed: bool,
    /// Armed only when the handle is not already set (`if (!this.t) this.t = …`,
    /// `this.t ??= …`): it cannot replace a pending timer.
    #[serde(default)]
    pub guarded: bool,
}

/// A listener registration (boxed in [`EventKind::Listen`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListenFacts {
    pub target: PlaceRef,
    pub method: String,
    pub event: Option<String>,
    pub handler: Handler,
    /// The handler argument as written, where a fix moves it into a field.
    pub handler_span: Option<Range<usize>>,
    pub once: bool,
    /// `{ signal }` in the options: the controller whose `abort()` removes the listener
    /// (`PlaceRef::Unknown` when the signal's origin is not followed).
    pub signal: Option<PlaceRef>,
    /// The event or the handler is the key or item of the loop or `.forEach` around the
    /// registration (`for (const ev in handlers) t.on(ev, handlers[ev])`, `events.forEach((ev)
    /// => t.on(ev, …))`, `listeners.forEach((fn) => t.on('x', fn))`): each iteration registers
    /// a different event or function, so that loop repeats
    /// nothing. The event is then not in that loop (`in_loop` is false for a `for`).
    #[serde(default)]
    pub per_key: bool,
    /// Inside an `if` on the target's connection state (`if (socket.connecting)`,
    /// `.pending`, `.readyState`): registered only while the socket is still being set up
    /// (TypeScript).
    #[serde(default)]
    pub while_connecting: bool,
    /// Inside an `if` that admits each target once: the target is not yet a member of a set
    /// (`if (!seen.has(socket))`, `if (conns.has(req.socket) === false)`), which the guarded
    /// code fills — one registration per target, however often the code runs (TypeScript).
    #[serde(default)]
    pub once_per_target: bool,
    /// The target is a member that the statements just before, in the same block, gave a new
    /// object (`this.bus = new EventBus(); this.bus.on('error', …)`): the listener is on what
    /// this run made, not on an object handed in (TypeScript).
    #[serde(default)]
    pub just_made: bool,
}

/// `off` / `removeListener` / `removeEventListener` (boxed in [`EventKind::Unlisten`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnlistenFacts {
    pub target: PlaceRef,
    pub event: Option<String>,
    pub handler: Handler,
}

/// A spawned task that never ends (boxed in [`EventKind::NeverEndingTask`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndlessTask {
    pub api: String,
    pub handle: PlaceRef,
    pub future: String,
    pub func: String,
}

// Every event is as large as the largest kind, and a project keeps every file's events (139k
// on the benchmark's TS corpus): rare kinds with many fields are boxed so the common ones
// (escapes, calls, callbacks) stay small. Grow a kind past this and box it instead.
const _: () = assert!(std::mem::size_of::<EventKind>() <= 96);
const _: () = assert!(std::mem::size_of::<Event>() <= 176);
// A callback scope's registrar is boxed for the same reason: most scopes are not callbacks.
const _: () = assert!(std::mem::size_of::<Scope>() <= 168);

impl EventKind {
    /// The place an event is about: the handle, target, collection or callee. Rules find
    /// the events on a place through [`FileFacts::events_on`] instead of scanning all events.
    pub fn place(&self) -> Option<&PlaceRef> {
        Some(match self {
            EventKind::Timer(t) => &t.handle,
            EventKind::NeverEndingTask(t) => &t.handle,
            EventKind::StuckTask { handle, .. }
            | EventKind::ClearTimer { handle }
            | EventKind::New { handle, .. } => handle,
            EventKind::Listen(l) => &l.target,
            EventKind::Unlisten(u) => &u.target,
            EventKind::UnlistenAll { target, .. } => target,
            EventKind::Abort { controller } => controller,
            EventKind::Collection { place, .. }
            | EventKind::Grow { place }
            | EventKind::Shrink { place }
            | EventKind::SizeCheck { place }
            | EventKind::Escape { place }
            | EventKind::Raced { place, .. } => place,
            EventKind::Flow { from, .. } => from,
            EventKind::Call { callee } => callee,
            EventKind::PassedAsCallback { func, .. } => func,
            EventKind::Release { place, .. } | EventKind::Reconcat { place } => place,
            EventKind::Stream { handle, .. } => handle,
            EventKind::Pipe { from, .. } => from,
            EventKind::RacedCall { .. }
            | EventKind::Construct { .. }
            | EventKind::SettlesOtherwise { .. }
            | EventKind::Await
            | EventKind::KeptTask { .. }
            | EventKind::UnboundedQueue { .. }
            | EventKind::PiledTasks { .. }
            | EventKind::Exit { .. }
            | EventKind::Forget { .. }
            | EventKind::RawFdLeak { .. }
            | EventKind::CacheCtor { .. }
            | EventKind::SwallowedError { .. }
            | EventKind::ServerStart { .. }
            | EventKind::SignalListen { .. }
            | EventKind::Arg { .. }
            | EventKind::LongTask => return None,
        })
    }
}

/// A language-specific edit a front end proposes (it knows the syntax); the rule decides
/// whether and how to offer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixHint {
    pub range: Range<usize>,
    pub text: String,
}

/// The work whose failure a swallow drops (see `EventKind::SwallowedError`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwallowedWork {
    /// The names of the functions and methods it calls (`unlink`, `hangupCall`, `then`).
    pub calls: Vec<String>,
    /// It runs an immediately invoked function that loops: a background task, which the
    /// failure ends.
    pub background_loop: bool,
    /// The name of the function whose whole body the swallowing statement is (`async hangup()
    /// { await api.update(…).catch(noop) }`): the function is the operation.
    pub whole_body_of: Option<String>,
}

/// Where a fix for an event goes, as data: the spans and facts a fix builder needs that the
/// event's kind and spans do not hold. Front ends record it; they never render the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FixSite {
    /// The whole call the event is about (`tokio::spawn(…)`, `axum::serve(…)`,
    /// `mpsc::unbounded_channel()`, `LruCache::unbounded()`), up to its closing `)`.
    Call { call: Range<usize> },
    /// An endless ticking loop in a spawned task: the statement that ticks
    /// (`ticker.tick().await;`), where a `select!` on a cancellation goes.
    Tick { stmt: Range<usize> },
    /// An `Err(_) => {}` arm (the event spans its pattern): its body, the body's `{`…`}` when it
    /// is a block (`open..close`, the offsets of both braces), and the logger in use there.
    ErrArm {
        body: Range<usize>,
        braces: Option<Range<usize>>,
        logger: Logger,
    },
    /// `x = x + …`, `v = [v.as_slice(), c].concat()`: the whole assignment.
    Assign { assign: Range<usize> },
    /// A receive in an endless task loop whose closed case stays in the loop: where a `break`
    /// goes (see [`ClosedExit`]).
    ClosedRecv { at: Range<usize>, exit: ClosedExit },
}

/// How a closed channel is made to end a task's loop ([`FixSite::ClosedRecv`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClosedExit {
    /// `at` is the closed arm's body (`None => {}`, `Err(e) => warn!(..)`): it ends with `break`.
    Arm,
    /// `at` is the `Err(..)` arm of a broadcast receiver: a `Closed => break` arm goes before
    /// it (a lagging receiver is not a closed one).
    BroadcastArm,
    /// `at` is the block of an `if let` without `else`: an `else { break; }` follows it.
    NoElse,
    /// `at` is an `Err(..)` arm of a receiver that may be a broadcast one (the file names
    /// `broadcast`, the receiver's type is not known): no fix can tell a lag from a close.
    Unsure,
}

/// The logging the code around an event uses: `tracing`, `log`, or neither (standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Logger {
    Tracing,
    Log,
    Stderr,
}

/// Why a `setTimeout` counts as a deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// Lexically inside `Promise.race(...)`.
    pub in_race: bool,
    /// The promise the timer settles, when created by `new Promise`; it counts as a deadline
    /// if that promise is raced (directly, through a variable, or returned by a helper).
    pub promise: Option<PlaceRef>,
    /// The executor also settles the promise another way: a manual race.
    pub manual_race: bool,
    /// The promise is returned from a helper named like a timeout (`withTimeout`, `deadline`).
    pub timeout_helper: bool,
    /// The enclosing `Promise.race(…)` call and the statement holding it, when `in_race`.
    pub race_call: Option<(Range<usize>, Range<usize>)>,
    /// Outside any executor, the callback rejects work that settles elsewhere
    /// (`command.reject(new Error('timed out'))`, TypeScript): a deadline on that work.
    #[serde(default)]
    pub rejects_work: bool,
    /// The `new Promise(executor)` expression the timer is created in, and the statement
    /// holding it, when that statement is in the function evaluating the expression: where a
    /// fix hoists the handle and chains the clear.
    #[serde(default)]
    pub executor: Option<(Range<usize>, Range<usize>)>,
}

/// How a listener's handler is identified, which decides whether a removal can match it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Handler {
    /// A named function or stored value (identifier or `this.field`).
    Named(PlaceRef),
    /// `f.bind(…)`: a new function each time; no removal can match it.
    Bound,
    /// An inline arrow or function expression (its scope).
    Inline(ScopeId),
    /// Something else; matched loosely.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CollectionKind {
    Map,
    Set,
    Array,
    Object,
}

impl CollectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionKind::Map => "Map",
            CollectionKind::Set => "Set",
            CollectionKind::Array => "array",
            CollectionKind::Object => "object",
        }
    }
}

/// How often a scope's body runs over the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Lifetime {
    /// Once at start-up: module top level, `main()`.
    Once,
    /// Nobody in this file says: an exported function with no local caller.
    Unknown,
    /// Once per object: a constructor.
    PerInstance,
    /// Per call of an ordinary method.
    PerCall,
    /// Many times: per connection, request, message, tick, item or loop iteration.
    Repeated,
}

impl FileFacts {
    /// Declares a name in `scope` (no type known yet).
    pub fn add_binding(
        &mut self,
        name: &str,
        scope: ScopeId,
        kind: BindingKind,
        span: Range<usize>,
    ) -> BindingId {
        self.bindings.push(Binding {
            name: name.to_string(),
            scope,
            kind,
            span,
            ty: None,
            block: None,
        });
        self.bindings.len() - 1
    }

    pub fn add_scope(&mut self, scope: Scope) -> ScopeId {
        self.scopes.push(scope);
        self.scopes.len() - 1
    }

    /// Builds the indexes (names, places, lifetimes); call once after the walk.
    pub fn finish(&mut self) {
        // The project phase keeps every file's facts: give back what growing the lists left
        // unused (a quarter of their memory on average).
        self.scopes.shrink_to_fit();
        self.bindings.shrink_to_fit();
        self.classes.shrink_to_fit();
        self.events.shrink_to_fit();
        self.exports.shrink_to_fit();
        self.lookup = NameLookup::build(&self.bindings);
        let mut by_place: FastMap<Place, Vec<usize>> = FastMap::default();
        for (i, e) in self.events.iter().enumerate() {
            if let Some(p) = e.kind.place() {
                let place = self.resolve(p);
                if !matches!(place, Place::Unknown | Place::Argument | Place::Discarded) {
                    by_place.entry(place).or_default().push(i);
                }
            }
        }
        self.by_place = by_place;
        self.compute_lifetimes();
    }

    pub fn resolve(&self, place: &PlaceRef) -> Place {
        match place {
            PlaceRef::Name { name, scope, at } => match self.lookup_at(name, *scope, at.0) {
                Some(b) => Place::Binding(b),
                None => Place::Global(name.clone()),
            },
            PlaceRef::Field { class, name } => Place::Field {
                class: *class,
                name: name.clone(),
            },
            PlaceRef::This { class } => Place::This(*class),
            PlaceRef::Member { base, name } => Place::Member {
                base: Box::new(self.resolve(base)),
                name: name.clone(),
            },
            PlaceRef::Returned(s) => Place::Returned(*s),
            PlaceRef::Argument => Place::Argument,
            PlaceRef::Discarded => Place::Discarded,
            PlaceRef::Unknown => Place::Unknown,
        }
    }

    /// `ancestor` is `scope` or encloses it.
    pub fn is_within(&self, mut scope: ScopeId, ancestor: ScopeId) -> bool {
        loop {
            if scope == ancestor {
                return true;
            }
            match self.scopes.get(scope).and_then(|s| s.parent) {
                Some(p) => scope = p,
                None => return false,
            }
        }
    }

    /// The scopes from `scope` out to the module, innermost first.
    pub fn ancestors(&self, scope: ScopeId) -> impl Iterator<Item = ScopeId> + '_ {
        std::iter::successors(Some(scope), move |&s| {
            self.scopes.get(s).and_then(|s| s.parent)
        })
    }

    /// The scope of the named function or method that encloses `scope` (for "in `start()`").
    pub fn named_owner(&self, scope: ScopeId) -> ScopeId {
        self.ancestors(scope)
            .find(|&s| {
                matches!(
                    self.scopes[s].kind,
                    ScopeKind::Function | ScopeKind::Method { .. }
                ) && self.scopes[s].name.is_some()
            })
            .unwrap_or(scope)
    }

    /// The scope is the module's top level.
    pub fn is_module_scope(&self, scope: ScopeId) -> bool {
        matches!(
            self.scopes.get(scope).map(|s| &s.kind),
            Some(ScopeKind::Module)
        )
    }

    /// A binding declared at module level (including imports).
    pub fn is_module_binding(&self, b: BindingId) -> bool {
        self.bindings
            .get(b)
            .is_some_and(|b| self.is_module_scope(b.scope))
    }

    pub fn is_exported(&self, name: &str) -> bool {
        self.exports.iter().any(|e| e == name)
    }

    /// How often `scope` runs (computed once by [`FileFacts::finish`]).
    pub fn lifetime(&self, scope: ScopeId) -> Lifetime {
        self.lifetimes
            .get(scope)
            .copied()
            .unwrap_or(Lifetime::Unknown)
    }

    /// Computes every scope's lifetime. Callbacks take their registrar's rhythm; named
    /// functions take the rhythm of their callers in this file (a small call graph), so
    /// `main()` called from the top level runs once. Memoised, and a cycle (recursion) adds
    /// nothing, so it is linear in scopes and uses.
    fn compute_lifetimes(&mut self) {
        // Uses of each function binding: calls and passes as a callback.
        let mut uses: HashMap<BindingId, Vec<usize>> = HashMap::new();
        for (i, e) in self.events.iter().enumerate() {
            let p = match &e.kind {
                EventKind::Call { callee } => callee,
                EventKind::PassedAsCallback { func, .. } => func,
                _ => continue,
            };
            if let PlaceRef::Name { .. } = p
                && let Place::Binding(b) = self.resolve(p)
            {
                uses.entry(b).or_default().push(i);
            }
        }
        let n = self.scopes.len();
        let mut memo: Vec<Option<Lifetime>> = vec![None; n];
        let mut visiting = vec![false; n];
        for s in 0..n {
            self.life(s, &uses, &mut memo, &mut visiting);
        }
        self.lifetimes = memo
            .into_iter()
            .map(|l| l.unwrap_or(Lifetime::Unknown))
            .collect();
    }

    fn life(
        &self,
        scope: ScopeId,
        uses: &HashMap<BindingId, Vec<usize>>,
        memo: &mut Vec<Option<Lifetime>>,
        visiting: &mut Vec<bool>,
    ) -> Lifetime {
        if let Some(l) = memo[scope] {
            return l;
        }
        if visiting[scope] {
            // Recursion: the cycle itself adds no new rhythm.
            return Lifetime::Once;
        }
        visiting[scope] = true;
        let l = self.life_uncached(scope, uses, memo, visiting);
        visiting[scope] = false;
        memo[scope] = Some(l);
        l
    }

    fn life_uncached(
        &self,
        scope: ScopeId,
        uses: &HashMap<BindingId, Vec<usize>>,
        memo: &mut Vec<Option<Lifetime>>,
        visiting: &mut Vec<bool>,
    ) -> Lifetime {
        let s = &self.scopes[scope];
        let parent = |memo: &mut Vec<Option<Lifetime>>, visiting: &mut Vec<bool>| {
            s.parent
                .map_or(Lifetime::Once, |p| self.life(p, uses, memo, visiting))
        };
        if s.in_loop {
            // A loop in code that runs once is a finite start-up loop.
            let p = parent(memo, visiting);
            return if p == Lifetime::Once {
                Lifetime::Once
            } else {
                Lifetime::Repeated
            };
        }
        match &s.kind {
            ScopeKind::Module => Lifetime::Once,
            ScopeKind::Method { constructor, .. } => {
                if *constructor {
                    Lifetime::PerInstance
                } else {
                    Lifetime::PerCall
                }
            }
            ScopeKind::Callback(r) => match r.kind {
                CallbackKind::EventHandler | CallbackKind::Route | CallbackKind::Interval => {
                    Lifetime::Repeated
                }
                // Like a loop: `.forEach` over a table in code that runs once is a finite
                // start-up loop (filling a lookup table at module load).
                CallbackKind::Iteration => match parent(memo, visiting) {
                    Lifetime::Once => Lifetime::Once,
                    _ => Lifetime::Repeated,
                },
                CallbackKind::OnceHandler
                | CallbackKind::Deferred
                | CallbackKind::PromiseExecutor
                | CallbackKind::Continuation
                | CallbackKind::Other => parent(memo, visiting),
            },
            ScopeKind::Function => {
                let at_module = s.parent.is_some_and(|p| self.is_module_scope(p));
                let used = self.uses_lifetime(scope, uses, memo, visiting);
                if !at_module {
                    // A nested helper runs when its enclosing function does (or more often).
                    return parent(memo, visiting).max(used.unwrap_or(Lifetime::Once));
                }
                if let Some(name) = &s.name
                    && matches!(name.as_str(), "main" | "bootstrap")
                {
                    return Lifetime::Once;
                }
                match used {
                    Some(Lifetime::Once)
                        if s.name.as_deref().is_some_and(|n| self.is_exported(n)) =>
                    {
                        // Exported: callers elsewhere may call it again.
                        Lifetime::Unknown
                    }
                    Some(l) => l,
                    None => Lifetime::Unknown,
                }
            }
        }
    }

    /// The longest-running rhythm among the places a named function is used: called from a
    /// scope, or passed as a callback. `None` when it is never used in this file.
    fn uses_lifetime(
        &self,
        scope: ScopeId,
        uses: &HashMap<BindingId, Vec<usize>>,
        memo: &mut Vec<Option<Lifetime>>,
        visiting: &mut Vec<bool>,
    ) -> Option<Lifetime> {
        let s = &self.scopes[scope];
        let name = s.name.as_deref()?;
        let binding = self.lookup(name, s.parent?)?;
        let mut result: Option<Lifetime> = None;
        for &i in uses.get(&binding)? {
            let e = &self.events[i];
            if self.is_within(e.scope, scope) {
                continue; // recursion
            }
            let l = match &e.kind {
                EventKind::PassedAsCallback { registrar, .. }
                    if matches!(
                        registrar.kind,
                        CallbackKind::EventHandler
                            | CallbackKind::Route
                            | CallbackKind::Interval
                            | CallbackKind::Iteration
                    ) =>
                {
                    Lifetime::Repeated
                }
                // Called under a module-level flag that the call sets (a memo: `if (!impl) {
                // impl = select(); }`): once per process, however often its caller runs.
                _ if self.latched_per_process(e) => Lifetime::Once,
                _ => {
                    let at = self.life(e.scope, uses, memo, visiting);
                    if e.in_loop && at != Lifetime::Once {
                        Lifetime::Repeated
                    } else {
                        at
                    }
                }
            };
            result = Some(result.map_or(l, |r| r.max(l)));
        }
        result
    }

    /// Events whose primary place (see [`EventKind::place`]) resolves to `place`.
    pub fn events_on<'a>(&'a self, place: &Place) -> impl Iterator<Item = &'a Event> + 'a {
        self.by_place
            .get(place)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.events[i])
    }

    /// The method scope of a class that encloses `scope` (or is it).
    pub fn enclosing_method(&self, scope: ScopeId) -> Option<ScopeId> {
        self.ancestors(scope)
            .find(|&s| matches!(self.scopes[s].kind, ScopeKind::Method { .. }))
    }
}

/// The last name of a place (`this.sessions`, `state.sessions` → `sessions`; `X` → `X`), for
/// Rust, where a struct's fields are reached through typed bindings unleak does not resolve:
/// growth and shrinkage of a field are matched by field name across the project.
/// A local variable is not a field: only fields, statics and undeclared (other-module) names
/// count.
pub fn place_name(place: &Place, facts: &FileFacts) -> Option<String> {
    match place {
        Place::Field { name, .. } | Place::Member { name, .. } => Some(name.clone()),
        Place::Binding(b) if facts.is_module_binding(*b) => {
            facts.bindings.get(*b).map(|b| b.name.clone())
        }
        Place::Global(g) => Some(g.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teardown_names_by_words() {
        for yes in [
            "close",
            "dispose",
            "stopHeartbeat",
            "onClose",
            "handle_disconnect",
            "cleanUp",
            "tearDown",
            "shutdownAll",
            "end",
            "Dispose",
            "drain",
        ] {
            assert!(is_teardown_name(yes), "{yes}");
        }
        for no in [
            "append",
            "sendAudio",
            "connect",
            "start",
            "closest",
            "endpoint",
            "render",
            "onDrain",
            "drainQueue",
        ] {
            assert!(!is_teardown_name(no), "{no}");
        }
    }

    #[test]
    fn words_split_camel_and_snake() {
        let w: Vec<String> = words("parseHTTPRequest_now").collect();
        assert_eq!(w, ["parse", "http", "request", "now"]);
    }
}
