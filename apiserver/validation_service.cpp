// Service, Endpoints and EndpointSlice validation (kube's validateService,
// ValidateServiceClusterIPsRelatedFields, validateEndpointSubsets and
// discovery/validation). Cluster IP and node port allocation happen in admission.
#include <set>

#include "apiserver/validation_internal.h"

namespace k1s::vi {
namespace {

const std::vector<std::string> kProtocols = {"SCTP", "TCP", "UDP"};

bool isHeadless(const Json& spec) { return str(spec, "clusterIP") == "None"; }

// The IPs an address may not be: kube rejects the unspecified, link-local and
// link-local multicast ranges. The loopback rule is left out on purpose: the
// k1s API server itself answers on 127.0.0.1 and the `kubernetes` Endpoints
// must be able to say so.
void validateNonSpecialIP(Errs& e, const std::string& ip, const std::string& path) {
  if (ip == "0.0.0.0" || ip == "::")
    e.invalid(path, goQuote(ip), "may not be unspecified (0.0.0.0)");
  else if (ip.rfind("169.254.", 0) == 0 || ip.rfind("fe80:", 0) == 0)
    e.invalid(path, goQuote(ip), "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
  else if (ip.rfind("224.0.0.", 0) == 0 || ip.rfind("ff02:", 0) == 0)
    e.invalid(path, goQuote(ip), "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

void validateServicePort(Errs& e, const Json& port, bool requireName, std::set<std::string>& names,
                         const std::string& p) {
  std::string name = str(port, "name");
  if (requireName && name.empty()) {
    e.required(child(p, "name"));
  } else if (!name.empty()) {
    e.invalidEach(child(p, "name"), goQuote(name), dns1123LabelMsgs(name));
    if (names.count(name)) e.duplicate(child(p, "name"), goQuote(name));
    names.insert(name);
  }
  const Json* pn = field(port, "port");
  e.invalidEach(child(p, "port"), pn ? goValue(*pn) : "0", portNumMsgs(num(port, "port", 0)));
  std::string proto = str(port, "protocol");
  if (proto.empty())
    e.required(child(p, "protocol"));
  else if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
    e.notSupported(child(p, "protocol"), goQuote(proto), kProtocols);
  if (const Json* tp = field(port, "targetPort")) {
    if (tp->is_number_integer())
      e.invalidEach(child(p, "targetPort"), tp->dump(), portNumMsgs(tp->get<long long>()));
    else if (tp->is_string())
      e.invalidEach(child(p, "targetPort"), goQuote(tp->get<std::string>()), portNameMsgs(tp->get<std::string>()));
  }
  std::string app = str(port, "appProtocol");
  if (!app.empty()) e.invalidEach(child(p, "appProtocol"), goQuote(app), qualifiedNameMsgs(app));
}

void validateClusterIPs(Errs& e, const Json& spec) {
  std::string ip = str(spec, "clusterIP");
  const Json& ips = arr(spec, "clusterIPs");
  if (!ip.empty()) {
    if (ips.empty())
      e.required("spec.clusterIPs");
    else if (ips[0] != ip)
      e.invalid("spec.clusterIPs", goStringSlice(ips), "first value must match `clusterIP`");
  } else if (!ips.empty()) {
    e.invalid("spec.clusterIPs", goStringSlice(ips), "must be empty when `clusterIP` is not specified");
  }
  for (size_t i = 0; i < ips.size(); ++i) {
    std::string one = ips[i].is_string() ? ips[i].get<std::string>() : "";
    if (i == 0 && one == "None") {
      if (ips.size() > 1) e.invalid("spec.clusterIPs", goStringSlice(ips), "'None' must be the first and only value");
      continue;
    }
    e.invalidEach(index("spec.clusterIPs", i), goQuote(one), ipMsgs(one));
  }
  if (ips.size() > 2) e.invalid("spec.clusterIPs", goStringSlice(ips), "may only hold up to 2 values");
  std::string policy = str(spec, "ipFamilyPolicy");
  if (!policy.empty() && policy != "SingleStack" && policy != "PreferDualStack" && policy != "RequireDualStack")
    e.notSupported("spec.ipFamilyPolicy", goQuote(policy), {"PreferDualStack", "RequireDualStack", "SingleStack"});
  const Json& fams = arr(spec, "ipFamilies");
  for (size_t i = 0; i < fams.size(); ++i) {
    std::string f = fams[i].is_string() ? fams[i].get<std::string>() : "";
    if (f != "IPv4" && f != "IPv6") e.notSupported(index("spec.ipFamilies", i), goQuote(f), {"IPv4", "IPv6"});
  }
}

}  // namespace

void validateService(Errs& e, const Json& svc) {
  const Json& spec = obj(svc, "spec");
  std::string type = str(spec, "type");
  const Json& ports = arr(spec, "ports");

  if (ports.empty() && !isHeadless(spec) && type != "ExternalName") e.required("spec.ports");

  if (type == "ExternalName") {
    if (!str(spec, "clusterIP").empty() || !arr(spec, "clusterIPs").empty())
      e.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
    if (field(spec, "ipFamilies") && !arr(spec, "ipFamilies").empty())
      e.forbidden("spec.ipFamilies", "may not be set for ExternalName services");
    if (field(spec, "ipFamilyPolicy")) e.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services");
    std::string cname = str(spec, "externalName");
    if (!cname.empty() && cname.back() == '.') cname.pop_back();  // a trailing dot marks an FQDN
    if (cname.empty())
      e.required("spec.externalName");
    else
      e.invalidEach("spec.externalName", goQuote(cname), dns1123SubdomainMsgs(cname));
  }

  std::set<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i)
    validateServicePort(e, ports[i], ports.size() > 1, names, index("spec.ports", i));

  validateLabels(e, obj(spec, "selector"), "spec.selector");

  std::string affinity = str(spec, "sessionAffinity");
  if (affinity.empty())
    e.required("spec.sessionAffinity");
  else if (affinity != "None" && affinity != "ClientIP")
    e.notSupported("spec.sessionAffinity", goQuote(affinity), {"ClientIP", "None"});

  if (type != "ExternalName") validateClusterIPs(e, spec);

  const Json& externalIPs = arr(spec, "externalIPs");
  for (size_t i = 0; i < externalIPs.size(); ++i) {
    std::string ip = externalIPs[i].is_string() ? externalIPs[i].get<std::string>() : "";
    auto msgs = ipMsgs(ip);
    e.invalidEach(index("spec.externalIPs", i), goQuote(ip), msgs);
    if (msgs.empty()) validateNonSpecialIP(e, ip, index("spec.externalIPs", i));
  }

  if (type.empty())
    e.required("spec.type");
  else if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" && type != "ExternalName")
    e.notSupported("spec.type", goQuote(type), {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"});

  if (type == "ClusterIP")
    for (size_t i = 0; i < ports.size(); ++i)
      if (num(ports[i], "nodePort", 0) != 0)
        e.forbidden(index("spec.ports", i) + ".nodePort", "may not be used when `type` is 'ClusterIP'");
  for (size_t i = 0; i < ports.size(); ++i) {
    long long np = num(ports[i], "nodePort", 0);
    if (np != 0) e.invalidEach(index("spec.ports", i) + ".nodePort", std::to_string(np), portNumMsgs(np));
  }

  // Ports must be unique by (protocol, port).
  std::set<std::pair<std::string, long long>> seen;
  for (size_t i = 0; i < ports.size(); ++i) {
    auto k = std::make_pair(str(ports[i], "protocol"), num(ports[i], "port", 0));
    if (!seen.insert(k).second)
      e.duplicate(index("spec.ports", i), "core.ServicePort{Name:\"\", Protocol:" + goQuote(k.first) +
                                              ", AppProtocol:(*string)(nil), Port:" + std::to_string(k.second) +
                                              ", TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}");
  }

  bool externallyAccessible =
      type == "NodePort" || type == "LoadBalancer" || (type == "ClusterIP" && !externalIPs.empty());
  std::string etp = str(spec, "externalTrafficPolicy");
  if (!externallyAccessible) {
    if (!etp.empty())
      e.invalid("spec.externalTrafficPolicy", goQuote(etp), "may only be set for externally-accessible services");
  } else if (etp.empty()) {
    e.required("spec.externalTrafficPolicy");
  } else if (etp != "Cluster" && etp != "Local") {
    e.notSupported("spec.externalTrafficPolicy", goQuote(etp), {"Cluster", "Local"});
  }
  std::string itp = str(spec, "internalTrafficPolicy");
  if (type != "ExternalName") {
    if (itp.empty())
      e.required("spec.internalTrafficPolicy");
    else if (itp != "Cluster" && itp != "Local")
      e.notSupported("spec.internalTrafficPolicy", goQuote(itp), {"Cluster", "Local"});
  }
  if (field(spec, "allocateLoadBalancerNodePorts") && type != "LoadBalancer")
    e.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'");
  if (field(spec, "healthCheckNodePort") && !(type == "LoadBalancer" && etp == "Local"))
    e.invalid("spec.healthCheckNodePort", std::to_string(num(spec, "healthCheckNodePort", 0)),
              "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'");
}

void validateServiceUpdate(Errs& e, const Json& svc, const Json& old) {
  const Json& spec = obj(svc, "spec");
  const Json& oldSpec = obj(old, "spec");
  // Moving to or from ExternalName may drop or gain cluster IPs.
  if (str(spec, "type") == "ExternalName" || str(oldSpec, "type") == "ExternalName") return;
  if (isHeadless(spec) && isHeadless(oldSpec)) return;

  // What kube's NormalizeClusterIPs and patchAllocatedValues make of the request
  // before validating: an omitted clusterIP keeps the allocated one, and a changed
  // clusterIP with untouched clusterIPs means clusterIPs = [clusterIP].
  std::string ip = str(spec, "clusterIP"), oldIP = str(oldSpec, "clusterIP");
  Json ips = arr(spec, "clusterIPs");
  const Json& oldIPs = arr(oldSpec, "clusterIPs");
  if (ip.empty()) ip = oldIP;
  if (ips.empty() && ip == oldIP) ips = oldIPs;
  if (ip != oldIP && ips == oldIPs && !ip.empty()) ips = Json::array({ip});

  if (oldIPs.size() == ips.size()) {
    for (size_t i = 0; i < oldIPs.size(); ++i)
      if (oldIPs[i] != ips[i]) e.invalid(index("spec.clusterIPs", i), goStringSlice(ips), "may not change once set");
  } else if (oldIPs.size() > ips.size()) {
    if (ips.empty()) e.invalid("spec.clusterIPs[0]", goStringSlice(ips), "primary clusterIP can not be unset");
  } else if (!oldIPs.empty() && oldIPs[0] != ips[0]) {
    e.invalid("spec.clusterIPs[0]", goStringSlice(ips), "may not change once set");
  }
}

void validateEndpoints(Errs& e, const Json& ep) {
  const Json& subsets = arr(ep, "subsets");
  for (size_t i = 0; i < subsets.size(); ++i) {
    std::string sp = index("subsets", i);
    const Json& ss = subsets[i];
    if (arr(ss, "addresses").empty() && arr(ss, "notReadyAddresses").empty())
      e.required(sp, "must specify `addresses` or `notReadyAddresses`");
    for (const char* list : {"addresses", "notReadyAddresses"}) {
      const Json& addrs = arr(ss, list);
      for (size_t j = 0; j < addrs.size(); ++j) {
        std::string ap = index(child(sp, list), j), ip = str(addrs[j], "ip");
        auto msgs = ipMsgs(ip);
        e.invalidEach(child(ap, "ip"), goQuote(ip), msgs);
        if (msgs.empty()) validateNonSpecialIP(e, ip, child(ap, "ip"));
        std::string host = str(addrs[j], "hostname");
        if (!host.empty()) e.invalidEach(child(ap, "hostname"), goQuote(host), dns1123LabelMsgs(host));
        std::string node = str(addrs[j], "nodeName");
        if (!node.empty()) e.invalidEach(child(ap, "nodeName"), goQuote(node), dns1123SubdomainMsgs(node));
      }
    }
    const Json& ports = arr(ss, "ports");
    for (size_t j = 0; j < ports.size(); ++j) {
      std::string pp = index(child(sp, "ports"), j), name = str(ports[j], "name");
      if (ports.size() > 1 && name.empty())
        e.required(child(pp, "name"));
      else if (!name.empty())
        e.invalidEach(child(pp, "name"), goQuote(name), dns1123LabelMsgs(name));
      long long port = num(ports[j], "port", 0);
      e.invalidEach(child(pp, "port"), std::to_string(port), portNumMsgs(port));
      std::string proto = str(ports[j], "protocol");
      if (proto.empty())
        e.required(child(pp, "protocol"));
      else if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
        e.notSupported(child(pp, "protocol"), goQuote(proto), kProtocols);
    }
  }
}

void validateEndpointSlice(Errs& e, const Json& es) {
  std::string type = str(es, "addressType");
  if (type.empty())
    e.required("addressType");
  else if (type != "IPv4" && type != "IPv6" && type != "FQDN")
    e.notSupported("addressType", goQuote(type), {"FQDN", "IPv4", "IPv6"});

  const Json& eps = arr(es, "endpoints");
  if (eps.size() > 1000) e.invalid("endpoints", std::to_string(eps.size()), "must have at most 1000 items");
  for (size_t i = 0; i < eps.size(); ++i) {
    std::string p = index("endpoints", i);
    const Json& addrs = arr(eps[i], "addresses");
    if (addrs.empty()) e.required(child(p, "addresses"), "must contain at least 1 address");
    if (addrs.size() > 100) e.invalid(child(p, "addresses"), std::to_string(addrs.size()), "must have at most 100 items");
    for (size_t j = 0; j < addrs.size(); ++j) {
      std::string ap = index(child(p, "addresses"), j);
      std::string a = addrs[j].is_string() ? addrs[j].get<std::string>() : "";
      if (type == "IPv4" && !isIPv4(a)) e.invalid(ap, goQuote(a), "must be a valid IPv4 address");
      if (type == "IPv6" && !isIPv6(a)) e.invalid(ap, goQuote(a), "must be a valid IPv6 address");
      if (type == "FQDN") e.invalidEach(ap, goQuote(a), dns1123SubdomainMsgs(a));
    }
    std::string host = str(eps[i], "hostname");
    if (!host.empty()) e.invalidEach(child(p, "hostname"), goQuote(host), dns1123LabelMsgs(host));
    std::string node = str(eps[i], "nodeName");
    if (!node.empty()) e.invalidEach(child(p, "nodeName"), goQuote(node), dns1123SubdomainMsgs(node));
  }

  const Json& ports = arr(es, "ports");
  std::set<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string p = index("ports", i), name = str(ports[i], "name");
    if (!name.empty()) e.invalidEach(child(p, "name"), goQuote(name), dns1123LabelMsgs(name));
    if (!names.insert(name).second) e.duplicate(child(p, "name"), goQuote(name));
    std::string proto = str(ports[i], "protocol");
    if (!proto.empty() && proto != "TCP" && proto != "UDP" && proto != "SCTP")
      e.notSupported(child(p, "protocol"), goQuote(proto), kProtocols);
    if (field(ports[i], "port")) {
      long long port = num(ports[i], "port", 0);
      e.invalidEach(child(p, "port"), std::to_string(port), portNumMsgs(port));
    }
  }
}

}  // namespace k1s::vi
