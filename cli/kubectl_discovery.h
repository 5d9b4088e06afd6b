// Resource types as the server announces them (/api, /apis and the
// group-version resource lists), and kubectl's ways of naming them.
#pragma once
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s::cli {

class RestClient;

struct ApiResource {
  std::string group, version, plural, singular, kind;
  bool namespaced = true;
  std::vector<std::string> shortNames, verbs, categories;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "deployment.apps", "pod": the prefix kubectl prints before "/name".
  std::string kindPrefix() const;
  // "deployments.apps", "pods": as errors name the resource.
  std::string groupResource() const { return group.empty() ? plural : plural + "." + group; }
  // "/apis/apps/v1/namespaces/ns/deployments" (ns ignored when cluster-scoped; empty ns = all).
  std::string collectionPath(const std::string& ns) const;
  std::string itemPath(const std::string& ns, const std::string& name) const {
    return collectionPath(ns) + "/" + name;
  }
};

class Discovery {
 public:
  // Adds one APIResourceList (the body of /api/v1 or /apis/G/V); subresources are skipped.
  void addResourceList(const Json& list);
  // Reads /api, /apis and every preferred group-version's resource list.
  static Discovery load(RestClient& client);

  // Resolves a type as kubectl accepts it: plural, singular, short name, kind
  // (any case), each optionally qualified by ".group" or ".version.group".
  // nullptr when the server has no such type.
  const ApiResource* resolve(const std::string& type) const;
  // "all" and other categories expand to several types.
  std::vector<const ApiResource*> resolveMany(const std::string& type) const;
  const ApiResource* byKind(const std::string& apiVersion, const std::string& kind) const;
  const std::vector<ApiResource>& resources() const { return resources_; }

 private:
  std::vector<ApiResource> resources_;
};

}  // namespace k1s::cli
