#!/usr/bin/python3
"""The examples as a user builds them: `cmake --install` gridmr into a fresh prefix, build each
example out of tree with find_package(gridmr), run it at np 1-3, threads 1-2 and several unit
sizes, and check every result against an independent Python computation and byte for byte
against each other."""
import argparse
import collections
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import tempfile

from gridmr_testlib import ENV, LOWER, WORD, check, finish, mpirun, read_result, same_datasets

ALNUM = re.compile(rb"[A-Za-z0-9]+")


def files_under(paths):
    """Regular files under `paths`, in gridmr's order: byte order of the paths per directory."""
    out = []
    for root in paths:
        root = pathlib.Path(root)
        if root.is_file():
            out.append(root)
        else:
            out.extend(sorted((p for p in root.rglob("*") if p.is_file()),
                              key=lambda p: os.fsencode(str(p))))
    return out


def lines_of(data):
    """Lines as gridmr reads them: split at b'\\n'; a last line without one counts."""
    lines = data.split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


def expected_bigrams(paths):
    counts = collections.Counter()
    for f in files_under(paths):
        for line in lines_of(f.read_bytes()):
            words = [w.translate(LOWER) for w in ALNUM.findall(line)]
            counts.update(a + b" " + b for a, b in zip(words, words[1:]))
    return counts


def expected_index(paths):
    """{word: [(file number, occurrences), ...] in file order}."""
    counts = collections.Counter()
    for i, f in enumerate(files_under(paths)):
        for w in WORD.findall(f.read_bytes()):
            counts[(w.translate(LOWER), i)] += 1
    index = collections.defaultdict(list)
    for (word, i), n in sorted(counts.items()):
        index[word].append((i, n))
    return dict(index)


