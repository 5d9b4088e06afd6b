// `k1s get`: the server's Table replies printed as kubectl prints them,
// -o yaml|json|name, and -w watch streams.
#include <algorithm>
#include <fstream>
#include <map>
#include <optional>

#include "cli/jsonpath.h"
#include "cli/kubectl_print.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"
#include "common/yaml.h"

namespace k1s::cli {

static const char* kTableAccept =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json";

// A reply that is not a Table (an object or a List) gets a NAME-only table,
// enough to show what exists.
static Json asTable(const Json& reply) {
  if (reply.value("kind", "") == "Table") return reply;
  Json t = {{"kind", "Table"},
            {"columnDefinitions", Json::array({{{"name", "Name"}, {"type", "string"}, {"priority", 0}}})},
            {"rows", Json::array()}};
  auto addRow = [&](const Json& o) {
    t["rows"].push_back({{"cells", {o.value("metadata", Json::object()).value("name", "")}}, {"object", o}});
  };
  if (reply.contains("items"))
    for (auto& o : reply["items"]) addRow(o);
  else
    addRow(reply);
  return t;
}

static std::vector<std::string> splitCommaList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// sortorder.NaturalLess, which kubectl's --sort-by uses for strings: runs of digits compare as numbers.
static bool naturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = isdigit(static_cast<unsigned char>(a[i])), db = isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t si = i, sj = j;
      while (i < a.size() && isdigit(static_cast<unsigned char>(a[i]))) ++i;
      while (j < b.size() && isdigit(static_cast<unsigned char>(b[j]))) ++j;
      std::string na = a.substr(si, i - si), nb = b.substr(sj, j - sj);
      std::string ta = na.substr(std::min(na.find_first_not_of('0'), na.size()));
      std::string tb = nb.substr(std::min(nb.find_first_not_of('0'), nb.size()));
      if (ta.size() != tb.size()) return ta.size() < tb.size();
      if (ta != tb) return ta < tb;
      if (na.size() != nb.size()) return na.size() < nb.size();
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i, ++j;
  }
  return a.size() - i < b.size() - j;
}

// --sort-by=FIELD: a stable order of `v` by the JSONPath value in each element's object
// (numbers by value, strings naturally, a missing value first).
template <typename T, typename ObjectOf>
static void sortByField(std::vector<T>& v, const std::string& field, ObjectOf objectOf) {
  if (field.empty()) return;
  std::optional<JsonPath> path;
  try {
    path.emplace(relaxedJsonPath(field));
  } catch (const JsonPathError& e) {
    throw CliError("error: error parsing jsonpath " + relaxedJsonPath(field) + ", " + e.what());
  }
  path->allowMissingKeys(true);
  auto key = [&](const T& x) -> Json {
    try {
      auto res = path->findResults(objectOf(x));
      for (auto& r : res)
        if (!r.empty()) return r[0];
    } catch (const JsonPathError&) {
    }
    return nullptr;
  };
  std::vector<std::pair<Json, T>> keyed;
  for (auto& x : v) keyed.emplace_back(key(x), x);
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    const Json &x = a.first, &y = b.first;
    if (x.is_null() || y.is_null()) return x.is_null() && !y.is_null();
    if (x.is_number() && y.is_number()) return x.template get<double>() < y.template get<double>();
    if (x.is_string() && y.is_string()) return naturalLess(x.template get<std::string>(), y.template get<std::string>());
    return naturalLess(x.dump(), y.dump());
  });
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::move(keyed[i].second);
}

struct TypeGroup {
  const ApiResource* type;
  std::vector<ResourceRef> refs;
};

static std::vector<TypeGroup> groupByType(const std::vector<ResourceRef>& refs) {
  std::vector<TypeGroup> groups;
  for (auto& r : refs) {
    TypeGroup* g = nullptr;
    for (auto& x : groups)
      if (x.type == r.type) g = &x;
    if (!g) g = &groups.emplace_back(TypeGroup{r.type, {}});
    g->refs.push_back(r);
  }
  return groups;
}

struct GetContext {
  Kubectl& k;
  std::string labelSelector, fieldSelector;
  std::vector<std::string> errors;
};

// Lists a collection, following continue tokens; `accept` picks Table or JSON.
// Returns items (JSON) or the merged Table.
static Json listAll(GetContext& c, const ApiResource& r, const std::string& ns, const std::string& accept) {
  Json merged;
  std::string cont;
  do {
    std::vector<std::pair<std::string, std::string>> q;
    if (!c.labelSelector.empty()) q.emplace_back("labelSelector", c.labelSelector);
    if (!c.fieldSelector.empty()) q.emplace_back("fieldSelector", c.fieldSelector);
    if (!c.k.args.get("sort-by").empty() && accept == kTableAccept) q.emplace_back("includeObject", "Object");
    q.emplace_back("limit", "500");
    if (!cont.empty()) q.emplace_back("continue", cont);
    Json page = c.k.client().get(r.collectionPath(ns) + queryString(q), accept);
    cont = page.value("metadata", Json::object()).value("continue", "");
    if (merged.is_null()) {
      merged = page;
    } else {
      const char* key = page.contains("rows") ? "rows" : "items";
      for (auto& x : page.value(key, Json::array())) merged[key].push_back(x);
      merged["metadata"] = page["metadata"];
    }
  } while (!cont.empty());
  return merged;
}

