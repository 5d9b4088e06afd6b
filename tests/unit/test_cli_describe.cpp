// describe layouts: Go tabwriter alignment and the per-kind sections.
#include <doctest/doctest.h>

#include "cli/kubectl_describe.h"
#include "common/meta.h"

using namespace k1s::cli;
using k1s::Json;

TEST_CASE("Go tabwriter: blocks of consecutive tabbed lines align, untabbed lines break blocks") {
  std::string in = "Name:\tnginx\nService Account:\tdefault\nIPs:\n  IP:\t10.0.0.1\nContainers:\n  c:\n"
                   "    Image:\tnginx\n    Restart Count:\t0\n      Started:\tnow\n";
  CHECK(goTabwrite(in, 2) ==
        "Name:             nginx\nService Account:  default\nIPs:\n  IP:  10.0.0.1\nContainers:\n  c:\n"
        "    Image:          nginx\n    Restart Count:  0\n      Started:      now\n");
}

TEST_CASE("human durations as kubectl prints ages") {
  CHECK(humanDuration(5) == "5s");
  CHECK(humanDuration(119) == "119s");
  CHECK(humanDuration(185) == "3m5s");
  CHECK(humanDuration(600) == "10m");
  CHECK(humanDuration(3 * 3600 + 120) == "3h2m");
  CHECK(humanDuration(50 * 3600) == "2d2h");
}

TEST_CASE("labels and annotations: first on the title line, the rest indented, last-applied hidden") {
  CHECK(labelsMultiline("Labels", Json{{"b", "2"}, {"a", "1"}}) == "Labels:\ta=1\n\tb=2\n");
  CHECK(labelsMultiline("Labels", Json::object()) == "Labels:\t<none>\n");
  CHECK(annotationsMultiline("Annotations", Json{{"kubectl.kubernetes.io/last-applied-configuration", "{}"}}) ==
        "Annotations:\t<none>\n");
}

static Json noFetch(const std::string&) { return nullptr; }

TEST_CASE("deployment describe: replicas line, strategy, template, conditions, replica sets, events") {
  long long now = k1s::parseRfc3339("2025-11-25T19:10:30Z");
  Json d = Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"numbers-api","namespace":"default","uid":"d1","creationTimestamp":"2025-11-25T19:10:00Z",
      "labels":{"app":"numbers-api"},"annotations":{"deployment.kubernetes.io/revision":"1"}},
    "spec":{"replicas":2,"selector":{"matchLabels":{"app":"numbers-api"}},
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},
      "template":{"metadata":{"labels":{"app":"numbers-api"}},"spec":{"containers":[{"name":"api","image":"numbers-api:v1","ports":[{"containerPort":80,"protocol":"TCP"}]}]}}},
    "status":{"replicas":2,"updatedReplicas":2,"availableReplicas":2,
      "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}})");
  Fetch fetch = [](const std::string& path) -> Json {
    if (path.find("/replicasets") != std::string::npos)
      return Json::parse(R"({"items":[{"metadata":{"name":"numbers-api-7c9d8","ownerReferences":[{"uid":"d1","controller":true}],
        "annotations":{"deployment.kubernetes.io/revision":"1"}},"spec":{"replicas":2},"status":{"replicas":2}}]})");
    if (path.find("/events?fieldSelector=involvedObject.uid%3Dd1") != std::string::npos)
      return Json::parse(R"({"items":[{"type":"Normal","reason":"ScalingReplicaSet","source":{"component":"deployment-controller"},
        "firstTimestamp":"2025-11-25T19:10:00Z","lastTimestamp":"2025-11-25T19:10:00Z","count":1,
        "message":"Scaled up replica set numbers-api-7c9d8 from 0 to 2"}]})");
    return nullptr;
  };
  std::string out = describeObject(d, fetch, now);
  CHECK(out.find("Name:                   numbers-api\nNamespace:              default\n") == 0);
  CHECK(out.find("Selector:               app=numbers-api\n") != std::string::npos);
  CHECK(out.find("Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable\n") != std::string::npos);
  CHECK(out.find("StrategyType:           RollingUpdate\n") != std::string::npos);
  CHECK(out.find("RollingUpdateStrategy:  25% max unavailable, 25% max surge\n") != std::string::npos);
  // The template's container fields align with "  Node-Selectors:" below them, as in kubectl 1.30+.
  CHECK(out.find("  Containers:\n   api:\n    Image:         numbers-api:v1\n    Port:          80/TCP\n") != std::string::npos);
  CHECK(out.find("  Node-Selectors:  <none>\n") != std::string::npos);
  CHECK(out.find("  Available      True    MinimumReplicasAvailable\n") != std::string::npos);
  CHECK(out.find("NewReplicaSet:   numbers-api-7c9d8 (2/2 replicas created)\n") != std::string::npos);
  CHECK(out.find("Events:\n  Type    Reason             Age   From                   Message\n"
                 "  ----    ------             ----  ----                   -------\n"
                 "  Normal  ScalingReplicaSet  30s   deployment-controller  Scaled up replica set numbers-api-7c9d8 from 0 to 2\n") !=
        std::string::npos);
}

