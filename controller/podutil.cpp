#include "controller/podutil.h"

#include <cmath>

#include "common/errors.h"
#include "common/meta.h"

namespace k1s {

namespace {

const Json& field(const Json& o, const char* k) {
  static const Json null;
  if (!o.is_object()) return null;
  auto it = o.find(k);
  return it == o.end() ? null : *it;
}

const Json* readyCondition(const Json& pod) {
  const Json& conds = field(field(pod, "status"), "conditions");
  if (!conds.is_array()) return nullptr;
  for (auto& c : conds)
    if (c.is_object() && c.value("type", "") == "Ready") return &c;
  return nullptr;
}

// Drops nulls and empty lists/maps everywhere: kube's semantic equality treats
// them like absent fields.
Json semanticForm(const Json& v) {
  if (v.is_object()) {
    Json out = Json::object();
    for (auto& [k, x] : v.items()) {
      Json s = semanticForm(x);
      if (s.is_null() || ((s.is_object() || s.is_array()) && s.empty())) continue;
      out[k] = std::move(s);
    }
    return out;
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (auto& x : v) out.push_back(semanticForm(x));
    return out;
  }
  return v;
}

int phaseRank(const Json& pod) {
  std::string phase = field(pod, "status").is_object() ? pod["status"].value("phase", "") : "";
  if (phase == "Pending") return 0;
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 3;
}

int64_t deletionCost(const Json& pod) {
  const Json& ann = field(metaOf(pod), "annotations");
  if (!ann.is_object()) return 0;
  auto it = ann.find("controller.kubernetes.io/pod-deletion-cost");
  if (it == ann.end() || !it->is_string()) return 0;
  try {
    return std::stoll(it->get<std::string>());
  } catch (...) {
    return 0;
  }
}

}  // namespace

bool isPodReady(const Json& pod) {
  auto* c = readyCondition(pod);
  return c && c->value("status", "") == "True";
}

long long podReadySince(const Json& pod) {
  auto* c = readyCondition(pod);
  if (!c || c->value("status", "") != "True") return -1;
  const Json& t = field(*c, "lastTransitionTime");
  return t.is_string() ? parseRfc3339(t.get<std::string>()) : -1;
}

bool isPodAvailable(const Json& pod, int64_t minReadySeconds, long long now) {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  long long since = podReadySince(pod);
  // kube: lastTransitionTime + minReadySeconds is before now (times have second precision).
  return since >= 0 && since + minReadySeconds <= now;
}

bool isDeleting(const Json& obj) {
  const Json& ts = field(metaOf(obj), "deletionTimestamp");
  return !ts.is_null();
}

bool isPodActive(const Json& pod) {
  std::string phase = field(pod, "status").is_object() ? pod["status"].value("phase", "") : "";
  return phase != "Succeeded" && phase != "Failed" && !isDeleting(pod);
}

int podRestartCount(const Json& pod) {
  int n = 0;
  const Json& st = field(field(pod, "status"), "containerStatuses");
  if (st.is_array())
    for (auto& c : st)
      if (c.is_object()) n += c.value("restartCount", 0);
  return n;
}

std::string computePodTemplateHash(const Json& podTemplate, std::optional<int64_t> collisionCount) {
  // nlohmann's object keys are ordered, so dump() is canonical and the hash stable.
  std::string text = semanticForm(podTemplate).dump();
  uint32_t h = 2166136261u;
  auto feed = [&](unsigned char b) {
    h ^= b;
    h *= 16777619u;
  };
  for (unsigned char b : text) feed(b);
  if (collisionCount) {
    uint32_t cc = uint32_t(*collisionCount);
    for (int i = 0; i < 4; ++i) feed((cc >> (8 * i)) & 0xff);  // little endian, as kube writes it
  }
  // rand.SafeEncodeString over the decimal rendering: no vowels, no 0/1/3 lookalikes.
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string dec = std::to_string(h), out;
  for (unsigned char c : dec) out += alphabet[c % (sizeof(alphabet) - 1)];
  return out;
}

bool templatesEqualIgnoringHash(const Json& a, const Json& b) {
  auto strip = [](Json t) {
    if (t.is_object() && t.contains("metadata") && t["metadata"].is_object() &&
        t["metadata"].contains("labels") && t["metadata"]["labels"].is_object())
      t["metadata"]["labels"].erase(kPodTemplateHashLabel);
    return semanticForm(t);
  };
  return strip(a) == strip(b);
}

Json makeControllerRef(const Json& owner) {
  return {{"apiVersion", owner.value("apiVersion", "")},
          {"kind", owner.value("kind", "")},
          {"name", nameOf(owner)},
          {"uid", metaOf(owner).value("uid", "")},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

std::string controllerUid(const Json& obj) {
  Json ref = controllerRef(obj);
  return ref.is_object() ? ref.value("uid", "") : "";
}

Json adoptObject(Client& c, const ResourceInfo& r, const Json& obj, const Json& owner) {
  Json refs = Json::array();
  const Json& cur = field(metaOf(obj), "ownerReferences");
  std::string ownerUid = metaOf(owner).value("uid", "");
  if (cur.is_array())
    for (auto& ref : cur)
      if (ref.value("uid", "") != ownerUid) refs.push_back(ref);
  refs.push_back(makeControllerRef(owner));
  Json patch = {{"metadata",
                 {{"ownerReferences", refs}, {"resourceVersion", metaOf(obj).value("resourceVersion", "")}}}};
  return c.patch(r, namespaceOf(obj), nameOf(obj), PatchType::Merge, patch);
}

void releaseObject(Client& c, const ResourceInfo& r, const Json& obj, const std::string& ownerUid) {
  Json refs = Json::array();
  const Json& cur = field(metaOf(obj), "ownerReferences");
  if (cur.is_array())
    for (auto& ref : cur)
      if (ref.value("uid", "") != ownerUid) refs.push_back(ref);
  Json patch = {{"metadata",
                 {{"ownerReferences", refs.empty() ? Json(nullptr) : refs},
                  {"resourceVersion", metaOf(obj).value("resourceVersion", "")}}}};
  try {
    c.patch(r, namespaceOf(obj), nameOf(obj), PatchType::Merge, patch);
  } catch (const ApiError& e) {
    if (e.code != 404) throw;  // gone already: nothing left to release
  }
}

bool podDeletesBefore(const Json& a, int rankA, const Json& b, int rankB) {
  bool aAssigned = !field(field(a, "spec"), "nodeName").is_null() && a["spec"].value("nodeName", "") != "";
  bool bAssigned = !field(field(b, "spec"), "nodeName").is_null() && b["spec"].value("nodeName", "") != "";
  if (aAssigned != bAssigned) return !aAssigned;
  int pa = phaseRank(a), pb = phaseRank(b);
  if (pa != pb) return pa < pb;
  bool ra = isPodReady(a), rb = isPodReady(b);
  if (ra != rb) return !ra;
  int64_t ca = deletionCost(a), cb = deletionCost(b);
  if (ca != cb) return ca < cb;
  if (rankA != rankB) return rankA > rankB;
  if (ra && rb) {
    long long ta = podReadySince(a), tb = podReadySince(b);
    if (ta != tb) return ta > tb;  // ready more recently goes first
  }
  int restartsA = podRestartCount(a), restartsB = podRestartCount(b);
  if (restartsA != restartsB) return restartsA > restartsB;
  long long creA = creationTime(a), creB = creationTime(b);
  if (creA != creB) return creA > creB;
  return nameOf(a) > nameOf(b);
}

int64_t scaledIntOrPercent(const Json& v, int64_t total, bool roundUp) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      try {
        double pct = std::stod(s.substr(0, s.size() - 1));
        double x = pct * double(total) / 100.0;
        return int64_t(roundUp ? std::ceil(x) : std::floor(x));
      } catch (...) {
      }
    } else {
      try {
        return std::stoll(s);
      } catch (...) {
      }
    }
  }
  return 0;
}

int64_t specReplicas(const Json& obj) {
  const Json& r = field(field(obj, "spec"), "replicas");
  return r.is_number_integer() ? r.get<int64_t>() : 1;
}

int64_t statusInt(const Json& obj, const char* f) {
  const Json& v = field(field(obj, "status"), f);
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

long long creationTime(const Json& obj) {
  const Json& t = field(metaOf(obj), "creationTimestamp");
  return t.is_string() ? parseRfc3339(t.get<std::string>()) : 0;
}

}  // namespace k1s
