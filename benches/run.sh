#!/usr/bin/env bash
# The benchmark harness: unleak against its parse floor and the tools users would pick instead,
# on the same corpus, in the same run: benches/measure.py runs each group's commands in
# interleaved rounds (medians of wall and CPU time, peak memory, samples disturbed by other work
# dropped). Prints a Markdown table; `benches/RESULTS.md` records the latest one.
#
#   benches/run.sh                 everything (fetches the corpus and tools first: benches/corpus.sh)
#   benches/run.sh --smoke         unleak and the floor on the repository's fixtures, in seconds
#   benches/run.sh --only ts,rust  some groups only: ts, js, growth, cache, rust, clippy
#   RUNS=10 benches/run.sh         rounds per command (default 7; ESLint, Rust and clippy: 3)
#
# Needs: cargo, node/npm (peers), python3.
# Each sample holds /tmp/unleak-cargo.lock (the lock builds on this machine take), so a build
# elsewhere waits instead of disturbing the timings; the lock is released between samples.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
D="${UNLEAK_BENCH_DIR:-$HOME/.cache/unleak-bench}"
RUNS="${RUNS:-7}"
SLOW_RUNS="${SLOW_RUNS:-3}"
LOCK="${UNLEAK_BENCH_LOCK:-/tmp/unleak-cargo.lock}"
SMOKE=0
ONLY="ts,js,growth,cache,rust,clippy"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --only) ONLY="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
command -v python3 >/dev/null || { echo "run.sh: needs python3" >&2; exit 2; }

# Build unleak and the floor (release), under the shared build lock.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
(cd "$REPO" && flock "$LOCK" nice -n 10 cargo build --release --quiet --bin unleak --example parse_floor)
UNLEAK="$CARGO_TARGET_DIR/release/unleak"
FLOOR="$CARGO_TARGET_DIR/release/examples/parse_floor"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
ROWS="$OUT/rows.tsv"
: > "$ROWS"

# measure GROUP NAME CORPUS_LABEL FILES LINES RUNS DIR [--prepare CMD] -- CMD...
# Adds CMD to the plan; benches/measure.py runs the plan at the end, interleaved by group.
measure() {
  local group="$1" name="$2" label="$3" files="$4" lines="$5" runs="$6" dir="$7"
  shift 7
  local prepare=""
  if [ "$1" = "--prepare" ]; then prepare="$2"; shift 2; fi
  [ "$1" = "--" ] && shift
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$name" "$label" "$files" "$lines" "$runs" "$dir" "$prepare" "$*" >> "$ROWS"
}

# files_lines DIR [floor args]: the files and lines unleak's discovery finds (the floor counts them).
files_lines() {
  local dir="$1"; shift
  "$FLOOR" "$@" "$dir" 2>&1 | sed -n 's/^parse floor: \([0-9]*\) files, \([0-9]*\) lines.*/\1 \2/p'
}

if [ "$SMOKE" = 1 ]; then
  FIX="$REPO/fixtures"
  read -r F L < <(files_lines "$FIX")
  measure smoke "unleak (no cache)" fixtures "$F" "$L" 3 "$FIX" -- "$UNLEAK" check --no-cache --format concise .
  measure smoke "parse floor" fixtures "$F" "$L" 3 "$FIX" -- "$FLOOR" .
