#include "apiserver/registry.h"

#include <set>

#include "apiserver/apply.h"
#include "apiserver/defaults.h"
#include "apiserver/schema.h"
#include "apiserver/validation.h"
#include "apiserver/watch.h"
#include "common/errors.h"
#include "common/json_limits.h"
#include "common/log.h"
#include "common/meta.h"
#include "common/patch.h"
#include "common/selector.h"

namespace k1s {

namespace {

// Thrown inside a transaction to roll it back after a dry run; carries the result.
struct DryRunResult {
  Json object;
};

// Kinds that kube lets an update create (AllowCreateOnUpdate).
bool allowCreateOnUpdate(const ResourceInfo& r) {
  return r.kind == "Endpoints" || r.kind == "Lease" || r.kind == "Event" || r.kind == "EndpointSlice";
}

// Everything but metadata and status: what "spec changed" means for generation.
Json specPart(const Json& o) {
  Json s = o;
  s.erase("metadata");
  s.erase("status");
  s.erase("kind");
  s.erase("apiVersion");
  return s;
}

bool sameIgnoringRv(Json a, Json b) {
  a["metadata"].erase("resourceVersion");
  b["metadata"].erase("resourceVersion");
  // managedFields count, but not the time an apply recorded in them.
  for (Json* o : {&a, &b}) {
    auto it = (*o)["metadata"].find("managedFields");
    if (it != (*o)["metadata"].end() && it->is_array())
      for (auto& e : *it)
        if (e.is_object()) e.erase("time");
  }
  return a == b;
}

void checkTypeMeta(const ResourceInfo& r, Json& obj) {
  if (!obj.is_object()) throw badRequest("the body of the request is not a JSON object");
  for (const char* f : {"apiVersion", "kind"}) {
    auto it = obj.find(f);
    if (it != obj.end() && !it->is_string() && !it->is_null())
      throw badRequest(std::string("couldn't get version/kind; json parse error: json: cannot unmarshal ") +
                       goJsonTypeWord(*it) +
                       " into Go struct field ." + f + " of type string");
    if (it != obj.end() && it->is_null()) obj.erase(it);
  }
  auto av = obj.value("apiVersion", "");
  auto kind = obj.value("kind", "");
  if (!av.empty() && av != r.apiVersion())
    throw badRequest("the API version in the data (" + av + ") does not match the expected API version (" +
                     r.apiVersion() + ")");
  if (!kind.empty() && kind != r.kind)
    throw badRequest("the kind in the data (" + kind + ") does not match the expected kind (" + r.kind + ")");
  obj["apiVersion"] = r.apiVersion();
  obj["kind"] = r.kind;
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = Json::object();
  if (!obj["metadata"].is_object()) throw badRequest("metadata must be an object");
}

// A request from a client (the HTTP front always asks for warnings); in-process
// components write only what they built, and skip the schema walks.
bool fromClient(const WriteOptions& o) { return o.warnings || !o.fieldValidation.empty(); }

// A field holding the wrong JSON type fails decoding in kube, whatever fieldValidation
// says: 400, before unknown fields and validation.
void checkTypes(const ResourceInfo& r, Json& obj, const WriteOptions& o) {
  if (!fromClient(o)) return;
  decodeNulls(r, obj);
  auto err = typeError(r, obj);
  if (!err.empty())
    throw badRequest(r.kind + " in version \"" + r.version + "\" cannot be handled as a " + r.kind + ": " + err);
}

// An update or patch may not move an object to another namespace (kube's checkName).
void checkNamespace(const ResourceInfo& r, const std::string& ns, const Json& obj) {
  if (!r.namespaced || ns.empty()) return;
  auto& m = metaOf(obj);
  auto it = m.find("namespace");
  if (it == m.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return;
  if (*it != ns)
    throw badRequest("the namespace of the object (" + it->get<std::string>() +
                     ") does not match the namespace on the request (" + ns + ")");
}

Json scaleOf(const ResourceInfo& r, const Json& o) {
  auto& m = metaOf(o);
  Json sel = o.contains("spec") ? o["spec"].value("selector", Json::object()) : Json::object();
  std::string selStr;
  try {
    selStr = LabelSelector::fromObject(sel).toString();
  } catch (...) {
  }
  Json status = o.value("status", Json::object());
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata",
           {{"name", m.value("name", "")},
            {"namespace", m.value("namespace", "")},
            {"uid", m.value("uid", "")},
            {"resourceVersion", m.value("resourceVersion", "")},
            {"creationTimestamp", m.value("creationTimestamp", "")}}},
          {"spec", {{"replicas", o.contains("spec") ? o["spec"].value("replicas", 1) : 1}}},
          {"status", {{"replicas", status.value("replicas", 0)}, {"selector", selStr}}}};
}

// An update that leaves out the allocated cluster IP keeps it, as in kube
// (kubectl replace / PUT of a hand-written manifest); node ports are kept by admission.
void keepServiceAllocations(Json& next, const Json& old) {
  if (!next.contains("spec") || !next["spec"].is_object() || !old.contains("spec")) return;
  auto& spec = next["spec"];
  if (spec.value("type", "ClusterIP") == "ExternalName") return;
  if (spec.value("clusterIP", "").empty() && old["spec"].contains("clusterIP")) {
    spec["clusterIP"] = old["spec"]["clusterIP"];
    if (old["spec"].contains("clusterIPs")) spec["clusterIPs"] = old["spec"]["clusterIPs"];
  }
  if (!spec.contains("clusterIPs") && old["spec"].contains("clusterIPs") &&
      spec.value("clusterIP", "") == old["spec"].value("clusterIP", ""))
    spec["clusterIPs"] = old["spec"]["clusterIPs"];
  // A changed clusterIP beside clusterIPs as they were (`kubectl patch -p '{"spec":{"clusterIP":...}}'`):
  // kube's NormalizeClusterIPs makes clusterIPs[0] follow it, so validation reports the one change.
  std::string ip = spec.value("clusterIP", "");
  if (!ip.empty() && ip != old["spec"].value("clusterIP", "") && spec.contains("clusterIPs") &&
      spec["clusterIPs"].is_array() && !spec["clusterIPs"].empty() && spec["clusterIPs"] == old["spec"].value("clusterIPs", Json()))
    spec["clusterIPs"][0] = ip;
}

// A Service switched to a type that no longer uses a field drops it when the request left
// it as it was (kube's dropTypeDependentFields): NodePort -> ClusterIP loses its node ports
// and externalTrafficPolicy instead of failing validation on them.
void dropTypeDependentFields(Json& next, const Json& old) {
  if (!next.contains("spec") || !next["spec"].is_object() || !old.contains("spec") || !old["spec"].is_object()) return;
  auto& spec = next["spec"];
  const Json& os = old["spec"];
  std::string type = spec.value("type", "ClusterIP"), oldType = os.value("type", "ClusterIP");
  auto same = [&](const char* f) { return spec.value(f, Json()) == os.value(f, Json()); };
  auto needsNodePorts = [](const std::string& t) { return t == "NodePort" || t == "LoadBalancer"; };
  auto external = [](const std::string& t, const Json& s) {
    return t == "NodePort" || t == "LoadBalancer" || (t == "ClusterIP" && !s.value("externalIPs", Json::array()).empty());
  };
  if (oldType != "ExternalName" && type == "ExternalName") {
    if (same("clusterIP") && same("clusterIPs")) spec.erase("clusterIP"), spec.erase("clusterIPs");
    if (same("ipFamilies")) spec.erase("ipFamilies");
    if (same("ipFamilyPolicy")) spec.erase("ipFamilyPolicy");
  }
  if (needsNodePorts(oldType) && !needsNodePorts(type) && spec.contains("ports") && spec["ports"].is_array()) {
    std::set<int64_t> oldPorts;
    for (auto& p : os.value("ports", Json::array()))
      if (p.is_object() && p.contains("nodePort") && p["nodePort"].is_number_integer()) oldPorts.insert(p["nodePort"].get<int64_t>());
    bool unchanged = true;
    for (auto& p : spec["ports"])
      if (p.is_object() && p.contains("nodePort") &&
          !(p["nodePort"].is_number_integer() && oldPorts.count(p["nodePort"].get<int64_t>())))
        unchanged = false;
    if (unchanged)
      for (auto& p : spec["ports"])
        if (p.is_object()) p.erase("nodePort");
  }
  bool oldHc = oldType == "LoadBalancer" && os.value("externalTrafficPolicy", "") == "Local";
  bool hc = type == "LoadBalancer" && spec.value("externalTrafficPolicy", "") == "Local";
  if (oldHc && !hc && same("healthCheckNodePort")) spec.erase("healthCheckNodePort");
  if (oldType == "LoadBalancer" && type != "LoadBalancer") {
    if (same("allocateLoadBalancerNodePorts")) spec.erase("allocateLoadBalancerNodePorts");
    if (same("loadBalancerClass")) spec.erase("loadBalancerClass");
  }
  if (external(oldType, os) && !external(type, spec) && same("externalTrafficPolicy")) spec.erase("externalTrafficPolicy");
  if (type != "LoadBalancer" && next.contains("status") && next["status"].is_object() &&
      next["status"].contains("loadBalancer"))
    next["status"]["loadBalancer"] = Json::object();
}

// Removes the field at a path as unknownFields() prints it: ".spec.foo", ".a.b[0].c".
void eraseFieldPath(Json& obj, const std::string& path) {
  Json* cur = &obj;
  size_t i = path[0] == '.' ? 1 : 0;
  while (i < path.size()) {
    size_t end = path.find_first_of(".[", i);
    std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!cur->is_object() || !cur->contains(key)) return;
    if (end == std::string::npos) {
      cur->erase(key);
      return;
    }
    cur = &(*cur)[key];
    i = end;
    while (i < path.size() && path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos) return;
      size_t idx = std::stoul(path.substr(i + 1, close - i - 1));
      if (!cur->is_array() || idx >= cur->size()) return;
      cur = &(*cur)[idx];
      i = close + 1;
    }
    if (i < path.size() && path[i] == '.') ++i;
  }
}

