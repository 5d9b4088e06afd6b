// kubectl's object generators: `create deployment`, `create service TYPE` and `expose`.
// Each builds the object kubectl builds, then creates it (or, with --dry-run=client,
// only prints it), printing what kubectl prints.
#include <fstream>
#include <random>

#include "cli/kubectl_print.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"
#include "common/yaml.h"

namespace k1s::cli {

namespace {

// kubectl's utilrand.String(5).
std::string randomSuffix() {
  static const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
  static std::mt19937 rng(std::random_device{}());
  std::string s;
  for (int i = 0; i < 5; ++i) s += alphabet[rng() % 27];
  return s;
}

// A container name from an image reference, as `kubectl create deployment` derives it.
std::string containerNameFor(const std::string& image) {
  std::string name = image.substr(image.rfind('/') + 1);
  name = name.substr(0, name.find(':'));
  name = name.substr(0, name.find('@'));
  if (name.find_first_of("_.") != std::string::npos) {
    for (auto& c : name)
      if (c == '_' || c == '.') c = '-';
    name += "-" + randomSuffix();
  }
  return name;
}

Json intOrString(const std::string& v) {
  if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos) return std::stoi(v);
  return v;
}

int parsePort(const std::string& v, const std::string& what) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 5)
    throw CliError("error: " + what + " must be a number: " + v);
  return std::stoi(v);
}

// Creates `obj` (of type `r`) or prints it per -o / --dry-run; `verbDone` is "created" or "exposed".
// `failure` ("failed to create deployment") prefixes a refusal as kubectl's create subcommands do;
// empty: the server's refusal as it is (expose).
int createOrPrint(Kubectl& k, const ApiResource& r, Json obj, const std::string& verbDone,
                  const std::string& failure = "") {
  std::string dryRun = dryRunMode(k);
  std::string output = k.args.get("output");
  if (!output.empty() && output != "yaml" && output != "json" && output != "name")
    throw CliError("error: unable to match a printer suitable for the output format \"" + output +
                   "\", allowed formats are: json,name,yaml");
  std::string ns = k.ns();
  if (dryRun != "client") {
    std::string q = std::string("?") + (dryRun == "server" ? "dryRun=All&" : "") + "fieldManager=kubectl-" +
                    (verbDone == "exposed" ? "expose" : "create") + "&fieldValidation=Strict";
    try {
      obj = k.client().call("POST", r.collectionPath(r.namespaced ? ns : "") + q, obj);
    } catch (const StatusError& e) {
      if (failure.empty()) throw;
      throw CliError("error: " + failure + ": " + e.status.value("message", std::string(e.what())));
    }
  } else if (r.namespaced && output != "" && output != "name") {
    // kubectl's client dry run prints the object as built (no namespace unless -n said one).
    if (k.namespaceGiven()) obj["metadata"]["namespace"] = ns;
  }
  std::string suffix = dryRun == "client" ? " (dry run)" : dryRun == "server" ? " (server dry run)" : "";
  if (output == "yaml") {
    k.out << toYaml(obj);
  } else if (output == "json") {
    k.out << toKubectlJson(obj) << "\n";
  } else if (output == "name") {
    k.out << r.kindPrefix() << "/" << nameOf(obj) << "\n";
  } else {
    k.out << r.kindPrefix() << "/" << nameOf(obj) << " " << verbDone << suffix << "\n";
  }
  return 0;
}

std::string exactlyOneName(Kubectl& k, size_t first, const std::string& cmd) {
  size_t n = k.args.positional.size() > first ? k.args.positional.size() - first : 0;
  if (n != 1)
    throw CliError("error: exactly one NAME is required, got " + std::to_string(n) + "\nSee 'k1s " + cmd +
                   " -h' for help and examples");
  return k.args.positional[first];
}

int createDeployment(Kubectl& k) {
  auto& a = k.args;
  // `create deployment NAME --image=I -- COMMAND ARGS...`: everything after NAME is the command.
  std::vector<std::string> command;
  if (a.positional.size() > 2) command.assign(a.positional.begin() + 2, a.positional.end());
  if (!a.has("image")) throw CliError("error: required flag(s) \"image\" not set");
  if (a.positional.size() < 2)
    throw CliError("error: exactly one NAME is required, got 0\nSee 'k1s create deployment -h' for help and examples");
  std::string name = a.positional[1];
  auto images = a.all("image");
  if (images.size() > 1 && !command.empty())
    throw CliError("error: cannot specify multiple --image options and command");
  Json labels = {{"app", name}};
  Json containers = Json::array();
  for (auto& img : images) {
    Json c = {{"name", containerNameFor(img)}, {"image", img}, {"resources", Json::object()}};
    if (!command.empty()) c["command"] = command;
    containers.push_back(c);
  }
  if (a.has("port")) {
    int p = parsePort(a.get("port"), "port");
    if (p > 0) containers[0]["ports"] = Json::array({{{"containerPort", p}}});
  }
  int replicas = 1;
  if (a.has("replicas")) {
    try {
      replicas = std::stoi(a.get("replicas"));
    } catch (const std::exception&) {
      throw CliError("error: invalid argument \"" + a.get("replicas") +
                     "\" for \"-r, --replicas\" flag: strconv.ParseInt: parsing \"" + a.get("replicas") +
                     "\": invalid syntax\nSee 'k1s create deployment --help' for usage.");
    }
  }
  Json d = {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", name}, {"creationTimestamp", nullptr}, {"labels", labels}}},
            {"spec",
             {{"replicas", replicas},
              {"selector", {{"matchLabels", labels}}},
              {"strategy", Json::object()},
              {"template",
               {{"metadata", {{"creationTimestamp", nullptr}, {"labels", labels}}},
                {"spec", {{"containers", containers}}}}}}},
            {"status", Json::object()}};
  return createOrPrint(k, k.resolve("deployments.apps"), d, "created", "failed to create deployment");
}

