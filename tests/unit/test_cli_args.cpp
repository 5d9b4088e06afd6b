// Flag parsing, kubeconfig reading and error wording of the kubectl-style client.
#include <doctest/doctest.h>

#include "cli/kubectl_args.h"
#include "cli/kubectl_client.h"

using namespace k1s::cli;

TEST_CASE("kubectl flags: long, short, attached values and bools anywhere") {
  auto a = parseArgs({"pods", "-n", "kube-system", "--selector=app=web", "-owide", "x", "-A", "--show-labels=false"},
                     globalFlags());
  CHECK(a.positional == std::vector<std::string>{"pods", "x"});
  CHECK(a.get("namespace") == "kube-system");
  CHECK(a.get("selector") == "app=web");
  CHECK(a.get("output") == "wide");
  CHECK(a.flag("all-namespaces"));
  CHECK_FALSE(a.flag("show-labels"));
  CHECK_FALSE(a.flag("watch"));
}

TEST_CASE("kubectl flags: repeated -f, optional values, -- ends flags") {
  auto a = parseArgs({"-f", "a.yaml", "--filename", "dir", "--dry-run", "--cascade", "--", "-x"}, globalFlags());
  CHECK(a.all("filename") == std::vector<std::string>{"a.yaml", "dir"});
  CHECK(a.get("dry-run") == "client");
  CHECK(a.get("cascade") == "background");
  CHECK(a.positional == std::vector<std::string>{"-x"});
}

TEST_CASE("kubectl flags: unknown flags are refused with kubectl's words") {
  CHECK_THROWS_WITH_AS(parseArgs({"--bogus"}, globalFlags()), "error: unknown flag: --bogus", CliError);
  CHECK_THROWS_WITH_AS(parseArgs({"-n"}, globalFlags()), "error: flag needs an argument: 'n' in -n", CliError);
}

TEST_CASE("kubeconfig: current context picks cluster, CA data and token") {
  std::string text = R"(apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://10.0.0.1:6443"}
- name: k1s
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTg==
contexts:
- name: k1s
  context: {cluster: k1s, user: admin, namespace: lab}
current-context: k1s
users:
- name: admin
  user: {token: abc123}
)";
  auto cfg = parseKubeconfig(text, "");
  CHECK(cfg.server == "https://127.0.0.1:6443");
  CHECK(cfg.caPem == "-----BEGIN");
  CHECK(cfg.token == "abc123");
  CHECK(cfg.namespace_ == "lab");
  CHECK_THROWS_AS(parseKubeconfig(text, "nope"), CliError);
}

TEST_CASE("server URLs split into host, port and prefix") {
  auto u = parseServerUrl("https://127.0.0.1:6443");
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 6443);
  CHECK(u.hostPort == "127.0.0.1:6443");
  auto v = parseServerUrl("http://localhost/k8s/");
  CHECK(v.port == 80);
  CHECK(v.prefix == "/k8s");
  auto w = parseServerUrl("https://[::1]:8443");
  CHECK(w.host == "::1");
  CHECK(w.port == 8443);
}

TEST_CASE("Status errors are worded as kubectl prints them") {
  CHECK(formatStatusError({{"kind", "Status"}, {"reason", "NotFound"}, {"message", "pods \"x\" not found"}}) ==
        "Error from server (NotFound): pods \"x\" not found");
  k1s::Json invalid = {{"kind", "Status"},
                       {"reason", "Invalid"},
                       {"message", "Deployment.apps \"x\" is invalid: ..."},
                       {"details",
                        {{"name", "x"},
                         {"kind", "Deployment"},
                         {"group", "apps"},
                         {"causes",
                          {{{"field", "spec.template.metadata.labels"},
                            {"message", "Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match "
                                        "template `labels`"}}}}}}};
  CHECK(formatStatusError(invalid) ==
        "The Deployment \"x\" is invalid: spec.template.metadata.labels: Invalid value: "
        "map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`");
  invalid["details"]["causes"].push_back({{"field", "spec.replicas"}, {"message", "Invalid value: -1: must be >= 0"}});
  CHECK(formatStatusError(invalid) ==
        "The Deployment \"x\" is invalid: \n* spec.template.metadata.labels: Invalid value: "
        "map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`\n* spec.replicas: Invalid "
        "value: -1: must be >= 0");
  CHECK(formatStatusError({{"reason", "Unauthorized"}, {"message", "Unauthorized"}}) ==
        "error: You must be logged in to the server (Unauthorized)");
}

