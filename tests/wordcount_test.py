#!/usr/bin/python3
"""`gridmr wordcount` under mpirun at several rank, thread and unit-size settings, checked
word by word against an independent count, and byte for byte against each other."""
import argparse
import pathlib
import sys
import tempfile

from gridmr_testlib import partials, expected_counts, mpirun, read_result, same_datasets, words_of


def make_edge_inputs(root):
    """The odd files the issue names: each one a way to lose or double-count a word."""
    root = pathlib.Path(root)
    (root / "tree/a/b/c").mkdir(parents=True)
    files = {
        "empty.txt": b"",
        "no_final_newline.txt": b"the last word has no newline",
        "crlf.txt": b"Line One\r\nLINE two\r\n\r\nthree\r\n",
        "nul_bytes.bin": b"abc\0def\0\0GHI\0" + bytes(range(256)),
        "utf8.txt": "Ünïcödé naïve café — 日本語 Straße ÀÉÎ\n".encode(),
        "long_word.txt": b"start " + b"Xy" * (3 * 1024 * 1024 // 2 + 17) + b" end\n",
        "tree/x.txt": b"deep trees hold words too\n",
        "tree/a/y.txt": b"Words, words; WORDS!",
        "tree/a/b/c/z.txt": b"bottom of the tree",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return [str(root)]


def run_and_check(args, np, threads, unit, inputs, expected, work, extra=()):
    out = pathlib.Path(work) / f"np{np}-t{threads}-u{unit}-{len(extra)}.h5"
    label = f"np={np} threads={threads} unit={unit} {' '.join(extra)}"
    proc = mpirun(args.gridmr, np, ["wordcount", "--threads", str(threads), "--unit-size", unit,
                                     *extra, "-o", str(out), *inputs])
    if proc.returncode != 0:
        sys.exit(f"FAIL {label}: exit {proc.returncode}\n{proc.stderr}")
    datasets, attributes = read_result(out)
    keys, got = words_of(datasets)
    problems = []
    if got != expected:
        missing = [k for k in expected if got.get(k) != expected[k]][:5]
        extra_keys = [k for k in got if k not in expected][:5]
        problems.append(f"counts differ: wrong or missing {missing}, unexpected {extra_keys}")
    if keys != sorted(keys):
        problems.append("keys are not sorted by bytes")
    wc = attributes["wordcount"]
    if wc["total_words"] != sum(expected.values()) or wc["unique_words"] != len(expected):
        problems.append(f"totals wrong: {wc}")
    if attributes["/"]["ranks"] != np or attributes["/"]["threads_per_rank"] != threads:
        problems.append(f"root attributes wrong: {attributes['/']}")
    stats = datasets["stats/ranks"]
    if len(stats) != np or list(stats["rank"]) != list(range(np)):
        problems.append(f"/stats/ranks has the wrong rows: {stats}")
    if partials(out):
        problems.append("a .partial file was left behind")
    if problems:
        sys.exit(f"FAIL {label}: " + "; ".join(problems))
    print(f"ok   {label}: {len(got)} distinct words, {sum(got.values())} in all, "
          f"{int(stats['shuffle_rounds'].max())} shuffle round(s)")
    return datasets, stats


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True, help="the repository's inputs/ folder")
    parser.add_argument("--np", type=int, default=2)
    parser.add_argument("--identical", action="store_true",
                        help="compare runs at np 1, 2, 3 and threads 1, 2 with each other")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gridmr-wc-") as work:
        inputs = [args.inputs] + make_edge_inputs(pathlib.Path(work) / "edge")
        expected = expected_counts(inputs)
        if args.identical:
            settings = [(np, t, "3KiB", ()) for np in (1, 2, 3) for t in (1, 2)]
        else:
            settings = [(args.np, t, u, ()) for t in (1, 2)
                        for u in ("1KiB", "5000", "64KiB", "16MiB")]
            # A tiny --memory forces hundreds of shuffle rounds: the round logic must lose nothing.
            settings.append((args.np, 2, "64KiB", ("--memory", "4KiB")))
        reference = None
        for np, threads, unit, extra in settings:
            datasets, stats = run_and_check(args, np, threads, unit, inputs, expected, work, extra)
            if extra and np > 1 and stats["shuffle_rounds"].max() < 10:
                sys.exit("FAIL --memory 4KiB did not split the shuffle into rounds")
            if reference is None:
                reference = datasets
            elif differ := same_datasets(reference, datasets):
                sys.exit(f"FAIL np={np} threads={threads} unit={unit}: datasets differ from the "
                         f"first run: {differ}")
        print(f"{len(settings)} passed, 0 failed")


if __name__ == "__main__":
    main()
