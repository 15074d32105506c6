//! The command line: `unleak check`, `unleak merge`, `unleak rules`, `unleak explain`,
//! `unleak lsp`. Argument parsing with clap; every command calls the library and returns the
//! process exit code.

pub mod output;
mod shard;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::{Ansi, ColorChoice, NoColor, StandardStream};

use crate::diagnostic::Severity;
use crate::engine::{Options, Report, lint_paths};
use crate::registry;

/// Exit codes, as documented in README.
pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "unleak",
    version,
    about = "Finds the resource leaks that take long-running Rust and TypeScript/JavaScript services down",
    long_about = "unleak reads Rust and TypeScript/JavaScript service code and reports resource \
                  leaks — orphaned intervals and tasks, un-cleared deadline timers, listeners never \
                  removed, duplicate clients, unbounded collections and channels — with what leaks, \
                  why no release counts, and what to do."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Lint files and folders (default: the current folder).
    Check(CheckArgs),
    /// List the rules.
    Rules {
        /// Print as JSON.
        #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
        format: RulesFormat,
    },
    /// Print the effective configuration (and the file it came from).
    Config,
    /// Print the documentation of a rule.
    Explain {
        /// A rule id, e.g. `orphaned-interval`.
        rule: String,
    },
    /// Run the language server (LSP over stdin/stdout) for editors.
    Lsp(LspArgs),
    /// Report on a run split into shards (`unleak check --shard I/N`): read the summaries of
    /// every shard, run the project-wide rules over them and report as one run would.
    Merge(MergeArgs),
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The summaries files of every shard (`unleak-shard-I-of-N.summaries`).
    #[arg(required = true, value_name = "SUMMARIES")]
    pub summaries: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub baseline: ReportFilterArgs,
}

#[derive(clap::Args, Debug)]
pub struct LspArgs {
    /// Speak over stdin/stdout (the only transport; accepted because clients such as
    /// vscode-languageclient pass it).
    #[arg(long)]
    pub stdio: bool,
    /// Report only findings not in this baseline file (relative: to each workspace folder);
    /// the client's `baseline` setting takes precedence.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Also log routine events (start, indexing, reloads) on stderr; without it stderr carries
    /// only what needs attention.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Files or folders to lint. Files named here are always linted, even if ignored.
    pub paths: Vec<PathBuf>,
    /// Apply the safe fixes (in place, atomically), then report what is left.
    #[arg(long)]
    pub fix: bool,
    /// With --fix or --diff: apply the unsafe fixes too (they change behaviour, e.g. add cleanup).
    #[arg(long)]
    pub unsafe_fixes: bool,
    /// Print the fixes as a unified diff instead of writing them (exit 1 if there is a diff).
    #[arg(long, conflicts_with = "fix")]
    pub diff: bool,
    /// Analyse only shard I of N of the files (a deterministic split, e.g. `2/4`) and write
    /// their summaries for `unleak merge` instead of reporting: a CI matrix splits a monorepo.
    #[arg(long, value_name = "I/N", conflicts_with_all = ["fix", "diff"])]
    pub shard: Option<crate::shard::Shard>,
    /// With --shard: where to write the summaries (default: `unleak-shard-I-of-N.summaries`).
    #[arg(long, value_name = "FILE", requires = "shard")]
    pub summaries: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub baseline: ReportFilterArgs,
}

/// Which findings to report: against a baseline, or only in changed files (shared by
/// `unleak check` and `cargo unleak`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReportFilterArgs {
    /// Report only findings in the files staged in git (the whole project is still analysed,
    /// so project-wide rules see everything).
    #[arg(long, conflicts_with = "changed_since")]
    pub staged: bool,
    /// Report only findings in the files changed since a git ref (e.g. `origin/main`).
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Report only findings that are not in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record the current findings as the baseline in FILE (and exit 0).
    #[arg(long, value_name = "FILE", conflicts_with = "baseline")]
    pub write_baseline: Option<PathBuf>,
    /// With --baseline: drop the entries that no longer match any finding.
    #[arg(long, requires = "baseline")]
    pub prune_baseline: bool,
}

