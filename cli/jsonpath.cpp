#include "cli/jsonpath.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/kubectl_print.h"

namespace k1s::cli {

// One parsed element of a template or of an action's path.
struct JsonPathNode {
  enum Kind { Text, List, Field, Wildcard, Slice, Union, Filter, Recursive, Root, Current, Literal, Range, End };
  Kind kind;
  std::string text;                                    // Text, Field name, Literal
  Json literal;                                        // Literal value (string, number, bool)
  std::vector<std::shared_ptr<JsonPathNode>> nodes;    // List: path steps; Range: the list to iterate
  std::vector<std::vector<std::shared_ptr<JsonPathNode>>> alternatives;  // Union
  std::vector<std::shared_ptr<JsonPathNode>> left, right;  // Filter operands
  std::string op;                                      // Filter operator ("exists" when no right side)
  long long slice[3] = {0, 0, 1};
  bool known[3] = {false, false, false};
  bool isIndex = false;                                // [n] rather than [a:b]
};

JsonPathLimits jsonPathLimits;

namespace {

using NodePtr = std::shared_ptr<JsonPathNode>;
using NodeList = std::vector<NodePtr>;

NodePtr make(JsonPathNode::Kind k) {
  auto n = std::make_shared<JsonPathNode>();
  n->kind = k;
  return n;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r"), e = s.find_last_not_of(" \t\n\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Index just past the quoted string starting at s[i] (a quote char).
size_t skipQuoted(const std::string& s, size_t i) {
  char q = s[i];
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == q) return i + 1;
  }
  throw JsonPathError("unclosed quote");
}

std::string unquote(const std::string& s) {
  // s includes the quotes; Go's strconv.Unquote escapes.
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] != '\\' || i + 2 >= s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '0': out += '\0'; break;
      default: out += c;
    }
  }
  return out;
}

bool isOperatorChar(char c) { return c == '=' || c == '!' || c == '<' || c == '>'; }

// Index of the bracket matching s[open] ('[' or '('), skipping quotes.
size_t matchBracket(const std::string& s, size_t open) {
  char o = s[open], c = o == '[' ? ']' : ')';
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '"' || s[i] == '\'') {
      i = skipQuoted(s, i) - 1;
    } else if (s[i] == o) {
      ++depth;
    } else if (s[i] == c && --depth == 0) {
      return i;
    }
  }
  throw JsonPathError(o == '[' ? "unterminated array" : "unterminated filter");
}

NodeList parseList(const std::string& s);

NodePtr parseNumber(const std::string& s, size_t& i) {
  size_t start = i;
  if (s[i] == '-') ++i;
  bool isFloat = false;
  while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' || s[i] == 'E')) {
    if (!isdigit(static_cast<unsigned char>(s[i]))) isFloat = true;
    ++i;
  }
  std::string num = s.substr(start, i - start);
  auto n = make(JsonPathNode::Literal);
  try {
    n->literal = isFloat ? Json(std::stod(num)) : Json(std::stoll(num));
  } catch (...) {
    throw JsonPathError("cannot parse number " + num);
  }
  return n;
}

