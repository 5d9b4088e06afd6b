#include "common/resources.h"

namespace k1s {

const std::vector<ResourceInfo>& allResources() {
  static const std::vector<ResourceInfo> all = [] {
    std::vector<ResourceInfo> v;
    auto add = [&](ResourceInfo r) { v.push_back(std::move(r)); };
    add({"", "v1", "Namespace", "namespaces", "namespace", false, {"ns"}, {}, {"status", "finalize"}, false, true});
    add({"", "v1", "Pod", "pods", "pod", true, {"po"}, {"all"},
         {"status", "log", "exec", "attach", "portforward", "binding", "eviction"}, false, true});
    add({"", "v1", "Service", "services", "service", true, {"svc"}, {"all"}, {"status", "proxy"}, false, true});
    add({"", "v1", "Endpoints", "endpoints", "endpoints", true, {"ep"}, {}, {}, false, false});
    add({"", "v1", "ConfigMap", "configmaps", "configmap", true, {"cm"}, {}, {}, false, false});
    add({"", "v1", "Secret", "secrets", "secret", true, {}, {}, {}, false, false});
    add({"", "v1", "Event", "events", "event", true, {"ev"}, {}, {}, false, false});
    add({"", "v1", "Node", "nodes", "node", false, {"no"}, {}, {"status", "proxy"}, false, true});
    add({"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, {"sa"}, {}, {}, false, false});
    add({"apps", "v1", "Deployment", "deployments", "deployment", true, {"deploy"}, {"all"},
         {"status", "scale"}, true, true});
    add({"apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, {"rs"}, {"all"},
         {"status", "scale"}, true, true});
    add({"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true, {}, {}, {}, false,
         false});
    add({"coordination.k8s.io", "v1", "Lease", "leases", "lease", true, {}, {}, {}, false, false});
    return v;
  }();
  return all;
}

const ResourceInfo* findResource(const std::string& group, const std::string& plural) {
  for (auto& r : allResources())
    if (r.group == group && r.plural == plural) return &r;
  return nullptr;
}

const ResourceInfo* findKind(const std::string& apiVersion, const std::string& kind) {
  for (auto& r : allResources())
    if (r.apiVersion() == apiVersion && r.kind == kind) return &r;
  return nullptr;
}

std::vector<std::string> servedGroupVersions() {
  std::vector<std::string> out;
  for (auto& r : allResources()) {
    auto gv = r.apiVersion();
    bool seen = false;
    for (auto& o : out) seen |= (o == gv);
    if (!seen) out.push_back(gv);
  }
  return out;
}

}  // namespace k1s
