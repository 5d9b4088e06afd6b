// API server benchmark (issue: foundation). Prints one table with its anchor,
// the raw SQLite single-row transaction rate on the same disk and durability
// setting, measured in the same run. Not a test: numbers vary with the machine.
//
// usage: k1s_bench_api K1S_BINARY WORKDIR   (run inside a private network namespace; see bench/api.sh)
//
// Environment, for profiling one phase at a time:
//   K1S_BENCH_PHASES=create,get,watch,floor   the phases to run (default: all four)
//   K1S_BENCH_PERF=PREFIX               record each phase with `perf record -g --call-graph dwarf` on the
//                                       server only, into PREFIX-<phase>.data
//   K1S_BENCH_SECONDS=N                 seconds per throughput phase (default 3)
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
extern char** environ;

static double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One INSERT per transaction in a tight loop, WAL + synchronous=NORMAL, for `seconds` after a
// warm-up of 1,000 (a short run swings with where the WAL checkpoints fall).
static double rawSqliteTxnPerSec(const std::string& dir, double seconds) {
  std::string path = dir + "/raw.db";
  unlink(path.c_str());
  sqlite3* db;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
               "CREATE TABLE objects(resource TEXT, namespace TEXT, name TEXT, rv INTEGER, data TEXT,"
               " PRIMARY KEY(resource, namespace, name)) WITHOUT ROWID;", nullptr, nullptr, nullptr);
  sqlite3_stmt* st;
  sqlite3_prepare_v2(db, "INSERT INTO objects VALUES('configmaps','bench',?,?,?)", -1, &st, nullptr);
  std::string payload(400, 'x');
  auto one = [&](long i) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    std::string name = "cm-" + std::to_string(i);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, i);
    sqlite3_bind_text(st, 3, payload.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  };
  long i = 0;
  for (; i < 1000; ++i) one(i);
  auto t0 = Clock::now();
  long n = 0;
  while (secondsSince(t0) < seconds) {
    for (int k = 0; k < 100; ++k) one(i++);
    n += 100;
  }
  double rate = n / secondsSince(t0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

static std::string tokenFrom(const std::string& kubeconfig) {
  std::ifstream f(kubeconfig);
  std::string line;
  while (std::getline(f, line)) {
    auto p = line.find("token: ");
    if (p != std::string::npos) return line.substr(p + 7);
  }
  return "";
}

static long rssKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// CPU time (user + system) the process has used, in seconds: the server's cost
// per request, which the machine's other load does not change much.
static double cpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; rest >> field && i <= 15; ++i)
    if (i == 14 || i == 15) ticks += std::stol(field);
  return double(ticks) / sysconf(_SC_CLK_TCK);
}

static bool phaseWanted(const char* phase) {
  const char* env = getenv("K1S_BENCH_PHASES");
  if (!env || !*env) return true;
  std::string list = std::string(",") + env + ",";
  return list.find(std::string(",") + phase + ",") != std::string::npos;
}

// perf record on the server for the duration of one phase (K1S_BENCH_PERF); a no-op otherwise.
class PhaseProfile {
 public:
  PhaseProfile(pid_t server, const char* phase) {
    const char* prefix = getenv("K1S_BENCH_PERF");
    if (!prefix || !*prefix) return;
    std::string out = std::string(prefix) + "-" + phase + ".data", p = std::to_string(server);
    std::vector<std::string> args = {"perf", "record", "-q", "-F", "1999", "-g", "--call-graph", "dwarf,16384",
                                     "-p", p, "-o", out};
    std::vector<char*> av;
    for (auto& a : args) av.push_back(a.data());
    av.push_back(nullptr);
    if (posix_spawnp(&pid_, "perf", nullptr, nullptr, av.data(), environ) != 0) pid_ = -1;
    else usleep(300 * 1000);  // perf attaches before the load starts
  }
  ~PhaseProfile() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

static std::unique_ptr<httplib::SSLClient> client(int port, const std::string& token) {
  auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  c->enable_server_certificate_verification(false);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_bearer_token_auth(token.c_str());
  c->set_read_timeout(30, 0);
  return c;
}

static double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * (v.size() - 1) + 0.5))];
}

