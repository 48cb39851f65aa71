"""The task of bench/farm_workers.sh: a small pure-Python function (about a tenth of a
millisecond), served to `gridmr farm --worker` (run as a script), mapped by
multiprocessing.Pool (bench/farm_pool.py), or run once per process (`... item N`)."""
import sys


def task(n):
    total = 0
    for k in range(200 + n % 100):
        total += k * k ^ n
    return total


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "item":
        print(task(int(sys.argv[2])))
    else:
        import gridmr_stream
        gridmr_stream.serve(task, items=int)
