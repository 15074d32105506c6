//! The project pass: the project rules over every file of a run (issue 21). Each file is
//! unpacked once, in parallel, for all the per-file project checks (`Rule::check_project_file`)
//! and freed; a file with nothing a project rule reports from is not unpacked at all. With a
//! cache, a file's findings are reused when the project joins the same inputs and the files
//! the rules read for it are unchanged (see `crate::cache`). Then the rules that join files
//! (`Rule::check_project`) run once.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::diagnostic::Diagnostic;
use crate::engine::{Options, in_worker_pool, rule_crash};
use crate::registry::RULES;
use crate::rules::{ProjectCtx, ProjectFile, Rule};

/// The project rules' findings over `project`.
pub(crate) fn run(project: &[ProjectFile], options: &Options) -> Vec<Diagnostic> {
    let ctx = ProjectCtx::new(project, &options.rules);
    let rules: Vec<&dyn Rule> = RULES
        .iter()
        .copied()
        .filter(|r| r.meta().is_project())
        .collect();
    let reuse = options.cache.as_deref().map(|cache| {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for f in project {
            std::hash::Hash::hash(&f.path, &mut h);
            std::hash::Hash::hash(&f.is_test, &mut h);
            std::hash::Hash::hash(&*f.inputs, &mut h);
        }
        let live: HashSet<u128> = project.iter().filter_map(|f| f.key).collect();
        (cache.project_findings(), h.digest128(), live)
    });
    let per_file: Vec<Vec<Diagnostic>> = in_worker_pool(options, || {
        project
            .par_iter()
            .map(|file| {
                // Nothing any project rule reports from: not even unpacked.
                if !file.inputs.project_pass {
                    return Vec::new();
                }
                let Some(((stored, digest, live), key)) = reuse.as_ref().zip(file.key) else {
                    return file_findings(&ctx, &rules, file).0;
                };
                let live = |k: u128| live.contains(&k);
                if let Some(found) = stored.get(key, *digest, file.len(), &file.path, &live) {
                    return found;
                }
                let ((found, sound), reads) =
                    crate::rules::tracking_reads(|| file_findings(&ctx, &rules, file));
                // Reusable when no rule crashed and every file read has an analysis key.
                let others: Option<Vec<u128>> =
                    reads.into_iter().filter(|r| *r != Some(key)).collect();
                if let (Some(mut others), true) = (others, sound) {
                    others.sort_unstable();
                    others.dedup();
                    stored.put(key, *digest, others, &found);
                }
                found
            })
            .collect()
    });
    let mut out: Vec<Diagnostic> = per_file.into_iter().flatten().collect();
    if let (Some(cache), Some((stored, ..))) = (options.cache.as_deref(), reuse) {
        stored.save(cache);
    }
    for rule in &rules {
        match catch_unwind(AssertUnwindSafe(|| {
            crate::rules::fixes::with_suggestions_in_project(&ctx, rule.check_project(&ctx))
        })) {
            Ok(d) => out.extend(d),
            Err(panic) => out.push(rule_crash(
                rule.meta().id,
                std::path::Path::new(""),
                "",
                &*panic,
            )),
        }
    }
    out
}

/// The project rules' findings in one file (its facts and text unpacked once for all of
/// them), and whether every rule ran to the end (a crash is reported, never cached).
fn file_findings(
    ctx: &ProjectCtx,
    rules: &[&dyn Rule],
    file: &ProjectFile,
) -> (Vec<Diagnostic>, bool) {
    let facts = file.facts();
    let src = file.source();
    let mut out = Vec::new();
    let mut sound = true;
    for rule in rules {
        match catch_unwind(AssertUnwindSafe(|| {
            crate::rules::fixes::with_suggestions_in(
                &src.text,
                rule.check_project_file(ctx, file, &facts, &src),
            )
        })) {
            Ok(d) => out.extend(d),
            Err(panic) => {
                sound = false;
                out.push(rule_crash(
                    rule.meta().id,
                    &file.path,
                    " in the project pass",
                    &*panic,
                ));
            }
        }
    }
    (out, sound)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The pass skips files with nothing a project rule reports from
    /// (`ProjectInputs::project_pass`): run it anyway on every such file of the fixtures
    /// (legacy services, cases, runtime) and find nothing.
    #[test]
    fn files_the_project_pass_skips_have_no_project_findings() {
        let options = Options::default();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let paths = [root.join("fixtures"), root.join("runtime/src")];
        let analysed = crate::engine::analyse_paths(&paths, &options, &|_| true);
        let project: Vec<ProjectFile> = analysed
            .files
            .iter()
            .filter_map(|a| a.project_file(&options))
            .collect();
        let ctx = ProjectCtx::new(&project, &options.rules);
        let rules: Vec<&dyn Rule> = RULES
            .iter()
            .copied()
            .filter(|r| r.meta().is_project())
            .collect();
        let skipped: Vec<&ProjectFile> =
            project.iter().filter(|f| !f.inputs.project_pass).collect();
        assert!(
            skipped.len() > 20,
            "too few skipped files to test: {}",
            skipped.len()
        );
        assert!(skipped.len() < project.len(), "every file skipped");
        for f in skipped {
            let (found, sound) = file_findings(&ctx, &rules, f);
            assert!(
                sound && found.is_empty(),
                "{}: {found:#?}",
                f.path.display()
            );
        }
    }
}
