#!/usr/bin/python3
"""`gridmr montecarlo` under mpirun: estimates within 5 standard errors of pi, unit hits
recomputed by an independent Philox4x32-10 in Python, identical results for any number of
ranks and threads, and usage errors for bad values."""
import argparse
import math
import pathlib
import sys
import tempfile

from gridmr_testlib import check, finish, mpirun, read_result, same_datasets

M0, M1, W0, W1, MASK = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85, 0xFFFFFFFF
STREAM = 0x70690000


def philox4x32_10(counter, k0, k1):
    x0, x1, x2, x3 = counter
    for _ in range(10):
        p0, p1 = M0 * x0, M1 * x2
        x0, x1, x2, x3 = (p1 >> 32) ^ x1 ^ k0, p1 & MASK, (p0 >> 32) ^ x3 ^ k1, p0 & MASK
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return x0, x1, x2, x3


def hits(seed, begin, end):
    """Hits of samples [begin, end) as README documents the stream."""
    total = 0
    for s in range(begin, end):
        b = s // 2
        w = philox4x32_10((b & MASK, b >> 32, STREAM, 0), seed & MASK, seed >> 32)
        u, v = (w[0], w[1]) if s % 2 == 0 else (w[2], w[3])
        total += u * u + v * v < 2 ** 64
    return total




def run(gridmr, work, np, threads, args, name):
    out = pathlib.Path(work) / name
    proc = mpirun(gridmr, np, ["montecarlo", "--threads", str(threads), *args, "-o", str(out)])
    if proc.returncode != 0:
        sys.exit(f"FAIL np={np} threads={threads} {args}: exit {proc.returncode}\n{proc.stderr}")
    return read_result(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    args = parser.parse_args()
    g = args.gridmr
    with tempfile.TemporaryDirectory(prefix="gridmr-mc-") as work:
        for seed in (1, 2, 3, 12345, 2 ** 64 - 1):
            datasets, attrs = run(g, work, 2, 1, ["--samples", "2e8", "--seed", str(seed)], f"s{seed}.h5")
            mc = attrs["montecarlo"]
            n, h = int(mc["samples"]), int(mc["hits"])
            p = h / n
            sigma = 4 * math.sqrt(p * (1 - p) / n)
            off = abs(mc["estimate"] - math.pi) / mc["std_error"]
            check(f"seed {seed}: estimate within 5 standard errors of pi", off < 5,
                  f"{mc['estimate']:.8f} +/- {mc['std_error']:.2e} ({off:.2f} sigma)")
            check(f"seed {seed}: attributes agree with each other",
                  n == 2 * 10 ** 8 and mc["seed"] == seed and abs(mc["estimate"] - 4 * p) < 1e-15
                  and abs(mc["std_error"] - sigma) < 1e-15
                  and mc["units"] == math.ceil(n / 16777216) == len(datasets["montecarlo/unit_hits"]))
            check(f"seed {seed}: unit_hits sum to hits", int(datasets["montecarlo/unit_hits"].sum()) == h)

        # Independent recomputation of chosen units, with odd unit sizes that split Philox blocks.
        for unit in (1000, 999):
            datasets, attrs = run(g, work, 3, 2, ["--samples", "100001", "--seed", "77",
                                                  "--unit-samples", str(unit)], f"u{unit}.h5")
            unit_hits = datasets["montecarlo/unit_hits"]
            units = math.ceil(100001 / unit)
            for i in (0, 1, 2, units // 2, units - 1):
                want = hits(77, i * unit, min(100001, (i + 1) * unit))
                check(f"unit-samples {unit}: unit {i} hits equal Python's Philox", unit_hits[i] == want,
                      f"{unit_hits[i]} vs {want}")

        # Identical datasets for any number of ranks and threads.
        reference = None
        for np in (1, 2, 3):
            for threads in (1, 2):
                datasets, _ = run(g, work, np, threads, ["--samples", "3e7", "--seed", "9",
                                                         "--unit-samples", "1000003"], f"i{np}{threads}.h5")
                if reference is None:
                    reference = datasets
                else:
                    differ = same_datasets(reference, datasets)
                    check(f"np={np} threads={threads} identical to np=1 threads=1", not differ, str(differ))

        # Usage errors: exit 2, one line, no output.
        for bad in (["--samples", "0"], ["--samples", "-5"], ["--unit-samples", "0"],
                    ["--samples", "1.5"], ["--seed", "-1"], ["--samples", "1e30"]):
            out = pathlib.Path(work) / "bad.h5"
            proc = mpirun(g, 2, ["montecarlo", *bad, "-o", str(out)], timeout=60)
            lines = proc.stderr.splitlines()
            check(f"{' '.join(bad)} is a usage error",
                  proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("gridmr: error: ")
                  and bad[0] in lines[0] and not out.exists(), f"exit {proc.returncode}, {lines}")
    finish()


if __name__ == "__main__":
    main()
