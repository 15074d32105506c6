//! Applying fixes: non-overlapping edits per file, in rounds to a fixpoint (overlaps wait for
//! the next round), each round's result re-parsed (a fix that would break the file is refused),
//! and the files written atomically (temporary file in the same folder, fsync, rename; mode kept;
//! a file that changed on disk since it was read is not overwritten).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Applicability, Diagnostic, Severity};
use crate::discover::display_path;
use crate::engine::{FileAnalysis, Options, Report, link, lint_paths};
use crate::source::Language;

/// Rounds before giving up on reaching a fixpoint.
const MAX_ROUNDS: usize = 10;

/// One file's text before and after fixing.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
    /// The fixer creates this file (`before` is empty).
    pub created: bool,
    pub before: String,
    pub after: String,
    /// How many fixes were applied to it.
    pub fixes: usize,
}

/// What `--fix` did.
#[derive(Debug, Default)]
pub struct FixRun {
    pub changes: Vec<FileChange>,
    /// Refusals and write failures, as diagnostics.
    pub problems: Vec<Diagnostic>,
    /// The findings with a fix before fixing, by the best applicability each offers: what
    /// `--fix` could do and what only `--unsafe-fixes` would.
    pub available: crate::summary::Fixable,
}

impl FixRun {
    /// Fixes in the files that were (or would be) written: a change whose write failed is not
    /// counted.
    pub fn applied(&self) -> (usize, usize) {
        let failed: std::collections::HashSet<&Path> = self
            .problems
            .iter()
            .filter(|p| p.rule == "fix-error")
            .map(|p| p.file.as_path())
            .collect();
        let written = self
            .changes
            .iter()
            .filter(|c| !failed.contains(c.path.as_path()));
        written.fold((0, 0), |(fixes, files), c| (fixes + c.fixes, files + 1))
    }
}

/// Applies non-overlapping edits to `text`. Edits are taken in order; one that overlaps an
/// edit already taken is skipped (returned), to be retried against the new text next round.
pub fn apply_edits(text: &str, edits: &[(Range<usize>, String)]) -> (String, Vec<usize>) {
    let mut taken: Vec<(Range<usize>, &str)> = Vec::new();
    let mut skipped = Vec::new();
    for (i, (r, content)) in edits.iter().enumerate() {
        let valid = r.start <= r.end
            && r.end <= text.len()
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end);
        let overlaps = taken.iter().any(|(t, _)| overlap(r, t));
        if !valid || overlaps {
            skipped.push(i);
        } else {
            taken.push((r.clone(), content));
        }
    }
    // Back to front, so earlier offsets stay valid. At a shared start the replacement goes
    // first and the insertion (empty range) after it, in front of the new text: applied the
    // other way round, the replacement would cut into the inserted text (and could split a
    // character).
    taken.sort_by_key(|(r, _)| std::cmp::Reverse((r.start, r.end)));
    let mut out = text.to_string();
    for (r, content) in taken {
        out.replace_range(r, content);
    }
    (out, skipped)
}

/// Two edits conflict when their ranges intersect or start at the same place (two insertions
/// there, or an insertion before a replacement, have no order of their own).
fn overlap(a: &Range<usize>, b: &Range<usize>) -> bool {
    (a.start < b.end && b.start < a.end) || a.start == b.start
}

/// The number of regions that do not parse (a Rust file that does not parse at all counts as
/// one more than any that does); `None` when it cannot be told (too deep, out of time). Runs
/// on a big stack with the same guards as linting.
pub fn parse_damage(path: &Path, text: &str, budget: std::time::Duration) -> Option<usize> {
    let lang = Language::from_path(path)?;
    crate::engine::on_big_stack(|| match (lang, crate::lang::lower(lang, text, budget)) {
        (_, Ok(f)) => Some(f.syntax_errors.len()),
        // syn stops at the first error: a Rust file that does not parse is one region worse.
        (Language::Rust, Err(_)) => Some(1),
        (_, Err(_)) => None,
    })
    .flatten()
}

/// Text edits: a range of the current text and what replaces it.
type Edits = Vec<(Range<usize>, String)>;

/// A file's text while fixing: as read (`None`: the fixer creates it) and as fixed so far.
struct Working {
    before: Option<String>,
    current: String,
    fixes: usize,
}

