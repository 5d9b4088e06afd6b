// `k1s diff -f FILE`: what `apply` would change. Each object's live state
// and its server-side dry-run apply result are written as YAML into two temp
// directories and compared with `diff -u -N` ($KUBECTL_EXTERNAL_DIFF
// overrides), like kubectl. Exit code: 0 same, 1 different, >1 error.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <fstream>
#include <sstream>

#include "cli/kubectl_apply.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"
#include "common/yaml.h"

namespace k1s::cli {

namespace {

// Fields that change on every write and mean nothing to the reader.
Json forDiff(Json obj) {
  if (obj.is_null()) return obj;
  if (obj.contains("metadata") && obj["metadata"].is_object()) obj["metadata"].erase("managedFields");
  // Secrets: show that a value changed without printing it (kubectl masks with stars).
  if (obj.value("kind", "") == "Secret")
    for (auto* key : {"data", "stringData"})
      if (obj.contains(key) && obj[key].is_object())
        for (auto& [k, v] : obj[key].items()) v = "***";
  return obj;
}

Json openapiDoc(Kubectl& k, const ApiResource& r) {
  try {
    Json root = k.client().get("/openapi/v3");
    std::string path = r.group.empty() ? "api/" + r.version : "apis/" + r.group + "/" + r.version;
    std::string url = root.value("paths", Json::object()).value(path, Json::object()).value("serverRelativeURL", "");
    if (!url.empty()) return k.client().get(url);
  } catch (const std::exception&) {
  }
  return nullptr;
}

// The object as `apply` would leave it, computed by the server (dryRun=All).
Json mergedObject(Kubectl& k, const ApiResource& r, Json obj, const std::string& ns, const Json& live, Json& docCache) {
  std::string q = "?dryRun=All&fieldManager=kubectl-client-side-apply&fieldValidation=Strict";
  if (k.args.flag("server-side")) {
    q = "?dryRun=All&fieldManager=kubectl&fieldValidation=Strict" +
        std::string(k.args.flag("force-conflicts") ? "&force=true" : "");
    return k.client().call("PATCH", r.itemPath(ns, nameOf(obj)) + q, obj, "application/apply-patch+yaml");
  }
  Json modified = withLastApplied(obj);
  if (docCache.is_null()) docCache = openapiDoc(k, r);
  ApplyPlan plan = planApply(modified, live, listStrategiesFromOpenApi(docCache, r.apiVersion(), r.kind), true);
  if (plan.action == ApplyPlan::Create) return k.client().call("POST", r.collectionPath(ns) + q, plan.body);
  if (plan.action == ApplyPlan::Unchanged) return live;
  return k.client().call("PATCH", r.itemPath(ns, nameOf(obj)) + q, plan.body, "application/strategic-merge-patch+json");
}

std::string makeTempDir(const std::string& prefix) {
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw CliError("error: cannot create a temporary directory: " + std::string(strerror(errno)));
  return buf.data();
}

void removeTree(const std::string& dir) {
  pid_t pid = fork();
  if (pid == 0) {
    execlp("rm", "rm", "-rf", "--", dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  if (pid > 0) waitpid(pid, &st, 0);
}

// Runs the diff program on the two directories; returns its exit status.
int runDiff(const std::string& live, const std::string& merged) {
  std::vector<std::string> argv;
  const char* external = getenv("KUBECTL_EXTERNAL_DIFF");
  if (external && *external) {
    std::istringstream words(external);
    std::string w;
    while (words >> w) argv.push_back(w);
  } else {
    argv = {"diff", "-u", "-N"};
  }
  argv.push_back(live);
  argv.push_back(merged);
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0) throw CliError("error: fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    fprintf(stderr, "error: failed to run \"%s\": %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

}  // namespace

int cmdDiff(Kubectl& k) {
  auto files = k.args.all("filename");
  if (files.empty()) {
    k.err << "error: must specify one of -f and -k\n";
    return 2;
  }
  std::vector<SourcedObject> objects;
  try {
    objects = readObjectsFromFiles(files, k.args.flag("recursive"));
  } catch (const CliError& e) {
    k.err << e.what() << "\n";
    return 2;  // errors are > 1 so scripts can tell them from "differs"
  }
  std::string liveDir = makeTempDir("LIVE"), mergedDir = makeTempDir("MERGED");
  int rc = 0;
  try {
    std::map<std::string, Json> docs;
    for (auto& so : objects) {
      Json obj = so.object;
      auto* r = k.discovery().byKind(obj.value("apiVersion", ""), obj.value("kind", ""));
      if (!r)
        throw CliError("error: resource mapping not found for name: \"" + nameOf(obj) + "\" namespace: \"" +
                       namespaceOf(obj) + "\" from \"" + so.source + "\": no matches for kind \"" +
                       obj.value("kind", "") + "\" in version \"" + obj.value("apiVersion", "") + "\"");
      std::string ns;
      if (r->namespaced) {
        ns = namespaceOf(obj).empty() ? k.ns() : namespaceOf(obj);
        obj["metadata"]["namespace"] = ns;
      }
      Json live;
      auto reply = k.client().request("GET", r->itemPath(ns, nameOf(obj)));
      if (reply.status != 404) {
        throwForReply(reply);
        live = Json::parse(reply.body);
      }
      Json merged = mergedObject(k, *r, obj, ns, live, docs[r->apiVersion()]);
      // kubectl's file names: group.version.Kind.namespace.name
      std::string file = (r->group.empty() ? "" : r->group + ".") + r->version + "." + r->kind + "." +
                         (ns.empty() ? "" : ns + ".") + nameOf(obj);
      if (!live.is_null()) std::ofstream(liveDir + "/" + file) << toYaml(forDiff(live));
      std::ofstream(mergedDir + "/" + file) << toYaml(forDiff(merged));
    }
    rc = runDiff(liveDir, mergedDir);
  } catch (const StatusError& e) {
    k.err << formatStatusError(e.status) << "\n";
    rc = 2;
  } catch (const CliError& e) {
    k.err << e.what() << "\n";
    rc = 2;
  }
  removeTree(liveDir);
  removeTree(mergedDir);
  return rc;
}

}  // namespace k1s::cli
