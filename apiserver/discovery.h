// API discovery documents: /api, /apis, /apis/<group>, /api/v1, /apis/<g>/<v>,
// and the aggregated form (apidiscovery.k8s.io v2 / v2beta1) newer clients ask for first.
#pragma once
#include <string>

#include "common/json.h"

namespace k1s {

Json discoveryApiVersions(const std::string& serverAddress);
Json discoveryGroupList();
Json discoveryGroup(const std::string& group);  // null when unknown
Json discoveryResourceList(const std::string& groupVersion);  // null when unknown
// Aggregated discovery; `legacy` true for /api (core), false for /apis. version "v2" or "v2beta1".
Json discoveryAggregated(bool legacy, const std::string& version);

}  // namespace k1s
