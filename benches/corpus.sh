#!/usr/bin/env bash
# Builds the benchmark corpus and installs the peer tools, from the package registries only
# (npm and crates.io). Everything goes under ${UNLEAK_BENCH_DIR:-$HOME/.cache/unleak-bench};
# nothing is written into the repository. Idempotent: a step whose output exists is skipped.
#
#   corpus/ts/<pkg>/...      the .ts sources (not .d.ts) of six pinned npm packages
#   corpus/ts2/{a,b}/...     the TS corpus twice (linear-growth check)
#   corpus/js/...            typescript@5.9.3 lib/*.js (very large files)
#   corpus/rust/<crate>-<v>  the sources cargo downloads for tokio, syn, serde, reqwest, axum
#                            and their (linux) dependencies, pinned by a committed Cargo.lock
#   corpus/clippy/<crate>    one mid-size crate, built standalone for the clippy comparison
#   tools/node_modules       eslint, typescript-eslint, eslint-plugin-listeners, ast-grep, oxlint
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
D="${UNLEAK_BENCH_DIR:-$HOME/.cache/unleak-bench}"
mkdir -p "$D"/{npm,corpus,tools}
log() { printf 'corpus: %s\n' "$*" >&2; }

# (a) Real TypeScript: pinned npm packages, their .ts sources only.
TS_PACKAGES=(
  "effect@3.17.13"
  "zod@4.1.5"
  "rxjs@7.8.2"
  "@reduxjs/toolkit@2.15.0"
  "@microsoft/signalr@10.0.11"
  "@tanstack/react-query@5.108.4"
)
if [ ! -f "$D/corpus/ts/.done" ]; then
  rm -rf "$D/corpus/ts"
  mkdir -p "$D/corpus/ts"
  for spec in "${TS_PACKAGES[@]}"; do
    name="${spec%@*}"
    dir="$D/corpus/ts/$(echo "$name" | tr -d '@' | tr '/' '-')"
    log "npm pack $spec"
    tgz="$(cd "$D/npm" && npm pack "$spec" --silent 2>/dev/null | tail -1)"
    tmp="$(mktemp -d)"
    tar xzf "$D/npm/$tgz" -C "$tmp"
    # .ts only (not .d.ts/.d.mts/.d.cts), outside dist/build folders (compiled output).
    (cd "$tmp/package" && find . -type f -name '*.ts' ! -name '*.d.ts' ! -name '*.d.mts' \
        ! -name '*.d.cts' ! -path '*/node_modules/*' ! -path '*/dist/*' ! -path '*/build/*' -print0 |
      while IFS= read -r -d '' f; do
        mkdir -p "$dir/$(dirname "$f")"
        cp "$f" "$dir/$f"
      done)
    rm -rf "$tmp"
  done
  touch "$D/corpus/ts/.done"
fi
if [ ! -f "$D/corpus/ts2/.done" ]; then
  rm -rf "$D/corpus/ts2"
  mkdir -p "$D/corpus/ts2"
  cp -r "$D/corpus/ts" "$D/corpus/ts2/a"
  cp -r "$D/corpus/ts" "$D/corpus/ts2/b"
  touch "$D/corpus/ts2/.done"
fi

# (b) JavaScript stress set: typescript's own bundled compiler, a few very large files.
if [ ! -f "$D/corpus/js/.done" ]; then
  rm -rf "$D/corpus/js"
  mkdir -p "$D/corpus/js"
  log "npm pack typescript@5.9.3"
  tgz="$(cd "$D/npm" && npm pack typescript@5.9.3 --silent 2>/dev/null | tail -1)"
  tmp="$(mktemp -d)"
  tar xzf "$D/npm/$tgz" -C "$tmp"
  cp "$tmp"/package/lib/*.js "$D/corpus/js/"
  rm -rf "$tmp"
  touch "$D/corpus/js/.done"
fi

# (c) Real Rust: the crates cargo downloads for a pinned dependency set.
if [ ! -f "$D/corpus/rust/.done" ]; then
  rm -rf "$D/rust-proj" "$D/corpus/rust"
  mkdir -p "$D/rust-proj/src" "$D/corpus/rust"
  cp "$HERE/rust-corpus/Cargo.toml" "$HERE/rust-corpus/Cargo.lock" "$D/rust-proj/"
  echo 'fn main() {}' > "$D/rust-proj/src/main.rs"
  log "cargo fetch (tokio, syn, serde, reqwest, axum)"
  (cd "$D/rust-proj" && cargo fetch --locked --target x86_64-unknown-linux-gnu >&2)
  # Every package of the linux build graph, copied from cargo's registry cache.
  (cd "$D/rust-proj" && cargo metadata --locked --format-version 1 \
      --filter-platform x86_64-unknown-linux-gnu) > "$D/rust-proj/metadata.json"
  python3 - "$D/rust-proj/metadata.json" "$D/corpus/rust" <<'PY'
import json, os, shutil, sys
meta = json.load(open(sys.argv[1]))
out = sys.argv[2]
for p in meta["packages"]:
    if p["source"] is None:
        continue  # the throwaway project itself
    src = os.path.dirname(p["manifest_path"])
    shutil.copytree(src, os.path.join(out, f'{p["name"]}-{p["version"]}'), symlinks=True)
PY
  touch "$D/corpus/rust/.done"
fi

# The clippy comparison: one mid-size crate from the registry, built standalone (its own
# dependencies fetched by cargo) so `cargo clippy` and `unleak` see the same sources.
CLIPPY_CRATE="${CLIPPY_CRATE:-serde_json}"
if [ ! -f "$D/corpus/clippy/.done" ]; then
  rm -rf "$D/corpus/clippy"
  mkdir -p "$D/corpus/clippy"
  src="$(ls -d "$D/corpus/rust/$CLIPPY_CRATE"-[0-9]* | sort -V | tail -1)"
  cp -r "$src" "$D/corpus/clippy/$CLIPPY_CRATE"
  # Standalone: its own workspace, its own target folder.
  printf '\n[workspace]\n' >> "$D/corpus/clippy/$CLIPPY_CRATE/Cargo.toml"
  (cd "$D/corpus/clippy/$CLIPPY_CRATE" && cargo fetch >&2)
  touch "$D/corpus/clippy/.done"
fi

# The peer tools, pinned.
if [ ! -f "$D/tools/.done" ]; then
  cp "$HERE/config/package.json" "$D/tools/package.json"
  log "npm install (eslint, typescript-eslint, eslint-plugin-listeners, ast-grep, oxlint)"
  (cd "$D/tools" && npm install --no-audit --no-fund --silent >&2)
  touch "$D/tools/.done"
fi
log "ready in $D"
