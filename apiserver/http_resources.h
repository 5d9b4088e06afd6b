// The Kubernetes REST resource paths: /api/v1/..., /apis/<group>/<version>/...
#pragma once
#include <httplib.h>

#include "apiserver/registry.h"
#include "apiserver/server.h"

namespace k1s {

// A resource request as parsed from its path.
struct RequestInfo {
  const ResourceInfo* res = nullptr;
  std::string groupVersion;
  std::string ns, name, sub;
  bool watchPrefix = false;  // legacy /watch/ path
};

// Parses the path; returns false (and fills `discovery`) for a group-version's discovery document.
RequestInfo parseResourcePath(const std::string& path, Json* discovery);

void serveResource(Registry& reg, const ApiServerOptions& opts, const httplib::Request& req, httplib::Response& res);

}  // namespace k1s
