//! Applying fixes: non-overlapping edits per file, in rounds to a fixpoint (overlaps wait for
//! the next round), each round's result re-parsed (a fix that would break the file is refused),
//! and the files written atomically (temporary file in the same folder, fsync, rename; mode kept;
//! a file that changed on disk since it was read is not overwritten).

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Applicability, Diagnostic, Severity};
use crate::engine::{Options, Report, lint_paths, lint_source};
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
        let overlaps = taken.iter().any(|(t, _)| {
            r.start < t.end && t.start < r.end
                || (r.start == t.start && r.is_empty() && t.is_empty())
        });
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

/// The number of regions that do not parse (a Rust file that does not parse at all counts as
/// one more than any that does); `None` when it cannot be told (too deep, out of time). Runs
/// on a big stack with the same guards as linting.
pub fn parse_damage(path: &Path, text: &str, budget: std::time::Duration) -> Option<usize> {
    let lang = Language::from_path(path)?;
    crate::engine::on_big_stack(|| match lang {
        Language::Rust => Some(usize::from(
            crate::lang::rust::lower_within(text, budget).is_err(),
        )),
        l => crate::lang::ts::lower(text, l, budget)
            .ok()
            .map(|f| f.syntax_errors.len()),
    })
    .flatten()
}

/// Lints `paths`, applies the fixes allowed (`unsafe_fixes` adds the unsafe ones) to a fixpoint
/// in memory, and returns the changes; nothing is written (see [`write_changes`]).
pub fn fix_paths(paths: &[PathBuf], options: &Options, unsafe_fixes: bool) -> FixRun {
    // On one big-stack thread, so the re-lints and re-parses of every round run right there
    // instead of each starting a thread of their own.
    crate::engine::on_big_stack(|| fix_paths_here(paths, options, unsafe_fixes)).unwrap_or_else(
        || FixRun {
            changes: Vec::new(),
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
    let first = lint_paths(paths, options);
    let mut texts: BTreeMap<PathBuf, (String, String, usize)> = BTreeMap::new();
    let mut run = FixRun::default();
    // The diagnostics of the current round, per file.
    let mut pending: BTreeMap<PathBuf, Vec<Diagnostic>> = BTreeMap::new();
    for d in first.diagnostics {
        pending.entry(d.file.clone()).or_default().push(d);
    }
    for (path, src) in &first.sources {
        texts.insert(path.clone(), (src.text.clone(), src.text.clone(), 0));
    }
    for _round in 0..MAX_ROUNDS {
        let mut changed_any = false;
        let mut next: BTreeMap<PathBuf, Vec<Diagnostic>> = BTreeMap::new();
        for (path, diags) in &pending {
            let Some((_, current, count)) = texts.get_mut(path) else {
                continue;
            };
            match fix_round(path, current, diags, unsafe_fixes, options) {
                Round::Nothing => {}
                Round::Refused(problem) => run.problems.push(problem),
                Round::Applied(after, fixes) => {
                    *current = after;
                    *count += fixes;
                    changed_any = true;
                    let again = lint_source(path, current, options);
                    next.insert(path.clone(), again);
                }
            }
        }
        if !changed_any {
            break;
        }
        pending = next;
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

/// One file fixed in memory by [`fix_source`].
#[derive(Debug, Clone)]
pub struct SourceFix {
    pub after: String,
    /// How many fixes were applied.
    pub fixes: usize,
    /// Rounds refused because they would have broken the file.
    pub problems: Vec<Diagnostic>,
}

/// Fixes one in-memory file (as its own project, like [`lint_source`]) to a fixpoint, with the
/// same rounds and the same refusal of anything that parses worse as `--fix`. For editors'
/// "fix all" and the fuzzers.
pub fn fix_source(path: &Path, text: &str, options: &Options, unsafe_fixes: bool) -> SourceFix {
    let mut out = SourceFix {
        after: text.to_string(),
        fixes: 0,
        problems: Vec::new(),
    };
    let mut diags = lint_source(path, text, options);
    for _round in 0..MAX_ROUNDS {
        match fix_round(path, &out.after, &diags, unsafe_fixes, options) {
            Round::Nothing => break,
            Round::Refused(problem) => {
                out.problems.push(problem);
                break;
            }
            Round::Applied(after, fixes) => {
                out.after = after;
                out.fixes += fixes;
                diags = lint_source(path, &out.after, options);
            }
        }
    }
    out
}

enum Round {
    Nothing,
    Applied(String, usize),
    Refused(Diagnostic),
}

/// One round on one file: the first allowed fix of each diagnostic that does not overlap one
/// already taken (all of a fix's edits go in together or not at all; the rest wait for the next
/// round, against the new text), applied and re-parsed. Refused when an edit does not apply
/// cleanly or the result parses worse than the text before.
fn fix_round(
    path: &Path,
    current: &str,
    diags: &[Diagnostic],
    unsafe_fixes: bool,
    options: &Options,
) -> Round {
    let allowed =
        |a: Applicability| a == Applicability::Safe || (unsafe_fixes && a == Applicability::Unsafe);
    // Touching or overlapping (an insertion at either end of a range counts): order matters.
    let clash = |a: &Range<usize>, b: &Range<usize>| a.start <= b.end && b.start <= a.end;
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut fixes = 0;
    for d in diags {
        for f in d.fixes.iter().filter(|f| allowed(f.applicability)) {
            // Single-file fixes only.
            if f.edits
                .iter()
                .any(|e| e.file.as_ref().is_some_and(|p| p != path))
            {
                continue;
            }
            if f.edits
                .iter()
                .any(|e| edits.iter().any(|(r, _)| clash(&e.range, r)))
            {
                continue; // next round, against the new text
            }
            edits.extend(f.edits.iter().map(|e| (e.range.clone(), e.content.clone())));
            fixes += 1;
            break;
        }
    }
    if edits.is_empty() {
        return Round::Nothing;
    }
    let refuse = |why: &str| {
        Round::Refused(Diagnostic::new(
            "fix-error",
            Severity::Error,
            path.to_path_buf(),
            0..0,
            format!("{why}, so no fix was applied to it"),
        ))
    };
    let (after, skipped) = apply_edits(current, &edits);
    if !skipped.is_empty() {
        return refuse("a fix's edits do not apply cleanly to this file");
    }
    // Refuse what would make the file parse worse than before.
    let before_damage = parse_damage(path, current, options.parse_budget);
    let after_damage = parse_damage(path, &after, options.parse_budget);
    if after_damage > before_damage || after_damage.is_none() {
        return refuse("a fix would leave this file unparsable");
    }
    Round::Applied(after, fixes)
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

/// Writes one fixed file: through a symlink to the file it points at (the link stays a link),
/// never over a read-only file or one whose content is no longer `before`, and atomically — a
/// temporary file `.NAME.unleak-fix-PID-N.tmp` beside the target (created exclusively, so an
/// existing file or link of that name is never followed), written, fsynced, given the mode (and,
/// where allowed, the owner) of the original, then renamed over it. A process killed at any
/// point leaves the file wholly old or wholly new; at worst a temporary file stays behind,
/// which discovery ignores (its extension is `.tmp`). The rename gives the path a new inode:
/// other hard links to the old one keep the old text.
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
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let (tmp, mut file) = create_temp(dir, &name)
        .map_err(|e| format!("cannot create a temporary file beside it: {e}"))?;
    let result = (|| -> std::io::Result<()> {
        file.write_all(after.as_bytes())?;
        file.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Keep the owner when we may (root fixing another user's file); else it is ours.
            let _ = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
        }
        drop(file);
        std::fs::set_permissions(&tmp, meta.permissions())?;
        std::fs::rename(&tmp, &target)?;
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

/// Creates `.NAME.unleak-fix-PID-N.tmp` in `dir` with `create_new` (O_EXCL).
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let pid = std::process::id();
    let mut last = None;
    for n in 0..64 {
        let tmp = dir.join(format!(".{name}.unleak-fix-{pid}-{n}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
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

    #[test]
    fn an_insertion_where_a_replacement_starts_goes_in_front_of_it() {
        // Found by the property test: applied insertion-first, the replacement cut into the
        // inserted text and split the emoji (a panic).
        for edits in [
            [(1..1, "😀".to_string()), (1..2, "Y".to_string())],
            [(1..2, "Y".to_string()), (1..1, "😀".to_string())],
        ] {
            let (out, skipped) = apply_edits("abc", &edits);
            assert_eq!((out.as_str(), skipped), ("a😀Yc", vec![]));
        }
    }
}
