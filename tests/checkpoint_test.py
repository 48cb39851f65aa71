#!/usr/bin/python3
"""Checkpoint-restart (issue 16): a run interrupted by SIGTERM, by a killed rank or by SIGKILL to
the whole job at once (a power cut, as near as one process tree gets), run again with the same
command (on another number of ranks and threads, and once with --memory 64KiB, spilling what it
restores), skips the units it saved and gives datasets identical to an uninterrupted run; farm
items are not run twice; a checkpoint of another run is refused; a damaged run file (checksum,
truncation) is refused; --restart never/require and --keep-checkpoint; a streaming job resumed
the same way."""
import argparse
import os
import pathlib
import signal
import subprocess
import tempfile
import time

from gridmr_testlib import ENV, check, finish, mpirun, partials, read_result, same_datasets

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--gridmr", required=True)
parser.add_argument("--inputs", required=True)
args = parser.parse_args()
G = os.path.abspath(args.gridmr)


def interrupted(np, job_args, kill, delay_ms=300, after=2.5):
    """Starts a slowed-down run with a checkpoint, interrupts it with `kill` after `after` s."""
    env = dict(ENV, GRIDMR_DEBUG_UNIT_DELAY_MS=str(delay_ms))
    p = subprocess.Popen(["mpirun", "-q", "-np", str(np), "--bind-to", "none", "-x",
                          "GRIDMR_DEBUG_UNIT_DELAY_MS", G, *job_args],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    kill(p)
    try:
        p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
    return p.returncode


def sigterm(p):
    p.send_signal(signal.SIGTERM)


def kill_a_rank(p):
    ranks = subprocess.run(["pgrep", "-f", "^" + G + " "], capture_output=True, text=True).stdout.split()
    if ranks:
        os.kill(int(ranks[-1]), signal.SIGKILL)


def kill_everything(p):
    """The nearest thing to a power cut here: mpirun and every rank SIGKILLed at once, so that
    nothing gets to clean up (a run file being written stays a .partial)."""
    ranks = subprocess.run(["pgrep", "-f", "^" + G + " "], capture_output=True, text=True).stdout.split()
    for pid in [p.pid, *map(int, ranks)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def runs(d):
    return sorted(p.name for p in pathlib.Path(d).glob("run-*.run")) if pathlib.Path(d).is_dir() else []


def units_mapped(datasets):
    return int(datasets["stats/ranks"]["units"].sum())


with tempfile.TemporaryDirectory(prefix="gridmr-ckpt-") as work:
    work = pathlib.Path(work)
    corpus = work / "corpus"
    corpus.mkdir()
    books = sorted(pathlib.Path(args.inputs).rglob("*.txt"))
    for i in range(12):
        (corpus / f"f{i:02}.txt").write_bytes(b"".join(b.read_bytes() for b in books))
    wc = ["wordcount", "--quiet", "--unit-size", "256KiB"]

    ref = work / "ref.h5"
    r = mpirun(G, 2, [*wc, "-o", str(ref), str(corpus)])
    check("word count reference: exit 0", r.returncode == 0, r.stderr)
    reference = read_result(ref)[0]
    total_units = units_mapped(reference)

    # SIGTERM mid-run, then the same command on 3 ranks x 1 thread.
    for label, kill, np_first, np_again in [("SIGTERM to mpirun", sigterm, 2, ["3", "--threads", "1"]),
                                            ("SIGKILL to a rank", kill_a_rank, 3, ["2", "--threads", "2"]),
                                            # and a rerun that spills what it restores
                                            ("power cut: SIGKILL to mpirun and every rank", kill_everything, 2,
                                             ["2", "--threads", "2", "--memory", "64KiB"])]:
        ck = work / f"ck-{label.split()[0]}"
        out = work / f"out-{label.split()[0]}.h5"
        job = [*wc, "--checkpoint", str(ck), "--checkpoint-interval", "0.2", "-o", str(out), str(corpus)]
        code = interrupted(np_first, job, kill)
        saved = runs(ck)
        check(f"{label}: the run fails and leaves run files", code != 0 and len(saved) > 0 and not out.exists(),
              f"exit {code}, {len(saved)} run files")
        r = mpirun(G, int(np_again[0]), [job[0], *np_again[1:], *job[1:]])
        check(f"{label}: the rerun on {np_again[0]} ranks succeeds", r.returncode == 0, r.stderr)
        if r.returncode == 0:
            again = read_result(out)[0]
            differ = same_datasets(reference, again)
            check(f"{label}: datasets identical to an uninterrupted run", not differ, str(differ))
            check(f"{label}: the rerun skipped the saved units",
                  0 <= units_mapped(again) < total_units, f"{units_mapped(again)} of {total_units}")
            check(f"{label}: the checkpoint is removed after success", not ck.exists(), str(runs(ck)))
            check(f"{label}: no partial output left", not partials(out))

    # The checkpoint folder and the output inside the input folder: the rerun's walk leaves
    # both out (the checkpoint's own files once made the input set differ, and with
    # --restart never were read as words), and the result is the uninterrupted run's.
    ck, out = corpus / "ckpt", corpus / "inside.h5"
    job = [*wc, "--checkpoint", str(ck), "--checkpoint-interval", "0.2", "-o", str(out), str(corpus)]
    code = interrupted(2, job, sigterm)
    saved = runs(ck)
    r = mpirun(G, 2, job)
    ok = code != 0 and len(saved) > 0 and r.returncode == 0
    if ok:
        again = read_result(out)[0]
        differ = same_datasets(reference, again)
        ok = not differ and units_mapped(again) < total_units and not ck.exists()
    check("checkpoint and output inside the input folder: interrupted, rerun: identical", ok,
          f"exit {code}, {len(saved)} run files, rerun {r.returncode}: {r.stderr[-300:]}")
    r = mpirun(G, 2, [*wc, "--force", "--checkpoint", str(ck), "-o", str(out), str(corpus)])
    check("the same again over the earlier result: identical (the result is not an input)",
          r.returncode == 0 and not same_datasets(reference, read_result(out)[0]), r.stderr[-300:])
    out.unlink(missing_ok=True)  # the corpus serves the cases below

    # Spilling while saving checkpoints (--memory 64KiB): a thread's save carries the runs it
    # spilled since its last save, and saves still come at most once per interval and rank.
    ck, out = work / "ck-spill", work / "out-spill.h5"
    job = [*wc, "--memory", "64KiB", "--checkpoint", str(ck), "--checkpoint-interval", "1",
           "-o", str(out), str(corpus)]
    started = time.monotonic()
    code = interrupted(2, job, sigterm, after=3.5)
    seconds = time.monotonic() - started
    saved = runs(ck)
    # 2 ranks, one save per second each, plus a save of each's first unit at most.
    check("spilling with checkpoints: interrupted, with run files, at most one save per second "
          "and rank", code != 0 and 0 < len(saved) <= 2 * (int(seconds) + 2),
          f"exit {code}, {len(saved)} run files in {seconds:.1f} s")
    r = mpirun(G, 3, [job[0], "--threads", "2", *job[1:]])
    ok = r.returncode == 0
    check("spilling with checkpoints: the rerun on 3 ranks succeeds", ok, r.stderr)
    if ok:
        again = read_result(out)[0]
        check("spilling with checkpoints: datasets identical to an uninterrupted run",
              not same_datasets(reference, again), str(same_datasets(reference, again)))
        check("spilling with checkpoints: the rerun skipped the saved units",
              0 <= units_mapped(again) < total_units, f"{units_mapped(again)} of {total_units}")
        check("spilling with checkpoints: the rerun spilled",
              int(again["stats/ranks"]["spilled_bytes"].sum()) > 0)

    # Monte Carlo (generated units): the same.
    mc = ["montecarlo", "--quiet", "--samples", "4e7", "--unit-samples", "1e6", "--seed", "7"]
    mref = work / "mref.h5"
    r = mpirun(G, 1, [*mc, "-o", str(mref)])
    ck, out = work / "ck-mc", work / "mc.h5"
    job = [*mc, "--checkpoint", str(ck), "--checkpoint-interval", "0.2", "-o", str(out)]
    code = interrupted(2, job, sigterm)
    r = mpirun(G, 3, [*job])
    check("Monte Carlo: interrupted, rerun on 3 ranks: identical",
          code != 0 and r.returncode == 0 and not same_datasets(read_result(mref)[0], read_result(out)[0]),
          f"first exit {code}; {r.stderr}")

    # A farm: an item saved before the interruption is not run again.
    marks = work / "marks"
    marks.mkdir()
    ck, out = work / "ck-farm", work / "farm.h5"
    job = ["farm", "--quiet", "--range", "40", "--threads", "1", "--checkpoint", str(ck),
           "--checkpoint-interval", "0.2", "--command", f"echo x >> {marks}/{{}}; echo item {{}}", "-o", str(out)]
    code = interrupted(2, job, sigterm)
    r = mpirun(G, 2, job)
    ok = code != 0 and r.returncode == 0
    if ok:
        d = read_result(out)[0]
        offsets, data = d["farm/stdout/offsets"], d["farm/stdout/data"].tobytes()
        outputs = [data[offsets[i]:offsets[i + 1]] for i in range(40)]
        ok = outputs == [f"item {i}\n".encode() for i in range(40)]
    reruns = [p.name for p in marks.iterdir() if p.read_text().count("x") > 1]
    saved_once = sum(1 for p in marks.iterdir() if p.read_text().count("x") == 1)
    check("farm: interrupted and rerun: every item's output, in order", ok, f"{code} {r.stderr}")
    # An item is run twice only if it finished after the last save of the interrupted run.
    check("farm: saved items are not run again", saved_once > 0 and len(reruns) < 40, f"rerun: {len(reruns)}")

    # A farm over --items (they travel with their units, from rank 0): interrupted on 2 ranks,
    # rerun on 3, every item and its output in order; items saved are not run again. Then
    # the items file changed (an item's text, same size): a rerun is refused as another run.
    marks = work / "marks-items"
    marks.mkdir()
    names = [f"name {i} 'q'" if i % 7 == 0 else f"n{i}" for i in range(40)]
    items = work / "ck-items.txt"
    items.write_text("".join(n + "\n" for n in names))
    ck, out = work / "ck-farm-items", work / "farm-items.h5"
    job = ["farm", "--quiet", "--items", str(items), "--threads", "1", "--checkpoint", str(ck),
           "--checkpoint-interval", "0.2", "--command",
           f"echo x >> {marks}/$GRIDMR_ITEM; echo got {{}}", "-o", str(out)]
    code = interrupted(2, job, sigterm)
    saved_before = runs(ck)
    r = mpirun(G, 3, job)
    ok = code != 0 and r.returncode == 0
    if ok:
        d = read_result(out)[0]
        def column(name):
            offsets, data = d[name + "/offsets"], d[name + "/data"].tobytes()
            return [data[offsets[i]:offsets[i + 1]].decode() for i in range(len(offsets) - 1)]
        ok = column("farm/items") == names and column("farm/stdout") == [f"got {n}\n" for n in names]
    reruns = [p.name for p in marks.iterdir() if p.read_text().count("x") > 1]
    check("farm --items: interrupted on 2 ranks, rerun on 3: every item and output, in order",
          ok, f"{code} {r.stderr}")
    check("farm --items: saved items are not run again", saved_before and len(reruns) < 40,
          f"saved {len(saved_before)} run files, rerun: {len(reruns)}")
    out.unlink(missing_ok=True)
    code = interrupted(2, job, sigterm)
    time.sleep(0.01)
    items.write_text("".join(n.replace("n1", "m1") + "\n" for n in names))  # same size and lines
    r = mpirun(G, 2, job)
    lines = r.stderr.strip().splitlines()
    check("farm --items changed since the checkpoint: exit 2, one line, another run",
          code != 0 and r.returncode == 2 and len(lines) == 1 and "another run" in lines[0],
          f"{code} {r.returncode} {r.stderr}")

    # A damaged run file (one byte changed, or cut short) is refused, never used.
    ck, out = work / "ck-bad", work / "bad.h5"
    job = [*wc, "--checkpoint", str(ck), "--checkpoint-interval", "0.2", "-o", str(out), str(corpus)]
    interrupted(2, job, sigterm)
    saved = runs(ck)
    if len(saved) >= 2:
        flipped = ck / saved[0]
        data = bytearray(flipped.read_bytes())
        data[len(data) // 2] ^= 0x01
        flipped.write_bytes(bytes(data))
        r = mpirun(G, 2, job)
        check("a run file with one byte changed: exit 2, one line naming it",
              r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "damaged (checksum)" in r.stderr
              and saved[0] in r.stderr and not out.exists(), r.stderr)
        flipped.unlink()
        cut = ck / saved[1]
        cut.write_bytes(cut.read_bytes()[:-20])
        r = mpirun(G, 2, job)
        check("a run file cut short: exit 2, one line naming it",
              r.returncode == 2 and "damaged" in r.stderr and saved[1] in r.stderr and not out.exists(), r.stderr)
        cut.unlink()
        r = mpirun(G, 2, job)
        check("without the damaged files the rerun is exact",
              r.returncode == 0 and not same_datasets(reference, read_result(out)[0]), r.stderr)
    else:
        check("the interrupted run saved at least two run files", False, str(saved))

    # Another run's checkpoint is refused; --restart=never starts over.
    ck, out = work / "ck-other", work / "other.h5"
    job = [*wc, "--checkpoint", str(ck), "--checkpoint-interval", "0.2", "-o", str(out)]
    interrupted(2, [*job, str(corpus)], sigterm)
    (corpus / "f00.txt").touch()  # same bytes, another mtime: another input set
    r = mpirun(G, 2, [*job, str(corpus)])
    lines = r.stderr.strip().splitlines()
    check("a checkpoint of another run: exit 2, one line", r.returncode == 2 and len(lines) == 1
          and "another run" in lines[0] and runs(ck), r.stderr)
    r = mpirun(G, 2, [*job, "--restart=never", str(corpus)])
    check("--restart=never: starts over and succeeds", r.returncode == 0
          and not same_datasets(reference, read_result(out)[0]) and units_mapped(read_result(out)[0]) == total_units,
          r.stderr)
    r = mpirun(G, 2, [*wc, "--checkpoint", str(work / "ck-none"), "--restart", "require", "-o",
                      str(work / "req.h5"), str(corpus)])
    check("--restart=require without a checkpoint: exit 2, one line",
          r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no checkpoint" in r.stderr, r.stderr)
    r = mpirun(G, 2, [*wc, "--checkpoint", str(work / "ck-keep"), "--checkpoint-interval", "0",
                      "--keep-checkpoint", "-o", str(work / "keep.h5"), str(corpus)])
    check("--keep-checkpoint keeps the run files", r.returncode == 0 and runs(work / "ck-keep"), r.stderr)

    # A streaming job: its mapper ends before each save (its output may lag behind its input).
    mapper = f"/usr/bin/python3 {pathlib.Path(args.inputs).resolve().parent / 'examples/python/wordcount_mapper.py'}"
    sref, ck, out = work / "sref.h5", work / "ck-stream", work / "stream.h5"
    stream = ["stream", "--quiet", "--unit-size", "256KiB", "--mapper", mapper]
    r = mpirun(G, 2, [*stream, "-o", str(sref), str(corpus)])
    job = [*stream, "--checkpoint", str(ck), "--checkpoint-interval", "0.2", "-o", str(out), str(corpus)]
    code = interrupted(2, job, sigterm)
    saved = len(runs(ck))
    r = mpirun(G, 3, [job[0], "--threads", "1", *job[1:]])
    ok = code != 0 and saved > 0 and r.returncode == 0
    check("stream: interrupted, rerun on 3 ranks: identical to an uninterrupted run",
          ok and not same_datasets(read_result(sref)[0], read_result(out)[0]),
          f"first exit {code}, {saved} run files; {r.stderr}")
    check("stream: the rerun skipped the saved units",
          ok and units_mapped(read_result(out)[0]) < units_mapped(read_result(sref)[0]))

    # Exact float sums keep a key's values per band of exponents (its table
    # keys carry a band byte): words with values in three bands, resumed.
    fmapper = ("awk '{for (i = 1; i <= NF; i++) { n = length($i) % 3; "
               "print $i \"\\t\" (n == 0 ? \"1e-300\" : n == 1 ? \"0.125\" : \"3e290\") }}'")
    fref, fck, fout = work / "fref.h5", work / "ck-float", work / "float.h5"
    fstream = ["stream", "--quiet", "--unit-size", "256KiB", "--values", "float", "--mapper", fmapper]
    r = mpirun(G, 2, [*fstream, "-o", str(fref), str(corpus)])
    job = [*fstream, "--checkpoint", str(fck), "--checkpoint-interval", "0.2", "-o", str(fout), str(corpus)]
    code = interrupted(2, job, sigterm)
    saved = len(runs(fck))
    r2 = mpirun(G, 3, [job[0], "--threads", "1", *job[1:]])
    ok = r.returncode == 0 and code != 0 and saved > 0 and r2.returncode == 0
    check("float stream: interrupted, rerun on 3 ranks: identical to an uninterrupted run",
          ok and not same_datasets(read_result(fref)[0], read_result(fout)[0]),
          f"first exit {code}, {saved} run files; {r.stderr} {r2.stderr}")
finish()
