#include "common/meta.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <random>

namespace k1s {

static std::mt19937_64& rng() {
  // On the heap: a thread_local generator itself (5 KB) is zeroed, hence resident, in every thread.
  thread_local std::unique_ptr<std::mt19937_64> g;
  if (!g) g = std::make_unique<std::mt19937_64>(std::random_device{}());
  return *g;
}

std::string nowRfc3339() {
  time_t t = time(nullptr);
  tm u;
  gmtime_r(&t, &u);
  char b[32];
  strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &u);
  return b;
}

std::string nowRfc3339Micro() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm u;
  gmtime_r(&tv.tv_sec, &u);
  char b[48];
  size_t n = strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &u);
  snprintf(b + n, sizeof b - n, ".%06ldZ", long(tv.tv_usec));
  return b;
}

long long parseRfc3339(const std::string& s) {
  tm u{};
  int y, mo, d, h, mi, sec;
  if (sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) return -1;
  u.tm_year = y - 1900;
  u.tm_mon = mo - 1;
  u.tm_mday = d;
  u.tm_hour = h;
  u.tm_min = mi;
  u.tm_sec = sec;
  long long t = timegm(&u);
  // Offsets like +09:00 (rare from clients, but legal RFC 3339).
  auto pos = s.find_first_of("+-", 19);
  if (pos != std::string::npos && s.size() >= pos + 6) {
    int oh = std::stoi(s.substr(pos + 1, 2)), om = std::stoi(s.substr(pos + 4, 2));
    long long off = oh * 3600 + om * 60;
    t += s[pos] == '+' ? -off : off;
  }
  return t;
}

std::string newUid() {
  std::uniform_int_distribution<int> d(0, 15);
  const char* hex = "0123456789abcdef";
  std::string u = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (auto& c : u) {
    if (c == 'x') c = hex[d(rng())];
    else if (c == 'y') c = hex[8 + d(rng()) % 4];
  }
  return u;
}

std::string randomSuffix(size_t n) {
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<int> d(0, sizeof(alphabet) - 2);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += alphabet[d(rng())];
  return s;
}

Json controllerRef(const Json& o) {
  auto& m = metaOf(o);
  auto it = m.find("ownerReferences");
  if (it == m.end() || !it->is_array()) return nullptr;
  for (auto& r : *it)
    if (r.value("controller", false)) return r;
  return nullptr;
}

}  // namespace k1s
