// Seccomp for containers, as kube + containerd + runc do it: the pod's seccompProfile picks a
// profile (RuntimeDefault unless it says otherwise, kubelet --seccomp-default), containerd's default
// profile has capability-conditional rules, and the shim compiles the profile with libseccomp and
// loads it just before the workload's execve (also for `kubectl exec`).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "common/json.h"

namespace k1s {

// containerd's RuntimeDefault profile (contrib/seccomp/seccomp_default.go) in the OCI/Docker JSON
// form. Its capability-dependent rules carry Docker's "includes"/"excludes" {"caps": [...]}, resolved
// against the container's capabilities when compiled, as containerd resolves them against the
// container's bounding set.
const Json& runtimeDefaultSeccompProfile();

// What the kubelet chose for one container: kube's seccompProfile.type ("RuntimeDefault",
// "Unconfined", "Localhost") and, for Localhost, the profile's JSON text.
struct SeccompChoice {
  std::string type = "RuntimeDefault";
  std::string profile;
};

// The container's securityContext.seccompProfile over the pod's; neither: RuntimeDefault. A
// privileged container runs Unconfined (containerd ignores seccomp for privileged containers).
// Localhost reads <seccompRoot>/<localhostProfile> (kubelet's seccomp root is <root-dir>/seccomp).
// Throws std::runtime_error with containerd's wording when the profile is missing or not JSON:
// the kubelet reports it as CreateContainerError.
SeccompChoice containerSeccomp(const Json& podSpec, const Json& container, bool privileged,
                               const std::string& seccompRoot);

// One compiled filter. Built before the process changes its identity (errors are start errors),
// loaded last. Loading does not set no_new_privs (allowPrivilegeEscalation decides that), so
// without it load() needs CAP_SYS_ADMIN: runc loads such a filter before dropping capabilities.
class SeccompFilter {
 public:
  // profile: OCI or Docker JSON (defaultAction, defaultErrnoRet, architectures or archMap,
  // syscalls [{names|name, action, errnoRet, args, includes, excludes}]); caps: the container's
  // capability set. Syscall names unknown to libseccomp are skipped, as runc does. Throws
  // std::runtime_error on anything malformed.
  SeccompFilter(const Json& profile, uint64_t caps);
  ~SeccompFilter();
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;
  void load();  // throws std::runtime_error

 private:
  void addRules(const Json& profile, uint64_t caps, uint32_t def, uint32_t defErrno);
  void* ctx_ = nullptr;  // scmp_filter_ctx, kept out of this header
};

// The filter for a container's processes, or nullptr when it runs Unconfined.
std::unique_ptr<SeccompFilter> containerSeccompFilter(const std::string& type, const std::string& localhostProfile,
                                                      uint64_t caps);

}  // namespace k1s
