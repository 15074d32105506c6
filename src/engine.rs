//! The lint pipeline: read and lower every file in parallel (each on a big-stack worker, a
//! panic caught per file), run file rules, build the project index, run project rules, sort.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;

use crate::diagnostic::{Diagnostic, INTERNAL_ERROR, IO_ERROR, PARSE_ERROR, Severity, TIMEOUT};
use crate::discover::{discover, display_path};
use crate::facts::FileFacts;
use crate::kept::{KeptFacts, KeptSource};
use crate::registry::RULES;
use crate::rules::inputs::ProjectInputs;
use crate::rules::{FileCtx, ProjectFile, RuleOptions};
use crate::source::{Language, SourceFile};

/// How a run is configured.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files larger than this are skipped with an `io-error` diagnostic; a file's own
    /// configuration's `max-file-size` wins unless `max_file_size_fixed` (the flag was given).
    pub max_file_size: u64,
    pub max_file_size_fixed: bool,
    /// Time budget per file for parsing and lowering; a file that takes longer is abandoned
    /// with a `timeout` diagnostic.
    pub parse_budget: Duration,
    pub rules: RuleOptions,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Folders not to descend into (e.g. other workspace members nested in a package).
    pub exclude: Vec<PathBuf>,
    /// Finds each file's configuration (levels, globs, overrides); `None`: defaults.
    pub config: Option<Arc<crate::config::Resolver>>,
    /// The content-hash cache of per-file results; `None`: analyse every file.
    pub cache: Option<Arc<crate::cache::Cache>>,
    /// Findings to leave alone (the baseline), applied last by [`link`] and [`lint_paths`], so
    /// every front end — `check`, `--fix`, the language server — reports and fixes the same.
    pub baseline: Option<Arc<crate::baseline::Filter>>,
    /// Report findings only in these files (canonical paths; `--staged`, `--changed-since`);
    /// the whole project is still analysed, so project-wide rules see every file.
    pub report_only: Option<Arc<HashSet<PathBuf>>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: 2 * 1024 * 1024,
            max_file_size_fixed: false,
            parse_budget: Duration::from_secs(10),
            rules: RuleOptions::default(),
            threads: 0,
            exclude: Vec::new(),
            config: None,
            cache: None,
            baseline: None,
            report_only: None,
        }
    }
}

impl Options {
    /// The options of a run whose working directory's configuration is `root`: its `[options]`
    /// and `max-file-size` apply to the whole run (project-wide rules need one set); each file's
    /// levels and globs come from the configuration nearest to it.
    pub fn configured(root: crate::config::Loaded) -> Options {
        let defaults = Options::default();
        let mut rules = defaults.rules.clone();
        rules
            .extra_teardown_words
            .extend(root.config.options.teardown_words.iter().cloned());
        rules
            .extra_clients
            .extend(root.config.options.client_constructors.iter().cloned());
        Options {
            max_file_size: root.config.max_file_size.unwrap_or(defaults.max_file_size),
            rules,
            config: Some(Arc::new(crate::config::Resolver::new(root, |id| {
                crate::registry::find(id).is_some()
            }))),
            ..defaults
        }
    }
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Diagnostics sorted by path, position and rule.
    pub diagnostics: Vec<Diagnostic>,
    /// Number of files linted (including those that failed).
    pub files: usize,
    /// Sources of the files diagnostics point into, for rendering.
    pub sources: HashMap<PathBuf, Arc<SourceFile>>,
    /// What the run did with the cache, when it used one.
    pub cache: Option<crate::cache::CacheStats>,
    /// What discovery passed over.
    pub skipped: crate::discover::Skipped,
    /// Entries of the run's baseline that matched no finding (prunable).
    pub unmatched_baseline: Vec<crate::baseline::Entry>,
    /// When no file was linted: why, in one sentence ("0 files linted: 3 files skipped under
    /// dist/ …").
    pub nothing_linted: Option<String>,
}

impl Report {
    /// Per-file failures: `io-error`, `parse-error`, `timeout`, `internal-error` of severity error.
    pub fn failures(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.is_failure() && d.severity == Severity::Error)
            .count()
    }

    /// Adds the report of another run (another package of a workspace): its diagnostics,
    /// files and sources; the order is kept sorted by path and position.
    pub fn merge(&mut self, other: Report) {
        self.diagnostics.extend(other.diagnostics);
        self.diagnostics.sort_by(|a, b| {
            (&a.file, a.range.start, a.rule, &a.message).cmp(&(
                &b.file,
                b.range.start,
                b.rule,
                &b.message,
            ))
        });
        self.files += other.files;
        self.sources.extend(other.sources);
        self.skipped.dirs += other.skipped.dirs;
        self.skipped.minified += other.skipped.minified;
        self.skipped.excluded += other.skipped.excluded;
        // The cache is shared between the runs: its latest counts cover them all.
        self.cache = other.cache.or(self.cache);
        // Each run matched the baseline against its own findings: an entry is unmatched only
        // if no run matched it.
        self.unmatched_baseline
            .retain(|e| other.unmatched_baseline.contains(e));
        self.nothing_linted = match (self.files, self.nothing_linted.take()) {
            (0, mine) => mine.or(other.nothing_linted),
            _ => None,
        };
    }

    /// A rule or the engine panicked somewhere.
    pub fn has_internal_error(&self) -> bool {
        self.diagnostics.iter().any(|d| d.rule == INTERNAL_ERROR)
    }
}

