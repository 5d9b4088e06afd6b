// The embedded schema: unknown-field detection, strategic-merge keys, the
// /openapi/v3 listing and explain lookups.
#include <doctest/doctest.h>

#include <algorithm>

#include "apiserver/schema.h"
#include "common/resources.h"

using k1s::Json;

namespace {

const k1s::ResourceInfo& kind(const std::string& apiVersion, const std::string& k) {
  auto* r = k1s::findKind(apiVersion, k);
  REQUIRE(r != nullptr);
  return *r;
}

// A Deployment as `kubectl create deployment --dry-run -o yaml` and the 1.33
// docs would write it, using fields that appeared after 1.22.
Json modernDeployment() {
  return Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "numbers-api", "labels": {"app": "numbers-api"},
                 "annotations": {"a": "b"}, "finalizers": ["x/y"]},
    "spec": {
      "replicas": 2, "revisionHistoryLimit": 3, "progressDeadlineSeconds": 600,
      "selector": {"matchLabels": {"app": "numbers-api"}},
      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
      "template": {
        "metadata": {"labels": {"app": "numbers-api"}},
        "spec": {
          "hostUsers": false,
          "os": {"name": "linux"},
          "schedulingGates": [{"name": "example.com/gate"}],
          "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "gpu-tpl"}],
          "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}, "runAsNonRoot": true,
                              "seccompProfile": {"type": "RuntimeDefault"}},
          "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                         "minDomains": 1, "matchLabelKeys": ["pod-template-hash"],
                                         "nodeAffinityPolicy": "Honor"}],
          "initContainers": [{"name": "sidecar", "image": "sleep:1", "restartPolicy": "Always"}],
          "containers": [{
            "name": "api", "image": "numbers-api:v1", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": 1}},
            "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
            "livenessProbe": {"grpc": {"port": 9090}},
            "volumeMounts": [{"name": "data", "mountPath": "/data", "recursiveReadOnly": "Disabled"}]
          }],
          "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                      {"name": "img", "image": {"reference": "quay.io/x:1", "pullPolicy": "IfNotPresent"}}]
        }
      }
    },
    "status": {"replicas": 2, "terminatingReplicas": 0}
  })");
}

}  // namespace

TEST_CASE("schema: a valid modern Deployment has no unknown fields") {
  auto unknown = k1s::unknownFields(kind("apps/v1", "Deployment"), modernDeployment());
  CHECK(unknown.empty());
  for (auto& u : unknown) MESSAGE("unexpected unknown field " << u);
}

TEST_CASE("schema: unknown fields are reported with kube's paths") {
  Json d = modernDeployment();
  d["spec"]["foo"] = 1;
  d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always";
  d["metadata"]["labelz"] = Json::object();
  d["bogus"] = true;
  auto unknown = k1s::unknownFields(kind("apps/v1", "Deployment"), d);
  std::sort(unknown.begin(), unknown.end());
  CHECK(unknown == std::vector<std::string>{".bogus", ".metadata.labelz", ".spec.foo",
                                            ".spec.template.spec.containers[0].imagePullPolicyy"});
}

TEST_CASE("schema: Service and Pod manifests") {
  Json svc = Json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"numbers-api"},
    "spec":{"type":"LoadBalancer","selector":{"app":"numbers-api"},"ipFamilyPolicy":"SingleStack",
            "internalTrafficPolicy":"Cluster","trafficDistribution":"PreferClose","loadBalancerClass":"x/y",
            "ports":[{"name":"http","port":80,"targetPort":"http","appProtocol":"http"}]}})");
  auto& service = kind("v1", "Service");
  CHECK(k1s::unknownFields(service, svc).empty());
  svc["spec"]["ports"][0]["targetPortt"] = 8080;
  CHECK(k1s::unknownFields(service, svc) == std::vector<std::string>{".spec.ports[0].targetPortt"});

  Json pod = Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
      "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"1","controller":true}]},
    "spec":{"containers":[{"name":"c","image":"i","command":["sh","-c"],"args":["x"]}],
            "tolerations":[{"key":"k","operator":"Exists","effect":"NoSchedule"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"c","ready":true,"restartCount":0,"image":"i",
      "imageID":"","stopSignal":"SIGTERM","allocatedResources":{"cpu":"1"},
      "user":{"linux":{"uid":0,"gid":0}},"volumeMounts":[{"name":"v","mountPath":"/v"}],
      "state":{"running":{"startedAt":"2025-01-01T00:00:00Z"}}}]}})");
  auto& pods = kind("v1", "Pod");
  CHECK(k1s::unknownFields(pods, pod).empty());
  pod["spec"]["tolerations"][0]["tolerationSecondz"] = 1;
  pod["status"]["containerStatuses"][0]["state"]["running"]["startedAtt"] = "x";
  auto unknown = k1s::unknownFields(pods, pod);
  CHECK(unknown == std::vector<std::string>{".spec.tolerations[0].tolerationSecondz",
                                            ".status.containerStatuses[0].state.running.startedAtt"});
}