// The floor of the required stack, a second anchor: cpp-httplib's HTTPS server (k1s's serving
// certificate, TCP_NODELAY, keep-alive), nlohmann/json and SQLite with nothing of Kubernetes in
// between. Each POST parses its body, inserts it as one row in its own transaction (the raw
// loop's table and settings), and answers 201 with the object. No validation, defaulting,
// resourceVersion, watch events or metadata: whatever k1s does per create costs more than this.
class FloorServer {
 public:
  FloorServer(const std::string& dir, const std::string& cert, const std::string& key, int port)
      : srv_(cert.c_str(), key.c_str()) {
    std::string path = dir + "/floor.db";
    sqlite3_open(path.c_str(), &db_);
    sqlite3_exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                      "CREATE TABLE IF NOT EXISTS objects(resource TEXT, namespace TEXT, name TEXT, rv INTEGER, data TEXT,"
                      " PRIMARY KEY(resource, namespace, name));",
                 nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(db_, "INSERT INTO objects VALUES('configmaps','bench',?,?,?)", -1, &insert_, nullptr);
    srv_.set_tcp_nodelay(true);
    srv_.set_keep_alive_max_count(100000);
    srv_.Post("/floor", [this](const httplib::Request& req, httplib::Response& res) {
      Json obj = Json::parse(req.body, nullptr, false);
      if (obj.is_discarded()) {
        res.status = 400;
        return;
      }
      std::string name = obj["metadata"].value("name", "");
      std::lock_guard<std::mutex> l(mu_);
      sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      sqlite3_reset(insert_);
      sqlite3_bind_text(insert_, 1, name.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert_, 2, ++rv_);
      std::string data = obj.dump();
      sqlite3_bind_text(insert_, 3, data.c_str(), -1, SQLITE_TRANSIENT);
      bool ok = sqlite3_step(insert_) == SQLITE_DONE;
      sqlite3_exec(db_, ok ? "COMMIT" : "ROLLBACK", nullptr, nullptr, nullptr);
      res.status = ok ? 201 : 409;
      res.set_content(data, "application/json");
      cork(req, 1);
    });
    // As k1s does: the answer's header and body leave as one segment (corked until logged).
    srv_.set_logger([](const httplib::Request& req, const httplib::Response&) { cork(req, 0); });
    if (!srv_.is_valid() || !srv_.bind_to_port("127.0.0.1", port)) {
      fprintf(stderr, "floor server: cannot listen on %d\n", port);
      exit(1);
    }
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) usleep(1000);
  }
  static void cork(const httplib::Request& req, int on) {
    if (req.ssl) setsockopt(SSL_get_fd(req.ssl), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  }
  ~FloorServer() {
    srv_.stop();
    thread_.join();
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }

 private:
  httplib::SSLServer srv_;
  std::thread thread_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  long rv_ = 0;
};

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s K1S_BINARY WORKDIR\n", argv[0]);
    return 2;
  }
  std::string bin = argv[1], dir = argv[2];
  const int port = 16443, threads = 2, connections = 4;
  const char* secs = getenv("K1S_BENCH_SECONDS");
  const double phase = secs && atof(secs) > 0 ? atof(secs) : 3.0;  // seconds per throughput phase

  double raw = rawSqliteTxnPerSec(dir, 2.0);

  std::string dataDir = dir + "/data";
  std::string portS = std::to_string(port);
  std::vector<std::string> args = {bin, "server", "--data-dir", dataDir, "--run-dir", dir + "/run",
                                   "--secure-port", portS, "--bridge", "k1sbench0", "--cleanup-on-exit"};
  std::vector<char*> av;
  for (auto& a : args) av.push_back(a.data());
  av.push_back(nullptr);
  // First start creates the CA and token; measure the second, ordinary start.
  pid_t pid;
  for (int round = 0; round < 2; ++round) {
    auto t0 = Clock::now();
    posix_spawn(&pid, bin.c_str(), nullptr, nullptr, av.data(), environ);
    double ready = -1;
    while (secondsSince(t0) < 10) {
      httplib::SSLClient c("127.0.0.1", port);
      c.enable_server_certificate_verification(false);
      c.set_connection_timeout(0, 20000);
      auto r = c.Get("/readyz");
      if (r && r->status == 200) {
        ready = secondsSince(t0);
        break;
      }
      usleep(1000);
    }
    if (round == 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      continue;
    }
    if (ready < 0) {
      fprintf(stderr, "server did not become ready\n");
      kill(pid, SIGKILL);
      return 1;
    }
    printf("start -> /readyz: %.1f ms (target <= 100 ms)\n", ready * 1000);
  }
  sleep(1);
  long idleRss = rssKiB(pid);
  std::string token = tokenFrom(dataDir + "/kubeconfig.yaml");

  auto c0 = client(port, token);
  c0->Post("/api/v1/namespaces", R"({"metadata":{"name":"bench"}})", "application/json");

  // The server's CPU at rest (controllers, proxy) is measured first and taken out of the per-request cost.
  double idleCpu0 = cpuSeconds(pid);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double idleCpuPerSec = cpuSeconds(pid) - idleCpu0;

  // A throughput phase is wrk (a C load generator: its own CPU per request is small, so the
  // server, not the client, sets the rate on these two cores) with `threads` threads over as
  // `connections` HTTPS keep-alive connections. Returns {requests/s, server us per request, client us per
  // request}; any response but the expected one fails the bench.
  struct PhaseResult {
    double rate = 0, serverUs = 0, clientUs = 0;
  };
  auto runPhase = [&](const char* name, const std::string& path, const std::string& script, pid_t server = 0,
                      int serverPort = 0) {
    if (!server) server = pid;
    if (!serverPort) serverPort = port;
    std::string lua = dir + "/" + name + ".lua";
    std::ofstream(lua) << script;
    std::string out = dir + "/" + name + ".out", secsS = std::to_string(int(phase + 0.5)),
                ts = std::to_string(threads), cs = std::to_string(connections), auth = "Authorization: Bearer " + token,
                url = "https://127.0.0.1:" + std::to_string(serverPort) + path;
    std::vector<std::string> args = {"wrk", "-t", ts, "-c", cs, "-d", secsS + "s", "-H", auth, "-s", lua, url};
    std::vector<char*> av;
    for (auto& a : args) av.push_back(a.data());
    av.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    PhaseProfile prof(server, name);
    double cpu0 = cpuSeconds(server);
    auto t0 = Clock::now();
    pid_t w;
    if (posix_spawnp(&w, "wrk", &fa, nullptr, av.data(), environ) != 0) {
      fprintf(stderr, "cannot run wrk (scripts/install-deps.sh bench installs it)\n");
      exit(1);
    }
    int status = 0;
    rusage ru{};
    wait4(w, &status, 0, &ru);
    double secs = secondsSince(t0);
    std::ifstream f(out);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto field = [&](const char* key) {
      auto p = text.find(key);
      return p == std::string::npos ? -1.0 : atof(text.c_str() + p + strlen(key));
    };
    // wrk prints "  12345 requests in 3.00s, ...": the count starts the line.
    double requests = -1;
    auto p = text.find(" requests in ");
    if (p != std::string::npos) requests = atof(text.c_str() + text.rfind('\n', p) + 1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || requests <= 0 || field("Non-2xx or 3xx responses: ") > 0 ||
        text.find("Socket errors") != std::string::npos) {
      fprintf(stderr, "wrk phase %s failed:\n%s\n", name, text.c_str());
      exit(1);
    }
    PhaseResult r;
    r.rate = field("Requests/sec:");
    r.serverUs = (cpuSeconds(server) - cpu0 - (server == pid ? idleCpuPerSec * secs : 0)) / requests * 1e6;
    r.clientUs = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6) /
                 requests * 1e6;
    return r;
  };

  // Each wrk thread creates cm-<thread>-<n> with a 400-byte value.
  const std::string createScript = R"(
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
local value = string.rep("x", 400)
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  -- nil headers: wrk's own, which carry -H Authorization
  return wrk.format("POST", nil, nil,
    '{"metadata":{"name":"cm-' .. tid .. '-' .. n .. '"},"data":{"k":"' .. value .. '"}}')
