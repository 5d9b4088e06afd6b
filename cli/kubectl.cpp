// `k1s <verb> ...`: the kubectl-compatible client. Parses flags, dispatches to
// the verb, and prints failures the way kubectl does (exit code 1).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "cli/image_cmd.h"
#include "cli/kubectl_verbs.h"
#include "common/yaml.h"

namespace k1s::cli {

const ConnectionConfig& Kubectl::connection() {
  if (!conn_) {
    ConnectionFlags f;
    f.kubeconfig = args.get("kubeconfig");
    f.context = args.get("context");
    f.server = args.get("server");
    f.token = args.get("token");
    f.namespace_ = args.get("namespace");
    f.insecure = args.flag("insecure-skip-tls-verify");
    conn_ = std::make_unique<ConnectionConfig>(loadConnection(f));
  }
  return *conn_;
}

RestClient& Kubectl::client() {
  if (!client_) client_ = std::make_unique<RestClient>(connection());
  return *client_;
}

Discovery& Kubectl::discovery() {
  if (!discovery_) discovery_ = std::make_unique<Discovery>(Discovery::load(client()));
  return *discovery_;
}

std::string Kubectl::ns() {
  if (args.has("namespace")) return args.get("namespace");
  std::string n = connection().namespace_;
  return n.empty() ? "default" : n;
}

const ApiResource& Kubectl::resolve(const std::string& type) {
  if (auto* r = discovery().resolve(type)) return *r;
  throw CliError("error: the server doesn't have a resource type \"" + type + "\"");
}

std::vector<const ApiResource*> Kubectl::resolveMany(const std::string& type) {
  auto v = discovery().resolveMany(type);
  if (v.empty()) throw CliError("error: the server doesn't have a resource type \"" + type + "\"");
  return v;
}

static std::vector<std::string> splitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

std::vector<ResourceRef> parseResourceArgs(Kubectl& k, const std::vector<std::string>& pos, const std::string& ns) {
  std::vector<ResourceRef> refs;
  if (pos.empty()) return refs;
  if (pos[0].find('/') != std::string::npos) {
    for (auto& a : pos) {
      auto slash = a.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == a.size())
        throw CliError("error: arguments in resource/name form must have a single resource and name");
      auto& r = k.resolve(a.substr(0, slash));
      refs.push_back({&r, a.substr(slash + 1), r.namespaced ? ns : "", nullptr, ""});
    }
    return refs;
  }
  for (size_t i = 1; i < pos.size(); ++i)
    if (pos[i].find('/') != std::string::npos)
      throw CliError(
          "error: there is no need to specify a resource type as a separate argument when passing arguments in "
          "resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource "
          "resource/<resource_name>'");
  for (auto& type : splitCommas(pos[0])) {
    auto types = pos.size() > 1 ? std::vector<const ApiResource*>{&k.resolve(type)} : k.resolveMany(type);
    for (auto* r : types) {
      if (pos.size() == 1) {
        refs.push_back({r, "", r->namespaced ? ns : "", nullptr, ""});
      } else {
        for (size_t i = 1; i < pos.size(); ++i) refs.push_back({r, pos[i], r->namespaced ? ns : "", nullptr, ""});
      }
    }
  }
  return refs;
}

static bool hasManifestExtension(const std::string& name) {
  for (const char* ext : {".yaml", ".yml", ".json"}) {
    size_t n = strlen(ext);
    if (name.size() >= n && name.compare(name.size() - n, n, ext) == 0) return true;
  }
  return false;
}

static void collectFiles(const std::string& dir, bool recursive, std::vector<std::string>& out) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());  // Go's filepath.Walk visits in lexical order
  for (auto& n : names) {
    std::string p = dir + "/" + n;
    struct stat st {};
    if (stat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (recursive) collectFiles(p, recursive, out);
    } else if (hasManifestExtension(n)) {
      out.push_back(p);
    }
  }
}

static void flattenInto(const Json& obj, const std::string& source, std::vector<SourcedObject>& out) {
  if (!obj.is_object()) {
    throw CliError("error: error validating \"" + source + "\": error validating data: invalid object to validate");
  }
  std::string kind = obj.value("kind", "");
  // "List" (v1's generic list) as well as "ConfigMapList" and the like.
  if (kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "List") == 0 && obj.contains("items")) {
    for (auto& item : obj["items"]) flattenInto(item, source, out);
    return;
  }
  out.push_back({obj, source, ""});
}

// A YAML stream cut at document separators the way kubectl's YAMLReader cuts it: a line
// starting with "---" followed by nothing but blanks or a comment.
static std::vector<std::string> splitYamlDocuments(const std::string& text) {
  std::vector<std::string> docs;
  std::string cur;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 3, "---") == 0) {
      auto rest = line.substr(3);
      auto p = rest.find_first_not_of(" \t\r");
      if (p == std::string::npos || rest[p] == '#') {
        if (!cur.empty()) docs.push_back(cur);
        cur.clear();
        continue;
      }
    }
    cur += line + "\n";
  }
  if (!cur.empty()) docs.push_back(cur);
  return docs;
}

