// Defaulting and create/update preparation per kind, as kube-apiserver's
// SetDefaults_* and strategies do (so `get -o yaml` shows what a real cluster shows).
#pragma once
#include "common/json.h"
#include "common/resources.h"

namespace k1s {

// Fills defaults in place (pod spec: restartPolicy, dnsPolicy, terminationGracePeriodSeconds,
// schedulerName, securityContext, containers' terminationMessagePath/Policy, imagePullPolicy
// (Always for :latest or no tag), ports' protocol; Deployment strategy 25%/25%,
// revisionHistoryLimit 10, progressDeadlineSeconds 600, replicas 1; Service type ClusterIP,
// sessionAffinity None, ports' protocol and targetPort, ipFamilies, internalTrafficPolicy; ...).
void applyDefaults(const ResourceInfo& r, Json& obj);

// Strategy hooks: create resets status the way kube does (pods get phase Pending
// and qosClass; deployments/replicasets/services get empty status).
void prepareForCreate(const ResourceInfo& r, Json& obj);

}  // namespace k1s