// The inside of [...]: filter, union, quoted key, index or slice.
NodePtr parseBracket(const std::string& raw) {
  std::string s = trim(raw);
  if (!s.empty() && s[0] == '?') {
    std::string rest = trim(s.substr(1));
    if (rest.empty() || rest[0] != '(' || matchBracket(rest, 0) != rest.size() - 1)
      throw JsonPathError("unterminated filter");
    std::string inner = rest.substr(1, rest.size() - 2);
    auto f = make(JsonPathNode::Filter);
    for (size_t i = 0; i < inner.size(); ++i) {
      if (inner[i] == '"' || inner[i] == '\'') {
        i = skipQuoted(inner, i) - 1;
        continue;
      }
      if (!isOperatorChar(inner[i])) continue;
      size_t len = i + 1 < inner.size() && inner[i + 1] == '=' ? 2 : 1;
      f->op = inner.substr(i, len);
      if (f->op == "=" || f->op == "!") throw JsonPathError("unrecognized filter operator " + f->op);
      f->left = parseList(inner.substr(0, i));
      f->right = parseList(inner.substr(i + len));
      return f;
    }
    f->op = "exists";
    f->left = parseList(inner);
    return f;
  }
  // A union splits on commas outside quotes.
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"' || s[i] == '\'') {
      i = skipQuoted(s, i) - 1;
    } else if (s[i] == ',') {
      parts.push_back(s.substr(from, i - from));
      from = i + 1;
    }
  }
  if (!parts.empty()) {
    parts.push_back(s.substr(from));
    auto u = make(JsonPathNode::Union);
    for (auto& p : parts) u->alternatives.push_back({parseBracket(p)});
    return u;
  }
  if (s.size() >= 2 && (s[0] == '\'' || s[0] == '"') && s.back() == s[0]) {
    auto f = make(JsonPathNode::Field);
    f->text = unquote(s);
    return f;
  }
  auto n = make(JsonPathNode::Slice);
  if (s == "*") return n;
  std::vector<std::string> fields;
  size_t p = 0;
  while (true) {
    size_t c = s.find(':', p);
    fields.push_back(trim(s.substr(p, c == std::string::npos ? std::string::npos : c - p)));
    if (c == std::string::npos) break;
    p = c + 1;
  }
  if (fields.size() > 3) throw JsonPathError("invalid array index " + s);
  n->isIndex = fields.size() == 1;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].empty()) {
      if (n->isIndex) throw JsonPathError("invalid array index " + s);
      continue;
    }
    try {
      size_t used = 0;
      n->slice[i] = std::stoll(fields[i], &used);
      if (used != fields[i].size()) throw std::invalid_argument(fields[i]);
    } catch (const std::exception&) {
      throw JsonPathError("invalid array index " + s);
    }
    n->known[i] = true;
  }
  return n;
}

bool isFieldTerminator(char c) {
  return c == '.' || c == '[' || c == ' ' || c == ',' || c == ']' || c == ')' || c == '(' || isOperatorChar(c);
}

// A path or literal inside an action: ".a.b[0]", "@.x", "'text'", "3".
NodeList parseList(const std::string& s) {
  NodeList out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      ++i;
    } else if (c == '"' || c == '\'') {
      size_t end = skipQuoted(s, i);
      auto n = make(JsonPathNode::Literal);
      n->literal = unquote(s.substr(i, end - i));
      out.push_back(n);
      i = end;
    } else if (c == '[') {
      size_t close = matchBracket(s, i);
      out.push_back(parseBracket(s.substr(i + 1, close - i - 1)));
      i = close + 1;
    } else if (c == '.' && i + 1 < s.size() && s[i + 1] == '.') {
      out.push_back(make(JsonPathNode::Recursive));
      i += 2;
    } else if (c == '@') {
      out.push_back(make(JsonPathNode::Current));
      ++i;
    } else if (c == '$') {
      out.push_back(make(JsonPathNode::Root));
      ++i;
    } else if (isdigit(static_cast<unsigned char>(c)) || (c == '-' && out.empty())) {
      out.push_back(parseNumber(s, i));
    } else if (c == '.' || isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '*' || c == '\\') {
      if (c == '.') ++i;
      std::string name;
      while (i < s.size() && !isFieldTerminator(s[i])) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;  // "\." keeps a dot in the name
        name += s[i++];
      }
      if (out.empty() && (name == "true" || name == "false")) {
        auto n = make(JsonPathNode::Literal);
        n->literal = name == "true";
        out.push_back(n);
      } else if (name == "*") {
        out.push_back(make(JsonPathNode::Wildcard));
      } else {
        auto n = make(JsonPathNode::Field);
        n->text = name;
        out.push_back(n);
      }
    } else {
      char buf[64];
      snprintf(buf, sizeof buf, "unrecognized character in action: U+%04X '%c'", static_cast<unsigned char>(c), c);
      throw JsonPathError(buf);
    }
  }
  return out;
}

