// Table cells per kind, following kube-apiserver's printers: the same status
// derivations (pod STATUS, node STATUS, service EXTERNAL-IP), the same
// placeholders (<none>, <pending>, <unknown>, <unset>) and the same cell types
// (integers where kube sends int64, strings elsewhere).
#include <algorithm>
#include <set>

#include "apiserver/table.h"
#include "apiserver/table_rows.h"

namespace k1s::table {
namespace {

std::string nameOf(const Json& o) { return str(o, {"metadata", "name"}); }

bool isObject(const Json& o, std::initializer_list<const char*> path) { return at(o, path).is_object(); }

bool conditionTrue(const Json& conditions, const std::string& type) {
  if (!conditions.is_array()) return false;
  for (const Json& c : conditions)
    if (str(c, {"type"}) == type) return str(c, {"status"}) == "True";
  return false;
}

// "+ N more..." lists shared by Endpoints and EndpointSlices; at most 3 shown.
constexpr size_t kMaxListed = 3;
std::string listWithMore(const std::vector<std::string>& list, size_t total, bool unsetWhenEmpty) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ",") + s;
  if (total > list.size()) return out + " + " + std::to_string(total - kMaxListed) + " more...";
  if (out.empty() && unsetWhenEmpty) return "<unset>";
  return out;
}

