//! The rules, one file each, and what they share: the rule trait, the contexts they read, and
//! the judgments several rules make the same way (does a release reach the owner's teardown?).

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Severity};
use crate::facts::{
    BindingKind, ClassId, EventKind, FileFacts, Lifetime, ListenFacts, Place, PlaceRef, ScopeId,
    ScopeKind, TimerFacts, is_teardown_name,
};
use crate::fixes::rust as rust_fixes;

mod test_files;
pub use test_files::{is_test, is_test_file};
pub mod buffer_concat_in_loop;
pub mod constructions;
pub mod duplicate_adapter;
pub mod duplicate_client;
pub mod factory_callers;
pub mod fixes;
mod handed_back;
pub mod inputs;
mod interval_fixes;
mod kept_keys;
pub mod listener_fixes;
mod listener_loops;
mod listener_registry;
pub mod listener_scopes;
mod listener_settles;
pub mod listener_suggest;
mod listener_targets;
mod listener_then;
pub mod missing_graceful_shutdown;
mod once_listeners;
pub mod orphaned_interval;
mod overwritten_client;
mod pending_replies;
mod session_growth;
pub mod silent_error;
pub mod unbounded_cache;
pub mod unbounded_collection;
pub mod uncleared_timeout;
pub mod unclosed_stream;
pub mod unremoved_listener;

/// What a rule is, for `unleak rules`, docs and output formats.
#[derive(Debug)]
pub struct RuleMeta {
    /// Kebab-case, stable forever.
    pub id: &'static str,
    /// One line: what the rule finds.
    pub summary: &'static str,
    pub severity: Severity,
    /// Languages the rule has a half for.
    pub languages: &'static [Lang],
    /// What the rule judges at once: one file, or the whole project's facts.
    pub scope: RuleScope,
    /// The best fix the rule offers on TypeScript/JavaScript, and on Rust (some shapes of a
    /// rule may offer less).
    pub fix_ts: Fixability,
    pub fix_rust: Fixability,
}

/// A language a rule has a half for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    TypeScript,
    JavaScript,
    Rust,
}

/// Every language unleak reads.
pub const ALL_LANGUAGES: &[Lang] = &[Lang::TypeScript, Lang::JavaScript, Lang::Rust];

/// What a rule judges at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleScope {
    File,
    Project,
}

/// What kind of fix a rule offers, from none to one `--fix` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fixability {
    None,
    /// A patch to read, never applied.
    Suggestion,
    /// Applied with `--fix --unsafe-fixes`.
    Unsafe,
    /// Applied with `--fix`.
    Safe,
}

impl Fixability {
    pub fn as_str(self) -> &'static str {
        match self {
            Fixability::None => "none",
            Fixability::Suggestion => "suggestion",
            Fixability::Unsafe => "unsafe",
            Fixability::Safe => "safe",
        }
    }
}

impl RuleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleScope::File => "file",
            RuleScope::Project => "project",
        }
    }
}

impl RuleMeta {
    /// A finding of this rule at `range` of `file`, with its default severity (the
    /// configuration may change it later): the header every rule's diagnostics share.
    pub fn report(
        &'static self,
        file: impl Into<PathBuf>,
        range: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(self.id, self.severity, file.into(), range, message)
    }

    pub fn is_project(&self) -> bool {
        self.scope == RuleScope::Project
    }

    /// The third line of `rules/<id>.md`, made from this metadata (a test holds the docs to
    /// it): "Language: TypeScript/JavaScript, Rust · Default severity: warning · Fix: unsafe".
    pub fn doc_header(&self) -> String {
        let ts = self.languages.contains(&Lang::TypeScript);
        let rust = self.languages.contains(&Lang::Rust);
        let langs = match (ts, rust) {
            (true, true) => "TypeScript/JavaScript, Rust",
            (true, false) => "TypeScript/JavaScript",
            _ => "Rust",
        };
        let fix = if !ts || !rust || self.fix_ts == self.fix_rust {
            (if ts { self.fix_ts } else { self.fix_rust })
                .as_str()
                .to_string()
        } else {
            format!(
                "{} (TypeScript/JavaScript); {} (Rust)",
                self.fix_ts.as_str(),
                self.fix_rust.as_str()
            )
        };
        format!(
            "Language: {langs} · Default severity: {} · Fix: {fix}",
            self.severity.as_str()
        )
    }
}

