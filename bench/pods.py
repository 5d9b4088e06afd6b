#!/usr/bin/python3
"""Pod create -> Running as a watch sees it, through a real `k1s server` (API server, scheduler,
kubelet, shims) in private namespaces (tests/e2e/k1s_harness.py isolate()).

One pod at a time (POST, then wait for the watch event with phase Running, then the next), N pods
per mode, busybox `sleep`:
  - hostNetwork pods: no pod network (no netns, veth, IP), the kubelet and runtime alone;
  - pods with their own network namespace, veth and IP.
Anchor, measured in the same run: POST -> the watch's ADDED event of the same pods (the API
server's own create-to-watch path, which every pod start includes).
Target: p99 <= 100 ms without networking.
"""
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from k1s_harness import K1s, build_busybox_image, import_images, isolate  # noqa: E402

IMG = "example.com/k1s/busybox:1"
N = int(os.environ.get("N", "50"))
NS = "default"


class Watch:
    """One pod watch; records the first time each (name, what) was seen: ADDED and Running."""

    def __init__(self, k):
        self.seen = {}
        self.cv = threading.Condition()
        self.conn = k.connection(timeout=600)
        self.conn.request("GET", f"/api/v1/namespaces/{NS}/pods?watch=true",
                          headers={"Authorization": f"Bearer {k.token}", "Accept": "application/json"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            line = self.resp.readline()
            if not line:
                return
            t = time.monotonic()
            ev = json.loads(line)
            obj = ev["object"]
            name = obj["metadata"]["name"]
            marks = []
            if ev["type"] == "ADDED":
                marks.append("added")
            if obj.get("status", {}).get("phase") == "Running":
                marks.append("running")
            with self.cv:
                for m in marks:
                    self.seen.setdefault((name, m), t)
                self.cv.notify_all()

    def wait(self, name, what, timeout=30):
        with self.cv:
            ok = self.cv.wait_for(lambda: (name, what) in self.seen, timeout=timeout)
        if not ok:
            raise RuntimeError(f"pod {name}: no {what} event within {timeout}s")
        return self.seen[(name, what)]


def pod(name, host_network):
    spec = {"terminationGracePeriodSeconds": 0, "hostNetwork": host_network,
            "containers": [{"name": "c", "image": IMG, "command": ["sleep", "3600"]}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def run_mode(k, watch, prefix, host_network):
    start, added, running = [], [], []
    for i in range(N):
        name = f"{prefix}-{i}"
        t0 = time.monotonic()
        r = k.http("POST", f"/api/v1/namespaces/{NS}/pods", pod(name, host_network))
        assert r.status == 201, r
        added.append((watch.wait(name, "added") - t0) * 1000)
        running.append((watch.wait(name, "running") - t0) * 1000)
        start.append(t0)
    for i in range(N):
        k.http("DELETE", f"/api/v1/namespaces/{NS}/pods/{prefix}-{i}", {"gracePeriodSeconds": 0})
    # Let the kubelet finish removing them before the next mode is measured.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.listdir(os.path.join(k.run_dir, "containers")):
        time.sleep(0.2)
    return added, running


def pct(v, p):
    s = sorted(v)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def row(label, v):
    print(f"{label:<46} {len(v):5d} {pct(v, 50):9.1f} {pct(v, 99):9.1f} {statistics.mean(v):9.1f} {max(v):9.1f}",
          flush=True)


def main():
    isolate()
    k = K1s(extra_args=["--cleanup-on-exit"])
    try:
        work = tempfile.mkdtemp(prefix="img-", dir=k.tmp)
        import_images(k.data_dir, build_busybox_image(work, [IMG]))
        with k:
            watch = Watch(k)
            # One pod first so that nothing one-off (image layers, first cgroup, bridge) is measured.
            r = k.http("POST", f"/api/v1/namespaces/{NS}/pods", pod("warm", False))
            assert r.status == 201, r
            watch.wait("warm", "running", timeout=60)
            k.http("DELETE", f"/api/v1/namespaces/{NS}/pods/warm", {"gracePeriodSeconds": 0})
            results = {}
            for mode, host in (("hostnet", True), ("podnet", False)):
                results[mode] = run_mode(k, watch, mode, host)
            print(f"{'pod create -> watch event (ms)':<46} {'n':>5} {'p50':>9} {'p99':>9} {'mean':>9} {'max':>9}")
            row("ADDED, hostNetwork pods (anchor: API path)", results["hostnet"][0])
            row("Running, hostNetwork pods (target p99<=100)", results["hostnet"][1])
            row("ADDED, pod network (anchor: API path)", results["podnet"][0])
            row("Running, pod network (netns+veth+IP)", results["podnet"][1])
    finally:
        k.close()


if __name__ == "__main__":
    main()
