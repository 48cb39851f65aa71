#!/usr/bin/python3
"""Mapper for the external-reducer example: for every non-empty line, its first
word (lower-cased) as the key and the line's length in bytes as the value."""
import sys

out = sys.stdout.buffer
for line in sys.stdin.buffer:
    line = line.rstrip(b"\n")
    words = line.split()
    if words:
        out.write(words[0].lower() + b"\t%d\n" % len(line))
