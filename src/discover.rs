//! File discovery: walks the given paths honouring `.gitignore`/`.ignore`, skips dependency
//! and build folders, and keeps explicitly named files whatever the ignore rules say.

use std::path::{Path, PathBuf};

use crate::source::Language;

/// Folders never descended into during a walk (a path named explicitly is still linted).
pub const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "dist",
    "build",
    ".git",
    crate::cache::DIR_NAME,
];

/// What discovery found: files to lint, and paths that could not be walked.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    /// Paths that do not exist or could not be read, with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

/// Finds the lintable files under `paths`, sorted and without duplicates.
pub fn discover(paths: &[PathBuf], exclude: &[PathBuf]) -> Discovered {
    let exclude: Vec<PathBuf> = exclude.to_vec();
    let mut out = Discovered::default();
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                out.errors.push((root.clone(), e.to_string()));
                continue;
            }
        };
        if !meta.is_dir() {
            // Named explicitly: always linted when unleak knows the language.
            if Language::from_path(root).is_some() {
                out.files.push(root.clone());
            }
            continue;
        }
        let excluded = exclude.clone();
        let walker = ignore::WalkBuilder::new(root)
            .require_git(false)
            .filter_entry(move |e| {
                let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                !(is_dir
                    && e.depth() > 0
                    && (e
                        .file_name()
                        .to_str()
                        .is_some_and(|n| SKIPPED_DIRS.contains(&n))
                        || excluded.iter().any(|x| x == e.path())))
            })
            .build();
        for entry in walker {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_file())
                        && Language::from_path(e.path()).is_some()
                        && !is_minified(e.path())
                    {
                        out.files.push(e.into_path());
                    }
                }
                Err(err) => {
                    let path = err_path(&err).unwrap_or_else(|| root.clone());
                    out.errors.push((path, err.to_string()));
                }
            }
        }
    }
    out.files.sort();
    out.files.dedup();
    out
}

/// `x.min.js`: generated, one line, nobody's code to fix. Skipped in walks (still linted when
/// named explicitly).
fn is_minified(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(".min."))
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            err_path(err)
        }
        _ => None,
    }
}

/// The path as the user should see it: relative to the working directory when under it.
pub fn display_path(path: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir() else {
        return path.to_path_buf();
    };
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        return crate::project::normalize(path);
    };
    match abs.strip_prefix(&cwd) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => abs,
    }
}
