// Validation as kube-apiserver does it, per kind. Returns the causes of a 422;
// an empty vector means valid. Field paths and messages follow kube's
// (field.ErrorList) so kubectl prints what a learner would see on a real cluster.
#pragma once
#include <vector>

#include "common/errors.h"
#include "common/json.h"
#include "common/resources.h"

namespace k1s {

// obj has defaults applied. Covers metadata (DNS-1123 names per kind, label and
// annotation syntax, generateName) and the kind's spec.
std::vector<StatusCause> validateCreate(const ResourceInfo& r, const Json& obj);
// Adds immutability checks (Service clusterIP, Deployment/ReplicaSet selector,
// pod spec fields other than image/activeDeadlineSeconds/tolerations, ...).
std::vector<StatusCause> validateUpdate(const ResourceInfo& r, const Json& obj, const Json& old);

// Helpers that other code reuses.
bool isDns1123Label(const std::string& s);      // max 63
bool isDns1123Subdomain(const std::string& s);  // max 253
bool isQualifiedName(const std::string& s);     // label/annotation key
bool isLabelValue(const std::string& s);

}  // namespace k1s
