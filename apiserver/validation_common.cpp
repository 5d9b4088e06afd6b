// Shared validation machinery: kube's field error shapes, Go value printing,
// apimachinery's syntax checks (names, labels, ports, IPs, quantities) and
// object metadata rules. Messages follow k8s.io/apimachinery/pkg/util/validation.
#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "apiserver/validation.h"
#include "apiserver/validation_internal.h"

namespace k1s {
namespace vi {

// ---------------------------------------------------------------- printing

std::string goValue(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) return goQuote(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  return v.dump();
}

std::string goStringMap(const Json& m) {
  if (!m.is_object()) return "map[string]string(nil)";
  std::string out = "map[string]string{";
  bool first = true;
  for (auto& [k, v] : m.items()) {  // nlohmann objects iterate sorted, as %#v prints maps
    out += (first ? "" : ", ") + goQuote(k) + ":" + goQuote(v.is_string() ? v.get<std::string>() : v.dump());
    first = false;
  }
  return out + "}";
}

std::string goStringSlice(const Json& a) {
  if (!a.is_array()) return "[]string(nil)";
  std::string out = "[]string{";
  for (size_t i = 0; i < a.size(); ++i)
    out += (i ? ", " : "") + goQuote(a[i].is_string() ? a[i].get<std::string>() : a[i].dump());
  return out + "}";
}

std::string goLabelSelector(const Json& sel) {
  std::string out = "v1.LabelSelector{MatchLabels:" +
                    (field(sel, "matchLabels") ? goStringMap(obj(sel, "matchLabels")) : "map[string]string(nil)");
  out += ", MatchExpressions:";
  const Json& exprs = arr(sel, "matchExpressions");
  if (!field(sel, "matchExpressions")) {
    out += "[]v1.LabelSelectorRequirement(nil)";
  } else {
    out += "[]v1.LabelSelectorRequirement{";
    for (size_t i = 0; i < exprs.size(); ++i) {
      out += (i ? ", " : "") + std::string("v1.LabelSelectorRequirement{Key:") + goQuote(str(exprs[i], "key")) +
             ", Operator:" + goQuote(str(exprs[i], "operator")) + ", Values:" + goStringSlice(arr(exprs[i], "values")) + "}";
    }
    out += "}";
  }
  return out + "}";
}

// ---------------------------------------------------------------- errors

static void push(std::vector<StatusCause>& l, const char* reason, const std::string& path, std::string msg) {
  l.push_back(StatusCause{reason, std::move(msg), path});
}
void Errs::invalid(const std::string& p, const std::string& v, const std::string& d) {
  push(list, "FieldValueInvalid", p, "Invalid value: " + v + (d.empty() ? "" : ": " + d));
}
void Errs::required(const std::string& p, const std::string& d) {
  push(list, "FieldValueRequired", p, "Required value" + (d.empty() ? "" : ": " + d));
}
void Errs::duplicate(const std::string& p, const std::string& v) {
  push(list, "FieldValueDuplicate", p, "Duplicate value: " + v);
}
void Errs::notSupported(const std::string& p, const std::string& v, const std::vector<std::string>& valid) {
  std::string d;
  for (size_t i = 0; i < valid.size(); ++i) d += (i ? ", " : "") + goQuote(valid[i]);
  push(list, "FieldValueNotSupported", p, "Unsupported value: " + v + (d.empty() ? "" : ": supported values: " + d));
}
void Errs::forbidden(const std::string& p, const std::string& d) {
  push(list, "FieldValueForbidden", p, "Forbidden" + (d.empty() ? "" : ": " + d));
}
void Errs::tooLong(const std::string& p, long long maxBytes) {
  push(list, "FieldValueTooLong", p, "Too long: must have at most " + std::to_string(maxBytes) + " bytes");
}
void Errs::notFound(const std::string& p, const std::string& v) {
  push(list, "FieldValueNotFound", p, "Not found: " + v);
}

// ---------------------------------------------------------------- JSON access

const Json* field(const Json& o, const char* name) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) return nullptr;
  return &*it;
}
std::string str(const Json& o, const char* name) {
  auto* v = field(o, name);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}
