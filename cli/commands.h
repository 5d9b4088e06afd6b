// The k1s binary's subcommands (k3s-style single binary).
#pragma once

namespace k1s {

// `k1s server [flags]`: the daemon (API server, controllers, kubelet, proxy).
int runServer(int argc, char** argv);
// Every kubectl-style verb: `k1s get pods`, `k1s apply -f x.yaml`, ... argv[0] is the verb.
int runKubectl(int argc, char** argv);

}  // namespace k1s