/// Options shared by `unleak check` and `cargo unleak`.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, alias = "output-format")]
    pub format: Format,
    /// Write the report to this file (replaced atomically) instead of standard output; `-` is
    /// standard output.
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    /// Skip files larger than this many bytes (reported as `io-error`; default 2 MiB, or the
    /// configuration's `max-file-size`).
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,
    /// Give up on a file whose parsing and analysis take longer than this many seconds
    /// (reported as `timeout`; default 10).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<std::time::Duration>,
    /// When to colour human output.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// Worker threads (default: one per core; at most 8 per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Analyse every file again: neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// The cache folder (default: `.unleak_cache` in the configuration's folder, else in the
    /// working directory; `cargo unleak`: `unleak` in the target folder).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Print on stderr how many files were analysed and how many came from the cache.
    #[arg(long)]
    pub statistics: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Diagnostics with source snippets, then a summary line.
    Human,
    /// The versioned JSON contract (see README).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands (pull-request annotations).
    Github,
    /// JUnit XML, one test suite per file.
    Junit,
    /// GitLab Code Quality report.
    Gitlab,
    /// One line per finding: `path:line:col: rule message`.
    Concise,
    /// Cargo's JSON `compiler-message` lines (`cargo unleak --message-format json`), for
    /// rust-analyzer's `check.overrideCommand`.
    #[value(name = "cargo-json")]
    CargoJson,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RulesFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Runs the CLI on the given arguments (the first is the program name) and returns the exit code.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    // A panic is reported as an `internal-error` diagnostic; the default hook would print a
    // second, rawer message on stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Check(args) => check(args),
        Command::Rules { format } => rules(format),
        Command::Explain { rule } => explain(&rule),
        Command::Config => print_config(),
        Command::Merge(args) => shard::merge(&args),
        Command::Lsp(args) => crate::lsp::run_stdio(crate::lsp::ServerConfig {
            baseline: args.baseline,
            verbose: args.verbose,
            ..crate::lsp::ServerConfig::default()
        }),
    }
}

fn check(args: CheckArgs) -> i32 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    if args.fix || args.diff {
        return run_fix(&paths, &args);
    }
    if let Some(shard) = args.shard {
        return shard::analyse(&paths, shard, &args);
    }
    run_check(&paths, &[], &args.output, &args.baseline)
}

/// `--fix` / `--diff`: fix in memory to a fixpoint, then write (or print) the changes and report
/// what is left.
fn run_fix(paths: &[PathBuf], args: &CheckArgs) -> i32 {
    // The configuration applies as in a check: a rule turned off is not fixed, an excluded file
    // is not touched.
    let mut options = match run_options(&args.output) {
        Ok((options, _)) => options,
        Err(code) => return code,
    };
    // Findings the baseline accepts are left alone, as a check leaves them unreported.
    if let Err(code) = with_baseline(&mut options, &args.baseline) {
        return code;
    }
    let mut run = crate::fix::fix_paths(paths, &options, args.unsafe_fixes);
    if args.diff {
        let mut out = std::io::stdout().lock();
        for c in &run.changes {
            let _ = out.write_all(crate::fix::unified_diff(c).as_bytes());
        }
        for p in &run.problems {
            eprintln!("unleak: {}: {}", p.file.display(), p.message);
        }
        let fixes: usize = run.changes.iter().map(|c| c.fixes).sum();
        eprintln!(
            "unleak: {}",
            fix_outcome(
                &run,
                "would apply",
                fixes,
                run.changes.len(),
                args.unsafe_fixes
            )
        );
        return if run.changes.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_FINDINGS
        };
    }
    crate::fix::write_changes(&mut run);
    let (fixes, files) = run.applied();
    eprintln!(
        "unleak: {}",
        fix_outcome(&run, "applied", fixes, files, args.unsafe_fixes)
    );
    for p in &run.problems {
        eprintln!("unleak: {}: {}", p.file.display(), p.message);
    }
    let mut report = crate::fix::relint(paths, &options);
    report.diagnostics.extend(run.problems);
    if let Err(e) = write_report(&report, &args.output, &[]) {
        eprintln!("unleak: cannot write the output: {e}");
        return EXIT_ERROR;
    }
    exit_code(&report)
}

