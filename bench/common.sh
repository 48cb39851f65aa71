# Sourced by the benchmarks: builds unless GRIDMR_BENCH_NO_BUILD is set, sets up Open MPI,
# and provides $out_dir (results; GRIDMR_BENCH_OUT) and $work (a temporary folder).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -n "${GRIDMR_BENCH_NO_BUILD:-}" ]] || scripts/setup.sh build >/dev/null
source scripts/env.sh
out_dir=${GRIDMR_BENCH_OUT:-bench/results}
mkdir -p "$out_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# best_rate SED_PATTERN COMMAND...: runs COMMAND $repeats times, showing each output line, and
# sets $best_rate to the highest rate SED_PATTERN captures (one group) from those lines.
best_rate() {
  local pattern=$1 line rate
  shift
  best_rate=0
  for _ in $(seq "$repeats"); do
    line=$("$@")
    echo "$line"
    rate=$(sed -E "s/$pattern/\1/" <<<"$line")
    best_rate=$(awk -v a="$rate" -v b="$best_rate" 'BEGIN { print (a > b) ? a : b }')
  done
}

# best_wall RESULT COMMAND...: runs COMMAND (which writes $work/run.h5) $repeats times, keeps the
# fastest run's file as RESULT and its wall time, mpirun start-up included, in $best_wall.
best_wall() {
  local result=$1 start this
  shift
  best_wall=""
  for _ in $(seq "$repeats"); do
    start=$(date +%s.%N)
    "$@"
    this=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    if [[ -z $best_wall ]] || awk -v a="$this" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
      best_wall=$this
      mv "$work/run.h5" "$result"
    fi
  done
}
