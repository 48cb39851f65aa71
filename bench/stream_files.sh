#!/usr/bin/env bash
# Many small input files through a Python mapper: gridmr stream with a mapper per file (the
# default, whose environment names each file), with --combine-files (one mapper per thread), and
# the files piped through one mapper alone (`cat FILES | mapper`, no reduce: the floor). FILES
# files of KIB KiB of words, examples/python/wordcount_mapper.py, --reducer sum, 2 ranks x 1
# thread; interleaved, best of REPEATS rounds. Checks that both gridmr runs give the same counts,
# and that they equal the pipe's.
# Usage: bench/stream_files.sh [FILES] [KIB] [REPEATS]   (default 1000 4 3)
set -euo pipefail
files=${1:-1000}
kib=${2:-4}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3
mapper="$py $PWD/examples/python/wordcount_mapper.py"
echo "machine: $(machine); $files files of $kib KiB; 2 ranks x 1 thread; best of $repeats"
mkdir "$work/in"
$py - "$work/in" "$files" "$kib" <<'PY'
import random, sys
folder, files, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1)
words = [f"w{i}" for i in range(5000)]
for f in range(files):
    text, size = [], 0
    while size < kib * 1024:
        line = " ".join(rng.choice(words) for _ in range(10)) + "\n"
        text.append(line)
        size += len(line)
    open(f"{folder}/f{f:06d}.txt", "w").write("".join(text))
PY
cat "$work"/in/* >/dev/null
run() {  # run NAME [OPTION]: one gridmr run into $work/NAME.h5
  mpirun -np 2 --bind-to none build/gridmr stream --threads 1 --mapper "$mapper" --reducer sum \
    "${@:2}" --quiet --force -o "$work/$1.h5" "$work/in" 2>/dev/null
}
per_file_best="" combine_best="" pipe_best=""
for ((r = 1; r <= repeats; r++)); do
  wall_of run per_file
  per_file_best=$(best "$per_file_best" "$wall")
  wall_of run combine --combine-files
  combine_best=$(best "$combine_best" "$wall")
  wall_of sh -c "cat '$work'/in/* | $mapper >'$work/pipe.out'"
  pipe_best=$(best "$pipe_best" "$wall")
done
$py - "$work/per_file.h5" "$work/combine.h5" "$work/pipe.out" <<'PY'
import collections, sys, h5py
def counts(path):
    f = h5py.File(path, "r")
    data, offsets = f["stream/keys/data"][:].tobytes(), f["stream/keys/offsets"][:]
    keys = [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    return dict(zip(keys, (int(v) for v in f["stream/values"][:])))
a, b = counts(sys.argv[1]), counts(sys.argv[2])
pipe = collections.Counter(line.split(b"\t")[0] for line in open(sys.argv[3], "rb"))
assert a == b == dict(pipe), "the counts differ"
print(f"checked: {len(a)} words, {sum(a.values())} in all, the same counts three ways")
PY
ratio=$(awk -v a="$per_file_best" -v c="$combine_best" 'BEGIN { printf "%.1f", a / c }')
printf 'gridmr, a mapper per file       %7.2f s\n' "$per_file_best"
printf 'gridmr, --combine-files         %7.2f s   %sx faster\n' "$combine_best" "$ratio"
printf 'cat FILES | mapper (no reduce)  %7.2f s\n' "$pipe_best"
csv="$out_dir/stream_files.csv"
echo "machine,files,kib,per_file_seconds,combine_seconds,ratio,pipe_seconds" >"$csv"
echo "\"$(machine)\",$files,$kib,$per_file_best,$combine_best,$ratio,$pipe_best" >>"$csv"
echo "wrote $csv"
