// The two rollout strategies, as kube's rolling.go and recreate.go run them.
#include "common/meta.h"
#include "controller/deployment_internal.h"
#include "controller/podutil.h"

namespace k1s::deploy {

// RollingUpdate: grow the new ReplicaSet within maxSurge, shrink old ones
// within maxUnavailable, one step per sync; each write brings a new sync.
void DeploymentSync::rolloutRolling() {
  Sets s = allReplicaSetsAndSyncRevision(true);
  if (reconcileNewReplicaSet(s) || reconcileOldReplicaSets(s)) {
    syncRolloutStatus(s);
    return;
  }
  if (deploymentComplete(d_, d_.value("status", Json::object()))) cleanupDeployment(s.oldRSs);
  syncRolloutStatus(s);
}

bool DeploymentSync::reconcileNewReplicaSet(Sets& s) {
  Json& rs = *s.newRS;
  int64_t want = specReplicas(d_);
  if (specReplicas(rs) == want) return false;
  if (specReplicas(rs) > want) return scaleReplicaSetAndRecordEvent(rs, want);
  return scaleReplicaSetAndRecordEvent(rs, newRSNewReplicas(d_, s.all(), rs));
}

bool DeploymentSync::reconcileOldReplicaSets(Sets& s) {
  RSList oldRSs = activeReplicaSets(s.oldRSs);
  if (sumSpecReplicas(oldRSs) == 0) return false;  // nothing left to scale down
  const Json& newRS = *s.newRS;
  int64_t allPods = sumSpecReplicas(s.all());
  int64_t minAvailable = specReplicas(d_) - maxUnavailable(d_);
  // New pods not available yet (not ready, or still starting) block scale-down
  // beyond what maxUnavailable allows.
  int64_t newUnavailable = specReplicas(newRS) - keptAvailable(newRS);
  int64_t maxScaledDown = allPods - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return false;

  // Unhealthy old pods go first: removing them costs no availability.
  int64_t cleaned = cleanupUnhealthyReplicas(oldRSs, maxScaledDown);
  RSList all = oldRSs;
  all.push_back(newRS);
  int64_t scaledDown = scaleDownOldReplicaSetsForRollingUpdate(all, oldRSs);
  return cleaned + scaledDown > 0;
}

int64_t DeploymentSync::cleanupUnhealthyReplicas(RSList& oldRSs, int64_t maxCleanup) {
  sortByCreation(oldRSs);
  int64_t total = 0;
  for (auto& rs : oldRSs) {
    if (total >= maxCleanup) break;
    int64_t size = specReplicas(rs), available = keptAvailable(rs);
    if (size == 0 || size == available) continue;
    int64_t n = std::min(maxCleanup - total, size - available);
    scaleReplicaSetAndRecordEvent(rs, size - n);
    total += n;
  }
  return total;
}

int64_t DeploymentSync::scaleDownOldReplicaSetsForRollingUpdate(const RSList& allRSs, RSList& oldRSs) {
  int64_t minAvailable = specReplicas(d_) - maxUnavailable(d_);
  int64_t available = sumKeptAvailable(allRSs);
  if (available <= minAvailable) return 0;
  sortByCreation(oldRSs);
  int64_t total = 0, target = available - minAvailable;
  for (auto& rs : oldRSs) {
    if (total >= target) break;
    int64_t size = specReplicas(rs);
    if (size == 0) continue;
    int64_t n = std::min(size, target - total);
    scaleReplicaSetAndRecordEvent(rs, size - n);
    total += n;
  }
  return total;
}

// Recreate: scale every old ReplicaSet to zero, wait until their pods are
// gone, then bring the new ReplicaSet up to full size at once.
void DeploymentSync::rolloutRecreate() {
  Sets s = allReplicaSetsAndSyncRevision(false);
  bool scaledDown = false;
  for (auto& rs : s.oldRSs) {
    if (specReplicas(rs) == 0) continue;
    scaleReplicaSetAndRecordEvent(rs, 0);
    scaledDown = true;
  }
  if (scaledDown || oldPodsRunning(s)) {
    syncRolloutStatus(s);
    return;
  }
  if (!s.newRS) s = allReplicaSetsAndSyncRevision(true);
  scaleReplicaSetAndRecordEvent(*s.newRS, specReplicas(d_));
  if (deploymentComplete(d_, d_.value("status", Json::object()))) cleanupDeployment(s.oldRSs);
  syncRolloutStatus(s);
}

bool DeploymentSync::oldPodsRunning(const Sets& s) {
  if (sumStatus(s.oldRSs, "replicas") > 0) return true;
  for (auto& [rsUid, pods] : podsByRs_) {
    if (s.newRS && rsUid == uidOf(*s.newRS)) continue;
    for (auto& pod : pods) {
      std::string phase = pod.value("status", Json::object()).value("phase", "");
      // Finished pods hold no resources; anything else (even terminating) still runs.
      if (phase != "Succeeded" && phase != "Failed") return true;
    }
  }
  return false;
}

}  // namespace k1s::deploy
