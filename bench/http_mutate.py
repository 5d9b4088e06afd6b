#!/usr/bin/python3
"""Mutated HTTP input against a running `k1s server` (DESIGN rule 8: bad input is a 4xx Status,
never a crash, a 500 or unbounded memory).

Starts from requests like the ones kubectl and client libraries send (discovery, OpenAPI, GET/LIST/
WATCH with selectors and query strings, POST/PUT of Pods, ConfigMaps, Services, Deployments and
more as JSON, YAML and protobuf, the three PATCH types and apply-patch+yaml, DELETE with options,
the status/scale/log/eviction/binding subresources), mutates each (byte flips, truncation, repeated
and oversized headers, odd methods, bad percent-encoding, invalid UTF-8, deep nesting within
kube's limits, type confusion in JSON fields), and sends N of them (default 50,000) over W
keep-alive TLS connections (default 4, one per worker process), mostly authenticated.

Prints the status-code histogram, the count of error answers that are not a Status JSON, the
daemon's RSS (VmRSS) after warm-up and after the run (objects the run created deleted again),
and whether the daemon is alive and ready at the end. Every 5xx is saved with the request that
caused it to OUT (default /tmp/k1s-http-mutate-5xx.jsonl). Exit 1 on any 5xx, crash, or RSS
growth over 10%.

Standard library only for the client (ssl + socket); the daemon is started and isolated with
tests/e2e/k1s_harness.py (private net/mount/pid namespaces), in a cgroup v1 memory limit.
"""
import base64
import copy
import json
import multiprocessing
import os
import random
import re
import socket
import ssl
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from k1s_harness import K1s, isolate  # noqa: E402

N = int(os.environ.get("N", "50000"))
WORKERS = int(os.environ.get("W", "4"))
SEED = int(os.environ.get("SEED", "1"))
OUT = os.environ.get("OUT", "/tmp/k1s-http-mutate-5xx.jsonl")
NS = "fuzz"
READ_TIMEOUT = 1.0
WINDOW = 20000  # the store's watch window, in events (apiserver/store.h)

# ------------------------------------------------------------------------------ seed requests


def ywrite(v, indent=0):
    """A small block-style YAML emitter (strings always double-quoted as JSON)."""
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return "{}\n"
        out = "\n" if indent else ""
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out += f"{pad}{k}:" + ywrite(x, indent + 2)
            else:
                out += f"{pad}{k}: " + ywrite(x, indent + 2)
        return out
    if isinstance(v, list):
        if not v:
            return "[]\n"
        out = "\n"
        for x in v:
            if isinstance(x, dict) and x:
                body = ywrite(x, indent + 2).lstrip("\n")
                out += f"{pad}- " + body[indent + 2:]
            else:
                out += f"{pad}- " + ywrite(x, indent + 2)
        return out
    return json.dumps(v) + "\n"


def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_varint((num << 3) | 2) + pb_varint(len(data)) + data


def pb_configmap(name):
    """k8s\\0 + runtime.Unknown{typeMeta{v1, ConfigMap}, raw=ConfigMap{metadata{name}, data{a: b}}}."""
    meta = pb_field(1, name)
    entry = pb_field(1, "a") + pb_field(2, "b")
    cm = pb_field(1, meta) + pb_field(2, entry)
    unknown = pb_field(1, pb_field(1, "v1") + pb_field(2, "ConfigMap")) + pb_field(2, cm)
    return b"k8s\x00" + unknown


def pod(name, **extra):
    spec = {"nodeName": "fuzz-node",  # never this node's kubelet: nothing starts
            "containers": [{"name": "c", "image": "k1s.test/none:1", "command": ["sleep", "3600"],
                            "args": ["a"], "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                            "env": [{"name": "A", "value": "1"},
                                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"},
                                          "requests": {"cpu": "50m", "memory": "32Mi"}},
                            "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5},
                            "livenessProbe": {"tcpSocket": {"port": "http"}, "initialDelaySeconds": 1},
                            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                            "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 0,
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]}
    spec.update(extra)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web", "tier": "back"},
                         "annotations": {"note": "fuzz"}}, "spec": spec}


def deployment(name):
    tmpl = pod("x")
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name},
                                                 "matchExpressions": [{"key": "tier", "operator": "In",
                                                                       "values": ["back"]}]},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                     "revisionHistoryLimit": 2, "minReadySeconds": 0,
                     "template": {"metadata": {"labels": {"app": name, "tier": "back"}}, "spec": tmpl["spec"]}}}


def service(name, typ="ClusterIP"):
    spec = {"type": typ, "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                      {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"}],
            "sessionAffinity": "None"}
    if typ == "ExternalName":
        spec = {"type": typ, "externalName": "example.com"}
    if typ == "NodePort":
        spec["ports"][0]["nodePort"] = 30080
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"fuzz": "yes"}},
            "data": {"k": "v", "file.txt": "line\n"}, "binaryData": {"b": "AAEC"}}


def others():
    return [
        ("/api/v1/namespaces/fuzz/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s2"},
                                             "type": "Opaque", "data": {"pw": "c2VjcmV0"}, "stringData": {"u": "me"}}),
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz-x"}}),
        ("/api/v1/namespaces/fuzz/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                     "metadata": {"name": "sa1"}}),
        ("/api/v1/namespaces/fuzz/events", {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
                                            "involvedObject": {"kind": "Pod", "name": "p1", "namespace": NS},
                                            "reason": "Fuzz", "message": "m", "type": "Normal", "count": 1,
                                            "firstTimestamp": "2026-01-01T00:00:00Z"}),
        ("/apis/coordination.k8s.io/v1/namespaces/fuzz/leases",
         {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l1"},
          "spec": {"holderIdentity": "me", "leaseDurationSeconds": 10, "renewTime": "2026-01-01T00:00:00.000000Z"}}),
        ("/api/v1/namespaces/fuzz/endpoints", {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ep1"},
                                               "subsets": [{"addresses": [{"ip": "10.244.0.9"}],
                                                            "ports": [{"port": 80, "name": "http"}]}]}),
        ("/apis/discovery.k8s.io/v1/namespaces/fuzz/endpointslices",
         {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "es1"},
          "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.9"], "conditions": {"ready": True}}],
          "ports": [{"port": 80, "name": "http", "protocol": "TCP"}]}),
        ("/apis/apps/v1/namespaces/fuzz/replicasets",
         {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs1"},
          "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "rs1"}},
                   "template": {"metadata": {"labels": {"app": "rs1"}}, "spec": pod("x")["spec"]}}}),
        ("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fuzz-node-2"},
                           "spec": {"podCIDR": "10.245.0.0/24", "unschedulable": True}}),
    ]


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
PARTIAL = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
AGG = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
PB = "application/vnd.kubernetes.protobuf,application/json"


