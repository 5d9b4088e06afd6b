// Label and field selectors with kube-apiserver's grammar, validation and
// error messages (k8s.io/apimachinery labels and fields packages).
#include "common/selector.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "common/errors.h"

namespace k1s {
namespace {

// ------------------------------------------------------------ validation

bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool isQualifiedNamePart(const std::string& s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
bool isDNS1123Subdomain(const std::string& s) {
  auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string label = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || !lowerAlnum(label.front()) || !lowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!lowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

const std::string kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const std::string kQualifiedNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character";

// Kube's RegexError: the message, examples (with its doubled spaces) and the regex.
std::string regexError(const std::string& msg, const std::string& fmt, const std::vector<std::string>& examples) {
  std::string out = msg + " (e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) {
    if (i > 0) out += " or ";
    out += "'" + examples[i] + "', ";
  }
  return out + "regex used for validation is '" + fmt + "')";
}

std::vector<std::string> qualifiedNameErrors(const std::string& value) {
  std::vector<std::string> errs;
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = value.find('/', start);
    parts.push_back(value.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string name;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    const std::string& prefix = parts[0];
    name = parts[1];
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > 253) errs.push_back("prefix part must be no more than 253 characters");
      if (!isDNS1123Subdomain(prefix)) {
        errs.push_back("prefix part " +
                       regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                  "characters, '-' or '.', and must start and end with an alphanumeric character",
                                  "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
                                  {"example.com"}));
      }
    }
  } else {
    errs.push_back("a qualified name " + regexError(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) errs.push_back("name part must be non-empty");
  else if (name.size() > 63) errs.push_back("name part must be no more than 63 characters");
  if (!isQualifiedNamePart(name)) {
    errs.push_back("name part " + regexError(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> labelValueErrors(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!v.empty() && !isQualifiedNamePart(v)) {
    errs.push_back(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                              "'_' or '.', and must start and end with an alphanumeric character",
                              "(" + kQualifiedNameFmt + ")?", {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

// Go's %q for the strings that reach these messages.
std::string goQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += (char)c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += (char)c;
    }
  }
  return out + "\"";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// field.Invalid(...).Error()
std::string invalidField(const std::string& field, const std::string& value, const std::string& detail) {
  return field + ": Invalid value: " + goQuote(value) + ": " + detail;
}

// An aggregate of field errors prints one bare, several as "[a, b]".
std::string aggregate(const std::vector<std::string>& errs) {
  if (errs.size() == 1) return errs[0];
  return "[" + join(errs, ", ") + "]";
}

bool isInteger(const std::string& s) {
  long long v;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

// Kube's NewRequirement checks; `path` prefixes field names ("" = none).
std::vector<std::string> requirementErrors(const LabelSelector::Requirement& r, const std::string& path) {
  std::vector<std::string> errs;
  auto sub = [&](const std::string& f) { return path.empty() ? f : path + "." + f; };
  auto keyErrs = qualifiedNameErrors(r.key);
  if (!keyErrs.empty()) errs.push_back(invalidField(sub("key"), r.key, join(keyErrs, "; ")));
  if ((r.op == "in" || r.op == "notin") && r.values.empty()) {
    errs.push_back(sub("values") + ": Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty");
  }
  if ((r.op == "=" || r.op == "!=") && r.values.size() != 1) {
    errs.push_back(sub("values") + ": Invalid value: []string{}: exact-match compatibility requires one single value");
  }
  if (r.op == ">" || r.op == "<") {
    for (size_t i = 0; i < r.values.size(); ++i) {
      if (!isInteger(r.values[i])) {
        errs.push_back(invalidField(sub("values") + "[" + std::to_string(i) + "]", r.values[i],
                                    "for 'Gt', 'Lt' operators, the value must be an integer"));
      }
    }
  }
  for (size_t i = 0; i < r.values.size(); ++i) {
    auto ve = labelValueErrors(r.values[i]);
    if (!ve.empty()) {
      errs.push_back(invalidField(sub("values") + "[" + std::to_string(i) + "][" + r.key + "]", r.values[i],
                                  join(ve, "; ")));
    }
  }
  return errs;
}

// ------------------------------------------------------------ lexer

enum class Tok { Error, End, ClosedPar, Comma, DoesNotExist, DoubleEquals, Equals, Greater, Ident, In, Less,
                 NotEquals, NotIn, OpenPar };

struct Item {
  Tok tok;
  std::string lit;
};

bool isSpecial(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

const std::map<std::string, Tok>& literalTokens() {
  static const std::map<std::string, Tok> m = {
      {")", Tok::ClosedPar}, {",", Tok::Comma},   {"!", Tok::DoesNotExist}, {"==", Tok::DoubleEquals},
      {"=", Tok::Equals},    {">", Tok::Greater}, {"in", Tok::In},          {"<", Tok::Less},
      {"!=", Tok::NotEquals}, {"notin", Tok::NotIn}, {"(", Tok::OpenPar}};
  return m;
}

std::vector<Item> lex(const std::string& s) {
  std::vector<Item> items;
  size_t pos = 0;
  while (true) {
    while (pos < s.size() && isSpace(s[pos])) ++pos;
    if (pos >= s.size()) {
      items.push_back({Tok::End, ""});
      return items;
    }
    if (isSpecial(s[pos])) {
      // Longest run of special characters that still forms a known operator.
      std::string buf;
      Item last{Tok::Error, ""};
      bool have = false;
      while (pos < s.size() && isSpecial(s[pos])) {
        buf += s[pos];
        auto it = literalTokens().find(buf);
        if (it != literalTokens().end()) {
          last = {it->second, buf};
          have = true;
          ++pos;
        } else if (have) {
          break;
        } else {
          ++pos;
        }
      }
      if (!have) last = {Tok::Error, "error expected: keyword found '" + buf + "'"};
      items.push_back(last);
    } else {
      std::string buf;
      while (pos < s.size() && !isSpecial(s[pos]) && !isSpace(s[pos])) buf += s[pos++];
      auto it = literalTokens().find(buf);
      items.push_back({it != literalTokens().end() ? it->second : Tok::Ident, buf});
    }
  }
}

// ------------------------------------------------------------ parser

class Parser {
 public:
  explicit Parser(const std::string& s) : items_(lex(s)) {}

  std::vector<LabelSelector::Requirement> parse() {
    std::vector<LabelSelector::Requirement> reqs;
    while (true) {
      auto [tok, lit] = lookahead(true);
      if (tok == Tok::Ident || tok == Tok::DoesNotExist) {
        std::string err;
        LabelSelector::Requirement r;
        if (!parseRequirement(r, err)) throw badRequest("unable to parse requirement: " + err);
        reqs.push_back(std::move(r));
        auto [t, l] = consume(true);
        if (t == Tok::End) return reqs;
        if (t == Tok::Comma) {
          auto [t2, l2] = lookahead(true);
          if (t2 != Tok::Ident && t2 != Tok::DoesNotExist) {
            throw badRequest("found '" + l2 + "', expected: identifier after ','");
          }
        } else {
          throw badRequest("found '" + l + "', expected: ',' or 'end of string'");
        }
      } else if (tok == Tok::End) {
        return reqs;
      } else {
        throw badRequest("found '" + lit + "', expected: !, identifier, or 'end of string'");
      }
    }
  }

 private:
  std::vector<Item> items_;
  size_t pos_ = 0;

  // In value context the words "in" and "notin" are plain identifiers.
  Item lookahead(bool values) const {
    Item it = items_[std::min(pos_, items_.size() - 1)];
    if (values && (it.tok == Tok::In || it.tok == Tok::NotIn)) it.tok = Tok::Ident;
    return it;
  }
  Item consume(bool values) {
    Item it = lookahead(values);
    if (pos_ < items_.size() - 1) ++pos_;
    return it;
  }

  bool parseRequirement(LabelSelector::Requirement& r, std::string& err) {
    Item first = consume(true);
    bool notExists = false;
    if (first.tok == Tok::DoesNotExist) {
      notExists = true;
      first = consume(true);
    }
    const auto& [tok, lit] = first;
    if (tok != Tok::Ident) {
      err = "found '" + lit + "', expected: identifier";
      return false;
    }
    auto keyErrs = qualifiedNameErrors(lit);
    if (!keyErrs.empty()) {
      err = invalidField("<nil>", lit, join(keyErrs, "; "));
      return false;
    }
    r.key = lit;
    auto next = lookahead(true).tok;
    if (next == Tok::End || next == Tok::Comma) {
      r.op = notExists ? "!" : "exists";
      return true;
    }
    if (notExists) {
      r.op = "!";
      return true;  // "!a=b": the caller then stops at the '=' it cannot place, as kube does
    }
    auto [opTok, opLit] = consume(false);
    switch (opTok) {
      case Tok::In: r.op = "in"; break;
      case Tok::NotIn: r.op = "notin"; break;
      case Tok::Equals: case Tok::DoubleEquals: r.op = "="; break;
      case Tok::NotEquals: r.op = "!="; break;
      case Tok::Greater: r.op = ">"; break;
      case Tok::Less: r.op = "<"; break;
      default:
        err = "found '" + opLit + "', expected: in, notin, =, ==, !=, gt, lt";
        return false;
    }
    std::set<std::string> values;
    if (r.op == "in" || r.op == "notin") {
      if (!parseValues(values, err)) return false;
    } else if (!parseExactValue(values, err)) {
      return false;
    }
    r.values.assign(values.begin(), values.end());  // kube keeps them as a sorted set
    auto errs = requirementErrors(r, "");
    if (!errs.empty()) {
      err = aggregate(errs);
      return false;
    }
    return true;
  }

  bool parseValues(std::set<std::string>& values, std::string& err) {
    auto [tok, lit] = consume(true);
    if (tok != Tok::OpenPar) {
      err = "found '" + lit + "' expected: '('";
      return false;
    }
    auto [t, l] = lookahead(true);
    if (t == Tok::ClosedPar) {
      consume(true);
      values.insert("");
      return true;
    }
    if (t != Tok::Ident && t != Tok::Comma) {
      err = "found '" + l + "', expected: ',', ')' or identifier";
      return false;
    }
    // A (possibly empty) comma-separated identifier list; empty slots are "".
    while (true) {
      auto [ct, cl] = consume(true);
      if (ct == Tok::Ident) {
        values.insert(cl);
        auto [t2, l2] = lookahead(true);
        if (t2 == Tok::Comma) continue;
        if (t2 == Tok::ClosedPar) break;
        err = "found '" + l2 + "', expected: ',' or ')'";
        return false;
      } else if (ct == Tok::Comma) {
        if (values.empty()) values.insert("");
        auto t2 = lookahead(true).tok;
        if (t2 == Tok::ClosedPar) {
          values.insert("");
          break;
        }
        if (t2 == Tok::Comma) {
          consume(true);
          values.insert("");
        }
      } else {
        err = "found '" + cl + "', expected: ',', or identifier";
        return false;
      }
    }
    if (consume(true).tok != Tok::ClosedPar) {
      err = "found '" + l + "', expected: ')'";
      return false;
    }
    return true;
  }

  bool parseExactValue(std::set<std::string>& values, std::string& err) {
    auto t = lookahead(true).tok;
    if (t == Tok::End || t == Tok::Comma) {
      values.insert("");
      return true;
    }
    auto [tok, lit] = consume(true);
    if (tok == Tok::Ident) {
      values.insert(lit);
      return true;
    }
    err = "found '" + lit + "', expected: identifier";
    return false;
  }
};

void sortByKey(std::vector<LabelSelector::Requirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
}

}  // namespace

LabelSelector LabelSelector::parse(const std::string& text) {
  LabelSelector s;
  s.reqs_ = Parser(text).parse();
  sortByKey(s.reqs_);
  return s;
}

LabelSelector LabelSelector::fromObject(const Json& sel) {
  LabelSelector s;
  if (sel.is_null()) {
    s.nothing_ = true;
    return s;
  }
  if (!sel.is_object()) throw badRequest("invalid label selector");
  if (auto ml = sel.find("matchLabels"); ml != sel.end() && ml->is_object()) {
    for (auto& [k, v] : ml->items()) {
      Requirement r{k, "=", {v.is_string() ? v.get<std::string>() : v.dump()}};
      auto errs = requirementErrors(r, "");
      if (!errs.empty()) throw badRequest(aggregate(errs));
      s.reqs_.push_back(std::move(r));
    }
  }
  if (auto me = sel.find("matchExpressions"); me != sel.end() && me->is_array()) {
    for (const auto& e : *me) {
      // Decoded as kube's typed struct would be: a requirement is an object of strings.
      if (!e.is_object()) throw badRequest("invalid label selector: a matchExpressions item must be an object");
      auto text = [&e](const char* field) {
        auto it = e.find(field);
        if (it == e.end() || it->is_null()) return std::string();
        if (!it->is_string())
          throw badRequest(std::string("invalid label selector: matchExpressions ") + field + " must be a string");
        return it->get<std::string>();
      };
      std::string op = text("operator");
      Requirement r;
      r.key = text("key");
      if (op == "In") r.op = "in";
      else if (op == "NotIn") r.op = "notin";
      else if (op == "Exists") r.op = "exists";
      else if (op == "DoesNotExist") r.op = "!";
      else throw badRequest("\"" + op + "\" is not a valid label selector operator");
      if (auto vs = e.find("values"); vs != e.end() && vs->is_array()) {
        for (const auto& v : *vs) r.values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      }
      if ((r.op == "exists" || r.op == "!") && !r.values.empty()) {
        throw badRequest("values: Invalid value: " + Json(r.values).dump() +
                         ": values set must be empty for exists and does not exist");
      }
      auto errs = requirementErrors(r, "");
      if (!errs.empty()) throw badRequest(aggregate(errs));
      s.reqs_.push_back(std::move(r));
    }
  }
  sortByKey(s.reqs_);
  return s;
}

bool LabelSelector::matches(const Json& labels) const {
  if (nothing_) return false;
  for (const auto& r : reqs_) {
    const std::string* have = nullptr;
    std::string tmp;
    if (labels.is_object()) {
      auto it = labels.find(r.key);
      if (it != labels.end()) {
        tmp = it->is_string() ? it->get<std::string>() : it->dump();
        have = &tmp;
      }
    }
    auto listed = [&] { return have && std::find(r.values.begin(), r.values.end(), *have) != r.values.end(); };
    bool ok = true;
    if (r.op == "=" || r.op == "in") ok = listed();
    else if (r.op == "!=" || r.op == "notin") ok = !have || !listed();
    else if (r.op == "exists") ok = have != nullptr;
    else if (r.op == "!") ok = have == nullptr;
    else if (r.op == ">" || r.op == "<") {
      ok = false;
      if (have && isInteger(*have) && r.values.size() == 1 && isInteger(r.values[0])) {
        long long l = std::stoll(*have), v = std::stoll(r.values[0]);
        ok = r.op == ">" ? l > v : l < v;
      }
    }
    if (!ok) return false;
  }
  return true;
}

std::string LabelSelector::toString() const {
  std::vector<std::string> parts;
  for (const auto& r : reqs_) {
    std::string s;
    if (r.op == "!") {
      parts.push_back("!" + r.key);
      continue;
    }
    if (r.op == "exists") {
      parts.push_back(r.key);
      continue;
    }
    auto vals = r.values;
    std::sort(vals.begin(), vals.end());
    std::string v = join(vals, ",");
    if (r.op == "in" || r.op == "notin") s = r.key + " " + r.op + " (" + v + ")";
    else s = r.key + r.op + v;
    parts.push_back(s);
  }
  return join(parts, ",");
}

// ------------------------------------------------------------ field selectors

namespace {

struct KindFields {
  std::vector<std::string> fields;
  // Kinds with their own conversion function answer "field label not
  // supported"; the rest get the runtime default's message.
  bool registered;
};

const KindFields& fieldsFor(const std::string& kind) {
  static const std::map<std::string, KindFields> table = {
      {"Pod",
       {{"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
         "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
         "status.nominatedNodeName"},
        true}},
      {"Node", {{"metadata.name", "spec.unschedulable"}, true}},
      {"Namespace", {{"metadata.name", "status.phase"}, true}},
      {"Secret", {{"metadata.name", "metadata.namespace", "type"}, true}},
      {"Service", {{"metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"}, true}},
      {"ReplicationController", {{"metadata.name", "metadata.namespace", "status.replicas"}, true}},
      {"ReplicaSet", {{"metadata.name", "metadata.namespace", "status.replicas"}, true}},
      {"Job", {{"metadata.name", "metadata.namespace", "status.successful"}, true}},
      {"Event",
       {{"metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
         "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
         "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
        true}},
  };
  static const KindFields fallback{{"metadata.name", "metadata.namespace"}, false};
  auto it = table.find(kind);
  return it == table.end() ? fallback : it->second;
}

// The unescaped right-hand side of a term; "\\", "\," and "\=" are escapes.
std::string unescapeValue(const std::string& s) {
  std::string out;
  bool inSlash = false;
  for (char c : s) {
    if (inSlash) {
      if (c != '\\' && c != ',' && c != '=') {
        throw badRequest(std::string("invalid field selector: invalid escape sequence: \\") + c);
      }
      out += c;
      inSlash = false;
    } else if (c == '\\') {
      inSlash = true;
    } else if (c == ',' || c == '=') {
      // Go prints the rune with %v, i.e. as its number.
      throw badRequest("invalid field selector: unescaped character in value: " + std::to_string((int)c));
    } else {
      out += c;
    }
  }
  if (inSlash) throw badRequest("invalid field selector: invalid escape sequence: \\");
  return out;
}

const Json* walk(const Json& obj, const std::string& dotted) {
  const Json* cur = &obj;
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::string scalarText(const Json* v, const std::string& absent) {
  if (!v || v->is_null()) return absent;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  return v->dump();
}

}  // namespace

FieldSelector FieldSelector::parse(const std::string& text, const std::string& kind) {
  // Terms split at unescaped commas, then sorted, as fields.ParseSelector does.
  std::vector<std::string> terms;
  if (!text.empty()) {
    std::string cur;
    bool inSlash = false;
    for (char c : text) {
      if (inSlash) inSlash = false;
      else if (c == '\\') inSlash = true;
      else if (c == ',') {
        terms.push_back(cur);
        cur.clear();
        continue;
      }
      cur += c;
    }
    terms.push_back(cur);
  }
  std::sort(terms.begin(), terms.end());
  FieldSelector sel;
  for (const auto& term : terms) {
    if (term.empty()) continue;
    Requirement r;
    bool split = false;
    for (size_t i = 0; i < term.size() && !split; ++i) {
      for (const char* op : {"!=", "==", "="}) {
        if (term.compare(i, std::string(op).size(), op) == 0) {
          r.field = term.substr(0, i);
          r.op = std::string(op) == "!=" ? "!=" : "=";
          r.value = unescapeValue(term.substr(i + std::string(op).size()));
          split = true;
          break;
        }
      }
    }
    if (!split) throw badRequest("invalid selector: '" + text + "'; can't understand '" + term + "'");
    sel.reqs_.push_back(std::move(r));
  }
  const auto& kf = fieldsFor(kind);
  for (auto& r : sel.reqs_) {
    if (kind == "Pod" && r.field == "spec.host") r.field = "spec.nodeName";  // old clients' name
    if (std::find(kf.fields.begin(), kf.fields.end(), r.field) != kf.fields.end()) continue;
    if (kf.registered) throw badRequest("field label not supported: " + r.field);
    throw badRequest("\"" + r.field + "\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
  }
  return sel;
}

bool FieldSelector::matches(const Json& obj) const {
  for (const auto& r : reqs_) {
    bool eq = fieldValue(obj, r.field) == r.value;
    if ((r.op == "=") != eq) return false;
  }
  return true;
}

std::string fieldValue(const Json& obj, const std::string& field) {
  // Typed zero values for fields kube reads from non-pointer Go fields.
  if (field == "spec.hostNetwork" || field == "spec.unschedulable") return scalarText(walk(obj, field), "false");
  if (field == "status.replicas" || field == "status.successful") return scalarText(walk(obj, field), "0");
  if (field == "status.podIPs") return scalarText(walk(obj, "status.podIP"), "");
  if (field == "source") {
    // Events: the source component, or the reporting controller when unset.
    std::string s = scalarText(walk(obj, "source.component"), "");
    return s.empty() ? scalarText(walk(obj, "reportingComponent"), "") : s;
  }
  return scalarText(walk(obj, field), "");
}

}  // namespace k1s
