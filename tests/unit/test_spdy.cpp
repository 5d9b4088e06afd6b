// SPDY/3.1: framing round trips, header compression across blocks, rejection
// of malformed input, and the server session over a socket pair.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "common/spdy.h"

using namespace k1s;
using namespace k1s::spdy;

namespace {

// A ByteStream over one end of a socket pair.
class FdStream : public ByteStream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  using ByteStream::writeAll;
  ~FdStream() override { ::close(fd_); }
  ssize_t read(void* b, size_t n) override { return ::read(fd_, b, n); }
  bool writeAll(const void* b, size_t n) override {
    auto p = static_cast<const char*>(b);
    while (n > 0) {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w, n -= size_t(w);
    }
    return true;
  }
  void shutdown() override { ::shutdown(fd_, SHUT_RDWR); }
  int fd_;
};

std::vector<Frame> decodeAll(const std::string& bytes) {
  FrameDecoder d;
  d.feed(bytes.data(), bytes.size());
  std::vector<Frame> out;
  Frame f;
  while (d.next(f)) out.push_back(f);
  CHECK(d.buffered() == 0);
  return out;
}

// The client end of a session under test: encodes our frames, decodes the server's.
struct Peer {
  FdStream io;
  FrameEncoder enc;
  FrameDecoder dec;
  explicit Peer(int fd) : io(fd) {}
  void send(const std::string& f) { REQUIRE(io.writeAll(f)); }
  // Next frame from the server (waits up to 5 s).
  Frame next() {
    Frame f;
    while (!dec.next(f)) {
      pollfd p{io.fd_, POLLIN, 0};
      REQUIRE(poll(&p, 1, 5000) == 1);
      char buf[65536];
      ssize_t n = io.read(buf, sizeof buf);
      REQUIRE(n > 0);
      dec.feed(buf, size_t(n));
    }
    return f;
  }
  // Next frame that is not a WINDOW_UPDATE.
  Frame nextNonWindow() {
    for (;;) {
      Frame f = next();
      if (f.type != FrameType::WindowUpdate) return f;
    }
  }
};

}  // namespace

TEST_CASE("spdy: header blocks round-trip and keep multi-values and binary bytes") {
  Headers h = {{"streamtype", "data"}, {"port", "8080"}, {"x-multi", std::string("a\0b", 3)}, {"empty", ""}};
  auto block = encodeHeaderBlock(h);
  CHECK(parseHeaderBlock(block) == h);
  CHECK(headerValue(h, "x-multi") == "a");
  CHECK(headerValue(h, "missing") == "");
  CHECK_THROWS_AS(parseHeaderBlock(block.substr(0, block.size() - 1)), ProtocolError);
  CHECK_THROWS_AS(parseHeaderBlock(block + "x"), ProtocolError);
  CHECK_THROWS_AS(parseHeaderBlock(encodeHeaderBlock({{"Upper", "x"}})), ProtocolError);
  CHECK_THROWS_AS(parseHeaderBlock(encodeHeaderBlock({{"", "x"}})), ProtocolError);
  std::string liar("\xff\xff\xff\xff", 4);
  CHECK_THROWS_WITH_AS(parseHeaderBlock(liar), doctest::Contains("claims"), ProtocolError);
}

TEST_CASE("spdy: one compression context per direction spans many blocks") {
  HeaderCompressor c;
  HeaderDecompressor d;
  for (int i = 0; i < 50; ++i) {
    Headers h = {{"streamtype", i % 2 ? "error" : "data"}, {"port", std::to_string(8000 + i)},
                 {"requestid", std::to_string(i)}};
    auto z = c.compress(h);
    // Later blocks refer back to earlier ones: they get small.
    if (i > 5) CHECK(z.size() < encodeHeaderBlock(h).size());
    CHECK(d.decompress(z.data(), z.size()) == h);
  }
  // A fresh decompressor cannot read a block from the middle of a stream.
  HeaderDecompressor fresh;
  auto z = c.compress({{"a", "b"}});
  CHECK_THROWS_AS(fresh.decompress(z.data(), z.size()), ProtocolError);
}

