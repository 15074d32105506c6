//! The project index helpers: resolving relative imports between the project's files, so
//! project-wide rules follow an exported binding into the files that import it.

use std::path::{Component, Path, PathBuf};

/// Extensions tried, in order, for an import without one (`./store` → `./store.ts`).
const EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

/// The project file a relative import of `source` from `from` refers to, if any.
/// Bare specifiers (`'openai'`) are packages, not project files: `None`.
pub fn resolve_import<'a>(
    from: &Path,
    source: &str,
    files: impl Iterator<Item = &'a Path> + Clone,
) -> Option<PathBuf> {
    if !source.starts_with("./") && !source.starts_with("../") {
        return None;
    }
    let base = normalize(&from.parent()?.join(source));
    let exists = |p: &Path| files.clone().any(|f| normalize(f) == p);
    // TS lets `./x.js` name `./x.ts`.
    let stem = match base.extension().and_then(|e| e.to_str()) {
        Some("js" | "mjs" | "cjs" | "jsx") => base.with_extension(""),
        _ => base.clone(),
    };
    if exists(&base) {
        return Some(base);
    }
    for ext in EXTENSIONS {
        let p = PathBuf::from(format!("{}.{ext}", stem.display()));
        if exists(&p) {
            return Some(p);
        }
    }
    for ext in EXTENSIONS {
        let p = base.join(format!("index.{ext}"));
        if exists(&p) {
            return Some(p);
        }
    }
    None
}

/// Lexically removes `.` and `..` (no file system access).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_imports_with_and_without_extensions() {
        let files = [
            PathBuf::from("src/state/store.ts"),
            PathBuf::from("src/lib/index.ts"),
            PathBuf::from("src/a.ts"),
        ];
        let it = files.iter().map(|p| p.as_path());
        let from = Path::new("src/a.ts");
        assert_eq!(
            resolve_import(from, "./state/store", it.clone()),
            Some(PathBuf::from("src/state/store.ts"))
        );
        assert_eq!(
            resolve_import(from, "./state/store.js", it.clone()),
            Some(PathBuf::from("src/state/store.ts"))
        );
        assert_eq!(
            resolve_import(Path::new("src/state/store.ts"), "../lib", it.clone()),
            Some(PathBuf::from("src/lib/index.ts"))
        );
        assert_eq!(resolve_import(from, "openai", it.clone()), None);
        assert_eq!(resolve_import(from, "./missing", it), None);
    }
}
