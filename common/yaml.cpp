// YAML in and out the way kubectl does it. kubectl reads manifests with
// sigs.k8s.io/yaml (go-yaml v2 underneath: YAML 1.1 typing of plain scalars)
// and prints -o yaml by marshalling JSON through go-yaml v2's emitter. Parsing
// uses yaml-cpp for the syntax and applies go-yaml v2's typing rules here;
// printing reimplements the emitter's layout, quoting and 80-column folding so
// the output matches byte for byte.
#include "common/yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/json_limits.h"
#include "common/yaml_limits.h"

namespace k1s {
namespace {

// ---------------------------------------------------------------------------
// Typing of plain scalars (go-yaml v2 resolve), shared by both directions: the
// parser uses it to type values, the printer to decide when a string needs
// quotes to stay a string.

enum class Kind { Str, Null, Bool, Int, Float, Timestamp, Merge };
struct Resolved {
  Kind kind = Kind::Str;
  Json value;            // typed value (Float: null when not representable in JSON)
  bool special = false;  // .inf / .nan
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// strconv.ParseInt(s, 0, 64), falling back to ParseUint, as go-yaml tries them.
std::optional<Json> parseGoInt(const std::string& s) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i == s.size()) return std::nullopt;
  int base = 10;
  if (s[i] == '0') {
    char p = i + 1 < s.size() ? static_cast<char>(std::tolower(s[i + 1])) : 0;
    bool prefixed = s.size() - i >= 3 && (p == 'b' || p == 'o' || p == 'x');
    if (prefixed) {
      base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
      i += 2;
    } else {
      base = 8;  // a leading zero means octal ("0755"); "0" alone is zero
      i += 1;
    }
  }
  unsigned long long v = 0;
  for (; i < s.size(); ++i) {
    int d;
    char c = static_cast<char>(std::tolower(s[i]));
    if (isDigit(c)) d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return std::nullopt;
    if (d >= base) return std::nullopt;
    if (v > (~0ULL - d) / base) return std::nullopt;
    v = v * base + d;
  }
  if (neg) {
    if (v > (1ULL << 63)) return std::nullopt;
    return Json(static_cast<long long>(0 - v));
  }
  if (v <= static_cast<unsigned long long>(LLONG_MAX)) return Json(static_cast<long long>(v));
  if (s[0] == '+') return std::nullopt;  // ParseUint takes no sign
  return Json(v);
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool isYamlFloat(const std::string& s) {
  size_t i = 0, n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < n && s[i] == '.') {
    size_t d = ++i;
    while (i < n && isDigit(s[i])) ++i;
    if (i == d) return false;
  } else {
    size_t d = i;
    while (i < n && isDigit(s[i])) ++i;
    if (i == d) return false;
    if (i < n && s[i] == '.')
      for (++i; i < n && isDigit(s[i]);) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t d = i;
    while (i < n && isDigit(s[i])) ++i;
    if (i == d) return false;
  }
  return i == n;
}

std::optional<double> parseFloat(const std::string& s) {
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || (errno == ERANGE && std::isinf(d))) return std::nullopt;
  return d;
}

// Reads 1-2 digits (Go's non-fixed numeric layout fields) within [lo, hi].
bool takeNum(const std::string& s, size_t& i, int minDigits, int maxDigits, int lo, int hi, int* out = nullptr) {
  int v = 0, nd = 0;
  while (nd < maxDigits && i < s.size() && isDigit(s[i])) v = v * 10 + (s[i++] - '0'), ++nd;
  if (nd < minDigits || v < lo || v > hi) return false;
  if (out) *out = v;
  return true;
}

// go-yaml v2 parseTimestamp: time.Parse with "2006-1-2T15:4:5.999999999Z07:00"
// (also lower-case t), "2006-1-2 15:4:5.999999999" and "2006-1-2".
bool isYamlTimestamp(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && isDigit(s[i])) ++i;
  if (i != 4 || i == s.size() || s[i] != '-') return false;
  int year = std::stoi(s.substr(0, 4)), month, day;
  ++i;
  if (!takeNum(s, i, 1, 2, 1, 12, &month) || i >= s.size() || s[i++] != '-' || !takeNum(s, i, 1, 2, 1, 31, &day))
    return false;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > days[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
  if (i == s.size()) return true;
  char sep = s[i++];
  if (sep != 'T' && sep != 't' && sep != ' ') return false;
  if (!takeNum(s, i, 1, 2, 0, 23) || i >= s.size() || s[i++] != ':' || !takeNum(s, i, 1, 2, 0, 59) ||
      i >= s.size() || s[i++] != ':' || !takeNum(s, i, 1, 2, 0, 59))
    return false;
  if (i + 1 < s.size() && (s[i] == '.' || s[i] == ',') && isDigit(s[i + 1]))
    for (++i; i < s.size() && isDigit(s[i]);) ++i;
  if (sep == ' ') return i == s.size();
  if (i < s.size() && s[i] == 'Z') return i + 1 == s.size();
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
    return takeNum(s, i, 2, 2, 0, 99) && i < s.size() && s[i++] == ':' && takeNum(s, i, 2, 2, 0, 99) &&
           i == s.size();
  }
  return false;
}

// ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$  (YAML 1.1 sexagesimal)
bool isBase60Float(const std::string& s) {
  size_t i = 0, n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  if (i >= n || !isDigit(s[i])) return false;
  while (i < n && (isDigit(s[i]) || s[i] == '_')) ++i;
  int groups = 0;
  while (i < n && s[i] == ':') {
    ++i;
    if (i + 1 < n && s[i] >= '0' && s[i] <= '5' && isDigit(s[i + 1])) i += 2;
    else if (i < n && isDigit(s[i])) i += 1;
    else return false;
    ++groups;
  }
  if (groups == 0) return false;
  if (i < n && s[i] == '.')
    for (++i; i < n && (isDigit(s[i]) || s[i] == '_');) ++i;
  return i == n;
}

Resolved resolvePlain(const std::string& s) {
  static const char* trues[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const char* falses[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  static const char* nulls[] = {"", "~", "null", "Null", "NULL"};
  static const char* specials[] = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf",
                                   "+.INF", "-.inf", "-.Inf", "-.INF"};
  for (const char* t : trues)
    if (s == t) return {Kind::Bool, true};
  for (const char* f : falses)
    if (s == f) return {Kind::Bool, false};
  for (const char* z : nulls)
    if (s == z) return {Kind::Null, nullptr};
  for (const char* x : specials)
    if (s == x) return {Kind::Float, nullptr, true};
  if (s == "<<") return {Kind::Merge, s};
  char c = s[0];
  if (c == '.') {
    if (isYamlFloat(s))
      if (auto d = parseFloat(s)) return {Kind::Float, *d};
  } else if (isDigit(c) || c == '+' || c == '-') {
    if (isYamlTimestamp(s)) return {Kind::Timestamp, s};
    std::string plain;
    for (char ch : s)
      if (ch != '_') plain += ch;
    if (auto i = parseGoInt(plain)) return {Kind::Int, *i};
    if (isYamlFloat(plain))
      if (auto d = parseFloat(plain)) return {Kind::Float, *d};
  }
  return {Kind::Str, s};
}

// ---------------------------------------------------------------------------
// Parsing: yaml-cpp node tree to JSON with go-yaml v2 typing.

[[noreturn]] void fail(const YAML::Mark& m, const std::string& msg) {
  if (m.is_null()) throw std::runtime_error("yaml: " + msg);
  throw std::runtime_error("yaml: line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) +
                           ": " + msg);
}

Json scalarToJson(const YAML::Node& n) {
  const std::string& tag = n.Tag();
  const std::string& s = n.Scalar();
  if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "tag:yaml.org,2002:binary") return s;  // quoted/block
  Resolved r = resolvePlain(s);
  if (tag == "tag:yaml.org,2002:int" && r.kind != Kind::Int) fail(n.Mark(), "cannot decode !!str `" + s + "` as a !!int");
  if (tag == "tag:yaml.org,2002:bool" && r.kind != Kind::Bool) fail(n.Mark(), "cannot decode !!str `" + s + "` as a !!bool");
  if (tag == "tag:yaml.org,2002:float" && r.kind == Kind::Int) return r.value.get<double>();
  if (r.kind == Kind::Float && r.special) fail(n.Mark(), "cannot represent " + s + " in JSON");
  return r.value;  // timestamps stay strings, as go-yaml v2 keeps them for interface{}
}

// Map keys become JSON strings the way sigs.k8s.io/yaml converts them.
std::string keyString(const Json& k) {
  if (k.is_string()) return k.get<std::string>();
  if (k.is_null()) return "null";
  if (k.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", k.get<double>());
    return buf;
  }
  return k.dump();
}

