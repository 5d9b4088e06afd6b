// SPDY/3.1 as Kubernetes streams use it (kubectl's exec, attach and
// port-forward; spdystream on the Go side): frame encoding and an incremental
// decoder that never trusts its input, zlib header-block compression with the
// SPDY/3 dictionary, and a session that multiplexes streams over a ByteStream.
//
// The session runs over any ByteStream: the API server's taken-over TLS
// connection, or an adapter over WebSocket binary messages (kubectl 1.33's
// "SPDY/3.1+portforward.k8s.io" tunnel).
#pragma once
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/byte_stream.h"

typedef struct z_stream_s z_stream;

namespace k1s::spdy {

constexpr uint16_t kVersion = 3;
constexpr uint8_t kFlagFin = 0x01;
constexpr uint8_t kFlagUnidirectional = 0x02;  // SYN_STREAM only
constexpr int32_t kDefaultWindow = 64 * 1024;   // initial stream (and session) window
constexpr size_t kMaxDataPayload = (1u << 24) - 1;  // the 24-bit length field

enum class FrameType : uint16_t {
  Data = 0,  // not a control frame
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
};

// RST_STREAM status codes.
enum RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
  kFrameTooLarge = 11,
};

// GOAWAY status codes.
enum GoAwayStatus : uint32_t { kGoAwayOk = 0, kGoAwayProtocolError = 1, kGoAwayInternalError = 2 };

// SETTINGS ids used here.
constexpr uint32_t kSettingsMaxConcurrentStreams = 4;
constexpr uint32_t kSettingsInitialWindowSize = 7;

// The peer broke the framing; the connection cannot continue.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Header names are lower-case; a value holding several values separates them with NUL.
using Headers = std::vector<std::pair<std::string, std::string>>;
std::string headerValue(const Headers& h, const std::string& lowerName);  // first value, "" when absent

// The uncompressed name/value block (32-bit counts and lengths).
std::string encodeHeaderBlock(const Headers& h);
// Throws ProtocolError when malformed (truncated, trailing bytes, empty or upper-case name).
Headers parseHeaderBlock(const std::string& block);

// One direction of a connection's header compression: a single zlib stream
// primed with the SPDY/3 dictionary, flushed (Z_SYNC_FLUSH) after each block.
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;
  std::string compress(const Headers& h);

 private:
  z_stream* z_;
};

class HeaderDecompressor {
 public:
  explicit HeaderDecompressor(size_t maxBlock = 256 * 1024);
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;
  // Throws ProtocolError on corrupt input or a block larger than maxBlock.
  Headers decompress(const char* data, size_t n);

 private:
  z_stream* z_;
  size_t maxBlock_;
  bool broken_ = false;
};

struct Frame {
  FrameType type = FrameType::Data;
  uint8_t flags = 0;
  uint32_t streamId = 0;       // DATA, SYN_*, RST, HEADERS, WINDOW_UPDATE (0: session)
  uint32_t associatedId = 0;   // SYN_STREAM
  uint8_t priority = 0;        // SYN_STREAM
  uint32_t status = 0;         // RST_STREAM, GOAWAY
  uint32_t lastGoodStreamId = 0;  // GOAWAY
  uint32_t pingId = 0;
  uint32_t delta = 0;          // WINDOW_UPDATE
  std::vector<std::pair<uint32_t, uint32_t>> settings;  // id, value
  Headers headers;             // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;            // DATA payload
  uint16_t unknownType = 0;    // a control frame type this code does not know (ignored by sessions)
};

// Builds frames; owns the outgoing header compression context, so one encoder
// per connection direction and frames must go out in the order encoded.
class FrameEncoder {
 public:
  std::string synStream(uint32_t id, uint32_t associated, uint8_t priority, const Headers& h, uint8_t flags = 0);
  std::string synReply(uint32_t id, const Headers& h, uint8_t flags = 0);
  std::string headers(uint32_t id, const Headers& h, uint8_t flags = 0);
  static std::string rstStream(uint32_t id, uint32_t status);
  static std::string settings(const std::vector<std::pair<uint32_t, uint32_t>>& s);
  static std::string ping(uint32_t id);
  static std::string goAway(uint32_t lastGood, uint32_t status);
  static std::string windowUpdate(uint32_t id, uint32_t delta);
  static std::string data(uint32_t id, const void* p, size_t n, uint8_t flags = 0);
  static void dataHeader(char out[8], uint32_t id, size_t n, uint8_t flags);

 private:
  std::string control(FrameType t, uint8_t flags, const std::string& body);
  HeaderCompressor compressor_;
};

