// `k1s image import|ls|rm`: acts on the local image store under the data dir
// directly (no daemon needed; the daemon re-reads refs.json on each lookup).
#pragma once

namespace k1s {

// argv[0] is "image"; returns the process exit code.
int runImageCommand(int argc, char** argv);

}  // namespace k1s
