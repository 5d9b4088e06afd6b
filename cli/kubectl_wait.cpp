// `k1s wait --for=condition=C[=V] | --for=delete | --for=create |
// --for=jsonpath='{expr}'[=value]`: watches each object until the condition
// holds, or fails after --timeout (30s) as kubectl does.
#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "cli/jsonpath.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"

namespace k1s::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Decides for one object (null: it does not exist) whether the wait is over.
using Check = std::function<bool(const Json& obj)>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(tolower(c)); });
  return s;
}

Check conditionCheck(const std::string& spec) {
  // "Ready", "Ready=false", "condition=Available=True"
  std::string type = spec, want = "true";
  if (auto eq = spec.find('='); eq != std::string::npos) {
    type = spec.substr(0, eq);
    want = spec.substr(eq + 1);
  }
  type = lower(type);
  want = lower(want);
  return [type, want](const Json& obj) {
    if (obj.is_null()) return false;
    for (auto& c : obj.value("status", Json::object()).value("conditions", Json::array())) {
      if (lower(c.value("type", "")) != type) continue;
      // A condition about an older generation does not count yet.
      if (c.contains("observedGeneration") &&
          c.value("observedGeneration", 0LL) < metaOf(obj).value("generation", 0LL))
        return false;
      return lower(c.value("status", "")) == want;
    }
    return false;
  };
}

Check jsonpathCheck(const std::string& spec) {
  // "{.status.phase}=Running" or "{.status.readyReplicas}" (existence); braces optional.
  std::string expr = spec, want;
  bool hasValue = false;
  size_t depth = 0, split = std::string::npos;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '{' || spec[i] == '[') ++depth;
    if ((spec[i] == '}' || spec[i] == ']') && depth) --depth;
    if (spec[i] == '=' && depth == 0 && (i + 1 >= spec.size() || spec[i + 1] != '=') && (i == 0 || spec[i - 1] != '=')) {
      split = i;
      break;
    }
  }
  if (split != std::string::npos) {
    expr = spec.substr(0, split);
    want = spec.substr(split + 1);
    hasValue = true;
  }
  std::shared_ptr<JsonPath> path;
  try {
    path = std::make_shared<JsonPath>(relaxedJsonPath(expr));
  } catch (const JsonPathError& e) {
    throw CliError(std::string("error: ") + e.what());
  }
  path->allowMissingKeys(true);
  return [path, want, hasValue](const Json& obj) {
    if (obj.is_null()) return false;
    auto results = path->findResults(obj);
    if (results.empty() || results[0].empty()) return false;
    if (!hasValue) return true;
    if (results[0].size() != 1) return false;
    const Json& v = results[0][0];
    if (v.is_object() || v.is_array()) return false;
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    return text == want;
  };
}

struct WaitTarget {
  const ApiResource* type;
  std::string ns, name;
};

// Watches one object from `rv` until `check` holds or the deadline passes.
// Returns true when the condition was met.
bool watchUntil(Kubectl& k, const WaitTarget& t, std::string rv, const Check& check, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    long long left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count() + 1;
    std::vector<std::pair<std::string, std::string>> q = {{"fieldSelector", "metadata.name=" + t.name},
                                                          {"allowWatchBookmarks", "true"},
                                                          {"timeoutSeconds", std::to_string(left)},
                                                          {"watch", "true"}};
    if (!rv.empty()) q.insert(q.begin() + 2, {"resourceVersion", rv});
    bool met = false, restart = false;
    k.client().watch(t.type->collectionPath(t.ns) + queryString(q), "application/json",
                     [&](const std::string& type, const Json& obj) {
                       if (type == "ERROR") {
                         restart = true;
                         return false;
                       }
                       rv = metaOf(obj).value("resourceVersion", rv);
                       if (type != "BOOKMARK" && check(type == "DELETED" ? Json() : obj)) {
                         met = true;
                         return false;
                       }
                       return Clock::now() < deadline;
                     });
    if (met) return true;
    if (restart) {
      // The version expired: look again from a fresh read.
      auto reply = k.client().request("GET", t.type->itemPath(t.ns, t.name));
      if (reply.status == 404) {
        if (check(Json())) return true;
        rv.clear();
      } else {
        throwForReply(reply);
        Json obj = Json::parse(reply.body);
        if (check(obj)) return true;
        rv = metaOf(obj).value("resourceVersion", "");
      }
    }
  }
  return false;
}

}  // namespace

