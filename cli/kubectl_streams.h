// What exec, attach and port-forward share: finding the pod behind
// POD|TYPE/NAME the way kubectl does, and opening a WebSocket to one of the
// pod's stream subresources with the kubeconfig's credentials.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cli/kubectl_verbs.h"
#include "common/websocket.h"

namespace k1s::cli {

// "NAME", "pod/NAME", "deploy/NAME", "svc/NAME", "rs/NAME", ... -> the pod.
// For a controller or service: its most active pod matching the selector,
// waiting up to timeoutSeconds for one to appear.
Json podForObject(Kubectl& k, const std::string& arg, const std::string& ns, int timeoutSeconds);

// The object itself when arg names a Service ("svc/x"), else null.
Json serviceForArg(Kubectl& k, const std::string& arg, const std::string& ns);

// --pod-running-timeout (a Go duration; default 1m) in seconds.
int podRunningTimeout(const Kubectl& k);

// Opens `path` (e.g. /api/v1/namespaces/ns/pods/x/exec?...) as a WebSocket,
// offering `protocols` in order. A refusal throws StatusError (the server's
// Status), connection problems throw CliError worded as kubectl does.
std::unique_ptr<ws::Connection> openPodWebSocket(const ConnectionConfig& cfg, const std::string& path,
                                                 const std::vector<std::string>& protocols, std::string* chosen);

// Channel bytes of the k8s channel protocols.
constexpr unsigned char kChanStdin = 0, kChanStdout = 1, kChanStderr = 2, kChanError = 3, kChanResize = 4;
constexpr unsigned char kChanClose = 255;  // v5: "this channel is closed" (half-close)

}  // namespace k1s::cli
