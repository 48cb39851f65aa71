#!/usr/bin/env python3
"""Reads the result of the farmed Monte Carlo (montecarlo_item.py or
montecarlo_worker.py) and prints the estimate of pi. Needs no h5py: it reads
the items' stdout through `gridmr cat` (gridmr_stream.rows), with the gridmr
program of $GRIDMR, else the one beside the module, else gridmr on PATH.

    python3 examples/python/farm_pi.py pi.h5
"""
import os
import sys

try:
    import gridmr_stream
except ImportError:  # run from the source tree: the module is in src/python
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "src", "python"))
    import gridmr_stream

hits = samples = items = 0
for (stdout,) in gridmr_stream.rows(sys.argv[1], "farm/stdout"):
    h, s = stdout.split()
    hits, samples, items = hits + int(h), samples + int(s), items + 1
print(f"pi ~ {4 * hits / samples:.6f} from {samples} samples in {items} items")
