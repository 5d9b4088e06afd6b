#include "controller/endpoints_util.h"

#include "common/meta.h"

namespace k1s {

namespace {
const Json& field(const Json& o, const char* k) {
  static const Json null;
  if (!o.is_object()) return null;
  auto it = o.find(k);
  return it == o.end() ? null : *it;
}
}  // namespace

bool serviceHasSelector(const Json& svc) {
  const Json& sel = field(field(svc, "spec"), "selector");
  return sel.is_object() && !sel.empty();
}

bool serviceSelects(const Json& svc, const Json& pod) {
  if (!serviceHasSelector(svc) || namespaceOf(svc) != namespaceOf(pod)) return false;
  Json labels = labelsOf(pod);
  for (auto& [k, v] : svc["spec"]["selector"].items()) {
    auto it = labels.find(k);
    if (it == labels.end() || *it != v) return false;
  }
  return true;
}

bool podReady(const Json& pod) {
  const Json& conds = field(field(pod, "status"), "conditions");
  if (!conds.is_array()) return false;
  for (auto& c : conds)
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

bool podTerminating(const Json& pod) { return metaOf(pod).contains("deletionTimestamp"); }

std::string podIP(const Json& pod) {
  const Json& ip = field(field(pod, "status"), "podIP");
  return ip.is_string() ? ip.get<std::string>() : "";
}

bool podEligible(const Json& pod) {
  if (podIP(pod).empty()) return false;
  const Json& phase = field(field(pod, "status"), "phase");
  return !(phase == "Succeeded" || phase == "Failed");
}

std::optional<int> resolveTargetPort(const Json& svcPort, const Json& pod) {
  const Json& tp = field(svcPort, "targetPort");
  if (tp.is_number_integer()) return tp.get<int>();
  if (tp.is_string()) {
    std::string name = tp;
    // A string of digits is a number (kube's IntOrString parses it that way).
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) return std::stoi(name);
    for (const char* list : {"containers", "initContainers"}) {
      const Json& cs = field(field(pod, "spec"), list);
      if (!cs.is_array()) continue;
      for (auto& c : cs) {
        const Json& ports = field(c, "ports");
        if (!ports.is_array()) continue;
        for (auto& p : ports)
          if (p.value("name", "") == name && p.value("protocol", "TCP") == svcPort.value("protocol", "TCP"))
            return p.value("containerPort", 0);
      }
    }
    return std::nullopt;
  }
  return svcPort.value("port", 0);  // targetPort defaults to port
}

Json podTargetRef(const Json& pod) {
  auto& m = metaOf(pod);
  return {{"kind", "Pod"}, {"namespace", m.value("namespace", "")}, {"name", m.value("name", "")},
          {"uid", m.value("uid", "")}};
}

}  // namespace k1s