// Unknown fields: Strict rejects (400, as kube's strict decoding); otherwise they
// are dropped, as kube's decoder does, and reported as warnings when asked.
void handleUnknownFields(const ResourceInfo& r, Json& obj, const WriteOptions& o) {
  // In-process components (no warnings sink, no validation asked) write only
  // fields they know; skipping the walk keeps the schema unparsed until a client needs it.
  if (!o.warnings && o.fieldValidation.empty()) return;
  if (o.fieldValidation == "Ignore" && !o.warnings) {
    for (auto& u : unknownFields(r, obj)) eraseFieldPath(obj, u);
    return;
  }
  auto unknown = unknownFields(r, obj);
  if (unknown.empty()) return;
  auto bare = [](const std::string& u) { return u.substr(u[0] == '.' ? 1 : 0); };
  if (o.fieldValidation == "Strict") {
    std::string msg = r.kind + " in version \"" + r.version + "\" cannot be handled as a " + r.kind +
                      ": strict decoding error: ";
    for (size_t i = 0; i < unknown.size(); ++i) msg += (i ? ", " : "") + std::string("unknown field \"") + bare(unknown[i]) + "\"";
    throw badRequest(msg);
  }
  for (auto& u : unknown) {
    if (o.warnings && o.fieldValidation != "Ignore") o.warnings->push_back("unknown field \"" + bare(u) + "\"");
    eraseFieldPath(obj, u);
  }
}

