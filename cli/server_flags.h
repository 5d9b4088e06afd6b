// Flags of `k1s server`, named like kube-apiserver / kubelet flags.
#pragma once
#include <string>

namespace k1s {

struct ServerFlags {
  std::string dataDir = "/var/lib/k1s";
  std::string runDir = "/run/k1s";
  std::string bindAddress = "127.0.0.1";
  int securePort = 6443;
  std::string serviceCIDR = "10.96.0.0/16";
  int nodePortMin = 30000, nodePortMax = 32767;
  std::string clusterCIDR = "10.244.0.0/16";
  std::string bridge = "k1s0";
  std::string clusterDNS = "10.96.0.10";
  std::string clusterDomain = "cluster.local";
  std::string nodeName;  // hostname when empty
  bool cleanupOnExit = false;
  bool podEgress = false;
  std::string sync = "NORMAL";  // SQLite PRAGMA synchronous: NORMAL or FULL (--sync=normal|full)
  int verbosity = 0;
  bool help = false;
};

// Accepts --flag=value and --flag value; throws std::invalid_argument with a one-line message.
ServerFlags parseServerFlags(int argc, char** argv);
std::string serverUsage();

}  // namespace k1s
