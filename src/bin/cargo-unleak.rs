//! `cargo unleak`: finds the workspace with `cargo metadata` and lints the source folders of the
//! selected packages (Rust and any TypeScript in them) without compiling anything. Cargo runs
//! it as `cargo-unleak unleak ARGS`. Same output formats, flags and exit codes as `unleak check`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;
use unleak::cli::output::cargo::Package;
use unleak::cli::{EXIT_ERROR, OutputArgs, PackageRun, ReportFilterArgs, run_cargo_check};

#[derive(Parser, Debug)]
#[command(
    name = "cargo unleak",
    bin_name = "cargo unleak",
    version,
    about = "Lint the packages of a cargo workspace for resource leaks"
)]
struct Args {
    /// Package(s) to lint (default: the current package, or every member of a virtual workspace).
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    packages: Vec<String>,
    /// Lint every workspace member.
    #[arg(long)]
    workspace: bool,
    /// With --workspace: skip these packages.
    #[arg(long, value_name = "SPEC")]
    exclude: Vec<String>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// `json`: cargo's JSON message lines (for rust-analyzer's `check.overrideCommand`);
    /// `human`: the default output.
    #[arg(long, value_name = "FMT")]
    message_format: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    baseline: ReportFilterArgs,
}

fn main() {
    std::process::exit(run(std::env::args_os().collect()));
}

fn run(mut args: Vec<OsString>) -> i32 {
    // `cargo unleak …` runs `cargo-unleak unleak …`.
    if args.get(1).is_some_and(|a| a == "unleak") {
        args.remove(1);
    }
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let mut args = args;
    match args.message_format.as_deref() {
        None | Some("human" | "short") => {}
        Some(f) if f.starts_with("json") => args.output.format = unleak::cli::Format::CargoJson,
        Some(other) => {
            eprintln!("cargo unleak: unknown --message-format `{other}` (expected json or human)");
            return EXIT_ERROR;
        }
    }
    // Cargo's own rule and wording.
    if !args.exclude.is_empty() && !args.workspace {
        eprintln!("error: --exclude can only be used together with --workspace");
        return EXIT_ERROR;
    }
    match select(&args) {
        Ok((packages, target, whole_workspace)) => {
            // The cache lives with cargo's other build products.
            if !args.output.no_cache && args.output.cache_dir.is_none() {
                args.output.cache_dir = Some(target.join("unleak"));
            }
            run_cargo_check(&packages, whole_workspace, &args.output, &args.baseline)
        }
        Err(e) => {
            eprintln!("cargo unleak: {e:#}");
            EXIT_ERROR
        }
    }
}

/// The packages to lint (each with the nested member folders to leave to their own package),
/// the workspace's target folder, and whether the project-wide rules judge the selection as one
/// project (`[options] project-scope = "workspace"` in the workspace's configuration).
fn select(args: &Args) -> anyhow::Result<(Vec<PackageRun>, PathBuf, bool)> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.no_deps();
    if let Some(m) = &args.manifest_path {
        cmd.manifest_path(m);
    }
    let meta = cmd
        .exec()
        .map_err(|e| anyhow::anyhow!("cannot read the workspace with `cargo metadata`: {e}"))?;
    let members = meta.workspace_packages();
    let dir_of = |p: &cargo_metadata::Package| -> PathBuf {
        p.manifest_path
            .parent()
            .map(|d| d.as_std_path().to_path_buf())
            .unwrap_or_default()
    };
    for spec in args.packages.iter().chain(&args.exclude) {
        if !members.iter().any(|p| p.name.as_str() == spec) {
            let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
            anyhow::bail!(
                "package `{spec}` is not a member of the workspace (members: {})",
                names.join(", ")
            );
        }
    }
    let selected: Vec<&cargo_metadata::Package> = if args.workspace {
        members
            .iter()
            .copied()
            .filter(|p| !args.exclude.iter().any(|x| x == p.name.as_str()))
            .collect()
    } else if !args.packages.is_empty() {
        members
            .iter()
            .copied()
            .filter(|p| args.packages.iter().any(|x| x == p.name.as_str()))
            .collect()
    } else {
        // The package whose folder holds the current directory (or the manifest), like cargo.
        let here = match &args.manifest_path {
            Some(m) => std::fs::canonicalize(m)?
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            None => std::env::current_dir()?,
        };
        let current = members
            .iter()
            .copied()
            .filter(|p| here.starts_with(dir_of(p)))
            .max_by_key(|p| dir_of(p).components().count());
        match current {
            Some(p) => vec![p],
            // A virtual manifest: every member.
            None => members.clone(),
        }
    };
    let all_dirs: Vec<PathBuf> = members.iter().map(|p| dir_of(p)).collect();
    let packages = selected
        .iter()
        .map(|p| {
            let root = dir_of(p);
            // Members nested inside this package's folder are linted as their own package.
            let exclude = all_dirs
                .iter()
                .filter(|d| **d != root && d.starts_with(&root))
                .cloned()
                .collect();
            PackageRun {
                package: Package {
                    root,
                    id: p.id.repr.clone(),
                    manifest_path: p.manifest_path.to_string(),
                    targets: p
                        .targets
                        .iter()
                        .filter_map(|t| serde_json::to_value(t).ok())
                        .collect(),
                },
                exclude,
            }
        })
        .collect();
    let root = meta.workspace_root.as_std_path();
    let config = unleak::config::discover(root, &|id| unleak::registry::find(id).is_some())
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let whole = config.config.options.project_scope == unleak::config::ProjectScope::Workspace;
    Ok((
        packages,
        meta.target_directory.as_std_path().to_path_buf(),
        whole,
    ))
}