std::string joinHostPort(const std::string& host, long long port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trimSpace(const std::string& s) {
  const char* ws = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

Json podRow(const Json& pod, long long now) {
  const Json& spec = at(pod, {"spec"});
  const Json& status = at(pod, {"status"});
  long long restarts = 0, restartableInitRestarts = 0;
  long long totalContainers = count(spec, {"containers"});
  long long readyContainers = 0;
  long long lastRestart = kNoTime, lastRestartableInitRestart = kNoTime;

  const std::string phase = str(status, {"phase"});
  std::string reason = phase;
  if (!str(status, {"reason"}).empty()) reason = str(status, {"reason"});

  const Json& conditions = at(status, {"conditions"});
  if (conditions.is_array())
    for (const Json& c : conditions)
      if (str(c, {"type"}) == "PodScheduled" && str(c, {"reason"}) == "SchedulingGated") reason = "SchedulingGated";

  Json row = Json::object();
  if (phase == "Succeeded")
    row["conditions"] = Json::array({{{"type", "Completed"},
                                      {"status", "True"},
                                      {"reason", "Succeeded"},
                                      {"message", "The pod has completed successfully."}}});
  else if (phase == "Failed")
    row["conditions"] = Json::array(
        {{{"type", "Completed"}, {"status", "True"}, {"reason", "Failed"}, {"message", "The pod failed."}}});

  // Sidecars (init containers with restartPolicy Always) count as containers.
  std::set<std::string> restartableInit;
  const Json& initSpecs = at(spec, {"initContainers"});
  if (initSpecs.is_array())
    for (const Json& c : initSpecs)
      if (str(c, {"restartPolicy"}) == "Always") {
        restartableInit.insert(str(c, {"name"}));
        ++totalContainers;
      }

  auto noteRestart = [](const Json& cs, long long& last) {
    if (!isObject(cs, {"lastState", "terminated"})) return;
    long long t = parseTime(str(cs, {"lastState", "terminated", "finishedAt"}));
    if (last < t) last = t;
  };

  bool initializing = false;
  const Json& initStatuses = at(status, {"initContainerStatuses"});
  if (initStatuses.is_array()) {
    for (size_t i = 0; i < initStatuses.size(); ++i) {
      const Json& cs = initStatuses[i];
      bool restartable = restartableInit.count(str(cs, {"name"})) > 0;
      restarts += num(cs, {"restartCount"});
      noteRestart(cs, lastRestart);
      if (restartable) {
        restartableInitRestarts += num(cs, {"restartCount"});
        noteRestart(cs, lastRestartableInitRestart);
      }
      const Json& terminated = at(cs, {"state", "terminated"});
      const std::string waitingReason = str(cs, {"state", "waiting", "reason"});
      if (terminated.is_object() && num(terminated, {"exitCode"}) == 0) continue;
      if (restartable && at(cs, {"started"}) == Json(true)) {
        if (at(cs, {"ready"}) == Json(true)) ++readyContainers;
        continue;
      }
      if (terminated.is_object()) {
        if (!str(terminated, {"reason"}).empty())
          reason = "Init:" + str(terminated, {"reason"});
        else if (num(terminated, {"signal"}) != 0)
          reason = "Init:Signal:" + std::to_string(num(terminated, {"signal"}));
        else
          reason = "Init:ExitCode:" + std::to_string(num(terminated, {"exitCode"}));
      } else if (isObject(cs, {"state", "waiting"}) && !waitingReason.empty() && waitingReason != "PodInitializing") {
        reason = "Init:" + waitingReason;
      } else {
        reason = "Init:" + std::to_string(i) + "/" + std::to_string(count(spec, {"initContainers"}));
      }
      initializing = true;
      break;
    }
  }

  if (!initializing || conditionTrue(conditions, "Initialized")) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    bool hasRunning = false;
    const Json& statuses = at(status, {"containerStatuses"});
    if (statuses.is_array()) {
      for (size_t i = statuses.size(); i-- > 0;) {
        const Json& cs = statuses[i];
        restarts += num(cs, {"restartCount"});
        noteRestart(cs, lastRestart);
        const Json& terminated = at(cs, {"state", "terminated"});
        if (!str(cs, {"state", "waiting", "reason"}).empty()) {
          reason = str(cs, {"state", "waiting", "reason"});
        } else if (terminated.is_object() && !str(terminated, {"reason"}).empty()) {
          reason = str(terminated, {"reason"});
        } else if (terminated.is_object()) {
          reason = num(terminated, {"signal"}) != 0 ? "Signal:" + std::to_string(num(terminated, {"signal"}))
                                                   : "ExitCode:" + std::to_string(num(terminated, {"exitCode"}));
        } else if (at(cs, {"ready"}) == Json(true) && isObject(cs, {"state", "running"})) {
          hasRunning = true;
          ++readyContainers;
        }
      }
    }
    // A pod whose last container completed but others still run is Running.
    if (reason == "Completed" && hasRunning) reason = conditionTrue(conditions, "Ready") ? "Running" : "NotReady";
  }

  const bool deleting = !at(pod, {"metadata", "deletionTimestamp"}).is_null();
  if (deleting && str(status, {"reason"}) == "NodeLost")
    reason = "Unknown";
  else if (deleting && phase != "Succeeded" && phase != "Failed")
    reason = "Terminating";

  std::string restartsStr = std::to_string(restarts);
  if (restarts != 0 && lastRestart != kNoTime)
    restartsStr += " (" + since(lastRestart, now) + " ago)";

  std::string podIP;
  const Json& podIPs = at(status, {"podIPs"});
  if (podIPs.is_array() && !podIPs.empty()) podIP = str(podIPs[0], {"ip"});
  if (podIP.empty()) podIP = str(status, {"podIP"});
  std::string nodeName = str(spec, {"nodeName"});
  std::string nominated = str(status, {"nominatedNodeName"});

  std::string readinessGates = "<none>";
  const Json& gates = at(spec, {"readinessGates"});
  if (gates.is_array() && !gates.empty()) {
    int trueCount = 0;
    for (const Json& g : gates) {
      if (!conditions.is_array()) break;
      for (const Json& c : conditions)
        if (str(c, {"type"}) == str(g, {"conditionType"})) {
          if (str(c, {"status"}) == "True") ++trueCount;
          break;
        }
    }
    readinessGates = std::to_string(trueCount) + "/" + std::to_string(gates.size());
  }

  row["cells"] = Json::array({nameOf(pod), std::to_string(readyContainers) + "/" + std::to_string(totalContainers),
                              reason, restartsStr, ageOf(pod, now), podIP.empty() ? "<none>" : podIP,
                              nodeName.empty() ? "<none>" : nodeName, nominated.empty() ? "<none>" : nominated,
                              readinessGates});
  return row;
}

Json serviceRow(const Json& svc, long long now) {
  const Json& spec = at(svc, {"spec"});
  const std::string type = str(spec, {"type"});
  std::string clusterIP = "<none>";
  const Json& clusterIPs = at(spec, {"clusterIPs"});
  if (clusterIPs.is_array() && !clusterIPs.empty() && clusterIPs[0].is_string())
    clusterIP = clusterIPs[0].get<std::string>();
  else if (!str(spec, {"clusterIP"}).empty())
    clusterIP = str(spec, {"clusterIP"});

  std::vector<std::string> externalIPs;
  if (at(spec, {"externalIPs"}).is_array())
    for (const Json& ip : spec["externalIPs"])
      if (ip.is_string()) externalIPs.push_back(ip.get<std::string>());
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
  };

  std::string externalIP;
  if (type == "ClusterIP" || type == "NodePort") {
    externalIP = externalIPs.empty() ? "<none>" : join(externalIPs);
  } else if (type == "LoadBalancer") {
    // Ingress points: IP preferred over hostname, de-duplicated and sorted.
    // Never clipped: kube-apiserver prints Tables in wide mode.
    std::set<std::string> lb;
    const Json& ingress = at(svc, {"status", "loadBalancer", "ingress"});
    if (ingress.is_array())
      for (const Json& in : ingress) {
        if (!str(in, {"ip"}).empty()) lb.insert(str(in, {"ip"}));
        else if (!str(in, {"hostname"}).empty()) lb.insert(str(in, {"hostname"}));
      }
    std::vector<std::string> all(lb.begin(), lb.end());
    all.insert(all.end(), externalIPs.begin(), externalIPs.end());
    externalIP = all.empty() ? "<pending>" : join(all);
  } else if (type == "ExternalName") {
    externalIP = str(spec, {"externalName"});
  } else {
    externalIP = "<unknown>";
  }

  std::string ports;
  if (at(spec, {"ports"}).is_array())
    for (const Json& p : spec["ports"]) {
      if (!ports.empty()) ports += ",";
      std::string proto = str(p, {"protocol"});
      long long nodePort = num(p, {"nodePort"});
      ports += std::to_string(num(p, {"port"}));
      if (nodePort > 0) ports += ":" + std::to_string(nodePort);
      ports += "/" + proto;
    }
  if (ports.empty()) ports = "<none>";

  return {{"cells", Json::array({nameOf(svc), type, clusterIP, externalIP, ports, ageOf(svc, now),
                                 formatLabels(at(spec, {"selector"}))})}};
}

