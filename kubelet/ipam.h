// IP address management for the node's pod range: one IPv4 address per pod
// uid, never handed out twice while in use, persisted as JSON (atomic write)
// so a daemon restart keeps every pod's address. Allocation walks round-robin
// from the last address handed out, so a replaced pod visibly gets a new IP.
// Not thread-safe: the owner (PodNetworkManager) serialises calls.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/json.h"
#include "common/net.h"

namespace k1s {

struct IpLease {
  std::string ip;
  Json info = Json::object();  // owner's bookkeeping (e.g. veth and netns names)
};

class Ipam {
 public:
  // `range` is the pod CIDR; its network address, first host (the bridge /
  // gateway) and broadcast address are never handed out. An empty stateFile
  // keeps everything in memory. Throws std::runtime_error on a bad range or an
  // unreadable state file.
  Ipam(const std::string& range, std::string stateFile);

  // The pod's address: its existing lease, or a fresh one (persisted before
  // returning). Throws std::runtime_error when the range is exhausted.
  std::string allocate(const std::string& uid, const Json& info = Json::object());
  // Replaces the bookkeeping of an existing lease (persisted); false if none.
  bool setInfo(const std::string& uid, const Json& info);
  std::optional<IpLease> lookup(const std::string& uid) const;
  // Frees the pod's address; false if it had none.
  bool release(const std::string& uid);
  const std::map<std::string, IpLease>& leases() const { return leases_; }

  std::string gateway() const;  // first host address of the range
  int prefix() const { return range_.prefix; }
  size_t capacity() const;      // addresses that can be handed out

 private:
  void load();
  void save() const;
  bool usable(uint32_t ip) const;

  Cidr range_;
  std::string stateFile_;
  std::map<std::string, IpLease> leases_;  // by pod uid
  uint32_t last_ = 0;                      // last address handed out (0: none yet)
};

}  // namespace k1s
