// Internals of the Deployment controller (after kube's pkg/controller/deployment):
// helpers over Deployment/ReplicaSet objects (deployment_util.cpp) and the
// per-sync rollout logic (deployment_rollout.cpp, deployment_sync.cpp).
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/clock.h"
#include "common/events.h"
#include "common/json.h"

namespace k1s::deploy {

inline constexpr const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr const char* kRevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history";
inline constexpr const char* kDesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
inline constexpr const char* kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";

using RSList = std::vector<Json>;

// --- deployment_util.cpp ---
bool isRollingUpdate(const Json& d);
int64_t maxSurge(const Json& d);        // resolved against spec.replicas, rounded up
int64_t maxUnavailable(const Json& d);  // rounded down; never above spec.replicas
int64_t revisionOf(const Json& rs);     // the revision annotation, 0 if absent
std::optional<int64_t> intAnnotation(const Json& obj, const char* key);
std::string uidOf(const Json& obj);
// Before adopting an orphan (kube's RecheckDeletionTimestamp): throws unless the live
// Deployment of d's name is d itself and not being deleted. The cache may still hold a
// deleted Deployment whose successor has the same name.
void requireLiveDeployment(Client& c, const ResourceInfo& deployments, const Json& d);

// The oldest ReplicaSet whose template equals the deployment's (ignoring the hash label).
std::optional<Json> findNewReplicaSet(const Json& d, const RSList& rsList);
// Every ReplicaSet other than `newRS`.
RSList oldReplicaSets(const RSList& rsList, const std::optional<Json>& newRS);
RSList activeReplicaSets(const RSList& rsList);  // spec.replicas > 0
int64_t sumSpecReplicas(const RSList& rsList);
int64_t sumStatus(const RSList& rsList, const char* field);

void sortByCreation(RSList& l);      // oldest first
void sortByCreationDesc(RSList& l);  // newest first
void sortBySizeNewer(RSList& l);     // larger first, then newer first
void sortBySizeOlder(RSList& l);     // larger first, then older first
void sortByRevision(RSList& l);      // lowest revision first

// kube's SetNewReplicaSetAnnotations: copy the deployment's annotations, bump
// the revision, and (for a new ReplicaSet) set desired/max replicas.
bool setNewReplicaSetAnnotations(const Json& d, Json& rs, const std::string& newRevision, bool exists);
bool replicasAnnotationsNeedUpdate(const Json& rs, int64_t desired, int64_t max);
bool setReplicasAnnotations(Json& rs, int64_t desired, int64_t max);
// Sets the deployment's revision annotation; true if it changed.
bool setDeploymentRevision(Json& d, const std::string& revision);

// Conditions on a status object, with kube's SetDeploymentCondition rules.
Json newCondition(const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message);
const Json* getCondition(const Json& status, const std::string& type);
void setCondition(Json& status, Json cond);
void removeCondition(Json& status, const std::string& type);

bool hasProgressDeadline(const Json& d);
bool hasRevisionHistoryLimit(const Json& d);
// kube's calculateStatus over all ReplicaSets.
Json calculateStatus(const RSList& allRSs, const std::optional<Json>& newRS, const Json& d);
bool deploymentComplete(const Json& d, const Json& newStatus);
bool deploymentProgressing(const Json& d, const Json& newStatus);
bool deploymentTimedOut(const Json& d, const Json& newStatus, long long now);
// Replicas to add to or remove from `rs` in a proportional scale (kube's GetProportion).
int64_t proportionFor(const Json& rs, const Json& d, int64_t toAdd, int64_t added);
// kube's NewRSNewReplicas. Unlike kube, an old ReplicaSet whose pods are not yet
// gone counts with its status.replicas, so pods never exceed replicas+maxSurge.
int64_t newRSNewReplicas(const Json& d, const RSList& allRSs, const Json& newRS);
// Available pods a ReplicaSet will keep: min(status.availableReplicas, spec.replicas).
// Unlike kube, a status not yet caught up with a scale-down cannot count pods being deleted.
int64_t keptAvailable(const Json& rs);
int64_t sumKeptAvailable(const RSList& rsList);

// --- deployment_sync.cpp / deployment_rollout.cpp ---

// What a sync needs from its controller.
struct SyncEnv {
  Client& client;
  EventRecorder& recorder;
  const ResourceInfo& deployments;
  const ResourceInfo& replicaSets;
  // Tells the controller an object was written, so it waits for the informer
  // to show the result before acting on this deployment again.
  std::function<void(const Json& written)> wrote;
  std::function<void(const std::string& objectKey)> deleted;
  std::function<void(std::chrono::milliseconds)> requeueAfter;
  const Clock& clock;  // progress deadlines count on it
};

// One pass of kube's syncDeployment over a copy of the deployment, its claimed
// ReplicaSets and its pods (grouped by controlling ReplicaSet uid).
class DeploymentSync {
 public:
  DeploymentSync(SyncEnv& env, Json d, RSList rsList, std::map<std::string, std::vector<Json>> podsByRs)
      : env_(env), d_(std::move(d)), rsList_(std::move(rsList)), podsByRs_(std::move(podsByRs)) {}
  void run();

 private:
  struct Sets {
    std::optional<Json> newRS;
    RSList oldRSs;  // every old ReplicaSet
    RSList all() const {
      RSList a = oldRSs;
      if (newRS) a.push_back(*newRS);
      return a;
    }
  };

  // deployment_sync.cpp
  void checkPausedConditions();
  void syncScaleOnly();  // paused or scaling event
  bool isScalingEvent();
  Sets allReplicaSetsAndSyncRevision(bool createIfMissing);
  std::optional<Json> newReplicaSet(const RSList& oldRSs, bool createIfMissing);
  void scale(Sets& s);
  bool scaleReplicaSetAndRecordEvent(Json& rs, int64_t newScale);
  bool scaleReplicaSet(Json& rs, int64_t newScale, const std::string& operation);
  void cleanupDeployment(const RSList& oldRSs);
  void syncDeploymentStatus(const Sets& s);
  void syncRolloutStatus(const Sets& s);
  void updateStatus(Json status);
  void requeueStuckDeployment(const Json& newStatus);

  // deployment_rollout.cpp
  void rolloutRolling();
  void rolloutRecreate();
  bool reconcileNewReplicaSet(Sets& s);
  bool reconcileOldReplicaSets(Sets& s);
  int64_t cleanupUnhealthyReplicas(RSList& oldRSs, int64_t maxCleanup);
  int64_t scaleDownOldReplicaSetsForRollingUpdate(const RSList& allRSs, RSList& oldRSs);
  bool oldPodsRunning(const Sets& s);
  void replaceInList(const Json& rs);

  SyncEnv& env_;
  Json d_;
  RSList rsList_;
  std::map<std::string, std::vector<Json>> podsByRs_;
};

}  // namespace k1s::deploy
