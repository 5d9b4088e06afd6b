// Thin RAII layer over libnl-route for the few link, address and route
// operations pod networking needs. A socket talks to the network namespace
// of the thread that opened it. Errors throw std::runtime_error naming the
// operation and the object.
#pragma once
#include <memory>
#include <string>
#include <vector>

struct nl_sock;
struct rtnl_link;

namespace k1s::nl {

class Socket {
 public:
  Socket();  // NETLINK_ROUTE, connected
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  nl_sock* get() const { return sk_; }

 private:
  nl_sock* sk_ = nullptr;
};

struct LinkInfo {
  int index = 0;
  int master = 0;  // ifindex of the bridge it is enslaved to, 0 if none
  bool up = false;
  std::string type;  // "bridge", "veth", ... ("" when the kernel does not say)
};

// The link called `name`, or index 0 when there is none.
LinkInfo link(Socket& s, const std::string& name);
std::vector<std::string> linkNames(Socket& s);

void addBridge(Socket& s, const std::string& name);  // an existing one is fine
// A veth pair: `host` here, `peer` created directly inside the namespace
// `peerNetnsFd` refers to (so its name cannot clash with links here).
void addVethPair(Socket& s, const std::string& host, const std::string& peer, int peerNetnsFd);
void deleteLink(Socket& s, const std::string& name);  // a missing one is fine
void setUp(Socket& s, const std::string& name);
void setMaster(Socket& s, const std::string& name, int masterIndex);
// Bridge port hairpin mode (IFLA_BRPORT_MODE): lets a pod reach itself
// through a service whose DNAT sends the packet back out the port it came in.
void setHairpin(Socket& s, int portIndex, bool on);

// Adds "a.b.c.d/len" to the link; an identical address already there is fine.
void addAddress(Socket& s, int ifindex, const std::string& cidrAddress);
// Replaces (or creates) the main-table route to `dst` ("0.0.0.0/0" for
// default) out of `ifindex`, through `gateway` if non-empty.
void replaceRoute(Socket& s, const std::string& dst, int ifindex, const std::string& gateway = "");
void deleteRoute(Socket& s, const std::string& dst, int ifindex);  // a missing one is fine

}  // namespace k1s::nl
