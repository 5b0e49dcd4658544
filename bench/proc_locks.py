#!/usr/bin/env python3
"""What one read of /proc/locks costs, by how long ago anyone last read it.

Reading /proc/locks takes the kernel's file_rwsem for writing (fs/locks.c, locks_start), a
per-CPU rw-semaphore whose write side waits for an RCU grace period unless another writer
passed through it within about one grace period. Every tool that reads the lock table pays
it: lslocks, lsof, fuser, `cargo lockwatch status`. A run right after another is "warm" (tens
of microseconds); a run after a pause (a user typing a command) is "cold" (a grace period:
milliseconds, more on a busy or virtual machine).

  python3 bench/proc_locks.py [ROUNDS]

Prints the median and p90 of one open+read+close of /proc/locks after each pause. Asserts
nothing; needs nothing but Python and Linux.
"""

import statistics
import sys
import time

PAUSES_MS = [0, 1, 2, 5, 10, 20, 50, 100, 500]


def read_once():
    start = time.perf_counter()
    with open("/proc/locks", "rb") as f:
        f.read()
    return (time.perf_counter() - start) * 1000


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print("| pause before the read | median | p90 |")
    print("|---|---|---|")
    for pause in PAUSES_MS:
        times = []
        for _ in range(rounds):
            read_once()
            time.sleep(pause / 1000)
            times.append(read_once())
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(f"| {pause} ms | {statistics.median(times):.2f} ms | {p90:.2f} ms |")


if __name__ == "__main__":
    sys.exit(main())