// Incremental decoder for one direction. feed() bytes as they arrive; next()
// yields complete frames. Any malformed frame throws ProtocolError and the
// decoder is unusable afterwards.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t maxControlFrame = 1 << 20, size_t maxDataFrame = kMaxDataPayload)
      : maxControl_(maxControlFrame), maxData_(maxDataFrame) {}
  void feed(const char* data, size_t n);
  bool next(Frame& out);
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  void parseControl(uint16_t version, uint16_t type, uint8_t flags, const char* p, size_t n, Frame& f);
  size_t maxControl_, maxData_;
  std::string buf_;
  size_t pos_ = 0;
  HeaderDecompressor decompressor_;
};

class Session;

// A stream of a session. Reads on one thread, writes on any thread.
class Stream {
 public:
  uint32_t id() const { return id_; }
  const Headers& headers() const { return headers_; }
  std::string header(const std::string& lowerName) const { return headerValue(headers_, lowerName); }
  // Blocks for received data: > 0 bytes, 0 once the peer finished (FIN),
  // reset the stream or the session ended.
  ssize_t read(void* buf, size_t n);
  // Sends as DATA frames of at most 1 MiB; waits for the peer's window when
  // the peer does flow control. False when the stream is reset or the session gone.
  bool write(const void* data, size_t n);
  bool write(const std::string& s) { return write(s.data(), s.size()); }
  // write() for a caller that lends the `room` bytes before data (ByteStream::writeInPlace):
  // each DATA frame's 8-byte header is written just before its chunk (over the tail of the
  // chunk already sent) and the frame goes out without a copy of the payload.
  bool writeInPlace(char* data, size_t n, size_t room);
  void closeWrite();  // FIN (once)
  void reset(uint32_t status = kCancel);
  bool isReset() const;

 private:
  friend class Session;
  Stream(Session& s, uint32_t id, Headers h) : session_(s), id_(id), headers_(std::move(h)) {}
  Session& session_;
  uint32_t id_;
  Headers headers_;
  // Guarded by session_.mu_.
  std::deque<std::string> inbound_;
  size_t inboundBytes_ = 0, inboundOffset_ = 0;
  size_t unacked_ = 0;  // consumed bytes not yet announced with WINDOW_UPDATE
  int64_t sendWindow_ = kDefaultWindow;
  bool remoteFin_ = false, localFin_ = false, reset_ = false;
  std::condition_variable cv_;
};

struct SessionOptions {
  size_t maxInboundPerStream = 1 << 20;  // queued unread bytes before the reader waits (peers without flow control)
  int maxStreams = 1000;                 // concurrently open peer streams
};

// The server side of a connection: the peer opens streams, each one is
// answered with an empty SYN_REPLY and handed to onStream.
class Session {
 public:
  using StreamHandler = std::function<void(std::shared_ptr<Stream>)>;
  Session(ByteStream& io, SessionOptions o = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // Reads and dispatches frames on the calling thread until the connection
  // ends. onStream runs on this thread: it must not block for long. Returns
  // "" after a clean end (EOF, GOAWAY) or why the session failed (a protocol
  // error is answered with GOAWAY first).
  std::string serve(const StreamHandler& onStream);
  // Sends GOAWAY(OK) once; streams in flight may finish.
  void goAway();
  // Ends the connection: serve() returns, blocked reads/writes give up.
  void shutdown();
  bool closed() const;

 private:
  friend class Stream;
  bool sendRaw(const std::string& frame);
  bool sendData(Stream& s, const char* p, size_t n, bool fin);
  // Waits for the send windows, then returns how much of n may go in the next frame (0: the
  // stream or the session is gone).
  size_t reserveSend(Stream& s, size_t n);
  void consumed(Stream& s, size_t n);  // under mu_
  void finishStream(Stream& s);        // under mu_: forget a fully closed stream
  void handle(Frame& f, const StreamHandler& onStream);
  void failAll();

  ByteStream& io_;
  SessionOptions opts_;
  std::mutex writeMu_;  // frame order on the wire (and the header compressor)
  FrameEncoder encoder_;
  mutable std::mutex mu_;
  std::condition_variable windowCv_;
  std::map<uint32_t, std::shared_ptr<Stream>> streams_;
  uint32_t lastPeerStream_ = 0;
  int64_t sessionSendWindow_ = kDefaultWindow;
  size_t sessionUnacked_ = 0;
  int32_t peerInitialWindow_ = kDefaultWindow;
  bool peerFlowControl_ = false, peerSessionFlowControl_ = false;
  bool closed_ = false, goAwaySent_ = false;
};

}  // namespace k1s::spdy
