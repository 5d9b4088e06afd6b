#include "common/json_limits.h"

#include <stdexcept>
#include <utility>
#include <vector>

namespace k1s {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none. The ranges
// are Go's utf8.DecodeRune's: no overlong forms, no surrogates, nothing past U+10FFFF.
size_t validSequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}

}  // namespace

std::string coerceUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    size_t n = validSequence(in, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // one U+FFFD per bad byte, as Go's decoder
      ++i;
    } else {
      out.append(in.data() + i, n);
      i += n;
    }
  }
  return out;
}

size_t jsonNestingDepth(std::string_view text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\') ++i;
      else if (c == '"') inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Json parseJsonBounded(std::string_view text) {
  if (jsonNestingDepth(text) > kMaxJsonDepth) throw std::runtime_error("exceeded max depth");
  std::string clean = coerceUtf8(text);
  return Json::parse(clean);
}

bool jsonDeeperThan(const Json& v, size_t limit) {
  std::vector<std::pair<const Json*, size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [j, d] = todo.back();
    todo.pop_back();
    if (!j->is_structured()) continue;
    if (d + 1 > limit) return true;
    for (const auto& e : *j) todo.emplace_back(&e, d + 1);
  }
  return false;
}

size_t jsonTextSize(const Json& v, size_t cap) {
  size_t total = 0;
  std::vector<const Json*> todo{&v};
  while (!todo.empty() && total <= cap) {
    const Json* j = todo.back();
    todo.pop_back();
    if (j->is_object()) {
      total += 2 + (j->empty() ? 0 : j->size() - 1);  // braces and commas
      for (auto it = j->begin(); it != j->end(); ++it) {
        total += Json(it.key()).dump(-1, ' ', false, Json::error_handler_t::replace).size() + 1;  // "key":
        todo.push_back(&it.value());
      }
    } else if (j->is_array()) {
      total += 2 + (j->empty() ? 0 : j->size() - 1);
      for (const auto& e : *j) todo.push_back(&e);
    } else {
      total += j->dump(-1, ' ', false, Json::error_handler_t::replace).size();
    }
  }
  return total;
}

std::string dumpForWire(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace k1s
