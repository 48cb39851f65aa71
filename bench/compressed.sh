#!/usr/bin/env bash
# Word count over compressed inputs: MiB of text (inputs/' words) in FILES files, plain, gzip
# (-6) and zstd (-3). gridmr at 2 ranks x 1 thread on each form, against what a user would do
# without it: `zcat | wordcount_baseline` and `zstdcat | wordcount_baseline` (the one-thread
# std::unordered_map count, bench/wordcount_baseline.cpp, reading the decompressed stream), and
# the decompressors alone (`gzip -dc`, `zstd -dc` into /dev/null, one thread: what one core
# decompresses at best). Rounds interleave every run; each figure is the best of REPEATS.
# Rates are MB of text per second (wall time, mpirun start-up included). Checks that the three
# forms give the same counts.
# Usage: bench/compressed.sh [MiB] [FILES] [REPEATS]   (default 512 16 3)
set -euo pipefail
mib=${1:-512}
files=${2:-16}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"
echo "machine: $(machine); $mib MiB of text in $files files; best of $repeats"
mkdir -p "$work/plain" "$work/gz" "$work/zst"
# Not inputs/ repeated: zstd's window would find each 0.9 MB repeat and shrink the files 16x
# (gzip's 32 KiB window cannot). Words drawn at random by their frequency in inputs/, in lines
# of 1-19 words, compress as text does (gzip about 3x).
/usr/bin/python3 - "$work/plain" "$files" "$((mib << 20))" <<'PY'
import collections, pathlib, re, sys
import numpy
folder, files, total = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
counts = collections.Counter(re.findall(rb"\S+", b"".join(
    p.read_bytes() for p in sorted(pathlib.Path("inputs/kjv").glob("*.txt")))))
words = numpy.array(list(counts), dtype=object)
odds = numpy.array(list(counts.values()), dtype=float)
odds /= odds.sum()
rng = numpy.random.default_rng(1)
for i in range(files):
    with open(folder / f"part-{i:03d}.txt", "wb") as f:
        written = 0
        while written < total // files:
            picked = words[rng.choice(len(words), 200000, p=odds)]
            ends = numpy.where(rng.random(200000) < 0.1, b"\n", b" ")
            chunk = b"".join(w + e for w, e in zip(picked, ends))
            f.write(chunk)
            written += len(chunk)
PY
for f in "$work"/plain/*; do
  gzip -6 -c "$f" >"$work/gz/$(basename "$f").gz"
  zstd -q -3 -c "$f" >"$work/zst/$(basename "$f").zst"
done
text_bytes=$(cat "$work"/plain/* | wc -c)
gz_bytes=$(cat "$work"/gz/* | wc -c)
zst_bytes=$(cat "$work"/zst/* | wc -c)
cat "$work"/plain/* "$work"/gz/* "$work"/zst/* >/dev/null  # warm the page cache
echo "text $text_bytes bytes; gzip $gz_bytes; zstd $zst_bytes"

labels=("gzip -dc (1 thread, no count)" "zstd -dc (1 thread, no count)"
        "zcat | baseline" "zstdcat | baseline"
        "gridmr 2r x 1t, plain" "gridmr 2r x 1t, .gz" "gridmr 2r x 1t, .zst")
run() {
  case $1 in
    0) gzip -dc "$work"/gz/* >/dev/null ;;
    1) zstd -q -dc "$work"/zst/* >/dev/null ;;
    2) gzip -dc "$work"/gz/* | build/wordcount_baseline /dev/stdin >/dev/null ;;
    3) zstd -q -dc "$work"/zst/* | build/wordcount_baseline /dev/stdin >/dev/null ;;
    *)
      local form=(plain gz zst)
      OMP_NUM_THREADS=1 mpirun -q -np 2 --bind-to none build/gridmr wordcount --threads 1 --quiet \
        --force -o "$work/r$1.h5" "$work/${form[$1 - 4]}"
      ;;
  esac
}
bests=()
for ((r = 1; r <= repeats; r++)); do
  for i in "${!labels[@]}"; do
    wall_of run "$i"
    bests[i]=$(best "${bests[i]:-}" "$wall")
  done
done
build/gridmr cat "$work/r4.h5" >"$work/plain.txt"
for i in 5 6; do
  build/gridmr cat "$work/r$i.h5" | cmp -s - "$work/plain.txt" ||
    { echo "${labels[i]}: counts differ from the plain text's" >&2; exit 1; }
done
echo "checked: the .gz and .zst runs count exactly what the plain run counts"
rate() { awk -v b="$text_bytes" -v s="$1" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
csv="$out_dir/compressed.csv"
echo "config,seconds,text_MB_per_s" >"$csv"
for i in "${!labels[@]}"; do
  printf '%-32s %7.2f s %6s MB/s of text\n' "${labels[i]}" "${bests[i]}" "$(rate "${bests[i]}")"
  echo "${labels[i]},${bests[i]},$(rate "${bests[i]}")" >>"$csv"
done
echo "gridmr .gz:  $(ratio "${bests[2]}" "${bests[5]}")x zcat | baseline, $(ratio "${bests[0]}" "${bests[5]}")x gzip -dc alone"
echo "gridmr .zst: $(ratio "${bests[3]}" "${bests[6]}")x zstdcat | baseline, $(ratio "${bests[1]}" "${bests[6]}")x zstd -dc alone"
echo "wrote $csv"
