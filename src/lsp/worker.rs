//! The analysis worker: one thread that owns the project index and lints off the message loop.
//!
//! The main loop sends it document snapshots and events ([`Job`]); it waits until the edits
//! pause (the debounce, capped so that steady typing still gets results), analyses the documents
//! that changed — only those: every other file's analysis is kept — and links each affected
//! project (the project rules run over every file's facts), then sends back each open
//! document's findings tagged with the version they were computed from ([`Output`]). The main
//! loop drops results for versions that are no longer current.
//!
//! Each workspace folder is a project, indexed in the background at start with the CLI's
//! discovery and configuration; documents outside every folder are linted on their own.
//! Configuration and baseline changes (a watched-file event, or a changed modification time
//! noticed before a run) rebuild the options and re-index.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::convert::{Encoding, Text, path_to_uri};
use super::findings::{self, Finding};
use crate::baseline::Baseline;
use crate::diagnostic::{Diagnostic, IO_ERROR, Severity};
use crate::engine::{self, FileAnalysis, Options, Report};
use crate::source::{Language, SourceFile};

/// Settings the client can give (`initializationOptions`, `workspace/didChangeConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The baseline file; a relative path is relative to each workspace folder.
    pub baseline: Option<PathBuf>,
}

/// One open document's text at one version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub uri: String,
    pub path: PathBuf,
    pub epoch: u64,
    pub version: i32,
    pub text: Arc<str>,
}

/// What the main loop asks of the worker.
pub enum Job {
    /// A document was opened or changed.
    Document(Snapshot),
    Close(PathBuf),
    /// The workspace folders (the whole set).
    Roots(Vec<PathBuf>),
    /// Source files changed on disk.
    FilesChanged(Vec<PathBuf>),
    /// Configuration or baseline files changed: rebuild the options and re-index.
    Reload,
    Settings(Settings),
    /// A document analysed on the analysis pool (`None`: not a file unleak lints); `ticket`
    /// names the dispatch, so only the latest one's result is taken.
    Analysed {
        path: PathBuf,
        ticket: u64,
        analysis: Option<Box<FileAnalysis>>,
    },
    /// From an indexing thread.
    Indexed {
        root: PathBuf,
        generation: u64,
        analyses: Vec<FileAnalysis>,
    },
    Shutdown,
}

/// What the worker sends back.
pub enum Output {
    Results(Vec<DocResult>),
}

/// The findings of one open document at one version.
#[derive(Debug, Clone)]
pub struct DocResult {
    pub uri: String,
    pub epoch: u64,
    pub version: i32,
    pub findings: Arc<Vec<Finding>>,
}

/// How the worker is set up.
#[derive(Clone)]
pub struct Config {
    pub encoding: Encoding,
    pub debounce: Duration,
    pub doc_links: Arc<HashMap<String, String>>,
    pub settings: Settings,
    /// What the client's workspace edits support.
    pub edit_caps: super::actions::EditCaps,
}

/// The longest wait for a pause in the edits.
const MAX_DELAY: Duration = Duration::from_millis(1000);

/// Results waiting for the main loop before the worker waits for it to catch up.
const OUTPUT_BOUND: usize = 64;

/// The worker's inbox: the jobs in order, where a document's new snapshot replaces the one
/// just before it when that one is still waiting — typing faster than the worker lints queues
/// only the latest text — and a wake-up signal (at most one pending). Sending never blocks.
#[derive(Clone)]
pub struct Inbox {
    queue: Arc<Mutex<VecDeque<Job>>>,
    wake: Sender<()>,
}

impl Inbox {
    pub fn send(&self, job: Job) {
        {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let replaces = match (&job, queue.back()) {
                (Job::Document(new), Some(Job::Document(old))) => new.path == old.path,
                _ => false,
            };
            if replaces {
                queue.pop_back();
            }
            queue.push_back(job);
        }
        // Full: a wake-up is already pending, and it will see this job.
        let _ = self.wake.try_send(());
    }

    fn take(&self) -> Vec<Job> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.drain(..).collect()
    }

    fn is_empty(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }
}

