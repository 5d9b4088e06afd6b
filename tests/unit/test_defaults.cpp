// Defaulting and create preparation: what `kubectl get -o yaml` shows on a real cluster.
#include <doctest/doctest.h>

#include "apiserver/defaults.h"
#include "common/resources.h"

using k1s::Json;

namespace {

const k1s::ResourceInfo& kindOf(const char* apiVersion, const char* kind) {
  auto* r = k1s::findKind(apiVersion, kind);
  REQUIRE(r != nullptr);
  return *r;
}

Json defaulted(const char* apiVersion, const char* kind, Json o) {
  k1s::applyDefaults(kindOf(apiVersion, kind), o);
  return o;
}

}  // namespace

TEST_CASE("pod spec defaults match kube-apiserver") {
  Json pod = defaulted("v1", "Pod", Json::parse(R"({"metadata":{"name":"p","namespace":"default"},
    "spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}],
      "readinessProbe":{"httpGet":{"port":80}},
      "env":[{"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}}]},
      {"name":"api","image":"numbers-api:v1"}],
      "volumes":[{"name":"cfg","configMap":{"name":"c"}},{"name":"s","secret":{"secretName":"x"}},{"name":"scratch"}]}})"));
  const Json& spec = pod["spec"];
  CHECK(spec["restartPolicy"] == "Always");
  CHECK(spec["dnsPolicy"] == "ClusterFirst");
  CHECK(spec["terminationGracePeriodSeconds"] == 30);
  CHECK(spec["schedulerName"] == "default-scheduler");
  CHECK(spec["securityContext"] == Json::object());
  CHECK(spec["serviceAccountName"] == "default");
  CHECK(spec["serviceAccount"] == "default");
  CHECK(spec["enableServiceLinks"] == true);
  CHECK(spec["preemptionPolicy"] == "PreemptLowerPriority");
  CHECK(spec["priority"] == 0);
  REQUIRE(spec["tolerations"].size() == 2);
  CHECK(spec["tolerations"][0]["key"] == "node.kubernetes.io/not-ready");
  CHECK(spec["tolerations"][0]["tolerationSeconds"] == 300);

  const Json& web = spec["containers"][0];
  CHECK(web["imagePullPolicy"] == "Always");  // no tag means :latest
  CHECK(spec["containers"][1]["imagePullPolicy"] == "IfNotPresent");
  CHECK(web["terminationMessagePath"] == "/dev/termination-log");
  CHECK(web["terminationMessagePolicy"] == "File");
  CHECK(web["resources"] == Json::object());
  CHECK(web["ports"][0]["protocol"] == "TCP");
  const Json& probe = web["readinessProbe"];
  CHECK(probe["timeoutSeconds"] == 1);
  CHECK(probe["periodSeconds"] == 10);
  CHECK(probe["successThreshold"] == 1);
  CHECK(probe["failureThreshold"] == 3);
  CHECK(probe["httpGet"]["scheme"] == "HTTP");
  CHECK(probe["httpGet"]["path"] == "/");
  CHECK(web["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1");

  CHECK(spec["volumes"][0]["configMap"]["defaultMode"] == 420);
  CHECK(spec["volumes"][1]["secret"]["defaultMode"] == 420);
  CHECK(spec["volumes"][2]["emptyDir"] == Json::object());
}

TEST_CASE("image pull policy follows the tag") {
  auto policy = [](const char* image) {
    Json pod = defaulted("v1", "Pod", {{"spec", {{"containers", {{{"name", "c"}, {"image", image}}}}}}});
    return pod["spec"]["containers"][0]["imagePullPolicy"].get<std::string>();
  };
  CHECK(policy("nginx:latest") == "Always");
  CHECK(policy("registry:5000/team/app") == "Always");
  CHECK(policy("registry:5000/team/app:1.2") == "IfNotPresent");
  CHECK(policy("app@sha256:abcd") == "IfNotPresent");
}

TEST_CASE("defaults do not overwrite what the user wrote") {
  Json pod = defaulted("v1", "Pod", Json::parse(R"({"spec":{"restartPolicy":"Never","serviceAccountName":"robot",
    "containers":[{"name":"c","image":"x:latest","imagePullPolicy":"Never"}]}})"));
  CHECK(pod["spec"]["restartPolicy"] == "Never");
  CHECK(pod["spec"]["serviceAccount"] == "robot");
  CHECK(pod["spec"]["containers"][0]["imagePullPolicy"] == "Never");
  Json again = pod;
  k1s::applyDefaults(kindOf("v1", "Pod"), again);
  CHECK(again == pod);  // idempotent: a second pass (update path) changes nothing
}

