#!/usr/bin/python3
"""An external reducer for `gridmr stream --reducer CMD`, Hadoop Streaming
style: stdin holds `key<TAB>value` lines sorted by key, all values of a key
together; it prints one `key<TAB>result` line per key. Here the values are line
lengths (line_length_mapper.py) and the result is "count longest":

    mpirun -np 2 gridmr stream --mapper "python3 examples/python/line_length_mapper.py" \
        --reducer "python3 examples/python/longest_reducer.py" -o longest.h5 inputs/
"""
import sys

# Buffered whatever PYTHONUNBUFFERED says: one system call per 64 KiB, not per line.
out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)

current, count, longest = None, 0, 0
for line in sys.stdin.buffer:
    key, value = line.rstrip(b"\n").split(b"\t", 1)
    if key != current:
        if current is not None:
            out.write(b"%s\t%d %d\n" % (current, count, longest))
        current, count, longest = key, 0, 0
    count += 1
    longest = max(longest, int(value))
if current is not None:
    out.write(b"%s\t%d %d\n" % (current, count, longest))
out.flush()
