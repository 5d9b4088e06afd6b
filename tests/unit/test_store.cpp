// The store and the registry's generic semantics: revisions, conflicts,
// persistence, watch windows, and Service IP/port allocation.
#include <doctest/doctest.h>

#include <set>
#include <thread>
#include <vector>

#include "apiserver/registry.h"
#include "apiserver/store.h"
#include "common/errors.h"
#include "common/meta.h"
#include "tests/unit/api_fixture.h"

using namespace k1s;
using test::Api;

namespace {

const ResourceInfo& cms() { return *findResource("", "configmaps"); }
const ResourceInfo& svcs() { return *findResource("", "services"); }

Json cm(const std::string& name, const std::string& v = "1") {
  return {{"metadata", {{"name", name}}}, {"data", {{"k", v}}}};
}

int64_t rvOf(const Json& o) { return std::stoll(metaOf(o)["resourceVersion"].get<std::string>()); }

int codeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.code;
  }
  return 0;
}

Json service(const std::string& name, const std::string& type = "ClusterIP", Json extra = Json::object()) {
  Json s = {{"metadata", {{"name", name}}},
            {"spec", {{"type", type}, {"selector", {{"app", name}}}, {"ports", {{{"port", 80}}}}}}};
  s["spec"].update(extra);
  return s;
}

}  // namespace

TEST_CASE("every write gets a larger resourceVersion; no-op updates write nothing") {
  Api api;
  auto& reg = *api.reg;
  Json a = reg.create(cms(), "default", cm("a"));
  Json b = reg.create(cms(), "default", cm("b"));
  CHECK(rvOf(b) > rvOf(a));
  CHECK(!metaOf(a)["uid"].get<std::string>().empty());
  CHECK(!metaOf(a)["creationTimestamp"].get<std::string>().empty());
  Json same = reg.update(cms(), "default", a);
  CHECK(rvOf(same) == rvOf(a));  // identical content: not written again
  Json changed = a;
  changed["data"]["k"] = "2";
  Json c = reg.update(cms(), "default", changed);
  CHECK(rvOf(c) > rvOf(b));
  CHECK(api.store->revision() == rvOf(c));
}

TEST_CASE("a stale resourceVersion is a 409 Conflict and changes nothing") {
  Api api;
  auto& reg = *api.reg;
  Json a = reg.create(cms(), "default", cm("a"));
  Json first = a;
  first["data"]["k"] = "first";
  reg.update(cms(), "default", first);
  Json stale = a;
  stale["data"]["k"] = "stale";
  CHECK(codeOf([&] { reg.update(cms(), "default", stale); }) == 409);
  CHECK(reg.get(cms(), "default", "a")["data"]["k"] == "first");
  CHECK(codeOf([&] { reg.create(cms(), "default", cm("a")); }) == 409);
  CHECK(codeOf([&] { reg.get(cms(), "default", "missing"); }) == 404);
  CHECK(codeOf([&] { reg.create(cms(), "nope", cm("x")); }) == 404);
}

TEST_CASE("data and revisions survive reopening the database") {
  Api api;
  Json a = api.reg->create(cms(), "default", cm("kept"));
  int64_t rev = api.store->revision();
  std::string path = api.dir + "/db";
  {
    Store again(path + "2");  // a different file starts empty
    CHECK(again.get(cms(), "default", "kept") == nullptr);
  }
  api.reg.reset();
  api.store.reset();
  api.store = std::make_unique<Store>(path);
  api.reg = std::make_unique<Registry>(*api.store, ClusterConfig{});
  auto got = api.store->get(cms(), "default", "kept");
  REQUIRE(got);
  CHECK(rvOf(*got) == rvOf(a));
  CHECK(api.store->revision() == rev);
  Json b = api.reg->create(cms(), "default", cm("after"));
  CHECK(rvOf(b) > rev);
}

