// What the kubectl-style verbs share: parsed flags, the lazily opened
// connection and discovery, the effective namespace. One function per verb.
#pragma once
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/kubectl_args.h"
#include "cli/kubectl_client.h"
#include "cli/kubectl_discovery.h"
#include "common/json.h"

namespace k1s::cli {

class Kubectl {
 public:
  Kubectl(std::string verb, Args args) : verb(std::move(verb)), args(std::move(args)) {}
  std::string verb;
  Args args;
  std::ostream& out = std::cout;
  std::ostream& err = std::cerr;

  RestClient& client();
  Discovery& discovery();
  // -n, else the context's namespace, else "default".
  std::string ns();
  bool namespaceGiven() const { return args.has("namespace"); }
  bool allNamespaces() const { return args.flag("all-namespaces"); }
  // Throws CliError(`error: the server doesn't have a resource type "x"`).
  const ApiResource& resolve(const std::string& type);
  std::vector<const ApiResource*> resolveMany(const std::string& type);

  // Test hook: use this discovery instead of asking the server.
  void setDiscovery(Discovery d) { discovery_ = std::make_unique<Discovery>(std::move(d)); }

 private:
  const ConnectionConfig& connection();
  std::unique_ptr<ConnectionConfig> conn_;
  std::unique_ptr<RestClient> client_;
  std::unique_ptr<Discovery> discovery_;
};

// A resource named on the command line: by TYPE NAME..., TYPE/NAME, or read from -f.
struct ResourceRef {
  const ApiResource* type = nullptr;
  std::string name;       // empty: the whole collection
  std::string namespace_;
  Json object;            // set when read from a file
  std::string source;     // file it came from
};

// Parses `TYPE[,TYPE] [NAME...]` or `TYPE/NAME...` into references (namespace
// filled in from `ns`). Throws CliError with kubectl's wording on bad input.
std::vector<ResourceRef> parseResourceArgs(Kubectl& k, const std::vector<std::string>& positional,
                                           const std::string& ns);

// Objects from -f FILE|DIR|- (YAML or JSON, several documents, List kinds
// flattened). Each object comes with the file it was read from ("STDIN" for -).
struct SourcedObject {
  Json object;
  std::string source;
  std::string error;  // only with keepGoing: this file's stream stopped here (object is null)
};
// keepGoing (apply): as kubectl's stream visitor, documents are taken one by one (split at
// "---" lines) and checked for apiVersion and kind; a document that fails ends its file with
// an error entry, the documents before it and the other files are still returned.
std::vector<SourcedObject> readObjectsFromFiles(const std::vector<std::string>& paths, bool recursive,
                                                bool keepGoing = false);

// Query string helper: "?a=b&c=d" with values percent-encoded; empty if none.
std::string queryString(const std::vector<std::pair<std::string, std::string>>& params);

// --dry-run as kubectl reads it: "" (none), "client" or "server"; a bad value is kubectl's error.
std::string dryRunMode(Kubectl& k);

int cmdGet(Kubectl& k);
int cmdApply(Kubectl& k);
int cmdDescribe(Kubectl& k);
int cmdDelete(Kubectl& k);
int cmdCreate(Kubectl& k);
int createFromGenerator(Kubectl& k);  // cli/kubectl_generate.cpp: create deployment|service; -1 if neither
int cmdExpose(Kubectl& k);
int cmdLabelOrAnnotate(Kubectl& k);  // verb "label" or "annotate"
int cmdPatch(Kubectl& k);
int cmdApiResources(Kubectl& k);
int cmdVersion(Kubectl& k);
int cmdProxy(Kubectl& k);
int cmdLogs(Kubectl& k);
int cmdScale(Kubectl& k);
int cmdRollout(Kubectl& k);
int cmdWait(Kubectl& k);
int cmdDiff(Kubectl& k);
int cmdEdit(Kubectl& k);
int cmdExplain(Kubectl& k);
int cmdCompletion(Kubectl& k);
int cmdExec(Kubectl& k);         // cli/kubectl_exec.cpp
int cmdAttach(Kubectl& k);
int cmdPortForward(Kubectl& k);  // cli/kubectl_portforward.cpp

}  // namespace k1s::cli
