#!/usr/bin/python3
"""SIGTERM -> exit of `k1s server` with one running pod (bench/shutdown.sh says what and why).

Each round is a fresh daemon (own data and run dir, own bridge) in the private namespaces of
tests/e2e/k1s_harness.py isolate(): start, wait for /readyz (anchor), run a busybox pod to Running,
send SIGTERM, time until the process has exited. Without --cleanup-on-exit the pod's shim and
container outlive the daemon (as designed); the harness reaps them and the round's cgroups are
removed here.
"""
import glob
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from k1s_harness import K1s, build_busybox_image, import_images, isolate, wait_for  # noqa: E402

IMG = "example.com/k1s/busybox:1"
R = int(os.environ.get("R", "5"))
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"terminationGracePeriodSeconds": 30,
                "containers": [{"name": "c", "image": IMG, "command": ["sleep", "3600"]}]}}


def ms(seconds):
    return seconds * 1000.0


def one_round(images, cleanup):
    k = K1s(extra_args=["--cleanup-on-exit"] if cleanup else [])
    uid = None
    try:
        os.makedirs(k.data_dir)
        subprocess.run(["cp", "-a", os.path.join(images, "images"), k.data_dir], check=True)
        t0 = time.monotonic()
        k.start()
        ready = time.monotonic() - t0
        r = k.http("POST", "/api/v1/namespaces/default/pods", POD)
        assert r.status == 201, r
        uid = r.json()["metadata"]["uid"]
        wait_for("pod Running", lambda: k.get_json("/api/v1/namespaces/default/pods/p")["status"].get("phase")
                 == "Running", timeout=60, interval=0.05)
        p = k.proc
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        code = p.wait(timeout=60)
        stop = time.monotonic() - t0
        assert code == 0, f"exit code {code}"
        with open(k.log_path) as f:  # the daemon's own account of where the stop went
            phases = [ln.split("] ", 1)[-1].strip() for ln in f if "stopped in" in ln]
        return ready, stop, phases[-1] if phases else "(no 'stopped in' line)"
    finally:
        k.close()
        for d in glob.glob(f"/sys/fs/cgroup/*/k1s/pod{uid}") if uid else []:
            for sub in sorted(glob.glob(d + "/*/"), key=len, reverse=True) + [d]:
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


def row(label, v):
    print(f"{label:<48} {len(v):3d} {min(v):8.1f} {statistics.median(v):8.1f} {max(v):8.1f}", flush=True)


def main():
    isolate()
    images = tempfile.mkdtemp(prefix="k1s-bench-shutdown-")
    try:
        work = os.path.join(images, "work")
        os.makedirs(work)
        import_images(os.path.join(images, "images-dir"), build_busybox_image(work, [IMG]))
        os.rename(os.path.join(images, "images-dir", "images"), os.path.join(images, "images"))
        true_times = []
        for _ in range(20):
            t0 = time.monotonic()
            subprocess.run(["/bin/true"], check=True)
            true_times.append(ms(time.monotonic() - t0))
        ready, stops, last_phases = {False: [], True: []}, {False: [], True: []}, {}
        for _ in range(R):
            for cleanup in (False, True):
                a, b, last_phases[cleanup] = one_round(images, cleanup)
                ready[cleanup].append(ms(a))
                stops[cleanup].append(ms(b))
        print(f"{'k1s server stop, one running pod (ms)':<48} {'n':>3} {'min':>8} {'median':>8} {'max':>8}")
        row("anchor: /bin/true start -> exit", true_times)
        row("anchor: k1s server start -> /readyz", ready[False] + ready[True])
        row("SIGTERM -> exit (target <= 500)", stops[False])
        row("SIGTERM -> exit, --cleanup-on-exit (target <= 1000)", stops[True])
        print(f"last round, daemon log: {last_phases[False]}")
        print(f"last round with cleanup, daemon log: {last_phases[True]}", flush=True)
    finally:
        subprocess.run(["rm", "-rf", images])


if __name__ == "__main__":
    main()
