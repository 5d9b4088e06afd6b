// RFC 7386 merge patch and RFC 6902 JSON patch, with the failure behaviour of
// kube-apiserver (which uses evanphx/json-patch v4 and hides its messages).
#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/json_limits.h"
#include "common/patch.h"

namespace k1s {

Json mergePatch(const Json& original, const Json& patch) {
  if (!patch.is_object()) return patch;
  // A non-object target is replaced by an object; nulls inside values that
  // land on absent keys are pruned by the recursion below.
  Json result = original.is_object() ? original : Json::object();
  for (auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      result.erase(key);
      continue;
    }
    auto it = result.find(key);
    result[key] = mergePatch(it == result.end() ? Json() : *it, value);
  }
  return result;
}

namespace {

// Thrown internally for any op that cannot be applied; kube maps them all to
// one 422 without the library's message.
struct OpFailed {
  std::string why;
};

// Kube answers a JSON patch that decodes but does not apply with a generic
// 422 whose message is fixed (NewGenericServerResponse).
[[noreturn]] void rejectPatch() {
  throw ApiError(422, "Invalid", "the server rejected our request due to an error in our request",
                 Json::object());
}

std::vector<std::string> splitPointer(const std::string& path) {
  if (path.empty()) return {};
  if (path[0] != '/') throw OpFailed{"JSON pointer must start with '/'"};
  std::vector<std::string> parts;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    std::string raw = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    // RFC 6901: ~1 first, then ~0, so "~01" means "~1" literally.
    std::string tok;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && raw[i + 1] == '1') {
        tok += '/';
        ++i;
      } else if (raw[i] == '~' && i + 1 < raw.size() && raw[i + 1] == '0') {
        tok += '~';
        ++i;
      } else {
        tok += raw[i];
      }
    }
    parts.push_back(tok);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

// Array index as json-patch v4 reads it: decimal, negative counts from the end.
bool parseIndex(const std::string& tok, long& out) {
  if (tok.empty()) return false;
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
  return ec == std::errc() && p == tok.data() + tok.size();
}

// The container holding the last token of `parts`.
Json& parentOf(Json& doc, const std::vector<std::string>& parts) {
  Json* cur = &doc;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const auto& tok = parts[i];
    if (cur->is_object()) {
      auto it = cur->find(tok);
      if (it == cur->end()) throw OpFailed{"doc is missing path"};
      cur = &*it;
    } else if (cur->is_array()) {
      long idx;
      if (!parseIndex(tok, idx) || idx < 0 || idx >= (long)cur->size()) throw OpFailed{"index out of range"};
      cur = &(*cur)[idx];
    } else {
      throw OpFailed{"doc is missing path"};
    }
  }
  return *cur;
}

