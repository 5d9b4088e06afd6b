#!/usr/bin/python3
"""Generate apiserver/schema/openapi-v3.json: the one embedded schema (DESIGN rule 4).

Run with Debian's /usr/bin/python3 (python3-kubernetes 22.6, API 1.22 models):

    /usr/bin/python3 scripts/gen-schema.py [-o apiserver/schema/openapi-v3.json]

Field names and types come from the client's model classes (`openapi_types`,
`attribute_map`). What those models do not carry lives in the tables of
scripts/schema_tables.py: Go definition names, kube's list/patch extensions,
`required` lists, the special wire types (Quantity, IntOrString, MicroTime, ...)
and the fields and types added between 1.22 and 1.33, so that a valid 1.33
manifest is never rejected as unknown under fieldValidation=Strict.
Protobuf field numbers come from scripts/protobuf-fields.json (made by
scripts/proto-fields.py from kubernetes' generated.proto files): every property
that has one carries `"x-k1s-protobuf": N`, or `[outer, inner]` for a field of a
Go struct embedded inline (Probe.exec lives in field 1, ProbeHandler, field 1),
byte fields (Secret.data values) are `"format": "byte"`, as in kube's own
spec, and `"x-k1s-protobuf-keep-zero": true` marks a scalar whose zero value on
the wire is meant (a Go pointer or a field without omitempty; see
scripts/proto-fields.py). apiserver/protobuf.cpp decodes protobuf request bodies with them.

Output layout:
    {"documents": {"api/v1": <OpenAPI 3.0 doc>, "apis/apps/v1": <doc>, ...}}
Each document has `paths` (every operation kube serves for the resources of that
group-version, with their query parameters, so kubectl sees `fieldValidation` on
PATCH and lets the server validate) and `components.schemas` (every definition
reachable from those paths). No descriptions: the file stays small.
"""
import argparse
import json
import os
import re
import sys

import kubernetes.client.models as models

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schema_tables as T  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
PROTO_FIELDS = json.load(open(os.path.join(ROOT, "scripts", "protobuf-fields.json")))


# ---- resources: parsed from common/resources.cpp so there is one list of kinds ----

def load_resources():
    src = open(os.path.join(ROOT, "common", "resources.cpp")).read()
    pat = re.compile(
        r'add\(\{\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",\s*(true|false),\s*'
        r'\{([^}]*)\},\s*\{([^}]*)\},\s*\{([^}]*)\}', re.S)
    out = []
    for m in pat.finditer(src):
        group, version, kind, plural, singular, namespaced, _short, _cats, subs = m.groups()
        out.append({
            "group": group, "version": version, "kind": kind, "plural": plural,
            "namespaced": namespaced == "true",
            "subresources": re.findall(r'"([^"]+)"', subs),
        })
    if not out:
        sys.exit("gen-schema: no resources parsed from common/resources.cpp")
    return out


# ---- model classes -> Go definition names and schemas ----

def model_fields(cls_name):
    """{jsonName: typeString} for a model class, with the 1.33 additions applied."""
    fields = {}
    cls = getattr(models, cls_name, None)
    if cls is not None:
        for attr, typ in cls.openapi_types.items():
            fields[cls.attribute_map[attr]] = typ
    fields.update(T.ADDED_FIELDS.get(cls_name, {}))
    fields.update(T.NEW_MODELS.get(cls_name, {}))
    for f in T.REMOVED_FIELDS.get(cls_name, []):
        fields.pop(f, None)
    for f, typ in T.TYPE_OVERRIDES.get(cls_name, {}).items():
        if f in fields:
            fields[f] = typ
    if cls is None and cls_name not in T.NEW_MODELS:
        sys.exit(f"gen-schema: unknown model {cls_name}")
    return fields


