#include "kubelet/podnet.h"

#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>

#include "common/log.h"
#include "common/net.h"
#include "kubelet/ipam.h"
#include "kubelet/netns.h"
#include "kubelet/podnet_nl.h"

namespace k1s {

namespace {

constexpr const char* kComp = "podnet";
constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1

std::runtime_error podnetError(const std::string& what) { return std::runtime_error("podnet: " + what); }

// Writes a sysctl through /proc/sys; these are per network namespace for the
// ones used here, so a daemon inside a private netns only changes its own.
bool writeSysctl(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  if (!f) return false;
  f << value;
  f.flush();
  return bool(f);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// A short, stable hex tag for a pod: the leading hex digits of its uid (so a
// veth can be matched to `kubectl get pod -o yaml` by eye) or, for a uid that
// is not hex or when the first choice is taken (salt > 0), a hash of it.
std::string shortId(const std::string& uid, int salt, size_t len) {
  std::string hex;
  for (char c : uid) {
    if (c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      hex.clear();
      break;
    }
    hex += char(std::tolower(static_cast<unsigned char>(c)));
  }
  if (salt == 0 && hex.size() >= len) return hex.substr(0, len);
  static const char digits[] = "0123456789abcdef";
  uint64_t h = fnv1a(uid + "#" + std::to_string(salt));
  std::string out;
  for (size_t i = 0; i < len && i < 16; i++, h >>= 4) out += digits[h & 15];
  return out;
}

}  // namespace

struct PodNetworkManager::Impl {
  mutable std::mutex mu;
  std::unique_ptr<Ipam> ipam;
  std::string netnsDir;
  bool bridgeNf = false;

