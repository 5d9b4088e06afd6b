#include "common/errors.h"

#include <cstdio>

namespace k1s {

// The length of the UTF-8 sequence at s[i] and its rune, or 0 when the bytes there are not
// valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included), as Go decodes.
static size_t decodeRune(const std::string& s, size_t i, uint32_t& r) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  uint32_t min;
  if (c < 0x80) { r = c; return 1; }
  if (c >= 0xc2 && c <= 0xdf) { n = 2; r = c & 0x1f; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; r = c & 0x0f; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; r = c & 0x07; min = 0x10000; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    r = (r << 6) | (b(i + k) & 0x3f);
  }
  if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return 0;
  return n;
}

// Go's unicode.IsPrint for the runes names and values realistically hold: everything but
// controls, spaces other than ' ', format characters, private use and non-characters.
static bool goPrintable(uint32_t r) {
  if (r < 0x20 || (r >= 0x7f && r <= 0xa0) || r == 0xad) return false;
  if (r == 0x1680 || (r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f) ||
      (r >= 0x205f && r <= 0x2064) || r == 0x3000 || r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb))
    return false;
  if ((r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000 || (r & 0xfffe) == 0xfffe) return false;
  return true;
}

std::string goQuote(const std::string& s) {
  std::string out = "\"";
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    uint32_t r = 0;
    size_t n = decodeRune(s, i, r);
    if (n == 0) {  // a byte that is not UTF-8
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
      continue;
    }
    switch (r) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (goPrintable(r)) {
          out.append(s, i, n);
        } else {
          if (r < 0x20 || r == 0x7f) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(r));
          else if (r < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(r));
          else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(r));
          out += buf;
        }
    }
    i += n;
  }
  return out + "\"";
}

Json ApiError::toStatus() const {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason}, {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return s;
}

static Json nameDetails(const std::string& gr, const std::string& name) {
  // gr is "plural" or "plural.group"; details carry them separately.
  auto dot = gr.find('.');
  Json d = {{"name", name}, {"kind", gr.substr(0, dot)}};
  if (dot != std::string::npos) d["group"] = gr.substr(dot + 1);
  if (name.empty()) d.erase("name");
  return d;
}

ApiError notFound(const std::string& gr, const std::string& name) {
  return ApiError(404, "NotFound", gr + " " + goQuote(name) + " not found", nameDetails(gr, name));
}
ApiError alreadyExists(const std::string& gr, const std::string& name) {
  return ApiError(409, "AlreadyExists", gr + " " + goQuote(name) + " already exists", nameDetails(gr, name));
}
ApiError conflict(const std::string& gr, const std::string& name, const std::string& why) {
  return ApiError(409, "Conflict", "Operation cannot be fulfilled on " + gr + " " + goQuote(name) + ": " + why,
                  nameDetails(gr, name));
}
ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                 const std::vector<StatusCause>& causes) {
  std::string qualified = group.empty() ? kind : kind + "." + group;
  std::string msg = qualified + " " + goQuote(name) + " is invalid: ";
  Json jc = Json::array();
  std::vector<std::string> parts;
  for (auto& c : causes) {
    jc.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
    parts.push_back(c.field.empty() ? c.message : c.field + ": " + c.message);
  }
  if (parts.size() == 1) {
    msg += parts[0];
  } else {
    msg += "[";
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    msg += "]";
  }
  Json d = {{"name", name}, {"kind", kind}, {"causes", jc}};
  if (!group.empty()) d["group"] = group;
  return ApiError(422, "Invalid", msg, d);
}
ApiError badRequest(const std::string& message) { return ApiError(400, "BadRequest", message); }
ApiError methodNotSupported(const std::string& gr, const std::string& verb) {
  return ApiError(405, "MethodNotAllowed", verb + " is not supported on resources of kind \"" + gr + "\"",
                  {{"kind", gr}});
}
ApiError gone(const std::string& message) { return ApiError(410, "Expired", message); }
ApiError forbidden(const std::string& message) { return ApiError(403, "Forbidden", message); }
ApiError unauthorized() { return ApiError(401, "Unauthorized", "Unauthorized"); }
ApiError unsupportedMediaType(const std::string& ct) {
  return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (content type \"" + ct + "\" is not supported)");
}
ApiError tooLarge(const std::string& message) { return ApiError(413, "RequestEntityTooLarge", message); }
ApiError notAcceptable(const std::string& message) { return ApiError(406, "NotAcceptable", message); }
ApiError internalError(const std::string& message) {
  return ApiError(500, "InternalError", "Internal error occurred: " + message);
}

Json successStatus(const Json& details) {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", "Success"}};
  if (!details.is_null()) s["details"] = details;
  return s;
}

}  // namespace k1s
