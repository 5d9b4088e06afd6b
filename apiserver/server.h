// The API server's HTTPS front: authentication, routing of the Kubernetes REST
// paths to the registry, discovery, OpenAPI, health and version endpoints.
#pragma once
#include <memory>
#include <string>
#include <thread>

#include "apiserver/conn_gate.h"
#include "apiserver/registry.h"
#include "common/pod_subresources.h"

namespace httplib {
class SSLServer;
struct Request;
struct Response;
}  // namespace httplib

namespace k1s {

struct ApiServerOptions {
  std::string bindAddress = "127.0.0.1";
  int port = 6443;
  std::string certFile, keyFile;
  std::string token;                     // the admin bearer token
  size_t maxBodyBytes = 3 * 1024 * 1024;  // kube-apiserver's request body limit
  // Workers (every connection, watch and stream holds one while it is served), idle
  // connections, and the first request's deadline: conn_gate.h.
  ConnectionLimits connections;
};

class ApiServer {
 public:
  ApiServer(Registry& reg, ApiServerOptions opts);
  ~ApiServer();
  // Binds and serves on a background thread; throws if the port cannot be bound.
  void start();
  void stop();
  // The node's pods/log, exec, attach and portforward (the kubelet's); before start().
  void servePodSubresources(std::shared_ptr<PodSubresources> backend);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Version reported by /version (the Kubernetes API level k1s implements).
extern const char* kKubeGitVersion;

}  // namespace k1s
