// Table responses (Accept: application/json;as=Table;v=v1;g=meta.k8s.io) with
// the columns kube-apiserver prints for each kind, -o wide columns having priority 1.
#pragma once
#include <string>
#include <vector>

#include "common/json.h"
#include "common/resources.h"

namespace k1s {

// `objects` are full objects of kind r. includeObject: "None", "Metadata" (default), "Object".
// `now` is the time used for AGE cells (seconds since epoch).
Json toTable(const ResourceInfo& r, const std::vector<Json>& objects, const std::string& includeObject,
             long long now);

// The column definitions alone (for watch events after the first).
Json tableColumns(const ResourceInfo& r);

// "5s", "3m2s", "10m", "2d3h", ... as kubectl's duration.HumanDuration prints ages.
std::string humanDuration(long long seconds);

}  // namespace k1s
