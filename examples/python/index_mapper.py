#!/usr/bin/python3
"""Inverted index mapper for `gridmr stream --reducer collect`: prints
`word<TAB>file` for every word of its input, where `file` is the name of the
input file the lines come from (gridmr puts its path in GRIDMR_INPUT). The
result lists, for every word, the files it occurs in and how often.

    mpirun -np 2 gridmr stream --mapper "python3 examples/python/index_mapper.py" \
        --reducer collect -o index.h5 inputs/
"""
import os
import re
import sys

WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+")
LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")

document = os.path.basename(os.environ["GRIDMR_INPUT"]).encode()
# Buffered whatever PYTHONUNBUFFERED says: one system call per 64 KiB, not per line.
out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)
tail = b"\t" + document + b"\n"
for line in sys.stdin.buffer:
    out.write(b"".join(word.translate(LOWER) + tail for word in WORD.findall(line)))
out.flush()
