// kiamol/ch03-numbers-api: a random-number HTTP API for the chapter 3 labs.
// GET /rng (and the long path the web app uses) returns an integer 0-99 as plain text.
// FailAfterCallCount=N makes every call after the Nth fail with 500, /healthz too, so the
// labs can show probes and restarts; GET /reset starts counting again.
#include <atomic>
#include <random>
#include <string>

#include "images/common/lab_http.h"

namespace {

std::atomic<long> callCount{0};
long failAfter = 0;  // 0: never fail

bool failing() { return failAfter > 0 && callCount.load() >= failAfter; }

lab::Response rng() {
  lab::Response res;
  if (failing()) {
    res.status = 500;
    res.body = "Unhealthy\n";
    return res;
  }
  ++callCount;
  thread_local std::mt19937 gen{std::random_device{}()};
  res.body = std::to_string(std::uniform_int_distribution<int>(0, 99)(gen));
  return res;
}

lab::Response handle(const lab::Request& req) {
  lab::Response res;
  if (req.method != "GET" && req.method != "HEAD") {
    res.status = 405;
    res.body = "method not allowed\n";
  } else if (req.path == "/rng" || req.path == "/sixeyed/kiamol/master/ch03/numbers/rng") {
    res = rng();
  } else if (req.path == "/healthz") {
    res.status = failing() ? 500 : 200;
    res.body = failing() ? "Unhealthy" : "OK";
  } else if (req.path == "/reset") {
    callCount = 0;
    res.body = "Reset";
  } else {
    res.status = 404;
    res.body = "not found\n";
  }
  return res;
}

}  // namespace

int main() {
  std::string n = lab::envOr("FailAfterCallCount", "0");
  try {
    failAfter = std::stol(n);
  } catch (...) {
    failAfter = 0;
  }
  if (failAfter > 0) lab::logLine("will fail after " + std::to_string(failAfter) + " calls");
  return lab::serve(std::stoi(lab::envOr("PORT", "80")), "numbers-api", handle);
}
