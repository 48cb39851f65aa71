#!/usr/bin/python3
"""Hash flooding: 300,000 distinct 8-byte words crafted to share one home slot in the key table
of a one-rank, one-thread word count, as its seed was before seeds came from random bits (the
second table a process made, seed mix(2 ^ 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9)). With that
seed the map took about 90 s (quadratic probing); with per-process random seeds it must finish
well within a generous bound, and count every word exactly once. Then 300,000 distinct 16-byte
words that share their first 8 bytes, crafted against the short-key hash's fixed multiplier of
bytes 8-15, which the seed did not reach (164 s to map before each table drew that multiplier
from its seed): the same bound, the same exact counts."""
import argparse
import os
import pathlib
import subprocess
import tempfile
import time

import numpy

from gridmr_testlib import ENV, check, finish, read_result, words_of

M = (1 << 64) - 1
K0, K1 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db  # the short-key hash (key_table.hpp)


def mix(a, b):
    p = a * b
    return (p & M) ^ (p >> 64)


# Word bytes (docs/records.md) that case folding leaves alone: ASCII lower case, digits, >= 0x80.
WORD_BYTE = numpy.array([chr(c).islower() and c < 128 or chr(c).isdigit() and c < 128 or c >= 0x80
                         for c in range(256)])


def crafted(count, rng_seed, solve, word):
    """`count` distinct words word(w), each w 8 word bytes that solve(t) gives for a target t,
    the targets drawn at random with the same top 20 bits (0x5A5A5)."""
    rng = numpy.random.default_rng(rng_seed)
    words = set()
    while len(words) < count:
        rest = rng.integers(0, 1 << 44, size=2_000_000, dtype=numpy.uint64)
        targets = (numpy.uint64(0x5A5A5) << numpy.uint64(44)) | rest
        with numpy.errstate(over="ignore"):
            rows = solve(targets).view(numpy.uint8).reshape(-1, 8)
        for row in rows[WORD_BYTE[rows].all(axis=1)]:
            words.add(word(bytes(row)))
    return sorted(words)[:count]


def crafted_words(count):
    """8-byte words w whose short-key hash (lo ^ seed) * K1 + 8 * K0 has the same top 20 bits,
    for the old seed of table 2."""
    seed = numpy.uint64(mix(2 ^ 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9))
    inverse = numpy.uint64(pow(K1, -1, 1 << 64))
    length_term = numpy.uint64((8 * K0) & M)
    return crafted(count, 7, lambda hashes: ((hashes - length_term) * inverse) ^ seed, lambda w: w)


def crafted_long_words(count):
    """16-byte words that share their first 8 bytes and whose last 8 (hi) make (hi ^ 16) * K0
    share its top 20 bits: the short-key hash (lo ^ seed) * K1 + (hi ^ n) * K0 then puts them
    all in one or two home slots whatever the seed, unless the seed reaches hi too."""
    inverse = numpy.uint64(pow(K0, -1, 1 << 64))
    return crafted(count, 11, lambda products: (products * inverse) ^ numpy.uint64(16),
                   lambda w: b"floodedx" + w)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--words", type=int, default=300_000)
    parser.add_argument("--bound", type=float, default=20.0, help="seconds (about 90 before the fix)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gridmr-flood-") as work:
        work = pathlib.Path(work)
        for kind, words in (("8-byte", crafted_words(args.words)),
                            ("16-byte", crafted_long_words(args.words))):
            flood(args, work, kind, words)
    finish()


def flood(args, work, kind, words):
    """Maps the crafted words with one rank and one thread; checks the time and the counts."""
    text = work / f"crafted-{kind}.txt"
    text.write_bytes(b"\n".join(words) + b"\n")
    out = work / f"out-{kind}.h5"
    start = time.monotonic()
    proc = subprocess.run([os.path.abspath(args.gridmr), "wordcount", "--threads", "1", "--quiet",
                           "-o", str(out), str(text)], capture_output=True, text=True,
                          timeout=600, env=ENV)
    seconds = time.monotonic() - start
    check(f"the crafted {kind} words are counted", proc.returncode == 0, proc.stderr)
    check(f"{args.words} crafted {kind} words map in under {args.bound} s", seconds < args.bound,
          f"{seconds:.2f} s")
    datasets, _ = read_result(out)
    check(f"every crafted {kind} word counted exactly once",
          words_of(datasets)[1] == {w: 1 for w in words})
    print(f"{kind}: {len(words)} words, {text.stat().st_size} bytes, {seconds:.2f} s")


if __name__ == "__main__":
    main()
