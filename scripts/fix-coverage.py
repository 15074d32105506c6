#!/usr/bin/env python3
"""Fix coverage of unleak's findings (Python 3.11, standard library only).

    scripts/fix-coverage.py [--unleak BIN] [--corpus] [--json] [--set NAME ...]

Runs `unleak check --format json --no-cache` over

- legacy-ts, legacy-rust: the legacy services (`fixtures/legacy-ts`, `fixtures/legacy-rust`),
  each linted as one project from its own folder;
- cases: `fixtures/cases/<rule>/`, a file linted alone and a subfolder as one project (as
  tests/cases.rs does);
- docs: every bad example of `rules/<id>.md`, each a file of its own in a folder of its own;
- corpus (with --corpus): the pinned packages of corpus/packages.txt already fetched into
  ~/.cache/unleak-corpus (read-only), linted from their roots as corpus/score.py does;

and counts per set, rule and language (TypeScript/JavaScript or Rust) the findings, those
carrying a machine-applicable fix (safe or unsafe: `--fix [--unsafe-fixes]` applies it), those
with only a suggestion (`display-only`), and those with nothing. Coverage = fixed / findings.

Exit status: 0; 2 on a usage or set-up error. With --min PCT, 1 when a set's coverage (of the
sets run, corpus excepted) is below PCT or any finding outside the corpus has nothing.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("UNLEAK_CORPUS_DIR", Path.home() / ".cache" / "unleak-corpus"))
FAILURE_RULES = {"io-error", "parse-error", "timeout", "internal-error"}
RUST_EXTS = {".rs"}
TS_EXTS = {".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"}
DOC_FILES = {"ts": "example.ts", "typescript": "example.ts", "tsx": "example.tsx",
             "js": "example.js", "javascript": "example.js", "rust": "example.rs",
             "rs": "example.rs"}
KINDS = ("fix", "suggestion", "none")


def lang_of(path: str) -> str | None:
    ext = Path(path).suffix
    if ext in RUST_EXTS:
        return "rust"
    if ext in TS_EXTS:
        return "ts"
    return None


def kind_of(diag: dict) -> str:
    apps = {f["applicability"] for f in diag.get("fixes") or []}
    if apps & {"safe", "unsafe"}:
        return "fix"
    if apps:
        return "suggestion"
    return "none"


def run(unleak: Path, cwd: Path, paths: list[str]) -> list[dict]:
    """The findings (not per-file failures) of one `unleak check` run."""
    proc = subprocess.run([str(unleak), "check", "--format", "json", "--no-cache",
                           "--color", "never", *paths], cwd=cwd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"unleak failed in {cwd} on {paths}: {proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    return [d for d in out["diagnostics"] if d["rule"] not in FAILURE_RULES]


def examples(doc: str) -> list[tuple[str, str]]:
    """The bad examples of a rule doc: (fence language, code)."""
    out, lines, i = [], doc.splitlines(), 0
    while i < len(lines):
        m = re.match(r"\s*```(\S+)\s+(\S+)", lines[i])
        i += 1
        if not m:
            continue
        code = []
        while i < len(lines) and not lines[i].lstrip().startswith("```"):
            code.append(lines[i])
            i += 1
        i += 1
        if m.group(2) == "bad":
            out.append((m.group(1), "\n".join(code) + "\n"))
    return out


def set_legacy(unleak: Path, name: str) -> list[tuple[str, dict]]:
    d = REPO / "fixtures" / name
    return [(str(Path(name) / x["path"]), x) for x in run(unleak, d, ["."])]


def set_cases(unleak: Path) -> list[tuple[str, dict]]:
    root = REPO / "fixtures" / "cases"
    out = []
    for rule_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for entry in sorted(rule_dir.iterdir()):
            if entry.is_dir():
                found = run(unleak, entry, ["."])
                out += [(str(entry.relative_to(root) / x["path"]), x) for x in found]
            elif lang_of(entry.name):
                found = run(unleak, rule_dir, [entry.name])
                out += [(str(entry.relative_to(root)), x) for x in found]
    return out


def set_docs(unleak: Path) -> list[tuple[str, dict]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for doc in sorted((REPO / "rules").glob("*.md")):
            for i, (lang, code) in enumerate(examples(doc.read_text())):
                name = DOC_FILES.get(lang)
                if not name:
                    continue
                folder = Path(tmp) / doc.stem / str(i)
                folder.mkdir(parents=True)
                (folder / name).write_text(code)
                out += [(f"rules/{doc.name}#bad{i}", x) for x in run(unleak, folder, [name])]
    return out


def set_corpus(unleak: Path) -> list[tuple[str, dict]]:
    out = []
    for raw in (REPO / "corpus" / "packages.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, name, ver, roots = line.split()
        root = (CACHE / "npm" / f"{name}@{ver}" / "package" if kind == "npm"
                else CACHE / "crates" / f"{name}-{ver}")
        existing = [r for r in roots.split(",") if (root / r).exists()]
        if not existing:
            continue
        out += [(f"{name}@{ver}/{x['path']}", x) for x in run(unleak, root, existing)]
    return out


def table(findings: list[tuple[str, dict]]) -> dict:
    """{(rule, lang): Counter(kind)} and the totals per language."""
    rows: dict = collections.defaultdict(collections.Counter)
    for path, d in findings:
        lang = lang_of(d["path"]) or "?"
        k = kind_of(d)
        rows[(d["rule"], lang)][k] += 1
        rows[("*", lang)][k] += 1
    return rows


def pct(c: collections.Counter) -> str:
    n = sum(c.values())
    return f"{100 * c['fix'] / n:.0f}%" if n else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--unleak", default=os.environ.get("UNLEAK", REPO / "target/release/unleak"))
    ap.add_argument("--set", action="append", choices=["legacy-ts", "legacy-rust", "cases",
                                                       "docs", "corpus"])
    ap.add_argument("--corpus", action="store_true", help="also the real-code corpus")
    ap.add_argument("--json", action="store_true", help="print the counts as JSON")
    ap.add_argument("--list", choices=KINDS, action="append",
                    help="list the findings of this kind (path:line rule)")
    ap.add_argument("--min", type=float, help="fail below this coverage (percent)")
    args = ap.parse_args()
    unleak = Path(args.unleak).resolve()
    if not unleak.is_file():
        print(f"no unleak binary at {unleak} (pass --unleak or set UNLEAK)", file=sys.stderr)
        return 2
    sets = args.set or ["legacy-ts", "legacy-rust", "cases", "docs"] + (
        ["corpus"] if args.corpus else [])
    builders = {"legacy-ts": lambda: set_legacy(unleak, "legacy-ts"),
                "legacy-rust": lambda: set_legacy(unleak, "legacy-rust"),
                "cases": lambda: set_cases(unleak), "docs": lambda: set_docs(unleak),
                "corpus": lambda: set_corpus(unleak)}
    report, failed = {}, False
    for s in sets:
        found = builders[s]()
        rows = table(found)
        report[s] = {f"{r}|{l}": dict(c) for (r, l), c in sorted(rows.items())}
        if args.json:
            continue
        print(f"\n## {s}")
        print(f"| rule | lang | findings | fix (safe/unsafe) | suggestion only | nothing | coverage |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for (rule, lang), c in sorted(rows.items(), key=lambda kv: (kv[0][0] == "*", kv[0])):
            n = sum(c.values())
            label = "**all**" if rule == "*" else rule
            print(f"| {label} | {lang} | {n} | {c['fix']} | {c['suggestion']} | {c['none']} "
                  f"| {pct(c)} |")
        for path, d in found:
            if args.list and kind_of(d) in args.list:
                print(f"  {kind_of(d)}: {path}:{d['line']} {d['rule']}")
        if args.min is not None and s != "corpus":
            for (rule, lang), c in rows.items():
                n = sum(c.values())
                if rule == "*" and n and 100 * c["fix"] / n < args.min:
                    print(f"FAIL: {s} {lang} coverage {pct(c)} < {args.min}%")
                    failed = True
                if c["none"] and rule != "*":
                    print(f"FAIL: {s} {rule} {lang}: {c['none']} finding(s) without a fix "
                          "or suggestion")
                    failed = True
    if args.json:
        print(json.dumps(report, indent=1, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
