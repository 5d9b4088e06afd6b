#!/usr/bin/python3
"""Port-forward throughput and exec round trip through a real `k1s server` (private net/mount/pid
namespaces via tests/e2e/k1s_harness.py isolate()).

Port-forward: wrk with one connection at a time (-c1) for D seconds (default 5), against a 16 MiB
file served by busybox httpd in a pod (the stream's throughput, MB/s: the target) and against the
numbers-web page (its server closes each connection, so this measures per-connection set-up):
  - straight to the pod IP (the anchor, measured in the same run),
  - through `k1s port-forward` (WebSocket, channel protocol),
  - through kubectl 1.33 port-forward (SPDY/3.1 tunnelled in WebSocket),
  - through kubectl 1.27 port-forward (plain SPDY/3.1),
  - through the floor: two bare OpenSSL relays with k1s's TLS settings and no framing at all
    (bench/tls_relay.cpp, k1s_bench_tls_relay next to K1S_BIN): what TLS alone costs a forward.
Each line prints requests/s, transfer/s and the ratio to the direct run. Target: >= 0.5x of the
direct MB/s for the file.

exec: `kubectl exec POD -- true` round trip with hyperfine (N runs, default 30), p50 and p90, for
kubectl 1.33 (WebSocket v5), kubectl 1.27 (SPDY) and `k1s exec`; the anchor is
`kubectl get pod POD` (one plain API round trip of the same client). Target: p50 <= 30 ms.
Each client's start-up (`version --client`) and its `get pod` are printed too, and the server-side
share of an exec: p50(exec) - p50(get pod) of the same client (kubectl's own Go start-up, ~80 ms
here, is in both and cancels out).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from k1s_harness import KUBECTL_DIR, K1s, die, isolate, k1s_binary, wait_for  # noqa: E402

DURATION = int(os.environ.get("D", "5"))
RUNS = int(os.environ.get("N", "30"))
ONLY = os.environ.get("ONLY", "")  # "portforward" or "exec": run one half (iterating on one path)
NS = "bench"
MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: numbers-web}
spec:
  selector: {matchLabels: {app: numbers-web}}
  template:
    metadata: {labels: {app: numbers-web}}
    spec:
      containers: [{name: web, image: kiamol/ch03-numbers-web}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bulk}
spec:
  selector: {matchLabels: {app: bulk}}
  template:
    metadata: {labels: {app: bulk}}
    spec:
      containers:
      - name: httpd
        image: kiamol/ch03-sleep
        command: ["/bin/sh", "-c", "mkdir -p /www && /bin/busybox dd if=/dev/zero of=/www/big bs=1M count=16 2>/dev/null &&
          exec /bin/busybox httpd -f -p 8000 -h /www"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep}
spec:
  selector: {matchLabels: {app: sleep}}
  template:
    metadata: {labels: {app: sleep}}
    spec:
      containers: [{name: sleep, image: kiamol/ch03-sleep}]
"""


def running_pod(k, app):
    r = k.k1s("get", "pods", "-n", NS, "-l", f"app={app}", "-o", "json")
    for p in json.loads(r.stdout)["items"]:
        if p["status"].get("phase") == "Running" and all(c.get("ready") for c in p["status"].get("containerStatuses", [{}])):
            return p
    return None


UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, pids=()):
    """(requests/s, bytes/s, [CPU ms per MB read by wrk of each of pids]) of wrk -t1 -c1 for DURATION seconds."""
    before = [cpu_seconds(p) for p in pids]
    r = subprocess.run(["wrk", "-t1", "-c1", f"-d{DURATION}s", url], capture_output=True, text=True,
                       timeout=DURATION + 60)
    after = [cpu_seconds(p) for p in pids]
    if r.returncode != 0:
        raise RuntimeError(f"wrk {url}: {r.stderr or r.stdout}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", r.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors", r.stdout)
    if errors:
        raise RuntimeError(f"wrk {url} saw errors:\n{r.stdout}")
    total = re.search(r"requests in [\d.]+\w+, ([\d.]+)(\w+) read", r.stdout)
    mb = float(total.group(1)) * UNITS[total.group(2)] / 1e6
    return rps, float(m.group(1)) * UNITS[m.group(2)], [(a - b) * 1000 / mb for a, b in zip(after, before)]


def forwarded(k, argv, port):
    """Starts a port-forward process, waits for its listener, returns the process. Its output goes
    to a file: both clients print a line per connection, and an undrained pipe would fill up and
    stall the forward (about 2,000 connections in)."""
    out = open(os.path.join(k.tmp, f"forward-{port}.out"), "w+b")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL, env=k.env())
    k._children.append(p)
    wait_for(f"forward on {port}", lambda: b"Forwarding from" in open(out.name, "rb").read(), timeout=30)
    out.close()
    return p


