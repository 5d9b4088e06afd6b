// WebSocket (RFC 6455) over a ByteStream: the handshakes for both ends, a
// frame decoder that never trusts its input, and a message-level connection
// (fragments reassembled, pings answered, close handshake).
// Used by the API server for exec/attach/port-forward over WebSocket and by
// the k1s CLI as their client.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/byte_stream.h"

namespace k1s::ws {

enum class Opcode : uint8_t { Continuation = 0, Text = 1, Binary = 2, Close = 8, Ping = 9, Pong = 10 };

// Close codes used here (RFC 6455 section 7.4.1).
constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseGoingAway = 1001;
constexpr uint16_t kCloseProtocolError = 1002;
constexpr uint16_t kCloseInvalidData = 1007;
constexpr uint16_t kCloseTooBig = 1009;
constexpr uint16_t kCloseInternalError = 1011;

// A peer broke the protocol. closeCode is what we send back before hanging up.
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(uint16_t code, const std::string& what) : std::runtime_error(what), closeCode(code) {}
  uint16_t closeCode;
};

// ---- handshake -------------------------------------------------------------

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string acceptKey(const std::string& clientKey);

// The server's view of an upgrade request: headers looked up case-insensitively.
struct UpgradeRequest {
  std::string method;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string header(const std::string& lowerName) const;
};

// True when the request asks for a WebSocket (Connection: upgrade + Upgrade: websocket).
bool isWebSocketUpgrade(const UpgradeRequest& r);

struct ServerHandshake {
  bool ok = false;
  int httpStatus = 400;   // when !ok
  std::string error;      // when !ok: why, worded for a Status message
  std::string protocol;   // chosen subprotocol ("" when the client offered none)
  std::vector<std::pair<std::string, std::string>> responseHeaders;  // for the 101
};

// Checks method, version and key, and picks the first of the client's offered
// subprotocols (Sec-WebSocket-Protocol, in the client's order) that `supported`
// contains. An offer that matches nothing fails with the list of supported ones.
// With no offer at all the result is ok with protocol "" only if allowNone.
ServerHandshake negotiate(const UpgradeRequest& r, const std::vector<std::string>& supported, bool allowNone);

// ---- frames ----------------------------------------------------------------

struct Frame {
  bool fin = true;
  Opcode opcode = Opcode::Binary;
  std::string payload;  // unmasked
};

// Encodes one frame; with mask (client to server) a fresh random key is used.
std::string encodeFrame(Opcode op, const void* data, size_t n, bool fin, bool mask);
// The same with a payload of `prefix` followed by `data`, built in one buffer
// (a channel byte and its bytes without an intermediate copy).
std::string encodeFrame(Opcode op, const void* prefix, size_t pn, const void* data, size_t n, bool fin, bool mask);
// The header alone: its size for a payload of n bytes (2..14), and the header written to out
// (that many bytes) with the masking key in `key` when mask (the caller masks the payload).
size_t frameHeaderSize(size_t n, bool mask);
void writeFrameHeader(char* out, Opcode op, size_t n, bool fin, bool mask, const unsigned char key[4]);

// Incremental decoder. Role decides which masking the peer must use: a server
// rejects unmasked frames, a client rejects masked ones.
class FrameDecoder {
 public:
  FrameDecoder(bool expectMasked, size_t maxFramePayload) : expectMasked_(expectMasked), maxPayload_(maxFramePayload) {}
  void feed(const char* data, size_t n) { buf_.append(data, n); }
  // True with a frame when one is complete, false when more bytes are needed;
  // throws ProtocolError on a malformed frame (the decoder is then unusable).
  bool next(Frame& out);
  size_t buffered() const { return buf_.size() - pos_; }

