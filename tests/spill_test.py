"""Spilling (--memory, --scratch): tables that outgrow their share of --memory become sorted runs
in the scratch folder, and the result must be the same bytes as in memory. Word count on the
sample corpus plus a file of many distinct, long and non-ASCII words, at several rank, thread and
memory settings (down to 64 KiB), against Python's re and against an in-memory run; the same for
streaming jobs (sum, mean, collect, an external reducer) and with checkpoints; a full scratch folder
(a 2 MiB tmpfs) fails cleanly; a bad --scratch is a usage error; SIGTERM during a spilling run
leaves nothing behind."""
import argparse
import atexit
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from gridmr_testlib import (ENV, check, expected_counts, finish, mpirun, mpirun_peak_rss, partials,
                            read_result, same_datasets, words_of)

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--gridmr", required=True)
parser.add_argument("--inputs", required=True)
parser.add_argument("--examples", required=True)
args = parser.parse_args()
PY = "/usr/bin/python3"
work = pathlib.Path(tempfile.mkdtemp(prefix="gridmr-spill-test-"))
atexit.register(shutil.rmtree, work, True)
scratch = work / "scratch"
scratch.mkdir()

# Many distinct words: short ones, ones past the 16 bytes a table slot holds, ones past the
# 256 bytes a run's index keeps, and bytes >= 0x80.
rng = random.Random(16)
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
words = [f"w{i}" for i in range(20000)]
words += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(17, 60))) for _ in range(3000)]
words += ["L" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(250, 700)))
          for _ in range(200)]
words += ["\u00e9t\u00e9" + str(i) for i in range(2000)]
corpus = work / "corpus"
corpus.mkdir()
(corpus / "distinct.txt").write_text(
    "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(9000)) + "\n",
    encoding="utf-8")
shutil.copytree(args.inputs, corpus / "inputs")
want = expected_counts([corpus])


def wordcount(out, np, threads, memory=None, extra=(), env=None):
    settings = ["--memory", memory] if memory else []
    return mpirun(args.gridmr, np, ["wordcount", "--quiet", "--threads", str(threads),
                                    "--unit-size", "64KiB", *settings, "--scratch", str(scratch),
                                    *extra, "-o", str(out), str(corpus)], env=env)


def scratch_empty(label):
    left = list(scratch.iterdir())
    check(f"{label}: nothing left in the scratch folder", not left, str(left[:3]))


