// Linux capabilities by name, Docker's default set, and dropping privileges
// before a container's process execs (bounding set, ids, capability sets).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace k1s {

// "NET_ADMIN" or "CAP_NET_ADMIN" (any case) → capability number; -1 when unknown.
int capabilityFromName(const std::string& name);
std::string capabilityName(int cap);  // "CAP_NET_ADMIN"
int lastCapability();                  // from /proc/sys/kernel/cap_last_cap

// Docker's (and containerd's) default set with add/drop applied; "ALL" is understood on both
// sides, and privileged means every capability. Throws std::runtime_error on an unknown name.
uint64_t containerCapabilities(bool privileged, const std::vector<std::string>& add,
                               const std::vector<std::string>& drop);

// Drops every capability not in `caps` from the bounding set (bounding = the container's set, as
// runc/containerd), switches to uid/gid (no supplementary groups), then sets effective/permitted to
// `caps` (for uid 0; a non-root uid loses them on exec, as with Docker), inheritable and ambient
// empty. Optionally sets no_new_privs. Throws std::runtime_error.
void dropPrivileges(uint64_t caps, int64_t uid, int64_t gid, bool noNewPrivs);

}  // namespace k1s
