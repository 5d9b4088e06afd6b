// JSON from outside the process (request bodies, patches, manifests) parsed with
// kube-apiserver's limits (DESIGN rule 8), and the helpers that keep a parsed
// value within them.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "common/json.h"

namespace k1s {

// Go's encoding/json (and sigs.k8s.io/json, which kube decodes with) refuses
// input nested deeper than this with "exceeded max depth".
inline constexpr size_t kMaxJsonDepth = 10000;

// Replaces every byte sequence that is not valid UTF-8 with U+FFFD, as Go's
// decoder does inside strings. Outside strings the replacement is still not
// JSON, so such input stays a syntax error, as in Go.
std::string coerceUtf8(std::string_view in);

// The deepest nesting of '[' / '{' in `text` (strings skipped), stopping once
// it passes `limit`: a cheap scan before nlohmann builds anything.
size_t jsonNestingDepth(std::string_view text, size_t limit = kMaxJsonDepth);

// Parses untrusted JSON: invalid UTF-8 in strings becomes U+FFFD, nesting
// deeper than kMaxJsonDepth throws std::runtime_error("exceeded max depth"),
// malformed input throws nlohmann's parse_error.
Json parseJsonBounded(std::string_view text);

// True when `v` nests deeper than `limit` (iterative: safe on any value).
bool jsonDeeperThan(const Json& v, size_t limit = kMaxJsonDepth);

// The length of v.dump() (compact), counted without building it; stops counting
// once it passes `cap` and returns what it has (> cap).
size_t jsonTextSize(const Json& v, size_t cap);

// Serialises for the wire; any invalid UTF-8 left in a string (a name taken
// from a URL, say) goes out as U+FFFD instead of making dump() throw.
std::string dumpForWire(const Json& v);

}  // namespace k1s