/// What `--fix` / `--diff` did, in one sentence: "applied 3 fixes in 2 files", or, when only
/// unsafe fixes exist and were not asked for, "No safe fixes; 25 unsafe fixes are available
/// with `--unsafe-fixes`".
fn fix_outcome(
    run: &crate::fix::FixRun,
    verb: &str,
    fixes: usize,
    files: usize,
    unsafe_fixes: bool,
) -> String {
    use crate::summary::plural;
    let held_back = if unsafe_fixes {
        0
    } else {
        run.available.unsafe_
    };
    let unsafe_note = |n: usize| {
        format!(
            "{} {} available with `--unsafe-fixes` (they change behaviour, e.g. add cleanup)",
            plural(n, "unsafe fix"),
            if n == 1 { "is" } else { "are" }
        )
    };
    match (fixes, held_back) {
        (0, 0) if run.available.safe + run.available.unsafe_ == 0 => {
            "nothing to fix: no finding has an automatic fix".to_string()
        }
        (0, 0) => format!("{verb} no fix (none could be applied cleanly)"),
        (0, u) => format!("No safe fixes; {}", unsafe_note(u)),
        (f, 0) => format!("{verb} {} in {}", plural(f, "fix"), plural(files, "file")),
        (f, u) => format!(
            "{verb} {} in {}; {}",
            plural(f, "fix"),
            plural(files, "file"),
            unsafe_note(u)
        ),
    }
}

/// Puts the `--baseline` file into the run's options (paths in it are relative to the working
/// directory, where `--write-baseline` wrote them). `Err` holds the exit code after an error,
/// which is reported.
fn with_baseline(options: &mut Options, args: &ReportFilterArgs) -> Result<(), i32> {
    let Some(file) = &args.baseline else {
        return Ok(());
    };
    match crate::baseline::load(file) {
        Ok(b) => {
            options.baseline = Some(std::sync::Arc::new(crate::baseline::Filter {
                baseline: b,
                root: std::env::current_dir().unwrap_or_default(),
            }));
            Ok(())
        }
        Err(e) => {
            eprintln!("unleak: {e}");
            Err(EXIT_ERROR)
        }
    }
}

/// A run's options: the configuration found from the working directory, then the flags; and the
/// folder the cache lives in (the configuration's, else the working directory). `Err` holds the
/// exit code after an invalid configuration, which is reported.
pub(crate) fn run_options(args: &OutputArgs) -> Result<(Options, PathBuf), i32> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let config = match crate::config::discover(&cwd, &|id| registry::find(id).is_some()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unleak: invalid configuration: {e}");
            return Err(EXIT_ERROR);
        }
    };
    let cache_base = match &config.source {
        Some(_) => config.root.clone(),
        None => cwd,
    };
    let mut options = Options::configured(config);
    if let Some(max) = args.max_file_size {
        options.max_file_size = max;
        options.max_file_size_fixed = true;
    }
    if let Some(budget) = args.timeout {
        options.parse_budget = budget;
    }
    options.threads = args.threads;
    let capped = crate::engine::worker_threads(args.threads);
    if args.threads > capped {
        eprintln!(
            "unleak: --threads {} capped at {capped} ({} per core)",
            args.threads,
            crate::engine::MAX_THREADS_PER_CORE
        );
    }
    Ok((options, cache_base))
}

