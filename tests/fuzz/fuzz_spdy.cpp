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
#include "tests/fuzz/memory_stream.h"

namespace spdy = k1s::spdy;

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

  k1s::fuzz::MemoryStream io(p, n, chunk * 97);
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
