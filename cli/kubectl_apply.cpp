// `k1s apply -f`: create when absent, else a three-way strategic merge patch
// from the last-applied-configuration annotation (client-side apply).
#include "cli/kubectl_apply.h"

#include <map>

#include "cli/kubectl_print.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"

namespace k1s::cli {

Json withLastApplied(const Json& objIn) {
  Json obj = objIn;
  Json& meta = obj["metadata"];
  if (!meta.is_object()) meta = Json::object();
  Json annotations = meta.value("annotations", Json::object());
  if (!annotations.is_object()) annotations = Json::object();
  annotations.erase(kLastAppliedAnnotation);
  meta["annotations"] = annotations;  // kept even when empty, as kubectl's encoder does
  std::string serialized = goJsonCompact(obj) + "\n";
  meta["annotations"][kLastAppliedAnnotation] = serialized;
  return obj;
}

ApplyPlan planApply(const Json& modified, const Json& current, const ListStrategyLookup& lookup, bool strategic) {
  ApplyPlan plan;
  if (current.is_null()) {
    plan.body = modified;
    return plan;
  }
  Json original;  // null when the live object was never applied
  auto annotations = current.value("metadata", Json::object()).value("annotations", Json::object());
  if (annotations.is_object() && annotations.contains(kLastAppliedAnnotation) &&
      annotations[kLastAppliedAnnotation].is_string()) {
    original = Json::parse(annotations[kLastAppliedAnnotation].get<std::string>(), nullptr, false);
    if (original.is_discarded()) original = nullptr;
  } else {
    plan.missingAnnotation = true;
  }
  if (strategic) {
    plan.body = createThreeWayMergePatch(original, modified, current, lookup);
  } else {
    // Without a schema kubectl uses a JSON merge patch: additions and changes
    // from modified, deletions of what was applied before and is now gone.
    ListStrategyLookup none = [](const std::vector<std::string>&) { return std::optional<ListStrategy>(); };
    plan.body = createThreeWayMergePatch(original, modified, current, none);
  }
  plan.action = plan.body.is_object() && plan.body.empty() ? ApplyPlan::Unchanged : ApplyPlan::Patch;
  return plan;
}

// Lists whose merge keys every built-in kind shares; used when the server's
// OpenAPI document does not say (or could not be read).
static std::optional<ListStrategy> wellKnownStrategy(const std::vector<std::string>& path) {
  if (path.empty()) return std::nullopt;
  const std::string& f = path.back();
  std::string parent = path.size() > 1 ? path[path.size() - 2] : "";
  static const std::map<std::string, std::string> byName = {
      {"containers", "name"},   {"initContainers", "name"}, {"ephemeralContainers", "name"},
      {"env", "name"},          {"volumes", "name"},        {"volumeMounts", "mountPath"},
      {"imagePullSecrets", "name"}, {"volumeDevices", "devicePath"}, {"hostAliases", "ip"},
      {"ownerReferences", "uid"}, {"conditions", "type"}, {"topologySpreadConstraints", "topologyKey"}};
  if (f == "ports") {
    // Container ports merge on containerPort; a Service's on port.
    bool inContainer = parent == "containers" || parent == "initContainers" || parent == "ephemeralContainers";
    return ListStrategy{"merge", inContainer ? "containerPort" : "port", false};
  }
  if (f == "finalizers") return ListStrategy{"merge", "", false};
  if (auto it = byName.find(f); it != byName.end()) return ListStrategy{"merge", it->second, false};
  return std::nullopt;
}

static const Json* resolveRef(const Json& doc, const Json* node) {
  for (int guard = 0; node && guard < 8; ++guard) {
    if (node->contains("$ref")) {
      std::string ref = (*node)["$ref"].get<std::string>();
      const std::string prefix = "#/components/schemas/";
      if (ref.compare(0, prefix.size(), prefix) != 0) return nullptr;
      auto& schemas = doc["components"]["schemas"];
      auto it = schemas.find(ref.substr(prefix.size()));
      node = it == schemas.end() ? nullptr : &*it;
    } else if (node->contains("allOf") && (*node)["allOf"].is_array() && !(*node)["allOf"].empty()) {
      node = &(*node)["allOf"][0];
    } else {
      return node;
    }
  }
  return node;
}

ListStrategyLookup listStrategiesFromOpenApi(const Json& doc, const std::string& apiVersion, const std::string& kind) {
  const Json* root = nullptr;
  if (doc.is_object() && doc.contains("components") && doc["components"].contains("schemas")) {
    auto slash = apiVersion.find('/');
    std::string group = slash == std::string::npos ? "" : apiVersion.substr(0, slash);
    std::string version = slash == std::string::npos ? apiVersion : apiVersion.substr(slash + 1);
    for (auto& [name, schema] : doc["components"]["schemas"].items()) {
      for (auto& gvk : schema.value("x-kubernetes-group-version-kind", Json::array()))
        if (gvk.value("group", "") == group && gvk.value("version", "") == version && gvk.value("kind", "") == kind)
          root = &schema;
    }
  }
  auto docCopy = std::make_shared<Json>(root ? doc : Json());
  Json rootCopy = root ? *root : Json();
  return [docCopy, rootCopy](const std::vector<std::string>& path) -> std::optional<ListStrategy> {
    if (!rootCopy.is_null()) {
      const Json* node = &rootCopy;
      for (auto& field : path) {
        node = resolveRef(*docCopy, node);
        if (node && node->value("type", "") == "array" && node->contains("items"))
          node = resolveRef(*docCopy, &(*node)["items"]);
        if (!node || !node->contains("properties") || !(*node)["properties"].contains(field)) {
          node = nullptr;
          break;
        }
        node = &(*node)["properties"][field];
      }
      if (node) {
        std::string strategy = node->value("x-kubernetes-patch-strategy", "");
        std::string key = node->value("x-kubernetes-patch-merge-key", "");
        if (!strategy.empty() || !key.empty()) {
          bool retain = strategy.find("retainKeys") != std::string::npos;
          return ListStrategy{strategy.empty() ? "replace" : strategy, key, retain};
        }
        if (const Json* n = resolveRef(*docCopy, node); n && n->value("type", "") == "array")
          return std::nullopt;  // the schema knows this list and says: atomic
      }
    }
    return wellKnownStrategy(path);
  };
}

namespace {

struct Applier {
  Kubectl& k;
  std::string dryRun;  // "", "client", "server"
  std::map<std::string, Json> openapiDocs;  // by group-version path
  Json openapiRoot;
  bool openapiTried = false;