TEST_CASE("the revision survives reopening when the newest write was a delete or an update") {
  // Rows carry their rv and the revision row is written only by deletes: both paths must come back.
  Api api;
  std::string path = api.dir + "/db";
  auto reopen = [&] {
    api.reg.reset();
    api.store.reset();
    api.store = std::make_unique<Store>(path);
    api.reg = std::make_unique<Registry>(*api.store, ClusterConfig{});
  };
  api.reg->create(cms(), "default", cm("a"));
  api.reg->create(cms(), "default", cm("b"));
  api.reg->remove(cms(), "default", "b");  // removes the newest row
  int64_t afterDelete = api.store->revision();
  reopen();
  CHECK(api.store->revision() == afterDelete);
  Json c = api.reg->create(cms(), "default", cm("c"));
  CHECK(rvOf(c) == afterDelete + 1);
  Json a2 = api.reg->update(cms(), "default", cm("a", "2"));  // an update moves a row to the newest rv
  reopen();
  CHECK(api.store->revision() == rvOf(a2));
  CHECK(rvOf(*api.store->get(cms(), "default", "a")) == rvOf(a2));
  CHECK(rvOf(api.reg->create(cms(), "default", cm("d"))) == rvOf(a2) + 1);
}

TEST_CASE("a failed transaction leaves nothing behind") {
  Api api;
  int64_t before = api.store->revision();
  CHECK_THROWS(api.store->transact([&](Store::Txn& t) {
    Json o = cm("half");
    o["metadata"]["namespace"] = "default";
    t.put(cms(), o);
    throw std::runtime_error("abort");
  }));
  CHECK(api.store->get(cms(), "default", "half") == nullptr);
  CHECK(api.store->revision() == before);
  Json o = api.reg->create(cms(), "default", cm("next"));
  CHECK(rvOf(o) == before + 1);
}