Json endpointsRow(const Json& ep, long long now) {
  std::string cell;
  const Json& subsets = at(ep, {"subsets"});
  if (!subsets.is_array() || subsets.empty()) {
    cell = "<none>";
  } else {
    std::vector<std::string> list;
    size_t total = 0;
    for (const Json& ss : subsets) {
      const Json& addrs = at(ss, {"addresses"});
      const Json& ports = at(ss, {"ports"});
      size_t nAddrs = addrs.is_array() ? addrs.size() : 0;
      if (!ports.is_array() || ports.empty()) {  // headless services may have no ports
        total += nAddrs;
        for (size_t i = 0; i < nAddrs && list.size() < kMaxListed; ++i) list.push_back(str(addrs[i], {"ip"}));
        continue;
      }
      for (const Json& port : ports) {
        total += nAddrs;
        for (size_t i = 0; i < nAddrs && list.size() < kMaxListed; ++i)
          list.push_back(joinHostPort(str(addrs[i], {"ip"}), num(port, {"port"})));
      }
    }
    cell = listWithMore(list, total, false);
  }
  return {{"cells", Json::array({nameOf(ep), cell, ageOf(ep, now)})}};
}

Json endpointSliceRow(const Json& slice, long long now) {
  std::vector<std::string> ports, addresses;
  size_t portTotal = 0, addrTotal = 0;
  if (at(slice, {"ports"}).is_array())
    for (const Json& p : slice["ports"]) {
      if (ports.size() < kMaxListed) {
        if (at(p, {"port"}).is_number()) ports.push_back(std::to_string(num(p, {"port"})));
        else if (at(p, {"name"}).is_string()) ports.push_back(str(p, {"name"}));
        else ports.push_back("*");
      }
      ++portTotal;
    }
  if (at(slice, {"endpoints"}).is_array())
    for (const Json& e : slice["endpoints"])
      if (at(e, {"addresses"}).is_array())
        for (const Json& a : e["addresses"]) {
          if (addresses.size() < kMaxListed) addresses.push_back(a.is_string() ? a.get<std::string>() : "");
          ++addrTotal;
        }
  return {{"cells", Json::array({nameOf(slice), str(slice, {"addressType"}), listWithMore(ports, portTotal, true),
                                 listWithMore(addresses, addrTotal, true), ageOf(slice, now)})}};
}