/// One file as the rules see it: its facts, never its tree.
pub struct FileCtx<'a> {
    pub path: &'a Path,
    /// The text, for building fixes (judgments read `facts`).
    pub source: &'a str,
    pub facts: &'a FileFacts,
    pub options: &'a RuleOptions,
    /// The file holds tests (see [`is_test_file`]), which some rules skip.
    pub is_test: bool,
    /// When the file's analysis must end (its share of the per-file budget): rules check
    /// [`FileCtx::out_of_time`] as they go and stop; the engine reports a `timeout`.
    pub deadline: Option<std::time::Instant>,
}

impl FileCtx<'_> {
    /// The file's time budget is spent: stop, and leave the rest unreported.
    pub fn out_of_time(&self) -> bool {
        let Some(deadline) = self.deadline else {
            return false;
        };
        // Rules ask once per event: read the clock on one call in 64 (a budget is seconds,
        // 64 events are microseconds), which took the clock off the profile of big files.
        thread_local! {
            static ASKED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        }
        let n = ASKED.get().wrapping_add(1);
        ASKED.set(n);
        n % 64 == 0 && std::time::Instant::now() > deadline
    }

    /// The file's time budget is spent, by the clock now (for the engine, after each rule:
    /// a rule that stopped early saw this too).
    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| std::time::Instant::now() > d)
    }
}

/// The project: every file, with what each says for the project rules ([`inputs`]) and the
/// joins built from those on first use, shared by the rules (and by the threads of the
/// per-file pass).
pub struct ProjectCtx<'a> {
    pub files: &'a [ProjectFile],
    pub options: &'a RuleOptions,
    joins: inputs::Joins<'a>,
}

impl<'a> ProjectCtx<'a> {
    pub fn new(files: &'a [ProjectFile], options: &'a RuleOptions) -> ProjectCtx<'a> {
        ProjectCtx {
            files,
            options,
            joins: inputs::Joins::default(),
        }
    }

    /// The project's summaries (built once, on the first rule that asks).
    pub fn summaries(&self) -> &crate::summaries::ProjectSummaries {
        self.joins
            .summaries
            .get_or_init(|| crate::summaries::ProjectSummaries::build(self))
    }

    /// The file at `path`, if it is one of the project's.
    pub fn file(&self, path: &Path) -> Option<&'a ProjectFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

#[derive(Debug)]
pub struct ProjectFile {
    pub path: PathBuf,
    /// The file holds tests (see [`is_test_file`]), which some rules skip.
    pub is_test: bool,
    pub is_rust: bool,
    /// What every project rule reads of every file (see [`inputs`]).
    pub inputs: std::sync::Arc<inputs::ProjectInputs>,
    /// Shared with the file's analysis, which a long-running front end keeps between runs
    /// (live) and a batch run packs (see [`crate::kept`]).
    facts: crate::kept::KeptFacts,
    source: crate::kept::KeptSource,
    /// What identifies the file's analysis in the cache (`None`: no cache, or not cacheable).
    pub key: Option<u128>,
}

