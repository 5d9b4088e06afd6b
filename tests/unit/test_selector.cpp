// Label and field selectors: grammar, matching, canonical form and kube's errors.
#include <doctest/doctest.h>

#include "common/errors.h"
#include "common/selector.h"

using k1s::ApiError;
using k1s::FieldSelector;
using k1s::Json;
using k1s::LabelSelector;

namespace {

ApiError errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  FAIL("expected an ApiError");
  return ApiError(0, "", "");
}

std::string labelError(const std::string& text) {
  ApiError e = errorOf([&] { LabelSelector::parse(text); });
  CHECK(e.code == 400);
  CHECK(e.reason == "BadRequest");
  return e.what();
}

const std::string kNameRegexHelp =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

}  // namespace

TEST_CASE("label selector: equality, set and existence requirements match") {
  Json labels = {{"app", "web"}, {"tier", "front"}, {"app.kubernetes.io/name", "shop"}};
  auto m = [&](const std::string& s) { return LabelSelector::parse(s).matches(labels); };
  CHECK(m("app=web"));
  CHECK(m("app==web"));
  CHECK_FALSE(m("app!=web"));
  CHECK(m("app!=db"));
  CHECK(m("nope!=x"));  // != matches a missing label
  CHECK(m("tier in (back, front)"));
  CHECK_FALSE(m("tier notin (front)"));
  CHECK(m("missing notin (x)"));
  CHECK(m("app"));
  CHECK_FALSE(m("!app"));
  CHECK(m("!canary"));
  CHECK(m("app.kubernetes.io/name=shop"));
  CHECK(m("  app = web ,  tier  in(front)  "));
  CHECK_FALSE(m("app=web,tier=back"));
  CHECK(LabelSelector::parse("").empty());
  CHECK(LabelSelector::parse("").matches(labels));
  CHECK(LabelSelector::parse("app").matches(labels));
  CHECK_FALSE(LabelSelector::parse("app").matches(nullptr));
}

TEST_CASE("label selector: values and canonical string") {
  auto sel = LabelSelector::parse("x in (foo,,baz),y,!z,a notin (),b=");
  CHECK(sel.toString() == "a notin (),b=,x in (,baz,foo),y,!z");
  REQUIRE(sel.requirements().size() == 5);
  CHECK(sel.requirements()[2].values == std::vector<std::string>{"", "baz", "foo"});
  CHECK(sel.matches(Json{{"x", ""}, {"y", "1"}, {"b", ""}}));
  CHECK(LabelSelector::parse("tier!=db,app==web").toString() == "app=web,tier!=db");
  // "in" and "notin" are plain values inside parentheses
  CHECK(LabelSelector::parse("k in (in,notin)").matches(Json{{"k", "notin"}}));
  CHECK(LabelSelector::parse("n>3").matches(Json{{"n", "5"}}));
  CHECK_FALSE(LabelSelector::parse("n<3").matches(Json{{"n", "5"}}));
}

TEST_CASE("label selector: syntax errors carry kube's messages") {
  CHECK(labelError("a in b") == "unable to parse requirement: found 'b' expected: '('");
  CHECK(labelError("a=b=c") == "found '=', expected: ',' or 'end of string'");
  CHECK(labelError("a=b c") == "found 'c', expected: ',' or 'end of string'");
  CHECK(labelError("a,") == "found '', expected: identifier after ','");
  CHECK(labelError(",a") == "found ',', expected: !, identifier, or 'end of string'");
  CHECK(labelError("a in (b c)") == "unable to parse requirement: found 'c', expected: ',' or ')'");
  CHECK(labelError("a foo") == "unable to parse requirement: found 'foo', expected: in, notin, =, ==, !=, gt, lt");
  CHECK(labelError("!=a") == "found '!=', expected: !, identifier, or 'end of string'");
}