/// Lints `paths` (skipping the folders in `exclude`), writes the report, returns the exit code.
pub fn run_check(
    paths: &[PathBuf],
    exclude: &[PathBuf],
    args: &OutputArgs,
    baseline: &ReportFilterArgs,
) -> i32 {
    let lint = |options: &Options| {
        let mut options = options.clone();
        options.exclude = exclude.to_vec();
        let analysed = crate::engine::analyse_paths(paths, &options, &|_| true);
        let report = crate::engine::link_analysed(&analysed, &options);
        // The process reports and exits: freeing every file's facts one by one took ~4% of a
        // run on big files, for memory the exit hands back anyway.
        std::mem::forget(analysed);
        Ok(report)
    };
    run_check_with(&lint, &[], args, baseline)
}

/// One package of a `cargo unleak` run: what to lint and what it is.
#[derive(Debug, Clone)]
pub struct PackageRun {
    pub package: output::cargo::Package,
    /// Member folders nested inside it, linted as their own packages.
    pub exclude: Vec<PathBuf>,
}

/// `cargo unleak`: lints each package on its own (project-wide rules judge one package at a
/// time, so one package's findings do not depend on which others are selected), or, with
/// `whole_workspace`, all of them as one project; then reports as [`run_check`] does.
pub fn run_cargo_check(
    packages: &[PackageRun],
    whole_workspace: bool,
    args: &OutputArgs,
    baseline: &ReportFilterArgs,
) -> i32 {
    let lint = |options: &Options| {
        if whole_workspace {
            let mut options = options.clone();
            options.exclude = packages.iter().flat_map(|p| p.exclude.clone()).collect();
            let roots: Vec<PathBuf> = packages.iter().map(|p| p.package.root.clone()).collect();
            return Ok(lint_paths(&roots, &options));
        }
        let mut merged: Option<Report> = None;
        for p in packages {
            let mut options = options.clone();
            options.exclude = p.exclude.clone();
            let report = lint_paths(std::slice::from_ref(&p.package.root), &options);
            match &mut merged {
                Some(m) => m.merge(report),
                None => merged = Some(report),
            }
        }
        Ok(merged.unwrap_or_default())
    };
    let described: Vec<output::cargo::Package> =
        packages.iter().map(|p| p.package.clone()).collect();
    run_check_with(&lint, &described, args, baseline)
}

/// The check every entry shares: options and cache, the lint itself (`lint`; `Err`: a message,
/// exit 2), the changed-file filter, the baseline, the report.
pub(crate) fn run_check_with(
    lint: &dyn Fn(&Options) -> Result<Report, String>,
    packages: &[output::cargo::Package],
    args: &OutputArgs,
    baseline: &ReportFilterArgs,
) -> i32 {
    let (mut options, cache_base) = match run_options(args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    with_cache(&mut options, args, &cache_base);
    if let Err(code) = with_baseline(&mut options, baseline) {
        return code;
    }
    if baseline.staged || baseline.changed_since.is_some() {
        match crate::changed::changed_files(baseline.changed_since.as_deref()) {
            Ok(files) => options.report_only = Some(std::sync::Arc::new(files)),
            Err(e) => {
                eprintln!("unleak: {e}");
                return EXIT_ERROR;
            }
        }
    }
    let mut report = match lint(&options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("unleak: {e}");
            return EXIT_ERROR;
        }
    };
    if args.statistics {
        print_statistics(&report);
    }
    // The human summary says it on stdout; machine formats keep stdout for their document.
    if let Some(why) = &report.nothing_linted
        && args.format != Format::Human
    {
        eprintln!("unleak: {why}");
    }
    if let Some(file) = &baseline.write_baseline {
        let b = crate::baseline::from_report(&report);
        return match crate::baseline::save(file, &b) {
            Ok(()) => {
                eprintln!(
                    "unleak: wrote {} finding(s) to the baseline {}",
                    b.entries.len(),
                    file.display()
                );
                EXIT_CLEAN
            }
            Err(e) => {
                eprintln!("unleak: {e}");
                EXIT_ERROR
            }
        };
    }
    if let (Some(file), Some(filter)) = (&baseline.baseline, &options.baseline) {
        let stale = std::mem::take(&mut report.unmatched_baseline);
        if !stale.is_empty() {
            if baseline.prune_baseline {
                let kept = crate::baseline::Baseline {
                    version: 1,
                    entries: filter
                        .baseline
                        .entries
                        .iter()
                        .filter(|e| !stale.contains(e))
                        .cloned()
                        .collect(),
                };
                if let Err(e) = crate::baseline::save(file, &kept) {
                    eprintln!("unleak: {e}");
                    return EXIT_ERROR;
                }
                eprintln!(
                    "unleak: pruned {} baseline entr{} that no longer match",
                    stale.len(),
                    if stale.len() == 1 { "y" } else { "ies" }
                );
            } else {
                eprintln!(
                    "unleak: {} baseline entr{} no longer match any finding (prunable: rerun with \
                     --prune-baseline)",
                    stale.len(),
                    if stale.len() == 1 { "y" } else { "ies" }
                );
            }
        }
    }
    if let Err(e) = write_report(&report, args, packages) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return exit_code(&report);
        }
        eprintln!("unleak: cannot write the output: {e}");
        return EXIT_ERROR;
    }
    exit_code(&report)
}

