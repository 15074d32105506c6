//! Which files changed in git — staged, or since a ref — for `--staged` / `--changed-since`:
//! the whole project is analysed, and findings are reported only in these files.

use std::collections::HashSet;
use std::path::PathBuf;

/// The files staged in git (`since = None`) or changed since a ref, as canonical paths.
pub fn changed_files(since: Option<&str>) -> Result<HashSet<PathBuf>, String> {
    let git = |args: &[&str]| -> Result<String, String> {
        let out = std::process::Command::new("git")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`git {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    let list = match since {
        None => git(&["diff", "--name-only", "--cached", "--diff-filter=ACMR"])?,
        Some(r) => {
            let mut l = git(&["diff", "--name-only", "--diff-filter=ACMR", r])?;
            // New files not yet added count as changed too.
            l.push_str(&git(&[
                "ls-files",
                "--others",
                "--exclude-standard",
                "--full-name",
            ])?);
            l
        }
    };
    Ok(list
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let p = top.join(l);
            std::fs::canonicalize(&p).unwrap_or(p)
        })
        .collect())
}
