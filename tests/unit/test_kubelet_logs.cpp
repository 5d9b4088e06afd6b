// CRI log files as kubectl logs sees them: tailLines, since, timestamps, limitBytes.
#include <doctest/doctest.h>

#include "kubelet/pod_logs.h"

using namespace k1s;

namespace {
const char* kLog =
    "2026-01-01T00:00:01.000000001Z stdout F first\n"
    "2026-01-01T00:00:02.5Z stderr F second\n"
    "2026-01-01T00:00:03Z stdout P par\n"
    "2026-01-01T00:00:03.1Z stdout F tial\n"
    "2026-01-01T00:00:04Z stdout F fourth\n"
    "2026-01-01T00:00:05Z stdout F incomplete";  // no newline yet: still being written
int64_t at(int sec) { return (1767225600LL + sec) * 1000000000LL; }  // 2026-01-01T00:00:00Z + sec
}  // namespace

TEST_CASE("kubelet CRI log line parsing") {
  CriLogLine l;
  REQUIRE(parseCriLogLine("2026-01-01T00:00:01.5Z stderr P hello world", l));
  CHECK(l.time == "2026-01-01T00:00:01.5Z");
  CHECK(l.stream == "stderr");
  CHECK(l.partial);
  CHECK(l.content == "hello world");
  REQUIRE(parseCriLogLine("2026-01-01T00:00:01Z stdout F ", l));
  CHECK(l.content.empty());
  CHECK_FALSE(l.partial);
  CHECK_FALSE(parseCriLogLine("garbage", l));
  CHECK(parseRfc3339Nanos("2026-01-01T00:00:01.000000001Z") == at(1) + 1);
  CHECK(parseRfc3339Nanos("2026-01-01T01:00:00+01:00") == at(0));
  CHECK_FALSE(parseRfc3339Nanos("yesterday"));
}

TEST_CASE("kubelet log rendering options") {
  LogOptions o;
  CHECK(renderLog(kLog, o, at(10)) == "first\nsecond\npartial\nfourth\n");
  o.tailLines = 2;
  CHECK(renderLog(kLog, o, at(10)) == "tial\nfourth\n");
  o.tailLines = 0;
  CHECK(renderLog(kLog, o, at(10)) == "");
  o = {};
  o.timestamps = true;
  o.tailLines = 1;
  CHECK(renderLog(kLog, o, at(10)) == "2026-01-01T00:00:04Z fourth\n");
  o = {};
  o.sinceSeconds = 7;  // now = 00:00:10 -> since 00:00:03
  CHECK(renderLog(kLog, o, at(10)) == "partial\nfourth\n");
  o = {};
  o.sinceTime = "2026-01-01T00:00:02Z";
  CHECK(renderLog(kLog, o, at(10)) == "second\npartial\nfourth\n");
  o = {};
  o.limitBytes = 9;
  CHECK(renderLog(kLog, o, at(10)) == "first\nsec");
}