TEST_CASE("pod requests default to limits; QoS class is computed at create") {
  auto qos = [](const char* resources) {
    Json pod = Json::parse(std::string(R"({"spec":{"containers":[{"name":"c","image":"x","resources":)") + resources +
                           "}]}}");
    k1s::applyDefaults(kindOf("v1", "Pod"), pod);
    k1s::prepareForCreate(kindOf("v1", "Pod"), pod);
    CHECK(pod["status"]["phase"] == "Pending");
    return pod["status"]["qosClass"].get<std::string>();
  };
  CHECK(qos("{}") == "BestEffort");
  CHECK(qos(R"({"limits":{"cpu":"500m","memory":"128Mi"}})") == "Guaranteed");
  // The registry may prepare before defaulting: limits alone still make the pod Guaranteed.
  Json raw = Json::parse(R"({"spec":{"containers":[{"name":"c","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}})");
  k1s::prepareForCreate(kindOf("v1", "Pod"), raw);
  CHECK(raw["status"]["qosClass"] == "Guaranteed");
  CHECK(qos(R"({"requests":{"cpu":"100m"}})") == "Burstable");
  CHECK(qos(R"({"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"200m","memory":"64Mi"}})") == "Burstable");
  Json pod = defaulted("v1", "Pod", Json::parse(R"({"spec":{"containers":[{"name":"c","image":"x",
    "resources":{"limits":{"cpu":"1"}}}]}})"));
  CHECK(pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "1");
}

TEST_CASE("deployment and replicaset defaults") {
  Json d = defaulted("apps/v1", "Deployment", Json::parse(R"({"spec":{"selector":{"matchLabels":{"app":"w"}},
    "template":{"metadata":{"labels":{"app":"w"}},"spec":{"containers":[{"name":"w","image":"w:v1"}]}}}})"));
  CHECK(d["spec"]["replicas"] == 1);
  CHECK(d["spec"]["strategy"]["type"] == "RollingUpdate");
  CHECK(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%");
  CHECK(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == "25%");
  CHECK(d["spec"]["revisionHistoryLimit"] == 10);
  CHECK(d["spec"]["progressDeadlineSeconds"] == 600);
  const Json& tspec = d["spec"]["template"]["spec"];
  CHECK(tspec["restartPolicy"] == "Always");
  CHECK(tspec["containers"][0]["imagePullPolicy"] == "IfNotPresent");
  // Pod-only defaults (admission, SetDefaults_Pod) stay out of templates, as on a real cluster.
  CHECK_FALSE(tspec.contains("serviceAccountName"));
  CHECK_FALSE(tspec.contains("enableServiceLinks"));

  Json recreate = defaulted("apps/v1", "Deployment", Json::parse(R"({"spec":{"strategy":{"type":"Recreate"}}})"));
  CHECK_FALSE(recreate["spec"]["strategy"].contains("rollingUpdate"));

  Json rs = defaulted("apps/v1", "ReplicaSet", Json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a"}]}}}})"));
  CHECK(rs["spec"]["replicas"] == 1);
  CHECK(rs["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst");

  k1s::prepareForCreate(kindOf("apps/v1", "Deployment"), d);
  CHECK(d["status"] == Json::object());
}

