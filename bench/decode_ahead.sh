#!/usr/bin/env bash
# A compressed file that cannot be cut (plain gzip, one zstd frame, xz of one block) is one work
# unit, which one thread maps. When a thread of the rank has no units left, its core decodes
# that file's text ahead of the map (docs/records.md, "Decoding ahead"). This measures it: MiB of
# text (words as in bench/compressed.sh) as one .gz (gzip -6), one .zst (zstd -3, one frame) and
# one .xz (xz -3, one block), counted by gridmr at 1 rank x 2 threads with decoding ahead and
# without it (GRIDMR_DEBUG_NO_DECODE_AHEAD=1), beside what a user would do without gridmr: the
# decompressor piped into the one-thread baseline (two processes, so two cores as well). Then the
# same text in FILES .gz files, where both threads have files to map until the end: decoding
# ahead must cost nothing there. Rounds interleave every run; each figure is the best of REPEATS
# (wall time, start-up included). Last, one .gz and one .zst at 2 ranks x 1 thread, each rank bound
# to a core as mpirun binds by default: the rank that maps the file decodes ahead on the other
# rank's core, which that rank lends once its map is over. Checks that every run gives the same
# counts.
# Usage: bench/decode_ahead.sh [MiB] [FILES] [REPEATS]   (default 256 16 5)
set -euo pipefail
mib=${1:-256}
files=${2:-16}
repeats=${3:-5}
source "$(dirname "$0")/common.sh"
echo "machine: $(machine); $mib MiB of text; best of $repeats"
mkdir -p "$work/plain" "$work/files"
/usr/bin/python3 bench/make_text.py "$work/plain" "$files" "$((mib << 20))"
cat "$work"/plain/* | gzip -6 >"$work/one.gz" &
cat "$work"/plain/* | zstd -q -3 >"$work/one.zst" &
cat "$work"/plain/* | xz -3 -T1 >"$work/one.xz" &
for f in "$work"/plain/*; do gzip -6 -c "$f" >"$work/files/$(basename "$f").gz"; done
wait
cat "$work"/one.* "$work"/files/* >/dev/null  # warm the page cache
forms=(gz zst xz)
decompressor() {
  case $1 in
    gz) echo "gzip -dc" ;;
    zst) echo "zstd -q -dc" ;;
    xz) echo "xz -dc -T1" ;;
  esac
}
labels=()
for form in "${forms[@]}"; do
  labels+=("one .$form: $(decompressor "$form") | baseline"
    "one .$form: gridmr 1r x 2t, no decoding ahead"
    "one .$form: gridmr 1r x 2t, decoding ahead")
done
labels+=("$files .gz files: gridmr 1r x 2t, no decoding ahead"
  "$files .gz files: gridmr 1r x 2t, decoding ahead")
for form in gz zst; do
  labels+=("one .$form: gridmr 2r x 1t, no decoding ahead"
    "one .$form: gridmr 2r x 1t, decoding ahead")
done
gridmr() {  # gridmr I AHEAD INPUT
  GRIDMR_DEBUG_NO_DECODE_AHEAD=$((1 - $2)) OMP_NUM_THREADS=2 mpirun -q -np 1 --bind-to none \
    -x GRIDMR_DEBUG_NO_DECODE_AHEAD build/gridmr wordcount --threads 2 --quiet --force \
    -o "$work/r$1.h5" "$3"
}
ranks() {  # ranks I AHEAD INPUT: 2 ranks of one thread, bound to a core each (mpirun's default)
  GRIDMR_DEBUG_NO_DECODE_AHEAD=$((1 - $2)) OMP_NUM_THREADS=1 mpirun -q -np 2 --bind-to core \
    -x GRIDMR_DEBUG_NO_DECODE_AHEAD build/gridmr wordcount --threads 1 --quiet --force \
    -o "$work/r$1.h5" "$3"
}
run() {
  local i=$1
  if ((i >= 11)); then
    ranks "$i" $(((i - 11) % 2)) "$work/one.${forms[(i - 11) / 2]}"
  elif ((i >= 9)); then
    gridmr "$i" $((i - 9)) "$work/files"
  elif ((i % 3 == 0)); then
    $(decompressor "${forms[i / 3]}") "$work/one.${forms[i / 3]}" |
      build/wordcount_baseline /dev/stdin >/dev/null
  else
    gridmr "$i" $((i % 3 - 1)) "$work/one.${forms[i / 3]}"
  fi
}
interleaved_bests "$repeats"
build/gridmr cat "$work/r1.h5" >"$work/counts.txt"
for i in "${!labels[@]}"; do
  ((i % 3 == 0 && i < 9)) && continue
  build/gridmr cat "$work/r$i.h5" | cmp -s - "$work/counts.txt" ||
    { echo "${labels[i]}: counts differ from one .gz's" >&2; exit 1; }
done
echo "checked: every gridmr run counts the same"
text_bytes=$(cat "$work"/plain/* | wc -c)
text_rates decode_ahead "$text_bytes"
for k in "${!forms[@]}"; do
  echo "one .${forms[k]}: decoding ahead $(ratio "${bests[3 * k + 1]}" "${bests[3 * k + 2]}")x" \
    "without it, $(ratio "${bests[3 * k]}" "${bests[3 * k + 2]}")x the pipe"
done
echo "$files .gz files: decoding ahead $(ratio "${bests[9]}" "${bests[10]}")x without it"
for k in 0 1; do
  echo "one .${forms[k]}, 2 ranks x 1 thread: decoding ahead" \
    "$(ratio "${bests[11 + 2 * k]}" "${bests[12 + 2 * k]}")x without it"
done
