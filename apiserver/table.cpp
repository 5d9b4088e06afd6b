// meta.k8s.io/v1 Table responses: the column layouts kube-apiserver's printers
// use for the served kinds, the Table envelope and the shared formatting
// helpers (ages, label selectors). Row contents live in table_rows.cpp.
#include "apiserver/table.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

#include "apiserver/table_rows.h"

namespace k1s {
namespace table {

const Json& at(const Json& o, std::initializer_list<const char*> path) {
  static const Json null;
  const Json* cur = &o;
  for (const char* key : path) {
    if (!cur->is_object()) return null;
    auto it = cur->find(key);
    if (it == cur->end()) return null;
    cur = &*it;
  }
  return *cur;
}

std::string str(const Json& o, std::initializer_list<const char*> path) {
  const Json& v = at(o, path);
  return v.is_string() ? v.get<std::string>() : std::string();
}

long long num(const Json& o, std::initializer_list<const char*> path, long long dflt) {
  const Json& v = at(o, path);
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_number()) return static_cast<long long>(v.get<double>());
  return dflt;
}

long long count(const Json& o, std::initializer_list<const char*> path) {
  const Json& v = at(o, path);
  return v.is_array() || v.is_object() ? static_cast<long long>(v.size()) : 0;
}

// Kept here rather than using common/meta's parseRfc3339 so the printer has no
// ordering dependency on it; accepts what kube writes (Time and MicroTime).
long long parseTime(const std::string& s) {
  int y, mo, d, h, mi, sec, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
    return kNoTime;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return kNoTime;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  long long offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om, m = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5) return kNoTime;
    offset = (oh * 3600LL + om * 60LL) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return kNoTime;
  }
  if (i != s.size()) return kNoTime;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<long long>(timegm(&tm)) - offset;
}

std::string since(long long t, long long now) {
  if (t == kNoTime) return "<unknown>";
  return humanDuration(now - t);
}

std::string ageOf(const Json& obj, long long now) {
  return since(parseTime(str(obj, {"metadata", "creationTimestamp"})), now);
}

std::string formatLabels(const Json& labels) {
  std::string out;
  if (labels.is_object()) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {  // nlohmann objects iterate sorted
      if (!out.empty()) out += ",";
      out += it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
    }
  }
  return out.empty() ? "<none>" : out;
}

std::string selectorString(const Json& selector) {
  // Requirements sorted by key, as labels.internalSelector prints them.
  std::multimap<std::string, std::string> reqs;
  const Json& ml = at(selector, {"matchLabels"});
  if (ml.is_object())
    for (auto it = ml.begin(); it != ml.end(); ++it)
      reqs.emplace(it.key(), it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  const Json& me = at(selector, {"matchExpressions"});
  if (me.is_array()) {
    for (const Json& e : me) {
      std::string key = str(e, {"key"}), op = str(e, {"operator"});
      std::vector<std::string> values;
      if (at(e, {"values"}).is_array())
        for (const Json& v : e["values"])
          if (v.is_string()) values.push_back(v.get<std::string>());
      std::sort(values.begin(), values.end());
      std::string joined;
      for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
      if (op == "In") reqs.emplace(key, key + " in (" + joined + ")");
      else if (op == "NotIn") reqs.emplace(key, key + " notin (" + joined + ")");
      else if (op == "Exists") reqs.emplace(key, key);
      else if (op == "DoesNotExist") reqs.emplace(key, "!" + key);
    }
  }
  std::string out;
  for (const auto& [k, r] : reqs) out += (out.empty() ? "" : ",") + r;
  return out;
}

static std::string joinField(const Json& containers, const char* field) {
  std::string out;
  if (!containers.is_array()) return out;
  for (size_t i = 0; i < containers.size(); ++i) {
    if (i) out += ",";
    out += str(containers[i], {field});
  }
  return out;
}
std::string containerNames(const Json& containers) { return joinField(containers, "name"); }
std::string containerImages(const Json& containers) { return joinField(containers, "image"); }

}  // namespace table

