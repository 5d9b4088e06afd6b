// `k1s rollout status|history|undo|restart|pause|resume` for Deployments,
// worded as kubectl's status viewer, history viewer and rollbacker.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>

#include "cli/kubectl_describe.h"
#include "cli/kubectl_print.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"

namespace k1s::cli {

namespace {

const char* kRevision = "deployment.kubernetes.io/revision";
const char* kChangeCause = "kubernetes.io/change-cause";
const char* kHashLabel = "pod-template-hash";

struct Target {
  const ApiResource* type;
  std::string name, ns;
};

std::vector<Target> targets(Kubectl& k, const std::vector<std::string>& args) {
  if (args.empty() && !k.args.has("filename"))
    throw CliError("error: required resource not specified");
  std::vector<Target> out;
  if (k.args.has("filename")) {
    for (auto& so : readObjectsFromFiles(k.args.all("filename"), k.args.flag("recursive"))) {
      auto* r = k.discovery().byKind(so.object.value("apiVersion", ""), so.object.value("kind", ""));
      if (!r) throw CliError("error: unable to recognize \"" + so.source + "\"");
      std::string ns = namespaceOf(so.object);
      out.push_back({r, nameOf(so.object), ns.empty() ? k.ns() : ns});
    }
  } else {
    for (auto& ref : parseResourceArgs(k, args, k.ns())) {
      if (ref.name.empty()) throw CliError("error: resource(s) were provided, but no name was specified");
      out.push_back({ref.type, ref.name, ref.namespace_});
    }
  }
  return out;
}

// kubectl's refusal for a kind it has no rollout support for, per subcommand.
void requireDeployments(const std::vector<Target>& ts, const std::string& sub) {
  for (auto& t : ts) {
    if (t.type->kind == "Deployment") continue;
    std::string kind = t.type->kind, gk = t.type->group.empty() ? " " + kind : t.type->group + " " + kind;
    if (sub == "status") throw CliError("error: no status viewer has been implemented for " + kind);
    if (sub == "history")
      throw CliError("error: error retrieving history for \"" + kind + "\", no visitor method exists for {" + gk + "}");
    if (sub == "undo")
      throw CliError("error: error retrieving rollbacker for \"" + kind + "\", no visitor method exists for {" + gk +
                     "}");
    std::string ing = sub == "restart" ? "restarting" : sub == "pause" ? "pausing" : "resuming";
    throw CliError("error: " + t.type->groupResource() + " \"" + t.name + "\" " + ing + " is not supported");
  }
}

long long revisionOf(const Json& o) {
  std::string v = metaOf(o).value("annotations", Json::object()).value(kRevision, "");
  return v.empty() ? 0 : std::atoll(v.c_str());
}

// The Deployment's ReplicaSets (controller owner = its uid), by revision.
std::map<long long, Json> history(Kubectl& k, const Json& d) {
  std::map<long long, Json> out;
  std::string uid = metaOf(d).value("uid", "");
  Json list = k.client().get("/apis/apps/v1/namespaces/" + namespaceOf(d) + "/replicasets");
  for (auto& rs : list.value("items", Json::array())) {
    Json ref = controllerRef(rs);
    if (ref.is_object() && ref.value("uid", "") == uid) out[revisionOf(rs)] = rs;
  }
  return out;
}

// kubectl's DeploymentStatusViewer: the progress line and whether it is done.
std::pair<std::string, bool> statusLine(const Json& d, long long wantRevision) {
  std::string name = nameOf(d);
  if (wantRevision > 0 && revisionOf(d) != wantRevision)
    throw CliError("error: desired revision (" + std::to_string(wantRevision) + ") is different from the running revision (" +
                   std::to_string(revisionOf(d)) + ")");
  Json st = d.value("status", Json::object());
  if (metaOf(d).value("generation", 0LL) > st.value("observedGeneration", 0LL))
    return {"Waiting for deployment spec update to be observed...\n", false};
  for (auto& c : st.value("conditions", Json::array()))
    if (c.value("type", "") == "Progressing" && c.value("reason", "") == "ProgressDeadlineExceeded")
      throw CliError("error: deployment \"" + name + "\" exceeded its progress deadline");
  long long want = d["spec"].value("replicas", 1LL), updated = st.value("updatedReplicas", 0LL),
            total = st.value("replicas", 0LL), available = st.value("availableReplicas", 0LL);
  std::string prefix = "Waiting for deployment \"" + name + "\" rollout to finish: ";
  if (updated < want)
    return {prefix + std::to_string(updated) + " out of " + std::to_string(want) + " new replicas have been updated...\n",
            false};
  if (total > updated)
    return {prefix + std::to_string(total - updated) + " old replicas are pending termination...\n", false};
  if (available < updated)
    return {prefix + std::to_string(available) + " of " + std::to_string(updated) + " updated replicas are available...\n",
            false};
  return {"deployment \"" + name + "\" successfully rolled out\n", true};
}

int rolloutStatus(Kubectl& k, const Target& t) {
  long long wantRevision = k.args.has("revision") ? std::atoll(k.args.get("revision").c_str()) : 0;
  bool watch = k.args.get("watch", "true") != "false";
  double timeout = 0;
  if (k.args.has("timeout")) {
    try {
      timeout = parseGoDuration(k.args.get("timeout"));
    } catch (const std::exception& e) {
      throw CliError("error: invalid argument \"" + k.args.get("timeout") + "\" for \"--timeout\" flag: " + e.what());
    }
  }
  auto start = std::chrono::steady_clock::now();
  auto remaining = [&]() -> long long {
    if (timeout <= 0) return 0;
    double left = timeout - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return left <= 0 ? -1 : static_cast<long long>(left) + 1;
  };
  std::string path = t.type->itemPath(t.ns, t.name);
  // List then watch from that version, printing the line for every event as kubectl does.
  Json d = k.client().get(path);
  auto [line, done] = statusLine(d, wantRevision);
  k.out << line << std::flush;
  if (done || !watch) return 0;
  std::string rv = metaOf(d).value("resourceVersion", "");
  while (true) {
    long long left = remaining();
    if (left < 0) throw CliError("error: timed out waiting for the condition");
    std::vector<std::pair<std::string, std::string>> q = {{"fieldSelector", "metadata.name=" + t.name},
                                                          {"resourceVersion", rv}, {"watch", "true"}};
    if (left > 0) q.emplace_back("timeoutSeconds", std::to_string(left));
    bool finished = false;
    std::string failure;
    k.client().watch(t.type->collectionPath(t.ns) + queryString(q), "application/json",
                     [&](const std::string& type, const Json& obj) {
                       if (type == "ERROR") {
                         rv.clear();  // expired: start over from a fresh list
                         return false;
                       }
                       if (type == "DELETED") {
                         failure = "error: object has been deleted";
                         return false;
                       }
                       if (type != "ADDED" && type != "MODIFIED") return true;
                       rv = metaOf(obj).value("resourceVersion", rv);
                       auto [l, ok] = statusLine(obj, wantRevision);
                       k.out << l << std::flush;
                       finished = ok;
                       return !ok;
                     });
    if (!failure.empty()) throw CliError(failure);
    if (finished) return 0;
    if (rv.empty()) {
      Json again = k.client().get(path);
      rv = metaOf(again).value("resourceVersion", "");
      auto [l, ok] = statusLine(again, wantRevision);
      k.out << l << std::flush;
      if (ok) return 0;
    }
  }
}

int rolloutHistory(Kubectl& k, const Target& t) {
  Json d = k.client().get(t.type->itemPath(t.ns, t.name));
  auto revs = history(k, d);
  long long want = k.args.has("revision") ? std::atoll(k.args.get("revision").c_str()) : 0;
  std::string head = t.type->kindPrefix() + "/" + t.name + " ";
  if (want > 0) {
    auto it = revs.find(want);
    if (it == revs.end()) throw CliError("error: unable to find the specified revision");
    Json tmpl = it->second["spec"]["template"];
    // kubectl shows the revision's change-cause among the template's annotations, untabbed.
    std::string cause = metaOf(it->second).value("annotations", Json::object()).value(kChangeCause, "");
    if (!cause.empty()) tmpl["metadata"]["annotations"][kChangeCause] = cause;
    k.out << head << "with revision #" << want << "\n" << podTemplateSection(tmpl, std::time(nullptr)) << "\n";
    return 0;
  }
  std::string table = "REVISION\tCHANGE-CAUSE\n";
  for (auto& [rev, rs] : revs) {
    if (rev <= 0) continue;
    std::string cause = metaOf(rs).value("annotations", Json::object()).value(kChangeCause, "");
    table += std::to_string(rev) + "\t" + (cause.empty() ? "<none>" : cause) + "\n";
  }
  k.out << head << "\n" << goTabwrite(table, 2) << "\n";
  return 0;
}

Json withoutHash(Json tmpl) {
  if (tmpl.contains("metadata") && tmpl["metadata"].contains("labels")) tmpl["metadata"]["labels"].erase(kHashLabel);
  return tmpl;
}

int rolloutUndo(Kubectl& k, const Target& t, const std::string& dryRun) {
  long long toRevision = k.args.has("to-revision") ? std::atoll(k.args.get("to-revision").c_str()) : 0;
  std::string head = t.type->kindPrefix() + "/" + t.name;
  if (toRevision < 0) throw CliError("error: unable to find specified revision " + std::to_string(toRevision) + " in history");
  Json d = k.client().get(t.type->itemPath(t.ns, t.name));
  if (d["spec"].value("paused", false))
    throw CliError("error: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and "
                   "try again");
  auto revs = history(k, d);
  revs.erase(0);
  if (revs.empty()) throw CliError("error: no rollout history found for deployment \"" + t.name + "\"");
  Json target;
  if (toRevision == 0) {
    if (revs.size() < 2) throw CliError("error: no rollout history found for deployment \"" + t.name + "\"");
    target = std::prev(revs.end(), 2)->second;  // the previous revision
    toRevision = std::prev(revs.end(), 2)->first;
  } else {
    auto it = revs.find(toRevision);
    if (it == revs.end())
      throw CliError("error: unable to find specified revision " + std::to_string(toRevision) + " in history");
    target = it->second;
  }
  Json tmpl = withoutHash(target["spec"]["template"]);
  std::string suffix = dryRun == "client" ? " (dry run)" : dryRun == "server" ? " (server dry run)" : "";
  if (tmpl == withoutHash(d["spec"]["template"])) {
    k.out << head << " skipped rollback (current template already matches revision " << toRevision << ")" << suffix
          << "\n";
    return 0;
  }
  if (dryRun != "client") {
    // The ReplicaSet's annotations carry over (change-cause and the like),
    // except the ones the controller and apply own.
    static const char* skip[] = {"kubectl.kubernetes.io/last-applied-configuration", kRevision,
                                 "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                                 "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"};
    Json annotations = Json::object();
    Json current = metaOf(d).value("annotations", Json::object());
    for (auto* key : skip)
      if (current.contains(key)) annotations[key] = current[key];
    const Json targetAnnotations = metaOf(target).value("annotations", Json::object());
    for (auto& item : targetAnnotations.items()) {
      const std::string& key = item.key();  // (clang 14 cannot capture a structured binding)
      if (std::none_of(std::begin(skip), std::end(skip), [&](const char* s) { return key == s; }))
        annotations[key] = item.value();
    }
    Json patch = Json::array({{{"op", "replace"}, {"path", "/spec/template"}, {"value", tmpl}},
                              {{"op", "replace"}, {"path", "/metadata/annotations"}, {"value", annotations}}});
    try {
      k.client().call("PATCH", t.type->itemPath(t.ns, t.name) + (dryRun == "server" ? "?dryRun=All" : ""), patch,
                      "application/json-patch+json");
    } catch (const StatusError& e) {
      throw CliError("error: failed restoring revision " + std::to_string(toRevision) + ": " + e.what());
    }
  }
  k.out << head << " rolled back" << suffix << "\n";
  return 0;
}

std::string nowLocalRfc3339() {
  time_t now = std::time(nullptr);
  struct tm tm {};
  localtime_r(&now, &tm);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  std::string s = buf;  // +0000 -> Z, +0100 -> +01:00 (Go's RFC 3339)
  if (s.size() >= 5 && s.compare(s.size() - 5, 5, "+0000") == 0) return s.substr(0, s.size() - 5) + "Z";
  return s.insert(s.size() - 2, ":");
}

// restart, pause, resume: a strategic-merge patch, or kubectl's error when
// the Deployment is already in that state.
int rolloutPatch(Kubectl& k, const Target& t, const std::string& verb, const std::string& dryRun,
                 std::vector<std::string>& errors) {
  Json d = k.client().get(t.type->itemPath(t.ns, t.name));
  bool paused = d["spec"].value("paused", false);
  std::string what = t.type->groupResource() + " \"" + t.name + "\" ";
  Json patch;
  std::string done;
  if (verb == "restart") {
    if (paused) {
      errors.push_back("error: " + what + "can't restart paused deployment (run rollout resume first)");
      return 1;
    }
    patch = {{"spec", {{"template", {{"metadata", {{"annotations", {{"kubectl.kubernetes.io/restartedAt", nowLocalRfc3339()}}}}}}}}}};
    done = "restarted";
  } else if (verb == "pause") {
    if (paused) {
      errors.push_back("error: " + what + "is already paused");
      return 1;
    }
    patch = {{"spec", {{"paused", true}}}};
    done = "paused";
  } else {
    if (!paused) {
      errors.push_back("error: " + what + "is not paused");
      return 1;
    }
    patch = {{"spec", {{"paused", nullptr}}}};
    done = "resumed";
  }
  if (dryRun != "client")
    k.client().call("PATCH",
                    t.type->itemPath(t.ns, t.name) + queryString(dryRun == "server"
                                                                     ? std::vector<std::pair<std::string, std::string>>{{"dryRun", "All"}, {"fieldManager", "kubectl-rollout"}}
                                                                     : std::vector<std::pair<std::string, std::string>>{{"fieldManager", "kubectl-rollout"}}),
                    patch, "application/strategic-merge-patch+json");
  k.out << t.type->kindPrefix() << "/" << t.name << " " << done
        << (dryRun == "client" ? " (dry run)" : dryRun == "server" ? " (server dry run)" : "") << "\n";
  return 0;
}

}  // namespace

int cmdRollout(Kubectl& k) {
  auto pos = k.args.positional;
  static const std::vector<std::string> subs = {"history", "pause", "restart", "resume", "status", "undo"};
  if (pos.empty()) {
    // Like kubectl: the command's help on stdout, exit code 1.
    k.out << "Manage the rollout of one or many resources (k1s: deployments).\n\nAvailable Commands:\n"
             "  history       View rollout history\n  pause         Mark the provided resource as paused\n"
             "  restart       Restart a resource\n  resume        Resume a paused resource\n"
             "  status        Show the status of the rollout\n  undo          Undo a previous rollout\n\n"
             "Usage:\n  k1s rollout SUBCOMMAND [options]\n";
    return 1;
  }
  std::string sub = pos[0];
  if (std::find(subs.begin(), subs.end(), sub) == subs.end())
  {
    std::string all;
    for (auto& w : pos) all += (all.empty() ? "" : " ") + w;
    throw CliError("error: unknown command \"" + all + "\"\nSee 'k1s rollout -h' for help and examples");
  }
  pos.erase(pos.begin());
  std::string dryRun = dryRunMode(k);
  auto ts = targets(k, pos);
  requireDeployments(ts, sub);
  if (sub == "status") {
    if (ts.size() != 1) throw CliError("error: rollout status is only supported on individual resources and resource collections");
    return rolloutStatus(k, ts[0]);
  }
  int rc = 0;
  std::vector<std::string> errors;
  for (auto& t : ts) {
    if (sub == "history") rc |= rolloutHistory(k, t);
    else if (sub == "undo") rc |= rolloutUndo(k, t, dryRun);
    else rc |= rolloutPatch(k, t, sub, dryRun, errors);
  }
  for (auto& e : errors) k.err << e << "\n";
  return rc ? 1 : 0;
}

}  // namespace k1s::cli