TEST_CASE("watch replays from a revision inside the window; older is 410 Gone") {
  char tmpl[] = "/tmp/k1s-unit-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    Store store(dir + "/db", "NORMAL", 10);  // a window of 10 events
    Registry reg(store, {});
    reg.bootstrap("127.0.0.1", 6443);
    int64_t start = store.revision();
    for (int i = 0; i < 5; ++i) reg.create(cms(), "default", cm("w" + std::to_string(i)));
    ListOptions o;
    o.resourceVersion = std::to_string(start);
    auto w = reg.watch(cms(), "default", o);
    std::vector<std::string> seen;
    WatchEvent e;
    while (w->next(e, std::chrono::milliseconds(100))) seen.push_back(e.type + ":" + nameOf(e.object));
    CHECK(seen == std::vector<std::string>{"ADDED:w0", "ADDED:w1", "ADDED:w2", "ADDED:w3", "ADDED:w4"});
    // Live events keep coming, with label selectors applied.
    ListOptions sel;
    sel.labelSelector = "tier=web";
    auto ws = reg.watch(cms(), "default", sel);
    Json labelled = cm("lab");
    labelled["metadata"]["labels"] = {{"tier", "web"}};
    reg.create(cms(), "default", labelled);
    reg.create(cms(), "default", cm("unlabelled"));
    REQUIRE(ws->next(e, std::chrono::milliseconds(1000)));
    CHECK(e.type == "ADDED");
    CHECK(nameOf(e.object) == "lab");
    // Leaving the selector is a DELETED event for that watcher.
    Json relabel = reg.get(cms(), "default", "lab");
    relabel["metadata"]["labels"]["tier"] = "db";
    reg.update(cms(), "default", relabel);
    REQUIRE(ws->next(e, std::chrono::milliseconds(1000)));
    CHECK(e.type == "DELETED");
    CHECK(!ws->next(e, std::chrono::milliseconds(100)));
    ListOptions page;
    page.limit = 2;
    Json first = reg.list(cms(), "default", page);
    REQUIRE(first["metadata"].contains("continue"));
    page.continueToken = first["metadata"]["continue"];
    CHECK(reg.list(cms(), "default", page)["items"].size() == 2);  // still inside the window
    for (int i = 0; i < 20; ++i) reg.create(cms(), "default", cm("more" + std::to_string(i)));
    CHECK(codeOf([&] { reg.watch(cms(), "default", o); }) == 410);
    // A continue token from a revision that left the window is 410 Expired, as kube's.
    try {
      reg.list(cms(), "default", page);
      FAIL("an expired continue token was accepted");
    } catch (const ApiError& e) {
      CHECK(e.code == 410);
      CHECK(e.reason == "Expired");
      CHECK(std::string(e.what()).rfind("The provided continue parameter is too old", 0) == 0);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("list paging with limit and continue sees every object once") {
  Api api;
  for (int i = 0; i < 7; ++i) api.reg->create(cms(), "default", cm("p" + std::to_string(i)));
  std::set<std::string> names;
  ListOptions o;
  o.limit = 3;
  int pages = 0;
  for (;;) {
    Json l = api.reg->list(cms(), "default", o);
    ++pages;
    for (auto& it : l["items"]) CHECK(names.insert(nameOf(it)).second);
    if (!l["metadata"].contains("continue")) break;
    o.continueToken = l["metadata"]["continue"];
  }
  CHECK(pages == 3);
  CHECK(names.size() == 7);
}

TEST_CASE("cluster IPs and node ports are unique, honoured when free, and released on delete") {
  Api api;
  auto& reg = *api.reg;
  Json a = reg.create(svcs(), "default", service("a"));
  std::string ipA = a["spec"]["clusterIP"];
  CHECK(ipA.rfind("10.96.", 0) == 0);
  CHECK(a["spec"]["clusterIPs"] == Json::array({ipA}));
  // A requested free IP is honoured; a taken one is a 422.
  Json b = reg.create(svcs(), "default", service("b", "ClusterIP", {{"clusterIP", "10.96.7.7"}}));
  CHECK(b["spec"]["clusterIP"] == "10.96.7.7");
  CHECK(codeOf([&] { reg.create(svcs(), "default", service("c", "ClusterIP", {{"clusterIP", "10.96.7.7"}})); }) == 422);
  CHECK(codeOf([&] { reg.create(svcs(), "default", service("c", "ClusterIP", {{"clusterIP", "10.0.0.5"}})); }) == 422);
  CHECK(codeOf([&] { reg.get(svcs(), "default", "c"); }) == 404);
  // Headless: no allocation.
  Json h = reg.create(svcs(), "default", service("h", "ClusterIP", {{"clusterIP", "None"}}));
  CHECK(h["spec"]["clusterIP"] == "None");
  // NodePort: allocated in range, a clash is a 422, released on delete.
  Json n = reg.create(svcs(), "default", service("n", "NodePort"));
  int port = n["spec"]["ports"][0]["nodePort"];
  CHECK(port >= 30000);
  CHECK(port <= 32767);
  Json fixed = service("f", "NodePort");
  fixed["spec"]["ports"][0]["nodePort"] = port;
  CHECK(codeOf([&] { reg.create(svcs(), "default", fixed); }) == 422);
  reg.remove(svcs(), "default", "n");
  CHECK(reg.create(svcs(), "default", fixed)["spec"]["ports"][0]["nodePort"] == port);
  // The released cluster IP can be asked for again.
  reg.remove(svcs(), "default", "b");
  CHECK(reg.create(svcs(), "default", service("b2", "ClusterIP", {{"clusterIP", "10.96.7.7"}}))["spec"]["clusterIP"] ==
        "10.96.7.7");
  // An update without clusterIP keeps it; changing it is a 422.
  Json upd = reg.get(svcs(), "default", "a");
  upd["spec"].erase("clusterIP");
  upd["spec"].erase("clusterIPs");
  CHECK(reg.update(svcs(), "default", upd)["spec"]["clusterIP"] == ipA);
  upd = reg.get(svcs(), "default", "a");
  upd["spec"]["clusterIP"] = "10.96.9.9";
  upd["spec"]["clusterIPs"] = {"10.96.9.9"};
  CHECK(codeOf([&] { reg.update(svcs(), "default", upd); }) == 422);
}

TEST_CASE("many concurrent creates get distinct cluster IPs") {
  Api api;
  std::vector<std::thread> ts;
  std::mutex mu;
  std::set<std::string> ips;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        Json s = api.reg->create(svcs(), "default", service("s" + std::to_string(t) + "-" + std::to_string(i)));
        std::lock_guard<std::mutex> l(mu);
        ips.insert(s["spec"]["clusterIP"].get<std::string>());
      }
    });
  for (auto& t : ts) t.join();
  CHECK(ips.size() == 100);
}

