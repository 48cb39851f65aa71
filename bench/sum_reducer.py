#!/usr/bin/python3
"""A Hadoop Streaming reducer for bench/stream.sh's `mapper | sort | reducer`
pipeline: sums the values of each run of equal keys on sorted stdin."""
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