TEST_CASE("schema: free-form values accept anything") {
  // Labels/annotations are maps, IntOrString and Quantity take either form,
  // WatchEvent-style raw objects are not looked into.
  Json cm = Json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c",
    "labels":{"any.key/x":"v"},"managedFields":[{"manager":"kubectl","fieldsV1":{"f:data":{"f:x":{}}}}]},
    "data":{"k":"v","anything":"goes"}})");
  CHECK(k1s::unknownFields(kind("v1", "ConfigMap"), cm).empty());
  cm["dataa"] = Json::object();
  CHECK(k1s::unknownFields(kind("v1", "ConfigMap"), cm) == std::vector<std::string>{".dataa"});
}

TEST_CASE("schema: strategic merge keys") {
  auto deploy = k1s::listStrategies(kind("apps/v1", "Deployment"));
  auto containers = deploy({"spec", "template", "spec", "containers"});
  REQUIRE(containers);
  CHECK(containers->strategy == "merge");
  CHECK(containers->mergeKey == "name");
  CHECK_FALSE(containers->retainKeys);

  auto ports = deploy({"spec", "template", "spec", "containers", "ports"});
  REQUIRE(ports);
  CHECK(ports->mergeKey == "containerPort");
  CHECK(deploy({"spec", "template", "spec", "containers", "env"})->mergeKey == "name");
  CHECK(deploy({"spec", "template", "spec", "containers", "volumeMounts"})->mergeKey == "mountPath");
  auto volumes = deploy({"spec", "template", "spec", "volumes"});
  REQUIRE(volumes);
  CHECK(volumes->strategy == "merge,retainKeys");
  CHECK(volumes->retainKeys);
  CHECK(deploy({"spec", "strategy"})->strategy == "retainKeys");
  CHECK(deploy({"metadata", "ownerReferences"})->mergeKey == "uid");
  auto finalizers = deploy({"metadata", "finalizers"});
  REQUIRE(finalizers);
  CHECK(finalizers->strategy == "merge");
  CHECK(finalizers->mergeKey.empty());
  // Atomic lists (no strategy) and unknown paths are replaced.
  CHECK_FALSE(deploy({"spec", "template", "spec", "containers", "args"}));
  CHECK_FALSE(deploy({"spec", "nope"}));

  auto svc = k1s::listStrategies(kind("v1", "Service"));
  CHECK(svc({"spec", "ports"})->mergeKey == "port");
  auto pod = k1s::listStrategies(kind("v1", "Pod"));
  CHECK(pod({"status", "conditions"})->mergeKey == "type");
  CHECK(pod({"spec", "imagePullSecrets"})->mergeKey == "name");
}

TEST_CASE("schema: /openapi/v3 root lists every served group-version") {
  const Json& root = k1s::openapiV3Root();
  for (auto& gv : k1s::servedGroupVersions()) {
    std::string path = gv.find('/') == std::string::npos ? "api/" + gv : "apis/" + gv;
    INFO(path);
    REQUIRE(root["paths"].contains(path));
    std::string hash = k1s::openapiV3Hash(path);
    CHECK(hash.size() == 128);
    CHECK(hash.find_first_not_of("0123456789ABCDEF") == std::string::npos);
    CHECK(root["paths"][path]["serverRelativeURL"] == "/openapi/v3/" + path + "?hash=" + hash);
    const Json* doc = k1s::openapiV3Document("/" + path);
    REQUIRE(doc != nullptr);
    CHECK((*doc)["openapi"].get<std::string>().rfind("3.", 0) == 0);
  }
  CHECK(k1s::openapiV3Document("apis/batch/v1") == nullptr);
  CHECK(k1s::openapiV3Hash("api/v1") != k1s::openapiV3Hash("apis/apps/v1"));
}

