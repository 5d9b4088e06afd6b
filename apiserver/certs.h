// First-start credentials: a self-made CA, a serving certificate signed by it,
// an admin bearer token, and the kubeconfig that kubectl and k1s use.
#pragma once
#include <string>
#include <vector>

namespace k1s {

struct Credentials {
  std::string caCertPem;
  std::string certFile, keyFile;  // serving certificate and key (PEM files)
  std::string token;
  std::string kubeconfigPath;
};

// Creates (or reuses) <dataDir>/certs/{ca.crt,ca.key,token} and writes a fresh
// serving certificate for `sans` (IPs or DNS names) and <dataDir>/kubeconfig.yaml (0600).
Credentials ensureCredentials(const std::string& dataDir, const std::vector<std::string>& sans,
                              const std::string& serverUrl);

}  // namespace k1s
