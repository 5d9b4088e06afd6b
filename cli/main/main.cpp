// k1s: one binary, subcommands. `server` runs the daemon; everything else is the kubectl-style client.
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "kubelet/runtime.h"

int main(int argc, char** argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    printf(
        "k1s: Kubernetes in one process.\n\n"
        "Usage:\n"
        "  k1s server [flags]        run the daemon (API server, controllers, kubelet, proxy)\n"
        "  k1s <verb> [args]         kubectl-style client: apply, get, describe, delete, create,\n"
        "                            label, annotate, patch, api-resources, version, proxy, ...\n");
    return argc < 2 ? 1 : 0;
  }
  if (!strcmp(argv[1], "server")) return k1s::runServer(argc - 1, argv + 1);
  if (!strcmp(argv[1], "shim")) return k1s::runShim(argc - 1, argv + 1);
  return k1s::runKubectl(argc - 1, argv + 1);
}
