#!/usr/bin/python3
"""Word count, and the longest verse of each book, as two Python functions
(gridmr_stream; gridmr puts it on the PYTHONPATH of the programs it starts):

    mpirun -np 2 gridmr stream --mapper "python3 examples/python/functions_wordcount.py map" \
        --reducer "python3 examples/python/functions_wordcount.py reduce" -o words.h5 inputs/

(inputs/ holds verses as "Exo1:1 Now these are..."; a line's book is the
letters it starts with.) With a built-in reducer, only the mapper is yours:
`gridmr_stream.run(mapper)` and `--reducer sum`, `max`, `collect`..."""
import re

import gridmr_stream

WORD = re.compile(r"[A-Za-z0-9]+")
BOOK = re.compile(r"[A-Za-z]+(?=[0-9]+:[0-9]+ )")


def mapper(line):
    """One input line (str, without its newline) -> (key, value) pairs."""
    for word in WORD.findall(line):
        yield word.lower(), 1
    book = BOOK.match(line)
    if book:
        yield "longest verse of " + book.group().lower(), len(line)


def reducer(key, values):
    """One key and all its values (ints here) -> the key's result."""
    return max(values) if key.startswith("longest verse of ") else sum(values)


if __name__ == "__main__":
    gridmr_stream.run(mapper, reducer)
