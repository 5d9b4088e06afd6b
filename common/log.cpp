#include "common/log.h"

#include <sys/time.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace k1s {

static std::atomic<int> g_verbosity{0};
void setLogVerbosity(int v) { g_verbosity = v; }
int logVerbosity() { return g_verbosity; }

void logLine(char severity, const char* component, const std::string& msg) {
  static std::mutex mu;
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char head[64];
  snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%03d", severity, t.tm_mon + 1, t.tm_mday, t.tm_hour,
           t.tm_min, t.tm_sec, int(tv.tv_usec / 1000));
  std::lock_guard<std::mutex> l(mu);
  fprintf(stderr, "%s %s] %s\n", head, component, msg.c_str());
}

}  // namespace k1s