  const Json& openapiFor(const ApiResource& r) {
    std::string path = r.group.empty() ? "api/" + r.version : "apis/" + r.group + "/" + r.version;
    if (auto it = openapiDocs.find(path); it != openapiDocs.end()) return it->second;
    Json doc;
    try {
      if (!openapiTried) {
        openapiTried = true;
        openapiRoot = k.client().get("/openapi/v3");
      }
      std::string url = openapiRoot.value("paths", Json::object()).value(path, Json::object()).value("serverRelativeURL", "");
      if (!url.empty()) doc = k.client().get(url);
    } catch (const std::exception&) {
      // No OpenAPI: the well-known list keys still apply.
    }
    return openapiDocs[path] = doc;
  }

  std::string resourceDescription(const ApiResource& r, const std::string& name, const std::string& ns) {
    std::string gv = r.apiVersion();
    return "Resource: \"" + (r.group.empty() ? "/" + r.version : gv) + ", Resource=" + r.plural +
           "\", GroupVersionKind: \"" + (r.group.empty() ? "/" + r.version : gv) + ", Kind=" + r.kind +
           "\"\nName: \"" + name + "\", Namespace: \"" + ns + "\"";
  }

  // Prefixes a Status message as kubectl's AddSourceToErr does.
  static StatusError withSource(const StatusError& e, const std::string& what, const std::string& source) {
    Json s = e.status;
    s["message"] = "error when " + what + " \"" + source + "\": " + s.value("message", "");
    return StatusError(e.code, s);
  }

  std::string query() {
    std::vector<std::pair<std::string, std::string>> q;
    if (dryRun == "server") q.emplace_back("dryRun", "All");
    q.emplace_back("fieldManager", "kubectl-client-side-apply");
    q.emplace_back("fieldValidation", "Strict");
    return queryString(q);
  }

  // --server-side: the object goes as an apply patch; the server merges it with what this
  // field manager applied before (no last-applied annotation).
  void applyServerSide(const ApiResource& r, const std::string& ns, const std::string& name, const Json& obj,
                       const std::string& line) {
    std::vector<std::pair<std::string, std::string>> q;
    if (dryRun == "server") q.emplace_back("dryRun", "All");
    q.emplace_back("fieldManager", k.args.get("field-manager", "kubectl"));
    if (k.args.flag("force-conflicts")) q.emplace_back("force", "true");
    q.emplace_back("fieldValidation", "Strict");
    k.client().call("PATCH", r.itemPath(ns, name) + queryString(q), obj, "application/apply-patch+yaml");
    k.out << line << "\n";  // a refusal is the server's Status as it is (kubectl adds no source)
  }

