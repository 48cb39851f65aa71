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

out = sys.stdout.buffer
for line in sys.stdin.buffer:
    for word in WORD.findall(line):
        out.write(word.translate(LOWER) + b"\t1\n")