// "30", "30s", "2m", "1h" -> seconds (0 when unset or unparsable).
static long long parseDurationSeconds(const std::string& v) {
  if (v.empty()) return 0;
  char* end = nullptr;
  long long n = strtoll(v.c_str(), &end, 10);
  std::string unit = end ? end : "";
  if (unit == "" || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  return 0;
}

static void watchType(GetContext& c, const ApiResource& r, const std::string& ns, const std::string& name,
                      const std::string& resourceVersion, Json columns, TabWriter& tw, bool headerPrinted,
                      const TableOptions& opts) {
  std::vector<std::pair<std::string, std::string>> q;
  if (!c.labelSelector.empty()) q.emplace_back("labelSelector", c.labelSelector);
  std::string fs = c.fieldSelector;
  if (!name.empty()) fs = "metadata.name=" + name;
  if (!fs.empty()) q.emplace_back("fieldSelector", fs);
  if (!resourceVersion.empty()) q.emplace_back("resourceVersion", resourceVersion);
  // --request-timeout bounds the watch; the server ends it and we exit as kubectl does.
  if (long long t = parseDurationSeconds(c.k.args.get("request-timeout", "0")); t > 0)
    q.emplace_back("timeoutSeconds", std::to_string(t));
  q.emplace_back("watch", "true");
  c.k.client().watch(r.collectionPath(ns) + queryString(q), kTableAccept, [&](const std::string& type, const Json& obj) {
    if (type == "ERROR") throw StatusError(obj.value("code", 500), obj);
    if (type == "BOOKMARK") return true;
    Json table = asTable(obj);
    if (!table.value("columnDefinitions", Json::array()).empty()) columns = table["columnDefinitions"];
    table["columnDefinitions"] = columns;
    if (!headerPrinted && !c.k.args.flag("no-headers")) tw.add(tableHeader(table, opts));
    headerPrinted = true;
    for (auto& row : tableRows(table, opts)) tw.add(row);
    tw.flush(c.k.out);
    return true;
  });
}

static std::string noResourcesMessage(GetContext& c, const std::vector<TypeGroup>& groups) {
  bool allNamespaced = !c.k.allNamespaces();
  for (auto& g : groups) allNamespaced &= g.type->namespaced;
  if (allNamespaced) return "No resources found in " + c.k.ns() + " namespace.";
  return "No resources found";
}

static Json withTypeMeta(Json obj, const ApiResource& r) {
  if (!obj.contains("apiVersion")) obj["apiVersion"] = r.apiVersion();
  if (!obj.contains("kind")) obj["kind"] = r.kind;
  return obj;
}

static int printObjects(GetContext& c, const std::vector<TypeGroup>& groups, const std::string& output,
                        bool singleItemImplied) {
  std::vector<Json> items;
  for (auto& g : groups) {
    for (auto& ref : g.refs) {
      try {
        if (!ref.name.empty()) {
          items.push_back(withTypeMeta(c.k.client().get(g.type->itemPath(ref.namespace_, ref.name)), *g.type));
        } else {
          Json list = listAll(c, *g.type, ref.namespace_, "application/json");
          for (auto& o : list.value("items", Json::array())) items.push_back(withTypeMeta(o, *g.type));
        }
      } catch (const StatusError& e) {
        c.errors.push_back(formatStatusError(e.status));
      }
    }
  }
  sortByField(items, c.k.args.get("sort-by"), [](const Json& o) -> const Json& { return o; });
  // kubectl leaves managedFields (written by server-side apply) out of what it prints.
  if (!c.k.args.flag("show-managed-fields"))
    for (auto& o : items)
      if (o.contains("metadata") && o["metadata"].is_object()) o["metadata"].erase("managedFields");
  auto& out = c.k.out;
  if (isTemplateOutput(output)) {
    Json doc = singleItemImplied && items.size() == 1 ? items[0] : wrapList(items);
    if (!(items.empty() && !c.errors.empty()))
      printTemplated(out, output, doc, items, c.k.args.get("allow-missing-template-keys", "true") != "false",
                     c.k.args.flag("no-headers"));
    return 0;
  }
  if (output == "name") {
    for (auto& o : items) {
      const ApiResource* r = c.k.discovery().byKind(o.value("apiVersion", ""), o.value("kind", ""));
      out << (r ? r->kindPrefix() : o.value("kind", "")) << "/" << o["metadata"].value("name", "") << "\n";
    }
  } else if (!(items.empty() && !c.errors.empty())) {
    Json doc = singleItemImplied && items.size() == 1 ? items[0] : wrapList(items);
    out << (output == "json" ? toKubectlJson(doc) + "\n" : toYaml(doc));
  }
  return 0;
}

int cmdGet(Kubectl& k) {
  auto& a = k.args;
  std::string output = a.get("output");
  checkOutputFormat(output);
  bool watch = a.flag("watch") || a.flag("watch-only");
  std::string ns = k.allNamespaces() ? "" : k.ns();

  std::vector<ResourceRef> refs;
  if (a.has("filename")) {
    for (auto& so : readObjectsFromFiles(a.all("filename"), a.flag("recursive"))) {
      const ApiResource* r = k.discovery().byKind(so.object.value("apiVersion", ""), so.object.value("kind", ""));
      if (!r)
        throw CliError("error: unable to recognize \"" + so.source + "\": no matches for kind \"" +
                       so.object.value("kind", "") + "\" in version \"" + so.object.value("apiVersion", "") + "\"");
      std::string objNs = so.object.value("metadata", Json::object()).value("namespace", "");
      refs.push_back({r, nameOf(so.object), r->namespaced ? (objNs.empty() ? k.ns() : objNs) : "",
                      so.object, so.source});
    }
  } else {
    if (a.positional.empty())
      throw CliError(
          "You must specify the type of resource to get. Use \"k1s api-resources\" for a complete list of "
          "supported resources.\n\nerror: Required resource not specified.\nUse \"k1s explain <resource>\" for a "
          "detailed description of that resource (e.g. k1s explain pods).\nSee 'k1s get -h' for help and "
          "examples");
    refs = parseResourceArgs(k, a.positional, ns);
  }
  GetContext c{k, a.get("selector"), a.get("field-selector"), {}};
  bool named = false;
  for (auto& r : refs) named |= !r.name.empty();
  if (named && !c.labelSelector.empty())
    throw CliError("error: name cannot be provided when a selector is specified");
  auto groups = groupByType(refs);
  if (watch && (groups.size() != 1 || groups[0].refs.size() != 1))
    throw CliError("error: you may only specify a single resource type");
  bool singleItemImplied = refs.size() == 1 && !refs[0].name.empty();

  if (!output.empty() && output != "wide") {
    printObjects(c, groups, output, singleItemImplied);
    for (auto& e : c.errors) k.err << e << "\n";
    return c.errors.empty() ? 0 : 1;
  }

  TabWriter tw(6);  // kubectl's printers.GetNewTabWriter: minwidth 6, padding 3
  bool anyOutput = false;
  // kubectl prefixes names with their kind whenever several types were asked for.
  bool multiType = groups.size() > 1;
  Json lastColumns = Json::array();
  std::string lastRv;
  TableOptions lastOpts;
  for (auto& g : groups) {
    Json table;
    for (auto& ref : g.refs) {
      try {
        Json t = ref.name.empty() ? listAll(c, *g.type, ref.namespace_, kTableAccept)
                                  : k.client().get(g.type->itemPath(ref.namespace_, ref.name) +
                                                       (a.get("sort-by").empty() ? "" : "?includeObject=Object"),
                                                   kTableAccept);
        t = asTable(t);
        if (table.is_null()) {
          table = t;
        } else {
          for (auto& row : t.value("rows", Json::array())) table["rows"].push_back(row);
        }
        lastRv = t.value("metadata", Json::object()).value("resourceVersion", lastRv);
      } catch (const StatusError& e) {
        c.errors.push_back(formatStatusError(e.status));
      }
    }
    TableOptions o;
    o.wide = output == "wide";
    o.withNamespace = k.allNamespaces() && g.type->namespaced;
    o.showLabels = a.flag("show-labels");
    for (auto& v : a.all("label-columns"))
      for (auto& key : splitCommaList(v)) o.labelColumns.push_back(key);
    if (multiType || a.flag("show-kind")) o.kindPrefix = g.type->kindPrefix();
    lastOpts = o;
    if (table.is_null()) continue;
    if (table.contains("rows") && table["rows"].is_array()) {
      std::vector<Json> rows(table["rows"].begin(), table["rows"].end());
      sortByField(rows, a.get("sort-by"), [](const Json& row) { return row.value("object", Json::object()); });
      table["rows"] = rows;
    }
    lastColumns = table.value("columnDefinitions", Json::array());
    if (a.flag("watch-only") || table.value("rows", Json::array()).empty()) continue;
    if (anyOutput) {
      tw.flush(k.out);
      if (!a.flag("no-headers")) k.out << "\n";
      tw.forget();
    }
    if (!a.flag("no-headers")) tw.add(tableHeader(table, o));
    for (auto& row : tableRows(table, o)) tw.add(row);
    tw.flush(k.out);
    anyOutput = true;
  }
  for (auto& e : c.errors) k.err << e << "\n";
  if (!anyOutput && c.errors.empty() && !a.flag("watch-only")) k.err << noResourcesMessage(c, groups) << "\n";
  if (watch && c.errors.empty()) {
    auto& ref = groups[0].refs[0];
    watchType(c, *groups[0].type, ref.namespace_, ref.name, lastRv, lastColumns, tw, anyOutput, lastOpts);
  }
  return c.errors.empty() ? 0 : 1;
}

}  // namespace k1s::cli
