// Kubelet container-spec rules: command/args, $(VAR), environment, service
// links, managed hosts/resolv.conf, quantities and the restart back-off.
#include <doctest/doctest.h>

#include "kubelet/pod_spec.h"

using namespace k1s;

namespace {
ImageConfig image(std::vector<std::string> ep, std::vector<std::string> cmd) {
  ImageConfig c;
  c.entrypoint = std::move(ep);
  c.cmd = std::move(cmd);
  return c;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("kubelet argv: ENTRYPOINT/CMD combined with command/args as Kubernetes does") {
  auto img = image({"/ep"}, {"--cmd"});
  CHECK(containerArgv(img, Json::object(), {}) == V{"/ep", "--cmd"});
  CHECK(containerArgv(img, {{"args", {"a", "b"}}}, {}) == V{"/ep", "a", "b"});
  CHECK(containerArgv(img, {{"command", {"/bin/sh"}}}, {}) == V{"/bin/sh"});  // CMD dropped too
  CHECK(containerArgv(img, {{"command", {"/bin/sh"}}, {"args", {"-c", "x"}}}, {}) == V{"/bin/sh", "-c", "x"});
  CHECK(containerArgv(image({}, {"sleep", "1"}), Json::object(), {}) == V{"sleep", "1"});
  EnvList env = {{"NAME", "world"}};
  CHECK(containerArgv(img, {{"args", {"hello $(NAME)", "$(MISSING)", "$$(NAME)"}}}, env) ==
        V{"/ep", "hello world", "$(MISSING)", "$(NAME)"});
}

TEST_CASE("kubelet $(VAR) expansion follows kube's expansion package") {
  EnvList env = {{"A", "1"}, {"B", "two"}};
  CHECK(expandVars("$(A)-$(B)", env) == "1-two");
  CHECK(expandVars("$$", env) == "$");
  CHECK(expandVars("$$(A)", env) == "$(A)");
  CHECK(expandVars("$(A", env) == "$(A");
  CHECK(expandVars("$A", env) == "$A");
  CHECK(expandVars("end$", env) == "end$");
  CHECK(expandVars("$(C)", env) == "$(C)");
  CHECK(expandVars("x$(A)y$(A)z", env) == "x1y1z");
}

TEST_CASE("kubelet service environment variables") {
  Json svc = {{"metadata", {{"name", "numbers-api"}, {"namespace", "default"}}},
              {"spec", {{"clusterIP", "10.96.12.34"},
                        {"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}, {{"port", 8443}}}}}}};
  Json headless = {{"metadata", {{"name", "db"}, {"namespace", "default"}}},
                   {"spec", {{"clusterIP", "None"}, {"ports", {{{"port", 5432}}}}}}};
  EnvList env = serviceEnvVars({svc, headless});
  auto get = [&](const std::string& k) {
    for (auto& [n, v] : env)
      if (n == k) return v;
    return std::string("<unset>");
  };
  CHECK(get("NUMBERS_API_SERVICE_HOST") == "10.96.12.34");
  CHECK(get("NUMBERS_API_SERVICE_PORT") == "80");
  CHECK(get("NUMBERS_API_SERVICE_PORT_HTTP") == "80");
  CHECK(get("NUMBERS_API_PORT") == "tcp://10.96.12.34:80");
  CHECK(get("NUMBERS_API_PORT_80_TCP") == "tcp://10.96.12.34:80");
  CHECK(get("NUMBERS_API_PORT_80_TCP_PROTO") == "tcp");
  CHECK(get("NUMBERS_API_PORT_80_TCP_PORT") == "80");
  CHECK(get("NUMBERS_API_PORT_80_TCP_ADDR") == "10.96.12.34");
  CHECK(get("NUMBERS_API_PORT_8443_TCP_PORT") == "8443");
  CHECK(get("DB_SERVICE_HOST") == "<unset>");

  Json kube = {{"metadata", {{"name", "kubernetes"}, {"namespace", "default"}}},
               {"spec", {{"clusterIP", "10.96.0.1"}, {"ports", {{{"name", "https"}, {"port", 443}}}}}}};
  Json other = {{"metadata", {{"name", "web"}, {"namespace", "other"}}},
                {"spec", {{"clusterIP", "10.96.0.9"}, {"ports", {{{"port", 8080}}}}}}};
  auto names = [](const std::vector<Json>& v) {
    std::vector<std::string> n;
    for (auto& s : v) n.push_back(s["metadata"]["name"]);
    return n;
  };
  CHECK(names(servicesForPod({svc, kube, other}, "other", true)) == V{"kubernetes", "web"});
  CHECK(names(servicesForPod({svc, kube, other}, "other", false)) == V{"kubernetes"});
  CHECK(names(servicesForPod({svc, kube, other}, "default", true)) == V{"kubernetes", "numbers-api"});
}

TEST_CASE("kubelet container environment: envFrom, env, valueFrom, expansion, image env") {
  Json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns1"}, {"uid", "u-1"}, {"labels", {{"app", "web"}}}}},
              {"spec", {{"nodeName", "node1"}, {"serviceAccountName", "default"}}}};
  Json container = Json::parse(R"js({
    "name": "c",
    "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
    "env": [
      {"name": "GREETING", "value": "hi $(WHO) on $(MY_NODE)"},
      {"name": "WHO", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "who"}}},
      {"name": "AGAIN", "value": "$(WHO)!"},
      {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
      {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
      {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
      {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
      {"name": "SVC", "value": "$(WEB_SERVICE_HOST)"}
    ],
    "resources": {"limits": {"memory": "64Mi"}}
  })js");
  EnvContext ctx;
  ctx.podIP = "10.244.0.7";
  ctx.configMap = [](const std::string& n) -> std::optional<Json> {
    if (n != "cfg") return std::nullopt;
    return Json{{"data", {{"who", "bob"}, {"mode", "dev"}}}};
  };
  ctx.secret = [](const std::string& n) -> std::optional<Json> {
    if (n != "sec") return std::nullopt;
    return Json{{"data", {{"pw", "czNjcjN0"}}}};  // s3cr3t
  };
  ctx.services = {{{"metadata", {{"name", "web"}, {"namespace", "ns1"}}},
                   {"spec", {{"clusterIP", "10.96.0.5"}, {"ports", {{{"port", 80}}}}}}}};
  EnvList env = buildContainerEnv(pod, container, ctx);
  auto get = [&](const std::string& k) {
    for (auto& [n, v] : env)
      if (n == k) return v;
    return std::string("<unset>");
  };
  CHECK(get("CFG_who") == "bob");
  CHECK(get("CFG_mode") == "dev");
  CHECK(get("GREETING") == "hi $(WHO) on $(MY_NODE)");  // WHO is defined later: not expanded
  CHECK(get("AGAIN") == "bob!");
  CHECK(get("PASS") == "s3cr3t");
  CHECK(get("APP") == "web");
  CHECK(get("IP") == "10.244.0.7");
  CHECK(get("MEM") == "64");
  CHECK(get("SVC") == "10.96.0.5");
  CHECK(get("WEB_SERVICE_PORT") == "80");

  Json missingKey = Json::parse(
      R"js({"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope"}}}]})js");
  CHECK_THROWS_WITH_AS(buildContainerEnv(pod, missingKey, ctx), "couldn't find key nope in ConfigMap ns1/cfg",
                       ContainerConfigError);
  Json missingCm = Json::parse(R"js({"name": "c", "envFrom": [{"configMapRef": {"name": "gone"}}]})js");
  CHECK_THROWS_WITH_AS(buildContainerEnv(pod, missingCm, ctx), "configmap \"gone\" not found", ContainerConfigError);
  Json optionalCm =
      Json::parse(R"js({"name": "c", "envFrom": [{"configMapRef": {"name": "gone", "optional": true}}]})js");
  CHECK_NOTHROW(buildContainerEnv(pod, optionalCm, ctx));

  auto merged = mergeImageEnv({"PATH=/usr/bin", "MODE=prod"}, {{"MODE", "dev"}, {"NEW", "1"}});
  CHECK(merged == V{"PATH=/usr/bin", "MODE=dev", "NEW=1"});
}

TEST_CASE("kubelet quantities") {
  CHECK(memoryBytes("128Mi") == 134217728);
  CHECK(memoryBytes("1G") == 1000000000);
  CHECK(memoryBytes("1.5Gi") == 1610612736);
  CHECK(memoryBytes(Json(1024)) == 1024);
  CHECK(cpuMillis("500m") == 500);
  CHECK(cpuMillis("2") == 2000);
  CHECK(cpuMillis("0.25") == 250);
  CHECK(cpuMillis("bogus") == 0);
  CHECK(memoryBytes("12e3") == 12000);
}

TEST_CASE("kubelet resolv.conf and managed hosts file") {
  CHECK(resolvConfText("lab", "10.96.0.10", "cluster.local") ==
        "search lab.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n");
  Json pod = {{"metadata", {{"name", "web-1"}, {"namespace", "lab"}}}, {"spec", Json::object()}};
  std::string hosts = hostsFileText(pod, "10.244.0.9", "cluster.local");
  CHECK(hosts.rfind("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n", 0) == 0);
  CHECK(hosts.find("::1\tlocalhost ip6-localhost ip6-loopback\n") != std::string::npos);
  const std::string tail = "fe00::2\tip6-allrouters\n10.244.0.9\tweb-1\n";
  CHECK(hosts.substr(hosts.size() - tail.size()) == tail);
  Json sub = {{"metadata", {{"name", "p"}, {"namespace", "lab"}}},
              {"spec", {{"hostname", "db-0"}, {"subdomain", "db"},
                        {"hostAliases", {{{"ip", "1.2.3.4"}, {"hostnames", {"a.local", "b.local"}}}}}}}};
  std::string h2 = hostsFileText(sub, "10.244.0.3", "cluster.local");
  CHECK(h2.find("10.244.0.3\tdb-0.db.lab.svc.cluster.local\tdb-0\n") != std::string::npos);
  CHECK(h2.find("\n# Entries added by HostAliases.\n1.2.3.4\ta.local\tb.local\n") != std::string::npos);
  CHECK(podHostname(sub) == "db-0");
  CHECK(podHostname(pod) == "web-1");
}

TEST_CASE("kubelet restart back-off: 10s doubling to 5m, reset after 10 minutes") {
  RestartBackoff b;
  const std::string k = "uid/c";
  int64_t t = 1000000;
  CHECK_FALSE(b.inBackoffSince(k, t, t));  // first crash restarts at once
  b.next(k, t);
  CHECK(b.currentMs(k) == 10000);
  CHECK(b.inBackoffSince(k, t + 1000, t + 2000));
  CHECK(b.remainingMs(k, t + 1000, t + 2000) == 9000);
  CHECK_FALSE(b.inBackoffSince(k, t + 1000, t + 11000));
  std::vector<int64_t> seen;
  for (int i = 0; i < 7; ++i) {
    t += 1000;
    b.next(k, t);
    seen.push_back(b.currentMs(k) / 1000);
  }
  CHECK(seen == std::vector<int64_t>{20, 40, 80, 160, 300, 300, 300});
  CHECK(goDuration(10) == "10s");
  CHECK(goDuration(80) == "1m20s");
  CHECK(goDuration(300) == "5m0s");
  // Running for more than 10 minutes since the last restart starts over.
  t += 601000;
  CHECK_FALSE(b.inBackoffSince(k, t, t));
  b.next(k, t);
  CHECK(b.currentMs(k) == 10000);
  b.forgetPrefix("uid/");
  CHECK(b.currentMs(k) == 0);
}
