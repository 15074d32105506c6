//! Configuration: `unleak.toml` / `.unleak.toml`, or `[workspace.metadata.unleak]` /
//! `[package.metadata.unleak]` in a `Cargo.toml`, found by searching upward from each file's
//! folder ([`Resolver`]); the working directory's file also supplies the run-wide options. Per-rule levels (the ESLint/oxlint shape), include/exclude globs, per-path
//! overrides, and rule options. Unknown keys and bad values are errors naming the file, the line
//! and what is allowed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::diagnostic::Severity;

/// A rule's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Off,
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::Info => Some(Severity::Info),
            Level::Warning => Some(Severity::Warning),
            Level::Error => Some(Severity::Error),
        }
    }
}

/// The file's contents, as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// `rule-id = "off" | "info" | "warning" | "error"`.
    #[serde(default)]
    pub rules: BTreeMap<String, Level>,
    /// Only lint files matching these globs (relative to the configuration's folder).
    #[serde(default)]
    pub include: Vec<String>,
    /// Never lint files matching these globs (in folder walks; named files are always linted).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Skip larger files (bytes).
    #[serde(default)]
    pub max_file_size: Option<u64>,
    /// Per-path rule levels; later overrides win.
    #[serde(default)]
    pub overrides: Vec<Override>,
    #[serde(default)]
    pub options: RuleOptionsConfig,
    #[serde(default)]
    pub files: FilesConfig,
}

/// `[files]`: what kind of code a file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilesConfig {
    /// Globs (relative to the configuration's folder) of test files, which some rules skip;
    /// replaces the built-in set (see `rules::is_test_file`).
    #[serde(default)]
    pub tests: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Override {
    pub files: Vec<String>,
    #[serde(default)]
    pub rules: BTreeMap<String, Level>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleOptionsConfig {
    /// Extra words that make a method a teardown (`finalize`, `release_all`).
    #[serde(default)]
    pub teardown_words: Vec<String>,
    /// Extra client constructors for duplicate-client (class or factory names).
    #[serde(default)]
    pub client_constructors: Vec<String>,
    /// `cargo unleak` over several packages: judge the project-wide rules per package (the
    /// default) or over the whole selection as one project.
    #[serde(default)]
    pub project_scope: ProjectScope,
}

/// What one project is for the project-wide rules when `cargo unleak` lints several packages.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProjectScope {
    #[default]
    Package,
    Workspace,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub config: Config,
    /// The file it was read from (None: built-in defaults).
    pub source: Option<PathBuf>,
    /// The folder globs are relative to.
    pub root: PathBuf,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    overrides: Vec<(GlobSet, BTreeMap<String, Level>)>,
    tests: Option<GlobSet>,
}

const FILE_NAMES: &[&str] = &["unleak.toml", ".unleak.toml"];

/// Finds each file's configuration — the nearest one upward from the file's folder — and
/// remembers it per folder, so a monorepo's packages can each carry their own `unleak.toml`.
/// A configuration that cannot be used is remembered as an error for that folder.
#[derive(Debug)]
pub struct Resolver {
    root: Loaded,
    cache: std::sync::Mutex<
        std::collections::HashMap<PathBuf, Result<std::sync::Arc<Loaded>, String>>,
    >,
    /// Per folder, the configuration found searching upward from it (`None`: none), so each
    /// configuration file is read once per run, not once per folder below it.
    found: std::sync::Mutex<std::collections::HashMap<PathBuf, Option<Found>>>,
    is_rule: fn(&str) -> bool,
}

type Found = Result<std::sync::Arc<Loaded>, String>;

impl Resolver {
    /// `root`: the configuration of the working directory (its options apply to the whole run).
    pub fn new(root: Loaded, is_rule: fn(&str) -> bool) -> Resolver {
        Resolver {
            root,
            cache: std::sync::Mutex::new(std::collections::HashMap::new()),
            found: std::sync::Mutex::new(std::collections::HashMap::new()),
            is_rule,
        }
    }

    pub fn root(&self) -> &Loaded {
        &self.root
    }

    /// The configuration that governs `file`.
    pub fn for_file(&self, file: &Path) -> Result<std::sync::Arc<Loaded>, String> {
        let dir = file
            .parent()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .unwrap_or(Path::new("."));
        // The folder as given is looked up first: canonicalising costs a system call per path
        // component, and this runs for every file and every finding.
        {
            let cache = match self.cache.lock() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some(hit) = cache.get(dir) {
                return hit.clone();
            }
        }
        let given = dir.to_path_buf();
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(hit) = cache.get(&dir).cloned() {
            cache.insert(given, hit.clone());
            return hit;
        }
        // What `discover(&dir)` finds, from the folders already searched where possible.
        let loaded = match self.found_from(&dir) {
            Some(found) => found,
            None => Ok(std::sync::Arc::new(Loaded {
                root: dir.clone(),
                ..Loaded::default()
            })),
        };
        cache.insert(given, loaded.clone());
        cache.insert(dir, loaded.clone());
        loaded
    }

