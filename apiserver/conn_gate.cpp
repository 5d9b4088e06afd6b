#include "apiserver/conn_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>

#include "apiserver/thread_pool.h"
#include "common/log.h"

namespace k1s {

namespace {

using Clock = std::chrono::steady_clock;

std::string peerAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof buf);
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, buf, sizeof buf);
  return buf;
}

// Closes with a reset rather than a FIN: a refused or pushed-out client learns at once, and
// the socket leaves no TIME_WAIT behind.
void closeAbortive(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

// Each held connection takes a descriptor (two while on a worker: the gate's and the
// worker's duplicate); the soft limit is often 1024. Raised as far as the hard limit allows.
void raiseDescriptorLimit(size_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min<rlim_t>(want, rl.rlim_max);
  setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

struct ConnectionGate::Impl {
  enum class State { Idle, Waiting, Served };
  struct Conn {
    uint64_t id;
    int fd;             // the gate's descriptor; closed when the connection leaves the gate
    int servedFd = -1;  // the worker's duplicate (httplib closes it)
    std::string address;
    Clock::time_point deadline;
    State state = State::Idle;
    bool headRead = false;
  };
  struct PerAddress {
    size_t idle = 0, waiting = 0, served = 0;
    bool empty() const { return idle == 0 && waiting == 0 && served == 0; }
    std::deque<uint64_t> idleOrder;  // oldest first; ids of connections no longer idle are skipped
  };

  int listenFd;
  ConnectionLimits lim;
  Serve serve;
  int epollFd = -1, wakeFd = -1;
  std::unique_ptr<GrowingThreadPool> pool;
  std::thread loop;

  mutable std::mutex mu;
  bool stopping = false;
  uint64_t nextId = 1;
  std::unordered_map<uint64_t, Conn> conns;
  std::unordered_map<int, uint64_t> byFd;        // gate descriptor -> id (epoll events)
  std::unordered_map<int, uint64_t> byServedFd;  // worker descriptor -> id (requestHeadRead)
  std::unordered_map<std::string, PerAddress> perAddress;
  std::deque<uint64_t> idleOrder;                     // all idle, oldest first (lazy, like PerAddress's)
  std::deque<uint64_t> waiting;                       // ready for a worker, first come first served
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines;  // connections whose head is not read yet
  size_t served = 0;
  Counts totals;
  Clock::time_point acceptPausedUntil{};

  Impl(int fd, ConnectionLimits l, Serve s) : listenFd(fd), lim(l), serve(std::move(s)) {}

  // --- bookkeeping, all under mu ---

  void removeLocked(Conn& c, bool abortive) {
    const uint64_t id = c.id;
    const int fd = c.fd;
    auto& pa = perAddress[c.address];
    if (c.state == State::Idle) {
      --pa.idle;
      epoll_ctl(epollFd, EPOLL_CTL_DEL, fd, nullptr);
    } else if (c.state == State::Waiting) {
      --pa.waiting;  // (its id stays in `waiting` until the next dispatch skips it)
    } else {
      --pa.served;
      --served;
      auto it = byServedFd.find(c.servedFd);
      if (it != byServedFd.end() && it->second == c.id) byServedFd.erase(it);
    }
    if (pa.empty()) perAddress.erase(c.address);
    if (!c.headRead) deadlines.erase({c.deadline, id});
    byFd.erase(fd);
    if (abortive)
      closeAbortive(fd);
    else
      close(fd);
    conns.erase(id);
  }

  Conn* idleConn(uint64_t id) {
    auto it = conns.find(id);
    return it != conns.end() && it->second.state == State::Idle ? &it->second : nullptr;
  }

  // The idle orders keep ids of connections that have moved on; dropped from the front as
  // they come up (the oldest idle connection leaves by its deadline, so fronts move).
  void trimFront(std::deque<uint64_t>& order) {
    while (!order.empty() && !idleConn(order.front())) order.pop_front();
  }

  // Pushes out the oldest idle connection, of one address or of any. False if there is none.
  bool pushOutOldestIdle(std::deque<uint64_t>& order) {
    while (!order.empty()) {
      uint64_t id = order.front();
      order.pop_front();
      if (Conn* c = idleConn(id)) {
        removeLocked(*c, true);
        ++totals.pushedOut;
        return true;
      }
    }
    return false;
  }

  bool mayServe(const PerAddress& pa) const {
    if (served < lim.maxServed && pa.served < lim.maxServedPerAddress) return true;
    return served < lim.maxServed + lim.reservedServed && pa.served < lim.smallClient;
  }

  void dispatchLocked(Conn& c) {
    int dupFd = fcntl(c.fd, F_DUPFD_CLOEXEC, 0);
    if (dupFd < 0) {  // out of descriptors: the client retries
      removeLocked(c, true);
      ++totals.refused;
      return;
    }
    auto& pa = perAddress[c.address];
    ++pa.served;
    ++served;
    c.state = State::Served;
    c.servedFd = dupFd;
    byServedFd[dupFd] = c.id;
    uint64_t id = c.id;
    pool->enqueue([this, id, dupFd] {
      serve(dupFd);
      finished(id);
    });
  }

  // Hands waiting connections to workers while there are slots; skips (keeps) those whose
  // address is at its share.
  void dispatchWaitingLocked() {
    for (auto it = waiting.begin(); it != waiting.end();) {
      auto c = conns.find(*it);
      if (c == conns.end() || c->second.state != State::Waiting) {
        it = waiting.erase(it);
        continue;
      }
      if (served >= lim.maxServed + lim.reservedServed) return;
      if (!mayServe(perAddress[c->second.address])) {
        ++it;
        continue;
      }
      it = waiting.erase(it);
      --perAddress[c->second.address].waiting;
      dispatchLocked(c->second);
    }
  }

  void finished(uint64_t id) {
    std::lock_guard<std::mutex> l(mu);
    auto it = conns.find(id);
    if (it != conns.end()) removeLocked(it->second, false);
    if (!stopping) dispatchWaitingLocked();
  }

  // --- the loop's steps ---

  void acceptAll() {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = accept4(listenFd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      std::lock_guard<std::mutex> l(mu);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: make room from the idle ones, else stop accepting for a moment
          // (the listen socket stays readable; polling it now would spin).
          if (pushOutOldestIdle(idleOrder)) continue;
          acceptPausedUntil = Clock::now() + std::chrono::milliseconds(50);
          epoll_ctl(epollFd, EPOLL_CTL_DEL, listenFd, nullptr);
        }
        return;  // EAGAIN: all accepted
      }
      ++totals.accepted;
      std::string address = peerAddress(ss);
      // (an entry of perAddress may go while connections are pushed out: looked up again after)
      if (auto pa = perAddress.find(address); pa != perAddress.end() && pa->second.idle >= lim.maxIdlePerAddress)
        pushOutOldestIdle(pa->second.idleOrder);
      if (conns.size() >= lim.maxConnections && !pushOutOldestIdle(idleOrder)) {
        closeAbortive(fd);
        ++totals.refused;
        continue;
      }
      uint64_t id = nextId++;
      Conn c{id, fd, -1, address, Clock::now() + lim.firstRequestDeadline};
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      if (epoll_ctl(epollFd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        closeAbortive(fd);
        ++totals.refused;
        continue;
      }
      auto& pa = perAddress[address];
      ++pa.idle;
      trimFront(pa.idleOrder);
      pa.idleOrder.push_back(id);
      trimFront(idleOrder);
      idleOrder.push_back(id);
      deadlines.insert({c.deadline, id});
      byFd[fd] = id;
      conns.emplace(id, std::move(c));
    }
  }

  // An idle connection became readable: its first bytes arrived, or it closed.
  void idleReadable(int fd) {
    std::lock_guard<std::mutex> l(mu);
    auto b = byFd.find(fd);
    if (b == byFd.end()) return;
    Conn* c = idleConn(b->second);
    if (!c) return;
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {  // closed or failed before a byte
      removeLocked(*c, false);
      return;
    }
    if (n < 0) return;
    epoll_ctl(epollFd, EPOLL_CTL_DEL, fd, nullptr);
    auto& pa = perAddress[c->address];
    --pa.idle;
    c->state = State::Waiting;
    if (mayServe(pa)) {
      dispatchLocked(*c);
    } else {
      ++pa.waiting;
      waiting.push_back(c->id);
    }
  }

  // Closes what missed its first-request deadline; returns the time to the next one.
  int expire() {
    std::lock_guard<std::mutex> l(mu);
    auto now = Clock::now();
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      uint64_t id = deadlines.begin()->second;
      deadlines.erase(deadlines.begin());
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      c.headRead = true;  // (its deadline entry is gone)
      ++totals.timedOut;
      if (c.state == State::Served) {
        // On a worker: end the connection under it; the worker's read fails and it closes.
        shutdown(c.fd, SHUT_RDWR);
      } else {
        removeLocked(c, true);
      }
    }
    int wait = 1000;
    if (!deadlines.empty()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadlines.begin()->first - now).count() + 1;
      wait = static_cast<int>(std::min<long long>(wait, ms));
    }
    if (acceptPausedUntil != Clock::time_point{}) {
      if (acceptPausedUntil <= now) {
        acceptPausedUntil = {};
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = listenFd;
        epoll_ctl(epollFd, EPOLL_CTL_ADD, listenFd, &ev);
      } else {
        wait = std::min(wait, 50);
      }
    }
    return wait;
  }

  void run() {
    epoll_event evs[64];
    for (;;) {
      int wait = expire();
      int n = epoll_wait(epollFd, evs, 64, wait);
      if (n < 0 && errno != EINTR) {
        LOGE("apiserver", "connection gate: epoll_wait failed errno=" << errno);
        return;
      }
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        if (fd == wakeFd) return;  // stop()
        if (fd == listenFd)
          acceptAll();
        else
          idleReadable(fd);
      }
    }
  }
};

