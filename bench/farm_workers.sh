#!/usr/bin/env bash
# A Python function over many small items, three ways, measured side by side in one run, best of
# REPEATS interleaved rounds, at 2 processes: `gridmr farm --worker` (gridmr_stream.serve, one
# long-lived Python per rank), Python's multiprocessing.Pool(2).map (bench/farm_pool.py), and
# `gridmr farm --command` starting Python once per item (on ITEMS / 50 items: it is slow). The
# task is bench/farm_task.py (about 0.1 ms of Python). Checks that the answers agree.
# Usage: bench/farm_workers.sh [ITEMS] [REPEATS]   (default 20000 3)
set -euo pipefail
items=${1:-20000}
repeats=${2:-3}
source "$(dirname "$0")/common.sh"
cpu=$(machine)
echo "machine: $cpu"
py=/usr/bin/python3
few=$((items / 50 > 0 ? items / 50 : 1))
w_wall="" p_wall="" c_wall=""
for ((r = 1; r <= repeats; r++)); do
  read -r w _ <<<"$(measure "mpirun -np 2 build/gridmr farm --quiet --force --threads 1 --range $items --worker '$py bench/farm_task.py' -o $work/worker.h5")"
  w_wall=$(best "$w_wall" "$w")
  read -r w _ <<<"$(measure "cd bench && $py farm_pool.py $items 2 $work/pool.txt")"
  p_wall=$(best "$p_wall" "$w")
  read -r w _ <<<"$(measure "mpirun -np 2 build/gridmr farm --quiet --force --threads 1 --range $few --command '$py bench/farm_task.py item {}' -o $work/command.h5")"
  c_wall=$(best "$c_wall" "$w")
done
$py - "$work/worker.h5" "$work/pool.txt" "$work/command.h5" "$items" "$few" <<'PY'
import sys, h5py
def lines(path):
    with h5py.File(path) as f:
        offsets, data = f["farm/stdout/offsets"][:], f["farm/stdout/data"][:].tobytes()
        assert not f["farm/exit_code"][:].any()
    return [data[offsets[i]:offsets[i + 1]].strip() for i in range(len(offsets) - 1)]
worker, command = lines(sys.argv[1]), lines(sys.argv[3])
pool = open(sys.argv[2], "rb").read().split()
assert len(worker) == int(sys.argv[4]) and worker == pool, "worker and Pool.map disagree"
assert command == worker[:int(sys.argv[5])], "a process per item disagrees"
print(f"answers agree: {len(worker)} items (worker, Pool.map), {len(command)} (a process per item)")
PY
per() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.3f", s / n * 1000 }'; }
echo "$items items, best of $repeats, 2 processes:"
echo "  gridmr farm --worker        $w_wall s ($(per "$w_wall" "$items") ms an item)"
echo "  multiprocessing.Pool.map    $p_wall s ($(per "$p_wall" "$items") ms an item); worker / Pool: $(ratio "$w_wall" "$p_wall")"
echo "  gridmr farm --command       $c_wall s for $few items ($(per "$c_wall" "$few") ms an item)"
csv="$out_dir/farm_workers.csv"
{
  echo "cpu,measure,value"
  echo "\"$cpu\",items,$items"
  echo "\"$cpu\",gridmr_farm_worker_2r_wall_s,$w_wall"
  echo "\"$cpu\",pool_map_2p_wall_s,$p_wall"
  echo "\"$cpu\",command_items,$few"
  echo "\"$cpu\",gridmr_farm_command_2r_wall_s,$c_wall"
} >"$csv"
echo "wrote $csv"