  struct Names {
    std::string veth, netns;
  };
  // The names recorded with the pod's lease, else fresh ones no other lease uses.
  Names namesFor(const PodNetworkOptions& o, const std::string& uid) const;
  void releaseLocked(nl::Socket& sk, const PodNetworkOptions& o, const std::string& uid);
};

PodNetworkManager::Impl::Names PodNetworkManager::Impl::namesFor(const PodNetworkOptions& o,
                                                                 const std::string& uid) const {
  if (auto l = ipam->lookup(uid); l && l->info.contains("veth") && l->info.contains("netns"))
    return {l->info["veth"].get<std::string>(), l->info["netns"].get<std::string>()};
  std::set<std::string> taken;
  for (auto& [other, lease] : ipam->leases())
    if (other != uid) taken.insert(lease.info.value("veth", ""));
  size_t len = kIfNameMax - o.bridge.size() - 1;  // "<bridge>v<hex>"
  for (int salt = 0;; salt++) {
    std::string id = shortId(uid, salt, len);
    std::string veth = o.bridge + "v" + id;
    if (!taken.count(veth)) return {veth, netnsDir + "/" + o.bridge + "-" + id};
  }
}

void PodNetworkManager::Impl::releaseLocked(nl::Socket& sk, const PodNetworkOptions& o, const std::string& uid) {
  auto lease = ipam->lookup(uid);
  if (!lease) return;
  Names n = namesFor(o, uid);
  nl::deleteLink(sk, n.veth);  // takes the pod's eth0 with it
  removeNetns(n.netns);
  ipam->release(uid);
  LOGI(kComp, "released pod network uid=" << uid << " ip=" << lease->ip);
}

PodNetworkManager::PodNetworkManager(PodNetworkOptions o) : o_(std::move(o)), impl_(std::make_unique<Impl>()) {
  if (o_.bridge.empty() || o_.bridge.size() > kIfNameMax - 5)
    throw podnetError("bridge name \"" + o_.bridge + "\" must be 1 to " + std::to_string(kIfNameMax - 5) +
                      " characters (veth names add 5)");
  if (!Cidr::parse(o_.serviceCIDR)) throw podnetError("invalid service CIDR " + o_.serviceCIDR);
  impl_->ipam = std::make_unique<Ipam>(o_.podCIDR, o_.stateFile);
  impl_->netnsDir = (o_.runDir.empty() ? std::string("/run/k1s") : o_.runDir) + "/netns";
}

PodNetworkManager::~PodNetworkManager() = default;

std::string PodNetworkManager::bridgeIP() const { return impl_->ipam->gateway(); }

bool PodNetworkManager::bridgeNetfilter() const {
  std::lock_guard lk(impl_->mu);
  return impl_->bridgeNf;
}

void PodNetworkManager::init() {
  std::lock_guard lk(impl_->mu);
  nl::Socket sk;
  nl::addBridge(sk, o_.bridge);
  auto br = nl::link(sk, o_.bridge);
  if (!br.index) throw podnetError("bridge " + o_.bridge + " vanished after creation");
  if (br.type != "bridge") throw podnetError("link " + o_.bridge + " exists and is a " + br.type + ", not a bridge");
  nl::addAddress(sk, br.index, bridgeIP() + "/" + std::to_string(impl_->ipam->prefix()));
  nl::setUp(sk, o_.bridge);
  if (!writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"))
    throw podnetError(std::string("cannot enable net.ipv4.ip_forward: ") + std::strerror(errno));
  // Service traffic goes to the bridge where iptables DNAT picks a pod; it
  // must never follow the default route off the machine (DESIGN rule 8).
  nl::replaceRoute(sk, o_.serviceCIDR, br.index);
  // Without br_netfilter, pod->service->pod traffic on the same bridge is
  // switched past iptables and its DNAT reply is never un-NATed. The module
  // is the host's business; only use it when it is there.
  impl_->bridgeNf = std::filesystem::exists("/proc/sys/net/bridge/bridge-nf-call-iptables") &&
                    writeSysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
  if (!impl_->bridgeNf)
    LOGW(kComp, "bridge netfilter unavailable (br_netfilter not loaded): a pod reaching a service backed by a pod "
                "on the same bridge may fail");
  prepareNetnsDir(impl_->netnsDir);
  LOGI(kComp, "bridge ready bridge=" << o_.bridge << " ip=" << bridgeIP() << "/" << impl_->ipam->prefix()
                                     << " serviceCIDR=" << o_.serviceCIDR << " bridgeNetfilter=" << impl_->bridgeNf);
}

PodNetwork PodNetworkManager::setup(const std::string& podUid, const std::string& podNamespace,
                                   const std::string& podName, const std::vector<int>& livePids) {
  std::lock_guard lk(impl_->mu);
  auto n = impl_->namesFor(o_, podUid);
  Json info{{"veth", n.veth}, {"netns", n.netns}, {"namespace", podNamespace}, {"name", podName}};
  bool fresh = !impl_->ipam->lookup(podUid);
  std::string ip = impl_->ipam->allocate(podUid, info);
  if (!fresh) impl_->ipam->setInfo(podUid, info);
  PodNetwork net{n.netns, ip, n.veth};

  nl::Socket sk;
  auto br = nl::link(sk, o_.bridge);
  if (!br.index) throw podnetError("bridge " + o_.bridge + " does not exist (init() not run?)");
  auto host = nl::link(sk, n.veth);
  // The handle went with the mount namespace of the daemon that made it (a restart under `ip netns
  // exec`, or in another mount namespace) while the pod's containers still live in the namespace:
  // bind it back from one of them rather than make a new one and cut them off.
  if (!fresh && host.index && !isNetns(n.netns) && !livePids.empty()) {
    prepareNetnsDir(impl_->netnsDir);
    for (int pid : livePids)
      if (attachNetns(n.netns, pid)) {
        LOGI(kComp, "re-adopted pod sandbox pod=" << podNamespace << "/" << podName << " netns=" << n.netns
                                                  << " from=/proc/" << pid << "/ns/net");
        break;
      }
  }
  // Already wired (a repeated setup, or a restart with the pod still running):
  // leave it alone so running containers keep their network untouched.
  if (!fresh && isNetns(n.netns) && host.index && host.master == br.index && host.up) return net;

  prepareNetnsDir(impl_->netnsDir);
  bool newNetns = createNetns(n.netns);
  // A veth left from an earlier attempt is useless when its pod end lives in
  // a namespace that no longer exists, and in the way of the new pair.
  if (host.index && (newNetns || host.type != "veth")) {
    nl::deleteLink(sk, n.veth);
    host = {};
  }
  if (!host.index) {
    int fd = ::open(n.netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw podnetError("open " + n.netns + ": " + std::strerror(errno));
    try {
      nl::addVethPair(sk, n.veth, "eth0", fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    host = nl::link(sk, n.veth);
  }
  nl::setMaster(sk, n.veth, br.index);
  nl::setUp(sk, n.veth);
  nl::setHairpin(sk, host.index, true);

  std::string cidr = ip + "/" + std::to_string(impl_->ipam->prefix());
  std::string gw = bridgeIP();
  runInNetns(n.netns, [&] {
    nl::Socket podSk;  // opened on this thread, so it talks to the pod's namespace
    nl::setUp(podSk, "lo");
    auto eth0 = nl::link(podSk, "eth0");
    if (!eth0.index) throw podnetError("eth0 missing in " + n.netns);
    nl::addAddress(podSk, eth0.index, cidr);
    nl::setUp(podSk, "eth0");
    nl::replaceRoute(podSk, "0.0.0.0/0", eth0.index, gw);
  });
  LOGI(kComp, "pod network ready pod=" << podNamespace << "/" << podName << " uid=" << podUid << " ip=" << ip
                                       << " veth=" << n.veth << " netns=" << n.netns);
  return net;
}

bool PodNetworkManager::alive(const PodNetwork& net) const {
  // Cheap enough for every sync: a statfs and an ioctl, no netlink socket.
  return isNetns(net.netnsPath) && !net.hostVeth.empty() && if_nametoindex(net.hostVeth.c_str()) != 0;
}

void PodNetworkManager::release(const std::string& podUid) {
  std::lock_guard lk(impl_->mu);
  nl::Socket sk;
  impl_->releaseLocked(sk, o_, podUid);
}

void PodNetworkManager::teardown() {
  std::lock_guard lk(impl_->mu);
  nl::Socket sk;
  std::vector<std::string> uids;
  for (auto& [uid, _] : impl_->ipam->leases()) uids.push_back(uid);
  for (auto& uid : uids) impl_->releaseLocked(sk, o_, uid);
  // Leftovers no lease remembers (a crash between creating and recording):
  // anything carrying this bridge's prefix is ours.
  std::string vethPrefix = o_.bridge + "v", nsPrefix = o_.bridge + "-";
  for (auto& name : nl::linkNames(sk))
    if (name.rfind(vethPrefix, 0) == 0 && nl::link(sk, name).type == "veth") nl::deleteLink(sk, name);
  std::error_code ec;
  std::vector<std::string> handles;
  if (std::filesystem::is_directory(impl_->netnsDir, ec))
    for (auto& e : std::filesystem::directory_iterator(impl_->netnsDir, ec))
      if (e.path().filename().string().rfind(nsPrefix, 0) == 0) handles.push_back(e.path().string());
  for (auto& h : handles) removeNetns(h);
  if (auto br = nl::link(sk, o_.bridge); br.index) {
    nl::deleteRoute(sk, o_.serviceCIDR, br.index);
    nl::deleteLink(sk, o_.bridge);
  }
  releaseNetnsDir(impl_->netnsDir);
  LOGI(kComp, "pod network torn down bridge=" << o_.bridge);
}

std::optional<PodNetwork> PodNetworkManager::lookup(const std::string& podUid) const {
  std::lock_guard lk(impl_->mu);
  auto l = impl_->ipam->lookup(podUid);
  if (!l) return std::nullopt;
  return PodNetwork{l->info.value("netns", ""), l->ip, l->info.value("veth", "")};
}

std::vector<std::string> PodNetworkManager::podUids() const {
  std::lock_guard lk(impl_->mu);
  std::vector<std::string> out;
  for (auto& [uid, _] : impl_->ipam->leases()) out.push_back(uid);
  return out;
}

}  // namespace k1s