Json toJson(const YAML::Node& n, int depth);

void mergeInto(Json& out, const YAML::Node& v, int depth) {
  if (v.IsMap()) {
    Json m = toJson(v, depth + 1);
    for (auto it = m.begin(); it != m.end(); ++it) out[it.key()] = it.value();
  } else if (v.IsSequence()) {
    for (size_t i = v.size(); i-- > 0;) {  // earlier maps take precedence
      if (!v[i].IsMap()) fail(v[i].Mark(), "map merge requires map or sequence of maps as the value");
      mergeInto(out, v[i], depth);
    }
  } else {
    fail(v.Mark(), "map merge requires map or sequence of maps as the value");
  }
}

Json toJson(const YAML::Node& n, int depth) {
  if (depth > 1000) fail(n.Mark(), "document nests too deeply (alias cycle?)");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalarToJson(n);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : n) arr.push_back(toJson(item, depth + 1));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : n) {
        if (kv.first.IsScalar() && kv.first.Tag() == "?" && kv.first.Scalar() == "<<") {
          mergeInto(obj, kv.second, depth);
          continue;
        }
        if (!kv.first.IsScalar() && !kv.first.IsNull()) fail(kv.first.Mark(), "map keys must be scalars");
        obj[keyString(toJson(kv.first, depth + 1))] = toJson(kv.second, depth + 1);
      }
      return obj;
    }
  }
  return nullptr;
}

// kubectl decodes a stream starting with '{' as JSON rather than YAML.
std::optional<Json> tryJson(const std::string& text) {
  size_t p = text.find_first_not_of(" \t\r\n");
  if (p == std::string::npos || text[p] != '{') return std::nullopt;
  if (jsonNestingDepth(text) > kMaxJsonDepth) throw std::runtime_error("exceeded max depth");
  Json j = Json::parse(coerceUtf8(text), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// yaml-cpp's LoadAll cannot be trusted with input from outside (see yaml_limits.h):
// the event pass refuses what it would loop on or what would expand without bound.
std::vector<YAML::Node> loadAll(const std::string& text) {
  checkYamlLimits(text);
  try {
    return YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    fail(e.mark, e.msg);
  }
}

}  // namespace

std::vector<Json> parseYamlDocuments(const std::string& text) {
  if (auto j = tryJson(text)) return {*j};
  std::vector<Json> docs;
  for (const YAML::Node& doc : loadAll(text)) {
    Json j = toJson(doc, 0);
    if (!j.is_null()) docs.push_back(std::move(j));
  }
  return docs;
}

Json parseYaml(const std::string& text) {
  if (auto j = tryJson(text)) return *j;
  auto docs = loadAll(text);
  return docs.empty() ? Json() : toJson(docs.front(), 0);
}

// ---------------------------------------------------------------------------
// Printing: go-yaml v2's emitter, for the block styles JSON values produce.

namespace {

constexpr int kBestIndent = 2;
constexpr int kBestWidth = 80;

int charWidth(unsigned char b) {
  if ((b & 0x80) == 0) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 1;
}

unsigned char byteAt(const std::string& s, size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0; }

// libyaml's character classes, on UTF-8 bytes.
bool isPrintable(const std::string& s, size_t i) {
  unsigned char b = byteAt(s, i), b1 = byteAt(s, i + 1), b2 = byteAt(s, i + 2);
  return b == 0x0A || (b >= 0x20 && b <= 0x7E) || (b == 0xC2 && b1 >= 0xA0) || (b > 0xC2 && b < 0xED) ||
         (b == 0xED && b1 < 0xA0) || b == 0xEE ||
         (b == 0xEF && !(b1 == 0xBB && b2 == 0xBF) && !(b1 == 0xBF && (b2 == 0xBE || b2 == 0xBF)));
}
bool isBreak(const std::string& s, size_t i) {
  unsigned char b = byteAt(s, i), b1 = byteAt(s, i + 1), b2 = byteAt(s, i + 2);
  return b == '\r' || b == '\n' || (b == 0xC2 && b1 == 0x85) || (b == 0xE2 && b1 == 0x80 && (b2 == 0xA8 || b2 == 0xA9));
}
bool isSpace(const std::string& s, size_t i) { return byteAt(s, i) == ' '; }
bool isBlankz(const std::string& s, size_t i) {
  return i >= s.size() || byteAt(s, i) == ' ' || byteAt(s, i) == '\t' || byteAt(s, i) == 0 || isBreak(s, i);
}

struct Analysis {
  bool multiline = false, blockPlainAllowed = true, singleQuotedAllowed = true, blockAllowed = true;
};

Analysis analyze(const std::string& v) {
  Analysis a;
  if (v.empty()) {
    a.singleQuotedAllowed = true;
    a.blockAllowed = false;
    return a;
  }
  bool blockIndicators = false, specialCharacters = false, lineBreaks = false;
  bool leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false;
  bool breakSpace = false, spaceBreak = false, previousSpace = false, previousBreak = false;
  if (v.rfind("---", 0) == 0 || v.rfind("...", 0) == 0) blockIndicators = true;
  bool precededByWhitespace = true;
  bool followedByWhitespace = isBlankz(v, charWidth(byteAt(v, 0)));
  for (size_t i = 0; i < v.size();) {
    char c = v[i];
    if (i == 0) {
      if (std::strchr("#,[]{}&*!|>'\"%@`", c)) blockIndicators = true;
      if ((c == '?' || c == ':' || c == '-') && followedByWhitespace) blockIndicators = true;
    } else {
      if (c == ':' && followedByWhitespace) blockIndicators = true;
      if (c == '#' && precededByWhitespace) blockIndicators = true;
    }
    if (!isPrintable(v, i)) specialCharacters = true;
    size_t w = charWidth(byteAt(v, i));
    if (isSpace(v, i)) {
      if (i == 0) leadingSpace = true;
      if (i + w == v.size()) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(v, i)) {
      lineBreaks = true;
      if (i == 0) leadingBreak = true;
      if (i + w == v.size()) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = previousBreak = false;
    }
    precededByWhitespace = isBlankz(v, i);
    i += w;
    if (i < v.size()) followedByWhitespace = isBlankz(v, i + charWidth(byteAt(v, i)));
  }
  a.multiline = lineBreaks;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.blockPlainAllowed = false;
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) a.blockPlainAllowed = a.singleQuotedAllowed = false;
  if (spaceBreak || specialCharacters) a.blockPlainAllowed = a.singleQuotedAllowed = a.blockAllowed = false;
  if (lineBreaks) a.blockPlainAllowed = false;
  if (blockIndicators) a.blockPlainAllowed = false;
  return a;
}

bool isLetter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }

