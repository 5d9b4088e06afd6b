// `k1s edit TYPE/NAME`: the object as YAML in $KUBE_EDITOR / $EDITOR (vi),
// saved back with an update carrying the resourceVersion that was edited.
// Like kubectl: comment lines are dropped, an unchanged file cancels, and a
// failure re-opens the file with the errors in its header. When stdin is not
// a terminal (a scripted editor) a failure is one error line and exit 1,
// since re-opening would replay the same edit.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/kubectl_verbs.h"
#include "common/meta.h"
#include "common/yaml.h"

namespace k1s::cli {

namespace {

const char* kHeader =
    "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
    "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
    "# reopened with the relevant failures.\n"
    "#\n";

std::string stripComments(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '#') continue;
    out += line + "\n";
  }
  return out;
}

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Runs the editor on `file` the way kubectl does: a command with spaces goes
// through the shell. Returns false when it failed to run or exited non-zero.
void runEditor(const std::string& file) {
  std::string editor;
  for (const char* var : {"KUBE_EDITOR", "EDITOR"})
    if (const char* v = getenv(var); v && *v) {
      editor = v;
      break;
    }
  if (editor.empty()) editor = "vi";
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0) throw CliError("error: fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    std::string cmd = editor + " \"$1\"";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), "sh", file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    throw CliError("error: there was a problem with the editor \"" + editor + "\"");
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Keeps the user's text when giving up, as kubectl does.
std::string keepCopy(const std::string& text) {
  char tmpl[] = "/tmp/k1s-edit-XXXXXXXXX.yaml";
  int fd = mkstemps(tmpl, 5);
  if (fd < 0) return "";
  if (write(fd, text.data(), text.size()) < 0) {
  }
  close(fd);
  return tmpl;
}

struct Edited {
  const ApiResource* type;
  Json original;
};

}  // namespace

