// Controller benchmark (issue: controllers): a 100-replica Deployment against
// the in-process API and controllers (no kubelet): time until every pod is
// created and bound, then a rolling update with pods marked Ready at once.
// The anchor printed beside it: the same number of bare pod creates through
// the same registry, in the same run. Not a test.
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/meta.h"
#include "controller/controller.h"

using namespace k1s;
using SteadyClock = std::chrono::steady_clock;

static double since(SteadyClock::time_point t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

int main() {
  const int replicas = 100;
  char tmpl[] = "/tmp/k1s-bench-ctl-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    Store store(dir + "/db");
    Registry reg(store, {});
    reg.bootstrap("127.0.0.1", 6443);
    auto& pods = *findResource("", "pods");
    auto& deploys = *findResource("apps", "deployments");

    // Anchor: bare pod creates through the same registry path.
    auto t0 = SteadyClock::now();
    for (int i = 0; i < replicas; ++i)
      reg.create(pods, "kube-public",
                 {{"metadata", {{"name", "anchor-" + std::to_string(i)}}},
                  {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}});
    double anchor = since(t0);
    // They would count against the node's 110-pod capacity once the scheduler runs.
    for (int i = 0; i < replicas; ++i) reg.remove(pods, "kube-public", "anchor-" + std::to_string(i));

    ControllerOptions co;
    co.nodeName = "bench-node";
    ControllerManager cm(reg, co);
    cm.start();
    // Wait for the node so scheduling is not timed against registration.
    while (true) {
      try {
        reg.get(*findResource("", "nodes"), "", "bench-node");
        break;
      } catch (const ApiError&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }

    // A "kubelet" that marks every bound pod Running and Ready at once.
    std::atomic<bool> stop{false};
    std::thread readier([&] {
      ListOptions lo;
      lo.fieldSelector = "spec.nodeName=bench-node";
      auto w = reg.watch(pods, "default", lo);
      WatchEvent e;
      while (!stop) {
        if (!w->next(e, std::chrono::milliseconds(50)) || e.type == "DELETED") continue;
        if (e.object["status"].value("phase", "") == "Running" || metaOf(e.object).contains("deletionTimestamp")) continue;
        Json p = e.object;
        std::string now = nowRfc3339();
        p["status"]["phase"] = "Running";
        p["status"]["podIP"] = "10.244.0.9";
        p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", now}},
                                     {{"type", "ContainersReady"}, {"status", "True"}, {"lastTransitionTime", now}}};
        try {
          reg.update(pods, "default", p, "status");
        } catch (const ApiError&) {
        }
      }
    });

    auto countBound = [&](const std::string& image) {
      int n = 0;
      Json l = reg.list(pods, "default");  // held: iterating a temporary's member would dangle
      for (auto& p : l["items"])
        if (!p["spec"].value("nodeName", "").empty() && !metaOf(p).contains("deletionTimestamp") &&
            p["spec"]["containers"][0]["image"] == image)
          ++n;
      return n;
    };
    Json d = {{"metadata", {{"name", "big"}}},
              {"spec",
               {{"replicas", replicas},
                {"selector", {{"matchLabels", {{"app", "big"}}}}},
                {"template",
                 {{"metadata", {{"labels", {{"app", "big"}}}}},
                  {"spec", {{"terminationGracePeriodSeconds", 0},
                            {"containers", {{{"name", "c"}, {"image", "busybox:1"}}}}}}}}}}};
    t0 = SteadyClock::now();
    reg.create(deploys, "default", d);
    while (countBound("busybox:1") < replicas && since(t0) < 30) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    double created = since(t0);
    if (countBound("busybox:1") < replicas) {
      auto l = reg.list(pods, "default")["items"];
      fprintf(stderr, "pods=%zu bound=%d\n", l.size(), countBound("busybox:1"));
      if (!l.empty()) fprintf(stderr, "node=[%s]\n", l[0]["spec"].value("nodeName", "").c_str());
      Json evs = reg.list(*findResource("", "events"), "");
      for (auto& e : evs["items"])
        if (e.value("type", "") == "Warning") fprintf(stderr, "event %s %s\n", e.value("reason", "").c_str(), e.value("message", "").c_str());
    }
    // Let the first rollout settle before timing the update.
    while (since(t0) < 30) {
      auto st = reg.get(deploys, "default", "big")["status"];
      if (st.value("availableReplicas", 0) == replicas) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

    Json cur = reg.get(deploys, "default", "big");
    cur["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2";
    t0 = SteadyClock::now();
    reg.update(deploys, "default", cur);
    double rolled = -1;
    while (since(t0) < 60) {
      auto dep = reg.get(deploys, "default", "big");
      auto& st = dep["status"];
      if (st.value("observedGeneration", 0) >= metaOf(dep).value("generation", 0) &&
          st.value("updatedReplicas", 0) == replicas && st.value("availableReplicas", 0) == replicas &&
          st.value("replicas", 0) == replicas) {
        rolled = since(t0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    stop = true;
    readier.join();
    cm.stop();

    printf("%-58s %10s %10s\n", "measure (100 replicas, API + controllers, no kubelet)", "k1s", "target");
    printf("%-58s %9.3fs %10s\n", "anchor: 100 bare pod creates through the same registry", anchor, "");
    printf("%-58s %9.3fs %10s\n", "deployment created -> 100 pods created and bound", created, "<= 1 s");
    if (rolled < 0) printf("%-58s %10s %10s\n", "rolling update (pods Ready at once) complete", "timeout", "<= 3 s");
    else printf("%-58s %9.3fs %10s\n", "rolling update (pods Ready at once) complete", rolled, "<= 3 s");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
