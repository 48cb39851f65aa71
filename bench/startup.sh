#!/usr/bin/env bash
# Start-up cost: the wall time of a 2-rank word count of a 1 KB file (mpirun, MPI_Init, the
# result file, MPI_Finalize: nearly nothing else), for each of several gridmr programs and/or
# environments, interleaved round by round; prints each one's best and median.
# Usage: bench/startup.sh ROUNDS 'ENV|PROGRAM' ...
#   ENV: arguments for env(1) ('-' for none; '-u NAME' unsets), PROGRAM: a gridmr launcher.
#   e.g. bench/startup.sh 14 '-|/tmp/old/build/gridmr' '-|build/gridmr'
#        bench/startup.sh 14 '-u HWLOC_COMPONENTS|build/gridmr' '-|build/gridmr'
set -euo pipefail
rounds=$1
shift
source "$(dirname "$0")/common.sh"
head -c 1000 inputs/kjv/genesis.txt >"$work/small.txt"
declare -A walls
for _ in $(seq "$rounds"); do
  for spec in "$@"; do
    settings=${spec%%|*} program=${spec#*|}
    [[ $settings == - ]] && settings=""
    start=$(date +%s%N)
    # shellcheck disable=SC2086  # the settings are env's arguments, split on purpose
    env $settings OMP_NUM_THREADS=1 mpirun -q -np 2 --bind-to none "$program" wordcount --threads 1 \
      --quiet --force -o "$work/small.h5" "$work/small.txt" >/dev/null
    walls[$spec]+="$((($(date +%s%N) - start) / 1000000)) "
  done
done
echo "machine: $(machine)"
for spec in "$@"; do
  # shellcheck disable=SC2086  # a list of numbers
  printf '%-50s best %4d ms  median %4.0f ms  (%d runs)\n' "$spec" \
    "$(printf '%s\n' ${walls[$spec]} | sort -n | head -1)" "$(median ${walls[$spec]})" "$rounds"
done
