#include "cli/kubectl_args.h"

#include "cli/kubectl_client.h"

namespace k1s::cli {

// One table for all verbs keeps the parser simple; verbs ignore what they do
// not use, as most kubectl flags are shared anyway.
FlagSpec globalFlags() {
  FlagSpec s;
  s.valued = {"namespace", "selector", "output", "filename", "field-selector", "kubeconfig", "context",
              "server", "token", "cascade", "grace-period", "dry-run", "patch", "type", "port", "address",
              "request-timeout", "field-manager", "timeout", "sort-by", "api-group", "validate", "accept-hosts",
              "reject-paths", "api-prefix", "www", "www-prefix", "namespaced", "verbs", "chunk-size",
              "resource-version", "output-watch-events", "label-columns", "v", "user", "cluster",
              "certificate-authority", "wait", "subresource",
              "container", "pod-running-timeout"};
  s.boolean = {"all-namespaces", "watch", "watch-only", "show-labels", "all", "now", "overwrite", "client",
               "insecure-skip-tls-verify", "force", "recursive", "ignore-not-found", "no-headers", "local",
               "server-side", "force-conflicts", "show-kind", "help", "list", "cached", "disable-filter",
               "prune", "openapi-patch", "include-uninitialized", "show-events", "short",
               "stdin", "tty", "quiet"};
  s.shorts = {{"n", "namespace"}, {"l", "selector"},     {"o", "output"},  {"f", "filename"},
              {"s", "server"},    {"A", "all-namespaces"}, {"w", "watch"}, {"p", "patch"},
              {"R", "recursive"}, {"h", "help"},          {"L", "label-columns"}, {"P", "port"},
              {"u", "www-prefix"}, {"c", "container"},      {"i", "stdin"},   {"t", "tty"},
              {"q", "quiet"}};
  // cascade's NoOptDefVal is "background"; dry-run's is "unchanged" (= client).
  s.optionalValue = {{"dry-run", "client"}, {"cascade", "background"}, {"validate", "strict"},
                     {"wait", "true"}};
  return s;
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
            if (i + 1 >= argv.size()) throw CliError("error: flag needs an argument: --" + name);
            value = argv[++i];
          }
        }
        a.values[name].push_back(value);
      } else {
        throw CliError("error: unknown flag: --" + name);
      }
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      std::string shortName = arg.substr(1, 1);
      auto it = spec.shorts.find(shortName);
      if (it == spec.shorts.end())
        throw CliError("error: unknown shorthand flag: '" + shortName + "' in " + arg);
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
          if (i + 1 >= argv.size()) throw CliError("error: flag needs an argument: '" + shortName + "' in -" + shortName);
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

}  // namespace k1s::cli
