// `k1s describe`: kubectl's human-readable layouts, one describer per kind.
// Describers are pure functions of the object, a fetch callback (for events
// and related objects) and the clock, so they can be tested on canned data.
#pragma once
#include <functional>
#include <string>

#include "common/json.h"

namespace k1s::cli {

// GETs an API path and returns its JSON; returns null when it is absent.
using Fetch = std::function<Json(const std::string& path)>;

// Go's text/tabwriter (minwidth 0, padding `padding`, cells tab-terminated):
// columns aligned over blocks of consecutive lines that have that column.
std::string goTabwrite(const std::string& text, int padding);

// kubectl's duration.HumanDuration: "5s", "3m2s", "10m", "2d3h", ...
std::string humanDuration(long long seconds);
// "Tue, 25 Nov 2025 19:10:12 +0000" (RFC 1123 with numeric zone, local time).
std::string describeTime(const std::string& rfc3339);

// Lines (tabs included) for the shared pieces.
std::string labelsMultiline(const std::string& title, const Json& labels);
std::string annotationsMultiline(const std::string& title, const Json& annotations);
std::string eventsSection(const Json& eventList, long long now);
// Events for an object, fetched by involvedObject.uid.
std::string eventsFor(const Json& obj, const Fetch& fetch, long long now);
// Containers of a pod or pod template; `statuses` empty and `pod` null for
// templates (the pod resolves fieldRef environment values).
std::string containersSection(const std::string& title, const Json& containers, const Json& statuses,
                              bool inTemplate, const Json& pod);
// The value of a downward-API field path on a pod ("metadata.name", "metadata.labels['app']").
std::string podFieldValue(const Json& pod, const std::string& fieldPath);
std::string podTemplateSection(const Json& tmpl, long long now);

// The describers; `kind` as in the object ("Pod", "Deployment", ...).
// Returns the untabbed text (run through goTabwrite before printing).
std::string describePod(const Json& pod, const Fetch& fetch, long long now);
std::string describeDeployment(const Json& d, const Fetch& fetch, long long now);
std::string describeReplicaSet(const Json& rs, const Fetch& fetch, long long now);
std::string describeService(const Json& svc, const Fetch& fetch, long long now);
std::string describeNamespace(const Json& ns, const Fetch& fetch, long long now);
std::string describeNode(const Json& node, const Fetch& fetch, long long now);
std::string describeConfigMap(const Json& cm, const Fetch& fetch, long long now);
std::string describeEndpoints(const Json& ep, const Fetch& fetch, long long now);
std::string describeSecret(const Json& secret, const Fetch& fetch, long long now);
std::string describeServiceAccount(const Json& sa, const Fetch& fetch, long long now);
std::string describeGeneric(const Json& obj, const Fetch& fetch, long long now);

// Picks the describer by kind and returns the final (tab-aligned) text.
std::string describeObject(const Json& obj, const Fetch& fetch, long long now);

}  // namespace k1s::cli
