//! Which files hold tests (built-in set), judged by the folders *inside the project*: a
//! checkout under `/home/me/tests/` or a workspace opened in an editor from `~/testing/svc`
//! is not all tests. The project's root is the nearest folder with a `.git`, else the
//! outermost with a `Cargo.toml`, `package.json` or `unleak.toml`; without one, the path as
//! given (relative to the working directory when it is under it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::inputs;

/// A file that holds tests by the built-in set: names with `.test.` or `.spec.`, files under a
/// folder named `__tests__`, `__mocks__`, `test`, `tests`, `testing`, `bench`, `benches` or
/// `benchmarks`. Its timers and clients are not the service's. (`[files] tests` replaces the
/// set; see [`is_test`].)
pub fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.contains(".test.")
        || name.contains(".spec.")
        || in_folder(
            path,
            &[
                "__tests__",
                "__mocks__",
                "test",
                "tests",
                "testing",
                "benches",
                "bench",
                "benchmarks",
            ],
        )
}

/// Some folder of `path` below its project's root has one of these names.
fn in_folder(path: &Path, names: &[&str]) -> bool {
    let path = in_project(path);
    path.parent().is_some_and(|dir| {
        dir.components()
            .any(|c| c.as_os_str().to_str().is_some_and(|n| names.contains(&n)))
    })
}

/// Whether a file is treated as a test: by the configuration's `[files] tests` when it has
/// one (`configured`), else by [`is_test_file`]; a file under `examples/` is a test unless it
/// starts a server, in which case it shows a service and is linted like one.
pub fn is_test(path: &Path, inputs: &inputs::ProjectInputs, configured: Option<bool>) -> bool {
    if let Some(c) = configured {
        return c;
    }
    if is_test_file(path) || inputs.test_support {
        return true;
    }
    in_folder(path, &["examples"]) && !inputs.starts_server
}

/// Marks of a project's root, besides `.git`.
const PROJECT_FILES: &[&str] = &["Cargo.toml", "package.json", "unleak.toml", ".unleak.toml"];

/// `path` relative to its project's root (see the module doc), or as given.
fn in_project(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let abs = crate::project::normalize(&cwd.join(path));
    let root = abs.parent().and_then(project_root);
    match root.as_deref().and_then(|r| abs.strip_prefix(r).ok()) {
        Some(rel) => rel.to_path_buf(),
        None => abs
            .strip_prefix(&cwd)
            .map_or_else(|_| abs.clone(), Path::to_path_buf),
    }
}

/// The project root of folder `dir` (memoised per folder: every file of a folder asks).
fn project_root(dir: &Path) -> Option<PathBuf> {
    static ROOTS: OnceLock<Mutex<HashMap<PathBuf, Option<PathBuf>>>> = OnceLock::new();
    let roots = ROOTS.get_or_init(Default::default);
    if let Some(hit) = roots.lock().unwrap_or_else(|p| p.into_inner()).get(dir) {
        return hit.clone();
    }
    let mut outermost = None;
    let mut found = None;
    for d in dir.ancestors() {
        if d.join(".git").symlink_metadata().is_ok() {
            found = Some(d.to_path_buf());
            break;
        }
        if PROJECT_FILES
            .iter()
            .any(|f| d.join(f).symlink_metadata().is_ok())
        {
            outermost = Some(d.to_path_buf());
        }
    }
    let root = found.or(outermost);
    roots
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(dir.to_path_buf(), root.clone());
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_folders_count_only_inside_the_project() {
        let base = std::env::temp_dir().join(format!("unleak-test-files-{}", std::process::id()));
        let proj = base.join("tests").join("svc");
        std::fs::create_dir_all(proj.join("src")).unwrap();
        std::fs::create_dir_all(proj.join("tests")).unwrap();
        std::fs::write(proj.join("Cargo.toml"), "[package]\nname = \"svc\"\n").unwrap();
        // A checkout under a folder named `tests`: its sources are not tests, its tests are.
        assert!(!is_test_file(&proj.join("src").join("lib.rs")));
        assert!(is_test_file(&proj.join("tests").join("it.rs")));
        // Without a project mark the path as given decides, as before.
        let loose = base.join("loose").join("tests");
        std::fs::create_dir_all(&loose).unwrap();
        assert!(is_test_file(&loose.join("a.rs")));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