/// Lints `paths`, applies the fixes allowed (`unsafe_fixes` adds the unsafe ones) to a fixpoint
/// in memory, and returns the changes; nothing is written (see [`write_changes`]).
///
/// Each round takes at most one fix per finding. A fix's edits go in together or not at all:
/// single-file fixes are batched per file (an overlap waits for the next round); a fix that
/// spans files (a shared module created and imported) is applied alone, to files no other fix
/// touched this round. An edit on a file that does not exist creates it; one that would create
/// a file already holding exactly that text is already done. Every file a round changes is
/// re-parsed and a change that would break it is refused. Between rounds the whole project is
/// re-linted with the fixed texts standing in for the files.
pub fn fix_paths(paths: &[PathBuf], options: &Options, unsafe_fixes: bool) -> FixRun {
    // On one big-stack thread, so the re-lints and re-parses of every round run right there
    // instead of each starting a thread of their own.
    crate::engine::on_big_stack(|| fix_paths_here(paths, options, unsafe_fixes)).unwrap_or_else(
        || FixRun {
            changes: Vec::new(),
            available: Default::default(),
            problems: vec![Diagnostic::new(
                "fix-error",
                Severity::Error,
                PathBuf::new(),
                0..0,
                "cannot start a worker thread; no fix was applied",
            )],
        },
    )
}

fn fix_paths_here(paths: &[PathBuf], options: &Options, unsafe_fixes: bool) -> FixRun {
    let allowed =
        |a: Applicability| a == Applicability::Safe || (unsafe_fixes && a == Applicability::Unsafe);
    let mut files: BTreeMap<PathBuf, Working> = BTreeMap::new();
    let mut run = FixRun::default();
    // Analyse every file once; between rounds only the files a round changed are analysed
    // again, and the project rules re-run over all of them (`link`).
    let (found, unreadable) = crate::engine::find_files(paths, options);
    let shown: Vec<PathBuf> = found.iter().map(|p| display_path(p)).collect();
    let mut analyses: BTreeMap<PathBuf, FileAnalysis> = shown
        .iter()
        .cloned()
        .zip(crate::engine::analyse_files(&shown, options))
        .collect();
    let mut report = link(analyses.values(), options);
    report.diagnostics.extend(unreadable);
    run.available = crate::summary::Fixable::count(&report.diagnostics);
    for _round in 0..MAX_ROUNDS {
        for (path, src) in &report.sources {
            files.entry(path.clone()).or_insert_with(|| Working {
                before: Some(src.text.clone()),
                current: src.text.clone(),
                fixes: 0,
            });
        }
        // Per file, the single-file edits taken this round and how many fixes they make.
        let mut batch: BTreeMap<PathBuf, (Edits, usize)> = BTreeMap::new();
        let mut spanning: Vec<BTreeMap<PathBuf, Edits>> = Vec::new();
        for d in std::mem::take(&mut report.diagnostics) {
            for f in d.fixes.iter().filter(|f| allowed(f.applicability)) {
                let mut per_file: BTreeMap<PathBuf, Edits> = BTreeMap::new();
                for e in &f.edits {
                    let target = e.file.clone().unwrap_or_else(|| d.file.clone());
                    per_file
                        .entry(target)
                        .or_default()
                        .push((e.range.clone(), e.content.clone()));
                }
                // A file to create that already holds exactly this text: nothing left to do.
                per_file.retain(|path, edits| {
                    let existing = files
                        .get(path)
                        .map(|w| w.current.clone())
                        .or_else(|| std::fs::read_to_string(path).ok());
                    !(edits.len() == 1
                        && edits[0].0 == (0..0)
                        && existing.as_deref() == Some(edits[0].1.as_str()))
                });
                if per_file.is_empty() {
                    continue;
                }
                if per_file.len() == 1 {
                    let (path, edits) = per_file.into_iter().next().expect("one file");
                    let (taken, count) = batch.entry(path).or_default();
                    if edits
                        .iter()
                        .any(|(e, _)| taken.iter().any(|(t, _)| overlap(e, t)))
                    {
                        continue; // next round, against the new text
                    }
                    taken.extend(edits);
                    *count += 1;
                } else {
                    spanning.push(per_file);
                }
                break;
            }
        }
        let mut changed: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
        for (path, (edits, count)) in batch {
            let Some(w) = files.get_mut(&path) else {
                continue;
            };
            let after = match checked_apply(&path, &w.current, &edits, options) {
                Ok(after) => after,
                Err(problem) => {
                    run.problems.push(*problem);
                    continue;
                }
            };
            w.current = after;
            w.fixes += count;
            changed.insert(path);
        }
        for fix in spanning {
            if fix.keys().any(|p| changed.contains(p)) {
                continue; // its offsets were computed against this round's starting texts
            }
            let mut results = Vec::new();
            let mut refused = false;
            for (path, edits) in &fix {
                let (current, created) = match files.get(path) {
                    Some(w) => (w.current.clone(), false),
                    None => match std::fs::read_to_string(path) {
                        Ok(t) => (t, false),
                        Err(_) => (String::new(), true),
                    },
                };
                let (after, skipped) = apply_edits(&current, edits);
                if !skipped.is_empty() {
                    refused = true;
                    break;
                }
                if !created
                    && let Err(problem) = parse_check(path, &current, &after, options.parse_budget)
                {
                    run.problems.push(*problem);
                    refused = true;
                    break;
                }
                results.push((path.clone(), current, after, created));
            }
            if refused {
                continue;
            }
            for (path, current, after, created) in results {
                let w = files.entry(path.clone()).or_insert_with(|| Working {
                    before: if created { None } else { Some(current.clone()) },
                    current: current.clone(),
                    fixes: 0,
                });
                w.current = after;
                w.fixes += 1;
                changed.insert(path);
            }
        }
        if changed.is_empty() {
            break;
        }
        // Re-analyse what changed (and what was created) and re-run the project rules, so the
        // next round is judged as the fixed project will be.
        for path in &changed {
            if let Some(w) = files.get(path)
                && let Some(a) = crate::engine::analyse_source(path, &w.current, options)
            {
                analyses.insert(path.clone(), a);
            }
        }
        report = link(analyses.values(), options);
    }
    for (path, w) in files {
        if w.before.as_deref() != Some(w.current.as_str()) {
            run.changes.push(FileChange {
                path,
                created: w.before.is_none(),
                before: w.before.unwrap_or_default(),
                after: w.current,
                fixes: w.fixes,
            });
        }
    }
    run
}

