// The embedded OpenAPI v3 documents (apiserver/schema/openapi-v3.json, made by
// scripts/gen-schema.py) and the questions the rest of k1s asks of them.
#include "apiserver/schema.h"

#include <openssl/evp.h>

#include <cctype>
#include <climits>
#include <map>
#include <stdexcept>

// Defined by the assembler .incbin in the build (see CMakeLists.txt); plain
// assembler globals, hence C linkage. A NUL byte follows k1s_schema_end.
extern "C" const char k1s_schema_data[];
extern "C" const char k1s_schema_end[];

namespace k1s {
namespace {

constexpr const char* kRefPrefix = "#/components/schemas/";

struct KindSchema {
  const Json* doc = nullptr;   // the group-version document
  const Json* root = nullptr;  // the kind's definition in components.schemas
};

struct SchemaStore {
  Json docs;                                 // "api/v1" -> OpenAPI document
  Json root;                                 // the /openapi/v3 listing
  std::map<std::string, std::string> hashes;  // "api/v1" -> uppercase hex sha512
  std::map<std::string, KindSchema> kinds;   // "apps/v1/Deployment" -> schema
};

std::string sha512Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha512(), nullptr) != 1)
    throw std::runtime_error("schema: sha512 failed");
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xF];
  }
  return out;
}

std::string kindKey(const std::string& apiVersion, const std::string& kind) { return apiVersion + "/" + kind; }

const SchemaStore& store() {
  static const SchemaStore s = [] {
    SchemaStore st;
    Json all = Json::parse(k1s_schema_data, k1s_schema_end);
    st.docs = std::move(all.at("documents"));
    st.root = Json{{"paths", Json::object()}};
    for (auto& [path, doc] : st.docs.items()) {
      st.hashes[path] = sha512Hex(doc.dump());
      st.root["paths"][path] = {{"serverRelativeURL", "/openapi/v3/" + path + "?hash=" + st.hashes[path]}};
    }
    // Index every kind by its GVK extension, in the document of its own group-version.
    for (auto& [path, doc] : st.docs.items()) {
      for (auto& [name, def] : doc["components"]["schemas"].items()) {
        auto ext = def.find("x-kubernetes-group-version-kind");
        if (ext == def.end()) continue;
        for (auto& g : *ext) {
          std::string group = g.value("group", ""), version = g.value("version", "");
          std::string gvPath = group.empty() ? "api/" + version : "apis/" + group + "/" + version;
          if (gvPath != path) continue;
          std::string apiVersion = group.empty() ? version : group + "/" + version;
          st.kinds[kindKey(apiVersion, g.value("kind", ""))] = KindSchema{&doc, &def};
        }
      }
    }
    return st;
  }();
  return s;
}

const KindSchema* kindSchema(const ResourceInfo& r) {
  auto& kinds = store().kinds;
  auto it = kinds.find(kindKey(r.apiVersion(), r.kind));
  return it == kinds.end() ? nullptr : &it->second;
}

// The definition a node points at, or the node itself.
const Json& deref(const Json& doc, const Json& node) {
  auto ref = node.find("$ref");
  if (ref == node.end() || !ref->is_string()) return node;
  std::string name = ref->get<std::string>().substr(std::string(kRefPrefix).size());
  auto& schemas = doc["components"]["schemas"];
  auto it = schemas.find(name);
  return it == schemas.end() ? node : *it;
}

bool isArraySchema(const Json& s) { return s.value("type", "") == "array" && s.contains("items"); }

// A schema that says nothing about its members (RawExtension, FieldsV1, Patch,
// IntOrString, Quantity, preserve-unknown-fields) accepts any content.
bool acceptsAnything(const Json& s) {
  if (s.value("x-kubernetes-preserve-unknown-fields", false)) return true;
  return !s.contains("properties") && !s.contains("additionalProperties") && !s.contains("items");
}