namespace {

struct Column {
  const char* name;
  const char* type;
  const char* format;
  const char* description;
  int priority;
};

// Descriptions: the ones kube writes in its printers verbatim, the ones it
// takes from API field docs as the first sentence of those docs.
constexpr const char* kName =
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended for "
    "creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr const char* kAge =
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It "
    "is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More "
    "info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
constexpr const char* kContainers = "Names of each container in the template.";
constexpr const char* kImages = "Images referenced by each container in the template.";

const Column kNameCol{"Name", "string", "name", kName, 0};
const Column kAgeCol{"Age", "string", "", kAge, 0};

const std::map<std::string, std::vector<Column>>& layouts() {
  static const std::map<std::string, std::vector<Column>> m = {
      {"Pod",
       {kNameCol,
        {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
        {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
        {"Restarts", "string", "",
         "The number of times the containers in this pod have been restarted and when the last container in this "
         "pod has restarted.",
         0},
        kAgeCol,
        {"IP", "string", "",
         "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1},
        {"Node", "string", "", "NodeName indicates in which node this pod is scheduled.", 1},
        {"Nominated Node", "string", "",
         "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled "
         "right away as preemption victims receive their graceful termination periods.",
         1},
        {"Readiness Gates", "string", "",
         "If specified, all readiness gates will be evaluated for pod readiness.", 1}}},
      {"Service",
       {kNameCol,
        {"Type", "string", "", "type determines how the Service is exposed.", 0},
        {"Cluster-IP", "string", "",
         "clusterIP is the IP address of the service and is usually assigned randomly.", 0},
        {"External-IP", "string", "",
         "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this "
         "service.",
         0},
        {"Port(s)", "string", "", "The list of ports that are exposed by this service.", 0},
        kAgeCol,
        {"Selector", "string", "",
         "Route service traffic to pods with label keys and values matching this selector.", 1}}},
      {"Endpoints",
       {kNameCol,
        {"Endpoints", "string", "",
         "The set of all endpoints is the union of all subsets.", 0},
        kAgeCol}},
      {"EndpointSlice",
       {kNameCol,
        {"AddressType", "string", "",
         "addressType specifies the type of address carried by this EndpointSlice.", 0},
        {"Ports", "string", "", "ports specifies the list of network ports exposed by each endpoint in this slice.",
         0},
        {"Endpoints", "string", "", "endpoints is a list of unique endpoints in this slice.", 0},
        kAgeCol}},
      {"Node",
       {kNameCol,
        {"Status", "string", "", "The status of the node", 0},
        {"Roles", "string", "", "The roles of the node", 0},
        kAgeCol,
        {"Version", "string", "", "Kubelet Version reported by the node.", 0},
        {"Internal-IP", "string", "", "List of addresses reachable to the node.", 1},
        {"External-IP", "string", "", "List of addresses reachable to the node.", 1},
        {"OS-Image", "string", "",
         "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1},
        {"Kernel-Version", "string", "",
         "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1},
        {"Container-Runtime", "string", "",
         "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1}}},
      {"Event",
       {{"Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0},
        {"Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0},
        {"Reason", "string", "",
         "This should be a short, machine understandable string that gives the reason for the transition into the "
         "object's current status.",
         0},
        {"Object", "string", "", "The object that this event is about.", 0},
        {"Subobject", "string", "",
         "If referring to a piece of an object instead of an entire object, this string should contain a valid "
         "JSON/Go field access statement, such as desiredState.manifest.containers[2].",
         1},
        {"Source", "string", "",
         "The component reporting this event. Should be a short machine understandable string.", 1},
        {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
        {"First Seen", "string", "",
         "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1},
        {"Count", "string", "", "The number of times this event has occurred.", 1},
        {"Name", "string", "name", kName, 1}}},
      {"Namespace", {kNameCol, {"Status", "string", "", "The status of the namespace", 0}, kAgeCol}},
      {"Secret",
       {kNameCol,
        {"Type", "string", "", "Used to facilitate programmatic handling of secret data.", 0},
        {"Data", "string", "",
         "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'.", 0},
        kAgeCol}},
      {"ConfigMap",
       {kNameCol,
        {"Data", "string", "",
         "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
         0},
        kAgeCol}},
      {"ServiceAccount",
       {kNameCol,
        {"Secrets", "string", "",
         "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are "
         "allowed to use.",
         0},
        kAgeCol}},
      {"Deployment",
       {kNameCol,
        {"Ready", "string", "", "Number of the pod with ready state", 0},
        {"Up-to-date", "string", "",
         "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0},
        {"Available", "string", "",
         "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0},
        kAgeCol,
        {"Containers", "string", "", kContainers, 1},
        {"Images", "string", "", kImages, 1},
        {"Selector", "string", "", "Label selector for pods.", 1}}},
      {"ReplicaSet",
       {kNameCol,
        {"Desired", "integer", "",
         "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and "
         "unspecified. Defaults to 1.",
         0},
        {"Current", "integer", "", "Replicas is the most recently observed number of replicas.", 0},
        {"Ready", "integer", "", "The number of ready replicas for this replica set.", 0},
        kAgeCol,
        {"Containers", "string", "", kContainers, 1},
        {"Images", "string", "", kImages, 1},
        {"Selector", "string", "",
         "Selector is a label query over pods that should match the replica count.", 1}}},
      {"Lease",
       {kNameCol,
        {"Holder", "string", "", "holderIdentity contains the identity of the holder of a current lease.", 0},
        kAgeCol}},
  };
  return m;
}

// kube's fallback for kinds without a printer: name and creation time.
const std::vector<Column>& defaultLayout() {
  static const std::vector<Column> cols = {kNameCol, {"Created At", "date", "", kAge, 0}};
  return cols;
}

const std::vector<Column>& layoutFor(const ResourceInfo& r) {
  auto it = layouts().find(r.kind);
  return it == layouts().end() ? defaultLayout() : it->second;
}

Json rowFor(const ResourceInfo& r, const Json& obj, long long now) {
  using namespace table;
  const std::string& k = r.kind;
  if (k == "Pod") return podRow(obj, now);
  if (k == "Service") return serviceRow(obj, now);
  if (k == "Endpoints") return endpointsRow(obj, now);
  if (k == "EndpointSlice") return endpointSliceRow(obj, now);
  if (k == "Node") return nodeRow(obj, now);
  if (k == "Event") return eventRow(obj, now);
  if (k == "Deployment") return deploymentRow(obj, now);
  if (k == "ReplicaSet") return replicaSetRow(obj, now);
  if (layouts().count(k)) return simpleRow(k, obj, now);
  Json created = at(obj, {"metadata", "creationTimestamp"});
  return Json{{"cells", Json::array({str(obj, {"metadata", "name"}), created.is_string() ? created : Json()})}};
}

}  // namespace

std::string humanDuration(long long seconds) {
  // Same thresholds as apimachinery's duration.HumanDuration; up to one second
  // in the future still reads "0s" to tolerate clock skew.
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  auto fmt = [](long long a, const char* ua, long long b = 0, const char* ub = "") {
    std::string s = std::to_string(a) + ua;
    if (b != 0) s += std::to_string(b) + ub;
    return s;
  };
  if (seconds < 60 * 2) return fmt(seconds, "s");
  long long minutes = seconds / 60;
  if (minutes < 10) return fmt(minutes, "m", seconds % 60, "s");
  if (minutes < 60 * 3) return fmt(minutes, "m");
  long long hours = minutes / 60;
  if (hours < 8) return fmt(hours, "h", minutes % 60, "m");
  if (hours < 48) return fmt(hours, "h");
  if (hours < 24 * 8) return fmt(hours / 24, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return fmt(hours / 24, "d");
  if (hours < 24 * 365 * 8) return fmt(hours / 24 / 365, "y", (hours / 24) % 365, "d");
  return fmt(hours / 24 / 365, "y");
}

Json tableColumns(const ResourceInfo& r) {
  Json cols = Json::array();
  for (const Column& c : layoutFor(r))
    cols.push_back({{"name", c.name},
                    {"type", c.type},
                    {"format", c.format},
                    {"description", c.description},
                    {"priority", c.priority}});
  return cols;
}

Json toTable(const ResourceInfo& r, const std::vector<Json>& objects, const std::string& includeObject,
             long long now) {
  Json rows = Json::array();
  for (const Json& obj : objects) {
    Json row = rowFor(r, obj, now);
    if (includeObject == "None") {
      row["object"] = nullptr;  // kube's empty RawExtension marshals as null
    } else if (includeObject == "Object") {
      row["object"] = obj;
    } else {
      Json meta = table::at(obj, {"metadata"});
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", meta.is_object() ? meta : Json::object()}};
    }
    rows.push_back(std::move(row));
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", Json::object()},
          {"columnDefinitions", tableColumns(r)},
          {"rows", std::move(rows)}};
}

}  // namespace k1s
