// `k1s explain TYPE[.field...] [--recursive]`: a kind's or field's schema from
// the server's /openapi/v3 documents, laid out as kubectl's plaintext
// explain template prints it.
#include <algorithm>
#include <set>
#include <sstream>

#include "cli/kubectl_verbs.h"

namespace k1s::cli {

namespace {

const std::string kRefPrefix = "#/components/schemas/";

struct SchemaDoc {
  Json doc;
  const Json& schemas() const { return doc["components"]["schemas"]; }
  // Follows $ref (also a lone allOf/$ref wrapper) to the definition.
  const Json& resolve(const Json& s) const {
    const Json* cur = &s;
    for (int i = 0; i < 8; ++i) {
      if (cur->contains("$ref")) {
        std::string ref = (*cur)["$ref"].get<std::string>();
        if (ref.rfind(kRefPrefix, 0) != 0 || !schemas().contains(ref.substr(kRefPrefix.size()))) return *cur;
        cur = &schemas()[ref.substr(kRefPrefix.size())];
      } else if (cur->contains("allOf") && (*cur)["allOf"].size() == 1) {
        cur = &(*cur)["allOf"][0];
      } else {
        break;
      }
    }
    return *cur;
  }
};

std::string refName(const Json& s) {
  const Json* cur = &s;
  if (cur->contains("allOf") && (*cur)["allOf"].size() == 1) cur = &(*cur)["allOf"][0];
  if (!cur->contains("$ref")) return "";
  std::string ref = (*cur)["$ref"].get<std::string>();
  return ref.substr(ref.rfind('.') + 1);
}

// kubectl's "typeGuess": <string>, <[]Container>, <map[string]string>, <Object>...
std::string typeName(const SchemaDoc& d, const Json& s) {
  if (std::string r = refName(s); !r.empty()) return r;
  if (s.value("x-kubernetes-int-or-string", false)) return "IntOrString";
  std::string t = s.value("type", "");
  if (t == "array") return "[]" + (s.contains("items") ? typeName(d, s["items"]) : std::string("Object"));
  if (t == "object") {
    if (s.contains("additionalProperties") && s["additionalProperties"].is_object())
      return "map[string]" + typeName(d, s["additionalProperties"]);
    return "Object";
  }
  return t.empty() ? "Object" : t;
}

// Word-wraps to `width` columns, each line indented by `indent` spaces.
std::string wrap(const std::string& text, size_t width, size_t indent) {
  std::string out, pad(indent, ' ');
  std::istringstream paragraphs(text);
  std::string para;
  while (std::getline(paragraphs, para)) {
    std::istringstream words(para);
    std::string word, line;
    bool any = false;
    while (words >> word) {
      any = true;
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        out += pad + line + "\n";
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    out += pad + line + "\n";
    (void)any;
  }
  return out;
}

bool isRequired(const Json& parent, const std::string& field) {
  for (auto& r : parent.value("required", Json::array()))
    if (r == field) return true;
  return false;
}

// The object schema whose fields a type shows (arrays and maps show their element's).
const Json& fieldsHolder(const SchemaDoc& d, const Json& s) {
  const Json& r = d.resolve(s);
  if (r.value("type", "") == "array" && r.contains("items")) return fieldsHolder(d, r["items"]);
  if (r.contains("additionalProperties") && r["additionalProperties"].is_object() && !r.contains("properties"))
    return fieldsHolder(d, r["additionalProperties"]);
  return r;
}

void fieldLines(const SchemaDoc& d, const Json& holder, size_t indent, bool recursive, std::set<std::string>& path,
                std::string& out) {
  const Json props = holder.value("properties", Json::object());
  for (auto& [name, raw] : props.items()) {
    const Json& s = d.resolve(raw);
    std::string line = std::string(indent, ' ') + name + "\t<" + typeName(d, raw) + ">";
    if (isRequired(holder, name)) line += " -required-";
    out += line + "\n";
    if (recursive) {
      const Json& inner = fieldsHolder(d, raw);
      std::string key = refName(raw.contains("items") ? raw["items"] : raw);
      if (inner.contains("properties") && (key.empty() || !path.count(key))) {
        if (!key.empty()) path.insert(key);
        fieldLines(d, inner, indent + 2, true, path, out);
        if (!key.empty()) path.erase(key);
      }
      continue;
    }
    if (s.contains("enum")) {
      std::string values;
      for (auto& v : s["enum"]) values += (values.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
      out += std::string(indent, ' ') + "enum: " + values + "\n";
    }
    std::string desc = raw.value("description", s.value("description", ""));
    out += desc.empty() ? std::string(indent + 2, ' ') + "<no description>\n" : wrap(desc, 80 - indent - 2, indent + 2);
    out += "\n";
  }
}

}  // namespace

int cmdExplain(Kubectl& k) {
  auto& pos = k.args.positional;
  if (pos.empty())
    throw CliError("error: You must specify the type of resource to explain. Use \"k1s api-resources\" for a complete "
                   "list of supported resources.");
  if (pos.size() > 1) throw CliError("error: We accept only this format: explain RESOURCE");
  std::string arg = pos[0];
  std::vector<std::string> fields;
  std::string typeText = arg;
  // "deployments.apps.spec" is ambiguous with a group; kubectl resolves the
  // longest prefix that names a type.
  std::vector<std::string> parts;
  {
    std::stringstream ss(arg);
    std::string p;
    while (std::getline(ss, p, '.')) parts.push_back(p);
  }
  const ApiResource* r = nullptr;
  for (size_t n = parts.size(); n >= 1 && !r; --n) {
    std::string t;
    for (size_t i = 0; i < n; ++i) t += (i ? "." : "") + parts[i];
    r = k.discovery().resolve(t);
    if (r) fields.assign(parts.begin() + static_cast<long>(n), parts.end());
  }
  if (!r) throw CliError("the server doesn't have a resource type \"" + parts[0] + "\"");

  Json root = k.client().get("/openapi/v3");
  std::string gvPath = r->group.empty() ? "api/" + r->version : "apis/" + r->group + "/" + r->version;
  std::string url = root.value("paths", Json::object()).value(gvPath, Json::object()).value("serverRelativeURL", "");
  if (url.empty()) throw CliError("error: couldn't find resource for \"" + r->apiVersion() + ", Kind=" + r->kind + "\"");
  SchemaDoc d{k.client().get(url)};
  const Json* kindSchema = nullptr;
  for (auto& [name, def] : d.schemas().items())
    for (auto& g : def.value("x-kubernetes-group-version-kind", Json::array()))
      if (g.value("group", "") == r->group && g.value("version", "") == r->version && g.value("kind", "") == r->kind)
        kindSchema = &def;
  if (!kindSchema) throw CliError("error: couldn't find resource for \"" + r->apiVersion() + ", Kind=" + r->kind + "\"");

  std::string out = (r->group.empty() ? "" : "GROUP:      " + r->group + "\n") + "KIND:       " + r->kind + "\n" +
                    "VERSION:    " + r->version + "\n\n";
  const Json* cur = kindSchema;  // the raw schema of the field shown
  std::string fieldName;
  for (auto& f : fields) {
    const Json& h = fieldsHolder(d, *cur);
    if (!h.contains("properties") || !h["properties"].contains(f)) {
      k.out << out << std::flush;  // kubectl prints the kind before finding the field is missing
      throw CliError("error: field \"" + f + "\" does not exist");
    }
    cur = &h["properties"][f];
    fieldName = f;
  }
  if (!fieldName.empty()) out += "FIELD: " + fieldName + " <" + typeName(d, *cur) + ">\n\n\n";
  const Json& resolved = d.resolve(*cur);
  if (resolved.contains("enum")) {
    std::string values;
    for (auto& v : resolved["enum"]) values += (values.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
    out += "ENUM:\n    " + values + "\n\n";
  }
  std::string desc = cur->value("description", resolved.value("description", ""));
  out += "DESCRIPTION:\n" + (desc.empty() ? std::string("    <empty>\n") : wrap(desc, 76, 4) + "    \n");
  const Json& h = fieldsHolder(d, *cur);
  if (h.contains("properties") && !h["properties"].empty()) {
    out += "FIELDS:\n";
    std::set<std::string> seen;
    fieldLines(d, h, 2, k.args.flag("recursive"), seen, out);
  }
  k.out << out << "\n";
  return 0;
}

}  // namespace k1s::cli
