#!/usr/bin/python3
"""kill -9 during writes (bench/durability.sh says what and why).

Runs inside the private namespaces of tests/e2e/k1s_harness.py isolate(). Writers are separate
processes (each its own keep-alive HTTPS connection), so the client's GIL does not set the pace.
Each writer appends every acknowledged (201) name to its own file, flushed before the next
request, so what the client was told survives the kill.
"""
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from k1s_harness import K1s, isolate  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "20"))
WRITERS = int(os.environ.get("WRITERS", "8"))
SEED = int(os.environ.get("SEED", "1"))
BENCH_CREATES = int(os.environ.get("BENCH_CREATES", "400"))  # per writer, per sync mode
NS = "default"


def writer(host, port, ca, token, prefix, out_path, limit, stop_at):
    """Creates ConfigMaps prefix-0, prefix-1, ... until limit, a connection error or stop_at.
    Appends `name latency_ms` for each 201 to out_path."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
    hdrs = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    with open(out_path, "a", buffering=1) as out:
        i = 0
        while i < limit and time.monotonic() < stop_at:
            name = f"{prefix}-{i}"
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                               "data": {"who": name, "pad": "x" * 200}})
            t0 = time.monotonic()
            try:
                conn.request("POST", f"/api/v1/namespaces/{NS}/configmaps", body=body, headers=hdrs)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                return  # the daemon is gone
            if resp.status == 201:
                out.write(f"{name} {(time.monotonic() - t0) * 1000:.3f}\n")
                out.flush()
            elif resp.status >= 500:
                out.write(f"#5xx {name} {resp.status}\n")
            i += 1


def start_writers(k, tag, outdir, limit, seconds):
    stop_at = time.monotonic() + seconds
    procs = []
    for w in range(WRITERS):
        p = multiprocessing.Process(target=writer, args=(k.host, k.host_port, k.ca_file, k.token, f"{tag}-w{w}",
                                                         os.path.join(outdir, f"{tag}-w{w}.txt"), limit, stop_at))
        p.start()
        procs.append(p)
    return procs


def read_acks(outdir, tag):
    names, lat, errors = [], [], []
    for w in range(WRITERS):
        path = os.path.join(outdir, f"{tag}-w{w}.txt")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                parts = line.split()
                if not line.endswith("\n") or len(parts) < 2:
                    continue  # a line cut by the writer's own death is not an acknowledgement we recorded
                if parts[0] == "#5xx":
                    errors.append(line.strip())
                    continue
                names.append(parts[0])
                lat.append(float(parts[1]))
    return names, lat, errors


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def integrity(data_dir, scratch):
    """PRAGMA integrity_check on a copy of the database as the kill left it (db + WAL)."""
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    for suffix in ("", "-wal", "-shm", "-journal"):
        src = os.path.join(data_dir, "state.db" + suffix)
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(scratch, "state.db" + suffix))
    db = sqlite3.connect(os.path.join(scratch, "state.db"))
    try:
        rows = db.execute("PRAGMA integrity_check").fetchall()
        count = db.execute("SELECT count(*) FROM objects WHERE resource LIKE '%configmaps%'").fetchone()[0]
    finally:
        db.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return ", ".join(r[0] for r in rows), count


def stored_configmaps(k):
    lst = k.get_json(f"/api/v1/namespaces/{NS}/configmaps")
    return {i["metadata"]["name"]: i.get("data", {}).get("who") for i in lst["items"]}


def throughput(sync, outdir):
    k = K1s(extra_args=[f"--sync={sync}"])
    try:
        k.start()
        t0 = time.monotonic()
        procs = start_writers(k, f"bench-{sync}", outdir, BENCH_CREATES, 600)
        for p in procs:
            p.join()
        elapsed = time.monotonic() - t0
        names, lat, errors = read_acks(outdir, f"bench-{sync}")
        assert not errors, errors[:5]
        assert len(names) == WRITERS * BENCH_CREATES, (len(names), WRITERS * BENCH_CREATES)
        return len(names) / elapsed, statistics.median(lat), pct(lat, 0.99), len(names)
    finally:
        k.close()


def crash_rounds(outdir):
    rng = random.Random(SEED)
    k = K1s(extra_args=["--sync=normal"])
    total_acked, total_lost, bad_integrity, total_5xx = 0, 0, 0, 0
    acked_all = {}
    print(f"{'round':>5} {'kill after s':>12} {'acked':>6} {'lost':>5} {'in db (not acked)':>17} "
          f"{'integrity_check':<16}", flush=True)
    try:
        k.start()
        for rnd in range(1, ROUNDS + 1):
            tag = f"r{rnd}"
            delay = rng.uniform(0.1, 2.0)
            procs = start_writers(k, tag, outdir, 10 ** 9, 60)
            time.sleep(delay)
            k.proc.send_signal(signal.SIGKILL)  # by PID: the daemon this script started
            k.proc.wait(timeout=30)
            for p in procs:
                p.join(timeout=60)
                if p.is_alive():
                    p.kill()
                    p.join()
            k.stop()
            names, _, errors = read_acks(outdir, tag)
            total_5xx += len(errors)
            for n in names:
                acked_all[n] = rnd
            ic, _ = integrity(k.data_dir, os.path.join(outdir, "ic"))
            if ic != "ok":
                bad_integrity += 1
            k.token = None
            k.start()
            have = stored_configmaps(k)
            lost = [n for n in acked_all if have.get(n) != n]
            lost_now = [n for n in names if have.get(n) != n]
            extra = sum(1 for n in have if n.startswith(tag + "-") and n not in set(names))
            total_acked += len(names)
            total_lost += len(lost_now)
            print(f"{rnd:5d} {delay:12.2f} {len(names):6d} {len(lost_now):5d} {extra:17d} {ic:<16}"
                  + (f"  LOST (all rounds so far): {lost[:5]}" if lost else ""), flush=True)
    finally:
        k.close()
    return total_acked, total_lost, bad_integrity, total_5xx, len(acked_all)


def main():
    isolate()
    multiprocessing.set_start_method("fork")
    outdir = tempfile.mkdtemp(prefix="k1s-bench-durability-")
    try:
        fs = subprocess.run(["stat", "-f", "-c", "%T", tempfile.gettempdir()], capture_output=True, text=True).stdout
        print(f"kill -9 during writes: {ROUNDS} rounds, {WRITERS} writers, seed {SEED}, "
              f"data dir on {tempfile.gettempdir()} ({fs.strip()})", flush=True)
        acked, lost, bad_ic, n5xx, distinct = crash_rounds(outdir)
        print(f"total: {acked} acknowledged creates, {lost} lost, {bad_ic} rounds failing integrity_check, "
              f"{n5xx} 5xx", flush=True)
        print("", flush=True)
        print(f"write throughput, {WRITERS} writers x {BENCH_CREATES} ConfigMap creates, same run:")
        print(f"{'--sync':<8} {'creates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'n':>6}")
        res = {}
        for sync in ("normal", "full"):
            res[sync] = throughput(sync, outdir)
            r = res[sync]
            print(f"{sync:<8} {r[0]:10.0f} {r[1]:8.2f} {r[2]:8.2f} {r[3]:6d}", flush=True)
        print(f"full / normal: {res['full'][0] / res['normal'][0]:.2f}x the creates/s, "
              f"{res['full'][1] / res['normal'][1]:.2f}x the p50 latency", flush=True)
        return 1 if lost or bad_ic else 0
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
