// What the Endpoints and EndpointSlice controllers share: which Services
// select a pod, and how a pod and a Service port become an endpoint.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

// spec.selector of a Service as a map; empty for selectorless Services.
bool serviceHasSelector(const Json& svc);
bool serviceSelects(const Json& svc, const Json& pod);
bool podReady(const Json& pod);
bool podTerminating(const Json& pod);
// Pods that finished (Succeeded/Failed) or have no IP yet are never endpoints.
bool podEligible(const Json& pod);
std::string podIP(const Json& pod);
// The container port a Service port reaches on this pod: numeric targetPort as
// is, a named one looked up in the pod's containers; nullopt when the name is absent.
std::optional<int> resolveTargetPort(const Json& svcPort, const Json& pod);
// {kind: Pod, namespace, name, uid}
Json podTargetRef(const Json& pod);

}  // namespace k1s
