// `k1s exec` and `k1s attach` over WebSocket (v5.channel.k8s.io, falling back
// to v4 when the server has no v5), plus the pod lookup and stream dialing
// that port-forward shares (cli/kubectl_streams.h).
//
// The channel protocol: every binary message starts with a channel byte:
// 0 stdin, 1 stdout, 2 stderr, 3 error (a metav1.Status when the command
// ends), 4 terminal resize ({"Width":W,"Height":H}); v5 adds 255 + channel to
// close one direction (stdin EOF).
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "cli/kubectl_streams.h"
#include "common/byte_stream.h"

namespace k1s::cli {

// ---- shared with port-forward ---------------------------------------------

namespace {

// Types named often enough to skip discovery (one round trip less per exec).
struct KnownType {
  const char* names[4];
  const char* collection;  // path without namespace, %s = namespace
};
const KnownType kKnownTypes[] = {
    {{"pod", "pods", "po", nullptr}, "/api/v1/namespaces/%s/pods"},
    {{"deployment", "deployments", "deploy", "deployment.apps"}, "/apis/apps/v1/namespaces/%s/deployments"},
    {{"replicaset", "replicasets", "rs", "replicaset.apps"}, "/apis/apps/v1/namespaces/%s/replicasets"},
    {{"statefulset", "statefulsets", "sts", "statefulset.apps"}, "/apis/apps/v1/namespaces/%s/statefulsets"},
    {{"daemonset", "daemonsets", "ds", "daemonset.apps"}, "/apis/apps/v1/namespaces/%s/daemonsets"},
    {{"service", "services", "svc", nullptr}, "/api/v1/namespaces/%s/services"},
    {{"job", "jobs", "job.batch", nullptr}, "/apis/batch/v1/namespaces/%s/jobs"},
};

std::string lowerCase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(tolower(c)); });
  return s;
}

// The kind's plural and the item path for TYPE/NAME.
struct TypedName {
  std::string plural, path;
};

TypedName typedName(Kubectl& k, const std::string& type, const std::string& name, const std::string& ns) {
  std::string t = lowerCase(type);
  for (auto& kt : kKnownTypes)
    for (const char* n : kt.names)
      if (n && t == n) {
        char buf[256];
        snprintf(buf, sizeof buf, kt.collection, ns.c_str());
        std::string coll = buf;
        return {coll.substr(coll.rfind('/') + 1), coll + "/" + name};
      }
  auto& r = k.resolve(type);
  return {r.plural, r.itemPath(ns, name)};
}

// labelSelector query text for a workload's spec.selector (or a Service's map).
std::string selectorText(const Json& sel, bool isMap) {
  std::string s;
  const Json labels = isMap ? sel : sel.value("matchLabels", Json::object());
  for (auto& [k, v] : labels.items()) s += (s.empty() ? "" : ",") + k + "=" + v.get<std::string>();
  if (!isMap)
    for (auto& e : sel.value("matchExpressions", Json::array())) {
      std::string op = e.value("operator", ""), key = e.value("key", ""), vals;
      for (auto& v : e.value("values", Json::array())) vals += (vals.empty() ? "" : ",") + v.get<std::string>();
      if (op == "In") s += (s.empty() ? "" : ",") + key + " in (" + vals + ")";
      if (op == "NotIn") s += (s.empty() ? "" : ",") + key + " notin (" + vals + ")";
      if (op == "Exists") s += (s.empty() ? "" : ",") + key;
      if (op == "DoesNotExist") s += std::string(s.empty() ? "" : ",") + "!" + key;
    }
  return s;
}