// Server-side apply converts the applied object to its schema type before merging
// (structured-merge-diff's ObjectToTyped); an object it cannot type is refused with that
// conversion's message. kube 1.33 answers it with a 500 (kubernetes#122480); it is the
// client's mistake, so here it is the 400 kubernetes#139255 makes of it. Without this, a
// misspelled top-level key was merged in and recorded in managedFields.
void checkAppliedObject(const ResourceInfo& r, const Json& applied) {
  if (!applied.is_object()) return;
  std::string gvk = r.group + "/" + r.version + ", Kind=" + r.kind;
  auto refuse = [&](const std::string& why) {
    throw badRequest("failed to create typed patch object (" + gvk + "): " + why);
  };
  auto meta = applied.find("metadata");
  if (meta != applied.end() && !meta->is_object() && !meta->is_null())
    refuse(".metadata: expected map, got &{" + (meta->is_string() ? meta->get<std::string>() : dumpForWire(*meta)) + "}");
  auto unknown = unknownFields(r, applied);
  if (!unknown.empty()) refuse(unknown.front() + ": field not declared in schema");
}

}  // namespace

Registry::Registry(Store& store, ClusterConfig cfg) : store_(store), cfg_(std::move(cfg)) {}

ObjectPtr Registry::getShared(const ResourceInfo& r, const std::string& ns, const std::string& name) {
  auto o = store_.get(r, ns, name);
  if (!o) throw notFound(r.groupResource(), name);
  return o;
}

Json Registry::get(const ResourceInfo& r, const std::string& ns, const std::string& name, const std::string& sub) {
  auto o = store_.get(r, ns, name);
  if (!o) throw notFound(r.groupResource(), name);
  if (sub == "scale") return scaleOf(r, *o);
  return *o;
}

