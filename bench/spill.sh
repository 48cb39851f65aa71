#!/usr/bin/env bash
# Time and peak RSS against distinct keys, with and without spilling. For each N, the input is
# the words w0 .. w(N-1), each twice (two files, about 20 bytes per distinct word), counted on
# 2 ranks x 1 thread: once with --memory 256MiB (tables spill to the scratch folder), once with
# --memory 64GiB (nothing spills), interleaved, best of REPEATS. Peak RSS is the largest rank's
# (getrusage, as /usr/bin/time -v reports it). Checks that both results are identical, that
# there are N keys each counted twice, and that sampled keys are words of the input.
# Usage: bench/spill.sh [DISTINCT...] [-- REPEATS]    (defaults: 1e6 1e7 5e7 -- 1)
set -euo pipefail
sizes=()
repeats=1
while [[ $# -gt 0 ]]; do
  if [[ $1 == -- ]]; then
    repeats=$2
    shift 2
  else
    sizes+=("$1")
    shift
  fi
done
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1e6 1e7 5e7)
source "$(dirname "$0")/common.sh"
echo "machine: $(machine)," \
  "$(free -g | awk '/Mem:/ {print $2}') GiB; 2 ranks x 1 thread; scratch: ${TMPDIR:-/tmp}"
csv="$out_dir/spill.csv"
echo "distinct_keys,memory,run,wall_seconds,peak_rss_max_bytes,spilled_bytes" >"$csv"
for size in "${sizes[@]}"; do
  n=$(/usr/bin/python3 -c "print(int(float('$size')))")
  mkdir -p "$work/in"
  seq -f 'w%.0f' 0 $((n - 1)) >"$work/in/a.txt"
  cp "$work/in/a.txt" "$work/in/b.txt"
  declare -A best_wall=() best_rss=() spilled=()
  for run in $(seq "$repeats"); do
    for memory in 256MiB 64GiB; do
      wall_of mpirun -q -np 2 --bind-to none build/gridmr wordcount --threads 1 --quiet --force \
        --memory "$memory" -o "$work/$memory.h5" "$work/in"
      read -r rss bytes < <(/usr/bin/python3 -c '
import h5py, sys
with h5py.File(sys.argv[1]) as f:
    r = f["stats/ranks"]
    print(int(r["peak_rss_bytes"].max()), int(r["spilled_bytes"].sum()))' "$work/$memory.h5")
      echo "$n,$memory,$run,$wall,$rss,$bytes" >>"$csv"
      printf '%11d keys, --memory %-6s run %d: %7.2f s, peak RSS %6.0f MiB, spilled %6.0f MiB\n' \
        "$n" "$memory" "$run" "$wall" "$(awk -v b="$rss" 'BEGIN{print b/1048576}')" \
        "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')"
      if [[ -z ${best_wall[$memory]:-} ]] || less "$wall" "${best_wall[$memory]}"; then
        best_wall[$memory]=$wall
      fi
      best_rss[$memory]=$rss
      spilled[$memory]=$bytes
    done
  done
  /usr/bin/python3 - "$work/256MiB.h5" "$work/64GiB.h5" "$n" <<'PY'
import random, sys
import h5py, numpy
spilled, memory, n = h5py.File(sys.argv[1]), h5py.File(sys.argv[2]), int(sys.argv[3])
for name in ("wordcount/keys/offsets", "wordcount/keys/data", "wordcount/counts"):
    if not numpy.array_equal(spilled[name][()], memory[name][()]):
        sys.exit(f"FAIL: {name} differs between the spilled and the in-memory result")
counts = spilled["wordcount/counts"][()]
a = spilled["wordcount"].attrs
if len(counts) != n or not (counts == 2).all() or a["unique_words"] != n or a["total_words"] != 2 * n:
    sys.exit(f"FAIL: expected {n} keys counted twice, got {len(counts)} keys, attrs {dict(a)}")
offsets = spilled["wordcount/keys/offsets"]
data = spilled["wordcount/keys/data"]
for i in random.Random(1).sample(range(n), min(n, 2000)):
    word = data[offsets[i]:offsets[i + 1]].tobytes()
    if not (word.startswith(b"w") and word[1:].isdigit() and int(word[1:]) < n):
        sys.exit(f"FAIL: key {i} is {word!r}, not a word of the input")
print(f"ok: {n} keys, each counted twice, identical with and without spilling")
PY
  printf '%11d keys: spilling %.2f s, %.0f MiB peak RSS; in memory %.2f s, %.0f MiB: time x%.2f, RSS x%.2f\n' \
    "$n" "${best_wall[256MiB]}" "$(awk -v b="${best_rss[256MiB]}" 'BEGIN{print b/1048576}')" \
    "${best_wall[64GiB]}" "$(awk -v b="${best_rss[64GiB]}" 'BEGIN{print b/1048576}')" \
    "$(awk -v a="${best_wall[256MiB]}" -v b="${best_wall[64GiB]}" 'BEGIN{print a/b}')" \
    "$(awk -v a="${best_rss[256MiB]}" -v b="${best_rss[64GiB]}" 'BEGIN{print a/b}')"
  rm -rf "$work/in" "$work"/*.h5
done
echo "wrote $csv"
