#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the selector, jsonpath, quantity, dns, spdy and websocket
fuzz targets into tests/fuzz/corpus/<target>/ (the json, yaml and patch seeds are plain files).
Each seed is a valid input as a real client sends it, prefixed by the target's mode byte where
the target has one (see the comment at the top of each fuzz_<target>.cpp). Rerun after changing
a target's input format: python3 tests/fuzz/make_corpus.py"""
import codecs
import os
import re
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# ---- selectors: byte 0 % 3 = 0 label text, 1 field text (kind by byte 0 / 3), 2 label object
write("selector", "label_eq", "\x00app=numbers-api,tier!=frontend")
write("selector", "label_set", "\x00env in (prod,staging),!legacy,version notin (v0),example.com/team")
write("selector", "label_double_eq", "\x00app==numbers-web,version")
write("selector", "field_pod", "\x01metadata.name=numbers-api-7d9f,status.phase!=Running,spec.nodeName=k1s")
write("selector", "field_event", "\x07involvedObject.kind=Pod,involvedObject.name=x,type=Warning")
write("selector", "field_escape", "\x01metadata.name=a\\,b\\=c")
write("selector", "object", '\x02{"matchLabels":{"app":"numbers-api"},"matchExpressions":'
      '[{"key":"tier","operator":"In","values":["backend"]},{"key":"legacy","operator":"DoesNotExist"}]}')

# ---- jsonpath: bit 0 allow missing keys, bit 1 custom-columns, bit 2 the columns-file form
for i, t in enumerate([
        "\x01{.items[*].metadata.name}",
        '\x00{range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}',
        '\x01{.items[?(@.status.phase=="Running")].metadata.labels.app}',
        "\x01{..image}",
        "\x01{.items[0:2].spec.containers[-1:].name} {.items[*].status.conditions[?(@.type=='Ready')].status}",
        "\x01{.items[0].metadata.annotations['a\\.b/c']}{.items[0].metadata['name','namespace']}",
        "\x00{$.kind} {@.apiVersion} {.items[1].status.score}{.items[?(@.status.restartCount>1)].metadata.name}",
        "\x02NAME:.metadata.name,IP:.status.podIP,IMAGES:.spec.containers[*].image",
        "\x06NAME   PHASE\n.metadata.name   {.status.phase}\n"]):
    write("jsonpath", "t%d" % i, t)
# Reproducer: repeated recursive descent multiplied the (copied) values past the fuzzer's timeout.
write("jsonpath", "repeated_descent", "\x00{\r\r\r" + ".." * 26 + ".apiVersaon" + "\r" * 10 + "$.k}")

# ---- quantities
for i, q in enumerate(["250m", "64Mi", "1e3", "0.5", "1Gi", "-1", "+.5E-2", "100k", "1.5Ti", "2E", "12345678901234567890n"]):
    write("quantity", "q%d" % i, q)
# Reproducers: a mantissa beyond long double (std::stold threw out of validation), 0 times an
# infinite power of ten (NaN), and 2E in milli-units (1e21: an int64 cast overflowed).
write("quantity", "huge_mantissa", "1" + "0" * 5000)
write("quantity", "tiny_mantissa", "0." + "0" * 5000 + "1")
write("quantity", "zero_huge_exponent", "0e99999")
write("quantity", "exa_milli", "2E")


# ---- DNS: queries as the pods' resolvers (glibc, musl, dig) send them
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"


def query(qid, qname, qtype, edns=0, flags=0x0100, extra=b""):
    arcount = 1 if edns else 0
    s = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, arcount) + name(qname) + struct.pack(">HH", qtype, 1)
    if edns:
        s += b"\0" + struct.pack(">HHIH", 41, edns, 0, len(extra)) + extra
    return s


write("dns", "a_svc", query(0x1234, "numbers-api.default.svc.cluster.local", 1))
write("dns", "a_search", query(0x0101, "numbers-api.default.svc.cluster.local.default.svc.cluster.local", 1))
write("dns", "aaaa_edns", query(0x2027, "numbers-web.default.svc.cluster.local", 28, edns=1232))
write("dns", "srv", query(0x0005, "_http._tcp.numbers-api.default.svc.cluster.local", 33, edns=4096))
write("dns", "ptr", query(0x4242, "5.0.244.10.in-addr.arpa", 12))
write("dns", "edns_cookie", query(0x7777, "kubernetes.default.svc.cluster.local", 1, edns=1232,
                                  extra=struct.pack(">HH", 10, 8) + b"\x01\x02\x03\x04\x05\x06\x07\x08"))
