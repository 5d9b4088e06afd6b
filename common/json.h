// The one JSON type of k1s. Objects are plain JSON, as on the wire.
#pragma once
#include <nlohmann/json.hpp>

namespace k1s {
using Json = nlohmann::json;
}  // namespace k1s
