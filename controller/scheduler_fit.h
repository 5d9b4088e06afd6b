// The scheduler's filters, as pure functions over Pod and Node objects:
// resource requests vs what is left on the node, nodeSelector and required
// node affinity, taints vs tolerations, host ports, unschedulable nodes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

// A Kubernetes quantity in milli-units ("100m" -> 100, "1" -> 1000, "1Gi" -> 1073741824000); -1 if malformed.
long long parseMilliQuantity(const std::string& s);

// Resource name -> milli-units. "pods" counts the pod itself (1000 per pod).
using ResourceList = std::map<std::string, long long>;
// kube's effective request: sum over containers, at least the largest init container, plus overhead.
ResourceList podRequests(const Json& pod);

// What a node already has committed: requests of its non-terminal pods.
struct NodeUsage {
  ResourceList requested;
  std::vector<std::string> hostPorts;  // "protocol/hostIP/port"
};
void addPodToUsage(NodeUsage& u, const Json& pod);

// The reasons a pod cannot go to a node, in kube's wording ("Insufficient cpu",
// "node(s) didn't match Pod's node affinity/selector", ...); empty when it fits.
// Like kube, filters stop at the first one that fails, except that the resource
// filter reports every short resource.
std::vector<std::string> unfitReasons(const Json& pod, const Json& node, const NodeUsage& usage);
// True when a reason is about resources (preemption might help).
bool isResourceReason(const std::string& reason);

// "0/1 nodes are available: 1 Insufficient cpu. preemption: ..." from each node's reasons.
std::string unschedulableMessage(size_t nodeCount, const std::vector<std::vector<std::string>>& reasonsPerNode);

}  // namespace k1s
