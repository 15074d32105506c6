#!/usr/bin/env python3
"""Scores unleak on the real-code corpus (Python 3.11, standard library only).

    corpus/fetch.sh && corpus/score.py

Two sets, scored alike: the development set (corpus/packages.txt, triage-*.tsv, leak-fixes-*.tsv)
and the held-out set (the same files under corpus/heldout/), which no rule is tuned on.

1. Runs `unleak check --format json --no-cache` on every package of corpus/packages.txt (its
   roots, from the package folder in the cache) and matches each finding against the triage
   files corpus/triage-ts.tsv (npm) and corpus/triage-rust.tsv (crates) by (package@version,
   path in the package, rule, trimmed text of the reported line) — not by line number, so the
   triage survives re-runs and unrelated changes. Prints per language: findings, verdicts,
   the untriaged findings (listed), precision = (leak + defensible) / triaged, false
   positives per 1,000 lines, and the same per rule.
2. Runs unleak on both versions of every row of corpus/leak-fixes-ts.tsv and
   corpus/leak-fixes-rust.tsv and reports per row whether the rule is reported within
   --window lines of the row's line in the before version (found) and no longer in the after
   version (gone). The collection rules report at the declaration and label each place the
   collection grows: a label of theirs that marks the row's line counts too.

Exit status: 1 when any finding is untriaged (a change's new findings must be triaged before
merging), 2 on a usage or set-up error, else 0.

Options:
  --lang ts|rust          only one language
  --set dev|heldout|all   which set (default: all; each set's findings must be triaged)
  --no-fixes              skip the leak-fix part
  --untriaged-tsv FILE    write the untriaged findings as triage rows (verdict and reason
                          empty) to FILE (appended), for pasting into the triage file after judging them
  --context N             with the untriaged listing, print N lines of code around each
  --window N              leak fixes: how far from the row's line a finding still counts (3)
  --stale                 also list triage rows that match no finding any more
  --list VERDICT          also list the triaged findings with that verdict (leak, defensible,
                          false-positive), with their reasons: the classes left to work on
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path(os.environ.get("UNLEAK_CORPUS_DIR", Path.home() / ".cache" / "unleak-corpus"))
# A relative UNLEAK path means the caller's working directory: unleak runs from each package's.
UNLEAK = Path(os.environ.get("UNLEAK", REPO / "target" / "release" / "unleak")).absolute()
FAILURE_RULES = {"io-error", "parse-error", "timeout", "internal-error"}
VERDICTS = ("leak", "defensible", "false-positive")
# The two sets: the development set (corpus/) and the held-out set (corpus/heldout/), each with
# its packages.txt, triage-*.tsv and (optionally) leak-fixes-*.tsv.
SETS = {"dev": HERE, "heldout": HERE / "heldout"}
SET_DIR = HERE  # the set being scored (main() sets it)


def lang_files(lang: str) -> tuple[str, Path, Path]:
    """(package kind, triage file, leak-fix file) of a language in the set being scored."""
    kind = {"ts": "npm", "rust": "crate"}[lang]
    return kind, SET_DIR / f"triage-{lang}.tsv", SET_DIR / f"leak-fixes-{lang}.tsv"


LANGS = ("rust", "ts")
EXTS = {".rs", ".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"}
SKIP_DIRS = {"node_modules", "target", "dist", "build", ".git", ".unleak_cache"}


def norm(text: str) -> str:
    """The trimmed line text used for matching: whitespace runs collapsed to one space."""
    return re.sub(r"\s+", " ", text).strip()


def pkg_dir(kind: str, name: str, ver: str) -> Path:
    if kind == "npm":
        return CACHE / "npm" / f"{name}@{ver}" / "package"
    return CACHE / "crates" / f"{name}-{ver}"


def read_packages() -> list[tuple[str, str, str, list[str]]]:
    out = []
    for raw in (SET_DIR / "packages.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, name, ver, roots = line.split()
        out.append((kind, name, ver, roots.split(",")))
    return out


def linted_files(root: Path, roots: list[str]) -> list[Path]:
    """The files unleak lints under roots (a close approximation of its discovery)."""
    files = []
    for r in roots:
        p = root / r
        if p.is_file():
            files.append(p)
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for f in filenames:
                if Path(f).suffix not in EXTS or re.search(r"\.d\.[mc]?ts$", f) or ".min." in f:
                    continue
                files.append(Path(dirpath) / f)
    return files


def count_lines(files: list[Path]) -> int:
    n = 0
    for f in files:
        try:
            n += sum(1 for l in f.read_text(errors="replace").splitlines() if l.strip())
        except OSError:
            pass
    return n


_runs: dict[tuple[str, tuple[str, ...]], dict] = {}


def run_unleak(root: Path, roots: list[str]) -> dict:
    key = (str(root), tuple(roots))
    if key in _runs:
        return _runs[key]
    existing = [r for r in roots if (root / r).exists()]
    if not existing:
        raise SystemExit(f"score: none of {roots} exists in {root} (run corpus/fetch.sh)")
    proc = subprocess.run([str(UNLEAK), "check", "--format", "json", "--no-cache", "--color", "never",
                           *existing], cwd=root, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"score: unleak failed in {root} (exit {proc.returncode}):\n{proc.stderr}")
    _runs[key] = json.loads(proc.stdout)
    return _runs[key]


_lines: dict[Path, list[str]] = {}


def file_lines(path: Path) -> list[str]:
    if path not in _lines:
        try:
            _lines[path] = path.read_text(errors="replace").splitlines()
        except OSError:
            _lines[path] = []
    return _lines[path]


def line_text(path: Path, line: int) -> str:
    ls = file_lines(path)
    return norm(ls[line - 1]) if 0 < line <= len(ls) else ""


def read_tsv(path: Path) -> list[list[str]]:
    rows = []
    if not path.exists():
        return rows
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        cols = raw.split("\t")
        if cols[0] == "package":
            continue  # header
        rows.append(cols)
    return rows


def pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def score_lang(lang: str, args) -> int:
    kind, triage_path, _ = lang_files(lang)
    pkgs = [p for p in read_packages() if p[0] == kind]
    # Several findings may share a key (the same line text twice in a file): the n-th finding
    # (by line) takes the n-th row with that key (in file order).
    triage: dict[tuple[str, str, str, str], list[tuple[str, str]]] = collections.defaultdict(list)
    for cols in read_tsv(triage_path):
        if len(cols) < 6:
            raise SystemExit(f"score: {triage_path.name}: row with fewer than 6 columns: {cols}")
        pkg, path, rule, text, verdict, reason = cols[:6]
        if verdict not in VERDICTS:
            raise SystemExit(f"score: {triage_path.name}: bad verdict {verdict!r} in {cols}")
        triage[(pkg, path, rule, norm(text))].append((verdict, reason))

    print(f"== {lang} ({SET_DIR.relative_to(REPO)}): {len(pkgs)} packages ==")
    totals = collections.Counter()
    per_rule: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    untriaged = []
    listed = []
    used = set()
    taken_all = collections.Counter()
    total_lines = 0
    print(f"  {'package':32} {'lines':>7} {'find':>5} {'leak':>5} {'def':>5} {'fp':>5} {'untr':>5}")
    for _, name, ver, roots in pkgs:
        root = pkg_dir(kind, name, ver)
        if not root.exists():
            raise SystemExit(f"score: {root} missing: run corpus/fetch.sh")
        lines = count_lines(linted_files(root, roots))
        total_lines += lines
        report = run_unleak(root, roots)
        c = collections.Counter()
        taken = collections.Counter()
        for d in sorted(report["diagnostics"], key=lambda d: (d["path"], d["line"], d["column"])):
            if d["rule"] in FAILURE_RULES:
                if d["severity"] == "error":
                    print(f"  note: {name}@{ver}: {d['rule']} {d['path']}: {d['message']}")
                continue
            text = line_text(root / d["path"], d["line"])
            key = (f"{name}@{ver}", d["path"], d["rule"], text)
            rows = triage.get(key, [])
            verdict = rows[taken[key]][0] if taken[key] < len(rows) else None
            taken[key] += 1
            taken_all[key] += 1
            c["findings"] += 1
            per_rule[d["rule"]]["findings"] += 1
            if verdict is None:
                c["untriaged"] += 1
                per_rule[d["rule"]]["untriaged"] += 1
                untriaged.append((root, key, d))
            else:
                used.add(key)
                if verdict == args.list:
                    listed.append((key, d, rows[taken[key] - 1][1]))
                c[verdict] += 1
                per_rule[d["rule"]][verdict] += 1
        totals.update(c)
        print(f"  {name + '@' + ver:32} {lines:7} {c['findings']:5} {c['leak']:5} {c['defensible']:5} "
              f"{c['false-positive']:5} {c['untriaged']:5}")
    triaged = totals["leak"] + totals["defensible"] + totals["false-positive"]
    print(f"  {'total':32} {total_lines:7} {totals['findings']:5} {totals['leak']:5} "
          f"{totals['defensible']:5} {totals['false-positive']:5} {totals['untriaged']:5}")
    print(f"  precision (leak + defensible) / triaged: {pct(totals['leak'] + totals['defensible'], triaged)}"
          f"   leak only: {pct(totals['leak'], triaged)}")
    fpk = 1000.0 * totals["false-positive"] / total_lines if total_lines else 0.0
    print(f"  false positives per 1,000 lines: {fpk:.3f}   (lines: non-blank lines of the linted files)")
    print(f"  {'rule':28} {'find':>5} {'leak':>5} {'def':>5} {'fp':>5} {'untr':>5} {'precision':>9} {'fp/kLOC':>8}")
    for rule in sorted(per_rule):
        r = per_rule[rule]
        t = r["leak"] + r["defensible"] + r["false-positive"]
        print(f"  {rule:28} {r['findings']:5} {r['leak']:5} {r['defensible']:5} {r['false-positive']:5} "
              f"{r['untriaged']:5} {pct(r['leak'] + r['defensible'], t):>9} "
              f"{1000.0 * r['false-positive'] / total_lines if total_lines else 0:8.3f}")
    if listed:
        print(f"  {args.list.upper()} ({len(listed)}):")
        for key, d, reason in listed:
            print(f"    {key[0]} {key[1]}:{d['line']} {key[2]}: {d['message']}")
            print(f"      | {key[3]}")
            print(f"      triage: {reason}")
    if untriaged:
        print(f"  UNTRIAGED ({len(untriaged)}): judge each by reading the code, add a row to {triage_path.name}")
        for root, key, d in untriaged:
            print(f"    {key[0]} {key[1]}:{d['line']} {key[2]}: {d['message']}")
            print(f"      | {key[3]}")
            if args.context:
                ls = file_lines(root / d["path"])
                lo, hi = max(1, d["line"] - args.context), min(len(ls), d["line"] + args.context)
                for i in range(lo, hi + 1):
                    print(f"      {'>' if i == d['line'] else ' '}{i:5} {ls[i - 1]}")
                for lab in d.get("labels", []):
                    print(f"      label {lab['path']}:{lab['line']}: {lab['message']}")
        if args.untriaged_tsv:
            with open(args.untriaged_tsv, "a") as f:
                for root, key, d in untriaged:
                    f.write("\t".join([key[0], key[1], key[2], key[3], "", f"L{d['line']}: {d['message']}"]) + "\n")
    if args.stale:
        stale = [k for k in triage if k not in used and k[0] in {f"{n}@{v}" for _, n, v, _ in pkgs}]
        stale += [k for k in used if len(triage[k]) > taken_all[k]]
        for k in stale:
            print(f"  stale triage row (no such finding now): {k}")
    print()
    return len(untriaged)


# Rules whose finding sits on a collection's declaration, with a label where it grows.
LABELLED_GROWTH = {"unbounded-collection", "unbounded-cache"}


def score_fixes(lang: str, args) -> None:
    kind, _, fixes_path = lang_files(lang)
    rows = read_tsv(fixes_path) if fixes_path.exists() else []
    if not rows:
        return
    corpus_roots = {(n, v): r for k, n, v, r in read_packages() if k == kind}
    print(f"== {lang} ({SET_DIR.relative_to(REPO)}): leak fixes between published versions ({len(rows)}) ==")
    found = gone = 0
    per_rule = collections.defaultdict(collections.Counter)
    for cols in rows:
        pkg, before, after, path, line, rule = cols[:6]
        line = int(line)

        def findings(ver: str) -> tuple[Path, list[dict]]:
            root = pkg_dir(kind, pkg, ver)
            if not root.exists():
                raise SystemExit(f"score: {root} missing: run corpus/fetch.sh")
            roots = corpus_roots.get((pkg, ver))
            if roots is None:  # lint the top folder of the file (the package's code), or src/
                top = path.split("/", 1)[0]
                roots = ["src"] if kind == "crate" else [top]
            rep = run_unleak(root, roots)
            return root, [d for d in rep["diagnostics"] if d["path"] == path and d["rule"] == rule]

        broot, bf = findings(before)
        def marks(d: dict) -> bool:
            if abs(d["line"] - line) <= args.window:
                return True
            return d["rule"] in LABELLED_GROWTH and any(
                l["path"] == d["path"] and abs(l["line"] - line) <= args.window
                for l in d.get("labels", []))

        hit = [d for d in bf if marks(d)]
        is_found = bool(hit)
        is_gone = False
        if is_found:
            aroot, af = findings(after)
            atexts = collections.Counter(line_text(aroot / d["path"], d["line"]) for d in af)
            btexts = {line_text(broot / d["path"], d["line"]) for d in hit}
            is_gone = len(af) < len(bf) and not any(t in atexts for t in btexts)
        found += is_found
        gone += is_gone
        per_rule[rule]["rows"] += 1
        per_rule[rule]["found"] += is_found
        per_rule[rule]["gone"] += is_gone
        status = ("found, gone" if is_gone else "found, NOT gone") if is_found else "missed"
        print(f"  {pkg} {before} -> {after} {path}:{line} {rule}: {status}")
    print(f"  found in before: {found}/{len(rows)} ({pct(found, len(rows))});"
          f" gone in after: {gone}/{len(rows)} ({pct(gone, len(rows))}; {pct(gone, found)} of found)")
    for rule in sorted(per_rule):
        r = per_rule[rule]
        print(f"    {rule:28} rows {r['rows']:3}  found {r['found']:3}  gone {r['gone']:3}")
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", choices=LANGS)
    ap.add_argument("--set", choices=["dev", "heldout", "all"], default="all")
    ap.add_argument("--no-fixes", action="store_true")
    ap.add_argument("--untriaged-tsv")
    ap.add_argument("--context", type=int, default=0)
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--stale", action="store_true")
    ap.add_argument("--list", choices=VERDICTS)
    args = ap.parse_args()
    if not UNLEAK.exists():
        print(f"score: {UNLEAK} missing: build it with `cargo build --release --bin unleak` "
              f"or set UNLEAK", file=sys.stderr)
        return 2
    print(f"unleak: {UNLEAK}   corpus: {CACHE}\n")
    global SET_DIR
    untriaged = 0
    for name in (["dev", "heldout"] if args.set == "all" else [args.set]):
        SET_DIR = SETS[name]
        if not (SET_DIR / "packages.txt").exists():
            continue
        for lang in ([args.lang] if args.lang else ["ts", "rust"]):
            untriaged += score_lang(lang, args)
            if not args.no_fixes:
                score_fixes(lang, args)
    if untriaged:
        print(f"{untriaged} untriaged findings: triage them (corpus/README.md) before merging")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