void collectUnknown(const Json& doc, const Json& schemaNode, const Json& value, const std::string& path,
                    std::vector<std::string>& out) {
  const Json& s = deref(doc, schemaNode);
  if (acceptsAnything(s)) return;
  if (value.is_object()) {
    auto props = s.find("properties");
    auto extra = s.find("additionalProperties");
    for (auto& [key, child] : value.items()) {
      std::string childPath = path + "." + key;
      if (props != s.end() && props->contains(key)) {
        collectUnknown(doc, (*props)[key], child, childPath, out);
      } else if (extra != s.end() && extra->is_object()) {
        collectUnknown(doc, *extra, child, childPath, out);
      } else if (extra != s.end() && extra->is_boolean() && extra->get<bool>()) {
        continue;
      } else if (props != s.end()) {
        out.push_back(childPath);
      }
    }
  } else if (value.is_array() && isArraySchema(s)) {
    for (size_t i = 0; i < value.size(); ++i)
      collectUnknown(doc, s["items"], value[i], path + "[" + std::to_string(i) + "]", out);
  }
  // Anything else is a type mismatch, not an unknown field: decoding reports it.
}

// ---- decoding: the JSON types each field takes ----

// Integer fields that are int64 in kube's Go types (the rest are int32); only the
// decoder's message names the width.
bool isInt64Field(const std::string& field) {
  static const char* const names[] = {"terminationGracePeriodSeconds", "activeDeadlineSeconds", "runAsUser",
                                      "runAsGroup", "fsGroup", "deletionGracePeriodSeconds", "generation",
                                      "observedGeneration", "expirationSeconds", "remainingItemCount",
                                      "supplementalGroups", "tolerationSeconds", "gracePeriodSeconds", "seconds"};
  for (auto* n : names)
    if (field == n) return true;
  return false;
}

// Go's name for the type a schema node decodes into: "string", "int32", "[]v1.Container",
// "map[string]string", "v1.PodSpec".
std::string goTypeName(const Json& doc, const Json& node, const std::string& field) {
  auto ref = node.find("$ref");
  if (ref != node.end() && ref->is_string()) {
    const std::string& name = ref->get_ref<const std::string&>();
    auto last = name.rfind('.');
    auto prev = last == std::string::npos || last == 0 ? std::string::npos : name.rfind('.', last - 1);
    return prev == std::string::npos ? name : name.substr(prev + 1);
  }
  std::string t = node.value("type", "");
  if (t == "string") return node.value("format", "") == "byte" ? "[]uint8" : "string";
  if (t == "boolean") return "bool";
  if (t == "number") return "float64";
  if (t == "integer") return isInt64Field(field) ? "int64" : "int32";
  if (t == "array" && node.contains("items")) return "[]" + goTypeName(doc, node["items"], field);
  if (t == "object") {
    auto ap = node.find("additionalProperties");
    if (ap != node.end() && ap->is_object()) return "map[string]" + goTypeName(doc, *ap, field);
    return "map[string]interface {}";
  }
  return "interface {}";
}

// Where Go's base64.StdEncoding (padded; CR and LF skipped) stops decoding s, or -1
// when s decodes: the N of "illegal base64 data at input byte N".
long base64ErrorAt(const std::string& s) {
  auto alphabet = [](unsigned char c) { return isalnum(c) || c == '+' || c == '/'; };
  auto skipNewlines = [&](size_t& si) {
    while (si < s.size() && (s[si] == '\n' || s[si] == '\r')) ++si;
  };
  size_t si = 0;
  for (;;) {
    for (int j = 0; j < 4; ++j) {
      if (si == s.size()) return j == 0 ? -1 : long(si) - j;
      unsigned char in = s[si++];
      if (alphabet(in)) continue;
      if (in == '\n' || in == '\r') {
        --j;
        continue;
      }
      if (in != '=') return long(si) - 1;
      // Padding: only after two or three symbols, and then the end.
      if (j < 2) return long(si) - 1;
      if (j == 2) {
        skipNewlines(si);
        if (si == s.size()) return long(s.size());
        if (s[si] != '=') return long(si) - 1;
        ++si;
      }
      skipNewlines(si);
      return si < s.size() ? long(si) : -1;
    }
  }
}

