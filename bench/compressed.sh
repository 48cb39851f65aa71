#!/usr/bin/env bash
# Word count over compressed inputs: MiB of text (inputs/' words) in FILES files, plain, gzip
# (-6), zstd (-3), bzip2 (-9) and xz (-3). gridmr at 2 ranks x 1 thread on each form, against
# what a user would do without it: `zcat | wordcount_baseline` and the like (the one-thread
# std::unordered_map count, bench/wordcount_baseline.cpp, reading the decompressed stream), and
# the decompressors alone (`gzip -dc` ... into /dev/null, one thread: what one core decompresses
# at best). Rounds interleave every run; each figure is the best of REPEATS.
# Then the same text as ONE file in each layout gridmr cuts into units (BGZF .gz as bgzip writes
# it, 64 KiB blocks; .bz2 as `bzip2 -9` writes it, one stream of 900 kB blocks; .zst frames of
# 4 MiB; .xz as `xz -3 -T2` writes it, blocks of 12 MiB of text), against the same file read as
# one unit (--unit-size 1TiB: what any reader that cannot
# find the streams does). Rates are MB of text per second (wall time, mpirun start-up
# included). Checks that every form gives the same counts.
# Usage: bench/compressed.sh [MiB] [FILES] [REPEATS]   (default 512 16 3)
set -euo pipefail
mib=${1:-512}
files=${2:-16}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"
echo "machine: $(machine); $mib MiB of text in $files files; best of $repeats"
mkdir -p "$work/plain" "$work/gz" "$work/zst" "$work/bz2" "$work/xz" "$work/one"
/usr/bin/python3 bench/make_text.py "$work/plain" "$files" "$((mib << 20))"
compress() {  # compress FORM FILE: FILE compressed into $work/FORM/
  case $1 in
    gz) gzip -6 -c "$2" >"$work/gz/$(basename "$2").gz" ;;
    zst) zstd -q -3 -c "$2" >"$work/zst/$(basename "$2").zst" ;;
    bz2) bzip2 -9 -c "$2" >"$work/bz2/$(basename "$2").bz2" ;;
    xz) xz -3 -T1 -c "$2" >"$work/xz/$(basename "$2").xz" ;;
  esac
}
forms=(gz zst bz2 xz)
for form in "${forms[@]}"; do
  for f in "$work"/plain/*; do compress "$form" "$f" & done  # the files at once: bzip2, xz are slow
  wait
done
# One file per splittable layout, its parts made at once and joined (joined files of a layout
# are a file of that layout).
bgzf() {  # bgzf FILE: FILE as BGZF (bgzip's layout) on stdout
  /usr/bin/python3 - "$1" <<'PY'
import struct, sys, zlib
data, out = open(sys.argv[1], "rb").read(), sys.stdout.buffer
for at in [*range(0, len(data), 65280), len(data)]:
    chunk = data[at:at + 65280]
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = packer.compress(chunk) + packer.flush()
    out.write(b"\x1f\x8b\x08\x04\0\0\0\0\0\xff\x06\0BC\x02\0" +
              struct.pack("<H", 25 + len(deflated)) + deflated +
              struct.pack("<II", zlib.crc32(chunk), len(chunk)))
PY
}
cat "$work"/plain/* | xz -3 -T2 >"$work/one-xz.xz"
cat "$work"/plain/* | bzip2 -9 >"$work/one-bz2.bz2" &  # one stream: one thread
one_bz2=$!
for f in "$work"/plain/*; do
  b=$(basename "$f")
  bgzf "$f" >"$work/one/$b.gz" &
  split -b 4M --filter 'zstd -q -3' "$f" >"$work/one/$b.zst" &
  for job in $(jobs -p); do [[ $job == "$one_bz2" ]] || wait "$job"; done
done
wait
for form in gz zst; do
  cat "$work"/one/*."$form" >"$work/one-$form.$form"
  rm "$work"/one/*."$form"
done
sizes="text $(cat "$work"/plain/* | wc -c) bytes"
for form in "${forms[@]}"; do sizes+="; $form $(cat "$work/$form"/* | wc -c)"; done
text_bytes=$(cat "$work"/plain/* | wc -c)
cat "$work"/*/* >/dev/null  # warm the page cache
echo "$sizes"

# decompress FORM: the files of FORM decompressed to stdout by the program users have for it.
decompress() {
  case $1 in
    gz) gzip -dc "$work"/gz/* ;;
    zst) zstd -q -dc "$work"/zst/* ;;
    bz2) bzip2 -dc "$work"/bz2/* ;;
    xz) xz -dc -T1 "$work"/xz/* ;;
  esac
}
# Configurations 0-3: each decompressor alone; 4-7: piped into the baseline; 8: gridmr on the
# plain text; 9-12: gridmr on each form; 13-16: gridmr on one file of each splittable layout;
# 17-20: the same, as one unit.
labels=()
for form in "${forms[@]}"; do labels+=("$form: decompressor alone, 1 thread"); done
for form in "${forms[@]}"; do labels+=("$form: decompressor | baseline"); done
labels+=("plain: gridmr 2r x 1t")
for form in "${forms[@]}"; do labels+=("$form: gridmr 2r x 1t"); done
split_forms=(gz bz2 zst xz)
for form in "${split_forms[@]}"; do labels+=("one .$form file: gridmr 2r x 1t"); done
for form in "${split_forms[@]}"; do labels+=("one .$form file, one unit: 2r x 1t"); done
run() {
  local i=$1
  if ((i < 4)); then
    decompress "${forms[i]}" >/dev/null
  elif ((i < 8)); then
    decompress "${forms[i - 4]}" | build/wordcount_baseline /dev/stdin >/dev/null
  elif ((i >= 13)); then
    local form=${split_forms[(i - 13) % 4]} unit=16MiB
    ((i >= 17)) && unit=1TiB
    OMP_NUM_THREADS=1 mpirun -q -np 2 --bind-to none build/gridmr wordcount --threads 1 --quiet \
      --unit-size "$unit" --force -o "$work/r$i.h5" "$work/one-$form.$form"
  else
    local folder=plain
    ((i > 8)) && folder=${forms[i - 9]}
    OMP_NUM_THREADS=1 mpirun -q -np 2 --bind-to none build/gridmr wordcount --threads 1 --quiet \
      --force -o "$work/r$i.h5" "$work/$folder"
  fi
}
interleaved_bests "$repeats"
build/gridmr cat "$work/r8.h5" >"$work/plain.txt"
for ((i = 9; i < ${#labels[@]}; i++)); do
  build/gridmr cat "$work/r$i.h5" | cmp -s - "$work/plain.txt" ||
    { echo "${labels[i]}: counts differ from the plain text's" >&2; exit 1; }
done
echo "checked: every compressed form counts exactly what the plain text counts"
text_rates compressed "$text_bytes"
for k in "${!forms[@]}"; do
  echo "gridmr .${forms[k]}: $(ratio "${bests[k + 4]}" "${bests[k + 9]}")x decompressor | baseline," \
    "$(ratio "${bests[k]}" "${bests[k + 9]}")x the decompressor alone"
done
for k in "${!split_forms[@]}"; do
  echo "one .${split_forms[k]} file: $(ratio "${bests[k + 17]}" "${bests[k + 13]}")x the same file as" \
    "one unit"
done