TEST_CASE("service defaults") {
  Json s = defaulted("v1", "Service", Json::parse(R"({"spec":{"selector":{"app":"w"},"ports":[{"port":80},{"port":8080,"targetPort":"http","protocol":"UDP"}]}})"));
  CHECK(s["spec"]["type"] == "ClusterIP");
  CHECK(s["spec"]["sessionAffinity"] == "None");
  CHECK(s["spec"]["ports"][0]["protocol"] == "TCP");
  CHECK(s["spec"]["ports"][0]["targetPort"] == 80);
  CHECK(s["spec"]["ports"][1]["targetPort"] == "http");
  CHECK(s["spec"]["ports"][1]["protocol"] == "UDP");
  CHECK(s["spec"]["internalTrafficPolicy"] == "Cluster");
  CHECK(s["spec"]["ipFamilies"] == Json::array({"IPv4"}));
  CHECK(s["spec"]["ipFamilyPolicy"] == "SingleStack");
  CHECK_FALSE(s["spec"].contains("externalTrafficPolicy"));
  CHECK_FALSE(s["spec"].contains("clusterIP"));  // allocation is admission's job

  Json lb = defaulted("v1", "Service", Json::parse(R"({"spec":{"type":"LoadBalancer","ports":[{"port":80}]}})"));
  CHECK(lb["spec"]["externalTrafficPolicy"] == "Cluster");
  CHECK(lb["spec"]["allocateLoadBalancerNodePorts"] == true);
  Json np = defaulted("v1", "Service", Json::parse(R"({"spec":{"type":"NodePort","ports":[{"port":80}]}})"));
  CHECK(np["spec"]["externalTrafficPolicy"] == "Cluster");
  CHECK_FALSE(np["spec"].contains("allocateLoadBalancerNodePorts"));

  Json headless = defaulted("v1", "Service", Json::parse(R"({"spec":{"clusterIP":"None"}})"));
  CHECK(headless["spec"]["clusterIPs"] == Json::array({"None"}));
  CHECK(headless["spec"]["ipFamilyPolicy"] == "RequireDualStack");

  Json ext = defaulted("v1", "Service", Json::parse(R"({"spec":{"type":"ExternalName","externalName":"example.com"}})"));
  CHECK_FALSE(ext["spec"].contains("ipFamilies"));
  CHECK_FALSE(ext["spec"].contains("internalTrafficPolicy"));

  k1s::prepareForCreate(kindOf("v1", "Service"), s);
  CHECK(s["status"] == Json::parse(R"({"loadBalancer":{}})"));
}

TEST_CASE("secret, namespace, endpoints and endpointslice defaults") {
  Json sec = defaulted("v1", "Secret", Json::parse(R"({"stringData":{"user":"admin","pw":"ab"}})"));
  CHECK(sec["type"] == "Opaque");
  CHECK(sec["data"]["user"] == "YWRtaW4=");
  CHECK(sec["data"]["pw"] == "YWI=");
  CHECK_FALSE(sec.contains("stringData"));

  Json ns = defaulted("v1", "Namespace", Json::parse(R"({"metadata":{"name":"lab"}})"));
  CHECK(ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "lab");
  CHECK(ns["status"]["phase"] == "Active");
  CHECK_FALSE(ns.contains("spec"));  // the finalizer is added at create only
  k1s::prepareForCreate(kindOf("v1", "Namespace"), ns);
  CHECK(ns["spec"]["finalizers"] == Json::array({"kubernetes"}));

  Json ep = defaulted("v1", "Endpoints", Json::parse(R"({"subsets":[{"addresses":[{"ip":"10.244.0.5"}],"ports":[{"port":80}]}]})"));
  CHECK(ep["subsets"][0]["ports"][0]["protocol"] == "TCP");
  Json es = defaulted("discovery.k8s.io/v1", "EndpointSlice", Json::parse(R"({"addressType":"IPv4","ports":[{"port":80}]})"));
  CHECK(es["ports"][0]["protocol"] == "TCP");
  CHECK(es["ports"][0]["name"] == "");
}
