// Image references and the read side of the store: lookups, listing, removal, garbage collection.
#include "kubelet/images.h"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>

#include "kubelet/images_fs.h"
#include "kubelet/images_store.h"

namespace k1s {

using namespace images;

// Docker's reference grammar (distribution/reference): a path component is lowercase alphanumerics
// joined by ".", "_", "__" or runs of "-"; a tag is [\w][\w.-]{0,127}.
static bool validPathComponent(const std::string& c) {
  static const std::regex re("[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*");
  return std::regex_match(c, re);
}

std::string normalizeImageRef(const std::string& in) {
  if (in.empty()) throw std::invalid_argument("invalid reference format");
  if (isHex64(in)) return "sha256:" + in;  // a bare image ID, as docker treats 64 hex digits
  if (in.rfind("sha256:", 0) == 0 && isHex64(in.substr(7))) return in;
  std::string name = in, digest, tag;
  if (auto at = name.find('@'); at != std::string::npos) {
    digest = name.substr(at + 1);
    name = name.substr(0, at);
    if (digest.rfind("sha256:", 0) != 0 || !isHex64(digest.substr(7))) throw std::invalid_argument("invalid reference format");
  }
  auto lastSlash = name.rfind('/');
  if (auto colon = name.rfind(':'); colon != std::string::npos && (lastSlash == std::string::npos || colon > lastSlash)) {
    tag = name.substr(colon + 1);
    name = name.substr(0, colon);
    static const std::regex tagRe("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    if (!std::regex_match(tag, tagRe)) throw std::invalid_argument("invalid reference format");
  }
  std::string domain = "docker.io", path = name;
  if (auto first = name.find('/'); first != std::string::npos) {
    std::string head = name.substr(0, first);
    bool hasUpper = std::any_of(head.begin(), head.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (head.find_first_of(".:") != std::string::npos || head == "localhost" || hasUpper) {
      domain = head;
      path = name.substr(first + 1);
    }
  }
  if (domain == "index.docker.io") domain = "docker.io";
  if (domain == "docker.io" && path.find('/') == std::string::npos) path = "library/" + path;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string comp = path.substr(i, j - i);
    i = j + 1;
    if (!validPathComponent(comp)) {
      bool upper = std::any_of(comp.begin(), comp.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      throw std::invalid_argument(upper ? "invalid reference format: repository name must be lowercase"
                                        : "invalid reference format");
    }
  }
  if (tag.empty() && digest.empty()) tag = "latest";
  return domain + "/" + path + (tag.empty() ? "" : ":" + tag) + (digest.empty() ? "" : "@" + digest);
}

namespace images {

std::string blobPath(const std::string& root, const std::string& digest) {
  return root + "/blobs/sha256/" + digestHex(digest);
}

std::string layerRootfs(const std::string& root, const std::string& diffHex) {
  return root + "/layers/" + diffHex + "/rootfs";
}

bool isUntaggedKey(const std::string& key) { return key.rfind("sha256:", 0) == 0; }

RefMap loadRefs(const std::string& root) {
  RefMap out;
  std::string text;
  try {
    text = readFile(root + "/refs.json");
  } catch (const std::exception&) {
    return out;  // a store nothing was imported into yet
  }
  Json j = Json::parse(text, nullptr, false);
  if (j.is_object() && j.contains("refs") && j["refs"].is_object())
    for (auto& [k, v] : j["refs"].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

void saveRefs(const std::string& root, const RefMap& refs) {
  Json j = {{"refs", Json::object()}};
  for (auto& [k, v] : refs) j["refs"][k] = v;
  writeFileAtomic(root + "/refs.json", j.dump(2) + "\n");
}

static std::vector<std::string> stringList(const Json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

ImageConfig parseImageConfig(const Json& config) {
  ImageConfig c;
  if (!config.is_object() || !config.contains("config") || !config["config"].is_object()) return c;
  const Json& cc = config["config"];
  if (cc.contains("Entrypoint")) c.entrypoint = stringList(cc["Entrypoint"]);
  if (cc.contains("Cmd")) c.cmd = stringList(cc["Cmd"]);
  if (cc.contains("Env")) c.env = stringList(cc["Env"]);
  if (cc.contains("WorkingDir") && cc["WorkingDir"].is_string()) c.workingDir = cc["WorkingDir"];
  if (cc.contains("User") && cc["User"].is_string()) c.user = cc["User"];
  if (cc.contains("ExposedPorts") && cc["ExposedPorts"].is_object()) {
    for (auto& [key, _] : cc["ExposedPorts"].items()) {
      auto slash = key.find('/');
      std::string proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
      if (proto != "tcp") continue;
      try {
        int port = std::stoi(key.substr(0, slash));
        if (port > 0 && port < 65536) c.exposedTcpPorts.push_back(port);
      } catch (const std::exception&) {
      }
    }
    std::sort(c.exposedTcpPorts.begin(), c.exposedTcpPorts.end());
  }
  return c;
}

std::optional<ImageInfo> loadImage(const std::string& root, const std::string& ref, const std::string& manifestDigest) {
  try {
    Json manifest = Json::parse(readFile(blobPath(root, manifestDigest)));
    std::string configDigest = manifest.at("config").at("digest");
    Json config = Json::parse(readFile(blobPath(root, configDigest)));
    ImageInfo info;
    info.ref = isUntaggedKey(ref) ? "" : ref;
    info.id = configDigest;
    info.digest = manifestDigest;
    for (auto& l : manifest.at("layers")) info.size += l.value("size", int64_t{0});
    info.config = parseImageConfig(config);
    for (auto& d : config.at("rootfs").at("diff_ids")) info.layers.push_back(layerRootfs(root, digestHex(d)));
    return info;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

static std::vector<std::string> dirEntries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  return out;
}

void collectGarbage(const std::string& root) {
  std::set<std::string> blobs, layers;
  for (auto& [ref, digest] : loadRefs(root)) {
    auto info = loadImage(root, ref, digest);
    if (!info) return;  // cannot tell what that image needs: delete nothing rather than too much
    blobs.insert(digestHex(info->digest));
    blobs.insert(digestHex(info->id));
    for (auto& l : info->layers) layers.insert(l.substr(root.size() + 8, 64));  // root + "/layers/"
  }
  for (auto& name : dirEntries(root + "/blobs/sha256"))
    if (!blobs.count(name)) removeAll(root + "/blobs/sha256/" + name);
  for (auto& name : dirEntries(root + "/layers"))
    if (!layers.count(name)) removeAll(root + "/layers/" + name);
  removeAll(root + "/tmp");
}

}  // namespace images

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

// An ID or a prefix of one (as `k1s image ls` prints it), with or without "sha256:".
static std::string idPrefix(const std::string& ref) {
  std::string hex = ref.rfind("sha256:", 0) == 0 ? ref.substr(7) : ref;
  if (hex.size() < 4 || hex.size() > 64) return "";
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  return hex;
}

// The keys of refs.json a reference names: its tag, or every tag of the image an ID or digest
// names. One image (config) may sit under several manifests (an OCI archive and a docker save of
// it), so IDs select by config digest.
static std::vector<std::string> matchingKeys(const std::string& root, const RefMap& refs, const std::string& ref) {
  std::string norm;
  try {
    norm = normalizeImageRef(ref);
  } catch (const std::exception&) {
  }
  if (!norm.empty() && refs.count(norm)) return {norm};
  std::string wantDigest;
  if (auto at = norm.find('@'); at != std::string::npos) wantDigest = norm.substr(at + 1);
  std::string prefix = wantDigest.empty() ? idPrefix(ref) : "";
  if (wantDigest.empty() && prefix.empty()) return {};
  std::map<std::string, std::string> idOf;  // key -> config digest
  std::set<std::string> ids;
  for (auto& [key, digest] : refs) {
    auto info = loadImage(root, key, digest);
    if (!info) continue;
    idOf[key] = info->id;
    bool hit = wantDigest.empty() ? info->id.compare(7, prefix.size(), prefix) == 0 ||
                                        digest.compare(7, prefix.size(), prefix) == 0
                                  : digest == wantDigest;
    if (hit) ids.insert(info->id);
  }
  if (ids.size() != 1) return {};  // nothing, or an ambiguous prefix
  std::vector<std::string> keys;
  for (auto& [key, id] : idOf)
    if (id == *ids.begin()) keys.push_back(key);
  // Tags before untagged placeholders, so lookups report a name when there is one.
  std::stable_partition(keys.begin(), keys.end(), [](const std::string& k) { return !isUntaggedKey(k); });
  return keys;
}

std::optional<ImageInfo> ImageStore::find(const std::string& ref) const {
  RefMap refs = loadRefs(root_);
  auto keys = matchingKeys(root_, refs, ref);
  if (keys.empty()) return std::nullopt;
  return loadImage(root_, keys.front(), refs[keys.front()]);
}

std::vector<ImageInfo> ImageStore::list() const {
  std::vector<ImageInfo> out;
  for (auto& [key, digest] : loadRefs(root_))
    if (auto info = loadImage(root_, key, digest)) out.push_back(std::move(*info));
  return out;
}

bool ImageStore::remove(const std::string& ref) {
  makeDirs(root_);
  FileLock lock(root_ + "/.lock");
  RefMap refs = loadRefs(root_);
  auto keys = matchingKeys(root_, refs, ref);
  if (keys.empty()) return false;
  // A tag names one tag; an ID or digest names the whole image with all its tags.
  for (auto& k : keys) refs.erase(k);
  saveRefs(root_, refs);
  collectGarbage(root_);
  return true;
}

}  // namespace k1s