Client::SharedList Registry::listShared(const ResourceInfo& r, const std::string& ns, const ListOptions& o) {
  auto ls = LabelSelector::parse(o.labelSelector);
  auto fs = FieldSelector::parse(o.fieldSelector, r.kind);
  int64_t rv = 0;
  SharedList out;
  for (auto& obj : store_.list(r, ns, &rv))
    if (ls.matches(labelsOf(*obj)) && fs.matches(*obj)) out.items.push_back(obj);
  out.resourceVersion = std::to_string(rv);
  return out;
}

Json Registry::list(const ResourceInfo& r, const std::string& ns, const ListOptions& o) {
  auto ls = LabelSelector::parse(o.labelSelector);
  auto fs = FieldSelector::parse(o.fieldSelector, r.kind);
  int64_t rv = 0;
  auto all = store_.list(r, ns, &rv);
  std::string startAfter;
  if (!o.continueToken.empty()) {
    try {
      Json tok = Json::parse(o.continueToken);
      startAfter = tok.at("start").get<std::string>();
      rv = tok.at("rv").get<int64_t>();
    } catch (...) {
      throw badRequest("continue key is not valid: malformed continue token");
    }
    // The revision the first page was read at has left the event window: like a compacted
    // etcd revision in kube, the rest of that list can no longer be consistent.
    if (rv < store_.oldestWatchableRevision())
      throw gone("The provided continue parameter is too old to display a consistent list result. You can start a "
                 "new list without the continue parameter, or use the continue token in this response to retrieve "
                 "the remainder of the results. Continuing with the provided token results in an inconsistent list - "
                 "objects that were created, modified, or deleted between the time the first chunk was returned and "
                 "now may show up in the list.");
  }
  Json items = Json::array();
  std::string lastKey;
  bool more = false;
  int64_t remaining = 0;
  for (auto& obj : all) {
    std::string key = namespaceOf(*obj) + "/" + nameOf(*obj);
    if (!startAfter.empty() && key <= startAfter) continue;
    if (!ls.matches(labelsOf(*obj)) || !fs.matches(*obj)) continue;
    if (o.limit > 0 && int64_t(items.size()) >= o.limit) {
      more = true;
      ++remaining;
      continue;
    }
    items.push_back(*obj);
    lastKey = key;
  }
  Json meta = {{"resourceVersion", std::to_string(rv)}};
  if (more) {
    meta["continue"] = Json({{"rv", rv}, {"start", lastKey}}).dump();
    meta["remainingItemCount"] = remaining;
  }
  return {{"kind", r.listKind()}, {"apiVersion", r.apiVersion()}, {"metadata", meta}, {"items", items}};
}

Json Registry::create(const ResourceInfo& r, const std::string& ns, Json obj, const WriteOptions& o) {
  return *createStored(r, ns, std::move(obj), o).object;
}

