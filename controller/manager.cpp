// ControllerManager: kube-controller-manager and kube-scheduler in one object,
// started and stopped together. The Node is the kubelet's (kubelet/node_status.h):
// the scheduler places pods once it appears.
#include "common/log.h"
#include "controller/controller.h"

namespace k1s {

ControllerManager::ControllerManager(Client& c, ControllerOptions o) {
  controllers_.push_back(makeServiceAccountController(c, o));
  controllers_.push_back(makeNamespaceController(c, o));
  controllers_.push_back(makeGarbageCollector(c, o));
  controllers_.push_back(makeDeploymentController(c, o));
  controllers_.push_back(makeReplicaSetController(c, o));
  controllers_.push_back(makeScheduler(c, o));
  controllers_.push_back(makeEndpointsController(c, o));
  controllers_.push_back(makeEndpointSliceController(c, o));
  controllers_.push_back(makeEndpointSliceMirroringController(c, o));
}

ControllerManager::~ControllerManager() { stop(); }

void ControllerManager::start() {
  for (auto& c : controllers_) {
    c->start();
    LOGV(1, "controller-manager", "started controller=" << c->name());
  }
}

void ControllerManager::stop() {
  for (auto it = controllers_.rbegin(); it != controllers_.rend(); ++it) (*it)->stop();
}

}  // namespace k1s