thread_local! {
    /// While one file's project findings are made: the analyses of the files whose facts or
    /// text the rules read (see [`tracking_reads`]).
    static READS: std::cell::RefCell<Option<Vec<Option<u128>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` and says which files' facts or text it read (their analysis keys; `None` for a file
/// without one), so findings can be reused while those files stay the same. Rules read other
/// files only through [`ProjectFile::facts`] and [`ProjectFile::source`] (and the inputs, which
/// the cache hashes whole), and do not hand work to other threads.
pub fn tracking_reads<T>(f: impl FnOnce() -> T) -> (T, Vec<Option<u128>>) {
    let outer = READS.with_borrow_mut(|r| r.replace(Vec::new()));
    let out = f();
    let reads = READS
        .with_borrow_mut(|r| std::mem::replace(r, outer))
        .unwrap_or_default();
    (out, reads)
}

impl ProjectFile {
    pub fn new(
        source: crate::kept::KeptSource,
        facts: crate::kept::KeptFacts,
        inputs: std::sync::Arc<inputs::ProjectInputs>,
        is_test: bool,
        key: Option<u128>,
    ) -> ProjectFile {
        ProjectFile {
            path: source.path().to_path_buf(),
            is_test,
            is_rust: inputs.is_rust,
            inputs,
            facts,
            source,
            key,
        }
    }

    fn note_read(&self) {
        READS.with_borrow_mut(|r| {
            if let Some(r) = r {
                r.push(self.key);
            }
        });
    }

    /// The length of the file's text, in bytes.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// A live file from its source and facts (tests; front ends go through the engine).
    pub fn from_parts(
        source: crate::source::SourceFile,
        facts: FileFacts,
        options: &RuleOptions,
    ) -> ProjectFile {
        let inputs = inputs::ProjectInputs::build(&facts, &source.text, options);
        let is_test = is_test(&source.path, &inputs, None);
        ProjectFile::new(
            crate::kept::KeptSource::live(std::sync::Arc::new(source)),
            crate::kept::KeptFacts::live(std::sync::Arc::new(facts)),
            std::sync::Arc::new(inputs),
            is_test,
            None,
        )
    }

    /// The file's facts, unpacked if need be: hold them while reporting in this file, not
    /// across the project (a packed file's facts are freed when the last holder lets go).
    pub fn facts(&self) -> std::sync::Arc<FileFacts> {
        self.note_read();
        self.facts.get()
    }

    /// The file's source (text and line index), as [`ProjectFile::facts`].
    pub fn source(&self) -> std::sync::Arc<crate::source::SourceFile> {
        self.note_read();
        self.source.get()
    }
}

/// Options rules read (configuration arrives in a later issue; defaults live here).
#[derive(Debug, Clone, Default)]
pub struct RuleOptions {
    /// Extra words that make a method a teardown, beyond [`crate::facts::TEARDOWN_WORDS`].
    pub extra_teardown_words: Vec<String>,
    /// Extra client constructors (class or factory names) for duplicate-client.
    pub extra_clients: Vec<String>,
}

impl RuleOptions {
    pub fn is_teardown(&self, name: &str) -> bool {
        is_teardown_name(name)
            || crate::facts::words(name).any(|w| self.extra_teardown_words.contains(&w))
    }
}

/// A rule. File rules implement `check_file`; project rules `check_project`.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check_file(&self, _ctx: &FileCtx) -> Vec<Diagnostic> {
        Vec::new()
    }
    /// Project rules: findings in one file of the project, given what the whole project says
    /// (`ctx`: its inputs and the joins built from them). The engine runs this for every file
    /// in parallel, with the file's facts and source unpacked once for all the rules.
    fn check_project_file(
        &self,
        _ctx: &ProjectCtx,
        _file: &ProjectFile,
        _facts: &FileFacts,
        _src: &crate::source::SourceFile,
    ) -> Vec<Diagnostic> {
        Vec::new()
    }
    /// Project rules: whether `check_project_file` may report from this event of its file (the
    /// event it starts from: a registration, a collection, …). A file with none of any rule's is
    /// not unpacked for the project pass; `project_pass`'s tests check the claim on the fixtures.
    fn reports_from(&self, _e: &crate::facts::Event) -> bool {
        false
    }
    /// Project rules: findings that join several files (one server start and every file's
    /// shutdown handler), read from the inputs; a file's facts are unpacked only to report in it.
    fn check_project(&self, _ctx: &ProjectCtx) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// A short description of a resolved place for messages: "module-level `timer`",
/// "`this.heartbeat`", "the global `process`".
pub fn describe_place(facts: &FileFacts, place: &Place) -> String {
    match place {
        Place::Binding(b) => {
            let binding = &facts.bindings[*b];
            match &binding.kind {
                BindingKind::Import { source, .. } => {
                    format!("`{}` (imported from '{}')", binding.name, source)
                }
                _ if facts.is_module_scope(binding.scope) => {
                    format!("module-level `{}`", binding.name)
                }
                BindingKind::Param => format!("parameter `{}`", binding.name),
                _ => format!("local `{}`", binding.name),
            }
        }
        Place::Global(g) => format!("the global `{g}`"),
        Place::Field { class, name } => {
            let c = facts.classes[*class]
                .name
                .as_deref()
                .unwrap_or("this class");
            format!("`{}` of `{c}`", member(self_kw(facts), name))
        }
        Place::Member { base, name } => format!("`{}`", member(&place_text(facts, base), name)),
        Place::This(_) => "`this`".into(),
        _ => "an untracked place".into(),
    }
}

/// The place as code: `timer`, `this.timer`, `a.b`.
pub fn place_text(facts: &FileFacts, place: &Place) -> String {
    match place {
        Place::Binding(b) => facts.bindings[*b].name.clone(),
        Place::Global(g) => g.clone(),
        Place::Field { name, .. } => member(self_kw(facts), name),
        Place::Member { base, name } => member(&place_text(facts, base), name),
        Place::This(_) => "this".into(),
        _ => "handle".into(),
    }
}

/// `base.name` as code, or `base[kName]` for a member under a symbol key (whose name keeps its
/// brackets: `[kName]`).
pub fn member(base: &str, name: &str) -> String {
    if name.starts_with('[') {
        format!("{base}{name}")
    } else {
        format!("{base}.{name}")
    }
}

/// The receiver keyword of the file's language: `self` in Rust, `this` in TypeScript.
pub fn self_kw(facts: &FileFacts) -> &'static str {
    if facts.is_rust { "self" } else { "this" }
}

/// A short name for a scope, for labels: "`close()`", "the 'connection' handler of `wss`".
pub fn describe_scope(facts: &FileFacts, scope: ScopeId) -> String {
    let s = &facts.scopes[scope];
    match &s.kind {
        ScopeKind::Module => "the module top level".into(),
        ScopeKind::Method {
            constructor: true, ..
        } => {
            let c = s
                .class
                .and_then(|c| facts.classes[c].name.as_deref())
                .unwrap_or("the class");
            format!("the constructor of `{c}`")
        }
        ScopeKind::Callback(r) => match &r.event {
            Some(ev) if r.method != "setTimeout" && r.method != "setInterval" => {
                format!("the '{ev}' callback of `{}`", r.callee)
            }
            _ => match &s.name {
                Some(n) => format!("`{n}()`"),
                None => format!("the callback passed to `{}`", r.callee),
            },
        },
        _ => match &s.name {
            Some(n) => format!("`{n}()`"),
            None => "an anonymous function".into(),
        },
    }
}

/// The scope of the named function or method that encloses `scope` (for "in `start()`").
pub fn named_owner(facts: &FileFacts, scope: ScopeId) -> ScopeId {
    facts.named_owner(scope)
}

/// `scope` is, or is inside, a teardown of class `class`: a teardown-named method, or a
/// close-like event handler registered inside the class.
pub fn in_class_teardown(
    facts: &FileFacts,
    scope: ScopeId,
    class: ClassId,
    options: &RuleOptions,
) -> bool {
    runs_during(facts, scope, 0, &|s| {
        // A close handler written as a `function` (ES5: `socket.once('close', function () {
        // clearTimeout(self._t) })`) has a `this` of its own, but is registered by the class.
        let of_class = facts.scopes[s].class == Some(class)
            || (matches!(facts.scopes[s].kind, ScopeKind::Callback(_))
                && facts
                    .enclosing_method(s)
                    .is_some_and(|m| facts.scopes[m].class == Some(class)));
        of_class && facts.is_teardown_scope(s, &|n| options.is_teardown(n))
    })
}

