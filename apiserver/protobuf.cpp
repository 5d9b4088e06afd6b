// Decoding of Kubernetes protobuf bodies by walking the embedded OpenAPI schema:
// every property there carries its protobuf field number ("x-k1s-protobuf",
// stamped by scripts/gen-schema.py), so no per-kind code is needed here.
#include "apiserver/protobuf.h"

#include <openssl/evp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string_view>

#include "apiserver/schema.h"
#include "common/errors.h"
#include "common/json_limits.h"

namespace k1s {
namespace {

constexpr int kMaxDepth = 64;  // k8s objects nest ~15 deep; this only stops hostile input
constexpr std::string_view kMagic("k8s\0", 4);
constexpr std::string_view kRefPrefix = "#/components/schemas/";
constexpr std::string_view kMetaPrefix = "io.k8s.apimachinery.pkg.apis.meta.v1.";

ApiError malformed(const std::string& why) {
  return badRequest("the body of the request is not a valid Kubernetes protobuf message: " + why);
}

// Wire types of the protobuf encoding.
enum WireType { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

class Reader {
 public:
  explicit Reader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool done() const { return p_ == end_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) throw malformed("unexpected end of data");
      auto b = static_cast<uint8_t>(*p_++);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw malformed("integer overflow");
  }
  std::string_view bytes() {
    uint64_t len = varint();
    if (len > uint64_t(end_ - p_)) throw malformed("length beyond the end of data");
    std::string_view out(p_, len);
    p_ += len;
    return out;
  }
  uint64_t fixed(int size) {
    if (end_ - p_ < size) throw malformed("unexpected end of data");
    uint64_t v = 0;
    for (int i = 0; i < size; ++i) v |= uint64_t(static_cast<uint8_t>(p_[i])) << (8 * i);
    p_ += size;
    return v;
  }
  void skip(int wt) {
    switch (wt) {
      case kVarint: varint(); return;
      case kFixed64: fixed(8); return;
      case kBytes: bytes(); return;
      case kFixed32: fixed(4); return;
      default: throw malformed("unsupported wire type " + std::to_string(wt));
    }
  }
  // The next field's number and wire type.
  std::pair<uint64_t, int> tag() {
    uint64_t key = varint();
    uint64_t num = key >> 3;
    if (num == 0 || num > 0x1fffffff) throw malformed("illegal field number " + std::to_string(num));
    return {num, int(key & 7)};
  }

