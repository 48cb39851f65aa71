#!/usr/bin/python3
"""gridmr from a Python script, as Lithops and multiprocessing users write it:
gridmr_stream.map_reduce(mapper, inputs, reducer) and gridmr_stream.farm(task, items), each a
real `mpirun gridmr stream` / `gridmr farm` whose children import the script again. Checked
against Python computing the same thing in the test itself, at 1 and 2 ranks."""
import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from gridmr_testlib import ENV, check, finish

DRIVER = r'''
import json, sys
import gridmr_stream

SUFFIX = sys.argv[2]          # module-level state from the script's own arguments


def mapper(line):
    for word in line.split():
        yield word.lower() + SUFFIX, 1


def reducer(key, values):
    return sum(values)


def lengths(line):
    return [(word, len(word)) for word in line.split()[:2]]


def square(i):
    return i * i


def describe(item):
    return [type(item).__name__, item]


def fail_on_three(i):
    if i % 4 == 3:
        raise ValueError(f"item {i} fails")
    return i


if __name__ == "__main__":
    folder, np = sys.argv[1], int(sys.argv[3])
    out = {}
    out["counts"] = gridmr_stream.map_reduce(mapper, [folder], reducer, np=np)
    out["sum"] = gridmr_stream.map_reduce(mapper, folder, np=np, options=["--threads", "2"])
    out["collect"] = gridmr_stream.map_reduce(lengths, folder, "collect", np=np)
    out["mean"] = gridmr_stream.map_reduce(lengths, folder, "mean", np=np)
    out["squares"] = gridmr_stream.farm(square, range(50), np=np)
    out["texts"] = gridmr_stream.farm(describe, ["a b", "é", "42x", ""], np=np,
                                      results=json.loads)
    out["ints"] = gridmr_stream.farm(describe, [7, -1, 10**12], np=np, results=json.loads)
    try:
        gridmr_stream.farm(fail_on_three, range(8), np=np)
        out["failed"] = "no error"
    except RuntimeError as e:
        out["failed"] = str(e)
    out["allowed"] = gridmr_stream.farm(fail_on_three, range(8), np=np,
                                        options=["--max-failures", "5"])
    kept = sys.argv[4]
    gridmr_stream.farm(square, range(3), np=np, out=kept)
    try:
        gridmr_stream.farm(square, range(3), np=np, out=kept)
        out["exists"] = "no error"
    except RuntimeError as e:
        out["exists"] = str(e)
    out["forced"] = gridmr_stream.farm(square, range(4), np=np, out=kept, force=True)
    out["empty"] = [gridmr_stream.farm(square, range(0), np=np),
                    gridmr_stream.farm(describe, [], np=np, out=kept + ".none")]
    with open(kept + ".other.items", "w") as f:
        f.write("not the farm's\n")
    try:
        gridmr_stream.farm(describe, ["x"], np=np, out=kept + ".other")
        out["listing"] = "no error"
    except FileExistsError as e:
        out["listing"] = "FileExistsError"
    with open(kept + ".other.items") as f:
        out["listing"] += " " + f.read()
    print(json.dumps(out))
'''

UNGUARDED = r'''
import gridmr_stream


def square(i):
    return i * i


print(gridmr_stream.farm(square, range(4)))
'''

LAMBDA = r'''
import gridmr_stream

if __name__ == "__main__":
    gridmr_stream.farm(lambda i: i, range(4))
'''


