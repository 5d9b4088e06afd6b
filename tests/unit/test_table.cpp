// Server-side Tables: the columns and cells kubectl get prints.
#include <doctest/doctest.h>

#include "apiserver/table.h"
#include "common/resources.h"

using k1s::Json;

namespace {

const long long kNow = 1714557600;  // 2024-05-01T10:00:00Z
const char* kTenMinutesAgo = "2024-05-01T09:50:00Z";

const k1s::ResourceInfo& kind(const std::string& group, const std::string& plural) {
  const k1s::ResourceInfo* r = k1s::findResource(group, plural);
  REQUIRE(r != nullptr);
  return *r;
}

Json cells(const std::string& group, const std::string& plural, const Json& obj) {
  Json t = k1s::toTable(kind(group, plural), {obj}, "Metadata", kNow);
  REQUIRE(t["rows"].size() == 1);
  return t["rows"][0]["cells"];
}

std::vector<std::string> columnNames(const Json& table) {
  std::vector<std::string> names;
  for (const Json& c : table["columnDefinitions"]) names.push_back(c["name"]);
  return names;
}

Json pod(const Json& status, const Json& extraMeta = Json::object()) {
  Json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", "web-1"}, {"namespace", "default"}, {"creationTimestamp", kTenMinutesAgo}}},
            {"spec", {{"nodeName", "k1s"}, {"containers", Json::array({{{"name", "app"}, {"image", "nginx"}}})}}},
            {"status", status}};
  p["metadata"].update(extraMeta);
  return p;
}

}  // namespace

TEST_CASE("table: envelope and includeObject") {
  const auto& pods = kind("", "pods");
  Json p = pod({{"phase", "Running"}});
  p["metadata"]["uid"] = "u1";
  Json t = k1s::toTable(pods, {p}, "Metadata", kNow);
  CHECK(t["kind"] == "Table");
  CHECK(t["apiVersion"] == "meta.k8s.io/v1");
  CHECK(t["metadata"].is_object());
  CHECK(t["rows"][0]["object"]["kind"] == "PartialObjectMetadata");
  CHECK(t["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1");
  CHECK(t["rows"][0]["object"]["metadata"]["uid"] == "u1");
  CHECK_FALSE(t["rows"][0]["object"].contains("spec"));
  CHECK(k1s::toTable(pods, {p}, "Object", kNow)["rows"][0]["object"] == p);
  CHECK(k1s::toTable(pods, {p}, "None", kNow)["rows"][0]["object"].is_null());
  CHECK(k1s::toTable(pods, {}, "Metadata", kNow)["rows"] == Json::array());

  Json nameCol = t["columnDefinitions"][0];
  CHECK(nameCol["name"] == "Name");
  CHECK(nameCol["format"] == "name");
  CHECK(nameCol["priority"] == 0);
  CHECK(t["columnDefinitions"] == k1s::tableColumns(pods));
}

TEST_CASE("table: pod columns and states") {
  Json t = k1s::toTable(kind("", "pods"), {}, "Metadata", kNow);
  CHECK(columnNames(t) == std::vector<std::string>{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                                   "Nominated Node", "Readiness Gates"});
  CHECK(t["columnDefinitions"][3]["type"] == "string");
  CHECK(t["columnDefinitions"][5]["priority"] == 1);

  SUBCASE("running and ready") {
    Json c = cells("", "pods",
                   pod({{"phase", "Running"},
                        {"podIP", "10.244.0.5"},
                        {"podIPs", Json::array({{{"ip", "10.244.0.5"}}})},
                        {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})},
                        {"containerStatuses", Json::array({{{"name", "app"},
                                                            {"ready", true},
                                                            {"restartCount", 0},
                                                            {"state", {{"running", {{"startedAt", kTenMinutesAgo}}}}}}})}}));
    CHECK(c == Json::parse(R"(["web-1","1/1","Running","0","10m","10.244.0.5","k1s","<none>","<none>"])"));
  }
  SUBCASE("pending without status") {
    Json p = pod({{"phase", "Pending"}});
    p["spec"].erase("nodeName");
    CHECK(cells("", "pods", p) == Json::parse(R"(["web-1","0/1","Pending","0","10m","<none>","<none>","<none>","<none>"])"));
  }
  SUBCASE("waiting reason wins") {
    Json c = cells("", "pods",
                   pod({{"phase", "Pending"},
                        {"containerStatuses",
                         Json::array({{{"name", "app"},
                                       {"ready", false},
                                       {"restartCount", 0},
                                       {"state", {{"waiting", {{"reason", "ContainerCreating"}}}}}}})}}));
    CHECK(c[1] == "0/1");
    CHECK(c[2] == "ContainerCreating");
  }
  SUBCASE("crash loop shows restarts with the time of the last one") {
    Json c = cells("", "pods",
                   pod({{"phase", "Running"},
                        {"containerStatuses",
                         Json::array({{{"name", "app"},
                                       {"ready", false},
                                       {"restartCount", 3},
                                       {"lastState", {{"terminated", {{"exitCode", 1}, {"finishedAt", "2024-05-01T09:58:00Z"}}}}},
                                       {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}}})}}));
    CHECK(c[2] == "CrashLoopBackOff");
    CHECK(c[3] == "3 (2m ago)");
  }
  SUBCASE("terminated without a reason shows the exit code") {
    Json c = cells("", "pods",
                   pod({{"phase", "Failed"},
                        {"containerStatuses", Json::array({{{"name", "app"},
                                                            {"restartCount", 0},
                                                            {"state", {{"terminated", {{"exitCode", 2}}}}}}})}}));
    CHECK(c[2] == "ExitCode:2");
  }
  SUBCASE("completed pods carry a Completed row condition") {
    Json t2 = k1s::toTable(
        kind("", "pods"),
        {pod({{"phase", "Succeeded"},
              {"containerStatuses", Json::array({{{"name", "app"},
                                                  {"restartCount", 0},
                                                  {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}}})}})},
        "None", kNow);
    CHECK(t2["rows"][0]["cells"][2] == "Completed");
    CHECK(t2["rows"][0]["conditions"][0]["type"] == "Completed");
    CHECK(t2["rows"][0]["conditions"][0]["reason"] == "Succeeded");
  }
  SUBCASE("init containers") {
    Json p = pod({{"phase", "Pending"},
                  {"initContainerStatuses",
                   Json::array({{{"name", "init"},
                                 {"restartCount", 0},
                                 {"state", {{"waiting", {{"reason", "PodInitializing"}}}}}}})}});
    p["spec"]["initContainers"] = Json::array({{{"name", "init"}, {"image", "busybox"}}});
    CHECK(cells("", "pods", p)[2] == "Init:0/1");
    p["status"]["initContainerStatuses"][0]["state"] = {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}};
    CHECK(cells("", "pods", p)[2] == "Init:Error");
    p["status"]["initContainerStatuses"][0]["state"] = {{"waiting", {{"reason", "ImagePullBackOff"}}}};
    CHECK(cells("", "pods", p)[2] == "Init:ImagePullBackOff");
  }
  SUBCASE("deletion shows Terminating") {
    Json p = pod({{"phase", "Running"}}, {{"deletionTimestamp", "2024-05-01T09:59:50Z"}});
    CHECK(cells("", "pods", p)[2] == "Terminating");
  }
  SUBCASE("readiness gates count true conditions") {
    Json p = pod({{"phase", "Running"},
                  {"conditions", Json::array({{{"type", "example.com/ready"}, {"status", "True"}}})}});
    p["spec"]["readinessGates"] =
        Json::array({{{"conditionType", "example.com/ready"}}, {{"conditionType", "example.com/other"}}});
    CHECK(cells("", "pods", p)[8] == "1/2");
  }
  SUBCASE("missing creation time") {
    Json p = pod({{"phase", "Running"}});
    p["metadata"].erase("creationTimestamp");
    CHECK(cells("", "pods", p)[4] == "<unknown>");
  }
}

