// A pod's sandbox network across daemon restarts and losses (DESIGN rule 5: a pod never reports
// Running without its network). A handle that vanished with another mount namespace is bound back
// from a live container; a network that is really gone makes kubelet's SandboxChanged: the
// containers are killed and the next sync runs them again in a new sandbox.
#include <net/if.h>
#include <signal.h>

#include "common/log.h"
#include "kubelet/netns.h"
#include "kubelet/pod_worker.h"

namespace k1s {

namespace {
constexpr const char* kComp = "kubelet";
}

std::vector<int> Kubelet::Impl::livePids(const PodRuntime& pr) {
  std::vector<int> pids;
  for (auto& [_, cs] : pr.containers) {
    if (cs.currentId.empty()) continue;
    if (auto st = runtime.status(cs.currentId); st && st->running && st->pid > 0) pids.push_back(st->pid);
  }
  {
    // Before the first sync of an adopted pod its containers are only known by id.
    std::lock_guard<std::mutex> l(mu);
    if (auto a = adoptable.find(pr.uid); a != adoptable.end())
      for (auto& [name, instances] : a->second)
        for (int n : instances)
          if (auto st = runtime.status(containerId(pr.uid, name, n)); st && st->running && st->pid > 0)
            pids.push_back(st->pid);
  }
  return pids;
}

bool Kubelet::Impl::sandboxIntact(PodRuntime& pr, const Json& pod) {
  if (!pr.networkReady || pr.net.netnsPath.empty() || pod["spec"].value("hostNetwork", false)) return true;
  if (network.alive(pr.net)) return true;
  bool veth = !pr.net.hostVeth.empty() && if_nametoindex(pr.net.hostVeth.c_str()) != 0;
  std::vector<int> pids = veth && !isNetns(pr.net.netnsPath) ? livePids(pr) : std::vector<int>{};
  if (!pids.empty()) {
    // Only the handle is gone: its namespace lives on in the containers (and holds the veth's peer).
    try {
      pr.net = network.setup(pr.uid, pr.ns, pr.name, pids);
      if (network.alive(pr.net)) return true;
    } catch (const std::exception& e) {
      LOGW(kComp, "re-adopting the sandbox pod=" << pr.ns << "/" << pr.name << " err=" << e.what());
    }
  }
  LOGW(kComp, "pod sandbox network lost pod=" << pr.ns << "/" << pr.name << " netns=" << pr.net.netnsPath
                                             << " veth=" << pr.net.hostVeth << (veth ? "" : " (gone)"));
  // kubelet's words (kuberuntime_manager.go): the containers go with the sandbox.
  event(pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.");
  for (auto& [_, cs] : pr.containers) {
    if (cs.currentId.empty()) continue;
    cs.liveness.reset(), cs.readiness.reset(), cs.startup.reset();
    if (auto st = runtime.status(cs.currentId); st && st->running) {
      try {
        runtime.signal(cs.currentId, SIGKILL);
      } catch (const std::exception& e) {
        LOGW(kComp, "killing container id=" << cs.currentId << " err=" << e.what());
      }
    }
  }
  try {
    network.release(pr.uid);
  } catch (const std::exception& e) {
    LOGW(kComp, "release network uid=" << pr.uid << " err=" << e.what());
  }
  runtime.removeSandbox(pr.uid);
  pr.networkReady = pr.sandboxReady = false;
  pr.net = PodNetwork{};
  return false;
}

}  // namespace k1s