int createService(Kubectl& k) {
  auto& a = k.args;
  static const std::map<std::string, std::string> types = {
      {"clusterip", "ClusterIP"}, {"nodeport", "NodePort"}, {"loadbalancer", "LoadBalancer"},
      {"externalname", "ExternalName"}};
  if (a.positional.size() < 2 || !types.count(a.positional[1])) {
    k.err << "Create a service using a specified subcommand.\n\nAliases:\nservice, svc\n\nAvailable Commands:\n"
             "  clusterip      Create a ClusterIP service\n  externalname   Create an ExternalName service\n"
             "  loadbalancer   Create a LoadBalancer service\n  nodeport       Create a NodePort service\n\n"
             "Usage:\n  k1s create service [flags] [options]\n\nUse \"k1s create service <command> --help\" for more "
             "information about a given command.\nUse \"k1s options\" for a list of global command-line options "
             "(applies to all commands).\n";
    return 1;
  }
  std::string sub = a.positional[1], type = types.at(sub);
  std::string name = exactlyOneName(k, 2, "create service " + sub);
  Json spec = Json::object();
  Json labels = {{"app", name}};
  if (type == "ExternalName") {
    if (!a.has("external-name")) throw CliError("error: required flag(s) \"external-name\" not set");
    spec = {{"type", type}, {"externalName", a.get("external-name")}};
  } else {
    std::string clusterIP = a.get("clusterip");
    auto tcps = a.all("tcp");
    if (tcps.empty() && clusterIP != "None")
      throw CliError("error: at least one tcp port specifier must be provided");
    Json ports = Json::array();
    for (auto& t : tcps) {
      auto colon = t.find(':');
      std::string port = t.substr(0, colon), target = colon == std::string::npos ? port : t.substr(colon + 1);
      Json p = {{"name", colon == std::string::npos ? port : port + "-" + target},
                {"port", parsePort(port, "port")},
                {"protocol", "TCP"},
                {"targetPort", intOrString(target)}};
      if (a.has("node-port") && std::stoi(a.get("node-port")) > 0) p["nodePort"] = std::stoi(a.get("node-port"));
      ports.push_back(p);
    }
    if (!ports.empty()) spec["ports"] = ports;
    spec["selector"] = labels;
    spec["type"] = type;
    if (!clusterIP.empty()) spec["clusterIP"] = clusterIP;
  }
  Json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", name}, {"creationTimestamp", nullptr}, {"labels", labels}}},
              {"spec", spec},
              {"status", {{"loadBalancer", Json::object()}}}};
  if (type == "ExternalName") svc["metadata"].erase("labels"), svc["spec"].erase("selector");
  return createOrPrint(k, k.resolve("services"), svc, "created", "failed to create " + type + " service");
}

// `create configmap NAME [--from-literal=K=V]... [--from-file=[K=]FILE]...` (files, not directories).
int createConfigMap(Kubectl& k) {
  auto& a = k.args;
  std::string name = exactlyOneName(k, 1, "create configmap");
  Json data = Json::object();
  auto put = [&](const std::string& key, const std::string& value) {
    if (data.contains(key))
      throw CliError("error: cannot add key \"" + key +
                     "\", another key by that name already exists in Data for ConfigMap \"" + name + "\"");
    data[key] = value;
  };
  for (auto& lit : a.all("from-literal")) {
    auto eq = lit.find('=');
    if (eq == std::string::npos || eq == 0)
      throw CliError("error: invalid literal source " + lit + ", expected key=value");
    put(lit.substr(0, eq), lit.substr(eq + 1));
  }
  for (auto& src : a.all("from-file")) {
    auto eq = src.find('=');
    std::string path = eq == std::string::npos ? src : src.substr(eq + 1);
    std::string key = eq == std::string::npos ? path.substr(path.rfind('/') + 1) : src.substr(0, eq);
    std::ifstream in(path);
    if (!in) throw CliError("error: error reading " + path + ": no such file or directory");
    put(key, std::string((std::istreambuf_iterator<char>(in)), {}));
  }
  Json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"creationTimestamp", nullptr}}}};
  if (!data.empty()) cm["data"] = data;
  return createOrPrint(k, k.resolve("configmaps"), cm, "created", "failed to create configmap");
}

}  // namespace