TEST_CASE("spdy: oversized and corrupt header blocks are rejected") {
  HeaderCompressor c;
  HeaderDecompressor d(1024);
  auto z = c.compress({{"big", std::string(5000, 'x')}});
  CHECK(z.size() < 1024);  // compresses well, but inflates past the limit
  CHECK_THROWS_WITH_AS(d.decompress(z.data(), z.size()), doctest::Contains("larger than 1024"), ProtocolError);
  HeaderDecompressor d2;
  std::string junk = "\x78\x01garbage that is not deflate";
  CHECK_THROWS_AS(d2.decompress(junk.data(), junk.size()), ProtocolError);
}

TEST_CASE("spdy: every frame type round-trips through the decoder, also fed byte by byte") {
  FrameEncoder e;
  std::string wire;
  wire += e.synStream(1, 0, 3, {{"streamtype", "error"}}, kFlagFin);
  wire += e.synReply(1, {});
  wire += e.headers(3, {{"a", "b"}}, kFlagFin);
  wire += FrameEncoder::rstStream(5, kCancel);
  wire += FrameEncoder::settings({{kSettingsInitialWindowSize, 1 << 20}, {kSettingsMaxConcurrentStreams, 100}});
  wire += FrameEncoder::ping(7);
  wire += FrameEncoder::windowUpdate(1, 4096);
  wire += FrameEncoder::data(1, "hello", 5, kFlagFin);
  wire += FrameEncoder::data(3, "", 0, 0);
  wire += FrameEncoder::goAway(9, kGoAwayOk);

  for (bool bytewise : {false, true}) {
    std::vector<Frame> fs;
    if (!bytewise) {
      fs = decodeAll(wire);
    } else {
      FrameDecoder d;
      Frame f;
      for (char ch : wire) {
        d.feed(&ch, 1);
        while (d.next(f)) fs.push_back(f);
      }
    }
    REQUIRE(fs.size() == 10);
    CHECK(fs[0].type == FrameType::SynStream);
    CHECK(fs[0].streamId == 1);
    CHECK(fs[0].priority == 3);
    CHECK(fs[0].flags == kFlagFin);
    CHECK(headerValue(fs[0].headers, "streamtype") == "error");
    CHECK(fs[1].type == FrameType::SynReply);
    CHECK(fs[1].headers.empty());
    CHECK(fs[2].type == FrameType::Headers);
    CHECK(headerValue(fs[2].headers, "a") == "b");
    CHECK((fs[3].type == FrameType::RstStream && fs[3].streamId == 5 && fs[3].status == kCancel));
    CHECK(fs[4].type == FrameType::Settings);
    REQUIRE(fs[4].settings.size() == 2);
    CHECK(fs[4].settings[0] == std::make_pair(kSettingsInitialWindowSize, uint32_t(1 << 20)));
    CHECK((fs[5].type == FrameType::Ping && fs[5].pingId == 7));
    CHECK((fs[6].type == FrameType::WindowUpdate && fs[6].streamId == 1 && fs[6].delta == 4096));
    CHECK((fs[7].type == FrameType::Data && fs[7].streamId == 1 && fs[7].data == "hello" && fs[7].flags == kFlagFin));
    CHECK((fs[8].type == FrameType::Data && fs[8].data.empty()));
    CHECK((fs[9].type == FrameType::GoAway && fs[9].lastGoodStreamId == 9 && fs[9].status == kGoAwayOk));
  }
}

