#!/usr/bin/python3
"""One binary, every SIMD target: word count, Monte Carlo and a stream job (its mapper's output
split by the tab-and-newline kernel) forced onto each target this CPU supports (GRIDMR_SIMD), at
2 ranks, give the independent results and identical datasets; an unknown or unsupported target
is a usage error."""
import argparse
import collections
import os
import pathlib
import subprocess
import tempfile

from gridmr_testlib import (ENV, check, expected_counts, finish, read_result, same_datasets,
                            words_of)


def run(gridmr, target, args):
    env = dict(ENV, GRIDMR_SIMD=target)
    command = ["mpirun", "-q", "-np", "2", "--bind-to", "none", os.path.abspath(gridmr), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    version = subprocess.run([args.gridmr, "--version"], capture_output=True, text=True, env=ENV)
    supported = next(line for line in version.stdout.splitlines()
                     if line.startswith("SIMD targets this CPU supports:")).split(":")[1].split()
    print("targets:", supported)
    check("several SIMD targets are compiled in and supported here", len(supported) >= 3, supported)

    with tempfile.TemporaryDirectory(prefix="gridmr-simd-") as work:
        work = pathlib.Path(work)
        odd = work / "odd.bin"
        odd.write_bytes(bytes(range(256)) * 70 + b"Tail WORD\xc3\xa9 " * 1000 + b"x" * 131)
        inputs = [args.inputs, str(odd)]
        expected = expected_counts(inputs)
        pairs = work / "pairs.txt"  # key<TAB>value lines for `stream --mapper cat`
        sums = collections.Counter()
        with open(pairs, "wb") as f:
            for i in range(30000):
                key = b"k%d" % (i % 977) * (1 + i % 9) + (b"\r" if i % 11 == 0 else b"")
                f.write(key + b"\t%d" % (i % 13 - 6) + (b"\r\n" if i % 4 == 0 else b"\n"))
                sums[key] += i % 13 - 6
        results = {}
        for target in supported:
            out_w, out_m = work / f"w-{target}.h5", work / f"m-{target}.h5"
            w = run(args.gridmr, target, ["wordcount", "--threads", "1", "--unit-size", "3000",
                                          "-o", str(out_w), *inputs])
            m = run(args.gridmr, target, ["montecarlo", "--threads", "1", "--samples", "3e7",
                                          "--unit-samples", "999999", "-o", str(out_m)])
            check(f"{target}: both jobs succeed", w.returncode == 0 and m.returncode == 0,
                  w.stderr + m.stderr)
            words, _ = read_result(out_w)
            check(f"{target}: word counts equal the independent count", words_of(words)[1] == expected)
            out_s = work / f"s-{target}.h5"
            st = run(args.gridmr, target, ["stream", "--threads", "1", "--unit-size", "20000",
                                           "--mapper", "cat", "-o", str(out_s), str(pairs)])
            check(f"{target}: the stream job succeeds", st.returncode == 0, st.stderr)
            streamed = read_result(out_s)[0] if st.returncode == 0 else {}
            if streamed:
                offsets, data = streamed["stream/keys/offsets"], streamed["stream/keys/data"].tobytes()
                keys = [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
                check(f"{target}: stream sums equal Python's",
                      dict(zip(keys, streamed["stream/values"].tolist())) == dict(sums))
            results[target] = (words, read_result(out_m)[0], streamed)
        first = supported[0]
        for target in supported[1:]:
            differ = [d for i in range(3) for d in same_datasets(results[first][i], results[target][i])]
            check(f"{target}: datasets identical to {first}'s", not differ, str(differ))

        # The x86-64-v3 build: `gridmr` hands over to it where the CPU can run it; the
        # baseline build (GRIDMR_VARIANT=off) gives the same datasets.
        program = next(line for line in version.stdout.splitlines() if line.startswith("program:"))
        if "avx2" in supported:
            check("on an AVX2 CPU gridmr runs its x86-64-v3 build", program.endswith("gridmr-x86-64-v3"),
                  program)
        env = dict(ENV, GRIDMR_VARIANT="off")
        base = subprocess.run([args.gridmr, "--version"], capture_output=True, text=True, env=env)
        check("GRIDMR_VARIANT=off keeps the baseline build", "program:" in base.stdout
              and not base.stdout.split("program:")[1].split()[0].endswith("-v3"), base.stdout)
        out = work / "base.h5"
        proc = subprocess.run(["mpirun", "-q", "-np", "2", "--bind-to", "none", os.path.abspath(args.gridmr),
                               "wordcount", "--threads", "1", "--unit-size", "3000", "-o", str(out),
                               *inputs], capture_output=True, text=True, timeout=300, env=env)
        differ = same_datasets(results[supported[0]][0], read_result(out)[0]) if proc.returncode == 0 else ["run failed"]
        check("the baseline build's word count datasets equal the best build's", not differ,
              str(differ) + proc.stderr)

        for bad, needle in [("neon", "unknown SIMD target"), ("AVX2", "unknown SIMD target")]:
            proc = run(args.gridmr, bad, ["wordcount", "-o", str(work / "bad.h5"), args.inputs])
            lines = proc.stderr.splitlines()
            check(f"GRIDMR_SIMD={bad} is a usage error with one line",
                  proc.returncode == 2 and len(lines) == 1 and needle in lines[0]
                  and not (work / "bad.h5").exists(), proc.stderr)
    finish()


if __name__ == "__main__":
    main()