# --- Word count: identical to the in-memory run, exact against Python. ---
reference = work / "memory.h5"
r = wordcount(reference, 1, 2)
check("in memory: exit 0", r.returncode == 0, r.stderr[-300:])
base, base_attrs = read_result(reference)
check("in memory: counts equal Python's", words_of(base)[1] == want)
check("in memory: nothing spilled", int(base["stats/ranks"]["spilled_bytes"].sum()) == 0)
for np, threads, memory in [(1, 1, "64KiB"), (1, 2, "64KiB"), (2, 2, "64KiB"), (3, 1, "64KiB"),
                            (2, 1, "1MiB"), (3, 2, "256KiB")]:
    label = f"wordcount np {np} threads {threads} --memory {memory}"
    out = work / f"wc-{np}-{threads}-{memory}.h5"
    r = wordcount(out, np, threads, memory)
    check(f"{label}: exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode != 0:
        continue
    d, attrs = read_result(out)
    spilled = int(d["stats/ranks"]["spilled_bytes"].sum())
    check(f"{label}: it spilled", spilled > 0, str(spilled))
    differ = same_datasets(base, d)
    check(f"{label}: datasets identical to the in-memory run", not differ, str(differ))
    check(f"{label}: counts equal Python's", words_of(d)[1] == want)
    check(f"{label}: totals", attrs["wordcount"] == base_attrs["wordcount"],
          f"{attrs['wordcount']} vs {base_attrs['wordcount']}")
    scratch_empty(label)

# --- Splitters from small runs: keys still spread over the ranks. With the map split evenly
# (--schedule static), each rank sends the other about half of its map output; splitters taken
# from each small run's first (smallest) key gave one rank nearly every key.
for memory in ("64KiB", "256KiB"):
    out = work / f"balance-{memory}.h5"
    r = wordcount(out, 2, 2, memory, ["--schedule", "static"])
    check(f"balance at --memory {memory}: exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode == 0:
        received = [int(x) for x in read_result(out)[0]["stats/ranks"]["bytes_received"]]
        check(f"balance at --memory {memory}: each rank receives at least a third of what the "
              "other does", min(received) * 3 >= max(received), str(received))
    scratch_empty(f"balance at --memory {memory}")

# --- Streaming jobs: built-in reducers, collect, and an external reducer fed from the runs. ---
examples = pathlib.Path(args.examples).resolve()
mapper = f"{PY} {examples}/wordcount_mapper.py"
for reducer in ("sum", "mean", "collect", f"{PY} {examples}/sum_reducer.py"):
    outs = []
    for np, memory in [(1, None), (2, "64KiB")]:
        name = reducer.split("/")[-1]
        out = work / f"stream-{name}-{np}.h5"
        settings = ["--memory", memory] if memory else []
        r = mpirun(args.gridmr, np, ["stream", "--quiet", "--threads", "2", "--unit-size",
                                     "64KiB", "--mapper", mapper, "--reducer", reducer,
                                     *settings, "--scratch", str(scratch), "-o", str(out),
                                     str(corpus / "inputs")])
        check(f"stream {name} np {np} --memory {memory}: exit 0", r.returncode == 0,
              r.stderr[-300:])
        if r.returncode == 0:
            outs.append(read_result(out)[0])
    if len(outs) == 2:
        check(f"stream {name}: the spilling run spilled",
              int(outs[1]["stats/ranks"]["spilled_bytes"].sum()) > 0)
        differ = same_datasets(outs[0], outs[1])
        check(f"stream {name}: spilled result identical to the in-memory one", not differ,
              str(differ))
    scratch_empty(f"stream {name}")

# --- An external reducer that prints more than --memory: its lines go to the scratch folder in
# sorted runs and are merged at the write. Lines "k<key> v<n><padding>", mapped to key<TAB>value.
def reducer_input(path, lines):
    gen = random.Random(lines)
    with open(path, "w") as f:
        for i in range(lines):
            f.write(f"k{gen.randrange(lines // 5):06d} v{i:07d}{'x' * gen.randrange(60)}\n")


def pairs_of(path):
    with open(path, "rb") as f:
        return sorted(tuple(line.rstrip(b"\n").split(b" ", 1)) for line in f)


def csr_list(d, name):
    offsets, data = d[name + "/offsets"], d[name + "/data"].tobytes()
    return [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


line_mapper = "awk '{print $1 \"\\t\" $2}'"
reducers = {
    # Prints two lines per input line, under its key: output in key order, ties in input order.
    "twice": ("awk -F'\\t' '{print $1 \"\\t\" \"a\" $2; print $1 \"\\t\" \"b\" $2}'",
              lambda pairs: [(k, p + v) for k, v in pairs for p in (b"a", b"b")]),
    # Prints its slice backwards: every run must be sorted, equal keys keep the printed order.
    "tac": ("tac", lambda pairs: [(k, v) for k, v in sorted(reversed(pairs), key=lambda p: p[0])]),
}
small_input = work / "reduce-small.txt"
reducer_input(small_input, 60000)
small_pairs = pairs_of(small_input)
for name, (reducer, expected_of) in reducers.items():
    want = expected_of(small_pairs)
    results = []
    for np, threads, memory in [(1, 2, None), (2, 2, "1MiB"), (3, 1, "256KiB")]:
        label = f"reducer {name} printing more than --memory {memory}, np {np} threads {threads}"
        out = work / f"reduce-{name}-{np}.h5"
        settings = ["--memory", memory] if memory else []
        r = mpirun(args.gridmr, np, ["stream", "--quiet", "--threads", str(threads), "--unit-size",
                                     "256KiB", *settings, "--scratch", str(scratch), "--mapper",
                                     line_mapper, "--reducer", reducer, "-o", str(out),
                                     str(small_input)])
        check(f"{label}: exit 0", r.returncode == 0, r.stderr[-300:])
        if r.returncode != 0:
            continue
        d = read_result(out)[0]
        got = list(zip(csr_list(d, "stream/keys"), csr_list(d, "stream/values")))
        check(f"{label}: the lines, stably sorted by key, equal Python's", got == want,
              f"{len(got)} lines, {len(want)} wanted")
        if memory:
            check(f"{label}: it spilled", int(d["stats/ranks"]["spilled_bytes"].sum()) > 0)
        results.append(d)
        scratch_empty(label)
    for d in results[1:]:
        differ = same_datasets(results[0], d)
        check(f"reducer {name}: identical datasets at every setting", not differ, str(differ))

# What a reducer prints no longer stays in memory: with three times the output at the same
# --memory, the largest process grows by far less than the output (it held it all before).
peaks = []
for lines in (200000, 600000):
    path = work / f"reduce-{lines}.txt"
    reducer_input(path, lines)
    out = work / f"reduce-{lines}.h5"
    r, peak = mpirun_peak_rss(
        args.gridmr, 2, ["stream", "--quiet", "--threads", "2", "--memory", "4MiB", "--scratch",
                         str(scratch), "--mapper", line_mapper, "--reducer", reducers["twice"][0],
                         "-o", str(out), str(path)])
    check(f"reducer twice over {lines} lines at --memory 4MiB: exit 0", r.returncode == 0,
          r.stderr[-300:])
    if r.returncode == 0:
        d = read_result(out)[0]
        got = list(zip(csr_list(d, "stream/keys"), csr_list(d, "stream/values")))
        check(f"reducer twice over {lines} lines: equal Python's",
              got == reducers["twice"][1](pairs_of(path)))
        peaks.append((peak, out.stat().st_size >> 20))
    path.unlink()
    scratch_empty(f"reducer twice over {lines} lines")
if len(peaks) == 2:
    (small_peak, small_mib), (big_peak, big_mib) = peaks
    check("reducer output beyond --memory: the peak resident size grows by less than a quarter "
          "of the extra output", big_peak - small_peak < (big_mib - small_mib) / 4,
          f"peak {small_peak:.0f} MiB with a {small_mib} MiB result, "
          f"{big_peak:.0f} MiB with {big_mib} MiB")
    print(f"peak resident size: {small_peak:.0f} MiB with a {small_mib} MiB result, "
          f"{big_peak:.0f} MiB with {big_mib} MiB")

# --- With checkpoints: a full map table is saved instead of spilled, then spills on restore. ---
out = work / "checkpointed.h5"
r = wordcount(out, 2, 2, "64KiB", ["--checkpoint", str(work / "ckpt")])
check("--checkpoint with --memory 64KiB: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    check("--checkpoint with --memory 64KiB: identical to the in-memory run",
          not same_datasets(base, d), str(same_datasets(base, d)))
    check("--checkpoint: removed after the run", not (work / "ckpt").exists()
          or not any((work / "ckpt").iterdir()))

# --- Bad --scratch: a usage error, before any work. ---
for bad, why in [(work / "missing", "does not exist"), (corpus / "distinct.txt", "a file")]:
    out = work / "bad-scratch.h5"
    r = mpirun(args.gridmr, 2, ["wordcount", "--quiet", "--scratch", str(bad), "-o", str(out),
                                str(corpus)])
    lines = r.stderr.strip().splitlines()
    check(f"--scratch that {why}: exit 2 with one line naming it",
          r.returncode == 2 and len(lines) == 1 and "--scratch" in lines[0], r.stderr)
    check(f"--scratch that {why}: no output", not out.exists() and not partials(out))

# A file of 400,000 distinct words (8 MB): it spills megabytes at --memory 256KiB.
big = work / "big"
big.mkdir()
(big / "many.txt").write_text(
    " ".join(f"distinct{i}x{rng.randrange(10**9)}" for i in range(400000)) + "\n")

# --- A full scratch folder: exit 1, one line, nothing left, no output. ---
small = work / "small"
small.mkdir()
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)],
                         capture_output=True, text=True).returncode == 0
