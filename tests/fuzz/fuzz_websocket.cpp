// libFuzzer target: WebSocket (RFC 6455) frames as kubectl 1.30+ sends them for exec/attach
// (v4/v5.channel.k8s.io) and 1.33 for port-forward (SPDY/3.1+portforward.k8s.io). The input's
// first byte picks the role and the read size; the rest goes through the frame decoder
// (masking, 7/16/64-bit lengths, control frames) and through a Connection that reassembles
// fragments, answers pings and closes. Violations must be ws::ProtocolError.
#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "common/websocket.h"
#include "tests/fuzz/memory_stream.h"

namespace ws = k1s::ws;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  bool server = !(data[0] & 1);
  size_t chunk = 1 + (data[0] >> 1);
  const char* p = reinterpret_cast<const char*>(data) + 1;
  size_t n = size - 1;

  {
    ws::FrameDecoder dec(server, 4096);
    try {
      for (size_t off = 0; off < n; off += chunk) {
        dec.feed(p + off, std::min(chunk, n - off));
        ws::Frame f;
        while (dec.next(f)) {
        }
        // The large-payload path: look at the next frame's head and take what is buffered.
        ws::FrameDecoder::Head h;
        if (dec.head(h) && h.payloadSize <= 4096) {
          std::string out(h.payloadSize, '\0');
          size_t got = dec.takePartial(h, out.data());
          if (got > h.payloadSize) abort();
          break;  // the decoder is now mid-payload; the Connection below covers the rest
        }
      }
    } catch (const ws::ProtocolError&) {
    }
  }

  auto io = std::make_unique<k1s::fuzz::MemoryStream>(p, n, chunk * 13);
  ws::Connection c(std::move(io), server ? ws::Connection::Role::Server : ws::Connection::Role::Client, 8192);
  try {
    ws::Message m;
    while (c.read(m)) {
    }
  } catch (const ws::ProtocolError&) {
  }
  return 0;
}