/// Refuses a change that makes a file parse worse than before (or whose parse cannot be told).
fn parse_check(
    path: &Path,
    before: &str,
    after: &str,
    budget: std::time::Duration,
) -> Result<(), Box<Diagnostic>> {
    let before_damage = parse_damage(path, before, budget);
    let after_damage = parse_damage(path, after, budget);
    if after_damage > before_damage || after_damage.is_none() {
        return Err(refusal(
            path,
            "a fix would leave this file unparsable, so it was not applied",
        ));
    }
    Ok(())
}

/// One file fixed in memory by [`fix_source`].
#[derive(Debug, Clone)]
pub struct SourceFix {
    pub after: String,
    /// How many fixes were applied.
    pub fixes: usize,
    /// Rounds refused because they would have broken the file.
    pub problems: Vec<Diagnostic>,
}

/// Fixes one in-memory file (as its own project, like [`crate::lint_source`]) to a fixpoint,
/// with the same rounds, the same conflict rule and the same refusal of anything that parses
/// worse as `--fix`. For the fuzzers and tests that need a whole fixpoint in memory.
pub fn fix_source(path: &Path, text: &str, options: &Options, unsafe_fixes: bool) -> SourceFix {
    let allowed =
        |a: Applicability| a == Applicability::Safe || (unsafe_fixes && a == Applicability::Unsafe);
    let mut out = SourceFix {
        after: text.to_string(),
        fixes: 0,
        problems: Vec::new(),
    };
    let mut diags = crate::lint_source(path, text, options);
    for _round in 0..MAX_ROUNDS {
        let mut edits: Edits = Vec::new();
        let mut fixes = 0;
        for d in &diags {
            for f in d.fixes.iter().filter(|f| allowed(f.applicability)) {
                if f.edits
                    .iter()
                    .any(|e| e.file.as_ref().is_some_and(|p| p != path))
                {
                    continue; // single-file fixes only
                }
                if f.edits
                    .iter()
                    .any(|e| edits.iter().any(|(r, _)| overlap(&e.range, r)))
                {
                    continue; // next round, against the new text
                }
                edits.extend(f.edits.iter().map(|e| (e.range.clone(), e.content.clone())));
                fixes += 1;
                break;
            }
        }
        if edits.is_empty() {
            break;
        }
        match checked_apply(path, &out.after, &edits, options) {
            Ok(after) => {
                out.after = after;
                out.fixes += fixes;
                diags = crate::lint_source(path, &out.after, options);
            }
            Err(problem) => {
                out.problems.push(*problem);
                break;
            }
        }
    }
    out
}

/// Applies `edits` (already known not to conflict with each other) to `current` and re-parses
/// the result: refused when an edit does not apply cleanly (a fix whose own edits overlap, or
/// fall outside the text) or when the file would parse worse than before.
fn checked_apply(
    path: &Path,
    current: &str,
    edits: &[(Range<usize>, String)],
    options: &Options,
) -> Result<String, Box<Diagnostic>> {
    let (after, skipped) = apply_edits(current, edits);
    if !skipped.is_empty() {
        return Err(refusal(
            path,
            "a fix's edits do not apply cleanly to this file, so it was not applied",
        ));
    }
    parse_check(path, current, &after, options.parse_budget)?;
    Ok(after)
}

fn refusal(path: &Path, why: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic::new(
        "fix-error",
        Severity::Error,
        path.to_path_buf(),
        0..0,
        why,
    ))
}

