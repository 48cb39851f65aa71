#!/usr/bin/env bash
# Monte Carlo throughput: gridmr at 2 ranks x 1 thread under each SIMD target of this CPU
# (GRIDMR_SIMD) with the default generator (ARS-7), the avx2 target once more without VAES
# where the CPU has it (as on AVX2 CPUs before Zen 3 and Alder Lake), Philox4x32-10 under the
# best target, and 1 rank x 2 threads under the best, against a one-thread xoshiro256+ loop
# built with the same flags and run in the same benchmark.
# Every figure is the best of REPEATS rounds, the baseline's too (this VM's speed drifts), and
# the rounds interleave the baseline and both configurations.
# Usage: bench/montecarlo.sh [SAMPLES] [BASELINE_SAMPLES] [REPEATS]  (defaults: 2e10 2000000000 3)
#        GRIDMR_BENCH_NO_BUILD=1 skips the set-up step (used by the ctest smoke run).
set -euo pipefail
samples=${1:-2e10}
baseline_samples=${2:-2000000000}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"

echo "machine: $(machine)"
# Rounds: the baseline, then each gridmr configuration, once per round; each keeps its best.
# Interleaved, so that a slow spell of this VM hits every configuration alike.
read -r -a targets <<<"$(bench_targets)"
# ranks threads target generator [no-vaes]
configs=()
for target in "${targets[@]}"; do
  configs+=("2 1 $target ars")
  if [[ $target == avx2 ]] && grep -qw vaes /proc/cpuinfo; then configs+=("2 1 avx2 ars no-vaes"); fi
done
configs+=("2 1 ${targets[0]} philox" "1 2 ${targets[0]} ars")
base_rate=0
for round in $(seq "$repeats"); do
  echo "round $round of $repeats"
  rate_of '.* = ([0-9.]+) M samples\/s.*' build/xoshiro_baseline "$baseline_samples"
  if less "$base_rate" "$rate"; then base_rate=$rate; fi
  for i in "${!configs[@]}"; do
    read -r ranks threads target generator no_vaes <<<"${configs[i]}"
    wall_of env OMP_NUM_THREADS="$threads" GRIDMR_SIMD="$target" \
      ${no_vaes:+GRIDMR_DEBUG_NO_VAES=1} mpirun -q -np "$ranks" --bind-to none \
      build/gridmr montecarlo --threads "$threads" --samples "$samples" --generator "$generator" \
      --quiet -o "$work/run.h5" --force
    echo "gridmr ${ranks}r x ${threads}t $target $generator ${no_vaes}: $wall s wall"
    keep_best "$i"
  done
done
echo "baseline, best of $repeats: $base_rate M samples/s"

csv="$out_dir/montecarlo.csv"
echo "config,samples,seconds,wall_seconds,msamples_per_s,ratio_to_baseline" > "$csv"
echo "xoshiro256+ 1 thread,$baseline_samples,,,$base_rate,1.00" >> "$csv"
printf '%-42s %14s %9s %9s %14s %8s\n' config samples "run s" "wall s" "M samples/s" ratio
for i in "${!configs[@]}"; do
  read -r ranks threads target generator no_vaes <<<"${configs[i]}"
  wall=${best_walls[i]}
  read -r n seconds < <(/usr/bin/python3 -c '
import h5py, sys
with h5py.File(sys.argv[1]) as f:
    print(f["montecarlo"].attrs["samples"], f.attrs["elapsed_seconds"])' "$work/best-$i.h5")
  rate=$(awk -v n="$n" -v s="$seconds" 'BEGIN { print n / s / 1e6 }')
  ratio=$(awk -v r="$rate" -v b="$base_rate" 'BEGIN { print r / b }')
  label="gridmr ${ranks}r x ${threads}t $target $generator${no_vaes:+ no-vaes}"
  printf '%-42s %14s %9.2f %9.2f %14.0f %7.2fx\n' "$label" "$n" "$seconds" "$wall" "$rate" "$ratio"
  printf '%s,%s,%.3f,%.3f,%.1f,%.2f\n' "$label" "$n" "$seconds" "$wall" "$rate" "$ratio" >> "$csv"
done
echo "wrote $csv ('run s' is the job's own elapsed_seconds; 'wall s' adds mpirun start-up)"