// Mismatches found by a walk: the first one's message, or (all) every one with its exact
// place ("data.PORT", "spec.containers[1].env[0].value"), since Go's message names no key.
struct TypeErrors {
  bool all = false;
  std::string first;
  std::vector<std::pair<std::string, std::string>> found;  // place, message (all only)
  void add(const std::string& at, const std::string& message) {
    if (first.empty()) first = message;
    if (all) found.emplace_back(at, message);
  }
  bool done() const { return !all && !first.empty(); }
};

// Walks value against its schema node. `owner` is the Go struct holding the field and `path`
// the field's dotted path from the object's root, as encoding/json prints them ("EnvVar" and
// "spec.template.spec.containers.env.value"); `at` is the exact place.
void collectTypeError(const Json& doc, const Json& node, const Json& value, const std::string& owner,
                      const std::string& path, const std::string& field, const std::string& at, TypeErrors& err) {
  if (err.done() || value.is_null()) return;
  const Json& s = deref(doc, node);
  auto type = s.find("type");
  if (type == s.end() || !type->is_string()) return;  // Quantity, IntOrString: one of several types
  const std::string& t = type->get_ref<const std::string&>();
  auto mismatch = [&](const std::string& what) {
    err.add(at, "json: cannot unmarshal " + what + " into Go struct field " + owner + "." + path + " of type " +
          goTypeName(doc, node, field));
  };
  if (t == "string") {
    if (!value.is_string()) return mismatch(goJsonTypeWord(value));
    if (s.value("format", "") == "byte") {
      long bad = base64ErrorAt(value.get_ref<const std::string&>());
      if (bad >= 0) err.add(at, "illegal base64 data at input byte " + std::to_string(bad));
    }
  } else if (t == "integer") {
    if (value.is_number_float()) return mismatch("number " + value.dump());
    if (!value.is_number()) return mismatch(goJsonTypeWord(value));
    if (!isInt64Field(field)) {
      bool fits = value.is_number_unsigned() ? value.get<uint64_t>() <= uint64_t(INT32_MAX)
                                             : value.get<int64_t>() >= INT32_MIN && value.get<int64_t>() <= INT32_MAX;
      if (!fits) return mismatch("number " + value.dump());
    }
  } else if (t == "number") {
    if (!value.is_number()) return mismatch(goJsonTypeWord(value));
  } else if (t == "boolean") {
    if (!value.is_boolean()) return mismatch(goJsonTypeWord(value));
  } else if (t == "array") {
    if (!value.is_array()) return mismatch(goJsonTypeWord(value));
    if (!s.contains("items")) return;
    for (size_t i = 0; i < value.size(); ++i)
      collectTypeError(doc, s["items"], value[i], owner, path, field, at + "[" + std::to_string(i) + "]", err);
  } else if (t == "object") {
    if (!value.is_object()) return mismatch(goJsonTypeWord(value));
    auto props = s.find("properties");
    auto extra = s.find("additionalProperties");
    if (props != s.end()) {
      // A struct: its fields name it as their owner.
      std::string structName = owner;
      auto ref = node.find("$ref");
      if (ref != node.end() && ref->is_string()) {
        const std::string& name = ref->get_ref<const std::string&>();
        structName = name.substr(name.rfind('.') + 1);
      }
      for (auto& [key, child] : value.items()) {
        auto p = props->find(key);
        if (p != props->end())
          collectTypeError(doc, *p, child, structName, path.empty() ? key : path + "." + key, key, at + "." + key, err);
      }
    } else if (extra != s.end() && extra->is_object()) {
      for (auto& [key, child] : value.items())
        collectTypeError(doc, *extra, child, owner, path, field, at + "." + key, err);
    }
  }
}

// One step down a field path: through array items, then into the named
// property (or a map's value schema). Returns the property node as written
// (so its list/patch extensions are still there), or nullptr.
const Json* childNode(const Json& doc, const Json& node, const std::string& field) {
  const Json* s = &deref(doc, node);
  while (isArraySchema(*s)) s = &deref(doc, (*s)["items"]);
  auto props = s->find("properties");
  if (props != s->end()) {
    auto it = props->find(field);
    if (it != props->end()) return &*it;
  }
  auto extra = s->find("additionalProperties");
  if (extra != s->end() && extra->is_object()) return &*extra;
  return nullptr;
}

