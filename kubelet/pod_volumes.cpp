#include "kubelet/pod_volumes.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/meta.h"

namespace fs = std::filesystem;

namespace k1s {

namespace {

std::string str(const Json& o, const char* k) {
  if (!o.is_object()) return "";
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string readAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string decodeBase64(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    auto pos = chars.find(c);
    if (pos == std::string::npos) continue;
    val = (val << 6) + (int)pos;
    bits += 6;
    if (bits >= 0) {
      out.push_back(char((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// The payload-relative top-level names ("a" for "a/b/c").
std::string topLevel(const std::string& rel) { return rel.substr(0, rel.find('/')); }

std::string timestampDirName() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm u;
  gmtime_r(&ts.tv_sec, &u);
  char b[64];
  strftime(b, sizeof b, "..%Y_%m_%d_%H_%M_%S.", &u);
  return std::string(b) + std::to_string(ts.tv_nsec);
}

bool sameAsCurrent(const fs::path& dir, const VolumePayload& files) {
  fs::path data = dir / "..data";
  std::error_code ec;
  if (!fs::is_directory(data, ec)) return false;
  size_t count = 0;
  for (auto it = fs::recursive_directory_iterator(data, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    ++count;
    std::string rel = fs::relative(it->path(), data).string();
    auto f = files.find(rel);
    if (f == files.end()) return false;
    struct stat st;
    if (stat(it->path().c_str(), &st) != 0 || (int)(st.st_mode & 07777) != f->second.mode) return false;
    if (readAll(it->path()) != f->second.content) return false;
  }
  return !ec && count == files.size();
}

// Payload items of a configMap/secret source: all keys, or only `items`.
void addKeyedSource(VolumePayload& out, const Json& src, const Json& obj, bool secret, int defaultMode,
                    const std::string& objName) {
  std::map<std::string, std::string> data;
  for (const char* f : {"data", "binaryData", "stringData"}) {
    if (!obj.contains(f) || !obj[f].is_object()) continue;
    for (auto& [k, v] : obj[f].items())
      if (v.is_string()) data[k] = (secret && std::string(f) == "data") || std::string(f) == "binaryData" ? decodeBase64(v) : v.get<std::string>();
  }
  const Json& items = src.contains("items") ? src["items"] : Json();
  if (items.is_array() && !items.empty()) {
    for (auto& it : items) {
      std::string key = str(it, "key");
      auto d = data.find(key);
      if (d == data.end()) {
        if (src.value("optional", false)) continue;
        throw VolumeError(std::string(secret ? "secret" : "configmap") + " references non-existent " +
                          (secret ? "secret" : "config") + " key: " + key);
      }
      out[str(it, "path")] = {d->second, it.contains("mode") && it["mode"].is_number_integer() ? it["mode"].get<int>() : defaultMode};
    }
  } else {
    for (auto& [k, v] : data) out[k] = {v, defaultMode};
  }
  (void)objName;
}

void addDownwardSource(VolumePayload& out, const Json& pod, const Json& src, int defaultMode, const EnvContext& ctx) {
  if (!src.contains("items") || !src["items"].is_array()) return;
  for (auto& it : src["items"]) {
    int mode = it.contains("mode") && it["mode"].is_number_integer() ? it["mode"].get<int>() : defaultMode;
    std::string value;
    if (it.contains("fieldRef")) {
      value = podFieldValue(pod, str(it["fieldRef"], "fieldPath"), ctx).value_or("");
    } else if (it.contains("resourceFieldRef")) {
      const Json& ref = it["resourceFieldRef"];
      Json container = Json::object();
      for (auto& c : pod["spec"].value("containers", Json::array()))
        if (str(c, "name") == str(ref, "containerName")) container = c;
      value = resourceFieldValue(pod, container, ref, ctx);
    }
    out[str(it, "path")] = {value, mode};
  }
}

const char* pluginDir(const Json& v) {
  if (v.contains("configMap")) return "kubernetes.io~configmap";
  if (v.contains("secret")) return "kubernetes.io~secret";
  if (v.contains("downwardAPI")) return "kubernetes.io~downward-api";
  if (v.contains("projected")) return "kubernetes.io~projected";
  if (v.contains("hostPath")) return "";
  return "kubernetes.io~empty-dir";
}

bool isProjectedKind(const Json& v) {
  return v.contains("configMap") || v.contains("secret") || v.contains("downwardAPI") || v.contains("projected");
}

bool isMountPoint(const std::string& dir) {
  struct stat a, b;
  if (stat(dir.c_str(), &a) != 0 || stat((dir + "/..").c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

std::string hostPathVolume(const Json& hp) {
  std::string path = str(hp, "path"), type = str(hp, "type");
  std::error_code ec;
  if (type == "DirectoryOrCreate") {
    fs::create_directories(path, ec);
    if (ec) throw VolumeError("hostPath type check failed: " + path + " is not a directory");
  } else if (type == "FileOrCreate") {
    if (!fs::exists(path)) {
      fs::create_directories(fs::path(path).parent_path(), ec);
      std::ofstream(path).close();
    }
  } else if (type == "Directory" && !fs::is_directory(path)) {
    throw VolumeError("hostPath type check failed: " + path + " is not a directory");
  } else if (type == "File" && !fs::is_regular_file(path)) {
    throw VolumeError("hostPath type check failed: " + path + " is not a file");
  } else if (type == "Socket" && !fs::is_socket(path)) {
    throw VolumeError("hostPath type check failed: " + path + " is not a socket file");
  }
  return path;
}

}  // namespace

bool writeAtomicDir(const std::string& dirStr, const VolumePayload& files) {
  fs::path dir(dirStr);
  fs::create_directories(dir);
  if (sameAsCurrent(dir, files)) return false;
  std::string tsName = timestampDirName();
  fs::path ts = dir / tsName;
  fs::create_directories(ts);
  for (auto& [rel, f] : files) {
    fs::path p = ts / rel;
    fs::create_directories(p.parent_path());
    {
      std::ofstream o(p, std::ios::binary | std::ios::trunc);
      o << f.content;
    }
    chmod(p.c_str(), f.mode);
  }
  // Directories are world-readable so non-root containers can traverse them.
  chmod(ts.c_str(), 0755);
  std::error_code ec;
  fs::path oldTarget;
  if (fs::is_symlink(dir / "..data", ec)) oldTarget = fs::read_symlink(dir / "..data", ec);
  fs::remove(dir / "..data_tmp", ec);
  fs::create_symlink(tsName, dir / "..data_tmp");
  // rename(2) replaces the symlink in one step: readers see old or new, never a mix.
  fs::rename(dir / "..data_tmp", dir / "..data");
  std::set<std::string> tops;
  for (auto& [rel, _] : files) tops.insert(topLevel(rel));
  for (auto& t : tops)
    if (!fs::is_symlink(dir / t, ec)) fs::create_symlink(fs::path("..data") / t, dir / t);
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("..", 0) == 0) {
      if (name != "..data" && name != tsName && e.is_directory() && !e.is_symlink()) fs::remove_all(e.path(), ec);
      continue;
    }
    if (!tops.count(name) && e.is_symlink()) fs::remove(e.path(), ec);
  }
  (void)oldTarget;
  return true;
}

VolumePayload volumePayload(const Json& pod, const Json& v, const EnvContext& ctx) {
  VolumePayload out;
  auto keyed = [&](const Json& src, bool secret, int defaultMode) {
    std::string name = secret ? str(src, "secretName") : str(src, "name");
    if (secret && name.empty()) name = str(src, "name");  // projected secret sources use `name`
    auto obj = secret ? ctx.secret(name) : ctx.configMap(name);
    if (!obj) {
      if (src.value("optional", false)) return;
      throw VolumeError(std::string(secret ? "secret \"" : "configmap \"") + name + "\" not found");
    }
    addKeyedSource(out, src, *obj, secret, defaultMode, name);
  };
  auto mode = [](const Json& src) {
    return src.contains("defaultMode") && src["defaultMode"].is_number_integer() ? src["defaultMode"].get<int>() : 0644;
  };
  if (v.contains("configMap")) keyed(v["configMap"], false, mode(v["configMap"]));
  else if (v.contains("secret")) keyed(v["secret"], true, mode(v["secret"]));
  else if (v.contains("downwardAPI")) addDownwardSource(out, pod, v["downwardAPI"], mode(v["downwardAPI"]), ctx);
  else if (v.contains("projected")) {
    int dm = mode(v["projected"]);
    for (auto& s : v["projected"].value("sources", Json::array())) {
      if (s.contains("configMap")) keyed(s["configMap"], false, dm);
      else if (s.contains("secret")) keyed(s["secret"], true, dm);
      else if (s.contains("downwardAPI")) addDownwardSource(out, pod, s["downwardAPI"], dm, ctx);
      // serviceAccountToken: k1s issues no service-account tokens yet.
    }
  }
  return out;
}

std::map<std::string, std::string> setupVolumes(const Json& pod, const EnvContext& ctx, const std::string& podDir) {
  std::map<std::string, std::string> paths;
  for (auto& v : pod["spec"].value("volumes", Json::array())) {
    std::string name = str(v, "name");
    if (v.contains("hostPath")) {
      paths[name] = hostPathVolume(v["hostPath"]);
      continue;
    }
    if (v.contains("persistentVolumeClaim") || v.contains("nfs"))
      throw VolumeError("volume \"" + name + "\": this volume type is not supported by k1s");
    std::string dir = podDir + "/volumes/" + pluginDir(v) + "/" + name;
    fs::create_directories(dir);
    if (isProjectedKind(v)) {
      writeAtomicDir(dir, volumePayload(pod, v, ctx));
    } else {
      chmod(dir.c_str(), 0777);  // emptyDir is writable by any user, as kubelet makes it
      const Json& ed = v.contains("emptyDir") ? v["emptyDir"] : Json::object();
      if (str(ed, "medium") == "Memory" && !isMountPoint(dir)) {
        std::string opts = "mode=0777";
        if (ed.contains("sizeLimit")) {
          int64_t bytes = memoryBytes(ed["sizeLimit"]);
          if (bytes > 0) opts += ",size=" + std::to_string(bytes);
        }
        if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
          throw VolumeError("mount tmpfs for emptyDir \"" + name + "\": " + strerror(errno));
      }
    }
    paths[name] = dir;
  }
  return paths;
}

void refreshVolumes(const Json& pod, const EnvContext& ctx, const std::string& podDir) {
  for (auto& v : pod["spec"].value("volumes", Json::array()))
    if (isProjectedKind(v)) {
      std::string dir = podDir + "/volumes/" + pluginDir(v) + "/" + str(v, "name");
      if (fs::exists(dir)) writeAtomicDir(dir, volumePayload(pod, v, ctx));
    }
}

void teardownVolumes(const std::string& podDir) {
  std::error_code ec;
  fs::path ed = fs::path(podDir) / "volumes" / "kubernetes.io~empty-dir";
  if (fs::is_directory(ed, ec))
    for (auto& e : fs::directory_iterator(ed, ec))
      if (isMountPoint(e.path().string())) umount2(e.path().c_str(), MNT_DETACH);
  fs::remove_all(fs::path(podDir) / "volumes", ec);
}

std::vector<Mount> containerVolumeMounts(const Json& container, const std::map<std::string, std::string>& volumes,
                                         const EnvList& env) {
  std::vector<Mount> out;
  for (auto& vm : container.value("volumeMounts", Json::array())) {
    std::string name = str(vm, "name");
    auto it = volumes.find(name);
    if (it == volumes.end()) throw VolumeError("cannot find volume \"" + name + "\" to mount into container");
    Mount m;
    m.source = it->second;
    m.target = str(vm, "mountPath");
    m.readOnly = vm.value("readOnly", false);
    std::string sub = str(vm, "subPath");
    if (sub.empty() && !str(vm, "subPathExpr").empty()) sub = expandVars(str(vm, "subPathExpr"), env);
    if (!sub.empty()) {
      if (sub.find("..") != std::string::npos || sub[0] == '/')
        throw VolumeError("subPath \"" + sub + "\" must be a relative path without '..'");
      fs::path p = fs::path(it->second) / sub;
      std::error_code ec;
      // kubelet creates a missing subPath as a directory.
      if (!fs::exists(p, ec)) {
        fs::create_directories(p, ec);
        chmod(p.c_str(), 0777);
      }
      // A subPath of a configMap resolves the symlinks once: such mounts do not see updates (as in kube).
      m.source = fs::canonical(p, ec).string();
      if (ec) m.source = p.string();
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace k1s
