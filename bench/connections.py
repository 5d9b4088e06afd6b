#!/usr/bin/python3
"""/readyz latency with connections held by other clients (bench/connections.sh says what)."""
import os
import resource
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from k1s_harness import K1s, isolate  # noqa: E402

N = int(os.environ.get("N", "50"))  # /readyz requests per case


def readyz_ms(k):
    out = []
    for _ in range(N):
        t0 = time.monotonic()
        r = k.http("GET", "/readyz", timeout=120)
        out.append((time.monotonic() - t0) * 1000.0)
        assert r.status == 200, r
    return out


def show(name, xs):
    xs = sorted(xs)
    print(f"{name:<44} median {statistics.median(xs):7.1f} ms   p90 {xs[int(len(xs) * 0.9) - 1]:7.1f} ms"
          f"   max {xs[-1]:7.1f} ms", flush=True)


def connect(k, source):
    s = socket.socket()
    s.bind((source, 0))
    s.connect((k.host, k.host_port))
    return s


def main():
    isolate()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    with K1s() as k:
        show("anchor: no other connections", readyz_ms(k))
        idle = [connect(k, "127.0.0.1") for _ in range(5000)]
        show("5,000 idle TCP connections (same address)", readyz_ms(k))
        for s in idle:
            s.close()
        tls = [k._ssl.wrap_socket(connect(k, "127.0.0.3"), server_hostname=k.host) for _ in range(600)]
        show("600 silent TLS connections (127.0.0.3)", readyz_ms(k))
        for s in tls:
            s.close()


if __name__ == "__main__":
    main()
