// Kubernetes protobuf request bodies (Content-Type application/vnd.kubernetes.protobuf),
// which kubectl 1.32+ sends for its typed `create` verbs. k1s only reads them:
// answers stay JSON, which every client accepts.
#pragma once
#include <string>

#include "common/json.h"

namespace k1s {

// Decodes a body of the 4-byte magic "k8s\0" and a runtime.Unknown envelope
// (typeMeta, raw, contentEncoding, contentType) into the JSON object kube's
// JSON encoding of the same Go value would give, apiVersion and kind included.
// The raw message is read by walking the embedded schema (DESIGN rule 4),
// whose properties carry their protobuf field numbers (x-k1s-protobuf).
// Malformed input, an unknown kind or an unsupported encoding throw
// badRequest (common/errors.h).
Json protobufToJson(const std::string& body);

}  // namespace k1s