TEST_CASE("table: services") {
  Json svc = {{"metadata", {{"name", "web"}, {"creationTimestamp", kTenMinutesAgo}}},
              {"spec",
               {{"type", "LoadBalancer"},
                {"clusterIP", "10.96.12.34"},
                {"clusterIPs", {"10.96.12.34"}},
                {"selector", {{"app", "web"}, {"tier", "front"}}},
                {"ports", Json::array({{{"port", 80}, {"nodePort", 30080}, {"protocol", "TCP"}}})}}},
              {"status", {{"loadBalancer", {{"ingress", Json::array({{{"hostname", "localhost"}}})}}}}}};
  Json t = k1s::toTable(kind("", "services"), {svc}, "Metadata", kNow);
  CHECK(columnNames(t) ==
        std::vector<std::string>{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"});
  CHECK(t["rows"][0]["cells"] ==
        Json::parse(R"(["web","LoadBalancer","10.96.12.34","localhost","80:30080/TCP","10m","app=web,tier=front"])"));

  svc["status"] = Json::object();
  CHECK(cells("", "services", svc)[3] == "<pending>");

  svc["spec"]["type"] = "NodePort";
  svc["spec"]["ports"] = Json::array({{{"name", "http"}, {"port", 8080}, {"nodePort", 30080}, {"protocol", "TCP"}},
                                      {{"name", "dns"}, {"port", 53}, {"nodePort", 30053}, {"protocol", "UDP"}}});
  Json c = cells("", "services", svc);
  CHECK(c[3] == "<none>");
  CHECK(c[4] == "8080:30080/TCP,53:30053/UDP");

  svc["spec"] = {{"type", "ClusterIP"}, {"clusterIPs", {"None"}}};
  c = cells("", "services", svc);
  CHECK(c[2] == "None");
  CHECK(c[4] == "<none>");
  CHECK(c[6] == "<none>");
}

TEST_CASE("table: deployments and replicasets") {
  Json d = {{"metadata", {{"name", "web"}, {"creationTimestamp", "2024-04-29T08:00:00Z"}}},
            {"spec",
             {{"replicas", 3},
              {"selector", {{"matchLabels", {{"app", "web"}}}}},
              {"template",
               {{"spec",
                 {{"containers", Json::array({{{"name", "nginx"}, {"image", "nginx:1.25"}},
                                              {{"name", "side"}, {"image", "busybox"}}})}}}}}}},
            {"status", {{"replicas", 3}, {"updatedReplicas", 3}, {"readyReplicas", 2}, {"availableReplicas", 2}}}};
  Json t = k1s::toTable(kind("apps", "deployments"), {d}, "Metadata", kNow);
  CHECK(columnNames(t) == std::vector<std::string>{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                                                   "Images", "Selector"});
  CHECK(t["rows"][0]["cells"] ==
        Json::parse(R"(["web","2/3",3,2,"2d2h","nginx,side","nginx:1.25,busybox","app=web"])"));

  d["spec"]["selector"]["matchExpressions"] =
      Json::array({{{"key", "env"}, {"operator", "In"}, {"values", {"prod", "dev"}}}});
  CHECK(cells("apps", "deployments", d)[7] == "app=web,env in (dev,prod)");

  Json rs = d;
  rs["metadata"]["name"] = "web-5d4f8";
  Json rc = cells("apps", "replicasets", rs);
  CHECK(rc == Json::parse(R"j(["web-5d4f8",3,3,2,"2d2h","nginx,side","nginx:1.25,busybox","app=web,env in (dev,prod)"])j"));
}

TEST_CASE("table: endpoints, slices, nodes, events and the simple kinds") {
  Json ep = {{"metadata", {{"name", "web"}}},
             {"subsets", Json::array({{{"addresses", Json::array({{{"ip", "10.244.0.5"}}, {{"ip", "10.244.0.6"}},
                                                                  {{"ip", "10.244.0.7"}}, {{"ip", "10.244.0.8"}}})},
                                       {"ports", Json::array({{{"port", 80}}})}}})}};
  CHECK(cells("", "endpoints", ep)[1] == "10.244.0.5:80,10.244.0.6:80,10.244.0.7:80 + 1 more...");
  ep["subsets"][0]["addresses"] = Json::array({{{"ip", "10.244.0.5"}}, {{"ip", "10.244.0.6"}}});
  CHECK(cells("", "endpoints", ep)[1] == "10.244.0.5:80,10.244.0.6:80");
  ep.erase("subsets");
  CHECK(cells("", "endpoints", ep)[1] == "<none>");

  Json slice = {{"metadata", {{"name", "web-abcde"}}},
                {"addressType", "IPv4"},
                {"ports", Json::array({{{"port", 80}}})},
                {"endpoints", Json::array({{{"addresses", {"10.244.0.5"}}}})}};
  Json sc = cells("discovery.k8s.io", "endpointslices", slice);
  CHECK(sc[1] == "IPv4");
  CHECK(sc[2] == "80");
  CHECK(sc[3] == "10.244.0.5");
  slice.erase("endpoints");
  CHECK(cells("discovery.k8s.io", "endpointslices", slice)[3] == "<unset>");

  Json node = {{"metadata", {{"name", "k1s"}, {"labels", {{"node-role.kubernetes.io/control-plane", ""}}}}},
               {"status",
                {{"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})},
                 {"addresses", Json::array({{{"type", "InternalIP"}, {"address", "10.244.0.1"}}})},
                 {"nodeInfo", {{"kubeletVersion", "v1.33.0-k1s"}, {"osImage", "Debian GNU/Linux 12 (bookworm)"}}}}}};
  Json nc = cells("", "nodes", node);
  CHECK(nc == Json::parse(R"j(["k1s","Ready","control-plane","<unknown>","v1.33.0-k1s","10.244.0.1","<none>",
                              "Debian GNU/Linux 12 (bookworm)","<unknown>","<unknown>"])j"));
  node["spec"]["unschedulable"] = true;
  CHECK(cells("", "nodes", node)[1] == "Ready,SchedulingDisabled");

  Json ev = {{"metadata", {{"name", "web-1.17a"}}},
             {"involvedObject", {{"kind", "Pod"}, {"name", "web-1"}}},
             {"type", "Normal"},
             {"reason", "Pulled"},
             {"message", "Container image \"nginx\" already present on machine\n"},
             {"source", {{"component", "kubelet"}, {"host", "k1s"}}},
             {"firstTimestamp", "2024-05-01T09:50:00Z"},
             {"lastTimestamp", "2024-05-01T09:59:15Z"},
             {"count", 2}};
  Json t = k1s::toTable(kind("", "events"), {ev}, "Metadata", kNow);
  CHECK(columnNames(t) == std::vector<std::string>{"Last Seen", "Type", "Reason", "Object", "Subobject", "Source",
                                                   "Message", "First Seen", "Count", "Name"});
  CHECK(t["rows"][0]["cells"] == Json::parse(R"(["45s","Normal","Pulled","pod/web-1","","kubelet, k1s",
      "Container image \"nginx\" already present on machine","10m",2,"web-1.17a"])"));

  Json meta = {{"name", "x"}, {"creationTimestamp", kTenMinutesAgo}};
  CHECK(cells("", "namespaces", {{"metadata", meta}, {"status", {{"phase", "Active"}}}}) ==
        Json::parse(R"(["x","Active","10m"])"));
  CHECK(cells("", "configmaps", {{"metadata", meta}, {"data", {{"a", "1"}, {"b", "2"}}}}) ==
        Json::parse(R"(["x",2,"10m"])"));
  CHECK(cells("", "secrets", {{"metadata", meta}, {"type", "Opaque"}, {"data", {{"a", "MQ=="}}}}) ==
        Json::parse(R"(["x","Opaque",1,"10m"])"));
  CHECK(cells("", "serviceaccounts", {{"metadata", meta}}) == Json::parse(R"(["x",0,"10m"])"));
  CHECK(cells("coordination.k8s.io", "leases", {{"metadata", meta}, {"spec", {{"holderIdentity", "k1s"}}}}) ==
        Json::parse(R"(["x","k1s","10m"])"));
}

TEST_CASE("humanDuration follows kubectl's age rules") {
  struct Case {
    long long seconds;
    const char* text;
  };
  const long long m = 60, h = 3600, d = 86400;
  const Case cases[] = {{-5, "<invalid>"},   {-1, "0s"},           {0, "0s"},           {45, "45s"},
                        {119, "119s"},       {120, "2m"},          {150, "2m30s"},      {599, "9m59s"},
                        {600, "10m"},        {179 * m, "179m"},    {3 * h, "3h"},       {3 * h + 30 * m, "3h30m"},
                        {8 * h, "8h"},       {47 * h + 59 * m, "47h"}, {2 * d, "2d"},   {2 * d + 5 * h, "2d5h"},
                        {8 * d, "8d"},       {729 * d, "729d"},    {730 * d, "2y"},     {740 * d, "2y10d"},
                        {8 * 365 * d, "8y"}, {20 * 365 * d, "20y"}};
  for (const auto& c : cases) {
    CAPTURE(c.seconds);
    CHECK(k1s::humanDuration(c.seconds) == c.text);
  }
}
