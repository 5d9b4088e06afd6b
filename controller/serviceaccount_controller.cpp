// The service-account controller: every active namespace has a `default`
// ServiceAccount (pods name it implicitly); recreated if deleted.
#include "common/controller_runner.h"
#include "common/errors.h"
#include "common/informer.h"
#include "common/meta.h"
#include "controller/controller.h"

namespace k1s {

namespace {

const char* kComponent = "serviceaccount-controller";

class ServiceAccountController : public Controller {
 public:
  ServiceAccountController(Client& c, const ControllerOptions& o)
      : client_(c),
        saRes_(*findResource("", "serviceaccounts")),
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()),
        namespaces_(runner_.use(*findResource("", "namespaces"))),
        accounts_(runner_.use(saRes_)) {
    auto byNs = [this](const Json& ns) { runner_.queue().add(nameOf(ns)); };
    runner_.on(namespaces_, {byNs, [byNs](const Json&, const Json& ns) { byNs(ns); }, nullptr});
    runner_.on(accounts_, {nullptr, nullptr, [this](const Json& sa) {
                             if (nameOf(sa) == "default") runner_.queue().add(namespaceOf(sa));
                           }});
  }
  ~ServiceAccountController() override { stop(); }

  const char* name() const override { return kComponent; }
  void start() override { runner_.start(); }
  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

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
  ControllerRunner runner_;  // before the informer references into it
  Informer &namespaces_, &accounts_;
};

}  // namespace

std::unique_ptr<Controller> makeServiceAccountController(Client& c, const ControllerOptions& o) {
  return std::make_unique<ServiceAccountController>(c, o);
}

}  // namespace k1s
