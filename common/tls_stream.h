// The ByteStream over one TLS connection that both ends of an upgrade use
// (common/byte_stream.cpp: the API server's taken-over connection;
// common/byte_stream_client.cpp: the CLI's dial).
//
// One SSL object serves a reader thread and writer threads. OpenSSL does not
// allow concurrent calls on one SSL, so every SSL call holds sslMu_ and the
// socket is made non-blocking: a call that would block releases the lock and
// waits in poll(), letting the other direction go on meanwhile.
#pragma once
#include <openssl/ssl.h>

#include <atomic>
#include <mutex>

#include "common/byte_stream.h"

namespace k1s {

class TlsStream : public ByteStream {
 public:
  // Neither the SSL nor the socket is owned here; subclasses decide.
  TlsStream(SSL* ssl, int fd);
  ssize_t read(void* buf, size_t n) override;
  bool writeAll(const void* buf, size_t n) override;
  void shutdown() override;  // close_notify (best effort), then shutdown(2) wakes poll()ers

 protected:
  SSL* ssl_;
  int fd_;

 private:
  bool waitFor(short events);
  bool writeLocked(const char* p, size_t n);  // under writeMu_
  std::mutex sslMu_, writeMu_;
  std::atomic<bool> closed_{false};
};

}  // namespace k1s
