#!/usr/bin/python3
"""A Hadoop Streaming style reducer (and combiner): sums the integer values of
each run of equal keys on sorted `key<TAB>value` stdin and prints `key<TAB>sum`.

    mpirun -np 2 gridmr stream --mapper "python3 examples/python/wordcount_mapper.py" \
        --reducer "python3 examples/python/sum_reducer.py" \
        --combiner "python3 examples/python/sum_reducer.py" -o words.h5 inputs/

(The built-in `--reducer sum` does the same inside gridmr, faster.) bench/stream.sh
also uses it in a local `mapper < input | sort | reducer` pipeline."""
import sys

# Buffered whatever PYTHONUNBUFFERED says: one system call per 64 KiB, not per line.
out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)

current, total = None, 0
for line in sys.stdin.buffer:
    key, value = line.rstrip(b"\n").split(b"\t", 1)
    if key != current:
        if current is not None:
            out.write(b"%s\t%d\n" % (current, total))
        current, total = key, 0
    total += int(value)
if current is not None:
    out.write(b"%s\t%d\n" % (current, total))
out.flush()