// A node with its $ref replaced by the definition it names; the property's own
// keys (list/patch extensions) are kept, and "x-k1s-ref" names the definition.
Json resolved(const Json& doc, const Json& node) {
  const Json& target = deref(doc, node);
  Json out = target;
  if (&target != &node) {
    std::string ref = node["$ref"].get<std::string>();
    out["x-k1s-ref"] = ref.substr(std::string(kRefPrefix).size());
    for (auto& [k, v] : node.items())
      if (k != "$ref") out[k] = v;
  }
  if (isArraySchema(out)) out["items"] = resolved(doc, out["items"]);
  return out;
}

std::vector<std::string> splitDots(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '.') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

const Json& openapiV3Root() { return store().root; }

const Json* openapiV3Document(const std::string& path) {
  std::string p = (!path.empty() && path[0] == '/') ? path.substr(1) : path;
  auto& docs = store().docs;
  auto it = docs.find(p);
  return it == docs.end() ? nullptr : &*it;
}

std::string openapiV3Hash(const std::string& path) {
  std::string p = (!path.empty() && path[0] == '/') ? path.substr(1) : path;
  auto& hashes = store().hashes;
  auto it = hashes.find(p);
  return it == hashes.end() ? std::string() : it->second;
}

std::vector<std::string> unknownFields(const ResourceInfo& r, const Json& obj) {
  std::vector<std::string> out;
  const KindSchema* ks = kindSchema(r);
  if (!ks || !obj.is_object()) return out;
  const Json& props = (*ks->root)["properties"];
  for (auto& [key, child] : obj.items()) {
    std::string path = "." + key;
    if (key == "metadata") {
      static const Json meta = {{"$ref", std::string(kRefPrefix) + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}};
      collectUnknown(*ks->doc, meta, child, path, out);
    } else if (key == "apiVersion" || key == "kind") {
      continue;
    } else if (props.contains(key)) {
      collectUnknown(*ks->doc, props[key], child, path, out);
    } else {
      out.push_back(path);
    }
  }
  return out;
}

namespace {

// What Go's decoder leaves where the JSON says null: a struct field keeps its zero value
// (absent here), a map or list entry gets the zero value of its element type ("" for a
// string: `data: {EMPTY: }` is the key EMPTY with ""), and a struct element is empty.
void decodeNullsAt(const Json& doc, const Json& node, Json& value) {
  const Json& s = deref(doc, node);
  auto zeroOf = [&](const Json& elemNode) -> Json {
    const Json& e = deref(doc, elemNode);
    std::string t = e.value("type", "");
    if (t == "string") return "";
    if (t == "integer" || t == "number") return 0;
    if (t == "boolean") return false;
    if (e.contains("properties")) return Json::object();
    return nullptr;  // a list or map value: nil in Go, left out here
  };
  if (value.is_object()) {
    auto props = s.find("properties");
    auto extra = s.find("additionalProperties");
    bool isMap = (props == s.end() || !props->is_object()) && extra != s.end() && extra->is_object();
    for (auto it = value.begin(); it != value.end();) {
      if (it->is_null()) {
        Json zero = isMap ? zeroOf(*extra) : Json();
        if (zero.is_null()) {
          it = value.erase(it);
          continue;
        }
        *it = std::move(zero);
      } else if (isMap) {
        decodeNullsAt(doc, *extra, *it);
      } else if (props != s.end() && props->is_object() && props->contains(it.key())) {
        decodeNullsAt(doc, (*props)[it.key()], *it);
      } else {
        dropNullsAnywhere(*it);
      }
      ++it;
    }
  } else if (value.is_array()) {
    const Json* items = s.contains("items") ? &s["items"] : nullptr;
    Json zero = items ? zeroOf(*items) : Json();
    Json kept = Json::array();
    for (auto& e : value) {
      if (e.is_null()) {
        if (!zero.is_null()) kept.push_back(zero);
        continue;
      }
      if (items) decodeNullsAt(doc, *items, e);
      else dropNullsAnywhere(e);
      kept.push_back(std::move(e));
    }
    value = std::move(kept);
  }
}

}  // namespace

