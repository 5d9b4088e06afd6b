// libFuzzer target: YAML manifests as the API server (application/yaml, apply patches)
// and `k1s apply -f` read them, and printing what was read back as kubectl -o yaml.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& doc : k1s::parseYamlDocuments(text)) (void)k1s::toYaml(doc);
  } catch (const std::exception&) {
  }
  return 0;
}