Json nodeRow(const Json& node, long long now) {
  std::string status;
  const Json& conditions = at(node, {"status", "conditions"});
  if (conditions.is_array())
    for (const Json& c : conditions)  // the last Ready condition wins, as in kube's map
      if (str(c, {"type"}) == "Ready") status = str(c, {"status"}) == "True" ? "Ready" : "NotReady";
  if (status.empty()) status = "Unknown";
  if (at(node, {"spec", "unschedulable"}) == Json(true)) status += ",SchedulingDisabled";

  std::set<std::string> roles;
  const Json& labels = at(node, {"metadata", "labels"});
  if (labels.is_object())
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      const std::string prefix = "node-role.kubernetes.io/";
      if (it.key().rfind(prefix, 0) == 0 && it.key().size() > prefix.size())
        roles.insert(it.key().substr(prefix.size()));
      else if (it.key() == "kubernetes.io/role" && it->is_string() && !it->get<std::string>().empty())
        roles.insert(it->get<std::string>());
    }
  std::string rolesStr;
  for (const auto& r : roles) rolesStr += (rolesStr.empty() ? "" : ",") + r;

  auto address = [&](const std::string& type) {
    const Json& addrs = at(node, {"status", "addresses"});
    if (addrs.is_array())
      for (const Json& a : addrs)
        if (str(a, {"type"}) == type) return str(a, {"address"});
    return std::string("<none>");
  };
  auto info = [&](const char* field) {
    std::string v = str(node, {"status", "nodeInfo", field});
    return v.empty() ? std::string("<unknown>") : v;
  };
  return {{"cells", Json::array({nameOf(node), status, rolesStr.empty() ? "<none>" : rolesStr, ageOf(node, now),
                                 str(node, {"status", "nodeInfo", "kubeletVersion"}), address("InternalIP"),
                                 address("ExternalIP"), info("osImage"), info("kernelVersion"),
                                 info("containerRuntimeVersion")})}};
}

Json eventRow(const Json& ev, long long now) {
  long long firstTs = parseTime(str(ev, {"firstTimestamp"}));
  std::string first = firstTs != kNoTime ? since(firstTs, now) : since(parseTime(str(ev, {"eventTime"})), now);
  long long lastTs = parseTime(str(ev, {"lastTimestamp"}));
  std::string last = lastTs != kNoTime ? since(lastTs, now) : first;
  long long cnt = num(ev, {"count"});
  if (at(ev, {"series"}).is_object()) {
    last = since(parseTime(str(ev, {"series", "lastObservedTime"})), now);
    cnt = num(ev, {"series", "count"});
  } else if (cnt == 0) {
    cnt = 1;  // singleton events of the events.k8s.io API carry no count
  }
  std::string kind = lower(str(ev, {"involvedObject", "kind"}));
  std::string involved = str(ev, {"involvedObject", "name"});
  std::string target = involved.empty() ? kind : kind + "/" + involved;

  std::string component = str(ev, {"source", "component"});
  if (component.empty()) component = str(ev, {"reportingComponent"});
  std::string host = str(ev, {"source", "host"});
  if (host.empty()) host = str(ev, {"reportingInstance"});
  std::string source = host.empty() ? component : component + ", " + host;

  return {{"cells", Json::array({last, str(ev, {"type"}), str(ev, {"reason"}), target,
                                 str(ev, {"involvedObject", "fieldPath"}), source, trimSpace(str(ev, {"message"})),
                                 first, cnt, nameOf(ev)})}};
}

Json deploymentRow(const Json& d, long long now) {
  const Json& containers = at(d, {"spec", "template", "spec", "containers"});
  std::string ready =
      std::to_string(num(d, {"status", "readyReplicas"})) + "/" + std::to_string(num(d, {"spec", "replicas"}, 1));
  return {{"cells", Json::array({nameOf(d), ready, num(d, {"status", "updatedReplicas"}),
                                 num(d, {"status", "availableReplicas"}), ageOf(d, now), containerNames(containers),
                                 containerImages(containers), selectorString(at(d, {"spec", "selector"}))})}};
}

Json replicaSetRow(const Json& rs, long long now) {
  const Json& containers = at(rs, {"spec", "template", "spec", "containers"});
  std::string selector = selectorString(at(rs, {"spec", "selector"}));
  return {{"cells", Json::array({nameOf(rs), num(rs, {"spec", "replicas"}, 1), num(rs, {"status", "replicas"}),
                                 num(rs, {"status", "readyReplicas"}), ageOf(rs, now), containerNames(containers),
                                 containerImages(containers), selector.empty() ? "<none>" : selector})}};
}

Json simpleRow(const std::string& kind, const Json& obj, long long now) {
  Json cells = Json::array({nameOf(obj)});
  if (kind == "Namespace") {
    cells.push_back(str(obj, {"status", "phase"}));
  } else if (kind == "ConfigMap") {
    cells.push_back(count(obj, {"data"}) + count(obj, {"binaryData"}));
  } else if (kind == "Secret") {
    cells.push_back(str(obj, {"type"}));
    cells.push_back(count(obj, {"data"}));
  } else if (kind == "ServiceAccount") {
    cells.push_back(count(obj, {"secrets"}));
  } else if (kind == "Lease") {
    cells.push_back(str(obj, {"spec", "holderIdentity"}));
  }
  cells.push_back(ageOf(obj, now));
  return {{"cells", std::move(cells)}};
}

}  // namespace k1s::table
