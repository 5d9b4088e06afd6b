#include "cli/kubectl_print.h"

#include <algorithm>
#include <cctype>

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
      if (i + 1 < row.size()) line.append(widths_[i] - textWidth(row[i]) + 3, ' ');
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
    if (o.showLabels) r.push_back(formatLabels(meta.value("labels", Json::object())));
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

}  // namespace k1s::cli
