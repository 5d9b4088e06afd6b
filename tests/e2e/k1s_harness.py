"""End-to-end harness: runs a real `k1s server` privately and talks to it.

Every e2e test starts with `isolate()`: the test process re-executes itself under
unshare(1) in new network, mount and PID namespaces. The daemon's 127.0.0.1:6443,
its bridge, iptables rules, netns bind mounts and every process it starts live
only there, and all of it disappears when the test process (PID 1 of that
namespace) exits -- even after a crash or a ctest timeout.

    from k1s_harness import isolate, K1s, Results
    isolate()
    res = Results()
    with K1s() as k:
        res.check("namespaces listed", lambda: ...)
    sys.exit(res.finish(k))

A test that cannot run (not root, unshare missing, binary missing) fails with
the reason; it never passes silently.
"""

import base64
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

import yaml

KUBECTL_DIR = "/usr/lib/google-cloud-sdk/bin"
KUBECTL_VERSIONS = ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]
_MARKER = "K1S_E2E_ISOLATED"


def die(reason):
    """The test cannot run: say why and fail (exit 2 so ctest reports it)."""
    print(f"E2E CANNOT RUN: {reason}", flush=True)
    print("0 passed, 1 failed", flush=True)
    sys.exit(2)


def k1s_binary():
    path = os.environ.get("K1S_BIN")
    if not path:
        src = os.environ.get("K1S_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
        path = os.path.join(src, "build", "k1s")
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        die(f"k1s binary not found at {path} (set K1S_BIN)")
    return path


def isolate():
    """Re-exec this script in private net+mount+pid namespaces (once), then bring lo up."""
    if os.environ.get(_MARKER) == "1":
        if os.getpid() != 1:
            die("expected to be PID 1 of a private PID namespace after re-exec")
        r = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            die(f"cannot bring lo up in the private netns: {r.stderr.strip()}")
        # PID 1 gets no default signal actions: make SIGTERM/SIGINT (ctest timeout,
        # Ctrl-C forwarded by unshare) end the test so the namespace is torn down.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
        return
    if os.geteuid() != 0:
        die("e2e tests need root (network namespaces, bridges, iptables)")
    unshare = shutil.which("unshare")
    if not unshare:
        die("unshare(1) not found (util-linux)")
    if not shutil.which("ip"):
        die("ip(8) not found (iproute2)")
    k1s_binary()  # fail early with the reason, before re-exec
    env = dict(os.environ, **{_MARKER: "1", "PYTHONUNBUFFERED": "1"})
    argv = [unshare, "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(unshare, argv, env)
    except OSError as e:
        die(f"cannot exec unshare: {e}")


class HttpResult:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body        # bytes

    def header(self, name):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return vals[0] if vals else None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"HTTP {self.status}: body is not JSON: {self.text[:500]!r}")

    def __repr__(self):
        return f"<HTTP {self.status} {self.text[:300]!r}>"


class K1s:
    """A private k1s daemon. Use as a context manager; see the module docstring."""

    def __init__(self, port=6443, extra_args=(), ready_timeout=60, keep_dir=False):
        self.binary = k1s_binary()
        self.port = port
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.keep_dir = keep_dir
        self.tmp = tempfile.mkdtemp(prefix="k1s-e2e-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.run_dir = os.path.join(self.tmp, "run")
        self.home = os.path.join(self.tmp, "home")  # kubectl's ~/.kube/cache lives here, per test
        os.makedirs(self.home)
        self.log_path = os.path.join(self.tmp, "k1s-server.log")
        self.bridge = "k1st%06x" % random.randrange(1 << 24)
        self.proc = None
        self.kubeconfig = os.path.join(self.data_dir, "kubeconfig.yaml")
        self.token = None
        self.base_url = None
        self.ca_file = os.path.join(self.tmp, "ca.crt")
        self._ssl = None
        self._log_file = None
        self._children = []  # background processes started by helpers (watchers, proxies)

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.print_log()
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            traceback.print_exception(exc_type, exc, tb)
            self.print_log()
        self.close()
        return False

    def server_args(self):
        return [self.binary, "server",
                "--data-dir", self.data_dir,
                "--run-dir", self.run_dir,
                "--bind-address", "127.0.0.1",
                "--secure-port", str(self.port),
                "--bridge", self.bridge,
                *self.extra_args]

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("daemon already running")
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"==== start {' '.join(self.server_args())}\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(self.server_args(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(os.environ, HOME=self.home))
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        last = "no kubeconfig yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"k1s server exited with {self.proc.returncode} before ready")
            if self.token is None and os.path.exists(self.kubeconfig):
                try:
                    self._load_kubeconfig()
                except Exception as e:  # half-written file: try again
                    last = f"kubeconfig not readable yet: {e}"
                    self.token = None
            if self.token is not None:
                try:
                    r = self.http("GET", "/readyz", timeout=5)
                    if r.status == 200:
                        return
                    last = f"/readyz -> {r.status} {r.text[:200]}"
                except (OSError, http.client.HTTPException) as e:
                    last = f"/readyz: {e}"
            time.sleep(0.1)
        raise RuntimeError(f"k1s server not ready within {self.ready_timeout}s: {last}")

    def _load_kubeconfig(self):
        with open(self.kubeconfig) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg.get("current-context")
        ctx = next((c["context"] for c in cfg["contexts"] if c["name"] == ctx_name), cfg["contexts"][0]["context"])
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        ca = base64.b64decode(cluster["certificate-authority-data"])
        with open(self.ca_file, "wb") as f:
            f.write(ca)
        self.base_url = cluster["server"].rstrip("/")
        hostport = self.base_url.split("://", 1)[1]
        self.host, _, port = hostport.rpartition(":")
        self.host_port = int(port)
        ctxssl = ssl.create_default_context(cafile=self.ca_file)
        self._ssl = ctxssl
        self.token = user["token"]

    def stop(self, kill=False, timeout=15):
        """Stop the daemon by PID: SIGKILL at once if kill, else SIGTERM then SIGKILL after timeout."""
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"k1s server (pid {p.pid}) ignored SIGTERM for {timeout}s; SIGKILL", flush=True)
                p.kill()
                p.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        self.proc = None
        return p.returncode

    def restart(self, kill=False):
        """Stop (SIGKILL if kill) and start again on the same data dir."""
        self.stop(kill=kill)
        self.token = None
        self.start()

    def close(self):
        for c in self._children:
            self.stop_process(c)
        self._children = []
        try:
            self.stop()
        finally:
            self._reap_namespace()
            self._unmount_under(self.tmp)
            if self.keep_dir:
                print(f"kept {self.tmp}", flush=True)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def _reap_namespace(self):
        # Only in our own PID namespace (we are PID 1): every other process here is a
        # descendant of this test (shims the daemon started and left behind).
        if os.getpid() != 1:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != 1]
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                try:
                    while os.waitpid(-1, os.WNOHANG)[0] > 0:
                        pass
                except ChildProcessError:
                    break
                if not [p for p in os.listdir("/proc") if p.isdigit() and p != "1"]:
                    return
                time.sleep(0.05)

    @staticmethod
    def _unmount_under(path):
        # Mounts the daemon made (netns handles, rootfs) are in our private mount
        # namespace; detach them so the temp dir can be removed.
        if os.environ.get(_MARKER) != "1":
            return
        try:
            with open("/proc/self/mounts") as f:
                points = [line.split()[1].encode().decode("unicode_escape") for line in f]
        except OSError:
            return
        for mp in sorted((p for p in points if p == path or p.startswith(path + "/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True, timeout=10)

    def print_log(self, tail=200):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            print("(no daemon log)", flush=True)
            return
        print(f"---- k1s server log (last {min(tail, len(lines))} of {len(lines)} lines) ----")
        for line in lines[-tail:]:
            print(line)
        print("---- end of k1s server log ----", flush=True)

    # ---- clients ---------------------------------------------------------------------------

    def env(self):
        return dict(os.environ, HOME=self.home, KUBECONFIG=self.kubeconfig)

    def kubectl(self, version, *args, input=None, timeout=60, check=False):
        """Run /usr/lib/google-cloud-sdk/bin/kubectl.<version> --kubeconfig K args..."""
        binary = os.path.join(KUBECTL_DIR, f"kubectl.{version}")
        cmd = [binary, "--kubeconfig", self.kubeconfig, "--cache-dir", os.path.join(self.home, "cache-" + version),
               *args]
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=self.env())
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd[3:])} -> exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def kubectl_popen(self, version, *args):
        """A background kubectl (e.g. get -w); stopped by stop_process or at close."""
        binary = os.path.join(KUBECTL_DIR, f"kubectl.{version}")
        cmd = [binary, "--kubeconfig", self.kubeconfig, "--cache-dir", os.path.join(self.home, "cache-" + version),
               *args]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env())
        self._children.append(p)
        return p

    def k1s(self, *args, input=None, timeout=60):
        """Run the k1s client verbs (`k1s get pods`), KUBECONFIG pointing at this daemon."""
        return subprocess.run([self.binary, *args], input=input, capture_output=True, text=True,
                              timeout=timeout, env=self.env())

    def k1s_popen(self, *args):
        p = subprocess.Popen([self.binary, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env())
        self._children.append(p)
        return p

    def stop_process(self, p, timeout=5):
        """Stop a helper process this harness started (by its PID)."""
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        if p in self._children:
            self._children.remove(p)
        return p

    def connection(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.host_port, context=self._ssl, timeout=timeout)

    def http(self, method, path, body=None, headers=None, token=True, timeout=30):
        """One HTTPS request; body may be bytes, str, or a JSON-able object. Returns HttpResult."""
        hdrs = {"Accept": "application/json"}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if token:
            hdrs["Authorization"] = f"Bearer {self.token if token is True else token}"
        hdrs.update(headers or {})
        conn = self.connection(timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return HttpResult(resp.status, resp.getheaders(), data)
        finally:
            conn.close()

    def get_json(self, path):
        r = self.http("GET", path)
        assert r.status == 200, f"GET {path} -> {r.status} {r.text[:500]}"
        return r.json()


def wait_for(what, fn, timeout=30, interval=0.2):
    """Poll fn until it returns a truthy value; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - report the last failure on timeout
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last})" if last else ""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Results:
    """Counts checks; prints `N passed, N failed` as the test's last line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, name, fn, *args, **kwargs):
        t0 = time.monotonic()
        try:
            v = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - one failed check must not stop the others
            self.failed += 1
            self.failures.append(name)
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            if not isinstance(e, AssertionError):
                detail = traceback.format_exc().strip()
            print(f"FAIL {name} ({time.monotonic() - t0:.1f}s): {detail}", flush=True)
            return None
        self.passed += 1
        print(f"ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        return v

    def finish(self, k1s=None):
        if self.failed:
            print("failed checks: " + "; ".join(self.failures))
            if k1s is not None:
                k1s.print_log()
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed or not self.passed else 0


def run_test(body, **k1s_kwargs):
    """isolate(), start a daemon, run body(k, results), stop it; exit with the verdict."""
    isolate()
    res = Results()
    k = None
    try:
        with K1s(**k1s_kwargs) as k:
            body(k, res)
            code = res.finish(k)
    except Exception as e:  # noqa: BLE001 - daemon failed to start or body crashed
        print(f"FAIL harness: {e}", flush=True)
        res.failed += 1
        code = res.finish(None)
    sys.exit(code)


def build_busybox_image(work, refs):
    """A one-layer busybox image (Debian's busybox-static, every applet linked in /bin) as
    OCI layout directories, one per ref in refs (e.g. "example.com/k1s/busybox:1"); returns
    their paths for `k1s image import`. Needs umoci and skopeo; all local, no registry."""
    for tool in ("umoci", "skopeo"):
        if not shutil.which(tool):
            die(f"{tool} not found (scripts/install-deps.sh installs the test packages)")
    if not os.path.isfile("/bin/busybox"):
        die("/bin/busybox not found (busybox-static)")

    def run(*cmd):
        r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    layout = os.path.join(work, "bb-layout")
    bundle = os.path.join(work, "bb-bundle")
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", layout + ":t")
    run("umoci", "unpack", "--image", layout + ":t", bundle)
    rootfs = os.path.join(bundle, "rootfs")
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for applet in run("/bin/busybox", "--list").split():
        if applet != "busybox" and "/" not in applet:
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    run("umoci", "repack", "--image", layout + ":t", bundle)
    run("umoci", "config", "--image", layout + ":t", "--config.env", "PATH=/bin:/usr/bin:/sbin:/usr/sbin",
        "--config.cmd", "sh")
    out = []
    for i, ref in enumerate(refs):
        dest = os.path.join(work, f"bb-image-{i}")
        run("skopeo", "copy", f"oci:{layout}:t", f"oci:{dest}:{ref}")
        out.append(dest)
    return out


def import_images(data_dir, paths):
    """`k1s image import --data-dir D PATH...` (no daemon needed); returns its stdout."""
    r = subprocess.run([k1s_binary(), "image", "import", "--data-dir", data_dir, *paths],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"k1s image import failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout
