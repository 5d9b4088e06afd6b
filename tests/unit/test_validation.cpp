// Validation: the field paths, reasons and messages kubectl shows a learner.
#include <doctest/doctest.h>

#include "apiserver/defaults.h"
#include "apiserver/validation.h"
#include "common/resources.h"

using k1s::Json;
using k1s::StatusCause;

namespace {

const k1s::ResourceInfo& kindOf(const char* apiVersion, const char* kind) {
  auto* r = k1s::findKind(apiVersion, kind);
  REQUIRE(r != nullptr);
  return *r;
}

std::vector<StatusCause> create(const char* apiVersion, const char* kind, Json o) {
  k1s::applyDefaults(kindOf(apiVersion, kind), o);
  return k1s::validateCreate(kindOf(apiVersion, kind), o);
}
std::vector<StatusCause> update(const char* apiVersion, const char* kind, Json o, Json old) {
  k1s::applyDefaults(kindOf(apiVersion, kind), o);
  k1s::applyDefaults(kindOf(apiVersion, kind), old);
  return k1s::validateUpdate(kindOf(apiVersion, kind), o, old);
}

std::string dump(const std::vector<StatusCause>& cs) {
  std::string s;
  for (auto& c : cs) s += "  " + c.field + " [" + c.reason + "] " + c.message + "\n";
  return s;
}

// True when some cause has this field and reason and a message containing `text`.
bool has(const std::vector<StatusCause>& cs, const std::string& field, const std::string& reason,
         const std::string& text) {
  for (auto& c : cs)
    if (c.field == field && c.reason == reason && c.message.find(text) != std::string::npos) return true;
  return false;
}
#define CHECK_CAUSE(cs, f, r, t) CHECK_MESSAGE(has(cs, f, r, t), dump(cs))

Json pod(const char* specJson) {
  return {{"metadata", {{"name", "p"}, {"namespace", "default"}}}, {"spec", Json::parse(specJson)}};
}
Json deployment(const char* specJson) {
  return {{"metadata", {{"name", "web"}, {"namespace", "default"}}}, {"spec", Json::parse(specJson)}};
}
const char* kGoodTemplate = R"("template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"web:v1"}]}})";

}  // namespace

TEST_CASE("names and metadata") {
  auto cs = create("v1", "Pod", {{"metadata", {{"name", "Foo_bar"}, {"namespace", "default"}}},
                                 {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}});
  CHECK_CAUSE(cs, "metadata.name", "FieldValueInvalid",
              "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
              "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
              "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");

  cs = create("v1", "ConfigMap", {{"metadata", {{"namespace", "default"}}}});
  CHECK_CAUSE(cs, "metadata.name", "FieldValueRequired", "Required value: name or generateName is required");
  CHECK(create("v1", "ConfigMap", {{"metadata", {{"generateName", "cfg-"}, {"name", "cfg-x7k2p"}, {"namespace", "d"}}}}).empty());
  cs = create("v1", "ConfigMap", {{"metadata", {{"name", "cfg"}}}});
  CHECK_CAUSE(cs, "metadata.namespace", "FieldValueRequired", "Required value");

  // Services are DNS-1035 labels: no leading digit, no dots.
  cs = create("v1", "Service", Json::parse(R"({"metadata":{"name":"1web","namespace":"d"},"spec":{"ports":[{"port":80}]}})"));
  CHECK_CAUSE(cs, "metadata.name", "FieldValueInvalid", "a DNS-1035 label must consist of lower case alphanumeric characters");
  cs = create("v1", "Namespace", {{"metadata", {{"name", "my.ns"}}}});
  CHECK_CAUSE(cs, "metadata.name", "FieldValueInvalid", "must not contain dots");
  cs = create("v1", "Namespace", {{"metadata", {{"name", std::string(64, 'a')}}}});
  CHECK_CAUSE(cs, "metadata.name", "FieldValueInvalid", "must be no more than 63 characters");

  cs = create("v1", "ConfigMap", Json::parse(R"({"metadata":{"name":"c","namespace":"d",
      "labels":{"bad key":"v","app":"not valid!"},"annotations":{"example.com/ok":"x","a/b/c":"y"}}})"));
  CHECK_CAUSE(cs, "metadata.labels", "FieldValueInvalid", "Invalid value: \"bad key\": name part must consist of alphanumeric characters");
  CHECK_CAUSE(cs, "metadata.labels", "FieldValueInvalid", "Invalid value: \"not valid!\": a valid label must be an empty string");
  CHECK_CAUSE(cs, "metadata.annotations", "FieldValueInvalid", "Invalid value: \"a/b/c\": a qualified name must consist of");
  cs = create("v1", "ConfigMap", {{"metadata", {{"name", "c"}, {"namespace", "d"},
                                                {"annotations", {{"big", std::string(300 * 1024, 'x')}}}}}});
  CHECK_CAUSE(cs, "metadata.annotations", "FieldValueTooLong", "Too long: must have at most 262144 bytes");
}

TEST_CASE("pod spec: containers, names, images") {
  auto cs = create("v1", "Pod", pod(R"({"containers":[]})"));
  CHECK_CAUSE(cs, "spec.containers", "FieldValueRequired", "Required value");
  cs = create("v1", "Pod", pod(R"({"containers":[{"name":"Web","image":"x"},{"name":"b"}],
      "initContainers":[{"name":"Web","image":"i"}]})"));
  CHECK_CAUSE(cs, "spec.containers[0].name", "FieldValueInvalid", "a lowercase RFC 1123 label must consist of");
  CHECK_CAUSE(cs, "spec.containers[1].image", "FieldValueRequired", "Required value");
  CHECK_CAUSE(cs, "spec.initContainers[0].name", "FieldValueDuplicate", "Duplicate value: \"Web\"");
  cs = create("v1", "Pod", pod(R"({"containers":[{"image":"x"}]})"));
  CHECK_CAUSE(cs, "spec.containers[0].name", "FieldValueRequired", "Required value");
  CHECK(create("v1", "Pod", pod(R"({"containers":[{"name":"web","image":"nginx"}]})")).empty());
}

TEST_CASE("pod spec: ports, protocol, restartPolicy, resources") {
  auto cs = create("v1", "Pod", pod(R"({"restartPolicy":"Sometimes","containers":[{"name":"c","image":"x",
      "ports":[{"containerPort":70000,"name":"http"},{"containerPort":81,"name":"http"},{"containerPort":82,"protocol":"ICMP"},
               {"containerPort":83,"name":"Web_Port"}],
      "resources":{"requests":{"cpu":"2","memory":"1Gi"},"limits":{"cpu":"1","memory":"2Gi"}}}]})"));
  CHECK_CAUSE(cs, "spec.containers[0].ports[0].containerPort", "FieldValueInvalid",
              "Invalid value: 70000: must be between 1 and 65535, inclusive");
  CHECK_CAUSE(cs, "spec.containers[0].ports[1].name", "FieldValueDuplicate", "Duplicate value: \"http\"");
  CHECK_CAUSE(cs, "spec.containers[0].ports[2].protocol", "FieldValueNotSupported",
              "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
  CHECK_CAUSE(cs, "spec.containers[0].ports[3].name", "FieldValueInvalid", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  CHECK_CAUSE(cs, "spec.restartPolicy", "FieldValueNotSupported",
              "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
  CHECK_CAUSE(cs, "spec.containers[0].resources.requests", "FieldValueInvalid",
              "Invalid value: \"2\": must be less than or equal to cpu limit of 1");
  CHECK_FALSE(has(cs, "spec.containers[0].resources.requests", "FieldValueInvalid", "memory limit"));

  cs = create("v1", "Pod", pod(R"({"containers":[{"name":"c","image":"x","resources":{"limits":{"memory":"lots"}}}]})"));
  CHECK_CAUSE(cs, "spec.containers[0].resources.limits[memory]", "FieldValueInvalid", "quantities must match the regular expression");
}

TEST_CASE("pod spec: volumes, mounts, env, probes") {
  auto cs = create("v1", "Pod", pod(R"({"volumes":[{"name":"data"},{"name":"data"},{"name":"cm","configMap":{}}],
      "containers":[{"name":"c","image":"x",
        "volumeMounts":[{"name":"missing","mountPath":"/m"},{"name":"data","mountPath":"/m"}],
        "env":[{"name":"1BAD","value":"x"},{"value":"y"}],
        "livenessProbe":{"successThreshold":2,"tcpSocket":{"port":8080}},
        "readinessProbe":{"periodSeconds":5}}]})"));
  CHECK_CAUSE(cs, "spec.volumes[1].name", "FieldValueDuplicate", "Duplicate value: \"data\"");
  CHECK_CAUSE(cs, "spec.volumes[2].configMap.name", "FieldValueRequired", "Required value");
  CHECK_CAUSE(cs, "spec.containers[0].volumeMounts[0].name", "FieldValueNotFound", "Not found: \"missing\"");
  CHECK_CAUSE(cs, "spec.containers[0].volumeMounts[1].mountPath", "FieldValueInvalid", "must be unique");
  CHECK_CAUSE(cs, "spec.containers[0].env[0].name", "FieldValueInvalid",
              "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit");
  CHECK_CAUSE(cs, "spec.containers[0].env[1].name", "FieldValueRequired", "Required value");
  CHECK_CAUSE(cs, "spec.containers[0].livenessProbe.successThreshold", "FieldValueInvalid", "Invalid value: 2: must be 1");
  CHECK_CAUSE(cs, "spec.containers[0].readinessProbe", "FieldValueRequired", "must specify a handler type");
}

TEST_CASE("deployment: selector, template labels, replicas, strategy") {
  auto cs = create("apps/v1", "Deployment", deployment(
      (std::string(R"({"selector":{"matchLabels":{"app":"other"}},)") + kGoodTemplate + "}").c_str()));
  CHECK_CAUSE(cs, "spec.template.metadata.labels", "FieldValueInvalid",
              "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`");

  cs = create("apps/v1", "Deployment", deployment((std::string("{") + kGoodTemplate + "}").c_str()));
  CHECK_CAUSE(cs, "spec.selector", "FieldValueRequired", "Required value");
  cs = create("apps/v1", "Deployment", deployment((std::string(R"({"selector":{},)") + kGoodTemplate + "}").c_str()));
  CHECK_CAUSE(cs, "spec.selector", "FieldValueInvalid", "empty selector is invalid for deployment");

  cs = create("apps/v1", "Deployment", deployment((std::string(R"({"replicas":-1,"selector":{"matchExpressions":[{"key":"app","operator":"In","values":["web"]}]},
      "strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":"0%"}},)") + kGoodTemplate + "}").c_str()));
  CHECK_CAUSE(cs, "spec.replicas", "FieldValueInvalid", "Invalid value: -1: must be greater than or equal to 0");
  CHECK_CAUSE(cs, "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
              "Invalid value: 0%: may not be 0 when `maxSurge` is 0");
  CHECK_FALSE(has(cs, "spec.template.metadata.labels", "FieldValueInvalid", "selector"));  // matchExpressions match

  cs = create("apps/v1", "Deployment", deployment((std::string(R"({"selector":{"matchLabels":{"app":"web"}},"strategy":{"type":"Blue"},)") +
                                                   R"("template":{"metadata":{"labels":{"app":"web"}},"spec":{"restartPolicy":"Never","containers":[{"name":"web","image":"w"}]}}})").c_str()));
  CHECK_CAUSE(cs, "spec.strategy", "FieldValueNotSupported", "supported values: \"Recreate\", \"RollingUpdate\"");
  CHECK_CAUSE(cs, "spec.template.spec.restartPolicy", "FieldValueNotSupported",
              "Unsupported value: \"Never\": supported values: \"Always\"");

  cs = create("apps/v1", "Deployment", deployment((std::string(R"({"selector":{"matchLabels":{"app":"web"}},"strategy":{"type":"Recreate","rollingUpdate":{}},)") + kGoodTemplate + "}").c_str()));
  CHECK_CAUSE(cs, "spec.strategy.rollingUpdate", "FieldValueForbidden", "may not be specified when strategy `type` is 'Recreate'");

  cs = create("apps/v1", "Deployment", deployment(R"({"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web"}]}}})"));
  CHECK_CAUSE(cs, "spec.template.spec.containers[0].image", "FieldValueRequired", "Required value");

  CHECK(create("apps/v1", "Deployment", deployment((std::string(R"({"selector":{"matchLabels":{"app":"web"}},)") + kGoodTemplate + "}").c_str())).empty());
  CHECK(create("apps/v1", "ReplicaSet", deployment((std::string(R"({"selector":{"matchLabels":{"app":"web"}},)") + kGoodTemplate + "}").c_str())).empty());
  cs = create("apps/v1", "ReplicaSet", deployment((std::string(R"({"selector":{"matchLabels":{"app":"x"}},)") + kGoodTemplate + "}").c_str()));
  CHECK_CAUSE(cs, "spec.template.metadata.labels", "FieldValueInvalid", "`selector` does not match template `labels`");
}

TEST_CASE("deployment update: selector is immutable") {
  Json old = deployment((std::string(R"({"selector":{"matchLabels":{"app":"web"}},)") + kGoodTemplate + "}").c_str());
  Json now = old;
  now["spec"]["selector"]["matchLabels"]["tier"] = "fe";
  now["spec"]["template"]["metadata"]["labels"]["tier"] = "fe";
  auto cs = update("apps/v1", "Deployment", now, old);
  CHECK_CAUSE(cs, "spec.selector", "FieldValueInvalid",
              "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"fe\"}, "
              "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable");
  Json scaled = old;
  scaled["spec"]["replicas"] = 5;
  CHECK(update("apps/v1", "Deployment", scaled, old).empty());
  Json renamed = old;
  renamed["metadata"]["name"] = "other";
  CHECK_CAUSE(update("apps/v1", "Deployment", renamed, old), "metadata.name", "FieldValueInvalid",
              "Invalid value: \"other\": field is immutable");
  // A selector changed alone: kube lists the template mismatch first, the immutability last.
  Json moved = old;
  moved["spec"]["selector"]["matchLabels"]["app"] = "other";
  cs = update("apps/v1", "Deployment", moved, old);
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].field == "spec.template.metadata.labels");
  CHECK(cs[1].field == "spec.selector");
}

