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
    /// What the walk passed over, for the summary.
    pub skipped: Skipped,
}

/// What a run saw and did not lint, by reason (the summary says so, above all when nothing was
/// linted).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Folders not walked into because of their name ([`SKIPPED_DIRS`]).
    pub dirs: usize,
    /// `*.min.*` files passed over in walks.
    pub minified: usize,
    /// Files left out by the configuration's `include`/`exclude` globs.
    pub excluded: usize,
}

/// Finds the lintable files under `paths`, sorted and without duplicates.
pub fn discover(paths: &[PathBuf], exclude: &[PathBuf]) -> Discovered {
    let exclude: Vec<PathBuf> = exclude.to_vec();
    let mut out = Discovered::default();
    let skipped_dirs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
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
        let counter = skipped_dirs.clone();
        let walker = ignore::WalkBuilder::new(root)
            .require_git(false)
            .filter_entry(move |e| {
                let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                if !is_dir || e.depth() == 0 {
                    return true;
                }
                if e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIPPED_DIRS.contains(&n))
                {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return false;
                }
                !excluded.iter().any(|x| x == e.path())
            })
            .build();
        for entry in walker {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_file())
                        && Language::from_path(e.path()).is_some()
                    {
                        if is_minified(e.path()) {
                            out.skipped.minified += 1;
                        } else {
                            out.files.push(e.into_path());
                        }
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
    out.skipped.dirs = skipped_dirs.load(std::sync::atomic::Ordering::Relaxed);
    out
}

/// Why a walk of `paths` found nothing to lint, in one sentence for the summary, e.g. "3 files
/// skipped under dist/ (ignored by default; name the folder to lint it)". Walks again without
/// any filter (only when nothing was found, so the cost does not matter), looking at up to
/// 100,000 entries.
pub fn why_nothing(paths: &[PathBuf], skipped: &Skipped) -> String {
    use std::collections::BTreeMap;
    let mut under: BTreeMap<String, usize> = BTreeMap::new();
    let (mut ignored, mut minified, mut other) = (0usize, 0usize, 0usize);
    let mut seen = 0usize;
    for root in paths.iter().filter(|p| p.is_dir()) {
        let walk = ignore::WalkBuilder::new(root)
            .standard_filters(false)
            .build();
        for e in walk.flatten() {
            seen += 1;
            if seen > 100_000 {
                break;
            }
            if !e.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let p = e.path();
            if Language::from_path(p).is_none() {
                other += 1;
                continue;
            }
            let rel = p.strip_prefix(root).unwrap_or(p);
            let skipped_dir = rel.parent().and_then(|parent| {
                let mut acc = PathBuf::new();
                parent.components().find_map(|c| {
                    acc.push(c);
                    let name = c.as_os_str().to_str()?;
                    SKIPPED_DIRS.contains(&name).then(|| acc.clone())
                })
            });
            if let Some(dir) = skipped_dir {
                let shown = display_path(&root.join(dir));
                *under
                    .entry(format!("{}/", shown.to_string_lossy().replace('\\', "/")))
                    .or_default() += 1;
            } else if is_minified(p) {
                minified += 1;
            } else {
                ignored += 1;
            }
        }
    }
    let files = |n: usize| format!("{n} file{}", if n == 1 { "" } else { "s" });
    let mut why: Vec<String> = under
        .iter()
        .map(|(dir, n)| {
            format!(
                "{} skipped under {dir} (ignored by default; name the folder to lint it)",
                files(*n)
            )
        })
        .collect();
    if minified > 0 {
        why.push(format!(
            "{} minified (`*.min.*`, skipped in walks; name a file to lint it)",
            files(minified)
        ));
    }
    if ignored > 0 {
        why.push(format!(
            "{} ignored by .gitignore/.ignore or hidden (name a file to lint it)",
            files(ignored)
        ));
    }
    if skipped.excluded > 0 {
        why.push(format!(
            "{} left out by the configuration's include/exclude globs",
            files(skipped.excluded)
        ));
    }
    if why.is_empty() {
        why.push(if other > 0 {
            format!(
                "no Rust, TypeScript or JavaScript files among the {} found",
                files(other)
            )
        } else {
            "no files found".to_string()
        });
    }
    format!("0 files linted: {}", why.join("; "))
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
