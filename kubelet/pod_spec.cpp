#include "kubelet/pod_spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

#include "common/meta.h"

namespace k1s {

namespace {

const Json& fieldOr(const Json& o, const char* k) {
  static const Json null;
  if (!o.is_object()) return null;
  auto it = o.find(k);
  return it == o.end() ? null : *it;
}

std::string str(const Json& o, const char* k) {
  const Json& v = fieldOr(o, k);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string upperUnderscore(std::string s) {
  for (auto& c : s) c = c == '-' ? '_' : (char)std::toupper((unsigned char)c);
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

std::string decodeBase64(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    auto pos = chars.find(c);
    if (pos == std::string::npos) continue;  // '=' padding and whitespace
    val = (val << 6) + (int)pos;
    bits += 6;
    if (bits >= 0) {
      out.push_back(char((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace

std::string expandVars(const std::string& in, const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  std::string out;
  size_t checkpoint = 0;
  for (size_t cur = 0; cur < in.size(); ++cur) {
    if (in[cur] != '$' || cur + 1 >= in.size()) continue;
    out.append(in, checkpoint, cur - checkpoint);
    char n = in[cur + 1];
    size_t advance = 1;
    if (n == '$') {
      out.push_back('$');
    } else if (n == '(') {
      size_t close = in.find(')', cur + 2);
      if (close == std::string::npos) {
        out += "$(";
      } else {
        std::string name = in.substr(cur + 2, close - cur - 2);
        auto v = lookup(name);
        out += v ? *v : "$(" + name + ")";
        advance = close - cur;
      }
    } else {
      out.push_back('$');
      out.push_back(n);
    }
    cur += advance;
    checkpoint = cur + 1;
  }
  if (checkpoint < in.size()) out.append(in, checkpoint, std::string::npos);
  return out;
}

std::string expandVars(const std::string& in, const EnvList& env) {
  return expandVars(in, [&](const std::string& name) -> std::optional<std::string> {
    // The last definition wins, as with a map filled in order.
    for (auto it = env.rbegin(); it != env.rend(); ++it)
      if (it->first == name) return it->second;
    return std::nullopt;
  });
}

std::vector<std::string> containerArgv(const ImageConfig& img, const Json& container, const EnvList& env) {
  auto strings = [](const Json& a) {
    std::vector<std::string> v;
    if (a.is_array())
      for (auto& s : a)
        if (s.is_string()) v.push_back(s);
    return v;
  };
  std::vector<std::string> command = strings(fieldOr(container, "command"));
  std::vector<std::string> args = strings(fieldOr(container, "args"));
  for (auto& s : command) s = expandVars(s, env);
  for (auto& s : args) s = expandVars(s, env);
  std::vector<std::string> argv;
  if (!command.empty()) {
    argv = command;
    argv.insert(argv.end(), args.begin(), args.end());
  } else {
    argv = img.entrypoint;
    const auto& tail = !args.empty() ? args : img.cmd;
    argv.insert(argv.end(), tail.begin(), tail.end());
  }
  return argv;
}

EnvList serviceEnvVars(const std::vector<Json>& services) {
  EnvList out;
  for (auto& svc : services) {
    const Json& spec = fieldOr(svc, "spec");
    std::string ip = str(spec, "clusterIP");
    if (ip.empty() || ip == "None") continue;
    const Json& ports = fieldOr(spec, "ports");
    if (!ports.is_array() || ports.empty()) continue;
    std::string name = upperUnderscore(nameOf(svc));
    out.emplace_back(name + "_SERVICE_HOST", ip);
    out.emplace_back(name + "_SERVICE_PORT", std::to_string(ports[0].value("port", 0)));
    for (auto& p : ports) {
      std::string pn = str(p, "name");
      if (!pn.empty()) out.emplace_back(name + "_SERVICE_PORT_" + upperUnderscore(pn), std::to_string(p.value("port", 0)));
    }
    auto proto = [](const Json& p) {
      std::string pr = str(p, "protocol");
      return pr.empty() ? std::string("TCP") : pr;
    };
    out.emplace_back(name + "_PORT",
                     lower(proto(ports[0])) + "://" + ip + ":" + std::to_string(ports[0].value("port", 0)));
    for (auto& p : ports) {
      std::string port = std::to_string(p.value("port", 0));
      std::string prefix = name + "_PORT_" + port + "_" + upperUnderscore(proto(p));
      out.emplace_back(prefix, lower(proto(p)) + "://" + ip + ":" + port);
      out.emplace_back(prefix + "_PROTO", lower(proto(p)));
      out.emplace_back(prefix + "_PORT", port);
      out.emplace_back(prefix + "_ADDR", ip);
    }
  }
  return out;
}

std::vector<Json> servicesForPod(const std::vector<Json>& all, const std::string& ns, bool enableServiceLinks) {
  std::map<std::string, Json> byName;
  // The master service of `default` first, so a same-named service in the
  // pod's namespace does not hide it (kube's getServiceEnvVarMap).
  for (auto& s : all)
    if (namespaceOf(s) == "default" && nameOf(s) == "kubernetes") byName["kubernetes"] = s;
  if (enableServiceLinks)
    for (auto& s : all)
      if (namespaceOf(s) == ns && !byName.count(nameOf(s))) byName[nameOf(s)] = s;
  std::vector<Json> out;
  for (auto& [_, s] : byName) out.push_back(s);
  return out;
}

std::optional<std::string> podFieldValue(const Json& pod, const std::string& path, const EnvContext& ctx) {
  const Json& m = metaOf(pod);
  const Json& spec = fieldOr(pod, "spec");
  auto mapKey = [&](const char* prefix, const char* field) -> std::optional<std::string> {
    std::string p = prefix;
    if (path.rfind(p + "['", 0) != 0 || path.size() < p.size() + 4 || path.substr(path.size() - 2) != "']")
      return std::nullopt;
    std::string key = path.substr(p.size() + 2, path.size() - p.size() - 4);
    const Json& map = fieldOr(m, field);
    return map.is_object() && map.contains(key) && map[key].is_string() ? map[key].get<std::string>() : "";
  };
  auto mapLines = [&](const char* field) {
    // downwardAPI volume format: key="value" lines, sorted by key.
    std::string out;
    const Json& map = fieldOr(m, field);
    if (map.is_object())
      for (auto& [k, v] : map.items()) out += k + "=" + Json(v.is_string() ? v.get<std::string>() : "").dump() + "\n";
    return out;
  };
  if (path == "metadata.name") return str(m, "name");
  if (path == "metadata.namespace") return str(m, "namespace");
  if (path == "metadata.uid") return str(m, "uid");
  if (path == "metadata.labels") return mapLines("labels");
  if (path == "metadata.annotations") return mapLines("annotations");
  if (auto v = mapKey("metadata.labels", "labels")) return v;
  if (auto v = mapKey("metadata.annotations", "annotations")) return v;
  if (path == "spec.nodeName") return str(spec, "nodeName").empty() ? ctx.nodeName : str(spec, "nodeName");
  if (path == "spec.serviceAccountName") return str(spec, "serviceAccountName");
  if (path == "status.podIP" || path == "status.podIPs") return ctx.podIP;
  if (path == "status.hostIP" || path == "status.hostIPs") return ctx.hostIP;
  return std::nullopt;
}

std::optional<long double> parseQuantityValue(const std::string& s) {
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  size_t numStart = 0, numEnd = i;
  while (numEnd < s.size() && (std::isdigit((unsigned char)s[numEnd]) || s[numEnd] == '.')) ++numEnd;
  if (numEnd == i) return std::nullopt;
  // strtold: a mantissa beyond long double's range is inf or 0 (the API server accepts it),
  // where std::stold threw and the kubelet called a valid quantity malformed.
  long double v = std::strtold(s.substr(numStart, numEnd - numStart).c_str(), nullptr);
  std::string suf = s.substr(numEnd);
  static const std::map<std::string, long double> mult = {
      {"", 1},       {"n", 1e-9},   {"u", 1e-6},   {"m", 1e-3},    {"k", 1e3},          {"M", 1e6},
      {"G", 1e9},    {"T", 1e12},   {"P", 1e15},   {"E", 1e18},    {"Ki", 1024.0L},     {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L},        {"Ti", 1099511627776.0L},      {"Pi", 1125899906842624.0L},
      {"Ei", 1152921504606846976.0L}};
  auto it = mult.find(suf);
  if (it != mult.end()) return v * it->second;
  if (suf.size() >= 2 && (suf[0] == 'e' || suf[0] == 'E')) {
    try {
      size_t used = 0;
      int e = std::stoi(suf.substr(1), &used);
      if (used == suf.size() - 1) return v * std::pow(10.0L, e);
    } catch (...) {
    }
  }
  return std::nullopt;
}

namespace {
std::optional<long double> quantityOf(const Json& q) {
  if (q.is_number()) return q.get<long double>();
  if (q.is_string()) return parseQuantityValue(q.get<std::string>());
  return std::nullopt;
}

// A quantity as int64, saturated as kube's Quantity.Value() is: a plain cast of a value out of
// range ("1E" memory in bytes fits, "1E" cpu in millis is 1e21) is undefined behaviour. NaN
// (0 times an exponent beyond long double) is 0.
int64_t saturatingInt64(long double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0L) return INT64_MAX;
  if (v <= -9223372036854775808.0L) return INT64_MIN;
  return (int64_t)v;
}
}  // namespace

int64_t memoryBytes(const Json& q) {
  auto v = quantityOf(q);
  return v ? saturatingInt64(std::ceil(*v)) : 0;
}

int64_t cpuMillis(const Json& q) {
  auto v = quantityOf(q);
  return v ? saturatingInt64(std::ceil(*v * 1000 - 1e-9)) : 0;
}

std::string resourceFieldValue(const Json& pod, const Json& container, const Json& ref, const EnvContext& ctx) {
  std::string res = str(ref, "resource");
  auto dot = res.find('.');
  std::string kind = dot == std::string::npos ? "" : res.substr(0, dot);  // limits / requests
  std::string what = dot == std::string::npos ? res : res.substr(dot + 1);
  const Json& resources = fieldOr(container, "resources");
  const Json& q = fieldOr(fieldOr(resources, kind.c_str()), what.c_str());
  long double value = 0;
  if (auto v = quantityOf(q)) {
    value = *v;
  } else if (kind == "limits" || what == "cpu" || what == "memory") {
    // A missing limit is the node's allocatable; a missing request is 0 (cpu: kube reports 0 too).
    if (kind == "limits") value = what == "cpu" ? ctx.nodeCpuMilli / 1000.0L : (long double)ctx.nodeMemoryBytes;
  }
  long double divisor = 1;
  if (auto d = quantityOf(fieldOr(ref, "divisor")); d && *d > 0) divisor = *d;
  long double r = std::ceil(value / divisor - 1e-12L);
  (void)pod;
  return std::to_string(saturatingInt64(r));
}

EnvList buildContainerEnv(const Json& pod, const Json& container, const EnvContext& ctx) {
  std::string ns = namespaceOf(pod);
  EnvList env;
  auto set = [&](const std::string& k, const std::string& v) {
    for (auto& e : env)
      if (e.first == k) {
        e.second = v;
        return;
      }
    env.emplace_back(k, v);
  };
  auto fetch = [&](bool secret, const std::string& name, bool optional) -> std::optional<Json> {
    auto obj = secret ? ctx.secret(name) : ctx.configMap(name);
    if (!obj && !optional) throw ContainerConfigError((secret ? "secret \"" : "configmap \"") + name + "\" not found");
    return obj;
  };
  auto valueOf = [&](const Json& obj, bool secret, const std::string& key) -> std::optional<std::string> {
    const Json& data = fieldOr(obj, "data");
    if (data.is_object() && data.contains(key) && data[key].is_string())
      return secret ? decodeBase64(data[key]) : data[key].get<std::string>();
    const Json& bin = fieldOr(obj, "binaryData");
    if (!secret && bin.is_object() && bin.contains(key) && bin[key].is_string()) return decodeBase64(bin[key]);
    const Json& sdata = fieldOr(obj, "stringData");
    if (secret && sdata.is_object() && sdata.contains(key) && sdata[key].is_string()) return sdata[key].get<std::string>();
    return std::nullopt;
  };

  const Json& envFrom = fieldOr(container, "envFrom");
  if (envFrom.is_array())
    for (auto& src : envFrom) {
      std::string prefix = str(src, "prefix");
      for (bool secret : {false, true}) {
        const Json& ref = fieldOr(src, secret ? "secretRef" : "configMapRef");
        if (!ref.is_object()) continue;
        auto obj = fetch(secret, str(ref, "name"), ref.value("optional", false));
        if (!obj) continue;
        for (const char* f : {"data", "binaryData"}) {
          const Json& d = fieldOr(*obj, f);
          if (!d.is_object()) continue;
          for (auto& [k, _] : d.items())
            if (auto v = valueOf(*obj, secret, k)) set(prefix + k, *v);
        }
      }
    }

  EnvList services = serviceEnvVars(ctx.services);
  const Json& list = fieldOr(container, "env");
  if (list.is_array())
    for (auto& e : list) {
      std::string name = str(e, "name");
      const Json& from = fieldOr(e, "valueFrom");
      std::string value;
      if (!str(e, "value").empty()) {
        value = expandVars(str(e, "value"), [&](const std::string& n) -> std::optional<std::string> {
          for (auto& [k, v] : env)
            if (k == n) return v;
          for (auto& [k, v] : services)
            if (k == n) return v;
          return std::nullopt;
        });
      } else if (from.is_object()) {
        if (from.contains("fieldRef")) {
          value = podFieldValue(pod, str(from["fieldRef"], "fieldPath"), ctx).value_or("");
        } else if (from.contains("resourceFieldRef")) {
          const Json& ref = from["resourceFieldRef"];
          const Json* c = &container;
          std::string cn = str(ref, "containerName");
          if (!cn.empty())
            for (const char* l : {"containers", "initContainers"})
              if (fieldOr(fieldOr(pod, "spec"), l).is_array())
                for (auto& x : pod["spec"][l])
                  if (str(x, "name") == cn) c = &x;
          value = resourceFieldValue(pod, *c, ref, ctx);
        } else {
          bool secret = from.contains("secretKeyRef");
          const Json& ref = fieldOr(from, secret ? "secretKeyRef" : "configMapKeyRef");
          if (!ref.is_object()) continue;
          bool optional = ref.value("optional", false);
          auto obj = fetch(secret, str(ref, "name"), optional);
          if (!obj) continue;
          auto v = valueOf(*obj, secret, str(ref, "key"));
          if (!v) {
            if (optional) continue;
            throw ContainerConfigError("couldn't find key " + str(ref, "key") + " in " +
                                       (secret ? "Secret " : "ConfigMap ") + ns + "/" + str(ref, "name"));
          }
          value = *v;
        }
      }
      set(name, value);
    }
  for (auto& [k, v] : services) {
    bool present = false;
    for (auto& e : env) present |= e.first == k;
    if (!present) env.emplace_back(k, v);
  }
  return env;
}

std::vector<std::string> mergeImageEnv(const std::vector<std::string>& imageEnv, const EnvList& env) {
  std::vector<std::string> out = imageEnv;
  for (auto& [k, v] : env) {
    bool replaced = false;
    for (auto& e : out)
      if (e.compare(0, k.size() + 1, k + "=") == 0) {
        e = k + "=" + v;
        replaced = true;
      }
    if (!replaced) out.push_back(k + "=" + v);
  }
  return out;
}

std::string resolvConfText(const std::string& ns, const std::string& clusterDNS, const std::string& domain) {
  return "search " + ns + ".svc." + domain + " svc." + domain + " " + domain + "\nnameserver " + clusterDNS +
         "\noptions ndots:5\n";
}

std::string podHostname(const Json& pod) {
  std::string h = str(fieldOr(pod, "spec"), "hostname");
  if (h.empty()) h = nameOf(pod);
  if (h.size() > 63) h.resize(63);
  while (!h.empty() && (h.back() == '-' || h.back() == '.')) h.pop_back();
  return h;
}

std::string hostsFileText(const Json& pod, const std::string& podIP, const std::string& domain) {
  std::string out =
      "# Kubernetes-managed hosts file.\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  const Json& spec = fieldOr(pod, "spec");
  std::string host = podHostname(pod);
  std::string sub = str(spec, "subdomain");
  if (!podIP.empty()) {
    if (!sub.empty())
      out += podIP + "\t" + host + "." + sub + "." + namespaceOf(pod) + ".svc." + domain + "\t" + host + "\n";
    else
      out += podIP + "\t" + host + "\n";
  }
  const Json& aliases = fieldOr(spec, "hostAliases");
  if (aliases.is_array() && !aliases.empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (auto& a : aliases) {
      out += str(a, "ip") + "\t";
      const Json& names = fieldOr(a, "hostnames");
      bool first = true;
      if (names.is_array())
        for (auto& n : names) {
          if (!first) out += "\t";
          out += n.is_string() ? n.get<std::string>() : "";
          first = false;
        }
      out += "\n";
    }
  }
  return out;
}

std::string goDuration(int64_t s) {
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m" + std::to_string(s % 60) + "s";
}

bool RestartBackoff::inBackoffSince(const std::string& key, int64_t finishedAtMs, int64_t nowMs) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  if (nowMs - it->second.lastUpdateMs > 2 * max_) return false;  // stale: starts over
  return nowMs - finishedAtMs < it->second.backoffMs;
}

void RestartBackoff::next(const std::string& key, int64_t nowMs) {
  auto it = entries_.find(key);
  if (it == entries_.end() || nowMs - it->second.lastUpdateMs > 2 * max_) {
    entries_[key] = {initial_, nowMs};
    return;
  }
  it->second.backoffMs = std::min(it->second.backoffMs * 2, max_);
  it->second.lastUpdateMs = nowMs;
}

int64_t RestartBackoff::currentMs(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.backoffMs;
}

int64_t RestartBackoff::remainingMs(const std::string& key, int64_t finishedAtMs, int64_t nowMs) const {
  if (!inBackoffSince(key, finishedAtMs, nowMs)) return 0;
  return entries_.at(key).backoffMs - (nowMs - finishedAtMs);
}

void RestartBackoff::forgetPrefix(const std::string& prefix) {
  for (auto it = entries_.lower_bound(prefix); it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
    it = entries_.erase(it);
}

}  // namespace k1s
