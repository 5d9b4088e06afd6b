// The EndpointSlice controller: mirrors what the Endpoints controller computes
// into discovery.k8s.io/v1 EndpointSlices, one slice per distinct port set
// (in practice one per Service), named <service>-<random> and owned by the Service.
#include <algorithm>
#include <map>

#include "common/controller_runner.h"
#include "common/errors.h"
#include "common/informer.h"
#include "common/log.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "controller/endpoints_util.h"

namespace k1s {

namespace {

const char* kComponent = "endpointslice-controller";
const char* kServiceNameLabel = "kubernetes.io/service-name";
const char* kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
const char* kManagedBy = "endpointslice-controller.k8s.io";

ListOptions managedSelector() {
  ListOptions lo;
  lo.labelSelector = std::string(kManagedByLabel) + "=" + kManagedBy;
  return lo;
}

class EndpointSliceController : public Controller {
 public:
  EndpointSliceController(Client& c, const ControllerOptions& o)
      : client_(c),
        sliceRes_(*findResource("discovery.k8s.io", "endpointslices")),
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()),
        services_(runner_.use(*findResource("", "services"))),
        pods_(runner_.use(*findResource("", "pods"))),
        slices_(runner_.use(sliceRes_, "", managedSelector())) {
    runner_.on(services_, {[this](const Json& s) { enqueue(s); },
                           [this](const Json&, const Json& s) { enqueue(s); },
                           [this](const Json& s) { enqueue(s); }});
    runner_.on(pods_, {[this](const Json& p) { enqueueForPod(p); },
                       [this](const Json& a, const Json& b) {
                         enqueueForPod(a);
                         if (labelsOf(a) != labelsOf(b)) enqueueForPod(b);
                       },
                       [this](const Json& p) { enqueueForPod(p); }});
    // A slice we manage changed or vanished under us: reconcile its Service.
    auto bySlice = [this](const Json& s) {
      std::string svc = labelsOf(s).value(kServiceNameLabel, "");
      if (!svc.empty()) runner_.queue().add(namespaceOf(s) + "/" + svc);
    };
    runner_.on(slices_, {nullptr, [bySlice](const Json&, const Json& s) { bySlice(s); }, bySlice});
  }

  ~EndpointSliceController() override { stop(); }

  const char* name() const override { return kComponent; }

  void start() override { runner_.start(); }

  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

 private:
  void enqueue(const Json& o) { runner_.queue().add(objectKey(o)); }

  void enqueueForPod(const Json& pod) {
    for (auto& svc : services_.list(namespaceOf(pod)))
      if (serviceSelects(*svc, pod)) enqueue(*svc);
  }

  struct Group {
    Json ports = Json::array();
    Json endpoints = Json::array();
  };

  // Port set (serialised) -> the slice content for pods with that port set.
  std::map<std::string, Group> desiredGroups(const Json& svc) {
    const Json& spec = svc["spec"];
    bool publishNotReady = spec.value("publishNotReadyAddresses", false);
    Json svcPorts = spec.value("ports", Json::array());
    std::map<std::string, Group> groups;
    for (auto& podPtr : pods_.list(namespaceOf(svc))) {
      const Json& pod = *podPtr;
      if (!serviceSelects(svc, pod) || !podEligible(pod)) continue;
      Json ports = Json::array();
      for (auto& sp : svcPorts) {
        auto target = resolveTargetPort(sp, pod);
        if (!target) continue;
        Json p = {{"name", sp.value("name", "")}, {"port", *target}, {"protocol", sp.value("protocol", "TCP")}};
        if (sp.contains("appProtocol")) p["appProtocol"] = sp["appProtocol"];
        ports.push_back(p);
      }
      if (!svcPorts.empty() && ports.empty()) continue;
      std::sort(ports.begin(), ports.end(), [](const Json& a, const Json& b) {
        return std::make_pair(a.value("name", ""), a.value("port", 0)) <
               std::make_pair(b.value("name", ""), b.value("port", 0));
      });
      bool terminating = podTerminating(pod);
      bool ready = podReady(pod);
      Json ep = {{"addresses", {podIP(pod)}},
                 {"conditions",
                  {{"ready", (publishNotReady || ready) && !terminating}, {"serving", ready}, {"terminating", terminating}}},
                 {"targetRef", podTargetRef(pod)}};
      std::string node = pod["spec"].value("nodeName", "");
      if (!node.empty()) ep["nodeName"] = node;
      std::string hostname = pod["spec"].value("hostname", "");
      if (!hostname.empty() && pod["spec"].value("subdomain", "") == nameOf(svc)) ep["hostname"] = hostname;
      Group& g = groups[ports.dump()];
      g.ports = ports;
      g.endpoints.push_back(ep);
    }
    for (auto& [_, g] : groups)
      std::sort(g.endpoints.begin(), g.endpoints.end(), [](const Json& a, const Json& b) {
        return a["addresses"][0].get<std::string>() < b["addresses"][0].get<std::string>();
      });
    // No endpoints at all: kube keeps one empty placeholder slice.
    if (groups.empty()) groups[Json::array().dump()] = Group{};
    return groups;
  }