Registry::Stored Registry::createStored(const ResourceInfo& r, const std::string& ns, Json obj, const WriteOptions& o,
                                        const Json& managedFields) {
  checkTypeMeta(r, obj);
  checkTypes(r, obj, o);
  handleUnknownFields(r, obj, o);
  auto& m = obj["metadata"];
  if (r.namespaced) {
    std::string objNs = m.value("namespace", "");
    if (!objNs.empty() && !ns.empty() && objNs != ns)
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    if (ns.empty() && objNs.empty()) throw badRequest("a namespace is required to create " + r.groupResource());
    m["namespace"] = ns.empty() ? objNs : ns;
  } else {
    m.erase("namespace");
  }
  if (m.contains("resourceVersion") && !m["resourceVersion"].is_null() && m["resourceVersion"] != "")
    throw badRequest("resourceVersion should not be set on objects to be created");
  bool generated = m.value("name", "").empty() && !m.value("generateName", "").empty();
  for (const char* f : {"uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"})
    m.erase(f);
  if (!managedFields.is_null()) m["managedFields"] = managedFields;
  prepareForCreate(r, obj);
  applyDefaults(r, obj);
  std::string nsName = r.namespaced ? std::string(obj["metadata"]["namespace"]) : "";

  for (int attempt = 0;; ++attempt) {
    // The last attempt may take obj itself; a retry (generateName) needs it again.
    Json candidate = generated ? obj : std::move(obj);
    auto& cm = candidate["metadata"];
    if (generated) cm["name"] = cm["generateName"].get<std::string>() + randomSuffix(5);
    auto causes = validateCreate(r, candidate);
    if (!causes.empty()) throw invalid(r.group, r.kind, cm.value("name", ""), causes);
    cm["uid"] = newUid();
    cm["creationTimestamp"] = nowRfc3339();
    if (r.hasGeneration) cm["generation"] = 1;
    std::string name = cm["name"];
    try {
      return store_.transact([&](Store::Txn& t) -> Stored {
        if (r.namespaced) {
          auto nsObj = t.get(*findResource("", "namespaces"), "", nsName);
          if (!nsObj) throw notFound("namespaces", nsName);
          if (metaOf(*nsObj).contains("deletionTimestamp"))
            throw forbidden(r.singular.empty() ? r.plural : r.plural + " \"" + name +
                            "\" is forbidden: unable to create new content in namespace " + nsName +
                            " because it is being terminated");
        }
        if (auto existing = t.get(r, nsName, name)) {
          ApiError e = alreadyExists(r.groupResource(), name);
          // `kubectl delete ns x; kubectl create ns x` while x still terminates: kube says why.
          if (metaOf(*existing).contains("deletionTimestamp"))
            throw ApiError(e.code, e.reason, std::string("object is being deleted: ") + e.what(), e.details);
          throw e;
        }
        admitCreate(t, r, candidate);
        if (o.dryRun) throw DryRunResult{candidate};
        auto stored = t.put(r, std::move(candidate));
        return Stored{stored, t.lastEncoded()};
      });
    } catch (DryRunResult& d) {
      return Stored{std::make_shared<const Json>(std::move(d.object)), nullptr};
    } catch (ApiError& e) {
      // generateName collisions are retried with a new suffix, as kube does.
      if (generated && e.reason == "AlreadyExists" && attempt < 8) continue;
      throw;
    }
  }
}

Json Registry::update(const ResourceInfo& r, const std::string& ns, Json obj, const std::string& sub,
                      const WriteOptions& o) {
  if (!obj.is_object()) throw badRequest("the body of the request is not a JSON object");
  if (sub.empty() || sub == "status") checkTypes(r, obj, o);  // the kind itself, not a Scale or Binding
  std::string name = metaOf(obj).value("name", "");
  checkNamespace(r, ns, obj);
  std::string expectRv = metaOf(obj).value("resourceVersion", "");
  // An unconditional update (no resourceVersion) that races another writer is
  // retried against the new version, as kube-apiserver's update does.
  for (int attempt = 0;; ++attempt) {
    try {
      return write(r, ns, name, obj, sub, o, expectRv, false);
    } catch (ApiError& e) {
      if (!expectRv.empty() || e.reason != "Conflict" || attempt >= 5) throw;
    }
  }
}