def csr(datasets, group):
    offsets, data = datasets[group + "/offsets"], datasets[group + "/data"].tobytes()
    return [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def build_examples(args, work):
    prefix = work / "prefix"
    subprocess.run(["cmake", "--install", args.build, "--prefix", str(prefix)], check=True,
                   capture_output=True)
    programs = {}
    for name in ("bigrams", "sweep", "inverted_index"):
        build = work / ("build-" + name)
        for step in (["cmake", "-S", str(pathlib.Path(args.examples) / name), "-B", str(build),
                      "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_PREFIX_PATH=" + str(prefix)],
                     ["cmake", "--build", str(build)]):
            proc = subprocess.run(step, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"FAIL building {name}: {' '.join(step)}\n{proc.stdout}\n{proc.stderr}")
        programs[name] = build / name
    check("cmake --install puts gridmr on PATH under PREFIX/bin",
          (prefix / "bin/gridmr").exists() and subprocess.run(
              [str(prefix / "bin/gridmr"), "--version"], capture_output=True, env=ENV).returncode == 0)
    check("the examples build out of tree against the installed package", True)
    return programs


def runs(program, subcommand, settings, work, inputs=()):
    """Runs every setting; returns {label: datasets, attributes}."""
    results = {}
    for np, threads, extra in settings:
        label = f"{subcommand} np={np} threads={threads} {' '.join(extra)}"
        out = work / (re.sub(r"[^A-Za-z0-9]+", "_", label) + ".h5")
        proc = mpirun(program, np, [subcommand, "--threads", str(threads), *extra, "-o", str(out),
                                    *inputs])
        if proc.returncode != 0:
            sys.exit(f"FAIL {label}: exit {proc.returncode}\n{proc.stderr}")
        results[label] = read_result(out)
    return results


def check_identical(name, results):
    labels = list(results)
    first = results[labels[0]][0]
    for label in labels[1:]:
        differ = same_datasets(first, results[label][0])
        check(f"{name}: datasets of '{label}' identical to '{labels[0]}'", not differ, str(differ))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gridmr-examples-") as work:
        work = pathlib.Path(work)
        programs = build_examples(args, work)
        grid = [(np, t) for np in (1, 2, 3) for t in (1, 2)]

        # Bigrams over lines: exact at any unit size, though units cut lines anywhere.
        extra_file = work / "odd-lines.txt"
        extra_file.write_bytes(b"no newline at the end\r\n\n\nA b A b\nlast line here")
        inputs = [args.inputs, str(extra_file)]
        expected = expected_bigrams(inputs)
        results = runs(programs["bigrams"], "bigrams",
                       [(np, t, ("--unit-size", u)) for np, t in grid for u in ("1KiB", "5000", "16MiB")]
                       + [(2, 1, ("--unit-size", "7", "--memory", "4KiB")),
                          (3, 2, ("--unit-size", "1KiB", "--memory", "64KiB"))], work, inputs)
        for label, (datasets, attributes) in results.items():
            keys = csr(datasets, "bigrams/keys")
            got = dict(zip(keys, (int(c) for c in datasets["bigrams/counts"])))
            check(f"{label}: every bigram counted exactly", got == expected,
                  f"{len(set(got.items()) ^ set(expected.items()))} differ")
            check(f"{label}: keys sorted by bytes", keys == sorted(keys))
            check(f"{label}: totals", attributes["bigrams"]["total_bigrams"] == sum(expected.values())
                  and attributes["bigrams"]["distinct_bigrams"] == len(expected))
        check_identical("bigrams", results)

        # A sweep of 10,000 parameters, reduced to min, max and mean (a struct value).
        points, step, scale = 10_000, 0.01, 25.0
        ys = [math.sin(i * step) * math.exp(-(i * step) / scale) for i in range(points)]
        total = ys[0]
        for y in ys[1:]:
            total += y  # the engine folds in index order, so the sum is the same on any np
        results = runs(programs["sweep"], "sweep",
                       [(np, t, ("--unit-points", u)) for np, t in grid for u in ("1", "97", "256")],
                       work)
        for label, (datasets, attributes) in results.items():
            values = datasets["sweep/values"]
            a = attributes["sweep"]
            check(f"{label}: one compound value per parameter, in order",
                  list(values.dtype.names) == ["min", "max", "sum", "count"] and len(values) == points
                  and list(values["min"]) == ys and list(values["count"]) == [1] * points)
            check(f"{label}: min, max and mean over all parameters",
                  a["min"] == min(ys) and a["max"] == max(ys) and a["points"] == points
                  and a["mean"] == total / points, f"{a} vs {min(ys)} {max(ys)} {total / points}")
        check_identical("sweep", results)

        # An inverted index over whole files: a grouped job (word -> its files).
        expected = expected_index([args.inputs])
        files = [str(p).encode() for p in files_under([args.inputs])]
        # (--memory 64KiB: its tables spill, and its result is loaded back whole.)
        results = runs(programs["inverted_index"], "index",
                       [(np, t, ()) for np, t in grid] + [(2, 2, ("--memory", "64KiB"))], work,
                       [args.inputs])
        for label, (datasets, attributes) in results.items():
            words = csr(datasets, "index/words")
            offsets = datasets["index/postings/offsets"]
            numbers, occurrences = datasets["index/postings/files"], datasets["index/postings/counts"]
            got = {w: [(int(numbers[j]), int(occurrences[j])) for j in range(offsets[i], offsets[i + 1])]
                   for i, w in enumerate(words)}
            a = attributes["index"]
            check(f"{label}: every word lists its files in order, with exact counts", got == expected)
            check(f"{label}: words sorted by bytes", words == sorted(words))
            check(f"{label}: totals", a["words"] == len(expected)
                  and a["postings"] == sum(len(v) for v in expected.values())
                  and a["occurrences"] == sum(n for v in expected.values() for _, n in v), str(a))
            check(f"{label}: the file list in plan order", csr(datasets, "index/files") == files)
        check_identical("index", results)

        # `gridmr show` on a result of a job it does not know.
        label = next(iter(results))
        out = work / (re.sub(r"[^A-Za-z0-9]+", "_", label) + ".h5")
        shown = subprocess.run([str(work / "prefix/bin/gridmr"), "show", str(out), "--top", "3"],
                               capture_output=True, text=True, env=ENV)
        check("show lists the datasets and attributes of any job's result",
              shown.returncode == 0 and "/index/postings/files" in shown.stdout
              and "/index/occurrences" in shown.stdout, shown.stdout)
        bigrams_out = next(work.glob("bigrams_np_2_threads_1_*.h5"))
        shown = subprocess.run([str(work / "prefix/bin/gridmr"), "show", str(bigrams_out), "--top",
                                "3"], capture_output=True, text=True, env=ENV)
        top3 = [f"{n} {k.decode()}" for k, n in expected_bigrams(inputs).most_common(3)]
        listed = [" ".join(line.split()) for line in shown.stdout.splitlines()]
        check("show lists the top keys of a key/value group by value",
              "top 3 of" in shown.stdout and all(t in listed for t in top3), f"{top3} {listed[-4:]}")
        # `gridmr cat` of a grouped job: a line per (word, file) with its count, the file
        # list left out with a note; and of a compound value: a column per field.
        gridmr = str(work / "prefix/bin/gridmr")
        shown = subprocess.run([gridmr, "cat", str(out), "--header"], capture_output=True, env=ENV)
        want = b"words\tpostings/files\tpostings/counts\n" + b"".join(
            b"%s\t%d\t%d\n" % (w, i, n) for w in sorted(expected) for i, n in expected[w])
        check("cat prints a grouped job's key, value and count per line, Python's index",
              shown.returncode == 0 and shown.stdout == want and b"/index/files" in shown.stderr,
              shown.stderr)
        shown = subprocess.run([gridmr, "cat", str(out), "index/files"], capture_output=True,
                               env=ENV)
        check("cat prints a list named alone", shown.stdout == b"".join(f + b"\n" for f in files))
        sweep_out = next(work.glob("sweep_np_2_threads_2_*.h5"))
        shown = subprocess.run([gridmr, "cat", str(sweep_out), "--header"], capture_output=True,
                               text=True, env=ENV)
        rows = [line.split("\t") for line in shown.stdout.splitlines()]
        check("cat prints a compound value's fields as columns, numbers that read back the same",
              rows[0] == ["min", "max", "sum", "count"] and len(rows) == points + 1
              and all(float(r[0]) == y and float(r[1]) == y and float(r[2]) == y and r[3] == "1"
                      for r, y in zip(rows[1:], ys)), str(rows[:3]))
        top = subprocess.run([str(work / "prefix/bin/gridmr"), "show", str(out), "--top", "-1"],
                             capture_output=True, text=True, env=ENV)
        check("show --top -1 is a usage error", top.returncode == 2 and "--top" in top.stderr,
              top.stderr)

        # The installed gridmr finds the installed gridmr_stream (PREFIX/share/gridmr/python)
        # for a Python mapper and reducer, with no PYTHONPATH of the user's.
        job = work / "upper_job.py"
        job.write_text("import gridmr_stream\n"
                       "def mapper(line):\n    return [(w.upper(), 1) for w in line.split()]\n"
                       "gridmr_stream.run(mapper, lambda key, values: sum(values))\n")
        out = work / "upper.h5"
        env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}
        proc = mpirun(work / "prefix/bin/gridmr", 2,
                      ["stream", "--quiet", "--mapper", f"/usr/bin/python3 {job} map", "--reducer",
                       f"/usr/bin/python3 {job} reduce", "-o", str(out), args.inputs], env=env)
        want = collections.Counter(w.upper() for f in sorted(pathlib.Path(args.inputs).rglob("*"))
                                   if f.is_file() for w in f.read_bytes().split())
        got = {}
        if proc.returncode == 0:
            d = read_result(out)[0]
            got = dict(zip(csr(d, "stream/keys"), (int(v) for v in csr(d, "stream/values"))))
        check("the installed gridmr runs Python functions through the installed gridmr_stream",
              (work / "prefix/share/gridmr/python/gridmr_stream.py").is_file() and got == want,
              proc.stderr[-400:])
        # The installed gridmr_stream reads results back through the installed gridmr, found
        # beside it (no GRIDMR, no gridmr on PATH).
        reader = ("import sys; sys.path.insert(0, sys.argv[1]); import gridmr_stream\n"
                  "for key, value in gridmr_stream.rows(sys.argv[2]): print(key, value)\n")
        env = {k: v for k, v in ENV.items() if k not in ("GRIDMR", "PYTHONPATH")}
        env["PATH"] = "/usr/bin:/bin"
        read = subprocess.run([sys.executable, "-c", reader,
                               str(work / "prefix/share/gridmr/python"), str(out)],
                              capture_output=True, text=True, env=env)
        check("the installed gridmr_stream.rows() reads a result with the installed gridmr",
              read.returncode == 0 and read.stdout == "".join(
                  f"{k.decode()} {v}\n" for k, v in sorted(want.items())), read.stderr[-400:])
        # A driver script on the installed module alone: map_reduce() runs the installed gridmr.
        driver = work / "driver.py"
        driver.write_text("import json, sys\nsys.path.insert(0, sys.argv[1])\n"
                          "import gridmr_stream\n"
                          "def mapper(line):\n    return [(w.upper(), 1) for w in line.split()]\n"
                          "if __name__ == '__main__':\n"
                          "    print(json.dumps(gridmr_stream.map_reduce(mapper, sys.argv[2], np=2)))\n")
        proc = subprocess.run([sys.executable, str(driver), str(work / "prefix/share/gridmr/python"),
                               args.inputs], capture_output=True, text=True, env=env, cwd=work)
        got = json.loads(proc.stdout) if proc.returncode == 0 else {}
        check("a script's map_reduce() with the installed module runs the installed gridmr",
              got == {k.decode(): v for k, v in want.items()}, proc.stderr[-400:])
    finish()


if __name__ == "__main__":
    main()
