// TlsStream: see common/tls_stream.h.
#include "common/tls_stream.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/net.h"

namespace k1s {

TlsStream::TlsStream(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {
  int fl = fcntl(fd_, F_GETFL);
  if (fl >= 0) fcntl(fd_, F_SETFL, fl | O_NONBLOCK);
  // A WANT_WRITE retry may come with the buffer at a new address (the caller's loop).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Without read-ahead OpenSSL reads every record with two read(2)s (its 5-byte
  // header, then its body); with it, one read takes whatever the socket holds
  // (up to the record buffer) and later SSL_read calls are served from memory.
  // Safe on a taken-over connection: cpp-httplib left no bytes outside the SSL.
  SSL_set_read_ahead(ssl_, 1);
}

ssize_t TlsStream::read(void* buf, size_t n) {
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

namespace {

// Writes from this size on are corked (see writeAll).
constexpr size_t kCorkFrom = 32 * 1024;

}  // namespace

bool TlsStream::writeAll(const void* buf, size_t n) {
  std::lock_guard<std::mutex> whole(writeMu_);  // whole writes never interleave
  // A large write leaves OpenSSL as one write(2) per 16 KiB record, and with TCP_NODELAY each
  // becomes its own segment: on loopback every segment runs the receiver's TCP path and wakes
  // it (a context switch per record). Corked, the records fill full-size segments; uncorking
  // at the end sends the rest at once, so small writes (exec, headers) keep no delay at all.
  bool cork = n >= kCorkFrom;
  if (cork) setTcpCork(fd_, true);
  bool ok = writeLocked(static_cast<const char*>(buf), n);
  if (cork) setTcpCork(fd_, false);
  return ok;
}

bool TlsStream::writeLocked(const char* p, size_t n) {
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

void TlsStream::shutdown() {
  if (closed_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> l(sslMu_);
    SSL_shutdown(ssl_);  // close_notify, best effort on the non-blocking socket
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_RDWR);  // wakes a reader or writer in poll()
}

bool TlsStream::waitFor(short events) {
  pollfd p{fd_, events, 0};
  while (!closed_) {
    int r = poll(&p, 1, 1000);
    if (r > 0) return true;  // ready, or an error the next SSL call reports
    if (r < 0 && errno != EINTR) return false;
  }
  return false;
}

}  // namespace k1s
