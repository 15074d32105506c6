//! The lint pipeline: read and lower every file in parallel (each on a big-stack worker, a
//! panic caught per file), run file rules, build the project index, run project rules, sort.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;

use crate::cache::Cache;
use crate::diagnostic::{Diagnostic, INTERNAL_ERROR, IO_ERROR, PARSE_ERROR, Severity};
use crate::discover::{discover, display_path};
use crate::facts::FileFacts;
use crate::lang::ts::{LowerError, lower};
use crate::registry::RULES;
use crate::rules::{FileCtx, ProjectCtx, ProjectFile, RuleOptions};
use crate::source::{Language, SourceFile};

/// How a run is configured.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files larger than this are skipped with an `io-error` diagnostic.
    pub max_file_size: u64,
    /// Parse budget per file; a parse that takes longer is abandoned (`parse-error`).
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: 2 * 1024 * 1024,
            parse_budget: Duration::from_secs(10),
            rules: RuleOptions::default(),
            threads: 0,
            exclude: Vec::new(),
            config: None,
            cache: None,
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
}

impl Report {
    /// Per-file failures: `io-error`, `parse-error`, `internal-error` of severity error.
    pub fn failures(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| is_failure(d.rule) && d.severity == Severity::Error)
            .count()
    }

    /// A rule or the engine panicked somewhere.
    pub fn has_internal_error(&self) -> bool {
        self.diagnostics.iter().any(|d| d.rule == INTERNAL_ERROR)
    }
}

pub fn is_failure(rule: &str) -> bool {
    matches!(rule, IO_ERROR | PARSE_ERROR | INTERNAL_ERROR)
}

/// Stack for the workers: the lowering walk recurses once per nesting level.
const WORKER_STACK: usize = 256 * 1024 * 1024;