def tls_relay_floor(k, pod_ip, pod_port):
    """The two processes of bench/tls_relay.cpp (server on 18090 to the pod, client on 18091 to the
    server), started as the anchor of what TLS alone costs a forward; None when it is not built."""
    relay = os.path.join(os.path.dirname(k1s_binary()), "k1s_bench_tls_relay")
    if not os.access(relay, os.X_OK):
        print(f"(floor skipped: {relay} not built; ninja k1s_bench_tls_relay)")
        return None
    certs = os.path.join(k.data_dir, "certs")
    started = []
    for argv in ([relay, "server", "18090", os.path.join(certs, "server.crt"), os.path.join(certs, "server.key"),
                  pod_ip, str(pod_port)], [relay, "client", "18091", "18090"]):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        k._children.append(p)
        started.append(p)
        if p.stdout.readline() != b"ready\n":
            for r in started:
                k.stop_process(r)
            raise RuntimeError(f"{argv[1]} relay did not start")
    return started


def hyperfine(k, name, cmd):
    out = os.path.join(k.tmp, "hf.json")
    r = subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(RUNS), "--export-json", out, cmd],
                       capture_output=True, text=True, timeout=600, env=k.env())
    if r.returncode != 0:
        raise RuntimeError(f"hyperfine {cmd}: {r.stderr}")
    times = sorted(json.load(open(out))["results"][0]["times"])
    p50 = times[len(times) // 2] * 1000
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))] * 1000
    return p50, p90