TEST_CASE("non-Status error replies become client-go's generic Status") {
  try {
    throwForReply({404, "404 page not found", "text/plain"});
    FAIL("no throw");
  } catch (const StatusError& e) {
    CHECK(formatStatusError(e.status) == "Error from server (NotFound): the server could not find the requested resource");
  }
  CHECK_NOTHROW(throwForReply({201, "{}", "application/json"}));
}

TEST_CASE("connection refused is reported with kubectl's sentence") {
  ConnectionConfig cfg;
  cfg.server = "https://127.0.0.1:1";  // nothing listens on port 1
  RestClient c(cfg);
  CHECK_THROWS_WITH_AS(c.get("/version"),
                       "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?",
                       CliError);
}

TEST_CASE("kubectl flags: logs reads -f as --follow and -p as --previous; other verbs keep -f FILE") {
  auto logs = parseArgs({"web", "-f", "-p", "-c", "nginx", "--tail=5", "--since", "10m"}, globalFlags("logs"));
  CHECK(logs.positional == std::vector<std::string>{"web"});
  CHECK(logs.flag("follow"));
  CHECK(logs.flag("previous"));
  CHECK(logs.get("container") == "nginx");
  CHECK(logs.get("tail") == "5");
  CHECK(logs.get("since") == "10m");
  auto apply = parseArgs({"-f", "x.yaml"}, globalFlags("apply"));
  CHECK(apply.get("filename") == "x.yaml");
  auto wait = parseArgs({"--for=jsonpath={.status.phase}=Running", "pod/x", "--timeout=60s"}, globalFlags("wait"));
  CHECK(wait.get("for") == "jsonpath={.status.phase}=Running");
  CHECK(wait.get("timeout") == "60s");
  auto scale = parseArgs({"deploy/web", "--replicas", "3", "--current-replicas=2", "--dry-run"}, globalFlags("scale"));
  CHECK(scale.get("replicas") == "3");
  CHECK(scale.get("current-replicas") == "2");
  CHECK(scale.get("dry-run") == "client");
  CHECK_THROWS_WITH_AS(parseArgs({"--follow-me"}, globalFlags("logs")),
                       "error: unknown flag: --follow-me\nSee 'k1s logs --help' for usage.", CliError);
}

TEST_CASE("Go durations for --since, --timeout and --pod-running-timeout") {
  CHECK(parseGoDuration("90s") == 90);
  CHECK(parseGoDuration("5m") == 300);
  CHECK(parseGoDuration("1h30m") == 5400);
  CHECK(parseGoDuration("1.5h") == 5400);
  CHECK(parseGoDuration("250ms") == doctest::Approx(0.25));
  CHECK(parseGoDuration("0") == 0);
  CHECK(parseGoDuration("-1s") == -1);
  CHECK_THROWS_WITH_AS(parseGoDuration("5"), "time: missing unit in duration \"5\"", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parseGoDuration("5x"), "time: unknown unit \"x\" in duration \"5x\"", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parseGoDuration("m"), "time: invalid duration \"m\"", std::invalid_argument);
  CHECK_THROWS_AS(parseGoDuration(""), std::invalid_argument);
}

TEST_CASE("kubectl flags: a verb's flag errors point at its help like cobra's") {
  CHECK_THROWS_WITH_AS(parseArgs({"pods", "--bogus"}, globalFlags("get")),
                       "error: unknown flag: --bogus\nSee 'k1s get --help' for usage.", CliError);
  CHECK_THROWS_WITH_AS(parseArgs({"deploy/x", "--replicas"}, globalFlags("scale")),
                       "error: flag needs an argument: --replicas\nSee 'k1s scale --help' for usage.", CliError);
}

TEST_CASE("kubectl flags: global flags may come before the verb") {
  std::vector<std::string> argv{"-n", "ns", "--kubeconfig", "/k", "--insecure-skip-tls-verify", "get", "pods"};
  CHECK(takeVerb(argv) == "get");
  CHECK(argv == std::vector<std::string>{"-n", "ns", "--kubeconfig", "/k", "--insecure-skip-tls-verify", "pods"});
  std::vector<std::string> only{"--namespace=x"};
  CHECK(takeVerb(only) == "");
}
