// libFuzzer target: a request body as JSON, then the schema walkers a create runs on it
// (nulls, types, unknown fields) for a Pod and a ConfigMap. Any input must end in a value
// or an exception, never a crash, a leak or unbounded memory (DESIGN rule 8).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "apiserver/schema.h"
#include "common/json_limits.h"
#include "common/resources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  k1s::Json obj;
  try {
    obj = k1s::parseJsonBounded(text);
  } catch (const std::exception&) {
    return 0;
  }
  for (auto [apiVersion, kind] : {std::pair{"v1", "Pod"}, std::pair{"v1", "ConfigMap"}}) {
    const k1s::ResourceInfo* r = k1s::findKind(apiVersion, kind);
    if (!r) continue;
    k1s::Json copy = obj;
    try {
      k1s::decodeNulls(*r, copy);
      (void)k1s::typeError(*r, copy);
      (void)k1s::unknownFields(*r, copy);
      (void)k1s::dumpForWire(copy);
    } catch (const std::exception&) {
    }
  }
  return 0;
}
