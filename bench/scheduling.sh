#!/usr/bin/env bash
# Load balancing: 3 ranks on 2 cores, ranks 0 and 1 sharing core 0 (an Open MPI rankfile),
# so two ranks run at half speed. Static scheduling gives each rank a third of the work and
# waits for the slow pair; dynamic lets the fast rank take more. Same input, same run.
# Usage: bench/scheduling.sh [SAMPLES] [REPEATS]    (defaults: 1.5e10 3)
set -euo pipefail
samples=${1:-1.5e10}
repeats=${2:-3}
source "$(dirname "$0")/common.sh"
host=$(hostname)
printf 'rank 0=%s slot=0\nrank 1=%s slot=0\nrank 2=%s slot=1\n' "$host" "$host" "$host" >"$work/rankfile"

echo "machine: $(nproc) cores; 3 ranks x 1 thread, ranks 0 and 1 on core 0, rank 2 on core 1"
csv="$out_dir/scheduling.csv"
echo "schedule,run,wall_seconds,units_rank0,units_rank1,units_rank2" >"$csv"
declare -A best
for run in $(seq "$repeats"); do  # rounds interleave the schedules: this VM's speed drifts
  for schedule in static dynamic; do
    wall_of mpirun -q -np 3 --rankfile "$work/rankfile" build/gridmr montecarlo --threads 1 \
      --schedule "$schedule" --samples "$samples" --quiet --force -o "$work/out.h5"
    units=$(/usr/bin/python3 -c '
import h5py, sys
with h5py.File(sys.argv[1]) as f:
    print(",".join(str(u) for u in f["stats/ranks"]["units"]))' "$work/out.h5")
    echo "$schedule,$run,$wall,$units" >>"$csv"
    printf '%-8s run %d: %6.2f s wall, units per rank %s\n' "$schedule" "$run" "$wall" "$units"
    if [[ -z "${best[$schedule]:-}" ]] || less "$wall" "${best[$schedule]}"; then
      best[$schedule]=$wall
    fi
  done
done
gain=$(awk -v s="${best[static]}" -v d="${best[dynamic]}" 'BEGIN { printf "%.1f", 100 * (s - d) / s }')
echo "best of $repeats: static ${best[static]} s, dynamic ${best[dynamic]} s: dynamic is ${gain}% faster"
echo "wrote $csv"
