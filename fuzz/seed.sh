#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the fixtures (not committed: the corpus grows while fuzzing).
# fuzz_fix reads its first byte as the language (0 .ts, 1 .rs, 2 .js, 3 .tsx): its seeds get it.
set -euo pipefail
cd "$(dirname "$0")"
for t in fuzz_ts fuzz_rust fuzz_fix fuzz_positions fuzz_lsp_positions; do mkdir -p "corpus/$t"; done
n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  name="seed-$n-$(basename "$f")"
  case "$f" in
    *.rs) cp "$f" "corpus/fuzz_rust/$name"; lang='\x01' ;;
    *.tsx|*.jsx) cp "$f" "corpus/fuzz_ts/$name"; lang='\x03' ;;
    *.js|*.mjs|*.cjs) cp "$f" "corpus/fuzz_ts/$name"; lang='\x02' ;;
    *) cp "$f" "corpus/fuzz_ts/$name"; lang='\x00' ;;
  esac
  { printf "$lang"; cat "$f"; } > "corpus/fuzz_fix/$name"
  cp "$f" "corpus/fuzz_positions/$name"
  cp "$f" "corpus/fuzz_lsp_positions/$name"
done < <(find ../fixtures -type f \( -name '*.rs' -o -name '*.ts' -o -name '*.tsx' -o -name '*.js' \
  -o -name '*.jsx' -o -name '*.mjs' -o -name '*.cjs' -o -name '*.mts' -o -name '*.cts' \) -print0)
echo "seeded $n files per target"
