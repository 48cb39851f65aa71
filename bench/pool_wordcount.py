#!/usr/bin/python3
"""The classic Python MapReduce word count, for bench/stream.sh: multiprocessing.Pool
maps chunks of lines with the same logic as examples/python/wordcount_mapper.py
(emitting (word, 1) pairs), the pairs are partitioned by key, and the Pool
reduces each key's values (as in the widely copied SimpleMapReduce recipe).
Prints the number of distinct words and the total count.
Usage: pool_wordcount.py FILE PROCESSES"""
import collections
import itertools
import multiprocessing
import re
import sys

WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+")
LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


def map_lines(lines):
    return [(word.translate(LOWER), 1) for line in lines for word in WORD.findall(line)]


def reduce_key(item):
    key, values = item
    return key, sum(values)


def chunks(path, lines_per_chunk=20000):
    with open(path, "rb") as f:
        while True:
            block = list(itertools.islice(f, lines_per_chunk))
            if not block:
                return
            yield block


if __name__ == "__main__":
    path, processes = sys.argv[1], int(sys.argv[2])
    with multiprocessing.Pool(processes) as pool:
        partitioned = collections.defaultdict(list)
        for pairs in pool.imap_unordered(map_lines, chunks(path)):
            for key, value in pairs:
                partitioned[key].append(value)
        counts = dict(pool.map(reduce_key, partitioned.items(), chunksize=1000))
    print(len(counts), sum(counts.values()))