// go-yaml v2 keyList.Less for string keys: letters after other characters,
// runs of digits compared as numbers ("a9" < "a10").
bool goKeyLess(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char ac = a[i], bc = b[i];
    if (ac == bc) continue;
    bool al = isLetter(ac), bl = isLetter(bc);
    if (al && bl) return ac < bc;
    if (al || bl) return bl;
    long long an = 0, bn = 0;
    if (ac == '0' || bc == '0')
      for (size_t j = i; j-- > 0 && isDigit(a[j]);)
        if (a[j] != '0') {
          an = bn = 1;
          break;
        }
    // Go's int wraps around on a long run of digits; signed overflow is undefined in C++, so
    // the arithmetic is unsigned and converted back (modulo 2^64 since C++20), as Go orders.
    auto wrap = [](long long n, char d) { return (long long)((unsigned long long)n * 10 + (unsigned)(d - '0')); };
    size_t ai = i, bi = i;
    for (; ai < a.size() && isDigit(a[ai]); ++ai) an = wrap(an, a[ai]);
    for (; bi < b.size() && isDigit(b[bi]); ++bi) bn = wrap(bn, b[bi]);
    if (an != bn) return an < bn;
    if (ai != bi) return ai < bi;
    return ac < bc;
  }
  return a.size() < b.size();
}

// strconv.FormatFloat(f, 'g', -1, 64).
std::string goFloat(double d) {
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+06"
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exp = std::stoi(sci.substr(e + 1));
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {  // Go switches to %e at these exponents for shortest output
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + eb;
  }
  if (exp < 0) return out + "0." + std::string(-exp - 1, '0') + digits;
  if (static_cast<int>(digits.size()) <= exp + 1) return out + digits + std::string(exp + 1 - digits.size(), '0');
  return out + digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
}

enum class Style { Plain, Single, Double, Literal };

class Emitter {
 public:
  std::string out;

  void document(const Json& v) {
    node(v, Ctx::Root);
    indent_ = -1;
    writeIndent();
  }

 private:
  enum class Ctx { Root, MapValue, SeqItem };
  int indent_ = -1;
  int column_ = 0;
  bool whitespace_ = true;
  bool indention_ = true;