TEST_CASE("a client's field of the wrong type is refused as kube's decoder does, and nothing is written") {
  Api api;
  auto& reg = *api.reg;
  std::vector<std::string> warnings;
  WriteOptions client;  // what the HTTP front passes
  client.warnings = &warnings;
  auto errorOf = [](const std::function<void()>& f) -> ApiError {
    try {
      f();
    } catch (const ApiError& e) {
      return e;
    }
    return ApiError(0, "", "no error");
  };
  Json bad = cm("typed");
  bad["data"]["PORT"] = 8080;
  auto e = errorOf([&] { reg.create(cms(), "default", bad, client); });
  CHECK(e.code == 400);
  CHECK(std::string(e.what()) ==
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go "
        "struct field ConfigMap.data of type string");
  CHECK(api.store->get(cms(), "default", "typed") == nullptr);

  Json good = reg.create(cms(), "default", cm("typed"), client);
  Json upd = good;
  upd["metadata"]["labels"] = {{"version", 2}};
  CHECK(errorOf([&] { reg.update(cms(), "default", upd, "", client); }).code == 400);
  auto pe = errorOf([&] {
    reg.patch(cms(), "default", "typed", PatchType::Merge, Json::parse(R"({"data":{"k":1}})"), "", client);
  });
  CHECK(pe.code == 422);
  CHECK(std::string(pe.what()).find("patch: Invalid value: \"{\\\"data\\\":{\\\"k\\\":1}}\": json: cannot unmarshal "
                                    "number into Go struct field ConfigMap.data of type string") != std::string::npos);
  auto jp = Json::parse(R"([{"op":"replace","path":"/data","value":"notobj"}])");
  CHECK(errorOf([&] { reg.patch(cms(), "default", "typed", PatchType::JSON, jp, "", client); }).code == 422);
  Json now = reg.get(cms(), "default", "typed");
  CHECK(now == good);  // unchanged, same resourceVersion

  Json nk = cm("numkind");
  nk["kind"] = 5;
  auto ke = errorOf([&] { reg.create(cms(), "default", nk, client); });
  CHECK(ke.code == 400);
  CHECK(std::string(ke.what()) ==
        "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of "
        "type string");
}

TEST_CASE("patching only a Service's clusterIP is one 'may not change once set', as in kube") {
  Api api;
  auto& reg = *api.reg;
  Json created = reg.create(svcs(), "default", service("fixed"));
  std::string ip = created["spec"]["clusterIP"];
  std::string other = ip == "10.96.99.99" ? "10.96.99.98" : "10.96.99.99";
  try {
    reg.patch(svcs(), "default", "fixed", PatchType::Strategic, {{"spec", {{"clusterIP", other}}}});
    FAIL("the patch was accepted");
  } catch (const ApiError& e) {
    CHECK(e.code == 422);
    CHECK(std::string(e.what()) == "Service \"fixed\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"" +
                                       other + "\"}: may not change once set");
  }
  CHECK(reg.get(svcs(), "default", "fixed") == created);
}

TEST_CASE("an update or patch that renames or moves the object is a 400 and changes nothing") {
  Api api;
  auto& reg = *api.reg;
  Json a = reg.create(cms(), "default", cm("stay"));
  auto what = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const ApiError& e) {
      return std::to_string(e.code) + " " + e.what();
    }
    return "accepted";
  };
  Json moved = a;
  moved["metadata"]["namespace"] = "kube-system";
  CHECK(what([&] { reg.update(cms(), "default", moved); }) ==
        "400 the namespace of the object (kube-system) does not match the namespace on the request (default)");
  CHECK(what([&] {
          reg.patch(cms(), "default", "stay", PatchType::Merge, {{"metadata", {{"namespace", "kube-system"}}}});
        }) == "400 the namespace of the object (kube-system) does not match the namespace on the request (default)");
  auto rename = Json::parse(R"([{"op":"replace","path":"/metadata/name","value":"other"}])");
  CHECK(what([&] { reg.patch(cms(), "default", "stay", PatchType::JSON, rename); }) ==
        "400 the name of the object (other) does not match the name on the URL (stay)");
  CHECK(reg.get(cms(), "default", "stay") == a);
  CHECK(api.store->get(cms(), "kube-system", "stay") == nullptr);
}

