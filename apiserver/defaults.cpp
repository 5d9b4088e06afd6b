// Defaulting (kube's SetDefaults_* for core/v1, apps/v1, discovery/v1) and the
// create-time strategy hooks. Every default fills only what is absent, so
// running it again on an update request leaves user values alone.
#include "apiserver/defaults.h"

#include <map>
#include <set>

#include "apiserver/validation_internal.h"

namespace k1s {
namespace {

using vi::field;
using vi::str;

// Sets o[k] = v when o has no (non-null) k. Returns the member.
Json& dflt(Json& o, const char* k, const Json& v) {
  if (!o.contains(k) || o[k].is_null()) o[k] = v;
  return o[k];
}

bool isObj(const Json& o, const char* k) { return o.is_object() && o.contains(k) && o[k].is_object(); }
bool isArr(const Json& o, const char* k) { return o.is_object() && o.contains(k) && o[k].is_array(); }

// kube's parsers.ParseImageName: no tag and no digest means ":latest".
std::string imageTag(const std::string& image) {
  std::string ref = image;
  auto at = ref.find('@');
  bool digest = at != std::string::npos;
  if (digest) ref = ref.substr(0, at);
  auto slash = ref.rfind('/');
  auto colon = ref.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return ref.substr(colon + 1);
  return digest ? "" : "latest";
}

void defaultHandler(Json& h) {
  if (!h.is_object()) return;
  if (isObj(h, "httpGet")) {
    dflt(h["httpGet"], "path", "/");
    dflt(h["httpGet"], "scheme", "HTTP");
  }
  if (isObj(h, "grpc")) dflt(h["grpc"], "service", "");
}

void defaultProbe(Json& c, const char* which) {
  if (!isObj(c, which)) return;
  Json& p = c[which];
  defaultHandler(p);
  dflt(p, "timeoutSeconds", 1);
  dflt(p, "periodSeconds", 10);
  dflt(p, "successThreshold", 1);
  dflt(p, "failureThreshold", 3);
}

void defaultContainer(Json& c, bool isPod) {
  if (!c.is_object()) return;
  dflt(c, "terminationMessagePath", "/dev/termination-log");
  dflt(c, "terminationMessagePolicy", "File");
  if (!c.contains("imagePullPolicy") || c["imagePullPolicy"].is_null() || c["imagePullPolicy"] == "")
    c["imagePullPolicy"] = imageTag(str(c, "image")) == "latest" ? "Always" : "IfNotPresent";
  if (isArr(c, "ports"))
    for (auto& p : c["ports"])
      if (p.is_object()) dflt(p, "protocol", "TCP");
  Json& res = dflt(c, "resources", Json::object());
  // A pod's requests default to its limits (SetDefaults_Pod); templates keep them as written.
  if (isPod && res.is_object() && isObj(res, "limits")) {
    Json& req = dflt(res, "requests", Json::object());
    if (req.is_object())
      for (auto& [k, v] : res["limits"].items())
        if (!req.contains(k)) req[k] = v;
  }
  for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) defaultProbe(c, probe);
  if (isObj(c, "lifecycle"))
    for (const char* hook : {"postStart", "preStop"})
      if (isObj(c["lifecycle"], hook)) defaultHandler(c["lifecycle"][hook]);
  if (isArr(c, "env"))
    for (auto& e : c["env"])
      if (isObj(e, "valueFrom") && isObj(e["valueFrom"], "fieldRef")) dflt(e["valueFrom"]["fieldRef"], "apiVersion", "v1");
}

void defaultVolume(Json& v) {
  if (!v.is_object()) return;
  bool hasSource = false;
  for (auto& [k, x] : v.items()) hasSource |= (k != "name" && !x.is_null());
  if (!hasSource) v["emptyDir"] = Json::object();
  for (const char* src : {"configMap", "secret", "downwardAPI", "projected"})
    if (isObj(v, src)) dflt(v[src], "defaultMode", 420);
  if (isObj(v, "hostPath")) dflt(v["hostPath"], "type", "");
  if (isObj(v, "downwardAPI") && isArr(v["downwardAPI"], "items"))
    for (auto& it : v["downwardAPI"]["items"])
      if (isObj(it, "fieldRef")) dflt(it["fieldRef"], "apiVersion", "v1");
}

// SetDefaults_PodSpec and the container/volume defaults: shared by pods and templates.
void defaultPodSpec(Json& spec, bool isPod) {
  if (!spec.is_object()) return;
  dflt(spec, "dnsPolicy", "ClusterFirst");
  dflt(spec, "restartPolicy", "Always");
  dflt(spec, "terminationGracePeriodSeconds", 30);
  dflt(spec, "securityContext", Json::object());
  dflt(spec, "schedulerName", "default-scheduler");
  for (const char* list : {"containers", "initContainers"})
    if (isArr(spec, list))
      for (auto& c : spec[list]) defaultContainer(c, isPod);
  if (isArr(spec, "volumes"))
    for (auto& v : spec["volumes"]) defaultVolume(v);
  if (spec.value("hostNetwork", false))  // host networking: the host port is the container port
    for (const char* list : {"containers", "initContainers"})
      if (isArr(spec, list))
        for (auto& c : spec[list])
          if (isArr(c, "ports"))
            for (auto& p : c["ports"])
              if (p.is_object() && p.contains("containerPort")) dflt(p, "hostPort", p["containerPort"]);
}

// What a real cluster's pod-only defaulting and admission (ServiceAccount,
// Priority, DefaultTolerationSeconds) add to a pod.
void defaultPodOnly(Json& spec) {
  dflt(spec, "enableServiceLinks", true);
  std::string sa = str(spec, "serviceAccountName");
  if (sa.empty()) sa = str(spec, "serviceAccount");  // the deprecated alias
  if (sa.empty()) sa = "default";
  spec["serviceAccountName"] = sa;
  spec["serviceAccount"] = sa;
  dflt(spec, "priority", 0);
  dflt(spec, "preemptionPolicy", "PreemptLowerPriority");
  Json& tols = dflt(spec, "tolerations", Json::array());
  if (!tols.is_array()) return;
  for (const char* taint : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    bool have = false;
    for (auto& t : tols)
      have |= str(t, "key") == taint && (str(t, "effect") == "NoExecute" || str(t, "effect").empty());
    if (!have)
      tols.push_back({{"key", taint}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}});
  }
}

