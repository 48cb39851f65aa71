#!/usr/bin/python3
"""Mapper for the external-reducer example: for every non-empty line, its first
word (lower-cased) as the key and the line's length in bytes as the value."""
import sys

# Buffered whatever PYTHONUNBUFFERED says: one system call per 64 KiB, not per line.
out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)
for line in sys.stdin.buffer:
    line = line.rstrip(b"\n")
    words = line.split()
    if words:
        out.write(words[0].lower() + b"\t%d\n" % len(line))
out.flush()
