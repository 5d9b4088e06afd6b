// Import of docker-save archives, OCI image archives and OCI layout directories into the store.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "common/log.h"
#include "kubelet/images.h"
#include "kubelet/images_fs.h"
#include "kubelet/images_layer.h"
#include "kubelet/images_store.h"

namespace k1s {

using namespace images;

namespace {

const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";

// One image found in an archive, before anything is written to the store.
struct PendingImage {
  std::vector<std::string> refs;        // normalized
  std::string manifest;                 // bytes; empty for docker save (synthesized on import)
  std::string configPath;               // file in the unpacked source
  std::string configDigest;             // expected, when the source states it
  std::vector<std::string> layerPaths;  // files in the unpacked source
  std::vector<std::string> layerDigests;  // expected blob digests (OCI only)
  std::vector<int64_t> layerSizes;        // from the manifest (-1: unknown)
};

// What this import created, removed again when it fails.
struct Created {
  std::vector<std::string> paths;
};

// A file named by an archive, resolved (symlinks too) and kept inside the source directory.
std::string sourceFile(const std::string& src, const std::string& rel) {
  std::string full;
  try {
    full = realPath(src + "/" + rel);
  } catch (const std::exception&) {
    throw std::runtime_error("archive lacks " + rel);
  }
  if (full.compare(0, src.size() + 1, src + "/") != 0) throw std::runtime_error("archive path " + rel + " leaves the archive");
  struct stat st {};
  if (stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw std::runtime_error("archive entry " + rel + " is not a file");
  return full;
}

Json parseJsonFile(const std::string& path, const std::string& what) {
  Json j = Json::parse(readFile(path), nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(what + " is not valid JSON");
  return j;
}

// Reads a small blob of an OCI layout, verifying its digest.
std::string readVerifiedBlob(const std::string& src, const std::string& digest) {
  std::string data = readFile(sourceFile(src, "blobs/sha256/" + digestHex(digest)));
  std::string got = "sha256:" + sha256Hex(data);
  if (got != digest) throw std::runtime_error("digest mismatch for blob " + digest + ": content is " + got);
  return data;
}

bool isAmd64Linux(const Json& desc) {
  if (!desc.contains("platform")) return true;  // unknown platform: take it
  const Json& p = desc["platform"];
  return p.value("os", "linux") == "linux" && p.value("architecture", "amd64") == "amd64";
}

void addRef(std::vector<std::string>& refs, const std::string& raw) {
  std::string norm;
  try {
    norm = normalizeImageRef(raw);
  } catch (const std::exception& e) {
    throw std::runtime_error("bad image name \"" + raw + "\" in archive: " + e.what());
  }
  for (auto& r : refs)
    if (r == norm) return;
  refs.push_back(norm);
}

// An image manifest descriptor -> PendingImage (layers and config located, digests to verify).
PendingImage fromOciManifest(const std::string& src, const std::string& manifestDigest) {
  PendingImage img;
  img.manifest = readVerifiedBlob(src, manifestDigest);
  Json m = Json::parse(img.manifest, nullptr, false);
  if (!m.is_object() || !m.contains("config") || !m.contains("layers"))
    throw std::runtime_error("manifest " + manifestDigest + " is not an image manifest");
  img.configDigest = m["config"].value("digest", "");
  img.configPath = sourceFile(src, "blobs/sha256/" + digestHex(img.configDigest));
  for (auto& l : m["layers"]) {
    std::string d = l.value("digest", "");
    img.layerPaths.push_back(sourceFile(src, "blobs/sha256/" + digestHex(d)));
    img.layerDigests.push_back(d);
    img.layerSizes.push_back(l.value("size", int64_t{-1}));
  }
  return img;
}

// Resolves one descriptor of index.json (a manifest, or an index whose linux/amd64 entry is taken).
std::string pickManifest(const std::string& src, const Json& desc, int depth) {
  std::string digest = desc.value("digest", "");
  std::string type = desc.value("mediaType", "");
  if (type == kOciManifest || type == kDockerManifest) return digest;
  std::string data = readVerifiedBlob(src, digest);
  Json j = Json::parse(data, nullptr, false);
  if (j.is_object() && j.contains("layers")) return digest;  // a manifest without a media type
  if (!j.is_object() || !j.contains("manifests") || depth > 4 ||
      (!type.empty() && type != kOciIndex && type != kDockerList))
    throw std::runtime_error("unsupported descriptor " + digest + " (" + type + ")");
  for (auto& d : j["manifests"])
    if (d.contains("platform") && isAmd64Linux(d)) return pickManifest(src, d, depth + 1);
  throw std::runtime_error("image index " + digest + " has no linux/amd64 image");
}

std::vector<PendingImage> readOciLayout(const std::string& src) {
  Json index = parseJsonFile(sourceFile(src, "index.json"), "index.json");
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
    throw std::runtime_error("index.json has no manifests");
  std::vector<PendingImage> out;
  std::map<std::string, size_t> byDigest;  // one image named by several entries gets all the names
  bool skippedPlatform = false;
  for (auto& desc : index["manifests"]) {
    if (!isAmd64Linux(desc)) {
      skippedPlatform = true;
      continue;
    }
    std::string digest = pickManifest(src, desc, 0);
    if (!byDigest.count(digest)) {
      byDigest[digest] = out.size();
      out.push_back(fromOciManifest(src, digest));
    }
    auto& img = out[byDigest[digest]];
    Json ann = desc.value("annotations", Json::object());
    // containerd and docker put the full name here; the OCI annotation may hold only a tag.
    if (ann.contains("io.containerd.image.name")) addRef(img.refs, ann["io.containerd.image.name"]);
    else if (ann.contains("org.opencontainers.image.ref.name")) addRef(img.refs, ann["org.opencontainers.image.ref.name"]);
  }
  if (out.empty())
    throw std::runtime_error(skippedPlatform ? "archive has no linux/amd64 image" : "archive holds no image");
  return out;
}

// docker save: manifest.json lists Config, RepoTags and Layers (paths inside the archive).
std::vector<PendingImage> readDockerSave(const std::string& src) {
  Json manifest = parseJsonFile(sourceFile(src, "manifest.json"), "manifest.json");
  if (!manifest.is_array() || manifest.empty()) throw std::runtime_error("manifest.json lists no image");
  std::vector<PendingImage> out;
  for (auto& entry : manifest) {
    PendingImage img;
    std::string config = entry.value("Config", "");
    img.configPath = sourceFile(src, config);
    // The config's file name is its digest: "<hex>.json" or "blobs/sha256/<hex>".
    std::string base = config.substr(config.rfind('/') == std::string::npos ? 0 : config.rfind('/') + 1);
    if (base.size() >= 64 && isHex64(base.substr(0, 64))) img.configDigest = "sha256:" + base.substr(0, 64);
    if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
      for (auto& t : entry["RepoTags"])
        if (t.is_string()) addRef(img.refs, t.get<std::string>());
    if (!entry.contains("Layers") || !entry["Layers"].is_array()) throw std::runtime_error("manifest.json entry without Layers");
    for (auto& l : entry["Layers"]) {
      img.layerPaths.push_back(sourceFile(src, l.get<std::string>()));
      img.layerSizes.push_back(-1);
    }
    out.push_back(std::move(img));
  }
  return out;
}

void writeBlob(const std::string& root, const std::string& digest, const std::string& data, Created& created) {
  std::string path = blobPath(root, digest);
  if (pathExists(path)) return;
  writeFileAtomic(path, data);
  created.paths.push_back(path);
}

// Verifies and stores one image; returns its manifest digest.
std::string storeImage(const std::string& root, PendingImage& img, Created& created) {
  std::string configData = readFile(img.configPath);
  std::string configDigest = "sha256:" + sha256Hex(configData);
  if (!img.configDigest.empty() && img.configDigest != configDigest)
    throw std::runtime_error("digest mismatch for config " + img.configDigest + ": content is " + configDigest);
  Json config = Json::parse(configData, nullptr, false);
  if (!config.is_object() || !config.contains("rootfs") || !config["rootfs"].contains("diff_ids"))
    throw std::runtime_error("image config " + configDigest + " has no rootfs.diff_ids");
  const Json& diffIds = config["rootfs"]["diff_ids"];
  if (diffIds.size() != img.layerPaths.size())
    throw std::runtime_error("image config lists " + std::to_string(diffIds.size()) + " layers, the manifest " +
                             std::to_string(img.layerPaths.size()));
  Json layers = Json::array();
  for (size_t i = 0; i < img.layerPaths.size(); ++i) {
    LayerDigests d = digestLayer(img.layerPaths[i]);
    std::string blob = "sha256:" + d.blobHex, diff = "sha256:" + d.diffHex;
    if (!img.layerDigests.empty() && img.layerDigests[i] != blob)
      throw std::runtime_error("digest mismatch for layer " + img.layerDigests[i] + ": content is " + blob);
    if (!d.error.empty()) throw std::runtime_error("layer " + std::to_string(i + 1) + " does not decompress: " + d.error);
    if (diffIds[i] != diff)
      throw std::runtime_error("digest mismatch for layer " + std::to_string(i + 1) + ": config says " +
                               diffIds[i].get<std::string>() + ", uncompressed content is " + diff);
    layers.push_back({{"mediaType", d.compressed ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                                 : "application/vnd.oci.image.layer.v1.tar"},
                      {"digest", blob},
                      {"size", d.blobSize}});
    std::string dir = root + "/layers/" + d.diffHex;
    if (isDirectory(dir)) continue;  // shared with an image already here
    std::string tmp = makeTempDir(root + "/layers", ".tmp-");
    chmod(tmp.c_str(), 0755);  // mkdtemp's 0700 would be the mode of layers/<diffid> for good
    try {
      makeDirs(tmp + "/rootfs");
      extractLayer(img.layerPaths[i], realPath(tmp + "/rootfs"));
      if (rename(tmp.c_str(), dir.c_str()) != 0) throw std::runtime_error("cannot store layer: " + std::string(strerror(errno)));
    } catch (...) {
      removeAll(tmp);
      throw;
    }
    created.paths.push_back(dir);
  }
  if (img.manifest.empty()) {  // docker save carries no registry manifest: describe the image as one
    Json m = {{"schemaVersion", 2},
              {"mediaType", kOciManifest},
              {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", configDigest}, {"size", configData.size()}}},
              {"layers", layers}};
    img.manifest = m.dump();
  }
  std::string manifestDigest = "sha256:" + sha256Hex(img.manifest);
  writeBlob(root, configDigest, configData, created);
  writeBlob(root, manifestDigest, img.manifest, created);
  return manifestDigest;
}

// Points each ref at its image; an image a tag moved away from stays as an untagged entry
// (docker's <none>) until removed by ID, since a running pod may still use its layers.
void recordRefs(RefMap& refs, const std::vector<std::string>& names, const std::string& digest) {
  for (auto& name : names) {
    auto it = refs.find(name);
    std::string old = it == refs.end() ? "" : it->second;
    refs[name] = digest;
    if (!old.empty() && old != digest) {
      bool stillTagged = false;
      for (auto& [k, v] : refs) stillTagged |= v == old;
      if (!stillTagged) refs[old] = old;
    }
  }
  if (!names.empty()) {
    refs.erase(digest);  // now tagged
  } else {
    bool tagged = false;
    for (auto& [k, v] : refs) tagged |= v == digest;
    if (!tagged) refs[digest] = digest;
  }
}

}  // namespace

std::vector<std::string> ImageStore::importPath(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error(path + ": " + strerror(errno));
  makeDirs(root_ + "/blobs/sha256");
  makeDirs(root_ + "/layers");
  FileLock lock(root_ + "/.lock");
  removeAll(root_ + "/tmp");  // staging left by an interrupted import
  std::string staging;
  Created created;
  try {
    std::string src;
    if (S_ISDIR(st.st_mode)) {
      src = realPath(path);
    } else {
      staging = makeTempDir(root_ + "/tmp", "import-");
      unpackArchive(path, staging);
      src = realPath(staging);
    }
    std::vector<PendingImage> images;
    if (pathExists(src + "/manifest.json")) images = readDockerSave(src);
    else if (pathExists(src + "/index.json")) images = readOciLayout(src);
    else throw std::runtime_error("not an image archive (no manifest.json or index.json)");
    RefMap refs = loadRefs(root_);
    std::vector<std::string> imported;
    for (auto& img : images) {
      std::string digest = storeImage(root_, img, created);
      recordRefs(refs, img.refs, digest);
      if (img.refs.empty()) {
        imported.push_back("sha256:" + sha256Hex(readFile(img.configPath)));
      } else {
        imported.insert(imported.end(), img.refs.begin(), img.refs.end());
      }
    }
    saveRefs(root_, refs);  // the one step that makes the images visible
    if (!staging.empty()) removeAll(staging);
    return imported;
  } catch (...) {
    if (!staging.empty()) removeAll(staging);
    for (auto& p : created.paths) removeAll(p);
    throw;
  }
}

void ImageStore::importDropDir() {
  std::string dir = root_ + "/import";
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || n[0] == '.') continue;
      if (n.size() > 9 && n.compare(n.size() - 9, 9, ".imported") == 0) continue;
      names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) {
    std::string path = dir + "/" + n;
    try {
      auto refs = importPath(path);
      std::string list;
      for (auto& r : refs) list += (list.empty() ? "" : ",") + r;
      LOGI("images", "imported " << n << " refs=" << list);
      if (rename(path.c_str(), (path + ".imported").c_str()) != 0)
        LOGW("images", "cannot rename " << path << ": " << strerror(errno));
    } catch (const std::exception& e) {
      LOGW("images", "cannot import " << n << ": " << e.what());
    }
  }
}

}  // namespace k1s
