#include "cli/kubectl_discovery.h"

#include <algorithm>

#include "cli/kubectl_client.h"

namespace k1s::cli {

static std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(tolower(c)); });
  return s;
}

std::string ApiResource::kindPrefix() const {
  std::string k = lower(kind);
  return group.empty() ? k : k + "." + group;
}

std::string ApiResource::collectionPath(const std::string& ns) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) p += "/namespaces/" + ns;
  return p + "/" + plural;
}

static std::vector<std::string> strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  if (auto it = j.find(key); it != j.end() && it->is_array())
    for (auto& s : *it)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

void Discovery::addResourceList(const Json& list) {
  std::string gv = list.value("groupVersion", "");
  auto slash = gv.find('/');
  std::string group = slash == std::string::npos ? "" : gv.substr(0, slash);
  std::string version = slash == std::string::npos ? gv : gv.substr(slash + 1);
  for (auto& r : list.value("resources", Json::array())) {
    std::string name = r.value("name", "");
    if (name.empty() || name.find('/') != std::string::npos) continue;  // subresource
    ApiResource a;
    a.group = r.value("group", group);
    a.version = r.value("version", version);
    a.plural = name;
    a.singular = r.value("singularName", "");
    if (a.singular.empty()) a.singular = lower(r.value("kind", ""));
    a.kind = r.value("kind", "");
    a.namespaced = r.value("namespaced", true);
    a.shortNames = strings(r, "shortNames");
    a.verbs = strings(r, "verbs");
    a.categories = strings(r, "categories");
    resources_.push_back(std::move(a));
  }
}

Discovery Discovery::load(RestClient& client) {
  Discovery d;
  Json core = client.get("/api");
  for (auto& v : core.value("versions", Json::array())) {
    std::string ver = v.get<std::string>();
    d.addResourceList(client.get("/api/" + ver));
    break;  // kubectl prefers the first (only "v1" exists)
  }
  Json groups = client.get("/apis");
  for (auto& g : groups.value("groups", Json::array())) {
    std::string gv = g.value("preferredVersion", Json::object()).value("groupVersion", "");
    if (gv.empty() && !g.value("versions", Json::array()).empty()) gv = g["versions"][0].value("groupVersion", "");
    if (gv.empty()) continue;
    try {
      d.addResourceList(client.get("/apis/" + gv));
    } catch (const StatusError&) {
      // A group-version that fails discovery is left out, as kubectl does.
    }
  }
  return d;
}

static bool nameMatches(const ApiResource& r, const std::string& n) {
  if (r.plural == n || r.singular == n || lower(r.kind) == n) return true;
  return std::find(r.shortNames.begin(), r.shortNames.end(), n) != r.shortNames.end();
}

const ApiResource* Discovery::resolve(const std::string& typeIn) const {
  std::string type = lower(typeIn);
  // Unqualified: plural/singular first, then short names, then kind (kubectl's
  // shortcut expander runs before the REST mapper, so "po" works and a plural wins).
  for (auto& r : resources_)
    if (r.plural == type || r.singular == type) return &r;
  for (auto& r : resources_)
    if (std::find(r.shortNames.begin(), r.shortNames.end(), type) != r.shortNames.end()) return &r;
  for (auto& r : resources_)
    if (lower(r.kind) == type) return &r;
  // Qualified: "deployments.apps", "deploy.apps", "deployments.v1.apps".
  auto dot = type.find('.');
  if (dot == std::string::npos) return nullptr;
  std::string name = type.substr(0, dot), rest = type.substr(dot + 1);
  for (auto& r : resources_)
    if (r.group == rest && nameMatches(r, name)) return &r;
  auto dot2 = rest.find('.');
  if (dot2 != std::string::npos) {
    std::string version = rest.substr(0, dot2), group = rest.substr(dot2 + 1);
    for (auto& r : resources_)
      if (r.group == group && r.version == version && nameMatches(r, name)) return &r;
  }
  return nullptr;
}

std::vector<const ApiResource*> Discovery::resolveMany(const std::string& type) const {
  if (auto* r = resolve(type)) return {r};
  std::vector<const ApiResource*> out;
  std::string t = lower(type);
  for (auto& r : resources_)
    if (std::find(r.categories.begin(), r.categories.end(), t) != r.categories.end()) out.push_back(&r);
  return out;
}

const ApiResource* Discovery::byKind(const std::string& apiVersion, const std::string& kind) const {
  for (auto& r : resources_)
    if (r.apiVersion() == apiVersion && r.kind == kind) return &r;
  return nullptr;
}

}  // namespace k1s::cli