    /// The configuration found searching upward from `dir` (canonical), memoised per folder.
    fn found_from(&self, dir: &Path) -> Option<Found> {
        let mut found = match self.found.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut visited = Vec::new();
        let mut result = None;
        for d in dir.ancestors() {
            if let Some(hit) = found.get(d) {
                result = hit.clone();
                break;
            }
            visited.push(d.to_path_buf());
            if let Some(here) = load_here(d, &|id| (self.is_rule)(id)) {
                result = Some(
                    here.map(|l| {
                        // The working directory's own file: share it rather than parse it again.
                        if l.source.is_some() && l.source == self.root.source {
                            std::sync::Arc::new(self.root.clone())
                        } else {
                            std::sync::Arc::new(l)
                        }
                    })
                    .map_err(|e| e.to_string()),
                );
                break;
            }
        }
        for d in visited {
            found.insert(d, result.clone());
        }
        result
    }
}

/// Finds and loads the configuration for `start` (a folder), searching upward.
pub fn discover(start: &Path, is_rule: &dyn Fn(&str) -> bool) -> Result<Loaded, ConfigError> {
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    for dir in start.ancestors() {
        if let Some(found) = load_here(dir, is_rule) {
            return found;
        }
    }
    Ok(Loaded {
        root: start,
        ..Loaded::default()
    })
}

/// The configuration of `dir` itself, if it has one: an `unleak.toml`, an `.unleak.toml`, or a
/// `Cargo.toml` with an unleak section.
fn load_here(dir: &Path, is_rule: &dyn Fn(&str) -> bool) -> Option<Result<Loaded, ConfigError>> {
    let load = || -> Result<Option<Loaded>, ConfigError> {
        for name in FILE_NAMES {
            let p = dir.join(name);
            // Present in any form (a dangling link, a folder, a FIFO) is meant as configuration:
            // one that cannot be read is an error, not silently no configuration.
            if p.symlink_metadata().is_ok() {
                let text = read(&p)?;
                let config = parse(&text, &p)?;
                return finish(config, Some(p), dir, &text, is_rule).map(Some);
            }
        }
        let cargo = dir.join("Cargo.toml");
        if cargo.symlink_metadata().is_ok() {
            let text = read(&cargo)?;
            if let Some(config) = from_cargo(&text, &cargo)? {
                return finish(config, Some(cargo), dir, &text, is_rule).map(Some);
            }
        }
        Ok(None)
    };
    load().transpose()
}

/// A configuration file's text: a regular file of at most 4 MiB (a FIFO is refused without
/// blocking).
fn read(p: &Path) -> Result<String, ConfigError> {
    let err = |source| ConfigError::Read {
        path: p.display().to_string(),
        source,
    };
    let bytes = crate::fsio::read_regular(p, 4 * 1024 * 1024).map_err(err)?;
    String::from_utf8(bytes)
        .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

fn invalid(path: &Path, text: &str, offset: Option<usize>, message: String) -> ConfigError {
    let line = offset.map_or(1, |o| text[..o.min(text.len())].matches('\n').count() + 1);
    ConfigError::Invalid {
        path: path.display().to_string(),
        line,
        message,
    }
}

/// Parses an `unleak.toml`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        invalid(path, text, offset, e.message().trim().to_string())
    })
}

/// `[workspace.metadata.unleak]` or `[package.metadata.unleak]` of a Cargo.toml, if present.
fn from_cargo(text: &str, path: &Path) -> Result<Option<Config>, ConfigError> {
    let value: toml::Value = toml::from_str(text).map_err(|e| {
        invalid(
            path,
            text,
            e.span().map(|s| s.start),
            e.message().trim().to_string(),
        )
    })?;
    for table in ["workspace", "package"] {
        if let Some(section) = value
            .get(table)
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("unleak"))
        {
            let config: Config = section.clone().try_into().map_err(|e: toml::de::Error| {
                let at = text.find(&format!("[{table}.metadata.unleak"));
                invalid(
                    path,
                    text,
                    at,
                    format!("in [{table}.metadata.unleak]: {}", e.message().trim()),
                )
            })?;
            return Ok(Some(config));
        }
    }
    Ok(None)
}

fn globs(list: &[String], path: &Path, text: &str) -> Result<Option<GlobSet>, ConfigError> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in list {
        let glob = Glob::new(g).map_err(|e| {
            invalid(
                path,
                text,
                text.find(g.as_str()),
                format!("bad glob `{g}`: {e}"),
            )
        })?;
        b.add(glob);
    }
    b.build()
        .map(Some)
        .map_err(|e| invalid(path, text, None, format!("bad globs: {e}")))
}