// The template's top level: text and {actions}, with {range}/{end} nested.
NodeList parseTemplate(const std::string& t) {
  NodeList root;
  std::vector<NodeList*> stack{&root};
  std::vector<NodePtr> ranges;
  size_t i = 0;
  while (i < t.size()) {
    size_t open = t.find('{', i);
    if (open == std::string::npos) open = t.size();
    if (open > i) {
      auto n = make(JsonPathNode::Text);
      n->text = t.substr(i, open - i);
      stack.back()->push_back(n);
    }
    if (open == t.size()) break;
    size_t close = open + 1;
    for (; close < t.size() && t[close] != '}'; ++close)
      if (t[close] == '"' || t[close] == '\'') close = skipQuoted(t, close) - 1;
    if (close >= t.size()) throw JsonPathError("unclosed action");
    std::string action = trim(t.substr(open + 1, close - open - 1));
    i = close + 1;
    if (action == "end") {
      if (ranges.empty()) throw JsonPathError("not in range, nothing to end");
      stack.pop_back();
      ranges.pop_back();
      continue;
    }
    if (action.compare(0, 6, "range ") == 0 || action == "range") {
      auto r = make(JsonPathNode::Range);
      auto expr = make(JsonPathNode::List);
      expr->nodes = parseList(action.substr(5));
      r->nodes = {expr};
      r->alternatives.emplace_back();  // the body
      stack.back()->push_back(r);
      ranges.push_back(r);
      stack.push_back(&r->alternatives[0]);
      continue;
    }
    auto list = make(JsonPathNode::List);
    list->nodes = parseList(action);
    stack.back()->push_back(list);
  }
  if (!ranges.empty()) throw JsonPathError("unclosed range, expect {end}");
  return root;
}

// Go's reflect type names, as client-go's errors print them.
std::string goTypeName(const Json& v) {
  if (v.is_object()) return "map[string]interface {}";
  if (v.is_array()) return "[]interface {}";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int64";
  if (v.is_number()) return "float64";
  return "<nil>";
}

std::string goFloat(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {  // shortest text that reads back the same
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

std::string scalarText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_float()) return goFloat(v.get<double>());
  return v.dump();
}

int compareValues(const Json& a, const Json& b, bool& comparable) {
  comparable = true;
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.get<std::string>().compare(b.get<std::string>());
  if (a.is_boolean() && b.is_boolean()) return a == b ? 0 : 1;
  comparable = false;
  return 1;
}

// Steps pass pointers into the document (no copies), but repeated recursive descent
// ("{....a}", "{..*..*}") or nested ranges multiply the selected values exponentially in the
// template's length; kubectl would run out of memory there, k1s stops at jsonPathLimits.
struct Budget {
  size_t values = 0, copied = 0;
  const size_t maxValues = jsonPathLimits.maxValues, maxCopied = jsonPathLimits.maxCopied;
};

size_t nodeCount(const Json& v, size_t stopAt) {
  size_t n = 1;
  if (v.is_object() || v.is_array())
    for (auto& x : v) {
      if (n > stopAt) break;
      n += nodeCount(x, stopAt - n);
    }
  return n;
}

using Values = std::vector<const Json*>;

struct Evaluator {
  const Json& root;
  bool allowMissing;
  Budget& budget;

  void put(Values& out, const Json& v) const {
    if (++budget.values > budget.maxValues)
      throw JsonPathError("the template selects more than " + std::to_string(budget.maxValues) + " values");
    out.push_back(&v);
  }

  std::vector<Json> copyOut(const Values& vals) const {
    std::vector<Json> out;
    out.reserve(vals.size());
    for (auto* v : vals) {
      budget.copied += nodeCount(*v, budget.maxCopied);
      if (budget.copied > budget.maxCopied)
        throw JsonPathError("the result holds more than " + std::to_string(budget.maxCopied) + " values");
      out.push_back(*v);
    }
    return out;
  }

  Values evalList(const NodeList& list, Values values) const {
    for (auto& n : list) values = step(*n, values);
    return values;
  }

