"""`gridmr stream`: Python mappers and reducers (examples/python/) checked against
independent Python computations, identical datasets at several rank, thread and
unit-size counts, exact numeric reducers (math.fsum for doubles), and every
failure: a clear line, the right exit code, no output, no partial, no orphan."""
import argparse
import atexit
import collections
import math
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from gridmr_testlib import (ENV, LOWER, WORD, check, expected_counts, finish, mpirun, partials,
                            read_result, same_datasets)

parser = argparse.ArgumentParser()
parser.add_argument("--gridmr", required=True)
parser.add_argument("--inputs", required=True)
parser.add_argument("--examples", required=True)
args = parser.parse_args()
PY = "/usr/bin/python3"
EX = pathlib.Path(args.examples).resolve()
work = pathlib.Path(tempfile.mkdtemp(prefix="gridmr-stream-"))
atexit.register(shutil.rmtree, work, True)  # the scratch folder goes, whatever the outcome

# (ranks, threads, unit size): results must not depend on any of them.
CONFIGS = [(1, 1, "16MiB"), (2, 2, "64KiB"), (3, 2, "5000")]


def csr(datasets, name):
    offsets = datasets[name + "/offsets"]
    data = datasets[name + "/data"].tobytes()
    return [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def stream(out, mapper, reducer, np=2, threads=2, unit="64KiB", extra=(), inputs=None,
           timeout=300):
    return mpirun(args.gridmr, np,
                  ["stream", "--quiet", "--force", "--threads", str(threads), "--unit-size", unit,
                   "--mapper", mapper, "--reducer", reducer, *extra, "-o", str(out),
                   *(inputs or [args.inputs])], timeout=timeout)


def run_configs(label, mapper, reducer, extra=(), inputs=None, configs=CONFIGS):
    """Runs every config; checks they succeed and give identical datasets; returns one result."""
    results = []
    for np, threads, unit in configs:
        out = work / f"{label}-{np}-{threads}-{unit}.h5"
        r = stream(out, mapper, reducer, np, threads, unit, extra, inputs)
        check(f"{label}: np {np} threads {threads} unit {unit} exit 0", r.returncode == 0,
              r.stderr.strip()[-400:])
        if r.returncode != 0:
            return None
        results.append(read_result(out)[0])
    for i in range(1, len(results)):
        differ = same_datasets(results[0], results[i])
        check(f"{label}: config {configs[i]} identical to {configs[0]}", not differ, str(differ))
    return results[0]


def orphans(marker):
    r = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return r.stdout.split()


def input_files():
    root = pathlib.Path(args.inputs)
    return [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())


# --- Word count: the Python mapper and the built-in sum, against Python's re. ---
d = run_configs("wordcount", f"{PY} {EX}/wordcount_mapper.py", "sum")
if d is not None:
    keys = csr(d, "stream/keys")
    got = dict(zip(keys, (int(v) for v in d["stream/values"])))
    want = expected_counts([args.inputs])
    check("wordcount: counts equal an independent count", got == want,
          f"{len(got)} keys vs {len(want)}")
    check("wordcount: keys sorted", keys == sorted(keys))
    check("wordcount: values are int64", d["stream/values"].dtype.name == "int64")

# --- Inverted index with collect, against Python. ---
d = run_configs("index", f"{PY} {EX}/index_mapper.py", "collect", configs=CONFIGS[:2])
if d is not None:
    index = collections.defaultdict(collections.Counter)
    for f in input_files():
        for w in WORD.findall(f.read_bytes()):
            index[w.translate(LOWER)][f.name.encode()] += 1
    keys, groups = csr(d, "stream/keys"), d["stream/groups"]
    values, counts = csr(d, "stream/values"), d["stream/counts"]
    got = {k: {values[j]: int(counts[j]) for j in range(groups[i], groups[i + 1])}
           for i, k in enumerate(keys)}
    check("index: postings equal an independent index", got == {k: dict(v) for k, v in index.items()})
    check("index: values sorted within each key",
          all(values[groups[i]:groups[i + 1]] == sorted(values[groups[i]:groups[i + 1]])
              for i in range(len(keys))))

# --- collect over awkward lines, against Python: keys (0-70 bytes, some shared) with NUL and
# 0x01 bytes, values with tabs, a \r before the newline, empty keys and values, table keys on
# both sides of the 64 bytes of the plain-line fast path. ---
rng = random.Random(41)
def awkward(n, alphabet=b"ab\0\1\xff"):
    return bytes(rng.choice(alphabet) for _ in range(n))
key_pool = [awkward(rng.choice([0, 1, 7, 8, 15, 16, 17, 30, 40, 55, 62, 70])) for _ in range(300)]
collect_lines = []
for _ in range(40000):
    value = awkward(rng.choice([0, 1, 2, 5, 9, 20, 30]), b"xy\t\0\1")
    line = rng.choice(key_pool) + b"\t" + value + (b"\r" if rng.random() < 0.05 else b"") + b"\n"
    collect_lines.append(line)
collect_input = work / "collect-input.txt"
collect_input.write_bytes(b"".join(collect_lines))
d = run_configs("collect, awkward lines", "cat", "collect", inputs=[str(collect_input)],
                configs=CONFIGS)
if d is not None:
    want = collections.defaultdict(collections.Counter)
    for line in collect_lines:
        line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        key, _, value = line.partition(b"\t")
        want[key][value] += 1
    keys, groups = csr(d, "stream/keys"), d["stream/groups"]
    values, counts = csr(d, "stream/values"), d["stream/counts"]
    got = {k: {values[j]: int(counts[j]) for j in range(groups[i], groups[i + 1])}
           for i, k in enumerate(keys)}
    check("collect, awkward lines: every key's values and counts equal Python's",
          got == {k: dict(v) for k, v in want.items()}, f"{len(got)} keys vs {len(want)}")
    check("collect, awkward lines: keys in byte order, values sorted within each key",
          keys == sorted(keys) and all(values[groups[i]:groups[i + 1]] == sorted(values[groups[i]:groups[i + 1]])
                                       for i in range(len(keys))))

# --- An external Python reducer, against Python. ---
d = run_configs("external", f"{PY} {EX}/line_length_mapper.py", f"{PY} {EX}/longest_reducer.py",
                configs=CONFIGS[:2])
if d is not None:
    want = {}
    for f in input_files():
        for line in f.read_bytes().split(b"\n"):
            words = line.split()
            if words:
                c, m = want.get(words[0].lower(), (0, 0))
                want[words[0].lower()] = (c + 1, max(m, len(line)))
    keys, values = csr(d, "stream/keys"), csr(d, "stream/values")
    got = {k: tuple(int(x) for x in v.split()) for k, v in zip(keys, values)}
    check("external: reducer output equals an independent computation", got == want,
          f"{len(got)} vs {len(want)} keys")
    check("external: keys sorted", keys == sorted(keys))

# --- A combiner (the same Python sum reducer) before the shuffle: the same result. ---
d = run_configs("combiner", f"{PY} {EX}/wordcount_mapper.py", f"{PY} {EX}/sum_reducer.py",
                extra=["--combiner", f"{PY} {EX}/sum_reducer.py"], configs=CONFIGS[:2])
if d is not None:
    got = dict(zip(csr(d, "stream/keys"), (int(v) for v in csr(d, "stream/values"))))
    check("combiner: counts equal an independent count", got == expected_counts([args.inputs]))

# --- Your Python functions through gridmr_stream (found on the PYTHONPATH gridmr gives its
# children): mapper and reducer functions, and the mapper alone with a built-in reducer.
# The input adds bytes that are not UTF-8, a CRLF line and UTF-8 text to inputs/: keys come
# back byte for byte. ---
mixed = work / "mixed"
shutil.copytree(args.inputs, mixed)
(mixed / "bytes.txt").write_bytes(b"caf\xc3\xa9 na\xefve \xff\xfe Caf\xc3\xa9\r\nABC abc\n\xe2\x82\xac10 x\ty")
functions = work / "functions_job.py"
functions.write_text(r'''
import re
import gridmr_stream

WORD = re.compile("[A-Za-z0-9\u0080-\U0010ffff]+")  # the word rule; undecodable bytes are \udc80-\udcff
LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

def mapper(line):
    for word in WORD.findall(line):
        yield word.translate(LOWER), 1
    words = line.split()
    if words:  # per first word of a line: the longest line, as a float that must come back exact
        yield "first:" + words[0].translate(LOWER), len(line) / 3

def reducer(key, values):
    return max(values) if key.startswith("first:") else sum(values)

if __name__ == "__main__":
    gridmr_stream.run(mapper, reducer)
''')


def expected_functions(root):
    counts, longest = collections.Counter(), {}
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = f.read_bytes()
        counts.update(w.translate(LOWER) for w in WORD.findall(data))
        for line in data.split(b"\n"):
            words = line.decode("utf-8", "surrogateescape").split()
            if words:
                key = b"first:" + words[0].encode("utf-8", "surrogateescape").translate(LOWER)
                length = len(line.decode("utf-8", "surrogateescape")) / 3
                longest[key] = max(longest.get(key, 0.0), length)
    return counts, longest


want_counts, want_longest = expected_functions(mixed)
d = run_configs("functions", f"{PY} {functions} map", f"{PY} {functions} reduce", inputs=[str(mixed)])
if d is not None:
    got = dict(zip(csr(d, "stream/keys"), csr(d, "stream/values")))
    check("functions: word counts equal an independent count (non-UTF-8 bytes kept)",
          {k: int(v) for k, v in got.items() if not k.startswith(b"first:")} == want_counts,
          f"{len(got)} keys")
    check("functions: float maxima come back exact",
          {k: float(v) for k, v in got.items() if k.startswith(b"first:")} == want_longest)
d = run_configs("functions, built-in sum", f"{PY} {functions} map", "sum", inputs=[str(mixed)],
                extra=["--values", "float"], configs=CONFIGS[:2])
if d is not None:
    got = dict(zip(csr(d, "stream/keys"), d["stream/values"].tolist()))
    check("functions, built-in sum: word counts equal an independent count",
          {k: v for k, v in got.items() if not k.startswith(b"first:")} == want_counts)
# binary=True: the functions see bytes; a dict of numpy values; values parsed by values=int.
binary_job = work / "binary_job.py"
binary_job.write_text(r'''
import re
import numpy
import gridmr_stream
WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+")
LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
def mapper(line):
    assert type(line) is bytes
    return {w: numpy.int64(1) for w in WORD.findall(line.translate(LOWER))}  # once per line
def reducer(key, values):
    assert type(key) is bytes
    return sum(values)
gridmr_stream.run(mapper, reducer, binary=True, values=int)
''')
d = run_configs("functions on bytes", f"{PY} {binary_job} map", f"{PY} {binary_job} reduce",
                inputs=[str(mixed)], configs=CONFIGS[:2])
if d is not None:
    want = collections.Counter()
    for f in sorted(p for p in mixed.rglob("*") if p.is_file()):
        for line in f.read_bytes().split(b"\n"):
            want.update(set(w.translate(LOWER) for w in WORD.findall(line)))
    got = {k: int(v) for k, v in zip(csr(d, "stream/keys"), csr(d, "stream/values"))}
    check("functions on bytes: lines per word equal Python's", got == dict(want), f"{len(got)} keys")

# The example (examples/python/functions_wordcount.py): word counts and each book's longest verse.
example = f"{PY} {EX}/functions_wordcount.py"
d = run_configs("functions example", f"{example} map", f"{example} reduce", configs=CONFIGS[:2])
if d is not None:
    want = collections.Counter()
    longest = {}
    for f in input_files():
        for line in f.read_bytes().split(b"\n"):
            want.update(w.lower() for w in re.findall(rb"[A-Za-z0-9]+", line))
            book = re.match(rb"[A-Za-z]+(?=[0-9]+:[0-9]+ )", line)
            if book:
                key = b"longest verse of " + book.group().lower()
                longest[key] = max(longest.get(key, 0), len(line.decode()))
    want.update(longest)
    got = {k: int(v) for k, v in zip(csr(d, "stream/keys"), csr(d, "stream/values"))}
    check("functions example: counts and longest verses equal an independent computation",
          got == dict(want) and len(longest) == 6, f"{len(got)} vs {len(want)} keys")
raising = work / "raising_job.py"
raising.write_text("import gridmr_stream\n"
                   "def mapper(line):\n    if 'Jesus' in line:\n        raise ValueError('no ' + line[:5])\n"
                   "    return [('x', 1)]\n"
                   "gridmr_stream.run(mapper)\n")
tabbed = work / "tabbed_job.py"  # a key with a tab, late in a line of (str, int) pairs
tabbed.write_text("import gridmr_stream\n"
                  "gridmr_stream.run(lambda line: {w: 1 for w in line.split()[:3] + ['a\\tb']})\n")
# (run with the failures below)

# --- Numeric reducers, exact, on key<TAB>value lines passed through `cat`. ---
rng = random.Random(7)
numbers = work / "numbers.txt"
ints = collections.defaultdict(list)
floats = collections.defaultdict(list)
with open(numbers, "w") as f:
    for i in range(60000):
        key = f"k{rng.randrange(300)}"
        if rng.random() < 0.5:
            v = rng.choice([rng.randrange(-10**6, 10**6), rng.randrange(-2**55, 2**55)])
            ints[key].append(v)
            floats[key].append(v)
            f.write(f"{key}\t{v}\n")
        else:  # wide exponents, so that any other order of additions would show
            v = rng.choice([rng.uniform(-1, 1), rng.uniform(-1e300, 1e300), rng.uniform(-1e-300, 1e-300),
                            rng.uniform(-1e16, 1e16)])
            floats[key].append(v)
            f.write(f"{key}\t{v!r}\n")
    # Keys whose values fall in many bands of exponents (a table keeps one entry
    # per key and band): powers of two at every band's edges, subnormals, the
    # largest doubles, zeros of both signs; and keys that begin other keys, with
    # bytes below the tab after them, so that a key's entries must stay together.
    edges = [2.0 ** e for e in range(-1074, 1010, 7)] + [2.0 ** e * 1.5 for e in (-63, -62, 65, 66)]
    edges += [5e-324, -5e-324, 2.2250738585072014e-308, 0.0, -0.0, 2.0 ** 63, -(2.0 ** 63)]
    edge_lines = [("emax", v) for v in (1.7976931348623157e308, -1.7976931348623157e308,
                                        1.7976931348623157e308, 5e-324)]
    for i in range(3000):
        key = rng.choice(["e", "e\x01", "e\x01\x01", "e\x02", "e\x08x", "e ", "ee", f"e{i % 7}"])
        edge_lines.append((key, rng.choice(edges) * rng.choice([1, -1, 3, 0.75])))
    for key, v in edge_lines:
        floats[key].append(v)
        f.write(f"{key}\t{v!r}\n")
    # Decimal texts at the edges of the fast path for plain values (at most 20
    # characters, no exponent): the smallest and largest such magnitudes,
    # 15 to 17 significant digits, as Python's repr prints them.
    for i, text in enumerate(["0.000000000000000001", "-0.00000000000000001", "99999999999999999.9",
                              "-1234567890123456.7", "0.30000000000000004", "123456789012345.6",
                              "0.1", "2.5", "-0.0", "000000000000000000.5", "1.7976931348623157",
                              "4503599627370497.5", "9007199254740993.0", "0.12345678901234567"] * 3):
        key = f"t{i % 5}"
        floats[key].append(float(text))
        f.write(f"{key}\t{text}\n")
int_lines = work / "ints.txt"
with open(int_lines, "w") as f:
    for key, vs in ints.items():
        for v in vs:
            f.write(f"{key}\t{v}\n")


def numeric(label, reducer, values, path):
    d = run_configs(f"{label}", "cat", reducer, extra=["--values", values], inputs=[str(path)],
                    configs=[(1, 1, "16MiB"), (3, 2, "7000")])
    if d is None:
        return None, None
    return [k.decode() for k in csr(d, "stream/keys")], d


fsum_exact = lambda vs: math.fsum(vs)  # correctly rounded: the exact sum, rounded once
for reducer, want in [
        ("sum", {k: fsum_exact(v) for k, v in floats.items()}),
        ("mean", {k: fsum_exact(v) / len(v) for k, v in floats.items()}),
        ("min", {k: min(v) for k, v in floats.items()}),
        ("max", {k: max(v) for k, v in floats.items()}),
        ("count", {k: len(v) for k, v in floats.items()})]:
    keys, d = numeric(f"float-{reducer}", reducer, "float", numbers)
    if d is not None:
        got = dict(zip(keys, d["stream/values"].tolist()))
        bad = [k for k in want if got.get(k) != want[k]]
        check(f"float {reducer}: every key exact against Python", not bad and len(got) == len(want),
              f"{len(bad)} differ, e.g. {bad[:1]} {[got.get(k) for k in bad[:1]]} vs {[want[k] for k in bad[:1]]}")
for reducer, want in [
        ("sum", {k: sum(v) for k, v in ints.items()}),
        ("mean", {k: float(sum(v)) / len(v) for k, v in ints.items()}),
        ("min", {k: min(v) for k, v in ints.items()}),
        ("max", {k: max(v) for k, v in ints.items()})]:
    keys, d = numeric(f"int-{reducer}", reducer, "int", int_lines)
    if d is not None:
        got = dict(zip(keys, d["stream/values"].tolist()))
        check(f"int {reducer}: every key exact against Python", got == want)

# Splitting the mapper's output into lines (a SIMD list of tabs and newlines per
# 64 KiB of output): keys of every length around the 16 bytes kept in a slot,
# any bytes but tab and newline, CRLF endings, and keys longer than 64 KiB, so
# that lines cross every boundary; against Python's own split.
split_input = work / "split.txt"
split_want = collections.Counter()
with open(split_input, "wb") as f:
    for i in range(40000):
        n = rng.choice([1, 7, 8, 9, 15, 16, 17, 31, 40]) if i % 5000 else rng.choice([70000, 200000])
        key = bytes(rng.choice(b"ab \r\x00\xff.") for _ in range(n))
        v = rng.randrange(-999, 1000)
        f.write(key + b"\t" + str(v).encode() + (b"\r\n" if i % 3 == 0 else b"\n"))
        split_want[key] += v
d = run_configs("split", "cat", "sum", inputs=[str(split_input)],
                configs=[(1, 1, "16MiB"), (2, 2, "100000")])
if d is not None:
    got = dict(zip(csr(d, "stream/keys"), d["stream/values"].tolist()))
    check("line split: every key and sum equals Python's split of the same lines",
          got == dict(split_want), f"{len(got)} keys vs {len(split_want)}")
    # The mapper's input read and written by gridmr, as where the file system
    # cannot splice it into the pipe: the same datasets.
    out = work / "split-no-splice.h5"
    r = mpirun(args.gridmr, 2, ["stream", "--quiet", "--threads", "2", "--unit-size", "100000",
                                "--mapper", "cat", "-o", str(out), str(split_input)],
               env=dict(ENV, GRIDMR_DEBUG_NO_SPLICE="1"))
    check("line split without splice: exit 0", r.returncode == 0, r.stderr[-400:])
    if r.returncode == 0:
        differ = same_datasets(d, read_result(out)[0])
        check("line split without splice: identical datasets", not differ, str(differ))

# The same keys with decimal values, summed exactly (a float sum's table keys
# carry a band byte: keys of up to 63 bytes take the fast path, longer ones not).
split_floats = work / "split-floats.txt"
float_want = collections.defaultdict(list)
with open(split_input, "rb") as f, open(split_floats, "wb") as out:
    for line in f:
        key, _, v = line.rstrip(b"\n").rstrip(b"\r").partition(b"\t")
        x = int(v) / 4
        out.write(key + b"\t" + repr(x).encode() + b"\n")
        float_want[key].append(x)
d = run_configs("split-float", "cat", "sum", extra=["--values", "float"], inputs=[str(split_floats)],
                configs=[(1, 1, "16MiB"), (2, 2, "100000")])
if d is not None:
    got = dict(zip(csr(d, "stream/keys"), d["stream/values"].tolist()))
    want = {k: math.fsum(v) for k, v in float_want.items()}
    check("line split, float sum: every key exact against math.fsum", got == want,
          f"{len(got)} keys vs {len(want)}")

# An int64 overflow is an error, not a wrapped number.
big = work / "big.txt"
big.write_text(f"a\t{2**62}\n" * 4)
r = stream(work / "big.h5", "cat", "sum", np=2, inputs=[str(big)])
check("int sum overflow: exit 1, one line", r.returncode == 1 and "does not fit" in r.stderr
      and len(r.stderr.strip().splitlines()) == 1, r.stderr)
check("int sum overflow: no output", not (work / "big.h5").exists() and not partials(work / "big.h5"))
# The same with values of 18 plain digits (the fast path for plain lines).
big.write_text("a\t999999999999999999\n" * 10)
r = stream(work / "big.h5", "cat", "sum", np=1, inputs=[str(big)])
check("int sum overflow, plain 18-digit values: exit 1, one line",
      r.returncode == 1 and "does not fit" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
      r.stderr)
# Partial sums past 64 bits whose total fits: exact, whatever the grouping.
mixed = work / "mixed.txt"
mixed.write_text("a\t999999999999999999\n" * 10 + "a\t-999999999999999999\n" * 10 + "a\t7\n")
d = run_configs("mixed", "cat", "sum", inputs=[str(mixed)])
if d is not None:
    check("int sum with partial sums past 64 bits: exact", d["stream/values"].tolist() == [7],
          d["stream/values"].tolist())

# --- No deadlock, whatever the mapper buffers. ---
lines = work / "lines.txt"
with open(lines, "w") as f:
    for i in range(300000):
        f.write(f"line {i % 1000} of the input\n")
slurp = work / "slurp.py"  # reads everything, then writes twice as much
slurp.write_text("import sys\ndata = sys.stdin.buffer.read().split(b'\\n')\n"
                 "out = sys.stdout.buffer\n"
                 "for l in data:\n    if l:\n        out.write(l.split()[1] + b'\\t1\\n'); out.write(b'all\\t1\\n')\n")
chatty = work / "chatty.py"  # writes 4 MB before reading its first line
chatty.write_text("import sys\nout = sys.stdout.buffer\nout.write(b'early\\t1\\n' * 400000)\n"
                  "for l in sys.stdin.buffer:\n    out.write(b'late\\t1\\n')\n")
for name, script, want in [("reads all first", slurp, {b"all": 300000, **{str(i).encode(): 300 for i in range(1000)}}),
                           ("writes first", chatty, None)]:
    out = work / "deadlock.h5"
    r = stream(out, f"{PY} {script}", "sum", np=1, threads=1, unit="64MiB", inputs=[str(lines)],
               timeout=120)
    check(f"mapper that {name}: finishes", r.returncode == 0, r.stderr[-300:])
    if r.returncode == 0:
        d = read_result(out)[0]
        got = dict(zip(csr(d, "stream/keys"), (int(v) for v in d["stream/values"])))
        if want is None:
            want = {b"early": 400000, b"late": 300000}
        check(f"mapper that {name}: exact counts", got == want)

# --- The mapper's environment. ---
env_mapper = work / "env_mapper.py"
env_mapper.write_text(
    "import os, sys\ne = os.environ\n"
    "print(f\"rank={e['GRIDMR_RANK']} thread={e['GRIDMR_THREAD']} unit={bool(e['GRIDMR_UNIT'])}\\t1\")\n"
    "for l in sys.stdin:\n    print(f\"{e['GRIDMR_INPUT']}|{e['map_input_file']}\\t1\")\n")
out = work / "env.h5"
r = stream(out, f"{PY} {env_mapper}", "count", np=2, threads=2, unit="64KiB")
check("environment: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    got = dict(zip(csr(d, "stream/keys"), (int(v) for v in d["stream/values"])))
    lines_per_file = {f"{p}|{p}".encode(): len(p.read_bytes().split(b"\n")) - (p.read_bytes().endswith(b"\n") or p.stat().st_size == 0)
                      for p in input_files()}
    check("environment: GRIDMR_INPUT names the file of every line",
          {k: v for k, v in got.items() if b"|" in k} == {k: v for k, v in lines_per_file.items() if v})
    starts = [k.decode() for k in got if k.startswith(b"rank=")]
    check("environment: GRIDMR_RANK, GRIDMR_THREAD, GRIDMR_UNIT set",
          starts and all(s.split()[0] in ("rank=0", "rank=1") and s.split()[1] in ("thread=0", "thread=1")
                         and s.endswith("unit=True") for s in starts), str(starts))


# --- Many small files: a mapper per file (the default), or --combine-files. ---
# 150 small files (every third without its last newline, some empty): a mapper per file, with a
# note on rank 0 once it has started 100, and one mapper per thread with --combine-files (whose
# environment names no file) count the words as Python does, in identical datasets at 1 x 1 and
# 2 x 2. Each mapper start appends its GRIDMR_INPUT ("-" without) to a file.
small = work / "small"
small.mkdir()
rng = random.Random(5)
small_counts = collections.Counter()
for i in range(150):
    words = [rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(rng.randrange(0, 12))]
    (small / f"f{i:03d}.txt").write_text(" ".join(words) + ("\n" if i % 3 else ""))
    small_counts.update(words)
non_empty = [p for p in small.iterdir() if p.stat().st_size > 0]
started = work / "small-starts"
starts_mapper = work / "starts_mapper.py"
starts_mapper.write_text(
    "import os, sys\n"
    f"open({str(started)!r}, 'a').write(os.environ.get('GRIDMR_INPUT', '-') + '\\n')\n"
    "for line in sys.stdin:\n"
    "    for w in line.split():\n"
    "        print(f'{w}\\t1')\n")
small_results = []
for combine in (False, True):
    for np, threads in ((1, 1), (2, 2)):
        label = f"small files{' --combine-files' if combine else ''} ({np}x{threads})"
        started.unlink(missing_ok=True)
        out = work / f"small-{combine}-{np}.h5"
        r = stream(out, f"{PY} {starts_mapper}", "sum", np=np, threads=threads,
                   extra=["--combine-files"] if combine else [], inputs=[str(small)])
        check(f"{label}: exit 0", r.returncode == 0, r.stderr[-300:])
        if r.returncode != 0:
            continue
        d = read_result(out)[0]
        small_results.append(d)
        got = dict(zip(csr(d, "stream/keys"), (int(v) for v in d["stream/values"])))
        check(f"{label}: the counts of Python", got == {w.encode(): n for w, n in small_counts.items()},
              str(got))
        seen = started.read_text().splitlines()
        if combine:
            check(f"{label}: one mapper per thread at most, its environment names no file",
                  1 <= len(seen) <= np * threads and set(seen) == {"-"}, str(seen))
            check(f"{label}: no note", "note:" not in r.stderr, r.stderr[-300:])
        else:
            check(f"{label}: a mapper per file (an empty one has no lines), each told its file",
                  sorted(seen) == sorted(str(p) for p in non_empty), str(seen[:3]))
            if np == 1:
                check(f"{label}: a note names --combine-files",
                      f"started {len(non_empty)} mappers" in r.stderr
                      and "--combine-files" in r.stderr, r.stderr[-300:])
for d in small_results[1:]:
    differ = same_datasets(small_results[0], d)
    check("small files: identical datasets with and without --combine-files", not differ, str(differ))
# The inverted index of the small files: examples/python/index_mapper.py with a mapper per file
# (the file from GRIDMR_INPUT) and with --combine-files --include-path (each line PATH<TAB>text)
# at 1 x 1 and 2 x 2, against Python's index.
small_index = collections.defaultdict(collections.Counter)
for p in small.iterdir():
    for w in WORD.findall(p.read_bytes()):
        small_index[w.translate(LOWER)][p.name.encode()] += 1
index_results = []
for extra, np, threads in (([], 1, 1), (["--combine-files", "--include-path"], 1, 1),
                           (["--combine-files", "--include-path"], 2, 2)):
    label = f"small files index{' ' + ' '.join(extra) if extra else ''} ({np}x{threads})"
    out = work / f"small-index-{len(extra)}-{np}.h5"
    r = stream(out, f"{PY} {EX}/index_mapper.py", "collect", np=np, threads=threads, extra=extra,
               inputs=[str(small)])
    check(f"{label}: exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode != 0:
        continue
    d = read_result(out)[0]
    index_results.append(d)
    keys, groups = csr(d, "stream/keys"), d["stream/groups"]
    values, counts = csr(d, "stream/values"), d["stream/counts"]
    got = {k: {values[j]: int(counts[j]) for j in range(groups[i], groups[i + 1])}
           for i, k in enumerate(keys)}
    check(f"{label}: postings equal Python's", got == {k: dict(v) for k, v in small_index.items()})
for d in index_results[1:]:
    differ = same_datasets(index_results[0], d)
    check("small files index: identical datasets with --include-path", not differ, str(differ))
# A path with a tab cannot be told from the line after it: a usage error with --include-path.
tab_folder = work / "tab-in-name"
tab_folder.mkdir()
(tab_folder / "a\tb.txt").write_text("one line\n")
out = work / "tab-path.h5"
r = stream(out, "cat", "collect", np=2, threads=1, extra=["--include-path"], inputs=[str(tab_folder)])
lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
check("--include-path with a tab in a path: exit 2, one line naming it",
      r.returncode == 2 and len(lines) == 1 and "--include-path" in lines[0]
      and "a\\tb.txt" in lines[0], r.stderr[-300:])
check("--include-path with a tab in a path: no output, no partial",
      not out.exists() and not partials(out))

# --- Failures: one line, the right code, nothing left behind. ---
def failure(label, code, needles, mapper, reducer="sum", extra=(), inputs=None, marker=None):
    out = work / "fail.h5"
    r = stream(out, mapper, reducer, np=2, threads=2, extra=extra, inputs=inputs, timeout=120)
    lines = [l for l in r.stderr.strip().splitlines() if l.startswith("gridmr:")]
    check(f"{label}: exit {code}", r.returncode == code, f"exit {r.returncode}: {r.stderr[-300:]}")
    check(f"{label}: one error line naming the problem",
          len(lines) == 1 and all(n in lines[0] for n in needles), r.stderr[-500:])
    check(f"{label}: no output, no partial", not out.exists() and not partials(out))
    if marker:
        time.sleep(0.3)
        check(f"{label}: no orphaned children", not orphans(marker), str(orphans(marker)))


failure("missing mapper program", 2, ["--mapper", "gridmr-no-such-program"], "gridmr-no-such-program -x")
failure("mapper not executable", 2, ["--mapper", "not an executable"], f"{numbers} x")
failure("missing --mapper", 2, ["--mapper is required"], "")
failure("bad --values", 2, ["--values"], "cat", extra=["--values", "complex"])
failure("a mapper function that raises", 1, ["exited with status 1", "ValueError: no"],
        f"{PY} {raising} map")
failure("a mapper function's key with a tab", 1, ["exited with status 1", "must not hold a tab"],
        f"{PY} {tabbed} map")
failure("a gridmr_stream script without its role", 1, ["exited with status 2", "name the role"],
        f"{PY} {functions}")
failure("missing reducer program", 2, ["--reducer", "gridmr-no-such-reducer"], "cat",
        reducer="gridmr-no-such-reducer")
failure("--combiner with a built-in reducer", 2, ["--combiner", "external --reducer"], "cat",
        extra=["--combiner", "cat"])
failure("combiner exits 5", 1, ["combiner", "exited with status 5"], "awk '{print $1 \"\\t1\"}'",
        reducer="cat", extra=["--combiner", f"{PY} -c 'import sys; sys.stdin.read(); sys.exit(5)'"])
failure("line without a tab", 1, ["without a tab", "unit", "bytes"], "cat")
failure("mapper exits 3", 1, ["exited with status 3", "stderr line", "it broke"],
        f"{PY} -c 'import sys; sys.stdin.read(); sys.stderr.write(\"it broke\\n\"); sys.exit(3)'")
failure("mapper killed by a signal", 1, ["killed by SIGKILL"],
        f"{PY} -c 'import os; os.kill(os.getpid(), 9)'")
failure("decimal in an int job", 1, ["not a 64-bit integer", "--values float"],
        "awk '{print \"k\\t2.5\"}'")
failure("non-number", 1, ["not a number"], "awk '{print \"k\\tabc\"}'", extra=["--values", "float"])
failure("mapper hangs past --timeout", 1, ["timed out after 1 s"],
        "sleep 1000 # gridmr-hang-marker", extra=["--timeout", "1"], marker="gridmr-hang-marker")
failure("reducer exits 4", 1, ["reducer", "exited with status 4"], "cat",
        reducer=f"{PY} -c 'import sys; sys.stdin.read(); sys.exit(4)'",
        inputs=[str(int_lines)])

# Compound commands (a pipeline, a list) run under a guardian that ends as the shell did.
failure("compound mapper exits 6", 1, ["exited with status 6"], "cat >/dev/null; exit 6")
failure("compound mapper killed by a signal", 1, ["killed by SIGKILL"], "cat >/dev/null; kill -KILL $$")
r = stream(work / "pipeline.h5", "cat | cat", "sum", np=2, threads=2, inputs=[str(int_lines)])
plain = stream(work / "plain.h5", "cat", "sum", np=2, threads=2, inputs=[str(int_lines)])
check("a pipeline as the mapper gives what its commands give alone",
      r.returncode == 0 and plain.returncode == 0
      and not same_datasets(read_result(work / "pipeline.h5")[0], read_result(work / "plain.h5")[0]),
      r.stderr[-300:])

# SIGTERM to mpirun mid-run: every mapper dies, no partial.
slow = work / "slow_mapper.py"
slow.write_text("import sys, time\n# gridmr-slow-marker\nfor l in sys.stdin:\n    time.sleep(0.01)\n"
                "    print('k\\t1', flush=True)\n")
out = work / "term.h5"
p = subprocess.Popen(["mpirun", "-q", "-np", "2", "--bind-to", "none", os.path.abspath(args.gridmr),
                      "stream", "--quiet", "--threads", "2", "--unit-size", "64KiB", "--mapper",
                      f"{PY} {slow}", "-o", str(out), args.inputs],
                     env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(3)
check("SIGTERM: mappers running before the signal", bool(orphans(str(slow))))
p.send_signal(signal.SIGTERM)
try:
    _, err = p.communicate(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    err = "mpirun did not end"
time.sleep(0.5)
check("SIGTERM: the job ends with exit 1", p.returncode == 1, f"{p.returncode}: {err[-300:]}")
check("SIGTERM: no output, no partial", not out.exists() and not partials(out))
check("SIGTERM: no orphaned mappers", not orphans(str(slow)), str(orphans(str(slow))))

# SIGKILL to one rank while its mappers run: the job ends and no mapper survives (the
# killed rank's children get SIGKILL from the kernel, PR_SET_PDEATHSIG; the others' from
# their rank's SIGTERM handler). With a compound mapper the kernel would kill only the shell,
# not its children (sleep, cat): the guardian of the process group kills them all.
def kill_a_rank(label, mapper, marker):
    out = work / "kill.h5"
    p = subprocess.Popen(["mpirun", "-q", "-np", "2", "--bind-to", "none", os.path.abspath(args.gridmr),
                          "stream", "--quiet", "--threads", "2", "--unit-size", "64KiB", "--mapper",
                          mapper, "-o", str(out), args.inputs],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    ranks = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    check(f"{label}: mappers running before", bool(orphans(marker)) and len(ranks) == 2, str(ranks))
    if ranks:
        os.kill(int(ranks[-1]), signal.SIGKILL)
    try:
        p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    time.sleep(1)
    check(f"{label}: the job fails", p.returncode not in (0, None), str(p.returncode))
    check(f"{label}: no process of the mapper left", not orphans(marker), str(orphans(marker)))
    check(f"{label}: no output, no partial", not out.exists() and not partials(out))


kill_a_rank("SIGKILL to a rank", "sleep 3031", "sleep 3031")
kill_a_rank("SIGKILL to a rank, compound mapper", "sleep 3032 | cat", "sleep 3032")

finish()
