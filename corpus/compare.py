#!/usr/bin/env python3
"""Findings two unleak binaries disagree on, over every package version in the corpus cache.

The scored sets (score.py) lint each package's roots; a change can also move findings in code
they leave out, and in the leak-fix versions that only their rows score. This runs both
binaries over every cached package, whole (`npm/<name>@<version>/package`,
`crates/<name>-<version>`), and prints each finding one reports and the other does not, for
reading before a change merges (corpus/README.md: a new finding is triaged first).

    python3 corpus/compare.py OLD_BINARY NEW_BINARY [--rule RULE] [--lang ts|rust]

Python 3.11, standard library only. Exit status 0 whether or not they differ.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("UNLEAK_CORPUS_DIR", Path.home() / ".cache" / "unleak-corpus"))


def packages(lang: str | None) -> list[Path]:
    out: list[Path] = []
    if lang in (None, "ts"):
        out += sorted(p / "package" for p in (CACHE / "npm").glob("*") if (p / "package").is_dir())
    if lang in (None, "rust"):
        out += sorted(p for p in (CACHE / "crates").glob("*") if p.is_dir())
    return out


def findings(binary: str, root: Path, rule: str | None) -> set[tuple[str, int, str, str]]:
    proc = subprocess.run(
        [binary, "check", "--no-cache", "--format", "json", "--color", "never",
         "--max-file-size", "50000000", str(root)],
        capture_output=True, text=True, check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(f"compare: {binary} gave no JSON report on {root}", file=sys.stderr)
        return set()
    return {
        (d["path"], d["line"], d["rule"], d["message"])
        for d in report.get("diagnostics", [])
        if rule is None or d["rule"] == rule
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rule", help="only this rule's findings")
    ap.add_argument("--lang", choices=["ts", "rust"], help="only npm packages or only crates")
    args = ap.parse_args()
    roots = packages(args.lang)
    if not roots:
        raise SystemExit(f"compare: no packages under {CACHE}: run corpus/fetch.sh")
    gained = lost = 0
    for root in roots:
        before = findings(args.old, root, args.rule)
        after = findings(args.new, root, args.rule)
        if before == after:
            continue
        print(f"== {root.relative_to(CACHE)}")
        for path, line, rule, message in sorted(after - before):
            print(f"  + {Path(path).relative_to(root) if Path(path).is_absolute() else path}:{line} {rule}: {message}")
            gained += 1
        for path, line, rule, message in sorted(before - after):
            print(f"  - {Path(path).relative_to(root) if Path(path).is_absolute() else path}:{line} {rule}: {message}")
            lost += 1
    print(f"{len(roots)} package versions; {gained} findings only the new binary reports, "
          f"{lost} only the old one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