TEST_CASE("pod describe without events says <none>") {
  Json pod = Json::parse(R"({"kind":"Pod","metadata":{"name":"web","namespace":"lab","uid":"p1"},
    "spec":{"nodeName":"k1s","serviceAccountName":"default","containers":[{"name":"web","image":"nginx"}]},
    "status":{"phase":"Running","hostIP":"10.0.2.15","podIP":"10.244.0.9","podIPs":[{"ip":"10.244.0.9"}],
      "containerStatuses":[{"name":"web","ready":true,"restartCount":0,"state":{"running":{"startedAt":"2025-11-25T19:10:00Z"}}}]}})");
  std::string out = describeObject(pod, noFetch, 0);
  CHECK(out.find("Node:             k1s/10.0.2.15\n") != std::string::npos);
  CHECK(out.find("    State:          Running\n") != std::string::npos);
  CHECK(out.find("    Ready:          True\n") != std::string::npos);
  CHECK(out.find("IPs:\n  IP:  10.244.0.9\n") != std::string::npos);
  // Without events the line stays in the block above, as in kubectl.
  CHECK(out.find("QoS Class:          BestEffort\n") != std::string::npos);
  CHECK(out.find("Events:             <none>\n") != std::string::npos);
}

TEST_CASE("service describe lists ports and endpoints") {
  Json svc = Json::parse(R"({"kind":"Service","metadata":{"name":"numbers-api","namespace":"default"},
    "spec":{"type":"ClusterIP","clusterIP":"10.96.0.20","clusterIPs":["10.96.0.20"],"selector":{"app":"numbers-api"},
      "ports":[{"port":80,"targetPort":80,"protocol":"TCP"}],"sessionAffinity":"None"}})");
  Fetch fetch = [](const std::string& path) -> Json {
    if (path == "/api/v1/namespaces/default/endpoints/numbers-api")
      return Json::parse(R"({"subsets":[{"addresses":[{"ip":"10.244.0.5"},{"ip":"10.244.0.6"}],"ports":[{"port":80,"protocol":"TCP"}]}]})");
    return nullptr;
  };
  std::string out = describeObject(svc, fetch, 0);
  CHECK(out.find("Port:              <unset>  80/TCP\n") != std::string::npos);
  CHECK(out.find("TargetPort:        80/TCP\n") != std::string::npos);
  CHECK(out.find("Endpoints:         10.244.0.5:80,10.244.0.6:80\n") != std::string::npos);
}

TEST_CASE("describe secret shows value sizes, never the values; service accounts list their secrets") {
  Fetch none = [](const std::string&) { return Json(); };
  Json secret = Json::parse(R"({"kind":"Secret","metadata":{"name":"db","namespace":"default"},
    "type":"Opaque","data":{"password":"aHVudGVyMg==","user":"YQ=="}})");
  std::string text = describeObject(secret, none, 0);
  CHECK(text ==
        "Name:         db\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nType:  Opaque\n\n"
        "Data\n====\npassword:  7 bytes\nuser:      1 bytes\n");
  CHECK(text.find("hunter2") == std::string::npos);
  Json sa = Json::parse(R"({"kind":"ServiceAccount","metadata":{"name":"robot","namespace":"default","uid":"u1"},
    "imagePullSecrets":[{"name":"reg"}]})");
  text = describeObject(sa, none, 0);
  CHECK(text.find("Image pull secrets:  reg (not found)\n") != std::string::npos);
  CHECK(text.find("Mountable secrets:   <none>\n") != std::string::npos);
  CHECK(text.find("Tokens:              <none>\n") != std::string::npos);
}
