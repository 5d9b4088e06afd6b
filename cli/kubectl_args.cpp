#include "cli/kubectl_args.h"

#include "cli/kubectl_client.h"

#include <stdexcept>

namespace k1s::cli {

// One table for all verbs keeps the parser simple; verbs ignore what they do
// not use, as most kubectl flags are shared anyway.
FlagSpec globalFlags(const std::string& verb) {
  FlagSpec s;
  s.valued = {"namespace", "selector", "output", "filename", "field-selector", "kubeconfig", "context",
              "server", "token", "cascade", "grace-period", "dry-run", "patch", "type", "port", "address",
              "request-timeout", "field-manager", "timeout", "sort-by", "api-group", "validate", "accept-hosts",
              "reject-paths", "api-prefix", "www", "www-prefix", "namespaced", "verbs", "chunk-size",
              "resource-version", "output-watch-events", "label-columns", "v", "user", "cluster",
              "certificate-authority", "wait", "subresource",
              "container", "pod-running-timeout",
              // logs, scale, rollout, wait, explain
              "tail", "since", "since-time", "limit-bytes", "max-log-requests", "replicas", "current-replicas",
              "to-revision", "revision", "for", "api-version", "output-version",
              // create deployment|service, expose
              "image", "tcp", "node-port", "clusterip", "cluster-ip", "target-port", "name", "protocol",
              "external-name", "from-literal", "from-file"};
  s.boolean = {"all-namespaces", "watch", "watch-only", "show-labels", "all", "now", "overwrite", "client",
               "insecure-skip-tls-verify", "force", "recursive", "ignore-not-found", "no-headers", "local",
               "server-side", "force-conflicts", "show-kind", "help", "list", "cached", "disable-filter",
               "prune", "openapi-patch", "include-uninitialized", "show-events", "short",
               "stdin", "tty", "quiet",
               // logs, get -o jsonpath, explain, edit
               "follow", "previous", "timestamps", "all-containers", "prefix", "ignore-errors",
               "allow-missing-template-keys", "windows-line-endings", "save-config", "record", "show-managed-fields"};
  s.shorts = {{"n", "namespace"}, {"l", "selector"},     {"o", "output"},  {"f", "filename"},
              {"s", "server"},    {"A", "all-namespaces"}, {"w", "watch"}, {"p", "patch"},
              {"R", "recursive"}, {"h", "help"},          {"L", "label-columns"}, {"P", "port"},
              {"u", "www-prefix"}, {"c", "container"},      {"i", "stdin"},   {"t", "tty"},
              {"q", "quiet"}};
  // cascade's NoOptDefVal is "background"; dry-run's is "unchanged" (= client).
  s.optionalValue = {{"dry-run", "client"}, {"cascade", "background"}, {"validate", "strict"},
                     {"wait", "true"}};
  s.verb = verb;
  // logs reuses the letters: -f is --follow, -p is --previous.
  if (verb == "logs") {
    s.shorts["f"] = "follow";
    s.shorts["p"] = "previous";
  }
  return s;
}

// cobra's flag errors end with a pointer to the verb's help, as kubectl's do.
static std::string withUsage(const std::string& msg, const FlagSpec& spec) {
  return spec.verb.empty() ? msg : msg + "\nSee 'k1s " + spec.verb + " --help' for usage.";
}

// pflag refuses a non-integer value for an int flag while parsing, before the verb runs.
static void checkIntFlag(const std::string& name, const std::string& value, const FlagSpec& spec) {
  static const std::set<std::string> ints = {"tail", "limit-bytes", "grace-period", "replicas", "current-replicas",
                                             "revision", "to-revision", "max-log-requests"};
  if (!ints.count(name) || spec.verb == "create") return;
  size_t start = !value.empty() && (value[0] == '-' || value[0] == '+') ? 1 : 0;
  if (value.size() > start && value.find_first_not_of("0123456789", start) == std::string::npos) return;
  throw CliError(withUsage("error: invalid argument \"" + value + "\" for \"--" + name +
                               "\" flag: strconv.ParseInt: parsing \"" + value + "\": invalid syntax",
                           spec));
}

Args parseArgs(const std::vector<std::string>& argv, const FlagSpec& spec) {
  Args a;
  auto isValued = [&](const std::string& n) { return spec.valued.count(n) > 0; };
  auto isBool = [&](const std::string& n) { return spec.boolean.count(n) > 0; };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") {
      for (++i; i < argv.size(); ++i) a.positional.push_back(argv[i]);
      break;
    }
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      std::string body = arg.substr(2), name = body, value;
      auto eq = body.find('=');
      bool hasValue = eq != std::string::npos;
      if (hasValue) {
        name = body.substr(0, eq);
        value = body.substr(eq + 1);
      }
      if (isBool(name)) {
        a.values[name].push_back(hasValue ? value : "true");
      } else if (isValued(name)) {
        if (!hasValue) {
          if (auto it = spec.optionalValue.find(name); it != spec.optionalValue.end()) {
            value = it->second;
          } else {
            if (i + 1 >= argv.size()) throw CliError(withUsage("error: flag needs an argument: --" + name, spec));
            value = argv[++i];
          }
        }
        checkIntFlag(name, value, spec);
        a.values[name].push_back(value);
      } else {
        throw CliError(withUsage("error: unknown flag: --" + name, spec));
      }
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      std::string shortName = arg.substr(1, 1);
      auto it = spec.shorts.find(shortName);
      if (it == spec.shorts.end())
        throw CliError(withUsage("error: unknown shorthand flag: '" + shortName + "' in " + arg, spec));
      const std::string& name = it->second;
      std::string rest = arg.substr(2);
      if (!rest.empty() && rest[0] == '=') rest = rest.substr(1);
      if (isBool(name)) {
        // pflag: "-it" is -i -t; only "-i=false" gives a bool short flag a value.
        bool attached = arg.size() > 2 && arg[2] == '=';
        a.values[name].push_back(attached ? rest : "true");
        if (!attached && !rest.empty()) {
          std::vector<std::string> more{"-" + rest};
          Args tail = parseArgs(more, spec);
          for (auto& [n, vals] : tail.values)
            for (auto& v : vals) a.values[n].push_back(v);
          for (auto& pos : tail.positional) a.positional.push_back(pos);
        }
      } else {
        if (rest.empty()) {
          if (i + 1 >= argv.size()) throw CliError(withUsage("error: flag needs an argument: '" + shortName + "' in -" + shortName, spec));
          rest = argv[++i];
        }
        a.values[name].push_back(rest);
      }
      continue;
    }
    a.positional.push_back(arg);
  }
  return a;
}