TEST_CASE("spdy: malformed frames are rejected with a clear error") {
  auto reject = [](const std::string& wire, const std::string& msg) {
    FrameDecoder d(4096, 1 << 16);
    d.feed(wire.data(), wire.size());
    Frame f;
    CHECK_THROWS_WITH_AS(d.next(f), doctest::Contains(msg.c_str()), ProtocolError);
  };
  auto ctl = [](uint16_t version, uint16_t type, uint8_t flags, const std::string& body) {
    std::string f;
    uint32_t w0 = 0x80000000u | uint32_t(version) << 16 | type, w1 = uint32_t(flags) << 24 | uint32_t(body.size());
    for (int i = 3; i >= 0; --i) f += char(w0 >> (i * 8));
    for (int i = 3; i >= 0; --i) f += char(w1 >> (i * 8));
    return f + body;
  };
  reject(ctl(2, 6, 0, std::string(4, '\0')), "unsupported version 2");
  reject(ctl(3, 6, 0, std::string(5, '\0')), "PING frame has length 5");
  reject(ctl(3, 3, 0, std::string(4, '\0')), "RST_STREAM frame has length 4");
  reject(ctl(3, 3, 0, std::string(8, '\0')), "RST_STREAM for stream 0");
  reject(ctl(3, 9, 0, std::string("\0\0\0\1\0\0\0\0", 8)), "zero delta");
  reject(ctl(3, 4, 0, std::string("\0\0\0\5", 4)), "SETTINGS frame length");
  reject(ctl(3, 1, 0, std::string(9, '\0')), "SYN_STREAM frame too short");
  reject(ctl(3, 1, 0, std::string("\0\0\0\1\0\0\0\0\0\0garbage", 17)), "corrupt compressed header block");
  reject(ctl(3, 6, 0, std::string(5000, '\0')), "control frame of 5000 bytes exceeds the limit");
  reject(FrameEncoder::data(0, "x", 1), "DATA frame for stream 0");
  reject(FrameEncoder::data(1, std::string(70000, 'x').data(), 70000), "DATA frame of 70000 bytes");
  std::string badFlags = FrameEncoder::data(1, "x", 1);
  badFlags[4] = 0x40;
  reject(badFlags, "unknown flags");
  // Unknown control types are skipped, not errors (the spec says ignore them).
  FrameDecoder d;
  auto unknown = ctl(3, 42, 0, "abcd");
  d.feed(unknown.data(), unknown.size());
  Frame f;
  REQUIRE(d.next(f));
  CHECK(f.unknownType == 42);
}

TEST_CASE("spdy: bounded fuzz of the decoder never crashes") {
  std::mt19937 rng(12345);
  FrameEncoder e;
  std::string valid;
  valid += e.synStream(1, 0, 0, {{"streamtype", "data"}, {"port", "80"}, {"requestid", "0"}});
  valid += FrameEncoder::data(1, "payload", 7);
  valid += FrameEncoder::windowUpdate(1, 100);
  valid += FrameEncoder::settings({{7, 1000}});
  valid += FrameEncoder::ping(1);
  int errors = 0, frames = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string in = valid;
    if (iter % 3 == 0) {
      in.resize(rng() % 200);
      for (auto& c : in) c = char(rng());
    } else {
      for (int k = 0, flips = 1 + int(rng() % 4); k < flips; ++k) in[rng() % in.size()] = char(rng());
    }
    FrameDecoder d(1 << 16, 1 << 16);
    try {
      size_t pos = 0;
      Frame f;
      while (pos < in.size()) {
        size_t n = std::min<size_t>(in.size() - pos, 1 + rng() % 64);
        d.feed(in.data() + pos, n);
        pos += n;
        while (d.next(f)) ++frames;
      }
    } catch (const ProtocolError& ex) {
      ++errors;
      CHECK(std::string(ex.what()).rfind("spdy: ", 0) == 0);
    }
  }
  CHECK(errors > 100);  // mutations are caught...
  CHECK(frames > 100);  // ...and intact frames still decode
}

