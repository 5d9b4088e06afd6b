// The verbs that change objects in place: delete, create, label, annotate, patch.
#include <chrono>
#include <thread>

#include "cli/kubectl_print.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"
#include "common/yaml.h"

namespace k1s::cli {

std::string dryRunMode(Kubectl& k) {
  std::string d = k.args.get("dry-run", "none");
  if (d == "none" || d == "false") return "";
  if (d == "true" || d == "unchanged") return "client";
  if (d != "client" && d != "server")
    throw CliError("error: Invalid dry-run value (" + d + "). Must be \"none\", \"server\", or \"client\".");
  return d;
}

namespace {


std::string dryRunSuffix(const std::string& mode) {
  return mode == "client" ? " (dry run)" : mode == "server" ? " (server dry run)" : "";
}

// Expands refs naming a whole collection (-l, --all) into one ref per object.
std::vector<ResourceRef> expandCollections(Kubectl& k, const std::vector<ResourceRef>& refs) {
  std::vector<ResourceRef> out;
  for (auto& r : refs) {
    if (!r.name.empty()) {
      out.push_back(r);
      continue;
    }
    std::vector<std::pair<std::string, std::string>> q;
    if (k.args.has("selector")) q.emplace_back("labelSelector", k.args.get("selector"));
    if (k.args.has("field-selector")) q.emplace_back("fieldSelector", k.args.get("field-selector"));
    Json list = k.client().get(r.type->collectionPath(r.namespace_) + queryString(q));
    for (auto& o : list.value("items", Json::array()))
      out.push_back({r.type, nameOf(o), r.type->namespaced ? namespaceOf(o) : "", o, ""});
  }
  return out;
}

std::vector<ResourceRef> refsFromFiles(Kubectl& k) {
  std::vector<ResourceRef> refs;
  for (auto& so : readObjectsFromFiles(k.args.all("filename"), k.args.flag("recursive"))) {
    const ApiResource* r = k.discovery().byKind(so.object.value("apiVersion", ""), so.object.value("kind", ""));
    if (!r)
      throw CliError("error: resource mapping not found for name: \"" + nameOf(so.object) + "\" namespace: \"" +
                     namespaceOf(so.object) + "\" from \"" + so.source + "\": no matches for kind \"" +
                     so.object.value("kind", "") + "\" in version \"" + so.object.value("apiVersion", "") + "\"");
    std::string ns = namespaceOf(so.object);
    refs.push_back({r, nameOf(so.object), r->namespaced ? (ns.empty() ? k.ns() : ns) : "", so.object, so.source});
  }
  return refs;
}

}  // namespace

int cmdDelete(Kubectl& k) {
  auto& a = k.args;
  std::string ns = k.allNamespaces() ? "" : k.ns();
  std::vector<ResourceRef> refs;
  if (a.has("filename")) {
    refs = refsFromFiles(k);
  } else {
    if (a.positional.empty())
      throw CliError("error: You must provide one or more resources by argument or filename.\nExample resource "
                     "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> "
                     "<name>'\n   '<resource>'");
    refs = parseResourceArgs(k, a.positional, ns);
    bool hasNames = false;
    for (auto& r : refs) hasNames |= !r.name.empty();
    if (!hasNames && !a.flag("all") && !a.has("selector") && !a.has("field-selector"))
      throw CliError("error: resource(s) were provided, but no name was specified");
    if (hasNames && (a.flag("all") || a.has("selector")))
      throw CliError("error: name cannot be provided when a selector is specified");
    refs = expandCollections(k, refs);
  }
  std::string dryRun = dryRunMode(k);
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  std::string cascade = a.get("cascade", "background");
  if (cascade == "true") cascade = "background";
  if (cascade == "false") cascade = "orphan";
  if (cascade == "background") body["propagationPolicy"] = "Background";
  else if (cascade == "foreground") body["propagationPolicy"] = "Foreground";
  else if (cascade == "orphan") body["propagationPolicy"] = "Orphan";
  else throw CliError("error: invalid cascade value (" + cascade + "). Must be \"background\", \"foreground\", or \"orphan\".");
  int grace = a.has("grace-period") ? std::stoi(a.get("grace-period")) : -1;
  if (a.flag("now")) {
    if (grace >= 0) throw CliError("error: --now and --grace-period cannot be specified together");
    grace = 1;
  }
  if (a.flag("force") && grace < 0) grace = 0;
  if (grace == 0 && !a.flag("force")) grace = 1;  // kubectl: 0 means "immediately" only with --force
  if (grace >= 0) body["gracePeriodSeconds"] = grace;
  if (dryRun == "server") body["dryRun"] = Json::array({"All"});
  if (a.flag("force") && grace == 0)
    k.err << "Warning: Immediate deletion does not wait for confirmation that the running resource has been "
             "terminated. The resource may continue to run on the cluster indefinitely.\n";

  std::vector<std::string> errors;
  std::vector<ResourceRef> deleted;
  for (auto& r : refs) {
    if (r.name.empty()) {  // a manifest without a name: never a DELETE of the whole collection
      errors.push_back("error: error when deleting \"" + r.source + "\": resource name may not be empty");
      continue;
    }
    if (dryRun == "client") {
      k.out << r.type->kindPrefix() << " \"" << r.name << "\" deleted" << dryRunSuffix(dryRun) << "\n";
      continue;
    }
    auto reply = k.client().request("DELETE", r.type->itemPath(r.namespace_, r.name), body.dump(), "application/json");
    if (reply.status == 404 && a.flag("ignore-not-found")) continue;
    try {
      throwForReply(reply);
    } catch (const StatusError& e) {
      errors.push_back(formatStatusError(e.status));
      continue;
    }
    k.out << r.type->kindPrefix() << " \"" << r.name << "\" deleted" << dryRunSuffix(dryRun) << "\n";
    k.out.flush();
    deleted.push_back(r);
  }
  if (refs.empty() && errors.empty()) k.out << "No resources found\n";
  // kubectl waits until the objects are really gone (graceful pod shutdown, finalizers).
  bool wait = a.get("wait", "true") != "false" && dryRun.empty() && !(a.flag("force") && grace == 0);
  if (wait) {
    for (auto& r : deleted) {
      for (;;) {
        auto reply = k.client().request("GET", r.type->itemPath(r.namespace_, r.name));
        if (reply.status == 404) break;
        if (reply.status == 200) {
          Json o = Json::parse(reply.body, nullptr, false);
          if (o.is_object() && !r.object.is_null() && metaOf(o).value("uid", "") != metaOf(r.object).value("uid", "") &&
              !metaOf(r.object).value("uid", "").empty())
            break;  // a new object with the same name: ours is gone
        } else {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }
  for (auto& e : errors) k.err << e << "\n";
  return errors.empty() ? 0 : 1;
}

int cmdCreate(Kubectl& k) {
  auto& a = k.args;
  if (!a.has("filename"))
    if (int rc = createFromGenerator(k); rc >= 0) return rc;
  std::string dryRun = dryRunMode(k);
  std::string q = dryRun == "server" ? "?dryRun=All&fieldManager=kubectl-create&fieldValidation=Strict"
                                     : "?fieldManager=kubectl-create&fieldValidation=Strict";
  std::vector<std::pair<const ApiResource*, Json>> objects;
  std::vector<std::string> sources;
  if (a.has("filename")) {
    for (auto& r : refsFromFiles(k)) {
      Json o = r.object;
      if (r.type->namespaced) o["metadata"]["namespace"] = r.namespace_;
      objects.emplace_back(r.type, o);
      sources.push_back(r.source);
    }
  } else if (!a.positional.empty() && (a.positional[0] == "namespace" || a.positional[0] == "ns")) {
    if (a.positional.size() != 2) throw CliError("error: exactly one NAME is required, got " + std::to_string(a.positional.size() - 1));
    objects.emplace_back(&k.resolve("namespaces"),
                         Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", a.positional[1]}}}});
    sources.push_back("");
  } else {
    throw CliError("error: must specify one of -f and -k");
  }
  std::vector<std::string> errors;
  for (size_t i = 0; i < objects.size(); ++i) {
    auto& [r, obj] = objects[i];
    try {
      if (dryRun != "client") k.client().call("POST", r->collectionPath(namespaceOf(obj)) + q, obj);
      k.out << r->kindPrefix() << "/" << nameOf(obj) << " created" << dryRunSuffix(dryRun) << "\n";
    } catch (const StatusError& e) {
      Json s = e.status;
      if (!sources[i].empty())
        s["message"] = "error when creating \"" + sources[i] + "\": " + s.value("message", "");
      errors.push_back(formatStatusError(s));
    }
  }
  for (auto& e : errors) k.err << e << "\n";
  return errors.empty() ? 0 : 1;
}

int cmdLabelOrAnnotate(Kubectl& k) {
  auto& a = k.args;
  bool isLabel = k.verb == "label";
  const char* field = isLabel ? "labels" : "annotations";
  // Split positional into resources and KEY=VAL / KEY- changes.
  std::vector<std::string> resources;
  Json changes = Json::object();
  std::vector<std::string> removals;
  for (auto& p : a.positional) {
    auto eq = p.find('=');
    if (eq != std::string::npos) {
      std::string key = p.substr(0, eq);
      if (key.empty()) throw CliError(std::string("error: invalid ") + (isLabel ? "label" : "annotation") + " spec: " + p);
      changes[key] = p.substr(eq + 1);
    } else if (!p.empty() && p.back() == '-' && !resources.empty()) {
      removals.push_back(p.substr(0, p.size() - 1));
    } else {
      resources.push_back(p);
    }
  }
  if (changes.empty() && removals.empty())
    throw CliError(std::string("error: at least one ") + (isLabel ? "label" : "annotation") + " update is required");
  std::string ns = k.allNamespaces() ? "" : k.ns();
  std::vector<ResourceRef> refs = a.has("filename") ? refsFromFiles(k) : parseResourceArgs(k, resources, ns);
  if (refs.empty()) throw CliError("error: one or more resources must be specified as <resource> <name> or <resource>/<name>");
  if (a.has("filename"))
    for (auto& r : refs)
      if (r.name.empty()) throw CliError("error: resource name may not be empty");
  bool hasNames = false;
  for (auto& r : refs) hasNames |= !r.name.empty();
  if (!hasNames && !a.flag("all") && !a.has("selector"))
    throw CliError("error: resource(s) were provided, but no name was specified");
  refs = expandCollections(k, refs);
  bool overwrite = a.flag("overwrite");
  std::string dryRun = dryRunMode(k);
  std::vector<std::string> errors;
  for (auto& r : refs) {
    try {
      Json current = k.client().get(r.type->itemPath(r.namespace_, r.name));
      Json existing = metaOf(current).value(field, Json::object());
      if (!existing.is_object()) existing = Json::object();
      if (!overwrite && isLabel) {
        for (auto& [key, v] : changes.items())
          if (existing.contains(key) && existing[key] != v)
            throw CliError("error: '" + key + "' already has a value (" + existing[key].get<std::string>() +
                           "), and --overwrite is false");
      } else if (!overwrite) {
        // kubectl annotate: every clash in one line; the change-cause annotation may always be replaced.
        std::string clashes;
        for (auto& [key, v] : changes.items())
          if (key != "kubernetes.io/change-cause" && existing.contains(key) && existing[key] != v)
            clashes += (clashes.empty() ? "'" : "; '") + key + "' already has a value (" +
                       existing[key].get<std::string>() + ")";
        if (!clashes.empty())
          throw CliError("error: --overwrite is false but found the following declared annotation(s): " + clashes);
      }
      if (isLabel)
        for (auto& key : removals)
          if (!existing.contains(key)) k.out << "label \"" << key << "\" not found.\n";
      Json updated = existing;
      for (auto& [key, v] : changes.items()) updated[key] = v;
      for (auto& key : removals) updated.erase(key);
      Json patch = {{"metadata", {{field, Json::object()}}}};
      for (auto& [key, v] : changes.items()) patch["metadata"][field][key] = v;
      for (auto& key : removals) patch["metadata"][field][key] = nullptr;
      std::string msg;
      if (isLabel) {
        msg = updated == existing ? "not labeled" : (!overwrite && updated.size() < existing.size() ? "unlabeled" : "labeled");
      } else {
        msg = "annotated";
      }
      if (updated != existing && dryRun != "client")
        k.client().call("PATCH", r.type->itemPath(r.namespace_, r.name) + (dryRun == "server" ? "?dryRun=All" : ""),
                        patch, "application/merge-patch+json");
      k.out << r.type->kindPrefix() << "/" << r.name << " " << msg << dryRunSuffix(dryRun) << "\n";
    } catch (const StatusError& e) {
      errors.push_back(formatStatusError(e.status));
    } catch (const CliError& e) {
      errors.push_back(e.what());
    }
  }
  for (auto& e : errors) k.err << e << "\n";
  return errors.empty() ? 0 : 1;
}

int cmdPatch(Kubectl& k) {
  auto& a = k.args;
  std::string type = a.get("type", "strategic");
  std::string contentType;
  if (type == "strategic") contentType = "application/strategic-merge-patch+json";
  else if (type == "merge") contentType = "application/merge-patch+json";
  else if (type == "json") contentType = "application/json-patch+json";
  else throw CliError("error: --type must be one of [json merge strategic], not \"" + type + "\"");
  if (!a.has("patch")) throw CliError("error: must specify -p to patch");
  Json patch;
  try {
    patch = parseYaml(a.get("patch"));
  } catch (const std::exception& e) {
    throw CliError(std::string("error: unable to parse \"") + a.get("patch") + "\": " + e.what());
  }
  std::string ns = k.ns();
  std::vector<ResourceRef> refs = a.has("filename") ? refsFromFiles(k) : parseResourceArgs(k, a.positional, ns);
  if (refs.empty() || refs[0].name.empty())
    throw CliError("error: resource(s) were provided, but no name was specified");
  std::string dryRun = dryRunMode(k);
  std::vector<std::string> errors;
  for (auto& r : refs) {
    try {
      Json before = k.client().get(r.type->itemPath(r.namespace_, r.name));
      std::string q = queryString(dryRun.empty() || dryRun == "client"
                                      ? std::vector<std::pair<std::string, std::string>>{{"fieldManager", "kubectl-patch"}}
                                      : std::vector<std::pair<std::string, std::string>>{{"dryRun", "All"}, {"fieldManager", "kubectl-patch"}});
      Json after = dryRun == "client" ? before
                                      : k.client().call("PATCH", r.type->itemPath(r.namespace_, r.name) + q, patch, contentType);
      bool changed = metaOf(before).value("resourceVersion", "") != metaOf(after).value("resourceVersion", "") ||
                     (dryRun == "server" && before != after);
      k.out << r.type->kindPrefix() << "/" << r.name << " patched" << (changed || dryRun == "client" ? "" : " (no change)")
            << dryRunSuffix(dryRun) << "\n";
    } catch (const StatusError& e) {
      errors.push_back(formatStatusError(e.status));
    }
  }
  for (auto& e : errors) k.err << e << "\n";
  return errors.empty() ? 0 : 1;
}

}  // namespace k1s::cli