Json Registry::patch(const ResourceInfo& r, const std::string& ns, const std::string& name, PatchType type,
                     const Json& p, const std::string& sub, const WriteOptions& o) {
  if (type == PatchType::Apply && sub.empty()) checkAppliedObject(r, p);
  for (int attempt = 0;; ++attempt) {
    auto cur = store_.get(r, ns, name);
    if (!cur) {
      if (type == PatchType::Apply && sub.empty()) {
        // The object is the one the URL names (kube's checkName), whatever the body says.
        Json obj = p;
        if (obj.is_object()) {
          if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
          std::string bodyName = obj["metadata"].value("name", "");
          if (!bodyName.empty() && bodyName != name)
            throw badRequest("the name of the object (" + bodyName + ") does not match the name on the URL (" + name + ")");
          obj["metadata"]["name"] = name;
          checkNamespace(r, ns, obj);
        }
        if (o.fieldManager.empty()) return create(r, ns, obj, o);
        Json entry = applyEntry(o.fieldManager, r.apiVersion(), appliedFieldSet(obj, listStrategies(r)), nowRfc3339());
        return *createStored(r, ns, obj, o, Json::array({entry})).object;
      }
      throw notFound(r.groupResource(), name);
    }
    Json base = sub == "scale" ? scaleOf(r, *cur) : *cur;
    Json patched;
    switch (type) {
      case PatchType::Merge: patched = mergePatch(base, p); break;
      case PatchType::JSON: patched = jsonPatch(base, p); break;
      case PatchType::Strategic:
      case PatchType::Apply: {
        if (!p.is_object()) throw badRequest("the body of the request was not a JSON object");
        auto lookup = sub == "scale" ? ListStrategyLookup([](auto&) { return std::nullopt; }) : listStrategies(r);
        if (type == PatchType::Apply && sub.empty() && !o.fieldManager.empty())
          patched = serverSideApply(base, p, o.fieldManager, r.apiVersion(), lookup, nowRfc3339());
        else
          patched = strategicMergePatch(base, p, lookup);
        break;
      }
    }
    if (!patched.is_object()) throw badRequest("the patch produced a value that is not an object");
    // Each input was within the depth limit, but a patch can put a deep value at a deep
    // place; kube's decoder would refuse the result, and the walkers below recurse.
    if (jsonDeeperThan(patched)) throw badRequest("exceeded max depth");
    if (sub != "scale" && fromClient(o)) {
      // kube decodes the patched object and answers a wrong type with a 422 on "patch".
      decodeNulls(r, patched);
      auto err = newTypeError(r, base, patched);
      if (!err.empty())
        throw invalid("", "", "", {{"FieldValueInvalid", "Invalid value: " + Json(p.dump()).dump() + ": " + err, "patch"}});
    }
    // A resourceVersion in the patch is a precondition; otherwise the patch
    // applies to the version it was computed from and retries on a race.
    std::string patchRv;
    if (p.is_object() && p.contains("metadata") && p["metadata"].is_object())
      patchRv = p["metadata"].value("resourceVersion", "");
    std::string expect = patchRv.empty() ? metaOf(base).value("resourceVersion", "") : patchRv;
    if (!patched.contains("metadata") || !patched["metadata"].is_object()) patched["metadata"] = Json::object();
    if (sub != "scale") {
      std::string patchedName = patched["metadata"].value("name", "");
      if (patchedName != name)
        throw badRequest("the name of the object (" + patchedName + ") does not match the name on the URL (" + name + ")");
      checkNamespace(r, ns, patched);
    }
    patched["metadata"]["name"] = name;
    try {
      return write(r, ns, name, std::move(patched), sub, o, expect, true);
    } catch (ApiError& e) {
      if (e.reason == "Conflict" && patchRv.empty() && attempt < 5) continue;
      throw;
    }
  }
}

