#!/usr/bin/env bash
# Fetches the real-code corpus from the package registries, exactly pinned, into
# ${UNLEAK_CORPUS_DIR:-$HOME/.cache/unleak-corpus}. Nothing is written into the repository.
# Idempotent: a package whose folder exists is skipped.
#
#   npm/<name>@<version>/package/...   `npm pack name@version`, untarred
#   crates/<name>-<version>/...        the crate's sources as cargo downloads them (a throwaway
#                                      project per crate under cargo/, `cargo fetch`, then a
#                                      copy out of $CARGO_HOME/registry/src)
#
# What is fetched, for the development set (corpus/) and the held-out set (corpus/heldout/):
# every row of packages.txt, and both versions (before, after) of every row of
# leak-fixes-ts.tsv (npm) and leak-fixes-rust.tsv (crates).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
D="${UNLEAK_CORPUS_DIR:-$HOME/.cache/unleak-corpus}"
mkdir -p "$D"/{npm,crates,cargo,tgz}
log() { printf 'corpus: %s\n' "$*" >&2; }

fetch_npm() { # name version
  local name="$1" ver="$2" out="$D/npm/$1@$2"
  [ -d "$out/package" ] && return 0
  log "npm pack $name@$ver"
  local tgz
  tgz="$(cd "$D/tgz" && npm pack "$name@$ver" --silent 2>/dev/null | tail -1)"
  [ -n "$tgz" ] && [ -f "$D/tgz/$tgz" ] || { log "npm pack $name@$ver failed"; return 1; }
  local tmp
  tmp="$(mktemp -d "$D/npm/.tmp.XXXXXX")"
  tar xzf "$D/tgz/$tgz" -C "$tmp"
  # A few packages use another top folder than package/.
  if [ ! -d "$tmp/package" ]; then mv "$tmp"/* "$tmp/package"; fi
  mkdir -p "$(dirname "$out")"  # scoped names: npm/@scope/name@version
  mv "$tmp" "$out"
}

fetch_crate() { # name version
  local name="$1" ver="$2" out="$D/crates/$1-$2"
  [ -d "$out" ] && return 0
  log "cargo fetch $name =$ver"
  local proj="$D/cargo/$name-$ver"
  mkdir -p "$proj/src"
  cat > "$proj/Cargo.toml" <<EOF
# Throwaway project: only makes cargo download $name $ver. Never built.
[package]
name = "unleak-corpus-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
$name = "=$ver"
EOF
  echo 'fn main() {}' > "$proj/src/main.rs"
  (cd "$proj" && cargo fetch --target x86_64-unknown-linux-gnu -q >&2)
  local src
  src="$(cd "$proj" && cargo metadata --format-version 1 --filter-platform x86_64-unknown-linux-gnu 2>/dev/null |
    python3 -c 'import json,sys,os
m=json.load(sys.stdin)
for p in m["packages"]:
    if p["name"]==sys.argv[1] and p["version"]==sys.argv[2]:
        print(os.path.dirname(p["manifest_path"]))' "$name" "$ver")"
  [ -n "$src" ] && [ -d "$src" ] || { log "cargo could not fetch $name $ver"; return 1; }
  cp -r "$src" "$out.tmp" && mv "$out.tmp" "$out"
}

fail=0
for SET in "$HERE" "$HERE/heldout"; do
  [ -f "$SET/packages.txt" ] || continue
  # The corpus.
  while read -r kind name ver _roots; do
    case "$kind" in
      npm) fetch_npm "$name" "$ver" || fail=1 ;;
      crate) fetch_crate "$name" "$ver" || fail=1 ;;
    esac
  done < <(grep -v '^\s*#' "$SET/packages.txt" | grep -v '^\s*$')

  # Both versions of every leak fix.
  for f in leak-fixes-ts.tsv:npm leak-fixes-rust.tsv:crate; do
    file="$SET/${f%%:*}" kind="${f##*:}"
    [ -f "$file" ] || continue
    while IFS=$'\t' read -r pkg before after _rest; do
      case "$pkg" in ''|'#'*|package) continue ;; esac
      for v in "$before" "$after"; do
        if [ "$kind" = npm ]; then fetch_npm "$pkg" "$v" || fail=1; else fetch_crate "$pkg" "$v" || fail=1; fi
      done
    done < "$file"
  done
done
[ "$fail" = 0 ] && log "ready in $D" || { log "some packages could not be fetched"; exit 1; }