/// Stack for the workers: syn and the lowering walks recurse once per nesting level (the
/// depth guards, `ts::MAX_DEPTH` and `rust::MAX_NESTING`, keep them well inside it). Only the
/// pages a deep file touches are ever committed.
pub const WORKER_STACK: usize = 512 * 1024 * 1024;

thread_local! {
    /// This thread has a [`WORKER_STACK`]-sized stack.
    static BIG_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on a thread with a [`WORKER_STACK`] stack: right here on a lint worker, else on a
/// scoped thread (callers like `lint_source`, the fixer and the LSP run on ordinary 2–8 MiB
/// stacks, which a few hundred nesting levels of syn overflow — an abort no `catch_unwind`
/// stops). `None` when no such thread can be started.
pub fn on_big_stack<R: Send>(f: impl FnOnce() -> R + Send) -> Option<R> {
    if BIG_STACK.get() {
        return Some(f());
    }
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("unleak-worker".into())
            .stack_size(WORKER_STACK)
            .spawn_scoped(s, || {
                BIG_STACK.set(true);
                f()
            })
            .ok()?;
        match handle.join() {
            Ok(r) => Some(r),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Starts a long-lived thread with a [`WORKER_STACK`] stack (a front end's own worker, like the
/// LSP's), on which [`on_big_stack`] runs its work in place.
pub fn spawn_big_stack<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(WORKER_STACK)
        .spawn(move || {
            BIG_STACK.set(true);
            f()
        })
}

/// Lints files and folders.
pub fn lint_paths(paths: &[PathBuf], options: &Options) -> Report {
    link_analysed(&analyse_paths(paths, options, &|_| true), options)
}

/// The files of a run analysed on their own, before the project rules join them: what
/// [`link_analysed`] reports, and what a shard of a run stores ([`crate::shard`]).
#[derive(Debug, Default)]
pub struct Analysed {
    pub files: Vec<FileAnalysis>,
    /// Paths that could not be walked, files whose configuration is invalid.
    pub diagnostics: Vec<Diagnostic>,
    pub skipped: crate::discover::Skipped,
    /// Files the run found (before `keep` chose among them).
    pub found: usize,
    /// When nothing was found to lint: why.
    pub nothing_linted: Option<String>,
}

/// Finds the files under `paths` and analyses those that `keep` accepts (by the path their
/// diagnostics name), in parallel.
pub fn analyse_paths(
    paths: &[PathBuf],
    options: &Options,
    keep: &(dyn Fn(&Path) -> bool + Sync),
) -> Analysed {
    let (files, diagnostics, skipped) = find_files_counted(paths, options);
    let nothing_linted = files
        .is_empty()
        .then(|| crate::discover::why_nothing(paths, &skipped));
    let found = files.len();
    let held = LiveBudget::new(worker_threads(options.threads));
    let analyses = in_worker_pool(options, || {
        files
            .par_iter()
            .filter_map(|p| {
                let shown = display_path(p);
                // Packed as soon as its file rules ran, unless the budget holds it live: what
                // the project phase needs is in its inputs, the rest is unpacked on demand
                // (see `crate::kept`).
                keep(&shown).then(|| held.hold_or_pack(process_file(p, shown, options)))
            })
            .collect::<Vec<_>>()
    });
    Analysed {
        files: analyses,
        diagnostics,
        skipped,
        found,
        nothing_linted,
    }
}

/// Which analysed files stay live (unpacked) until the project phase. Packing trades time for
/// memory: it costs a pack, an unpack and a second index build per file (8 % of a run on the
/// benchmark's TS corpus, 24 % on one JS bundle). It pays when a run holds many files; while
/// the sources held live total no more than the largest file seen so far times the worker
/// count, they add no more than the parse of that many such files already needed at its peak,
/// so they are held as they are. A bundle of a few huge files is then never packed; a
/// project of a thousand small ones keeps a few dozen live.
struct LiveBudget {
    threads: usize,
    largest: std::sync::atomic::AtomicUsize,
    live: std::sync::atomic::AtomicUsize,
}

impl LiveBudget {
    fn new(threads: usize) -> LiveBudget {
        LiveBudget {
            threads: threads.max(1),
            largest: Default::default(),
            live: Default::default(),
        }
    }

    fn hold_or_pack(&self, a: FileAnalysis) -> FileAnalysis {
        use std::sync::atomic::Ordering::Relaxed;
        let len = a.source.as_ref().map_or(0, |s| s.len());
        let largest = self.largest.fetch_max(len, Relaxed).max(len);
        let budget = largest.saturating_mul(self.threads);
        let held = self
            .live
            .fetch_update(Relaxed, Relaxed, |live| {
                (live + len <= budget).then_some(live + len)
            })
            .is_ok();
        if held { a } else { a.packed() }
    }
}

/// Runs the project rules over analysed files and reports (suppressions, levels, baseline).
pub fn link_analysed(analysed: &Analysed, options: &Options) -> Report {
    let mut report = finish(&analysed.files, analysed.diagnostics.clone(), options);
    report.files = analysed.files.len();
    if report.files == 0 {
        report.nothing_linted = analysed.nothing_linted.clone();
    }
    report.skipped = analysed.skipped.clone();
    report
}

/// The files a run over `paths` lints — discovery, then the configuration's include/exclude
/// globs (a file named in `paths` is always linted) — and a diagnostic for each path that could
/// not be walked and each file whose configuration is invalid.
pub fn find_files(paths: &[PathBuf], options: &Options) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let (files, diagnostics, _) = find_files_counted(paths, options);
    (files, diagnostics)
}

/// [`find_files`], and what was passed over.
fn find_files_counted(
    paths: &[PathBuf],
    options: &Options,
) -> (Vec<PathBuf>, Vec<Diagnostic>, crate::discover::Skipped) {
    let mut found = discover(paths, &options.exclude);
    let mut config_errors = Vec::new();
    let mut excluded = 0;
    if let Some(cfg) = &options.config {
        // include/exclude globs apply to walks; a file named on the command line is linted.
        found.files.retain(|f| {
            if paths.iter().any(|p| p == f) {
                return true;
            }
            match cfg.for_file(f) {
                Ok(c) if c.wants(f) => true,
                Ok(_) => {
                    excluded += 1;
                    false
                }
                Err(e) => {
                    config_errors.push(Diagnostic::new(
                        IO_ERROR,
                        Severity::Error,
                        display_path(f),
                        0..0,
                        format!("not linted: its configuration is invalid: {e}"),
                    ));
                    false
                }
            }
        });
    }
    let mut diagnostics: Vec<Diagnostic> = found
        .errors
        .iter()
        .map(|(p, why)| {
            Diagnostic::new(
                IO_ERROR,
                Severity::Error,
                display_path(p),
                0..0,
                format!("cannot read `{}`: {why}", display_path(p).display()),
            )
        })
        .collect();
    diagnostics.extend(config_errors);
    found.skipped.excluded = excluded;
    (found.files, diagnostics, found.skipped)
}

/// A pool of `threads` big-stack workers (0: one per core) for a long-running front end (the
/// language server analyses documents on one, off its message loop).
pub fn big_stack_pool(threads: usize) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(worker_threads(threads))
        .thread_name(|i| format!("unleak-analysis-{i}"))
        .stack_size(WORKER_STACK)
        .start_handler(|_| BIG_STACK.set(true))
        .build()
        .ok()
}

/// Runs `work` in a pool of big-stack workers (`options.threads` of them; 0: one per core).
pub(crate) fn in_worker_pool<T: Send>(options: &Options, work: impl FnOnce() -> T + Send) -> T {
    // Already on a worker of a big-stack pool (a front end's): its pool does the work.
    if BIG_STACK.get() && rayon::current_thread_index().is_some() {
        return work();
    }
    match worker_pool(worker_threads(options.threads)) {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// The process's pool of `threads` big-stack workers, started on first use and kept: a run's
/// file phase and project pass share it, and a language server linking on every edit does
/// not start threads each time. `None` when no pool can start.
fn worker_pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    static POOLS: std::sync::Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, pool)) = pools.iter().find(|(n, _)| *n == threads) {
        return Some(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(WORKER_STACK)
        .start_handler(|_| BIG_STACK.set(true))
        .build()
        .ok()
        .map(Arc::new)?;
    pools.push((threads, pool.clone()));
    Some(pool)
}

/// The number of workers for a requested count (0: one per core), at most [`MAX_THREADS_PER_CORE`]
/// per core: more only costs memory and start-up (40,000 threads took minutes to start).
pub fn worker_threads(requested: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match requested {
        0 => cores,
        n => n.min(cores * MAX_THREADS_PER_CORE),
    }
}

/// See [`worker_threads`].
pub const MAX_THREADS_PER_CORE: usize = 8;

/// Reads and analyses files from disk, in parallel, each on its own ([`FileAnalysis`]); the
/// diagnostics name each file by the path given. [`link`] joins them into a project.
pub fn analyse_files(paths: &[PathBuf], options: &Options) -> Vec<FileAnalysis> {
    in_worker_pool(options, || {
        paths
            .par_iter()
            .map(|p| process_file(p, p.clone(), options))
            .collect()
    })
}

/// Reads and analyses one file from disk on the current thread (give it a big stack:
/// [`WORKER_STACK`]); its diagnostics name the file by `path`.
pub fn analyse_file(path: &Path, options: &Options) -> FileAnalysis {
    process_file(path, path.to_path_buf(), options)
}

/// Analyses one in-memory file on its own (an editor's unsaved buffer); `None` when unleak does
/// not lint files of that kind. Call it on a thread with a big stack ([`WORKER_STACK`]).
pub fn analyse_source(path: &Path, text: &str, options: &Options) -> Option<FileAnalysis> {
    let language = Language::from_path(path)?;
    let source = SourceFile::new(path.to_path_buf(), language, text.to_string());
    Some(analyse(source, options))
}

/// Joins analysed files into one project: runs the project rules over all their facts, then
/// the inline suppressions and the configured levels, and sorts. The analyses are only read,
/// so a long-running front end keeps them and re-analyses just the files that change.
pub fn link<'a>(files: impl IntoIterator<Item = &'a FileAnalysis>, options: &Options) -> Report {
    let files: Vec<&FileAnalysis> = files.into_iter().collect();
    let mut report = finish(files.iter().copied(), Vec::new(), options);
    report.files = files.len();
    report
}

/// Lints one in-memory file as a single-file project (editors, tests, docs).
pub fn lint_source(path: &Path, text: &str, options: &Options) -> Vec<Diagnostic> {
    match analyse_source(path, text, options) {
        Some(analysis) => link([&analysis], options).diagnostics,
        None => Vec::new(),
    }
}

/// One file analysed on its own — read, parsed, lowered to facts, its file rules run, its
/// suppression comments read — before the project rules: what [`link`] joins into a project.
#[derive(Debug, Clone)]
pub struct FileAnalysis {
    source: Option<KeptSource>,
    facts: Option<KeptFacts>,
    /// What the project rules read of this file: present when `facts` are.
    inputs: Option<Arc<ProjectInputs>>,
    /// What identifies the analysis in the cache ([`crate::cache::Cache::analysis_key`]).
    key: Option<u128>,
    diagnostics: Vec<Diagnostic>,
    suppressions: Vec<crate::suppress::Suppression>,
    /// The result depends on the content and configuration alone (no time-out, no crash).
    cacheable: bool,
}

impl FileAnalysis {
    /// A file that could not be analysed: one failure diagnostic, no facts.
    fn failed(
        source: Option<Arc<SourceFile>>,
        cacheable: bool,
        rule: &'static str,
        path: PathBuf,
        range: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> FileAnalysis {
        FileAnalysis {
            cacheable,
            source: source.map(KeptSource::live),
            facts: None,
            inputs: None,
            key: None,
            suppressions: Vec::new(),
            diagnostics: vec![Diagnostic::new(rule, Severity::Error, path, range, message)],
        }
    }

    /// A file's analysis rebuilt from stored facts and file-level findings (the cache, a
    /// shard's summaries); only its suppressions are read again, from the text.
    pub(crate) fn restored(
        src: SourceFile,
        facts: Option<FileFacts>,
        packing: Option<Arc<[u8]>>,
        diagnostics: Vec<Diagnostic>,
        options: &Options,
    ) -> FileAnalysis {
        let suppressions = match &facts {
            Some(f) if src.text.contains("unleak-ignore") => {
                crate::suppress::parse(&src.text, src.lines(), &f.suppression_lookalikes)
            }
            _ => Vec::new(),
        };
        // Stored facts passed the consistency check; should summarising them still fail, the
        // file sits out the project rules rather than ending the run.
        let inputs = facts.as_ref().and_then(|f| {
            catch_unwind(AssertUnwindSafe(|| {
                ProjectInputs::build(f, &src.text, &options.rules)
            }))
            .ok()
            .map(Arc::new)
        });
        FileAnalysis {
            cacheable: true,
            source: Some(KeptSource::live(Arc::new(src))),
            facts: facts.map(|f| match packing {
                Some(p) => KeptFacts::live_packed(Arc::new(f), p),
                None => KeptFacts::live(Arc::new(f)),
            }),
            inputs,
            key: None,
            diagnostics,
            suppressions,
        }
    }

    /// A file's analysis from a cache entry: its facts stay packed (checked when read, unpacked
    /// only if a project rule reports in the file or the text has suppressions to read) and its
    /// project inputs are the stored ones, so an unchanged file costs a read and a decode.
    pub(crate) fn from_cache(
        source: KeptSource,
        suppressible: bool,
        packing: Option<Arc<[u8]>>,
        inputs: Option<ProjectInputs>,
        diagnostics: Vec<Diagnostic>,
    ) -> FileAnalysis {
        let facts = packing.map(KeptFacts::from_packing);
        let suppressions = match &facts {
            Some(f) if suppressible => {
                let (f, src) = (f.get(), source.get());
                crate::suppress::parse(&src.text, src.lines(), &f.suppression_lookalikes)
            }
            _ => Vec::new(),
        };
        FileAnalysis {
            cacheable: true,
            source: Some(source),
            facts,
            inputs: inputs.map(Arc::new),
            key: None,
            diagnostics,
            suppressions,
        }
    }

    /// A file that was not analysed, with the diagnostics that say why (stored by a shard).
    pub(crate) fn not_analysed(diagnostics: Vec<Diagnostic>) -> FileAnalysis {
        FileAnalysis {
            cacheable: false,
            source: None,
            facts: None,
            inputs: None,
            key: None,
            diagnostics,
            suppressions: Vec::new(),
        }
    }

    /// Its facts, when it was lowered (unpacked if need be).
    pub(crate) fn facts(&self) -> Option<Arc<FileFacts>> {
        self.facts.as_ref().map(KeptFacts::get)
    }

    /// The file's source, when it could be read (unpacked if need be).
    pub fn source(&self) -> Option<Arc<SourceFile>> {
        self.source.as_ref().map(KeptSource::get)
    }

    /// Its facts' packing (made now unless known), when it was lowered.
    pub(crate) fn packing(&self) -> Option<Arc<[u8]>> {
        self.facts.as_ref().and_then(KeptFacts::packing)
    }

    /// The file as the project rules see it, when it was lowered.
    pub(crate) fn project_file(&self, options: &Options) -> Option<ProjectFile> {
        let (src, facts, inputs) = (
            self.source.as_ref()?,
            self.facts.as_ref()?,
            self.inputs.as_ref()?,
        );
        Some(ProjectFile::new(
            src.clone(),
            facts.clone(),
            inputs.clone(),
            is_test(src.path(), inputs, options),
            self.key,
        ))
    }

    /// The path the file's diagnostics name, when it could be read.
    pub fn source_path(&self) -> Option<&Path> {
        self.source.as_ref().map(KeptSource::path)
    }

    /// The same analysis with its facts and text packed (see [`crate::kept`]): what a batch run
    /// holds until the project phase.
    pub fn packed(self) -> FileAnalysis {
        FileAnalysis {
            source: self.source.as_ref().map(KeptSource::packed),
            facts: self.facts.as_ref().map(KeptFacts::packed),
            ..self
        }
    }

    /// The file's own diagnostics (read and parse failures, file rules), before suppressions.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

/// The project rules over the analysed files, then inline suppressions, configured levels and
/// sorting. `diagnostics`: findings of paths that were never analysed (unreadable ones).
fn finish<'a>(
    outcomes: impl IntoIterator<Item = &'a FileAnalysis>,
    mut diagnostics: Vec<Diagnostic>,
    options: &Options,
) -> Report {
    let diagnostics = &mut diagnostics;
    let mut kept_sources = HashMap::new();
    let mut project = Vec::new();
    let mut suppressions = Vec::new();
    for o in outcomes {
        diagnostics.extend(o.diagnostics.iter().cloned());
        if let Some(src) = &o.source {
            if !o.suppressions.is_empty() {
                suppressions.push((src.clone(), o.suppressions.clone()));
            }
            project.extend(o.project_file(options));
            kept_sources.insert(src.path().to_path_buf(), src.clone());
        }
    }
    diagnostics.extend(crate::project_pass::run(&project, options));
    // Inline suppressions, after every rule (project rules report into files too).
    for (kept, sups) in &suppressions {
        let src = kept.get();
        crate::suppress::apply(
            &src.path,
            &src.text,
            src.lines(),
            sups,
            diagnostics,
            &|id| crate::registry::find(id).is_some(),
        );
    }
    // Configured levels: `off` drops a rule's findings, other levels replace the severity.
    if let Some(cfg) = &options.config {
        diagnostics.retain_mut(|d| {
            if d.is_failure() {
                return true;
            }
            let Ok(file_cfg) = cfg.for_file(&d.file) else {
                return true;
            };
            match file_cfg.level(d.rule, &d.file).map(|l| l.severity()) {
                Some(None) => false,
                Some(Some(s)) => {
                    d.severity = s;
                    true
                }
                None => true,
            }
        });
    }
    diagnostics.sort_by(|a, b| {
        (&a.file, a.range.start, a.rule, &a.message).cmp(&(
            &b.file,
            b.range.start,
            b.rule,
            &b.message,
        ))
    });
    diagnostics.dedup();
    // The sources of the files findings are in (unpacked: their text is read from here on).
    let mut sources: HashMap<PathBuf, Arc<SourceFile>> = {
        let named: HashSet<&Path> = diagnostics
            .iter()
            .flat_map(|d| {
                std::iter::once(d.file.as_path())
                    .chain(d.labels.iter().filter_map(|l| l.file.as_deref()))
            })
            .collect();
        kept_sources
            .iter()
            .filter(|(p, _)| named.contains(p.as_path()))
            .map(|(p, k)| (p.clone(), k.get()))
            .collect()
    };
    let unmatched_baseline = match &options.baseline {
        Some(filter) => filter.apply(diagnostics, &sources),
        None => Vec::new(),
    };
    // After the baseline, which matches against every finding of the project.
    if let Some(only) = &options.report_only {
        diagnostics.retain(|d| {
            let abs = std::fs::canonicalize(&d.file).unwrap_or_else(|_| d.file.clone());
            only.contains(&abs)
        });
    }
    // Keep only the sources that output needs.
    let needed: HashSet<&Path> = diagnostics
        .iter()
        .flat_map(|d| {
            std::iter::once(d.file.as_path())
                .chain(d.labels.iter().filter_map(|l| l.file.as_deref()))
        })
        .collect();
    sources.retain(|p, _| needed.contains(p.as_path()));
    Report {
        diagnostics: std::mem::take(diagnostics),
        files: 0,
        sources,
        cache: options.cache.as_ref().map(|c| c.stats()),
        unmatched_baseline,
        ..Report::default()
    }
}

/// Reads, validates and analyses one file from disk; `shown` is the path its diagnostics name.
fn process_file(path: &Path, shown: PathBuf, options: &Options) -> FileAnalysis {
    let fail = |rule: &'static str, msg: String| {
        FileAnalysis::failed(None, false, rule, shown.clone(), 0..0, msg)
    };
    let Some(language) = Language::from_path(path) else {
        return fail(IO_ERROR, "not a file unleak can lint".into());
    };
    let size = match std::fs::metadata(path) {
        // FIFOs, sockets and devices would block or never end: only regular files are read.
        Ok(m) if !m.is_file() => {
            return fail(IO_ERROR, "not a regular file; skipped".into());
        }
        Ok(m) => m.len(),
        Err(e) => return fail(IO_ERROR, format!("cannot read the file: {e}")),
    };
    // The nearest configuration's limit, wherever the run started (unless the flag says).
    let limit = match &options.config {
        Some(cfg) if !options.max_file_size_fixed => cfg
            .for_file(path)
            .ok()
            .and_then(|c| c.config.max_file_size)
            .unwrap_or(options.max_file_size),
        _ => options.max_file_size,
    };
    if size > limit {
        return fail(
            IO_ERROR,
            format!(
                "file is {size} bytes, larger than the {limit} byte limit; skipped (raise it with \
                 --max-file-size or `max-file-size` in unleak.toml)"
            ),
        );
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return fail(IO_ERROR, format!("cannot read the file: {e}")),
    };
    if let Some(why) = not_text(&bytes) {
        return fail(PARSE_ERROR, why);
    }
    // The cache: the same content under the same configuration and build gives the same facts
    // and file-level findings. (Off under fault injection, which must reach the analysis.)
    let cache = options
        .cache
        .as_deref()
        .filter(|_| std::env::var_os("UNLEAK_FAULT_INJECT").is_none())
        .map(|c| {
            let config = options.config.as_ref().and_then(|r| r.for_file(path).ok());
            (
                c,
                c.key(&shown, config.as_ref()),
                crate::cache::Cache::content_hash(&bytes),
            )
        });
    if let Some((c, key, content)) = cache
        && let Some((entry, diagnostics)) = c.get(key, content, &bytes, &shown)
        // (An entry for text that is not UTF-8 can only be forged: analysed afresh, it fails.)
        && std::str::from_utf8(&bytes).is_ok()
    {
        // The text stays packed (the entry's packing is this very content) unless there are
        // suppressions to read in it.
        let suppressible = memchr::memmem::find(&bytes, b"unleak-ignore").is_some();
        let source = match entry.text {
            Some(packed) if !suppressible => {
                KeptSource::from_packing(shown, language, bytes.len(), packed)
            }
            _ => KeptSource::live(Arc::new(SourceFile::new(
                shown,
                language,
                String::from_utf8(bytes).unwrap_or_default(),
            ))),
        };
        let mut restored = FileAnalysis::from_cache(
            source,
            suppressible,
            entry.packing,
            entry.inputs,
            diagnostics,
        );
        restored.key = Some(crate::cache::Cache::analysis_key(key, content));
        return restored;
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return fail(
                PARSE_ERROR,
                format!(
                    "file is not valid UTF-8 (invalid byte at offset {}); skipped",
                    e.utf8_error().valid_up_to()
                ),
            );
        }
    };
    let mut analysis = analyse(SourceFile::new(shown.clone(), language, text), options);
    if let Some((c, key, content)) = cache
        && analysis.cacheable
    {
        // Packed once, for the entry and for the run (a batch run packs facts and text anyway).
        let packing = analysis.facts.as_ref().and_then(KeptFacts::packing);
        analysis.source = analysis.source.as_ref().map(KeptSource::packed);
        let text = analysis.source.as_ref().and_then(KeptSource::packing);
        c.put(
            key,
            content,
            crate::cache::Sections {
                facts: packing.as_deref(),
                inputs: analysis.inputs.as_deref(),
                text: text.as_deref(),
            },
            &analysis.diagnostics,
        );
        if let (Some(p), Some(f)) = (packing, analysis.facts()) {
            analysis.facts = Some(KeptFacts::live_packed(f, p));
        }
        analysis.key = Some(crate::cache::Cache::analysis_key(key, content));
    }
    analysis
}