def main():
    isolate()
    for tool in ("wrk", "hyperfine"):
        if not shutil.which(tool):
            die(f"{tool} not found (scripts/install-deps.sh bench)")
    archives = sorted(glob.glob(os.path.join(os.environ.get("K1S_LAB_IMAGES") or
                                             os.path.join(os.path.dirname(k1s_binary()), "images"), "*.tar")))
    if not archives:
        die("lab image archives not found (built by the lab_images target)")
    k = K1s(extra_args=["--cleanup-on-exit"])
    drop = os.path.join(k.data_dir, "images", "import")
    os.makedirs(drop)
    for a in archives:
        shutil.copy(a, drop)
    with k:
        k.k1s("create", "namespace", NS)
        r = k.k1s("apply", "-n", NS, "-f", "-", input=MANIFESTS)
        if r.returncode != 0:
            die(f"apply: {r.stderr}")
        web = wait_for("numbers-web Running", lambda: running_pod(k, "numbers-web"), timeout=120)
        bulk = wait_for("bulk Running", lambda: running_pod(k, "bulk"), timeout=120)
        sleep = wait_for("sleep Running", lambda: running_pod(k, "sleep"), timeout=120)
        kc = lambda v: [os.path.join(KUBECTL_DIR, f"kubectl.{v}"), "--kubeconfig", k.kubeconfig]  # noqa: E731

        # Two workloads: a 16 MiB file (the stream's byte throughput: the target) and the small
        # numbers-web page, whose server closes every connection (so each request is a new
        # forwarded connection: the per-connection set-up cost).
        for title, deploy, pod_port, path, metric in [] if ONLY == "exec" else [
                ("16 MiB file from busybox httpd: stream throughput", "deploy/bulk", 8000, "/big", 1),
                ("numbers-web page, a new connection per request", "deploy/numbers-web", 80, "/", 0)]:
            pod_ip = (bulk if deploy == "deploy/bulk" else web)["status"]["podIP"]
            load = " ".join(open("/proc/loadavg").read().split()[:3])
            print(f"\nport-forward, wrk -t1 -c1 -d{DURATION}s: {title} (load average {load})")
            # CPU per MB moved: the daemon (API server end of the forward) and the forwarding client.
            print(f"{'path':<44} {'req/s':>10} {'MB/s':>8} {'vs direct':>10} {'server ms/MB':>13} {'client ms/MB':>13}")
            direct = wrk(f"http://{pod_ip}:{pod_port}{path}")
            print(f"{'direct to the pod IP (anchor)':<44} {direct[0]:>10.0f} {direct[1] / 1e6:>8.2f} {'1.00x':>10}")
            cases = [("k1s port-forward (WebSocket)", [k1s_binary(), "port-forward", "-n", NS, deploy], 18080),
                     ("kubectl 1.33 port-forward (SPDY in WebSocket)", kc("1.33") + ["port-forward", "-n", NS, deploy],
                      18081),
                     ("kubectl 1.27 port-forward (SPDY)", kc("1.27") + ["port-forward", "-n", NS, deploy], 18082)]
            def show(name, got):
                ratio = got[metric] / direct[metric]
                print(f"{name:<44} {got[0]:>10.0f} {got[1] / 1e6:>8.2f} {ratio:>9.2f}x"
                      f" {got[2][0]:>13.2f} {got[2][1]:>13.2f}"
                      f"{'' if ratio >= 0.5 or metric == 0 else '  (below the 0.5x target)'}")

            for name, argv, port in cases:
                p = forwarded(k, argv + [f"{port}:{pod_port}"], port)
                try:
                    show(name, wrk(f"http://127.0.0.1:{port}{path}", pids=(k.proc.pid, p.pid)))
                finally:
                    k.stop_process(p)
            floor = tls_relay_floor(k, pod_ip, pod_port)
            if floor:
                try:
                    show("floor: bare OpenSSL relay, no framing", wrk("http://127.0.0.1:18091" + path,
                                                                      pids=[r.pid for r in floor]))
                finally:
                    for r in floor:
                        k.stop_process(r)

        pod = sleep["metadata"]["name"]
        if ONLY == "portforward":
            return
        print(f"\nexec round trip: hyperfine -N --runs {RUNS} (ms)")
        print(f"{'command':<44} {'p50':>8} {'p90':>8}")
        anchors = {}
        for name, key, cmd in [
                ("kubectl 1.33 version --client (start-up)", None, kc("1.33") + ["version", "--client"]),
                ("kubectl 1.33 get pod (anchor)", "1.33", kc("1.33") + ["get", "pod", "-n", NS, pod]),
                ("kubectl 1.27 get pod (anchor)", "1.27", kc("1.27") + ["get", "pod", "-n", NS, pod]),
                ("k1s version --client (start-up)", None, [k1s_binary(), "version", "--client"]),
                ("k1s get pod (anchor)", "k1s", [k1s_binary(), "get", "pod", "-n", NS, pod])]:
            p50, p90 = hyperfine(k, name, " ".join(cmd))
            if key:
                anchors[key] = p50
            print(f"{name:<44} {p50:>8.1f} {p90:>8.1f}")
        # The server-side share: what an exec costs beyond one plain API round trip of the same
        # client (connection set-up, upgrade, the exec shim, the streams and their close).
        shares = []
        for name, key, cmd in [
                ("kubectl 1.33 exec -- true (WebSocket v5)", "1.33",
                 kc("1.33") + ["exec", "-n", NS, pod, "--", "/bin/busybox", "true"]),
                ("kubectl 1.27 exec -- true (SPDY)", "1.27",
                 kc("1.27") + ["exec", "-n", NS, pod, "--", "/bin/busybox", "true"]),
                ("k1s exec -- true (WebSocket v5)", "k1s",
                 [k1s_binary(), "exec", "-n", NS, pod, "--", "/bin/busybox", "true"])]:
            p50, p90 = hyperfine(k, name, " ".join(cmd))
            shares.append((name, p50 - anchors[key]))
            print(f"{name:<44} {p50:>8.1f} {p90:>8.1f}{'' if p50 <= 30 else '  (above the 30 ms target)'}")
        print("\nserver-side share of exec: p50(exec) - p50(get pod) of the same client (ms)")
        for name, share in shares:
            print(f"{name:<44} {share:>8.1f}")

if __name__ == "__main__":
    main()
