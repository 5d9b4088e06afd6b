// dialTls: the client end of an upgraded connection (k1s exec/attach/port-forward).
// The reading and writing is common/tls_stream.h's.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common/byte_stream.h"
#include "common/tls_stream.h"

namespace k1s {

namespace {

std::string sslErrorText() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Connects with a deadline; errors worded like Go's net.Dial ("dial tcp H:P: connect: ...").
int connectTcp(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string portStr = std::to_string(port);
  std::string where = "dial tcp " + host + ":" + portStr;
  if (int rc = getaddrinfo(host.c_str(), portStr.c_str(), &hints, &res); rc != 0)
    throw std::runtime_error(where + ": lookup " + host + ": " + gai_strerror(rc));
  std::string lastErr = "no addresses";
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      lastErr = strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, 30000);
      if (rc == 1) {
        int soErr = 0;
        socklen_t len = sizeof soErr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soErr, &len);
        errno = soErr;
        rc = soErr ? -1 : 0;
      } else {
        errno = rc == 0 ? ETIMEDOUT : errno;
        rc = -1;
      }
    }
    if (rc == 0) break;
    lastErr = errno == ECONNREFUSED ? "connection refused" : strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) throw std::runtime_error(where + ": connect: " + lastErr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // interactive streams: no Nagle delay
  return fd;
}

// The dialled connection owns its SSL and socket, and a reference to its (shared) context.
class TlsClientStream : public TlsStream {
 public:
  TlsClientStream(SSL_CTX* ctx, SSL* ssl, int fd) : TlsStream(ssl, fd), ctx_(ctx) {}
  ~TlsClientStream() override {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }

 private:
  SSL_CTX* ctx_;
};

// One TLS context per server and credentials, kept for the life of the process, with the last
// session ticket the server gave: `k1s port-forward` opens a connection per forwarded
// connection, and resuming skips the certificate exchange and its checks on both ends.
struct ClientContext {
  SSL_CTX* ctx = nullptr;
  std::mutex mu;
  SSL_SESSION* session = nullptr;  // the newest ticket; owned
};

// OpenSSL hands over each new session (TLS 1.3: each ticket after the handshake).
int keepSession(SSL* ssl, SSL_SESSION* sess) {
  auto* cc = static_cast<ClientContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (!cc) return 0;
  std::lock_guard<std::mutex> l(cc->mu);
  if (cc->session) SSL_SESSION_free(cc->session);
  cc->session = sess;
  return 1;  // the reference is ours now
}

// The context for these options, built once. Throws std::runtime_error.
ClientContext& clientContext(const TlsDialOptions& o) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<ClientContext>> contexts;
  std::string key = o.host + '\0' + std::to_string(o.port) + '\0' + o.caPem + '\0' + (o.insecure ? "1" : "0") +
                    '\0' + o.clientCertPem + '\0' + o.clientKeyPem;
  std::lock_guard<std::mutex> l(mu);
  if (auto it = contexts.find(key); it != contexts.end()) return *it->second;

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) throw std::runtime_error("tls: " + sslErrorText());
  auto fail = [&](const std::string& why) {
    SSL_CTX_free(ctx);
    throw std::runtime_error(why);
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // AES-128-GCM first (OpenSSL's default puts AES-256 first): a port-forward's bytes cost
  // about a third less to seal and open, at a strength that is ample for TLS 1.3.
  SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  if (!o.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!o.caPem.empty()) {
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      BIO* bio = BIO_new_mem_buf(o.caPem.data(), static_cast<int>(o.caPem.size()));
      int added = 0;
      while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        added += X509_STORE_add_cert(store, cert) == 1;
        X509_free(cert);
      }
      BIO_free(bio);
      ERR_clear_error();  // the end of the PEM list reads as an error
      if (!added) fail("tls: the certificate authority data holds no certificate");
    } else {
      SSL_CTX_set_default_verify_paths(ctx);
    }
  }
  if (!o.clientCertPem.empty()) {
    BIO* cb = BIO_new_mem_buf(o.clientCertPem.data(), static_cast<int>(o.clientCertPem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(o.clientKeyPem.data(), static_cast<int>(o.clientKeyPem.size()));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    bool ok = cert && pkey && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
    if (cert) X509_free(cert);
    if (pkey) EVP_PKEY_free(pkey);
    if (!ok) fail("tls: unusable client certificate or key: " + sslErrorText());
  }
  // With read-ahead on (TlsStream), one read(2) takes as much as fits in the record buffer: at
  // 256 KiB instead of one 16 KiB record, a port-forward's download costs a read per 256 KiB.
  SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, keepSession);
  auto cc = std::make_unique<ClientContext>();
  cc->ctx = ctx;
  SSL_CTX_set_app_data(ctx, cc.get());
  return *contexts.emplace(key, std::move(cc)).first->second;
}

}  // namespace

std::unique_ptr<ByteStream> dialTls(const TlsDialOptions& o) {
  int fd = connectTcp(o.host, o.port);
  ClientContext* ccp;
  try {
    ccp = &clientContext(o);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ClientContext& cc = *ccp;
  SSL_CTX* ctx = cc.ctx;
  SSL_CTX_up_ref(ctx);  // the stream's reference
  auto fail = [&](SSL* ssl, const std::string& why) {
    if (ssl) SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
    throw std::runtime_error(why);
  };
  SSL* ssl = SSL_new(ctx);
  if (!ssl) fail(nullptr, "tls: " + sslErrorText());
  SSL_set_fd(ssl, fd);
  {
    std::lock_guard<std::mutex> l(cc.mu);
    if (cc.session && SSL_SESSION_is_resumable(cc.session)) SSL_set_session(ssl, cc.session);
  }
  in6_addr a6;
  in_addr a4;
  bool isIp = inet_pton(AF_INET, o.host.c_str(), &a4) == 1 || inet_pton(AF_INET6, o.host.c_str(), &a6) == 1;
  if (!isIp) SSL_set_tlsext_host_name(ssl, o.host.c_str());  // SNI is for names only
  if (!o.insecure) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (isIp)
      X509_VERIFY_PARAM_set1_ip_asc(param, o.host.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, o.host.c_str(), 0);
  }
  // Handshake on the non-blocking socket with a deadline.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    int r = SSL_connect(ssl);
    if (r == 1) break;
    int err = SSL_get_error(ssl, r);
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      poll(&p, 1, 1000);
      continue;
    }
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK)
      fail(ssl, std::string("tls: failed to verify certificate: x509: ") + X509_verify_cert_error_string(verify));
    fail(ssl, "tls: handshake with " + o.host + ":" + std::to_string(o.port) + " failed: " + sslErrorText());
  }
  return std::make_unique<TlsClientStream>(ctx, ssl, fd);
}

}  // namespace k1s