 private:
  const char* p_;
  const char* end_;
};

// Field number -> JSON property of one definition. Properties of a Go struct
// embedded inline (Probe's ProbeHandler) share one outer number and are found
// through `embedded`, but land in the same JSON object.
struct FieldMap;
struct Field {
  std::string name;
  const Json* node = nullptr;  // the property's schema as written ($ref, array, map)
  bool keepZero = false;
  std::shared_ptr<FieldMap> embedded;
};
struct FieldMap {
  std::map<uint64_t, Field> fields;
};

struct KindRef {
  const Json* doc = nullptr;
  const Json* def = nullptr;
};

struct Index {
  std::map<std::string, KindRef> kinds;      // "apps/v1/Deployment"
  std::map<const Json*, FieldMap> messages;  // definition -> its fields
};

FieldMap fieldMap(const Json& def) {
  FieldMap fm;
  auto props = def.find("properties");
  if (props == def.end()) return fm;
  for (auto& [name, node] : props->items()) {
    auto num = node.find("x-k1s-protobuf");
    if (num == node.end()) continue;
    Field f{name, &node, node.value("x-k1s-protobuf-keep-zero", false), nullptr};
    if (num->is_number_unsigned()) {
      fm.fields[num->get<uint64_t>()] = f;
    } else if (num->is_array() && num->size() == 2) {
      Field& outer = fm.fields[(*num)[0].get<uint64_t>()];
      if (!outer.embedded) outer.embedded = std::make_shared<FieldMap>();
      outer.embedded->fields[(*num)[1].get<uint64_t>()] = f;
    }
  }
  return fm;
}

const Index& index() {
  static const Index idx = [] {
    Index ix;
    for (auto& [path, _] : openapiV3Root()["paths"].items()) {
      const Json* doc = openapiV3Document(path);
      if (!doc) continue;
      for (auto& [name, def] : (*doc)["components"]["schemas"].items()) {
        ix.messages[&def] = fieldMap(def);
        auto gvks = def.find("x-kubernetes-group-version-kind");
        if (gvks == def.end()) continue;
        for (auto& g : *gvks) {
          std::string group = g.value("group", ""), version = g.value("version", "");
          if (path != (group.empty() ? "api/" + version : "apis/" + group + "/" + version)) continue;
          std::string apiVersion = group.empty() ? version : group + "/" + version;
          ix.kinds[apiVersion + "/" + g.value("kind", "")] = KindRef{doc, &def};
        }
      }
    }
    return ix;
  }();
  return idx;
}

// nlohmann refuses to write invalid UTF-8 later, so strings are checked here.
bool validUtf8(std::string_view s) {
  static const uint32_t minimum[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      extra = 0, cp = c;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < minimum[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), int(data.size()));
  out.resize(n < 0 ? 0 : size_t(n));
  return out;
}

// metav1.Time / MicroTime as kube's JSON writes them (UTC, RFC 3339, seconds or microseconds).
std::string rfc3339(int64_t seconds, int64_t nanos, bool micro) {
  seconds += nanos / 1000000000;
  nanos %= 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    seconds -= 1;
  }
  // Go refuses to write years outside 0..9999 as JSON; so do we.
  if (seconds < -62167219200LL || seconds > 253402300799LL) throw malformed("time out of range");
  time_t t = time_t(seconds);
  struct tm tm {};
  if (!gmtime_r(&t, &tm)) throw malformed("time out of range");
  char buf[80];
  if (micro)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, int(nanos / 1000));
  else
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Json decodeUnknown(std::string_view body, int depth);

class Decoder {
 public:
  Decoder(const Index& ix, const Json& doc) : ix_(ix), doc_(doc) {}

  // Decodes one message of definition `def` into `out` (an object), merging
  // with what is there, as protobuf does for a repeated occurrence.
  void message(const Json& def, std::string_view data, Json& out, int depth) const {
    auto it = ix_.messages.find(&def);
    if (it == ix_.messages.end()) throw malformed("no schema for a nested message");
    fields(it->second, data, out, depth);
  }

 private:
  const Index& ix_;
  const Json& doc_;

  const Json& deref(const Json& node) const {
    auto ref = node.find("$ref");
    if (ref == node.end() || !ref->is_string()) return node;
    auto& schemas = doc_["components"]["schemas"];
    auto it = schemas.find(refName(node));
    if (it == schemas.end()) throw malformed("dangling schema reference");
    return *it;
  }
  static std::string refName(const Json& node) {
    auto ref = node.find("$ref");
    if (ref == node.end() || !ref->is_string()) return "";
    return ref->get<std::string>().substr(kRefPrefix.size());
  }
  static void expectWire(int wt, int want, const std::string& field) {
    if (wt != want) throw malformed("wrong wire type " + std::to_string(wt) + " for field " + field);
  }

  void fields(const FieldMap& fm, std::string_view data, Json& out, int depth) const {
    if (depth > kMaxDepth) throw malformed("nested too deeply");
    if (!out.is_object()) out = Json::object();
    Reader r(data);
    while (!r.done()) {
      auto [num, wt] = r.tag();
      auto it = fm.fields.find(num);
      if (it == fm.fields.end()) {  // a field newer than our schema: skip it, as Go does
        r.skip(wt);
        continue;
      }
      const Field& f = it->second;
      if (f.embedded) {
        expectWire(wt, kBytes, "#" + std::to_string(num));
        fields(*f.embedded, r.bytes(), out, depth + 1);
      } else {
        field(f, wt, r, out, depth);
      }
    }
  }

