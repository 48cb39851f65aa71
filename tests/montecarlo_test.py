#!/usr/bin/python3
"""`gridmr montecarlo` under mpirun: estimates within 5 standard errors of pi, unit hits
recomputed by an independent ARS-7 (the default) and Philox4x32-10 in Python, the generator
recorded in the file, identical results for any number of ranks and threads, and usage errors
for bad values."""
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


# ARS-7 (Salmon et al., SC'11; Random123's ars4x32 with 7 rounds), written from the AES
# specification (FIPS-197): the S-box from inverses in GF(2^8), ShiftRows, MixColumns.
def gf_mul(a, b):
    product = 0
    while b:
        if b & 1:
            product ^= a
        a = ((a << 1) ^ (0x11B if a & 0x80 else 0)) & 0xFF
        b >>= 1
    return product


def make_sbox():
    inverse = [0] * 256
    for x in range(1, 256):
        inverse[x] = next(y for y in range(1, 256) if gf_mul(x, y) == 1)
    rotl = lambda v, n: ((v << n) | (v >> (8 - n))) & 0xFF
    return [inverse[x] ^ rotl(inverse[x], 1) ^ rotl(inverse[x], 2) ^ rotl(inverse[x], 3)
            ^ rotl(inverse[x], 4) ^ 0x63 for x in range(256)]


SBOX = make_sbox()
TIMES2 = [gf_mul(x, 2) for x in range(256)]
WEYL = (0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B)  # added to the two 64-bit key halves per round


def aes_round(state, key, last):
    """AESENC (or AESENCLAST): state and key are 16 bytes, byte 4c + r in column c, row r."""
    s = [SBOX[state[4 * ((c + r) % 4) + r]] for c in range(4) for r in range(4)]
    if not last:
        mixed = []
        for c in range(4):
            a = s[4 * c:4 * c + 4]
            mixed += [TIMES2[a[r]] ^ TIMES2[a[(r + 1) % 4]] ^ a[(r + 1) % 4] ^ a[(r + 2) % 4] ^ a[(r + 3) % 4]
                      for r in range(4)]
        s = mixed
    return [x ^ k for x, k in zip(s, key)]


def ars4x32_7(counter, key):
    to_bytes = lambda words: [(w >> (8 * i)) & 0xFF for w in words for i in range(4)]
    state = [x ^ k for x, k in zip(to_bytes(counter), to_bytes(key))]
    lo, hi = key[0] | key[1] << 32, key[2] | key[3] << 32
    for r in range(1, 8):
        lo, hi = (lo + WEYL[0]) % 2 ** 64, (hi + WEYL[1]) % 2 ** 64
        state = aes_round(state, to_bytes((lo & MASK, lo >> 32, hi & MASK, hi >> 32)), r == 7)
    return tuple(sum(state[4 * w + i] << (8 * i) for i in range(4)) for w in range(4))


def hits(seed, begin, end, generator="ars"):
    """Hits of samples [begin, end) as README documents the stream."""
    total = 0
    for s in range(begin, end):
        b = s // 2
        counter = (b & MASK, b >> 32, STREAM, 0)
        if generator == "philox":
            w = philox4x32_10(counter, seed & MASK, seed >> 32)
        else:
            w = ars4x32_7(counter, (seed & MASK, seed >> 32, 0, 0))
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

        # Independent recomputation of chosen units, with odd unit sizes that split blocks,
        # for the default generator and for Philox, which made the results of gridmr < 0.6.
        for generator, unit in (("ars", 1000), ("ars", 999), ("philox", 1000), ("philox", 999)):
            chosen = [] if generator == "ars" else ["--generator", generator]
            datasets, attrs = run(g, work, 3, 2, ["--samples", "100001", "--seed", "77", *chosen,
                                                  "--unit-samples", str(unit)], f"u{unit}{generator}.h5")
            recorded = attrs["montecarlo"]["generator"]
            recorded = recorded.decode() if isinstance(recorded, bytes) else recorded
            check(f"{generator}: the file records the generator",
                  recorded == {"ars": "ars4x32-7", "philox": "philox4x32-10"}[generator], recorded)
            unit_hits = datasets["montecarlo/unit_hits"]
            units = math.ceil(100001 / unit)
            for i in (0, 1, 2, units // 2, units - 1):
                want = hits(77, i * unit, min(100001, (i + 1) * unit), generator)
                check(f"{generator}, unit-samples {unit}: unit {i} hits equal Python's {generator}",
                      unit_hits[i] == want, f"{unit_hits[i]} vs {want}")

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
                    ["--samples", "1.5"], ["--seed", "-1"], ["--samples", "1e30"],
                    ["--generator", "xoshiro"]):
            out = pathlib.Path(work) / "bad.h5"
            proc = mpirun(g, 2, ["montecarlo", *bad, "-o", str(out)], timeout=60)
            lines = proc.stderr.splitlines()
            check(f"{' '.join(bad)} is a usage error",
                  proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("gridmr: error: ")
                  and bad[0] in lines[0] and not out.exists(), f"exit {proc.returncode}, {lines}")
    finish()


if __name__ == "__main__":
    main()
