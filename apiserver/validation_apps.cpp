// apps/v1 Deployment and ReplicaSet validation (kube's pkg/apis/apps/validation).
#include "apiserver/validation_internal.h"

namespace k1s::vi {
namespace {

// intstr.IntOrString prints through its String(): 25% or 0, unquoted.
std::string intOrString(const Json* v) {
  if (!v) return "null";
  return v->is_string() ? v->get<std::string>() : v->dump();
}

// The number an int-or-percent stands for when compared with zero or 100.
long long intOrPercentValue(const Json* v, bool* isPercent = nullptr) {
  if (isPercent) *isPercent = false;
  if (!v) return 0;
  if (v->is_number_integer()) return v->get<long long>();
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    if (!s.empty() && s.back() == '%' && percentMsgs(s).empty()) {
      if (isPercent) *isPercent = true;
      return std::stoll(s.substr(0, s.size() - 1));
    }
  }
  return 0;
}

void validatePositiveIntOrPercent(Errs& e, const Json* v, const std::string& path) {
  if (!v) return;
  if (v->is_string())
    e.invalidEach(path, intOrString(v), percentMsgs(v->get<std::string>()));
  else if (v->is_number_integer()) {
    if (v->get<long long>() < 0) e.invalid(path, v->dump(), kNegative);
  } else
    e.invalid(path, intOrString(v), "must be an integer or percentage (e.g '5%')");
}

void validateNonNegative(Errs& e, const Json& spec, const char* f, const std::string& path) {
  const Json* v = field(spec, f);
  if (v && v->is_number() && num(spec, f, 0) < 0) e.invalid(child(path, f), goValue(*v), kNegative);
}

// Shared by Deployment and ReplicaSet: replicas, selector, template vs selector, template rules.
void validateReplicatedSpec(Errs& e, const Json& spec, const std::string& path) {
  validateNonNegative(e, spec, "replicas", path);
  validateNonNegative(e, spec, "minReadySeconds", path);
  const Json* sel = field(spec, "selector");
  if (!sel) {
    e.required(child(path, "selector"));
  } else {
    validateLabelSelector(e, *sel, child(path, "selector"));
    if (obj(*sel, "matchLabels").empty() && arr(*sel, "matchExpressions").empty())
      // kube says "deployment" for ReplicaSets too.
      e.invalid(child(path, "selector"), goLabelSelector(*sel), "empty selector is invalid for deployment");
  }

  std::string tp = child(path, "template");
  const Json* tmpl = field(spec, "template");
  if (!tmpl) {
    e.required(tp);
    return;
  }
  if (sel && !(obj(*sel, "matchLabels").empty() && arr(*sel, "matchExpressions").empty())) {
    const Json& labels = obj(obj(*tmpl, "metadata"), "labels");
    if (!selectorMatches(*sel, labels))
      e.invalid(child(tp, "metadata.labels"), goStringMap(field(obj(*tmpl, "metadata"), "labels") ? labels : Json()),
                "`selector` does not match template `labels`");
  }
  validatePodTemplate(e, *tmpl, tp);
  const Json& pspec = obj(*tmpl, "spec");
  std::string rp = str(pspec, "restartPolicy");
  if (rp != "Always") e.notSupported(child(tp, "spec.restartPolicy"), goQuote(rp), {"Always"});
  if (const Json* ads = field(pspec, "activeDeadlineSeconds"))
    e.invalid(child(tp, "spec.activeDeadlineSeconds"), goValue(*ads), "activeDeadlineSeconds in ReplicaSet is not Supported");
}

void validateStrategy(Errs& e, const Json& strategy, const std::string& path) {
  std::string type = str(strategy, "type");
  const Json* ru = field(strategy, "rollingUpdate");
  if (type == "Recreate") {
    if (ru) e.forbidden(child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'");
  } else if (type == "RollingUpdate") {
    if (!ru) {
      e.required(child(path, "rollingUpdate"), "this should be defaulted and never be nil");
      return;
    }
    std::string rp = child(path, "rollingUpdate");
    const Json* mu = field(*ru, "maxUnavailable");
    const Json* ms = field(*ru, "maxSurge");
    validatePositiveIntOrPercent(e, mu, child(rp, "maxUnavailable"));
    validatePositiveIntOrPercent(e, ms, child(rp, "maxSurge"));
    if (intOrPercentValue(mu) == 0 && intOrPercentValue(ms) == 0)
      e.invalid(child(rp, "maxUnavailable"), intOrString(mu ? mu : nullptr), "may not be 0 when `maxSurge` is 0");
    bool pct = false;
    long long v = intOrPercentValue(mu, &pct);
    if (pct && v > 100) e.invalid(child(rp, "maxUnavailable"), intOrString(mu), "must not be greater than 100%");
  } else {
    e.notSupported(path,
                   "apps.DeploymentStrategy{Type:" + goQuote(type) + ", RollingUpdate:" +
                       (ru ? "&apps.RollingUpdateDeployment{...}" : "(*apps.RollingUpdateDeployment)(nil)") + "}",
                   {"Recreate", "RollingUpdate"});
  }
}

}  // namespace

void validateDeployment(Errs& e, const Json& d) {
  const Json& spec = obj(d, "spec");
  validateReplicatedSpec(e, spec, "spec");
  validateStrategy(e, obj(spec, "strategy"), "spec.strategy");
  validateNonNegative(e, spec, "revisionHistoryLimit", "spec");
  if (const Json* pds = field(spec, "progressDeadlineSeconds")) {
    validateNonNegative(e, spec, "progressDeadlineSeconds", "spec");
    if (num(spec, "progressDeadlineSeconds", 0) <= num(spec, "minReadySeconds", 0))
      e.invalid("spec.progressDeadlineSeconds", goValue(*pds), "must be greater than minReadySeconds");
  }
}

void validateReplicaSet(Errs& e, const Json& rs) { validateReplicatedSpec(e, obj(rs, "spec"), "spec"); }

// kube compares with Semantic.DeepEqual, where empty and absent lists/maps are equal.
static Json withoutEmpty(const Json* v) {
  if (!v) return Json();
  Json out = Json::object();
  for (auto& [k, x] : v->items())
    if (!x.is_null() && !(x.is_array() && x.empty()) && !(x.is_object() && x.empty())) out[k] = x;
  return out;
}

void validateSelectorImmutable(Errs& e, const Json& o, const Json& old) {
  const Json* sel = field(obj(o, "spec"), "selector");
  const Json* oldSel = field(obj(old, "spec"), "selector");
  bool same = withoutEmpty(sel) == withoutEmpty(oldSel);
  if (!same) e.invalid("spec.selector", sel ? goLabelSelector(*sel) : "null", kImmutable);
}

}  // namespace k1s::vi
