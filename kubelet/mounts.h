// The container's root file system, built inside its own mount namespace by the container's
// init process before it execs: overlayfs over the image layers, pivot_root, /proc, /dev,
// /sys, the pod's volumes, and Docker's masked and read-only paths.
#pragma once
#include <string>

#include "kubelet/runtime.h"

namespace k1s {

// Must run in a fresh mount namespace (unshare(CLONE_NEWNS)) with the container's network
// namespace already joined (sysfs shows the mounter's network devices). On return the process's
// root and cwd are the container's "/". Throws std::runtime_error naming the step that failed.
void setupRootfs(const ContainerSpec& c, const std::string& stateDir);

// Docker's defaults, applied unless privileged.
extern const char* const kMaskedPaths[];
extern const char* const kReadonlyPaths[];

}  // namespace k1s
