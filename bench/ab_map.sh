#!/usr/bin/env bash
# A/B test of the word count map phase: runs each gridmr binary in turn (one thread, no mpirun),
# REPEATS rounds, and prints each one's best map seconds (from --stats). Alternating the binaries
# keeps this VM's drifting speed from favouring one; compare only figures from the same run.
# Usage: bench/ab_map.sh REPEATS CORPUS GRIDMR_A GRIDMR_B [...]
#   e.g. bench/ab_map.sh 7 build/bench-corpus/kjv-256MiB.txt /tmp/old/build/gridmr build/gridmr
set -euo pipefail
repeats=$1 corpus=$2
shift 2
declare -A best
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$repeats"); do
  for binary in "$@"; do
    seconds=$("$binary" wordcount --threads 1 --quiet --force --stats -o "$out/run.h5" "$corpus" |
      awk '$1 == "0" { print $5 }')
    if [[ -z ${best[$binary]:-} ]] || awk -v a="$seconds" -v b="${best[$binary]}" 'BEGIN { exit !(a < b) }'; then
      best[$binary]=$seconds
    fi
  done
done
for binary in "$@"; do echo "$binary: best map ${best[$binary]} s of $repeats"; done