void defaultTemplate(Json& spec) {
  if (isObj(spec, "template")) defaultPodSpec(dflt(spec["template"], "spec", Json::object()), false);
}

void defaultDeployment(Json& d) {
  Json& spec = dflt(d, "spec", Json::object());
  if (!spec.is_object()) return;
  dflt(spec, "replicas", 1);
  Json& strategy = dflt(spec, "strategy", Json::object());
  if (strategy.is_object()) {
    if (str(strategy, "type").empty()) strategy["type"] = "RollingUpdate";
    if (strategy["type"] == "RollingUpdate") {
      Json& ru = dflt(strategy, "rollingUpdate", Json::object());
      dflt(ru, "maxUnavailable", "25%");
      dflt(ru, "maxSurge", "25%");
    }
  }
  dflt(spec, "revisionHistoryLimit", 10);
  dflt(spec, "progressDeadlineSeconds", 600);
  defaultTemplate(spec);
}

void defaultService(Json& svc) {
  Json& spec = dflt(svc, "spec", Json::object());
  if (!spec.is_object()) return;
  dflt(spec, "sessionAffinity", "None");
  if (spec["sessionAffinity"] == "ClientIP") {
    Json& cfg = dflt(spec, "sessionAffinityConfig", Json::object());
    Json& cip = dflt(cfg, "clientIP", Json::object());
    dflt(cip, "timeoutSeconds", 10800);
  } else if (spec["sessionAffinity"] == "None") {
    spec.erase("sessionAffinityConfig");
  }
  if (str(spec, "type").empty()) spec["type"] = "ClusterIP";
  std::string type = spec["type"];
  if (isArr(spec, "ports"))
    for (auto& p : spec["ports"]) {
      if (!p.is_object()) continue;
      dflt(p, "protocol", "TCP");
      const Json* tp = field(p, "targetPort");
      if (!tp || *tp == 0 || *tp == "") p["targetPort"] = p.contains("port") ? p["port"] : Json(0);
    }
  bool externallyAccessible =
      type == "NodePort" || type == "LoadBalancer" || (type == "ClusterIP" && !vi::arr(spec, "externalIPs").empty());
  if (externallyAccessible) dflt(spec, "externalTrafficPolicy", "Cluster");
  if (type != "ExternalName") dflt(spec, "internalTrafficPolicy", "Cluster");
  if (type == "LoadBalancer") dflt(spec, "allocateLoadBalancerNodePorts", true);

  if (type == "ExternalName") return;
  // Cluster IP fields (kube's NormalizeClusterIPs and initIPFamilyFields, single-stack cluster).
  std::string ip = str(spec, "clusterIP");
  if (!ip.empty() && vi::arr(spec, "clusterIPs").empty()) spec["clusterIPs"] = Json::array({ip});
  bool headlessNoSelector = ip == "None" && vi::obj(spec, "selector").empty();
  dflt(spec, "ipFamilyPolicy", headlessNoSelector ? "RequireDualStack" : "SingleStack");
  if (vi::arr(spec, "ipFamilies").empty())
    spec["ipFamilies"] = Json::array({vi::isIPv6(ip) ? "IPv6" : "IPv4"});
}

