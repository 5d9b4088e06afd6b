// `k1s scale TYPE/NAME --replicas=N`: through the scale subresource, with
// kubectl's --current-replicas / --resource-version preconditions and
// --dry-run=client|server.
#include "cli/kubectl_verbs.h"
#include "common/meta.h"

namespace k1s::cli {

namespace {

long long intFlag(Kubectl& k, const std::string& name) {
  std::string v = k.args.get(name);
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  throw CliError("error: invalid argument \"" + v + "\" for \"--" + name + "\" flag: strconv.ParseInt: parsing \"" +
                 v + "\": invalid syntax");
}

}  // namespace

int cmdScale(Kubectl& k) {
  auto& a = k.args;
  if (!a.has("replicas")) throw CliError("error: required flag(s) \"replicas\" not set");
  long long replicas = intFlag(k, "replicas");
  if (replicas < 0)
    throw CliError("error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
  long long current = a.has("current-replicas") ? intFlag(k, "current-replicas") : -1;
  std::string rvPrecondition = a.get("resource-version");
  std::string dryRun = dryRunMode(k);

  std::vector<ResourceRef> refs;
  if (a.has("filename")) {
    for (auto& so : readObjectsFromFiles(a.all("filename"), a.flag("recursive"))) {
      auto* r = k.discovery().byKind(so.object.value("apiVersion", ""), so.object.value("kind", ""));
      if (!r) throw CliError("error: unable to recognize \"" + so.source + "\": no matches for kind \"" +
                             so.object.value("kind", "") + "\"");
      std::string ns = namespaceOf(so.object);
      refs.push_back({r, nameOf(so.object), ns.empty() ? k.ns() : ns, so.object, so.source});
    }
  } else {
    if (a.positional.empty())
      throw CliError("error: You must provide one or more resources by argument or filename.\nExample resource "
                     "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> "
                     "<name>'\n   '<resource>'");
    refs = parseResourceArgs(k, a.positional, k.ns());
    // TYPE with --all or -l: every object of the type (that matches).
    if (a.flag("all") || a.has("selector")) {
      std::vector<ResourceRef> expanded;
      for (auto& r : refs) {
        if (!r.name.empty()) {
          expanded.push_back(r);
          continue;
        }
        std::vector<std::pair<std::string, std::string>> q;
        if (a.has("selector")) q.emplace_back("labelSelector", a.get("selector"));
        Json list = k.client().get(r.type->collectionPath(r.namespace_) + queryString(q));
        for (auto& o : list.value("items", Json::array()))
          expanded.push_back({r.type, nameOf(o), r.namespace_, o, ""});
      }
      refs = expanded;
    }
  }
  if (refs.empty()) throw CliError("error: no objects passed to scale");
  for (auto& r : refs)
    if (r.name.empty()) throw CliError("error: resource(s) were provided, but no name was specified");
  if (refs.size() > 1 && (current >= 0 || !rvPrecondition.empty()))
    throw CliError("error: cannot use --resource-version with multiple resources");

  for (auto& r : refs) {
    std::string path = r.type->itemPath(r.namespace_, r.name) + "/scale";
    std::string suffix = dryRun == "client" ? " (dry run)" : dryRun == "server" ? " (server dry run)" : "";
    // kubectl reads the object first and words a failure as "no objects passed".
    auto reply = k.client().request("GET", r.type->itemPath(r.namespace_, r.name));
    try {
      throwForReply(reply);
    } catch (const StatusError& e) {
      throw CliError("error: no objects passed to scale " + std::string(e.what()));
    }
    Json scale = k.client().get(path);
    long long actual = scale.value("spec", Json::object()).value("replicas", 0LL);
    if (current >= 0 && current != actual)
      throw CliError("error: Expected replicas to be " + std::to_string(current) + ", was " + std::to_string(actual));
    if (!rvPrecondition.empty() && rvPrecondition != metaOf(scale).value("resourceVersion", ""))
      throw CliError("error: Expected resource version to be " + rvPrecondition + ", was " +
                     metaOf(scale).value("resourceVersion", ""));
    if (dryRun != "client") {
      std::string q = dryRun == "server" ? "?dryRun=All" : "";
      if (current >= 0 || !rvPrecondition.empty()) {
        // An update carrying the resourceVersion we checked: a concurrent change gets a Conflict.
        scale["spec"]["replicas"] = replicas;
        k.client().call("PUT", path + q, scale);
      } else {
        k.client().call("PATCH", path + q, Json{{"spec", {{"replicas", replicas}}}}, "application/merge-patch+json");
      }
    }
    k.out << r.type->kindPrefix() << "/" << r.name << " scaled" << suffix << "\n";
  }
  return 0;
}

}  // namespace k1s::cli