/// Why bytes are not source text unleak can read, when that is plain from their start: UTF-16
/// (with a byte-order mark, or without one: every other byte NUL) or binary (NUL-heavy). A
/// stray NUL in a text file is left to the parser, which reports it.
fn not_text(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Some(
            "file is UTF-16 (it starts with a UTF-16 byte-order mark); unleak reads UTF-8 only, \
             so it was skipped (convert it, e.g. `iconv -f UTF-16 -t UTF-8`)"
                .into(),
        );
    }
    let head = &bytes[..bytes.len().min(4096)];
    let nuls = head.iter().filter(|&&b| b == 0).count();
    (head.len() >= 8 && nuls * 4 >= head.len()).then(|| {
        format!(
            "file looks like UTF-16 without a byte-order mark, or binary ({nuls} NUL bytes in \
             the first {} bytes); unleak reads UTF-8 only, so it was skipped",
            head.len()
        )
    })
}

/// Lowers a source and runs the file rules on a big stack; every failure becomes that file's
/// diagnostic.
fn analyse(source: SourceFile, options: &Options) -> FileAnalysis {
    let path = source.path.clone();
    let mut source = Some(source);
    on_big_stack(|| analyse_here(source.take().expect("taken once"), options)).unwrap_or_else(
        || {
            FileAnalysis::failed(
                source.take().map(Arc::new),
                false,
                INTERNAL_ERROR,
                path,
                0..0,
                "cannot start a worker thread to analyse this file; it was skipped",
            )
        },
    )
}

