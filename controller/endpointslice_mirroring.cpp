// The EndpointSlice mirroring controller: for Services without a selector,
// the Endpoints a user writes by hand are copied into EndpointSlices (one per
// subset), because the service proxy and the DNS read only slices. Endpoints
// labelled endpointslice.kubernetes.io/skip-mirror=true (the API server's own)
// and those of Services with a selector are left alone.
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

const char* kComponent = "endpointslicemirroring-controller";
const char* kServiceNameLabel = "kubernetes.io/service-name";
const char* kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
const char* kManagedBy = "endpointslicemirroring-controller.k8s.io";
const char* kSkipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror";

class EndpointSliceMirroringController : public Controller {
 public:
  EndpointSliceMirroringController(Client& c, const ControllerOptions& o)
      : client_(c),
        sliceRes_(*findResource("discovery.k8s.io", "endpointslices")),
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()),
        services_(runner_.use(*findResource("", "services"))),
        endpoints_(runner_.use(*findResource("", "endpoints"))),
        slices_(runner_.use(sliceRes_, "", managedSelector())) {
    auto byObject = [this](const Json& o) { runner_.queue().add(objectKey(o)); };
    runner_.on(services_, {byObject, [byObject](const Json&, const Json& s) { byObject(s); }, byObject});
    runner_.on(endpoints_, {byObject, [byObject](const Json&, const Json& e) { byObject(e); }, byObject});
    auto bySlice = [this](const Json& s) {
      std::string svc = labelsOf(s).value(kServiceNameLabel, "");
      if (!svc.empty()) runner_.queue().add(namespaceOf(s) + "/" + svc);
    };
    runner_.on(slices_, {nullptr, [bySlice](const Json&, const Json& s) { bySlice(s); }, bySlice});
  }

  ~EndpointSliceMirroringController() override { stop(); }

  const char* name() const override { return kComponent; }

  void start() override { runner_.start(); }

  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

 private:
  static ListOptions managedSelector() {
    ListOptions lo;
    lo.labelSelector = std::string(kManagedByLabel) + "=" + kManagedBy;
    return lo;
  }

  // One slice body per subset: ready addresses, then not-ready ones.
  static std::vector<Json> desiredSlices(const Json& ep) {
    std::vector<Json> out;
    for (auto& subset : ep.value("subsets", Json::array())) {
      Json endpoints = Json::array();
      auto add = [&](const Json& addrs, bool ready) {
        for (auto& a : addrs) {
          std::string ip = a.value("ip", "");
          if (ip.empty() || ip.find(':') != std::string::npos) continue;  // IPv4 slices only
          Json e = {{"addresses", {ip}}, {"conditions", {{"ready", ready}}}};
          if (a.contains("hostname")) e["hostname"] = a["hostname"];
          if (a.contains("nodeName")) e["nodeName"] = a["nodeName"];
          if (a.contains("targetRef")) e["targetRef"] = a["targetRef"];
          endpoints.push_back(e);
        }
      };
      add(subset.value("addresses", Json::array()), true);
      add(subset.value("notReadyAddresses", Json::array()), false);
      Json ports = Json::array();
      for (auto& p : subset.value("ports", Json::array())) {
        Json sp = {{"port", p.value("port", 0)}, {"protocol", p.value("protocol", "TCP")}};
        sp["name"] = p.value("name", "");
        if (p.contains("appProtocol")) sp["appProtocol"] = p["appProtocol"];
        ports.push_back(sp);
      }
      if (endpoints.empty()) continue;
      out.push_back({{"addressType", "IPv4"}, {"endpoints", endpoints}, {"ports", ports}});
    }
    return out;
  }

  void sync(const std::string& key) {
    std::string ns, name;
    splitKey(key, ns, name);
    ListOptions lo;
    lo.labelSelector = std::string(kServiceNameLabel) + "=" + name + "," + kManagedByLabel + "=" + kManagedBy;
    Json existing = client_.list(sliceRes_, ns, lo)["items"];

    auto svc = services_.get(ns, name);
    auto ep = endpoints_.get(ns, name);
    bool mirror = svc && ep && !serviceHasSelector(*svc) && labelsOf(*ep).value(kSkipMirrorLabel, "") != "true";
    std::vector<Json> want = mirror ? desiredSlices(*ep) : std::vector<Json>{};

    Json labels = mirror ? labelsOf(*ep) : Json::object();
    labels.erase("endpoints.kubernetes.io/last-change-trigger-time");
    labels[kServiceNameLabel] = name;
    labels[kManagedByLabel] = kManagedBy;
    Json owner;
    if (svc)
      owner = {{"apiVersion", "v1"}, {"kind", "Service"}, {"name", name},
               {"uid", metaOf(*svc).value("uid", "")}, {"controller", true}, {"blockOwnerDeletion", true}};

    size_t i = 0;
    for (; i < want.size(); ++i) {
      Json body = want[i];
      if (i < existing.size()) {
        Json next = existing[i];
        bool same = next.value("ports", Json::array()) == body["ports"] &&
                    next.value("endpoints", Json::array()) == body["endpoints"] &&
                    labelsOf(next) == labels;
        if (same) continue;
        next["ports"] = body["ports"];
        next["endpoints"] = body["endpoints"];
        next["metadata"]["labels"] = labels;
        client_.update(sliceRes_, ns, next);
        LOGV(2, kComponent, "updated mirrored endpointslice " << ns << "/" << nameOf(next));
      } else {
        body["metadata"] = {{"generateName", name + "-"}, {"namespace", ns}, {"labels", labels},
                            {"ownerReferences", {owner}}};
        client_.create(sliceRes_, ns, body);
        LOGV(2, kComponent, "mirrored endpoints " << key << " into a new endpointslice");
      }
    }
    for (; i < existing.size(); ++i) {
      try {
        client_.remove(sliceRes_, ns, nameOf(existing[i]));
      } catch (const ApiError& e) {
        if (e.code != 404) throw;
      }
    }
  }

  Client& client_;
  const ResourceInfo& sliceRes_;
  ControllerRunner runner_;  // before the informer references into it
  Informer &services_, &endpoints_, &slices_;
};

}  // namespace

std::unique_ptr<Controller> makeEndpointSliceMirroringController(Client& c, const ControllerOptions& o) {
  return std::make_unique<EndpointSliceMirroringController>(c, o);
}

}  // namespace k1s
