// ServiceProxy: informers on Services and EndpointSlices feed one sync thread
// that renders the rule text (proxy_rules.h) and applies it with
// iptables-restore --noflush when it changed. The iptables binaries are
// posix_spawn'd (DESIGN rule 5: no fork of the busy daemon).
#include "netproxy/proxy.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/informer.h"
#include "common/log.h"
#include "netproxy/proxy_rules.h"

extern char** environ;

namespace k1s {

namespace {

// Runs argv with `input` on stdin; returns the exit code (-1 if it could not
// start) and fills `output` with stdout+stderr.
int runTool(const std::vector<std::string>& argv, const std::string& input, std::string* output) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return -1;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    if (output) *output = std::string("cannot start ") + argv[0] + ": " + strerror(rc);
    return -1;
  }
  // Feed stdin and drain stdout together so neither side blocks on a full pipe.
  std::thread writer([fd = in[1], &input] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = write(fd, input.data() + off, input.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fd);
  });
  std::string buf;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(out[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  close(out[0]);
  writer.join();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output) *output = std::move(buf);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

struct ServiceProxy::Impl {
  Client& client;
  ProxyOptions o;
  Informer services, slices;
  std::mutex mu;
  std::condition_variable cv;
  bool dirty = true, stopping = false, started = false;
  std::thread thread;
  std::string applied;                // last text iptables-restore accepted
  std::set<std::string> chains;       // K1S chains that exist ("table/chain")
  bool jumpsInstalled = false;

  Impl(Client& c, ProxyOptions opts)
      : client(c),
        o(std::move(opts)),
        services(c, *findResource("", "services")),
        slices(c, *findResource("discovery.k8s.io", "endpointslices")) {}

  void kick() {
    std::lock_guard<std::mutex> l(mu);
    dirty = true;
    cv.notify_one();
  }

  std::set<std::string> existingChains() {
    std::string out;
    if (runTool({"iptables-save"}, "", &out) != 0) return {};
    return chainsInSave(out);
  }

  void ensureJumps() {
    for (const auto& j : jumpRules()) {
      std::vector<std::string> check = {"iptables", "-w", "5", "-t", j.table, "-C", j.chain};
      check.insert(check.end(), j.args.begin(), j.args.end());
      std::string out;
      if (runTool(check, "", &out) == 0) continue;
      std::vector<std::string> add = {"iptables", "-w", "5", "-t", j.table, "-I", j.chain};
      add.insert(add.end(), j.args.begin(), j.args.end());
      if (runTool(add, "", &out) != 0) LOGE("proxy", "cannot add jump " << j.table << "/" << j.chain << ": " << trim(out));
    }
    jumpsInstalled = true;
  }

  void removeJumps() {
    for (const auto& j : jumpRules()) {
      std::vector<std::string> del = {"iptables", "-w", "5", "-t", j.table, "-D", j.chain};
      del.insert(del.end(), j.args.begin(), j.args.end());
      std::string out;
      for (int i = 0; i < 8 && runTool(del, "", &out) == 0; ++i) {  // duplicates from older runs too
      }
    }
  }

  // Keeps LoadBalancer status at ingress [{hostname: localhost}] (DESIGN defaults).
  void publishLoadBalancerStatus() {
    for (const auto& s : services.list()) {
      const Json& svc = *s;
      std::string type = svc["spec"].value("type", "");
      Json ingress = svc.contains("status") ? svc["status"].value("loadBalancer", Json::object()).value("ingress", Json())
                                            : Json();
      Json want = Json::array({{{"hostname", "localhost"}}});
      Json patch;
      if (type == "LoadBalancer" && ingress != want)
        patch = {{"status", {{"loadBalancer", {{"ingress", want}}}}}};
      else if (type != "LoadBalancer" && !ingress.is_null() && ingress == want)
        patch = {{"status", {{"loadBalancer", {{"ingress", nullptr}}}}}};
      if (patch.is_null()) continue;
      try {
        client.patch(*findResource("", "services"), svc["metadata"].value("namespace", ""),
                     svc["metadata"].value("name", ""), PatchType::Merge, patch, "status");
      } catch (const std::exception& e) {
        LOGW("proxy", "loadbalancer status " << objectKey(svc) << ": " << e.what());
      }
    }
  }

  bool syncOnce() {
    std::vector<Json> svcs, sls;
    for (const auto& s : services.list()) svcs.push_back(*s);
    for (const auto& s : slices.list()) sls.push_back(*s);
    auto ports = buildServicePorts(svcs, sls);
    std::set<std::string> written;
    std::string text = renderRules(ports, o, chains, &written);
    if (text != applied) {
      auto t0 = std::chrono::steady_clock::now();
      std::string out;
      int rc = runTool({"iptables-restore", "-w", "5", "--noflush"}, text, &out);
      if (rc != 0) {
        LOGE("proxy", "iptables-restore failed rc=" << rc << ": " << trim(out));
        chains = existingChains();  // re-learn what is there before the retry
        return false;
      }
      applied = text;
      chains = written;
      auto ms = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count() / 1000.0;
      LOGV(1, "proxy", "synced rules servicePorts=" << ports.size() << " bytes=" << text.size() << " ms=" << ms);
    }
    if (!jumpsInstalled) ensureJumps();
    publishLoadBalancerStatus();
    return true;
  }

  void run() {
    std::unique_lock<std::mutex> l(mu);
    for (;;) {
      cv.wait(l, [&] { return dirty || stopping; });
      if (stopping) return;
      l.unlock();
      // Debounce: one sync for a burst of events.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      l.lock();
      dirty = false;
      l.unlock();
      bool ok = false;
      try {
        ok = syncOnce();
      } catch (const std::exception& e) {
        LOGE("proxy", "sync: " << e.what());
      }
      l.lock();
      if (!ok && !stopping) {
        cv.wait_for(l, std::chrono::seconds(1), [&] { return stopping; });
        dirty = true;
      }
    }
  }
};

ServiceProxy::ServiceProxy(Client& c, ProxyOptions o) : impl_(std::make_unique<Impl>(c, std::move(o))) {}

ServiceProxy::~ServiceProxy() { stop(); }

void ServiceProxy::start() {
  auto& d = *impl_;
  if (d.started) return;
  d.started = true;
  // A helper that dies early must not kill the daemon with SIGPIPE.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  // LoadBalancer = localhost:<port>, NodePort on 127.0.0.1: DNAT of loopback
  // destinations to pod IPs needs route_localnet (in this netns only).
  std::ofstream("/proc/sys/net/ipv4/conf/all/route_localnet") << "1";
  std::string version;
  runTool({"iptables", "--version"}, "", &version);
  LOGI("proxy", "service proxy starting iptables=\"" << trim(version) << "\"");
  d.chains = d.existingChains();
  InformerHandlers h;
  h.onAdd = [&d](const Json&) { d.kick(); };
  h.onUpdate = [&d](const Json&, const Json&) { d.kick(); };
  h.onDelete = [&d](const Json&) { d.kick(); };
  d.services.addHandlers(h);
  d.slices.addHandlers(h);
  d.services.start();
  d.slices.start();
  d.services.waitForSync(std::chrono::seconds(5));
  d.slices.waitForSync(std::chrono::seconds(5));
  d.thread = std::thread([&d] { d.run(); });
}

void ServiceProxy::stop() {
  auto& d = *impl_;
  if (!d.started) return;
  d.started = false;
  {
    std::lock_guard<std::mutex> l(d.mu);
    d.stopping = true;
    d.cv.notify_one();
  }
  if (d.thread.joinable()) d.thread.join();
  d.services.stop();
  d.slices.stop();
  if (d.o.cleanupOnExit) {
    d.removeJumps();
    auto chains = d.existingChains();
    std::string out;
    if (!chains.empty() && runTool({"iptables-restore", "-w", "5", "--noflush"}, renderCleanup(chains), &out) != 0)
      LOGE("proxy", "cleanup failed: " << trim(out));
    else
      LOGI("proxy", "removed iptables chains count=" << chains.size());
  }
}

}  // namespace k1s
