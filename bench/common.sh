# Sourced by the benchmarks: builds unless GRIDMR_BENCH_NO_BUILD is set, sets up Open MPI,
# and provides $out_dir (results; GRIDMR_BENCH_OUT) and $work (a temporary folder).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -n "${GRIDMR_BENCH_NO_BUILD:-}" ]] || scripts/setup.sh build >/dev/null
source scripts/env.sh
out_dir=${GRIDMR_BENCH_OUT:-bench/results}
mkdir -p "$out_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
