// The fuzz input as a client's connection, for the stream sessions (SPDY, WebSocket): the
// client's bytes arrive in reads of at most `chunk` bytes (so frames split anywhere); what
// the server writes goes nowhere; shutdown() ends both directions.
#pragma once
#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "common/byte_stream.h"

namespace k1s::fuzz {

class MemoryStream : public ByteStream {
 public:
  MemoryStream(const char* p, size_t n, size_t chunk) : p_(p), n_(n), chunk_(chunk) {}
  ssize_t read(void* buf, size_t n) override {
    if (done_ || off_ >= n_) return 0;
    size_t take = std::min({n, chunk_, n_ - off_});
    memcpy(buf, p_ + off_, take);
    off_ += take;
    return ssize_t(take);
  }
  bool writeAll(const void*, size_t) override { return !done_; }
  void shutdown() override { done_ = true; }

 private:
  const char* p_;
  size_t n_, chunk_, off_ = 0;
  bool done_ = false;
};

}  // namespace k1s::fuzz
