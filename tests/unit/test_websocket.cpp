// WebSocket (RFC 6455): handshakes, frame codec, the message-level connection
// over a socketpair, and a bounded fuzz of the decoder and the connection.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "common/websocket.h"

using namespace k1s;
using namespace k1s::ws;

namespace {

// One end of a socketpair as a ByteStream.
class FdStream : public ByteStream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  ~FdStream() override { ::close(fd_); }
  ssize_t read(void* buf, size_t n) override { return ::read(fd_, buf, n); }
  bool writeAll(const void* buf, size_t n) override {
    auto* p = static_cast<const char*>(buf);
    while (n) {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  void shutdown() override { ::shutdown(fd_, SHUT_RDWR); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

int peerFd(ByteStream& s) { return static_cast<FdStream&>(s).fd(); }

std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>> streamPair() {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  return {std::make_unique<FdStream>(sv[0]), std::make_unique<FdStream>(sv[1])};
}

// Everything the peer has sent until it shuts down (reads with a short timeout).
std::string drain(ByteStream& s) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = s.read(buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::vector<Frame> decodeAll(const std::string& wire, bool masked) {
  FrameDecoder d(masked, 1 << 24);
  d.feed(wire.data(), wire.size());
  std::vector<Frame> out;
  Frame f;
  while (d.next(f)) out.push_back(f);
  return out;
}

UpgradeRequest upgrade(const std::string& protocols) {
  UpgradeRequest r;
  r.method = "GET";
  r.headers = {{"connection", "keep-alive, Upgrade"},
               {"upgrade", "websocket"},
               {"sec-websocket-version", "13"},
               {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  if (!protocols.empty()) r.headers.emplace("sec-websocket-protocol", protocols);
  return r;
}

}  // namespace

TEST_CASE("websocket: accept key is the RFC 6455 example") {
  CHECK(acceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("websocket: server handshake negotiates the client's first supported subprotocol") {
  std::vector<std::string> supported = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
  auto h = negotiate(upgrade("v4.channel.k8s.io, v5.channel.k8s.io"), supported, false);
  REQUIRE(h.ok);
  CHECK(h.protocol == "v4.channel.k8s.io");  // the client's preference order wins
  bool sawAccept = false;
  for (auto& [k, v] : h.responseHeaders)
    if (k == "Sec-WebSocket-Accept") sawAccept = v == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
  CHECK(sawAccept);

  auto unknown = negotiate(upgrade("v9.bogus.k8s.io"), supported, false);
  CHECK_FALSE(unknown.ok);
  CHECK(unknown.httpStatus == 400);
  CHECK(unknown.error.find("v9.bogus.k8s.io") != std::string::npos);
  CHECK(unknown.error.find("v5.channel.k8s.io") != std::string::npos);

  CHECK_FALSE(negotiate(upgrade(""), supported, false).ok);
  CHECK(negotiate(upgrade(""), supported, true).ok);

  auto post = upgrade("v5.channel.k8s.io");
  post.method = "POST";
  CHECK_FALSE(negotiate(post, supported, false).ok);
  auto oldVersion = upgrade("v5.channel.k8s.io");
  oldVersion.headers.erase("sec-websocket-version");
  oldVersion.headers.emplace("sec-websocket-version", "8");
  CHECK(negotiate(oldVersion, supported, false).httpStatus == 426);
  auto badKey = upgrade("v5.channel.k8s.io");
  badKey.headers.erase("sec-websocket-key");
  badKey.headers.emplace("sec-websocket-key", "short");
  CHECK_FALSE(negotiate(badKey, supported, false).ok);
  auto notUpgrade = upgrade("v5.channel.k8s.io");
  notUpgrade.headers.erase("upgrade");
  CHECK_FALSE(isWebSocketUpgrade(notUpgrade));
  CHECK(isWebSocketUpgrade(upgrade("")));
}

TEST_CASE("websocket: frames round-trip with 7-, 16- and 64-bit lengths, masked and not") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}, size_t{200000}}) {
    std::string payload(n, '\0');
    for (size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 31 + 7);
    for (bool mask : {false, true}) {
      std::string wire = encodeFrame(Opcode::Binary, payload.data(), n, true, mask);
      size_t hdr = (n < 126 ? 2 : n <= 65535 ? 4 : 10) + (mask ? 4 : 0);
      CHECK(wire.size() == n + hdr);
      if (mask && n >= 8) CHECK(wire.substr(hdr) != payload);
      auto frames = decodeAll(wire, mask);
      REQUIRE(frames.size() == 1);
      CHECK(frames[0].fin);
      CHECK(frames[0].opcode == Opcode::Binary);
      CHECK(frames[0].payload == payload);
    }
  }
}

TEST_CASE("websocket: the decoder waits for whole frames fed a byte at a time") {
  std::string wire = encodeFrame(Opcode::Text, "hello", 5, false, true) +
                     encodeFrame(Opcode::Continuation, " world", 6, true, true);
  FrameDecoder d(true, 1024);
  std::vector<Frame> got;
  for (char c : wire) {
    d.feed(&c, 1);
    Frame f;
    while (d.next(f)) got.push_back(f);
  }
  REQUIRE(got.size() == 2);
  CHECK_FALSE(got[0].fin);
  CHECK(got[0].payload == "hello");
  CHECK(got[1].opcode == Opcode::Continuation);
  CHECK(got[1].payload == " world");
}

TEST_CASE("websocket: malformed frames are protocol errors with the matching close code") {
  auto errorOf = [](const std::string& wire, bool expectMasked, size_t max = 1024) -> std::pair<int, std::string> {
    FrameDecoder d(expectMasked, max);
    d.feed(wire.data(), wire.size());
    Frame f;
    try {
      while (d.next(f)) {
      }
    } catch (const ProtocolError& e) {
      return {e.closeCode, e.what()};
    }
    return {0, ""};
  };
  // A client must mask; a server must not.
  auto unmasked = errorOf(encodeFrame(Opcode::Binary, "x", 1, true, false), true);
  CHECK(unmasked.first == kCloseProtocolError);
  CHECK(unmasked.second.find("not masked") != std::string::npos);
  CHECK(errorOf(encodeFrame(Opcode::Binary, "x", 1, true, true), false).first == kCloseProtocolError);
  auto badOp = errorOf(std::string("\x83\x80\0\0\0\0", 6), true);
  CHECK(badOp.second.find("unknown opcode 3") != std::string::npos);
  CHECK(errorOf(std::string("\xC2\x80\0\0\0\0", 6), true).second.find("reserved bits") != std::string::npos);
  auto big = errorOf(encodeFrame(Opcode::Binary, std::string(2000, 'a').data(), 2000, true, true), true, 1024);
  CHECK(big.first == kCloseTooBig);
  // The limit is checked from the header, before any payload arrives.
  CHECK(errorOf(std::string("\x82\xFF\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 10), true).first == kCloseTooBig);
  CHECK(errorOf(std::string("\x82\xFF\x80\0\0\0\0\0\0\0", 10), true).second.find("top bit") != std::string::npos);
  CHECK(errorOf(encodeFrame(Opcode::Ping, "x", 1, false, true), true).second.find("fragmented control") !=
        std::string::npos);
  CHECK(errorOf(encodeFrame(Opcode::Ping, std::string(126, 'p').data(), 126, true, true), true).second.find("125") !=
        std::string::npos);
}

TEST_CASE("websocket: connection reassembles fragments, answers pings and echoes close") {
  auto [a, b] = streamPair();
  ByteStream& peer = *b;
  Connection server(std::move(a), Connection::Role::Server, 1 << 20);
  std::string wire = encodeFrame(Opcode::Binary, "\x01" "ab", 3, false, true) +
                     encodeFrame(Opcode::Ping, "hb", 2, true, true) +  // control frames may sit between fragments
                     encodeFrame(Opcode::Continuation, "cd", 2, false, true) +
                     encodeFrame(Opcode::Continuation, "ef", 2, true, true) +
                     encodeFrame(Opcode::Text, "txt", 3, true, true);
  std::string close = std::string("\x03\xE8", 2) + "bye";
  wire += encodeFrame(Opcode::Close, close.data(), close.size(), true, true);
  REQUIRE(peer.writeAll(wire));
  Message m;
  REQUIRE(server.read(m));
  CHECK(m.type == Opcode::Binary);
  CHECK(m.data == "\x01" "abcdef");
  REQUIRE(server.read(m));
  CHECK(m.type == Opcode::Text);
  CHECK(m.data == "txt");
  CHECK_FALSE(server.read(m));
  CHECK(server.closeCode() == 1000);
  CHECK(server.closeReason() == "bye");
  CHECK_FALSE(server.sendBinary("late"));  // nothing after our close
  server.shutdown();
  auto frames = decodeAll(drain(peer), false);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].opcode == Opcode::Pong);
  CHECK(frames[0].payload == "hb");
  CHECK(frames[1].opcode == Opcode::Close);
  CHECK(frames[1].payload == std::string("\x03\xE8", 2));
}

TEST_CASE("websocket: protocol violations close with a code and throw, never crash") {
  struct Case {
    std::string wire;
    uint16_t code;
  };
  std::vector<Case> cases = {
      {encodeFrame(Opcode::Binary, "x", 1, true, false), kCloseProtocolError},             // unmasked client frame
      {encodeFrame(Opcode::Continuation, "x", 1, true, true), kCloseProtocolError},        // nothing to continue
      {encodeFrame(Opcode::Binary, "a", 1, false, true) + encodeFrame(Opcode::Binary, "b", 1, true, true),
       kCloseProtocolError},                                                               // new message mid-way
      {encodeFrame(Opcode::Text, "\xC3\x28", 2, true, true), kCloseInvalidData},          // not UTF-8
      {encodeFrame(Opcode::Binary, std::string(600, 'a').data(), 600, false, true) +
           encodeFrame(Opcode::Continuation, std::string(600, 'b').data(), 600, true, true),
       kCloseTooBig},                                                                      // message over the limit
      {encodeFrame(Opcode::Close, "\x03", 1, true, true), kCloseProtocolError},           // 1-byte close body
      {encodeFrame(Opcode::Close, "\x03\xED", 2, true, true), kCloseProtocolError},       // 1005 may not be sent
  };
  for (auto& c : cases) {
    auto [a, b] = streamPair();
    Connection server(std::move(a), Connection::Role::Server, 1000);
    REQUIRE(b->writeAll(c.wire));
    Message m;
    uint16_t thrown = 0;
    try {
      while (server.read(m)) {
      }
    } catch (const ProtocolError& e) {
      thrown = e.closeCode;
    }
    CHECK(thrown == c.code);
    server.shutdown();
    auto frames = decodeAll(drain(*b), false);
    REQUIRE_FALSE(frames.empty());
    CHECK(frames.back().opcode == Opcode::Close);
    REQUIRE(frames.back().payload.size() >= 2);
    CHECK(((static_cast<unsigned char>(frames.back().payload[0]) << 8) |
           static_cast<unsigned char>(frames.back().payload[1])) == c.code);
  }
}

TEST_CASE("websocket: client handshake against a server end, then messages both ways") {
  auto [a, b] = streamPair();
  std::shared_ptr<ByteStream> serverSide = std::move(b);
  std::string seenRequest;
  std::thread server([&] {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = serverSide->read(buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    seenRequest = in;
    UpgradeRequest r;
    r.method = in.substr(0, in.find(' '));
    size_t pos = in.find("\r\n") + 2;
    while (pos < in.size()) {
      size_t end = in.find("\r\n", pos);
      if (end == pos) break;
      std::string line = in.substr(pos, end - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(tolower(ch));
      r.headers.emplace(name, line.substr(colon + 2));
      pos = end + 2;
    }
    auto h = negotiate(r, {"v5.channel.k8s.io"}, false);
    std::string reply = "HTTP/1.1 101 Switching Protocols\r\n";
    for (auto& [k, v] : h.responseHeaders) reply += k + ": " + v + "\r\n";
    reply += "\r\n";
    // The first message rides in the same write as the 101 (a client must keep those bytes).
    reply += encodeFrame(Opcode::Binary, "\x01hi", 3, true, false);
    serverSide->writeAll(reply);
  });
  std::string chosen;
  auto client = clientHandshake(std::move(a), {"127.0.0.1:6443", "/api/v1/x?command=ls", {"v4.channel.k8s.io", "v5.channel.k8s.io"}, {{"Authorization", "Bearer t"}}},
                                &chosen);
  server.join();
  CHECK(chosen == "v5.channel.k8s.io");
  CHECK(seenRequest.find("GET /api/v1/x?command=ls HTTP/1.1\r\n") == 0);
  CHECK(seenRequest.find("Authorization: Bearer t\r\n") != std::string::npos);
  CHECK(seenRequest.find("Sec-WebSocket-Protocol: v4.channel.k8s.io, v5.channel.k8s.io\r\n") != std::string::npos);
  Message m;
  REQUIRE(client->read(m));
  CHECK(m.data == "\x01hi");
  // Client frames are masked: the server-side decoder (which insists on masks) accepts them.
  REQUIRE(client->sendBinary(std::string("\x00in", 3)));
  client->close(kCloseNormal);
  client->shutdown();
  auto frames = decodeAll(drain(*serverSide), true);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].payload == std::string("\x00in", 3));
  CHECK(frames[1].opcode == Opcode::Close);
}

TEST_CASE("websocket: a refused upgrade reports the status and the body") {
  auto [a, b] = streamPair();
  std::string body = R"({"kind":"Status","code":400,"message":"no"})";
  std::thread server([&, s = b.get()] {
    char buf[4096];
    std::string in;
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = s->read(buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    s->writeAll("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  try {
    clientHandshake(std::move(a), {"h", "/", {"x"}, {}}, nullptr);
    FAIL("handshake should have been refused");
  } catch (const HandshakeRejected& e) {
    CHECK(e.status == 400);
    CHECK(e.body == body);
  }
  server.join();
}

TEST_CASE("websocket: a byte stream over binary messages (SPDY tunnel)") {
  auto [a, b] = streamPair();
  auto conn = std::make_shared<Connection>(std::move(a), Connection::Role::Server, 1 << 20);
  auto bytes = messageStream(conn);
  std::string wire = encodeFrame(Opcode::Binary, "hello ", 6, true, true) +
                     encodeFrame(Opcode::Binary, "", 0, true, true) +  // empty messages carry nothing
                     encodeFrame(Opcode::Binary, "tunnel", 6, true, true) +
                     encodeFrame(Opcode::Close, "\x03\xE8", 2, true, true);
  REQUIRE(b->writeAll(wire));
  std::string got;
  char buf[4];
  for (ssize_t n; (n = bytes->read(buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  CHECK(got == "hello tunnel");
  CHECK(conn->closeCode() == 1000);
}

// Bytes 0..n-1 of a pattern that shows misplaced or dropped bytes.
std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) >> 3);
  return s;
}

TEST_CASE("websocket: large messages are read from the stream straight into the message, split anyhow") {
  for (bool serverRole : {true, false}) {
    CAPTURE(serverRole);
    auto [a, b] = streamPair();
    Connection conn(std::move(a), serverRole ? Connection::Role::Server : Connection::Role::Client, 4 << 20);
    bool masked = serverRole;  // what the peer must send
    // Large, small, larger, a large one in fragments (not a whole message: decoded as before),
    // one of the same size as the first (the message buffer is reused) and one above the size
    // read directly (buffered as before).
    std::vector<std::string> msgs = {pattern(200000, 1), pattern(5000, 2), "small", pattern(300000, 3),
                                     pattern(70000, 4), pattern(200000, 5), pattern(2500000, 6)};
    std::string wire;
    for (size_t i = 0; i < msgs.size(); ++i) {
      if (i == 4) {
        wire += encodeFrame(Opcode::Binary, msgs[i].data(), 30000, false, masked);
        wire += encodeFrame(Opcode::Continuation, msgs[i].data() + 30000, 40000, true, masked);
      } else {
        wire += encodeFrame(Opcode::Binary, msgs[i].data(), msgs[i].size(), true, masked);
      }
    }
    // Written in odd pieces, so headers and payloads are split across reads at every kind of place.
    std::thread writer([&wire, peer = b.get()] {
      for (size_t off = 0, step = 1; off < wire.size(); off += step, step = step * 7 % 9973 + 1)
        if (!peer->writeAll(wire.data() + off, std::min(step, wire.size() - off))) return;
    });
    Message m;
    for (auto& want : msgs) {
      REQUIRE(conn.read(m));
      CHECK(m.type == Opcode::Binary);
      CHECK(m.data.size() == want.size());
      CHECK(m.data == want);
    }
    writer.join();
  }
}

TEST_CASE("websocket: a stream that ends in the middle of a large frame ends the connection") {
  auto [a, b] = streamPair();
  Connection conn(std::move(a), Connection::Role::Client, 1 << 20);
  std::string payload = pattern(100000, 7);
  std::string wire = encodeFrame(Opcode::Binary, payload.data(), payload.size(), true, false);
  REQUIRE(b->writeAll(wire.data(), wire.size() / 2));
  b->shutdown();
  Message m;
  CHECK_FALSE(conn.read(m));
  CHECK(conn.closeCode() == 1006);
}

TEST_CASE("websocket: sendInPlace frames bytes where they are, with the room before them") {
  for (bool client : {false, true}) {
    for (size_t n : {size_t(0), size_t(100), size_t(126), size_t(70000)}) {
      CAPTURE(client);
      CAPTURE(n);
      auto pair = streamPair();  // (not a structured binding: the reader thread's lambda captures b)
      auto& a = pair.first;
      auto& b = pair.second;
      Connection conn(std::move(a), client ? Connection::Role::Client : Connection::Role::Server, 1 << 20);
      std::string want = pattern(n, 9);
      std::vector<char> buf(kFrameHeadroom + n);
      memcpy(buf.data() + kFrameHeadroom, want.data(), n);
      Frame f;  // read on the helper thread, checked on this one after join
      std::thread reader([&] {
        FrameDecoder d(client, 1 << 20);
        char tmp[65536];
        while (!d.next(f)) {
          ssize_t r = b->read(tmp, sizeof tmp);
          if (r <= 0) break;
          d.feed(tmp, static_cast<size_t>(r));
        }
      });
      bool sent = conn.sendInPlace(Opcode::Binary, buf.data() + kFrameHeadroom, n, kFrameHeadroom);
      if (!sent) b->shutdown();  // the reader stops instead of waiting for a frame
      reader.join();
      CHECK(sent);
      CHECK(f.opcode == Opcode::Binary);
      CHECK(f.payload == want);
    }
  }
  // Too little room: framed by a copy instead, the same on the wire.
  auto [a, b] = streamPair();
  Connection conn(std::move(a), Connection::Role::Server, 1 << 20);
  std::string bytes = "xyz";
  REQUIRE(conn.sendInPlace(Opcode::Binary, bytes.data(), bytes.size(), 0));
  conn.shutdown();
  auto frames = decodeAll(drain(*b), false);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].payload == "xyz");
}

TEST_CASE("websocket: a message stream written in place carries the bytes as one binary message") {
  auto [a, b] = streamPair();
  auto conn = std::make_shared<Connection>(std::move(a), Connection::Role::Server, 1 << 20);
  auto bytes = messageStream(conn);
  std::string want = pattern(1000, 3);
  std::vector<char> buf(kFrameHeadroom + want.size());
  memcpy(buf.data() + kFrameHeadroom, want.data(), want.size());
  REQUIRE(bytes->writeInPlace(buf.data() + kFrameHeadroom, want.size(), kFrameHeadroom));
  conn->shutdown();
  auto frames = decodeAll(drain(*b), false);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].opcode == Opcode::Binary);
  CHECK(frames[0].payload == want);
}

TEST_CASE("websocket: bounded fuzz of the decoder and the connection") {
  std::mt19937 rng(20261125);
  auto byte = [&] { return static_cast<char>(rng() & 0xFF); };
  // Valid streams of frames, then mutated: random bytes flipped, truncated, spliced.
  auto validStream = [&] {
    std::string s;
    int frames = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < frames; ++i) {
      size_t n = rng() % 3 == 0 ? rng() % 70000 : rng() % 200;
      std::string p(n, 'x');
      for (auto& c : p) c = byte();
      static const Opcode ops[] = {Opcode::Binary, Opcode::Text, Opcode::Ping, Opcode::Continuation, Opcode::Close};
      Opcode op = ops[rng() % 5];
      if (op == Opcode::Ping || op == Opcode::Close) p.resize(std::min<size_t>(p.size(), 125));
      s += encodeFrame(op, p.data(), p.size(), rng() % 4 != 0, true);
    }
    return s;
  };
  int errors = 0, frames = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::string s = iter % 4 == 0 ? std::string(rng() % 64, '\0') : validStream();
    if (iter % 4 == 0)
      for (auto& c : s) c = byte();
    for (int k = static_cast<int>(rng() % 6); k > 0 && !s.empty(); --k) s[rng() % s.size()] = byte();
    if (rng() % 3 == 0 && !s.empty()) s.resize(rng() % s.size());
    FrameDecoder d(true, 65536);
    size_t off = 0;
    try {
      while (off < s.size()) {
        size_t chunk = std::min<size_t>(1 + rng() % 5000, s.size() - off);
        d.feed(s.data() + off, chunk);
        off += chunk;
        Frame f;
        while (d.next(f)) {
          CHECK(f.payload.size() <= 65536);
          ++frames;
        }
      }
    } catch (const ProtocolError& e) {
      ++errors;
      CHECK(e.closeCode >= 1000);
    }
    // The same bytes through a whole connection: messages, a close, or a ProtocolError.
    auto [a, b] = streamPair();
    Connection c(std::move(a), Connection::Role::Server, 100000);
    std::thread writer([&, peer = b.get()] {
      peer->writeAll(s);
      ::shutdown(peerFd(*peer), SHUT_WR);  // end of input: read() must return rather than block
    });
    Message m;
    try {
      while (c.read(m)) CHECK(m.data.size() <= 100000);
    } catch (const ProtocolError&) {
    }
    c.shutdown();  // a writer still blocked on a full socket gets an error now
    writer.join();
  }
  CHECK(frames > 0);
  CHECK(errors > 0);
}
