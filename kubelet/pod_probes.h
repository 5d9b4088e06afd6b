// Container probes and lifecycle handlers: exec (through the runtime),
// httpGet (from the host to the pod IP over the bridge) and tcpSocket, and a
// worker per (container instance, probe kind) that applies kube's timing and
// thresholds (initialDelaySeconds, periodSeconds, timeoutSeconds,
// successThreshold, failureThreshold).
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/json.h"
#include "kubelet/runtime.h"

namespace k1s {

struct ActionResult {
  bool ok = false;
  std::string message;  // kube-style failure text ("HTTP probe failed with statuscode: 500")
};

// Runs one probe/handler action (exec, httpGet or tcpSocket) with a timeout.
ActionResult runAction(const Json& action, const Json& container, Runtime& rt, const std::string& containerId,
                       const std::string& podIP, int timeoutSeconds);

// Resolves a port that may be a number or a named container port; 0 if unknown.
int resolvePort(const Json& port, const Json& container);

class ProbeWorker {
 public:
  enum class Kind { Liveness, Readiness, Startup };
  struct Callbacks {
    std::function<void(const std::string& message)> failed;  // each failed attempt (Unhealthy event)
    std::function<void()> changed;                            // the result flipped
    std::function<bool()> startupDone;                        // liveness/readiness wait for it
  };
  ProbeWorker(Kind kind, Json probe, Json container, Runtime& rt, std::string containerId, std::string podIP,
              Callbacks cb);
  ~ProbeWorker();
  // Readiness starts false, liveness true, startup false (kube's initial results).
  bool success() const { return success_; }
  // Liveness/startup failed failureThreshold times: the container must be killed.
  bool killRequested() const { return fired_; }
  Kind kind() const { return kind_; }
  static const char* kindName(Kind k);

 private:
  void run();
  Kind kind_;
  Json probe_, container_;
  Runtime& rt_;
  std::string id_, podIP_;
  Callbacks cb_;
  std::atomic<bool> success_{false}, fired_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace k1s