bool isInt(const Json* v) { return v && v->is_number_integer(); }
long long num(const Json& o, const char* name, long long dflt) {
  auto* v = field(o, name);
  if (!v || !v->is_number()) return dflt;
  return v->is_number_float() ? static_cast<long long>(v->get<double>()) : v->get<long long>();
}
const Json& arr(const Json& o, const char* name) {
  static const Json empty = Json::array();
  auto* v = field(o, name);
  return v && v->is_array() ? *v : empty;
}
const Json& obj(const Json& o, const char* name) {
  static const Json empty = Json::object();
  auto* v = field(o, name);
  return v && v->is_object() ? *v : empty;
}

// ---------------------------------------------------------------- syntax

static std::string regexError(const std::string& msg, const std::string& fmt, std::vector<std::string> examples) {
  if (examples.empty()) return msg + " (regex used for validation is '" + fmt + "')";
  std::string out = msg + " (e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) out += (i ? " or " : "") + ("'" + examples[i] + "', ");
  return out + "regex used for validation is '" + fmt + "')";
}
static std::string maxLen(size_t n) { return "must be no more than " + std::to_string(n) + " characters"; }
std::string inclusiveRange(long long lo, long long hi) {
  return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", inclusive";
}

static bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool alnum(char c) { return lowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
static bool isLabelSyntax(const std::string& s) {
  if (s.empty() || !lowerAlnum(s.front()) || !lowerAlnum(s.back())) return false;
  for (char c : s)
    if (!lowerAlnum(c) && c != '-') return false;
  return true;
}
static bool isSubdomainSyntax(const std::string& s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!isLabelSyntax(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start))) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}
// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
static bool isQualifiedPartSyntax(const std::string& s) {
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

static const char* kLabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
static const char* kSubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
static const char* kQualifiedFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
static const char* kQualifiedMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

std::vector<std::string> dns1123LabelMsgs(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() > 63) out.push_back(maxLen(63));
  if (!isLabelSyntax(s)) {
    if (isSubdomainSyntax(s))
      out.push_back("must not contain dots");
    else
      out.push_back(regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                               "and must start and end with an alphanumeric character",
                               kLabelFmt, {"my-name", "123-abc"}));
  }
  return out;
}

std::vector<std::string> dns1123SubdomainMsgs(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() > 253) out.push_back(maxLen(253));
  if (!isSubdomainSyntax(s))
    out.push_back(regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                             "or '.', and must start and end with an alphanumeric character",
                             kSubdomainFmt, {"example.com"}));
  return out;
}

std::vector<std::string> dns1035LabelMsgs(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() > 63) out.push_back(maxLen(63));
  bool ok = isLabelSyntax(s) && s.front() >= 'a' && s.front() <= 'z';
  if (!ok)
    out.push_back(regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                             "an alphabetic character, and end with an alphanumeric character",
                             "[a-z]([-a-z0-9]*[a-z0-9])?", {"my-name", "abc-123"}));
  return out;
}

std::vector<std::string> qualifiedNameMsgs(const std::string& s) {
  std::vector<std::string> out;
  std::string name = s;
  size_t slashes = 0;
  for (char c : s) slashes += c == '/';
  if (slashes > 1)
    return {"a qualified name " + regexError(kQualifiedMsg, kQualifiedFmt, {"MyName", "my.name", "123-abc"}) +
            " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
  if (slashes == 1) {
    auto slash = s.find('/');
    std::string prefix = s.substr(0, slash);
    name = s.substr(slash + 1);
    if (prefix.empty())
      out.push_back("prefix part must be non-empty");
    else
      for (auto& m : dns1123SubdomainMsgs(prefix)) out.push_back("prefix part " + m);
  }
  if (name.empty())
    out.push_back("name part must be non-empty");
  else if (name.size() > 63)
    out.push_back("name part " + maxLen(63));
  if (!isQualifiedPartSyntax(name))
    out.push_back("name part " + regexError(kQualifiedMsg, kQualifiedFmt, {"MyName", "my.name", "123-abc"}));
  return out;
}

std::vector<std::string> labelValueMsgs(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() > 63) out.push_back(maxLen(63));
  if (!s.empty() && !isQualifiedPartSyntax(s))
    out.push_back(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                             "or '.', and must start and end with an alphanumeric character",
                             std::string("(") + kQualifiedFmt + ")?", {"MyValue", "my_value", "12345"}));
  return out;
}

