// The server end of an upgraded connection: the TLS connection of a request
// cpp-httplib is handling, taken over by the handler (httplib 0.11 has no
// upgrade hook). httplib reads the request head byte by byte, so nothing past
// it is buffered outside the SSL object, and SSL_read picks up whatever the
// SSL layer already decrypted.
//
// One SSL object serves a reader thread and writer threads. OpenSSL does not
// allow concurrent calls on one SSL, so every SSL call holds sslMu_ and the
// socket is made non-blocking: a call that would block releases the lock and
// waits in poll(), letting the other direction go on meanwhile.
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

namespace k1s {

namespace {

class TlsServerStream;
// Every taken-over connection, so that the API server's stop can end them:
// cpp-httplib's stop waits for its handler threads, and a port-forward or an
// exec holds one for as long as the client keeps it open.
std::mutex gLiveMu;
std::set<TlsServerStream*> gLive;

class TlsServerStream : public ByteStream {
 public:
  TlsServerStream(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {
    {
      std::lock_guard<std::mutex> l(gLiveMu);
      gLive.insert(this);
    }
    int fl = fcntl(fd_, F_GETFL);
    if (fl >= 0) fcntl(fd_, F_SETFL, fl | O_NONBLOCK);
    // A WANT_WRITE retry may come with the buffer at a new address (the caller's loop).
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  ~TlsServerStream() override {
    {
      std::lock_guard<std::mutex> l(gLiveMu);
      gLive.erase(this);
    }
    shutdown();
  }

  ssize_t read(void* buf, size_t n) override {
    for (;;) {
      if (closed_) return 0;
      int err;
      {
        std::lock_guard<std::mutex> l(sslMu_);
        int r = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
        if (r > 0) return r;
        err = SSL_get_error(ssl_, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) ERR_clear_error();
      }
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_WANT_READ) {
        if (!waitFor(POLLIN)) return 0;
      } else if (err == SSL_ERROR_WANT_WRITE) {
        if (!waitFor(POLLOUT)) return 0;
      } else if (err == SSL_ERROR_SYSCALL && errno == 0) {
        return 0;  // the peer closed the socket without close_notify
      } else {
        return closed_ ? 0 : -1;
      }
    }
  }

  bool writeAll(const void* buf, size_t n) override {
    std::lock_guard<std::mutex> whole(writeMu_);
    const char* p = static_cast<const char*>(buf);
    while (n > 0) {
      if (closed_) return false;
      int err;
      {
        std::lock_guard<std::mutex> l(sslMu_);
        int w = SSL_write(ssl_, p, static_cast<int>(std::min<size_t>(n, 1 << 30)));
        if (w > 0) {
          p += w;
          n -= static_cast<size_t>(w);
          continue;
        }
        err = SSL_get_error(ssl_, w);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) ERR_clear_error();
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        if (!waitFor(POLLOUT)) return false;
      } else if (err == SSL_ERROR_WANT_READ) {
        if (!waitFor(POLLIN)) return false;
      } else {
        return false;
      }
    }
    return true;
  }

  void shutdown() override {
    if (closed_.exchange(true)) return;
    {
      std::lock_guard<std::mutex> l(sslMu_);
      SSL_shutdown(ssl_);  // close_notify, best effort on the non-blocking socket
      ERR_clear_error();
    }
    ::shutdown(fd_, SHUT_RDWR);  // wakes a reader or writer in poll()
  }

 private:
  bool waitFor(short events) {
    pollfd p{fd_, events, 0};
    while (!closed_) {
      int r = poll(&p, 1, 1000);
      if (r > 0) return true;  // ready, or an error the next SSL call reports
      if (r < 0 && errno != EINTR) return false;
    }
    return false;
  }

  SSL* ssl_;
  int fd_;
  std::mutex sslMu_, writeMu_;
  std::atomic<bool> closed_{false};
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