fn analyse_here(source: SourceFile, options: &Options) -> FileAnalysis {
    let path = source.path.clone();
    // Parsing, lowering and the file rules share the per-file budget.
    let deadline = std::time::Instant::now().checked_add(options.parse_budget);
    // A byte-order mark is not code: blank it for tree-sitter (same length, so offsets hold);
    // the Rust lexer skips it itself (and then allows a shebang line, as rustc does).
    let parse_text = match source.text.strip_prefix('\u{feff}') {
        Some(rest) if source.language != Language::Rust => format!("   {rest}"),
        _ => source.text.clone(),
    };
    let lowered = catch_unwind(AssertUnwindSafe(|| {
        fault_injection(&path, None);
        crate::lang::lower(source.language, &parse_text, options.parse_budget)
    }));
    let facts = match lowered {
        Ok(Ok(f)) => f,
        Ok(Err(failure)) => {
            // A time-out depends on the machine, not the file: never cached.
            let timed_out = failure.kind == crate::lang::FailureKind::Timeout;
            return FileAnalysis::failed(
                Some(Arc::new(source)),
                !timed_out,
                if timed_out { TIMEOUT } else { PARSE_ERROR },
                path,
                failure.range,
                failure.message,
            );
        }
        Err(panic) => {
            let message = format!(
                "unleak crashed while parsing `{}` ({:?} front end): {}; the file was skipped, \
                 please report this",
                path.display(),
                source.language,
                panic_message(&*panic)
            );
            return FileAnalysis::failed(
                Some(Arc::new(source)),
                false,
                INTERNAL_ERROR,
                path,
                0..0,
                message,
            );
        }
    };
    let mut diagnostics = Vec::new();
    diagnostics.extend(crate::syntax_gaps::diagnostic(
        &source,
        &facts.syntax_errors,
    ));
    // What the project rules read of the file, made while its facts are live.
    let inputs = match catch_unwind(AssertUnwindSafe(|| {
        ProjectInputs::build(&facts, &source.text, &options.rules)
    })) {
        Ok(i) => Arc::new(i),
        Err(panic) => {
            return FileAnalysis::failed(
                Some(Arc::new(source)),
                false,
                INTERNAL_ERROR,
                path.clone(),
                0..0,
                format!(
                    "unleak crashed while summarising `{}` for the project rules: {}; the file \
                     was skipped, please report this",
                    path.display(),
                    panic_message(&*panic)
                ),
            );
        }
    };
    let ctx = FileCtx {
        path: &path,
        source: &source.text,
        facts: &facts,
        options: &options.rules,
        is_test: is_test(&path, &inputs, options),
        deadline,
    };
    let mut cacheable = true;
    // One rule's crash costs only that rule's findings on this file.
    for rule in RULES.iter().filter(|r| !r.meta().is_project()) {
        let checked = catch_unwind(AssertUnwindSafe(|| {
            fault_injection(&path, Some(rule.meta().id));
            // Every finding says at least what to do, where: its help as a suggestion when no
            // fix could be built.
            crate::rules::fixes::with_suggestions(&ctx, rule.check_file(&ctx))
        }));
        // Out of time (a rule stops part-way when it sees it): what it found stays, the
        // rest of this file is not analysed, and the time-out says so. Never cached.
        if ctx.past_deadline() {
            if let Ok(d) = checked {
                diagnostics.extend(d);
            }
            cacheable = false;
            diagnostics.push(Diagnostic::new(
                TIMEOUT,
                Severity::Error,
                path.clone(),
                0..0,
                format!(
                    "timed out: analysing took longer than the per-file budget of {:?} (in rule \
                     `{}`); findings of that rule and the ones after it are missing for this file",
                    options.parse_budget,
                    rule.meta().id
                ),
            ));
            break;
        }
        match checked {
            Ok(d) => diagnostics.extend(d),
            Err(panic) => {
                cacheable = false;
                diagnostics.push(rule_crash(rule.meta().id, &path, "", &*panic));
            }
        }
    }
    // (Only a file that mentions one pays for its line index.)
    let suppressions = if source.text.contains("unleak-ignore") {
        crate::suppress::parse(&source.text, source.lines(), &facts.suppression_lookalikes)
    } else {
        Vec::new()
    };
    FileAnalysis {
        cacheable,
        source: Some(KeptSource::live(Arc::new(source))),
        facts: Some(KeptFacts::live(Arc::new(facts))),
        inputs: Some(inputs),
        key: None,
        diagnostics,
        suppressions,
    }
}