  Values step(const JsonPathNode& n, const Values& in) const {
    Values out;
    switch (n.kind) {
      case JsonPathNode::Field: {
        if (n.text.empty()) return in;
        for (auto* v : in)
          if (v->is_object())
            if (auto it = v->find(n.text); it != v->end()) put(out, *it);
        if (out.empty() && !allowMissing) throw JsonPathError(n.text + " is not found");
        return out;
      }
      case JsonPathNode::Wildcard:
        for (auto* v : in)
          if (v->is_object() || v->is_array())
            for (auto& x : *v) put(out, x);
        return out;
      case JsonPathNode::Slice:
        for (auto* v : in) sliceInto(n, *v, out);
        return out;
      case JsonPathNode::Union:
        for (auto& alt : n.alternatives) {
          auto part = evalList(alt, in);
          out.insert(out.end(), part.begin(), part.end());
        }
        return out;
      case JsonPathNode::Filter:
        for (auto* v : in) {
          if (!v->is_array() && !v->is_object()) continue;
          for (auto& item : *v)
            if (passes(n, item)) put(out, item);
        }
        return out;
      case JsonPathNode::Recursive:
        for (auto* v : in) descend(*v, out);
        return out;
      case JsonPathNode::Root:
        return {&root};
      case JsonPathNode::Current:
        return in;
      case JsonPathNode::Literal:
        return {&n.literal};
      default:
        throw JsonPathError("unexpected node in path");
    }
  }

  void sliceInto(const JsonPathNode& n, const Json& v, Values& out) const {
    if (!v.is_array()) throw JsonPathError(goTypeName(v) + " is not array or slice");
    long long len = static_cast<long long>(v.size());
    if (n.isIndex) {
      long long i = n.slice[0] < 0 ? n.slice[0] + len : n.slice[0];
      if (i < 0 || i >= len) {
        if (allowMissing) return;
        throw JsonPathError("array index out of bounds: index " + std::to_string(n.slice[0]) + ", length " +
                            std::to_string(len));
      }
      put(out, v[static_cast<size_t>(i)]);
      return;
    }
    long long start = n.known[0] ? n.slice[0] : 0, end = n.known[1] ? n.slice[1] : len;
    long long stepBy = n.known[2] ? n.slice[2] : 1;
    if (start < 0) start += len;
    if (end < 0) end += len;
    start = std::clamp(start, 0LL, len);
    end = std::clamp(end, 0LL, len);
    if (stepBy <= 0) throw JsonPathError("step must be > 0");
    for (long long i = start; i < end; i += stepBy) put(out, v[static_cast<size_t>(i)]);
  }

  void descend(const Json& v, Values& out) const {
    if ((!v.is_object() && !v.is_array()) || v.empty()) return;
    put(out, v);
    for (auto& child : v) descend(child, out);
  }

  bool passes(const JsonPathNode& f, const Json& item) const {
    // Missing fields inside a filter mean "no match", never an error.
    Evaluator lenient{root, true, budget};
    auto lefts = lenient.evalList(f.left, {&item});
    if (f.op == "exists") return !lefts.empty();
    auto rights = lenient.evalList(f.right, {&item});
    for (auto* l : lefts)
      for (auto* r : rights) {
        bool comparable;
        int c = compareValues(*l, *r, comparable);
        if (f.op == "==" && comparable && c == 0) return true;
        if (f.op == "!=" && (!comparable || c != 0)) return true;
        if (!comparable) continue;
        if ((f.op == "<" && c < 0) || (f.op == ">" && c > 0) || (f.op == "<=" && c <= 0) || (f.op == ">=" && c >= 0))
          return true;
      }
    return false;
  }

  // client-go FindResults: one result list per text/action, range bodies
  // evaluated once per element.
  void walk(const NodeList& nodes, const Json& cur, std::vector<std::vector<Json>>& results) const {
    for (auto& n : nodes) {
      if (n->kind == JsonPathNode::Text) {
        if (++budget.copied > budget.maxCopied)
          throw JsonPathError("the result holds more than " + std::to_string(budget.maxCopied) + " values");
        results.push_back({Json(n->text)});
      } else if (n->kind == JsonPathNode::Range) {
        for (auto* v : evalList(n->nodes[0]->nodes, {&cur})) walk(n->alternatives[0], *v, results);
      } else {
        results.push_back(copyOut(evalList(n->nodes, {&cur})));
      }
    }
  }
};

}  // namespace

