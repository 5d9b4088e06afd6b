// Pod spec validation (kube's ValidatePodSpec and friends) and the pod
// update rule: only images, activeDeadlineSeconds, added tolerations and
// terminationGracePeriodSeconds may change on a running pod.
#include <set>

#include "apiserver/validation_internal.h"

namespace k1s::vi {
namespace {

const std::vector<std::string> kProtocols = {"SCTP", "TCP", "UDP"};

void validateVolumes(Errs& e, const Json& vols, const std::string& path, std::set<std::string>& names) {
  static const std::vector<std::string> sources = {
      "emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "downwardAPI", "projected", "nfs",
      "csi", "ephemeral", "image", "iscsi", "glusterfs", "rbd", "cephfs", "cinder", "fc", "flocker", "flexVolume",
      "azureFile", "azureDisk", "vsphereVolume", "quobyte", "photonPersistentDisk", "portworxVolume", "scaleIO",
      "storageos", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo"};
  for (size_t i = 0; i < vols.size(); ++i) {
    const Json& v = vols[i];
    std::string p = index(path, i), name = str(v, "name");
    if (name.empty())
      e.required(child(p, "name"));
    else
      e.invalidEach(child(p, "name"), goQuote(name), dns1123LabelMsgs(name));
    if (!name.empty() && names.count(name)) e.duplicate(child(p, "name"), goQuote(name));
    names.insert(name);
    int count = 0;
    for (auto& s : sources) {
      if (!field(v, s.c_str())) continue;
      if (++count > 1) e.forbidden(child(p, s), "may not specify more than 1 volume type");
    }
    if (count == 0) e.required(p, "must specify a volume type");
    if (field(v, "configMap") && str(obj(v, "configMap"), "name").empty()) e.required(child(p, "configMap.name"));
    if (field(v, "secret") && str(obj(v, "secret"), "secretName").empty()) e.required(child(p, "secret.secretName"));
    if (field(v, "hostPath") && str(obj(v, "hostPath"), "path").empty()) e.required(child(p, "hostPath.path"));
    if (field(v, "persistentVolumeClaim") && str(obj(v, "persistentVolumeClaim"), "claimName").empty())
      e.required(child(p, "persistentVolumeClaim.claimName"));
    for (const char* src : {"configMap", "secret", "downwardAPI", "projected"}) {
      long long mode = num(obj(v, src), "defaultMode", 0);
      if (mode < 0 || mode > 0777)
        e.invalid(child(child(p, src), "defaultMode"), std::to_string(mode),
                  "must be a number between 0 and 0777 (octal), both inclusive");
    }
  }
}

// An int-or-string port (probes' port, Service targetPort).
void validatePortNumOrName(Errs& e, const Json* port, const std::string& path) {
  if (!port) {
    e.invalid(path, "0", inclusiveRange(1, 65535));
  } else if (port->is_number_integer()) {
    e.invalidEach(path, goValue(*port), portNumMsgs(port->get<long long>()));
  } else if (port->is_string()) {
    std::string s = port->get<std::string>();
    e.invalidEach(path, goQuote(s), portNameMsgs(s));
  } else {
    e.invalid(path, goValue(*port), "must be an integer or a port name");
  }
}

void validateHandler(Errs& e, const Json& h, const std::string& path) {
  std::vector<std::string> present;
  for (const char* k : {"exec", "httpGet", "tcpSocket", "grpc", "sleep"})
    if (field(h, k)) present.push_back(k);
  if (present.empty()) {
    e.required(path, "must specify a handler type");
    return;
  }
  for (size_t i = 1; i < present.size(); ++i) e.forbidden(child(path, present[i]), "may not specify more than 1 handler type");
  if (field(h, "exec") && arr(obj(h, "exec"), "command").empty()) e.required(child(path, "exec.command"));
  if (field(h, "httpGet")) {
    const Json& g = obj(h, "httpGet");
    std::string p = child(path, "httpGet");
    if (str(g, "path").empty()) e.required(child(p, "path"));
    validatePortNumOrName(e, field(g, "port"), child(p, "port"));
    std::string scheme = str(g, "scheme");
    if (scheme != "HTTP" && scheme != "HTTPS") e.notSupported(child(p, "scheme"), goQuote(scheme), {"HTTP", "HTTPS"});
  }
  if (field(h, "tcpSocket")) validatePortNumOrName(e, field(obj(h, "tcpSocket"), "port"), child(path, "tcpSocket.port"));
  if (field(h, "grpc")) {
    long long port = num(obj(h, "grpc"), "port", 0);
    e.invalidEach(child(path, "grpc.port"), std::to_string(port), portNumMsgs(port));
  }
}

void validateProbe(Errs& e, const Json& c, const char* which, const std::string& cpath) {
  const Json* probe = field(c, which);
  if (!probe) return;
  std::string p = child(cpath, which);
  validateHandler(e, *probe, p);
  for (const char* f : {"initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                        "failureThreshold", "terminationGracePeriodSeconds"}) {
    const Json* v = field(*probe, f);
    if (isInt(v) && v->get<long long>() < 0) e.invalid(child(p, f), goValue(*v), kNegative);
  }
  // Liveness and startup probes have no "ready again" notion, so a success is final.
  if (std::string(which) != "readinessProbe" && num(*probe, "successThreshold", 1) != 1)
    e.invalid(child(p, "successThreshold"), std::to_string(num(*probe, "successThreshold", 1)), "must be 1");
}

void validateEnv(Errs& e, const Json& env, const std::string& path) {
  static const std::vector<std::string> fieldPaths = {
      "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
      "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"};
  for (size_t i = 0; i < env.size(); ++i) {
    std::string p = index(path, i), name = str(env[i], "name");
    if (name.empty())
      e.required(child(p, "name"));
    else
      e.invalidEach(child(p, "name"), goQuote(name), envVarNameMsgs(name));
    const Json* from = field(env[i], "valueFrom");
    if (!from) continue;
    std::string fp = child(p, "valueFrom");
    int sources = 0;
    for (const char* k : {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"}) sources += field(*from, k) != nullptr;
    if (!str(env[i], "value").empty()) e.invalid(fp, goQuote(""), "may not be specified when `value` is not empty");
    if (sources == 0)
      e.invalid(fp, goQuote(""), "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
    else if (sources > 1)
      e.invalid(fp, goQuote(""), "may not have more than one field specified at a time");
    if (auto* fr = field(*from, "fieldRef")) {
      std::string f = str(*fr, "fieldPath");
      bool known = false;
      for (auto& k : fieldPaths) known |= (f == k);
      // metadata.labels['x'] and metadata.annotations['x'] select one entry.
      known |= f.rfind("metadata.labels['", 0) == 0 || f.rfind("metadata.annotations['", 0) == 0;
      if (f.empty())
        e.required(child(fp, "fieldRef.fieldPath"));
      else if (!known)
        e.notSupported(child(fp, "fieldRef.fieldPath"), goQuote(f), fieldPaths);
    }
    for (const char* ref : {"configMapKeyRef", "secretKeyRef"}) {
      const Json* r = field(*from, ref);
      if (!r) continue;
      if (str(*r, "name").empty()) e.required(child(child(fp, ref), "name"));
      std::string k = str(*r, "key");
      if (k.empty())
        e.required(child(child(fp, ref), "key"));
      else
        e.invalidEach(child(child(fp, ref), "key"), goQuote(k), configMapKeyMsgs(k));
    }
  }
}

void validateResources(Errs& e, const Json& res, const std::string& path) {
  const Json& limits = obj(res, "limits");
  const Json& requests = obj(res, "requests");
  auto parseAll = [&](const Json& list, const std::string& p) {
    for (auto& [k, v] : list.items()) {
      std::string q = v.is_string() ? v.get<std::string>() : v.dump();
      auto val = parseQuantity(q);
      if (!val)
        e.invalid(key(p, k), goQuote(q), kQuantityRegexMsg);
      else if (*val < 0)
        e.invalid(key(p, k), goQuote(q), kNegative);
    }
  };
  parseAll(limits, child(path, "limits"));
  parseAll(requests, child(path, "requests"));
  for (auto& [k, v] : requests.items()) {
    const Json* l = field(limits, k.c_str());
    if (!l) continue;
    std::string rq = v.is_string() ? v.get<std::string>() : v.dump();
    std::string lq = l->is_string() ? l->get<std::string>() : l->dump();
    auto r = parseQuantity(rq), lim = parseQuantity(lq);
    if (r && lim && *r > *lim)
      e.invalid(child(path, "requests"), goQuote(rq), "must be less than or equal to " + k + " limit of " + lq);
  }
}

void validateContainer(Errs& e, const Json& c, const std::string& p, const std::set<std::string>& volumes,
                       std::set<std::string>& allNames) {
  std::string name = str(c, "name");
  if (name.empty())
    e.required(child(p, "name"));
  else
    e.invalidEach(child(p, "name"), goQuote(name), dns1123LabelMsgs(name));
  if (!name.empty() && allNames.count(name)) e.duplicate(child(p, "name"), goQuote(name));
  allNames.insert(name);

  std::string image = str(c, "image");
  if (image.empty())
    e.required(child(p, "image"));
  else if (image.find_first_not_of(" \t\n") != 0 || image.find_last_not_of(" \t\n") != image.size() - 1)
    e.invalid(child(p, "image"), goQuote(image), "must not have leading or trailing whitespace");

  // Ports: names unique in the container, containerPort required and in range.
  std::set<std::string> portNames;
  const Json& ports = arr(c, "ports");
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string pp = index(child(p, "ports"), i), pn = str(ports[i], "name");
    if (!pn.empty()) {
      auto msgs = portNameMsgs(pn);
      if (!msgs.empty())
        e.invalidEach(child(pp, "name"), goQuote(pn), msgs);
      else if (portNames.count(pn))
        e.duplicate(child(pp, "name"), goQuote(pn));
      portNames.insert(pn);
    }
    const Json* cp = field(ports[i], "containerPort");
    if (!cp || (cp->is_number() && num(ports[i], "containerPort", 0) == 0))
      e.required(child(pp, "containerPort"));
    else
      e.invalidEach(child(pp, "containerPort"), goValue(*cp), portNumMsgs(num(ports[i], "containerPort", 0)));
    if (const Json* hp = field(ports[i], "hostPort"); hp && num(ports[i], "hostPort", 0) != 0)
      e.invalidEach(child(pp, "hostPort"), goValue(*hp), portNumMsgs(num(ports[i], "hostPort", 0)));
    std::string proto = str(ports[i], "protocol");
    if (proto.empty())
      e.required(child(pp, "protocol"));
    else if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
      e.notSupported(child(pp, "protocol"), goQuote(proto), kProtocols);
  }

  validateEnv(e, arr(c, "env"), child(p, "env"));

  std::set<std::string> mountPaths;
  const Json& mounts = arr(c, "volumeMounts");
  for (size_t i = 0; i < mounts.size(); ++i) {
    std::string mp = index(child(p, "volumeMounts"), i), vn = str(mounts[i], "name"), path = str(mounts[i], "mountPath");
    if (vn.empty()) e.required(child(mp, "name"));
    if (!volumes.count(vn)) e.notFound(child(mp, "name"), goQuote(vn));
    if (path.empty()) e.required(child(mp, "mountPath"));
    if (!path.empty() && mountPaths.count(path)) e.invalid(child(mp, "mountPath"), goQuote(path), "must be unique");
    mountPaths.insert(path);
  }

  validateProbe(e, c, "livenessProbe", p);
  validateProbe(e, c, "readinessProbe", p);
  validateProbe(e, c, "startupProbe", p);
  for (const char* hook : {"postStart", "preStop"})
    if (auto* h = field(obj(c, "lifecycle"), hook)) validateHandler(e, *h, child(child(p, "lifecycle"), hook));

  validateResources(e, obj(c, "resources"), child(p, "resources"));

  std::string pull = str(c, "imagePullPolicy");
  if (pull.empty())
    e.required(child(p, "imagePullPolicy"));
  else if (pull != "Always" && pull != "IfNotPresent" && pull != "Never")
    e.notSupported(child(p, "imagePullPolicy"), goQuote(pull), {"Always", "IfNotPresent", "Never"});
  std::string tmp = str(c, "terminationMessagePolicy");
  if (tmp.empty())
    e.required(child(p, "terminationMessagePolicy"));
  else if (tmp != "File" && tmp != "FallbackToLogsOnError")
    e.notSupported(child(p, "terminationMessagePolicy"), goQuote(tmp), {"File", "FallbackToLogsOnError"});
}

void validateTolerations(Errs& e, const Json& tols, const std::string& path) {
  for (size_t i = 0; i < tols.size(); ++i) {
    std::string p = index(path, i), k = str(tols[i], "key"), op = str(tols[i], "operator"),
                effect = str(tols[i], "effect");
    if (!k.empty()) e.invalidEach(child(p, "key"), goQuote(k), qualifiedNameMsgs(k));
    if (k.empty() && op != "Exists")
      e.invalid(child(p, "operator"), goQuote(op), "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
    if (field(tols[i], "tolerationSeconds") && effect != "NoExecute")
      e.invalid(child(p, "effect"), goQuote(effect), "effect must be 'NoExecute' when `tolerationSeconds` is set");
    if (op == "Exists" && !str(tols[i], "value").empty())
      e.invalid(child(p, "operator"), goQuote(str(tols[i], "value")), "value must be empty when `operator` is 'Exists'");
    else if (!op.empty() && op != "Equal" && op != "Exists")
      e.notSupported(child(p, "operator"), goQuote(op), {"Equal", "Exists"});
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      e.notSupported(child(p, "effect"), goQuote(effect), {"NoExecute", "NoSchedule", "PreferNoSchedule"});
  }
}

}  // namespace

void validatePodSpec(Errs& e, const Json& spec, const std::string& path) {
  std::set<std::string> volumes;
  validateVolumes(e, arr(spec, "volumes"), child(path, "volumes"), volumes);

  const Json& containers = arr(spec, "containers");
  std::set<std::string> names;
  if (containers.empty()) e.required(child(path, "containers"));
  for (size_t i = 0; i < containers.size(); ++i)
    validateContainer(e, containers[i], index(child(path, "containers"), i), volumes, names);
  // Init container names share one namespace with the app containers.
  const Json& inits = arr(spec, "initContainers");
  for (size_t i = 0; i < inits.size(); ++i) {
    std::string p = index(child(path, "initContainers"), i);
    validateContainer(e, inits[i], p, volumes, names);
    std::string rp = str(inits[i], "restartPolicy");
    if (!rp.empty() && rp != "Always") e.notSupported(child(p, "restartPolicy"), goQuote(rp), {"Always"});
    if (rp != "Always")
      for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"})
        if (field(inits[i], probe)) e.forbidden(child(p, probe), "may not be set for init containers without restartPolicy=Always");
  }

  std::string restart = str(spec, "restartPolicy");
  if (restart.empty())
    e.required(child(path, "restartPolicy"));
  else if (restart != "Always" && restart != "OnFailure" && restart != "Never")
    e.notSupported(child(path, "restartPolicy"), goQuote(restart), {"Always", "OnFailure", "Never"});

  std::string dns = str(spec, "dnsPolicy");
  if (dns.empty())
    e.required(child(path, "dnsPolicy"));
  else if (dns != "ClusterFirst" && dns != "ClusterFirstWithHostNet" && dns != "None" && dns != "Default")
    e.notSupported(child(path, "dnsPolicy"), goQuote(dns), {"ClusterFirst", "ClusterFirstWithHostNet", "None", "Default"});

  validateLabels(e, obj(spec, "nodeSelector"), child(path, "nodeSelector"));

  std::string sa = str(spec, "serviceAccountName");
  if (!sa.empty()) e.invalidEach(child(path, "serviceAccountName"), goQuote(sa), dns1123SubdomainMsgs(sa));
  std::string node = str(spec, "nodeName");
  if (!node.empty()) e.invalidEach(child(path, "nodeName"), goQuote(node), dns1123SubdomainMsgs(node));
  if (const Json* ads = field(spec, "activeDeadlineSeconds")) {
    long long v = num(spec, "activeDeadlineSeconds", 0);
    if (v < 1 || v > 2147483647) e.invalid(child(path, "activeDeadlineSeconds"), goValue(*ads), inclusiveRange(1, 2147483647));
  }
  for (const char* f : {"hostname", "subdomain"}) {
    std::string v = str(spec, f);
    if (!v.empty()) e.invalidEach(child(path, f), goQuote(v), dns1123LabelMsgs(v));
  }
  validateTolerations(e, arr(spec, "tolerations"), child(path, "tolerations"));
  if (const Json* tg = field(spec, "terminationGracePeriodSeconds"); tg && !tg->is_number_integer())
    e.invalid(child(path, "terminationGracePeriodSeconds"), goValue(*tg), "must be an integer");
}

void validatePodTemplate(Errs& e, const Json& tmpl, const std::string& path) {
  const Json& meta = obj(tmpl, "metadata");
  validateLabels(e, obj(meta, "labels"), child(path, "metadata.labels"));
  validateAnnotations(e, obj(meta, "annotations"), child(path, "metadata.annotations"));
  validatePodSpec(e, obj(tmpl, "spec"), child(path, "spec"));
}

// ---------------------------------------------------------------- update

namespace {

// A compact stand-in for kube's cmp.Diff of the two specs: one -/+ pair per changed field.
std::string specDiff(const Json& oldSpec, const Json& munged) {
  std::string out = "  core.PodSpec{\n";
  std::set<std::string> keys;
  for (auto& [k, v] : oldSpec.items()) keys.insert(k);
  for (auto& [k, v] : munged.items()) keys.insert(k);
  for (auto& k : keys) {
    const Json* a = field(oldSpec, k.c_str());
    const Json* b = field(munged, k.c_str());
    if (a && b && *a == *b) continue;
    if (a) out += "- \t" + k + ": " + a->dump() + ",\n";
    if (b) out += "+ \t" + k + ": " + b->dump() + ",\n";
  }
  return out + "  }\n";
}

}  // namespace

void validatePodUpdate(Errs& e, const Json& pod, const Json& old) {
  const Json& spec = obj(pod, "spec");
  const Json& oldSpec = obj(old, "spec");
  if (spec == oldSpec) return;

  for (const char* list : {"containers", "initContainers"}) {
    if (arr(spec, list).size() != arr(oldSpec, list).size()) {
      e.forbidden(child("spec", list), "pod updates may not add or remove containers");
      return;
    }
  }

  Json munged = spec;  // the new spec with every allowed change reverted to the old value
  for (const char* list : {"containers", "initContainers"}) {
    if (!field(munged, list)) continue;
    const Json& oldList = arr(oldSpec, list);
    for (size_t i = 0; i < munged[list].size(); ++i) {
      if (str(munged[list][i], "image").empty()) e.required(child(index(child("spec", list), i), "image"));
      if (munged[list][i].is_object() && oldList[i].is_object() && field(oldList[i], "image"))
        munged[list][i]["image"] = oldList[i]["image"];
    }
  }

  // activeDeadlineSeconds may be set, or lowered, but not removed or raised.
  const Json* ads = field(spec, "activeDeadlineSeconds");
  const Json* oldAds = field(oldSpec, "activeDeadlineSeconds");
  if (oldAds && !ads)
    e.invalid("spec.activeDeadlineSeconds", "null", "must not update from a positive integer to nil value");
  else if (oldAds && ads && num(spec, "activeDeadlineSeconds", 0) > num(oldSpec, "activeDeadlineSeconds", 0))
    e.invalid("spec.activeDeadlineSeconds", goValue(*ads), "must be less than or equal to previous value");
  if (oldAds) munged["activeDeadlineSeconds"] = *oldAds;
  else munged.erase("activeDeadlineSeconds");

  // Tolerations: every old one must still be there (tolerationSeconds aside); additions are fine.
  const Json& tols = arr(spec, "tolerations");
  const Json& oldTols = arr(oldSpec, "tolerations");
  for (auto& ot : oldTols) {
    bool kept = false;
    for (auto& t : tols) {
      Json a = t, b = ot;
      if (a.is_object()) a.erase("tolerationSeconds");
      if (b.is_object()) b.erase("tolerationSeconds");
      kept |= (a == b);
    }
    if (!kept) e.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds");
  }
  if (field(oldSpec, "tolerations")) munged["tolerations"] = oldSpec["tolerations"];
  else munged.erase("tolerations");

  // terminationGracePeriodSeconds may go from a negative value to 1.
  if (num(oldSpec, "terminationGracePeriodSeconds", 0) < 0 && num(spec, "terminationGracePeriodSeconds", 0) == 1)
    munged["terminationGracePeriodSeconds"] = oldSpec["terminationGracePeriodSeconds"];

  if (munged != oldSpec)
    e.forbidden("spec",
                "pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
                "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)\n" +
                    specDiff(oldSpec, munged));
}

}  // namespace k1s::vi