static std::string yamlError(const std::string& source, const std::exception& e) {
  std::string msg = e.what();
  if (msg.compare(0, 6, "yaml: ") == 0) msg = msg.substr(6);  // the parser's messages carry the prefix already
  return "error: error parsing " + source + ": error converting YAML to JSON: yaml: " + msg;
}

std::vector<SourcedObject> readObjectsFromFiles(const std::vector<std::string>& paths, bool recursive,
                                                bool keepGoing) {
  std::vector<SourcedObject> out;
  for (auto& path : paths) {
    std::vector<std::pair<std::string, std::string>> texts;  // source, text
    if (path == "-") {
      std::string text((std::istreambuf_iterator<char>(std::cin)), {});
      texts.emplace_back("STDIN", text);
    } else {
      struct stat st {};
      if (stat(path.c_str(), &st) != 0)
        throw CliError("error: the path \"" + path + "\" does not exist");
      std::vector<std::string> files;
      if (S_ISDIR(st.st_mode))
        collectFiles(path, recursive, files);
      else
        files.push_back(path);
      for (auto& f : files) {
        std::ifstream in(f);
        texts.emplace_back(f, std::string((std::istreambuf_iterator<char>(in)), {}));
      }
    }
    for (auto& [source, text] : texts) {
      if (keepGoing) {
        for (auto& chunk : splitYamlDocuments(text)) {
          std::vector<Json> docs;
          try {
            docs = parseYamlDocuments(chunk);
          } catch (const std::exception& e) {
            out.push_back({nullptr, source, yamlError(source, e)});
            break;
          }
          std::string invalid;
          for (auto& d : docs) {
            if (!d.is_object()) continue;  // flattenInto words this one
            std::vector<std::string> missing;
            if (d.value("apiVersion", "").empty()) missing.push_back("apiVersion not set");
            if (d.value("kind", "").empty()) missing.push_back("kind not set");
            if (missing.size() == 1) invalid = missing[0];
            if (missing.size() == 2) invalid = "[" + missing[0] + ", " + missing[1] + "]";
            if (!invalid.empty()) break;
          }
          if (!invalid.empty()) {
            out.push_back({nullptr, source,
                           "error: error validating \"" + source + "\": error validating data: " + invalid +
                               "; if you choose to ignore these errors, turn validation off with --validate=false"});
            break;
          }
          for (auto& d : docs) flattenInto(d, source, out);
        }
        continue;
      }
      std::vector<Json> docs;
      try {
        docs = parseYamlDocuments(text);
      } catch (const std::exception& e) {
        throw CliError(yamlError(source, e));
      }
      for (auto& d : docs) flattenInto(d, source, out);
    }
  }
  return out;
}

std::string queryString(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (auto& [k, v] : params) {
    q += q.empty() ? "?" : "&";
    q += k + "=";
    for (unsigned char c : v) {
      if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        q += static_cast<char>(c);
      } else {
        char buf[4];
        snprintf(buf, sizeof buf, "%%%02X", c);
        q += buf;
      }
    }
  }
  return q;
}

static int dispatch(Kubectl& k) {
  const std::string& v = k.verb;
  if (v == "get") return cmdGet(k);
  if (v == "apply") return cmdApply(k);
  if (v == "describe") return cmdDescribe(k);
  if (v == "delete") return cmdDelete(k);
  if (v == "create") return cmdCreate(k);
  if (v == "expose") return cmdExpose(k);
  if (v == "label" || v == "annotate") return cmdLabelOrAnnotate(k);
  if (v == "patch") return cmdPatch(k);
  if (v == "api-resources") return cmdApiResources(k);
  if (v == "version") return cmdVersion(k);
  if (v == "proxy") return cmdProxy(k);
  if (v == "logs") return cmdLogs(k);
  if (v == "scale") return cmdScale(k);
  if (v == "rollout") return cmdRollout(k);
  if (v == "wait") return cmdWait(k);
  if (v == "diff") return cmdDiff(k);
  if (v == "edit") return cmdEdit(k);
  if (v == "explain") return cmdExplain(k);
  if (v == "completion") return cmdCompletion(k);
  if (v == "exec") return cmdExec(k);
  if (v == "attach") return cmdAttach(k);
  if (v == "port-forward") return cmdPortForward(k);
  throw CliError("error: unknown command \"" + v + "\" for \"k1s\"");
}

}  // namespace k1s::cli

namespace k1s {

int runKubectl(int argc, char** argv) {
  using namespace k1s::cli;
  if (argc < 1) return 1;
  // `k1s image ...` works on the local data dir with its own flags (cli/image_cmd.cpp).
  if (std::string(argv[0]) == "image") return runImageCommand(argc, argv);
  std::vector<std::string> rest(argv + 1, argv + argc);
  std::string verb = argv[0];
  if (!verb.empty() && verb[0] == '-') {  // flags before the verb, as kubectl allows
    rest.insert(rest.begin(), verb);
    verb = takeVerb(rest);
  }
  try {
    Kubectl k(verb, parseArgs(rest, globalFlags(verb)));
    return dispatch(k);
  } catch (const CliError& e) {
    std::cerr << e.what() << "\n";
  } catch (const StatusError& e) {
    std::cerr << formatStatusError(e.status) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace k1s
