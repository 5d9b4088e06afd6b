// Compiling an OCI/Docker seccomp profile into a filter with libseccomp, the way runc's
// libcontainer/seccomp does (same actions, operators, errno defaults, unknown names skipped).
//
// libseccomp rather than hand-made BPF: it resolves syscall names per architecture (x86_64, i386
// and x32 each number them differently, and a profile names calls of all three), checks the
// architecture of every call so a 32-bit entry cannot bypass the 64-bit rules, and builds the
// argument comparisons on 64-bit values. The shim is static, so it links Debian's libseccomp.a.
#include <seccomp.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>
#include <vector>

#include "kubelet/caps.h"
#include "kubelet/seccomp.h"

namespace k1s {
namespace {

std::runtime_error bad(const std::string& what) { return std::runtime_error("seccomp: " + what); }

uint32_t action(const std::string& name, const Json& errnoRet, uint32_t defaultErrno) {
  uint32_t e = errnoRet.is_number_integer() ? errnoRet.get<uint32_t>() : defaultErrno;
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(e);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(e);
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") throw bad("SCMP_ACT_NOTIFY is not supported (no seccomp agent)");
  throw bad("invalid action \"" + name + "\"");
}

scmp_compare op(const std::string& name) {
  static const std::pair<const char*, scmp_compare> ops[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (auto& [n, o] : ops)
    if (name == n) return o;
  throw bad("invalid operator \"" + name + "\"");
}

// "SCMP_ARCH_X86_64" -> libseccomp's token.
uint32_t arch(const std::string& name) {
  std::string n = name.rfind("SCMP_ARCH_", 0) == 0 ? name.substr(10) : name;
  std::transform(n.begin(), n.end(), n.begin(), ::tolower);
  uint32_t a = seccomp_arch_resolve_name(n.c_str());
  if (a == 0) throw bad("invalid architecture \"" + name + "\"");
  return a;
}

// Go's GOARCH for this build: what Docker profiles' includes/excludes "arches" compare with.
const char* goArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#else
  return "";
#endif
}

bool kernelAtLeast(const std::string& want) {
  utsname u{};
  uname(&u);
  int have[2] = {0, 0}, need[2] = {0, 0};
  sscanf(u.release, "%d.%d", &have[0], &have[1]);
  sscanf(want.c_str(), "%d.%d", &need[0], &need[1]);
  return have[0] != need[0] ? have[0] > need[0] : have[1] >= need[1];
}

bool hasCap(uint64_t caps, const Json& name) {
  int c = name.is_string() ? capabilityFromName(name.get<std::string>()) : -1;
  return c >= 0 && c < 64 && (caps >> c) & 1;
}

bool listed(const Json& list, const std::string& v) {
  return list.is_array() && std::any_of(list.begin(), list.end(), [&](const Json& x) { return x == v; });
}

// Docker's conditions: every "includes" entry must hold, no "excludes" entry may.
bool applies(const Json& rule, uint64_t caps) {
  if (auto in = rule.find("includes"); in != rule.end() && in->is_object()) {
    for (auto& c : in->value("caps", Json::array()))
      if (!hasCap(caps, c)) return false;
    if (in->contains("arches") && !listed((*in)["arches"], goArch())) return false;
    if (auto k = in->value("minKernel", ""); !k.empty() && !kernelAtLeast(k)) return false;
  }
  if (auto ex = rule.find("excludes"); ex != rule.end() && ex->is_object()) {
    for (auto& c : ex->value("caps", Json::array()))
      if (hasCap(caps, c)) return false;
    if (ex->contains("arches") && listed((*ex)["arches"], goArch())) return false;
  }
  return true;
}

std::vector<scmp_arg_cmp> conditions(const Json& args) {
  std::vector<scmp_arg_cmp> r;
  if (!args.is_array()) return r;
  for (auto& a : args) {
    unsigned idx = a.value("index", 0u);
    if (idx > 5) throw bad("argument index " + std::to_string(idx) + " out of range");
    // OCI: value is datum_a (the mask for MASKED_EQ), valueTwo is datum_b.
    r.push_back({idx, op(a.value("op", "")), a.value("value", uint64_t(0)), a.value("valueTwo", uint64_t(0))});
  }
  return r;
}

void addArches(scmp_filter_ctx ctx, const Json& profile) {
  std::vector<std::string> names;
  for (auto& a : profile.value("architectures", Json::array())) names.push_back(a.get<std::string>());
  // Docker's archMap: the entry of the native architecture and its sub-architectures.
  uint32_t native = seccomp_arch_native();
  for (auto& m : profile.value("archMap", Json::array())) {
    if (arch(m.value("architecture", "")) != native) continue;
    names.push_back(m.value("architecture", ""));
    for (auto& s : m.value("subArchitectures", Json::array())) names.push_back(s.get<std::string>());
  }
  for (auto& n : names) {
    int rc = seccomp_arch_add(ctx, arch(n));
    if (rc < 0 && rc != -EEXIST) throw bad("add architecture " + n + ": " + strerror(-rc));
  }
}

}  // namespace

SeccompFilter::SeccompFilter(const Json& profile, uint64_t caps) {
  if (!profile.is_object()) throw bad("the profile is not a JSON object");
  uint32_t defErrno = profile.value("defaultErrnoRet", uint32_t(EPERM));
  uint32_t def = action(profile.value("defaultAction", ""), profile.value("defaultErrnoRet", Json()), EPERM);
  ctx_ = seccomp_init(def);
  if (!ctx_) throw bad("cannot initialise a filter");
  try {
    addRules(profile, caps, def, defErrno);
  } catch (...) {  // a constructor that throws gets no destructor call: the filter would leak
    seccomp_release(ctx_);
    ctx_ = nullptr;
    throw;
  }
}

void SeccompFilter::addRules(const Json& profile, uint64_t caps, uint32_t def, uint32_t defErrno) {
  // kube's allowPrivilegeEscalation, not libseccomp, decides no_new_privs.
  seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_NNP, 0);
  for (auto& f : profile.value("flags", Json::array())) {
    if (f == "SECCOMP_FILTER_FLAG_LOG") seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_LOG, 1);
    else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_SSB, 1);
    else if (f != "SECCOMP_FILTER_FLAG_TSYNC") throw bad("unsupported flag " + f.dump());
  }
  addArches(ctx_, profile);
  for (auto& rule : profile.value("syscalls", Json::array())) {
    if (!rule.is_object() || !applies(rule, caps)) continue;
    uint32_t act = action(rule.value("action", ""), rule.value("errnoRet", Json()), defErrno);
    if (act == def) continue;  // libseccomp refuses a rule that repeats the default action
    std::vector<std::string> calls;
    if (auto n = rule.find("names"); n != rule.end() && n->is_array())
      for (auto& x : *n) calls.push_back(x.get<std::string>());
    if (auto n = rule.value("name", ""); !n.empty()) calls.push_back(n);
    std::vector<scmp_arg_cmp> conds = conditions(rule.value("args", Json::array()));
    // libseccomp cannot AND two tests of one argument: like runc, add each test as its own rule.
    std::set<unsigned> indexes;
    for (auto& c : conds) indexes.insert(c.arg);
    bool split = indexes.size() < conds.size();
    for (auto& name : calls) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: runc skips it too
      auto add = [&](unsigned n, const scmp_arg_cmp* c) {
        int rc = seccomp_rule_add_array(ctx_, act, nr, n, c);
        // A negative number names a call of other architectures only: one missing from every
        // architecture of this filter is skipped, as an unknown name is.
        if (rc < 0 && nr >= 0)
          throw bad("add rule for " + name + ": " + strerror(-rc));
      };
      if (!split) add(unsigned(conds.size()), conds.data());
      else
        for (auto& c : conds) add(1, &c);
    }
  }
}

SeccompFilter::~SeccompFilter() {
  if (ctx_) seccomp_release(ctx_);
}

void SeccompFilter::load() {
  int rc = seccomp_load(ctx_);
  if (rc < 0) throw bad(std::string("load the filter: ") + strerror(-rc));
}

std::unique_ptr<SeccompFilter> containerSeccompFilter(const std::string& type, const std::string& localhostProfile,
                                                      uint64_t caps) {
  if (type == "Unconfined") return nullptr;
  if (type == "Localhost") {
    Json p = Json::parse(localhostProfile, nullptr, false);
    if (p.is_discarded()) throw bad("the Localhost profile is not valid JSON");
    return std::make_unique<SeccompFilter>(p, caps);
  }
  return std::make_unique<SeccompFilter>(runtimeDefaultSeccompProfile(), caps);
}

}  // namespace k1s