ConnectionGate::ConnectionGate(int listenFd, ConnectionLimits limits, Serve serve)
    : impl_(std::make_unique<Impl>(listenFd, limits, std::move(serve))) {}

ConnectionGate::~ConnectionGate() { stop(); }

void ConnectionGate::start() {
  auto& I = *impl_;
  raiseDescriptorLimit(2 * I.lim.maxConnections + 4096);
  int flags = fcntl(I.listenFd, F_GETFL);
  fcntl(I.listenFd, F_SETFL, flags | O_NONBLOCK);
  I.epollFd = epoll_create1(EPOLL_CLOEXEC);
  I.wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (I.epollFd < 0 || I.wakeFd < 0) throw std::runtime_error("connection gate: cannot create its epoll set");
  for (int fd : {I.listenFd, I.wakeFd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(I.epollFd, EPOLL_CTL_ADD, fd, &ev);
  }
  // Workers start on demand up to the cap and leave when idle (thread_pool.h).
  I.pool = std::make_unique<GrowingThreadPool>(4, I.lim.maxServed + I.lim.reservedServed);
  I.loop = std::thread([&I] { I.run(); });
}

void ConnectionGate::stop() {
  auto& I = *impl_;
  if (!I.loop.joinable()) return;
  uint64_t one = 1;
  (void)!write(I.wakeFd, &one, sizeof one);
  I.loop.join();
  {
    std::lock_guard<std::mutex> l(I.mu);
    I.stopping = true;
    std::vector<uint64_t> notServed;
    for (auto& [id, c] : I.conns) {
      if (c.state == Impl::State::Served)
        shutdown(c.fd, SHUT_RD);
      else
        notServed.push_back(id);
    }
    for (auto id : notServed) I.removeLocked(I.conns.at(id), true);
    I.waiting.clear();
  }
  I.pool->shutdown();
  close(I.epollFd);
  close(I.wakeFd);
}

void ConnectionGate::requestHeadRead(int servedFd) {
  auto& I = *impl_;
  std::lock_guard<std::mutex> l(I.mu);
  auto b = I.byServedFd.find(servedFd);
  if (b == I.byServedFd.end()) return;
  auto it = I.conns.find(b->second);
  if (it == I.conns.end() || it->second.headRead) return;
  it->second.headRead = true;
  I.deadlines.erase({it->second.deadline, it->second.id});
}

ConnectionGate::Counts ConnectionGate::counts() const {
  auto& I = *impl_;
  std::lock_guard<std::mutex> l(I.mu);
  Counts c = I.totals;
  for (auto& [id, conn] : I.conns) {
    if (conn.state == Impl::State::Idle) ++c.idle;
    if (conn.state == Impl::State::Waiting) ++c.waiting;
  }
  c.served = I.served;
  return c;
}

}  // namespace k1s