/// Whether `path` holds tests, by its configuration's `[files] tests` or the built-in set.
fn is_test(path: &Path, inputs: &ProjectInputs, options: &Options) -> bool {
    let configured = options
        .config
        .as_ref()
        .and_then(|c| c.for_file(path).ok())
        .and_then(|c| c.is_test(path));
    crate::rules::is_test(path, inputs, configured)
}

/// Test hook: `UNLEAK_FAULT_INJECT=<substring>` makes parsing any file whose path contains it
/// panic, and `UNLEAK_FAULT_INJECT=<substring>@<rule-id>` makes that rule panic on such files,
/// so the tests can prove a crash stays contained to that file (and that rule).
fn fault_injection(path: &Path, rule: Option<&str>) {
    let Some(spec) = std::env::var_os("UNLEAK_FAULT_INJECT") else {
        return;
    };
    let Some(spec) = spec.to_str() else { return };
    let (pat, target) = match spec.split_once('@') {
        Some((p, r)) => (p, Some(r)),
        None => (spec, None),
    };
    if !pat.is_empty() && target == rule && path.to_string_lossy().contains(pat) {
        panic!("fault injected by UNLEAK_FAULT_INJECT");
    }
}

/// The internal-error finding for rule `rule` that panicked on `path` (`phase` names the pass
/// when it is not the file rules: " in the project pass"); an empty path is the project index.
pub(crate) fn rule_crash(
    rule: &str,
    path: &std::path::Path,
    phase: &str,
    panic: &(dyn std::any::Any + Send),
) -> Diagnostic {
    let message = if path.as_os_str().is_empty() {
        format!(
            "rule `{rule}` panicked on the project index: {}; please report this",
            panic_message(panic)
        )
    } else {
        format!(
            "rule `{rule}` crashed on `{}`{phase}: {}; its findings for this file are missing, \
             please report this",
            path.display(),
            panic_message(panic)
        )
    };
    Diagnostic::new(
        INTERNAL_ERROR,
        Severity::Error,
        path.to_path_buf(),
        0..0,
        message,
    )
}