/// Opens the run's cache unless `--no-cache` (in `--cache-dir`, else in `cache_base`).
pub(crate) fn with_cache(options: &mut Options, args: &OutputArgs, cache_base: &std::path::Path) {
    if !args.no_cache {
        let dir = args
            .cache_dir
            .clone()
            .unwrap_or_else(|| cache_base.join(crate::cache::DIR_NAME));
        // The cache is an optimisation: a folder that cannot be made means a run without it.
        options.cache = crate::cache::Cache::open(&dir, &options.rules)
            .ok()
            .map(std::sync::Arc::new);
    }
}

/// 0 when nothing at warning level or above was found, 1 for findings, 2 for internal errors.
pub fn exit_code(report: &Report) -> i32 {
    if report.has_internal_error() {
        EXIT_ERROR
    } else if report
        .diagnostics
        .iter()
        .any(|d| d.severity >= Severity::Warning)
    {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

/// `--statistics`: what was analysed and what came from the cache, on stderr.
fn print_statistics(report: &Report) {
    match report.cache {
        Some(c) => eprintln!(
            "unleak: {} file(s): {} analysed, {} from the cache ({} unusable cache entr{} \
             ignored, {} written); project findings of {} from the cache",
            report.files,
            c.analysed,
            c.hits,
            c.rejected,
            if c.rejected == 1 { "y" } else { "ies" },
            c.written,
            c.project_hits
        ),
        None => eprintln!(
            "unleak: {} file(s): {} analysed, 0 from the cache (cache off)",
            report.files, report.files
        ),
    }
}

fn write_report(
    report: &Report,
    args: &OutputArgs,
    packages: &[output::cargo::Package],
) -> std::io::Result<()> {
    let file = args.output_file.as_deref().filter(|p| p.as_os_str() != "-");
    let text = match args.format {
        Format::Json => output::json::render(report),
        Format::Sarif => output::sarif::render(report),
        Format::Github => output::github::render(report),
        Format::Junit => output::junit::render(report),
        Format::Gitlab => output::gitlab::render(report),
        Format::Concise => output::concise::render(report),
        Format::CargoJson => output::cargo::render(report, packages),
        Format::Human => {
            if let Some(path) = file {
                // Into a file: colour only when asked for explicitly.
                let mut buf: Vec<u8> = Vec::new();
                if args.color == ColorWhen::Always {
                    output::human::render(report, &mut Ansi::new(&mut buf))?;
                } else {
                    output::human::render(report, &mut NoColor::new(&mut buf))?;
                }
                return crate::atomic::write_named(path, &buf, "output");
            }
            let choice = match args.color {
                ColorWhen::Always => ColorChoice::Always,
                ColorWhen::Never => ColorChoice::Never,
                ColorWhen::Auto => {
                    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
                        ColorChoice::Auto
                    } else {
                        ColorChoice::Never
                    }
                }
            };
            let mut out = StandardStream::stdout(choice);
            output::human::render(report, &mut out)?;
            return out.flush();
        }
    };
    match file {
        Some(path) => crate::atomic::write_named(path, text.as_bytes(), "output"),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        }
    }
}