const Json* getAt(const Json& doc, const std::vector<std::string>& parts) {
  const Json* cur = &doc;
  for (const auto& tok : parts) {
    if (cur->is_object()) {
      auto it = cur->find(tok);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      long idx;
      if (!parseIndex(tok, idx)) return nullptr;
      if (idx < 0) idx += (long)cur->size();
      if (idx < 0 || idx >= (long)cur->size()) return nullptr;
      cur = &(*cur)[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

void addAt(Json& doc, const std::vector<std::string>& parts, Json value) {
  if (parts.empty()) throw OpFailed{"cannot add at the document root"};
  Json& parent = parentOf(doc, parts);
  const auto& last = parts.back();
  if (parent.is_object()) {
    parent[last] = std::move(value);
  } else if (parent.is_array()) {
    long size = (long)parent.size();
    long idx;
    if (last == "-") {
      idx = size;
    } else {
      if (!parseIndex(last, idx)) throw OpFailed{"invalid array index"};
      if (idx < 0) idx += size;
      if (idx < 0 || idx > size) throw OpFailed{"index out of range"};
    }
    parent.insert(parent.begin() + idx, std::move(value));
  } else {
    throw OpFailed{"doc is missing path"};
  }
}

Json removeAt(Json& doc, const std::vector<std::string>& parts) {
  if (parts.empty()) throw OpFailed{"cannot remove the document root"};
  Json& parent = parentOf(doc, parts);
  const auto& last = parts.back();
  if (parent.is_object()) {
    auto it = parent.find(last);
    if (it == parent.end()) throw OpFailed{"Unable to remove nonexistent key"};
    Json old = std::move(*it);
    parent.erase(it);
    return old;
  }
  if (parent.is_array()) {
    long idx;
    if (!parseIndex(last, idx)) throw OpFailed{"invalid array index"};
    if (idx < 0) idx += (long)parent.size();
    if (idx < 0 || idx >= (long)parent.size()) throw OpFailed{"index out of range"};
    Json old = std::move(parent[idx]);
    parent.erase(parent.begin() + idx);
    return old;
  }
  throw OpFailed{"doc is missing path"};
}

void replaceAt(Json& doc, const std::vector<std::string>& parts, Json value) {
  if (parts.empty()) {
    doc = std::move(value);
    return;
  }
  Json& parent = parentOf(doc, parts);
  const auto& last = parts.back();
  if (parent.is_object()) {
    auto it = parent.find(last);
    if (it == parent.end()) throw OpFailed{"replace operation does not apply: doc is missing key"};
    *it = std::move(value);
  } else if (parent.is_array()) {
    long idx;
    if (!parseIndex(last, idx)) throw OpFailed{"invalid array index"};
    if (idx < 0) idx += (long)parent.size();
    if (idx < 0 || idx >= (long)parent.size()) throw OpFailed{"index out of range"};
    parent[idx] = std::move(value);
  } else {
    throw OpFailed{"doc is missing path"};
  }
}

std::string stringField(const Json& op, const char* name, bool required) {
  auto it = op.find(name);
  if (it == op.end() || it->is_null()) {
    if (required) throw OpFailed{std::string("operation missing ") + name + " field"};
    return "";
  }
  if (!it->is_string()) throw OpFailed{std::string(name) + " is not a string"};
  return it->get<std::string>();
}

}  // namespace

Json jsonPatch(const Json& original, const Json& ops) {
  // Decoding errors are 400 with encoding/json's wording, as DecodePatch gives.
  if (!ops.is_array()) {
    throw badRequest(std::string("json: cannot unmarshal ") + goJsonTypeWord(ops) +
                     " into Go value of type jsonpatch.Patch");
  }
  for (const auto& op : ops) {
    if (!op.is_object() && !op.is_null()) {
      throw badRequest(std::string("json: cannot unmarshal ") + goJsonTypeWord(op) +
                       " into Go value of type jsonpatch.Operation");
    }
  }
  if (ops.size() > 10000) {
    throw tooLarge("Request entity too large: The allowed maximum operations in a JSON patch is 10000, got " +
                   std::to_string(ops.size()));
  }
  Json doc = original;
  // json-patch's AccumulatedCopySizeLimit as kube-apiserver sets it (JSONPatchMaxCopyBytes,
  // 3 MiB): the JSON bytes of every copied value count, so a few ops that copy a value onto
  // itself cannot double the document until memory runs out (CVE-2019-1002100). Its error,
  // like every failed op, is kube's fixed 422.
  constexpr size_t kMaxCopyBytes = 3 * 1024 * 1024;
  size_t copied = 0;
  try {
    for (const auto& op : ops) {
      if (op.is_null()) throw OpFailed{"Unexpected kind: unknown"};
      std::string kind = stringField(op, "op", false);
      auto path = splitPointer(stringField(op, "path", true));
      if (kind == "add") {
        if (!op.contains("value")) throw OpFailed{"missing value"};
        addAt(doc, path, op["value"]);
      } else if (kind == "remove") {
        removeAt(doc, path);
      } else if (kind == "replace") {
        if (!op.contains("value")) throw OpFailed{"missing value"};
        replaceAt(doc, path, op["value"]);
      } else if (kind == "move") {
        auto from = splitPointer(stringField(op, "from", true));
        Json v = removeAt(doc, from);
        addAt(doc, path, std::move(v));
      } else if (kind == "copy") {
        auto from = splitPointer(stringField(op, "from", true));
        const Json* v = getAt(doc, from);
        if (!v) throw OpFailed{"copy from does not exist"};
        copied += jsonTextSize(*v, kMaxCopyBytes - std::min(copied, kMaxCopyBytes) + 1);
        if (copied > kMaxCopyBytes) throw OpFailed{"Unable to complete the copy, the accumulated size increase of copy exceeds the limit"};
        addAt(doc, path, Json(*v));
      } else if (kind == "test") {
        const Json* v = getAt(doc, path);
        Json want = op.contains("value") ? op["value"] : Json();
        // json-patch v4 lets a test for null pass on a missing path.
        if (!v) {
          if (!want.is_null()) throw OpFailed{"test failed"};
        } else if (*v != want) {
          throw OpFailed{"test failed"};
        }
      } else {
        throw OpFailed{"Unexpected kind: " + kind};
      }
    }
  } catch (const OpFailed&) {
    rejectPatch();
  }
  return doc;
}

}  // namespace k1s
