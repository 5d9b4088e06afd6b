// Pod networking against the real kernel. Every case runs in a forked child
// that has its own network and mount namespaces, so the host's links, routes
// and mounts are never touched; the child reports its first failure through
// a pipe. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); without it the cases fail
// saying so.
#include <doctest/doctest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

#include "kubelet/podnet.h"

using namespace k1s;

namespace {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void expect(bool ok, const std::string& what) {
  if (!ok) throw Failure(what);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Runs a shell command, returns its exit status and (via out) its stdout+stderr.
int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int st = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string shOut(const std::string& cmd) {
  std::string out;
  sh(cmd, &out);
  return out;
}

bool ping(const std::string& fromNetns, const std::string& ip) {
  std::string prefix = fromNetns.empty() ? "" : "nsenter --net=" + fromNetns + " ";
  return sh(prefix + "busybox ping -c 1 -W 3 " + ip) == 0;
}

// Forks a child in fresh network and mount namespaces (mounts private) with a
// scratch run dir, runs body there, and returns "" or the first failure.
std::string isolated(const std::function<void(const std::string& dir)>& body) {
  if (::geteuid() != 0) return "pod network tests need root (network and mount namespaces)";
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    std::string msg;
    char tmpl[] = "/tmp/k1s-podnet-XXXXXX";
    try {
      if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) throw Failure("unshare(CLONE_NEWNET|CLONE_NEWNS) failed");
      if (::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw Failure("cannot make / private");
      if (!::mkdtemp(tmpl)) throw Failure("mkdtemp failed");
      // A tmpfs only this mount namespace sees: whatever a failed case leaves
      // mounted in there disappears with the child.
      if (::mount("tmpfs", tmpl, "tmpfs", 0, nullptr) != 0) throw Failure("cannot mount a tmpfs on " + std::string(tmpl));
      body(tmpl);
    } catch (const std::exception& e) {
      msg = e.what();
    }
    ::umount2(tmpl, MNT_DETACH);
    ::rmdir(tmpl);
    if (!msg.empty() && ::write(fds[1], msg.data(), msg.size()) < 0) msg.clear();
    ::_exit(0);  // skip the parent's atexit handlers (doctest's report)
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, size_t(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (msg.empty() && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) msg = "child died (status " + std::to_string(st) + ")";
  return msg;
}

PodNetworkOptions options(const std::string& dir) {
  PodNetworkOptions o;
  o.bridge = "k1st0";
  o.podCIDR = "10.244.0.0/24";
  o.runDir = dir + "/run";
  o.stateFile = dir + "/ipam.json";
  return o;
}

// Nothing named after the bridge is left: no link, no netns handle, no route.
void expectClean(const PodNetworkOptions& o) {
  std::string links = shOut("ip -o link");
  expect(!contains(links, o.bridge), "links remain after teardown:\n" + links);
  std::string routes = shOut("ip -o route");
  expect(!contains(routes, "10.96.0.0"), "service route remains after teardown:\n" + routes);
  std::error_code ec;
  std::string netnsDir = o.runDir + "/netns";
  bool empty = !std::filesystem::exists(netnsDir, ec) || std::filesystem::is_empty(netnsDir, ec);
  expect(empty, "netns handles remain in " + netnsDir);
  expect(!contains(shOut("cat /proc/self/mountinfo"), o.runDir), "mounts remain under " + o.runDir);
}

}  // namespace

TEST_CASE("podnet: two pods get distinct IPs and reach each other, the bridge and the host") {
  std::string err = isolated([](const std::string& dir) {
    auto o = options(dir);
    PodNetworkManager m(o);
    m.init();
    expect(m.bridgeIP() == "10.244.0.1", "bridge IP " + m.bridgeIP());
    std::string br = shOut("ip -o addr show dev k1st0");
    expect(contains(br, "inet 10.244.0.1/24"), "bridge address: " + br);
    expect(shOut("cat /proc/sys/net/ipv4/ip_forward") == "1\n", "ip_forward not enabled");
    // Service traffic leaves through the bridge, never the default route.
    std::string svc = shOut("ip route get 10.96.0.10");
    expect(contains(svc, "dev k1st0"), "service CIDR not routed to the bridge: " + svc);

    auto a = m.setup("0a1b2c3d-0000-4000-8000-00000000000a", "default", "a");
    auto b = m.setup("0b1b2c3d-0000-4000-8000-00000000000b", "default", "b");
    expect(a.ip != b.ip, "both pods got " + a.ip);
    expect(a.ip.rfind("10.244.0.", 0) == 0 && a.ip != "10.244.0.1", "pod a IP " + a.ip);
    expect(a.hostVeth == "k1st0v0a1b2c3d0", "host veth name " + a.hostVeth);
    expect(a.netnsPath == o.runDir + "/netns/k1st0-0a1b2c3d0", "netns path " + a.netnsPath);
    expect(a.hostVeth.size() <= 15, "veth name too long");

    std::string port = shOut("ip -d link show dev " + a.hostVeth);
    expect(contains(port, "master k1st0"), "veth not on the bridge: " + port);
    expect(contains(port, "hairpin on"), "hairpin off: " + port);
    std::string eth0 = shOut("nsenter --net=" + a.netnsPath + " ip -o addr show dev eth0");
    expect(contains(eth0, "inet " + a.ip + "/24"), "pod eth0: " + eth0);
    std::string lo = shOut("nsenter --net=" + a.netnsPath + " ip -o link show dev lo");
    expect(contains(lo, "UP"), "pod lo down: " + lo);
    std::string route = shOut("nsenter --net=" + a.netnsPath + " ip route show default");
    expect(contains(route, "default via 10.244.0.1 dev eth0"), "pod default route: " + route);

    expect(ping(a.netnsPath, b.ip), "pod a cannot ping pod b");
    expect(ping(b.netnsPath, a.ip), "pod b cannot ping pod a");
    expect(ping(a.netnsPath, m.bridgeIP()), "pod a cannot ping the bridge");
    expect(ping("", a.ip), "host cannot ping pod a");
    expect(ping(a.netnsPath, "127.0.0.1"), "pod a cannot ping its own loopback");

    // A second setup for the same pod returns the same network and keeps it working.
    auto again = m.setup("0a1b2c3d-0000-4000-8000-00000000000a", "default", "a");
    expect(again.ip == a.ip && again.netnsPath == a.netnsPath && again.hostVeth == a.hostVeth,
           "second setup returned a different network");
    expect(ping(b.netnsPath, a.ip), "pod a unreachable after a repeated setup");

    m.teardown();
    expectClean(o);
  });
  CHECK_MESSAGE(err.empty(), err);
}

TEST_CASE("podnet: a pod keeps its IP across a new manager reading the state file") {
  std::string err = isolated([](const std::string& dir) {
    auto o = options(dir);
    std::string ip;
    {
      PodNetworkManager first(o);
      first.init();
      ip = first.setup("pod-one", "default", "one").ip;
    }  // the daemon "restarts": the kernel objects stay, the manager is new
    PodNetworkManager second(o);
    second.init();
    auto known = second.lookup("pod-one");
    expect(known && known->ip == ip, "restarted manager lost the pod's IP");
    expect(second.podUids() == std::vector<std::string>{"pod-one"}, "podUids after restart");
    auto net = second.setup("pod-one", "default", "one");
    expect(net.ip == ip, "pod got " + net.ip + " after restart, had " + ip);
    expect(ping("", ip), "pod unreachable after restart");
    auto other = second.setup("pod-two", "default", "two");
    expect(other.ip != ip, "restarted manager handed out an IP in use");
    // A uid that is not hex still yields a valid, unique interface name.
    expect(net.hostVeth.size() <= 15 && net.hostVeth.rfind("k1st0v", 0) == 0, "veth name " + net.hostVeth);
    expect(net.hostVeth != other.hostVeth, "two pods share a veth name");
    second.teardown();
    expectClean(o);
  });
  CHECK_MESSAGE(err.empty(), err);
}

TEST_CASE("podnet: release frees the pod's network and the next pod gets a different IP") {
  std::string err = isolated([](const std::string& dir) {
    auto o = options(dir);
    PodNetworkManager m(o);
    m.init();
    auto first = m.setup("1111aaaa-0000-4000-8000-000000000001", "default", "web-1");
    m.release("1111aaaa-0000-4000-8000-000000000001");
    expect(!std::filesystem::exists(first.netnsPath), "netns handle left after release");
    expect(sh("ip link show dev " + first.hostVeth) != 0, "veth left after release");
    expect(!m.lookup("1111aaaa-0000-4000-8000-000000000001"), "lease left after release");
    m.release("1111aaaa-0000-4000-8000-000000000001");  // releasing twice is harmless
    auto second = m.setup("2222bbbb-0000-4000-8000-000000000002", "default", "web-2");
    expect(second.ip != first.ip, "replacement pod got the released IP " + first.ip);
    expect(ping("", second.ip), "replacement pod unreachable");
    m.teardown();
    expectClean(o);
  });
  CHECK_MESSAGE(err.empty(), err);
}

TEST_CASE("podnet: teardown also removes leftovers no lease remembers") {
  std::string err = isolated([](const std::string& dir) {
    auto o = options(dir);
    PodNetworkManager m(o);
    m.init();
    m.setup("3333cccc-0000-4000-8000-000000000003", "default", "x");
    // A crash after creating kernel objects but before recording them.
    std::filesystem::remove(o.stateFile);
    sh("ip link add k1st0vdeadbeef0 type veth peer name k1stpeer");
    PodNetworkManager fresh(o);
    fresh.teardown();
    expectClean(o);
  });
  CHECK_MESSAGE(err.empty(), err);
}

TEST_CASE("podnet: a bridge name that leaves no room for veth names is refused") {
  PodNetworkOptions o;
  o.bridge = "k1s-much-too-long";
  CHECK_THROWS_AS(PodNetworkManager{o}, std::runtime_error);
}
