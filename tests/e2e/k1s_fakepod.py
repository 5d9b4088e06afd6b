"""A hand-made "pod" for network tests that need no container image: a named netns with a
veth on the daemon's bridge, a pod-range address and the bridge as default gateway, so its
traffic takes the same path as a kubelet pod's (bridge -> host FORWARD/INPUT -> iptables).
Optional python http.servers inside it act as endpoints."""
import atexit
import os
import subprocess

from k1s_harness import wait_for

BRIDGE_IP = "10.244.0.1"  # the daemon's default node (bridge) address


def sh(*cmd, check=True, timeout=30):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}: {r.stderr.strip()}")
    return r.stdout


class FakePod:
    def __init__(self, k, ip, tag):
        """tag: a few characters unique within the test (veth names are tag-derived)."""
        self.k = k
        self.ip = ip
        # A named netns leaves a file in /run/netns (the host's directory) even though its mount
        # lives in the test's private mount namespace: k1s-prefixed, unique, and always deleted.
        self.netns = f"k1s-{tag}{os.getpid()}"
        wait_for("bridge " + k.bridge, lambda: subprocess.run(["ip", "link", "show", k.bridge],
                                                              capture_output=True).returncode == 0)
        sh("ip", "netns", "add", self.netns)
        atexit.register(lambda: subprocess.run(["ip", "netns", "del", self.netns], capture_output=True))
        host, peer = f"{tag}h0", f"{tag}p0"
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
        sh("ip", "link", "set", host, "master", k.bridge, "up")
        sh("ip", "link", "set", peer, "netns", self.netns)
        for cmd in (["ip", "addr", "add", ip + "/24", "dev", peer], ["ip", "link", "set", peer, "up"],
                    ["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "via", BRIDGE_IP]):
            self.run(*cmd)

    def run(self, *cmd, timeout=30):
        return sh("ip", "netns", "exec", self.netns, *cmd, timeout=timeout)

    def python(self, code, *args, timeout=60):
        return self.run("/usr/bin/python3", "-c", code, *args, timeout=timeout)

    def serve(self, port, files):
        """An http.server on port serving files {name: text}; returns once it answers."""
        www = os.path.join(self.k.tmp, f"www-{self.netns}-{port}")
        os.makedirs(www)
        for name, text in files.items():
            with open(os.path.join(www, name), "w") as f:
                f.write(text)
        p = subprocess.Popen(["ip", "netns", "exec", self.netns, "/usr/bin/python3", "-m", "http.server",
                              "--bind", "0.0.0.0", "--directory", www, str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.k._children.append(p)  # stopped with the harness's other helpers
        name = next(iter(files))
        wait_for(f"http server :{port} in the pod", lambda: self.python(
            f"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:{port}/{name}').read())"))
        return p
