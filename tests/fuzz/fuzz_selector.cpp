// libFuzzer target: label and field selectors as list/watch/deletecollection read them from
// ?labelSelector= and ?fieldSelector=, and label selectors as objects (matchLabels /
// matchExpressions in a Deployment or Service). The first byte picks the form (and the kind for
// field selectors). A bad selector must be ApiError 400; a parsed label selector must print back
// (toString) to a text that parses to the same selector.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/errors.h"
#include "common/json_limits.h"
#include "common/selector.h"

namespace {

const k1s::Json& labels() {
  static const k1s::Json l = k1s::Json::parse(
      R"({"app":"numbers-api","tier":"backend","version":"v1","example.com/team":"a-b_c.d","empty":""})");
  return l;
}

const k1s::Json& object() {
  static const k1s::Json o = k1s::Json::parse(R"({
    "apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"numbers-api-7d9f","namespace":"default","labels":{"app":"numbers-api"}},
    "spec":{"nodeName":"k1s","restartPolicy":"Always","schedulerName":"default-scheduler",
            "serviceAccountName":"default"},
    "status":{"phase":"Running","podIP":"10.244.0.5","nominatedNodeName":""},
    "type":"Warning","reason":"BackOff","source":{"component":"kubelet"},
    "involvedObject":{"kind":"Pod","name":"x","namespace":"default","uid":"u"}})");
  return o;
}

void badRequestOnly(const k1s::ApiError& e) {
  if (e.code != 400) {
    fprintf(stderr, "selector error with code %d (want 400): %s\n", e.code, e.what());
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* kinds[] = {"Pod", "Node", "Event", "Secret", "Service", "Namespace", "ConfigMap", "ReplicaSet"};
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      k1s::LabelSelector s;
      try {
        s = k1s::LabelSelector::parse(text);
      } catch (const k1s::ApiError& e) {
        badRequestOnly(e);
        return 0;
      }
      (void)s.matches(labels());
      (void)s.matches(nullptr);
      std::string printed = s.toString();
      std::string again;
      try {
        again = k1s::LabelSelector::parse(printed).toString();
      } catch (const k1s::ApiError& e) {
        fprintf(stderr, "selector %s printed as %s, which does not parse: %s\n", text.c_str(), printed.c_str(),
                e.what());
        abort();
      }
      if (again != printed) {
        fprintf(stderr, "selector printed as %s reparses as %s\n", printed.c_str(), again.c_str());
        abort();
      }
      break;
    }
    case 1: {
      const char* kind = kinds[(data[0] / 3) % (sizeof kinds / sizeof *kinds)];
      try {
        auto s = k1s::FieldSelector::parse(text, kind);
        (void)s.matches(object());
        for (const auto& r : s.requirements()) (void)k1s::fieldValue(object(), r.field);
      } catch (const k1s::ApiError& e) {
        badRequestOnly(e);
      }
      break;
    }
    default: {
      k1s::Json sel;
      try {
        sel = k1s::parseJsonBounded(text);
      } catch (const std::exception&) {
        return 0;  // not JSON: the JSON target covers the decoder
      }
      try {
        auto s = k1s::LabelSelector::fromObject(sel);
        (void)s.matches(labels());
        (void)s.toString();
      } catch (const k1s::ApiError& e) {
        badRequestOnly(e);
      }
    }
  }
  return 0;
}