/// How many calls deep a teardown is followed (`close()` → `this.stopTimers()` → …).
const CALL_DEPTH: u32 = 4;

/// `scope` runs during a scope that `is_teardown` accepts: it is inside one, or inside a
/// named function or method that one calls (`close() { this.clearRefresh() }`), a few calls deep.
/// Breadth first over callers, each scope looked at once (at its fewest calls from `scope`): a
/// depth-first walk re-explored every path, exponential in a dense call graph (a class whose
/// 150 methods call each other took minutes).
pub fn runs_during(
    facts: &FileFacts,
    scope: ScopeId,
    depth: u32,
    is_teardown: &dyn Fn(ScopeId) -> bool,
) -> bool {
    let mut seen: std::collections::HashSet<ScopeId> = std::collections::HashSet::new();
    let mut frontier = vec![scope];
    let mut depth = depth;
    while !frontier.is_empty() {
        let mut callers = Vec::new();
        for start in frontier {
            for s in facts.ancestors(start) {
                if !seen.insert(s) {
                    break; // it and its ancestors were looked at already, as close or closer
                }
                if is_teardown(s) {
                    return true;
                }
                if depth >= CALL_DEPTH {
                    continue;
                }
                let sc = &facts.scopes[s];
                let Some(name) = sc.name.as_deref() else {
                    continue;
                };
                if !matches!(sc.kind, ScopeKind::Function | ScopeKind::Method { .. }) {
                    continue;
                }
                // How callers name it: `this.name()` for a method (or a field arrow), `name()`
                // for a function.
                let mut callee_places = Vec::new();
                if let Some(class) = sc.class {
                    callee_places.push(Place::Field {
                        class,
                        name: name.to_string(),
                    });
                }
                if let Some(p) = sc.parent
                    && let Some(b) = facts.lookup(name, p)
                {
                    callee_places.push(Place::Binding(b));
                }
                for place in &callee_places {
                    for call in facts.events_on(place) {
                        if !matches!(call.kind, EventKind::Call { .. }) {
                            continue;
                        }
                        if facts.is_within(call.scope, s) {
                            // A call of itself is recursion, unless a teardown the function
                            // set up makes it directly (`this.once('close', () =>
                            // this.setPollInterval(0))`): it runs again when the owner ends. From
                            // a timer inside that handler it is a later re-run (a reconnect).
                            if call.scope != s && is_teardown(call.scope) {
                                return true;
                            }
                        } else if !seen.contains(&call.scope) {
                            callers.push(call.scope);
                        }
                    }
                }
            }
        }
        frontier = callers;
        depth += 1;
    }
    false
}

