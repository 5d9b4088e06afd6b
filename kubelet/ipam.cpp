#include "kubelet/ipam.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace k1s {

namespace {

std::runtime_error ipamError(const std::string& what) { return std::runtime_error("ipam: " + what); }

// Writes `data` to `path` so that a reader sees either the old or the new
// content, never a torn file: temp file in the same directory, fsync, rename.
void writeFileAtomic(const std::string& path, const std::string& data) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw ipamError("open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw ipamError("write " + tmp + ": " + std::strerror(e));
    }
    off += size_t(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw ipamError("rename " + tmp + ": " + std::strerror(errno));
}

}  // namespace

Ipam::Ipam(const std::string& range, std::string stateFile) : stateFile_(std::move(stateFile)) {
  auto c = Cidr::parse(range);
  if (!c) throw ipamError("invalid pod CIDR " + range);
  if (c->prefix > 30) throw ipamError("pod CIDR " + range + " is too small (needs at least /30)");
  range_ = *c;
  load();
}

bool Ipam::usable(uint32_t ip) const {
  uint32_t first = range_.base, lastAddr = range_.base + (range_.size() - 1);
  return range_.contains(ip) && ip != first && ip != first + 1 && ip != lastAddr;
}

size_t Ipam::capacity() const { return size_t(range_.size()) - 3; }

std::string Ipam::gateway() const { return formatIPv4(range_.base + 1); }

void Ipam::load() {
  if (stateFile_.empty()) return;
  std::ifstream in(stateFile_);
  if (!in) return;  // first start: nothing allocated yet
  std::stringstream ss;
  ss << in.rdbuf();
  Json j;
  try {
    j = Json::parse(ss.str());
  } catch (const std::exception& e) {
    throw ipamError("corrupt state file " + stateFile_ + ": " + e.what());
  }
  if (auto it = j.find("last"); it != j.end() && it->is_string()) {
    if (auto ip = parseIPv4(it->get<std::string>()); ip && range_.contains(*ip)) last_ = *ip;
  }
  std::set<uint32_t> seen;
  if (auto it = j.find("pods"); it != j.end() && it->is_object()) {
    for (auto& [uid, v] : it->items()) {
      if (!v.is_object() || !v.contains("ip") || !v["ip"].is_string()) continue;
      auto ip = parseIPv4(v["ip"].get<std::string>());
      // A lease outside the current range (the range changed) or a duplicate
      // cannot be honoured; dropping it lets the pod get a fresh address.
      if (!ip || !usable(*ip) || !seen.insert(*ip).second) continue;
      IpLease l{v["ip"].get<std::string>(), v.value("info", Json::object())};
      leases_.emplace(uid, std::move(l));
    }
  }
}

void Ipam::save() const {
  if (stateFile_.empty()) return;
  Json pods = Json::object();
  for (auto& [uid, l] : leases_) pods[uid] = Json{{"ip", l.ip}, {"info", l.info}};
  Json j{{"range", range_.str()}, {"pods", pods}};
  if (last_) j["last"] = formatIPv4(last_);
  writeFileAtomic(stateFile_, j.dump(1) + "\n");
}

std::string Ipam::allocate(const std::string& uid, const Json& info) {
  if (auto it = leases_.find(uid); it != leases_.end()) return it->second.ip;
  std::set<uint32_t> used;
  for (auto& [_, l] : leases_)
    if (auto ip = parseIPv4(l.ip)) used.insert(*ip);
  // Round-robin: start just after the last address handed out, so an address
  // released a moment ago is the last one to come back.
  uint32_t size = range_.size();
  uint32_t start = last_ && range_.contains(last_) ? last_ - range_.base + 1 : 0;
  for (uint32_t i = 0; i < size; i++) {
    uint32_t ip = range_.base + (start + i) % size;
    if (!usable(ip) || used.count(ip)) continue;
    uint32_t prevLast = last_;
    last_ = ip;
    leases_[uid] = IpLease{formatIPv4(ip), info.is_object() ? info : Json::object()};
    try {
      save();
    } catch (...) {
      leases_.erase(uid);  // an unpersisted lease could be handed out twice after a restart
      last_ = prevLast;
      throw;
    }
    return formatIPv4(ip);
  }
  throw ipamError("no free address in " + range_.str() + " (" + std::to_string(leases_.size()) + " in use)");
}

bool Ipam::setInfo(const std::string& uid, const Json& info) {
  auto it = leases_.find(uid);
  if (it == leases_.end()) return false;
  if (it->second.info == info) return true;
  it->second.info = info;
  save();
  return true;
}

std::optional<IpLease> Ipam::lookup(const std::string& uid) const {
  auto it = leases_.find(uid);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

bool Ipam::release(const std::string& uid) {
  auto it = leases_.find(uid);
  if (it == leases_.end()) return false;
  IpLease old = it->second;
  leases_.erase(it);
  try {
    save();
  } catch (...) {
    leases_[uid] = old;
    throw;
  }
  return true;
}

}  // namespace k1s