/// Writes the changes atomically; a file whose content changed on disk since it was read is
/// left alone and reported.
pub fn write_changes(run: &mut FixRun) {
    // What a killed earlier run left behind in these folders goes first.
    let folders: std::collections::BTreeSet<PathBuf> = run
        .changes
        .iter()
        .filter_map(|c| {
            std::fs::canonicalize(&c.path)
                .ok()?
                .parent()
                .map(Path::to_path_buf)
        })
        .collect();
    for dir in folders {
        crate::atomic::remove_stale(&dir, "fix");
    }
    for c in &run.changes {
        let written = if c.created {
            create_one(&c.path, &c.after)
        } else {
            write_one(&c.path, &c.before, &c.after)
        };
        if let Err(why) = written {
            run.problems.push(Diagnostic::new(
                "fix-error",
                Severity::Error,
                c.path.clone(),
                0..0,
                why,
            ));
        }
    }
}

/// Writes one fixed file: through a symlink to the file it points at (the link stays a link),
/// never over a read-only file or one whose content is no longer `before`, and atomically (see
/// [`publish_atomically`]) with the mode and, where allowed, the owner of the original. The
/// rename gives the path a new inode: other hard links to the old one keep the old text.
fn write_one(path: &Path, before: &str, after: &str) -> Result<(), String> {
    let target = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot resolve the file before writing: {e}"))?;
    let meta = std::fs::metadata(&target).map_err(|e| format!("cannot write: {e}"))?;
    if meta.permissions().readonly() {
        return Err(
            "the file is read-only, so the fix was not written (make it writable to apply it)"
                .into(),
        );
    }
    let on_disk =
        std::fs::read(&target).map_err(|e| format!("cannot re-read before writing: {e}"))?;
    if on_disk != before.as_bytes() {
        return Err("the file changed on disk since it was read; not overwritten".into());
    }
    publish_atomically(&target, after, |tmp, file| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Keep the owner when we may (root fixing another user's file); else it is ours.
            let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
        }
        file.set_permissions(meta.permissions())?;
        std::fs::rename(tmp, &target)
    })
    .map_err(|e| format!("cannot write the fixed file: {e}"))
}

/// Creates a file the fixer wrote from scratch, never over an existing one: the temporary file
/// is hard-linked into place, which fails if the name was taken meanwhile.
fn create_one(path: &Path, text: &str) -> Result<(), String> {
    publish_atomically(path, text, |tmp, _| std::fs::hard_link(tmp, path))
        .map_err(|e| format!("cannot create the file a fix adds: {e}"))
}

/// [`crate::atomic::publish`] with the fixer's temporary names (`.NAME.unleak-fix-PID-N.tmp`).
fn publish_atomically(
    path: &Path,
    text: &str,
    publish: impl FnOnce(&Path, &std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    crate::atomic::publish(path, text.as_bytes(), "fix", publish)
}

/// The unified diff of one change, for `--diff` (a created file is diffed against /dev/null).
pub fn unified_diff(c: &FileChange) -> String {
    let name = c.path.display().to_string();
    let name = name.trim_start_matches('/');
    let old = if c.created {
        "/dev/null".to_string()
    } else {
        format!("a/{name}")
    };
    similar::TextDiff::from_lines(&c.before, &c.after)
        .unified_diff()
        .context_radius(3)
        .header(&old, &format!("b/{name}"))
        .to_string()
}

/// The report after fixing: a fresh lint of the same paths.
pub fn relint(paths: &[PathBuf], options: &Options) -> Report {
    lint_paths(paths, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_back_to_front_and_overlaps_wait() {
        let (out, skipped) = apply_edits(
            "abcdef",
            &[
                (1..2, "X".into()),
                (4..6, "YZ!".into()),
                (1..3, "no".into()),
                (0..0, "^".into()),
            ],
        );
        assert_eq!(out, "^aXcdYZ!");
        assert_eq!(skipped, vec![2]);
        let (out, skipped) = apply_edits("é", &[(1..2, "x".into())]);
        assert_eq!((out.as_str(), skipped), ("é", vec![0]));
    }

    #[test]
    fn an_insertion_where_a_replacement_starts_conflicts_with_it() {
        // Found by the property test: applied insertion-first, the replacement cut into the
        // inserted text and split the emoji (a panic). Two edits at one start have no order of
        // their own, so the later one waits for the next round.
        let (out, skipped) = apply_edits("abc", &[(1..1, "😀".into()), (1..2, "Y".into())]);
        assert_eq!((out.as_str(), skipped), ("a😀bc", vec![1]));
        let (out, skipped) = apply_edits("abc", &[(1..2, "Y".into()), (1..1, "😀".into())]);
        assert_eq!((out.as_str(), skipped), ("aYc", vec![1]));
    }
}
