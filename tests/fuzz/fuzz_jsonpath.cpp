// libFuzzer target: kubectl's -o jsonpath= and -o custom-columns= templates (client-go's
// JSONPath dialect), parsed and then evaluated over a fixed Pod list. The first byte chooses
// --allow-missing-template-keys and whether the rest is a jsonpath template or a
// custom-columns spec. A bad template or a failed lookup is JsonPathError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/jsonpath.h"
#include "common/json.h"

namespace {

const k1s::Json& doc() {
  static const k1s::Json d = k1s::Json::parse(R"({
    "apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},
    "items":[
      {"kind":"Pod","metadata":{"name":"numbers-api-1","namespace":"default",
        "labels":{"app":"numbers-api","example.com/tier":"backend"},"annotations":{"a.b/c":"x y"}},
       "spec":{"containers":[{"name":"api","image":"numbers-api:v1","ports":[{"containerPort":80}],
         "resources":{"limits":{"cpu":"250m","memory":"64Mi"}}}],"nodeName":"k1s"},
       "status":{"phase":"Running","podIP":"10.244.0.5","ready":true,"restartCount":0,
         "conditions":[{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}]}},
      {"kind":"Pod","metadata":{"name":"numbers-web-2","namespace":"default","labels":{"app":"numbers-web"}},
       "spec":{"containers":[{"name":"web","image":"numbers-web:v2"},{"name":"side","image":"sleep"}]},
       "status":{"phase":"Pending","podIP":null,"ready":false,"restartCount":3,"score":-1.5e3,
         "conditions":[]}}]})");
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Templates that blow up hit the bound after a few thousand values instead of a million, so
  // the run spends its time on the parser and evaluator rather than on filling one vector.
  // The fixed document has under 100 nodes, so no sensible template comes near them.
  k1s::cli::jsonPathLimits.maxValues = 512;
  k1s::cli::jsonPathLimits.maxCopied = 2048;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  bool allowMissing = data[0] & 1;
  try {
    if (data[0] & 2) {
      auto cols = (data[0] & 4) ? k1s::cli::parseCustomColumnsFile(text) : k1s::cli::parseCustomColumns(text);
      for (const auto& item : doc()["items"]) (void)k1s::cli::customColumnCells(cols, item);
    } else {
      k1s::cli::JsonPath p(text);
      p.allowMissingKeys(allowMissing);
      (void)p.execute(doc());
      (void)p.findResults(doc()["items"][0]);
    }
  } catch (const k1s::cli::JsonPathError&) {
  }
  return 0;
}
