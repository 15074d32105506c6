//! Applying fixes: non-overlapping edits per file, in rounds to a fixpoint (overlaps wait for
//! the next round), each round's result re-parsed (a fix that would break the file is refused),
//! and the files written atomically (temporary file in the same folder, fsync, rename; mode kept;
//! a file that changed on disk since it was read is not overwritten).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Applicability, Diagnostic, Severity};
use crate::engine::{Options, Report, lint_paths};
use crate::source::Language;

/// Rounds before giving up on reaching a fixpoint.
const MAX_ROUNDS: usize = 10;

/// One file's text before and after fixing.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
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

/// Lints `paths`, applies the fixes allowed (`unsafe_fixes` adds the unsafe ones) to a fixpoint
/// in memory, and returns the changes; nothing is written (see [`write_changes`]).
pub fn fix_paths(paths: &[PathBuf], options: &Options, unsafe_fixes: bool) -> FixRun {
    let first = lint_paths(paths, options);
    let allowed =
        |a: Applicability| a == Applicability::Safe || (unsafe_fixes && a == Applicability::Unsafe);
    let mut texts: BTreeMap<PathBuf, (String, String, usize)> = BTreeMap::new();
    let mut run = FixRun::default();
    for (path, src) in &first.sources {
        texts.insert(path.clone(), (src.text.clone(), src.text.clone(), 0));
    }
    let mut report = first;
    for _round in 0..MAX_ROUNDS {
        // The diagnostics of this round, per file.
        let mut pending: BTreeMap<PathBuf, Vec<Diagnostic>> = BTreeMap::new();
        for d in std::mem::take(&mut report.diagnostics) {
            pending.entry(d.file.clone()).or_default().push(d);
        }
        for (path, src) in &report.sources {
            texts
                .entry(path.clone())
                .or_insert_with(|| (src.text.clone(), src.text.clone(), 0));
        }
        let mut changed_any = false;
        for (path, diags) in &pending {
            let Some((_, current, count)) = texts.get_mut(path) else {
                continue;
            };
            // Single-file fixes only; all of a fix's edits go in together or not at all.
            let mut edits: Vec<(Range<usize>, String)> = Vec::new();
            let mut fixes = 0;
            for d in diags {
                for f in d.fixes.iter().filter(|f| allowed(f.applicability)) {
                    if f.edits
                        .iter()
                        .any(|e| e.file.as_ref().is_some_and(|p| p != path))
                    {
                        continue;
                    }
                    let overlaps = f
                        .edits
                        .iter()
                        .any(|e| edits.iter().any(|(r, _)| overlap(&e.range, r)));
                    if overlaps {
                        continue; // next round, against the new text
                    }
                    edits.extend(f.edits.iter().map(|e| (e.range.clone(), e.content.clone())));
                    fixes += 1;
                    break;
                }
            }
            if edits.is_empty() {
                continue;
            }
            let (after, _) = apply_edits(current, &edits);
            // Refuse what would make the file parse worse than before.
            let before_damage = parse_damage(path, current);
            let after_damage = parse_damage(path, &after);
            if after_damage > before_damage || after_damage.is_none() {
                run.problems.push(Diagnostic::new(
                    "fix-error",
                    Severity::Error,
                    path.clone(),
                    0..0,
                    "a fix would leave this file unparsable, so no fix was applied to it",
                ));
                continue;
            }
            *current = after;
            *count += fixes;
            changed_any = true;
        }
        if !changed_any {
            break;
        }
        // Re-lint the whole project with the fixed texts standing in for the files, so the
        // project rules judge the next round as the fixed project will be.
        let overlay: HashMap<PathBuf, String> = texts
            .iter()
            .filter(|(_, (before, after, _))| before != after)
            .map(|(p, (_, after, _))| (p.clone(), after.clone()))
            .collect();
        let round_options = Options {
            overlay: Some(std::sync::Arc::new(overlay)),
            ..options.clone()
        };
        report = lint_paths(paths, &round_options);
    }
    for (path, (before, after, fixes)) in texts {
        if before != after {
            run.changes.push(FileChange {
                path,
                before,
                after,
                fixes,
            });
        }
    }
    run
}

/// Writes the changes atomically; a file whose content changed on disk since it was read is
/// left alone and reported.
pub fn write_changes(run: &mut FixRun) {
    for c in &run.changes {
        if let Err(why) = write_one(&c.path, &c.before, &c.after) {
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
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.unleak-fix-{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(after.as_bytes())?;
        f.sync_all()?;
        std::fs::set_permissions(&tmp, meta.permissions())?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write the fixed file: {e}")
    })
}

/// The unified diff of one change, for `--diff`.
pub fn unified_diff(c: &FileChange) -> String {
    let name = c.path.display().to_string();
    similar::TextDiff::from_lines(&c.before, &c.after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
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
