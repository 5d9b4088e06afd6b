#include "apiserver/discovery.h"

#include "common/resources.h"

namespace k1s {
namespace {

Json verbsFor(const ResourceInfo& r) {
  if (r.kind == "Event" || r.kind == "ConfigMap" || r.kind == "Secret" || r.kind == "Endpoints" ||
      r.kind == "EndpointSlice" || r.kind == "Lease" || r.kind == "ServiceAccount" || r.kind == "Deployment" ||
      r.kind == "ReplicaSet" || r.kind == "Pod" || r.kind == "Node")
    return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
  // Services and namespaces have no deletecollection in kube.
  return {"create", "delete", "get", "list", "patch", "update", "watch"};
}

struct Sub {
  std::string name, kind, group, version;
  Json verbs;
};

std::vector<Sub> subresourcesOf(const ResourceInfo& r) {
  std::vector<Sub> out;
  for (auto& s : r.subresources) {
    if (s == "status") out.push_back({s, r.kind, "", "", {"get", "patch", "update"}});
    else if (s == "scale") out.push_back({s, "Scale", "autoscaling", "v1", {"get", "patch", "update"}});
    else if (s == "log") out.push_back({s, "Pod", "", "", {"get"}});
    else if (s == "exec" || s == "attach" || s == "portforward") out.push_back({s, r.kind == "Pod" ? "PodExecOptions" : r.kind, "", "", {"create", "get"}});
    else if (s == "binding") out.push_back({s, "Binding", "", "", {"create"}});
    else if (s == "eviction") out.push_back({s, "Eviction", "policy", "v1", {"create"}});
    else if (s == "finalize") out.push_back({s, "Namespace", "", "", {"update"}});
    else if (s == "proxy") out.push_back({s, r.kind == "Node" ? "NodeProxyOptions" : "ServiceProxyOptions", "", "", {"create", "delete", "get", "patch", "update"}});
  }
  if (out.size() && out[0].kind == "PodExecOptions") {
  }
  for (auto& s : out) {
    if (s.name == "attach") s.kind = "PodAttachOptions";
    if (s.name == "portforward") s.kind = "PodPortForwardOptions";
  }
  return out;
}

}  // namespace

Json discoveryApiVersions(const std::string& serverAddress) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", serverAddress}}}}};
}

Json discoveryGroup(const std::string& group) {
  for (auto& gv : servedGroupVersions()) {
    auto slash = gv.find('/');
    if (slash == std::string::npos || gv.substr(0, slash) != group) continue;
    Json v = {{"groupVersion", gv}, {"version", gv.substr(slash + 1)}};
    return {{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", group}, {"versions", {v}}, {"preferredVersion", v}};
  }
  return nullptr;
}

Json discoveryGroupList() {
  Json groups = Json::array();
  for (auto& gv : servedGroupVersions()) {
    auto slash = gv.find('/');
    if (slash == std::string::npos) continue;
    Json g = discoveryGroup(gv.substr(0, slash));
    g.erase("kind");
    g.erase("apiVersion");
    groups.push_back(g);
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

Json discoveryResourceList(const std::string& groupVersion) {
  Json resources = Json::array();
  for (auto& r : allResources()) {
    if (r.apiVersion() != groupVersion) continue;
    Json e = {{"name", r.plural},       {"singularName", r.singular}, {"namespaced", r.namespaced},
              {"kind", r.kind},         {"verbs", verbsFor(r)}};
    if (!r.shortNames.empty()) e["shortNames"] = r.shortNames;
    if (!r.categories.empty()) e["categories"] = r.categories;
    resources.push_back(e);
    for (auto& s : subresourcesOf(r)) {
      Json se = {{"name", r.plural + "/" + s.name}, {"singularName", ""}, {"namespaced", r.namespaced},
                 {"kind", s.kind}, {"verbs", s.verbs}};
      if (!s.group.empty()) {
        se["group"] = s.group;
        se["version"] = s.version;
      }
      resources.push_back(se);
    }
  }
  if (resources.empty()) return nullptr;
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", groupVersion}, {"resources", resources}};
}

Json discoveryAggregated(bool legacy, const std::string& version) {
  Json items = Json::array();
  for (auto& gv : servedGroupVersions()) {
    auto slash = gv.find('/');
    bool core = slash == std::string::npos;
    if (core != legacy) continue;
    std::string group = core ? "" : gv.substr(0, slash);
    std::string ver = core ? gv : gv.substr(slash + 1);
    Json resources = Json::array();
    for (auto& r : allResources()) {
      if (r.apiVersion() != gv) continue;
      Json e = {{"resource", r.plural},
                {"responseKind", {{"group", r.group}, {"version", r.version}, {"kind", r.kind}}},
                {"scope", r.namespaced ? "Namespaced" : "Cluster"},
                {"singularResource", r.singular},
                {"verbs", verbsFor(r)}};
      if (!r.shortNames.empty()) e["shortNames"] = r.shortNames;
      if (!r.categories.empty()) e["categories"] = r.categories;
      Json subs = Json::array();
      for (auto& s : subresourcesOf(r))
        subs.push_back({{"subresource", s.name},
                        {"responseKind", {{"group", s.group}, {"version", s.version.empty() ? r.version : s.version}, {"kind", s.kind}}},
                        {"verbs", s.verbs}});
      if (!subs.empty()) e["subresources"] = subs;
      resources.push_back(e);
    }
    items.push_back({{"metadata", {{"name", group}, {"creationTimestamp", nullptr}}},
                     {"versions", {{{"version", ver}, {"resources", resources}, {"freshness", "Current"}}}}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/" + version},
          {"metadata", Json::object()},
          {"items", items}};
}

}  // namespace k1s
