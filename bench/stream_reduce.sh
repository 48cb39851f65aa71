#!/usr/bin/env bash
# gridmr stream with a reducer of the user's own (Hadoop Streaming's shape) against the same
# reducer behind `sort`, as `mapper | sort | reducer` runs it locally: LINES lines of
# `u<id><TAB><0-999>` over KEYS distinct keys, the mapper `cat`, the reducer a mawk script that
# sums each key's values; and gridmr's built-in `collect` (every key's values, counted) on the
# same lines. Everything on one core (taskset -c 0), interleaved, best of REPEATS rounds. Checks
# that gridmr's reducer output equals the pipeline's.
# Usage: bench/stream_reduce.sh [LINES] [KEYS] [REPEATS]   (default 5e6 5e5 3)
set -euo pipefail
lines=${1:-5e6}
keys=${2:-5e5}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3
echo "machine: $(machine); $lines lines over $keys keys; 1 core (taskset -c 0), best of $repeats"
$py - "$work/lines.txt" "$lines" "$keys" <<'PY'
import random, sys
path, lines, keys = sys.argv[1], int(float(sys.argv[2])), int(float(sys.argv[3]))
rng = random.Random(5)
with open(path, "w") as f:
    for start in range(0, lines, 1 << 20):
        f.write("".join(f"u{rng.randrange(keys)}\t{rng.randrange(1000)}\n"
                        for _ in range(min(1 << 20, lines - start))))
PY
cat >"$work/sum.awk" <<'AWK'
BEGIN { FS = "\t" }
$1 != k { if (NR > 1) print k "\t" s; k = $1; s = 0 }
{ s += $2 }
END { if (NR > 0) print k "\t" s }
AWK
file="$work/lines.txt"
cat "$file" >/dev/null
pipe_best="" ext_best="" collect_best=""
for ((r = 1; r <= repeats; r++)); do
  wall_of taskset -c 0 sh -c "LC_ALL=C sort -t '	' -k1,1 -S 1G '$file' | mawk -f '$work/sum.awk' >'$work/pipe.out'"
  pipe_best=$(best "$pipe_best" "$wall")
  wall_of taskset -c 0 build/gridmr stream --mapper cat --reducer "mawk -f $work/sum.awk" \
    --threads 1 --quiet --force -o "$work/ext.h5" "$file"
  ext_best=$(best "$ext_best" "$wall")
  wall_of taskset -c 0 build/gridmr stream --mapper cat --reducer collect --threads 1 --quiet \
    --force -o "$work/collect.h5" "$file"
  collect_best=$(best "$collect_best" "$wall")
done
$py - "$work/ext.h5" "$work/pipe.out" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
def column(name):
    data, offsets = f[name + "/data"][:].tobytes(), f[name + "/offsets"][:]
    return [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
got = dict(zip(column("stream/keys"), column("stream/values")))
pipe = dict(line.rstrip(b"\n").split(b"\t") for line in open(sys.argv[2], "rb"))
assert got == pipe, "gridmr's reducer output differs from the pipeline's"
print(f"checked: {len(got)} keys, the same sums")
PY
ratio=$(awk -v a="$pipe_best" -v g="$ext_best" 'BEGIN { printf "%.2f", a / g }')
printf 'sort | mawk reducer          %6.2f s\n' "$pipe_best"
printf 'gridmr 1x1, mawk reducer     %6.2f s   %sx\n' "$ext_best" "$ratio"
printf 'gridmr 1x1, built-in collect %6.2f s\n' "$collect_best"
csv="$out_dir/stream_reduce.csv"
echo "machine,lines,keys,sort_mawk_seconds,gridmr_mawk_seconds,ratio,gridmr_collect_seconds" >"$csv"
echo "\"$(machine)\",$lines,$keys,$pipe_best,$ext_best,$ratio,$collect_best" >>"$csv"
echo "wrote $csv"