/// `scope` is inside a module-level shutdown path: an exported function, a teardown-named
/// function, or a close/signal handler.
pub fn in_module_teardown(facts: &FileFacts, scope: ScopeId, options: &RuleOptions) -> bool {
    runs_during(facts, scope, 0, &|s| {
        let sc = &facts.scopes[s];
        let exported = matches!(sc.kind, ScopeKind::Function)
            && sc.parent.is_some_and(|p| facts.is_module_scope(p))
            && sc.name.as_deref().is_some_and(|n| facts.is_exported(n));
        exported || facts.is_teardown_scope(s, &|n| options.is_teardown(n))
    })
}

/// The teardown methods of a class, for "`close()` does not clear it" labels.
/// At most [`MAX_LABELS`] of them: a label each is enough to say where to look.
pub fn class_teardowns(facts: &FileFacts, class: ClassId, options: &RuleOptions) -> Vec<ScopeId> {
    let all = facts.class_teardown_methods(class, &|n| options.is_teardown(n));
    all[..all.len().min(MAX_LABELS)].to_vec()
}

/// Most labels a diagnostic lists of one kind ("another client here", "`close()` does not clear
/// it"): past a handful they stop helping, and a file with thousands of sites would otherwise
/// get thousands of labels on each of thousands of findings.
pub const MAX_LABELS: usize = 10;