end
)";
  PhaseResult creates, gets;
  if (phaseWanted("create")) creates = runPhase("create", "/api/v1/namespaces/bench/configmaps", createScript);
  auto probe = c0->Get("/api/v1/namespaces/bench/configmaps/cm-0-1");
  if (!probe || probe->status != 200) {
    c0->Post("/api/v1/namespaces/bench/configmaps",
             Json{{"metadata", {{"name", "cm-0-1"}}}, {"data", {{"k", std::string(400, 'x')}}}}.dump(),
             "application/json");
  }
  // Gets read one 400-byte ConfigMap, as JSON.
  if (phaseWanted("get")) gets = runPhase("get", "/api/v1/namespaces/bench/configmaps/cm-0-1", "");

  // Watch delivery latency: 100 watchers, events stamped with the send time.
  const int watchers = 100, events = 100;
  std::mutex mu;
  std::vector<double> lat;
  if (phaseWanted("watch")) {
    PhaseProfile prof(pid, "watch");
    std::vector<std::thread> ts;
    std::vector<std::unique_ptr<httplib::SSLClient>> wcs;
    for (int w = 0; w < watchers; ++w) wcs.push_back(client(port, token));
    for (int w = 0; w < watchers; ++w)
      ts.emplace_back([&, w] {
        std::string buf;
        int seen = 0;
        wcs[w]->Get("/api/v1/namespaces/bench/events?watch=1&resourceVersion=0&timeoutSeconds=30",
                    [&](const char* data, size_t n) {
                      buf.append(data, n);
                      size_t nl;
                      while ((nl = buf.find('\n')) != std::string::npos) {
                        auto j = Json::parse(buf.substr(0, nl), nullptr, false);
                        buf.erase(0, nl + 1);
                        if (j.is_discarded() || j.value("type", "") != "ADDED") continue;
                        auto sent = std::stoll(j["object"]["message"].get<std::string>());
                        double ms = (std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count() - sent) / 1e6;
                        std::lock_guard<std::mutex> l(mu);
                        lat.push_back(ms);
                        if (++seen >= events) return false;
                      }
                      return true;
                    });
      });
    // Give every watcher time to connect (a connection needs a TLS handshake).
    std::this_thread::sleep_for(std::chrono::seconds(3));
    for (int i = 0; i < events; ++i) {
      auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
      Json ev = {{"metadata", {{"name", "ev-" + std::to_string(i)}}},
                 {"involvedObject", {{"kind", "ConfigMap"}, {"name", "x"}, {"namespace", "bench"}}},
                 {"reason", "Bench"}, {"message", std::to_string(now)}, {"type", "Normal"}};
      c0->Post("/api/v1/namespaces/bench/events", ev.dump(), "application/json");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& t : ts) t.join();
  }
  long busyRss = rssKiB(pid);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);

  // The same creates against the floor of the required libraries (FloorServer), after k1s has
  // stopped: how far any create path built on them can go on this machine.
  PhaseResult floor;
  if (phaseWanted("floor")) {
    FloorServer fs(dir, dataDir + "/certs/server.crt", dataDir + "/certs/server.key", port + 1);
    floor = runPhase("floor", "/floor", createScript, getpid(), port + 1);
  }

  printf("\n%-44s %12s %12s\n", "measure", "k1s", "anchor");
  printf("%-44s %12.0f %12.0f  (raw SQLite txn/s, WAL+NORMAL, same disk)\n", "creates/s (wrk, HTTPS keep-alive, 4 conns)", creates.rate, raw);
  printf("%-44s %12.2f %12s  (target >= 0.5x and >= 2000/s)\n", "creates / raw SQLite", creates.rate / raw, "");
  printf("%-44s %12.0f %12.2f  (x raw: the floor of httplib + JSON + one SQLite txn, no Kubernetes)\n",
         "floor creates/s (same wrk, same certificate)", floor.rate, floor.rate / raw);
  printf("%-44s %12.0f %12.0f  (wrk's CPU us per request)\n", "floor server CPU us per create", floor.serverUs, floor.clientUs);
  printf("%-44s %12.0f %12s  (target >= 10000/s)\n", "gets/s (wrk, HTTPS keep-alive, 4 conns)", gets.rate, "");
  printf("%-44s %12.0f %12s  (server CPU at rest: %.0f ms/s, taken out)\n", "server CPU us per create", creates.serverUs, "",
         idleCpuPerSec * 1000);
  printf("%-44s %12.0f\n", "server CPU us per get", gets.serverUs);
  printf("%-44s %12.0f %12s  (wrk, on the same cores)\n", "client CPU us per create", creates.clientUs, "");
  printf("%-44s %12.0f\n", "client CPU us per get", gets.clientUs);
  printf("%-44s %12.2f %12s\n", "watch delivery p50 ms (100 watchers)", pct(lat, 0.5), "");
  printf("%-44s %12.2f %12s  (target <= 10 ms; %zu samples)\n", "watch delivery p99 ms (100 watchers)", pct(lat, 0.99), "", lat.size());
  printf("%-44s %12ld %12s  (target <= 20480 KiB)\n", "idle RSS KiB", idleRss, "");
  printf("%-44s %12ld %12s\n", "RSS KiB after the run", busyRss, "");
  return 0;
}
