// API server benchmark (issue: foundation). Prints one table with its anchor,
// the raw SQLite single-row transaction rate on the same disk and durability
// setting, measured in the same run. Not a test: numbers vary with the machine.
//
// usage: k1s_bench_api K1S_BINARY WORKDIR   (run inside a private network namespace; see bench/api.sh)
//
// Environment, for profiling one phase at a time:
//   K1S_BENCH_PHASES=create,get,watch   the phases to run (default: all three)
//   K1S_BENCH_PERF=PREFIX               record each phase with `perf record -g --call-graph dwarf` on the
//                                       server only, into PREFIX-<phase>.data
//   K1S_BENCH_SECONDS=N                 seconds per throughput phase (default 3)
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
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

static double rawSqliteTxnPerSec(const std::string& dir, int n) {
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
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    std::string name = "cm-" + std::to_string(i);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, i);
    sqlite3_bind_text(st, 3, payload.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
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

// CPU time the bench process (the clients) has used, in seconds: what the clients cost
// on the same two cores, printed so that a slow client is seen, not blamed on the server.
static double selfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
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

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s K1S_BINARY WORKDIR\n", argv[0]);
    return 2;
  }
  std::string bin = argv[1], dir = argv[2];
  const int port = 16443, threads = 4;
  const char* secs = getenv("K1S_BENCH_SECONDS");
  const double phase = secs && atof(secs) > 0 ? atof(secs) : 3.0;  // seconds per throughput phase

  double raw = rawSqliteTxnPerSec(dir, 5000);

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

  // Runs `threads` clients calling one(c, t, i) until the phase ends; returns {requests/s, server us
  // per request, client us per request}.
  struct PhaseResult {
    double rate = 0, serverUs = 0, clientUs = 0;
  };
  auto runPhase = [&](const char* name, auto one) {
    std::atomic<long> done{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    PhaseProfile prof(pid, name);
    double cpu0 = cpuSeconds(pid), self0 = selfCpuSeconds();
    auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        auto c = client(port, token);
        for (long i = 0; !stop; ++i)
          if (one(*c, t, i)) ++done;
      });
    std::this_thread::sleep_for(std::chrono::duration<double>(phase));
    stop = true;
    for (auto& t : ts) t.join();
    double secs = secondsSince(t0);
    long n = std::max(1L, long(done));
    PhaseResult r;
    r.rate = done / secs;
    r.serverUs = (cpuSeconds(pid) - cpu0 - idleCpuPerSec * secs) / n * 1e6;
    r.clientUs = (selfCpuSeconds() - self0) / n * 1e6;
    return r;
  };

  std::string payload(400, 'x');
  auto createOne = [&](httplib::SSLClient& c, int t, long i) {
    Json cm = {{"metadata", {{"name", "cm-" + std::to_string(t) + "-" + std::to_string(i)}}},
               {"data", {{"k", payload}}}};
    auto r = c.Post("/api/v1/namespaces/bench/configmaps", cm.dump(), "application/json");
    return r && r->status == 201;
  };
  PhaseResult creates, gets;
  if (phaseWanted("create")) {
    creates = runPhase("create", createOne);
  } else if (phaseWanted("get")) {
    for (int t = 0; t < threads; ++t) createOne(*c0, t, 0);  // the objects the gets read
  }
  if (phaseWanted("get"))
    gets = runPhase("get", [&](httplib::SSLClient& c, int t, long) {
      auto r = c.Get("/api/v1/namespaces/bench/configmaps/cm-" + std::to_string(t) + "-0");
      return r && r->status == 200;
    });

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

  printf("\n%-44s %12s %12s\n", "measure", "k1s", "anchor");
  printf("%-44s %12.0f %12.0f  (raw SQLite txn/s, WAL+NORMAL, same disk)\n", "creates/s (HTTPS keep-alive, 4 threads)", creates.rate, raw);
  printf("%-44s %12.2f %12s  (target >= 0.5x and >= 2000/s)\n", "creates / raw SQLite", creates.rate / raw, "");
  printf("%-44s %12.0f %12s  (target >= 10000/s)\n", "gets/s (HTTPS keep-alive, 4 threads)", gets.rate, "");
  printf("%-44s %12.0f %12s  (server CPU at rest: %.0f ms/s, taken out)\n", "server CPU us per create", creates.serverUs, "",
         idleCpuPerSec * 1000);
  printf("%-44s %12.0f\n", "server CPU us per get", gets.serverUs);
  printf("%-44s %12.0f %12s  (the bench's 4 client threads, same cores)\n", "client CPU us per create", creates.clientUs, "");
  printf("%-44s %12.0f\n", "client CPU us per get", gets.clientUs);
  printf("%-44s %12.2f %12s\n", "watch delivery p50 ms (100 watchers)", pct(lat, 0.5), "");
  printf("%-44s %12.2f %12s  (target <= 10 ms; %zu samples)\n", "watch delivery p99 ms (100 watchers)", pct(lat, 0.99), "", lat.size());
  printf("%-44s %12ld %12s  (target <= 20480 KiB)\n", "idle RSS KiB", idleRss, "");
  printf("%-44s %12ld %12s\n", "RSS KiB after the run", busyRss, "");
  return 0;
}
