// A byte stream after an HTTP upgrade (SPDY/3.1, WebSocket): the API server's
// TLS connection taken over from cpp-httplib, or a client's own TLS dial.
// The framing layers (common/spdy.h, common/websocket.h) sit on top of it.
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace httplib {
struct Request;
}

namespace k1s {

// Room a sender leaves in front of its bytes for writeInPlace and Channel::writeInPlace: a
// WebSocket header (at most 14 bytes) around a SPDY DATA header (8) or a channel byte (1).
constexpr size_t kFrameHeadroom = 32;

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // One reader thread at a time: blocks until some bytes (> 0), the end of the
  // stream (0) or an error (< 0).
  virtual ssize_t read(void* buf, size_t n) = 0;
  // Any thread; whole writes are serialized. False once the connection is gone.
  virtual bool writeAll(const void* buf, size_t n) = 0;
  bool writeAll(const std::string& s) { return writeAll(s.data(), s.size()); }
  // writeAll for a caller that also lends the `room` bytes just before buf (buf - room .. buf)
  // and lets buf itself be changed: a framing layer over this stream (WebSocket messages
  // carrying SPDY) writes its frame header there and passes header + payload down as one
  // buffer, instead of copying the payload into a new frame.
  virtual bool writeInPlace(char* buf, size_t n, size_t room) { return writeAll(buf, n); }
  // Ends both directions: a blocked read returns 0, later writes fail.
  virtual void shutdown() = 0;
};

// Server side. Takes over the TLS connection of a request the API server is
// handling (cpp-httplib 0.11 has no upgrade hook). The handler owns the
// connection until it returns; it calls shutdown() first, so cpp-httplib's own
// attempt to answer afterwards fails harmlessly and it closes the socket.
// Throws std::runtime_error when the request did not come over TLS.
std::unique_ptr<ByteStream> takeOverConnection(const httplib::Request& req);

// Ends every connection taken over so far (the API server's stop: a client
// holding a port-forward open must not keep the daemon from exiting).
void shutdownTakenOverConnections();

// Writes "HTTP/1.1 101 Switching Protocols" with these headers.
bool sendSwitchingProtocols(ByteStream& s, const std::vector<std::pair<std::string, std::string>>& headers);

// Client side (the k1s CLI): TLS to host:port, the server certificate checked
// against caPem unless insecure; a client certificate when given.
struct TlsDialOptions {
  std::string host;
  int port = 443;
  std::string caPem;
  bool insecure = false;
  std::string clientCertPem, clientKeyPem;
};
std::unique_ptr<ByteStream> dialTls(const TlsDialOptions& o);  // throws std::runtime_error

}  // namespace k1s
