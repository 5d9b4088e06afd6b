// Records core/v1 Events as Kubernetes components do, so `kubectl describe`
// shows them. Repeats of the same event within a short window bump `count`
// and `lastTimestamp` instead of creating new objects.
#pragma once
#include <mutex>
#include <map>
#include <string>

#include "common/client.h"

namespace k1s {

class EventRecorder {
 public:
  EventRecorder(Client& c, std::string component, std::string host = "")
      : client_(c), component_(std::move(component)), host_(std::move(host)) {}
  // type: "Normal" or "Warning". Never throws (events are best effort).
  void record(const Json& involved, const std::string& type, const std::string& reason, const std::string& message);

 private:
  Client& client_;
  std::string component_, host_;
  std::mutex mu_;
  std::map<std::string, std::string> seen_;  // dedup key -> event name
};

}  // namespace k1s