// Called by cmdCreate for `create deployment|service ...`; -1 when the subcommand is not one of these.
int createFromGenerator(Kubectl& k) {
  auto& pos = k.args.positional;
  if (pos.empty()) return -1;
  if (pos[0] == "deployment" || pos[0] == "deploy") return createDeployment(k);
  if (pos[0] == "service" || pos[0] == "svc") return createService(k);
  if (pos[0] == "configmap" || pos[0] == "cm") return createConfigMap(k);
  if (pos[0] == "namespace" || pos[0] == "ns") return -1;
  std::string all;
  for (auto& p : pos) all += (all.empty() ? "" : " ") + p;
  throw CliError("error: Unexpected args: [" + all + "]\nSee 'k1s create -h' for help and examples");
}

int cmdExpose(Kubectl& k) {
  auto& a = k.args;
  if (a.positional.empty() && !a.has("filename"))
    throw CliError("error: You must provide one or more resources by argument or filename.\nExample resource "
                   "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n"
                   "   '<resource>'");
  auto refs = parseResourceArgs(k, a.positional, k.ns());
  if (refs.empty() || refs[0].name.empty()) throw CliError("error: resource(s) were provided, but no name was specified");
  auto& ref = refs[0];
  std::string kind = ref.type->kind;
  if (kind != "Pod" && kind != "Service" && kind != "Deployment" && kind != "ReplicaSet" &&
      kind != "ReplicationController")
    throw CliError("error: cannot expose a " + kind);
  Json obj = k.client().get(ref.type->itemPath(ref.namespace_, ref.name));
  // The selector: the pod's labels, the Service's selector, the workload's matchLabels.
  Json selector;
  if (kind == "Pod") {
    selector = metaOf(obj).value("labels", Json::object());
  } else if (kind == "Service" || kind == "ReplicationController") {
    selector = obj["spec"].value("selector", Json::object());
  } else {
    Json sel = obj["spec"].value("selector", Json::object());
    if (sel.contains("matchExpressions") && !sel["matchExpressions"].empty())
      throw CliError("error: couldn't convert expressions to map-based selector format");
    selector = sel.value("matchLabels", Json::object());
  }
  if (a.has("selector")) {
    selector = Json::object();
    std::string s = a.get("selector");
    size_t start = 0;
    while (start < s.size()) {
      size_t comma = s.find(',', start);
      if (comma == std::string::npos) comma = s.size();
      std::string part = s.substr(start, comma - start);
      auto eq = part.find('=');
      if (eq != std::string::npos) selector[part.substr(0, eq)] = part.substr(eq + 1);
      start = comma + 1;
    }
  }
  if (selector.empty())
    throw CliError("error: couldn't retrieve selectors via --selector flag or introspection: the " + kind +
                   " has no labels to select on");
  // Ports: --port, else every port the object declares.
  struct P {
    int port;
    std::string protocol;
  };
  std::vector<P> ports;
  std::string protocol = a.get("protocol");
  if (a.has("port")) {
    ports.push_back({parsePort(a.get("port"), "port"), protocol.empty() ? "TCP" : protocol});
  } else {
    Json podSpec = kind == "Pod" ? obj["spec"] : obj["spec"].value("template", Json::object()).value("spec", Json::object());
    if (kind == "Service") {
      for (auto& p : obj["spec"].value("ports", Json::array()))
        ports.push_back({p.value("port", 0), protocol.empty() ? p.value("protocol", "TCP") : protocol});
    } else {
      for (auto& c : podSpec.value("containers", Json::array()))
        for (auto& p : c.value("ports", Json::array()))
          ports.push_back({p.value("containerPort", 0), protocol.empty() ? p.value("protocol", "TCP") : protocol});
    }
  }
  if (ports.empty()) throw CliError("error: couldn't find port via --port flag or introspection");
  Json specPorts = Json::array();
  for (size_t i = 0; i < ports.size(); ++i) {
    Json p = {{"port", ports[i].port}, {"protocol", ports[i].protocol}};
    if (ports.size() > 1) p["name"] = "port-" + std::to_string(i + 1);
    p["targetPort"] = a.has("target-port") ? intOrString(a.get("target-port")) : Json(ports[i].port);
    specPorts.push_back(p);
  }
  Json spec = {{"ports", specPorts}, {"selector", selector}};
  if (a.has("type")) spec["type"] = a.get("type");
  if (a.has("cluster-ip")) spec["clusterIP"] = a.get("cluster-ip");
  Json meta = {{"name", a.get("name", ref.name)}, {"creationTimestamp", nullptr}};
  Json labels = metaOf(obj).value("labels", Json::object());
  if (labels.is_object() && !labels.empty()) meta["labels"] = labels;
  Json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", meta},
              {"spec", spec},
              {"status", {{"loadBalancer", Json::object()}}}};
  return createOrPrint(k, k.resolve("services"), svc, "exposed");
}

}  // namespace k1s::cli
