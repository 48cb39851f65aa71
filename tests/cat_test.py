#!/usr/bin/python3
"""`gridmr cat OUT.h5 [PATH]`: a result as tab-separated text, checked against Python's own
computation of each job (word counts with re, sums with math.fsum, the farm's commands run by
hand) and against h5py; the same text at every rank and thread count; files that did not keep
their write order; windows of rows and bytes; its errors (one line, exit 2 or 1); and
gridmr_stream.rows(), the same rows in Python."""
import argparse
import collections
import math
import os
import pathlib
import subprocess
import sys
import tempfile

import h5py
import numpy

from gridmr_testlib import ENV, check, expected_counts, finish, mpirun

GRID = [(1, 1), (2, 2), (3, 1)]


def escaped(data):
    """The documented escape of a text field: backslash, tab, newline, carriage return."""
    return (data.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r"))


def cat(gridmr, *args, np=None):
    """Runs `gridmr cat ARGS` alone (or under mpirun -np NP); returns the CompletedProcess."""
    if np is not None:
        return mpirun(gridmr, np, ["cat", *args])
    return subprocess.run([os.path.abspath(gridmr), "cat", *args], capture_output=True, env=ENV,
                          timeout=300)


def run_all(gridmr, work, name, args):
    """Runs a job at every (ranks, threads) of GRID; returns {label: its result file}."""
    outs = {}
    for np, threads in GRID:
        out = work / f"{name}-{np}x{threads}.h5"
        proc = mpirun(gridmr, np, [*args[:1], "--quiet", "--threads", str(threads), "-o", str(out),
                                   *args[1:]])
        check(f"{name} {np}x{threads} runs", proc.returncode == 0, proc.stderr)
        outs[f"{np}x{threads}"] = out
    return outs


def same_text(gridmr, name, outs, expected, *extra):
    """`gridmr cat` of every file is `expected` (bytes), whatever the ranks and threads."""
    for label, out in outs.items():
        proc = cat(gridmr, str(out), *extra)
        lines = len(expected.splitlines())
        check(f"{name} {label}: cat prints {lines} lines as computed",
              proc.returncode == 0 and proc.stdout == expected and proc.stderr == b"",
              f"rc {proc.returncode} {proc.stderr!r} {proc.stdout[:200]!r} vs {expected[:200]!r}")


def unordered_copy(source, target):
    """The file as gridmr 0.1.0 wrote it before `cat`: groups in name order only."""
    with h5py.File(source) as src, h5py.File(target, "w", track_order=False) as dst:
        dst.attrs.update(src.attrs)

        def copy(s, d):
            for name in s:
                if isinstance(s[name], h5py.Group):
                    copy(s[name], d.create_group(name, track_order=False))
                else:
                    d.create_dataset(name, data=s[name][()])
        copy(src, dst)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    g = args.gridmr
    with tempfile.TemporaryDirectory(prefix="gridmr-cat-") as work:
        work = pathlib.Path(work)

        # Word count: word<TAB>count in byte order, from Python's re alone.
        counts = expected_counts([args.inputs])
        expected = b"".join(w + b"\t%d\n" % counts[w] for w in sorted(counts))
        words = run_all(g, work, "wordcount", ["wordcount", args.inputs])
        same_text(g, "wordcount", words, expected)
        proc = cat(g, str(words["2x2"]), "--header")
        check("--header names the columns first", proc.stdout == b"keys\tcounts\n" + expected)
        proc = cat(g, str(words["2x2"]), "--header", np=2)
        check("under mpirun -np 2, cat prints once",
              proc.returncode == 0 and proc.stdout == "keys\tcounts\n" + expected.decode())

        # Float sums of keys with a backslash, a carriage return and many rows: the text reads
        # back as the correctly rounded sum.
        lines, sums = [], collections.defaultdict(list)
        for i in range(150_000):
            key = b"k%d" % (i * 7919 % 100_003) + (b"\\x" if i % 5 == 0 else b"") + \
                (b"\r" if i % 7 == 0 else b"")
            value = (i % 1000) / 8 - 31.3 + (1e-9 if i % 3 == 0 else 0)
            lines.append(key + b"\t" + repr(value).encode() + b"\n")
            sums[key].append(value)
        pairs = work / "pairs.txt"
        pairs.write_bytes(b"".join(lines))
        sums_out = run_all(g, work, "sum", ["stream", "--mapper", "cat", "--reducer", "sum",
                                            "--values", "float", str(pairs)])
        texts = {label: cat(g, str(out)).stdout for label, out in sums_out.items()}
        got = {}
        for line in texts["1x1"].splitlines():
            key, value = line.split(b"\t")
            got[key] = float(value)
        want = {escaped(k): math.fsum(v) for k, v in sums.items()}
        check("stream sum: every key once, in byte order of the keys",
              list(got) == [escaped(k) for k in sorted(sums)], f"{len(got)} vs {len(want)}")
        check("stream sum: each value reads back as math.fsum of the key's values", got == want,
              str(sum(1 for k in want if got.get(k) != want[k])))
        check("stream sum: the same text at every rank and thread count",
              len(set(texts.values())) == 1)
        check("stream sum: more rows than one window (65536)", len(got) > 65536)

        # collect: key<TAB>value<TAB>count, a line per distinct value, each key's in byte order.
        table = collections.Counter()
        for i in range(30_000):
            table[(b"w%d" % (i % 997), b"v\\%d\t" % (i * 31 % 11))] += 1
        grouped = work / "grouped.txt"
        grouped.write_bytes(b"".join(k + b"\t" + v + b"\n" for (k, v), n in table.items()
                                     for _ in range(n)))
        expected = b"".join(escaped(k) + b"\t" + escaped(v) + b"\t%d\n" % table[(k, v)]
                            for k, v in sorted(table))
        collected = run_all(g, work, "collect", ["stream", "--mapper", "cat", "--reducer", "collect",
                                                 str(grouped)])
        same_text(g, "collect", collected, expected)
        proc = cat(g, str(collected["1x1"]), "--header")
        check("collect: the header names keys, values and counts, not the groups",
              proc.stdout.split(b"\n")[0] == b"keys\tvalues\tcounts", proc.stdout[:100])

        # An external reducer's values hold tabs: escaped, so a line stays two fields.
        reduced = run_all(g, work, "reducer", ["stream", "--mapper", "cat", "--reducer",
                                               "sed 's/$/\\tend/'", str(grouped)])
        expected = b"".join(escaped(k) + b"\t" + escaped(v + b"\tend") + b"\n"
                            for k, v in sorted(table.elements()))
        same_text(g, "external reducer", reduced, expected)

        # The farm: items, what each printed (newlines, tabs, backslashes), exit codes.
        farm = run_all(g, work, "farm", ["farm", "--range", "40", "--max-failures", "100",
                                         "--command", "printf '%s\\n\\t%s\\\\' {} {}; exit $(expr {} % 3)"])
        for label, out in farm.items():
            proc = cat(g, str(out), "--header")
            rows = [line.split(b"\t") for line in proc.stdout.splitlines()]
            check(f"farm {label}: the header", rows[0] == [b"items", b"stdout", b"exit_code",
                                                          b"timed_out", b"seconds", b"attempts",
                                                          b"rank"], str(rows[0]))
            want = [[b"%d" % i, escaped(b"%d\n\t%d\\" % (i, i)), b"%d" % (i % 3), b"0"]
                    for i in range(40)]
            check(f"farm {label}: items, stdout, exit codes as the commands printed and ended",
                  [r[:4] for r in rows[1:]] == want, str(rows[1:3]))
            np = int(label.split("x")[0])
            check(f"farm {label}: seconds, attempts and ranks are numbers of their kind",
                  all(float(r[4]) > 0 and r[5] == b"1" and 0 <= int(r[6]) < np for r in rows[1:]))

        # Monte Carlo: a column without keys; /stats/ranks: a compound with a string field.
        mc = work / "mc.h5"
        proc = mpirun(g, 2, ["montecarlo", "--quiet", "--samples", "3e6", "--unit-samples", "1e6",
                             "-o", str(mc)])
        with h5py.File(mc) as f:
            hits = f["montecarlo/unit_hits"][:]
            ranks = f["stats/ranks"][:]
        proc = cat(g, str(mc))
        check("montecarlo: a line per unit, its hits",
              proc.stdout == b"".join(b"%d\n" % h for h in hits) and len(hits) == 3, proc.stdout)
        proc = cat(g, str(mc), "/stats/ranks", "--header")
        rows = [line.split(b"\t") for line in proc.stdout.splitlines()]
        names = [n.encode() for n in ranks.dtype.names]
        check("/stats/ranks: a column per field, named", rows[0] == names, str(rows[0]))
        check("/stats/ranks: a row per rank, the host as text, numbers as stored",
              len(rows) == 3 and all(
                  row[names.index(b"host")] == ranks[i]["host"].rstrip(b"\0")
                  and all(float(row[k]) == float(ranks[i][n]) for k, n in enumerate(ranks.dtype.names)
                          if n != "host") for i, row in enumerate(rows[1:])), str(rows))
        proc = cat(g, str(mc), "stats/ranks/")
        check("a path without its leading slash, with a trailing one", proc.returncode == 0
              and len(proc.stdout.splitlines()) == 2)

        # One dataset or key list named alone.
        proc = cat(g, str(farm["1x1"]), "/farm/exit_code")
        check("a dataset alone", proc.stdout == b"".join(b"%d\n" % (i % 3) for i in range(40)))
        proc = cat(g, str(farm["1x1"]), "farm/items", "--header")
        check("a key list alone", proc.stdout == b"items\n" + b"".join(b"%d\n" % i for i in range(40)))

        # Files that did not keep their write order: key lists first, the grouping found.
        for name, out in (("farm", farm["1x1"]), ("collect", collected["1x1"]),
                          ("wordcount", words["1x1"])):
            old = work / f"old-{name}.h5"
            unordered_copy(out, old)
            new_rows = cat(g, str(out), "--header").stdout.splitlines()
            old_rows = cat(g, str(old), "--header").stdout.splitlines()
            columns, old_columns = new_rows[0].split(b"\t"), old_rows[0].split(b"\t")
            order = [old_columns.index(c) if c in old_columns else 0 for c in columns]
            check(f"{name} without a kept order: the same lines, its key list first",
                  sorted(old_columns) == sorted(columns) and old_columns[0] == columns[0]
                  and len(old_rows) == len(new_rows)
                  and all([line.split(b"\t")[k] for k in order] == new.split(b"\t")
                          for line, new in zip(old_rows[1:], new_rows[1:])), str(old_rows[:2]))

        # A field larger than a window of bytes (16 MiB), among small ones.
        big = run_all(g, work, "big", ["farm", "--range", "3", "--command",
                                       "head -c $(expr {} '*' 10000000) /dev/zero | tr '\\0' a"])
        proc = cat(g, str(big["2x2"]))
        rows = [line.split(b"\t") for line in proc.stdout.splitlines()]
        check("a 20 MB field prints whole, beside the other columns",
              proc.returncode == 0 and [len(r[1]) for r in rows] == [0, 10_000_000, 20_000_000]
              and [r[0] for r in rows] == [b"0", b"1", b"2"] and set(rows[2][1]) == {ord("a")}
              and all(len(r) == 7 and r[2] == b"0" for r in rows))

        # gridmr_stream.rows(): the same rows in Python, unescaped and parsed, with no h5py. The
        # module finds the gridmr program beside it (a build folder's share/gridmr/python).
        env_gridmr = os.environ.pop("GRIDMR", None)
        sys.path.insert(0, str(pathlib.Path(g).resolve().parent / "share/gridmr/python"))
        import gridmr_stream
        got = dict(gridmr_stream.rows(words["2x2"]))
        check("rows(): {word: count} of a word count, Python's counts",
              got == {w.decode("utf-8", "surrogateescape"): n for w, n in counts.items()})
        got = {k.encode("utf-8", "surrogateescape"): v for k, v in gridmr_stream.rows(sums_out["3x1"])}
        check("rows(): keys with a backslash and a carriage return come back whole, sums as floats",
              got == {k: math.fsum(v) for k, v in sums.items()})
        got = list(gridmr_stream.rows(collected["2x2"], binary=True))
        check("rows(binary=True): collect's (key, value, count) as bytes, tabs in values whole",
              got == [(k, v, n) for (k, v), n in sorted(table.items())], str(got[:2]))
        got = list(gridmr_stream.rows(farm["2x2"]))
        check("rows(): a farm's items, their stdout with newlines, tabs and backslashes, ints",
              [r[:4] for r in got] == [(str(i), f"{i}\n\t{i}\\", i % 3, 0) for i in range(40)]
              and all(isinstance(r[4], float) for r in got), str(got[:2]))
        got = list(gridmr_stream.rows(farm["2x2"], "farm/exit_code", values=str))
        check("rows(path, table): one column", got == [(str(i % 3),) for i in range(40)])
        got = list(gridmr_stream.rows(sums_out["1x1"], values=str))
        check("rows(values=str): values as text", all(isinstance(r[1], str) for r in got))
        try:
            list(gridmr_stream.rows(work / "none.h5"))
            message = ""
        except RuntimeError as e:
            message = str(e)
        check("rows() of a missing file raises RuntimeError with gridmr's line",
              "cannot open" in message and "none.h5" in message, message)
        reader = gridmr_stream.rows(sums_out["1x1"])
        first = next(reader)
        reader.close()
        left = subprocess.run(["pgrep", "-f", f"cat {sums_out['1x1']}"], capture_output=True)
        check("rows() stopped early leaves no gridmr cat running",
              len(first) == 2 and left.stdout == b"", left.stdout)
        if env_gridmr is not None:
            os.environ["GRIDMR"] = env_gridmr

        # An empty result.
        empty = work / "empty.txt"
        empty.write_bytes(b"")
        out = work / "empty.h5"
        mpirun(g, 2, ["wordcount", "--quiet", "-o", str(out), str(empty)])
        check("an empty result prints nothing", cat(g, str(out)).stdout == b"")
        check("an empty result with --header prints the header",
              cat(g, str(out), "--header").stdout == b"keys\tcounts\n")

        # Errors: one line, exit 2 for what the user named, 1 for a damaged file or a failed write.
        def fails(label, code, proc, *words):
            lines = proc.stderr.decode().strip().splitlines()
            check(label, proc.returncode == code and len(lines) == 1 and proc.stdout == b""
                  and all(w in lines[0] for w in words), f"rc {proc.returncode}: {proc.stderr!r}")

        fails("a missing file: exit 2", 2, cat(g, str(work / "none.h5")), "none.h5")
        fails("no file named: exit 2", 2, cat(g), "file")
        fails("a text file: exit 2", 2, cat(g, str(pairs)), "not an HDF5 file")
        plain = work / "plain.h5"
        with h5py.File(plain, "w") as f:
            f["x"] = numpy.arange(3)
        fails("an HDF5 file gridmr did not write: exit 2", 2, cat(g, str(plain)),
              "not a gridmr result")
        fails("a path the file lacks: exit 2, naming what it holds", 2,
              cat(g, str(words["1x1"]), "/wordcount/nope"), "/wordcount/nope", "/wordcount")
        two = make_two_dimensional(words["1x1"], work)
        fails("a two-dimensional dataset named: exit 2", 2, cat(g, str(two), "/wordcount/counts"),
              "dimension")
        proc = cat(g, str(two))
        check("a two-dimensional dataset in a table: left out with a note",
              proc.returncode == 0 and proc.stdout == b"".join(w + b"\n" for w in sorted(counts))
              and b"/wordcount/counts" in proc.stderr, proc.stderr)
        damaged = work / "damaged.h5"
        damaged.write_bytes(words["1x1"].read_bytes())
        with h5py.File(damaged, "r+") as f:
            offsets = f["wordcount/keys/offsets"]
            offsets[5] = offsets[len(offsets) - 1] + 1
        fails("offsets past the data: exit 1", 1, cat(g, str(damaged)), "wordcount/keys")
        with h5py.File(damaged, "r+") as f:
            offsets = f["wordcount/keys/offsets"]
            offsets[5] = 0
        fails("offsets that fall: exit 1", 1, cat(g, str(damaged)), "wordcount/keys", "entry 5")
        with open("/dev/full", "wb") as full:
            proc = subprocess.run([os.path.abspath(g), "cat", str(sums_out["1x1"])], stdout=full,
                                  stderr=subprocess.PIPE, env=ENV, timeout=60)
        check("a full disk: exit 1, one line", proc.returncode == 1
              and len(proc.stderr.splitlines()) == 1 and b"No space left" in proc.stderr,
              proc.stderr)
        proc = subprocess.run(f"'{os.path.abspath(g)}' cat '{sums_out['1x1']}' | head -1",
                              shell=True, capture_output=True, env=ENV, timeout=60)
        check("a reader that stops early (head -1): no error, no hang",
              proc.returncode == 0 and proc.stderr == b"" and len(proc.stdout.splitlines()) == 1,
              proc.stderr)
    finish()


def make_two_dimensional(source, work):
    """A copy of a result whose /wordcount/counts has two dimensions."""
    target = work / "two.h5"
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as f:
        del f["wordcount/counts"]
        f["wordcount/counts"] = numpy.zeros((2, 2), dtype=numpy.uint64)
    return target


if __name__ == "__main__":
    main()