TEST_CASE("label selector: invalid keys and values") {
  CHECK(labelError("-a=b") == "unable to parse requirement: <nil>: Invalid value: \"-a\": name part " + kNameRegexHelp);
  CHECK(labelError("Example.com/a=b") ==
        "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 "
        "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  CHECK(labelError("a=b$") ==
        "unable to parse requirement: values[0][a]: Invalid value: \"b$\": a valid label must be an empty string or "
        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
  std::string longValue(64, 'v');
  CHECK(labelError("a=" + longValue).find("must be no more than 63 characters") != std::string::npos);
  CHECK(labelError("a/b/c").find("a qualified name must consist of") != std::string::npos);
}

TEST_CASE("label selector from a metav1.LabelSelector object") {
  CHECK_FALSE(LabelSelector::fromObject(nullptr).matches(Json{{"a", "b"}}));
  CHECK_FALSE(LabelSelector::fromObject(nullptr).empty());
  CHECK(LabelSelector::fromObject(Json::object()).matches(Json{{"a", "b"}}));
  CHECK(LabelSelector::fromObject(Json::object()).empty());

  Json obj = Json::parse(R"({"matchLabels":{"app":"web"},"matchExpressions":[
      {"key":"tier","operator":"In","values":["front","edge"]},
      {"key":"canary","operator":"DoesNotExist"},
      {"key":"env","operator":"Exists"},
      {"key":"zone","operator":"NotIn","values":["z9"]}]})");
  auto sel = LabelSelector::fromObject(obj);
  CHECK(sel.toString() == "app=web,!canary,env,tier in (edge,front),zone notin (z9)");
  CHECK(sel.matches(Json{{"app", "web"}, {"tier", "edge"}, {"env", "p"}}));
  CHECK_FALSE(sel.matches(Json{{"app", "web"}, {"tier", "edge"}, {"env", "p"}, {"canary", "1"}}));
  CHECK_FALSE(sel.matches(Json{{"app", "web"}, {"tier", "edge"}}));

  ApiError e = errorOf([] {
    LabelSelector::fromObject(Json::parse(R"({"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]})"));
  });
  CHECK(std::string(e.what()) == "\"Gt\" is not a valid label selector operator");
}

TEST_CASE("field selector: parse, supported fields per kind, matching") {
  Json pod = Json::parse(R"({"metadata":{"name":"p1","namespace":"ns"},
      "spec":{"nodeName":"n1","hostNetwork":true,"restartPolicy":"Always"},
      "status":{"phase":"Running","podIP":"10.0.0.5"}})");
  auto sel = FieldSelector::parse("metadata.name=p1,status.phase!=Pending,spec.nodeName==n1", "Pod");
  CHECK(sel.requirements().size() == 3);
  CHECK(sel.matches(pod));
  CHECK_FALSE(FieldSelector::parse("status.phase=Pending", "Pod").matches(pod));
  CHECK(FieldSelector::parse("spec.hostNetwork=true", "Pod").matches(pod));
  CHECK(FieldSelector::parse("spec.host=n1", "Pod").matches(pod));  // legacy alias of spec.nodeName
  CHECK(FieldSelector::parse("", "Pod").empty());
  CHECK(FieldSelector::parse("metadata.namespace=ns", "ConfigMap").matches(pod));

  CHECK(k1s::fieldValue(pod, "spec.hostNetwork") == "true");
  CHECK(k1s::fieldValue(Json::object(), "spec.hostNetwork") == "false");
  CHECK(k1s::fieldValue(Json::object(), "spec.unschedulable") == "false");
  CHECK(k1s::fieldValue(Json::parse(R"({"status":{"replicas":3}})"), "status.replicas") == "3");
  CHECK(k1s::fieldValue(pod, "status.podIP") == "10.0.0.5");

  Json event = Json::parse(R"({"involvedObject":{"kind":"Pod","name":"p1"},"reason":"Pulled","type":"Normal",
      "reportingComponent":"kubelet"})");
  CHECK(FieldSelector::parse("involvedObject.kind=Pod,involvedObject.name=p1,type=Normal", "Event").matches(event));
  CHECK(FieldSelector::parse("source=kubelet", "Event").matches(event));  // falls back to reportingComponent
  CHECK(FieldSelector::parse("type=Opaque", "Secret").matches(Json{{"type", "Opaque"}}));
  CHECK(FieldSelector::parse("spec.unschedulable=true", "Node").matches(Json::parse(R"({"spec":{"unschedulable":true}})")));
  CHECK(FieldSelector::parse("status.phase=Active", "Namespace").matches(Json::parse(R"({"status":{"phase":"Active"}})")));
}

TEST_CASE("field selector: escapes and errors") {
  auto sel = FieldSelector::parse("metadata.name=a\\,b", "Pod");
  REQUIRE(sel.requirements().size() == 1);
  CHECK(sel.requirements()[0].value == "a,b");

  auto msg = [](const std::string& text, const std::string& kind) {
    ApiError e = errorOf([&] { FieldSelector::parse(text, kind); });
    CHECK(e.code == 400);
    CHECK(e.reason == "BadRequest");
    return std::string(e.what());
  };
  CHECK(msg("spec.foo=x", "Pod") == "field label not supported: spec.foo");
  CHECK(msg("metadata.namespace=x", "Node") == "field label not supported: metadata.namespace");
  CHECK(msg("spec.replicas=1", "Deployment") ==
        "\"spec.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
  CHECK(msg("foo", "Pod") == "invalid selector: 'foo'; can't understand 'foo'");
  CHECK(msg("metadata.name=a\\x", "Pod") == "invalid field selector: invalid escape sequence: \\x");
  CHECK(msg("metadata.name=a=b", "Pod") == "invalid field selector: unescaped character in value: 61");
}
