#include "kubelet/pod_logs.h"

#include <openssl/ssl.h>
#include <poll.h>
#include <time.h>

#include <chrono>
#include <climits>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/errors.h"
#include "common/meta.h"
#include "common/resources.h"
#include "kubelet/pod_http.h"

namespace k1s {

bool parseCriLogLine(const std::string& line, CriLogLine& out) {
  auto s1 = line.find(' ');
  if (s1 == std::string::npos) return false;
  auto s2 = line.find(' ', s1 + 1);
  if (s2 == std::string::npos) return false;
  auto s3 = line.find(' ', s2 + 1);
  std::string tag = line.substr(s2 + 1, s3 == std::string::npos ? std::string::npos : s3 - s2 - 1);
  out.time = line.substr(0, s1);
  out.stream = line.substr(s1 + 1, s2 - s1 - 1);
  // The tag is F (full) or P (partial), possibly with ':'-separated extras.
  out.partial = !tag.empty() && tag[0] == 'P';
  out.content = s3 == std::string::npos ? "" : line.substr(s3 + 1);
  return true;
}

std::optional<int64_t> parseRfc3339Nanos(const std::string& s) {
  tm t{};
  int consumed = 0;
  if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour, &t.tm_min,
             &t.tm_sec, &consumed) != 6)
    return std::nullopt;
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  int64_t secs = timegm(&t);
  size_t i = consumed;
  int64_t nanos = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && isdigit((unsigned char)s[i])) {
      if (digits < 9) nanos = nanos * 10 + (s[i] - '0'), ++digits;
      ++i;
    }
    while (digits++ < 9) nanos *= 10;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int hh = 0, mm = 0;
    if (sscanf(s.c_str() + i + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    int off = (hh * 60 + mm) * 60;
    secs -= s[i] == '+' ? off : -off;
  } else if (i >= s.size() || (s[i] != 'Z' && s[i] != 'z')) {
    return std::nullopt;
  }
  return secs * 1000000000LL + nanos;
}

LogOptions parseLogOptions(const httplib::Request& req) {
  LogOptions o;
  auto param = [&](const char* k) { return req.has_param(k) ? req.get_param_value(k) : std::string(); };
  auto boolean = [&](const char* k) {
    std::string v = param(k);
    return v == "true" || v == "1" || v == "True";
  };
  auto integer = [&](const char* k) -> std::optional<int64_t> {
    std::string v = param(k);
    if (v.empty()) return std::nullopt;
    try {
      size_t used = 0;
      int64_t n = std::stoll(v, &used);
      if (used == v.size()) return n;
    } catch (...) {
    }
    throw badRequest("strconv.ParseInt: parsing \"" + v + "\": invalid syntax");
  };
  o.container = param("container");
  o.follow = boolean("follow");
  o.previous = boolean("previous");
  o.timestamps = boolean("timestamps");
  o.tailLines = integer("tailLines");
  o.limitBytes = integer("limitBytes");
  o.sinceSeconds = integer("sinceSeconds");
  o.sinceTime = param("sinceTime");
  std::vector<StatusCause> causes;
  if (o.tailLines && *o.tailLines < 0)
    causes.push_back({"FieldValueInvalid", "Invalid value: " + std::to_string(*o.tailLines) + ": must be greater than or equal to 0", "tailLines"});
  if (o.limitBytes && *o.limitBytes < 1)
    causes.push_back({"FieldValueInvalid", "Invalid value: " + std::to_string(*o.limitBytes) + ": must be greater than 0", "limitBytes"});
  if (o.sinceSeconds && *o.sinceSeconds < 1)
    causes.push_back({"FieldValueInvalid", "Invalid value: " + std::to_string(*o.sinceSeconds) + ": must be greater than 0", "sinceSeconds"});
  if (o.sinceSeconds && !o.sinceTime.empty())
    causes.push_back({"FieldValueForbidden", "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified", ""});
  if (!o.sinceTime.empty() && !parseRfc3339Nanos(o.sinceTime))
    throw badRequest("parsing time \"" + o.sinceTime + "\" as \"2006-01-02T15:04:05Z07:00\": cannot parse");
  if (!causes.empty()) throw invalid("", "PodLogOptions", "", causes);
  return o;
}

LogFormatter::LogFormatter(const LogOptions& o, int64_t nowNanos) : o_(o) {
  if (o.sinceSeconds) sinceNanos_ = nowNanos - *o.sinceSeconds * 1000000000LL;
  if (!o.sinceTime.empty())
    if (auto t = parseRfc3339Nanos(o.sinceTime)) sinceNanos_ = *t;
}

std::string LogFormatter::line(const std::string& raw) {
  if (limited_) return "";
  CriLogLine l;
  if (!parseCriLogLine(raw, l)) return "";
  if (sinceNanos_ != INT64_MIN) {
    auto t = parseRfc3339Nanos(l.time);
    if (t && *t < sinceNanos_) return "";
  }
  std::string out;
  if (o_.timestamps) out = l.time + " ";
  out += l.content;
  if (!l.partial) out += "\n";
  if (o_.limitBytes && written_ + (int64_t)out.size() >= *o_.limitBytes) {
    out.resize(*o_.limitBytes - written_);
    limited_ = true;
  }
  written_ += out.size();
  return out;
}