def run_script(path, args, module, gridmr, cwd):
    env = dict(ENV, PYTHONPATH=module, GRIDMR=os.path.abspath(gridmr))
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    module = str(pathlib.Path(args.gridmr).resolve().parent / "share/gridmr/python")
    folder = pathlib.Path(args.inputs) / "kjv"
    words = collections.Counter()
    index = collections.defaultdict(collections.Counter)
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        for line in f.read_bytes().decode().split("\n"):
            words.update(w.lower() for w in line.split())
            for w in line.split()[:2]:
                index[w][len(w)] += 1
    with tempfile.TemporaryDirectory(prefix="gridmr-pyapi-") as work:
        work = pathlib.Path(work)
        script = work / "driver.py"
        script.write_text(DRIVER)
        for np in (1, 2):
            kept = work / f"kept-{np}.h5"
            proc = run_script(script, [str(folder), "_s", str(np), str(kept)], module,
                              args.gridmr, work)
            check(f"np {np}: the driver script runs", proc.returncode == 0, proc.stderr[-800:])
            if proc.returncode != 0:
                continue
            out = json.loads(proc.stdout)
            want = {w + "_s": n for w, n in words.items()}
            check(f"np {np}: map_reduce with a reducer function: Python's word counts, the "
                  f"script's own argument seen by every mapper", out["counts"] == want)
            check(f"np {np}: map_reduce with the built-in sum (and --threads 2): the same",
                  out["sum"] == want)
            check(f"np {np}: map_reduce with collect: {{key: [[value, count], ...]}}",
                  out["collect"] == {w: [[n, c] for n, c in sorted(v.items(), key=lambda x: str(x[0]))]
                                     for w, v in index.items()})
            check(f"np {np}: map_reduce with mean: {{key: mean}}",
                  out["mean"] == {w: float(len(w)) for w in index}, str(list(out["mean"].items())[:3]))
            check(f"np {np}: farm over range(50): the squares in item order",
                  out["squares"] == [i * i for i in range(50)])
            check(f"np {np}: farm over text items: the task gets the text; results=json.loads",
                  out["texts"] == [["str", "a b"], ["str", "é"], ["str", "42x"], ["str", ""]],
                  str(out["texts"]))
            check(f"np {np}: farm over int items: the task gets ints",
                  out["ints"] == [["int", 7], ["int", -1], ["int", 10**12]], str(out["ints"]))
            check(f"np {np}: a failing task raises RuntimeError with gridmr's line",
                  out["failed"].startswith("gridmr: error: farm: 2 of the items failed")
                  and "item 3" in out["failed"], out["failed"])
            check(f"np {np}: with --max-failures the failed items' results are None",
                  out["allowed"] == [0, 1, 2, None, 4, 5, 6, None], str(out["allowed"]))
            check(f"np {np}: out= keeps the file; an existing one is refused, force replaces it",
                  kept.is_file() and "exists" in out["exists"] and out["forced"] == [0, 1, 4, 9],
                  out["exists"])
            check(f"np {np}: no items: [] and no job (Pool.map's answer; out= not written)",
                  out["empty"] == [[], []] and not (work / f"kept-{np}.h5.none").exists(),
                  str(out["empty"]))
            check(f"np {np}: an items file already beside out= is refused and kept",
                  out["listing"] == "FileExistsError not the farm's\n", out["listing"])
            (work / f"kept-{np}.h5.other.items").unlink()
            left = sorted(p.name for p in work.iterdir()
                          if p.name.startswith(".gridmr-") or p.name.endswith(".items"))
            check(f"np {np}: no temporary result or items file is left", left == [], str(left))

        bad = work / "unguarded.py"
        bad.write_text(UNGUARDED)
        proc = run_script(bad, [], module, args.gridmr, work)
        check("a script without the __main__ guard fails with one clear line, no runaway jobs",
              proc.returncode != 0 and 'if __name__ == "__main__"' in proc.stderr
              and "RuntimeError" in proc.stderr, proc.stderr[-600:])
        lam = work / "lambda.py"
        lam.write_text(LAMBDA)
        proc = run_script(lam, [], module, args.gridmr, work)
        check("a lambda as the task is a ValueError before any job runs",
              proc.returncode != 0 and "top level of a module" in proc.stderr, proc.stderr[-400:])
        left = sorted(p.name for p in work.iterdir() if p.name.startswith(".gridmr-"))
        check("nothing is left after the failures", left == [], str(left))
    finish()


if __name__ == "__main__":
    main()