int cmdEdit(Kubectl& k) {
  auto& a = k.args;
  std::vector<ResourceRef> refs;
  if (a.has("filename")) {
    for (auto& so : readObjectsFromFiles(a.all("filename"), a.flag("recursive"))) {
      auto* r = k.discovery().byKind(so.object.value("apiVersion", ""), so.object.value("kind", ""));
      if (!r) throw CliError("error: unable to recognize \"" + so.source + "\"");
      refs.push_back({r, nameOf(so.object), namespaceOf(so.object).empty() ? k.ns() : namespaceOf(so.object), so.object,
                      so.source});
    }
  } else {
    if (a.positional.empty())
      throw CliError("error: You must provide one or more resources by argument or filename.\nExample resource "
                     "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> "
                     "<name>'\n   '<resource>'");
    refs = parseResourceArgs(k, a.positional, k.ns());
  }
  std::vector<Edited> objects;
  for (auto& r : refs) {
    if (r.name.empty()) {
      Json list = k.client().get(r.type->collectionPath(r.namespace_));
      for (auto& o : list.value("items", Json::array())) {
        o["apiVersion"] = r.type->apiVersion();
        o["kind"] = r.type->kind;
        objects.push_back({r.type, o});
      }
    } else {
      Json o = k.client().get(r.type->itemPath(r.namespace_, r.name));
      o["apiVersion"] = r.type->apiVersion();
      o["kind"] = r.type->kind;
      objects.push_back({r.type, o});
    }
  }
  if (objects.empty()) throw CliError("error: no objects passed to edit");
  for (auto& e : objects)
    if (e.original.contains("metadata")) e.original["metadata"].erase("managedFields");

  Json doc;
  if (objects.size() == 1) {
    doc = objects[0].original;
  } else {
    doc = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", Json::array()}, {"metadata", {{"resourceVersion", ""}}}};
    for (auto& e : objects) doc["items"].push_back(e.original);
  }
  std::string body = toYaml(doc);
  std::string original = body;
  bool interactive = isatty(STDIN_FILENO);
  char path[] = "/tmp/k1s-edit-XXXXXXXXX.yaml";
  int fd = mkstemps(path, 5);
  if (fd < 0) throw CliError("error: cannot create a temporary file: " + std::string(strerror(errno)));
  close(fd);
  std::string errorsHeader;
  int rc = 0;
  while (true) {
    std::ofstream(path) << kHeader << errorsHeader << body;
    runEditor(path);
    std::string text = readFile(path);
    std::string stripped = stripComments(text);
    if (trimmed(stripped).empty()) {
      k.err << "Edit cancelled, saved file was empty.\n";
      break;
    }
    if (trimmed(stripped) == trimmed(original)) {
      if (errorsHeader.empty()) {
        k.err << "Edit cancelled, no changes made.\n";
        break;
      }
      // Saved again without fixing what failed: give up, keeping the text.
      k.err << "error: Edit cancelled, no valid changes were saved.\n";
      std::string copy = keepCopy(text);
      if (!copy.empty()) k.err << "A copy of your changes has been stored to \"" << copy << "\"\n";
      rc = 1;
      break;
    }
    std::vector<std::string> failures;
    Json edited;
    try {
      edited = parseYaml(stripped);
    } catch (const std::exception& e) {
      failures.push_back("The edited file had a syntax error: error converting YAML to JSON: yaml: " +
                         std::string(e.what()));
    }
    std::vector<std::string> done;
    if (failures.empty()) {
      std::vector<Json> items;
      if (objects.size() > 1 && edited.value("kind", "") == "List") items.assign(edited["items"].begin(), edited["items"].end());
      else items.push_back(edited);
      if (items.size() != objects.size()) failures.push_back("the number of objects changed; edit them in place");
      for (size_t i = 0; failures.empty() && i < items.size(); ++i) {
        auto& orig = objects[i].original;
        auto& now = items[i];
        if (!now.is_object() || now.value("apiVersion", "") != orig.value("apiVersion", "") ||
            now.value("kind", "") != orig.value("kind", "") || nameOf(now) != nameOf(orig)) {
          failures.push_back("At least one of apiVersion, kind and name was changed");
          break;
        }
        if (toYaml(now) == toYaml(orig)) continue;
        auto* r = objects[i].type;
        try {
          Json saved = k.client().call("PUT", r->itemPath(r->namespaced ? namespaceOf(orig) : "", nameOf(orig)), now);
          done.push_back(r->kindPrefix() + "/" + nameOf(orig) + " edited");
          saved["apiVersion"] = orig["apiVersion"];
          saved["kind"] = orig["kind"];
          if (saved.contains("metadata")) saved["metadata"].erase("managedFields");
          orig = saved;  // a re-open shows what the server now holds
        } catch (const StatusError& e) {
          std::string msg = e.status.value("message", "");
          std::string what = r->groupResource() + " \"" + nameOf(orig) + "\"";
          if (e.reason() == "Invalid") {
            failures.push_back(what + " was not valid:");
            for (auto& c : e.status.value("details", Json::object()).value("causes", Json::array()))
              failures.push_back("* " + c.value("field", "") + ": " + c.value("message", ""));
            if (failures.back() == what + " was not valid:") failures.push_back("* " + msg);
          } else {
            failures.push_back(formatStatusError(e.status));
          }
        }
      }
    }
    for (auto& d : done) k.out << d << "\n";
    if (failures.empty()) break;
    if (!interactive) {
      std::string line = failures[0];
      for (size_t i = 1; i < failures.size(); ++i) line += " " + failures[i];
      if (line.rfind("error:", 0) != 0 && line.rfind("Error from server", 0) != 0) line = "error: " + line;
      k.err << line << "\n";
      std::string copy = keepCopy(stripped);
      if (!copy.empty()) k.err << "A copy of your changes has been stored to \"" << copy << "\"\n";
      rc = 1;
      break;
    }
    errorsHeader.clear();
    for (auto& f : failures) errorsHeader += "# " + f + "\n";
    errorsHeader += "#\n";
    body = stripped;
    original = stripped;
  }
  unlink(path);
  return rc;
}

}  // namespace k1s::cli
