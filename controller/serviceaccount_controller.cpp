// The service-account controller: every active namespace has a `default`
// ServiceAccount (pods name it implicitly); recreated if deleted.
#include "common/errors.h"
#include "common/informer.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "controller/workers.h"

namespace k1s {

namespace {

const char* kComponent = "serviceaccount-controller";

class ServiceAccountController : public Controller {
 public:
  ServiceAccountController(Client& c, const ControllerOptions& o)
      : client_(c),
        saRes_(*findResource("", "serviceaccounts")),
        namespaces_(c, *findResource("", "namespaces")),
        accounts_(c, saRes_),
        workers_(kComponent, [this](const std::string& k) { sync(k); }, o.workers) {
    auto byNs = [this](const Json& ns) { workers_.queue().add(nameOf(ns)); };
    namespaces_.addHandlers({byNs, [byNs](const Json&, const Json& ns) { byNs(ns); }, nullptr});
    accounts_.addHandlers({nullptr, nullptr, [this](const Json& sa) {
                             if (nameOf(sa) == "default") workers_.queue().add(namespaceOf(sa));
                           }});
  }
  ~ServiceAccountController() override { stop(); }

  const char* name() const override { return kComponent; }
  void start() override {
    namespaces_.start();
    accounts_.start();
    namespaces_.waitForSync(std::chrono::seconds(10));
    accounts_.waitForSync(std::chrono::seconds(10));
    workers_.start();
  }
  void stop() override {
    workers_.stop();
    stopInformers({&accounts_, &namespaces_});
  }

 private:
  void sync(const std::string& nsName) {
    auto ns = namespaces_.get("", nsName);
    if (!ns || metaOf(*ns).contains("deletionTimestamp")) return;
    if (accounts_.get(nsName, "default")) return;
    try {
      client_.create(saRes_, nsName, {{"metadata", {{"name", "default"}, {"namespace", nsName}}}});
    } catch (const ApiError& e) {
      // AlreadyExists: the cache was behind. Forbidden: the namespace started terminating.
      if (e.code != 409 && e.code != 403 && e.code != 404) throw;
    }
  }

  Client& client_;
  const ResourceInfo& saRes_;
  Informer namespaces_, accounts_;
  QueueWorkers workers_;
};

}  // namespace

std::unique_ptr<Controller> makeServiceAccountController(Client& c, const ControllerOptions& o) {
  return std::make_unique<ServiceAccountController>(c, o);
}

}  // namespace k1s