std::string renderLog(const std::string& text, const LogOptions& o, int64_t nowNanos) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string l;
  // Only complete lines: a line still being written has no newline yet.
  while (std::getline(in, l))
    if (!in.eof()) lines.push_back(l);
  size_t from = 0;
  if (o.tailLines && (size_t)*o.tailLines < lines.size()) from = lines.size() - *o.tailLines;
  LogFormatter f(o, nowNanos);
  std::string out;
  for (size_t i = from; i < lines.size() && !f.limitReached(); ++i) out += f.line(lines[i]);
  return out;
}

namespace {

int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string bracketList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i];
  return s + "]";
}

bool clientGone(const httplib::Request& req) {
  if (!req.ssl) return false;
  int fd = SSL_get_fd(req.ssl);
  if (fd < 0) return false;
  pollfd p{fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

}  // namespace

void servePodLog(const LogSource& src, const std::string& ns, const std::string& podName, const httplib::Request& req,
                 httplib::Response& res) {
  if (req.method != "GET") throw methodNotSupported("pods/log", req.method == "POST" ? "create" : "update");
  LogOptions o = parseLogOptions(req);
  Json pod = src.client->get(*findResource("", "pods"), ns, podName);
  const Json& spec = pod["spec"];
  std::vector<std::string> names, initNames;
  for (auto& c : spec.value("containers", Json::array())) names.push_back(c.value("name", ""));
  for (auto& c : spec.value("initContainers", Json::array())) initNames.push_back(c.value("name", ""));
  if (o.container.empty()) {
    if (names.size() == 1 && initNames.empty()) {
      o.container = names[0];
    } else {
      std::string msg = "a container name must be specified for pod " + podName + ", choose one of: " + bracketList(names);
      if (!initNames.empty()) msg += " or one of the init containers: " + bracketList(initNames);
      throw badRequest(msg);
    }
  }
  Json cs;
  for (const char* list : {"containerStatuses", "initContainerStatuses"})
    if (pod.contains("status") && pod["status"].contains(list))
      for (auto& s : pod["status"][list])
        if (s.value("name", "") == o.container) cs = s;
  bool known = std::find(names.begin(), names.end(), o.container) != names.end() ||
               std::find(initNames.begin(), initNames.end(), o.container) != initNames.end();
  if (!known) throw badRequest("container " + o.container + " is not valid for pod " + podName);
  int restarts = cs.is_object() ? cs.value("restartCount", 0) : 0;
  std::string uid = metaOf(pod).value("uid", "");
  std::string dir = src.dataDir + "/pods/" + uid + "/logs/" + o.container + "/";
  int instance = restarts;
  if (o.previous) {
    if (restarts == 0)
      throw badRequest("previous terminated container \"" + o.container + "\" in pod \"" + podName + "\" not found");
    instance = restarts - 1;
  } else {
    bool started = cs.is_object() && cs.contains("state") && !cs["state"].contains("waiting");
    bool hasHistory = cs.is_object() && cs.contains("lastState") && cs["lastState"].contains("terminated");
    if (!started && !hasHistory) {
      std::string reason = cs.is_object() && cs.contains("state") && cs["state"].contains("waiting")
                               ? cs["state"]["waiting"].value("reason", "ContainerCreating")
                               : "ContainerCreating";
      if (reason == "ErrImagePull" || reason == "ImagePullBackOff") reason = "trying and failing to pull image";
      throw badRequest("container \"" + o.container + "\" in pod \"" + podName + "\" is waiting to start: " + reason);
    }
    // Crash-looping (waiting with history): the newest instance is the dead one numbered restartCount.
  }
  std::string path = dir + std::to_string(instance) + ".log";
  bool follow = o.follow && !o.previous && src.running && src.running(uid, o.container, instance);
  if (!follow) {
    res.status = 200;
    res.set_content(renderLog(readFile(path), o, nowNanos()), "text/plain");
    return;
  }
  auto running = src.running;
  res.status = 200;
  res.set_chunked_content_provider(
      "text/plain", [=, &req](size_t, httplib::DataSink& sink) {
        std::string text = readFile(path);
        // Everything complete so far, then the growth of the file line by line.
        size_t consumed = text.rfind('\n');
        consumed = consumed == std::string::npos ? 0 : consumed + 1;
        std::string first = renderLog(text.substr(0, consumed), o, nowNanos());
        if (!first.empty() && !sink.write(first.data(), first.size())) return false;
        LogOptions rest = o;
        rest.tailLines.reset();
        if (o.limitBytes) rest.limitBytes = *o.limitBytes - (int64_t)first.size();
        if (rest.limitBytes && *rest.limitBytes <= 0) {
          sink.done();
          return true;
        }
        LogFormatter f(rest, nowNanos());
        std::ifstream in(path, std::ios::binary);
        in.seekg((std::streamoff)consumed);
        std::string partial;
        int idleRounds = 0;
        while (true) {
          char buf[8192];
          in.read(buf, sizeof buf);
          std::streamsize n = in.gcount();
          if (n > 0) {
            idleRounds = 0;
            partial.append(buf, n);
            size_t nl;
            while ((nl = partial.find('\n')) != std::string::npos) {
              std::string out = f.line(partial.substr(0, nl));
              partial.erase(0, nl + 1);
              if (!out.empty() && !sink.write(out.data(), out.size())) return false;
              if (f.limitReached()) {
                sink.done();
                return true;
              }
            }
            continue;
          }
          in.clear();
          if (!sink.is_writable() || clientGone(req)) return false;
          // After the container exits, one more pass picks up its last lines.
          if (!running(uid, o.container, instance) && ++idleRounds > 2) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        sink.done();
        return true;
      });
}

}  // namespace k1s
