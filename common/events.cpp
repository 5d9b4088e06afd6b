#include "common/events.h"

#include <sys/time.h>

#include <cstdio>

#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"

namespace k1s {

namespace {

// Repeats of one event within this window bump count/lastTimestamp (as client-go's
// EventCorrelator does); later repeats start a new Event object.
constexpr long long kDedupWindowSeconds = 600;
constexpr size_t kMaxRemembered = 4096;

std::string eventName(const std::string& involvedName) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  unsigned long long nanos = (unsigned long long)tv.tv_sec * 1000000000ULL + (unsigned long long)tv.tv_usec * 1000ULL;
  char hex[32];
  snprintf(hex, sizeof hex, "%016llx", nanos);
  return involvedName + "." + hex;
}

}  // namespace

void EventRecorder::record(const Json& involved, const std::string& type, const std::string& reason,
                           const std::string& message) {
  try {
    const ResourceInfo* events = findResource("", "events");
    const Json& m = metaOf(involved);
    std::string involvedNs = m.value("namespace", "");
    // Events about cluster-scoped objects (nodes, namespaces) live in "default", as in kube.
    std::string ns = involvedNs.empty() ? "default" : involvedNs;
    std::string kind = involved.value("kind", "");
    std::string apiVersion = involved.value("apiVersion", "");
    std::string dedupKey = kind + "\x1f" + ns + "\x1f" + m.value("name", "") + "\x1f" + m.value("uid", "") + "\x1f" +
                           type + "\x1f" + reason + "\x1f" + message;
    std::string now = nowRfc3339();

    std::lock_guard<std::mutex> lock(mu_);
    auto it = seen_.find(dedupKey);
    if (it != seen_.end()) {
      try {
        Json ev = client_.get(*events, ns, it->second);
        long long last = parseRfc3339(ev.value("lastTimestamp", ""));
        if (last >= 0 && parseRfc3339(now) - last <= kDedupWindowSeconds) {
          ev["count"] = ev.value("count", 1) + 1;
          ev["lastTimestamp"] = now;
          client_.update(*events, ns, ev);
          return;
        }
      } catch (const ApiError& e) {
        if (e.code != 404) throw;
      }
      seen_.erase(it);
    }
    if (seen_.size() >= kMaxRemembered) seen_.clear();

    Json ref = {{"kind", kind}, {"name", m.value("name", "")}};
    if (!involvedNs.empty()) ref["namespace"] = involvedNs;
    if (!m.value("uid", "").empty()) ref["uid"] = m.value("uid", "");
    if (!apiVersion.empty()) ref["apiVersion"] = apiVersion;
    if (!m.value("resourceVersion", "").empty()) ref["resourceVersion"] = m.value("resourceVersion", "");
    Json source = {{"component", component_}};
    if (!host_.empty()) source["host"] = host_;
    Json ev = {{"metadata", {{"name", eventName(m.value("name", "unknown"))}, {"namespace", ns}}},
               {"involvedObject", ref},
               {"reason", reason},
               {"message", message},
               {"type", type},
               {"source", source},
               {"firstTimestamp", now},
               {"lastTimestamp", now},
               {"count", 1},
               {"eventTime", nullptr},
               {"reportingComponent", component_},
               {"reportingInstance", host_}};
    Json created = client_.create(*events, ns, ev);
    seen_[dedupKey] = nameOf(created);
  } catch (const std::exception& e) {
    LOGV(1, "events", "dropping event reason=" << reason << " err=" << e.what());
  }
}

}  // namespace k1s
