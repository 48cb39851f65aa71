"""`gridmr farm`: items from a file (with {} and on stdin) and from a range, the
Python Monte Carlo example against the same function run in Python, identical
datasets at several rank and thread counts, retries, --max-failures, timeouts,
usage errors, and SIGTERM (no orphaned commands, no partial); the same for
long-lived workers (--worker, gridmr_stream.serve): answers, restarts after a
crash, an exception, a worker that quits, a timeout; --items compressed (.gz, .zst, .bz2, .xz)
as the plain list, and cut short as one error line."""
import argparse
import atexit
import bz2
import gzip
import lzma
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
from gridmr_testlib import (ENV, check, finish, mpirun, mpirun_peak_rss, partials, read_result,
                            same_datasets)

parser = argparse.ArgumentParser()
parser.add_argument("--gridmr", required=True)
parser.add_argument("--examples", required=True)
args = parser.parse_args()
PY = "/usr/bin/python3"
EX = pathlib.Path(args.examples).resolve()
work = pathlib.Path(tempfile.mkdtemp(prefix="gridmr-farm-"))
atexit.register(shutil.rmtree, work, True)  # the scratch folder goes, whatever the outcome
# Datasets that must not depend on the ranks: all but where and how long items ran.
PER_RUN = ("farm/rank", "farm/seconds")


