// `k1s image ...` (placeholder until the image store lands).
#include "cli/image_cmd.h"

#include <iostream>

namespace k1s {

int runImageCommand(int, char**) {
  std::cerr << "error: k1s image is not implemented yet\n";
  return 1;
}

}  // namespace k1s