def seeds(cont):
    """(method, path, headers, body, kind) tuples; body is a Python object (kind json/yaml), bytes, or None."""
    base = f"/api/v1/namespaces/{NS}"
    apps = f"/apis/apps/v1/namespaces/{NS}"
    s = []

    def get(path, accept="application/json"):
        s.append(("GET", path, {"Accept": accept}, None, None))

    for p in ["/api", "/apis", "/api/v1", "/apis/apps/v1", "/apis/apps", "/apis/discovery.k8s.io/v1",
              "/version", "/healthz?verbose", "/readyz?verbose=1&exclude=etcd", "/livez", "/openapi/v2",
              "/openapi/v3", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1"]:
        get(p)
    get("/api", AGG)
    get("/apis", AGG)
    for p in [f"{base}/pods?labelSelector=app%3Dweb%2Ctier%21%3Dfront&limit=5",
              f"{base}/pods?labelSelector=app+in+%28web%2Capi%29%2C%21legacy",
              f"{base}/configmaps?fieldSelector=metadata.name%3Dcm1&resourceVersion=0",
              "/api/v1/pods?fieldSelector=spec.nodeName%3Dfuzz-node%2Cstatus.phase%21%3DRunning",
              f"{base}/configmaps?limit=1&continue={urllib.parse.quote(cont)}",
              f"{base}/configmaps/cm1", f"{base}/configmaps/cm1?resourceVersion=0",
              f"{base}/pods/p1", f"{base}/pods/p1/status", f"{base}/services/s1", f"{base}/events?limit=500",
              f"{apps}/deployments/d1", f"{apps}/deployments/d1/scale", f"{apps}/deployments/d1/status",
              f"{apps}/deployments?labelSelector=app", "/api/v1/namespaces?limit=10", "/api/v1/nodes",
              f"{base}/pods/p1/log?container=c&tailLines=10&timestamps=true",
              "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Ds1",
              f"{base}/endpoints/s1", "/api/v1/namespaces/fuzz"]:
        get(p)
    get(f"{base}/pods", TABLE)
    get(f"{apps}/deployments/d1", TABLE)
    get(f"{base}/configmaps", PARTIAL)
    get(f"{base}/configmaps/cm1", PB)
    for p in [f"{base}/configmaps?watch=1&timeoutSeconds=1&allowWatchBookmarks=true",
              f"{base}/configmaps?watch=true&timeoutSeconds=1&resourceVersion=1",
              f"/api/v1/watch/namespaces/{NS}/pods?timeoutSeconds=1&labelSelector=app%3Dweb",
              f"{apps}/deployments?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dd1"]:
        get(p)

    def write(method, path, obj, ct="application/json", kind="json", headers=None):
        h = {"Accept": "application/json", "Content-Type": ct}
        h.update(headers or {})
        s.append((method, path, h, obj, kind))

    q = "?fieldManager=kubectl-client-side-apply&fieldValidation=Strict"
    dry = "?dryRun=All&fieldManager=kubectl-create&fieldValidation=Strict"
    write("POST", f"{base}/configmaps{q}", configmap("cm2"))
    write("POST", f"{base}/configmaps", configmap("cm3"), "application/yaml", "yaml")
    write("POST", f"{base}/configmaps", pb_configmap("cm4"), "application/vnd.kubernetes.protobuf", "bytes")
    write("POST", f"{base}/pods{dry}", pod("p2"))
    write("POST", f"{base}/pods{dry}", pod("p3"), "application/yaml", "yaml")
    write("POST", f"{base}/pods", pod("p4", initContainers=[{"name": "i", "image": "k1s.test/none:1"}]))
    write("POST", f"{base}/services{q}", service("s2"))
    write("POST", f"{base}/services{dry}", service("s3", "NodePort"))
    write("POST", f"{base}/services", service("s4", "ExternalName"), "application/yaml", "yaml")
    write("POST", f"{base}/services{dry}", service("s5", "LoadBalancer"))
    write("POST", f"{apps}/deployments{q}", deployment("d2"))
    write("POST", f"{apps}/deployments{dry}", deployment("d3"), "application/yaml", "yaml")
    for path, obj in others():
        write("POST", path, obj)
    write("POST", f"{base}/pods/p1/eviction", {"apiVersion": "policy/v1", "kind": "Eviction",
                                               "metadata": {"name": "p1", "namespace": NS},
                                               "deleteOptions": {"gracePeriodSeconds": 0, "dryRun": ["All"]}})
    write("POST", f"{base}/pods/p1/binding", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"},
                                              "target": {"apiVersion": "v1", "kind": "Node", "name": "fuzz-node"}})
    cm1 = configmap("cm1")
    cm1["data"]["k"] = "updated"
    write("PUT", f"{base}/configmaps/cm1{q}", cm1)
    write("PUT", f"{base}/configmaps/cm1", cm1, "application/yaml", "yaml")
    write("PUT", f"{apps}/deployments/d1/scale", {"apiVersion": "autoscaling/v1", "kind": "Scale",
                                                  "metadata": {"name": "d1", "namespace": NS},
                                                  "spec": {"replicas": 0}})
    write("PUT", f"{apps}/deployments/d1", deployment("d1"))
    st = pod("p1")
    st["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}],
                    "podIP": "10.244.9.9", "podIPs": [{"ip": "10.244.9.9"}],
                    "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0, "image": "x",
                                           "imageID": "", "state": {"waiting": {"reason": "Fuzz"}}}]}
    write("PUT", f"{base}/pods/p1/status", st)
    write("PUT", f"/api/v1/namespaces/{NS}/finalize", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": NS}, "spec": {"finalizers": ["kubernetes"]}})
    write("PUT", f"{base}/services/s1", service("s1"))
    write("PATCH", f"{base}/configmaps/cm1", {"data": {"m": "merge"}, "metadata": {"labels": {"x": None}}},
          "application/merge-patch+json")
    write("PATCH", f"{base}/configmaps/cm1", [{"op": "add", "path": "/data/j", "value": "p"},
                                             {"op": "test", "path": "/data/k", "value": "updated"},
                                             {"op": "replace", "path": "/metadata/labels", "value": {"a": "b"}},
                                             {"op": "copy", "from": "/data/j", "path": "/data/j2"},
                                             {"op": "move", "from": "/data/j2", "path": "/data/j3"},
                                             {"op": "remove", "path": "/data/j3"}],
          "application/json-patch+json")
    write("PATCH", f"{apps}/deployments/d1",
          {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "k1s.test/none:2"}],
                                          "$setElementOrder/containers": [{"name": "c"}]}},
                    "replicas": 0}, "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}},
          "application/strategic-merge-patch+json")
    write("PATCH", f"{base}/pods/p1", {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "c", "image": "k1s.test/none:3"}]}},
          "application/strategic-merge-patch+json")
    write("PATCH", f"{apps}/deployments/d1/scale", {"spec": {"replicas": 0}}, "application/merge-patch+json")
    write("PATCH", f"{apps}/deployments/d1/status", {"status": {"observedGeneration": 1}},
          "application/merge-patch+json")
    write("PATCH", f"{base}/configmaps/cm-apply?fieldManager=fuzz&force=true", configmap("cm-apply"),
          "application/apply-patch+yaml", "yaml")
    write("PATCH", f"{apps}/deployments/d1?fieldManager=fuzz&force=true", deployment("d1"),
          "application/apply-patch+yaml", "yaml")
    write("PATCH", f"{base}/services/s1", {"spec": {"ports": [{"port": 81, "name": "http2"}]}},
          "application/strategic-merge-patch+json")
    write("DELETE", f"{base}/configmaps/cm2", {"apiVersion": "v1", "kind": "DeleteOptions",
                                              "propagationPolicy": "Background", "gracePeriodSeconds": 0})
    write("DELETE", f"{base}/configmaps/cm3?dryRun=All", {"preconditions": {"uid": "x", "resourceVersion": "1"}})
    write("DELETE", f"{base}/configmaps?labelSelector=gone%3Dyes", None)
    write("DELETE", f"{base}/pods/p4?gracePeriodSeconds=0", None)
    write("DELETE", f"{apps}/deployments/d2?propagationPolicy=Foreground", {"orphanDependents": False})
    write("DELETE", "/api/v1/namespaces/fuzz-x", {"propagationPolicy": "Background"})
    write("DELETE", f"{base}/services/s2", None)
    return s