def csr(d, name):
    offsets, data = d[name + "/offsets"], d[name + "/data"].tobytes()
    return [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def farm(out, np, threads, *options, timeout=300, env=None):
    return mpirun(args.gridmr, np, ["farm", "--quiet", "--force", "--threads", str(threads),
                                    *options, "-o", str(out)], timeout=timeout, env=env)


def check_no_sleep_left(label):
    """The timed-out attempt's group got SIGKILL: give the kernel a moment to end it on a busy
    VM (a leaked sleep would still be there after 3 s), and name what is left if any."""
    for _ in range(30):
        left = subprocess.run(["pgrep", "-a", "-f", long_sleep], capture_output=True,
                              text=True).stdout
        if not left:
            break
        time.sleep(0.1)
    check(f"{label}: no sleep left behind", not left, left)


def across(label, *options, configs=((1, 1), (2, 2), (3, 1)), env=None):
    results = []
    for np, threads in configs:
        out = work / f"{label}-{np}-{threads}.h5"
        r = farm(out, np, threads, *options, env=env)
        check(f"{label}: np {np} threads {threads} exit 0", r.returncode == 0, r.stderr[-300:])
        if r.returncode != 0:
            return None
        results.append(read_result(out)[0])
    for i in range(1, len(results)):
        differ = [n for n in same_datasets(results[0], results[i]) if n not in PER_RUN]
        check(f"{label}: {configs[i]} identical to {configs[0]}", not differ, str(differ))
    return results[0]


# Items from a file, with awkward characters, substituted for {}.
items = ["plain", "two words", "it's", 'quote "q"', "$HOME", "semi;colon", "", "* glob", "last"]
item_file = work / "items.txt"
item_file.write_text("".join(i + "\n" for i in items))
d = across("items with {}", "--items", str(item_file), "--command", "printf '<%s>' {}")
if d is not None:
    check("items with {}: items in file order", csr(d, "farm/items") == [i.encode() for i in items])
    check("items with {}: each stdout is the item, passed as one argument",
          csr(d, "farm/stdout") == [f"<{i}>".encode() for i in items], str(csr(d, "farm/stdout")))
    check("items with {}: exit codes 0, one attempt",
          list(d["farm/exit_code"]) == [0] * len(items) and list(d["farm/attempts"]) == [1] * len(items))

# A file written on Windows: the \r before each newline is not part of the item.
crlf_file = work / "items-crlf.txt"
crlf_file.write_bytes(b"one\r\ntwo words\r\n\r\nlast\r\n")
d = across("items with CRLF", "--items", str(crlf_file), "--command", "printf '<%s>' {}",
           configs=((1, 1), (2, 2)))
if d is not None:
    check("items with CRLF: the items and what the command got have no \\r",
          csr(d, "farm/items") == [b"one", b"two words", b"", b"last"]
          and csr(d, "farm/stdout") == [b"<one>", b"<two words>", b"<>", b"<last>"],
          str(csr(d, "farm/stdout")))

# A compressed list (.gz, .zst, .bz2, .xz) is read as the text it holds: the same items and
# results as the plain list; its text goes to an unnamed file of $TMPDIR, which leaves nothing.
plain_items = "".join(i + "\n" for i in items).encode()
scratch = work / "scratch"
scratch.mkdir()
in_scratch = dict(ENV, TMPDIR=str(scratch))
compressed_items = {
    "items.txt.gz": gzip.compress(plain_items),
    "items.txt.zst": subprocess.run(["zstd", "-q", "-c"], input=plain_items, capture_output=True,
                                    check=True).stdout,
    "items.txt.bz2": bz2.compress(plain_items),
    "items.txt.xz": lzma.compress(plain_items),
}
for name, data in compressed_items.items():
    (work / name).write_bytes(data)
    d = across(f"items from {name}", "--items", str(work / name), "--command", "printf '<%s>' {}",
               configs=((1, 1), (2, 2)), env=in_scratch)
    if d is not None:
        check(f"items from {name}: the plain list's items and outputs",
              csr(d, "farm/items") == [i.encode() for i in items]
              and csr(d, "farm/stdout") == [f"<{i}>".encode() for i in items],
              str(csr(d, "farm/items")))
check("compressed items: nothing left in $TMPDIR", list(scratch.iterdir()) == [],
      str(list(scratch.iterdir())))
# With --scratch the text goes there, not to $TMPDIR: with $TMPDIR a file (no folder to make a
# file in; mpirun's own session folder kept in /tmp), the list is read only under --scratch.
not_a_folder = work / "tmpdir-is-a-file"
not_a_folder.write_bytes(b"")
broken_tmpdir = dict(ENV, TMPDIR=str(not_a_folder), OMPI_MCA_orte_tmpdir_base="/tmp")
out = work / "items-scratch.h5"
r = farm(out, 2, 1, "--items", str(work / "items.txt.gz"), "--command", "printf '<%s>' {}",
         "--scratch", str(scratch), env=broken_tmpdir)
check("items from a .gz with --scratch: exit 0, read through --scratch",
      r.returncode == 0 and csr(read_result(out)[0], "farm/stdout")
      == [f"<{i}>".encode() for i in items], r.stderr[-300:])
r = farm(work / "items-tmpdir.h5", 2, 1, "--items", str(work / "items.txt.gz"), "--command",
         "printf '<%s>' {}", env=broken_tmpdir)
check("the same without --scratch: exit 1, one line naming $TMPDIR (so --scratch was used above)",
      r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
      and str(not_a_folder) in r.stderr, r.stderr[-300:])
check("--scratch: nothing left there", list(scratch.iterdir()) == [], str(list(scratch.iterdir())))

# One cut short stops the job before any item runs: one line naming it, exit 1, no output.
cut_items = work / "cut-items.txt.gz"
cut_items.write_bytes(compressed_items["items.txt.gz"][:20])
out = work / "cut-items.h5"
r = farm(out, 2, 1, "--items", str(cut_items), "--command", f"touch {work / 'ran'}", env=in_scratch)
lines = r.stderr.strip().splitlines()
check("items from a cut .gz: exit 1, one line naming it, no item run, no output or scratch file",
      r.returncode == 1 and len(lines) == 1
      and f"cannot decompress '{cut_items}' (gzip): " in lines[0] and "cut short" in lines[0]
      and not (work / "ran").exists() and not out.exists() and partials(out) == []
      and list(scratch.iterdir()) == [], r.stderr[-300:])

# Items on stdin when the command has no {}.
d = across("items on stdin", "--items", str(item_file), "--command",
           f"{PY} -c 'import sys; print(sys.stdin.read()[::-1], end=\"\")'", configs=((1, 1), (2, 2)))
if d is not None:
    check("items on stdin: each item reaches stdin with a newline",
          csr(d, "farm/stdout") == [(i + "\n")[::-1].encode() for i in items])

# The items stay on rank 0 and travel with their units, a batch of at most 64 MiB of items at a
# time (here GRIDMR_DEBUG_BATCH_PAYLOAD_BYTES makes it 100 kB): 600 items of 20 kB (random
# letters, each its own) through a worker that answers with the item's length and first and last
# bytes, so that units go back to the queue whenever a batch is full. Dynamic and static
# scheduling, 1-3 ranks, identical datasets, and every item comes back whole in the result.
rng = random.Random(12)
big_items = [bytes(rng.choice(b"abcdefghij") for _ in range(40)) * 500 for _ in range(600)]
big_file = work / "big-items.txt"
big_file.write_bytes(b"\n".join(big_items))  # the last line without its newline
big_worker_py = work / "big_worker.py"
big_worker_py.write_text("import sys\n"
                         "for line in sys.stdin.buffer:\n"
                         "    i = line.rstrip(b'\\n')\n"
                         "    sys.stdout.buffer.write(b'%d%s%s\\n' % (len(i), i[:3], i[-3:]))\n"
                         "    sys.stdout.flush()\n")
big_worker = f"{PY} {big_worker_py}"
for schedule in ("dynamic", "static"):
    label = f"20 kB items, {schedule}"
    d = across(label, "--schedule", schedule, "--items", str(big_file), "--worker", big_worker,
               configs=((1, 1), (2, 2), (3, 1)), env=dict(ENV, GRIDMR_DEBUG_BATCH_PAYLOAD_BYTES="100000"))
    if d is not None:
        check(f"{label}: every item whole in the result", csr(d, "farm/items") == big_items)
        check(f"{label}: each item reached its worker whole",
              csr(d, "farm/stdout") == [b"%d%s%s" % (len(i), i[:3], i[-3:]) for i in big_items])

# Items changed between planning and mapping: rank 0 reads a unit's lines when the unit leaves,
# so a file cut short is found there; exit 1, one line naming the file, no output.
for np in (1, 2):
    cut_file = work / f"cut-items-{np}.txt"
    cut_file.write_text("".join(f"item {i}\n" for i in range(2000)))
    out = work / f"cut-items-{np}.h5"
    job = subprocess.Popen(["mpirun", "-q", "-np", str(np), "--bind-to", "none",
                            os.path.abspath(args.gridmr), "farm", "--quiet", "--threads", "1",
                            "--items", str(cut_file), "--worker", "cat", "-o", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(ENV, GRIDMR_DEBUG_MAP_DELAY_MS="2500"))
    time.sleep(1.5)  # planned by now; mapping waits
    os.truncate(cut_file, 5000)
    _, stderr = job.communicate(timeout=120)
    lines = [l for l in stderr.splitlines() if l.startswith("gridmr:")]
    check(f"items cut short while the job ran ({np} ranks): exit 1, one line naming the file",
          job.returncode == 1 and len(lines) == 1 and "changed while the job ran" in lines[0]
          and str(cut_file.name) in lines[0], f"{job.returncode}: {stderr[-400:]}")
    check(f"items cut short while the job ran ({np} ranks): no output, no partial",
          not out.exists() and not partials(out))

# The Python Monte Carlo example over a range, against the same function in Python.
N = 40
d = across("montecarlo range", "--range", str(N), "--command", f"{PY} {EX}/montecarlo_item.py {{}} 3000",
           configs=((1, 2), (3, 1)))
if d is not None:
    def item(seed, samples=3000):
        rng = random.Random(seed)
        hits = 0
        for _ in range(samples):
            x, y = rng.random(), rng.random()
            hits += x * x + y * y < 1.0
        return f"{hits} {samples}\n".encode()
    check("montecarlo range: every item's output equals Python's", csr(d, "farm/stdout") == [item(i) for i in range(N)])
    check("montecarlo range: items are 0..N-1", csr(d, "farm/items") == [str(i).encode() for i in range(N)])
    pi = work / "montecarlo range-1-2.h5"
    r = subprocess.run([args.gridmr, "show", str(pi), "--top", "3"], capture_output=True, text=True)
    check("montecarlo range: gridmr show lists the items", r.returncode == 0 and f"{N} items, 0 failed" in r.stdout
          and item(1).decode().strip() in r.stdout, r.stdout + r.stderr)
    r = subprocess.run([PY, str(EX / "farm_pi.py"), str(pi)], capture_output=True, text=True,
                       env=dict(ENV, GRIDMR=os.path.abspath(args.gridmr)))
    check("montecarlo range: farm_pi.py reads the result", r.returncode == 0 and "pi ~ 3.1" in r.stdout, r.stdout + r.stderr)

# Retries: each item fails its first attempt (a marker file per item), then succeeds.
marks = work / "marks"
marks.mkdir()
out = work / "retry.h5"
r = farm(out, 2, 2, "--range", "6", "--retries", "2", "--command",
         f"test -e {marks}/{{}} || {{ touch {marks}/{{}}; exit 5; }}; echo ok {{}}")
check("retries: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    check("retries: every item took two attempts and succeeded",
          list(d["farm/attempts"]) == [2] * 6 and list(d["farm/exit_code"]) == [0] * 6)
    check("retries: stdout is the successful attempt's", csr(d, "farm/stdout") == [f"ok {i}\n".encode() for i in range(6)])

# Failures beyond --max-failures: exit 1, one line naming the first failed item, no output.
out = work / "fail.h5"
fail_cmd = "test {} -ne 7 && test {} -ne 3 || { echo item {} says no >&2; exit 9; }"
r = farm(out, 2, 2, "--range", "10", "--retries", "1", "--command", fail_cmd)
lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
check("too many failures: exit 1", r.returncode == 1, r.stderr[-300:])
check("too many failures: one line naming the first failed item, its status and stderr",
      len(lines) == 1 and "item 3" in lines[0] and "status 9" in lines[0] and "item 3 says no" in lines[0],
      str(lines))
check("too many failures: no output, no partial", not out.exists() and not partials(out))

# With --items the line names the item's text too, which only rank 0 holds (read again there).
named_file = work / "named-items.txt"
named_file.write_text("".join(("bad apple" if i in (41, 77) else f"good {i}") + "\n"
                              for i in range(120)))
for np, options in ((3, ["--command", 'case {} in bad*) exit 4;; esac; echo ok']),
                    (2, ["--worker", "while read -r i; do case $i in bad*) exit 4;; esac; "
                                     "echo ok; done"])):
    r = farm(out, np, 1, "--items", str(named_file), *options)
    lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
    check(f"too many failures, --items, {options[0]}: one line naming item 41 and its text",
          r.returncode == 1 and len(lines) == 1 and "item 41 ('bad apple')" in lines[0]
          and "status 4" in lines[0], f"{r.returncode}: {lines}")

# A failed item of 300 kB (on stdin: too long for an argument) is named cut to its first bytes.
long_file = work / "long-failing-item.txt"
long_file.write_text("short\n" + "L" * 300000 + "\n")
r = farm(out, 2, 1, "--items", str(long_file), "--command", "false")
lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
check("a short failed item beside a long one: named whole",
      r.returncode == 1 and len(lines) == 1 and len(lines[0]) < 1000
      and "item 0 ('short')" in lines[0], f"{r.returncode}: {[l[:300] for l in lines]}")
r = farm(out, 2, 1, "--items", str(long_file), "--command", "test \"$(head -c 5)\" = short || exit 3")
lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
check("a failed item of 300 kB: one line under 1000 bytes, naming the item cut and its size",
      r.returncode == 1 and len(lines) == 1 and len(lines[0]) < 1000
      and "item 1 ('LLLL" in lines[0] and "..., 300000 bytes)" in lines[0],
      f"{r.returncode}: {[l[:300] for l in lines]}")

# Within --max-failures: the result records them, and one warning says how many.
r = farm(out, 2, 2, "--range", "10", "--max-failures", "2", "--command", fail_cmd)
warnings = [l for l in r.stderr.splitlines() if l.startswith("gridmr: warning")]
check("failures within --max-failures: exit 0 and one warning",
      r.returncode == 0 and len(warnings) == 1 and "2 items failed" in warnings[0], r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    codes = list(d["farm/exit_code"])
    check("failures within --max-failures: exit codes recorded", codes == [0, 0, 0, 9, 0, 0, 0, 9, 0, 0], str(codes))

# --timeout kills an attempt that runs too long (its whole process group).
out = work / "timeout.h5"
# The sleep's length is this test's own (300.<pid> s), so that the check below
# cannot mistake anyone else's `sleep 300` on the machine for a leak.
long_sleep = f"sleep 300.{os.getpid()}"
r = farm(out, 1, 2, "--range", "3", "--timeout", "1", "--max-failures", "3", "--command",
         "if [ {} -eq 1 ]; then " + long_sleep + "\n fi; echo {}")
check("timeout: exit 0 with the item recorded as failed", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    check("timeout: timed_out and exit code 137 for that item only",
          list(d["farm/timed_out"]) == [0, 1, 0] and list(d["farm/exit_code"]) == [0, 137, 0],
          f"{list(d['farm/timed_out'])} {list(d['farm/exit_code'])}")
    check("timeout: the attempt ended near the limit", 0.9 < d["farm/seconds"][1] < 10, str(d["farm/seconds"]))
check_no_sleep_left("timeout")

# --- Workers (--worker): one long-lived process per thread, one line in and out per item. ---
# The Python Monte Carlo served by gridmr_stream.serve(), against the same function in Python.
d = across("worker montecarlo", "--range", str(N), "--worker", f"{PY} {EX}/montecarlo_worker.py 3000",
           configs=((1, 2), (3, 1)))
if d is not None:
    check("worker montecarlo: every item's line equals Python's (without its newline)",
          csr(d, "farm/stdout") == [item(i).rstrip(b"\n") for i in range(N)])
    pi = work / "worker montecarlo-1-2.h5"
    r = subprocess.run([PY, str(EX / "farm_pi.py"), str(pi)], capture_output=True, text=True,
                       env=dict(ENV, GRIDMR=os.path.abspath(args.gridmr)))
    check("worker montecarlo: farm_pi.py reads the result", r.returncode == 0 and "pi ~ 3.1" in r.stdout,
          r.stdout + r.stderr)
    r = subprocess.run([args.gridmr, "show", str(pi), "--top", "2"], capture_output=True, text=True)
    check("worker montecarlo: gridmr show names the worker", r.returncode == 0 and "; worker '" in r.stdout,
          r.stdout + r.stderr)

# Items with awkward characters reach a shell worker's stdin as they are, one per line.
d = across("worker items", "--items", str(item_file), "--worker",
           "while IFS= read -r item; do printf '<%s>\\n' \"$item\"; done")
if d is not None:
    check("worker items: each answer is its item, in item order",
          csr(d, "farm/stdout") == [f"<{i}>".encode() for i in items], str(csr(d, "farm/stdout")))

# Workers that hold their answers in a buffer until their input ends. Python's print() is one
# unless PYTHONUNBUFFERED is set (gridmr sets it for workers when the user has not): a plain
# print loop answers with one worker per thread and no warning. mawk (awk) and sed behind a pipe
# are others: each read a unit's items and wait for more while gridmr waits for their answers;
# gridmr sees that in /proc, ends their input (they answer then), warns once per rank and gives
# every later unit a worker of its own. --timeout and a time limit turn a hang into a failure.
no_unbuffered = {k: v for k, v in ENV.items() if k != "PYTHONUNBUFFERED"}
print_loop = work / "print_loop.py"
print_loop.write_text(f"import sys\nopen({str(work / 'print-starts')!r}, 'a').write('x')\n"
                      "for line in sys.stdin:\n    print(int(line) * 3)\n")
for np, threads in ((1, 1), (2, 2)):
    (work / "print-starts").unlink(missing_ok=True)
    out = work / f"print-loop-{np}.h5"
    r = farm(out, np, threads, "--range", "1000", "--timeout", "20", "--worker",
             f"{PY} {print_loop}", env=no_unbuffered, timeout=120)
    check(f"print() worker ({np}x{threads}): exit 0, no warning",
          r.returncode == 0 and "warning" not in r.stderr, r.stderr[-400:])
    if r.returncode == 0:
        check(f"print() worker ({np}x{threads}): every answer, one worker per thread",
              csr(read_result(out)[0], "farm/stdout") == [str(3 * i).encode() for i in range(1000)]
              and len((work / "print-starts").read_text()) <= np * threads)
buffered = [("awk", "awk '{print $1 * 2}'", lambda i: str(2 * i)),
            ("sed | cat", "sed 's/^/x/' | cat", lambda i: f"x{i}")]
for label, worker_command, answer in buffered:
    results = []
    for np, threads in ((1, 1), (2, 2)):
        out = work / f"buffered-{label}-{np}.h5"
        r = farm(out, np, threads, "--range", "1000", "--timeout", "20", "--worker", worker_command,
                 timeout=120)
        warnings = [l for l in r.stderr.splitlines() if "holds its answers back" in l]
        check(f"buffered worker {label} ({np}x{threads}): exit 0, at most one warning per rank",
              r.returncode == 0 and 1 <= len(warnings) <= np, r.stderr[-400:])
        if r.returncode != 0:
            break
        results.append(read_result(out)[0])
        check(f"buffered worker {label} ({np}x{threads}): every answer, one attempt",
              csr(results[-1], "farm/stdout") == [answer(i).encode() for i in range(1000)]
              and set(results[-1]["farm/attempts"]) == {1}, str(csr(results[-1], "farm/stdout")[:5]))
    if len(results) == 2:
        differ = [n for n in same_datasets(results[0], results[1]) if n not in PER_RUN]
        check(f"buffered worker {label}: 2x2 identical to 1x1", not differ, str(differ))
# A buffered worker that prints a line of its own at the end of its input: more lines than items,
# so every item of those units records -2.
out = work / "buffered-extra.h5"
r = farm(out, 1, 1, "--range", "10", "--max-failures", "10", "--timeout", "20", "--worker",
         "awk '{print $1} END {print \"done\"}'", timeout=120)
check("buffered worker with an extra line: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    check("buffered worker with an extra line: every item -2",
          list(read_result(out)[0]["farm/exit_code"]) == [-2] * 10)
# A slow worker is not a buffered one: a shell loop that sleeps 2 s per item (longer than gridmr
# waits before it looks) keeps its one worker, without a warning.
starts = work / "slow-starts"
out = work / "slow-worker.h5"
r = farm(out, 1, 1, "--range", "2", "--worker",
         f"echo x >> {starts}; while read -r i; do sleep 2; echo \"$i\"; done")
check("slow worker: exit 0, no warning", r.returncode == 0 and "warning" not in r.stderr,
      r.stderr[-300:])
check("slow worker: one worker for both items", starts.read_text() == "x\n")

# A worker serves many items: 3000 items (units of 11, sent down the pipe together) at 2 ranks x
# 2 threads start at most 4 workers, plus one for a crash (item 1007's first attempt, in the
# middle of its unit), which --retries 1 runs again on a new worker with the unit's later items.
starts = work / "worker-starts"
crashed = work / "worker-crashed"
worker = (f"echo started >> {starts}; while read -r i; do "
          f"if [ \"$i\" = 1007 ] && [ ! -e {crashed} ]; then touch {crashed}; exit 3; fi; "
          "echo \"item $i\"; done")
out = work / "worker-retry.h5"
r = farm(out, 2, 2, "--range", "3000", "--retries", "1", "--worker", worker)
check("worker retry: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    check("worker retry: every item answered",
          csr(d, "farm/stdout") == [f"item {i}".encode() for i in range(3000)])
    check("worker retry: item 1007 took two attempts, the others one",
          list(d["farm/attempts"]) == [2 if i == 1007 else 1 for i in range(3000)]
          and list(d["farm/exit_code"]) == [0] * 3000)
    n = len(starts.read_text().splitlines())
    check("worker retry: at most 5 workers started for 3000 items", 2 <= n <= 5, str(n))

# serve() writes a unit's answers together, but never holds one back while a later item runs:
# 20,000 items make units of 64 (items 64-127 one unit), and item 100 takes 0.5 s; each item's
# seconds run from the previous answer, so items 64-99 stay quick and item 100 has the 0.5 s
# (with answers held until the unit's end, item 64 would carry it).
task = work / "slow-item.py"
task.write_text("import time, gridmr_stream\n"
                "def task(item):\n"
                "    if item == 100:\n"
                "        time.sleep(0.5)\n"
                "    return item * 3\n"
                "gridmr_stream.serve(task, items=int)\n")
out = work / "slow-item.h5"
r = farm(out, 1, 1, "--range", "20000", "--worker", f"{PY} {task}")
check("serve, a slow item: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    seconds = d["farm/seconds"]
    check("serve, a slow item: every answer", csr(d, "farm/stdout")
          == [str(3 * i).encode() for i in range(20000)])
    check("serve, a slow item: its own time is its own, the items before it stay quick",
          seconds[100] >= 0.45 and max(seconds[64:100]) < 0.2,
          f"item 100: {seconds[100]:.3f} s, items 64-99 at most {max(seconds[64:100]):.3f} s")

# A worker killed by a signal (a crash, the OOM killer) may take answers it held back with it:
# the rest of its unit goes to a new worker one item at a time, so the item that ends a worker
# so is the one that fails. Item 1007 kills its worker whenever it runs; items 960-1006 of its
# unit come back with their own answers and one attempt each.
task = work / "kill-item.py"
task.write_text("import os, signal, gridmr_stream\n"
                "def task(item):\n"
                "    if item == 1007:\n"
                "        os.kill(os.getpid(), signal.SIGKILL)\n"
                "    return item + 1\n"
                "gridmr_stream.serve(task, items=int)\n")
for np, threads in ((1, 1), (2, 2)):
    out = work / f"kill-item-{np}-{threads}.h5"
    r = farm(out, np, threads, "--range", "20000", "--max-failures", "1", "--retries", "1",
             "--worker", f"{PY} {task}")
    check(f"worker killed ({np}x{threads}): exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode == 0:
        d = read_result(out)[0]
        codes, attempts = list(d["farm/exit_code"]), list(d["farm/attempts"])
        check(f"worker killed ({np}x{threads}): only item 1007 failed, by SIGKILL, in 2 attempts",
              [i for i, c in enumerate(codes) if c] == [1007] and codes[1007] == 128 + 9
              and attempts[1007] == 2, str([(i, c) for i, c in enumerate(codes) if c][:5]))
        check(f"worker killed ({np}x{threads}): every other item its own answer, one attempt",
              all(a == 1 for i, a in enumerate(attempts) if i != 1007)
              and all(o == str(i + 1).encode()
                      for i, o in enumerate(csr(d, "farm/stdout")) if i != 1007))

# serve() reads its items in 64 KiB pieces: an item of 200,000 bytes (across pieces), bytes
# that are not UTF-8 (passed through as str, or as bytes with binary=True), an empty item.
items = [b"plain", b"x" * 200000, b"\xff\xfe not utf-8", b"", b"last"]
item_file = work / "serve-items.txt"
item_file.write_bytes(b"".join(i + b"\n" for i in items))
for binary in (False, True):
    task = work / f"serve-bytes-{binary}.py"
    task.write_text("import gridmr_stream\n"
                    "def task(item):\n"
                    "    return item[::-1] + (b'|b' if isinstance(item, bytes) else '|s')\n"
                    f"gridmr_stream.serve(task, binary={binary})\n")
    out = work / f"serve-bytes-{binary}.h5"
    r = farm(out, 1, 1, "--items", str(item_file), "--worker", f"{PY} {task}")
    check(f"serve binary={binary}: exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode == 0:
        got = csr(read_result(out)[0], "farm/stdout")
        want = [i[::-1] + (b"|b" if binary else b"|s") for i in items]
        check(f"serve binary={binary}: each item whole, its bytes kept", got == want,
              str([g[:20] for g in got]))

# An exception in the served function: that item fails; past --max-failures the job fails
# with one line naming the item, the worker and its last stderr line.
task = work / "task.py"
task.write_text("import gridmr_stream\n"
                "def task(item):\n"
                "    if item == 13:\n"
                "        raise RuntimeError('thirteen is unlucky')\n"
                "    return [item, item * item]\n"
                "gridmr_stream.serve(task, items=int)\n")
out = work / "worker-fail.h5"
r = farm(out, 2, 2, "--range", "20", "--worker", f"{PY} {task}")
lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
check("worker exception: exit 1, one line naming item 13, the worker and the exception",
      r.returncode == 1 and len(lines) == 1 and "item 13" in lines[0] and "worker" in lines[0]
      and "thirteen is unlucky" in lines[0], r.stderr[-500:])
check("worker exception: no output, no partial", not out.exists() and not partials(out))
r = farm(out, 2, 2, "--range", "20", "--max-failures", "1", "--worker", f"{PY} {task}")
check("worker exception within --max-failures: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    want = [b"" if i == 13 else f"[{i}, {i * i}]".encode() for i in range(20)]
    check("worker exception: the other items answered (lists as JSON) after a new worker",
          csr(d, "farm/stdout") == want and list(d["farm/exit_code"]) == [1 if i == 13 else 0 for i in range(20)],
          str(csr(d, "farm/stdout")[:3]))

# The first failure's stderr line comes from the rank that ran it: items below 150 fail only off
# rank 0, all others fail everywhere, each with its own line (so rank 0 holds failures of its own,
# later ones); the warning names the lowest failed item (read from the result) and that item's
# own line, at 3 ranks with --command and at 2 ranks x 2 threads with --worker.
for label, np, threads, options in (
        ("command", 3, 1, ["--command", 'echo "err of $GRIDMR_ITEM on $GRIDMR_RANK" >&2; '
                                       '[ "$GRIDMR_RANK" = 0 ] && [ "$GRIDMR_ITEM" -lt 150 ]']),
        ("worker", 2, 2, ["--worker", 'while read -r i; do [ "$GRIDMR_RANK" = 0 ] && '
                                      '[ "$i" -lt 150 ] && { echo "$i"; continue; }; '
                                      'echo "err of $i on $GRIDMR_RANK" >&2; exit 1; done'])):
    out = work / f"first-line-{label}.h5"
    r = farm(out, np, threads, "--range", "300", "--max-failures", "300", *options)
    warnings = [l for l in r.stderr.splitlines() if l.startswith("gridmr: warning")]
    check(f"first failure's line ({label}): exit 0, one warning", r.returncode == 0
          and len(warnings) == 1, r.stderr[-300:])
    if r.returncode == 0 and warnings:
        d = read_result(out)[0]
        ranks = list(d["farm/rank"])
        failed = [i for i, e in enumerate(d["farm/exit_code"]) if e != 0]
        first = failed[0] if failed else None
        check(f"first failure's line ({label}): failures below 150 off rank 0 only, "
              "and some on rank 0 above",
              failed and first < 150 and all(ranks[i] != 0 for i in failed if i < 150)
              and any(ranks[i] == 0 for i in failed), str(failed[:5]))
        if failed:
            check(f"first failure's line ({label}): the warning names item {first} and its line",
                  f"item {first} " in warnings[0]
                  and f'"err of {first} on {ranks[first]}"' in warnings[0], warnings[0])

# The launcher asks glibc's malloc for huge pages (glibc.malloc.hugetlb=1 in the rank's
# GLIBC_TUNABLES, after the user's own), and the commands a rank starts get the user's
# GLIBC_TUNABLES back as it was; a user's own choice of the tunable stands. (The rank's
# variable is read from /proc/PID/environ, which glibc 2.36 rewrites in place when it holds
# two tunables, keeping only the first there though it applies both: so only for one.)
probe = ('tr "\\0" "\\n" < /proc/$PPID/environ | grep "^GLIBC_TUNABLES=" || echo rank-unset; '
         'echo "child=${GLIBC_TUNABLES-unset} ${GRIDMR_SAVED_GLIBC_TUNABLES-}"')
for user, off, rank_sees in ((None, False, "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"),
                             ("glibc.malloc.arena_max=2", False, None),
                             ("glibc.malloc.hugetlb=0", False, "GLIBC_TUNABLES=glibc.malloc.hugetlb=0"),
                             (None, True, "rank-unset")):
    env = {k: v for k, v in ENV.items() if k not in ("GLIBC_TUNABLES", "GRIDMR_HUGE_PAGES")}
    if user is not None:
        env["GLIBC_TUNABLES"] = user
    if off:
        env["GRIDMR_HUGE_PAGES"] = "off"
        user = None
    out = work / "tunables.h5"
    r = mpirun(args.gridmr, 2, ["farm", "--quiet", "--force", "--threads", "1", "--range", "2",
                                "--command", probe, "-o", str(out)], env=env)
    check(f"GLIBC_TUNABLES {user} off={off}: exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode == 0:
        got = [o.decode().split("\n") for o in csr(read_result(out)[0], "farm/stdout")]
        check(f"GLIBC_TUNABLES {user} off={off}: the commands run with the user's own, nothing added",
              all(o[1] == f"child={user or 'unset'} " for o in got), str(got))
        if rank_sees is not None:
            check(f"GLIBC_TUNABLES {user}{' GRIDMR_HUGE_PAGES=off' if off else ''}: the ranks "
                  f"run with {rank_sees}", all(o[0] == rank_sees for o in got), str(got))

# A worker that ends (status 0) instead of answering: exit code -1 for that item.
out = work / "worker-quits.h5"
r = farm(out, 1, 1, "--range", "5", "--max-failures", "1", "--worker",
         "while read -r i; do [ \"$i\" = 2 ] && exit 0; echo \"$i\"; done")
warnings = [l for l in r.stderr.splitlines() if l.startswith("gridmr: warning")]
check("worker quits: exit 0, one warning naming item 2 as not answered",
      r.returncode == 0 and len(warnings) == 1 and "item 2" in warnings[0]
      and "without answering" in warnings[0], r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    check("worker quits: exit code -1 for item 2, the others answered by a new worker",
          list(d["farm/exit_code"]) == [0, 0, -1, 0, 0]
          and csr(d, "farm/stdout") == [b"0", b"1", b"", b"3", b"4"], str(list(d["farm/exit_code"])))

# --timeout per item: the worker's group is killed, the item recorded, the next item answered.
out = work / "worker-timeout.h5"
# 600 items: units of 2, item 301 the second of its unit.
r = farm(out, 1, 1, "--range", "600", "--timeout", "1", "--max-failures", "1", "--worker",
         f"while read -r i; do [ \"$i\" = 301 ] && {long_sleep}; echo \"$i\"; done")
check("worker timeout: exit 0", r.returncode == 0, r.stderr[-300:])
if r.returncode == 0:
    d = read_result(out)[0]
    check("worker timeout: item 301 timed out (137), the others answered",
          list(d["farm/timed_out"]) == [int(i == 301) for i in range(600)]
          and list(d["farm/exit_code"]) == [137 if i == 301 else 0 for i in range(600)]
          and csr(d, "farm/stdout") == [b"" if i == 301 else str(i).encode() for i in range(600)],
          f"{[i for i, c in enumerate(d['farm/exit_code']) if c]}")
check_no_sleep_left("worker timeout")

# Usage errors: exit 2, one line.
long_item_file = work / "long-item.txt"
long_item_file.write_bytes(b"short\n" + b"x" * (16 * 1024 * 1024 + 1) + b"\nafter\n")
empty_item_file = work / "empty-items.txt"
empty_item_file.write_bytes(b"")
for label, options, needle in [
        ("missing command program", ["--range", "3", "--command", "gridmr-no-such-tool {}"], "gridmr-no-such-tool"),
        ("neither --items nor --range", ["--command", "true"], "--items FILE or --range N"),
        ("both --items and --range", ["--items", str(item_file), "--range", "3", "--command", "true"], "--items FILE or --range N"),
        ("missing --items file", ["--items", str(work / "nope.txt"), "--command", "true"], "nope.txt"),
        ("an item over 16 MiB", ["--items", str(long_item_file), "--command", "true"],
         "line 2 of"),
        ("an empty --items file", ["--items", str(empty_item_file), "--command", "true"], "has no items"),
        ("missing --command", ["--range", "3"], "either --command CMD or --worker CMD"),
        ("both --command and --worker", ["--range", "3", "--command", "true", "--worker", "cat"],
         "either --command CMD or --worker CMD"),
        ("{} in --worker", ["--range", "3", "--worker", "echo {}"], "--worker: the items come on its stdin"),
        ("missing worker program", ["--range", "3", "--worker", "gridmr-no-such-worker"], "gridmr-no-such-worker")]:
    out = work / "usage.h5"
    r = farm(out, 2, 1, *options)
    lines = [l for l in r.stderr.strip().splitlines() if l]
    check(f"{label}: exit 2, one line", r.returncode == 2 and len(lines) == 1 and needle in lines[0],
          f"{r.returncode}: {r.stderr[-300:]}")
    check(f"{label}: no output", not out.exists() and not partials(out))

# The items file named as the output (farm() passes --force), directly or
# through a link: a usage error, the items kept.
link = work / "items-link.h5"
link.symlink_to(item_file)
before = item_file.read_bytes()
for label, out in [("items file as -o", item_file), ("link to the items file as -o", link)]:
    r = farm(out, 2, 1, "--items", str(item_file), "--command", "true")
    lines = [l for l in r.stderr.strip().splitlines() if l]
    check(f"{label}: exit 2, one line naming --items",
          r.returncode == 2 and len(lines) == 1 and "input of --items" in lines[0],
          f"{r.returncode}: {r.stderr[-300:]}")
    check(f"{label}: the items file kept", item_file.read_bytes() == before and link.is_symlink()
          and not partials(out))

# A worker that prints a line too many: no answer of that unit can be trusted to be whose it
# seems, so every item of the unit fails (exit code -2), the worker is replaced, and the other
# units are answered. 2560 items make units of 10; the worker answers each unit in one write,
# so that gridmr sees the extra line with the unit's answers.
chatty = work / "chatty_worker.py"
chatty.write_text("import sys\n"
                  "answers = []\n"
                  "for line in sys.stdin:\n"
                  "    i = int(line)\n"
                  "    answers.append(str(i))\n"
                  "    if i == 1003:\n"
                  "        answers.append('a stray line')\n"
                  "    if i % 10 == 9:\n"
                  "        sys.stdout.write(''.join(a + '\\n' for a in answers))\n"
                  "        sys.stdout.flush()\n"
                  "        answers = []\n")
for np, threads in ((1, 1), (2, 2)):
    label = f"a line too many, np {np} threads {threads}"
    out = work / f"chatty-{np}.h5"
    r = farm(out, np, threads, "--range", "2560", "--max-failures", "10", "--worker", f"{PY} {chatty}")
    warnings = [l for l in r.stderr.splitlines() if l.startswith("gridmr: warning")]
    check(f"{label}: exit 0, one warning naming item 1000 and the extra line",
          r.returncode == 0 and len(warnings) == 1 and "10 items failed" in warnings[0]
          and "item 1000 has no trusted answer" in warnings[0] and "line too many" in warnings[0],
          r.stderr[-400:])
    if r.returncode == 0:
        d = read_result(out)[0]
        codes, answers = list(d["farm/exit_code"]), csr(d, "farm/stdout")
        check(f"{label}: items 1000-1009 failed (-2), every other item answered as itself",
              all(codes[i] == (-2 if 1000 <= i < 1010 else 0) for i in range(2560))
              and all(answers[i] == str(i).encode() for i in range(2560) if not 1000 <= i < 1010))
r = farm(work / "chatty.h5", 2, 2, "--range", "2560", "--worker", f"{PY} {chatty}")
lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
check("a line too many, no --max-failures: exit 1, one line naming item 1000 and the extra line",
      r.returncode == 1 and len(lines) == 1 and "item 1000 " in lines[0] and "line too many" in lines[0],
      r.stderr[-400:])

# Long items: a rank takes an item only when one of its threads can start it, and rank 0 hands
# out items while its own thread runs one. Four items of 2 s on 2 ranks x 1 thread: two each
# (rank 0 kept the other rank waiting for its first item's end, or it took three itself).
for mode, program in (("command", "sleep 2"), ("worker", "while read -r i; do sleep 2; echo $i; done")):
    out = work / f"long-items-{mode}.h5"
    r = farm(out, 2, 1, "--range", "4", f"--{mode}", program)
    check(f"4 items of 2 s ({mode}): exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode == 0:
        ranks = sorted(read_result(out)[0]["farm/rank"])
        check(f"4 items of 2 s ({mode}), 2 ranks x 1 thread: each rank ran two", ranks == [0, 0, 1, 1],
              str(ranks))

# A result larger than --memory: the reduce spills, and the result is written from the scratch
# runs a piece at a time. A worker answers each item with a 200-byte line (item 777 fails where
# asked); the datasets equal Python's and are identical in memory and spilled.
long_answers = work / "long_answers.py"
long_answers.write_text("import sys\n"
                        "fail = sys.argv[1:] == ['fail']\n"
                        "for line in sys.stdin:\n"
                        "    i = line.rstrip('\\n')\n"
                        "    if fail and i == '777':\n"
                        "        sys.exit(3)\n"
                        "    print(i + ':' + i[-1] * 200, flush=True)\n")
spilled_items = work / "spilled-items.txt"
spilled_items.write_text("".join(f"item {i:05d}\n" for i in range(20000)))
answers = [f"item {i:05d}:{str(i)[-1] * 200}".encode() for i in range(20000)]
results = []
for np, threads, memory in ((1, 2, None), (2, 2, "1MiB"), (3, 1, "256KiB")):
    label = f"result beyond --memory {memory}, np {np} threads {threads}"
    out = work / f"spilled-{np}.h5"
    r = farm(out, np, threads, "--items", str(spilled_items), "--worker",
             f"{PY} {long_answers}", *(["--memory", memory] if memory else []))
    check(f"{label}: exit 0", r.returncode == 0, r.stderr[-300:])
    if r.returncode != 0:
        continue
    d = read_result(out)[0]
    check(f"{label}: items and answers in item order, equal Python's",
          csr(d, "farm/items") == [f"item {i:05d}".encode() for i in range(20000)]
          and csr(d, "farm/stdout") == answers)
    check(f"{label}: {'it spilled' if memory else 'in memory'}",
          (int(d["stats/ranks"]["spilled_bytes"].sum()) > 0) == bool(memory))
    results.append(d)
for d in results[1:]:
    differ = [n for n in same_datasets(results[0], d) if n not in PER_RUN and not n.startswith("stats/")]
    check("result beyond --memory: identical datasets in memory and spilled", not differ, str(differ))
# A failure in a spilled result is still found: past --max-failures no output, within it a warning.
for max_failures, code in ((0, 1), (1, 0)):
    out = work / "spilled-fail.h5"
    r = farm(out, 2, 2, "--range", "20000", "--memory", "1MiB", "--max-failures", str(max_failures),
             "--worker", f"{PY} {long_answers} fail")
    lines = [l for l in r.stderr.splitlines() if l.startswith("gridmr:")]
    check(f"spilled result, an item fails, --max-failures {max_failures}: exit {code}, one line "
          "naming item 777", r.returncode == code and len(lines) == 1 and "item 777 " in lines[0],
          r.stderr[-300:])
    check(f"spilled result, --max-failures {max_failures}: "
          + ("the output, with item 777's exit code 3" if code == 0 else "no output, no partial"),
          (code == 0 and read_result(out)[0]["farm/exit_code"][777] == 3)
          or (code == 1 and not out.exists() and not partials(out)))
# Memory: three times the items at the same --memory; the largest process grows by far less
# than the extra result (it held the whole result, and more, before).
peaks = []
for n in (100000, 300000):
    out = work / f"spilled-{n}.h5"
    r, peak = mpirun_peak_rss(args.gridmr, 2, ["farm", "--quiet", "--force", "--threads", "2",
                                               "--range", str(n), "--memory", "4MiB", "--worker",
                                               f"{PY} {long_answers}", "-o", str(out)])
    check(f"{n} items of 200-byte answers at --memory 4MiB: exit 0", r.returncode == 0,
          r.stderr[-300:])
    if r.returncode == 0:
        peaks.append((peak, out.stat().st_size >> 20))
        out.unlink()
if len(peaks) == 2:
    (small_peak, small_mib), (big_peak, big_mib) = peaks
    check("farm result beyond --memory: the peak resident size grows by less than a quarter of "
          "the extra output", big_peak - small_peak < (big_mib - small_mib) / 4,
          f"peak {small_peak:.0f} MiB with a {small_mib} MiB result, {big_peak:.0f} MiB with {big_mib} MiB")
    print(f"peak resident size: {small_peak:.0f} MiB with a {small_mib} MiB result, "
          f"{big_peak:.0f} MiB with {big_mib} MiB")

# SIGTERM to mpirun while items run: no orphaned commands (or workers), no partial.
for mode, program in [("command", "sleep 200 # gridmr-farm-term {}"),
                      ("worker", f"while read -r i; do {long_sleep}; done # gridmr-farm-term")]:
    out = work / f"term-{mode}.h5"
    p = subprocess.Popen(["mpirun", "-q", "-np", "2", "--bind-to", "none", os.path.abspath(args.gridmr),
                          "farm", "--quiet", "--threads", "2", "--range", "8", f"--{mode}", program,
                          "-o", str(out)],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    running = subprocess.run(["pgrep", "-f", "gridmr-farm-term"], capture_output=True, text=True).stdout.split()
    check(f"SIGTERM ({mode}): items running before the signal", len(running) >= 2, str(running))
    p.send_signal(signal.SIGTERM)
    try:
        p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"gridmr-farm-term|{long_sleep}"], capture_output=True,
                          text=True).stdout.split()
    check(f"SIGTERM ({mode}): exit 1", p.returncode == 1, str(p.returncode))
    check(f"SIGTERM ({mode}): no orphaned {mode}s", not left, str(left))
    check(f"SIGTERM ({mode}): no output, no partial", not out.exists() and not partials(out))

finish()
