#include "cli/kubectl_print.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/jsonpath.h"
#include "cli/kubectl_client.h"

namespace k1s::cli {

// Display width in characters (UTF-8 continuation bytes do not count).
static size_t textWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

void TabWriter::flush(std::ostream& out) {
  for (auto& row : pending_) {
    if (row.size() > widths_.size()) widths_.resize(row.size(), 0);
    for (size_t i = 0; i + 1 < row.size(); ++i) widths_[i] = std::max(widths_[i], textWidth(row[i]));
  }
  for (auto& row : pending_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(std::max(widths_[i] + 3, minWidth_) - textWidth(row[i]), ' ');
    }
    out << line << "\n";
  }
  pending_.clear();
  out.flush();
}

std::string cellText(const Json& cell) {
  if (cell.is_null()) return "<none>";
  if (cell.is_string()) return cell.get<std::string>();
  if (cell.is_boolean()) return cell.get<bool>() ? "true" : "false";
  if (cell.is_number_float()) {
    double d = cell.get<double>();
    if (d == static_cast<double>(static_cast<long long>(d))) return std::to_string(static_cast<long long>(d));
    return cell.dump();
  }
  return cell.dump();
}

std::string formatLabels(const Json& labels) {
  if (!labels.is_object() || labels.empty()) return "<none>";
  std::string out;
  for (auto& [k, v] : labels.items()) {  // nlohmann objects iterate in key order
    if (!out.empty()) out += ",";
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

static std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(toupper(c)); });
  return s;
}

static bool columnShown(const Json& col, const TableOptions& o) {
  return o.wide || col.value("priority", 0) == 0;
}

TextRow tableHeader(const Json& table, const TableOptions& o) {
  TextRow h;
  if (o.withNamespace) h.push_back("NAMESPACE");
  for (auto& c : table.value("columnDefinitions", Json::array()))
    if (columnShown(c, o)) h.push_back(upper(c.value("name", "")));
  for (auto& key : o.labelColumns) h.push_back(upper(key.substr(key.rfind('/') + 1)));  // kubectl: last path part
  if (o.showLabels) h.push_back("LABELS");
  return h;
}

std::vector<TextRow> tableRows(const Json& table, const TableOptions& o) {
  std::vector<TextRow> out;
  Json cols = table.value("columnDefinitions", Json::array());
  for (auto& row : table.value("rows", Json::array())) {
    TextRow r;
    Json meta = row.value("object", Json::object()).value("metadata", Json::object());
    if (o.withNamespace) r.push_back(meta.value("namespace", ""));
    Json cells = row.value("cells", Json::array());
    for (size_t i = 0; i < cells.size(); ++i) {
      // Cells beyond the column definitions (watch events after the first
      // carry none) are printed as priority-0 columns.
      if (i < cols.size() && !columnShown(cols[i], o)) continue;
      std::string text = cellText(cells[i]);
      if (i == 0 && !o.kindPrefix.empty()) text = o.kindPrefix + "/" + text;
      r.push_back(text);
    }
    Json labels = meta.value("labels", Json::object());
    for (auto& key : o.labelColumns)
      r.push_back(labels.is_object() && labels.contains(key) ? cellText(labels[key]) : "");
    if (o.showLabels) r.push_back(formatLabels(labels));
    out.push_back(std::move(r));
  }
  return out;
}

std::string toKubectlJson(const Json& v) { return v.dump(4, ' ', false, Json::error_handler_t::replace); }

Json wrapList(const std::vector<Json>& items) {
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}, {"metadata", {{"resourceVersion", ""}}}};
}

std::string goJsonCompact(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    // These characters only occur inside strings in valid JSON output.
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else out += c;
  }
  return out;
}

// "jsonpath={.x}" -> ("jsonpath", "{.x}"); "jsonpath" alone -> ("jsonpath", "").
static std::pair<std::string, std::string> splitOutput(const std::string& output) {
  auto eq = output.find('=');
  if (eq == std::string::npos) return {output, ""};
  return {output.substr(0, eq), output.substr(eq + 1)};
}

bool isTemplateOutput(const std::string& output) {
  auto kind = splitOutput(output).first;
  return kind == "jsonpath" || kind == "jsonpath-file" || kind == "custom-columns" || kind == "custom-columns-file";
}

void checkOutputFormat(const std::string& output) {
  if (output.empty() || output == "wide" || output == "yaml" || output == "json" || output == "name") return;
  auto [kind, arg] = splitOutput(output);
  if (isTemplateOutput(output)) {
    if (arg.empty())
      throw CliError(kind.rfind("custom-columns", 0) == 0
                         ? "error: custom-columns format specified but no custom columns given"
                         : "error: template format specified but no template given");
    return;
  }
  if (kind == "go-template" || kind == "go-template-file" || kind == "template" || kind == "templatefile" ||
      kind == "jsonpath-as-json")
    throw CliError("error: output format \"" + kind + "\" is not supported by k1s; use -o jsonpath");
  throw CliError("error: unable to match a printer suitable for the output format \"" + output +
                 "\", allowed formats are: "
                 "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,"
                 "jsonpath-file,name,template,templatefile,wide,yaml");
}

static std::string readTemplateFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw CliError("error: error reading " + what + " " + path + ", open " + path + ": no such file or directory");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return text;
}

void printTemplated(std::ostream& out, const std::string& output, const Json& doc, const std::vector<Json>& items,
                    bool allowMissingKeys, bool noHeaders) {
  auto [kind, arg] = splitOutput(output);
  if (kind == "jsonpath" || kind == "jsonpath-file") {
    std::string tmpl = kind == "jsonpath" ? arg : readTemplateFile(arg, "--template");
    std::optional<JsonPath> path;
    try {
      path.emplace(tmpl);
    } catch (const JsonPathError& e) {
      throw CliError("error: error parsing jsonpath " + tmpl + ", " + e.what());
    }
    path->allowMissingKeys(allowMissingKeys);
    try {
      out << path->execute(doc);
    } catch (const JsonPathError& e) {
      throw CliError("error: error executing jsonpath \"" + tmpl + "\": Error executing template: " + e.what() +
                     ". Printing more information for debugging the template:\n\ttemplate was:\n\t\t" + tmpl + "\n");
    }
    out.flush();
    return;
  }
  std::vector<CustomColumn> cols;
  try {
    cols = kind == "custom-columns" ? parseCustomColumns(arg) : parseCustomColumnsFile(readTemplateFile(arg, "template"));
  } catch (const JsonPathError& e) {
    throw CliError(std::string("error: ") + e.what());
  }
  TabWriter tw(6);
  if (!noHeaders) {
    TextRow header;
    for (auto& c : cols) header.push_back(c.header);
    tw.add(header);
  }
  for (auto& item : items) tw.add(customColumnCells(cols, item));
  tw.flush(out);
}

}  // namespace k1s::cli