else
  bash "$HERE/corpus.sh"
  C="$D/corpus"
  BIN="$D/tools/node_modules/.bin"
  cp "$HERE/config/eslint.config.mjs" "$HERE/config/oxlintrc-listeners.json" "$D/tools/"
  rm -rf "$D/tools/ast-grep" && cp -r "$HERE/config/ast-grep" "$D/tools/ast-grep"
  NPROC="$(nproc)"

  if want ts; then
    read -r F L < <(files_lines "$C/ts")
    measure ts "unleak" "TS" "$F" "$L" "$RUNS" "$C" -- "$UNLEAK" check --no-cache --format concise ts
    measure ts "parse floor" "TS" "$F" "$L" "$RUNS" "$C" -- "$FLOOR" ts
    measure ts "ast-grep" "TS" "$F" "$L" "$RUNS" "$C" -- "$BIN/ast-grep" scan -c "$D/tools/ast-grep/sgconfig.yml" --report-style short ts
    measure ts "oxlint (default rules)" "TS" "$F" "$L" "$RUNS" "$C" -- "$BIN/oxlint" --threads "$NPROC" ts
    measure ts "oxlint + listeners plugin" "TS" "$F" "$L" "$RUNS" "$C" -- "$BIN/oxlint" --threads "$NPROC" -c "$D/tools/oxlintrc-listeners.json" ts
    measure ts "eslint + listeners" "TS" "$F" "$L" "$SLOW_RUNS" "$C" -- "$BIN/eslint" -c "$D/tools/eslint.config.mjs" --no-inline-config --concurrency "$NPROC" ts
  fi
  if want growth; then
    read -r F L < <(files_lines "$C/ts2")
    measure growth "unleak" "TS×2" "$F" "$L" "$RUNS" "$C" -- "$UNLEAK" check --no-cache --format concise ts2
    measure growth "parse floor" "TS×2" "$F" "$L" "$RUNS" "$C" -- "$FLOOR" ts2
  fi
  if want cache; then
    # A private copy, so the one-file edit does not touch the shared corpus.
    rm -rf "$OUT/tsc" && cp -r "$C/ts" "$OUT/tsc"
    read -r F L < <(files_lines "$OUT/tsc")
    EDIT="$OUT/tsc/effect/src/Array.ts"
    measure cache "unleak, cache cold" "TS" "$F" "$L" "$RUNS" "$OUT" --prepare "rm -rf $OUT/.unleak_cache" -- "$UNLEAK" check --format concise tsc
    measure cache "unleak, cache warm" "TS" "$F" "$L" "$RUNS" "$OUT" -- "$UNLEAK" check --format concise tsc
    measure cache "unleak, one file edited" "TS" "$F" "$L" "$RUNS" "$OUT" --prepare "echo \"// edit \$RANDOM\$RANDOM\" >> $EDIT" -- "$UNLEAK" check --format concise tsc
  fi
  if want js; then
    read -r F L < <(files_lines "$C/js" --max-file-size 50000000)
    measure js "unleak" "JS" "$F" "$L" "$RUNS" "$C" -- "$UNLEAK" check --no-cache --max-file-size 50000000 --format concise js
    measure js "parse floor" "JS" "$F" "$L" "$RUNS" "$C" -- "$FLOOR" --max-file-size 50000000 js
    measure js "ast-grep" "JS" "$F" "$L" "$RUNS" "$C" -- "$BIN/ast-grep" scan -c "$D/tools/ast-grep/sgconfig.yml" --report-style short js
    measure js "oxlint (default rules)" "JS" "$F" "$L" "$RUNS" "$C" -- "$BIN/oxlint" --threads "$NPROC" js
    measure js "oxlint + listeners plugin" "JS" "$F" "$L" "$SLOW_RUNS" "$C" -- "$BIN/oxlint" --threads "$NPROC" -c "$D/tools/oxlintrc-listeners.json" js
    measure js "eslint + listeners" "JS" "$F" "$L" "$SLOW_RUNS" "$C" -- "$BIN/eslint" -c "$D/tools/eslint.config.mjs" --no-inline-config --concurrency "$NPROC" js
  fi
  if want rust; then
    read -r F L < <(files_lines "$C/rust")
    measure rust "unleak" "Rust" "$F" "$L" "$SLOW_RUNS" "$C" -- "$UNLEAK" check --no-cache --format concise rust
    measure rust "parse floor" "Rust" "$F" "$L" "$SLOW_RUNS" "$C" -- "$FLOOR" rust
  fi
  if want clippy; then
    CRATE="$(ls -d "$C"/clippy/*/ | head -1)"
    CRATE="${CRATE%/}"
    NAME="$(basename "$CRATE")"
    # The library's sources, which is what `cargo clippy` (no --all-targets) checks.
    read -r F L < <(files_lines "$CRATE/src")
    # Dependencies built once; each run checks the crate itself: after a touch (incremental,
    # as in an editor) and after `cargo clean -p` (the crate from scratch, as in CI).
    (cd "$CRATE" && flock "$LOCK" cargo clippy --offline --quiet >/dev/null 2>&1 || true)
    measure clippy "unleak" "$NAME/src" "$F" "$L" "$RUNS" "$CRATE" -- "$UNLEAK" check --no-cache --format concise src
    measure clippy "cargo clippy (touched)" "$NAME/src" "$F" "$L" "$SLOW_RUNS" "$CRATE" --prepare "touch src/lib.rs" -- cargo clippy --offline --quiet
    measure clippy "cargo clippy (crate cleaned)" "$NAME/src" "$F" "$L" "$SLOW_RUNS" "$CRATE" --prepare "cargo clean --offline --quiet -p $NAME" -- cargo clippy --offline --quiet
  fi
fi

# The cache group's warm runs need a filled cache before their first sample.
if [ -d "$OUT/tsc" ]; then (cd "$OUT" && "$UNLEAK" check --format concise tsc >/dev/null 2>&1 || true); fi
python3 "$HERE/measure.py" "$ROWS" --lock "$LOCK"
