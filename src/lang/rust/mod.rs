//! Rust front end: syn parse, then one `Visit` pass that lowers the file into [`FileFacts`].
//!
//! The same events as TypeScript, with Rust meanings: a spawned task whose body loops forever
//! on a tick with no cancellation is a repeating timer (`Timer { repeat: true }`); a spawned
//! body that sleeps and then signals is a deadline timer; `handle.abort()` / `handle.await` /
//! `set.abort_all()` clear them; `push`/`insert` grow and `remove`/`retain` shrink collections;
//! client constructors are `New { factory: true }` with the full path as class. Task shapes
//! (endless loop, ticks, cancellation) are computed bottom-up during the same pass.
//!
//! syn fails on the whole file at the first error: that is one `parse-error` for the file.
//! syn drops comments; anything that reads comments reads the source text.
//!
//! The front end records facts only, never rendered code: where a fix would go is a
//! [`FixSite`] on the event, and `crate::fixes::rust` builds the fix from it.
//!
//! Layout: this file holds the entry point and the walker's state; [`guard`] the parse with its
//! nesting guard; [`spans`] byte ranges of syntax nodes; [`syntax`] small syntax predicates;
//! [`walk`] scopes, bindings and places; [`visit`] the `Visit` pass; [`shape`] what a task body
//! does; [`calls`] what a call acquires or releases, by API family; [`errors`] swallowed errors.

mod calls;
mod endless;
mod errors;
mod guard;
mod kept;
mod lent;
mod nesting;
mod piles;
mod queues;
mod rawfd;
mod shape;
mod spans;
mod spin;
mod stuck;
mod syntax;
mod visit;
mod walk;

use std::collections::HashMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use syn::visit::Visit;

use crate::facts::*;

use guard::parse_guarded;
pub use nesting::nesting_score;
use spans::AsciiLines;

/// Why a Rust file could not be lowered.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RustParseError {
    pub message: String,
    pub range: Range<usize>,
    /// It ran out of time: a fact about the machine, not the file.
    pub timed_out: bool,
}

/// Deepest nesting score (see [`nesting_score`]) handed to syn. syn's parser and the lowering
/// walk recurse once per level and overflow even a large stack somewhere past ten thousand
/// levels (a debug build spends up to ~36 KiB of stack per `&` of a `& & & … T` type); deeper
/// files are reported, not parsed. Real code stays far below: the deepest of 13,604 source
/// files of 300-odd crates.io packages scores 384; a 600-call builder chain about 1,800.
pub const MAX_NESTING: usize = 3_000;

/// Parses and lowers one Rust file (no time limit).
pub fn lower(text: &str) -> Result<FileFacts, RustParseError> {
    lower_within(text, Duration::MAX)
}