std::vector<std::string> portNameMsgs(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() > 15) out.push_back(maxLen(15));
  bool charset = !s.empty(), letter = false;
  for (char c : s) {
    if (!lowerAlnum(c) && c != '-') charset = false;
    if (c >= 'a' && c <= 'z') letter = true;
  }
  if (!charset) out.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!letter) out.push_back("must contain at least one letter (a-z)");
  if (s.find("--") != std::string::npos) out.push_back("must not contain consecutive hyphens");
  if (!s.empty() && (s.front() == '-' || s.back() == '-')) out.push_back("must not begin or end with a hyphen");
  return out;
}

std::vector<std::string> portNumMsgs(long long port) {
  if (port >= 1 && port <= 65535) return {};
  return {inclusiveRange(1, 65535)};
}

// Config keys and env var names may not be (or start like) a relative path.
static void addDotMsgs(const std::string& s, std::vector<std::string>& out) {
  if (s == ".")
    out.push_back("must not be '.'");
  else if (s == "..")
    out.push_back("must not be '..'");
  else if (s.rfind("..", 0) == 0)
    out.push_back("must not start with '..'");
}

std::vector<std::string> configMapKeyMsgs(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() > 253) out.push_back(maxLen(253));
  bool ok = !s.empty();
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') ok = false;
  if (!ok)
    out.push_back(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                             "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"}));
  addDotMsgs(s, out);
  return out;
}

std::vector<std::string> envVarNameMsgs(const std::string& s) {
  std::vector<std::string> out;
  bool ok = !s.empty() && !(s[0] >= '0' && s[0] <= '9');
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') ok = false;
  if (!ok)
    out.push_back(regexError("a valid environment variable name must consist of alphabetic characters, digits, '_', "
                             "'-', or '.', and must not start with a digit",
                             "[-._a-zA-Z][-._a-zA-Z0-9]*", {"my.env-name", "MY_ENV.NAME", "MyEnvName1"}));
  addDotMsgs(s, out);
  return out;
}