def go_name(cls_name):
    if cls_name in T.SPECIAL_TYPES:
        return T.SPECIAL_TYPES[cls_name]
    if cls_name in T.GO_NAMES:
        return T.GO_NAMES[cls_name]
    m = re.match(r"V(\d\w*?)([A-Z]\w*)$", cls_name)
    if not m:
        sys.exit(f"gen-schema: cannot name {cls_name}")
    version, short = "v" + m.group(1).lower(), m.group(2)
    for pkg, names in T.PACKAGES.items():
        if short in names:
            return f"{pkg}.{version}.{short}"
    return f"io.k8s.api.core.{version}.{short}"


def type_schema(typ, refs):
    """OpenAPI schema for a python-model type string; records referenced models in refs."""
    if typ == "str":
        return {"type": "string"}
    if typ == "int":
        return {"type": "integer"}
    if typ == "float":
        return {"type": "number", "format": "double"}
    if typ == "bool":
        return {"type": "boolean"}
    if typ == "datetime":
        typ = "Time"
    if typ == "object":
        return {"type": "object"}
    m = re.match(r"list\[(.*)\]$", typ)
    if m:
        return {"type": "array", "items": type_schema(m.group(1), refs)}
    m = re.match(r"dict\(str, (.*)\)$", typ)
    if m:
        return {"type": "object", "additionalProperties": type_schema(m.group(1), refs)}
    refs.add(typ)
    return {"$ref": "#/components/schemas/" + go_name(typ)}


def model_schema(cls_name, refs):
    if cls_name in T.SPECIAL_SCHEMAS:
        return json.loads(json.dumps(T.SPECIAL_SCHEMAS[cls_name]))
    props = {}
    for field, typ in sorted(model_fields(cls_name).items()):
        s = type_schema(typ, refs)
        s.update(T.EXTENSIONS.get(cls_name, {}).get(field, {}))
        props[field] = s
    out = {"type": "object", "properties": props}
    if cls_name in T.REQUIRED:
        out["required"] = T.REQUIRED[cls_name]
    out.update(T.MODEL_EXTENSIONS.get(cls_name, {}))
    return out


def gvk(group, version, kind):
    return [{"group": group, "version": version, "kind": kind}]


# ---- protobuf field numbers ----

def proto_number(def_name, props, prop):
    """(number, proto type) of a JSON property: an int, or [outer, inner] when the
    property comes from an inline-embedded struct (a message field that is not
    itself a JSON property); None when protobuf lacks it."""
    fields = PROTO_FIELDS.get(def_name, {})
    if prop in fields:
        return fields[prop]
    for name, (num, typ, *_flags) in fields.items():
        inner = PROTO_FIELDS.get(typ, {})
        if name not in props and prop in inner:
            return [[num, inner[prop][0]]] + inner[prop][1:]
    return None


def stamp_protobuf(schemas):
    missing = []
    for def_name, schema in schemas.items():
        props = schema.get("properties")
        if not props or def_name not in PROTO_FIELDS:
            continue
        for prop, node in props.items():
            found = proto_number(def_name, props, prop)
            if found is None:
                if prop not in ("apiVersion", "kind"):  # TypeMeta: in the envelope, not the message
                    missing.append(f"{def_name}.{prop}")
                continue
            num, typ, *flags = found
            node["x-k1s-protobuf"] = num
            if "keepzero" in flags:
                node["x-k1s-protobuf-keep-zero"] = True
            if typ == "bytes" or typ == "repeated:bytes":
                (node["items"] if "items" in node else node)["format"] = "byte"
            elif typ == "map:bytes":
                node["additionalProperties"]["format"] = "byte"
    if missing:
        sys.exit("gen-schema: no protobuf field number for " + ", ".join(sorted(missing)))


# ---- paths ----

def qparam(name, typ="string"):
    return {"name": name, "in": "query", "schema": {"type": typ, "uniqueItems": True}}


def pparam(name):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "uniqueItems": True}}


BOOL_PARAMS = {"allowWatchBookmarks", "sendInitialEvents", "watch", "force", "orphanDependents", "follow",
               "previous", "timestamps", "insecureSkipTLSVerifyBackend", "stdin", "stdout", "stderr", "tty",
               "ignoreStoreReadErrorWithClusterBreakingPotential"}