TEST_CASE("server-side apply: a field the manager applied before and leaves out now is removed") {
  Api api;
  auto& reg = *api.reg;
  auto& deps = *findResource("apps", "deployments");
  WriteOptions o;
  o.fieldManager = "kubectl";
  auto config = [](Json env, Json labels) {
    Json c = Json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "c", "image": "k1s.test/none:1"}]}}}})");
    c["metadata"]["labels"] = labels;
    c["spec"]["template"]["spec"]["containers"][0]["env"] = env;
    return c;
  };
  Json envAB = Json::parse(R"([{"name":"A","value":"1"},{"name":"B","value":"2"}])");
  Json first = reg.patch(deps, "default", "web", PatchType::Apply, config(envAB, {{"app", "web"}, {"tier", "x"}}), "", o);
  REQUIRE(first["metadata"]["managedFields"].size() == 1);
  CHECK(first["metadata"]["managedFields"][0]["manager"] == "kubectl");
  CHECK(first["metadata"]["managedFields"][0]["operation"] == "Apply");
  CHECK(first["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"].contains("f:replicas"));
  // Another writer's label stays; the applier's dropped label, env var and replicas go.
  reg.patch(deps, "default", "web", PatchType::Merge, {{"metadata", {{"labels", {{"owner", "ops"}}}}}});
  Json cfg2 = config(Json::parse(R"([{"name":"A","value":"1"}])"), {{"app", "web"}});
  cfg2["spec"].erase("replicas");
  Json second = reg.patch(deps, "default", "web", PatchType::Apply, cfg2, "", o);
  CHECK(second["metadata"]["labels"] == Json({{"app", "web"}, {"owner", "ops"}}));
  CHECK(second["spec"]["template"]["spec"]["containers"][0]["env"] == Json::parse(R"([{"name":"A","value":"1"}])"));
  CHECK(second["spec"]["replicas"] == 1);  // defaulted again, as kube does
  // An update that does not carry managedFields keeps them.
  Json edited = second;
  edited["metadata"].erase("managedFields");
  edited["metadata"]["annotations"] = {{"note", "x"}};
  Json third = reg.update(deps, "default", edited);
  CHECK(third["metadata"]["managedFields"].size() == 1);
  // Re-applying the same config writes nothing.
  Json again = reg.patch(deps, "default", "web", PatchType::Apply, cfg2, "", o);
  CHECK(again["metadata"]["resourceVersion"] == third["metadata"]["resourceVersion"]);
}

TEST_CASE("creating a name that is still being deleted says so, as kube does") {
  Api api;
  auto& reg = *api.reg;
  auto& nss = *findResource("", "namespaces");
  reg.create(nss, "", {{"metadata", {{"name", "gone"}}}});
  reg.remove(nss, "", "gone");  // Terminating until the namespace controller finishes it
  try {
    reg.create(nss, "", {{"metadata", {{"name", "gone"}}}});
    FAIL("created over a terminating namespace");
  } catch (const ApiError& e) {
    CHECK(e.code == 409);
    CHECK(e.reason == "AlreadyExists");
    CHECK(std::string(e.what()) == "object is being deleted: namespaces \"gone\" already exists");
  }
  try {
    reg.create(cms(), "default", cm("dup"));
    reg.create(cms(), "default", cm("dup"));
    FAIL("created twice");
  } catch (const ApiError& e) {
    CHECK(std::string(e.what()) == "configmaps \"dup\" already exists");
  }
}

TEST_CASE("default, kube-system and kube-public may not be deleted") {
  Api api;
  auto& nss = *findResource("", "namespaces");
  for (const char* n : {"default", "kube-system", "kube-public"}) {
    try {
      api.reg->remove(nss, "", n);
      FAIL("deleted " << n);
    } catch (const ApiError& e) {
      CHECK(e.code == 403);
      CHECK(std::string(e.what()) == std::string("namespaces \"") + n + "\" is forbidden: this namespace may not be deleted");
    }
    CHECK(!metaOf(api.reg->get(nss, "", n)).contains("deletionTimestamp"));
  }
  api.reg->create(nss, "", {{"metadata", {{"name", "mine"}}}});
  CHECK(metaOf(api.reg->remove(nss, "", "mine")).contains("deletionTimestamp"));
}