  Json sliceLabels(const Json& svc) {
    Json labels = labelsOf(svc);
    labels[kServiceNameLabel] = nameOf(svc);
    labels[kManagedByLabel] = kManagedBy;
    if (svc["spec"].value("clusterIP", "") == "None") labels["service.kubernetes.io/headless"] = "";
    return labels;
  }

  void sync(const std::string& key) {
    std::string ns, name;
    splitKey(key, ns, name);
    // Read the slices fresh: the informer may not show one we just created yet.
    ListOptions lo;
    lo.labelSelector = std::string(kServiceNameLabel) + "=" + name + "," + kManagedByLabel + "=" + kManagedBy;
    Json existing = client_.list(sliceRes_, ns, lo)["items"];

    auto svc = services_.get(ns, name);
    if (!svc || !serviceHasSelector(*svc)) {
      for (auto& s : existing) removeSlice(ns, nameOf(s));
      return;
    }
    auto groups = desiredGroups(*svc);
    Json labels = sliceLabels(*svc);
    auto& sm = metaOf(*svc);
    Json owner = {{"apiVersion", "v1"}, {"kind", "Service"}, {"name", name}, {"uid", sm.value("uid", "")},
                  {"controller", true}, {"blockOwnerDeletion", true}};

    // Match existing slices to port sets; leftovers are deleted, missing ones created.
    std::vector<bool> used(existing.size(), false);
    for (auto& [portsKey, g] : groups) {
      int match = -1;
      for (size_t i = 0; i < existing.size() && match < 0; ++i) {
        Json ports = existing[i].value("ports", Json::array());
        if (ports.is_null()) ports = Json::array();
        if (!used[i] && ports.dump() == portsKey) match = int(i);
      }
      if (match < 0)
        for (size_t i = 0; i < existing.size() && match < 0; ++i)
          if (!used[i]) match = int(i);
      if (match < 0) {
        Json slice = {{"metadata",
                       {{"generateName", name + "-"}, {"namespace", ns}, {"labels", labels},
                        {"ownerReferences", {owner}}}},
                      {"addressType", "IPv4"},
                      {"endpoints", g.endpoints},
                      {"ports", g.ports}};
        client_.create(sliceRes_, ns, slice);
        LOGV(2, kComponent, "created endpointslice for " << key);
        continue;
      }
      used[match] = true;
      const Json& cur = existing[match];
      Json next = cur;
      next["endpoints"] = g.endpoints;
      next["ports"] = g.ports;
      next["addressType"] = "IPv4";
      next["metadata"]["labels"] = labels;
      next["metadata"]["ownerReferences"] = Json::array({owner});
      auto norm = [](Json s) {
        for (const char* f : {"endpoints", "ports"})
          if (!s.contains(f) || s[f].is_null()) s[f] = Json::array();
        return s;
      };
      if (norm(next) == norm(cur)) continue;
      client_.update(sliceRes_, ns, next);
      LOGV(2, kComponent, "updated endpointslice " << ns << "/" << nameOf(cur));
    }
    for (size_t i = 0; i < existing.size(); ++i)
      if (!used[i]) removeSlice(ns, nameOf(existing[i]));
  }

  void removeSlice(const std::string& ns, const std::string& name) {
    try {
      client_.remove(sliceRes_, ns, name);
    } catch (const ApiError& e) {
      if (e.code != 404) throw;
    }
  }

  Client& client_;
  const ResourceInfo& sliceRes_;
  ControllerRunner runner_;  // before the informer references into it
  Informer &services_, &pods_, &slices_;
};

}  // namespace

std::unique_ptr<Controller> makeEndpointSliceController(Client& c, const ControllerOptions& o) {
  return std::make_unique<EndpointSliceController>(c, o);
}

}  // namespace k1s