  void put(char c) {
    out += c;
    ++column_;
  }
  void putBreak() {
    out += '\n';
    column_ = 0;
  }
  void write(const std::string& s, size_t& i) {  // one UTF-8 character, one column
    size_t w = std::min<size_t>(charWidth(byteAt(s, i)), s.size() - i);
    out.append(s, i, w);
    i += w;
    ++column_;
  }
  void writeBreak(const std::string& s, size_t& i) {
    if (s[i] == '\n') {
      putBreak();
      ++i;
    } else {
      size_t w = charWidth(byteAt(s, i));
      out.append(s, i, w);
      i += w;
      column_ = 0;
    }
  }
  void writeIndent() {
    int indent = std::max(indent_, 0);
    if (!indention_ || column_ > indent || (column_ == indent && !whitespace_)) putBreak();
    while (column_ < indent) put(' ');
    whitespace_ = indention_ = true;
  }
  void writeIndicator(const char* ind, bool needWhitespace, bool isWhitespace, bool isIndention) {
    if (needWhitespace && !whitespace_) put(' ');
    for (const char* p = ind; *p; ++p) put(*p);
    whitespace_ = isWhitespace;
    indention_ = indention_ && isIndention;
  }

  void node(const Json& v, Ctx ctx) {
    if (v.is_object() && !v.empty()) return mapping(v);
    if (v.is_array() && !v.empty()) return sequence(v, ctx == Ctx::MapValue);
    if (v.is_object() || v.is_array()) {  // empty collections print in flow style
      writeIndicator(v.is_object() ? "{" : "[", true, true, false);
      writeIndicator(v.is_object() ? "}" : "]", false, false, false);
      return;
    }
    int saved = indent_;
    indent_ = indent_ < 0 ? kBestIndent : indent_ + kBestIndent;
    if (v.is_string()) scalarString(v.get<std::string>(), false);
    else if (v.is_null()) plain("null", true);
    else if (v.is_boolean()) plain(v.get<bool>() ? "true" : "false", true);
    else if (v.is_number_float()) plain(goFloat(v.get<double>()), true);
    else plain(v.dump(), true);
    indent_ = saved;
  }

  void mapping(const Json& v) {
    int saved = indent_;
    indent_ = indent_ < 0 ? 0 : indent_ + kBestIndent;
    std::vector<std::string> keys;
    for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
    std::sort(keys.begin(), keys.end(), goKeyLess);
    for (const auto& k : keys) {
      writeIndent();
      int keyIndent = indent_;
      indent_ += kBestIndent;
      scalarString(k, true);
      indent_ = keyIndent;
      writeIndicator(":", false, false, false);
      node(v[k], Ctx::MapValue);
    }
    indent_ = saved;
  }

  void sequence(const Json& v, bool mappingContext) {
    int saved = indent_;
    // A sequence that is a mapping value sits at the mapping's own indent.
    bool indentless = mappingContext && !indention_;
    if (indent_ < 0) indent_ = 0;
    else if (!indentless) indent_ += kBestIndent;
    for (const Json& item : v) {
      writeIndent();
      writeIndicator("-", true, false, true);
      node(item, Ctx::SeqItem);
    }
    indent_ = saved;
  }

  void scalarString(const std::string& s, bool simpleKey) {
    Resolved r = resolvePlain(s);
    bool canUsePlain = r.kind == Kind::Str && !isBase60Float(s);
    Style style = s.find('\n') != std::string::npos ? Style::Literal : canUsePlain ? Style::Plain : Style::Double;
    Analysis a = analyze(s);
    if (style == Style::Plain && (!a.blockPlainAllowed || (s.empty() && simpleKey))) style = Style::Single;
    if (style == Style::Single && !a.singleQuotedAllowed) style = Style::Double;
    if (style == Style::Literal && (!a.blockAllowed || simpleKey)) style = Style::Double;
    bool allowBreaks = !simpleKey;
    switch (style) {
      case Style::Plain: return plain(s, allowBreaks);
      case Style::Single: return singleQuoted(s, allowBreaks);
      case Style::Double: return doubleQuoted(s, allowBreaks);
      case Style::Literal: return literal(s);
    }
  }

