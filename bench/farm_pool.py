"""Pool.map of bench/farm_task.py's task over range(ITEMS) with PROCESSES processes, the
results written one per line to OUT: the baseline of bench/farm_workers.sh."""
import multiprocessing
import sys

from farm_task import task

if __name__ == "__main__":
    items, processes, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with multiprocessing.Pool(processes) as pool:
        results = pool.map(task, range(items))
    with open(out, "w") as f:
        f.writelines(f"{r}\n" for r in results)
