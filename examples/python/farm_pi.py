#!/usr/bin/python3
"""Reads the result of the farmed Monte Carlo (montecarlo_item.py) and prints
the estimate of pi. Needs h5py (Debian: python3-h5py).

    /usr/bin/python3 examples/python/farm_pi.py pi.h5
"""
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f:
    offsets = f["farm/stdout/offsets"][:]
    data = f["farm/stdout/data"][:].tobytes()
    hits = samples = 0
    for i in range(len(offsets) - 1):
        h, s = data[offsets[i]:offsets[i + 1]].split()
        hits, samples = hits + int(h), samples + int(s)
print(f"pi ~ {4 * hits / samples:.6f} from {samples} samples in {len(offsets) - 1} items")
