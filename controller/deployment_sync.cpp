// kube's syncDeployment and what every strategy shares: finding or creating
// the new ReplicaSet with its revision, scaling (also proportional scaling of
// a paused or mid-rollout deployment), history cleanup, status and conditions.
#include <ctime>

#include "common/errors.h"
#include "common/meta.h"
#include "common/selector.h"
#include "controller/deployment_internal.h"
#include "controller/podutil.h"

namespace k1s::deploy {

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

bool isPaused(const Json& d) { return d["spec"].value("paused", false); }

bool isSaturated(const Json& d, const std::optional<Json>& rs) {
  if (!rs) return false;
  auto desired = intAnnotation(*rs, kDesiredReplicasAnnotation);
  int64_t want = specReplicas(d);
  return desired && *desired == want && statusInt(*rs, "availableReplicas") == want && specReplicas(*rs) == want;
}

}  // namespace

void DeploymentSync::run() {
  if (isDeleting(d_)) {
    syncDeploymentStatus(allReplicaSetsAndSyncRevision(false));
    return;
  }
  checkPausedConditions();
  if (isPaused(d_) || isScalingEvent()) {
    syncScaleOnly();
    return;
  }
  std::string type = d_["spec"].value("strategy", Json::object()).value("type", "RollingUpdate");
  if (type == "Recreate") rolloutRecreate();
  else rolloutRolling();
}

void DeploymentSync::updateStatus(Json status) {
  d_["status"] = std::move(status);
  Json out = env_.client.update(env_.deployments, namespaceOf(d_), d_, "status");
  env_.wrote(out);
  d_ = std::move(out);
}

void DeploymentSync::replaceInList(const Json& rs) {
  for (auto& x : rsList_)
    if (uidOf(x) == uidOf(rs)) {
      x = rs;
      return;
    }
  rsList_.push_back(rs);
}