# A reply with a compressed answer (an upstream's), which parseMessage decodes.
reply = (struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 2, 0, 0) + name("example.com") + struct.pack(">HH", 1, 1) +
         b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, 6) + b"\x03www\xc0\x0c" +
         b"\xc0\x1d" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([93, 184, 216, 34]))
write("dns", "reply_compressed", reply)
# Reproducer: a label holding a dot ("turs." as one label) could not be encoded back, and the
# answer went out without its question (readName now refuses such labels).
write("dns", "dot_in_label", struct.pack(">HHHHHH", 10, 0x0100, 1, 0, 0, 0) + b"\x05turs.\0" + struct.pack(">HH", 1, 1))


# ---- SPDY/3.1: what kubectl port-forward and exec send after the upgrade
def spdy_dictionary():
    src = open(os.path.join(HERE, "..", "..", "common", "spdy.cpp")).read()
    body = src[src.index("kDictionary[] ="):src.index(";", src.index("kDictionary[] ="))]
    d = b"".join(codecs.escape_decode(p.encode())[0] for p in re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    assert len(d) == 1423, len(d)
    return d


class Spdy:
    def __init__(self):
        self.z = zlib.compressobj(zdict=spdy_dictionary())

    def headers(self, h):
        block = struct.pack(">I", len(h))
        for k, v in h:
            block += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        return self.z.compress(block) + self.z.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(t, flags, body):
        return struct.pack(">HHI", 0x8003, t, flags << 24 | len(body)) + body

    def syn(self, sid, h, flags=0):
        return self.control(1, flags, struct.pack(">IIH", sid, 0, 0) + self.headers(h))

    @staticmethod
    def data(sid, payload, flags=0):
        return struct.pack(">II", sid, flags << 24 | len(payload)) + payload


s = Spdy()
pf = (s.syn(1, [("port", "80"), ("requestid", "0"), ("streamtype", "error")]) +
      s.syn(3, [("port", "80"), ("requestid", "0"), ("streamtype", "data")]) +
      s.data(3, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n") +
      Spdy.control(9, 0, struct.pack(">II", 3, 65536)) + Spdy.control(6, 0, struct.pack(">I", 1)) +
      s.data(3, b"", 1) + Spdy.control(3, 0, struct.pack(">II", 1, 5)))
write("spdy", "portforward", b"\x07" + pf)
s = Spdy()
ex = (Spdy.control(4, 0, struct.pack(">III", 1, 7, 1 << 20)) +
      s.syn(1, [("streamtype", "error")]) + s.syn(3, [("streamtype", "stdin")], 0) +
      s.syn(5, [("streamtype", "stdout")], 2) + s.syn(7, [("streamtype", "resize")]) +
      s.data(7, b'{"Width":80,"Height":24}') + s.data(3, b"ls /\n") + s.data(3, b"", 1) +
      Spdy.control(7, 0, struct.pack(">II", 7, 0)))
write("spdy", "exec", b"\x3f" + ex)


# ---- WebSocket: byte 0 bit 0 = client role (server frames unmasked), the rest the read size
def ws(op, payload, fin=True, mask=b"\x11\x22\x33\x44"):
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        h += mask
    return h + payload


write("websocket", "exec_v5", b"\x00" + ws(2, b"\x00ls -l /\n") + ws(2, b'\x04{"Width":120,"Height":40}') +
      ws(9, b"ping") + ws(2, b"\xff\x00") + ws(8, struct.pack(">H", 1000) + b"bye"))
write("websocket", "fragmented", b"\x06" + ws(1, b"hello ", fin=False) + ws(9, b"") + ws(0, b"wor", fin=False) +
      ws(0, b"ld") + ws(2, b"\x00" + b"x" * 300) + ws(10, b"pong"))
write("websocket", "portforward_spdy", b"\x40" + ws(2, b"\x80\x03\x00\x04\x00\x00\x00\x0c" + b"\0" * 12) +
      ws(8, b""))
write("websocket", "client_role", b"\x01" + ws(2, b"\x01total 0\n", mask=None) + ws(2, b"\x03" + b'{"status":"Success"}',
      mask=None) + ws(8, struct.pack(">H", 1000), mask=None))
