#!/usr/bin/python3
"""Runs a shell command and prints `wall_seconds cpu_seconds` for it: CPU is the
user + system time of every process it waited for (mpirun, the ranks, their
children), from getrusage(RUSAGE_CHILDREN). Usage: cpu_of.py 'COMMAND'"""
import resource
import subprocess
import sys
import time

before = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.monotonic()
done = subprocess.run(sys.argv[1], shell=True)
wall = time.monotonic() - start
after = resource.getrusage(resource.RUSAGE_CHILDREN)
if done.returncode != 0:
    sys.exit(f"cpu_of.py: command failed with status {done.returncode}: {sys.argv[1]}")
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(f"{wall:.3f} {cpu:.3f}")