TEST_CASE("spdy: session answers streams, delivers data with FIN, echoes pings, honours resets") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FdStream serverIo(sv[0]);
  Session session(serverIo);
  std::vector<std::thread> workers;
  std::mutex mu;
  std::vector<std::string> seenTypes;
  std::thread serve([&] {
    session.serve([&](std::shared_ptr<Stream> s) {
      {
        std::lock_guard<std::mutex> l(mu);
        seenTypes.push_back(s->header("streamtype"));
      }
      // Echo everything back upper-cased, then FIN.
      workers.emplace_back([s] {
        char buf[1024];
        ssize_t n;
        while ((n = s->read(buf, sizeof buf)) > 0) {
          for (ssize_t i = 0; i < n; ++i) buf[i] = char(toupper(buf[i]));
          if (!s->write(buf, size_t(n))) return;
        }
        s->closeWrite();
      });
    });
  });
  Peer c(sv[1]);
  c.send(c.enc.synStream(1, 0, 0, {{"streamtype", "data"}}));
  Frame r = c.next();
  CHECK((r.type == FrameType::SynReply && r.streamId == 1));
  c.send(FrameEncoder::data(1, "hello ", 6));
  c.send(FrameEncoder::data(1, "world", 5, kFlagFin));
  std::string got;
  for (;;) {
    Frame f = c.nextNonWindow();
    REQUIRE(f.type == FrameType::Data);
    got += f.data;
    if (f.flags & kFlagFin) break;
  }
  CHECK(got == "HELLO WORLD");

  c.send(FrameEncoder::ping(5));
  Frame p = c.nextNonWindow();
  CHECK((p.type == FrameType::Ping && p.pingId == 5));

  // A second stream (header compression continues across blocks), then reset by the client.
  c.send(c.enc.synStream(3, 0, 0, {{"streamtype", "error"}}));
  CHECK(c.next().type == FrameType::SynReply);
  c.send(FrameEncoder::rstStream(3, kCancel));
  // An even (server-side) id is refused, and so is an id that is open right now.
  c.send(c.enc.synStream(4, 0, 0, {{"streamtype", "even"}}));
  Frame rst = c.nextNonWindow();
  CHECK((rst.type == FrameType::RstStream && rst.streamId == 4 && rst.status == kProtocolError));
  c.send(c.enc.synStream(7, 0, 0, {{"streamtype", "open"}}));
  CHECK(c.next().type == FrameType::SynReply);
  c.send(c.enc.synStream(7, 0, 0, {{"streamtype", "again"}}));
  Frame rst1 = c.nextNonWindow();
  CHECK((rst1.type == FrameType::RstStream && rst1.streamId == 7 && rst1.status == kProtocolError));
  // Slightly out of order (concurrent stream creation in spdystream) is accepted.
  c.send(c.enc.synStream(5, 0, 0, {{"streamtype", "late"}}));
  CHECK(c.next().type == FrameType::SynReply);
  c.send(FrameEncoder::data(5, "", 0, kFlagFin));
  c.send(FrameEncoder::data(7, "", 0, kFlagFin));
  // Data for a stream never opened.
  c.send(FrameEncoder::data(99, "x", 1));
  Frame rst2 = c.nextNonWindow();
  while (rst2.type == FrameType::Data) rst2 = c.nextNonWindow();  // the echo streams' FINs may come first
  CHECK((rst2.type == FrameType::RstStream && rst2.streamId == 99 && rst2.status == kInvalidStream));

  c.send(FrameEncoder::goAway(0, kGoAwayOk));
  serve.join();
  for (auto& w : workers) w.join();
  CHECK(seenTypes == std::vector<std::string>{"data", "error", "open", "late"});
}

TEST_CASE("spdy: a peer that does flow control is never sent more than its window") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FdStream serverIo(sv[0]);
  Session session(serverIo);
  std::thread writer;
  std::atomic<bool> wrote{false};
  std::thread serve([&] {
    session.serve([&](std::shared_ptr<Stream> s) {
      writer = std::thread([s, &wrote] {
        std::string big(200 * 1024, 'x');
        wrote = s->write(big);
        s->closeWrite();
      });
    });
  });
  Peer c(sv[1]);
  // Announce flow control before the stream exists, so the writer honours the window from its first byte.
  c.send(FrameEncoder::windowUpdate(0, 1 << 20));  // session level (SPDY/3.1)
  c.send(FrameEncoder::windowUpdate(1, 1));        // per stream: unknown stream, but it tells
  c.send(c.enc.synStream(1, 0, 0, {{"streamtype", "data"}}, kFlagFin));
  CHECK(c.next().type == FrameType::SynReply);
  size_t received = 0;
  bool fin = false;
  auto readUntilBoundary = [&] {
    do {
      Frame f = c.next();
      REQUIRE(f.type == FrameType::Data);
      received += f.data.size();
      fin = f.flags & kFlagFin;
    } while (!fin && received % (64 * 1024) != 0);
  };
  readUntilBoundary();
  CHECK(received == 64 * 1024);
  // Nothing more arrives until the window opens.
  pollfd pf{sv[1], POLLIN, 0};
  CHECK(poll(&pf, 1, 200) == 0);
  while (!fin) {
    c.send(FrameEncoder::windowUpdate(1, 64 * 1024));
    readUntilBoundary();
  }
  CHECK(received == 200 * 1024);
  writer.join();
  CHECK(wrote);
  c.io.shutdown();
  serve.join();
}

