#!/usr/bin/env python3
"""Load for bench/scale.sh: processes holding many locks, idle processes, dead lockers.

Every process started here writes its pid to --pids (one per line) so the benchmark can end
exactly the processes it started, and nothing else.

  scale_load.py hold --pids F --ready R FILE...   # one process holding every FILE (flock -x)
  scale_load.py world --pids F --ready R --idle N [--dead-lock FILE [--heir-after K] [--heir-session own|shared] [--heir-exec]]
      # a session of N idle processes under one subreaper; with --dead-lock, a locker started
      # before them hands FILE's lock to a child (in another session, parented by the
      # subreaper: no name, session or parent leads to it) and exits. The child is forked after
      # K of the idle processes (default N: the newest process; N/2 hides it among them); with
      # --heir-exec it then execs `sleep` like them, keeping the descriptor (made inheritable),
      # so nothing but its descriptors tells it from them.
  scale_load.py dead --pids F --ready R --name NAME FILE
      # a locker that forks a child named NAME (same session), hands it the lock and exits;
      # the child is adopted by pid 1
"""

import argparse
import ctypes
import fcntl
import os
import signal
import sys
import time

PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36


def note_pid(path, pid):
    with open(path, "a") as f:
        f.write(f"{pid}\n")


def ready(path):
    with open(path, "w") as f:
        f.write("ready\n")


def sleep_forever():
    while True:
        time.sleep(3600)


def prctl(option, arg):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(option, arg, 0, 0, 0)


def hold(args):
    note_pid(args.pids, os.getpid())
    files = []
    for path in args.files:
        f = open(path, "a")
        fcntl.flock(f, fcntl.LOCK_EX)
        files.append(f)
    ready(args.ready)
    sleep_forever()


def lock_and_hand_over(path, pids, name, new_session, go, exec_sleep=False):
    """In a forked locker: lock `path`, wait for `go` (a signal), fork the heir, exit."""
    f = open(path, "a")
    fcntl.flock(f, fcntl.LOCK_EX)
    if go:
        signal.sigwait([signal.SIGUSR1])
    heir = os.fork()
    if heir == 0:
        if new_session:
            os.setsid()
        if name:
            prctl(PR_SET_NAME, name.encode())
        note_pid(pids, os.getpid())
        if exec_sleep:
            os.set_inheritable(f.fileno(), True)
            os.execvp("sleep", ["sleep", "3600"])
        sleep_forever()
    os._exit(0)


def world(args):
    os.setsid()
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    note_pid(args.pids, os.getpid())
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    locker = None
    if args.dead_lock:
        locker = os.fork()
        if locker == 0:
            lock_and_hand_over(
                args.dead_lock, args.pids, None, args.heir_session == "own", True, args.heir_exec
            )
        time.sleep(0.2)
    heir_after = args.idle if args.heir_after is None else args.heir_after
    for i in range(args.idle + 1):
        if locker and i == heir_after:
            os.kill(locker, signal.SIGUSR1)
            os.waitpid(locker, 0)  # the heir is forked before the next idle process
        if i < args.idle:
            os.posix_spawnp("sleep", ["sleep", "3600"], os.environ)
    time.sleep(0.5)
    ready(args.ready)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(3600)


def dead(args):
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    locker = os.fork()
    if locker == 0:
        lock_and_hand_over(args.file, args.pids, args.name, False, False)
    os.waitpid(locker, 0)
    time.sleep(0.2)
    ready(args.ready)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("hold", "world", "dead"):
        s = sub.add_parser(name)
        s.add_argument("--pids", required=True)
        s.add_argument("--ready", required=True)
    sub.choices["hold"].add_argument("files", nargs="+")
    sub.choices["world"].add_argument("--idle", type=int, default=0)
    sub.choices["world"].add_argument("--dead-lock")
    sub.choices["world"].add_argument("--heir-after", type=int)
    sub.choices["world"].add_argument("--heir-session", choices=("own", "shared"), default="own")
    sub.choices["world"].add_argument("--heir-exec", action="store_true")
    sub.choices["dead"].add_argument("--name", default="build-script-build")
    sub.choices["dead"].add_argument("file")
    args = p.parse_args()
    {"hold": hold, "world": world, "dead": dead}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
