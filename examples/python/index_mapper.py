#!/usr/bin/python3
"""Inverted index mapper for `gridmr stream --reducer collect`: prints
`word<TAB>file` for every word of its input, where `file` is the name of the
input file the lines come from. The result lists, for every word, the files it
occurs in and how often.

With a mapper per input file (the default) gridmr puts the file's path in
GRIDMR_INPUT:

    mpirun -np 2 gridmr stream --mapper "python3 examples/python/index_mapper.py" \\
        --reducer collect -o index.h5 inputs/

For many small files, one mapper per thread reads every line as PATH<TAB>text:

    mpirun -np 2 gridmr stream --combine-files --include-path \\
        --mapper "python3 examples/python/index_mapper.py" --reducer collect -o index.h5 docs/
"""
import os
import re
import sys

WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+")
LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")

# Buffered whatever PYTHONUNBUFFERED says: one system call per 64 KiB, not per line.
out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)
if "GRIDMR_INPUT" in os.environ:  # a mapper per input file
    tail = b"\t" + os.path.basename(os.environ["GRIDMR_INPUT"]).encode() + b"\n"
    for line in sys.stdin.buffer:
        out.write(b"".join(word.translate(LOWER) + tail for word in WORD.findall(line)))
else:  # --include-path: PATH<TAB>text
    tails = {}
    for line in sys.stdin.buffer:
        path, _, text = line.partition(b"\t")
        tail = tails.get(path)
        if tail is None:
            tail = tails[path] = b"\t" + os.path.basename(path) + b"\n"
        out.write(b"".join(word.translate(LOWER) + tail for word in WORD.findall(text)))
out.flush()
