// The k1s-shim executable: the container shim alone, statically linked (see kubelet/shim_binary.h).
// The kubelet runs it as `k1s-shim-<hash> shim <sub-command> ...`, the same arguments `k1s shim`
// takes; `k1s-shim <sub-command> ...` works too.
#include <cstring>

#include "kubelet/shim_internal.h"

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "shim") == 0) return k1s::shim::shimMain(argc - 1, argv + 1);
  return k1s::shim::shimMain(argc, argv);
}