/// Parses and lowers one Rust file, giving up (an error) when it nests deeper than
/// [`MAX_NESTING`] or when lowering takes longer than `budget`.
pub fn lower_within(text: &str, budget: Duration) -> Result<FileFacts, RustParseError> {
    let deadline = Instant::now().checked_add(budget);
    let _lines = AsciiLines::set(text);
    let result = parse_guarded(text).and_then(|file| {
        let mut w = Walker::new(text);
        w.deadline = deadline;
        w.visit_file(&file);
        if w.timed_out {
            return Err(RustParseError {
                message: format!(
                    "timed out: parsing and analysing took longer than the per-file budget of \
                     {budget:?}; file skipped"
                ),
                range: 0..0,
                timed_out: true,
            });
        }
        w.finish();
        w.mark_checked_caches();
        queues::pace(&file, text, &mut w.facts);
        stuck::mark(&file, &mut w.facts);
        endless::mark(&file, text, &mut w.facts);
        rawfd::mark(&file, text, &mut w.facts);
        kept::mark(&file, &mut w.facts);
        piles::mark(&file, text, &mut w.facts);
        let mut facts = w.facts;
        facts.finish();
        // Growth through `&mut` loans reads the indexed facts, and adds to them.
        if lent::grow(&mut facts) {
            facts.finish();
        }
        Ok(facts)
    });
    // The span map grows with every parse on this thread: reset it so a long-running process
    // (the LSP, a big run) neither leaks nor drifts.
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

/// What a task body does, gathered while walking it.
#[derive(Debug, Default, Clone)]
struct Shape {
    /// A `loop`/`while true` with no reachable exit that ticks or sleeps, and no cancellation.
    endless_tick_loop: bool,
    /// Sleeps, then signals (send, notify, store, callback), without looping.
    sleep_then_signal: bool,
    /// Loops of any kind.
    loops: u32,
    /// Of those, loops over a range or an array literal (`for i in 0..n`): any other loop makes
    /// the task long-lived.
    counted_loops: u32,
    sleeps: bool,
    /// The first statement that ticks (`ticker.tick().await;`), for a fix that selects on a
    /// cancellation next to it.
    tick_stmt: Option<Range<usize>>,
    /// An endless loop with no exit whose receive stays in it when the channel closes: where a
    /// `break` would go.
    spin_site: Option<FixSite>,
}

/// A loop being walked.
#[derive(Debug, Default)]
struct LoopState {
    exits: bool,
    ticks: bool,
    cancels: bool,
    endless_kind: bool,
    /// `while running`: the variable the condition reads; assigned in the loop → it can end.
    cond_var: Option<String>,
    assigned: bool,
    /// A receive whose closed case stays in the loop: where a `break` would go.
    spin: Option<FixSite>,
}

/// A spawn whose body shape is known only after the walk (a named async fn).
struct PendingSpawn {
    event: usize,
    body_fn: String,
}

struct Walker {
    facts: FileFacts,
    scope: ScopeId,
    class: Option<ClassId>,
    in_loop: bool,
    loop_span: Option<Range<usize>>,
    /// The innermost statement being walked, for [`Event::stmt`].
    stmt: Option<Range<usize>>,
    /// `use` map: local name → full path.
    uses: HashMap<String, String>,
    loops: Vec<LoopState>,
    /// Per open function-like scope: its shape so far.
    shapes: Vec<(ScopeId, Shape)>,
    /// Shapes of finished scopes.
    done_shapes: HashMap<ScopeId, Shape>,
    pending: Vec<PendingSpawn>,
    /// `let fut = async { … };`: (the enclosing scope, the local) → the async block's scope,
    /// so `spawn(fut)` is judged by that block's shape.
    async_locals: HashMap<(ScopeId, String), ScopeId>,
    /// Inside a `LazyLock`/`OnceLock`/`OnceCell` initialiser.
    lazy_init: u32,
    /// Inside `unsafe` code (an `unsafe fn` or block).
    unsafe_depth: u32,
    /// The source mentions `tracing::` / `log::` (with the `use` map: the logger in use).
    mentions_tracing: bool,
    /// Names of broadcast receivers (a parameter typed `broadcast::Receiver<..>`, a local from
    /// `tx.subscribe()`): their `Err` may be a lag, not a close.
    broadcast_rx: std::collections::HashSet<String>,
    /// The file names `broadcast`: a receiver of unknown type may be one.
    names_broadcast: bool,
    mentions_log: bool,
    /// Per spawn event: the whole `spawn(…)` call, for its fix site.
    spawn_calls: HashMap<usize, Range<usize>>,
    /// Lock guards bound to a local (`let mut g = STATE.lock().unwrap();`): name → the guarded
    /// place and the scope of the `let`. Growth or shrinking through `g` is the place's.
    guards: HashMap<String, (PlaceRef, ScopeId)>,
    /// Locals holding a collection's size (`let n = g.len() + 1;`): name → the collection's
    /// place and the scope of the `let`. Comparing them is a size check of the place.
    len_locals: HashMap<String, (PlaceRef, ScopeId)>,
    /// `cache: LruCache::unbounded()`: the cache event and the place it is stored in, for
    /// [`Walker::mark_checked_caches`].
    cache_places: Vec<(usize, PlaceRef)>,
    /// The `spawn(…)` call about to be recorded.
    next_spawn_call: Option<Range<usize>>,
    /// When lowering must stop (the per-file time budget); checked every few hundred nodes.
    deadline: Option<Instant>,
    ticks: u32,
    timed_out: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timers(src: &str) -> Vec<(bool, bool, Place)> {
        let f = lower(src).unwrap();
        f.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Timer(t) => Some((t.repeat, t.deadline.is_some(), f.resolve(&t.handle))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn endless_ticking_spawn_is_a_repeating_timer_unless_cancellable() {
        let leak = "fn main() { tokio::spawn(async move { let mut i = tokio::time::interval(d); loop { i.tick().await; work(); } }); }";
        assert_eq!(timers(leak), vec![(true, false, Place::Discarded)]);
        let ok = "fn main() { let t = token.clone(); tokio::spawn(async move { loop { tokio::select! { _ = t.cancelled() => break, _ = i.tick() => work() } } }); }";
        assert!(timers(ok).is_empty());
        let exits = "fn main() { tokio::spawn(async move { loop { sleep(d).await; if tx.send(1).await.is_err() { break; } } }); }";
        assert!(timers(exits).is_empty());
    }

    #[test]
    fn detached_sleep_then_signal_is_a_deadline_timer() {
        let src = "use tokio::time::sleep; fn f(tx: Sender<()>) { tokio::spawn(async move { sleep(Duration::from_secs(5)).await; let _ = tx.send(()); }); }";
        assert_eq!(timers(src), vec![(false, true, Place::Discarded)]);
    }

    #[test]
    fn spawn_of_a_named_fn_is_judged_by_its_body() {
        let src = "async fn beat(s: S) { loop { sleep(D).await; s.ping(); } }\nfn main() { tokio::spawn(beat(s)); }";
        assert_eq!(timers(src), vec![(true, false, Place::Discarded)]);
    }

    #[test]
    fn parse_errors_carry_a_location() {
        let e = lower("fn main() { let x = ; }").unwrap_err();
        assert!(e.range.start > 0 && e.message.contains("not valid Rust"));
    }

    #[test]
    fn use_map_expands_paths_and_finds_clients_and_channels() {
        let src = "use reqwest::Client;\nuse tokio::sync::mpsc;\nasync fn h() { let c = Client::new(); let (tx, rx) = mpsc::unbounded_channel::<u8>(); }";
        let f = lower(src).unwrap();
        assert!(f.events.iter().any(
            |e| matches!(&e.kind, EventKind::New { class, .. } if class == "reqwest::Client")
        ));
        assert!(
            f.events
                .iter()
                .any(|e| matches!(&e.kind, EventKind::UnboundedQueue { .. }))
        );
    }
}

#[cfg(test)]
mod handle_tests {
    use super::*;

    #[test]
    fn a_handle_taken_out_of_a_field_flows_to_the_local() {
        let src = "struct A { t: Option<JoinHandle<()>> }\nimpl A {\n    fn stop(&mut self) { if let Some(t) = self.t.take() { t.abort(); } }\n}";
        let f = lower(src).unwrap();
        let flow = f.events.iter().find_map(|e| match &e.kind {
            EventKind::Flow { from, to } => Some((f.resolve(from), f.resolve(to))),
            _ => None,
        });
        let Some((Place::Field { name, .. }, Place::Binding(b))) = flow else {
            panic!("no flow: {:?}", f.events);
        };
        assert_eq!(name, "t");
        assert_eq!(f.bindings[b].name, "t");
        assert!(f.events.iter().any(|e| matches!(&e.kind, EventKind::ClearTimer { handle } if f.resolve(handle) == Place::Binding(b))));
    }
}

#[cfg(test)]
mod adapter_tests {
    use super::*;

    #[test]
    fn adapter_constructions_are_recorded_with_their_slot() {
        let src = "struct B { speech: SpeechSession }\nimpl B {\n    pub fn restart(&mut self) {\n        self.speech = SpeechSession::new(&self.url);\n    }\n}";
        let f = lower(src).unwrap();
        let news: Vec<_> = f
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::New { class, handle, .. } => Some((class.clone(), f.resolve(handle))),
                _ => None,
            })
            .collect();
        assert!(
            matches!(news.as_slice(), [(c, Place::Field { name, .. })] if c == "SpeechSession::new" && name == "speech"),
            "{news:?}"
        );
    }
}
