// Container logs: the CRI log format the shim writes (one file per container
// instance: <data-dir>/pods/<uid>/logs/<container>/<restartCount>.log, lines
// "<RFC3339Nano> <stdout|stderr> <F|P> <content>") and the pods/log endpoint
// with kube's options (container, follow, previous, tailLines, sinceSeconds,
// sinceTime, timestamps, limitBytes).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/json.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace k1s {

struct CriLogLine {
  std::string time;    // as written (RFC 3339 with nanoseconds)
  std::string stream;  // stdout / stderr
  bool partial = false;
  std::string content;
};
bool parseCriLogLine(const std::string& line, CriLogLine& out);
// Nanoseconds since the epoch for an RFC 3339 time with optional fraction; nullopt if malformed.
std::optional<int64_t> parseRfc3339Nanos(const std::string& s);

struct LogOptions {
  std::string container;
  bool follow = false, previous = false, timestamps = false;
  std::optional<int64_t> tailLines, limitBytes, sinceSeconds;
  std::string sinceTime;
};
// Parses the query; throws ApiError 400 for malformed numbers (kube's messages).
LogOptions parseLogOptions(const httplib::Request& req);

// Formats log lines as `kubectl logs` receives them, applying since/timestamps/limitBytes.
class LogFormatter {
 public:
  LogFormatter(const LogOptions& o, int64_t nowNanos);
  // One complete file line; returns the bytes to send (maybe empty).
  std::string line(const std::string& raw);
  bool limitReached() const { return limited_; }

 private:
  LogOptions o_;
  int64_t sinceNanos_ = INT64_MIN;
  int64_t written_ = 0;
  bool limited_ = false;
};

// The whole (non-follow) answer for a log file's text.
std::string renderLog(const std::string& fileText, const LogOptions& o, int64_t nowNanos);

// What the log endpoint needs from the kubelet.
struct LogSource {
  Client* client = nullptr;
  std::string dataDir;
  // Whether the container instance (pod uid, name, restartCount) is still running; for follow.
  std::function<bool(const std::string& uid, const std::string& container, int restartCount)> running;
};

// GET /api/v1/namespaces/NS/pods/NAME/log. Errors are thrown as ApiError.
void servePodLog(const LogSource& src, const std::string& ns, const std::string& pod, const httplib::Request& req,
                 httplib::Response& res);

}  // namespace k1s
