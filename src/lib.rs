//! unleak: a lifecycle-aware static analyser that finds the resource leaks that take
//! long-running services down — orphaned intervals, un-cleared deadline timers, listeners
//! never removed, duplicate clients, unbounded collections — in TypeScript/JavaScript (and,
//! later, Rust).
//!
//! The pipeline: [`discover`] files → read → parse once and lower to [`facts`] → file rules →
//! project rules over every file's inputs, unpacking one file's facts at a time
//! (`project_pass`) → sorted [`diagnostic::Diagnostic`]s. Every front end
//! (CLI, cargo subcommand, pre-commit, LSP) calls [`lint_paths`] or [`lint_source`].

pub mod atomic;
pub mod baseline;
pub mod cache;
pub mod changed;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod discover;
pub mod engine;
pub mod facts;
pub mod fix;
pub mod fixes;
pub mod fsio;
pub mod kept;
pub mod lang;
pub mod lsp;
pub mod project;
pub(crate) mod project_pass;
pub mod registry;
pub mod rules;
pub mod shard;
pub mod source;
pub mod summaries;
pub mod summary;
pub mod suppress;
pub mod syntax_gaps;
pub mod uri;

pub use diagnostic::{Diagnostic, Severity};
pub use engine::{Options, Report, lint_paths, lint_source};
