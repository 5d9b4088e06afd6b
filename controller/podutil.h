// Pod and ownership helpers shared by the workload controllers (ReplicaSet,
// Deployment): readiness and availability as kube's podutil computes them,
// the pod-template-hash, controller references, adopt/release patches, and
// kube's preferred order for deleting surplus pods.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/json.h"

namespace k1s {

inline constexpr const char* kPodTemplateHashLabel = "pod-template-hash";

// Ready condition status "True".
bool isPodReady(const Json& pod);
// Seconds since epoch of the Ready condition's lastTransitionTime; -1 if not ready or unknown.
long long podReadySince(const Json& pod);
// Ready, and ready for at least minReadySeconds (kube's IsPodAvailable).
bool isPodAvailable(const Json& pod, int64_t minReadySeconds, long long now);
// Not terminated (phase Succeeded/Failed) and not marked for deletion: counts toward replicas.
bool isPodActive(const Json& pod);
int podRestartCount(const Json& pod);

// kube's ComputeHash: FNV-32a over the template (here its canonical JSON) and
// the collision count, rendered with the safe-encoding alphabet.
std::string computePodTemplateHash(const Json& podTemplate, std::optional<int64_t> collisionCount);
// Semantic comparison of two pod templates ignoring the pod-template-hash label
// (empty and absent lists/maps are equal, as with kube's Semantic.DeepEqual).
bool templatesEqualIgnoringHash(const Json& a, const Json& b);

// An ownerReference {apiVersion, kind, name, uid, controller, blockOwnerDeletion} to `owner`.
Json makeControllerRef(const Json& owner);
// The uid of the object's controller ownerReference, or "".
std::string controllerUid(const Json& obj);
bool isDeleting(const Json& obj);  // metadata.deletionTimestamp set

// Sets `owner` as the controller of `obj` (kube's AdoptX) by a merge patch
// whose resourceVersion is a precondition, so a stale view fails with Conflict.
Json adoptObject(Client& c, const ResourceInfo& r, const Json& obj, const Json& owner);
// Removes the ownerReference with `ownerUid` (kube's ReleaseX). 404 is success.
void releaseObject(Client& c, const ResourceInfo& r, const Json& obj, const std::string& ownerUid);

// Orders pods to delete first (kube's ActivePodsWithRanks): unscheduled before
// scheduled, pending before unknown before running, not ready before ready,
// lower pod-deletion-cost first, more pods doubled up on a node first, ready
// for less time first, more restarts first, newer before older.
// `rank` is the number of related pods on the pod's node.
bool podDeletesBefore(const Json& a, int rankA, const Json& b, int rankB);

// intstr.GetScaledValueFromIntOrPercent: an int, or "N%" of total rounded up or down.
int64_t scaledIntOrPercent(const Json& v, int64_t total, bool roundUp);

int64_t specReplicas(const Json& obj);                           // spec.replicas (default 1)
int64_t statusInt(const Json& obj, const char* field);          // status.<field> (default 0)
long long creationTime(const Json& obj);                         // metadata.creationTimestamp, seconds

}  // namespace k1s
