// Helpers over Deployments and their ReplicaSets, as kube's deployment/util
// defines them: fenceposts, revisions, annotations, conditions, status.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/meta.h"
#include "controller/deployment_internal.h"
#include "controller/podutil.h"

namespace k1s::deploy {

namespace {

constexpr size_t kMaxRevisionHistoryChars = 2000;

const Json& strategyOf(const Json& d) {
  static const Json empty = Json::object();
  if (!d.contains("spec") || !d["spec"].is_object()) return empty;
  auto it = d["spec"].find("strategy");
  return it != d["spec"].end() && it->is_object() ? *it : empty;
}

// kube's ResolveFenceposts: surge rounds up, unavailable down, and both zero
// becomes one unavailable so a rollout can always make progress.
std::pair<int64_t, int64_t> fenceposts(const Json& d) {
  const Json& s = strategyOf(d);
  Json ru = s.value("rollingUpdate", Json::object());
  if (!ru.is_object()) ru = Json::object();
  int64_t desired = specReplicas(d);
  int64_t surge = scaledIntOrPercent(ru.value("maxSurge", Json("25%")), desired, true);
  int64_t unavailable = scaledIntOrPercent(ru.value("maxUnavailable", Json("25%")), desired, false);
  if (surge == 0 && unavailable == 0) unavailable = 1;
  return {surge, unavailable};
}

Json& annotationsOf(Json& obj) {
  Json& m = obj["metadata"];
  if (!m.contains("annotations") || !m["annotations"].is_object()) m["annotations"] = Json::object();
  return m["annotations"];
}

std::string annotation(const Json& obj, const char* key) {
  const Json& m = metaOf(obj);
  auto it = m.find("annotations");
  if (it == m.end() || !it->is_object()) return "";
  auto a = it->find(key);
  return a != it->end() && a->is_string() ? a->get<std::string>() : "";
}

bool skipCopy(const std::string& k) {
  return k == "kubectl.kubernetes.io/last-applied-configuration" || k == kRevisionAnnotation ||
         k == kRevisionHistoryAnnotation || k == kDesiredReplicasAnnotation || k == kMaxReplicasAnnotation ||
         k == "deprecated.deployment.rollback.to";
}

std::optional<int64_t> parseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  try {
    size_t pos = 0;
    long long v = std::stoll(s, &pos);
    if (pos != s.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

bool olderThan(const Json& a, const Json& b) {
  long long ta = creationTime(a), tb = creationTime(b);
  if (ta != tb) return ta < tb;
  return nameOf(a) < nameOf(b);
}

void setOrErase(Json& status, const char* f, int64_t v) {
  if (v) status[f] = v;
  else status.erase(f);
}

}  // namespace

bool isRollingUpdate(const Json& d) { return strategyOf(d).value("type", "RollingUpdate") == "RollingUpdate"; }

int64_t maxSurge(const Json& d) { return isRollingUpdate(d) ? fenceposts(d).first : 0; }

int64_t maxUnavailable(const Json& d) {
  int64_t desired = specReplicas(d);
  if (!isRollingUpdate(d) || desired == 0) return 0;
  return std::min(fenceposts(d).second, desired);
}

std::optional<int64_t> intAnnotation(const Json& obj, const char* key) { return parseInt(annotation(obj, key)); }

int64_t revisionOf(const Json& rs) { return intAnnotation(rs, kRevisionAnnotation).value_or(0); }

std::string uidOf(const Json& obj) { return metaOf(obj).value("uid", ""); }

void requireLiveDeployment(Client& c, const ResourceInfo& deployments, const Json& d) {
  Json fresh = c.get(deployments, namespaceOf(d), nameOf(d));
  if (uidOf(fresh) != uidOf(d) || isDeleting(fresh))
    throw std::runtime_error("original Deployment " + namespaceOf(d) + "/" + nameOf(d) + " is gone or being deleted");
}

std::optional<Json> findNewReplicaSet(const Json& d, const RSList& rsList) {
  RSList sorted = rsList;
  sortByCreation(sorted);
  for (auto& rs : sorted)
    // With several equal templates (possible after a hash collision) the oldest wins, as in kube.
    if (templatesEqualIgnoringHash(rs["spec"]["template"], d["spec"]["template"])) return rs;
  return std::nullopt;
}

RSList oldReplicaSets(const RSList& rsList, const std::optional<Json>& newRS) {
  RSList out;
  for (auto& rs : rsList)
    if (!newRS || uidOf(rs) != uidOf(*newRS)) out.push_back(rs);
  return out;
}

RSList activeReplicaSets(const RSList& rsList) {
  RSList out;
  for (auto& rs : rsList)
    if (specReplicas(rs) > 0) out.push_back(rs);
  return out;
}

int64_t sumSpecReplicas(const RSList& rsList) {
  int64_t n = 0;
  for (auto& rs : rsList) n += specReplicas(rs);
  return n;
}

int64_t sumStatus(const RSList& rsList, const char* field) {
  int64_t n = 0;
  for (auto& rs : rsList) n += statusInt(rs, field);
  return n;
}

void sortByCreation(RSList& l) { std::stable_sort(l.begin(), l.end(), olderThan); }
void sortByCreationDesc(RSList& l) {
  std::stable_sort(l.begin(), l.end(), [](const Json& a, const Json& b) { return olderThan(b, a); });
}
void sortBySizeNewer(RSList& l) {
  std::stable_sort(l.begin(), l.end(), [](const Json& a, const Json& b) {
    if (specReplicas(a) != specReplicas(b)) return specReplicas(a) > specReplicas(b);
    return olderThan(b, a);
  });
}
void sortBySizeOlder(RSList& l) {
  std::stable_sort(l.begin(), l.end(), [](const Json& a, const Json& b) {
    if (specReplicas(a) != specReplicas(b)) return specReplicas(a) > specReplicas(b);
    return olderThan(a, b);
  });
}
void sortByRevision(RSList& l) {
  std::stable_sort(l.begin(), l.end(), [](const Json& a, const Json& b) {
    if (revisionOf(a) != revisionOf(b)) return revisionOf(a) < revisionOf(b);
    return olderThan(a, b);
  });
}

bool setNewReplicaSetAnnotations(const Json& d, Json& rs, const std::string& newRevision, bool exists) {
  bool changed = false;
  const Json& dm = metaOf(d);
  if (dm.contains("annotations") && dm["annotations"].is_object())
    for (auto& [k, v] : dm["annotations"].items()) {
      if (skipCopy(k)) continue;
      Json& ann = annotationsOf(rs);
      if (ann.contains(k) && ann[k] == v) continue;
      ann[k] = v;
      changed = true;
    }
  std::string oldRevision = annotation(rs, kRevisionAnnotation);
  auto oldRev = parseInt(oldRevision);
  auto newRev = parseInt(newRevision);
  if ((!oldRevision.empty() && !oldRev) || !newRev) return changed;
  if (oldRev.value_or(0) < *newRev) {
    Json& ann = annotationsOf(rs);
    ann[kRevisionAnnotation] = newRevision;
    changed = true;
    // Reusing an old ReplicaSet (a rollback): remember the revisions it had.
    if (!oldRevision.empty()) {
      std::string history = annotation(rs, kRevisionHistoryAnnotation);
      if (history.empty()) {
        ann[kRevisionHistoryAnnotation] = oldRevision;
      } else {
        std::vector<std::string> parts;
        size_t start = 0;
        for (;;) {
          size_t comma = history.find(',', start);
          parts.push_back(history.substr(start, comma - start));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        size_t total = history.size() + oldRevision.size() + 1, first = 0;
        while (total > kMaxRevisionHistoryChars && first < parts.size()) total -= parts[first++].size() + 1;
        if (total <= kMaxRevisionHistoryChars) {
          std::string joined;
          for (size_t i = first; i < parts.size(); ++i) joined += parts[i] + ",";
          ann[kRevisionHistoryAnnotation] = joined + oldRevision;
        }
      }
    }
  }
  if (!exists && setReplicasAnnotations(rs, specReplicas(d), specReplicas(d) + maxSurge(d))) changed = true;
  return changed;
}

bool replicasAnnotationsNeedUpdate(const Json& rs, int64_t desired, int64_t max) {
  return annotation(rs, kDesiredReplicasAnnotation) != std::to_string(desired) ||
         annotation(rs, kMaxReplicasAnnotation) != std::to_string(max);
}

bool setReplicasAnnotations(Json& rs, int64_t desired, int64_t max) {
  if (!replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
  Json& ann = annotationsOf(rs);
  ann[kDesiredReplicasAnnotation] = std::to_string(desired);
  ann[kMaxReplicasAnnotation] = std::to_string(max);
  return true;
}

bool setDeploymentRevision(Json& d, const std::string& revision) {
  if (annotation(d, kRevisionAnnotation) == revision) return false;
  annotationsOf(d)[kRevisionAnnotation] = revision;
  return true;
}

Json newCondition(const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message) {
  std::string now = nowRfc3339();
  return {{"type", type},         {"status", status}, {"lastUpdateTime", now},
          {"lastTransitionTime", now}, {"reason", reason}, {"message", message}};
}

const Json* getCondition(const Json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (auto& c : status["conditions"])
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

void setCondition(Json& status, Json cond) {
  if (const Json* cur = getCondition(status, cond.value("type", ""))) {
    if (cur->value("status", "") == cond.value("status", "") && cur->value("reason", "") == cond.value("reason", ""))
      return;
    // The transition time moves only when the status does.
    if (cur->value("status", "") == cond.value("status", ""))
      cond["lastTransitionTime"] = cur->value("lastTransitionTime", cond.value("lastTransitionTime", ""));
  }
  removeCondition(status, cond.value("type", ""));
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = Json::array();
  status["conditions"].push_back(std::move(cond));
}

void removeCondition(Json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return;
  Json kept = Json::array();
  for (auto& c : status["conditions"])
    if (!c.is_object() || c.value("type", "") != type) kept.push_back(c);
  if (kept.empty()) status.erase("conditions");
  else status["conditions"] = kept;
}

bool hasProgressDeadline(const Json& d) {
  const Json& spec = d["spec"];
  auto it = spec.find("progressDeadlineSeconds");
  return it != spec.end() && it->is_number_integer() && it->get<int64_t>() != 2147483647;
}

bool hasRevisionHistoryLimit(const Json& d) {
  auto it = d["spec"].find("revisionHistoryLimit");
  return it != d["spec"].end() && it->is_number_integer() && it->get<int64_t>() != 2147483647;
}

Json calculateStatus(const RSList& allRSs, const std::optional<Json>& newRS, const Json& d) {
  int64_t available = sumStatus(allRSs, "availableReplicas");
  int64_t total = sumStatus(allRSs, "replicas");
  Json old = d.value("status", Json::object());
  if (!old.is_object()) old = Json::object();
  Json status = Json::object();
  setOrErase(status, "observedGeneration", metaOf(d).value("generation", int64_t(0)));
  setOrErase(status, "replicas", total);
  setOrErase(status, "updatedReplicas", newRS ? statusInt(*newRS, "replicas") : 0);
  setOrErase(status, "readyReplicas", sumStatus(allRSs, "readyReplicas"));
  setOrErase(status, "availableReplicas", available);
  setOrErase(status, "unavailableReplicas", std::max<int64_t>(0, total - available));
  if (old.contains("collisionCount")) status["collisionCount"] = old["collisionCount"];
  if (old.contains("conditions")) status["conditions"] = old["conditions"];
  if (available >= specReplicas(d) - maxUnavailable(d))
    setCondition(status, newCondition("Available", "True", "MinimumReplicasAvailable",
                                      "Deployment has minimum availability."));
  else
    setCondition(status, newCondition("Available", "False", "MinimumReplicasUnavailable",
                                      "Deployment does not have minimum availability."));
  return status;
}

bool deploymentComplete(const Json& d, const Json& s) {
  int64_t want = specReplicas(d);
  return s.value("updatedReplicas", int64_t(0)) == want && s.value("replicas", int64_t(0)) == want &&
         s.value("availableReplicas", int64_t(0)) == want &&
         s.value("observedGeneration", int64_t(0)) >= metaOf(d).value("generation", int64_t(0));
}

bool deploymentProgressing(const Json& d, const Json& s) {
  Json old = d.value("status", Json::object());
  auto get = [](const Json& st, const char* f) { return st.value(f, int64_t(0)); };
  int64_t oldOld = get(old, "replicas") - get(old, "updatedReplicas");
  int64_t newOld = get(s, "replicas") - get(s, "updatedReplicas");
  return get(s, "updatedReplicas") > get(old, "updatedReplicas") || newOld < oldOld ||
         get(s, "readyReplicas") > get(old, "readyReplicas") ||
         get(s, "availableReplicas") > get(old, "availableReplicas");
}

bool deploymentTimedOut(const Json& d, const Json& s, long long now) {
  if (!hasProgressDeadline(d)) return false;
  const Json* c = getCondition(s, "Progressing");
  if (!c) return false;
  std::string reason = c->value("reason", "");
  if (reason == "NewReplicaSetAvailable") return false;
  if (reason == "ProgressDeadlineExceeded") return true;
  long long from = parseRfc3339(c->value("lastUpdateTime", ""));
  return from >= 0 && from + d["spec"].value("progressDeadlineSeconds", int64_t(600)) < now;
}

int64_t proportionFor(const Json& rs, const Json& d, int64_t toAdd, int64_t added) {
  int64_t size = specReplicas(rs);
  if (size == 0 || toAdd == 0 || toAdd == added) return 0;
  int64_t fraction;
  if (specReplicas(d) == 0) {
    fraction = -size;
  } else {
    int64_t deploymentReplicas = specReplicas(d) + maxSurge(d);
    int64_t annotated = intAnnotation(rs, kMaxReplicasAnnotation)
                            .value_or(d.value("status", Json::object()).value("replicas", int64_t(0)));
    fraction = annotated > 0 ? int64_t(std::llround(double(size * deploymentReplicas) / double(annotated))) - size : 0;
  }
  int64_t allowed = toAdd - added;
  return toAdd > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

int64_t newRSNewReplicas(const Json& d, const RSList& allRSs, const Json& newRS) {
  if (!isRollingUpdate(d)) return specReplicas(d);
  int64_t current = 0;
  for (auto& rs : allRSs) current += std::max(specReplicas(rs), statusInt(rs, "replicas"));
  int64_t maxTotal = specReplicas(d) + maxSurge(d);
  if (current >= maxTotal) return specReplicas(newRS);
  int64_t up = std::min(maxTotal - current, specReplicas(d) - specReplicas(newRS));
  return specReplicas(newRS) + std::max<int64_t>(0, up);
}

int64_t keptAvailable(const Json& rs) { return std::min(statusInt(rs, "availableReplicas"), specReplicas(rs)); }

int64_t sumKeptAvailable(const RSList& rsList) {
  int64_t n = 0;
  for (auto& rs : rsList) n += keptAvailable(rs);
  return n;
}

}  // namespace k1s::deploy