// A stream like the WebSocket tunnel below a session: it scribbles over all the room it is
// lent (as a layer writing its header there would) before writing the frame, so room that was
// not really free shows up as corrupted data.
class ScribblingStream : public FdStream {
 public:
  using FdStream::FdStream;
  bool writeInPlace(char* buf, size_t n, size_t room) override {
    memset(buf - room, 0xAA, room);
    lent += room;
    return writeAll(buf, n);
  }
  std::atomic<size_t> lent{0};
};

TEST_CASE("spdy: writeInPlace frames data where it is, in chunks and within the peer's window") {
  for (bool flowControl : {false, true}) {
    CAPTURE(flowControl);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    ScribblingStream serverIo(sv[0]);
    Session session(serverIo);
    std::string want((5 << 19) + 5, '\0');  // more than two 1 MiB frames
    for (size_t i = 0; i < want.size(); ++i) want[i] = char(i * 7 + (i >> 9));
    std::thread writer;
    std::atomic<bool> wrote{false};
    std::thread serve([&] {
      session.serve([&](std::shared_ptr<Stream> s) {
        writer = std::thread([s, &wrote, &want] {
          std::vector<char> buf(kFrameHeadroom + want.size());
          memcpy(buf.data() + kFrameHeadroom, want.data(), want.size());
          wrote = s->writeInPlace(buf.data() + kFrameHeadroom, want.size(), kFrameHeadroom);
          s->closeWrite();
        });
      });
    });
    Peer c(sv[1]);
    if (flowControl) {  // odd window sizes: chunks end anywhere
      c.send(FrameEncoder::windowUpdate(0, 1 << 24));
      c.send(FrameEncoder::windowUpdate(1, 1));
    }
    c.send(c.enc.synStream(1, 0, 0, {{"streamtype", "data"}}, kFlagFin));
    CHECK(c.next().type == FrameType::SynReply);
    std::string got;
    size_t frames = 0;
    for (size_t granted = 64 * 1024;;) {
      Frame f = c.next();
      REQUIRE(f.type == FrameType::Data);
      got += f.data;
      frames += !f.data.empty();
      if (f.flags & kFlagFin) break;
      if (flowControl && got.size() == granted) {
        c.send(FrameEncoder::windowUpdate(1, 40009));
        granted += 40009;
      }
    }
    writer.join();
    CHECK(wrote);
    CHECK(got.size() == want.size());
    CHECK(got == want);
    CHECK(frames >= 3);
    CHECK(serverIo.lent > 0);
    c.io.shutdown();
    serve.join();
  }
}

TEST_CASE("spdy: a malformed frame ends the session with GOAWAY(PROTOCOL_ERROR) and a reason") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FdStream serverIo(sv[0]);
  Session session(serverIo);
  std::string why;
  std::thread serve([&] { why = session.serve([](std::shared_ptr<Stream>) {}); });
  Peer c(sv[1]);
  c.send(std::string("GET / HTTP/1.1\r\n\r\n"));
  Frame g = c.next();
  CHECK((g.type == FrameType::GoAway && g.status == kGoAwayProtocolError));
  serve.join();
  CHECK(why.find("spdy: ") == 0);
}