  void plain(const std::string& s, bool allowBreaks) {
    if (!whitespace_) put(' ');
    bool spaces = false;
    for (size_t i = 0; i < s.size();) {
      if (isSpace(s, i)) {
        if (allowBreaks && !spaces && column_ > kBestWidth && !isSpace(s, i + 1)) {
          writeIndent();
          ++i;
        } else {
          write(s, i);
        }
        spaces = true;
      } else {
        write(s, i);
        indention_ = false;
        spaces = false;
      }
    }
    whitespace_ = indention_ = false;
  }

  void singleQuoted(const std::string& s, bool allowBreaks) {
    writeIndicator("'", true, false, false);
    bool spaces = false;
    for (size_t i = 0; i < s.size();) {
      if (isSpace(s, i)) {
        if (allowBreaks && !spaces && column_ > kBestWidth && i != 0 && i != s.size() - 1 && !isSpace(s, i + 1)) {
          writeIndent();
          ++i;
        } else {
          write(s, i);
        }
        spaces = true;
      } else {
        if (s[i] == '\'') put('\'');
        write(s, i);
        indention_ = false;
        spaces = false;
      }
    }
    writeIndicator("'", false, false, false);
  }

  void doubleQuoted(const std::string& s, bool allowBreaks) {
    writeIndicator("\"", true, false, false);
    bool spaces = false;
    for (size_t i = 0; i < s.size();) {
      unsigned char b = byteAt(s, i);
      bool bom = b == 0xEF && byteAt(s, i + 1) == 0xBB && byteAt(s, i + 2) == 0xBF;
      if (!isPrintable(s, i) || bom || isBreak(s, i) || b == '"' || b == '\\') {
        size_t w = std::min<size_t>(charWidth(b), s.size() - i);
        unsigned long cp = w == 1 ? b : b & (0xFF >> (w + 1));
        for (size_t k = 1; k < w; ++k) cp = (cp << 6) | (byteAt(s, i + k) & 0x3F);
        i += w;
        put('\\');
        switch (cp) {
          case 0x00: put('0'); break;
          case 0x07: put('a'); break;
          case 0x08: put('b'); break;
          case 0x09: put('t'); break;
          case 0x0A: put('n'); break;
          case 0x0B: put('v'); break;
          case 0x0C: put('f'); break;
          case 0x0D: put('r'); break;
          case 0x1B: put('e'); break;
          case 0x22: put('"'); break;
          case 0x5C: put('\\'); break;
          case 0x85: put('N'); break;
          case 0xA0: put('_'); break;
          case 0x2028: put('L'); break;
          case 0x2029: put('P'); break;
          default: {
            char hex[24];
            if (cp <= 0xFF) std::snprintf(hex, sizeof hex, "x%02lX", cp);
            else if (cp <= 0xFFFF) std::snprintf(hex, sizeof hex, "u%04lX", cp);
            else std::snprintf(hex, sizeof hex, "U%08lX", cp);
            for (char* p = hex; *p; ++p) put(*p);
          }
        }
        spaces = false;
      } else if (isSpace(s, i)) {
        if (allowBreaks && !spaces && column_ > kBestWidth && i != 0 && i != s.size() - 1) {
          writeIndent();
          if (isSpace(s, i + 1)) put('\\');
          ++i;
        } else {
          write(s, i);
        }
        spaces = true;
      } else {
        write(s, i);
        spaces = false;
      }
    }
    writeIndicator("\"", false, false, false);
  }

  void literal(const std::string& s) {
    writeIndicator("|", true, false, false);
    // Block scalar header: an indent hint when the text starts with a space or
    // break, and the chomping indicator for how the text ends.
    if (isSpace(s, 0) || isBreak(s, 0)) put('0' + kBestIndent);
    size_t last = s.size() - 1;
    while (last > 0 && (static_cast<unsigned char>(s[last]) & 0xC0) == 0x80) --last;
    if (!isBreak(s, last)) {
      put('-');
    } else if (last > 0) {
      size_t prev = last - 1;
      while (prev > 0 && (static_cast<unsigned char>(s[prev]) & 0xC0) == 0x80) --prev;
      if (isBreak(s, prev)) put('+');
    } else {
      put('+');
    }
    putBreak();
    indention_ = whitespace_ = true;
    bool breaks = true;
    for (size_t i = 0; i < s.size();) {
      if (isBreak(s, i)) {
        writeBreak(s, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) {
          writeIndent();
          breaks = false;
        }
        write(s, i);
        indention_ = false;
      }
    }
  }
};

}  // namespace

std::string toYaml(const Json& value) {
  Emitter e;
  e.document(value);
  return e.out;
}

}  // namespace k1s