  void field(const Field& f, int wt, Reader& r, Json& out, int depth) const {
    const Json& s = deref(*f.node);
    if (s.value("type", "") == "array" && s.contains("items")) {
      Json& arr = out[f.name];
      if (!arr.is_array()) arr = Json::array();
      const Json& items = s["items"];
      std::string itemType = deref(items).value("type", "");
      bool packable = itemType == "integer" || itemType == "boolean" || itemType == "number";
      if (wt == kBytes && packable) {  // packed repeated scalars
        Reader packed(r.bytes());
        int elemWt = itemType == "number" ? kFixed64 : kVarint;
        while (!packed.done()) arr.push_back(single(items, elemWt, packed, f.name, depth, nullptr));
      } else {
        arr.push_back(single(items, wt, r, f.name, depth, nullptr));
      }
      return;
    }
    if (s.value("type", "") == "object" && s.contains("additionalProperties") && !s.contains("properties")) {
      expectWire(wt, kBytes, f.name);
      Reader entry(r.bytes());
      std::string key;
      Json value;
      bool haveValue = false;
      while (!entry.done()) {
        auto [num, ewt] = entry.tag();
        if (num == 1) {
          expectWire(ewt, kBytes, f.name);
          auto k = entry.bytes();
          if (!validUtf8(k)) throw malformed("invalid UTF-8 in a key of " + f.name);
          key.assign(k);
        } else if (num == 2) {
          value = single(s["additionalProperties"], ewt, entry, f.name, depth + 1, nullptr);
          haveValue = true;
        } else {
          entry.skip(ewt);
        }
      }
      if (!haveValue) value = zeroValue(s["additionalProperties"]);
      Json& map = out[f.name];
      if (!map.is_object()) map = Json::object();
      map[key] = std::move(value);
      return;
    }
    if (s.contains("properties") && out.contains(f.name) && out[f.name].is_object()) {
      expectWire(wt, kBytes, f.name);
      message(s, r.bytes(), out[f.name], depth + 1);
      return;
    }
    bool zero = false;
    Json v = single(*f.node, wt, r, f.name, depth, &zero);
    // Go writes every plain scalar field, empty or not, and kube's JSON then
    // leaves the empty ones out; a pointer's (or non-omitempty field's) zero is meant.
    if (zero && !f.keepZero)
      out.erase(f.name);
    else
      out[f.name] = std::move(v);
  }

  Json zeroValue(const Json& node) const {
    const Json& s = deref(node);
    std::string type = s.value("type", "");
    if (type == "string") return "";
    if (type == "integer" || type == "number") return 0;
    if (type == "boolean") return false;
    std::string ref = refName(node);
    if (ref == "io.k8s.apimachinery.pkg.api.resource.Quantity") return "0";
    if (ref == std::string(kMetaPrefix) + "Time" || ref == std::string(kMetaPrefix) + "MicroTime") return nullptr;
    return Json::object();
  }