fn rules(format: RulesFormat) -> i32 {
    let mut out = std::io::stdout().lock();
    let res = match format {
        RulesFormat::Text => {
            let width = registry::all().map(|m| m.id.len()).max().unwrap_or(0);
            writeln!(
                out,
                "{:<width$}  {:<8} {:<8} summary",
                "id", "severity", "scope"
            )
            .and_then(|()| {
                registry::all().try_for_each(|m| {
                    writeln!(
                        out,
                        "{:<width$}  {:<8} {:<8} {}",
                        m.id,
                        m.severity.as_str(),
                        m.scope.as_str(),
                        m.summary
                    )
                })
            })
        }
        RulesFormat::Json => {
            let list: Vec<serde_json::Value> = registry::all()
                .map(|m| {
                    serde_json::json!({
                        "id": m.id,
                        "severity": m.severity.as_str(),
                        "scope": m.scope,
                        "languages": m.languages,
                        "fix": {"typescript": m.fix_ts, "javascript": m.fix_ts, "rust": m.fix_rust},
                        "summary": m.summary,
                    })
                })
                .collect();
            writeln!(out, "{}", serde_json::Value::Array(list))
        }
    };
    if res.is_err() { EXIT_ERROR } else { EXIT_CLEAN }
}

fn print_config() -> i32 {
    let cwd = std::env::current_dir().unwrap_or_default();
    match crate::config::discover(&cwd, &|id| registry::find(id).is_some()) {
        Ok(c) => {
            match &c.source {
                Some(p) => println!("# from {}", p.display()),
                None => println!(
                    "# no unleak.toml, .unleak.toml or Cargo.toml metadata found: defaults"
                ),
            }
            let mut effective = c.config.clone();
            // Show every rule's level, defaults included.
            for m in registry::all() {
                effective
                    .rules
                    .entry(m.id.to_string())
                    .or_insert(match m.severity {
                        crate::Severity::Error => crate::config::Level::Error,
                        crate::Severity::Warning => crate::config::Level::Warning,
                        crate::Severity::Info => crate::config::Level::Info,
                    });
            }
            if effective.max_file_size.is_none() {
                effective.max_file_size = Some(Options::default().max_file_size);
            }
            match toml::to_string_pretty(&effective) {
                Ok(t) => {
                    print!("{t}");
                    EXIT_CLEAN
                }
                Err(e) => {
                    eprintln!("unleak: cannot print the configuration: {e}");
                    EXIT_ERROR
                }
            }
        }
        Err(e) => {
            eprintln!("unleak: invalid configuration: {e}");
            EXIT_ERROR
        }
    }
}

fn explain(rule: &str) -> i32 {
    match registry::doc(rule) {
        Some(doc) => {
            let _ = std::io::stdout().write_all(doc.as_bytes());
            EXIT_CLEAN
        }
        None => {
            let known: Vec<&str> = registry::all().map(|m| m.id).collect();
            eprintln!(
                "unleak: unknown rule `{rule}`; known rules: {}",
                known.join(", ")
            );
            EXIT_ERROR
        }
    }
}

/// A positive number of seconds (fractions allowed), for `--timeout`.
fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if secs <= 0.0 {
        return Err("the timeout must be more than 0 seconds".into());
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}