/// The span of a scope's first line, for labels on whole functions.
pub fn scope_head(facts: &FileFacts, scope: ScopeId) -> std::ops::Range<usize> {
    let span = &facts.scopes[scope].span;
    span.start..(span.start + 1).min(span.end)
}

/// Where a value that reached `place` ends up when it is copied on (`this.t = t`): the places
/// it flows to, transitively, including itself.
pub fn flow_closure(facts: &FileFacts, place: &Place) -> Vec<Place> {
    let mut out = vec![place.clone()];
    let mut i = 0;
    while i < out.len() && out.len() < 16 {
        let cur = out[i].clone();
        for e in facts.events_on(&cur) {
            if let EventKind::Flow { to, .. } = &e.kind {
                let t = facts.resolve(to);
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        i += 1;
    }
    out
}

/// The value at `place` escapes to code unleak does not follow (returned, passed on).
pub fn escapes(facts: &FileFacts, place: &Place) -> bool {
    facts
        .events_on(place)
        .any(|e| matches!(e.kind, EventKind::Escape { .. }))
}

/// How often an event runs: its scope's lifetime, or per iteration inside a loop.
/// A loop in code that itself runs once (module top level, `main()`) is a finite start-up
/// loop: it does not make its body repeated.
pub fn event_lifetime(facts: &FileFacts, scope: ScopeId, in_loop: bool) -> Lifetime {
    let l = facts.lifetime(scope);
    if in_loop && l != Lifetime::Once {
        Lifetime::Repeated
    } else {
        l
    }
}

/// Event `e` can run more than once in its instance's life (in a method such as `connect()`,
/// per event, in a loop): a field it stores into must first let go of what it holds.
pub fn runs_again(facts: &FileFacts, e: &crate::facts::Event) -> bool {
    !matches!(
        event_lifetime(facts, e.scope, e.in_loop),
        Lifetime::PerInstance | Lifetime::Once
    )
}

/// How often event `e` runs, project-wide: its file's answer ([`event_lifetime`]), except
/// directly in a function's body, where the project's summaries know more — a method only
/// the constructor calls runs once per instance, an exported function takes its importers'
/// rhythm.
pub fn project_lifetime(
    ctx: &FileCtx,
    summaries: &crate::summaries::ProjectSummaries,
    e: &crate::facts::Event,
) -> Lifetime {
    let facts = ctx.facts;
    let owner = named_owner(facts, e.scope);
    if !e.in_loop
        && runs_with(facts, e.scope, owner)
        && let Some(l) = summaries.frequency(ctx.path, owner)
    {
        return l;
    }
    event_lifetime(facts, e.scope, e.in_loop)
}

/// Code in `scope` runs exactly when its function `owner` does: it is the body itself, or a
/// callback that runs once per run of its parent (a `new Promise` executor, a `.then`
/// continuation, a `once` handler), all the way up, outside any loop.
fn runs_with(facts: &FileFacts, scope: ScopeId, owner: ScopeId) -> bool {
    let mut s = scope;
    while s != owner {
        let sc = &facts.scopes[s];
        let inherits = !sc.in_loop
            && matches!(&sc.kind, crate::facts::ScopeKind::Callback(r)
                if matches!(r.kind, crate::facts::CallbackKind::PromiseExecutor
                    | crate::facts::CallbackKind::OnceHandler
                    | crate::facts::CallbackKind::Deferred
                    | crate::facts::CallbackKind::Continuation
                    | crate::facts::CallbackKind::Other));
        match sc.parent {
            Some(p) if inherits => s = p,
            _ => return false,
        }
    }
    true
}

/// The event sits in a loop that repeats over the life of the process (not a start-up loop).
pub fn in_repeating_loop(facts: &FileFacts, e: &crate::facts::Event) -> bool {
    e.in_loop && facts.lifetime(e.scope) != Lifetime::Once
}
