#!/usr/bin/python3
"""Extract Kubernetes protobuf field numbers into scripts/protobuf-fields.json.

    /usr/bin/python3 scripts/proto-fields.py DIR [-o scripts/protobuf-fields.json]

DIR holds kubernetes' `generated.proto` files (k8s.io/api core/v1, apps/v1, ...
and k8s.io/apimachinery meta/v1, api/resource, util/intstr, runtime) under any
names, and next to each X.proto the package's Go types as X.go (optional).
Only facts come out: for every message, its fields' names, numbers and wire
types, keyed by the OpenAPI definition name the message corresponds to:

    {"io.k8s.api.core.v1.Probe": {"handler": [1, "io.k8s.api.core.v1.ProbeHandler"],
                                  "initialDelaySeconds": [2, "int32", "keepzero"], ...}, ...}

Map fields have the type "map:<value type>", repeated ones "repeated:<type>".
"keepzero" marks a scalar field whose zero value on the wire must stay in the JSON:
the Go field is a pointer (only sent when set, so `replicas: 0` is deliberate)
or its JSON tag has no omitempty. Go's protobuf marshalling writes every other
scalar field even when empty, and kube's JSON then omits it.
Only the messages the embedded schema (apiserver/schema/openapi-v3.json) defines
are kept, plus the Go structs they embed inline (ProbeHandler in Probe,
VolumeSource in Volume, ...), whose fields JSON lifts into the outer object.
scripts/gen-schema.py reads the table to stamp `x-k1s-protobuf` on the schema.
The .proto files themselves are not part of k1s.
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIELD = re.compile(r"^\s*(optional|repeated|required)\s+([.\w]+)\s+(\w+)\s*=\s*(\d+)")
MAP_FIELD = re.compile(r"^\s*map<\s*([.\w]+)\s*,\s*([.\w]+)\s*>\s+(\w+)\s*=\s*(\d+)")
SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float", "sint32",
           "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"}


def definition_name(proto_name):
    """k8s.io.api.core.v1.Pod -> io.k8s.api.core.v1.Pod (the OpenAPI naming)."""
    name = proto_name.lstrip(".")
    return "io.k8s." + name[len("k8s.io."):] if name.startswith("k8s.io.") else name


def qualify(typ, package):
    if typ in SCALARS:
        return typ
    if "." in typ.lstrip("."):
        return definition_name(typ)
    return definition_name(package + "." + typ)


def parse(text):
    package, messages, current, depth = "", {}, None, 0
    for line in text.splitlines():
        code = line.split("//", 1)[0]
        m = re.match(r"^\s*package\s+([.\w]+)\s*;", code)
        if m:
            package = m.group(1)
            continue
        m = re.match(r"^\s*message\s+(\w+)\s*\{", code)
        if m and depth == 0:
            current = definition_name(package + "." + m.group(1))
            messages[current] = {}
        if current and depth == 1:
            f = FIELD.match(code)
            if f:
                label, typ, name, num = f.groups()
                typ = qualify(typ, package)
                messages[current][name] = [int(num), ("repeated:" + typ) if label == "repeated" else typ]
            f = MAP_FIELD.match(code)
            if f:
                _key, typ, name, num = f.groups()
                messages[current][name] = [int(num), "map:" + qualify(typ, package)]
        depth += code.count("{") - code.count("}")
        if depth == 0:
            current = None
    return messages


def served_messages(table):
    docs = json.load(open(os.path.join(ROOT, "apiserver", "schema", "openapi-v3.json")))["documents"]
    defs = {}
    for doc in docs.values():
        defs.update(doc["components"]["schemas"])
    keep = {name for name in defs if name in table}
    for name in list(keep):
        props = defs[name].get("properties", {})
        for field, (_num, typ, *_flags) in table[name].items():
            if field not in props and typ in table:  # an inline-embedded struct
                keep.add(typ)
    return {name: table[name] for name in keep}


GO_STRUCT = re.compile(r"^type\s+(\w+)\s+struct\s*\{")
GO_FIELD = re.compile(r'^\s*(?:\w+\s+)?(\S+)\s+`json:"([^"]*)"[^`]*protobuf:"([^"]*)"')


def go_keep_zero(text):
    """{struct: {proto field name: keep zero?}} from a Go types file."""
    out, current = {}, None
    for line in text.splitlines():
        m = GO_STRUCT.match(line)
        if m:
            current = out.setdefault(m.group(1), {})
            continue
        if line.startswith("}"):
            current = None
        if current is None:
            continue
        f = GO_FIELD.match(line)
        if not f:
            continue
        gotype, jsontag, ptag = f.groups()
        name = re.search(r"name=(\w+)", ptag)
        if name:
            current[name.group(1)] = gotype.startswith("*") or "omitempty" not in jsontag.split(",")[1:]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "scripts", "protobuf-fields.json"))
    args = ap.parse_args()
    table = {}
    for name in sorted(os.listdir(args.dir)):
        if not name.endswith(".proto"):
            continue
        messages = parse(open(os.path.join(args.dir, name)).read())
        go_file = os.path.join(args.dir, name[:-len(".proto")] + ".go")
        if os.path.exists(go_file):
            keep = go_keep_zero(open(go_file).read())
            for msg, fields in messages.items():
                flags = keep.get(msg.rsplit(".", 1)[1], {})
                for field, entry in fields.items():
                    if flags.get(field) and entry[1] in SCALARS:
                        entry.append("keepzero")
        table.update(messages)
    if not table:
        sys.exit("proto-fields: no messages found")
    table = served_messages(table)
    with open(args.output, "w") as f:
        f.write("{\n")
        items = sorted(table.items())
        for i, (msg, fields) in enumerate(items):
            f.write(json.dumps(msg) + ": " + json.dumps(dict(sorted(fields.items())), separators=(",", ":")))
            f.write(",\n" if i + 1 < len(items) else "\n")
        f.write("}\n")
    print(f"proto-fields: wrote {args.output} ({len(table)} messages)")


if __name__ == "__main__":
    main()
