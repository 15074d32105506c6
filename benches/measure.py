#!/usr/bin/env python3
"""Interleaved measurement for benches/run.sh (Python 3.11, standard library only).

    benches/measure.py SPEC.tsv [--rounds N] [--seed S] [--max-other CORES] [--lock FILE]

SPEC.tsv has one command per line: group, name, corpus label, files, lines, runs, working
directory, prepare command ('' for none), command (run by bash). Commands of one group are
measured in rounds: each round runs every command of the group that still needs samples once,
in a shuffled order (a fixed seed), so a slow drift of the machine (another job starting, the
CPU clocking down) lands on every tool alike instead of on whichever ran last. One warm-up run
per command first (none for commands with 3 runs or fewer, which are the slow ones).

Per sample: wall time, CPU time (user + system of the process and the children it waited for,
from wait4), and peak resident memory (ru_maxrss: the largest process of the tree). A sample is
*disturbed* when other work used the CPUs while it ran: the busy time of the whole machine
(/proc/stat) minus the sample's own CPU, over its wall time, above --max-other cores (0.3 by
default). Disturbed samples are dropped and re-run (at most twice as many attempts as runs);
the table says how many were dropped. Each sample holds --lock (the lock cargo builds on this
machine take, so a build elsewhere waits instead of disturbing), released between samples.

Prints a Markdown table (medians; ratios to the parse floor, to unleak for peers, to the cold
run for the cache group) and the growth ratios when the growth group ran with the ts group.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import random
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Command:
    group: str
    name: str
    label: str
    files: int
    lines: int
    runs: int
    cwd: str
    prepare: str
    cmd: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    attempts: int = 0
    dropped: int = 0
    other: list[float] = field(default_factory=list)


def busy_ticks() -> int:
    """Jiffies the whole machine spent not idle (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    guest = sum(vals[8:10]) if len(vals) > 9 else 0  # already counted in user/nice
    return sum(vals) - idle - guest


TICK = os.sysconf("SC_CLK_TCK")


@contextmanager
def locked(path: str | None):
    if not path:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def sample(c: Command, lock: str | None) -> tuple[float, float, int, float]:
    """One run: (wall s, cpu s, peak rss KB, other cores busy on average)."""
    if c.prepare:
        subprocess.run(["bash", "-c", c.prepare], cwd=c.cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    with locked(lock):
        b0 = busy_ticks()
        t0 = time.perf_counter()
        proc = subprocess.Popen(["bash", "-c", "exec " + c.cmd], cwd=c.cwd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        b1 = busy_ticks()
    cpu = ru.ru_utime + ru.ru_stime
    other = max(0.0, (b1 - b0) / TICK - cpu) / wall if wall > 0 else 0.0
    return wall, cpu, ru.ru_maxrss, other


def measure(cmds: list[Command], rng: random.Random, max_other: float, lock: str | None) -> None:
    for c in cmds:
        if c.runs > 3:
            sample(c, lock)  # warm-up: page cache, lazily loaded tools
        print(f"measure: {c.group}: {c.name}", file=sys.stderr)
    while True:
        todo = [c for c in cmds if len(c.wall) < c.runs and c.attempts < 2 * c.runs]
        if not todo:
            break
        rng.shuffle(todo)
        for c in todo:
            c.attempts += 1
            wall, cpu, rss, other = sample(c, lock)
            if other > max_other:
                c.dropped += 1
                c.other.append(other)
                continue
            c.wall.append(wall)
            c.cpu.append(cpu)
            c.rss_kb.append(rss)


def row(c: Command) -> dict:
    if not c.wall:
        return dict(c=c, median=float("nan"), min=float("nan"), max=float("nan"),
                    cpu=float("nan"), mb=float("nan"))
    return dict(c=c, median=statistics.median(c.wall), min=min(c.wall), max=max(c.wall),
                cpu=statistics.median(c.cpu), mb=max(c.rss_kb) / 1024)


def report(cmds: list[Command]) -> None:
    groups: dict[str, list[dict]] = {}
    for c in cmds:
        groups.setdefault(c.group, []).append(row(c))
    print("| group | tool | corpus | files | lines | median s | min–max s | CPU s | lines/s "
          "| peak MB | samples (dropped) | ratio (wall; CPU) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for g, rs in groups.items():
        ref = next((r for r in rs if r["c"].name in
                    ("unleak", "unleak (no cache)", "unleak, cache cold")), None)
        floor = next((r for r in rs if r["c"].name == "parse floor"), None)
        for r in rs:
            c = r["c"]
            if r is ref and floor:
                ratio = (f"unleak/floor {r['median'] / floor['median']:.2f}×; "
                         f"{r['cpu'] / floor['cpu']:.2f}×")
            elif r is ref or r is floor or ref is None:
                ratio = ""
            elif g == "cache":
                ratio = f"{r['median'] / ref['median']:.2f}× of cold; {r['cpu'] / ref['cpu']:.2f}×"
            else:
                ratio = f"peer/unleak {r['median'] / ref['median']:.1f}×; {r['cpu'] / ref['cpu']:.1f}×"
            tput = f"{c.lines / r['median']:,.0f}" if r["median"] > 0 else "-"
            print(f"| {g} | {c.name} | {c.label} | {c.files} | {c.lines:,} | {r['median']:.3f} | "
                  f"{r['min']:.3f}–{r['max']:.3f} | {r['cpu']:.2f} | {tput} | {r['mb']:.0f} | "
                  f"{len(c.wall)} ({c.dropped}) | {ratio} |")
    if "growth" in groups and "ts" in groups:
        print()
        for tool in ("unleak", "parse floor"):
            a = next((r for r in groups["ts"] if r["c"].name == tool), None)
            b = next((r for r in groups["growth"] if r["c"].name == tool), None)
            if a and b:
                print(f"- {tool}: corpus doubled → wall ×{b['median'] / a['median']:.2f}, "
                      f"CPU ×{b['cpu'] / a['cpu']:.2f}, peak memory ×{b['mb'] / a['mb']:.2f}")
    dropped = sum(c.dropped for c in cmds)
    total = sum(c.attempts for c in cmds)
    print(f"\nSamples dropped as disturbed by other work: {dropped} of {total}.")


def parse_spec(path: str) -> list[Command]:
    cmds = []
    for line in open(path):
        if not line.strip() or line.startswith("#"):
            continue
        g, name, label, files, lines, runs, cwd, prepare, cmd = line.rstrip("\n").split("\t")
        cmds.append(Command(g, name, label, int(files or 0), int(lines or 0), int(runs), cwd,
                            prepare, cmd))
    return cmds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-other", type=float, default=0.3)
    ap.add_argument("--lock", default=os.environ.get("UNLEAK_BENCH_LOCK", "/tmp/unleak-cargo.lock"))
    args = ap.parse_args()
    cmds = parse_spec(args.spec)
    rng = random.Random(args.seed)
    by_group: dict[str, list[Command]] = {}
    for c in cmds:
        by_group.setdefault(c.group, []).append(c)
    for group in by_group.values():
        measure(group, rng, args.max_other, args.lock or None)
    report(cmds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
