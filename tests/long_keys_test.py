#!/usr/bin/python3
"""Keys too long for one shuffle round travel point to point, in pieces (issue 13 item 6): the
result must not depend on the number of ranks, whatever the key sizes. The limit of a round
(INT_MAX / ranks bytes, 536 MB on 4 ranks) is lowered with GRIDMR_DEBUG_SHUFFLE_HARD_LIMIT so that
keys of 3-200 KB cross it; counts are checked against Python's re and across np 1..4."""
import argparse
import os
import pathlib
import random
import subprocess
import tempfile

from gridmr_testlib import (ENV, check, expected_counts, finish, read_result, same_datasets,
                            words_of)

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--gridmr", required=True)
args = parser.parse_args()

with tempfile.TemporaryDirectory(prefix="gridmr-long-") as work:
    work = pathlib.Path(work)
    rng = random.Random(5)
    words = ["x" * 100000, "y" * 50000 + "z", "short", "a" * 3000, "b" * 999, "q" * 200000]
    text = work / "long.txt"
    text.write_text(" ".join(rng.choice(words) for _ in range(600)) + "\n" +
                    " ".join(f"w{rng.randrange(5000)}" for _ in range(20000)) + "\n")
    want = expected_counts([text])
    env = dict(ENV, GRIDMR_DEBUG_SHUFFLE_HARD_LIMIT="1000")
    results = {}
    for np in (1, 2, 3, 4):
        out = work / f"long-{np}.h5"
        proc = subprocess.run(["mpirun", "-q", "-np", str(np), "--bind-to", "none", "-x",
                               "GRIDMR_DEBUG_SHUFFLE_HARD_LIMIT", os.path.abspath(args.gridmr),
                               "wordcount", "--quiet", "--threads", "2", "--unit-size", "64KiB",
                               "-o", str(out), str(text)],
                              capture_output=True, text=True, env=env, timeout=300)
        check(f"np {np}: exit 0", proc.returncode == 0, proc.stderr[-300:])
        if proc.returncode == 0:
            results[np] = read_result(out)[0]
            check(f"np {np}: counts equal Python's", words_of(results[np])[1] == want)
    for np in (2, 3, 4):
        if np in results and 1 in results:
            differ = same_datasets(results[1], results[np])
            check(f"np {np}: datasets identical to np 1", not differ, str(differ))
finish()
