// One line per event: "I1125 19:10:12.345 component] message key=value".
#pragma once
#include <sstream>
#include <string>

namespace k1s {

void setLogVerbosity(int v);
int logVerbosity();
void logLine(char severity, const char* component, const std::string& msg);

}  // namespace k1s

#define K1S_LOG(sev, comp, expr)                  \
  do {                                            \
    std::ostringstream k1s_os_;                   \
    k1s_os_ << expr;                              \
    ::k1s::logLine(sev, comp, k1s_os_.str());     \
  } while (0)
#define LOGI(comp, expr) K1S_LOG('I', comp, expr)
#define LOGW(comp, expr) K1S_LOG('W', comp, expr)
#define LOGE(comp, expr) K1S_LOG('E', comp, expr)
#define LOGV(level, comp, expr) \
  do { if (::k1s::logVerbosity() >= (level)) K1S_LOG('I', comp, expr); } while (0)
