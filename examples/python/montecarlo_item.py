#!/usr/bin/python3
"""One item of a farmed Monte Carlo: estimates pi from `samples` points of the
random stream seeded by the item (argument 1), and prints `hits samples`.

    mpirun -np 2 gridmr farm --range 1000 \
        --command "python3 examples/python/montecarlo_item.py {}" -o pi.h5

Each item depends on its seed only, so the result is the same on any number of
ranks; examples/python/farm_pi.py sums the items' hits from pi.h5.
"""
import random
import sys

seed = int(sys.argv[1])
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
rng = random.Random(seed)
hits = 0
for _ in range(samples):
    x, y = rng.random(), rng.random()
    hits += x * x + y * y < 1.0
print(hits, samples)
