#!/usr/bin/env bash
# gridmr stream's built-in sum over many distinct keys, against mawk's associative array (what a
# user types for a sum by key: awk -F'\t' '{s[$1] += $2}'), both on one core (taskset -c 0; the
# mapper `cat` shares it), interleaved, best of REPEATS rounds. Four inputs of LINES lines over
# KEYS distinct keys: short keys (u<id>) and 36-byte keys (UUIDs), each with integer values and
# with decimal values (0.01 .. 999.99). gridmr's float sums are exact (correctly rounded, the same
# on any number of ranks); mawk adds doubles in input order. Checks that both find the same keys
# and, for integer values, the same sums.
# Usage: bench/stream_keys.sh [LINES] [KEYS] [REPEATS]   (default 20e6 1e6 3)
set -euo pipefail
lines=${1:-20e6}
keys=${2:-1e6}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3
echo "machine: $(machine); $lines lines over $keys keys; 1 core (taskset -c 0), best of $repeats"
$py - "$work" "$lines" "$keys" <<'EOF'
import random, sys, uuid
work, lines, keys = sys.argv[1], int(float(sys.argv[2])), int(float(sys.argv[3]))
rng = random.Random(7)
names = {"short": [f"u{i}" for i in range(keys)],
         "uuid": [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(keys)]}
for kind, ks in names.items():
    with open(f"{work}/{kind}-int.txt", "w") as i, open(f"{work}/{kind}-float.txt", "w") as f:
        for start in range(0, lines, 1 << 20):
            picks = [(ks[rng.randrange(keys)], rng.randrange(1, 100000)) for _ in range(min(1 << 20, lines - start))]
            i.write("".join(f"{k}\t{c}\n" for k, c in picks))
            f.write("".join(f"{k}\t{c // 100}.{c % 100:02d}\n" for k, c in picks))
EOF
csv="$out_dir/stream_keys.csv"
echo "input,values,mawk_seconds,gridmr_seconds,ratio" >"$csv"
awk_sum='{ s[$1] += $2 } END { for (k in s) printf "%s\t%.0f\n", k, s[k] }'
for input in short-int short-float uuid-int uuid-float; do
  file="$work/$input.txt"
  values=${input#*-}
  cat "$file" >/dev/null
  awk_best="" gridmr_best=""
  for ((r = 1; r <= repeats; r++)); do
    wall_of taskset -c 0 mawk -F'\t' "$awk_sum" "$file" >"$work/awk.out"
    awk_best=$(best "$awk_best" "$wall")
    wall_of taskset -c 0 build/gridmr stream --mapper cat --values "$values" --threads 1 --quiet \
      --force -o "$work/out.h5" "$file"
    gridmr_best=$(best "$gridmr_best" "$wall")
  done
  $py - "$work/out.h5" "$work/awk.out" "$values" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
data, offsets = f["stream/keys/data"][:].tobytes(), f["stream/keys/offsets"][:]
got = {data[offsets[i]:offsets[i + 1]]: v for i, v in enumerate(f["stream/values"][:].tolist())}
awk = dict(line.rstrip(b"\n").split(b"\t") for line in open(sys.argv[2], "rb"))
assert got.keys() == awk.keys(), "gridmr and mawk found different keys"
if sys.argv[3] == "int":
    assert all(got[k] == int(v) for k, v in awk.items()), "integer sums differ"
EOF
  ratio=$(awk -v a="$awk_best" -v g="$gridmr_best" 'BEGIN { printf "%.2f", a / g }')
  printf '%-12s mawk %6.2f s   gridmr 1x1 %6.2f s   %sx\n' "$input" "$awk_best" "$gridmr_best" "$ratio"
  echo "$input,$values,$awk_best,$gridmr_best,$ratio" >>"$csv"
done
echo "wrote $csv"
