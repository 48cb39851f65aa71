#!/usr/bin/env bash
# gridmr stream against what its users run today, measured side by side in one run, best of
# REPEATS interleaved rounds:
#  1. Engine overhead: a trivial compiled mapper (bench/stream_mapper.cpp, `word<TAB>1` per word)
#     alone on the corpus (stdout to /dev/null) against `gridmr stream` with that mapper and the
#     built-in sum at 1 rank x 1 thread. CPU = user + system of every process (bench/cpu_of.py).
#     Also the floor of any engine that talks to its mapper through pipes, as streaming asks:
#     `cat CORPUS | mapper | wc -l` on one core (where mpirun binds the rank and its mapper).
#  2. Python word count at 2 processes: `gridmr stream` (2 ranks, the Python mapper of
#     examples/python/wordcount_mapper.py, built-in sum) against multiprocessing.Pool(2) map,
#     partition and reduce with the same mapper logic (bench/pool_wordcount.py), and against a
#     local Hadoop-Streaming-style pipeline `mapper < input | sort | reducer`.
# Usage: bench/stream.sh [MiB for part 1] [MiB for part 2] [REPEATS]   (default 256 32 3)
set -euo pipefail
mib=${1:-256}
python_mib=${2:-32}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"
corpus_dir=${GRIDMR_BENCH_CORPUS:-build/bench-corpus}
mkdir -p "$corpus_dir"
make_corpus() {  # make_corpus MiB -> path: inputs/kjv repeated, cut to exactly MiB
  local path="$corpus_dir/stream-$1MiB.txt"
  if [[ ! -f $path ]]; then
    while (($(stat -c %s "$work/all" 2>/dev/null || echo 0) < ($1 << 20))); do cat inputs/kjv/*.txt >>"$work/all"; done
    head -c $(($1 << 20)) "$work/all" >"$path"
    rm -f "$work/all"
  fi
  cat "$path" >/dev/null
  echo "$path"
}
cpu="$(machine), SIMD $(build/gridmr --version | sed -n 's/^SIMD target in use: \([a-z0-9_]*\).*/\1/p')"
echo "machine: $cpu"
py=/usr/bin/python3
gridmr=build/gridmr

# --- 1. Engine overhead with a compiled mapper. ---
corpus=$(make_corpus "$mib")
echo "part 1 corpus: $corpus ($(stat -c %s "$corpus") bytes)"
mapper_cpu="" stream_cpu="" stream_wall="" floor_cpu=""
for ((r = 1; r <= repeats; r++)); do
  read -r _ c <<<"$(measure "build/stream_mapper < $corpus > /dev/null")"
  mapper_cpu=$(best "$mapper_cpu" "$c")
  read -r _ c <<<"$(measure "taskset -c 0 sh -c 'cat $corpus | build/stream_mapper | wc -l > $work/lines'")"
  floor_cpu=$(best "$floor_cpu" "$c")
  read -r w c <<<"$(measure "mpirun -np 1 $gridmr stream --quiet --force --threads 1 --mapper build/stream_mapper -o $work/overhead.h5 $corpus")"
  stream_cpu=$(best "$stream_cpu" "$c")
  stream_wall=$(best "$stream_wall" "$w")
done
overhead=$(awk -v s="$stream_cpu" -v m="$mapper_cpu" 'BEGIN { printf "%.2f", s / m }')
echo "compiled mapper alone: $mapper_cpu s CPU; gridmr stream (1 rank x 1 thread): $stream_cpu s CPU, $stream_wall s wall"
echo "gridmr stream CPU / mapper CPU = $overhead (target <= 1.25)"
lines=$(cat "$work/lines")
floor=$(awk -v f="$floor_cpu" -v m="$mapper_cpu" 'BEGIN { printf "%.2f", f / m }')
echo "pipe floor (cat | mapper | wc -l, one core): $floor_cpu s CPU = $floor x the mapper's;" \
  "gridmr's own work above it: $(awk -v s="$stream_cpu" -v f="$floor_cpu" -v n="$lines" \
  'BEGIN { printf "%.1f", (s - f) / n * 1e9 }') ns per line ($lines lines)"

# --- 2. Python word count, 2 processes each. ---
small=$(make_corpus "$python_mib")
echo "part 2 corpus: $small ($(stat -c %s "$small") bytes)"
mapper="$py examples/python/wordcount_mapper.py"
g_wall="" p_wall="" s_wall=""
for ((r = 1; r <= repeats; r++)); do
  read -r w _ <<<"$(measure "mpirun -np 2 $gridmr stream --quiet --force --threads 1 --mapper '$mapper' -o $work/py.h5 $small")"
  g_wall=$(best "$g_wall" "$w")
  read -r w _ <<<"$(measure "$py bench/pool_wordcount.py $small 2 > $work/pool.txt")"
  p_wall=$(best "$p_wall" "$w")
  read -r w _ <<<"$(measure "$mapper < $small | LC_ALL=C sort -S 1G --parallel=2 | $py examples/python/sum_reducer.py > $work/pipe.txt")"
  s_wall=$(best "$s_wall" "$w")
done
# The three agree: same number of distinct words and the same total.
$py - "$work/py.h5" "$work/pool.txt" "$work/pipe.txt" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    g = (len(f["stream/values"]), int(f["stream/values"][:].sum()))
p = tuple(int(x) for x in open(sys.argv[2]).read().split())
lines = open(sys.argv[3], "rb").read().splitlines()
s = (len(lines), sum(int(l.split(b"\t")[1]) for l in lines))
assert g == p == s, (g, p, s)
print(f"all three agree: {g[0]} distinct words, {g[1]} words")
PY
echo "Python word count, best of $repeats: gridmr stream 2 ranks $g_wall s; Pool(2) $p_wall s; mapper|sort|reducer $s_wall s"
awk -v g="$g_wall" -v p="$p_wall" -v s="$s_wall" 'BEGIN { printf "gridmr speed-up: %.2fx over Pool(2), %.2fx over the pipeline\n", p / g, s / g }'

csv="$out_dir/stream.csv"
{
  echo "cpu,measure,value"
  echo "\"$cpu\",compiled_mapper_cpu_s,$mapper_cpu"
  echo "\"$cpu\",stream_1x1_cpu_s,$stream_cpu"
  echo "\"$cpu\",stream_cpu_over_mapper_cpu,$overhead"
  echo "\"$cpu\",pipe_floor_cpu_s,$floor_cpu"
  echo "\"$cpu\",pipe_floor_over_mapper_cpu,$floor"
  echo "\"$cpu\",python_wc_gridmr_2r_wall_s,$g_wall"
  echo "\"$cpu\",python_wc_pool2_wall_s,$p_wall"
  echo "\"$cpu\",python_wc_pipeline_wall_s,$s_wall"
} >"$csv"
echo "wrote $csv"