std::string base64Encode(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {tbl[n >> 18], tbl[(n >> 12) & 63], tbl[(n >> 6) & 63], tbl[n & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned n = (unsigned char)in[i] << 16;
    out += {tbl[n >> 18], tbl[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {tbl[n >> 18], tbl[(n >> 12) & 63], tbl[(n >> 6) & 63], '='};
  }
  return out;
}

void defaultSecret(Json& s) {
  if (str(s, "type").empty()) s["type"] = "Opaque";
  // stringData is write-only: kube's conversion folds it into data (base64) and drops it.
  if (isObj(s, "stringData")) {
    Json& data = dflt(s, "data", Json::object());
    if (data.is_object())
      for (auto& [k, v] : s["stringData"].items()) data[k] = base64Encode(v.is_string() ? v.get<std::string>() : v.dump());
  }
  s.erase("stringData");
}

// kube's GetPodQOS over the app and init containers' cpu and memory.
std::string podQOS(const Json& spec) {
  std::map<std::string, long double> requests, limits;
  bool guaranteed = true;
  for (const char* list : {"containers", "initContainers"})
    for (auto& c : vi::arr(spec, list)) {
      // Requests default to limits (SetDefaults_Pod); this may run before that defaulting.
      Json res = vi::obj(c, "resources");
      for (auto& [k, v] : vi::obj(res, "limits").items())
        if (!res["requests"].is_object() || !res["requests"].contains(k)) res["requests"][k] = v;
      std::set<std::string> limitsFound;
      for (const char* which : {"requests", "limits"})
        for (auto& [k, v] : vi::obj(res, which).items()) {
          if (k != "cpu" && k != "memory") continue;
          auto q = vi::parseQuantity(v.is_string() ? v.get<std::string>() : v.dump());
          if (!q || *q <= 0) continue;
          (std::string(which) == "requests" ? requests : limits)[k] += *q;
          if (std::string(which) == "limits") limitsFound.insert(k);
        }
      if (limitsFound.size() != 2) guaranteed = false;
    }
  if (requests.empty() && limits.empty()) return "BestEffort";
  for (auto& [k, v] : requests)
    if (!limits.count(k) || limits[k] != v) guaranteed = false;
  return guaranteed && requests.size() == limits.size() ? "Guaranteed" : "Burstable";
}

}  // namespace

void applyDefaults(const ResourceInfo& r, Json& o) {
  if (!o.is_object()) return;
  const std::string& k = r.kind;
  if (k == "Pod") {
    Json& spec = dflt(o, "spec", Json::object());
    defaultPodSpec(spec, true);
    if (spec.is_object()) defaultPodOnly(spec);
  } else if (k == "Deployment") {
    defaultDeployment(o);
  } else if (k == "ReplicaSet") {
    Json& spec = dflt(o, "spec", Json::object());
    if (spec.is_object()) {
      dflt(spec, "replicas", 1);
      defaultTemplate(spec);
    }
  } else if (k == "Service") {
    defaultService(o);
  } else if (k == "Secret") {
    defaultSecret(o);
  } else if (k == "Namespace") {
    Json& meta = dflt(o, "metadata", Json::object());
    std::string name = str(meta, "name");
    if (!name.empty() && meta.is_object()) dflt(meta, "labels", Json::object())["kubernetes.io/metadata.name"] = name;
    Json& status = dflt(o, "status", Json::object());
    if (status.is_object()) dflt(status, "phase", "Active");
  } else if (k == "Endpoints") {
    if (isArr(o, "subsets"))
      for (auto& ss : o["subsets"])
        if (isArr(ss, "ports"))
          for (auto& p : ss["ports"])
            if (p.is_object()) dflt(p, "protocol", "TCP");
  } else if (k == "EndpointSlice") {
    if (isArr(o, "ports"))
      for (auto& p : o["ports"])
        if (p.is_object()) {
          dflt(p, "name", "");
          dflt(p, "protocol", "TCP");
        }
  } else if (k == "Node") {
    // Allocatable defaults to capacity.
    if (isObj(o, "status") && isObj(o["status"], "capacity")) dflt(o["status"], "allocatable", o["status"]["capacity"]);
  }
}

void prepareForCreate(const ResourceInfo& r, Json& o) {
  if (!o.is_object()) return;
  const std::string& k = r.kind;
  if (k == "Pod") {
    o["status"] = {{"phase", "Pending"}, {"qosClass", podQOS(vi::obj(o, "spec"))}};
  } else if (k == "Deployment" || k == "ReplicaSet") {
    o["status"] = Json::object();
  } else if (k == "Service") {
    o["status"] = {{"loadBalancer", Json::object()}};
  } else if (k == "Namespace") {
    o["status"] = {{"phase", "Active"}};
    // Only at create: the namespace controller removes it through /finalize, and
    // re-adding it on later writes would keep a terminating namespace forever.
    Json& spec = dflt(o, "spec", Json::object());
    if (spec.is_object()) {
      Json& fins = dflt(spec, "finalizers", Json::array());
      bool have = false;
      for (auto& f : fins) have |= (f == "kubernetes");
      if (fins.is_array() && !have) fins.push_back("kubernetes");
    }
  }
}

}  // namespace k1s
