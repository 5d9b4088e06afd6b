// The local OCI image store under <data-dir>/images: no network pulls (offline
// labs). Archives are imported (docker save, OCI archive, OCI layout dir), and
// archives dropped into <data-dir>/images/import/ are imported at start (k3s airgap style).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;  // env as "K=V"
  std::string workingDir, user;
  std::vector<int> exposedTcpPorts;
};

struct ImageInfo {
  std::string ref;                  // normalized: docker.io/kiamol/ch03-numbers-api:latest
  std::string id;                   // sha256:<config digest>
  std::string digest;               // sha256:<manifest digest> (imageID reported in pod status)
  int64_t size = 0;                 // bytes of layers
  ImageConfig config;
  std::vector<std::string> layers;  // extracted layer directories, lowest first (overlay lowerdirs)
};

// kubelet/docker normalization: "kiamol/x" -> "docker.io/kiamol/x:latest", "busybox" -> "docker.io/library/busybox:latest".
std::string normalizeImageRef(const std::string& ref);

class ImageStore {
 public:
  explicit ImageStore(std::string root);  // root = <data-dir>/images
  // Imports an archive or OCI layout directory; returns the refs imported. Throws std::runtime_error
  // with a one-line reason on a bad archive (nothing half-imported stays visible).
  std::vector<std::string> importPath(const std::string& path);
  // Imports every archive in <root>/import (renamed to *.imported on success).
  void importDropDir();
  std::optional<ImageInfo> find(const std::string& ref) const;  // by any ref form or by id
  std::vector<ImageInfo> list() const;
  // Removes the tag (and unreferenced blobs/layers); false when not present.
  bool remove(const std::string& ref);
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace k1s
