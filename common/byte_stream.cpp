// The server end of an upgraded connection: the TLS connection of a request
// cpp-httplib is handling, taken over by the handler (httplib 0.11 has no
// upgrade hook). httplib reads the request head byte by byte, so nothing past
// it is buffered outside the SSL object, and SSL_read picks up whatever the
// SSL layer already decrypted.
// The reading and writing is common/tls_stream.h's.
//
// The stream does not own the SSL or the socket: httplib frees and closes them
// after the handler returns. shutdown() sends close_notify and shuts the socket
// down, so httplib's own attempt to write an answer afterwards fails harmlessly.
#include <fcntl.h>
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <set>
#include <stdexcept>

#include "common/byte_stream.h"
#include "common/tls_stream.h"

namespace k1s {

namespace {

class TlsServerStream;
// Every taken-over connection, so that the API server's stop can end them:
// cpp-httplib's stop waits for its handler threads, and a port-forward or an
// exec holds one for as long as the client keeps it open.
std::mutex gLiveMu;
std::set<TlsServerStream*> gLive;

class TlsServerStream : public TlsStream {
 public:
  TlsServerStream(SSL* ssl, int fd) : TlsStream(ssl, fd) {
    std::lock_guard<std::mutex> l(gLiveMu);
    gLive.insert(this);
  }
  ~TlsServerStream() override {
    {
      std::lock_guard<std::mutex> l(gLiveMu);
      gLive.erase(this);
    }
    shutdown();
  }
};

}  // namespace

std::unique_ptr<ByteStream> takeOverConnection(const httplib::Request& req) {
  if (!req.ssl) throw std::runtime_error("upgrade: the request did not come over TLS");
  SSL* ssl = const_cast<SSL*>(req.ssl);
  int fd = SSL_get_fd(ssl);
  if (fd < 0) throw std::runtime_error("upgrade: the TLS connection has no socket");
  return std::make_unique<TlsServerStream>(ssl, fd);
}

void shutdownTakenOverConnections() {
  std::lock_guard<std::mutex> l(gLiveMu);
  for (auto* s : gLive) s->shutdown();
}

bool sendSwitchingProtocols(ByteStream& s, const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string head = "HTTP/1.1 101 Switching Protocols\r\n";
  for (auto& [k, v] : headers) head += k + ": " + v + "\r\n";
  head += "\r\n";
  return s.writeAll(head);
}

}  // namespace k1s