void DeploymentSync::checkPausedConditions() {
  if (!hasProgressDeadline(d_)) return;
  Json status = d_.value("status", Json::object());
  const Json* cond = getCondition(status, "Progressing");
  if (cond && cond->value("reason", "") == "ProgressDeadlineExceeded") return;
  bool pausedCond = cond && cond->value("reason", "") == "DeploymentPaused";
  if (isPaused(d_) && !pausedCond)
    setCondition(status, newCondition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"));
  else if (!isPaused(d_) && pausedCond)
    setCondition(status, newCondition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"));
  else
    return;
  updateStatus(std::move(status));
}

bool DeploymentSync::isScalingEvent() {
  Sets s = allReplicaSetsAndSyncRevision(false);
  for (auto& rs : activeReplicaSets(s.all())) {
    auto desired = intAnnotation(rs, kDesiredReplicasAnnotation);
    if (desired && *desired != specReplicas(d_)) return true;
  }
  return false;
}

void DeploymentSync::syncScaleOnly() {
  Sets s = allReplicaSetsAndSyncRevision(false);
  scale(s);
  if (isPaused(d_)) cleanupDeployment(s.oldRSs);
  syncDeploymentStatus(s);
}

DeploymentSync::Sets DeploymentSync::allReplicaSetsAndSyncRevision(bool createIfMissing) {
  Sets s;
  s.oldRSs = oldReplicaSets(rsList_, findNewReplicaSet(d_, rsList_));
  s.newRS = newReplicaSet(s.oldRSs, createIfMissing);
  return s;
}

std::optional<Json> DeploymentSync::newReplicaSet(const RSList& oldRSs, bool createIfMissing) {
  std::optional<Json> existing = findNewReplicaSet(d_, rsList_);
  int64_t maxOld = 0;
  for (auto& rs : oldRSs) maxOld = std::max(maxOld, revisionOf(rs));
  std::string newRevision = std::to_string(maxOld + 1);
  int64_t minReady = d_["spec"].value("minReadySeconds", int64_t(0));

  if (existing) {
    // The template matches an existing ReplicaSet (a rollback or a resync):
    // bring its annotations and minReadySeconds up to date.
    Json rs = *existing;
    bool annotationsChanged = setNewReplicaSetAnnotations(d_, rs, newRevision, true);
    bool minReadyChanged = rs["spec"].value("minReadySeconds", int64_t(0)) != minReady;
    if (annotationsChanged || minReadyChanged) {
      if (minReady) rs["spec"]["minReadySeconds"] = minReady;
      else rs["spec"].erase("minReadySeconds");
      rs = env_.client.update(env_.replicaSets, namespaceOf(rs), rs);
      env_.wrote(rs);
      replaceInList(rs);
    }
    Json status = d_.value("status", Json::object());
    bool needsUpdate = setDeploymentRevision(d_, revisionOf(rs) > 0 ? std::to_string(revisionOf(rs)) : "");
    if (hasProgressDeadline(d_) && !getCondition(status, "Progressing")) {
      setCondition(status, newCondition("Progressing", "True", "FoundNewReplicaSet",
                                        "Found new replica set " + quoted(nameOf(rs))));
      needsUpdate = true;
    }
    if (needsUpdate) updateStatus(std::move(status));
    return rs;
  }
  if (!createIfMissing) return std::nullopt;

  Json tmpl = d_["spec"]["template"];
  std::optional<int64_t> collisions;
  Json oldStatus = d_.value("status", Json::object());
  if (oldStatus.contains("collisionCount") && oldStatus["collisionCount"].is_number_integer())
    collisions = oldStatus["collisionCount"].get<int64_t>();
  std::string hash = computePodTemplateHash(tmpl, collisions);
  if (!tmpl.contains("metadata") || !tmpl["metadata"].is_object()) tmpl["metadata"] = Json::object();
  tmpl["metadata"]["labels"][kPodTemplateHashLabel] = hash;
  Json selector = d_["spec"]["selector"];
  selector["matchLabels"][kPodTemplateHashLabel] = hash;

  Json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata",
              {{"name", nameOf(d_) + "-" + hash},
               {"namespace", namespaceOf(d_)},
               {"labels", tmpl["metadata"]["labels"]},
               {"ownerReferences", Json::array({makeControllerRef(d_)})}}},
             {"spec", {{"replicas", 0}, {"selector", selector}, {"template", tmpl}}}};
  if (minReady) rs["spec"]["minReadySeconds"] = minReady;
  RSList all = oldRSs;
  all.push_back(rs);
  int64_t replicas = newRSNewReplicas(d_, all, rs);
  rs["spec"]["replicas"] = replicas;
  setNewReplicaSetAnnotations(d_, rs, newRevision, false);

  bool alreadyExists = false;
  Json created;
  try {
    created = env_.client.create(env_.replicaSets, namespaceOf(d_), rs);
    env_.wrote(created);
  } catch (const ApiError& e) {
    if (e.reason != "AlreadyExists") {
      std::string msg = "Failed to create new replica set " + quoted(nameOf(rs)) + ": " + e.what();
      if (hasProgressDeadline(d_)) {
        Json status = d_.value("status", Json::object());
        setCondition(status, newCondition("Progressing", "False", "ReplicaSetCreateError", msg));
        try {
          updateStatus(std::move(status));
        } catch (const ApiError&) {
        }
      }
      env_.recorder.record(d_, "Warning", "ReplicaSetCreateError", msg);
      throw;
    }
    Json found = env_.client.get(env_.replicaSets, namespaceOf(d_), nameOf(rs));
    if (controllerUid(found).empty() && !isDeleting(found) &&
        LabelSelector::fromObject(d_["spec"]["selector"]).matches(labelsOf(found)) &&
        templatesEqualIgnoringHash(found["spec"]["template"], d_["spec"]["template"])) {
      // Our own ReplicaSet, orphaned (a Deployment deleted with
      // --cascade=orphan and re-created) while our cache still showed its old
      // owner: adopt it rather than count a collision and start a second one.
      requireLiveDeployment(env_.client, env_.deployments, d_);
      found = adoptObject(env_.client, env_.replicaSets, found, d_);
      env_.wrote(found);
    }
    if (controllerUid(found) != uidOf(d_) ||
        !templatesEqualIgnoringHash(found["spec"]["template"], d_["spec"]["template"])) {
      // A different ReplicaSet holds the name: a hash collision. Bump the
      // count (it feeds the hash) and try again with a new name.
      Json status = d_.value("status", Json::object());
      status["collisionCount"] = collisions.value_or(0) + 1;
      updateStatus(std::move(status));
      throw std::runtime_error("hash collision for new replica set " + nameOf(rs));
    }
    created = found;
    alreadyExists = true;
  }
  replaceInList(created);
  if (!alreadyExists && replicas > 0)
    env_.recorder.record(d_, "Normal", "ScalingReplicaSet",
                         "Scaled up replica set " + nameOf(created) + " to " + std::to_string(replicas));
  Json status = d_.value("status", Json::object());
  bool needsUpdate = setDeploymentRevision(d_, newRevision);
  if (!alreadyExists && hasProgressDeadline(d_)) {
    setCondition(status, newCondition("Progressing", "True", "NewReplicaSetCreated",
                                      "Created new replica set " + quoted(nameOf(created))));
    needsUpdate = true;
  }
  if (needsUpdate) updateStatus(std::move(status));
  return created;
}

