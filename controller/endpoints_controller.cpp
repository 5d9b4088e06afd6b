// The Endpoints controller: for every Service with a selector, an Endpoints
// object (same name) listing the selected pods' IPs, ready ones in `addresses`
// and the rest in `notReadyAddresses`, grouped into subsets by port set.
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

const char* kComponent = "endpoints-controller";

bool isApiServerService(const std::string& ns, const std::string& name) {
  return ns == "default" && name == "kubernetes";
}

struct Subset {
  Json ports = Json::array();
  std::vector<Json> ready, notReady;
};

Json sortedAddresses(std::vector<Json> v) {
  std::sort(v.begin(), v.end(), [](const Json& a, const Json& b) {
    return std::make_pair(a.value("ip", ""), a["targetRef"].value("uid", "")) <
           std::make_pair(b.value("ip", ""), b["targetRef"].value("uid", ""));
  });
  return Json(v);
}

class EndpointsController : public Controller {
 public:
  EndpointsController(Client& c, const ControllerOptions& o)
      : client_(c),
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()),
        services_(runner_.use(*findResource("", "services"))),
        pods_(runner_.use(*findResource("", "pods"))),
        endpoints_(runner_.use(*findResource("", "endpoints"))) {
    runner_.on(services_, {[this](const Json& s) { enqueue(s); },
                           [this](const Json&, const Json& s) { enqueue(s); },
                           [this](const Json& s) { enqueue(s); }});
    runner_.on(pods_, {[this](const Json& p) { enqueueForPod(p); },
                       [this](const Json& a, const Json& b) {
                         enqueueForPod(a);
                         if (labelsOf(a) != labelsOf(b)) enqueueForPod(b);
                       },
                       [this](const Json& p) { enqueueForPod(p); }});
    // Someone else changed or removed an Endpoints we manage: put it back.
    auto managed = [this](const Json& ep) {
      auto svc = services_.get(namespaceOf(ep), nameOf(ep));
      if (svc && serviceHasSelector(*svc)) enqueue(ep);
    };
    runner_.on(endpoints_, {nullptr, [managed](const Json&, const Json& ep) { managed(ep); }, managed});
  }

  ~EndpointsController() override { stop(); }

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

  Json desiredSubsets(const Json& svc) {
    const Json& spec = svc["spec"];
    bool publishNotReady = spec.value("publishNotReadyAddresses", false);
    Json svcPorts = spec.value("ports", Json::array());
    std::map<std::string, Subset> byPorts;  // key: the port set, serialised
    for (auto& podPtr : pods_.list(namespaceOf(svc))) {
      const Json& pod = *podPtr;
      if (!serviceSelects(svc, pod) || !podEligible(pod) || podTerminating(pod)) continue;
      Json ports = Json::array();
      for (auto& sp : svcPorts) {
        auto target = resolveTargetPort(sp, pod);
        if (!target) continue;
        Json p = {{"port", *target}, {"protocol", sp.value("protocol", "TCP")}};
        if (!sp.value("name", "").empty()) p["name"] = sp["name"];
        if (sp.contains("appProtocol")) p["appProtocol"] = sp["appProtocol"];
        ports.push_back(p);
      }
      if (!svcPorts.empty() && ports.empty()) continue;  // none of the service's ports exist on this pod
      std::sort(ports.begin(), ports.end(), [](const Json& a, const Json& b) {
        return std::make_pair(a.value("name", ""), a.value("port", 0)) <
               std::make_pair(b.value("name", ""), b.value("port", 0));
      });
      Json addr = {{"ip", podIP(pod)}, {"targetRef", podTargetRef(pod)}};
      std::string node = pod["spec"].value("nodeName", "");
      if (!node.empty()) addr["nodeName"] = node;
      std::string hostname = pod["spec"].value("hostname", "");
      if (!hostname.empty() && pod["spec"].value("subdomain", "") == nameOf(svc)) addr["hostname"] = hostname;
      Subset& s = byPorts[ports.dump()];
      s.ports = ports;
      (publishNotReady || podReady(pod) ? s.ready : s.notReady).push_back(addr);
    }
    Json subsets = Json::array();
    for (auto& [_, s] : byPorts) {
      Json subset = Json::object();
      if (!s.ready.empty()) subset["addresses"] = sortedAddresses(s.ready);
      if (!s.notReady.empty()) subset["notReadyAddresses"] = sortedAddresses(s.notReady);
      if (!s.ports.empty()) subset["ports"] = s.ports;
      subsets.push_back(subset);
    }
    return subsets;
  }

  void sync(const std::string& key) {
    std::string ns, name;
    splitKey(key, ns, name);
    if (isApiServerService(ns, name)) return;  // the API server keeps its own Endpoints
    auto& epRes = *findResource("", "endpoints");
    auto svc = services_.get(ns, name);
    if (!svc) {
      try {
        client_.remove(epRes, ns, name);
      } catch (const ApiError& e) {
        if (e.code != 404) throw;
      }
      return;
    }
    if (!serviceHasSelector(*svc)) return;  // users own the Endpoints of selectorless Services

    Json subsets = desiredSubsets(*svc);
    Json labels = labelsOf(*svc);
    if ((*svc)["spec"].value("clusterIP", "") == "None") labels["service.kubernetes.io/headless"] = "";

    Json current;
    try {
      current = client_.get(epRes, ns, name);
    } catch (const ApiError& e) {
      if (e.code != 404) throw;
    }
    if (current.is_null()) {
      Json ep = {{"metadata", {{"name", name}, {"namespace", ns}}}};
      if (!labels.empty()) ep["metadata"]["labels"] = labels;
      if (!subsets.empty()) ep["subsets"] = subsets;
      client_.create(epRes, ns, ep);
      LOGV(2, kComponent, "created endpoints " << key);
      return;
    }
    Json curSubsets = current.value("subsets", Json::array());
    if (curSubsets.is_null()) curSubsets = Json::array();
    if (curSubsets == subsets && labelsOf(current) == labels) return;
    Json next = current;
    if (subsets.empty()) next.erase("subsets");
    else next["subsets"] = subsets;
    if (labels.empty()) next["metadata"].erase("labels");
    else next["metadata"]["labels"] = labels;
    client_.update(epRes, ns, next);
    LOGV(2, kComponent, "updated endpoints " << key);
  }

  Client& client_;
  ControllerRunner runner_;  // before the informer references into it
  Informer &services_, &pods_, &endpoints_;
};

}  // namespace

std::unique_ptr<Controller> makeEndpointsController(Client& c, const ControllerOptions& o) {
  return std::make_unique<EndpointsController>(c, o);
}

}  // namespace k1s