void dropNullsAnywhere(Json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      if (it->is_null()) {
        it = v.erase(it);
      } else {
        dropNullsAnywhere(*it);
        ++it;
      }
    }
  } else if (v.is_array()) {
    Json kept = Json::array();
    for (auto& e : v)
      if (!e.is_null()) {
        dropNullsAnywhere(e);
        kept.push_back(std::move(e));
      }
    v = std::move(kept);
  }
}

void decodeNulls(const ResourceInfo& r, Json& obj) {
  const KindSchema* ks = kindSchema(r);
  if (!ks || !obj.is_object()) return dropNullsAnywhere(obj);
  static const Json meta = {{"$ref", std::string(kRefPrefix) + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}};
  const Json& props = (*ks->root)["properties"];
  for (auto it = obj.begin(); it != obj.end();) {
    if (it->is_null()) {
      it = obj.erase(it);
      continue;
    }
    if (it.key() == "metadata") decodeNullsAt(*ks->doc, meta, *it);
    else if (props.contains(it.key())) decodeNullsAt(*ks->doc, props[it.key()], *it);
    else dropNullsAnywhere(*it);
    ++it;
  }
}

namespace {

void walkTypes(const ResourceInfo& r, const Json& obj, TypeErrors& err) {
  const KindSchema* ks = kindSchema(r);
  if (!ks || !obj.is_object()) return;
  const Json& props = (*ks->root)["properties"];
  static const Json meta = {{"$ref", std::string(kRefPrefix) + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}};
  for (auto& [key, child] : obj.items()) {
    if (key == "metadata") collectTypeError(*ks->doc, meta, child, r.kind, key, key, key, err);
    else if (props.contains(key)) collectTypeError(*ks->doc, props[key], child, r.kind, key, key, key, err);
    if (err.done()) break;
  }
}

}  // namespace

std::string typeError(const ResourceInfo& r, const Json& obj) {
  TypeErrors err;
  walkTypes(r, obj, err);
  return err.first;
}

std::string newTypeError(const ResourceInfo& r, const Json& before, const Json& after) {
  if (typeError(r, after).empty()) return "";
  TypeErrors was, now;
  was.all = now.all = true;
  walkTypes(r, before, was);
  walkTypes(r, after, now);
  for (auto& [at, message] : now.found) {
    bool old = false;
    for (auto& w : was.found) old = old || w.first == at;
    if (!old) return message;
  }
  return "";
}

ListStrategyLookup listStrategies(const ResourceInfo& r) {
  const KindSchema* ks = kindSchema(r);
  return [ks](const std::vector<std::string>& path) -> std::optional<ListStrategy> {
    if (!ks || path.empty()) return std::nullopt;
    const Json* node = ks->root;
    for (auto& field : path) {
      node = childNode(*ks->doc, *node, field);
      if (!node) return std::nullopt;
    }
    auto strategy = node->find("x-kubernetes-patch-strategy");
    if (strategy == node->end() || !strategy->is_string()) return std::nullopt;
    ListStrategy ls;
    ls.strategy = strategy->get<std::string>();
    ls.mergeKey = node->value("x-kubernetes-patch-merge-key", "");
    ls.retainKeys = ls.strategy.find("retainKeys") != std::string::npos;
    return ls;
  };
}

std::optional<Json> schemaAt(const ResourceInfo& r, const std::string& fieldPath) {
  const KindSchema* ks = kindSchema(r);
  if (!ks) return std::nullopt;
  const Json* node = ks->root;
  for (auto& field : splitDots(fieldPath)) {
    node = childNode(*ks->doc, *node, field);
    if (!node) return std::nullopt;
  }
  return resolved(*ks->doc, *node);
}

}  // namespace k1s
