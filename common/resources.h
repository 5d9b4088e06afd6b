// The kinds k1s serves: one table, shared by the API server (routing,
// discovery, storage keys) and the in-process clients (controllers, kubelet,
// proxy). Field lists live in the schema, not here (DESIGN rule 4).
#pragma once
#include <string>
#include <vector>

namespace k1s {

struct ResourceInfo {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string kind;      // "Deployment"
  std::string plural;    // "deployments"
  std::string singular;  // "deployment"
  bool namespaced = true;
  std::vector<std::string> shortNames;
  std::vector<std::string> categories;    // "all"
  std::vector<std::string> subresources;  // "status", "scale", "log", "binding", ...
  bool hasGeneration = false;             // metadata.generation bumps on spec change
  bool hasStatus = false;                 // status only via the status subresource

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "deployments.apps", "pods": how kube names a resource in error messages.
  std::string groupResource() const { return group.empty() ? plural : plural + "." + group; }
  std::string listKind() const { return kind + "List"; }
  // Path prefix of the group-version: "/api/v1" or "/apis/apps/v1".
  std::string gvPath() const { return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version; }
};

const std::vector<ResourceInfo>& allResources();
// By group and plural ("apps", "deployments"); nullptr if unknown.
const ResourceInfo* findResource(const std::string& group, const std::string& plural);
// By apiVersion and kind ("apps/v1", "Deployment"); nullptr if unknown.
const ResourceInfo* findKind(const std::string& apiVersion, const std::string& kind);
// The group-versions served, in discovery order: "v1", "apps/v1", ...
std::vector<std::string> servedGroupVersions();

}  // namespace k1s
