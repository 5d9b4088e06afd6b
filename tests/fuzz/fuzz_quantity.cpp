// libFuzzer target: resource quantities ("250m", "64Mi", "1e3", "-0.5Ki"). The API server's
// validation parser (apiserver/validation_common.cpp) reads them from untrusted pod specs; what
// it accepts is later read again by the kubelet (kubelet/pod_spec.cpp: memory limits, cgroup
// shares) and the scheduler (controller/scheduler_fit.cpp: requests in milli-units), so those
// two must read every accepted quantity as a number too.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "apiserver/validation_internal.h"
#include "controller/scheduler_fit.h"
#include "kubelet/pod_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  auto api = k1s::vi::parseQuantity(s);
  auto kubelet = k1s::parseQuantityValue(s);
  long long milli = k1s::parseMilliQuantity(s);
  (void)k1s::memoryBytes(k1s::Json(s));  // the conversions to integers the kubelet applies
  (void)k1s::cpuMillis(k1s::Json(s));
  if (api && !kubelet) {
    fprintf(stderr, "quantity '%s' passes validation but the kubelet cannot read it\n", s.c_str());
    abort();
  }
  if (api && std::isfinite(*api) && *api >= 0 && milli < 0) {
    fprintf(stderr, "quantity '%s' passes validation but the scheduler cannot read it\n", s.c_str());
    abort();
  }
  return 0;
}