TEST_CASE("schema: every kind carries its GVK, and PATCH offers fieldValidation") {
  for (auto& r : k1s::allResources()) {
    std::string path = r.gvPath().substr(1);
    const Json* doc = k1s::openapiV3Document(path);
    REQUIRE(doc != nullptr);
    INFO(r.kind);
    // kubectl finds the kind's schema by its x-kubernetes-group-version-kind.
    bool kindFound = false;
    for (auto& [name, def] : (*doc)["components"]["schemas"].items())
      for (auto& g : def.value("x-kubernetes-group-version-kind", Json::array()))
        kindFound |= g["group"] == r.group && g["version"] == r.version && g["kind"] == r.kind;
    CHECK(kindFound);
    // kubectl sends fieldValidation=Strict only when a PATCH operation for the
    // GVK lists the parameter (query_param_verifier_v3).
    bool patchHasParam = false;
    for (auto& path : (*doc)["paths"].items()) {
      const std::string& p = path.key();  // (clang 14 cannot capture a structured binding)
      auto& item = path.value();
      if (!item.contains("patch")) continue;
      auto& g = item["patch"]["x-kubernetes-group-version-kind"];
      if (g["kind"] != r.kind || g["group"] != r.group) continue;
      bool has = false;
      for (auto& param : item["patch"]["parameters"]) has |= param["name"] == "fieldValidation";
      CHECK_MESSAGE(has, p);
      patchHasParam |= has;
    }
    CHECK(patchHasParam);
  }
}

TEST_CASE("schema: explain lookups resolve references") {
  auto containers = k1s::schemaAt(kind("v1", "Pod"), "spec.containers");
  REQUIRE(containers);
  CHECK((*containers)["type"] == "array");
  CHECK((*containers)["items"]["x-k1s-ref"] == "io.k8s.api.core.v1.Container");
  CHECK((*containers)["items"]["properties"].contains("resizePolicy"));
  CHECK((*containers)["x-kubernetes-patch-merge-key"] == "name");

  auto spec = k1s::schemaAt(kind("apps/v1", "Deployment"), "spec");
  REQUIRE(spec);
  CHECK((*spec)["properties"].contains("template"));
  auto root = k1s::schemaAt(kind("apps/v1", "Deployment"), "");
  REQUIRE(root);
  CHECK((*root)["properties"].contains("status"));
  CHECK(k1s::schemaAt(kind("apps/v1", "Deployment"), "spec.template.spec.containers.image"));
  CHECK_FALSE(k1s::schemaAt(kind("apps/v1", "Deployment"), "spec.nope"));
}

TEST_CASE("schema: a field of the wrong JSON type is named as kube's decoder names it") {
  auto& cm = kind("v1", "ConfigMap");
  auto& dep = kind("apps/v1", "Deployment");
  auto& sec = kind("v1", "Secret");
  CHECK(k1s::typeError(dep, modernDeployment()) == "");
  CHECK(k1s::typeError(cm, Json::parse(R"({"data": {"PORT": "8080"}, "metadata": {"labels": {"a": "b"}}})")) == "");
  CHECK(k1s::typeError(cm, Json::parse(R"({"data": {"PORT": 8080}})")) ==
        "json: cannot unmarshal number into Go struct field ConfigMap.data of type string");
  CHECK(k1s::typeError(cm, Json::parse(R"({"metadata": {"labels": {"version": 2}}})")) ==
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string");
  CHECK(k1s::typeError(cm, Json::parse(R"({"data": "x"})")) ==
        "json: cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string");
  Json d = modernDeployment();
  d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = 8080;
  CHECK(k1s::typeError(dep, d) ==
        "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type "
        "string");
  d = modernDeployment();
  d["spec"]["replicas"] = "2";
  CHECK(k1s::typeError(dep, d) ==
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32");
  d["spec"]["replicas"] = 1.5;
  CHECK(k1s::typeError(dep, d) ==
        "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32");
  d = modernDeployment();
  d["spec"]["template"]["spec"]["containers"] = "x";
  CHECK(k1s::typeError(dep, d) == "json: cannot unmarshal string into Go struct field "
                                  "PodSpec.spec.template.spec.containers of type []v1.Container");
  // Quantities and int-or-strings take either; null is skipped like Go's decoder does.
  d = modernDeployment();
  d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = 512;
  d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] = nullptr;
  CHECK(k1s::typeError(dep, d) == "");
  // Secret data is base64, checked the way Go's StdEncoding decodes it.
  CHECK(k1s::typeError(sec, Json::parse(R"({"data": {"password": "bXlwYXNzd29yZA=="}})")) == "");
  CHECK(k1s::typeError(sec, Json::parse(R"({"data": {"a": "YQ==\n"}, "stringData": {"b": "plain"}})")) == "");
  CHECK(k1s::typeError(sec, Json::parse(R"({"data": {"password": "mypassword"}})")) ==
        "illegal base64 data at input byte 8");
  CHECK(k1s::typeError(sec, Json::parse(R"({"data": {"password": "my password"}})")) ==
        "illegal base64 data at input byte 2");
  CHECK(k1s::typeError(sec, Json::parse(R"({"data": {"p": "YQ="}})")) == "illegal base64 data at input byte 3");
  CHECK(k1s::typeError(sec, Json::parse(R"({"data": {"p": "YQ==YQ=="}})")) == "illegal base64 data at input byte 4");
}
