// API errors: the whole message reaches the Status (no cut at a NUL byte) and names are
// quoted as kube-apiserver quotes them (Go's %q).
#include <doctest/doctest.h>

#include <string>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/json_limits.h"
#include "tests/unit/api_fixture.h"

using namespace k1s;

TEST_CASE("goQuote: Go's %q for names and values") {
  using namespace std::string_literals;
  CHECK(goQuote("web-1") == "\"web-1\"");
  CHECK(goQuote("a\0b"s) == "\"a\\x00b\"");
  CHECK(goQuote("q\"\\") == "\"q\\\"\\\\\"");
  CHECK(goQuote("\a\b\f\n\r\t\v\x1b\x7f") == "\"\\a\\b\\f\\n\\r\\t\\v\\x1b\\x7f\"");
  CHECK(goQuote("caf\xc3\xa9 \xe6\x97\xa5") == "\"caf\xc3\xa9 \xe6\x97\xa5\"");  // printable runes stay
  CHECK(goQuote("\xff" "a\xc3") == "\"\\xffa\\xc3\"");                        // bytes that are not UTF-8
  CHECK(goQuote("\xc0\xaf") == "\"\\xc0\\xaf\"");                               // overlong '/'
  CHECK(goQuote("\xed\xa0\x80") == "\"\\xed\\xa0\\x80\"");                      // a surrogate
  CHECK(goQuote("\xc2\x85|\xc2\xa0|\xef\xbb\xbf") == "\"\\u0085|\\u00a0|\\ufeff\"");
  CHECK(goQuote("\xf3\xb0\x80\x80") == "\"\\U000f0000\"");
}

TEST_CASE("not found: the whole name, NUL and all, as kube prints it") {
  using namespace std::string_literals;
  ApiError e = notFound("configmaps", "a\0b"s);
  CHECK(e.message == "configmaps \"a\\x00b\" not found");
  Json s = e.toStatus();
  CHECK(s["message"] == "configmaps \"a\\x00b\" not found");
  CHECK(s["details"]["name"] == "a\0b"s);
  // on the wire: the message with the escape as text, the name with the raw byte as \u0000
  std::string wire = dumpForWire(s);
  CHECK(wire.find(R"("message":"configmaps \"a\\x00b\" not found")") != std::string::npos);
  CHECK(wire.find(R"("name":"a\u0000b")") != std::string::npos);
  CHECK(alreadyExists("pods", "x\ny").message == "pods \"x\\ny\" already exists");
}

TEST_CASE("a message with a NUL byte is kept whole in the Status") {
  using namespace std::string_literals;
  ApiError e = badRequest("before\0after"s);
  CHECK(e.message == "before\0after"s);
  CHECK(e.toStatus()["message"] == "before\0after"s);
}

TEST_CASE("GET of a missing name with a NUL byte through the registry") {
  using namespace std::string_literals;
  test::Api api;
  const ResourceInfo& cms = *findResource("", "configmaps");
  try {
    api.reg->get(cms, "default", "a\0b"s);
    FAIL("no error");
  } catch (const ApiError& e) {
    CHECK(e.code == 404);
    CHECK(e.toStatus()["message"] == "configmaps \"a\\x00b\" not found");
  }
}