  // One value of a non-repeated field or one element of a repeated one.
  // `zero` (when asked) says whether it is a scalar's zero value.
  Json single(const Json& node, int wt, Reader& r, const std::string& name, int depth, bool* zero) const {
    if (zero) *zero = false;
    std::string ref = refName(node);
    if (!ref.empty()) {
      if (ref == "io.k8s.apimachinery.pkg.api.resource.Quantity") {
        expectWire(wt, kBytes, name);
        return quantity(r.bytes());
      }
      if (ref == std::string(kMetaPrefix) + "Time" || ref == std::string(kMetaPrefix) + "MicroTime") {
        expectWire(wt, kBytes, name);
        return timestamp(r.bytes(), ref == std::string(kMetaPrefix) + "MicroTime");
      }
      if (ref == "io.k8s.apimachinery.pkg.util.intstr.IntOrString") {
        expectWire(wt, kBytes, name);
        return intOrString(r.bytes());
      }
      if (ref == "io.k8s.apimachinery.pkg.runtime.RawExtension" || ref == std::string(kMetaPrefix) + "FieldsV1") {
        expectWire(wt, kBytes, name);
        return embeddedJson(r.bytes(), name, depth);
      }
    }
    const Json& s = deref(node);
    if (s.contains("properties")) {
      expectWire(wt, kBytes, name);
      Json obj = Json::object();
      message(s, r.bytes(), obj, depth + 1);
      return obj;
    }
    std::string type = s.value("type", "");
    if (type == "string") {
      expectWire(wt, kBytes, name);
      auto data = r.bytes();
      if (zero) *zero = data.empty();
      if (s.value("format", "") == "byte") return base64(data);
      if (!validUtf8(data)) throw malformed("invalid UTF-8 in field " + name);
      return std::string(data);
    }
    if (type == "integer") {
      expectWire(wt, kVarint, name);
      auto v = static_cast<int64_t>(r.varint());
      if (zero) *zero = v == 0;
      return v;
    }
    if (type == "boolean") {
      expectWire(wt, kVarint, name);
      bool v = r.varint() != 0;
      if (zero) *zero = !v;
      return v;
    }
    if (type == "number") {
      double d = 0;
      if (wt == kFixed64) {
        uint64_t bits = r.fixed(8);
        std::memcpy(&d, &bits, sizeof d);
      } else if (wt == kFixed32) {
        auto bits = static_cast<uint32_t>(r.fixed(4));
        float fl;
        std::memcpy(&fl, &bits, sizeof fl);
        d = fl;
      } else {
        expectWire(wt, kVarint, name);
        d = double(static_cast<int64_t>(r.varint()));
      }
      if (!std::isfinite(d)) throw malformed("non-finite number in field " + name);
      if (zero) *zero = d == 0;
      return d;
    }
    // A schema that says nothing about the value: nothing to decode it into.
    r.skip(wt);
    if (zero) *zero = true;
    return nullptr;
  }

  static Json quantity(std::string_view data) {
    Reader r(data);
    std::string value;
    while (!r.done()) {
      auto [num, wt] = r.tag();
      if (num == 1 && wt == kBytes) {
        auto v = r.bytes();
        if (!validUtf8(v)) throw malformed("invalid UTF-8 in a quantity");
        value.assign(v);
      } else {
        r.skip(wt);
      }
    }
    return value.empty() ? "0" : value;
  }

  // An empty Time message is Go's zero time, which kube's JSON writes as null.
  static Json timestamp(std::string_view data, bool micro) {
    if (data.empty()) return nullptr;
    Reader r(data);
    int64_t seconds = 0, nanos = 0;
    while (!r.done()) {
      auto [num, wt] = r.tag();
      if (num == 1 && wt == kVarint)
        seconds = static_cast<int64_t>(r.varint());
      else if (num == 2 && wt == kVarint)
        nanos = static_cast<int32_t>(r.varint());
      else
        r.skip(wt);
    }
    return rfc3339(seconds, nanos, micro);
  }

  static Json intOrString(std::string_view data) {
    Reader r(data);
    int64_t type = 0, intVal = 0;
    std::string strVal;
    while (!r.done()) {
      auto [num, wt] = r.tag();
      if (num == 1 && wt == kVarint) {
        type = static_cast<int64_t>(r.varint());
      } else if (num == 2 && wt == kVarint) {
        intVal = static_cast<int32_t>(r.varint());
      } else if (num == 3 && wt == kBytes) {
        auto v = r.bytes();
        if (!validUtf8(v)) throw malformed("invalid UTF-8 in an int-or-string");
        strVal.assign(v);
      } else {
        r.skip(wt);
      }
    }
    if (type == 0) return intVal;
    if (type == 1) return strVal;
    throw malformed("impossible IntOrString.Type");
  }

