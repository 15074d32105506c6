//! Applying fixes: non-overlapping edits per file, in rounds to a fixpoint (overlaps wait for
//! the next round), each round's result re-parsed (a fix that would break the file is refused),
//! and the files written atomically (temporary file in the same folder, fsync, rename; mode kept;
//! a file that changed on disk since it was read is not overwritten).

use std::collections::BTreeMap;
use std::io::Write;
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
    taken.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
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
/// one more than any that does).
fn parse_damage(path: &Path, text: &str) -> Option<usize> {
    let lang = Language::from_path(path)?;
    match lang {
        Language::Rust => Some(usize::from(crate::lang::rust::lower(text).is_err())),
        l => crate::lang::ts::lower(text, l, std::time::Duration::from_secs(10))
            .ok()
            .map(|f| f.syntax_errors.len()),
    }
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
            let (after, _) = apply_edits(&w.current, &edits);
            if let Err(problem) = parse_check(&path, &w.current, &after) {
                run.problems.push(*problem);
                continue;
            }
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
                if !created && let Err(problem) = parse_check(path, &current, &after) {
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

/// Refuses a change that makes a file parse worse than before.
fn parse_check(path: &Path, before: &str, after: &str) -> Result<(), Box<Diagnostic>> {
    let before_damage = parse_damage(path, before);
    let after_damage = parse_damage(path, after);
    if after_damage > before_damage || after_damage.is_none() {
        return Err(Box::new(Diagnostic::new(
            "fix-error",
            Severity::Error,
            path.to_path_buf(),
            0..0,
            "a fix would leave this file unparsable, so it was not applied",
        )));
    }
    Ok(())
}

/// Writes the changes atomically; a file whose content changed on disk since it was read is
/// left alone and reported.
pub fn write_changes(run: &mut FixRun) {
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

fn write_one(path: &Path, before: &str, after: &str) -> Result<(), String> {
    let on_disk = std::fs::read(path).map_err(|e| format!("cannot re-read before writing: {e}"))?;
    if on_disk != before.as_bytes() {
        return Err("the file changed on disk since it was read; not overwritten".into());
    }
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    publish_atomically(path, after, |tmp| {
        std::fs::set_permissions(tmp, meta.permissions())?;
        std::fs::rename(tmp, path)
    })
    .map_err(|e| format!("cannot write the fixed file: {e}"))
}

/// Creates a file the fixer wrote from scratch, never over an existing one: the temporary file
/// is hard-linked into place, which fails if the name was taken meanwhile.
fn create_one(path: &Path, text: &str) -> Result<(), String> {
    publish_atomically(path, text, |tmp| std::fs::hard_link(tmp, path))
        .map_err(|e| format!("cannot create the file a fix adds: {e}"))
}

/// Writes `text` to a temporary file next to `path`, syncs it, hands it to `publish` (rename
/// or link it into place), syncs the folder, and never leaves the temporary file behind.
fn publish_atomically(
    path: &Path,
    text: &str,
    publish: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.unleak-fix-{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        publish(&tmp)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    // After a rename it is gone already; after a link or a failure it must go.
    let _ = std::fs::remove_file(&tmp);
    result
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
}
