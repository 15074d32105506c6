//! The command line: `unleak check`, `unleak rules`, `unleak explain`. Argument parsing with
//! clap; every command calls the library and returns the process exit code.

pub mod output;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};

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
    about = "Finds the resource leaks that take long-running services down",
    long_about = "unleak reads TypeScript/JavaScript service code and reports resource leaks — \
                  orphaned intervals, un-cleared deadline timers, listeners never removed, duplicate \
                  clients, unbounded collections — with what leaks, why no release counts, and what \
                  to do."
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
    /// Print the documentation of a rule.
    Explain {
        /// A rule id, e.g. `orphaned-interval`.
        rule: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Files or folders to lint. Files named here are always linted, even if ignored.
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options shared by `unleak check` and `cargo unleak`.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, alias = "output-format")]
    pub format: Format,
    /// Skip files larger than this many bytes (reported as `io-error`).
    #[arg(long, default_value_t = 2 * 1024 * 1024, value_name = "BYTES")]
    pub max_file_size: u64,
    /// When to colour human output.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
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
    }
}

fn check(args: CheckArgs) -> i32 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    run_check(&paths, &[], &args.output)
}

/// Lints `paths` (skipping the folders in `exclude`), writes the report, returns the exit code.
pub fn run_check(paths: &[PathBuf], exclude: &[PathBuf], args: &OutputArgs) -> i32 {
    let options = Options {
        max_file_size: args.max_file_size,
        threads: args.threads,
        exclude: exclude.to_vec(),
        ..Options::default()
    };
    let report = lint_paths(paths, &options);
    if let Err(e) = write_report(&report, args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return exit_code(&report);
        }
        eprintln!("unleak: cannot write the output: {e}");
        return EXIT_ERROR;
    }
    exit_code(&report)
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

fn write_report(report: &Report, args: &OutputArgs) -> std::io::Result<()> {
    match args.format {
        Format::Json => {
            let mut out = std::io::stdout().lock();
            out.write_all(output::json::render(report).as_bytes())?;
            out.flush()
        }
        Format::Human => {
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
            out.flush()
        }
    }
}

fn rules(format: RulesFormat) -> i32 {
    let mut out = std::io::stdout().lock();
    let res = match format {
        RulesFormat::Text => registry::all().try_for_each(|m| {
            writeln!(
                out,
                "{:<22} {:<8} {:<8} {}",
                m.id,
                m.severity.as_str(),
                if m.project { "project" } else { "file" },
                m.summary
            )
        }),
        RulesFormat::Json => {
            let list: Vec<serde_json::Value> = registry::all()
                .map(|m| {
                    serde_json::json!({
                        "id": m.id,
                        "severity": m.severity.as_str(),
                        "scope": if m.project { "project" } else { "file" },
                        "languages": m.languages,
                        "summary": m.summary,
                    })
                })
                .collect();
            writeln!(out, "{}", serde_json::Value::Array(list))
        }
    };
    if res.is_err() { EXIT_ERROR } else { EXIT_CLEAN }
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