  // RawExtension / FieldsV1: field 1 holds JSON, or a nested protobuf object.
  static Json embeddedJson(std::string_view data, const std::string& name, int depth) {
    Reader r(data);
    std::string_view raw;
    bool have = false;
    while (!r.done()) {
      auto [num, wt] = r.tag();
      if (num == 1 && wt == kBytes) {
        raw = r.bytes();
        have = true;
      } else {
        r.skip(wt);
      }
    }
    if (!have || raw.empty()) return nullptr;
    if (raw.substr(0, kMagic.size()) == kMagic) return decodeUnknown(raw, depth + 1);
    try {
      return parseJsonBounded(std::string_view(raw.data(), raw.size()));
    } catch (std::exception&) {
      throw malformed("field " + name + " does not hold JSON");
    }
  }
};

Json decodeUnknown(std::string_view body, int depth) {
  if (depth > kMaxDepth) throw malformed("nested too deeply");
  if (body.size() < kMagic.size() || body.substr(0, kMagic.size()) != kMagic)
    throw malformed("it does not start with the \"k8s\\x00\" prefix");
  Reader r(body.substr(kMagic.size()));
  std::string apiVersion, kind, contentEncoding, contentType;
  std::string_view raw;
  auto text = [](std::string_view v, const char* what) {
    if (!validUtf8(v)) throw malformed(std::string("invalid UTF-8 in ") + what);
    return std::string(v);
  };
  while (!r.done()) {
    auto [num, wt] = r.tag();
    if (num == 1 && wt == kBytes) {
      Reader tm(r.bytes());
      while (!tm.done()) {
        auto [tnum, twt] = tm.tag();
        if (tnum == 1 && twt == kBytes)
          apiVersion = text(tm.bytes(), "apiVersion");
        else if (tnum == 2 && twt == kBytes)
          kind = text(tm.bytes(), "kind");
        else
          tm.skip(twt);
      }
    } else if (num == 2 && wt == kBytes) {
      raw = r.bytes();
    } else if (num == 3 && wt == kBytes) {
      contentEncoding = text(r.bytes(), "contentEncoding");
    } else if (num == 4 && wt == kBytes) {
      contentType = text(r.bytes(), "contentType");
    } else {
      r.skip(wt);
    }
  }
  if (kind.empty()) throw badRequest("Object 'Kind' is missing in the protobuf body");
  if (!contentEncoding.empty()) throw malformed("unsupported content encoding \"" + contentEncoding + "\"");
  Json out;
  if (contentType == "application/json") {
    try {
      out = parseJsonBounded(std::string_view(raw.data(), raw.size()));
    } catch (std::exception& e) {
      throw badRequest(std::string("couldn't get version/kind; json parse error: ") + e.what());
    }
    if (!out.is_object()) throw malformed("the embedded JSON is not an object");
  } else {
    if (!contentType.empty() && contentType != "application/vnd.kubernetes.protobuf")
      throw malformed("unsupported content type \"" + contentType + "\"");
    const Index& ix = index();
    auto it = ix.kinds.find(apiVersion + "/" + kind);
    if (it == ix.kinds.end())
      throw badRequest("no kind \"" + kind + "\" is registered for version \"" + apiVersion + "\"");
    out = Json::object();
    Decoder(ix, *it->second.doc).message(*it->second.def, raw, out, depth + 1);
  }
  Json result = Json::object();
  result["apiVersion"] = apiVersion;
  result["kind"] = kind;
  for (auto& [k, v] : out.items())
    if (k != "apiVersion" && k != "kind") result[k] = std::move(v);
  return result;
}

}  // namespace

Json protobufToJson(const std::string& body) { return decodeUnknown(body, 0); }

}  // namespace k1s