bool isIPv4(const std::string& s) {
  in_addr a;
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool isIPv6(const std::string& s) {
  in6_addr a;
  return s.find(':') != std::string::npos && inet_pton(AF_INET6, s.c_str(), &a) == 1;
}
std::vector<std::string> ipMsgs(const std::string& s) {
  if (isIPv4(s) || isIPv6(s)) return {};
  return {"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"};
}

std::vector<std::string> percentMsgs(const std::string& s) {
  bool ok = s.size() >= 2 && s.back() == '%';
  for (size_t i = 0; ok && i + 1 < s.size(); ++i) ok = s[i] >= '0' && s[i] <= '9';
  if (ok) return {};
  return {regexError("a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%",
                     {"1%", "93%"})};
}

// ---------------------------------------------------------------- quantities

const char* kQuantityRegexMsg =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

std::optional<long double> parseQuantity(const std::string& s) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  size_t numStart = i;
  bool dot = false, digits = false;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !dot))) {
    dot |= s[i] == '.';
    digits |= s[i] != '.';
    ++i;
  }
  if (!digits) return std::nullopt;
  // strtold, not std::stold: a mantissa beyond long double's range ("1" and 5000 zeros, or
  // "0.<5000 zeros>1") is inf or 0 here, where stold threw std::out_of_range out of validation.
  long double value = std::strtold(s.substr(numStart, i - numStart).c_str(), nullptr);
  std::string suffix = s.substr(i);
  static const std::vector<std::pair<std::string, long double>> units = {
      {"", 1},         {"n", 1e-9L},    {"u", 1e-6L},         {"m", 1e-3L},         {"k", 1e3L},
      {"M", 1e6L},     {"G", 1e9L},     {"T", 1e12L},         {"P", 1e15L},         {"E", 1e18L},
      {"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}};
  for (auto& [u, mult] : units)
    if (suffix == u) return (neg ? -1 : 1) * value * mult;
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {  // decimal exponent: 1e3, 5E-2
    size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') ++j;
    if (j >= suffix.size()) return std::nullopt;
    for (size_t k = j; k < suffix.size(); ++k)
      if (suffix[k] < '0' || suffix[k] > '9') return std::nullopt;
    // kube reads the exponent as a 32-bit integer and rejects a larger one.
    int32_t exp = 0;
    auto [end, ec] = std::from_chars(suffix.data() + j, suffix.data() + suffix.size(), exp);
    if (ec != std::errc() || end != suffix.data() + suffix.size()) return std::nullopt;
    if (suffix[1] == '-') exp = -exp;
    if (value == 0) return 0.0L;  // not 0 * pow(10, huge) = NaN
    return (neg ? -1 : 1) * value * std::pow(10.0L, (long double)exp);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- selectors

bool selectorMatches(const Json& selector, const Json& labels) {
  auto labelOf = [&](const std::string& k) -> const Json* { return field(labels, k.c_str()); };
  for (auto& [k, v] : obj(selector, "matchLabels").items()) {
    auto* l = labelOf(k);
    if (!l || *l != v) return false;
  }
  for (auto& ex : arr(selector, "matchExpressions")) {
    std::string k = str(ex, "key"), op = str(ex, "operator");
    auto* l = labelOf(k);
    bool inValues = false;
    if (l)
      for (auto& v : arr(ex, "values")) inValues |= (v == *l);
    if (op == "In" && !(l && inValues)) return false;
    if (op == "NotIn" && l && inValues) return false;
    if (op == "Exists" && !l) return false;
    if (op == "DoesNotExist" && l) return false;
  }
  return true;
}

void validateLabelSelector(Errs& e, const Json& sel, const std::string& path) {
  for (auto& [k, v] : obj(sel, "matchLabels").items()) {
    e.invalidEach(child(path, "matchLabels"), goQuote(k), qualifiedNameMsgs(k));
    std::string val = v.is_string() ? v.get<std::string>() : v.dump();
    e.invalidEach(child(path, "matchLabels"), goQuote(val), labelValueMsgs(val));
  }
  const Json& exprs = arr(sel, "matchExpressions");
  for (size_t i = 0; i < exprs.size(); ++i) {
    std::string p = index(child(path, "matchExpressions"), i);
    std::string op = str(exprs[i], "operator");
    size_t nvals = arr(exprs[i], "values").size();
    if (op == "In" || op == "NotIn") {
      if (nvals == 0) e.required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (nvals > 0) e.forbidden(child(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else {
      e.invalid(child(p, "operator"), goQuote(op), "not a valid selector operator");
    }
    std::string k = str(exprs[i], "key");
    e.invalidEach(child(p, "key"), goQuote(k), qualifiedNameMsgs(k));
  }
}

// ---------------------------------------------------------------- metadata

// A generateName prefix may end in '-': kube masks one trailing dash before checking.
static std::string maskTrailingDash(const std::string& name, bool prefix) {
  if (prefix && name.size() > 1 && name.back() == '-') return name.substr(0, name.size() - 2) + "a";
  return name;
}
std::vector<std::string> nameIsDnsSubdomain(const std::string& n, bool prefix) {
  return dns1123SubdomainMsgs(maskTrailingDash(n, prefix));
}
std::vector<std::string> nameIsDnsLabel(const std::string& n, bool prefix) {
  return dns1123LabelMsgs(maskTrailingDash(n, prefix));
}
std::vector<std::string> nameIsDns1035Label(const std::string& n, bool prefix) {
  return dns1035LabelMsgs(maskTrailingDash(n, prefix));
}

void validateLabels(Errs& e, const Json& labels, const std::string& path) {
  if (!labels.is_object()) return;
  for (auto& [k, v] : labels.items()) {
    e.invalidEach(path, goQuote(k), qualifiedNameMsgs(k));
    std::string val = v.is_string() ? v.get<std::string>() : v.dump();
    e.invalidEach(path, goQuote(val), labelValueMsgs(val));
  }
}

void validateAnnotations(Errs& e, const Json& annotations, const std::string& path) {
  if (!annotations.is_object()) return;
  size_t total = 0;
  for (auto& [k, v] : annotations.items()) {
    std::string lower = k;  // annotation keys are qualified names, case-insensitively
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    e.invalidEach(path, goQuote(k), qualifiedNameMsgs(lower));
    total += k.size() + (v.is_string() ? v.get<std::string>().size() : v.dump().size());
  }
  if (total > 256 * 1024) e.tooLong(path, 256 * 1024);
}

void validateObjectMeta(Errs& e, const Json& meta, bool namespaced, NameFn nameFn, const std::string& path) {
  std::string generateName = str(meta, "generateName"), name = str(meta, "name"), ns = str(meta, "namespace");
  if (!generateName.empty()) e.invalidEach(child(path, "generateName"), goQuote(generateName), nameFn(generateName, true));
  if (name.empty())
    e.required(child(path, "name"), "name or generateName is required");
  else
    e.invalidEach(child(path, "name"), goQuote(name), nameFn(name, false));
  if (namespaced) {
    if (ns.empty())
      e.required(child(path, "namespace"));
    else
      e.invalidEach(child(path, "namespace"), goQuote(ns), dns1123LabelMsgs(ns));
  } else if (!ns.empty()) {
    e.forbidden(child(path, "namespace"), "not allowed on this type");
  }
  if (num(meta, "generation", 0) < 0)
    e.invalid(child(path, "generation"), std::to_string(num(meta, "generation", 0)), kNegative);
  validateLabels(e, obj(meta, "labels"), child(path, "labels"));
  validateAnnotations(e, obj(meta, "annotations"), child(path, "annotations"));
  const Json& finalizers = arr(meta, "finalizers");
  for (size_t i = 0; i < finalizers.size(); ++i) {
    std::string f = finalizers[i].is_string() ? finalizers[i].get<std::string>() : "";
    e.invalidEach(index(child(path, "finalizers"), i), goQuote(f), qualifiedNameMsgs(f));
  }
  const Json& owners = arr(meta, "ownerReferences");
  for (size_t i = 0; i < owners.size(); ++i) {
    std::string p = index(child(path, "ownerReferences"), i);
    if (str(owners[i], "apiVersion").empty()) e.invalid(child(p, "apiVersion"), goQuote(""), "version must not be empty");
    if (str(owners[i], "kind").empty()) e.invalid(child(p, "kind"), goQuote(""), "kind must not be empty");
    if (str(owners[i], "name").empty()) e.invalid(child(p, "name"), goQuote(""), "name must not be empty");
    if (str(owners[i], "uid").empty()) e.invalid(child(p, "uid"), goQuote(""), "uid must not be empty");
  }
}

void validateObjectMetaUpdate(Errs& e, const Json& meta, const Json& oldMeta, const std::string& path) {
  // uid and creationTimestamp are carried over by the registry when the request omits them
  // (kube's BeforeUpdate), so only a conflicting value is an error here.
  auto immutable = [&](const char* f, bool omittedIsOk) {
    std::string now = str(meta, f), was = str(oldMeta, f);
    if (now != was && !(omittedIsOk && now.empty())) e.invalid(child(path, f), goQuote(now), kImmutable);
  };
  immutable("name", false);
  immutable("namespace", false);
  immutable("uid", true);
  if (num(meta, "generation", 0) < num(oldMeta, "generation", 0))
    e.invalid(child(path, "generation"), std::to_string(num(meta, "generation", 0)), "must not be decremented");
  validateLabels(e, obj(meta, "labels"), child(path, "labels"));
  validateAnnotations(e, obj(meta, "annotations"), child(path, "annotations"));
}

}  // namespace vi

// ---------------------------------------------------------------- public helpers

bool isDns1123Label(const std::string& s) { return vi::dns1123LabelMsgs(s).empty(); }
bool isDns1123Subdomain(const std::string& s) { return vi::dns1123SubdomainMsgs(s).empty(); }
bool isQualifiedName(const std::string& s) { return vi::qualifiedNameMsgs(s).empty(); }
bool isLabelValue(const std::string& s) { return vi::labelValueMsgs(s).empty(); }

}  // namespace k1s
