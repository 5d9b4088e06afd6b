// Admission for Services: cluster IPs from the service CIDR and node ports from
// the node-port range, allocated in the same transaction as the object write
// so two Services can never get the same one, and released on delete.
#include <memory>
#include <random>
#include <set>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/meta.h"
#include "common/net.h"

namespace k1s {
namespace {

const char* kClusterIPPool = "clusterip";
const char* kNodePortPool = "nodeport";

std::string ownerOf(const Json& o) { return namespaceOf(o) + "/" + nameOf(o); }

bool needsNodePorts(const std::string& type) { return type == "NodePort" || type == "LoadBalancer"; }

std::mt19937& rng() {
  // On the heap, made by the threads that use it: a thread_local generator itself (2.5 KB)
  // would be zeroed, hence resident, in every thread's TLS block.
  thread_local std::unique_ptr<std::mt19937> g;
  if (!g) g = std::make_unique<std::mt19937>(std::random_device{}());
  return *g;
}

}  // namespace

static void allocateClusterIP(Store::Txn& t, const ClusterConfig& cfg, Json& svc) {
  auto& spec = svc["spec"];
  std::string type = spec.value("type", "ClusterIP");
  if (type == "ExternalName") return;
  std::string want = spec.value("clusterIP", "");
  if (want.empty() && spec.contains("clusterIPs") && spec["clusterIPs"].is_array() && !spec["clusterIPs"].empty())
    want = spec["clusterIPs"][0].get<std::string>();
  if (want == "None") {
    spec["clusterIP"] = "None";
    spec["clusterIPs"] = {"None"};
    return;
  }
  auto cidr = Cidr::parse(cfg.serviceCIDR);
  std::string owner = ownerOf(svc);
  auto fail = [&](const std::string& why) {
    throw invalid("", "Service", nameOf(svc),
                  {{"FieldValueInvalid", "Invalid value: [\"" + want + "\"]: failed to allocate IP " + want + ": " + why,
                    "spec.clusterIPs"}});
  };
  if (!want.empty()) {
    auto ip = parseIPv4(want);
    if (!ip) fail("not a valid IP address");
    if (!cidr->contains(*ip) || *ip == cidr->base || *ip == cidr->base + cidr->size() - 1)
      fail("provided IP is not in the valid range. The range of valid IPs is " + cfg.serviceCIDR);
    if (!t.allocate(kClusterIPPool, want, owner)) fail("provided IP is already allocated");
  } else {
    // Random probing, then a linear scan: dense ranges still find the last free IP.
    uint32_t n = cidr->size();
    std::uniform_int_distribution<uint32_t> d(1, n - 2);
    bool ok = false;
    for (int i = 0; i < 32 && !ok; ++i) {
      want = formatIPv4(cidr->base + d(rng()));
      ok = t.allocate(kClusterIPPool, want, owner);
    }
    if (!ok) {
      auto used = t.allocations(kClusterIPPool);
      for (uint32_t off = 1; off + 1 < n && !ok; ++off) {
        want = formatIPv4(cidr->base + off);
        if (!used.count(want)) ok = t.allocate(kClusterIPPool, want, owner);
      }
    }
    if (!ok)
      throw ApiError(500, "InternalError",
                     "Internal error occurred: failed to allocate a serviceIP: range is full");
  }
  spec["clusterIP"] = want;
  spec["clusterIPs"] = {want};
}

// Allocates node ports for every port of a NodePort/LoadBalancer Service; a
// port already held by this Service (an update) is kept.
static void allocateNodePorts(Store::Txn& t, const ClusterConfig& cfg, Json& svc, const Json* old) {
  auto& spec = svc["spec"];
  if (!needsNodePorts(spec.value("type", "ClusterIP")) || !spec.contains("ports")) return;
  std::string owner = ownerOf(svc);
  auto held = t.allocations(kNodePortPool);
  for (size_t i = 0; i < spec["ports"].size(); ++i) {
    auto& p = spec["ports"][i];
    int want = p.value("nodePort", 0);
    if (want == 0 && old && old->contains("spec") && (*old)["spec"].contains("ports")) {
      // Keep the node port the same port had before (kube does on update).
      for (auto& op : (*old)["spec"]["ports"])
        if (op.value("port", 0) == p.value("port", 0) && op.value("protocol", "TCP") == p.value("protocol", "TCP"))
          want = op.value("nodePort", 0);
    }
    std::string field = "spec.ports[" + std::to_string(i) + "].nodePort";
    if (want != 0) {
      if (want < cfg.nodePortMin || want > cfg.nodePortMax)
        throw invalid("", "Service", nameOf(svc),
                      {{"FieldValueInvalid",
                        "Invalid value: " + std::to_string(want) + ": provided port is not in the valid range. The range of valid ports is " +
                            std::to_string(cfg.nodePortMin) + "-" + std::to_string(cfg.nodePortMax),
                        field}});
      auto it = held.find(std::to_string(want));
      if (it != held.end() && it->second != owner)
        throw invalid("", "Service", nameOf(svc),
                      {{"FieldValueInvalid",
                        "Invalid value: " + std::to_string(want) + ": provided port is already allocated", field}});
      if (it == held.end()) t.allocate(kNodePortPool, std::to_string(want), owner);
    } else {
      std::uniform_int_distribution<int> d(cfg.nodePortMin, cfg.nodePortMax);
      bool ok = false;
      for (int tries = 0; tries < 64 && !ok; ++tries) {
        want = d(rng());
        ok = t.allocate(kNodePortPool, std::to_string(want), owner);
      }
      // A dense range: scan for the last free ports (the loop leaves `want` on the one taken).
      for (int port = cfg.nodePortMin; !ok && port <= cfg.nodePortMax; ++port)
        if (!held.count(std::to_string(port)) && t.allocate(kNodePortPool, std::to_string(port), owner)) {
          ok = true;
          want = port;
        }
      if (!ok) throw ApiError(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: range is full");
    }
    p["nodePort"] = want;
    held[std::to_string(want)] = owner;
  }
}

// Releases node ports this Service holds but no longer uses.
static void releaseUnusedNodePorts(Store::Txn& t, const Json& svc, bool all) {
  std::string owner = ownerOf(svc);
  std::set<std::string> inUse;
  if (!all && svc.contains("spec") && needsNodePorts(svc["spec"].value("type", "ClusterIP")))
    for (auto& p : svc["spec"].value("ports", Json::array()))
      if (p.contains("nodePort")) inUse.insert(std::to_string(p["nodePort"].get<int>()));
  for (auto& [value, o] : t.allocations(kNodePortPool))
    if (o == owner && !inUse.count(value)) t.release(kNodePortPool, value);
}

void Registry::admitCreate(Store::Txn& t, const ResourceInfo& r, Json& obj) {
  if (r.kind != "Service") return;
  allocateClusterIP(t, cfg_, obj);
  allocateNodePorts(t, cfg_, obj, nullptr);
  if (obj["spec"].value("type", "") == "LoadBalancer" || obj["spec"].value("type", "") == "NodePort") {
    // nothing else: the proxy publishes status.loadBalancer
  }
}

void Registry::admitUpdate(Store::Txn& t, const ResourceInfo& r, Json& obj, const Json& old) {
  if (r.kind != "Service") return;
  auto& spec = obj["spec"];
  std::string type = spec.value("type", "ClusterIP");
  std::string oldType = old["spec"].value("type", "ClusterIP");
  if (type == "ExternalName" && oldType != "ExternalName") {
    auto ip = old["spec"].value("clusterIP", "");
    if (!ip.empty() && ip != "None") t.release(kClusterIPPool, ip);
    spec.erase("clusterIP");
    spec.erase("clusterIPs");
  } else if (type != "ExternalName" && oldType == "ExternalName") {
    allocateClusterIP(t, cfg_, obj);
  }
  if (!needsNodePorts(type) && spec.contains("ports"))
    for (auto& p : spec["ports"]) p.erase("nodePort");
  allocateNodePorts(t, cfg_, obj, &old);
  releaseUnusedNodePorts(t, obj, false);
}

void Registry::releaseOnDelete(Store::Txn& t, const ResourceInfo& r, const Json& obj) {
  if (r.kind != "Service") return;
  auto ip = obj["spec"].value("clusterIP", "");
  if (!ip.empty() && ip != "None") t.release(kClusterIPPool, ip);
  releaseUnusedNodePorts(t, obj, true);
}

void Registry::bootstrap(const std::string& apiServerIP, int apiServerPort) {
  auto& nsRes = *findResource("", "namespaces");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (store_.get(nsRes, "", ns)) continue;
    create(nsRes, "", {{"metadata", {{"name", ns}}}});
  }
  auto& svcRes = *findResource("", "services");
  if (!store_.get(svcRes, "default", "kubernetes")) {
    auto cidr = Cidr::parse(cfg_.serviceCIDR);
    create(svcRes, "default",
           {{"metadata", {{"name", "kubernetes"}, {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
            {"spec",
             {{"type", "ClusterIP"},
              {"clusterIP", formatIPv4(cidr->base + 1)},
              {"ports", {{{"name", "https"}, {"port", 443}, {"protocol", "TCP"}, {"targetPort", apiServerPort}}}}}}});
  }
  auto& epRes = *findResource("", "endpoints");
  Json ep = {{"metadata", {{"name", "kubernetes"}, {"namespace", "default"},
                           {"labels", {{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
             {"subsets",
              {{{"addresses", {{{"ip", apiServerIP}}}},
                {"ports", {{{"name", "https"}, {"port", apiServerPort}, {"protocol", "TCP"}}}}}}}};
  auto cur = store_.get(epRes, "default", "kubernetes");
  if (!cur) create(epRes, "default", ep);
  else if ((*cur)["subsets"] != ep["subsets"]) {
    Json u = *cur;
    u["subsets"] = ep["subsets"];
    update(epRes, "default", u);
  }
}

}  // namespace k1s