if not mounted:
    print("skip full scratch folder: cannot mount a tmpfs here")
else:
    try:
        out = work / "full.h5"
        r = mpirun(args.gridmr, 2, ["wordcount", "--quiet", "--threads", "2", "--memory",
                                    "256KiB", "--scratch", str(small), "-o", str(out), str(big)])
        lines = [line for line in r.stderr.strip().splitlines() if line.startswith("gridmr")]
        check("full scratch: exit 1", r.returncode == 1, f"exit {r.returncode}: {r.stderr[-400:]}")
        check("full scratch: one line naming the full scratch folder",
              len(lines) == 1 and "scratch folder" in lines[0] and "full" in lines[0], r.stderr)
        check("full scratch: no output, no partial", not out.exists() and not partials(out))
        left = list(small.iterdir())
        used = shutil.disk_usage(small).used
        check("full scratch: the scratch folder is empty again", not left and used < 64 << 10,
              f"{left[:3]} {used} bytes used")
    finally:
        subprocess.run(["umount", str(small)])

# --- SIGTERM while spilling: exit non-zero, nothing left behind. ---
out = work / "terminated.h5"
marker = f"spill-sigterm-{os.getpid()}"
command = ["mpirun", "-q", "-np", "2", "--bind-to", "none", os.path.abspath(args.gridmr),
           "wordcount", "--quiet", "--threads", "2", "--unit-size", "64KiB", "--memory", "64KiB",
           "--scratch", str(scratch), "-o", str(out), str(big), str(corpus)]
before = shutil.disk_usage(scratch).used
proc = subprocess.Popen(command, env=dict(ENV, GRIDMR_TEST_MARKER=marker),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(1.5)
running = proc.poll() is None
proc.send_signal(signal.SIGTERM)
_, err = proc.communicate(timeout=60)
check("SIGTERM while spilling: the job was still running", running)
check("SIGTERM while spilling: exit non-zero", proc.returncode != 0, f"exit {proc.returncode}")
time.sleep(0.5)
left = subprocess.run(["pgrep", "-f", str(big)], capture_output=True, text=True).stdout.split()
check("SIGTERM while spilling: no rank left", not left, str(left))
after = shutil.disk_usage(scratch).used
check("SIGTERM while spilling: the spilled space is free again", after <= before + (1 << 20),
      f"{before} -> {after} bytes used")
check("SIGTERM while spilling: no output, no partial", not out.exists() and not partials(out))
scratch_empty("SIGTERM while spilling")
finish()
