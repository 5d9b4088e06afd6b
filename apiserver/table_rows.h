// Private to the Table printer (apiserver/table*.cpp): JSON access helpers
// and the per-kind row builders. Each builder returns {"cells": [...]} plus
// "conditions" where kube sets them; cells always include the -o wide
// columns, because kube-apiserver generates its Tables with Wide set.
#pragma once
#include <climits>
#include <initializer_list>
#include <string>

#include "common/json.h"

namespace k1s::table {

// Go's zero time: "unset" for timestamps that are absent or malformed.
constexpr long long kNoTime = LLONG_MIN;

// The node at a path of object keys, or a shared null when any step is missing.
const Json& at(const Json& o, std::initializer_list<const char*> path);
// The string at a path, "" when absent or not a string.
std::string str(const Json& o, std::initializer_list<const char*> path);
// The integer at a path, `dflt` when absent or not a number.
long long num(const Json& o, std::initializer_list<const char*> path, long long dflt = 0);
// Size of the array/object at a path, 0 when absent.
long long count(const Json& o, std::initializer_list<const char*> path);

// RFC 3339 (with optional fraction and offset) to seconds since epoch; kNoTime if malformed.
long long parseTime(const std::string& s);
// kube's translateTimestampSince: "<unknown>" for unset times, else humanDuration(now - t).
std::string since(long long t, long long now);
std::string ageOf(const Json& obj, long long now);

// labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty.
std::string formatLabels(const Json& labels);
// LabelSelector as metav1.LabelSelectorAsSelector(..).String(): "" for an empty selector.
std::string selectorString(const Json& selector);
// Container names and images, comma-joined.
std::string containerNames(const Json& containers);
std::string containerImages(const Json& containers);

Json podRow(const Json& pod, long long now);
Json serviceRow(const Json& svc, long long now);
Json endpointsRow(const Json& ep, long long now);
Json endpointSliceRow(const Json& slice, long long now);
Json nodeRow(const Json& node, long long now);
Json eventRow(const Json& ev, long long now);
Json deploymentRow(const Json& d, long long now);
Json replicaSetRow(const Json& rs, long long now);
Json simpleRow(const std::string& kind, const Json& obj, long long now);  // the one-liners

}  // namespace k1s::table
