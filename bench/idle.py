#!/usr/bin/python3
"""An idle daemon's threads, informers, RSS and wake-ups (bench/idle.sh says what)."""
import glob
import os
import re
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


def informers(log_path):
    """The daemon's count of shared informers (one list+watch each), from its start-up line."""
    try:
        with open(log_path, errors="replace") as f:
            m = re.findall(r"k1s serving .* informers=(\d+)", f.read())
        return int(m[-1]) if m else None
    except FileNotFoundError:
        return None


def measure(name, pid, secs=10, log_path=None):
    a = switches(pid)
    time.sleep(secs)
    b = switches(pid)
    names = comms(pid)
    n_inf = informers(log_path) if log_path else 0
    print(f"{name:<28} threads {len(names):4d}   informers {n_inf if n_inf is not None else '?':>3} "
          f"(on {names.count('informers')} thread)   RSS {rss_mb(pid):6.1f} MB   "
          f"voluntary switches {(b - a) / secs:7.1f}/s", flush=True)
    if log_path:  # where the threads go, by name
        counts = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        print("  threads by name: " + ", ".join(f"{n} {c}" for n, c in sorted(counts.items(), key=lambda x: -x[1])),
              flush=True)


def main():
    isolate()
    anchor = subprocess.Popen(["sleep", "60"])
    measure("anchor: sleep", anchor.pid, 2)
    anchor.kill()
    anchor.wait()
    with K1s() as k:
        time.sleep(5)
        measure("k1s server, idle", k.proc.pid, log_path=k.log_path)


if __name__ == "__main__":
    main()