bool DeploymentSync::scaleReplicaSetAndRecordEvent(Json& rs, int64_t newScale) {
  if (specReplicas(rs) == newScale) return false;
  return scaleReplicaSet(rs, newScale, specReplicas(rs) < newScale ? "up" : "down");
}

bool DeploymentSync::scaleReplicaSet(Json& rs, int64_t newScale, const std::string& operation) {
  int64_t oldScale = specReplicas(rs);
  int64_t desired = specReplicas(d_), max = desired + maxSurge(d_);
  bool sizeChanges = oldScale != newScale;
  if (!sizeChanges && !replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
  Json copy = rs;
  copy["spec"]["replicas"] = newScale;
  setReplicasAnnotations(copy, desired, max);
  rs = env_.client.update(env_.replicaSets, namespaceOf(copy), copy);
  env_.wrote(rs);
  replaceInList(rs);
  if (!sizeChanges) return false;
  env_.recorder.record(d_, "Normal", "ScalingReplicaSet",
                       "Scaled " + operation + " replica set " + nameOf(rs) + " to " + std::to_string(newScale) +
                           " from " + std::to_string(oldScale));
  return true;
}

void DeploymentSync::scale(Sets& s) {
  int64_t want = specReplicas(d_);
  auto refresh = [&](const Json& rs) {
    if (s.newRS && uidOf(*s.newRS) == uidOf(rs)) s.newRS = rs;
    for (auto& o : s.oldRSs)
      if (uidOf(o) == uidOf(rs)) o = rs;
  };
  // One active ReplicaSet (or none: the newest) takes the whole count.
  if (s.newRS || !s.oldRSs.empty()) {
    RSList olds = s.oldRSs;
    sortByCreationDesc(olds);
    RSList candidates = olds;
    if (s.newRS) candidates.push_back(*s.newRS);
    RSList active = activeReplicaSets(candidates);
    std::optional<Json> target;
    if (active.empty()) target = s.newRS ? *s.newRS : olds.front();
    else if (active.size() == 1) target = active.front();
    if (target) {
      if (specReplicas(*target) != want) {
        scaleReplicaSetAndRecordEvent(*target, want);
        refresh(*target);
      }
      return;
    }
  }
  // A saturated new ReplicaSet: old ones go to zero.
  if (isSaturated(d_, s.newRS)) {
    for (auto& old : activeReplicaSets(s.oldRSs)) {
      Json rs = old;
      scaleReplicaSetAndRecordEvent(rs, 0);
      refresh(rs);
    }
    return;
  }
  if (!isRollingUpdate(d_)) return;
  // Mid-rollout scaling: spread the change over the active ReplicaSets in
  // proportion to their size (kube's proportional scaling).
  RSList all = s.oldRSs;
  if (s.newRS) all.push_back(*s.newRS);
  all = activeReplicaSets(all);
  int64_t allowed = want > 0 ? want + maxSurge(d_) : 0;
  int64_t toAdd = allowed - sumSpecReplicas(all);
  std::string operation;
  if (toAdd > 0) {
    sortBySizeNewer(all);
    operation = "up";
  } else if (toAdd < 0) {
    sortBySizeOlder(all);
    operation = "down";
  }
  int64_t added = 0;
  std::vector<int64_t> sizes;
  for (auto& rs : all) {
    int64_t p = toAdd != 0 ? proportionFor(rs, d_, toAdd, added) : 0;
    sizes.push_back(specReplicas(rs) + p);
    added += p;
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (i == 0 && toAdd != 0) sizes[0] = std::max<int64_t>(0, sizes[0] + toAdd - added);  // leftovers: the largest
    scaleReplicaSet(all[i], sizes[i], operation);
    refresh(all[i]);
  }
}

void DeploymentSync::cleanupDeployment(const RSList& oldRSs) {
  if (!hasRevisionHistoryLimit(d_)) return;
  RSList cleanable;
  for (auto& rs : oldRSs)
    if (!isDeleting(rs)) cleanable.push_back(rs);
  int64_t diff = int64_t(cleanable.size()) - d_["spec"].value("revisionHistoryLimit", int64_t(10));
  if (diff <= 0) return;
  sortByRevision(cleanable);
  for (int64_t i = 0; i < diff; ++i) {
    const Json& rs = cleanable[size_t(i)];
    // Only ReplicaSets that are fully scaled down, as observed by their controller.
    if (statusInt(rs, "replicas") != 0 || specReplicas(rs) != 0 ||
        metaOf(rs).value("generation", int64_t(0)) > statusInt(rs, "observedGeneration"))
      continue;
    try {
      env_.client.remove(env_.replicaSets, namespaceOf(rs), nameOf(rs));
      env_.deleted(namespaceOf(rs) + "/" + nameOf(rs));
    } catch (const ApiError& e) {
      if (e.code != 404) throw;
    }
  }
}

void DeploymentSync::syncDeploymentStatus(const Sets& s) {
  Json status = calculateStatus(s.all(), s.newRS, d_);
  if (status != d_.value("status", Json::object())) updateStatus(std::move(status));
}

void DeploymentSync::syncRolloutStatus(const Sets& s) {
  Json status = calculateStatus(s.all(), s.newRS, d_);
  if (!hasProgressDeadline(d_)) removeCondition(status, "Progressing");
  Json oldStatus = d_.value("status", Json::object());
  const Json* current = getCondition(oldStatus, "Progressing");
  bool complete = status.value("replicas", 0) == status.value("updatedReplicas", 0) && current &&
                  current->value("reason", "") == "NewReplicaSetAvailable";
  if (hasProgressDeadline(d_) && !complete) {
    std::string subject = s.newRS ? "ReplicaSet " + quoted(nameOf(*s.newRS)) : "Deployment " + quoted(nameOf(d_));
    if (deploymentComplete(d_, status)) {
      setCondition(status, newCondition("Progressing", "True", "NewReplicaSetAvailable",
                                        subject + " has successfully progressed."));
    } else if (deploymentProgressing(d_, status)) {
      Json cond = newCondition("Progressing", "True", "ReplicaSetUpdated", subject + " is progressing.");
      // Progress refreshes lastUpdateTime (which the deadline counts from) every time.
      if (current) {
        if (current->value("status", "") == "True")
          cond["lastTransitionTime"] = current->value("lastTransitionTime", cond.value("lastTransitionTime", ""));
        removeCondition(status, "Progressing");
      }
      setCondition(status, cond);
    } else if (deploymentTimedOut(d_, status, env_.clock.wallSeconds())) {
      setCondition(status, newCondition("Progressing", "False", "ProgressDeadlineExceeded",
                                        subject + " has timed out progressing."));
    }
  }
  // Surface a ReplicaSet's failure to create or delete pods (new one first).
  std::optional<Json> failure;
  RSList order;
  if (s.newRS) order.push_back(*s.newRS);
  for (auto& rs : s.oldRSs) order.push_back(rs);
  for (auto& rs : order) {
    Json rsStatus = rs.value("status", Json::object());
    const Json* c = getCondition(rsStatus, "ReplicaFailure");
    if (c && c->value("status", "") == "True") {
      std::string t = c->value("lastTransitionTime", nowRfc3339());
      failure = Json{{"type", "ReplicaFailure"}, {"status", "True"},        {"lastUpdateTime", t},
                     {"lastTransitionTime", t}, {"reason", c->value("reason", "")}, {"message", c->value("message", "")}};
      break;
    }
  }
  if (failure) setCondition(status, *failure);
  else removeCondition(status, "ReplicaFailure");

  if (status == oldStatus) {
    requeueStuckDeployment(status);
    return;
  }
  updateStatus(std::move(status));
}

void DeploymentSync::requeueStuckDeployment(const Json& newStatus) {
  Json status = d_.value("status", Json::object());
  const Json* cond = getCondition(status, "Progressing");
  if (!hasProgressDeadline(d_) || !cond) return;
  if (deploymentComplete(d_, newStatus) || cond->value("reason", "") == "ProgressDeadlineExceeded") return;
  long long from = parseRfc3339(cond->value("lastUpdateTime", ""));
  if (from < 0) return;
  long long after = from + d_["spec"].value("progressDeadlineSeconds", int64_t(600)) - env_.clock.wallSeconds();
  // Come back when the deadline passes, to mark the rollout as timed out.
  env_.requeueAfter(after < 1 ? std::chrono::milliseconds(200) : std::chrono::seconds(after + 1));
}

}  // namespace k1s::deploy