Json Registry::write(const ResourceInfo& r, const std::string& ns, const std::string& name, Json obj,
                     const std::string& sub, const WriteOptions& o, const std::string& expectRv, bool) {
  auto oldPtr = store_.get(r, ns, name);
  if (!oldPtr) {
    if (sub.empty() && allowCreateOnUpdate(r)) return create(r, ns, std::move(obj), o);
    throw notFound(r.groupResource(), name);
  }
  const Json& old = *oldPtr;
  std::string oldRv = metaOf(old).value("resourceVersion", "");
  if (!expectRv.empty() && expectRv != oldRv)
    throw conflict(r.groupResource(), name,
                   "the object has been modified; please apply your changes to the latest version and try again");

  Json next;
  if (sub == "scale") {
    if (r.kind != "Deployment" && r.kind != "ReplicaSet") throw notFound(r.groupResource(), name);
    next = old;
    if (!obj.contains("spec") || !obj["spec"].contains("replicas") || !obj["spec"]["replicas"].is_number_integer())
      throw invalid("autoscaling", "Scale", name, {{"FieldValueRequired", "Required value", "spec.replicas"}});
    int64_t n = obj["spec"]["replicas"];
    if (n < 0)
      throw invalid("autoscaling", "Scale", name,
                    {{"FieldValueInvalid", "Invalid value: " + std::to_string(n) +
                                               ": must be greater than or equal to 0", "spec.replicas"}});
    next["spec"]["replicas"] = n;
  } else if (sub == "binding") {
    // pods/binding (in-process: update(pods, ns, Binding, "binding")): sets
    // spec.nodeName once and marks the pod scheduled, as kube's BindingREST does.
    if (r.kind != "Pod") throw notFound(r.groupResource(), name);
    std::string node = obj.contains("target") && obj["target"].is_object() ? obj["target"].value("name", "") : "";
    if (node.empty()) throw invalid("", "Binding", name, {{"FieldValueRequired", "Required value", "target.name"}});
    if (!old["spec"].value("nodeName", "").empty())
      throw conflict(r.groupResource(), name,
                     "pod " + name + " is already assigned to node \"" + old["spec"].value("nodeName", "") + "\"");
    if (metaOf(old).contains("deletionTimestamp"))
      throw conflict(r.groupResource(), name, "pod " + name + " is being deleted, cannot be assigned to a host");
    next = old;
    next["spec"]["nodeName"] = node;
    Json& conds = next["status"]["conditions"];
    if (!conds.is_array()) conds = Json::array();
    Json cond = {{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", nullptr},
                 {"lastTransitionTime", nowRfc3339()}};
    bool found = false;
    for (auto& c : conds)
      if (c.value("type", "") == "PodScheduled") c = cond, found = true;
    if (!found) conds.push_back(cond);
  } else {
    checkTypeMeta(r, obj);
    handleUnknownFields(r, obj, o);
    if (!obj["metadata"].value("name", name).empty() && obj["metadata"].value("name", name) != name)
      throw badRequest("the name of the object (" + obj["metadata"].value("name", "") +
                       ") does not match the name on the URL (" + name + ")");
    next = std::move(obj);
    if (sub == "status") {
      // Status writers may not change the spec.
      if (old.contains("spec")) next["spec"] = old["spec"];
      else next.erase("spec");
    } else if (!sub.empty()) {
      throw methodNotSupported(r.groupResource() + "/" + sub, "update");
    } else if (r.hasStatus) {
      // Main-resource writers may not change the status.
      if (old.contains("status")) next["status"] = old["status"];
      else next.erase("status");
    }
  }
  auto& nm = next["metadata"];
  auto& om = metaOf(old);
  // An update that leaves managedFields out keeps them (kubectl hides them from what it shows).
  if (!nm.contains("managedFields") && om.contains("managedFields")) nm["managedFields"] = om["managedFields"];
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"}) {
    if (om.contains(f)) nm[f] = om[f];
    else nm.erase(f);
  }
  nm["name"] = name;
  if (r.namespaced) nm["namespace"] = ns;
  if (r.kind == "Service" && sub.empty()) {
    dropTypeDependentFields(next, old);
    keepServiceAllocations(next, old);
  }
  applyDefaults(r, next);
  if (r.hasGeneration && specPart(next) != specPart(old)) nm["generation"] = om.value("generation", 0) + 1;
  // A binding is the one sanctioned change of an unbound pod's spec.nodeName.
  auto causes = sub == "binding" ? std::vector<StatusCause>{} : validateUpdate(r, next, old);
  if (!causes.empty()) throw invalid(sub == "scale" ? "autoscaling" : r.group, r.kind, name, causes);

  if (sameIgnoringRv(next, old)) return sub == "scale" ? scaleOf(r, old) : old;
  try {
    return store_.transact([&](Store::Txn& t) -> Json {
      auto cur = t.get(r, ns, name);
      if (!cur) throw notFound(r.groupResource(), name);
      if (metaOf(*cur).value("resourceVersion", "") != oldRv)
        throw conflict(r.groupResource(), name,
                       "the object has been modified; please apply your changes to the latest version and try again");
      // The last finalizer removed from an object being deleted: it goes now.
      // A namespace also waits for its spec.finalizers (the namespace controller clears "kubernetes").
      bool finalize = nm.contains("deletionTimestamp") &&
                      (!nm.contains("finalizers") || nm["finalizers"].empty()) &&
                      (r.kind != "Namespace" || !next.contains("spec") || !next["spec"].is_object() ||
                       next["spec"].value("finalizers", Json::array()).empty());
      if (finalize && !(r.kind == "Pod" && nm.value("deletionGracePeriodSeconds", 0) > 0)) {
        if (o.dryRun) throw DryRunResult{next};
        return finishDelete(t, r, next);
      }
      admitUpdate(t, r, next, old);
      if (o.dryRun) throw DryRunResult{next};
      auto stored = t.put(r, next);
      return sub == "scale" ? scaleOf(r, *stored) : *stored;
    });
  } catch (DryRunResult& d) {
    return d.object;
  }
}

Json Registry::finishDelete(Store::Txn& t, const ResourceInfo& r, const Json& obj) {
  releaseOnDelete(t, r, obj);
  return *t.remove(r, obj);
}

