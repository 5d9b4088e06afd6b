// describe: deployments, replicasets, services, namespaces, nodes, configmaps,
// endpoints, and a generic fallback; plus the `describe` verb itself.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "cli/kubectl_describe.h"
#include "cli/kubectl_print.h"
#include "cli/kubectl_verbs.h"
#include "common/meta.h"
#include "common/yaml.h"

namespace k1s::cli {

namespace {

std::string str(const Json& j, const char* key, const std::string& def = "") {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string num(const Json& j, const char* key) { return std::to_string(j.is_object() ? j.value(key, 0) : 0); }

std::string header(const Json& obj, bool withNamespace) {
  Json meta = metaOf(obj);
  std::string out = "Name:\t" + str(meta, "name") + "\n";
  if (withNamespace) out += "Namespace:\t" + str(meta, "namespace") + "\n";
  return out;
}

std::string labelsAndAnnotations(const Json& obj) {
  Json meta = metaOf(obj);
  return labelsMultiline("Labels", meta.value("labels", Json::object())) +
         annotationsMultiline("Annotations", meta.value("annotations", Json::object()));
}

// metav1.FormatLabelSelector: matchLabels as k=v, expressions as "k in (a,b)".
std::string formatSelector(const Json& sel) {
  if (!sel.is_object()) return "<none>";
  std::vector<std::string> parts;
  const Json matchLabels = sel.value("matchLabels", Json::object());
  for (auto& [k, v] : matchLabels.items()) parts.push_back(k + "=" + v.get<std::string>());
  for (auto& e : sel.value("matchExpressions", Json::array())) {
    std::string op = str(e, "operator"), key = str(e, "key");
    std::string values;
    for (auto& v : e.value("values", Json::array())) values += (values.empty() ? "" : ",") + v.get<std::string>();
    if (op == "In") parts.push_back(key + " in (" + values + ")");
    else if (op == "NotIn") parts.push_back(key + " notin (" + values + ")");
    else if (op == "Exists") parts.push_back(key);
    else if (op == "DoesNotExist") parts.push_back("!" + key);
  }
  std::string out;
  for (auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out.empty() ? "<none>" : out;
}

std::string selectorQuery(const Json& matchLabels) {
  std::string s;
  for (auto& [k, v] : matchLabels.items()) s += (s.empty() ? "" : ",") + k + "=" + v.get<std::string>();
  return queryString({{"labelSelector", s}});
}

std::string conditionsTable(const Json& conds) {
  if (!conds.is_array() || conds.empty()) return "";
  std::string out = "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n";
  for (auto& c : conds) out += "  " + str(c, "type") + " \t" + str(c, "status") + "\t" + str(c, "reason") + "\n";
  return out;
}

bool ownedBy(const Json& obj, const std::string& uid) {
  for (auto& o : metaOf(obj).value("ownerReferences", Json::array()))
    if (str(o, "uid") == uid) return true;
  return false;
}

}  // namespace

std::string describeDeployment(const Json& d, const Fetch& fetch, long long now) {
  Json meta = metaOf(d), spec = d.value("spec", Json::object()), status = d.value("status", Json::object());
  std::string out = header(d, true);
  out += "CreationTimestamp:\t" + describeTime(str(meta, "creationTimestamp")) + "\n";
  out += labelsAndAnnotations(d);
  out += "Selector:\t" + formatSelector(spec.value("selector", Json())) + "\n";
  out += "Replicas:\t" + num(spec, "replicas") + " desired | " + num(status, "updatedReplicas") + " updated | " +
         num(status, "replicas") + " total | " + num(status, "availableReplicas") + " available | " +
         num(status, "unavailableReplicas") + " unavailable\n";
  Json strategy = spec.value("strategy", Json::object());
  std::string type = str(strategy, "type", "RollingUpdate");
  out += "StrategyType:\t" + type + "\n";
  out += "MinReadySeconds:\t" + num(spec, "minReadySeconds") + "\n";
  if (type == "RollingUpdate") {
    Json ru = strategy.value("rollingUpdate", Json::object());
    out += "RollingUpdateStrategy:\t" + str(ru, "maxUnavailable", "25%") + " max unavailable, " +
           str(ru, "maxSurge", "25%") + " max surge\n";
  }
  out += podTemplateSection(spec.value("template", Json::object()), now);
  out += conditionsTable(status.value("conditions", Json::array()));
  // New = the owned ReplicaSet at the deployment's revision; old = the others still holding pods.
  std::string revision = str(meta.value("annotations", Json::object()), "deployment.kubernetes.io/revision");
  std::vector<std::string> olds;
  std::string fresh;
  Json rsList = fetch("/apis/apps/v1/namespaces/" + str(meta, "namespace") + "/replicasets" +
                      selectorQuery(spec.value("selector", Json::object()).value("matchLabels", Json::object())));
  if (rsList.is_object()) {
    for (auto& rs : rsList.value("items", Json::array())) {
      if (!ownedBy(rs, str(meta, "uid"))) continue;
      std::string text = nameOf(rs) + " (" + num(rs.value("status", Json::object()), "replicas") + "/" +
                         num(rs.value("spec", Json::object()), "replicas") + " replicas created)";
      std::string rev = str(metaOf(rs).value("annotations", Json::object()), "deployment.kubernetes.io/revision");
      if (!revision.empty() && rev == revision)
        fresh = text;
      else if (rs.value("spec", Json::object()).value("replicas", 0) > 0)
        olds.push_back(text);
    }
  }
  // kubectl leaves both lines out while the deployment has no replica sets yet.
  if (!olds.empty() || !fresh.empty()) {
    std::string oldText;
    for (auto& o : olds) oldText += (oldText.empty() ? "" : ", ") + o;
    out += "OldReplicaSets:\t" + (oldText.empty() ? "<none>" : oldText) + "\n";
    out += "NewReplicaSet:\t" + (fresh.empty() ? "<none>" : fresh) + "\n";
  }
  out += eventsFor(d, fetch, now);
  return out;
}

std::string describeReplicaSet(const Json& rs, const Fetch& fetch, long long now) {
  Json meta = metaOf(rs), spec = rs.value("spec", Json::object()), status = rs.value("status", Json::object());
  std::string out = header(rs, true);
  out += "Selector:\t" + formatSelector(spec.value("selector", Json())) + "\n";
  out += labelsAndAnnotations(rs);
  Json ctrl = controllerRef(rs);
  if (ctrl.is_object()) out += "Controlled By:\t" + str(ctrl, "kind") + "/" + str(ctrl, "name") + "\n";
  out += "Replicas:\t" + num(status, "replicas") + " current / " + num(spec, "replicas") + " desired\n";
  int running = 0, waiting = 0, succeeded = 0, failed = 0;
  Json pods = fetch("/api/v1/namespaces/" + str(meta, "namespace") + "/pods" +
                    selectorQuery(spec.value("selector", Json::object()).value("matchLabels", Json::object())));
  if (pods.is_object())
    for (auto& p : pods.value("items", Json::array())) {
      if (!ownedBy(p, str(meta, "uid"))) continue;
      std::string phase = str(p.value("status", Json::object()), "phase");
      if (phase == "Running") ++running;
      else if (phase == "Pending") ++waiting;
      else if (phase == "Succeeded") ++succeeded;
      else if (phase == "Failed") ++failed;
    }
  out += "Pods Status:\t" + std::to_string(running) + " Running / " + std::to_string(waiting) + " Waiting / " +
         std::to_string(succeeded) + " Succeeded / " + std::to_string(failed) + " Failed\n";
  out += podTemplateSection(spec.value("template", Json::object()), now);
  out += conditionsTable(status.value("conditions", Json::array()));
  out += eventsFor(rs, fetch, now);
  return out;
}

static std::string portValue(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string describeService(const Json& svc, const Fetch& fetch, long long now) {
  Json meta = metaOf(svc), spec = svc.value("spec", Json::object()), status = svc.value("status", Json::object());
  std::string out = header(svc, true) + labelsAndAnnotations(svc);
  Json selector = spec.value("selector", Json::object());
  std::string sel;
  for (auto& [k, v] : selector.items()) sel += (sel.empty() ? "" : ",") + k + "=" + v.get<std::string>();
  out += "Selector:\t" + (sel.empty() ? "<none>" : sel) + "\n";
  std::string type = str(spec, "type", "ClusterIP");
  out += "Type:\t" + type + "\n";
  if (!str(spec, "ipFamilyPolicy").empty()) out += "IP Family Policy:\t" + str(spec, "ipFamilyPolicy") + "\n";
  Json families = spec.value("ipFamilies", Json::array());
  if (!families.empty()) {
    std::string f;
    for (auto& x : families) f += (f.empty() ? "" : ",") + x.get<std::string>();
    out += "IP Families:\t" + f + "\n";
  }
  if (type == "ExternalName") {
    out += "External Name:\t" + str(spec, "externalName") + "\n";
  } else {
    out += "IP:\t" + str(spec, "clusterIP") + "\n";
    Json ips = spec.value("clusterIPs", Json::array());
    if (!ips.empty()) {
      std::string s;
      for (auto& x : ips) s += (s.empty() ? "" : ",") + x.get<std::string>();
      out += "IPs:\t" + s + "\n";
    }
  }
  Json ext = spec.value("externalIPs", Json::array());
  if (!ext.empty()) {
    std::string s;
    for (auto& x : ext) s += (s.empty() ? "" : ",") + x.get<std::string>();
    out += "External IPs:\t" + s + "\n";
  }
  Json ingress = status.value("loadBalancer", Json::object()).value("ingress", Json::array());
  if (!ingress.empty()) {
    std::string s;
    for (auto& i : ingress) s += (s.empty() ? "" : ", ") + (str(i, "ip").empty() ? str(i, "hostname") : str(i, "ip"));
    out += "LoadBalancer Ingress:\t" + s + "\n";
  }
  Json endpoints = fetch("/api/v1/namespaces/" + str(meta, "namespace") + "/endpoints/" + str(meta, "name"));
  for (auto& p : spec.value("ports", Json::array())) {
    std::string name = str(p, "name");
    std::string proto = str(p, "protocol", "TCP");
    out += "Port:\t" + (name.empty() ? "<unset>" : name) + "\t" + num(p, "port") + "/" + proto + "\n";
    Json tp = p.value("targetPort", Json());
    out += "TargetPort:\t" + (tp.is_null() ? num(p, "port") : portValue(tp)) + "/" + proto + "\n";
    if (p.value("nodePort", 0) != 0)
      out += "NodePort:\t" + (name.empty() ? "<unset>" : name) + "\t" + num(p, "nodePort") + "/" + proto + "\n";
    // Endpoints of this port: addresses of subsets whose port matches by name.
    std::vector<std::string> addrs;
    if (endpoints.is_object())
      for (auto& ss : endpoints.value("subsets", Json::array()))
        for (auto& ep : ss.value("ports", Json::array()))
          if (str(ep, "name") == name)
            for (auto& a : ss.value("addresses", Json::array())) addrs.push_back(str(a, "ip") + ":" + num(ep, "port"));
    std::string list;
    for (size_t i = 0; i < addrs.size() && i < 3; ++i) list += (i ? "," : "") + addrs[i];
    if (addrs.size() > 3) list += " + " + std::to_string(addrs.size() - 3) + " more...";
    out += "Endpoints:\t" + (list.empty() ? "<none>" : list) + "\n";
  }
  out += "Session Affinity:\t" + str(spec, "sessionAffinity", "None") + "\n";
  if (type == "NodePort" || type == "LoadBalancer")
    out += "External Traffic Policy:\t" + str(spec, "externalTrafficPolicy", "Cluster") + "\n";
  if (!str(spec, "internalTrafficPolicy").empty())
    out += "Internal Traffic Policy:\t" + str(spec, "internalTrafficPolicy") + "\n";
  out += eventsFor(svc, fetch, now);
  return out;
}

std::string describeNamespace(const Json& ns, const Fetch& fetch, long long now) {
  std::string out = header(ns, false) + labelsAndAnnotations(ns);
  out += "Status:\t" + str(ns.value("status", Json::object()), "phase", "Active") + "\n";
  // Sections for quota and limit ranges appear only when the server serves them.
  std::string name = str(metaOf(ns), "name");
  Json quotas = fetch("/api/v1/namespaces/" + name + "/resourcequotas");
  if (quotas.is_object() && quotas.value("items", Json::array()).empty()) out += "\nNo resource quota.\n";
  Json limits = fetch("/api/v1/namespaces/" + name + "/limitranges");
  if (limits.is_object() && limits.value("items", Json::array()).empty()) out += "\nNo LimitRange resource.\n";
  (void)now;
  return out;
}

// A resource quantity ("100m", "2", "128Mi", "1G", "1e3") as milli-units; `binary` when written
// with a binary suffix (Ki, Mi, ...), which decides how sums of it are printed.
struct Quantity {
  long double milli = 0;
  bool binary = false;
};

Quantity parseQuantity(const Json& v) {
  Quantity q;
  if (v.is_number()) {
    q.milli = v.get<long double>() * 1000;
    return q;
  }
  if (!v.is_string()) return q;
  std::string s = v.get<std::string>();
  size_t end = 0;
  long double n = 0;
  try {
    n = std::stold(s, &end);
  } catch (const std::exception&) {
    return q;
  }
  std::string suf = s.substr(end);
  static const std::map<std::string, long double> dec = {{"", 1},      {"m", 1e-3}, {"k", 1e3},  {"M", 1e6},
                                                          {"G", 1e9},  {"T", 1e12}, {"P", 1e15}, {"E", 1e18}};
  static const std::map<std::string, int> bin = {{"Ki", 1}, {"Mi", 2}, {"Gi", 3}, {"Ti", 4}, {"Pi", 5}, {"Ei", 6}};
  if (auto it = dec.find(suf); it != dec.end()) {
    q.milli = n * it->second * 1000;
  } else if (auto b = bin.find(suf); b != bin.end()) {
    long double m = 1;
    for (int i = 0; i < b->second; ++i) m *= 1024;
    q.milli = n * m * 1000;
    q.binary = true;
  }
  return q;
}

// Quantity.String() of a sum: the canonical form in the first addend's format.
std::string quantityText(const Quantity& q) {
  long long milli = static_cast<long long>(q.milli + 0.5L);
  if (milli == 0) return "0";
  if (milli % 1000 != 0) return std::to_string(milli) + "m";
  long long n = milli / 1000;
  if (q.binary) {
    static const char* suf[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int i = 0;
    while (i < 6 && n % 1024 == 0 && n >= 1024) n /= 1024, ++i;
    return std::to_string(n) + suf[i];
  }
  static const char* suf[] = {"", "k", "M", "G", "T", "P", "E"};
  int i = 0;
  while (i < 6 && n % 1000 == 0) n /= 1000, ++i;
  return std::to_string(n) + suf[i];
}

// resourcehelper.PodRequestsAndLimits: containers summed, each init container a floor, overhead added.
void podRequestsAndLimits(const Json& pod, std::map<std::string, Quantity>& reqs, std::map<std::string, Quantity>& limits) {
  Json spec = pod.value("spec", Json::object());
  auto add = [](std::map<std::string, Quantity>& into, const Json& list) {
    if (!list.is_object()) return;
    for (auto& [name, v] : list.items()) {
      Quantity q = parseQuantity(v);
      auto it = into.find(name);
      if (it == into.end()) into[name] = q;
      else it->second.milli += q.milli;
    }
  };
  auto floor = [](std::map<std::string, Quantity>& into, const Json& list) {
    if (!list.is_object()) return;
    for (auto& [name, v] : list.items()) {
      Quantity q = parseQuantity(v);
      auto it = into.find(name);
      if (it == into.end()) into[name] = q;
      else if (q.milli > it->second.milli) it->second.milli = q.milli;
    }
  };
  for (auto& c : spec.value("containers", Json::array())) {
    Json res = c.value("resources", Json::object());
    add(reqs, res.value("requests", Json::object()));
    add(limits, res.value("limits", Json::object()));
  }
  for (auto& c : spec.value("initContainers", Json::array())) {
    Json res = c.value("resources", Json::object());
    floor(reqs, res.value("requests", Json::object()));
    floor(limits, res.value("limits", Json::object()));
  }
  add(reqs, spec.value("overhead", Json::object()));
  if (!limits.empty()) add(limits, spec.value("overhead", Json::object()));
}

// "100m (5%)": the amount and its share of the node's allocatable (0% when that is 0).
std::string withFraction(const std::map<std::string, Quantity>& m, const std::string& name, const Json& allocatable,
                         bool byMilli) {
  Quantity q;
  if (auto it = m.find(name); it != m.end()) q = it->second;
  Quantity alloc = parseQuantity(allocatable.value(name, Json("0")));
  long double a = byMilli ? alloc.milli : std::ceil(alloc.milli / 1000), v = byMilli ? q.milli : std::ceil(q.milli / 1000);
  long long pct = a != 0 ? static_cast<long long>(static_cast<double>(v) / static_cast<double>(a) * 100) : 0;
  return quantityText(q) + " (" + std::to_string(pct) + "%)";
}

std::string describeNode(const Json& node, const Fetch& fetch, long long now) {
  Json meta = metaOf(node), spec = node.value("spec", Json::object()), status = node.value("status", Json::object());
  std::string out = header(node, false);
  std::vector<std::string> roles;
  const Json labels = meta.value("labels", Json::object());
  for (auto& [k, v] : labels.items()) {
    const std::string p = "node-role.kubernetes.io/";
    if (k.compare(0, p.size(), p) == 0) roles.push_back(k.substr(p.size()));
  }
  std::string r;
  for (auto& x : roles) r += (r.empty() ? "" : ",") + x;
  out += "Roles:\t" + (r.empty() ? "<none>" : r) + "\n";
  out += labelsAndAnnotations(node);
  out += "CreationTimestamp:\t" + describeTime(str(meta, "creationTimestamp")) + "\n";
  Json taints = spec.value("taints", Json::array());
  if (taints.empty()) {
    out += "Taints:\t<none>\n";
  } else {
    bool first = true;
    for (auto& t : taints) {
      out += (first ? "Taints:\t" : "\t") + str(t, "key") + (str(t, "value").empty() ? "" : "=" + str(t, "value")) + ":" +
             str(t, "effect") + "\n";
      first = false;
    }
  }
  out += std::string("Unschedulable:\t") + (spec.value("unschedulable", false) ? "true" : "false") + "\n";
  Json lease = fetch("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + str(meta, "name"));
  if (lease.is_object()) {
    Json ls = lease.value("spec", Json::object());
    auto timeOrUnset = [&](const char* key) {
      return str(ls, key).empty() ? std::string("<unset>") : describeTime(str(ls, key));
    };
    out += "Lease:\n  HolderIdentity:\t" + (str(ls, "holderIdentity").empty() ? "<unset>" : str(ls, "holderIdentity")) +
           "\n  AcquireTime:\t" + timeOrUnset("acquireTime") + "\n  RenewTime:\t" + timeOrUnset("renewTime") + "\n";
  }
  Json conds = status.value("conditions", Json::array());
  if (!conds.empty()) {
    out += "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n"
           "  ----\t------\t-----------------\t------------------\t------\t-------\n";
    for (auto& c : conds)
      out += "  " + str(c, "type") + " \t" + str(c, "status") + " \t" + describeTime(str(c, "lastHeartbeatTime")) + " \t" +
             describeTime(str(c, "lastTransitionTime")) + " \t" + str(c, "reason") + " \t" + str(c, "message") + "\n";
  }
  out += "Addresses:\n";
  for (auto& a : status.value("addresses", Json::array())) out += "  " + str(a, "type") + ":\t" + str(a, "address") + "\n";
  for (const char* section : {"capacity", "allocatable"}) {
    Json m = status.value(section, Json::object());
    if (m.empty()) continue;
    out += std::string(section[0] == 'c' ? "Capacity" : "Allocatable") + ":\n";
    for (auto& [k, v] : m.items()) out += "  " + k + ":\t" + portValue(v) + "\n";
  }
  Json info = status.value("nodeInfo", Json::object());
  if (!info.empty()) {
    out += "System Info:\n";
    const std::pair<const char*, const char*> fields[] = {
        {"Machine ID", "machineID"},   {"System UUID", "systemUUID"},   {"Boot ID", "bootID"},
        {"Kernel Version", "kernelVersion"}, {"OS Image", "osImage"}, {"Operating System", "operatingSystem"},
        {"Architecture", "architecture"}, {"Container Runtime Version", "containerRuntimeVersion"},
        {"Kubelet Version", "kubeletVersion"}, {"Kube-Proxy Version", "kubeProxyVersion"}};
    for (auto& [label, key] : fields) out += "  " + std::string(label) + ":\t" + str(info, key) + "\n";
  }
  if (!str(spec, "podCIDR").empty()) out += "PodCIDR:\t" + str(spec, "podCIDR") + "\n";
  Json cidrs = spec.value("podCIDRs", Json::array());
  if (!cidrs.empty()) {
    std::string s;
    for (auto& c : cidrs) s += (s.empty() ? "" : ",") + c.get<std::string>();
    out += "PodCIDRs:\t" + s + "\n";
  }
  Json pods = fetch("/api/v1/pods" + queryString({{"fieldSelector", "spec.nodeName=" + str(meta, "name") +
                                                                         ",status.phase!=Succeeded,status.phase!=Failed"}}));
  if (pods.is_object()) {
    auto items = pods.value("items", Json::array());
    Json alloc = status.value("allocatable", Json::object());
    if (alloc.empty()) alloc = status.value("capacity", Json::object());
    std::map<std::string, Quantity> totalReqs, totalLimits;
    out += "Non-terminated Pods:\t(" + std::to_string(items.size()) + " in total)\n";
    out += "  Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n"
           "  ---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n";
    for (auto& p : items) {
      std::map<std::string, Quantity> reqs, limits;
      podRequestsAndLimits(p, reqs, limits);
      for (auto* pair : {&reqs, &limits})
        for (auto& [name, q] : *pair) {
          auto& total = pair == &reqs ? totalReqs : totalLimits;
          auto it = total.find(name);
          if (it == total.end()) total[name] = q;
          else it->second.milli += q.milli;
        }
      out += "  " + namespaceOf(p) + "\t" + nameOf(p) + "\t\t" + withFraction(reqs, "cpu", alloc, true) + "\t" +
             withFraction(limits, "cpu", alloc, true) + "\t" + withFraction(reqs, "memory", alloc, false) + "\t" +
             withFraction(limits, "memory", alloc, false) + "\t" +
             humanDuration(now - parseRfc3339(str(metaOf(p), "creationTimestamp"))) + "\n";
    }
    out += "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n"
           "  Resource\tRequests\tLimits\n  --------\t--------\t------\n";
    for (const char* r : {"cpu", "memory", "ephemeral-storage"})
      out += std::string("  ") + r + "\t" + withFraction(totalReqs, r, alloc, std::string(r) == "cpu") + "\t" +
             withFraction(totalLimits, r, alloc, std::string(r) == "cpu") + "\n";
    std::vector<std::string> extended;
    for (auto& [name, v] : alloc.items()) {
      if (name.compare(0, 10, "hugepages-") == 0)
        out += "  " + name + "\t" + withFraction(totalReqs, name, alloc, false) + "\t" +
               withFraction(totalLimits, name, alloc, false) + "\n";
      else if (name != "cpu" && name != "memory" && name != "ephemeral-storage" && name != "pods" &&
               name != "storage")
        extended.push_back(name);
    }
    for (auto& name : extended) {
      auto text = [&](const std::map<std::string, Quantity>& m) {
        auto it = m.find(name);
        return it == m.end() ? std::string("0") : quantityText(it->second);
      };
      out += "  " + name + "\t" + text(totalReqs) + "\t" + text(totalLimits) + "\n";
    }
  }
  out += eventsFor(node, fetch, now);
  return out;
}

std::string describeConfigMap(const Json& cm, const Fetch& fetch, long long now) {
  std::string out = header(cm, true) + labelsAndAnnotations(cm);
  out += "\nData\n====\n";
  const Json data = cm.value("data", Json::object()), binaryData = cm.value("binaryData", Json::object());
  for (auto& [k, v] : data.items())
    out += k + ":\n----\n" + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n\n";
  out += "\nBinaryData\n====\n";
  for (auto& [k, v] : binaryData.items())
    out += k + ": " + std::to_string(v.is_string() ? v.get<std::string>().size() * 3 / 4 : 0) + " bytes\n";
  out += "\n" + eventsFor(cm, fetch, now);
  return out;
}

std::string describeEndpoints(const Json& ep, const Fetch& fetch, long long now) {
  std::string out = header(ep, true) + labelsAndAnnotations(ep);
  out += "Subsets:\n";
  for (auto& ss : ep.value("subsets", Json::array())) {
    auto ips = [&](const char* key) {
      std::string s;
      for (auto& a : ss.value(key, Json::array())) s += (s.empty() ? "" : ",") + str(a, "ip");
      return s.empty() ? std::string("<none>") : s;
    };
    out += "  Addresses:\t" + ips("addresses") + "\n";
    out += "  NotReadyAddresses:\t" + ips("notReadyAddresses") + "\n";
    Json ports = ss.value("ports", Json::array());
    if (ports.empty()) {
      out += "  Ports:\t<none>\n";
    } else {
      out += "  Ports:\n    Name\tPort\tProtocol\n    ----\t----\t--------\n";
      for (auto& p : ports)
        out += "    " + str(p, "name", "<unset>") + "\t" + num(p, "port") + "\t" + str(p, "protocol", "TCP") + "\n";
    }
    out += "\n";
  }
  out += eventsFor(ep, fetch, now);
  return out;
}

std::string describeGeneric(const Json& obj, const Fetch& fetch, long long now) {
  Json meta = metaOf(obj);
  std::string out = header(obj, !str(meta, "namespace").empty()) + labelsAndAnnotations(obj);
  out += "API Version:\t" + str(obj, "apiVersion") + "\nKind:\t" + str(obj, "kind") + "\n";
  Json rest = obj;
  rest.erase("apiVersion");
  rest.erase("kind");
  rest.erase("metadata");
  if (!rest.empty()) out += toYaml(rest);
  out += eventsFor(obj, fetch, now);
  return out;
}

std::string describeObject(const Json& obj, const Fetch& fetch, long long now) {
  std::string kind = obj.value("kind", "");
  std::string text;
  if (kind == "Pod") text = describePod(obj, fetch, now);
  else if (kind == "Deployment") text = describeDeployment(obj, fetch, now);
  else if (kind == "ReplicaSet") text = describeReplicaSet(obj, fetch, now);
  else if (kind == "Service") text = describeService(obj, fetch, now);
  else if (kind == "Namespace") text = describeNamespace(obj, fetch, now);
  else if (kind == "Node") text = describeNode(obj, fetch, now);
  else if (kind == "ConfigMap") text = describeConfigMap(obj, fetch, now);
  else if (kind == "Endpoints") text = describeEndpoints(obj, fetch, now);
  else if (kind == "Secret") text = describeSecret(obj, fetch, now);
  else if (kind == "ServiceAccount") text = describeServiceAccount(obj, fetch, now);
  else text = describeGeneric(obj, fetch, now);
  return goTabwrite(text, 2);
}

int cmdDescribe(Kubectl& k) {
  auto& a = k.args;
  if (a.positional.empty() && !a.has("filename"))
    throw CliError("error: You must specify the type of resource to describe. Use \"k1s api-resources\" for a "
                   "complete list of supported resources.");
  std::string ns = k.allNamespaces() ? "" : k.ns();
  std::vector<ResourceRef> refs = parseResourceArgs(k, a.positional, ns);
  Fetch fetch = [&](const std::string& path) -> Json {
    auto reply = k.client().request("GET", path);
    if (reply.status < 200 || reply.status >= 300) return nullptr;
    Json j = Json::parse(reply.body, nullptr, false);
    return j.is_discarded() ? Json() : j;
  };
  long long now = static_cast<long long>(time(nullptr));
  std::vector<std::string> texts, errors;
  for (auto& ref : refs) {
    auto withKind = [&](Json o) {
      if (!o.contains("kind")) o["kind"] = ref.type->kind;
      if (!o.contains("apiVersion")) o["apiVersion"] = ref.type->apiVersion();
      return o;
    };
    if (ref.name.empty()) {
      std::vector<std::pair<std::string, std::string>> q;
      if (a.has("selector")) q.emplace_back("labelSelector", a.get("selector"));
      Json list = k.client().get(ref.type->collectionPath(ref.namespace_) + queryString(q));
      for (auto& o : list.value("items", Json::array())) texts.push_back(describeObject(withKind(o), fetch, now));
      continue;
    }
    auto reply = k.client().request("GET", ref.type->itemPath(ref.namespace_, ref.name));
    if (reply.status == 404) {
      // kubectl falls back to every object whose name starts with the argument.
      Json list = k.client().get(ref.type->collectionPath(ref.namespace_));
      bool any = false;
      for (auto& o : list.value("items", Json::array()))
        if (nameOf(o).compare(0, ref.name.size(), ref.name) == 0) {
          texts.push_back(describeObject(withKind(o), fetch, now));
          any = true;
        }
      if (!any) {
        try {
          throwForReply(reply);
        } catch (const StatusError& e) {
          errors.push_back(formatStatusError(e.status));
        }
      }
      continue;
    }
    throwForReply(reply);
    texts.push_back(describeObject(withKind(Json::parse(reply.body)), fetch, now));
  }
  for (size_t i = 0; i < texts.size(); ++i) k.out << (i ? "\n\n" : "") << texts[i];
  k.out.flush();
  if (texts.empty() && errors.empty()) {
    // Unlike get, kubectl's describe names the namespace even for cluster-scoped kinds.
    k.err << (!k.allNamespaces() ? "No resources found in " + k.ns() + " namespace." : std::string("No resources found")) << "\n";
  }
  for (auto& e : errors) k.err << e << "\n";
  return errors.empty() ? 0 : 1;
}

}  // namespace k1s::cli