TEST_CASE("a client's null field is its zero value, never a 500") {
  Api api;
  auto& reg = *api.reg;
  std::vector<std::string> warnings;
  WriteOptions client;
  client.warnings = &warnings;
  auto codeOfClient = [&](const std::function<void()>& f) { return codeOf(f); };
  Json noName = cm("x");
  noName["metadata"]["name"] = nullptr;
  CHECK(codeOfClient([&] { reg.create(cms(), "default", noName, client); }) == 422);  // name or generateName required
  Json svc = service("nulls", "NodePort");
  svc["spec"]["ports"][0]["nodePort"] = nullptr;
  svc["spec"]["sessionAffinity"] = nullptr;
  Json created = reg.create(svcs(), "default", svc, client);
  CHECK(created["spec"]["ports"][0]["nodePort"].is_number_integer());
  CHECK(created["spec"]["sessionAffinity"] == "None");
  auto ops = Json::parse(R"([{"op":"replace","path":"/spec/sessionAffinity","value":null}])");
  Json patched = reg.patch(svcs(), "default", "nulls", PatchType::JSON, ops, "", client);
  CHECK(patched["spec"]["sessionAffinity"] == "None");  // defaulted again

  // In a map or a list, null is the element's zero value: the key stays, with "" (YAML `EMPTY:`).
  Json withEmpty = cm("empty-value");
  withEmpty["data"]["EMPTY"] = nullptr;
  withEmpty["metadata"]["labels"] = {{"tier", nullptr}};
  Json made = reg.create(cms(), "default", withEmpty, client);
  CHECK(made["data"]["EMPTY"] == "");
  CHECK(made["metadata"]["labels"]["tier"] == "");
  Json pod = Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"nullarg"},
    "spec":{"containers":[{"name":"c","image":"k1s.test/none:1","args":["a",null]}]}})");
  Json madePod = reg.create(*findResource("", "pods"), "default", pod, client);
  CHECK(madePod["spec"]["containers"][0]["args"] == Json::array({"a", ""}));
}

TEST_CASE("an object stored before types were checked stays patchable; an apply creates what the URL names") {
  Api api;
  auto& reg = *api.reg;
  std::vector<std::string> warnings;
  WriteOptions client;
  client.warnings = &warnings;
  Json old = cm("legacy");
  old["data"]["PORT"] = 8080;             // as an older k1s stored it
  reg.create(cms(), "default", old, {});  // in-process: no decode check
  Json labelled = reg.patch(cms(), "default", "legacy", PatchType::Merge,
                            Json::parse(R"({"metadata":{"labels":{"a":"b"}}})"), "", client);
  CHECK(labelled["metadata"]["labels"]["a"] == "b");
  CHECK(codeOf([&] {
          reg.patch(cms(), "default", "legacy", PatchType::Merge, Json::parse(R"({"data":{"OTHER":1}})"), "", client);
        }) == 422);

  WriteOptions apply = client;
  apply.fieldManager = "kubectl";
  Json other = cm("b");
  CHECK(codeOf([&] { reg.patch(cms(), "default", "a", PatchType::Apply, other, "", apply); }) == 400);
  CHECK(api.store->get(cms(), "default", "b") == nullptr);
  Json unnamed = cm("x");
  unnamed["metadata"].erase("name");
  Json made = reg.patch(cms(), "default", "from-url", PatchType::Apply, unnamed, "", apply);
  CHECK(made["metadata"]["name"] == "from-url");
}

TEST_CASE("a Service's type change drops the fields the new type does not use, as kube does") {
  Api api;
  auto& reg = *api.reg;
  Json np = reg.create(svcs(), "default", service("np", "NodePort"));
  int64_t port = np["spec"]["ports"][0]["nodePort"];
  Json toCip = reg.patch(svcs(), "default", "np", PatchType::Strategic, {{"spec", {{"type", "ClusterIP"}}}});
  CHECK(toCip["spec"]["type"] == "ClusterIP");
  CHECK(!toCip["spec"]["ports"][0].contains("nodePort"));
  CHECK(!toCip["spec"].contains("externalTrafficPolicy"));
  CHECK(toCip["spec"]["clusterIP"] == np["spec"]["clusterIP"]);
  // The node port went back to the pool.
  Json again = service("np2", "NodePort");
  again["spec"]["ports"][0]["nodePort"] = port;
  CHECK(reg.create(svcs(), "default", again)["spec"]["ports"][0]["nodePort"] == port);
  Json lb = reg.create(svcs(), "default", service("lb", "LoadBalancer"));
  Json toNp = reg.patch(svcs(), "default", "lb", PatchType::Strategic, {{"spec", {{"type", "NodePort"}}}});
  CHECK(toNp["spec"]["type"] == "NodePort");
  CHECK(toNp["spec"]["ports"][0]["nodePort"] == lb["spec"]["ports"][0]["nodePort"]);
  CHECK(!toNp["spec"].contains("allocateLoadBalancerNodePorts"));
  // A node port the request changes is still checked.
  Json changed = reg.get(svcs(), "default", "lb");
  changed["spec"]["type"] = "ClusterIP";
  changed["spec"]["ports"][0]["nodePort"] = 31999;
  CHECK(codeOf([&] { reg.update(svcs(), "default", changed); }) == 422);
}
