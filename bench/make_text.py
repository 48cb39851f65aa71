#!/usr/bin/python3
"""make_text.py FOLDER FILES BYTES: BYTES of text in FILES files FOLDER/part-NNN.txt, words drawn
at random by their frequency in inputs/kjv, in lines of 1-19 words. Not inputs/ repeated: zstd's
window would find each 0.9 MB repeat and shrink the files 16x (gzip's 32 KiB window cannot);
these compress as text does (gzip about 3x)."""
import collections
import pathlib
import re
import sys

import numpy

folder, files, total = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
counts = collections.Counter(re.findall(rb"\S+", b"".join(
    p.read_bytes() for p in sorted((pathlib.Path(__file__).resolve().parent.parent / "inputs/kjv")
                                   .glob("*.txt")))))
words = numpy.array(list(counts), dtype=object)
odds = numpy.array(list(counts.values()), dtype=float)
odds /= odds.sum()
rng = numpy.random.default_rng(1)
for i in range(files):
    with open(folder / f"part-{i:03d}.txt", "wb") as f:
        written = 0
        while written < total // files:
            picked = words[rng.choice(len(words), 200000, p=odds)]
            ends = numpy.where(rng.random(200000) < 0.1, b"\n", b" ")
            chunk = b"".join(w + e for w, e in zip(picked, ends))
            f.write(chunk)
            written += len(chunk)