# ------------------------------------------------------------------------------ mutation

ODD_VALUES = [0, -1, 1, 1.5, -0.0, 1e308, 2 ** 31, -2 ** 31 - 1, 2 ** 63, 2 ** 64, -2 ** 63 - 1, 10 ** 30, "", "x",
              "0", "-1", "1.5", "true", "null", "100Mi", "1e3", "é", "\u0000", "\ud7ff", "a" * 300, "A" * 70000,
              None, True, False, [], {}, [None], ["x"], [1], [[]], {"a": 1}, {"": ""}, {"name": None}]
SMALL_INTS = [0, 1, 2]  # for replicas: never more than a couple of pods


def all_paths(v, path=()):
    yield path
    if isinstance(v, dict):
        for k, x in v.items():
            yield from all_paths(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from all_paths(x, path + (i,))


def get_at(v, path):
    for p in path:
        v = v[p]
    return v


def set_at(root, path, value):
    if not path:
        return value
    get_at(root, path[:-1])[path[-1]] = value
    return root


def deep(rng):
    """A marker for deeply nested JSON, expanded as text by encode() (Python's json recurses)."""
    depth = rng.choice([10, 100, 1000, rng.randrange(2, 9000)])
    return f"\x01DEEP:{depth}:{rng.choice('ao')}\x01"


def expand_deep(data):
    def one(m):
        depth, kind = int(m.group(1)), m.group(2)
        if kind == b"a":
            return b"[" * depth + b"]" * depth
        depth = min(depth, 5000)
        return b'{"a":' * depth + b"1" + b"}" * depth
    return re.sub(rb'"\\u0001DEEP:(\d+):([ao])\\u0001"', one, data)


def mutate_obj(rng, obj):
    """Structural mutation of a decoded body (a deep copy is passed in)."""
    paths = list(all_paths(obj))
    path = rng.choice(paths)
    cur = get_at(obj, path) if path else obj
    op = rng.random()
    key = path[-1] if path else None
    if op < 0.45:  # type confusion and odd values
        if key == "replicas":
            val = copy.deepcopy(rng.choice(SMALL_INTS + ["1", None, [], {}, 1.5, -1, 2 ** 63, "a"]))
        elif isinstance(cur, str) and rng.random() < 0.3:
            val = rng.choice([len(cur), 0, True, None, [cur], {"x": cur}])
            val = copy.deepcopy(val)
        elif isinstance(cur, bool):
            val = rng.choice(["true", 1, 0, None, "yes"])
        elif isinstance(cur, (int, float)) and rng.random() < 0.4:
            val = copy.deepcopy(rng.choice([str(cur), float(cur) + 0.5, -cur, None, [cur], {"v": cur}]))
        elif isinstance(cur, dict) and rng.random() < 0.3:
            val = copy.deepcopy(rng.choice([list(cur.values()), list(cur.keys()), "", 0, None]))
        elif isinstance(cur, list) and rng.random() < 0.3:
            val = copy.deepcopy(rng.choice([cur[0] if cur else None, {str(i): x for i, x in enumerate(cur)}, "", None,
                                            cur * 2]))
        else:
            val = rng.choice(ODD_VALUES)
        return set_at(obj, path, copy.deepcopy(val))
    if op < 0.6 and path:  # remove a key / element
        parent = get_at(obj, path[:-1])
        del parent[key]
        return obj
    if op < 0.72 and isinstance(cur, dict):  # unknown or misspelt field, or a known one with a new home
        name = rng.choice(["unknownField", "Name", "metadata", "spec", "status", "kind", "apiVersion", "$patch",
                           "$retainKeys", "$setElementOrder/containers", "items", "op", "path", "", "a.b",
                           "x" * 300, "\u00e9", "name"])
        cur[name] = copy.deepcopy(rng.choice(ODD_VALUES[:30]))
        return obj
    if op < 0.8:  # deep nesting within the limits
        return set_at(obj, path, deep(rng))
    if op < 0.88 and isinstance(cur, list):  # many elements
        cur.extend(copy.deepcopy(cur[0] if cur else {}) for _ in range(rng.choice([2, 50, 1000])))
        return obj
    if op < 0.94 and isinstance(cur, dict):  # strings become odd strings
        for k in list(cur)[:3]:
            if isinstance(cur[k], str):
                cur[k] = rng.choice(["", " ", "-", "a/b", "..", "UPPER", "a" * 254, "1.2.3.4", "::1",
                                     "-1", "0x10", "1e2", "\u0000", "\t", "\ufffd", "\U0001F600", "%00"])
        return obj
    # swap apiVersion/kind
    if isinstance(obj, dict):
        obj["kind"] = rng.choice(["Pod", "ConfigMap", "Status", "List", "Deployment", "", "Namespace", 1, None])
        obj["apiVersion"] = rng.choice(["v1", "apps/v1", "v2", "apps/v1beta1", "/", "", None, 3])
    return obj


def encode(obj, kind):
    if kind == "yaml":
        return expand_deep(ywrite(obj).encode("utf-8", "surrogatepass"))
    return expand_deep(json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def mutate_bytes(rng, body):
    body = bytearray(body)
    op = rng.random()
    if not body:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    if op < 0.25:
        for _ in range(rng.randrange(1, 8)):
            i = rng.randrange(len(body))
            body[i] ^= 1 << rng.randrange(8)
    elif op < 0.45:
        body = body[:rng.randrange(len(body))]
    elif op < 0.6:
        i = rng.randrange(len(body) + 1)
        body[i:i] = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf", b"\"", b"\\", b"\\u",
                                b"\\ud800", b"{", b"]", b",", b":", b"\n\t", b"&a ", b"*a", b"!!binary ", b"---\n",
                                b"<<: ", b"%YAML 1.1\n", b"? ", b"|", b">-\n", b"1e999999"])
    elif op < 0.7:
        i = rng.randrange(len(body))
        j = min(len(body), i + rng.randrange(1, 64))
        del body[i:j]
    elif op < 0.8:  # a duplicated key
        i = body.find(b"\"name\":")
        if i >= 0:
            body[i:i] = b"\"name\":\"dup\","
    elif op < 0.9:
        i = rng.randrange(len(body))
        j = min(len(body), i + rng.randrange(1, 64))
        body[i:i] = body[i:j] * rng.randrange(2, 20)
    else:
        body = bytearray(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    return bytes(body)


ODD_METHODS = ["get", "PROPFIND", "TRACE", "CONNECT", "HEAD", "OPTIONS", "PATCH", "PUT", "DELETE", "POST", "GET",
               "M" * 100, "G\x00T", "GET /", "BREW", "LIST", "WATCH"]


def mutate_path(rng, path):
    op = rng.random()
    p, _, q = path.partition("?")
    if op < 0.15:
        segs = p.split("/")
        i = rng.randrange(1, len(segs)) if len(segs) > 1 else 0
        segs[i] = rng.choice(["%zz", "%", "%0", "a%00b", "%ff%fe", "%c3", "%e2%82", "..", ".", "", "%2e%2e", "%2F",
                              "a" * 300, "x" * 5000, "%25", "+", "a b", "%C0%AF", "%ed%a0%80", "default",
                              "kube-system", "UPPER", "-", "\u00e9".encode().decode("latin-1"), "watch", "namespaces",
                              "status", "scale", "log", "eviction", "binding", "finalize", "proxy", "exec",
                              "pods", "configmaps", "v1", "apps", "api", "apis"])
        p = "/".join(segs)
    elif op < 0.25:
        p = p + rng.choice(["/", "//", "/x", "/status", "/scale", "/a/b/c", "%00", "/..", "/%2e"])
    elif op < 0.65:
        params = urllib.parse.parse_qsl(q, keep_blank_values=True)
        k = rng.choice(["limit", "timeoutSeconds", "watch", "resourceVersion", "resourceVersionMatch",
                        "labelSelector", "fieldSelector", "continue", "dryRun", "fieldManager", "fieldValidation",
                        "propagationPolicy", "gracePeriodSeconds", "force", "pretty", "includeObject",
                        "allowWatchBookmarks", "container", "tailLines", "sinceSeconds", "limitBytes", "previous",
                        "follow", "timestamps", "sendInitialEvents", "orphanDependents", "exclude", "verbose"])
        v = rng.choice(["", "0", "-1", "1", "true", "false", "All", "Server", "x", "9" * 30, "1.5", "1e3", "%zz",
                        "%ff", "%00", "a=b", "a==b", "a!=b", "a in (b", "a notin (b)", "!a", "a,b,,", "=", "!=",
                        "metadata.name=x,metadata.namespace!=y", "spec.unknown=x", "status.phase=Running",
                        "a" * 400, "x" * 70000, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJ4In0",
                        "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoxfQ", "e30", "!!!", "NotOlderThan",
                        "Exact", "Strict", "Warn", "Ignore", "Orphan", "Foreground", "Background", "Object", "None",
                        "Metadata", "c", "zz"])
        if rng.random() < 0.5 or not params:
            params.append((k, v))
        else:
            params[rng.randrange(len(params))] = (k, v)
        raw = rng.random() < 0.3  # some values not encoded at all
        q = "&".join(f"{a}={b}" if raw else f"{urllib.parse.quote(a)}={urllib.parse.quote(b, safe='')}"
                     for a, b in params)
    elif op < 0.75:
        q = q + rng.choice(["&&", "&=", "&a", "&%zz=1", "&watch", "&limit=1&limit=2", "&;", "#frag", "&\u00e9"])
    elif op < 0.85:
        # invalid UTF-8 / controls somewhere in the path, percent-encoded
        i = rng.randrange(len(p) + 1)
        p = p[:i] + rng.choice(["%ff", "%80", "%c3%28", "%e2%28%a1", "%f0%28%8c%28", "%01", "%7f", "%0a",
                                "%0d%0a", "%09"]) + p[i:]
    else:
        p = rng.choice(["/api/v1/namespaces/" + NS + "/configmaps/a%00b", "/apis/apps/v1/namespaces/x/deployments",
                        "/apis/unknown.group/v1/things", "/api/v2/pods", "/apis/apps/v2/deployments",
                        "/api/v1/namespaces//pods", "/api/v1/namespaces/" + NS + "/pods/p1/status/x",
                        "/api/v1/namespaces/" + NS + "/watch/pods", "/api/v1/watch/pods/p1",
                        "/openapi/v3/apis/unknown/v1", "/openapi/v3/../v2", "/ui/../api", "/healthz/x/y", "*",
                        "/api/v1/namespaces/fuzz/pods/p1/log", "/api/v1/namespaces/fuzz/pods/nope/log",
                        "/api/v1/namespaces/fuzz/pods/p1/exec?command=ls&stdout=1",
                        "/api/v1/namespaces/fuzz/pods/p1/portforward?ports=80",
                        "/api/v1/namespaces/fuzz/services/s1/proxy/", "/api/v1/nodes/x/proxy/metrics"])
    return p + ("?" + q if q else "")


def mutate_headers(rng, headers):
    """headers: list of (name, value) bytes pairs."""
    op = rng.random()
    if op < 0.15:
        headers.append(rng.choice([(b"Content-Type", b"application/json"), (b"Content-Type", b"text/plain"),
                                   (b"Authorization", b"Bearer nope"), (b"Accept", b"application/yaml"),
                                   (b"Transfer-Encoding", b"identity"), (b"Content-Length", b"5"),
                                   (b"Host", b"other"), (b"Accept-Encoding", b"gzip"), (b"Connection", b"close"),
                                   (b"Expect", b"100-continue")]))
    elif op < 0.3:
        i = rng.randrange(len(headers))
        name, _ = headers[i]
        if name.lower() in (b"content-length", b"host"):
            return headers
        headers[i] = (name, rng.choice([b"", b" ", b"application/json; charset=latin1", b"*/*",
                                        b"application/vnd.kubernetes.protobuf", b"application/json;as=Table",
                                        b"application/json;as=Table;g=meta.k8s.io;v=v1",
                                        b"application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
                                        b"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
                                        b"application/apply-patch+yaml", b"application/merge-patch+json",
                                        b"application/json-patch+json", b"application/strategic-merge-patch+json",
                                        b"application/yaml", b"multipart/form-data; boundary=x", b";;;",
                                        b"application/json;q=abc", b"\xff\xfe", b"a" * 8000]))
    elif op < 0.4:  # oversized or many headers
        if rng.random() < 0.5:
            headers.append((b"X-Big", b"a" * rng.choice([1000, 7000, 60000])))
        else:
            headers.extend([(b"X-Many", b"v")] * rng.choice([10, 90, 300]))
    elif op < 0.5:  # the token: missing, wrong, another scheme, odd case
        headers[:] = [(n, v) for n, v in headers if n != b"Authorization"]
        tok = [h for h in ORIG_TOKEN]
        headers.append((b"Authorization", rng.choice([b"", b"Bearer", b"Bearer ", b"Basic YTpi", b"bearer " +
                                                      bytes(tok), b"BEARER " + bytes(tok) + b" x",
                                                      b"Bearer " + bytes(tok)[:-1]])))
    else:
        headers.append((b"X-Odd-\xff", b"\x01\x7f"))
    return headers


ORIG_TOKEN = b""


def build(rng, seed, token):
    """One mutated request as raw bytes, and its summary for the report."""
    method, path, hdrs, obj, kind = seed
    nmut = rng.choice([1, 1, 1, 2, 2, 3])
    body = None
    if obj is not None:
        if kind in ("json", "yaml"):
            o = json.loads(json.dumps(obj))
            body_mutations = 0
            for _ in range(nmut):
                if rng.random() < 0.55:
                    o = mutate_obj(rng, o)
                    body_mutations += 1
            body = encode(o, kind)
        else:
            body = obj
    fix_length = True
    odd = False  # framing or request line mutated: the connection is not reused after this request
    headers = [(k.encode(), v.encode()) for k, v in hdrs.items()]
    authed = rng.random() < 0.95
    if authed:
        headers.append((b"Authorization", b"Bearer " + token))
    for _ in range(nmut):
        r = rng.random()
        if r < 0.2 and body is not None:
            body = mutate_bytes(rng, body)
        elif r < 0.5:
            path = mutate_path(rng, path)
        elif r < 0.65:
            headers = mutate_headers(rng, headers)
            odd = True
        elif r < 0.7:
            method = rng.choice(ODD_METHODS)
            odd = True
        elif r < 0.72:
            fix_length = False
            odd = True
    if body is None and method in ("POST", "PUT", "PATCH") and rng.random() < 0.3:
        body = b"{}"
    head = method.encode("latin-1", "replace") + b" " + path.encode("utf-8", "surrogateescape") + b" HTTP/1.1\r\n"
    head += b"Host: 127.0.0.1:6443\r\n"
    for k, v in headers:
        head += k + b": " + v + b"\r\n"
    if body is not None:
        n = len(body)
        if not fix_length:
            n = max(0, n + rng.choice([-5, -1, -1, 3]))  # a wrong Content-Length (a longer one waits out a timeout)
        if rng.random() < 0.03:
            odd = True
            head += b"Transfer-Encoding: chunked\r\n"
            body = (b"%x\r\n" % len(body)) + body + b"\r\n0\r\n\r\n" if rng.random() < 0.7 else b"zz\r\n" + body
        else:
            head += b"Content-Length: " + str(n).encode() + b"\r\n"
    head += b"\r\n"
    if any(c in path for c in " \r\n") or method == "HEAD":
        odd = True
    return head + (body or b""), method, path, body, odd


# ------------------------------------------------------------------------------ the client


class Conn:
    def __init__(self, host, port, ctx):
        self.host, self.port, self.ctx = host, port, ctx
        self.sock = None
        self.buf = b""

    def open(self):
        raw = socket.create_connection((self.host, self.port), timeout=10)
        self.sock = self.ctx.wrap_socket(raw, server_hostname=self.host)
        self.sock.settimeout(READ_TIMEOUT)
        self.buf = b""

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ConnectionError("header too long")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def roundtrip(self, data, method):
        """Returns (status, headers dict (lower-case), body, note); status None when no answer."""
        if self.sock is None:
            self.open()
        self.sock.sendall(data)
        try:
            line = self._line()
        except socket.timeout:
            return None, {}, b"", "timeout"
        while True:
            parts = line.split(b" ", 2)
            status = int(parts[1])
            headers = {}
            while True:
                h = self._line()
                if not h:
                    break
                k, _, v = h.partition(b":")
                headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
            if status >= 200:
                break
            line = self._line()  # 100 Continue: the final answer follows
        body = b""
        note = ""
        try:
            if method == "HEAD" or status in (204, 304):
                pass
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int(self._line().split(b";")[0], 16)
                    if size == 0:
                        while self._line():
                            pass
                        break
                    body += self._exact(size)
                    self._exact(2)
                    if len(body) > 64 << 20:
                        raise ConnectionError("body too long")
            elif "content-length" in headers:
                body = self._exact(int(headers["content-length"]))
            else:
                while True:  # until close
                    try:
                        self._fill()
                    except ConnectionError:
                        break
                body, self.buf = self.buf, b""
                self.close()
        except socket.timeout:
            note = "stream"  # a watch or log stream still open: fine, drop the connection
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body, note


def is_status(body):
    try:
        st = json.loads(body)
    except ValueError:
        return False
    return isinstance(st, dict) and st.get("kind") == "Status" and st.get("apiVersion") == "v1" and \
        isinstance(st.get("code"), int) and isinstance(st.get("message"), str)


def worker(idx, count, host, port, ca, token, seed_reqs, outpath):
    global ORIG_TOKEN
    ORIG_TOKEN = token.encode()
    rng = random.Random(SEED * 1000 + idx)
    ctx = ssl.create_default_context(cafile=ca)
    conn = Conn(host, port, ctx)
    hist, not_status, non_status_samples, fivexx, timeouts, conn_errors = {}, 0, [], [], 0, 0
    last = []
    refused = 0
    unchecked, unchecked_samples = 0, []
    weights = [0.15 if ("watch" in s[1] or "/log" in s[1]) else 1.0 for s in seed_reqs]
    for n in range(count):
        seed = rng.choices(seed_reqs, weights)[0]
        try:
            data, method, path, body, odd = build(rng, seed, ORIG_TOKEN)
        except (ValueError, RecursionError):  # a mutation the client cannot encode: draw again
            continue
        last = (last + [data[:2000]])[-5:]
        try:
            status, headers, rbody, note = conn.roundtrip(data, method)
        except (OSError, ConnectionError, ValueError, IndexError, ssl.SSLError) as e:
            conn.close()
            conn_errors += 1
            # a closed connection is fine (the server may drop a request it cannot parse); a refused
            # one means the daemon is gone
            try:
                conn.open()
                refused = 0
            except OSError:
                refused += 1
                if refused > 3:
                    fivexx.append({"crash": True, "after": n, "last_requests":
                                   [base64.b64encode(x).decode() for x in last], "error": str(e)})
                    break
                time.sleep(0.5)
            continue
        if status is None:
            timeouts += 1
            conn.close()
            continue
        if odd:
            conn.close()
        key = str(status)
        hist[key] = hist.get(key, 0) + 1
        if status == 400 and b"unexpected value type in the request" in rbody:
            unchecked += 1  # the HTTP layer's fallback for a JSON shape no handler checked
            if len(unchecked_samples) < 5:
                unchecked_samples.append({"request": data[:800].decode("latin-1"),
                                          "response": rbody[:400].decode("utf-8", "replace")})
        if status >= 400:
            if not is_status(rbody):
                not_status += 1
                if len(non_status_samples) < 20:
                    non_status_samples.append({"status": status, "body": rbody[:300].decode("utf-8", "replace"),
                                               "request": data[:600].decode("latin-1")})
        if status >= 500:
            fivexx.append({"status": status, "method": method, "path": path,
                           "request_b64": base64.b64encode(data).decode(),
                           "request_head": data[:1500].decode("latin-1"),
                           "response": rbody[:2000].decode("utf-8", "replace")})
    conn.close()
    with open(outpath, "w") as f:
        json.dump({"hist": hist, "not_status": not_status, "non_status_samples": non_status_samples,
                   "fivexx": fivexx, "timeouts": timeouts, "conn_errors": conn_errors,
                   "unchecked": unchecked, "unchecked_samples": unchecked_samples}, f)


# ------------------------------------------------------------------------------ the run


TRIM_BEFORE = [None]


def malloc_trim(pid):
    """Diagnosis only: asks the daemon's glibc to give freed memory back (gdb attaches for a moment);
    returns (RSS now, RSS after the same at warm-up) or None without gdb. Stops nothing."""
    import shutil
    import subprocess
    if not shutil.which("gdb"):
        return None
    subprocess.run(["gdb", "-q", "-batch", "-p", str(pid), "-ex", "call (int) malloc_trim(0)"],
                   capture_output=True, timeout=120)
    now = rss_kb(pid)
    if TRIM_BEFORE[0] is None:
        TRIM_BEFORE[0] = now
        return None
    return now, TRIM_BEFORE[0]


def count_by(items):
    out = {}
    for i in items:
        try:
            i = json.loads(i).get("message", i)
        except ValueError:
            pass
        out[i] = out.get(i, 0) + 1
    return out


def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def setup(k):
    def ok(r, *codes):
        assert r.status in codes, r
    ok(k.http("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
       201, 409)
    base = f"/api/v1/namespaces/{NS}"
    ok(k.http("POST", f"{base}/configmaps", configmap("cm1")), 201, 409)
    ok(k.http("POST", f"{base}/configmaps", configmap("cm0")), 201, 409)
    ok(k.http("POST", f"{base}/pods", pod("p1")), 201, 409)
    ok(k.http("POST", f"{base}/services", service("s1")), 201, 409)
    ok(k.http("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", deployment("d1")), 201, 409)
    lst = k.get_json(f"{base}/configmaps?limit=1")
    return lst["metadata"].get("continue", "")


BUILTIN_NS = {"default", "kube-system", "kube-public", "kube-node-lease"}


def cleanup(k):
    """Deletes what the run created: every namespace but the built-in ones (fuzz included), and in the
    built-in ones every object of the kinds the run writes (but the kubernetes Service and kube-dns)."""
    for ns in k.get_json("/api/v1/namespaces")["items"]:
        name = ns["metadata"]["name"]
        if name not in BUILTIN_NS:
            k.http("DELETE", "/api/v1/namespaces/" + urllib.parse.quote(name, safe=""))
    for ns in BUILTIN_NS:
        for coll in ["/api/v1/namespaces/{}/configmaps", "/api/v1/namespaces/{}/secrets", "/api/v1/namespaces/{}/pods",
                     "/api/v1/namespaces/{}/events", "/apis/apps/v1/namespaces/{}/deployments",
                     "/apis/apps/v1/namespaces/{}/replicasets", "/apis/coordination.k8s.io/v1/namespaces/{}/leases"]:
            k.http("DELETE", coll.format(ns) + "?gracePeriodSeconds=0")
        for svc in k.get_json(f"/api/v1/namespaces/{ns}/services")["items"]:
            n = svc["metadata"]["name"]
            if n not in ("kubernetes", "kube-dns"):
                k.http("DELETE", f"/api/v1/namespaces/{ns}/services/" + urllib.parse.quote(n, safe=""))
    for node in k.get_json("/api/v1/nodes")["items"]:
        if node["metadata"]["name"].startswith("fuzz"):
            k.http("DELETE", "/api/v1/nodes/" + urllib.parse.quote(node["metadata"]["name"], safe=""))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        left = [n["metadata"]["name"] for n in k.get_json("/api/v1/namespaces")["items"]
                if n["metadata"]["name"] not in BUILTIN_NS]
        if not left:
            return
        time.sleep(0.5)
    print(f"note: namespaces still terminating after cleanup: {left[:10]}", flush=True)


def flusher(host, port, ca, token, count, idx):
    ctx = ssl.create_default_context(cafile=ca)
    conn = Conn(host, port, ctx)
    name = f"flush-{idx}"

    def send(method, path, ct, b):
        req = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: {ct}\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b
        status, _, rbody, _ = conn.roundtrip(req, method)
        return status, rbody

    status, rbody = send("POST", f"/api/v1/namespaces/{NS}/configmaps", "application/json",
                         json.dumps({"metadata": {"name": name}}).encode())
    assert status in (201, 409), (status, rbody)
    for i in range(count):
        status, rbody = send("PATCH", f"/api/v1/namespaces/{NS}/configmaps/{name}", "application/merge-patch+json",
                             b'{"metadata":{"annotations":{"flush":"%d"}}}' % i)
        assert status == 200, (status, rbody)
    conn.close()


def flush_window(k):
    """Fills the store's watch window with small events (as many as it keeps, and some), so the RSS
    compared before and after the run does not count the run's own events still kept there."""
    procs = [multiprocessing.Process(target=flusher, args=(k.host, k.host_port, k.ca_file, k.token,
                                                           (WINDOW + 1000) // WORKERS, i)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0, "window flush failed"


def run_batch(k, total, tag, seed_reqs, tmpdir):
    per = total // WORKERS
    procs, outs = [], []
    for i in range(WORKERS):
        out = os.path.join(tmpdir, f"{tag}-{i}.json")
        outs.append(out)
        p = multiprocessing.Process(target=worker, args=(i + (100 if tag == "warm" else 0), per, k.host,
                                                         k.host_port, k.ca_file, k.token, seed_reqs, out))
        p.start()
        procs.append(p)
    for p in procs:
        p.join()
    agg = {"hist": {}, "not_status": 0, "non_status_samples": [], "fivexx": [], "timeouts": 0, "conn_errors": 0,
           "sent": per * WORKERS, "unchecked": 0, "unchecked_samples": []}
    for out in outs:
        with open(out) as f:
            r = json.load(f)
        for c, n in r["hist"].items():
            agg["hist"][c] = agg["hist"].get(c, 0) + n
        for key in ("not_status", "timeouts", "conn_errors", "unchecked"):
            agg[key] += r[key]
        agg["unchecked_samples"] += r["unchecked_samples"]
        agg["fivexx"] += r["fivexx"]
        agg["non_status_samples"] += r["non_status_samples"]
    return agg


def run_in_memory_cgroup(limit=3 << 30):
    """This run (daemon and clients) in a cgroup v1 memory limit, made before the namespaces are
    entered and removed after; this process only waits."""
    base = "/sys/fs/cgroup/memory"
    if os.environ.get("K1S_E2E_ISOLATED") == "1" or not os.path.isdir(base):
        return
    path = os.path.join(base, f"k1s-http-mutate-{os.getpid()}")
    os.makedirs(path)
    with open(os.path.join(path, "memory.limit_in_bytes"), "w") as f:
        f.write(str(limit))
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        return
    _, status = os.waitpid(pid, 0)
    try:
        os.rmdir(path)
    except OSError as e:
        print(f"note: could not remove {path}: {e}", flush=True)
    sys.exit(os.waitstatus_to_exitcode(status))


def main():
    run_in_memory_cgroup()
    isolate()
    multiprocessing.set_start_method("fork")
    import tempfile
    tmpdir = tempfile.mkdtemp(prefix="k1s-http-mutate-")
    k = K1s()
    try:
        k.start()
        pid = k.proc.pid
        cont = setup(k)
        seed_reqs = seeds(cont)
        rss_start = rss_kb(pid)
        # warm-up: the same kinds of request, so caches, pools and the allocator reach their size
        warm = run_batch(k, min(N // 5, 10000), "warm", seed_reqs, tmpdir)
        cleanup(k)
        setup(k)
        flush_window(k)
        time.sleep(2)
        rss_before = rss_kb(pid)
        trimmed_before = malloc_trim(pid)
        t0 = time.monotonic()
        res = run_batch(k, N, "run", seed_reqs, tmpdir)
        elapsed = time.monotonic() - t0
        alive = k.proc.poll() is None
        ready = False
        if alive:
            try:
                ready = k.http("GET", "/readyz").status == 200
            except OSError:
                ready = False
        rss_after_run = rss_kb(pid) if alive else 0
        if alive:
            cleanup(k)
            setup(k)
            flush_window(k)
            time.sleep(2)
        rss_after = rss_kb(pid) if alive else 0
        trimmed = malloc_trim(pid) if alive else None
        # REPEAT > 1: the same run again on the same daemon; RSS after each shows a plateau or a leak
        for rep in range(2, int(os.environ.get("REPEAT", "1")) + 1):
            if not alive:
                break
            more = run_batch(k, N, f"rep{rep}", seed_reqs, tmpdir)
            allx_more = [x for x in more["fivexx"] if x.get("status") == 500 or x.get("crash")]
            res["fivexx"] += more["fivexx"]
            alive = k.proc.poll() is None
            if alive:
                cleanup(k)
                setup(k)
                flush_window(k)
                time.sleep(2)
                print(f"repeat {rep}: {more['sent']} more requests, {len(allx_more)} 500s or crashes, RSS "
                      f"{rss_kb(pid)} kB after cleanup and flush, threads {threads(pid)}", flush=True)
        allx = warm["fivexx"] + res["fivexx"]
        with open(OUT, "w") as f:
            for x in allx:
                f.write(json.dumps(x) + "\n")
        print(f"mutated HTTP requests against k1s server: seed {SEED}, {len(seed_reqs)} seed requests, "
              f"{WORKERS} keep-alive TLS connections")
        print(f"warm-up: {warm['sent']} requests, {len(warm['fivexx'])} 5xx")
        print(f"run: {res['sent']} requests in {elapsed:.0f} s ({res['sent'] / elapsed:.0f}/s), "
              f"{sum(res['hist'].values())} answered, {res['timeouts']} without an answer in {READ_TIMEOUT:.0f} s "
              f"(a Content-Length longer than the body), {res['conn_errors']} connections closed by the server")
        print("status codes: " + ", ".join(f"{c}: {n}" for c, n in sorted(res["hist"].items())))
        print(f"error answers that are not a Status: {res['not_status']} (HEAD answers carry no body; the "
              f"rest are listed below)")
        print(f"400s from the HTTP layer's fallback for an unchecked JSON shape (a Status, but not kube's "
              f"wording): {res['unchecked']}")
        for u in res["unchecked_samples"][:3]:
            print(f"  e.g. {u['response'][:200]!r}")
        for s in [x for x in res["non_status_samples"] if not x["request"].startswith("HEAD")][:5]:
            print(f"  e.g. {s['status']} {s['body'][:120]!r} for {s['request'][:160]!r}")
        n5 = sum(1 for x in allx if not x.get("crash"))
        n500 = sum(1 for x in allx if x.get("status") == 500)
        crashed = any(x.get("crash") for x in allx)
        print(f"5xx (warm-up and run): {n5}, of them 500: {n500} (saved with their requests to {OUT})")
        print("  5xx other than 500 by message: " + "; ".join(
            f"{n} x {m}" for m, n in sorted(count_by(x["response"] for x in allx
                                                     if x.get("status", 500) != 500 and not x.get("crash")).items())))
        for x in [x for x in allx if x.get("status") == 500 or x.get("crash")][:10]:
            if x.get("crash"):
                print(f"  daemon gone after {x['after']} requests of a worker: {x['error']}")
            else:
                print(f"  {x['status']} {x['method']} {x['path'][:120]!r}: {x['response'][:200]}")
        print(f"daemon alive at the end: {alive}, /readyz 200: {ready}")
        growth = (rss_after - rss_before) / rss_before * 100 if rss_before else 0
        print(f"threads in the daemon at the end: {threads(pid) if alive else 0}")
        print(f"RSS (VmRSS): {rss_start} kB at start, {rss_before} kB after warm-up, {rss_after_run} kB right "
              f"after the run, {rss_after} kB after deleting what it created ({growth:+.1f}% vs after warm-up)",
              flush=True)
        if trimmed:
            print(f"  diagnosis: after malloc_trim(0) in the daemon (gdb): {trimmed[0]} kB now vs "
                  f"{trimmed[1]} kB after warm-up ({(trimmed[0] - trimmed[1]) / trimmed[1] * 100:+.1f}%): what trim "
                  f"gives back was freed memory glibc kept; the rest is still allocated", flush=True)
        bad = n500 or crashed or not alive or not ready or growth > 10
        return 1 if bad else 0
    finally:
        k.close()
        import shutil
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