INT_PARAMS = {"limit", "timeoutSeconds", "gracePeriodSeconds", "limitBytes", "sinceSeconds", "tailLines", "ports"}


def params(names):
    out = []
    for n in names:
        out.append(qparam(n, "boolean" if n in BOOL_PARAMS else "integer" if n in INT_PARAMS else "string"))
    return out


LIST_Q = ["allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
          "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"]
WRITE_Q = ["dryRun", "fieldManager", "fieldValidation"]
PATCH_Q = WRITE_Q + ["force"]
DELETE_Q = ["dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
            "orphanDependents", "propagationPolicy"]
DELETECOLL_Q = DELETE_Q + ["continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                           "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"]
LOG_Q = ["container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "previous", "sinceSeconds",
         "stream", "tailLines", "timestamps"]
CONNECT_Q = {"exec": ["command", "container", "stderr", "stdin", "stdout", "tty"],
             "attach": ["container", "stderr", "stdin", "stdout", "tty"],
             "portforward": ["ports"], "proxy": ["path"]}
CONNECT_KIND = {"exec": "PodExecOptions", "attach": "PodAttachOptions", "portforward": "PodPortForwardOptions"}
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"]


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def body(schema_name, types=("*/*",)):
    return {"content": {t: {"schema": ref(schema_name)} for t in types}, "required": True}


def responses(schema_name, codes=("200",), watch=False):
    out = {}
    for c in codes:
        content = {"application/json": {"schema": ref(schema_name) if schema_name else {"type": "string"}},
                   "application/yaml": {"schema": ref(schema_name) if schema_name else {"type": "string"}}}
        if watch:
            content["application/json;stream=watch"] = {"schema": ref(schema_name)}
        out[c] = {"description": {"200": "OK", "201": "Created", "202": "Accepted"}[c], "content": content}
    out["401"] = {"description": "Unauthorized"}
    return out


def op(op_id, action, tag, gvk_ext, q=(), req=None, resp=None):
    o = {"operationId": op_id, "tags": [tag], "x-kubernetes-action": action,
         "x-kubernetes-group-version-kind": gvk_ext}
    if q:
        o["parameters"] = params(q)
    if req:
        o["requestBody"] = req
    o["responses"] = resp
    return o


def group_prefix(group, version):
    base = group.split(".")[0] if group else "core"
    return base[0].upper() + base[1:] + version[0].upper() + version[1:], base + "_" + version


def resource_paths(r, schemas):
    group, version, kind = r["group"], r["version"], r["kind"]
    prefix = "/api/" + version if not group else f"/apis/{group}/{version}"
    idp, tag = group_prefix(group, version)
    kind_def = schemas[kind]
    list_def = schemas[kind + "List"]
    g = {"group": group, "version": version, "kind": kind}
    ns = "Namespaced" if r["namespaced"] else ""
    base = f"{prefix}/namespaces/{{namespace}}/{r['plural']}" if r["namespaced"] else f"{prefix}/{r['plural']}"
    scope = [pparam("namespace")] if r["namespaced"] else []
    pretty = [qparam("pretty")]
    paths = {}

    paths[base] = {
        "get": op(f"list{idp}{ns}{kind}", "list", tag, g, LIST_Q, resp=responses(list_def, watch=True)),
        "post": op(f"create{idp}{ns}{kind}", "post", tag, g, WRITE_Q, body(kind_def),
                   responses(kind_def, ("200", "201", "202"))),
        "delete": op(f"delete{idp}Collection{ns}{kind}", "deletecollection", tag, g, DELETECOLL_Q,
                     {"content": {"application/json": {"schema": ref(META + "DeleteOptions")}}},
                     responses(META + "Status")),
        "parameters": scope + pretty,
    }
    item = base + "/{name}"
    item_params = [pparam("name")] + scope + pretty
    paths[item] = {
        "get": op(f"read{idp}{ns}{kind}", "get", tag, g, resp=responses(kind_def)),
        "put": op(f"replace{idp}{ns}{kind}", "put", tag, g, WRITE_Q, body(kind_def),
                  responses(kind_def, ("200", "201"))),
        "patch": op(f"patch{idp}{ns}{kind}", "patch", tag, g, PATCH_Q, body(META + "Patch", PATCH_TYPES),
                    responses(kind_def, ("200", "201"))),
        "delete": op(f"delete{idp}{ns}{kind}", "delete", tag, g, DELETE_Q,
                     {"content": {"application/json": {"schema": ref(META + "DeleteOptions")}}},
                     responses(kind_def, ("200", "202"))),
        "parameters": item_params,
    }
    if r["namespaced"]:
        paths[f"{prefix}/{r['plural']}"] = {
            "get": op(f"list{idp}{kind}ForAllNamespaces", "list", tag, g, resp=responses(list_def, watch=True)),
            "parameters": params(LIST_Q) + pretty,
        }
    # Deprecated watch paths, still served by kube.
    wbase = base.replace(prefix, prefix + "/watch", 1)
    ev = META + "WatchEvent"
    paths[wbase] = {"get": op(f"watch{idp}{ns}{kind}List", "watchlist", tag, g, resp=responses(ev, watch=True)),
                    "parameters": params(LIST_Q) + scope + pretty}
    paths[wbase + "/{name}"] = {"get": op(f"watch{idp}{ns}{kind}", "watch", tag, g, resp=responses(ev, watch=True)),
                                "parameters": params(LIST_Q) + item_params}
    if r["namespaced"]:
        paths[f"{prefix}/watch/{r['plural']}"] = {
            "get": op(f"watch{idp}{kind}ListForAllNamespaces", "watchlist", tag, g,
                      resp=responses(ev, watch=True)),
            "parameters": params(LIST_Q) + pretty}

    for sub in r["subresources"]:
        sp = f"{item}/{sub}"
        cap = sub[0].upper() + sub[1:]
        if sub in ("status", "scale"):
            sdef, sg = (kind_def, g) if sub == "status" else (
                "io.k8s.api.autoscaling.v1.Scale", {"group": "autoscaling", "version": "v1", "kind": "Scale"})
            paths[sp] = {
                "get": op(f"read{idp}{ns}{kind}{cap}", "get", tag, sg, resp=responses(sdef)),
                "put": op(f"replace{idp}{ns}{kind}{cap}", "put", tag, sg, WRITE_Q, body(sdef),
                          responses(sdef, ("200", "201"))),
                "patch": op(f"patch{idp}{ns}{kind}{cap}", "patch", tag, sg, PATCH_Q,
                            body(META + "Patch", PATCH_TYPES), responses(sdef, ("200", "201"))),
                "parameters": item_params,
            }
        elif sub == "finalize":
            paths[sp] = {"put": op(f"replace{idp}{ns}{kind}Finalize", "put", tag, g, WRITE_Q, body(kind_def),
                                   responses(kind_def, ("200", "201"))),
                         "parameters": item_params}
        elif sub == "log":
            paths[sp] = {"get": op(f"read{idp}{ns}{kind}Log", "get", tag, g, LOG_Q, resp=responses(None)),
                         "parameters": item_params}
        elif sub in ("binding", "eviction"):
            bdef = schemas["Binding"] if sub == "binding" else "io.k8s.api.policy.v1.Eviction"
            bg = gvk("", "v1", "Binding")[0] if sub == "binding" else gvk("policy", "v1", "Eviction")[0]
            paths[sp] = {"post": op(f"create{idp}{ns}{kind}{cap}", "post", tag, bg, WRITE_Q, body(bdef),
                                    responses(bdef, ("200", "201", "202"))),
                         "parameters": item_params}
        elif sub in CONNECT_KIND:
            cg = gvk("", "v1", CONNECT_KIND[sub])[0]
            paths[sp] = {m: op(f"connect{idp}{m.capitalize()}{ns}{kind}{cap}", "connect", tag, cg,
                               CONNECT_Q[sub], resp=responses(None)) for m in ("get", "post")}
            paths[sp]["parameters"] = item_params
        elif sub == "proxy":
            cg = gvk("", "v1", kind + "ProxyOptions")[0]
            for suffix, extra in (("", []), ("/{path}", [pparam("path")])):
                paths[sp + suffix] = {
                    m: op(f"connect{idp}{m.capitalize()}{ns}{kind}Proxy{'WithPath' if suffix else ''}",
                          "connect", tag, cg, [] if suffix else ["path"], resp=responses(None))
                    for m in ("get", "post", "put", "delete")}
                paths[sp + suffix]["parameters"] = item_params + extra
        else:
            sys.exit(f"gen-schema: no paths for subresource {kind}/{sub}")
    return paths


# ---- documents ----

def build_document(gv_path, resources, served_groups):
    schemas, pending = {}, set()
    short = {}  # kind -> Go definition name

    def want(cls_name):
        pending.add(cls_name)
        return go_name(cls_name)

    for r in resources:
        cls = T.KIND_MODELS.get(r["kind"], "V1" + r["kind"])
        short[r["kind"]] = want(cls)
        short[r["kind"] + "List"] = want(T.KIND_MODELS.get(r["kind"] + "List", cls + "List"))
    short["Binding"] = want("V1Binding") if any("binding" in r["subresources"] for r in resources) else None
    if any("eviction" in r["subresources"] for r in resources):
        want("V1Eviction")
    if any("scale" in r["subresources"] for r in resources):
        want("V1Scale")
    for extra in ("V1Status", "V1DeleteOptions", "V1WatchEvent", "V1APIResourceList", "Patch"):
        want(extra)

    paths = {}
    for r in resources:
        paths.update(resource_paths(r, short))

    done = set()
    while pending:
        cls = pending.pop()
        if cls in done:
            continue
        done.add(cls)
        refs = set()
        schemas[go_name(cls)] = model_schema(cls, refs)
        pending |= refs - done

    # x-kubernetes-group-version-kind on every top-level kind (and its list).
    for r in resources:
        for k in (r["kind"], r["kind"] + "List"):
            schemas[short[k]]["x-kubernetes-group-version-kind"] = gvk(r["group"], r["version"], k)
        if r["kind"] in T.KIND_DESCRIPTIONS:
            schemas[short[r["kind"]]]["description"] = T.KIND_DESCRIPTIONS[r["kind"]]
        schemas[short[r["kind"] + "List"]]["description"] = f"A list of {r['kind']} objects."
    group = resources[0]["group"]
    version = resources[0]["version"]
    for name, kind in (("Status", "Status"), ("DeleteOptions", "DeleteOptions"), ("WatchEvent", "WatchEvent"),
                       ("APIResourceList", "APIResourceList")):
        ext = [{"group": "", "version": "v1", "kind": kind}]
        if kind in ("DeleteOptions", "WatchEvent"):
            ext += [{"group": g, "version": "v1", "kind": kind} for g in served_groups if g]
        schemas[META + name]["x-kubernetes-group-version-kind"] = ext
    for cls, ext in T.FIXED_GVK.items():
        if go_name(cls) in schemas:
            schemas[go_name(cls)]["x-kubernetes-group-version-kind"] = ext
    stamp_protobuf(schemas)

    title = f"Kubernetes {group or 'core'}/{version}"
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0-k1s", "x-k1s-group-version": title},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "apiserver", "schema", "openapi-v3.json"))
    args = ap.parse_args()
    resources = load_resources()
    by_gv = {}
    for r in resources:
        gv = f"api/{r['version']}" if not r["group"] else f"apis/{r['group']}/{r['version']}"
        by_gv.setdefault(gv, []).append(r)
    groups = sorted({r["group"] for r in resources})
    docs = {gv: build_document(gv, rs, groups) for gv, rs in by_gv.items()}
    with open(args.output, "w") as f:
        json.dump({"documents": docs}, f, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    size = os.path.getsize(args.output)
    print(f"gen-schema: wrote {args.output} ({size} bytes, {len(docs)} documents)")


if __name__ == "__main__":
    main()
