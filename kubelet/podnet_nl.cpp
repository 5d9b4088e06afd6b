#include "kubelet/podnet_nl.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <stdexcept>

namespace k1s::nl {

namespace {

std::runtime_error nlError(const std::string& what, int err) {
  return std::runtime_error("netlink: " + what + ": " + nl_geterror(err));
}

struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct RtAddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct CachePut {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using AddrPtr = std::unique_ptr<nl_addr, AddrPut>;

AddrPtr parseAddr(const std::string& s) {
  nl_addr* a = nullptr;
  int err = nl_addr_parse(s.c_str(), AF_INET, &a);
  if (err < 0) throw nlError("parse address " + s, err);
  return AddrPtr(a);
}

LinkPtr getLink(Socket& s, const std::string& name) {
  rtnl_link* l = nullptr;
  int err = rtnl_link_get_kernel(s.get(), 0, name.c_str(), &l);
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return nullptr;
  if (err < 0) throw nlError("get link " + name, err);
  return LinkPtr(l);
}

LinkPtr requireLink(Socket& s, const std::string& name) {
  auto l = getLink(s, name);
  if (!l) throw std::runtime_error("netlink: link " + name + " does not exist");
  return l;
}

// Applies the attributes set on `change` to the existing link `name`.
void changeLink(Socket& s, const std::string& name, rtnl_link* change, const char* what) {
  auto orig = requireLink(s, name);
  int err = rtnl_link_change(s.get(), orig.get(), change, 0);
  if (err < 0) throw nlError(std::string(what) + " " + name, err);
}

}  // namespace

Socket::Socket() {
  sk_ = nl_socket_alloc();
  if (!sk_) throw std::runtime_error("netlink: cannot allocate socket");
  int err = nl_connect(sk_, NETLINK_ROUTE);
  if (err < 0) {
    nl_socket_free(sk_);
    throw nlError("connect", err);
  }
}

Socket::~Socket() { nl_socket_free(sk_); }

LinkInfo link(Socket& s, const std::string& name) {
  LinkInfo info;
  auto l = getLink(s, name);
  if (!l) return info;
  info.index = rtnl_link_get_ifindex(l.get());
  info.master = rtnl_link_get_master(l.get());
  info.up = rtnl_link_get_flags(l.get()) & IFF_UP;
  if (const char* t = rtnl_link_get_type(l.get())) info.type = t;
  return info;
}

std::vector<std::string> linkNames(Socket& s) {
  nl_cache* raw = nullptr;
  int err = rtnl_link_alloc_cache(s.get(), AF_UNSPEC, &raw);
  if (err < 0) throw nlError("list links", err);
  std::unique_ptr<nl_cache, CachePut> cache(raw);
  std::vector<std::string> names;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o))
    if (const char* n = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(o))) names.push_back(n);
  return names;
}

void addBridge(Socket& s, const std::string& name) {
  int err = rtnl_link_bridge_add(s.get(), name.c_str());
  if (err < 0 && err != -NLE_EXIST) throw nlError("add bridge " + name, err);
}

void addVethPair(Socket& s, const std::string& host, const std::string& peerName, int peerNetnsFd) {
  LinkPtr l(rtnl_link_veth_alloc());
  if (!l) throw std::runtime_error("netlink: cannot allocate veth");
  rtnl_link_set_name(l.get(), host.c_str());
  // In libnl 3.7 get_peer takes a reference of its own; the link's release
  // drops the one the pair holds.
  rtnl_link* peer = rtnl_link_veth_get_peer(l.get());
  rtnl_link_set_name(peer, peerName.c_str());
  rtnl_link_set_ns_fd(peer, peerNetnsFd);
  rtnl_link_put(peer);
  int err = rtnl_link_add(s.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) throw nlError("add veth " + host + "/" + peerName, err);
}

void deleteLink(Socket& s, const std::string& name) {
  auto l = getLink(s, name);
  if (!l) return;
  int err = rtnl_link_delete(s.get(), l.get());
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND) throw nlError("delete link " + name, err);
}

void setUp(Socket& s, const std::string& name) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  changeLink(s, name, change.get(), "set up");
}

void setMaster(Socket& s, const std::string& name, int masterIndex) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_master(change.get(), masterIndex);
  changeLink(s, name, change.get(), "set master of");
}

void setHairpin(Socket& s, int portIndex, bool on) {
  // RTM_SETLINK with family AF_BRIDGE reaches the bridge's port settings;
  // built by hand because libnl's bridge-flag path varies across versions.
  nl_msg* msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  if (!msg) throw std::runtime_error("netlink: cannot allocate message");
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = portIndex;
  nlattr* protinfo = nullptr;
  if (nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
      !(protinfo = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED)) ||
      nla_put_u8(msg, IFLA_BRPORT_MODE, on ? 1 : 0) < 0) {
    nlmsg_free(msg);
    throw std::runtime_error("netlink: cannot build hairpin message");
  }
  nla_nest_end(msg, protinfo);
  int err = nl_send_sync(s.get(), msg);  // frees msg, waits for the ack
  if (err < 0) throw nlError("set hairpin on port " + std::to_string(portIndex), err);
}

void addAddress(Socket& s, int ifindex, const std::string& cidrAddress) {
  std::unique_ptr<rtnl_addr, RtAddrPut> a(rtnl_addr_alloc());
  auto local = parseAddr(cidrAddress);
  rtnl_addr_set_ifindex(a.get(), ifindex);
  int err = rtnl_addr_set_local(a.get(), local.get());
  if (err < 0) throw nlError("address " + cidrAddress, err);
  err = rtnl_addr_add(s.get(), a.get(), 0);
  if (err < 0 && err != -NLE_EXIST) throw nlError("add address " + cidrAddress, err);
}

namespace {

std::unique_ptr<rtnl_route, RoutePut> makeRoute(const std::string& dst, int ifindex, const std::string& gateway) {
  std::unique_ptr<rtnl_route, RoutePut> r(rtnl_route_alloc());
  rtnl_route_set_family(r.get(), AF_INET);
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(r.get(), RTN_UNICAST);
  rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
  // A route straight out of a device is on-link (scope link), one through a
  // gateway reaches beyond it (scope universe), as `ip route add` decides.
  rtnl_route_set_scope(r.get(), gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  auto d = parseAddr(dst);
  int err = rtnl_route_set_dst(r.get(), d.get());
  if (err < 0) throw nlError("route destination " + dst, err);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (!gateway.empty()) rtnl_route_nh_set_gateway(nh, parseAddr(gateway).get());
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh from here
  return r;
}

}  // namespace

void replaceRoute(Socket& s, const std::string& dst, int ifindex, const std::string& gateway) {
  auto r = makeRoute(dst, ifindex, gateway);
  int err = rtnl_route_add(s.get(), r.get(), NLM_F_REPLACE);
  if (err < 0) throw nlError("add route " + dst, err);
}

void deleteRoute(Socket& s, const std::string& dst, int ifindex) {
  auto r = makeRoute(dst, ifindex, "");
  int err = rtnl_route_delete(s.get(), r.get(), 0);
  if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV && err != -NLE_NOADDR)
    throw nlError("delete route " + dst, err);
}

}  // namespace k1s::nl