TEST_CASE("pod update: only images and a few fields may change") {
  Json old = pod(R"({"containers":[{"name":"c","image":"x:v1","ports":[{"containerPort":80}]}]})");
  Json image = old;
  image["spec"]["containers"][0]["image"] = "x:v2";
  image["metadata"]["labels"] = {{"new", "label"}};
  CHECK(update("v1", "Pod", image, old).empty());

  Json port = old;
  port["spec"]["containers"][0]["ports"][0]["containerPort"] = 81;
  auto cs = update("v1", "Pod", port, old);
  CHECK_CAUSE(cs, "spec", "FieldValueForbidden",
              "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
              "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)");

  Json added = old;
  added["spec"]["containers"].push_back({{"name", "d"}, {"image", "y"}});
  CHECK_CAUSE(update("v1", "Pod", added, old), "spec.containers", "FieldValueForbidden", "pod updates may not add or remove containers");

  Json tol = old;
  tol["spec"]["tolerations"] = Json::array({{{"key", "k"}, {"operator", "Exists"}}});
  tol["spec"]["activeDeadlineSeconds"] = 60;
  CHECK(update("v1", "Pod", tol, old).empty());
}

TEST_CASE("service validation") {
  auto svc = [](const char* specJson) {
    return Json{{"metadata", {{"name", "web"}, {"namespace", "default"}}}, {"spec", Json::parse(specJson)}};
  };
  auto cs = create("v1", "Service", svc(R"({"selector":{"app":"web"}})"));
  CHECK_CAUSE(cs, "spec.ports", "FieldValueRequired", "Required value");
  CHECK(create("v1", "Service", svc(R"({"clusterIP":"None"})")).empty());  // headless needs no ports

  cs = create("v1", "Service", svc(R"({"type":"Magic","clusterIP":"10.96.0.300","ports":[{"port":0,"name":"a"},{"port":80},{"port":81,"name":"a","targetPort":"Not_A_Name"}]})"));
  CHECK_CAUSE(cs, "spec.ports[0].port", "FieldValueInvalid", "Invalid value: 0: must be between 1 and 65535, inclusive");
  CHECK_CAUSE(cs, "spec.ports[1].name", "FieldValueRequired", "Required value");
  CHECK_CAUSE(cs, "spec.ports[2].name", "FieldValueDuplicate", "Duplicate value: \"a\"");
  CHECK_CAUSE(cs, "spec.ports[2].targetPort", "FieldValueInvalid", "Invalid value: \"Not_A_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  CHECK_CAUSE(cs, "spec.type", "FieldValueNotSupported",
              "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
  CHECK_CAUSE(cs, "spec.clusterIPs[0]", "FieldValueInvalid",
              "Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");

  cs = create("v1", "Service", svc(R"({"type":"ExternalName"})"));
  CHECK_CAUSE(cs, "spec.externalName", "FieldValueRequired", "Required value");
  CHECK(create("v1", "Service", svc(R"({"type":"ExternalName","externalName":"db.example.com."})")).empty());
  cs = create("v1", "Service", svc(R"({"ports":[{"port":80,"nodePort":30080}]})"));
  CHECK_CAUSE(cs, "spec.ports[0].nodePort", "FieldValueForbidden", "may not be used when `type` is 'ClusterIP'");
  cs = create("v1", "Service", svc(R"({"ports":[{"port":80,"name":"a"},{"port":80,"name":"b"}]})"));
  CHECK_CAUSE(cs, "spec.ports[1]", "FieldValueDuplicate", "Duplicate value: core.ServicePort{");
}

TEST_CASE("service update: clusterIP is immutable except to/from ExternalName") {
  Json old = Json::parse(R"({"metadata":{"name":"web","namespace":"d"},"spec":{"clusterIP":"10.96.0.20","clusterIPs":["10.96.0.20"],"ports":[{"port":80}]}})");
  Json now = old;
  now["spec"]["clusterIP"] = "10.96.0.99";  // clusterIPs untouched, as `kubectl apply` leaves it
  auto cs = update("v1", "Service", now, old);
  CHECK_CAUSE(cs, "spec.clusterIPs[0]", "FieldValueInvalid",
              "Invalid value: []string{\"10.96.0.99\"}: may not change once set");
  Json omitted = old;
  omitted["spec"].erase("clusterIP");
  omitted["spec"].erase("clusterIPs");
  CHECK(update("v1", "Service", omitted, old).empty());  // kube keeps the allocated IP
  Json ext = Json::parse(R"({"metadata":{"name":"web","namespace":"d"},"spec":{"type":"ExternalName","externalName":"x.example.com","ports":[{"port":80}]}})");
  CHECK(update("v1", "Service", ext, old).empty());
}

TEST_CASE("configmap and secret") {
  auto cs = create("v1", "ConfigMap", Json::parse(R"({"metadata":{"name":"c","namespace":"d"},"data":{"a b":"1","ok.key":"2",".."  :"3"},"binaryData":{"ok.key":"AA=="}})"));
  CHECK_CAUSE(cs, "data[a b]", "FieldValueInvalid",
              "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
              "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  CHECK_CAUSE(cs, "data[..]", "FieldValueInvalid", "must not be '..'");
  CHECK_CAUSE(cs, "data[ok.key]", "FieldValueInvalid", "duplicate of key present in binaryData");
  cs = create("v1", "ConfigMap", {{"metadata", {{"name", "c"}, {"namespace", "d"}}}, {"data", {{"big", std::string(1100000, 'x')}}}});
  CHECK_CAUSE(cs, "", "FieldValueTooLong", "must have at most 1048576 bytes");

  cs = create("v1", "Secret", Json::parse(R"({"metadata":{"name":"s","namespace":"d"},"type":"kubernetes.io/tls","data":{"tls.crt":"AA=="}})"));
  CHECK_CAUSE(cs, "data[tls.key]", "FieldValueRequired", "Required value");

  Json old = Json::parse(R"({"metadata":{"name":"c","namespace":"d"},"immutable":true,"data":{"a":"1"}})");
  Json now = old;
  now["data"]["a"] = "2";
  CHECK_CAUSE(update("v1", "ConfigMap", now, old), "data", "FieldValueForbidden", "field is immutable when `immutable` is set");
  now = old;
  now["immutable"] = false;
  CHECK_CAUSE(update("v1", "ConfigMap", now, old), "immutable", "FieldValueForbidden", "field is immutable when `immutable` is set");
  Json mutableOld = Json::parse(R"({"metadata":{"name":"c","namespace":"d"},"data":{"a":"1"}})");
  now = mutableOld;
  now["data"]["a"] = "2";
  CHECK(update("v1", "ConfigMap", now, mutableOld).empty());

  Json sOld = Json::parse(R"({"metadata":{"name":"s","namespace":"d"},"type":"Opaque","data":{}})");
  Json sNew = sOld;
  sNew["type"] = "kubernetes.io/basic-auth";
  sNew["data"] = {{"username", "YQ=="}};
  CHECK_CAUSE(update("v1", "Secret", sNew, sOld), "type", "FieldValueInvalid",
              "Invalid value: \"kubernetes.io/basic-auth\": field is immutable");
}

TEST_CASE("endpoints, endpointslices, namespace, event, lease, node") {
  auto cs = create("v1", "Endpoints", Json::parse(R"({"metadata":{"name":"web","namespace":"d"},
      "subsets":[{"addresses":[{"ip":"10.244.0.999"}],"ports":[{"port":80},{"port":70000,"name":"b","protocol":"TCP"}]},{"ports":[{"port":1}]}]})"));
  CHECK_CAUSE(cs, "subsets[0].addresses[0].ip", "FieldValueInvalid", "must be a valid IP address");
  CHECK_CAUSE(cs, "subsets[0].ports[0].name", "FieldValueRequired", "Required value");
  CHECK_CAUSE(cs, "subsets[0].ports[1].port", "FieldValueInvalid", "must be between 1 and 65535, inclusive");
  CHECK_CAUSE(cs, "subsets[1]", "FieldValueRequired", "must specify `addresses` or `notReadyAddresses`");
  CHECK(create("v1", "Endpoints", Json::parse(R"({"metadata":{"name":"kubernetes","namespace":"default"},
      "subsets":[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"name":"https","port":6443}]}]})")).empty());

  cs = create("discovery.k8s.io/v1", "EndpointSlice", Json::parse(R"({"metadata":{"name":"web-abc","namespace":"d"},
      "addressType":"IPX","endpoints":[{"addresses":[]}]})"));
  CHECK_CAUSE(cs, "addressType", "FieldValueNotSupported", "supported values: \"FQDN\", \"IPv4\", \"IPv6\"");
  CHECK_CAUSE(cs, "endpoints[0].addresses", "FieldValueRequired", "must contain at least 1 address");
  cs = create("discovery.k8s.io/v1", "EndpointSlice", Json::parse(R"({"metadata":{"name":"web-abc","namespace":"d"},
      "addressType":"IPv4","endpoints":[{"addresses":["fe80::1"]}]})"));
  CHECK_CAUSE(cs, "endpoints[0].addresses[0]", "FieldValueInvalid", "must be a valid IPv4 address");

  cs = create("v1", "Namespace", Json::parse(R"({"metadata":{"name":"lab","namespace":"x"}})"));
  CHECK_CAUSE(cs, "metadata.namespace", "FieldValueForbidden", "not allowed on this type");
  CHECK(create("v1", "Namespace", Json::parse(R"({"metadata":{"name":"lab"},"spec":{"finalizers":["kubernetes"]}})")).empty());

  cs = create("v1", "Event", Json::parse(R"({"metadata":{"name":"p.1","namespace":"a"},"involvedObject":{"kind":"Pod","namespace":"b"}})"));
  CHECK_CAUSE(cs, "involvedObject.namespace", "FieldValueInvalid", "does not match event.namespace");

  cs = create("coordination.k8s.io/v1", "Lease", Json::parse(R"({"metadata":{"name":"node1","namespace":"kube-node-lease"},"spec":{"leaseDurationSeconds":0}})"));
  CHECK_CAUSE(cs, "spec.leaseDurationSeconds", "FieldValueInvalid", "must be greater than 0");

  CHECK(create("v1", "Node", Json::parse(R"({"metadata":{"name":"k1s-node"},"spec":{"podCIDR":"10.244.0.0/24","podCIDRs":["10.244.0.0/24"]}})")).empty());
  cs = create("v1", "Node", Json::parse(R"({"metadata":{"name":"Node_1"}})"));
  CHECK_CAUSE(cs, "metadata.name", "FieldValueInvalid", "a lowercase RFC 1123 subdomain");
}

TEST_CASE("public name helpers") {
  CHECK(k1s::isDns1123Label("web-1"));
  CHECK_FALSE(k1s::isDns1123Label("web.1"));
  CHECK(k1s::isDns1123Subdomain("web.example"));
  CHECK_FALSE(k1s::isDns1123Subdomain("-web"));
  CHECK(k1s::isQualifiedName("app.kubernetes.io/name"));
  CHECK_FALSE(k1s::isQualifiedName("a/b/c"));
  CHECK(k1s::isLabelValue(""));
  CHECK_FALSE(k1s::isLabelValue("-x"));
}