  // The head of the next frame, once its header bytes are all here (checked as next() checks
  // them), for a reader that takes a large payload straight from the stream into its message
  // instead of through this buffer: takePartial() then removes the header and moves the part
  // of the payload already buffered (at most the payload) to `out`, returning its size.
  struct Head {
    bool fin = true;
    Opcode opcode = Opcode::Binary;
    bool masked = false;
    unsigned char key[4] = {0, 0, 0, 0};
    size_t headerSize = 0, payloadSize = 0;
  };
  bool head(Head& h) const;
  size_t takePartial(const Head& h, char* out);

 private:
  bool expectMasked_;
  size_t maxPayload_;
  std::string buf_;
  size_t pos_ = 0;
};

// ---- connection ------------------------------------------------------------

struct Message {
  Opcode type = Opcode::Binary;  // Text or Binary
  std::string data;
};

class Connection {
 public:
  enum class Role { Server, Client };
  // `preread`: bytes that arrived after the handshake (already read off the stream).
  Connection(std::unique_ptr<ByteStream> stream, Role role, size_t maxMessage = kDefaultMaxMessage,
             std::string preread = "");
  ~Connection();
  static constexpr size_t kDefaultMaxMessage = 16u << 20;

  // One reader thread. Returns the next data message; answers pings and
  // reassembles fragments on the way. False when the peer closed (closeCode()
  // and closeReason() tell how) or the stream ended. A protocol violation
  // sends a close with the matching code and throws ProtocolError.
  bool read(Message& m);
  // Any thread; each call is one whole frame on the wire. False once closed.
  bool send(Opcode type, const void* data, size_t n);
  // One frame whose payload is prefix + data (e.g. a channel byte and the channel's bytes).
  bool send(Opcode type, const void* prefix, size_t pn, const void* data, size_t n);
  // One frame of the n bytes at p, its header written into the `room` bytes before p when they
  // suffice (no copy of the payload; a client masks p in place), else as send().
  bool sendInPlace(Opcode type, char* p, size_t n, size_t room);
  bool sendBinary(const std::string& s) { return send(Opcode::Binary, s.data(), s.size()); }
  bool sendText(const std::string& s) { return send(Opcode::Text, s.data(), s.size()); }
  bool ping(const std::string& payload = "");
  // Sends a close frame (once); the stream stays open for the peer's reply.
  void close(uint16_t code = kCloseNormal, const std::string& reason = "");
  // Ends the underlying stream at once (unblocks a reader).
  void shutdown();

  uint16_t closeCode() const { return closeCode_; }
  const std::string& closeReason() const { return closeReason_; }
  ByteStream& stream() { return *stream_; }

 private:
  bool sendFrame(Opcode op, const void* data, size_t n);
  std::unique_ptr<ByteStream> stream_;
  Role role_;
  size_t maxMessage_;
  FrameDecoder decoder_;
  std::atomic<bool> closeSent_{false};
  uint16_t closeCode_ = 0;
  std::string closeReason_;
};

// Client side: sends the upgrade request over an already connected stream
// (e.g. dialTls) and checks the 101 reply. `protocols` are offered in order;
// the one the server chose is stored in *chosen. A non-101 reply throws
// HandshakeRejected with its status and body (often a Kubernetes Status).
class HandshakeRejected : public std::runtime_error {
 public:
  HandshakeRejected(int status, std::string body, const std::string& what)
      : std::runtime_error(what), status(status), body(std::move(body)) {}
  int status;
  std::string body;
};
struct ClientRequest {
  std::string host;  // Host header (host:port)
  std::string path;  // path and query
  std::vector<std::string> protocols;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
};
std::unique_ptr<Connection> clientHandshake(std::unique_ptr<ByteStream> stream, const ClientRequest& req,
                                            std::string* chosen, size_t maxMessage = Connection::kDefaultMaxMessage);

// A ByteStream whose bytes travel as binary WebSocket messages without any
// prefix (kubectl 1.33's SPDY-over-WebSocket port-forward tunnel).
std::unique_ptr<ByteStream> messageStream(std::shared_ptr<Connection> c);

}  // namespace k1s::ws
