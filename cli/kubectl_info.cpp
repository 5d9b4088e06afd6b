// Verbs about the server rather than its objects: api-resources, version.
#include <algorithm>

#include "cli/kubectl_print.h"
#include "cli/kubectl_verbs.h"
#include "common/yaml.h"

namespace k1s::cli {

// What `version` reports for this client: a kube-style version so tools that
// compare client and server versions keep working.
static Json clientVersion() {
  return {{"major", "1"},          {"minor", "33"},       {"gitVersion", "v1.33.0-k1s.0.1.0"},
          {"gitCommit", ""},       {"gitTreeState", ""},  {"buildDate", ""},
          {"goVersion", "none"},   {"compiler", "g++"},   {"platform", "linux/amd64"}};
}

int cmdVersion(Kubectl& k) {
  std::string output = k.args.get("output");
  Json doc = {{"clientVersion", clientVersion()}};
  std::string serverError;
  if (!k.args.flag("client")) {
    try {
      doc["serverVersion"] = k.client().get("/version");
    } catch (const StatusError& e) {
      serverError = formatStatusError(e.status);
    } catch (const CliError& e) {
      serverError = e.what();
    }
  }
  if (output == "json") {
    k.out << toKubectlJson(doc) << "\n";
  } else if (output == "yaml") {
    k.out << toYaml(doc);
  } else if (!output.empty()) {
    throw CliError("error: --output must be 'yaml' or 'json'");
  } else {
    k.out << "Client Version: " << doc["clientVersion"]["gitVersion"].get<std::string>() << "\n";
    if (doc.contains("serverVersion"))
      k.out << "Server Version: " << doc["serverVersion"].value("gitVersion", "") << "\n";
  }
  if (!serverError.empty()) {
    k.err << serverError << "\n";
    return 1;
  }
  return 0;
}

int cmdApiResources(Kubectl& k) {
  auto& a = k.args;
  std::string output = a.get("output");
  if (!output.empty() && output != "wide" && output != "name")
    throw CliError("error: --output name, wide is the only supported format");
  std::vector<const ApiResource*> rows;
  for (auto& r : k.discovery().resources()) {
    if (a.has("namespaced") && (a.get("namespaced") == "true") != r.namespaced) continue;
    if (a.has("api-group") && a.get("api-group") != r.group) continue;
    if (a.has("verbs")) {
      bool all = true;
      std::string verbs = a.get("verbs") + ",";
      for (size_t start = 0, comma; (comma = verbs.find(',', start)) != std::string::npos; start = comma + 1) {
        std::string v = verbs.substr(start, comma - start);
        if (!v.empty()) all &= std::find(r.verbs.begin(), r.verbs.end(), v) != r.verbs.end();
      }
      if (!all) continue;
    }
    rows.push_back(&r);
  }
  // kubectl sorts by group, then by name.
  std::sort(rows.begin(), rows.end(),
            [](auto* x, auto* y) { return x->group != y->group ? x->group < y->group : x->plural < y->plural; });
  if (output == "name") {
    for (auto* r : rows) k.out << (r->group.empty() ? r->plural : r->plural + "." + r->group) << "\n";
    return 0;
  }
  TabWriter tw(6);
  if (!a.flag("no-headers")) {
    TextRow h = {"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"};
    if (output == "wide") {
      h.push_back("VERBS");
      h.push_back("CATEGORIES");
    }
    tw.add(h);
  }
  auto join = [](const std::vector<std::string>& v, const std::string& sep) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
  };
  for (auto* r : rows) {
    TextRow row = {r->plural, join(r->shortNames, ","), r->apiVersion(), r->namespaced ? "true" : "false", r->kind};
    if (output == "wide") {
      row.push_back(join(r->verbs, ","));
      row.push_back(join(r->categories, ","));
    }
    tw.add(row);
  }
  tw.flush(k.out);
  return 0;
}

}  // namespace k1s::cli
