// Output as kubectl prints it: the server's Table responses through a
// tabwriter (padding 3), and -o yaml|json|name.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s::cli {

using TextRow = std::vector<std::string>;

// kubectl's tabwriter (minwidth 0, padding 3, cells tab-terminated, last cell
// unpadded) with remembered widths: widths only grow across flushes, so rows of
// a watch line up with the header printed before them.
class TabWriter {
 public:
  // kubectl's tables (get, custom-columns, api-resources) pad every cell to at least 6 with
  // the padding: it shows with --no-headers or one-letter -L columns. 0 leaves that out.
  explicit TabWriter(size_t minWidth = 0) : minWidth_(minWidth) {}
  void add(TextRow row) { pending_.push_back(std::move(row)); }
  void flush(std::ostream& out);
  void forget() { widths_.clear(); }

 private:
  std::vector<TextRow> pending_;
  std::vector<size_t> widths_;
  size_t minWidth_;
};

struct TableOptions {
  bool wide = false;           // -o wide: priority > 0 columns too
  bool withNamespace = false;  // -A on a namespaced kind: NAMESPACE first
  bool showLabels = false;     // --show-labels: LABELS last
  std::vector<std::string> labelColumns;  // -L KEY,...: one column per key, before LABELS
  std::string kindPrefix;      // "deployment.apps": NAME cells become kind/name
};

// A Table cell as text: strings as they are, numbers, bools, "<none>" for null.
std::string cellText(const Json& cell);
// "app=web,tier=front" (sorted by key) or "<none>".
std::string formatLabels(const Json& labels);
// The header row of a Table (upper-case names), per options.
TextRow tableHeader(const Json& table, const TableOptions& o);
// The data rows of a Table, per options.
std::vector<TextRow> tableRows(const Json& table, const TableOptions& o);

// JSON the way kubectl -o json prints it (4-space indent, sorted keys).
std::string toKubectlJson(const Json& v);
// A List of several objects, as kubectl -o yaml|json wraps them.
Json wrapList(const std::vector<Json>& items);

// -o jsonpath=T, jsonpath-file=F, custom-columns=SPEC, custom-columns-file=F.
bool isTemplateOutput(const std::string& output);
// Throws CliError (kubectl's wording) for an -o value no printer matches, or
// a template format given without its template.
void checkOutputFormat(const std::string& output);
// Prints a template output: jsonpath over `doc` (the object, or a List when
// several were asked for), custom-columns one row per item in `items`.
// Throws CliError for a bad template or (without allowMissingKeys) a missing key.
void printTemplated(std::ostream& out, const std::string& output, const Json& doc, const std::vector<Json>& items,
                    bool allowMissingKeys, bool noHeaders);

// Go's encoding/json escapes <, > and & in strings; last-applied annotations
// are compared byte-for-byte, so mirror it.
std::string goJsonCompact(const Json& v);

}  // namespace k1s::cli
