// Flags of the streaming verbs (exec, attach, port-forward): pflag's grouped
// short bools ("-it") and the values they take.
#include <doctest/doctest.h>

#include "cli/kubectl_args.h"
#include "cli/kubectl_client.h"

using namespace k1s::cli;

TEST_CASE("kubectl flags: -it is -i -t, -c takes the container, -- keeps the command") {
  auto a = parseArgs({"exec", "-it", "pod-x", "-c", "main", "--", "sh", "-c", "exit 3"}, globalFlags());
  CHECK(a.flag("stdin"));
  CHECK(a.flag("tty"));
  CHECK(a.get("container") == "main");
  CHECK(a.positional == std::vector<std::string>{"exec", "pod-x", "sh", "-c", "exit 3"});
  auto b = parseArgs({"-i=false", "-t", "-q"}, globalFlags());
  CHECK_FALSE(b.flag("stdin"));
  CHECK(b.flag("tty"));
  CHECK(b.flag("quiet"));
  auto c = parseArgs({"port-forward", "deploy/web", "8080:80", ":443", "--address", "127.0.0.1,::1",
                      "--pod-running-timeout=30s"},
                     globalFlags());
  CHECK(c.positional == std::vector<std::string>{"port-forward", "deploy/web", "8080:80", ":443"});
  CHECK(c.get("address") == "127.0.0.1,::1");
  CHECK(c.get("pod-running-timeout") == "30s");
  CHECK_THROWS_WITH_AS(parseArgs({"-iz"}, globalFlags()), "error: unknown shorthand flag: 'z' in -z", CliError);
}
