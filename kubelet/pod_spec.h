// Pure pieces of turning a pod spec into a container spec, the way the
// kubelet does: command/args with the image's ENTRYPOINT/CMD, $(VAR)
// expansion, environment (env, envFrom, valueFrom, service links), the
// managed /etc/hosts and /etc/resolv.conf, quantities and restart back-off.
// No I/O here, so all of it is unit-tested directly.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "kubelet/images.h"

namespace k1s {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// kube's expansion.Expand: $(VAR) is replaced when `lookup` knows VAR, left
// verbatim otherwise; $$ is an escaped $; an unclosed $( stays as written.
std::string expandVars(const std::string& in, const std::function<std::optional<std::string>(const std::string&)>& lookup);
std::string expandVars(const std::string& in, const EnvList& env);

// The process argv: command replaces ENTRYPOINT (and drops CMD), args replace
// CMD; both expanded with the container's environment.
std::vector<std::string> containerArgv(const ImageConfig& img, const Json& container, const EnvList& env);

// The Docker-link style variables kubelet injects for each Service
// (NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME], NAME_PORT, NAME_PORT_<p>_<PROTO>[_PROTO|_PORT|_ADDR]).
// Services without a cluster IP (headless) are skipped.
EnvList serviceEnvVars(const std::vector<Json>& services);
// Which services a pod in `ns` sees: its namespace's (when enableServiceLinks)
// plus the `kubernetes` service of `default` always.
std::vector<Json> servicesForPod(const std::vector<Json>& all, const std::string& ns, bool enableServiceLinks);

// Everything the environment depends on outside the pod object.
struct EnvContext {
  std::string podIP, hostIP, nodeName;
  int64_t nodeCpuMilli = 1000, nodeMemoryBytes = 1LL << 30;  // allocatable, for resourceFieldRef without limits
  std::function<std::optional<Json>(const std::string& name)> configMap, secret;  // nullopt when missing
  std::vector<Json> services;  // already filtered by servicesForPod
};

// Thrown when a referenced ConfigMap/Secret/key is missing (kube's CreateContainerConfigError).
struct ContainerConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The container's environment in kubelet order (envFrom, env, then service
// variables not already set). Throws ContainerConfigError.
EnvList buildContainerEnv(const Json& pod, const Json& container, const EnvContext& ctx);
// Image env first, then the container's: same names are replaced in place, new ones appended.
std::vector<std::string> mergeImageEnv(const std::vector<std::string>& imageEnv, const EnvList& env);

// fieldRef value ("metadata.labels['app']", "status.podIP", ...); nullopt for an unsupported path.
std::optional<std::string> podFieldValue(const Json& pod, const std::string& path, const EnvContext& ctx);
// resourceFieldRef value ("limits.memory" with divisor "1Mi" ...), rounded up as kube does.
std::string resourceFieldValue(const Json& pod, const Json& container, const Json& ref, const EnvContext& ctx);

// Quantities: "128Mi" -> 134217728; "500m" -> 0.5. nullopt when malformed.
std::optional<long double> parseQuantityValue(const std::string& s);
int64_t memoryBytes(const Json& quantity);  // 0 when absent or malformed
int64_t cpuMillis(const Json& quantity);    // 0 when absent or malformed

// The resolv.conf kubelet gives a ClusterFirst pod.
std::string resolvConfText(const std::string& ns, const std::string& clusterDNS, const std::string& domain);
// kubelet's managed hosts file: localhost lines, the pod's own line (with the
// FQDN when hostname+subdomain are set), then spec.hostAliases.
std::string hostsFileText(const Json& pod, const std::string& podIP, const std::string& domain);
// hostname = spec.hostname or the pod name (truncated to 63 as kube does).
std::string podHostname(const Json& pod);

// Go's time.Duration text for whole seconds: 10s, 1m20s, 5m0s.
std::string goDuration(int64_t seconds);

// kubelet's container restart back-off (flowcontrol.Backoff: 10 s doubling to
// 5 min; an entry untouched for 2x the maximum starts over).
class RestartBackoff {
 public:
  RestartBackoff(int64_t initialMs = 10000, int64_t maxMs = 300000) : initial_(initialMs), max_(maxMs) {}
  // Whether a container that finished at finishedAtMs must still wait at nowMs.
  bool inBackoffSince(const std::string& key, int64_t finishedAtMs, int64_t nowMs) const;
  // Records a restart at nowMs: the next back-off doubles (or starts at the initial delay).
  void next(const std::string& key, int64_t nowMs);
  int64_t currentMs(const std::string& key) const;  // 0 when no entry
  // Remaining wait, for scheduling the next look.
  int64_t remainingMs(const std::string& key, int64_t finishedAtMs, int64_t nowMs) const;
  void forgetPrefix(const std::string& prefix);

 private:
  struct Entry {
    int64_t backoffMs = 0, lastUpdateMs = 0;
  };
  int64_t initial_, max_;
  std::map<std::string, Entry> entries_;
};

}  // namespace k1s
