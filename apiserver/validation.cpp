// validateCreate / validateUpdate: per-kind dispatch, plus the small kinds
// (ConfigMap, Secret, Namespace, Node, Event, ServiceAccount, Lease).
// Pod, apps and Service rules live in validation_pod/apps/service.cpp.
#include <set>

#include "apiserver/validation.h"
#include "apiserver/validation_internal.h"

namespace k1s {
namespace {

using namespace vi;

constexpr long long kMaxDataBytes = 1024 * 1024;  // kube's MaxSecretSize, also used for ConfigMaps

// Decoded size of a base64 value, without decoding it.
size_t base64Size(const std::string& s) {
  size_t pad = 0;
  for (size_t i = s.size(); i > 0 && s[i - 1] == '='; --i) ++pad;
  return s.size() / 4 * 3 - std::min<size_t>(pad, 2);
}

void validateConfigMap(Errs& e, const Json& cm) {
  const Json& data = obj(cm, "data");
  const Json& binary = obj(cm, "binaryData");
  size_t total = 0;
  for (auto& [k, v] : data.items()) {
    e.invalidEach(key("data", k), goQuote(k), configMapKeyMsgs(k));
    if (field(binary, k.c_str())) e.invalid(key("data", k), goQuote(k), "duplicate of key present in binaryData");
    total += v.is_string() ? v.get<std::string>().size() : 0;
  }
  for (auto& [k, v] : binary.items()) {
    e.invalidEach(key("binaryData", k), goQuote(k), configMapKeyMsgs(k));
    if (field(data, k.c_str())) e.invalid(key("binaryData", k), goQuote(k), "duplicate of key present in data");
    total += v.is_string() ? base64Size(v.get<std::string>()) : 0;
  }
  if (static_cast<long long>(total) > kMaxDataBytes) e.tooLong("", kMaxDataBytes);
}

void validateSecret(Errs& e, const Json& s) {
  const Json& data = obj(s, "data");
  size_t total = 0;
  for (auto& [k, v] : data.items()) {
    e.invalidEach(key("data", k), goQuote(k), configMapKeyMsgs(k));
    total += v.is_string() ? base64Size(v.get<std::string>()) : 0;
  }
  if (static_cast<long long>(total) > kMaxDataBytes) e.tooLong("data", kMaxDataBytes);
  std::string type = str(s, "type");
  auto need = [&](const char* k) {
    if (!field(data, k)) e.required(key("data", k));
  };
  if (type == "kubernetes.io/service-account-token") {
    if (str(obj(obj(s, "metadata"), "annotations"), "kubernetes.io/service-account.name").empty())
      e.required("metadata.annotations[kubernetes.io/service-account.name]");
  } else if (type == "kubernetes.io/dockercfg") {
    need(".dockercfg");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    need(".dockerconfigjson");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!field(data, "username") && !field(data, "password")) {
      need("username");
      need("password");
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (str(data, "ssh-privatekey").empty()) e.required("data[ssh-privatekey]");
  } else if (type == "kubernetes.io/tls") {
    need("tls.crt");
    need("tls.key");
  }
}

void validateNamespace(Errs& e, const Json& ns) {
  const Json& fins = arr(obj(ns, "spec"), "finalizers");
  for (size_t i = 0; i < fins.size(); ++i) {
    std::string f = fins[i].is_string() ? fins[i].get<std::string>() : "";
    // "kubernetes" is the one finalizer without a domain prefix kube accepts.
    if (f != "kubernetes" && f.find('/') == std::string::npos)
      e.invalid(index("spec.finalizers", i), goQuote(f),
                "name is neither a standard finalizer name nor is it fully qualified");
    else if (f != "kubernetes")
      e.invalidEach(index("spec.finalizers", i), goQuote(f), qualifiedNameMsgs(f));
  }
  std::string phase = str(obj(ns, "status"), "phase");
  if (!phase.empty() && phase != "Active" && phase != "Terminating")
    e.notSupported("status.phase", goQuote(phase), {"Active", "Terminating"});
}

void validateNode(Errs& e, const Json& node) {
  const Json& spec = obj(node, "spec");
  std::string cidr = str(spec, "podCIDR");
  const Json& cidrs = arr(spec, "podCIDRs");
  if (!cidr.empty() && !cidrs.empty() && cidrs[0] != cidr)
    e.invalid("spec.podCIDRs", goStringSlice(cidrs), "first value must match `podCIDR`");
  for (size_t i = 0; i < cidrs.size(); ++i) {
    std::string c = cidrs[i].is_string() ? cidrs[i].get<std::string>() : "";
    auto slash = c.find('/');
    bool ok = slash != std::string::npos && (isIPv4(c.substr(0, slash)) || isIPv6(c.substr(0, slash)));
    if (!ok) e.invalid(index("spec.podCIDRs", i), goQuote(c), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
  }
  const Json& taints = arr(spec, "taints");
  for (size_t i = 0; i < taints.size(); ++i) {
    std::string p = index("spec.taints", i), k = str(taints[i], "key"), effect = str(taints[i], "effect");
    e.invalidEach(child(p, "key"), goQuote(k), qualifiedNameMsgs(k));
    if (effect.empty())
      e.required(child(p, "effect"));
    else if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      e.notSupported(child(p, "effect"), goQuote(effect), {"NoSchedule", "PreferNoSchedule", "NoExecute"});
  }
}

void validateEvent(Errs& e, const Json& ev) {
  std::string ns = str(obj(ev, "metadata"), "namespace");
  std::string involvedNs = str(obj(ev, "involvedObject"), "namespace");
  // Old-style events (no eventTime) must agree with their involved object's namespace.
  if (!field(ev, "eventTime")) {
    if (involvedNs.empty() ? (!ns.empty() && ns != "default") : ns != involvedNs)
      e.invalid("involvedObject.namespace", goQuote(involvedNs), "does not match event.namespace");
  }
  std::string type = str(ev, "type");
  if (field(ev, "eventTime") && type != "Normal" && type != "Warning")
    e.invalid("type", goQuote(type), "has invalid value: " + type);
}

void validateLease(Errs& e, const Json& lease) {
  const Json& spec = obj(lease, "spec");
  if (const Json* d = field(spec, "leaseDurationSeconds"); d && num(spec, "leaseDurationSeconds", 0) <= 0)
    e.invalid("spec.leaseDurationSeconds", goValue(*d), "must be greater than 0");
  if (const Json* t = field(spec, "leaseTransitions"); t && num(spec, "leaseTransitions", 0) < 0)
    e.invalid("spec.leaseTransitions", goValue(*t), kNegative);
}

NameFn nameRule(const std::string& kind) {
  if (kind == "Namespace") return nameIsDnsLabel;
  if (kind == "Service") return nameIsDns1035Label;
  return nameIsDnsSubdomain;  // pods, deployments, configmaps, secrets, nodes, events, ...
}

// Immutable ConfigMap/Secret: once `immutable: true`, neither the flag nor the data may change.
void validateImmutableData(Errs& e, const Json& o, const Json& old, std::vector<const char*> dataFields) {
  if (!(field(old, "immutable") && old["immutable"] == true)) return;
  if (!(field(o, "immutable") && o["immutable"] == true))
    e.forbidden("immutable", "field is immutable when `immutable` is set");
  for (const char* f : dataFields)
    if (obj(o, f) != obj(old, f)) e.forbidden(f, "field is immutable when `immutable` is set");
}

}  // namespace

std::vector<StatusCause> validateCreate(const ResourceInfo& r, const Json& o) {
  Errs e;
  validateObjectMeta(e, obj(o, "metadata"), r.namespaced, nameRule(r.kind), "metadata");
  const std::string& k = r.kind;
  if (k == "Pod")
    validatePodSpec(e, obj(o, "spec"), "spec");
  else if (k == "Deployment")
    validateDeployment(e, o);
  else if (k == "ReplicaSet")
    validateReplicaSet(e, o);
  else if (k == "Service")
    validateService(e, o);
  else if (k == "Endpoints")
    validateEndpoints(e, o);
  else if (k == "EndpointSlice")
    validateEndpointSlice(e, o);
  else if (k == "ConfigMap")
    validateConfigMap(e, o);
  else if (k == "Secret")
    validateSecret(e, o);
  else if (k == "Namespace")
    validateNamespace(e, o);
  else if (k == "Node")
    validateNode(e, o);
  else if (k == "Event")
    validateEvent(e, o);
  else if (k == "Lease")
    validateLease(e, o);
  return e.list;
}

std::vector<StatusCause> validateUpdate(const ResourceInfo& r, const Json& o, const Json& old) {
  Errs e;
  validateObjectMetaUpdate(e, obj(o, "metadata"), obj(old, "metadata"), "metadata");
  const std::string& k = r.kind;
  if (k == "Pod") {
    validatePodUpdate(e, o, old);
  } else if (k == "Service") {
    validateServiceUpdate(e, o, old);
  } else if (k == "ConfigMap") {
    validateImmutableData(e, o, old, {"data", "binaryData"});
  } else if (k == "Secret") {
    if (str(o, "type") != str(old, "type")) e.invalid("type", goQuote(str(o, "type")), kImmutable);
    validateImmutableData(e, o, old, {"data"});
  }
  // The new object must also be valid on its own; metadata was covered above.
  for (auto& c : validateCreate(r, o)) {
    bool dup = false;
    for (auto& have : e.list) dup |= (have.field == c.field && have.message == c.message);
    if (!dup) e.list.push_back(c);
  }
  // kube's deployment and replicaset strategies add the selector's immutability after
  // the spec's own errors (`selector` does not match template `labels` comes first).
  if (k == "Deployment" || k == "ReplicaSet") validateSelectorImmutable(e, o, old);
  return e.list;
}

}  // namespace k1s
