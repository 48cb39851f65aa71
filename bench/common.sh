# Sourced by the benchmarks: builds unless GRIDMR_BENCH_NO_BUILD is set, sets up Open MPI,
# and provides $out_dir (results; GRIDMR_BENCH_OUT) and $work (a temporary folder).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -n "${GRIDMR_BENCH_NO_BUILD:-}" ]] || scripts/setup.sh build >/dev/null
source scripts/env.sh
out_dir=${GRIDMR_BENCH_OUT:-bench/results}
mkdir -p "$out_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# rate_of SED_PATTERN COMMAND...: runs COMMAND once, showing its output line, and sets $rate to
# the rate SED_PATTERN captures (one group) from it.
rate_of() {
  local pattern=$1 line
  shift
  line=$("$@")
  echo "$line"
  rate=$(sed -E "s/$pattern/\1/" <<<"$line")
}

# wall_of COMMAND...: runs COMMAND once and sets $wall to its wall time in seconds.
wall_of() {
  local start
  start=$(date +%s.%N)
  "$@"
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
}

# less A B: whether number A < number B.
less() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# median NUMBERS...: the median of its arguments (the mean of the middle two for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# best CUR NEW: the smaller of two numbers (CUR may be empty: no best yet).
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

# measure 'COMMAND': runs it through the shell and prints "wall_seconds cpu_seconds", the CPU of
# every process it waited for (bench/cpu_of.py).
measure() { /usr/bin/python3 bench/cpu_of.py "$1"; }

# keep_best I: after wall_of ran configuration I (writing $work/run.h5), keeps that run's file
# as $work/best-I.h5 and its wall time in best_walls[I] if it is I's fastest so far.
best_walls=()
keep_best() {
  local i=$1
  if [[ -z ${best_walls[i]:-} ]] || less "$wall" "${best_walls[i]}"; then
    best_walls[i]=$wall
    mv "$work/run.h5" "$work/best-$i.h5"
  fi
}

# The SIMD targets to measure, best first: GRIDMR_BENCH_TARGETS, else those of this CPU among
# avx3_dl, avx3, avx2 and sse4 (gridmr --version lists them).
bench_targets() {
  if [[ -n "${GRIDMR_BENCH_TARGETS:-}" ]]; then
    echo "$GRIDMR_BENCH_TARGETS"
    return
  fi
  build/gridmr --version | sed -n 's/^SIMD targets this CPU supports: //p' | tr ' ' '\n' |
    grep -xE 'avx3_dl|avx3|avx2|sse4' | xargs
}

# cpuinfo FIELD: the first CPU's FIELD in /proc/cpuinfo.
cpuinfo() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2 | xargs; }

# machine: this CPU as the figures must name it -- its model name, family and model (a VM's
# model name alone, "AMD EPYC", names no generation), its widest vector ISA, and its cores.
machine() {
  local isa=SSE4
  grep -qw avx2 /proc/cpuinfo && isa=AVX2
  grep -qw avx512f /proc/cpuinfo && isa=AVX-512
  echo "$(cpuinfo 'model name') (family $(cpuinfo 'cpu family') model $(cpuinfo model), $isa), $(nproc) cores"
}

# interleaved_bests REPEATS: REPEATS rounds, each calling `run I` for every configuration
# labels[I] in turn (the caller defines run); sets bests[I] to I's best wall time.
interleaved_bests() {
  local r i
  bests=()
  for ((r = 1; r <= $1; r++)); do
    for i in "${!labels[@]}"; do
      wall_of run "$i"
      bests[i]=$(best "${bests[i]:-}" "$wall")
    done
  done
}

# text_rates NAME TEXT_BYTES: prints each configuration labels[i] with its best wall time bests[i]
# and the MB of text per second that makes, and writes them to $out_dir/NAME.csv.
text_rates() {
  local csv="$out_dir/$1.csv" width=0 i mbps
  echo "config,seconds,text_MB_per_s" >"$csv"
  for i in "${!labels[@]}"; do ((${#labels[i]} > width)) && width=${#labels[i]}; done
  for i in "${!labels[@]}"; do
    mbps=$(awk -v b="$2" -v s="${bests[i]}" 'BEGIN { printf "%.0f", b / s / 1e6 }')
    printf '%-*s %7.2f s %6s MB/s of text\n' "$width" "${labels[i]}" "${bests[i]}" "$mbps"
    echo "${labels[i]},${bests[i]},$mbps" >>"$csv"
  done
  echo "wrote $csv"
}

# ratio A B: A / B, to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
