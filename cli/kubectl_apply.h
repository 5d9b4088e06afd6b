// Client-side apply as kubectl does it: the last-applied-configuration
// annotation and a three-way strategic merge patch.
#pragma once
#include <string>

#include "common/json.h"
#include "common/patch.h"

namespace k1s::cli {

inline const char* kLastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

// The object to send: `obj` with metadata.annotations[last-applied] set to the
// compact JSON of `obj` itself (without that annotation, with "annotations":{}
// kept, trailing newline), byte-for-byte what kubectl stores.
Json withLastApplied(const Json& obj);

struct ApplyPlan {
  enum Action { Create, Patch, Unchanged } action = Create;
  Json body;  // the object to create or the patch to send
  bool missingAnnotation = false;  // live object lacks last-applied (kubectl warns)
};

// Decides what apply does for `modified` (already carrying the annotation)
// given the live object (null when absent). `strategic` false means a JSON
// merge patch (kinds without a schema).
ApplyPlan planApply(const Json& modified, const Json& current, const ListStrategyLookup& lookup, bool strategic);

// Strategic-merge list strategies from an OpenAPI v3 group-version document
// (x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key) for one kind,
// falling back to the well-known core list keys when the document lacks them.
ListStrategyLookup listStrategiesFromOpenApi(const Json& doc, const std::string& apiVersion, const std::string& kind);

}  // namespace k1s::cli
