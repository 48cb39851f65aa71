#!/usr/bin/env bash
# Reading a result back: KEYS distinct keys (`user<N><TAB><0-999>` lines through `gridmr stream
# --reducer sum`), printed as text by `gridmr cat`, and turned into a Python dict by
# gridmr_stream.rows() and by an h5py loop over the same datasets; interleaved, best of REPEATS
# rounds, wall time and peak RSS. Checks that the three agree, and that cat's text is the
# h5py loop's.
# Usage: bench/cat.sh [KEYS] [REPEATS]   (default 3000000 3)
set -euo pipefail
keys=${1:-3000000}
repeats=${2:-3}
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3
module=$PWD/build/share/gridmr/python
echo "machine: $(machine); $keys keys; best of $repeats"
$py - "$work/pairs.txt" "$keys" <<'PY'
import sys
path, keys = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(keys):
        f.write(f"user{i * 7919 % 10000019}\t{i % 1000}\n")
PY
build/gridmr stream --mapper cat --reducer sum --quiet -o "$work/r.h5" "$work/pairs.txt"
rows_py="import sys; sys.path.insert(0, '$module'); import gridmr_stream
d = dict(gridmr_stream.rows(sys.argv[1])); assert len(d) == $keys"
h5py_py="import sys, h5py
with h5py.File(sys.argv[1]) as f:
    off = f['stream/keys/offsets'][:]; data = f['stream/keys/data'][:].tobytes()
    vals = f['stream/values'][:]
    d = {data[off[i]:off[i + 1]].decode(): int(vals[i]) for i in range(len(vals))}
assert len(d) == $keys"
text_py="import sys, h5py
with h5py.File(sys.argv[1]) as f:
    off = f['stream/keys/offsets'][:]; data = f['stream/keys/data'][:].tobytes()
    vals = f['stream/values'][:]
    sys.stdout.buffer.write(b''.join(data[off[i]:off[i + 1]] + b'\t%d\n' % vals[i]
                                     for i in range(len(vals))))"
# peak_of COMMAND...: runs it (output to $work/out), sets $wall and $rss (its peak MiB, from
# getrusage: no /usr/bin/time on a minimal Debian).
peak_of() {
  local start
  start=$(date +%s.%N)
  rss=$($py -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "wb"), check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$work/out" "$@")
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
}
cat_best="" rows_best="" h5py_best="" text_best=""
for ((r = 1; r <= repeats; r++)); do
  peak_of build/gridmr cat "$work/r.h5"; cat_best=$(best "$cat_best" "$wall"); cat_rss=$rss
  cp "$work/out" "$work/cat.txt"
  peak_of $py -c "$text_py" "$work/r.h5"; text_best=$(best "$text_best" "$wall"); text_rss=$rss
  peak_of $py -c "$rows_py" "$work/r.h5"; rows_best=$(best "$rows_best" "$wall"); rows_rss=$rss
  peak_of $py -c "$h5py_py" "$work/r.h5"; h5py_best=$(best "$h5py_best" "$wall"); h5py_rss=$rss
done
$py -c "$text_py" "$work/r.h5" | cmp -s - "$work/cat.txt" || { echo "cat's text differs from h5py's" >&2; exit 1; }
echo "checked: gridmr cat prints the h5py loop's lines byte for byte; both dicts hold $keys keys"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
printf 'text:  gridmr cat          %6.2f s %5d MiB\n' "$cat_best" "$cat_rss"
printf 'text:  h5py loop           %6.2f s %5d MiB   gridmr cat %sx faster\n' "$text_best" "$text_rss" "$(ratio "$text_best" "$cat_best")"
printf 'dict:  gridmr_stream.rows  %6.2f s %5d MiB\n' "$rows_best" "$rows_rss"
printf 'dict:  h5py loop           %6.2f s %5d MiB   rows() takes %sx the time\n' "$h5py_best" "$h5py_rss" "$(ratio "$rows_best" "$h5py_best")"
