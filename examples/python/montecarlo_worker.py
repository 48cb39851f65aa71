#!/usr/bin/python3
"""The farmed Monte Carlo of montecarlo_item.py as a function served by one
long-lived worker per thread: Python starts once per thread, not once per item.

    mpirun -np 2 gridmr farm --range 1000 \
        --worker "python3 examples/python/montecarlo_worker.py" -o pi.h5
    python3 examples/python/farm_pi.py pi.h5

Argument 1, if given, is the number of samples per item (default 20000). Each
item's line (its seed) gives the same `hits samples` as montecarlo_item.py.
"""
import random
import sys

import gridmr_stream

SAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 20000


def estimate(seed):
    rng = random.Random(seed)
    hits = 0
    for _ in range(SAMPLES):
        x, y = rng.random(), rng.random()
        hits += x * x + y * y < 1.0
    return f"{hits} {SAMPLES}"


if __name__ == "__main__":
    gridmr_stream.serve(estimate, items=int)