/// Starts the worker thread; its results arrive on the returned receiver, which disconnects
/// when the worker ends.
pub fn spawn(config: Config) -> std::io::Result<(Inbox, Receiver<Output>)> {
    let (wake, woken) = crossbeam_channel::bounded(1);
    let inbox = Inbox {
        queue: Arc::new(Mutex::new(VecDeque::new())),
        wake,
    };
    let (out, results) = crossbeam_channel::bounded(OUTPUT_BOUND);
    let own = inbox.clone();
    engine::spawn_big_stack("unleak-lsp-worker", move || {
        let mut w = Worker {
            config,
            out,
            inbox: own,
            pool: engine::big_stack_pool(0).map(Arc::new),
            tickets: 0,
            projects: Vec::new(),
            docs: BTreeMap::new(),
            dirty: HashSet::new(),
            stamps: HashMap::new(),
        };
        w.run_loop(woken);
    })?;
    Ok((inbox, results))
}

/// One workspace folder.
struct Project {
    root: PathBuf,
    /// `Err`: the folder's configuration is invalid (nothing in it is linted).
    options: Result<Arc<Options>, String>,
    baseline: Option<(PathBuf, Baseline)>,
    /// The files on disk, analysed, by path.
    disk: HashMap<PathBuf, Arc<FileAnalysis>>,
    generation: u64,
    indexed: bool,
}

/// An open document and its analysis.
struct Doc {
    snapshot: Snapshot,
    state: State,
    /// Its latest analysis, which stands in for it in its project while a newer text is being
    /// analysed (so other documents' project-wide findings do not flicker).
    last: Option<Arc<FileAnalysis>>,
    /// The options of a document outside every workspace folder (from its own folder).
    alone: Option<Result<Arc<Options>, String>>,
}

enum State {
    Pending,
    /// Being analysed on the analysis pool (the dispatch's ticket): its result comes back as a
    /// job, so a slow document never holds up the others.
    InFlight(u64),
    Analysed(Arc<FileAnalysis>),
    /// Not linted: a diagnostic says why (invalid configuration, too large), or nothing
    /// (excluded by the configuration's globs).
    Skipped(Option<Diagnostic>),
}

/// The project of a path: the index of its workspace folder, or the path itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Root(PathBuf),
    Alone(PathBuf),
}

struct Worker {
    config: Config,
    out: Sender<Output>,
    inbox: Inbox,
    /// Where documents are analysed (`None`: on the worker itself, when no pool can start).
    pool: Option<Arc<rayon::ThreadPool>>,
    /// Numbers the dispatches to the pool.
    tickets: u64,
    /// Sorted longest root first, so the first containing a path is the innermost.
    projects: Vec<Project>,
    docs: BTreeMap<PathBuf, Doc>,
    dirty: HashSet<Key>,
    /// Modification times of the configuration and baseline files in use.
    stamps: HashMap<PathBuf, Option<SystemTime>>,
}

