// Named network namespaces, made the way iproute2 makes them: a file whose
// bind mount holds the namespace alive without any process in it. Creating
// one and working inside one both happen on a dedicated short-lived thread, so
// no other thread of the daemon ever changes namespace (DESIGN rule 6).
// Errors throw std::runtime_error.
#pragma once
#include <functional>
#include <string>

namespace k1s {

// Makes `dir` (created if missing) a mount point with shared propagation,
// like iproute2's /run/netns, so that unmounting a namespace handle also
// unmounts the copies that mount namespaces created later (container
// rootfs setups) inherited; otherwise those copies keep the namespace alive.
void prepareNetnsDir(const std::string& dir);
// Undoes prepareNetnsDir when `dir` holds no entries any more: unmounts and
// removes it. Returns false (and leaves it) when it is not empty.
bool releaseNetnsDir(const std::string& dir);

// True when `path` is a bind-mounted network namespace handle.
bool isNetns(const std::string& path);
// Creates a fresh network namespace bound to `path`. Returns false when
// `path` already is a namespace handle (left as it is).
bool createNetns(const std::string& path);
// Binds the network namespace process `pid` is in to `path` (a handle again for a namespace whose
// handle is gone, as `ip netns attach` does). False when that process is gone or is in the calling
// daemon's own namespace (then it is no pod's).
bool attachNetns(const std::string& path, int pid);
// Unmounts and removes a handle; a missing one is fine.
void removeNetns(const std::string& path);

// Runs `fn` on a dedicated thread that has joined the namespace at `path`
// (sockets it opens stay in that namespace after it returns); rethrows what
// `fn` throws.
void runInNetns(const std::string& path, const std::function<void()>& fn);

}  // namespace k1s
