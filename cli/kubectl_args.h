// Command-line parsing for the kubectl-style verbs: flags may come anywhere,
// `--x=v`, `--x v`, `-n v`, `-nv`; bool flags take `--x=false`; `--` ends flags.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace k1s::cli {

struct FlagSpec {
  // Long names of flags that take a value, and of bool flags.
  std::set<std::string> valued, boolean;
  // Short aliases: "n" -> "namespace".
  std::map<std::string, std::string> shorts;
  // Flags that may be given without a value and then take this one
  // (pflag's NoOptDefVal, e.g. --dry-run means --dry-run=client).
  std::map<std::string, std::string> optionalValue;
  // The verb, for the "See 'k1s VERB --help' for usage." line of flag errors.
  std::string verb;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // by long name, in order given

  bool has(const std::string& name) const { return values.count(name) > 0; }
  std::string get(const std::string& name, const std::string& def = "") const {
    auto it = values.find(name);
    return it == values.end() || it->second.empty() ? def : it->second.back();
  }
  std::vector<std::string> all(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
  // A bool flag's value: absent -> false; "--x" -> true; "--x=false" -> false.
  bool flag(const std::string& name) const {
    auto v = get(name, has(name) ? "true" : "false");
    return v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True";
  }
};

// The flags every verb accepts (connection, namespace, output, ...), merged
// with a verb's own. Unknown flags throw CliError("error: unknown flag: --x").
// `verb` picks the verb's short letters where kubectl's differ (logs -f/-p).
FlagSpec globalFlags(const std::string& verb = "");
Args parseArgs(const std::vector<std::string>& argv, const FlagSpec& spec);

// kubectl takes global flags before the verb too (`k1s -n ns get pods`):
// returns the verb (the first word that is not a flag or a flag's value) and
// moves it out of `argv`; "" when there is none.
std::string takeVerb(std::vector<std::string>& argv);

// A Go duration ("90s", "5m", "1h30m", "1.5h", "0") in seconds. Throws
// std::invalid_argument worded as Go's time.ParseDuration
// (`time: unknown unit "x" in duration "5x"`).
double parseGoDuration(const std::string& text);

}  // namespace k1s::cli
