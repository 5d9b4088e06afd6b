// libFuzzer target: SPDY/3.1 as kubectl's exec, attach and port-forward speak it. The input is
// what a client sends after the upgrade: it goes through the frame decoder alone (in pieces, as
// TCP delivers it, including the zlib header blocks) and then through a server Session over an
// in-memory connection, which opens streams, queues data, applies SETTINGS and WINDOW_UPDATEs
// and answers. A malformed stream must end in spdy::ProtocolError (decoder) or a session that
// says why it ended.
#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/spdy.h"

namespace spdy = k1s::spdy;

namespace {

// The client's bytes, delivered in reads of at most `chunk` bytes; what the server writes
// goes nowhere.
class MemoryStream : public k1s::ByteStream {
 public:
  MemoryStream(const char* p, size_t n, size_t chunk) : p_(p), n_(n), chunk_(chunk) {}
  ssize_t read(void* buf, size_t n) override {
    if (done_ || off_ >= n_) return 0;
    size_t take = std::min({n, chunk_, n_ - off_});
    memcpy(buf, p_ + off_, take);
    off_ += take;
    return ssize_t(take);
  }
  bool writeAll(const void*, size_t n) override {
    written_ += n;
    return !done_;
  }
  void shutdown() override { done_ = true; }

 private:
  const char* p_;
  size_t n_, chunk_, off_ = 0, written_ = 0;
  bool done_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = 1 + data[0] % 64;
  const char* p = reinterpret_cast<const char*>(data) + 1;
  size_t n = size - 1;

  {
    spdy::FrameDecoder dec(64 * 1024, 64 * 1024);
    try {
      for (size_t off = 0; off < n; off += chunk) {
        dec.feed(p + off, std::min(chunk, n - off));
        spdy::Frame f;
        while (dec.next(f)) (void)spdy::headerValue(f.headers, "streamtype");
      }
    } catch (const spdy::ProtocolError&) {
    }
  }

  MemoryStream io(p, n, chunk * 97);
  std::vector<std::shared_ptr<spdy::Stream>> streams;
  {
    spdy::SessionOptions o;
    o.maxInboundPerStream = 64 * 1024;
    o.maxStreams = 16;
    spdy::Session s(io, o);
    (void)s.serve([&](std::shared_ptr<spdy::Stream> st) {
      (void)st->header("streamtype");
      streams.push_back(std::move(st));
    });
    // After serve() the session is closed: reads drain what was queued and never block, writes fail.
    char buf[512];
    for (auto& st : streams) {
      while (st->read(buf, sizeof buf) > 0) {
      }
      (void)st->write("x", 1);
      st->closeWrite();
    }
  }
  return 0;
}