fn finish(
    config: Config,
    source: Option<PathBuf>,
    root: &Path,
    text: &str,
    is_rule: &dyn Fn(&str) -> bool,
) -> Result<Loaded, ConfigError> {
    let path = source.clone().unwrap_or_default();
    let all_rules = config
        .rules
        .keys()
        .chain(config.overrides.iter().flat_map(|o| o.rules.keys()));
    for id in all_rules {
        if !is_rule(id) {
            return Err(invalid(
                &path,
                text,
                text.find(id.as_str()),
                format!("unknown rule `{id}` (see `unleak rules` for the ids)"),
            ));
        }
    }
    let include = globs(&config.include, &path, text)?;
    let exclude = globs(&config.exclude, &path, text)?;
    // An empty list is a choice too: no file is a test.
    let tests = match &config.files.tests {
        Some(list) => Some(globs(list, &path, text)?.unwrap_or_else(GlobSet::empty)),
        None => None,
    };
    let mut overrides = Vec::new();
    for o in &config.overrides {
        if let Some(set) = globs(&o.files, &path, text)? {
            overrides.push((set, o.rules.clone()));
        }
    }
    Ok(Loaded {
        config,
        source,
        root: root.to_path_buf(),
        include,
        exclude,
        overrides,
        tests,
    })
}

impl Loaded {
    /// `path` relative to the configuration's folder, for glob matching.
    fn relative<'p>(&self, path: &'p Path) -> std::borrow::Cow<'p, Path> {
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(path)
        };
        match abs.strip_prefix(&self.root) {
            Ok(r) => std::borrow::Cow::Owned(r.to_path_buf()),
            Err(_) => std::borrow::Cow::Borrowed(path),
        }
    }

    /// Whether a discovered (not explicitly named) file is linted.
    pub fn wants(&self, path: &Path) -> bool {
        let rel = self.relative(path);
        if self.exclude.as_ref().is_some_and(|g| g.is_match(&*rel)) {
            return false;
        }
        self.include.as_ref().is_none_or(|g| g.is_match(&*rel))
    }

    /// Whether `path` is a test file by the configuration's `[files] tests`; `None` when the
    /// configuration does not say (the built-in set applies).
    pub fn is_test(&self, path: &Path) -> Option<bool> {
        let set = self.tests.as_ref()?;
        Some(set.is_match(&*self.relative(path)))
    }

    /// The level of `rule` for `path`: the last matching override, else `[rules]`, else the
    /// rule's default (`None`).
    pub fn level(&self, rule: &str, path: &Path) -> Option<Level> {
        let rel = self.relative(path);
        for (set, rules) in self.overrides.iter().rev() {
            if set.is_match(&*rel)
                && let Some(l) = rules.get(rule)
            {
                return Some(*l);
            }
        }
        self.config.rules.get(rule).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_globs_and_overrides() {
        let text = "[rules]\norphaned-interval = \"off\"\nsilent-error = \"error\"\n\nexclude = [\"gen/**\"]\n";
        // `exclude` after a table belongs to the table: that is an unknown rule-level value.
        let err = parse(text, Path::new("unleak.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("unleak.toml:"), "{err}");
        let text = "exclude = [\"gen/**\"]\n[rules]\norphaned-interval = \"off\"\n[[overrides]]\nfiles = [\"test/**\"]\nrules = { silent-error = \"off\" }\n";
        let c = parse(text, Path::new("u.toml")).unwrap();
        let l = finish(c, Some("u.toml".into()), Path::new("/p"), text, &|_| true).unwrap();
        assert_eq!(
            l.level("orphaned-interval", Path::new("/p/src/a.ts")),
            Some(Level::Off)
        );
        assert_eq!(
            l.level("silent-error", Path::new("/p/test/a.ts")),
            Some(Level::Off)
        );
        assert_eq!(l.level("silent-error", Path::new("/p/src/a.ts")), None);
        assert!(!l.wants(Path::new("/p/gen/x.ts")));
        assert!(l.wants(Path::new("/p/src/x.ts")));
    }

    #[test]
    fn errors_name_the_line_and_what_is_allowed() {
        let text = "[rules]\norphaned-interval = \"loud\"\n";
        let e = parse(text, Path::new("unleak.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("unleak.toml:2:"), "{e}");
        assert!(e.contains("off") && e.contains("warning"), "{e}");
        let text = "colour = \"red\"\n";
        let e = parse(text, Path::new("unleak.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("unleak.toml:1:") && e.contains("colour"),
            "{e}"
        );
        let text = "[rules]\nno-such-rule = \"off\"\n";
        let c = parse(text, Path::new("unleak.toml")).unwrap();
        let e = finish(c, Some("unleak.toml".into()), Path::new("/"), text, &|r| {
            r == "x"
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("unleak.toml:2:") && e.contains("no-such-rule"),
            "{e}"
        );
    }
}