  void applyOne(const SourcedObject& so) {
    Json obj = so.object;
    std::string apiVersion = obj.value("apiVersion", ""), kind = obj.value("kind", "");
    const ApiResource* r = k.discovery().byKind(apiVersion, kind);
    if (!r)
      throw CliError("error: resource mapping not found for name: \"" + nameOf(obj) + "\" namespace: \"" +
                     namespaceOf(obj) + "\" from \"" + so.source +
                     "\": no matches for kind \"" + kind + "\" in version \"" + apiVersion +
                     "\"\nensure CRDs are installed first");
    std::string name = nameOf(obj);
    if (name.empty()) throw CliError("error: error when retrieving current configuration of:\n" +
                                     resourceDescription(*r, "", k.ns()) + "\nfrom server for: \"" + so.source +
                                     "\": resource name may not be empty");
    std::string ns;
    if (r->namespaced) {
      std::string objNs = namespaceOf(obj);
      if (!objNs.empty() && k.namespaceGiven() && objNs != k.ns())
        throw CliError("error: the namespace from the provided object \"" + objNs +
                       "\" does not match the namespace \"" + k.ns() + "\". You must pass '--namespace=" + objNs +
                       "' to perform this operation.");
      ns = objNs.empty() ? k.ns() : objNs;
      obj["metadata"]["namespace"] = ns;
    }
    std::string prefix = r->kindPrefix() + "/" + name;
    std::string suffix = dryRun == "client" ? " (dry run)" : dryRun == "server" ? " (server dry run)" : "";
    if (k.args.flag("server-side")) return applyServerSide(*r, ns, name, obj, prefix + " serverside-applied" + suffix);
    Json modified = withLastApplied(obj);
    const ListStrategyLookup lookup = listStrategiesFromOpenApi(openapiFor(*r), apiVersion, kind);
    for (int attempt = 0;; ++attempt) {
      Json current;
      auto reply = k.client().request("GET", r->itemPath(ns, name));
      if (reply.status == 404) {
        current = nullptr;
      } else {
        try {
          throwForReply(reply);
        } catch (const StatusError& e) {
          throw withSource(e, "retrieving current configuration of:\n" + resourceDescription(*r, name, ns) +
                                  "\nfrom server for:", so.source);
        }
        current = Json::parse(reply.body);
      }
      ApplyPlan plan = planApply(modified, current, lookup, true);
      if (plan.action == ApplyPlan::Create) {
        if (dryRun != "client") {
          try {
            k.client().call("POST", r->collectionPath(ns) + query(), plan.body);
          } catch (const StatusError& e) {
            throw withSource(e, "creating", so.source);
          }
        }
        k.out << prefix << " created" << suffix << "\n";
        return;
      }
      if (plan.missingAnnotation && attempt == 0)
        k.err << "Warning: resource " << r->groupResource() << "/" << name
              << " is missing the kubectl.kubernetes.io/last-applied-configuration annotation which is required "
                 "by k1s apply. k1s apply should only be used on resources created declaratively by either k1s "
                 "create --save-config or k1s apply. The missing annotation will be patched automatically.\n";
      // kubectl's client dry run does not diff: an existing object is "configured".
      if (dryRun == "client") {
        k.out << prefix << " configured" << suffix << "\n";
        return;
      }
      if (plan.action == ApplyPlan::Unchanged) {
        k.out << prefix << " unchanged" << suffix << "\n";
        return;
      }
      try {
        k.client().call("PATCH", r->itemPath(ns, name) + query(), plan.body, "application/strategic-merge-patch+json");
      } catch (const StatusError& e) {
        if (e.code == 409 && e.reason() == "Conflict" && attempt < 4) continue;  // re-read and retry
        throw withSource(e, "applying patch:\n" + goJsonCompact(plan.body) + "\nto:\n" +
                                resourceDescription(*r, name, ns) + "\nfor:", so.source);
      }
      k.out << prefix << " configured" << suffix << "\n";
      return;
    }
  }
};

}  // namespace

int cmdApply(Kubectl& k) {
  auto files = k.args.all("filename");
  if (files.empty())
    throw CliError("error: must specify one of -f and -k");
  std::string dryRun = dryRunMode(k);
  if (dryRun == "client" && k.args.flag("server-side"))
    throw CliError("error: --dry-run=client doesn't work with --server-side (did you mean --dry-run=server instead?)");
  bool validate = k.args.get("validate", "strict") != "false" && k.args.get("validate", "strict") != "ignore";
  auto objects = readObjectsFromFiles(files, k.args.flag("recursive"), validate);
  if (objects.empty()) throw CliError("error: no objects passed to apply");
  Applier applier{k, dryRun, {}, nullptr, false};
  std::vector<std::string> errors;
  for (auto& so : objects) {
    if (!so.error.empty()) {
      errors.push_back(so.error);
      continue;
    }
    try {
      applier.applyOne(so);
    } catch (const StatusError& e) {
      errors.push_back(formatStatusError(e.status));
    } catch (const CliError& e) {
      errors.push_back(e.what());
    }
  }
  for (auto& e : errors) k.err << e << "\n";
  return errors.empty() ? 0 : 1;
}

}  // namespace k1s::cli