int cmdWait(Kubectl& k) {
  auto& a = k.args;
  std::string forSpec = a.get("for");
  if (forSpec.empty()) throw CliError("error: unrecognized condition: \"\"");
  Check check;
  std::string mode;
  if (forSpec == "delete") {
    mode = "delete";
    check = [](const Json& o) { return o.is_null(); };
  } else if (forSpec == "create") {
    mode = "create";
    check = [](const Json& o) { return !o.is_null(); };
  } else if (forSpec.rfind("condition=", 0) == 0) {
    check = conditionCheck(forSpec.substr(10));
  } else if (forSpec.rfind("jsonpath=", 0) == 0) {
    check = jsonpathCheck(forSpec.substr(9));
  } else {
    throw CliError("error: unrecognized condition: \"" + forSpec + "\"");
  }
  double timeout = 30;
  if (a.has("timeout")) {
    try {
      timeout = parseGoDuration(a.get("timeout"));
    } catch (const std::exception& e) {
      throw CliError("error: invalid argument \"" + a.get("timeout") + "\" for \"--timeout\" flag: " + e.what());
    }
  }
  if (timeout < 0) timeout = 7 * 24 * 3600.0;  // kubectl: negative means a week
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(timeout * 1000));

  std::string ns = k.allNamespaces() ? "" : k.ns();
  std::vector<ResourceRef> refs;
  if (a.has("filename")) {
    for (auto& so : readObjectsFromFiles(a.all("filename"), a.flag("recursive"))) {
      auto* r = k.discovery().byKind(so.object.value("apiVersion", ""), so.object.value("kind", ""));
      if (!r) throw CliError("error: unable to recognize \"" + so.source + "\"");
      std::string objNs = namespaceOf(so.object);
      refs.push_back({r, nameOf(so.object), r->namespaced ? (objNs.empty() ? k.ns() : objNs) : "", so.object, so.source});
    }
  } else {
    if (a.positional.empty())
      throw CliError("error: resource(s) were provided, but no name was specified");
    refs = parseResourceArgs(k, a.positional, ns);
  }

  // Collections (-l, --all) become one target per object that exists now.
  std::vector<WaitTarget> targets;
  for (auto& r : refs) {
    if (!r.name.empty()) {
      if (a.has("selector") || a.flag("all"))
        throw CliError("error: name cannot be provided when a selector is specified");
      targets.push_back({r.type, r.namespace_, r.name});
      continue;
    }
    if (!a.has("selector") && !a.flag("all") && !a.has("field-selector"))
      throw CliError("error: resource(s) were provided, but no name was specified");
    std::vector<std::pair<std::string, std::string>> q;
    if (a.has("selector")) q.emplace_back("labelSelector", a.get("selector"));
    if (a.has("field-selector")) q.emplace_back("fieldSelector", a.get("field-selector"));
    Json list = k.client().get(r.type->collectionPath(r.namespace_) + queryString(q));
    for (auto& o : list.value("items", Json::array())) targets.push_back({r.type, namespaceOf(o), nameOf(o)});
  }
  if (targets.empty()) {
    if (mode == "delete") return 0;
    throw CliError("error: no matching resources found");
  }

  for (auto& t : targets) {
    std::string label = t.type->kindPrefix() + "/" + t.name;
    // --for=create and the others start from what is there now; a missing
    // object is an error except when waiting for it to appear or go.
    auto reply = k.client().request("GET", t.type->itemPath(t.ns, t.name));
    std::string rv;
    bool met = false;
    if (reply.status == 404) {
      if (mode == "delete") continue;  // already gone: kubectl says nothing
      if (mode != "create") throwForReply(reply);
      met = check(Json());
      // Watch the collection from "now" so a create shows up as ADDED.
      if (!met) rv = k.client().get(t.type->collectionPath(t.ns) + "?limit=1").value("metadata", Json::object()).value("resourceVersion", "");
    } else {
      throwForReply(reply);
      Json obj = Json::parse(reply.body);
      met = check(obj);
      rv = metaOf(obj).value("resourceVersion", "");
    }
    if (!met) met = watchUntil(k, t, rv, check, deadline);
    if (!met) {
      k.err << "error: timed out waiting for the condition on " << t.type->plural << "/" << t.name << "\n";
      return 1;
    }
    k.out << label << " condition met\n" << std::flush;
  }
  return 0;
}

}  // namespace k1s::cli
