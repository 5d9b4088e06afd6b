// The controllers' public face. Each controller is level-triggered (DESIGN
// rule 2): informers -> work queue of keys -> one idempotent sync(key) that
// compares desired with actual and acts through the Client; failures re-queue
// with back-off; objects from caches are never mutated.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/clock.h"

namespace k1s {

class ControllerRunner;

class Controller {
 public:
  virtual ~Controller() = default;
  virtual const char* name() const = 0;
  virtual void start() = 0;  // starts informers and workers; returns at once
  virtual void stop() = 0;   // stops and joins
  // The runtime under a controller built on ControllerRunner (else null). Tests use it to call
  // sync(key) synchronously on seeded caches and to look at its work queue.
  virtual ControllerRunner* runner() { return nullptr; }
};

struct ControllerOptions {
  std::string nodeName;         // the one node
  int workers = 2;
  // Time for the work queues and time-based logic (minReadySeconds, progress deadlines); tests
  // pass a FakeClock, which must outlive the controllers. Null: the real clock.
  const Clock* clock = nullptr;
  const Clock& clockOrReal() const { return clock ? *clock : Clock::real(); }
};

std::unique_ptr<Controller> makeDeploymentController(Client& c, const ControllerOptions& o);
std::unique_ptr<Controller> makeReplicaSetController(Client& c, const ControllerOptions& o);
std::unique_ptr<Controller> makeEndpointsController(Client& c, const ControllerOptions& o);
std::unique_ptr<Controller> makeEndpointSliceController(Client& c, const ControllerOptions& o);
// Copies the hand-written Endpoints of selectorless Services into EndpointSlices.
std::unique_ptr<Controller> makeEndpointSliceMirroringController(Client& c, const ControllerOptions& o);
std::unique_ptr<Controller> makeGarbageCollector(Client& c, const ControllerOptions& o);
std::unique_ptr<Controller> makeNamespaceController(Client& c, const ControllerOptions& o);
std::unique_ptr<Controller> makeScheduler(Client& c, const ControllerOptions& o);
// Creates the `default` ServiceAccount in every namespace.
std::unique_ptr<Controller> makeServiceAccountController(Client& c, const ControllerOptions& o);

// All of the above, started and stopped together (kube-controller-manager + scheduler).
class ControllerManager {
 public:
  ControllerManager(Client& c, ControllerOptions o);
  ~ControllerManager();
  void start();
  void stop();

 private:
  std::vector<std::unique_ptr<Controller>> controllers_;
};

}  // namespace k1s
