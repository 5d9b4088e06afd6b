// The namespace controller: a namespace marked for deletion (deletionTimestamp
// set, phase Terminating) is emptied of every namespaced object; once nothing
// is left its "kubernetes" spec finalizer is cleared and the registry removes it.
#include <map>

#include "common/controller_runner.h"
#include "common/errors.h"
#include "common/informer.h"
#include "common/log.h"
#include "common/meta.h"
#include "controller/controller.h"

namespace k1s {

namespace {

const char* kComponent = "namespace-controller";

Json condition(const std::string& type, bool status, const std::string& reason, const std::string& message) {
  return {{"type", type}, {"status", status ? "True" : "False"}, {"lastTransitionTime", nowRfc3339()},
          {"reason", reason}, {"message", message}};
}

// "pods. has 2 resource instances, ..." as kube words it (resource.group).
std::string describeCounts(const std::map<std::string, int>& counts, const char* suffix) {
  std::string out;
  for (auto& [what, n] : counts) {
    if (!out.empty()) out += ", ";
    out += what + suffix + std::to_string(n) + " resource instances";
  }
  return out;
}

bool sameConditions(const Json& a, const Json& b) {
  if (!a.is_array() || !b.is_array() || a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    for (const char* f : {"type", "status", "reason", "message"})
      if (a[i].value(f, "") != b[i].value(f, "")) return false;
  return true;
}

class NamespaceController : public Controller {
 public:
  NamespaceController(Client& c, const ControllerOptions& o)
      : client_(c),
        nsRes_(*findResource("", "namespaces")),
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()),
        namespaces_(runner_.use(nsRes_)) {
    auto onChange = [this](const Json& ns) {
      if (metaOf(ns).contains("deletionTimestamp")) runner_.queue().add(nameOf(ns));
    };
    runner_.on(namespaces_, {onChange, [onChange](const Json&, const Json& ns) { onChange(ns); }, nullptr});
  }
  ~NamespaceController() override { stop(); }

  const char* name() const override { return kComponent; }
  void start() override { runner_.start(); }
  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

 private:
  void sync(const std::string& name) {
    Json ns;
    try {
      ns = client_.get(nsRes_, "", name);
    } catch (const ApiError& e) {
      if (e.code == 404) return;
      throw;
    }
    if (!metaOf(ns).contains("deletionTimestamp")) return;

    std::map<std::string, int> remaining, withFinalizers;
    std::string deleteError;
    for (auto& r : allResources()) {
      if (!r.namespaced) continue;
      Json items = client_.list(r, name)["items"];
      for (auto& item : items) {
        std::string what = r.plural + "." + r.group;
        ++remaining[what];
        auto& m = metaOf(item);
        if (m.contains("finalizers") && m["finalizers"].is_array())
          for (auto& f : m["finalizers"]) ++withFinalizers[f.get<std::string>()];
        if (m.contains("deletionTimestamp")) continue;
        try {
          client_.remove(r, name, m.value("name", ""));
        } catch (const ApiError& e) {
          if (e.code != 404) deleteError = e.what();
        }
      }
    }
    // Objects with no finalizer and no grace period are gone right away: count again.
    if (!remaining.empty()) {
      remaining.clear();
      withFinalizers.clear();
      for (auto& r : allResources()) {
        if (!r.namespaced) continue;
        Json items = client_.list(r, name)["items"];
        for (auto& item : items) {
          ++remaining[r.plural + "." + r.group];
          auto& m = metaOf(item);
          if (m.contains("finalizers") && m["finalizers"].is_array())
            for (auto& f : m["finalizers"]) ++withFinalizers[f.get<std::string>()];
        }
      }
    }
    writeConditions(ns, remaining, withFinalizers, deleteError);
    if (!remaining.empty()) {
      // Pods wait for their kubelet, owners for the garbage collector: look again soon.
      runner_.queue().addAfter(name, std::chrono::milliseconds(500));
      return;
    }
    Json next = client_.get(nsRes_, "", name);
    Json kept = Json::array();
    for (auto& f : next["spec"].value("finalizers", Json::array()))
      if (f != "kubernetes") kept.push_back(f);
    next["spec"]["finalizers"] = kept;
    client_.update(nsRes_, "", next);
    LOGV(1, kComponent, "namespace emptied and finalized name=" << name);
  }

  void writeConditions(const Json& ns, const std::map<std::string, int>& remaining,
                       const std::map<std::string, int>& withFinalizers, const std::string& deleteError) {
    Json conds = Json::array();
    conds.push_back(condition("NamespaceDeletionDiscoveryFailure", false, "ResourcesDiscovered",
                              "All resources successfully discovered"));
    conds.push_back(condition("NamespaceDeletionGroupVersionParsingFailure", false, "ParsedGroupVersions",
                              "All legacy kube types successfully parsed"));
    conds.push_back(deleteError.empty()
                        ? condition("NamespaceDeletionContentFailure", false, "ContentDeleted",
                                    "All content successfully deleted, may be waiting on finalization")
                        : condition("NamespaceDeletionContentFailure", true, "ContentDeletionFailed",
                                    "Failed to delete all resource types, 1 remaining: " + deleteError));
    conds.push_back(remaining.empty()
                        ? condition("NamespaceContentRemaining", false, "ContentRemoved", "All content successfully removed")
                        : condition("NamespaceContentRemaining", true, "SomeResourcesRemain",
                                    "Some resources are remaining: " + describeCounts(remaining, " has ")));
    conds.push_back(withFinalizers.empty()
                        ? condition("NamespaceFinalizersRemaining", false, "ContentHasNoFinalizers",
                                    "All content-preserving finalizers finished")
                        : condition("NamespaceFinalizersRemaining", true, "SomeFinalizersRemain",
                                    "Some content in the namespace has finalizers remaining: " +
                                        describeCounts(withFinalizers, " in ")));
    Json cur = ns.contains("status") ? ns["status"].value("conditions", Json::array()) : Json::array();
    if (sameConditions(cur, conds)) return;
    // Keep the transition time of conditions whose status did not change.
    for (auto& c : conds)
      for (auto& old : cur)
        if (old.value("type", "") == c["type"] && old.value("status", "") == c["status"])
          c["lastTransitionTime"] = old.value("lastTransitionTime", c["lastTransitionTime"].get<std::string>());
    Json next = ns;
    next["status"]["conditions"] = conds;
    try {
      client_.update(nsRes_, "", next, "status");
    } catch (const ApiError& e) {
      if (e.code != 409 && e.code != 404) throw;  // a newer version is coming round anyway
    }
  }

  Client& client_;
  const ResourceInfo& nsRes_;
  ControllerRunner runner_;  // before the informer references into it
  Informer &namespaces_;
};

}  // namespace

std::unique_ptr<Controller> makeNamespaceController(Client& c, const ControllerOptions& o) {
  return std::make_unique<NamespaceController>(c, o);
}

}  // namespace k1s
