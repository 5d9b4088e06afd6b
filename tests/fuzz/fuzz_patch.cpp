// libFuzzer target: the three patch types. The first byte picks merge, JSON or strategic
// merge patch; the rest is "<document>\n\n<patch>", both JSON read with the server's limits.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_limits.h"
#include "common/patch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto sep = rest.find("\n\n");
  if (sep == std::string_view::npos) return 0;
  try {
    k1s::Json doc = k1s::parseJsonBounded(rest.substr(0, sep));
    k1s::Json patch = k1s::parseJsonBounded(rest.substr(sep + 2));
    k1s::Json out;
    switch (data[0] % 3) {
      case 0: out = k1s::mergePatch(doc, patch); break;
      case 1: out = k1s::jsonPatch(doc, patch); break;
      default:
        out = k1s::strategicMergePatch(
            doc, patch, [](const std::vector<std::string>& path) -> std::optional<k1s::ListStrategy> {
              if (path == std::vector<std::string>{"spec", "containers"}) return k1s::ListStrategy{"merge", "name"};
              return std::nullopt;
            });
    }
    if (!k1s::jsonDeeperThan(out)) (void)k1s::dumpForWire(out);
  } catch (const std::exception&) {
  }
  return 0;
}
