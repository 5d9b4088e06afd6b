// Pod volumes under <pod-dir>/volumes/<plugin>/<name>, laid out as kubelet
// does: emptyDir (a directory, or a tmpfs for medium Memory), hostPath, and
// configMap / secret / downwardAPI / projected written by an atomic writer
// (timestamped data dir + `..data` symlink swap) so that updates propagate
// into running containers through their bind mounts.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json.h"
#include "kubelet/pod_spec.h"
#include "kubelet/runtime.h"

namespace k1s {

// A volume that cannot be set up; the message is kube's FailedMount text.
struct VolumeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct VolumeFile {
  std::string content;
  int mode = 0644;
};
using VolumePayload = std::map<std::string, VolumeFile>;  // relative path -> file

// Writes `files` into `dir` atomically; a no-op (returns false) when the
// current content and modes are already equal.
bool writeAtomicDir(const std::string& dir, const VolumePayload& files);

// The payload of a configMap/secret/downwardAPI/projected volume source.
// Throws VolumeError for a missing non-optional object or key.
VolumePayload volumePayload(const Json& pod, const Json& volume, const EnvContext& ctx);

// Sets up (or refreshes) every volume of the pod; returns volume name -> host path.
std::map<std::string, std::string> setupVolumes(const Json& pod, const EnvContext& ctx, const std::string& podDir);
// Refreshes only the projected-style volumes (configMap, secret, downwardAPI, projected).
void refreshVolumes(const Json& pod, const EnvContext& ctx, const std::string& podDir);
// Unmounts tmpfs emptyDirs and removes the volumes directory.
void teardownVolumes(const std::string& podDir);

// The container's bind mounts for its volumeMounts (readOnly, subPath,
// subPathExpr expanded with `env`). Throws VolumeError for an unknown volume.
std::vector<Mount> containerVolumeMounts(const Json& container, const std::map<std::string, std::string>& volumes,
                                         const EnvList& env);

}  // namespace k1s
