#!/usr/bin/python3
"""Word count mapper for `gridmr stream`: reads lines on stdin and prints
`word<TAB>1` for every word (ASCII letters and digits, bytes >= 0x80; ASCII
letters folded to lower case: the word rule of gridmr's own word count).

    mpirun -np 2 gridmr stream --mapper "python3 examples/python/wordcount_mapper.py" \
        --reducer sum -o words.h5 inputs/
"""
import re
import sys

WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+")
LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")

# Buffered whatever PYTHONUNBUFFERED says: one system call per 64 KiB, not per line.
out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)
for line in sys.stdin.buffer:
    out.write(b"".join(word.translate(LOWER) + b"\t1\n" for word in WORD.findall(line)))
out.flush()
