#include "controller/scheduler_fit.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "common/meta.h"

namespace k1s {

namespace {

const Json& field(const Json& o, const char* k) {
  static const Json null;
  if (!o.is_object()) return null;
  auto it = o.find(k);
  return it == o.end() ? null : *it;
}

std::string str(const Json& o, const char* k) {
  const Json& v = field(o, k);
  return v.is_string() ? v.get<std::string>() : "";
}

long long quantityOf(const Json& v) {
  if (v.is_number()) return (long long)std::llround(v.get<double>() * 1000);
  if (v.is_string()) return parseMilliQuantity(v.get<std::string>());
  return -1;
}

void addResources(ResourceList& into, const Json& list) {
  if (!list.is_object()) return;
  for (auto& [k, v] : list.items()) {
    long long q = quantityOf(v);
    if (q > 0) into[k] += q;
  }
}

ResourceList containerRequests(const Json& c) {
  const Json& res = field(c, "resources");
  ResourceList r;
  addResources(r, field(res, "requests"));
  // Requests default to limits when only limits are given.
  ResourceList lim;
  addResources(lim, field(res, "limits"));
  for (auto& [k, v] : lim)
    if (!r.count(k)) r[k] = v;
  return r;
}

bool tolerates(const Json& tol, const Json& taint) {
  std::string effect = str(tol, "effect");
  if (!effect.empty() && effect != str(taint, "effect")) return false;
  std::string op = str(tol, "operator");
  std::string key = str(tol, "key");
  if (key.empty()) return op == "Exists";  // an empty key with Exists tolerates everything
  if (key != str(taint, "key")) return false;
  if (op == "Exists") return true;
  return str(tol, "value") == str(taint, "value");
}

bool matchExpression(const Json& expr, const Json& labels) {
  std::string key = str(expr, "key"), op = str(expr, "operator");
  const Json& values = field(expr, "values");
  auto it = labels.is_object() ? labels.find(key) : labels.end();
  bool has = labels.is_object() && it != labels.end();
  std::string v = has && it->is_string() ? it->get<std::string>() : "";
  auto in = [&] {
    if (!values.is_array()) return false;
    for (auto& x : values)
      if (x == v) return true;
    return false;
  };
  if (op == "In") return has && in();
  if (op == "NotIn") return !has || !in();
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if ((op == "Gt" || op == "Lt") && has && values.is_array() && values.size() == 1 && values[0].is_string()) {
    char* end = nullptr;
    long long a = strtoll(v.c_str(), &end, 10);
    if (*end) return false;
    long long b = strtoll(values[0].get<std::string>().c_str(), &end, 10);
    if (*end) return false;
    return op == "Gt" ? a > b : a < b;
  }
  return false;
}

bool matchesNodeSelectorTerms(const Json& terms, const Json& node) {
  if (!terms.is_array()) return false;
  Json labels = labelsOf(node);
  Json fields = {{"metadata.name", nameOf(node)}};
  for (auto& term : terms) {
    const Json& exprs = field(term, "matchExpressions");
    const Json& fexprs = field(term, "matchFields");
    if ((!exprs.is_array() || exprs.empty()) && (!fexprs.is_array() || fexprs.empty())) continue;  // matches nothing
    bool all = true;
    if (exprs.is_array())
      for (auto& e : exprs) all = all && matchExpression(e, labels);
    if (fexprs.is_array())
      for (auto& e : fexprs) all = all && matchExpression(e, fields);
    if (all) return true;
  }
  return false;
}

bool matchesNodeAffinity(const Json& pod, const Json& node) {
  const Json& sel = field(field(pod, "spec"), "nodeSelector");
  Json labels = labelsOf(node);
  if (sel.is_object())
    for (auto& [k, v] : sel.items()) {
      auto it = labels.find(k);
      if (it == labels.end() || *it != v) return false;
    }
  const Json& required =
      field(field(field(field(pod, "spec"), "affinity"), "nodeAffinity"), "requiredDuringSchedulingIgnoredDuringExecution");
  if (required.is_object()) return matchesNodeSelectorTerms(field(required, "nodeSelectorTerms"), node);
  return true;
}

std::vector<std::string> podHostPorts(const Json& pod) {
  std::vector<std::string> out;
  const Json& cs = field(field(pod, "spec"), "containers");
  if (!cs.is_array()) return out;
  for (auto& c : cs) {
    const Json& ports = field(c, "ports");
    if (!ports.is_array()) continue;
    for (auto& p : ports) {
      int hp = p.value("hostPort", 0);
      if (hp <= 0) continue;
      std::string ip = str(p, "hostIP");
      out.push_back(p.value("protocol", "TCP") + "/" + (ip.empty() ? "0.0.0.0" : ip) + "/" + std::to_string(hp));
    }
  }
  return out;
}

bool portsConflict(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s, std::string& proto, std::string& ip, std::string& port) {
    auto p1 = s.find('/'), p2 = s.rfind('/');
    proto = s.substr(0, p1);
    ip = s.substr(p1 + 1, p2 - p1 - 1);
    port = s.substr(p2 + 1);
  };
  std::string pa, ia, na, pb, ib, nb;
  split(a, pa, ia, na);
  split(b, pb, ib, nb);
  return pa == pb && na == nb && (ia == ib || ia == "0.0.0.0" || ib == "0.0.0.0");
}

}  // namespace