/// The text of a caught panic.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(name: &str, bytes: usize) -> FileAnalysis {
        let text = format!("export const x = 1;{}\n", " ".repeat(bytes - 20));
        analyse_source(Path::new(name), &text, &Options::default()).expect("a TS file")
    }

    fn packed(a: &FileAnalysis) -> bool {
        a.source.as_ref().is_some_and(KeptSource::is_packed)
    }

    #[test]
    fn files_stay_live_within_the_largest_file_times_the_workers_and_are_packed_beyond() {
        let budget = LiveBudget::new(2);
        // The first file sets the budget at twice its size: it and one more of its size fit.
        assert!(!packed(&budget.hold_or_pack(analysis("a.ts", 1_000))));
        assert!(!packed(&budget.hold_or_pack(analysis("b.ts", 1_000))));
        assert!(packed(&budget.hold_or_pack(analysis("c.ts", 100))));
        // A larger file raises the budget to twice its own size, which holds it.
        assert!(!packed(&budget.hold_or_pack(analysis("d.ts", 5_000))));
        assert!(!packed(&budget.hold_or_pack(analysis("e.ts", 2_000))));
        assert!(packed(&budget.hold_or_pack(analysis("f.ts", 2_000))));
    }

    #[test]
    fn the_project_rules_find_the_same_in_a_live_file_and_in_a_packed_one() {
        let text = "const seen = new Map();\nexport function track(id) {\n  seen.set(id, Date.now());\n}\n";
        let live = analyse_source(Path::new("g.ts"), text, &Options::default()).expect("a TS file");
        let kept = live.clone().packed();
        assert!(!packed(&live) && packed(&kept));
        let (a, b) = (
            link([&live], &Options::default()).diagnostics,
            link([&kept], &Options::default()).diagnostics,
        );
        assert!(a.iter().any(|d| d.rule == "unbounded-collection"), "{a:?}");
        assert_eq!(a, b);
    }
}
