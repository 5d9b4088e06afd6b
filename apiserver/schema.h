// The one embedded schema (DESIGN rule 4): an OpenAPI v3 subset covering every
// field of every served kind. It drives /openapi/v3, unknown-field detection,
// strategic-merge list strategies and `explain`.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/patch.h"
#include "common/resources.h"

namespace k1s {

// GET /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}
const Json& openapiV3Root();
// GET /openapi/v3/<path>, path like "api/v1" or "apis/apps/v1"; nullptr when unknown.
const Json* openapiV3Document(const std::string& path);
// The content hash in serverRelativeURL for a group-version path (ETag too).
std::string openapiV3Hash(const std::string& path);

// Paths of fields in `obj` that the kind's schema does not know, as kube prints
// them: ".spec.foo", ".spec.template.spec.containers[0].imagePullPolicyy".
std::vector<std::string> unknownFields(const ResourceInfo& r, const Json& obj);

// The first value in `obj` whose JSON type the kind's schema does not allow, worded as
// kube's decoder words it ("json: cannot unmarshal number into Go struct field
// ConfigMap.data of type string", "illegal base64 data at input byte 8"); empty when
// every typed field holds its type. null is allowed anywhere (the decoder skips it).
std::string typeError(const ResourceInfo& r, const Json& obj);
// The same for a patch's result: only a mismatch that `before` did not have at that place
// (an object stored before k1s checked types stays patchable).
std::string newTypeError(const ResourceInfo& r, const Json& before, const Json& after);

// Nulls in a client's object as kube's decoder reads them: a null struct field is left out
// (its zero value), a null map or list entry becomes its element's zero value ("" for a
// string). Kinds without a schema lose every null.
void decodeNulls(const ResourceInfo& r, Json& obj);
void dropNullsAnywhere(Json& v);

// Strategic-merge list strategy lookup for a kind (see common/patch.h).
ListStrategyLookup listStrategies(const ResourceInfo& r);

// The schema node (resolved $refs) at a dotted field path of a kind, for
// `explain` ("spec.template.spec.containers"); nullopt when there is none.
std::optional<Json> schemaAt(const ResourceInfo& r, const std::string& fieldPath);

}  // namespace k1s