JsonPath::JsonPath(const std::string& tmpl) : nodes_(parseTemplate(tmpl)) {}
JsonPath::~JsonPath() = default;
JsonPath::JsonPath(JsonPath&&) noexcept = default;

std::vector<std::vector<Json>> JsonPath::findResults(const Json& data) const {
  std::vector<std::vector<Json>> results;
  Budget budget;
  Evaluator{data, allowMissing_, budget}.walk(nodes_, data, results);
  return results;
}

std::string JsonPath::execute(const Json& data) const {
  std::string out;
  for (auto& group : findResults(data)) {
    for (size_t i = 0; i < group.size(); ++i) {
      auto& v = group[i];
      out += v.is_object() || v.is_array() ? goJsonCompact(v) : scalarText(v);
      if (i + 1 < group.size()) out += ' ';
    }
  }
  return out;
}

std::string relaxedJsonPath(const std::string& expr) {
  std::string e = trim(expr);
  if (!e.empty() && e.front() == '{') {
    if (e.back() != '}') throw JsonPathError("unexpected path string, expected a 'name1.name2' or '.name1.name2' or "
                                             "'{name1.name2}' or '{.name1.name2}'");
    e = e.substr(1, e.size() - 2);
  }
  if (e.empty() || e.front() != '.') e = "." + e;
  return "{" + e + "}";
}

std::string goValueText(const Json& v) {
  if (v.is_object()) {
    std::string s = "map[";
    bool first = true;
    for (auto& [k, x] : v.items()) {
      if (!first) s += " ";
      first = false;
      s += k + ":" + goValueText(x);
    }
    return s + "]";
  }
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + goValueText(v[i]);
    return s + "]";
  }
  if (v.is_null()) return "<nil>";
  return scalarText(v);
}

std::vector<CustomColumn> parseCustomColumns(const std::string& spec) {
  if (spec.empty()) throw JsonPathError("custom-columns format specified but no custom columns given");
  std::vector<CustomColumn> cols;
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ',')) {
    auto colon = part.find(':');
    if (colon == std::string::npos)
      throw JsonPathError("unexpected custom-columns spec: " + part + ", expected <header>:<json-path-expr>");
    cols.push_back({part.substr(0, colon), relaxedJsonPath(part.substr(colon + 1))});
    JsonPath check(cols.back().path);  // reject bad paths before fetching anything
  }
  return cols;
}

std::vector<CustomColumn> parseCustomColumnsFile(const std::string& text) {
  std::stringstream in(text);
  std::string headerLine, pathLine;
  std::getline(in, headerLine);
  std::getline(in, pathLine);
  auto words = [](const std::string& line) {
    std::vector<std::string> w;
    std::stringstream s(line);
    std::string x;
    while (s >> x) w.push_back(x);
    return w;
  };
  auto headers = words(headerLine), paths = words(pathLine);
  if (headers.size() != paths.size())
    throw JsonPathError("number of headers (" + std::to_string(headers.size()) + ") and field specifications (" +
                        std::to_string(paths.size()) + ") don't match");
  std::vector<CustomColumn> cols;
  for (size_t i = 0; i < headers.size(); ++i) cols.push_back({headers[i], relaxedJsonPath(paths[i])});
  return cols;
}

std::vector<std::string> customColumnCells(const std::vector<CustomColumn>& cols, const Json& obj) {
  std::vector<std::string> cells;
  for (auto& c : cols) {
    JsonPath p(c.path);
    p.allowMissingKeys(true);
    auto results = p.findResults(obj);
    std::string cell;
    if (results.empty() || results[0].empty()) cell = "<none>";
    for (auto& group : results)
      for (auto& v : group) cell += (cell.empty() ? "" : ",") + goValueText(v);
    cells.push_back(cell);
  }
  return cells;
}

}  // namespace k1s::cli
