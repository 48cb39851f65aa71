#!/usr/bin/env bash
# gridmr farm's cost per item against xargs, measured side by side in one run, best of REPEATS
# interleaved rounds: ITEMS trivial items (`true ITEM`, so that starting the command is all
# there is to an item) at 2 processes: `mpirun -np 2 gridmr farm --range ITEMS`, and
# `seq | xargs -P 2` running the same command through /bin/sh. CPU = user + system of every
# process (bench/cpu_of.py): what an item costs beyond the command itself.
# Usage: bench/farm.sh [ITEMS] [REPEATS]   (default 2000 3)
set -euo pipefail
items=${1:-2000}
repeats=${2:-3}
source "$(dirname "$0")/common.sh"
cpu=$(machine)
echo "machine: $cpu"
py=/usr/bin/python3
g_wall="" g_cpu="" x_wall="" x_cpu=""
for ((r = 1; r <= repeats; r++)); do
  read -r w c <<<"$(measure "mpirun -np 2 build/gridmr farm --quiet --force --range $items --command 'true {}' -o $work/farm.h5")"
  g_wall=$(best "$g_wall" "$w") g_cpu=$(best "$g_cpu" "$c")
  read -r w c <<<"$(measure "seq 0 $((items - 1)) | xargs -P 2 -I{} sh -c 'exec true {}'")"
  x_wall=$(best "$x_wall" "$w") x_cpu=$(best "$x_cpu" "$c")
done
# Every item ran once and succeeded.
$py - "$work/farm.h5" "$items" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    codes = f["farm/exit_code"][:]
    attempts = f["farm/attempts"][:]
assert len(codes) == int(sys.argv[2]) and not codes.any() and (attempts == 1).all()
print(f"gridmr farm: {len(codes)} items, all succeeded at the first attempt")
PY
per() { awk -v s="$1" -v n="$items" 'BEGIN { printf "%.2f", s / n * 1000 }'; }
echo "$items items, best of $repeats: gridmr farm $g_wall s wall, $g_cpu s CPU ($(per "$g_cpu") ms an item);" \
  "xargs -P 2 $x_wall s wall, $x_cpu s CPU ($(per "$x_cpu") ms an item)"
csv="$out_dir/farm.csv"
{
  echo "cpu,measure,value"
  echo "\"$cpu\",items,$items"
  echo "\"$cpu\",gridmr_farm_2r_wall_s,$g_wall"
  echo "\"$cpu\",gridmr_farm_2r_cpu_s,$g_cpu"
  echo "\"$cpu\",xargs_p2_wall_s,$x_wall"
  echo "\"$cpu\",xargs_p2_cpu_s,$x_cpu"
} >"$csv"
echo "wrote $csv"