std::string takeVerb(std::vector<std::string>& argv) {
  FlagSpec spec = globalFlags();
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") return "";
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      if (a.find('=') == std::string::npos && spec.valued.count(a.substr(2)) && !spec.optionalValue.count(a.substr(2)))
        ++i;  // its value
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      auto it = spec.shorts.find(a.substr(1, 1));
      if (a.size() == 2 && it != spec.shorts.end() && spec.valued.count(it->second)) ++i;
      continue;
    }
    std::string verb = a;
    argv.erase(argv.begin() + static_cast<long>(i));
    return verb;
  }
  return "";
}

double parseGoDuration(const std::string& text) {
  auto invalid = [&] { return std::invalid_argument("time: invalid duration \"" + text + "\""); };
  std::string s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s = s.substr(1);
  }
  if (s == "0") return 0;
  if (s.empty()) throw invalid();
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) throw invalid();
    double n = std::stod(s.substr(start, i - start));
    size_t unitStart = i;
    while (i < s.size() && !isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string unit = s.substr(unitStart, i - unitStart);
    if (unit.empty()) throw std::invalid_argument("time: missing unit in duration \"" + text + "\"");
    static const std::pair<const char*, double> units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3},
                                                           {"s", 1},     {"m", 60},    {"h", 3600}};
    double scale = -1;
    for (auto& [name, sc] : units)
      if (unit == name) scale = sc;
    if (scale < 0) throw std::invalid_argument("time: unknown unit \"" + unit + "\" in duration \"" + text + "\"");
    total += n * scale;
  }
  return negative ? -total : total;
}

}  // namespace k1s::cli