bool podReady(const Json& p) {
  for (auto& c : p.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

int restarts(const Json& p) {
  int n = 0;
  for (auto& c : p.value("status", Json::object()).value("containerStatuses", Json::array()))
    n = std::max(n, c.value("restartCount", 0));
  return n;
}

// client-go's ActivePods order, most active first: on a node, Running over
// Unknown over Pending, ready, fewer restarts, older.
bool moreActive(const Json& a, const Json& b) {
  auto node = [](const Json& p) { return !p.value("spec", Json::object()).value("nodeName", "").empty(); };
  auto phaseRank = [](const Json& p) {
    std::string ph = p.value("status", Json::object()).value("phase", "");
    return ph == "Running" ? 2 : ph == "Unknown" ? 1 : 0;
  };
  if (node(a) != node(b)) return node(a);
  if (phaseRank(a) != phaseRank(b)) return phaseRank(a) > phaseRank(b);
  if (podReady(a) != podReady(b)) return podReady(a);
  if (restarts(a) != restarts(b)) return restarts(a) < restarts(b);
  auto created = [](const Json& p) { return p.value("metadata", Json::object()).value("creationTimestamp", ""); };
  return created(a) < created(b);
}

long long goDurationSeconds(const std::string& v) {
  if (v.empty()) return 60;
  long long total = 0, num = 0;
  bool any = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (isdigit(static_cast<unsigned char>(c))) {
      num = num * 10 + (c - '0');
      any = true;
    } else if (c == 'h') {
      total += num * 3600, num = 0;
    } else if (c == 'm' && (i + 1 >= v.size() || v[i + 1] != 's')) {
      total += num * 60, num = 0;
    } else if (c == 's') {
      total += num, num = 0;
    } else if (c == 'm' || c == 'u' || c == 'n') {  // ms/us/ns: below a second
      num = 0;
      if (i + 1 < v.size() && v[i + 1] == 's') ++i;
    } else {
      throw CliError("error: invalid argument \"" + v + "\" for \"--pod-running-timeout\" flag: time: invalid duration \"" + v + "\"");
    }
  }
  if (!any) throw CliError("error: invalid argument \"" + v + "\" for \"--pod-running-timeout\" flag: time: invalid duration \"" + v + "\"");
  return total + num;  // a bare number counts as seconds
}

}  // namespace

int podRunningTimeout(const Kubectl& k) {
  return static_cast<int>(goDurationSeconds(k.args.get("pod-running-timeout", "1m")));
}

Json serviceForArg(Kubectl& k, const std::string& arg, const std::string& ns) {
  auto slash = arg.find('/');
  if (slash == std::string::npos) return nullptr;
  auto tn = typedName(k, arg.substr(0, slash), arg.substr(slash + 1), ns);
  if (tn.plural != "services") return nullptr;
  return k.client().get(tn.path);
}