impl Worker {
    fn run_loop(&mut self, woken: Receiver<()>) {
        loop {
            if woken.recv().is_err() || !self.apply_all() {
                return;
            }
            // Debounce: wait for a pause in the jobs, but not forever.
            let first = Instant::now();
            loop {
                let left = MAX_DELAY.saturating_sub(first.elapsed());
                if left.is_zero() {
                    break;
                }
                match woken.recv_timeout(self.config.debounce.min(left)) {
                    Ok(()) => {
                        if !self.apply_all() {
                            return;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.lint())) {
                eprintln!(
                    "unleak lsp: the analysis crashed ({}); the server goes on, please report this",
                    super::panic_message(&*panic)
                );
                // Whatever was pending is analysed afresh next time.
                for d in self.docs.values_mut() {
                    d.state = State::Pending;
                }
            }
            if self.inbox.is_empty() {
                super::memory::release_free_memory();
            }
        }
    }

    /// Applies the jobs waiting; `false` to stop.
    fn apply_all(&mut self) -> bool {
        for job in self.inbox.take() {
            if !self.apply_guarded(job) {
                return false;
            }
        }
        true
    }

    /// Applies a job; `false` to stop.
    fn apply_guarded(&mut self, job: Job) -> bool {
        match catch_unwind(AssertUnwindSafe(|| self.apply(job))) {
            Ok(go_on) => go_on,
            Err(panic) => {
                eprintln!(
                    "unleak lsp: a worker job crashed ({}); the server goes on, please report this",
                    super::panic_message(&*panic)
                );
                true
            }
        }
    }

    fn apply(&mut self, job: Job) -> bool {
        match job {
            Job::Document(snapshot) => {
                let path = snapshot.path.clone();
                let (alone, last) = self
                    .docs
                    .remove(&path)
                    .map_or((None, None), |d| (d.alone, d.last));
                self.docs.insert(
                    path.clone(),
                    Doc {
                        snapshot,
                        state: State::Pending,
                        last,
                        alone,
                    },
                );
                self.dirty.insert(self.key(&path));
            }
            Job::Close(path) => {
                if self.docs.remove(&path).is_some() {
                    let key = self.key(&path);
                    // The file on disk takes the buffer's place in the project.
                    if let Key::Root(root) = &key {
                        self.refresh_from_disk(root.clone(), &path);
                    }
                    self.dirty.insert(key);
                }
            }
            Job::Roots(roots) => self.set_roots(roots),
            Job::FilesChanged(paths) => {
                for path in paths {
                    if let Key::Root(root) = self.key(&path) {
                        if !self.docs.contains_key(&path) {
                            self.refresh_from_disk(root.clone(), &path);
                        }
                        self.dirty.insert(Key::Root(root));
                    }
                }
            }
            Job::Reload => self.reload(),
            Job::Settings(s) => {
                if s != self.config.settings {
                    self.config.settings = s;
                    self.reload();
                }
            }
            Job::Analysed {
                path,
                ticket,
                analysis,
            } => {
                let key = self.key(&path);
                // Only the latest dispatch counts: not one for an older text, nor one made
                // before the options were reloaded.
                if let Some(d) = self.docs.get_mut(&path)
                    && matches!(d.state, State::InFlight(t) if t == ticket)
                {
                    d.state = match analysis {
                        Some(a) => {
                            let a = Arc::new(*a);
                            d.last = Some(a.clone());
                            State::Analysed(a)
                        }
                        None => State::Skipped(None),
                    };
                    self.dirty.insert(key);
                }
            }
            Job::Indexed {
                root,
                generation,
                analyses,
            } => {
                if let Some(p) = self
                    .projects
                    .iter_mut()
                    .find(|p| p.root == root && p.generation == generation)
                {
                    p.disk = analyses
                        .into_iter()
                        .filter_map(|a| {
                            let path = a.source().map(|s| s.path.clone())?;
                            Some((path, Arc::new(a)))
                        })
                        .collect();
                    p.indexed = true;
                    self.dirty.insert(Key::Root(root));
                }
            }
            Job::Shutdown => return false,
        }
        true
    }

    fn key(&self, path: &Path) -> Key {
        match self.projects.iter().find(|p| path.starts_with(&p.root)) {
            Some(p) => Key::Root(p.root.clone()),
            None => Key::Alone(path.to_path_buf()),
        }
    }

    /// Sets the workspace folders; when they changed, every project is rebuilt and indexed
    /// afresh (a folder added inside another one takes its files out of the outer project).
    fn set_roots(&mut self, mut roots: Vec<PathBuf>) {
        roots.sort();
        roots.dedup();
        let mut current: Vec<PathBuf> = self.projects.iter().map(|p| p.root.clone()).collect();
        current.sort();
        if roots == current {
            return;
        }
        self.projects = roots.iter().map(|r| self.new_project(r.clone())).collect();
        for root in &roots {
            self.index(root);
        }
        self.projects
            .sort_by_key(|p| std::cmp::Reverse(p.root.components().count()));
        // Documents may now belong elsewhere.
        self.everything_dirty();
    }

    fn new_project(&self, root: PathBuf) -> Project {
        let mut options = load_options(&root);
        if let Err(e) = &options {
            eprintln!("unleak lsp: {}: {e}", root.display());
        }
        let baseline = self.config.settings.baseline.as_ref().and_then(|b| {
            let path = root.join(b);
            match crate::baseline::load(&path) {
                Ok(bl) => Some((path, bl)),
                Err(e) => {
                    eprintln!("unleak lsp: {e}");
                    None
                }
            }
        });
        // The baseline is part of the project's pipeline: linking applies it, as in a check.
        if let (Ok(o), Some((_, bl))) = (&mut options, &baseline) {
            Arc::make_mut(o).baseline = Some(Arc::new(crate::baseline::Filter {
                baseline: bl.clone(),
                root: root.clone(),
            }));
        }
        Project {
            root,
            options,
            baseline,
            disk: HashMap::new(),
            generation: 0,
            indexed: false,
        }
    }

    /// Rebuilds every project's options and baseline and re-indexes.
    fn reload(&mut self) {
        let roots: Vec<PathBuf> = self.projects.iter().map(|p| p.root.clone()).collect();
        self.projects.clear();
        for d in self.docs.values_mut() {
            d.alone = None;
        }
        self.stamps.clear();
        self.set_roots(roots);
        self.everything_dirty();
    }

    fn everything_dirty(&mut self) {
        let keys: Vec<Key> = self.docs.keys().map(|p| self.key(p)).collect();
        for d in self.docs.values_mut() {
            d.state = State::Pending;
        }
        self.dirty.extend(keys);
    }

    /// Indexes a workspace folder on a thread of its own; the result comes back as a job.
    fn index(&mut self, root: &Path) {
        // Workspace folders inside this one are projects of their own.
        let nested: Vec<PathBuf> = self
            .projects
            .iter()
            .map(|q| q.root.clone())
            .filter(|r| r != root && r.starts_with(root))
            .collect();
        let Some(p) = self.projects.iter_mut().find(|p| p.root == root) else {
            return;
        };
        p.generation += 1;
        p.indexed = false;
        let generation = p.generation;
        let Ok(mut options) = p.options.clone() else {
            p.indexed = true;
            return;
        };
        if !nested.is_empty() {
            let mut o = (*options).clone();
            o.exclude.extend(nested);
            options = Arc::new(o);
        }
        let root = root.to_path_buf();
        let inbox = self.inbox.clone();
        let spawned = std::thread::Builder::new()
            .name("unleak-lsp-index".into())
            .spawn(move || {
                let started = Instant::now();
                let analyses = catch_unwind(AssertUnwindSafe(|| {
                    let (files, problems) = engine::find_files(std::slice::from_ref(&root), &options);
                    for p in problems {
                        eprintln!("unleak lsp: {}: {}", p.file.display(), p.message);
                    }
                    engine::analyse_files(&files, &options)
                }))
                .unwrap_or_else(|panic| {
                    eprintln!(
                        "unleak lsp: indexing {} crashed ({}); project-wide rules see only the open files",
                        root.display(),
                        super::panic_message(&*panic)
                    );
                    Vec::new()
                });
                super::log_info!(
                    "unleak lsp: indexed {} file(s) of {} in {} ms",
                    analyses.len(),
                    root.display(),
                    started.elapsed().as_millis()
                );
                inbox.send(Job::Indexed {
                    root,
                    generation,
                    analyses,
                });
            });
        if let Err(e) = spawned {
            eprintln!("unleak lsp: cannot start indexing: {e}");
            p.indexed = true;
        }
    }

    /// Re-reads one file of a project from disk (or forgets it when it is gone or not linted).
    fn refresh_from_disk(&mut self, root: PathBuf, path: &Path) {
        let Some(p) = self.projects.iter_mut().find(|p| p.root == root) else {
            return;
        };
        let Ok(options) = &p.options else { return };
        let skipped = path
            .strip_prefix(&p.root)
            .map(|rel| {
                rel.components().any(|c| {
                    c.as_os_str()
                        .to_str()
                        .is_some_and(|n| crate::discover::SKIPPED_DIRS.contains(&n))
                })
            })
            .unwrap_or(true);
        let wanted = !skipped
            && path.is_file()
            && Language::from_path(path).is_some()
            && options
                .config
                .as_ref()
                .is_none_or(|c| c.for_file(path).is_ok_and(|c| c.wants(path)));
        if wanted {
            let a = engine::analyse_file(path, options);
            p.disk.insert(path.to_path_buf(), Arc::new(a));
        } else {
            p.disk.remove(path);
        }
    }

    /// The options a document is linted with.
    fn options_for(&mut self, path: &Path) -> Result<Arc<Options>, String> {
        if let Key::Root(root) = self.key(path) {
            return self
                .projects
                .iter()
                .find(|p| p.root == root)
                .map(|p| p.options.clone())
                .unwrap_or_else(|| Ok(Arc::new(Options::default())));
        }
        let Some(doc) = self.docs.get_mut(path) else {
            return Ok(Arc::new(Options::default()));
        };
        doc.alone
            .get_or_insert_with(|| match path.parent() {
                Some(dir) if path.is_absolute() && dir.is_dir() => load_options(dir),
                _ => Ok(Arc::new(Options::default())),
            })
            .clone()
    }

    /// Re-analyses what changed, links the affected projects, sends the open documents' findings.
    fn lint(&mut self) {
        self.check_stamps();
        let pending: Vec<PathBuf> = self
            .docs
            .iter()
            .filter(|(_, d)| matches!(d.state, State::Pending))
            .map(|(p, _)| p.clone())
            .collect();
        for path in pending {
            let state = self.analyse(&path);
            if let Some(d) = self.docs.get_mut(&path) {
                if let State::Analysed(a) = &state {
                    d.last = Some(a.clone());
                }
                d.state = state;
            }
        }
        let dirty: Vec<Key> = self.dirty.drain().collect();
        let mut results = Vec::new();
        for key in dirty {
            results.extend(self.link(&key));
        }
        if !results.is_empty() {
            let _ = self.out.send(Output::Results(results));
        }
    }

    fn analyse(&mut self, path: &Path) -> State {
        let options = match self.options_for(path) {
            Ok(o) => o,
            Err(e) => return State::Skipped(Some(not_linted(path, e))),
        };
        let Some(doc) = self.docs.get(path) else {
            return State::Pending;
        };
        if let Some(cfg) = &options.config {
            match cfg.for_file(path) {
                Ok(c) if !c.wants(path) => return State::Skipped(None),
                Ok(_) => {}
                Err(e) => return State::Skipped(Some(not_linted(path, e))),
            }
        }
        let len = doc.snapshot.text.len() as u64;
        if len > options.max_file_size {
            return State::Skipped(Some(Diagnostic::new(
                IO_ERROR,
                Severity::Error,
                path.to_path_buf(),
                0..0,
                format!(
                    "file is {len} bytes, larger than the {} byte limit; not linted (raise \
                     `max-file-size` in unleak.toml)",
                    options.max_file_size
                ),
            )));
        }
        let Some(pool) = &self.pool else {
            return match engine::analyse_source(path, &doc.snapshot.text, &options) {
                Some(a) => State::Analysed(Arc::new(a)),
                None => State::Skipped(None),
            };
        };
        // Off the worker: the result comes back as a job, and the worker goes on with the
        // other documents (and new edits) meanwhile.
        let inbox = self.inbox.clone();
        let (path, text) = (path.to_path_buf(), doc.snapshot.text.clone());
        self.tickets += 1;
        let ticket = self.tickets;
        pool.spawn(move || {
            let analysis = engine::analyse_source(&path, &text, &options).map(Box::new);
            inbox.send(Job::Analysed {
                path,
                ticket,
                analysis,
            });
        });
        State::InFlight(ticket)
    }

    /// Links one project and returns the findings of its open documents.
    fn link(&mut self, key: &Key) -> Vec<DocResult> {
        let open: Vec<PathBuf> = self
            .docs
            .keys()
            .filter(|p| self.key(p) == *key)
            .cloned()
            .collect();
        if open.is_empty() {
            return Vec::new();
        }
        let mut report = Report::default();
        let mut project_rules_settled = true;
        match key {
            Key::Root(root) => {
                if let Some(p) = self.projects.iter().find(|p| &p.root == root) {
                    if let Ok(options) = &p.options {
                        let overlays: Vec<&FileAnalysis> = open
                            .iter()
                            .filter_map(|path| {
                                let doc = &self.docs[path];
                                match &doc.state {
                                    State::Analysed(a) => Some(&**a),
                                    // Still being analysed: its last analysis stands in.
                                    State::InFlight(_) | State::Pending => doc.last.as_deref(),
                                    State::Skipped(_) => None,
                                }
                            })
                            .collect();
                        // An open document's analysis replaces its disk version — once it has
                        // one: until then the disk version stands in (opening an indexed file
                        // must not make it vanish from the project while it is analysed).
                        let stands_in = |path: &PathBuf| {
                            self.docs.get(path).is_some_and(|d| {
                                matches!(d.state, State::Analysed(_)) || d.last.is_some()
                            })
                        };
                        let files = p
                            .disk
                            .iter()
                            .filter(|(path, _)| !stands_in(path))
                            .map(|(_, a)| &**a)
                            .chain(overlays);
                        report = engine::link(files, options);
                    }
                    // Until the folder is indexed, project-wide rules see only the open files:
                    // their findings would come and go, so they wait.
                    project_rules_settled = p.indexed;
                }
            }
            Key::Alone(path) => {
                let options = self.options_for(path);
                if let (Some(State::Analysed(a)), Ok(options)) =
                    (self.docs.get(path).map(|d| &d.state), options)
                {
                    report = engine::link([&**a], &options);
                }
            }
        }
        for d in &report.diagnostics {
            if d.file.as_os_str().is_empty() {
                eprintln!("unleak lsp: {}", d.message);
            }
        }
        let mut by_file: HashMap<&Path, Vec<Diagnostic>> = HashMap::new();
        for d in &report.diagnostics {
            if !project_rules_settled && is_project_rule(d.rule) {
                continue;
            }
            by_file.entry(&d.file).or_default().push(d.clone());
        }
        let mut results = Vec::new();
        for path in &open {
            let doc = &self.docs[path];
            let diagnostics = match &doc.state {
                // Its findings come when its analysis does.
                State::InFlight(_) => continue,
                State::Skipped(Some(d)) => vec![d.clone()],
                State::Skipped(None) | State::Pending => Vec::new(),
                State::Analysed(_) => by_file.remove(path.as_path()).unwrap_or_default(),
            };
            let findings = self.prepare(&report, &doc.snapshot, diagnostics);
            results.push(DocResult {
                uri: doc.snapshot.uri.clone(),
                epoch: doc.snapshot.epoch,
                version: doc.snapshot.version,
                findings: Arc::new(findings),
            });
        }
        results
    }

    fn prepare(
        &self,
        report: &Report,
        snapshot: &Snapshot,
        diagnostics: Vec<Diagnostic>,
    ) -> Vec<Finding> {
        let source_of = |p: &Path| -> Option<Arc<SourceFile>> {
            if let Some(d) = self.docs.get(p)
                && let State::Analysed(a) = &d.state
            {
                return a.source();
            }
            if let Some(s) = report.sources.get(p) {
                return Some(s.clone());
            }
            self.projects
                .iter()
                .find_map(|pr| pr.disk.get(p).and_then(|a| a.source()))
        };
        let uri_of = |p: &Path| -> (String, Option<i32>) {
            match self.docs.get(p) {
                Some(d) => (d.snapshot.uri.clone(), Some(d.snapshot.version)),
                None => (path_to_uri(p), None),
            }
        };
        let ctx = findings::Context {
            encoding: self.config.encoding,
            doc_links: &self.config.doc_links,
            source_of: &source_of,
            uri_of: &uri_of,
        };
        let lines = crate::source::LineIndex::new(&snapshot.text);
        let text = Text::new(&snapshot.text, &lines);
        diagnostics
            .into_iter()
            .map(|d| {
                let mut f = findings::prepare(d, text, &ctx);
                if !self.config.edit_caps.create_files {
                    f.fixes.retain(|fix| fix.files.iter().all(|fe| !fe.create));
                }
                f
            })
            .collect()
    }

    /// Reloads when a configuration or baseline file in use changed on disk (for clients that
    /// do not watch files for the server).
    fn check_stamps(&mut self) {
        let mut paths: Vec<PathBuf> = Vec::new();
        for p in &self.projects {
            if let Ok(o) = &p.options
                && let Some(cfg) = &o.config
            {
                paths.extend(cfg.root().source.clone());
                for d in self.docs.keys().filter(|d| d.starts_with(&p.root)) {
                    if let Ok(l) = cfg.for_file(d) {
                        paths.extend(l.source.clone());
                    }
                }
            }
            if let Some((b, _)) = &p.baseline {
                paths.push(b.clone());
            } else if let Some(b) = &self.config.settings.baseline {
                paths.push(p.root.join(b));
            }
        }
        let mut changed = false;
        for path in paths {
            let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
            match self.stamps.insert(path, mtime) {
                Some(old) if old != mtime => changed = true,
                _ => {}
            }
        }
        if changed {
            super::log_info!("unleak lsp: configuration or baseline changed; reloading");
            let stamps = std::mem::take(&mut self.stamps);
            self.reload();
            self.stamps = stamps;
        }
    }
}

/// The options of a workspace folder, from its configuration as the CLI run there would find it.
fn load_options(dir: &Path) -> Result<Arc<Options>, String> {
    crate::config::discover(dir, &|id| crate::registry::find(id).is_some())
        .map(|c| Arc::new(Options::configured(c)))
        .map_err(|e| format!("invalid configuration: {e}"))
}

fn not_linted(path: &Path, why: String) -> Diagnostic {
    Diagnostic::new(
        IO_ERROR,
        Severity::Error,
        path.to_path_buf(),
        0..0,
        format!("not linted: {why}"),
    )
}

fn is_project_rule(id: &str) -> bool {
    crate::registry::find(id).is_some_and(|r| r.meta().is_project())
}