Json Registry::remove(const ResourceInfo& r, const std::string& ns, const std::string& name, const DeleteOptions& o) {
  // kube's NamespaceLifecycle admission keeps these (`kubectl delete ns --all` must not take them).
  if (r.kind == "Namespace" && (name == "default" || name == "kube-system" || name == "kube-public"))
    throw ApiError(403, "Forbidden", "namespaces \"" + name + "\" is forbidden: this namespace may not be deleted",
                   {{"name", name}, {"kind", "namespaces"}});
  for (int attempt = 0;; ++attempt) {
    auto cur = store_.get(r, ns, name);
    if (!cur) throw notFound(r.groupResource(), name);
    const Json& obj = *cur;
    auto& m = metaOf(obj);
    if (o.preconditionUid && *o.preconditionUid != m.value("uid", ""))
      throw conflict(r.groupResource(), name,
                     "Precondition failed: UID in precondition: " + *o.preconditionUid +
                         ", UID in object meta: " + m.value("uid", ""));
    if (o.preconditionResourceVersion && *o.preconditionResourceVersion != m.value("resourceVersion", ""))
      throw conflict(r.groupResource(), name,
                     "Precondition failed: ResourceVersion in precondition: " + *o.preconditionResourceVersion +
                         ", ResourceVersion in object meta: " + m.value("resourceVersion", ""));
    Json next = obj;
    auto& nm = next["metadata"];
    Json finalizers = nm.value("finalizers", Json::array());
    auto addFinalizer = [&](const std::string& f) {
      for (auto& x : finalizers)
        if (x == f) return;
      finalizers.push_back(f);
    };
    std::string policy = o.propagationPolicy;
    if (policy.empty() && r.kind == "Namespace") policy = "Background";
    if (policy == "Orphan") addFinalizer("orphan");
    if (policy == "Foreground") addFinalizer("foregroundDeletion");
    if (!finalizers.empty()) nm["finalizers"] = finalizers;

    // Graceful deletion: a pod on a node is marked, and its kubelet deletes it
    // once its containers have stopped.
    int64_t grace = 0;
    if (r.kind == "Pod" && !next["spec"].value("nodeName", "").empty()) {
      std::string phase = next.contains("status") ? next["status"].value("phase", "") : "";
      grace = o.gracePeriodSeconds ? *o.gracePeriodSeconds : next["spec"].value("terminationGracePeriodSeconds", 30);
      if (phase == "Succeeded" || phase == "Failed") grace = 0;
      if (grace < 0) grace = 0;
      if (nm.contains("deletionGracePeriodSeconds") && nm["deletionGracePeriodSeconds"].get<int64_t>() < grace)
        grace = nm["deletionGracePeriodSeconds"];
    }
    bool keep = !finalizers.empty() || grace > 0 || (r.kind == "Namespace");
    try {
      return store_.transact([&](Store::Txn& t) -> Json {
        auto now = t.get(r, ns, name);
        if (!now || metaOf(*now).value("resourceVersion", "") != m.value("resourceVersion", ""))
          throw conflict(r.groupResource(), name, "the object has been modified");
        if (!keep) {
          if (o.dryRun) throw DryRunResult{obj};
          return finishDelete(t, r, obj);
        }
        if (!nm.contains("deletionTimestamp")) {
          // A deletion timestamp in the future marks the end of a pod's grace period.
          nm["deletionTimestamp"] = nowRfc3339();
          if (grace > 0) {
            time_t end = time(nullptr) + grace;
            tm u;
            gmtime_r(&end, &u);
            char b[32];
            strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &u);
            nm["deletionTimestamp"] = b;
          }
        }
        nm["deletionGracePeriodSeconds"] = grace;
        if (r.kind == "Namespace") {
          next["status"]["phase"] = "Terminating";
        }
        if (sameIgnoringRv(next, obj)) return obj;
        if (o.dryRun) throw DryRunResult{next};
        return *t.put(r, next);
      });
    } catch (DryRunResult& d) {
      return d.object;
    } catch (ApiError& e) {
      if (e.reason == "Conflict" && e.code == 409 && attempt < 5 &&
          std::string(e.what()).find("Precondition") == std::string::npos)
        continue;
      throw;
    }
  }
}

Json Registry::removeCollection(const ResourceInfo& r, const std::string& ns, const ListOptions& lo,
                                const DeleteOptions& o) {
  Json l = list(r, ns, lo);
  Json items = Json::array();
  for (auto& it : l["items"]) {
    try {
      items.push_back(remove(r, namespaceOf(it), nameOf(it), o));
    } catch (ApiError& e) {
      if (e.code != 404) throw;
    }
  }
  l["items"] = items;
  return l;
}

std::unique_ptr<Watch> Registry::watch(const ResourceInfo& r, const std::string& ns, const ListOptions& o) {
  return makeWatch(store_, r, ns, o);
}

}  // namespace k1s