Json podForObject(Kubectl& k, const std::string& arg, const std::string& ns, int timeoutSeconds) {
  auto slash = arg.find('/');
  if (slash == std::string::npos) return k.client().get("/api/v1/namespaces/" + ns + "/pods/" + arg);
  if (slash == 0 || slash + 1 == arg.size())
    throw CliError("error: arguments in resource/name form must have a single resource and name");
  auto tn = typedName(k, arg.substr(0, slash), arg.substr(slash + 1), ns);
  Json obj = k.client().get(tn.path);
  if (tn.plural == "pods") return obj;
  std::string sel;
  if (tn.plural == "services") {
    Json m = obj.value("spec", Json::object()).value("selector", Json::object());
    if (m.empty()) throw CliError("error: invalid service '" + arg.substr(slash + 1) + "': Service is defined without a selector");
    sel = selectorText(m, true);
  } else {
    Json s = obj.value("spec", Json::object()).value("selector", Json());
    if (!s.is_object()) throw CliError("error: cannot attach to " + obj.value("kind", tn.plural) + ": selector for " +
                                       arg + " not implemented");
    sel = selectorText(s, false);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  for (;;) {
    Json list = k.client().get("/api/v1/namespaces/" + ns + "/pods" + queryString({{"labelSelector", sel}}));
    std::vector<Json> pods;
    for (auto& p : list.value("items", Json::array())) pods.push_back(p);
    if (!pods.empty()) {
      std::stable_sort(pods.begin(), pods.end(), moreActive);
      return pods.front();
    }
    if (std::chrono::steady_clock::now() >= deadline) throw CliError("error: timed out waiting for the condition");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::unique_ptr<ws::Connection> openPodWebSocket(const ConnectionConfig& cfg, const std::string& path,
                                                 const std::vector<std::string>& protocols, std::string* chosen) {
  ServerUrl url = parseServerUrl(cfg.server);
  if (url.scheme != "https") throw CliError("error: streaming needs an https server URL, got " + cfg.server);
  std::unique_ptr<ByteStream> tls;
  try {
    tls = dialTls({url.host, url.port, cfg.caPem, cfg.insecure, "", ""});
  } catch (const std::exception& e) {
    std::string m = e.what();
    if (m.find("connection refused") != std::string::npos)
      throw CliError("The connection to the server " + url.hostPort + " was refused - did you specify the right host or port?");
    throw CliError("Unable to connect to the server: " + m);
  }
  ws::ClientRequest req{url.hostPort, url.prefix + path, protocols, {{"User-Agent", "k1s/v0.1.0"}}};
  if (!cfg.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + cfg.token);
  try {
    return ws::clientHandshake(std::move(tls), req, chosen);
  } catch (const ws::HandshakeRejected& e) {
    throwForReply({e.status, e.body, ""});
    throw CliError(std::string("error: ") + e.what());
  } catch (const std::runtime_error& e) {
    throw CliError(std::string("error: unable to upgrade connection: ") + e.what());
  }
}

// ---- exec / attach -----------------------------------------------------------

namespace {

// Puts the local terminal in raw mode for -it and restores it on every way out.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() { restore(); }
  void restore() {
    if (active_) tcsetattr(fd_, TCSANOW, &saved_);
    active_ = false;
  }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

void writeFd(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

std::string terminalSizeJson() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0) return "";
  if (ws.ws_col == 0 && ws.ws_row == 0) return "";
  return "{\"Width\":" + std::to_string(ws.ws_col) + ",\"Height\":" + std::to_string(ws.ws_row) + "}";
}

bool sendOn(ws::Connection& c, unsigned char channel, const std::string& data) {
  std::string msg(1, static_cast<char>(channel));
  msg += data;
  return c.sendBinary(msg);
}

struct SessionSpec {
  std::string path;
  bool stdin = false, tty = false;
};

// Runs one exec/attach session to its end; returns kubectl's exit code.
int runSession(Kubectl& k, const SessionSpec& s) {
  // SIGWINCH is taken by a thread of ours (sigwait), so block it before any thread starts.
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  if (s.tty) pthread_sigmask(SIG_BLOCK, &winch, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error return, not a kill

  std::string proto;
  std::shared_ptr<ws::Connection> conn =
      openPodWebSocket(k.client().config(), s.path, {"v5.channel.k8s.io", "v4.channel.k8s.io"}, &proto);
  bool v5 = proto == "v5.channel.k8s.io";

  std::unique_ptr<RawTerminal> raw;
  if (s.tty) {
    raw = std::make_unique<RawTerminal>(STDIN_FILENO);
    if (auto size = terminalSizeJson(); !size.empty()) sendOn(*conn, kChanResize, size);
    std::thread([conn, winch] {
      for (;;) {
        int sig = 0;
        if (sigwait(&winch, &sig) != 0) return;
        auto size = terminalSizeJson();
        if (!size.empty() && !sendOn(*conn, kChanResize, size)) return;
      }
    }).detach();
  }
  if (s.stdin) {
    // Detached: a read blocked on a terminal cannot be interrupted; exit ends it.
    std::thread([conn, v5] {
      std::string buf(32768 + 1, '\0');
      buf[0] = static_cast<char>(kChanStdin);
      for (;;) {
        ssize_t n = ::read(STDIN_FILENO, buf.data() + 1, buf.size() - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!conn->send(ws::Opcode::Binary, buf.data(), static_cast<size_t>(n) + 1)) return;
      }
      if (v5) conn->sendBinary(std::string{static_cast<char>(kChanClose), static_cast<char>(kChanStdin)});
    }).detach();
  }

  std::string status;
  std::string failure;
  ws::Message m;
  try {
    while (conn->read(m)) {
      if (m.data.empty()) continue;
      auto ch = static_cast<unsigned char>(m.data[0]);
      const char* p = m.data.data() + 1;
      size_t n = m.data.size() - 1;
      if (ch == kChanStdout) writeFd(STDOUT_FILENO, p, n);
      else if (ch == kChanStderr) writeFd(STDERR_FILENO, p, n);
      else if (ch == kChanError) status.append(p, n);
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  conn->close();
  conn->shutdown();
  if (raw) raw->restore();

  if (!failure.empty()) {
    k.err << "error: " << failure << "\n";
    return 1;
  }
  if (status.empty()) return 0;  // the error channel stays empty on success for v1-v3 servers
  Json st = Json::parse(status, nullptr, false);
  if (!st.is_object()) {
    k.err << "error: error executing remote command: " << status << "\n";
    return 1;
  }
  if (st.value("status", "") == "Success") return 0;
  if (st.value("reason", "") == "NonZeroExitCode")
    for (auto& c : st.value("details", Json::object()).value("causes", Json::array()))
      if (c.value("reason", "") == "ExitCode") {
        int code = atoi(c.value("message", "1").c_str());
        k.err << "command terminated with exit code " << code << "\n";
        return code;
      }
  k.err << formatStatusError(st) << "\n";
  return 1;
}

// The container to use: -c, the default-container annotation, else the first;
// says which one it picked when there was a choice (like kubectl).
std::string pickContainer(Kubectl& k, const Json& pod) {
  if (k.args.has("container")) return k.args.get("container");
  const Json& meta = pod.value("metadata", Json::object());
  std::string annotated = meta.value("annotations", Json::object()).value("kubectl.kubernetes.io/default-container", "");
  Json spec = pod.value("spec", Json::object());
  auto containers = spec.value("containers", Json::array());
  if (!annotated.empty())
    for (auto& c : containers)
      if (c.value("name", "") == annotated) return annotated;
  if (containers.empty()) return "";
  std::string first = containers[0].value("name", "");
  if (containers.size() > 1 && !k.args.flag("quiet")) {
    std::string all;
    for (auto& c : containers) all += (all.empty() ? "" : ", ") + c.value("name", "");
    for (auto& c : spec.value("initContainers", Json::array())) all += ", " + c.value("name", "") + " (init)";
    k.err << "Defaulted container \"" << first << "\" out of: " << all << "\n";
  }
  return first;
}

// A copy: value() returns a temporary, so no pointer into it may escape.
Json containerSpec(const Json& pod, const std::string& name) {
  for (auto& c : pod.value("spec", Json::object()).value("containers", Json::array()))
    if (c.value("name", "") == name) return c;
  return nullptr;
}

std::string boolText(bool b) { return b ? "true" : "false"; }

}  // namespace

int cmdExec(Kubectl& k) {
  auto& pos = k.args.positional;
  if (pos.empty() && !k.args.has("filename"))
    throw CliError("error: pod, type/name or --filename must be specified");
  if (pos.size() < 2) throw CliError("error: you must specify at least one command for the container");
  std::string ns = k.ns();
  bool stdin = k.args.flag("stdin"), tty = k.args.flag("tty");
  if (!stdin) tty = false;  // kubectl: a TTY needs stdin
  if (tty && !isatty(STDIN_FILENO)) {
    tty = false;
    if (!k.args.flag("quiet")) k.err << "Unable to use a TTY - input is not a terminal or the right kind of file\n";
  }
  auto execPath = [&](const std::string& name, const std::string& container) {
    std::vector<std::pair<std::string, std::string>> q;
    for (size_t i = 1; i < pos.size(); ++i) q.emplace_back("command", pos[i]);
    if (!container.empty()) q.emplace_back("container", container);
    q.emplace_back("stdin", boolText(stdin));
    q.emplace_back("stdout", "true");
    q.emplace_back("stderr", boolText(!tty));  // a terminal merges stderr into its output
    q.emplace_back("tty", boolText(tty));
    return "/api/v1/namespaces/" + ns + "/pods/" + name + "/exec" + queryString(q);
  };
  auto completedPod = [](const std::string& phaseText) {  // kubectl's words, whoever noticed it
    return CliError("error: cannot exec into a container in a completed pod; " + phaseText);
  };
  // A plain pod name goes straight to the exec endpoint: the server finds the pod, picks its
  // only container and refuses a completed pod, which saves a GET (a round trip and a TLS
  // handshake) per exec. Only a pod with several containers needs the pod read here, for
  // the default-container annotation and the "Defaulted container" note.
  if (pos[0].find('/') == std::string::npos) {
    try {
      return runSession(k, {execPath(pos[0], k.args.has("container") ? k.args.get("container") : ""), stdin, tty});
    } catch (const StatusError& e) {
      std::string m = e.what();
      if (e.code != 400) throw;
      if (m.find("completed pod") != std::string::npos) {
        auto at = m.find("current phase is ");
        throw completedPod(at == std::string::npos ? m : m.substr(at));
      }
      if (k.args.has("container") || m.find("a container name must be specified") == std::string::npos) throw;
    }
  }
  Json pod = podForObject(k, pos[0], ns, podRunningTimeout(k));
  std::string phase = pod.value("status", Json::object()).value("phase", "");
  if (phase == "Succeeded" || phase == "Failed")
    throw completedPod("current phase is " + phase);
  std::string container = pickContainer(k, pod);
  return runSession(k, {execPath(pod["metadata"].value("name", ""), container), stdin, tty});
}

int cmdAttach(Kubectl& k) {
  auto& pos = k.args.positional;
  if (pos.empty()) throw CliError("error: expected POD, TYPE/NAME, or TYPE NAME, (at most 2 arguments) saw 0");
  std::string ns = k.ns();
  std::string target = pos.size() == 2 ? pos[0] + "/" + pos[1] : pos[0];
  Json pod = podForObject(k, target, ns, podRunningTimeout(k));
  std::string phase = pod.value("status", Json::object()).value("phase", "");
  if (phase == "Succeeded" || phase == "Failed")
    throw CliError("error: cannot attach a container in a completed pod; current phase is " + phase);
  std::string container = pickContainer(k, pod);
  Json cs = containerSpec(pod, container);
  if (!cs.is_object()) throw CliError("error: container " + container + " not found in pod " + pod["metadata"].value("name", ""));
  bool stdin = k.args.flag("stdin"), tty = k.args.flag("tty");
  bool quiet = k.args.flag("quiet");
  if (!stdin) tty = false;
  if (tty && !cs.value("tty", false)) {
    tty = false;
    if (!quiet) k.err << "error: Unable to use a TTY - container " << container << " did not allocate one\n";
  } else if (!tty && cs.value("tty", false) && stdin) {
    tty = true;  // the container has a terminal: its stream has no separate stderr
  }
  if (tty && !isatty(STDIN_FILENO)) {
    tty = false;
    if (!quiet) k.err << "Unable to use a TTY - input is not a terminal or the right kind of file\n";
  }
  if (tty && !quiet) k.err << "If you don't see a command prompt, try pressing enter.\n";
  std::vector<std::pair<std::string, std::string>> q;
  q.emplace_back("container", container);
  q.emplace_back("stdin", boolText(stdin));
  q.emplace_back("stdout", "true");
  q.emplace_back("stderr", boolText(!tty));
  q.emplace_back("tty", boolText(tty));
  std::string name = pod["metadata"].value("name", "");
  int rc = runSession(k, {"/api/v1/namespaces/" + ns + "/pods/" + name + "/attach" + queryString(q), stdin, tty});
  if (tty && !quiet)
    k.err << "Session ended, resume using 'k1s attach " << name << " -c " << container
          << " -i -t' command when the pod is running\n";
  return rc;
}

}  // namespace k1s::cli