/// Lints files and folders.
pub fn lint_paths(paths: &[PathBuf], options: &Options) -> Report {
    let mut found = discover(paths, &options.exclude);
    let mut config_errors = Vec::new();
    if let Some(cfg) = &options.config {
        // include/exclude globs apply to walks; a file named on the command line is linted.
        found.files.retain(|f| {
            if paths.iter().any(|p| p == f) {
                return true;
            }
            match cfg.for_file(f) {
                Ok(c) => c.wants(f),
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .stack_size(WORKER_STACK)
        .build();
    let run = || {
        found
            .files
            .par_iter()
            .map(|p| process_file(p, options))
            .collect::<Vec<_>>()
    };
    let outcomes = match &pool {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    };
    finish(outcomes, &mut diagnostics, options, found.files.len())
}

/// Lints one in-memory file as a single-file project (editors, tests, docs).
pub fn lint_source(path: &Path, text: &str, options: &Options) -> Vec<Diagnostic> {
    let Some(language) = Language::from_path(path) else {
        return Vec::new();
    };
    let source = SourceFile::new(path.to_path_buf(), language, text.to_string());
    let outcome = analyse(source, options);
    // In memory: the source stays with the outcome (it cannot be read back from disk).
    let mut diagnostics = Vec::new();
    finish(vec![outcome], &mut diagnostics, options, 1).diagnostics
}

/// One file's result before the project rules.
struct Outcome {
    /// The file as shown; `None` when it was never read.
    path: Option<PathBuf>,
    /// The source, kept only while something may point into it (its own findings or
    /// suppressions); any other file a project rule reports into is read back at the end, so
    /// a run does not hold every file's text at once.
    source: Option<Arc<SourceFile>>,
    facts: Option<FileFacts>,
    diagnostics: Vec<Diagnostic>,
    suppressions: Vec<crate::suppress::Suppression>,
    /// The result depends on the content and configuration alone (no time-out, no crash).
    cacheable: bool,
}

impl Outcome {
    /// A failure before the file could be analysed.
    fn failed(path: Option<PathBuf>, diagnostic: Diagnostic) -> Outcome {
        Outcome {
            path,
            source: None,
            facts: None,
            diagnostics: vec![diagnostic],
            suppressions: Vec::new(),
            cacheable: false,
        }
    }
}

fn finish(
    outcomes: Vec<Outcome>,
    diagnostics: &mut Vec<Diagnostic>,
    options: &Options,
    files: usize,
) -> Report {
    let mut sources = HashMap::new();
    // Files read and analysed whose text was not kept.
    let mut unkept = HashSet::new();
    let mut project = Vec::new();
    let mut suppressions = Vec::new();
    for o in outcomes {
        diagnostics.extend(o.diagnostics);
        if let Some(src) = o.source {
            if !o.suppressions.is_empty() {
                suppressions.push((src.clone(), o.suppressions));
            }
            sources.insert(src.path.clone(), src);
        } else if let Some(path) = &o.path {
            unkept.insert(path.clone());
        }
        if let (Some(path), Some(facts)) = (o.path, o.facts) {
            project.push(ProjectFile { path, facts });
        }
    }
    let ctx = ProjectCtx {
        files: &project,
        options: &options.rules,
    };
    for rule in RULES.iter().filter(|r| r.meta().project) {
        match catch_unwind(AssertUnwindSafe(|| rule.check_project(&ctx))) {
            Ok(d) => diagnostics.extend(d),
            Err(panic) => diagnostics.push(Diagnostic::new(
                INTERNAL_ERROR,
                Severity::Error,
                PathBuf::new(),
                0..0,
                format!(
                    "rule `{}` panicked on the project index: {}; please report this",
                    rule.meta().id,
                    panic_message(&panic)
                ),
            )),
        }
    }
    // Inline suppressions, after every rule (project rules report into files too).
    for (src, sups) in &suppressions {
        crate::suppress::apply(&src.path, &src.text, &src.lines, sups, diagnostics, &|id| {
            crate::registry::find(id).is_some()
        });
    }
    // Configured levels: `off` drops a rule's findings, other levels replace the severity.
    if let Some(cfg) = &options.config {
        diagnostics.retain_mut(|d| {
            if is_failure(d.rule) {
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
    // Keep only the sources that output needs.
    let needed: HashSet<&Path> = diagnostics
        .iter()
        .flat_map(|d| {
            std::iter::once(d.file.as_path())
                .chain(d.labels.iter().filter_map(|l| l.file.as_deref()))
        })
        .collect();
    sources.retain(|p, _| needed.contains(p.as_path()));
    // Files only a project rule reports into: read back now.
    for p in needed {
        if !sources.contains_key(p)
            && unkept.contains(p)
            && let Some(language) = Language::from_path(p)
            && let Ok(text) = std::fs::read_to_string(p)
        {
            let src = SourceFile::new(p.to_path_buf(), language, text);
            sources.insert(p.to_path_buf(), Arc::new(src));
        }
    }
    Report {
        diagnostics: std::mem::take(diagnostics),
        files,
        sources,
        cache: options.cache.as_ref().map(|c| c.stats()),
    }
}

/// Reads, validates and analyses one file from disk.
fn process_file(path: &Path, options: &Options) -> Outcome {
    let shown = display_path(path);
    let fail = |rule: &'static str, msg: String| {
        Outcome::failed(
            None,
            Diagnostic::new(rule, Severity::Error, shown.clone(), 0..0, msg),
        )
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
    if size > options.max_file_size {
        return fail(
            IO_ERROR,
            format!(
                "file is {size} bytes, larger than the {} byte limit; skipped (raise it with \
                 --max-file-size)",
                options.max_file_size
            ),
        );
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return fail(IO_ERROR, format!("cannot read the file: {e}")),
    };
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
                Cache::content_hash(&bytes),
            )
        });
    let mut bytes = bytes;
    if let Some((c, key, content)) = cache
        && let Some((entry, diagnostics)) = c.get(key, content, &shown)
    {
        match String::from_utf8(bytes) {
            Ok(text) => return from_cache(shown, language, text, entry.facts, diagnostics),
            Err(e) => bytes = e.into_bytes(),
        }
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
    let mut outcome = analyse(SourceFile::new(shown.clone(), language, text), options);
    if let Some((c, key, content)) = cache
        && outcome.cacheable
    {
        c.put(key, content, outcome.facts.as_ref(), &outcome.diagnostics);
    }
    if outcome.diagnostics.is_empty() && outcome.suppressions.is_empty() {
        outcome.source = None;
    }
    outcome
}

/// A file's outcome rebuilt from its cache entry; only its suppressions are read again (from
/// the text, which is at hand).
fn from_cache(
    shown: PathBuf,
    language: Language,
    text: String,
    facts: Option<FileFacts>,
    diagnostics: Vec<Diagnostic>,
) -> Outcome {
    let mut source = None;
    let mut suppressions = Vec::new();
    if !diagnostics.is_empty() || text.contains("unleak-ignore") {
        let src = SourceFile::new(shown.clone(), language, text);
        if let Some(f) = &facts {
            suppressions = crate::suppress::parse(&src.text, &src.lines, &f.suppression_lookalikes);
        }
        if !diagnostics.is_empty() || !suppressions.is_empty() {
            source = Some(Arc::new(src));
        }
    }
    Outcome {
        path: Some(shown),
        source,
        facts,
        diagnostics,
        suppressions,
        cacheable: true,
    }
}

/// Lowers a source and runs the file rules; every failure becomes that file's diagnostic.
fn analyse(source: SourceFile, options: &Options) -> Outcome {
    let path = source.path.clone();
    // A byte-order mark is not code: blank it (same length, so offsets hold).
    let parse_text: std::borrow::Cow<str> = match source.text.strip_prefix('\u{feff}') {
        Some(rest) => format!("   {rest}").into(),
        None => source.text.as_str().into(),
    };
    let lowered = catch_unwind(AssertUnwindSafe(|| {
        fault_injection(&path);
        match source.language {
            Language::Rust => {
                crate::lang::rust::lower(&parse_text).map_err(|e| (e.message, e.range, true))
            }
            lang => lower(&parse_text, lang, options.parse_budget).map_err(|e| {
                // A time-out depends on the machine, not the file: never cached.
                let cacheable = !matches!(e, LowerError::Timeout(_));
                let msg = match e {
                    LowerError::TooDeep(_) => format!("{e} (too deep to analyse)"),
                    _ => e.to_string(),
                };
                (msg, 0..0, cacheable)
            }),
        }
    }));
    let facts = match lowered {
        Ok(Ok(f)) => f,
        Ok(Err((msg, range, cacheable))) => {
            return Outcome {
                path: Some(path.clone()),
                source: Some(Arc::new(source)),
                facts: None,
                suppressions: Vec::new(),
                diagnostics: vec![Diagnostic::new(
                    PARSE_ERROR,
                    Severity::Error,
                    path,
                    range,
                    msg,
                )],
                cacheable,
            };
        }
        Err(panic) => {
            return Outcome {
                path: Some(path.clone()),
                source: Some(Arc::new(source)),
                facts: None,
                suppressions: Vec::new(),
                cacheable: false,
                diagnostics: vec![Diagnostic::new(
                    INTERNAL_ERROR,
                    Severity::Error,
                    path,
                    0..0,
                    format!(
                        "unleak crashed while parsing this file: {}; the file was skipped, please \
                         report this",
                        panic_message(&panic)
                    ),
                )],
            };
        }
    };
    let mut diagnostics = Vec::new();
    let mut cacheable = true;
    if let Some(first) = facts.syntax_errors.first() {
        diagnostics.push(
            Diagnostic::new(
                PARSE_ERROR,
                Severity::Info,
                path.clone(),
                first.clone(),
                format!(
                    "{} region(s) could not be parsed and were skipped; the rest of the file was linted",
                    facts.syntax_errors.len()
                ),
            )
            .with_help("check the syntax here; unleak lints what parses"),
        );
    }
    let ctx = FileCtx {
        path: &path,
        facts: &facts,
        options: &options.rules,
    };
    for rule in RULES.iter().filter(|r| !r.meta().project) {
        match catch_unwind(AssertUnwindSafe(|| rule.check_file(&ctx))) {
            Ok(d) => diagnostics.extend(d),
            Err(panic) => {
                cacheable = false;
                diagnostics.push(Diagnostic::new(
                    INTERNAL_ERROR,
                    Severity::Error,
                    path.clone(),
                    0..0,
                    format!(
                        "rule `{}` panicked on this file: {}; please report this",
                        rule.meta().id,
                        panic_message(&panic)
                    ),
                ))
            }
        }
    }
    let suppressions =
        crate::suppress::parse(&source.text, &source.lines, &facts.suppression_lookalikes);
    Outcome {
        path: Some(path),
        source: Some(Arc::new(source)),
        facts: Some(facts),
        diagnostics,
        suppressions,
        cacheable,
    }
}

/// Test hook: `UNLEAK_FAULT_INJECT=<substring>` makes the analysis of any file whose path
/// contains it panic, so the tests can prove a crash stays contained to that file.
fn fault_injection(path: &Path) {
    if let Some(pat) = std::env::var_os("UNLEAK_FAULT_INJECT")
        && let Some(pat) = pat.to_str()
        && !pat.is_empty()
        && path.to_string_lossy().contains(pat)
    {
        panic!("fault injected by UNLEAK_FAULT_INJECT");
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}
