//! `unleak check --shard I/N` and `unleak merge`: a run split across CI jobs
//! ([`crate::shard`]).

use std::path::PathBuf;

use super::{CheckArgs, EXIT_CLEAN, EXIT_ERROR, MergeArgs};
use crate::shard::{Shard, Summaries};
use crate::summary::plural;

/// Analyses this shard's files and writes their summaries; findings are reported by the merge.
pub(super) fn analyse(paths: &[PathBuf], shard: Shard, args: &CheckArgs) -> i32 {
    let filters = &args.baseline;
    if filters.baseline.is_some()
        || filters.write_baseline.is_some()
        || filters.staged
        || filters.changed_since.is_some()
    {
        eprintln!(
            "unleak: --shard writes summaries and reports nothing: give --baseline, \
             --write-baseline, --staged and --changed-since to `unleak merge`"
        );
        return EXIT_ERROR;
    }
    let (mut options, cache_base) = match super::run_options(&args.output) {
        Ok(o) => o,
        Err(code) => return code,
    };
    super::with_cache(&mut options, &args.output, &cache_base);
    let analysed = crate::engine::analyse_paths(paths, &options, &|p| shard.owns(p));
    let file = args
        .summaries
        .clone()
        .unwrap_or_else(|| shard.default_file());
    let written = Summaries::new(shard, &analysed, &options).and_then(|s| s.write(&file));
    if let Err(e) = written {
        eprintln!("unleak: {e}");
        return EXIT_ERROR;
    }
    eprintln!(
        "unleak: shard {shard}: analysed {} of {}; summaries written to {} (report with `unleak \
         merge` over the summaries of all {} shards)",
        analysed.files.len(),
        plural(analysed.found, "file"),
        file.display(),
        shard.count
    );
    EXIT_CLEAN
}

/// Reads every shard's summaries, runs the project rules and reports as `unleak check` does.
pub(super) fn merge(args: &MergeArgs) -> i32 {
    let lint = |options: &crate::engine::Options| {
        let mut named = Vec::with_capacity(args.summaries.len());
        for path in &args.summaries {
            named.push((path.clone(), Summaries::read(path)?));
        }
        let merged = crate::shard::merge(named, options)?;
        if merged.reanalysed > 0 {
            eprintln!(
                "unleak: {} changed since {} shard analysed {}: analysed again",
                plural(merged.reanalysed, "file"),
                if merged.reanalysed == 1 {
                    "its"
                } else {
                    "their"
                },
                if merged.reanalysed == 1 { "it" } else { "them" }
            );
        }
        Ok(merged.report)
    };
    super::run_check_with(&lint, &[], &args.output, &args.baseline)
}
