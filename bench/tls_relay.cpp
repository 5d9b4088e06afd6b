// The floor of a port-forward over TLS, an anchor for bench/streams.py: two bare OpenSSL relays
// with the TLS settings k1s uses (TLS 1.3, AES-128-GCM, read-ahead into a 256 KiB buffer, TCP_NODELAY,
// large writes corked, pod reads of up to 1 MiB) and nothing else: no HTTP upgrade, no WebSocket
// or SPDY framing, no channels, no setns, no locks. One thread per connection, which waits in poll()
// on both ends. Whatever a real port-forward adds (kubectl's or k1s's) costs more than this.
//
//   k1s_bench_tls_relay server PORT CERT KEY TARGET_IP TARGET_PORT   TLS in, plain TCP out
//   k1s_bench_tls_relay client PORT SERVER_PORT                      plain TCP in, TLS out to 127.0.0.1
//
// Each prints "ready" once it listens and serves until killed. Not a product path: a bench tool.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char* kSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr size_t kPlainRead = 1 << 20;  // as k1s reads from the pod
constexpr size_t kTlsRead = 256 * 1024;

void die(const char* what) {
  fprintf(stderr, "tls_relay: %s: %s\n", what, strerror(errno));
  ERR_print_errors_fp(stderr);
  exit(1);
}

void noDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void cork(int fd, int on) { setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on); }

int listenOn(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 128) != 0) die("listen");
  return fd;
}

int dial(const char* ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  noDelay(fd);
  return fd;
}

bool sendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool sslWriteAll(SSL* ssl, int fd, const char* p, size_t n) {
  bool big = n >= 32 * 1024;
  if (big) cork(fd, 1);
  while (n > 0) {
    int w = SSL_write(ssl, p, static_cast<int>(n));
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  if (big) cork(fd, 0);
  return true;
}

// Copies both ways between a plain socket and a TLS one (blocking sockets) until either side ends.
void relay(int plain, SSL* ssl, int tls) {
  std::vector<char> buf(kPlainRead);
  for (;;) {
    if (!SSL_has_pending(ssl)) {  // nothing left in OpenSSL's buffer: wait on the sockets
      pollfd p[2] = {{plain, POLLIN, 0}, {tls, POLLIN, 0}};
      if (poll(p, 2, -1) <= 0) break;
      if (p[0].revents) {
        ssize_t n = read(plain, buf.data(), buf.size());
        if (n <= 0 || !sslWriteAll(ssl, tls, buf.data(), static_cast<size_t>(n))) break;
      }
      if (!p[1].revents) continue;
    }
    // SSL_read returns one record (16 KiB) at a time: what is already in OpenSSL's buffer is
    // collected first, so that a send(2), and the reader's wake-up, carries up to 256 KiB.
    size_t got = 0;
    int n;
    do {
      n = SSL_read(ssl, buf.data() + got, static_cast<int>(kTlsRead - got));
      if (n > 0) got += static_cast<size_t>(n);
    } while (n > 0 && got < kTlsRead && SSL_has_pending(ssl));
    if (got == 0 || !sendAll(plain, buf.data(), got)) break;
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(tls);
  close(plain);
}

SSL_CTX* context(bool server, const char* cert, const char* key) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_ciphersuites(ctx, kSuites);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, kTlsRead);
  if (server && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
                 SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1))
    die("certificate");
  return ctx;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  bool server = argc == 7 && std::string(argv[1]) == "server";
  if (!server && !(argc == 4 && std::string(argv[1]) == "client")) {
    fprintf(stderr, "usage: %s server PORT CERT KEY TARGET_IP TARGET_PORT | client PORT SERVER_PORT\n", argv[0]);
    return 2;
  }
  SSL_CTX* ctx = context(server, server ? argv[3] : nullptr, server ? argv[4] : nullptr);
  int lfd = listenOn(atoi(argv[2]));
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int s = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) continue;
    noDelay(s);
    std::thread([=] {
      if (server) {  // s is TLS from the client relay; the target is plain
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, s);
        int target = SSL_accept(ssl) == 1 ? dial(argv[5], atoi(argv[6])) : -1;
        if (target < 0) {
          SSL_free(ssl);
          close(s);
          return;
        }
        relay(target, ssl, s);
      } else {  // s is plain from wrk; the server relay is TLS
        int t = dial("127.0.0.1", atoi(argv[3]));
        SSL* ssl = t < 0 ? nullptr : SSL_new(ctx);
        if (!ssl || (SSL_set_fd(ssl, t), SSL_connect(ssl)) != 1) {
          if (ssl) SSL_free(ssl);
          if (t >= 0) close(t);
          close(s);
          return;
        }
        relay(s, ssl, t);
      }
    }).detach();
  }
}