long long parseMilliQuantity(const std::string& s) {
  if (s.empty()) return -1;
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  while (i < s.size() && (isdigit((unsigned char)s[i]) || s[i] == '.')) ++i;
  std::string num = s.substr(0, i), suffix = s.substr(i);
  if (num.empty() || num == "+" || num == "-") return -1;
  char* end = nullptr;
  long double v = strtold(num.c_str(), &end);
  if (*end) return -1;
  static const std::map<std::string, long double> mult = {
      {"", 1},       {"n", 1e-9},  {"u", 1e-6},  {"m", 1e-3},  {"k", 1e3},   {"M", 1e6},   {"G", 1e9},
      {"T", 1e12},   {"P", 1e15},  {"E", 1e18},  {"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L},
      {"Ti", 1099511627776.0L}, {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}};
  auto it = mult.find(suffix);
  if (it != mult.end()) {
    v *= it->second;
  } else if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E')) {
    char* e2 = nullptr;
    long exp = strtol(suffix.c_str() + 1, &e2, 10);
    if (*e2) return -1;
    v *= std::pow(10.0L, exp);
  } else {
    return -1;
  }
  // kube rounds requests up, and saturates a value beyond int64 ("1E" is 1e21 milli-units;
  // a plain cast of it is undefined behaviour). NaN (0 times an infinite exponent) is 0.
  long double milli = std::ceil(v * 1000 - 1e-6L);
  if (std::isnan(milli)) return 0;
  if (milli >= 9223372036854775807.0L) return LLONG_MAX;
  if (milli <= -9223372036854775808.0L) return LLONG_MIN;
  return (long long)milli;
}

ResourceList podRequests(const Json& pod) {
  const Json& spec = field(pod, "spec");
  ResourceList total;
  if (field(spec, "containers").is_array())
    for (auto& c : spec["containers"])
      for (auto& [k, v] : containerRequests(c)) total[k] += v;
  if (field(spec, "initContainers").is_array())
    for (auto& c : spec["initContainers"])
      for (auto& [k, v] : containerRequests(c)) total[k] = std::max(total[k], v);
  addResources(total, field(spec, "overhead"));
  total["pods"] = 1000;
  return total;
}

void addPodToUsage(NodeUsage& u, const Json& pod) {
  for (auto& [k, v] : podRequests(pod)) u.requested[k] += v;
  for (auto& p : podHostPorts(pod)) u.hostPorts.push_back(p);
}

bool isResourceReason(const std::string& reason) {
  return reason.rfind("Insufficient ", 0) == 0 || reason == "Too many pods";
}

std::vector<std::string> unfitReasons(const Json& pod, const Json& node, const NodeUsage& usage) {
  const Json& nodeSpec = field(node, "spec");
  if (field(nodeSpec, "unschedulable") == true) {
    // A pod tolerating the unschedulable taint may still go there.
    bool tolerated = false;
    const Json& tols = field(field(pod, "spec"), "tolerations");
    Json taint = {{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}};
    if (tols.is_array())
      for (auto& t : tols) tolerated = tolerated || tolerates(t, taint);
    if (!tolerated) return {"node(s) were unschedulable"};
  }
  const Json& taints = field(nodeSpec, "taints");
  if (taints.is_array())
    for (auto& taint : taints) {
      std::string effect = str(taint, "effect");
      if (effect != "NoSchedule" && effect != "NoExecute") continue;
      bool tolerated = false;
      const Json& tols = field(field(pod, "spec"), "tolerations");
      if (tols.is_array())
        for (auto& t : tols) tolerated = tolerated || tolerates(t, taint);
      if (!tolerated) return {"node(s) had untolerated taint {" + str(taint, "key") + ": " + str(taint, "value") + "}"};
    }
  if (!matchesNodeAffinity(pod, node)) return {"node(s) didn't match Pod's node affinity/selector"};
  for (auto& want : podHostPorts(pod))
    for (auto& have : usage.hostPorts)
      if (portsConflict(want, have)) return {"node(s) didn't have free ports for the requested pod ports"};

  std::vector<std::string> reasons;
  ResourceList allocatable;
  addResources(allocatable, field(field(node, "status"), "allocatable"));
  for (auto& [res, want] : podRequests(pod)) {
    if (want <= 0) continue;
    auto used = usage.requested.count(res) ? usage.requested.at(res) : 0;
    long long have = allocatable.count(res) ? allocatable[res] : 0;
    // Extended resources the node does not advertise are missing; standard ones are checked when advertised.
    if (!allocatable.count(res) && (res == "cpu" || res == "memory" || res == "ephemeral-storage" || res == "pods"))
      continue;
    if (used + want > have) reasons.push_back(res == "pods" ? "Too many pods" : "Insufficient " + res);
  }
  std::sort(reasons.begin(), reasons.end());
  return reasons;
}

std::string unschedulableMessage(size_t nodeCount, const std::vector<std::vector<std::string>>& reasonsPerNode) {
  if (nodeCount == 0) return "no nodes available to schedule pods";
  std::map<std::string, int> counts;
  size_t resourceNodes = 0;
  for (auto& reasons : reasonsPerNode) {
    bool resource = false;
    for (auto& r : reasons) {
      ++counts[r];
      resource = resource || isResourceReason(r);
    }
    if (resource) ++resourceNodes;
  }
  std::string n = std::to_string(nodeCount);
  std::string out = "0/" + n + " nodes are available: ";
  bool first = true;
  for (auto& [r, c] : counts) {
    out += (first ? "" : ", ") + std::to_string(c) + " " + r;
    first = false;
  }
  out += ". preemption: 0/" + n + " nodes are available: ";
  std::vector<std::string> pre;
  if (resourceNodes) pre.push_back(std::to_string(resourceNodes) + " No preemption victims found for incoming pod");
  if (nodeCount > resourceNodes)
    pre.push_back(std::to_string(nodeCount - resourceNodes) + " Preemption is not helpful for scheduling");
  for (size_t i = 0; i < pre.size(); ++i) out += (i ? ", " : "") + pre[i];
  return out + ".";
}

}  // namespace k1s
