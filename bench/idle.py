#!/usr/bin/python3
"""An idle daemon's threads, informers, RSS and wake-ups (bench/idle.sh says what)."""
import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from k1s_harness import K1s, isolate  # noqa: E402


def switches(pid):
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that just left
    return total


def comms(pid):
    out = []
    for c in glob.glob(f"/proc/{pid}/task/*/comm"):
        try:
            with open(c) as f:
                out.append(f.read().strip())
        except FileNotFoundError:
            pass
    return out


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(name, pid, secs=10):
    a = switches(pid)
    time.sleep(secs)
    b = switches(pid)
    names = comms(pid)
    print(f"{name:<28} threads {len(names):4d}   informers {names.count('informer'):3d}   "
          f"RSS {rss_mb(pid):6.1f} MB   voluntary switches {(b - a) / secs:7.1f}/s", flush=True)


def main():
    isolate()
    anchor = subprocess.Popen(["sleep", "60"])
    measure("anchor: sleep", anchor.pid, 2)
    anchor.kill()
    anchor.wait()
    with K1s() as k:
        time.sleep(5)
        measure("k1s server, idle", k.proc.pid)


if __name__ == "__main__":
    main()
