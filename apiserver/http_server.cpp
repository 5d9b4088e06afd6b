// HTTPS front: auth, non-resource endpoints, and dispatch of resource paths.
#include <httplib.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <regex>

#include "apiserver/conn_gate.h"
#include "apiserver/discovery.h"
#include "common/byte_stream.h"
#include "apiserver/http_limits.h"
#include "apiserver/http_resources.h"
#include "apiserver/httplib_private.h"
#include "apiserver/http_util.h"
#include "apiserver/schema.h"
#include "apiserver/server.h"
#include "apiserver/ui.h"
#include "common/json_limits.h"
#include "common/log.h"
#include "common/net.h"

namespace k1s {

const char* kKubeGitVersion = "v1.31.0+k1s";

namespace {

// httplib writes an answer's headers and its body with two writes; with TCP_NODELAY each
// goes out as a packet of its own, and on loopback every packet costs the sender a trip
// through the receive path and the client a wake-up. A whole answer (not a stream) is
// corked while httplib writes it and uncorked by the logger, which httplib calls right
// after the body: one packet. Both ends decide from the same request and answer, so a
// failed write (no logger call) leaves nothing behind but a connection that closes.
int corkableFd(const httplib::Request& req, const httplib::Response& res) {
  if (!req.ssl || res.body.empty()) return -1;  // streams and taken-over connections stay as they are
  return SSL_get_fd(req.ssl);
}

}  // namespace

struct ApiServer::Impl {
  Registry& reg;
  ApiServerOptions opts;
  std::unique_ptr<httplib::SSLServer> srv;
  std::unique_ptr<ConnectionGate> gate;  // our accept loop; httplib's listen() is not used
  int listenFd = -1;
  std::shared_ptr<PodSubresources> podSubresources;
  std::atomic<bool> running{false};

  Impl(Registry& r, ApiServerOptions o) : reg(r), opts(std::move(o)) {}

  // kube's bearer authenticator: the scheme in any case, the token up to the next space.
  bool authorized(const httplib::Request& req) const {
    auto h = req.get_header_value("Authorization");
    auto sp = h.find(' ');
    if (sp == std::string::npos || !asciiIEquals(std::string_view(h).substr(0, sp), "bearer")) return false;
    auto end = h.find(' ', sp + 1);
    std::string token = h.substr(sp + 1, end == std::string::npos ? std::string::npos : end - sp - 1);
    return !token.empty() && token == opts.token;
  }

  // Non-resource paths kube serves to anonymous users (system:public-info-viewer).
  static bool isPublic(const std::string& path) {
    return path == "/healthz" || path == "/version/" || path == "/livez" || path == "/readyz" || path == "/version" ||
           path.rfind("/healthz/", 0) == 0 || path.rfind("/livez/", 0) == 0 || path.rfind("/readyz/", 0) == 0;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    // httplib percent-decodes the path; names and namespaces taken from it end up in Status
    // messages, so invalid UTF-8 becomes U+FFFD here, as Go's encoder would print it (such a
    // name never validates, so nothing that can exist is renamed).
    const_cast<httplib::Request&>(req).path = coerceUtf8(req.path);
    const std::string& path = req.path;
    try {
      if (isPublic(path)) return serveHealth(req, res);
      if (serveUi(req, res)) return;  // the static lab page; its API calls carry the token
      if (!authorized(req)) return sendError(res, unauthorized());
      if (servePodSubresource(req, res)) return;
      if (path == "/api" || path == "/api/") {
        if (wantsAggregated(req)) return sendAggregated(req, res, true);
        return sendJson(res, 200, discoveryApiVersions(opts.bindAddress + ":" + std::to_string(opts.port)));
      }
      if (path == "/apis" || path == "/apis/") {
        if (wantsAggregated(req)) return sendAggregated(req, res, false);
        return sendJson(res, 200, discoveryGroupList());
      }
      if (path == "/openapi/v2") {
        // No v2 document: an empty protobuf answer makes kubectl 1.27/1.28 `explain` move on to v3
        // (a 404 stops them).
        res.status = 200;
        res.set_content("", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
        return;
      }
      if (path == "/openapi/v3" || path == "/openapi/v3/") return sendJson(res, 200, openapiV3Root());
      if (path.rfind("/openapi/v3/", 0) == 0) {
        std::string p = path.substr(12);
        if (auto* doc = openapiV3Document(p)) {
          res.set_header("ETag", "\"" + openapiV3Hash(p) + "\"");
          res.set_header("Cache-Control", "public, immutable");
          return sendJson(res, 200, *doc);
        }
        return sendError(res, ApiError(404, "NotFound", "the server could not find the requested resource"));
      }
      if (path.rfind("/api/", 0) == 0 || path.rfind("/apis/", 0) == 0) return serveResource(reg, opts, req, res);
      sendError(res, ApiError(404, "NotFound", "the server could not find the requested resource"));
    } catch (ApiError& e) {
      sendError(res, e);
    } catch (Json::type_error& e) {
      // A JSON value of a shape some handler did not check for: the client's input, so a 400
      // (Go's decoder refuses it while decoding), logged as the missing check it is.
      LOGE("apiserver", "unchecked input shape method=" << req.method << " path=" << path << " err=" << e.what());
      sendError(res, badRequest(std::string("unexpected value type in the request: ") + e.what()));
    } catch (std::exception& e) {
      // A 500 is a bug (DESIGN rule 8): one line to find it by, and still a Status.
      LOGE("apiserver", "request failed method=" << req.method << " path=" << path << " err=" << e.what());
      sendError(res, internalError(e.what()));
    } catch (...) {
      LOGE("apiserver", "request failed method=" << req.method << " path=" << path << " err=unknown exception");
      sendError(res, internalError("unknown error"));
    }
  }

  // /api/v1/namespaces/NS/pods/NAME/SUB for a SUB the node serves (log, exec, ...).
  bool servePodSubresource(const httplib::Request& req, httplib::Response& res) {
    static const std::regex path(R"(^/api/v1/namespaces/([^/]+)/pods/([^/]+)/([a-z]+)$)");
    if (!podSubresources || req.path.rfind("/api/v1/namespaces/", 0) != 0) return false;
    std::smatch m;
    if (!std::regex_match(req.path, m, path) || !podSubresources->serves(m[3].str())) return false;
    podSubresources->serve(m[3].str(), m[1].str(), m[2].str(), req, res);  // ApiErrors become Statuses below
    return true;
  }

  static bool wantsAggregated(const httplib::Request& req) {
    auto a = req.get_header_value("Accept");
    auto first = a.substr(0, a.find(','));
    return first.find("as=APIGroupDiscoveryList") != std::string::npos;
  }

  void sendAggregated(const httplib::Request& req, httplib::Response& res, bool legacy) {
    auto a = req.get_header_value("Accept");
    auto first = a.substr(0, a.find(','));
    std::string v = first.find("v=v2beta1") != std::string::npos ? "v2beta1" : "v2";
    res.status = 200;
    res.set_content(discoveryAggregated(legacy, v).dump(),
                    "application/json;g=apidiscovery.k8s.io;v=" + v + ";as=APIGroupDiscoveryList");
  }

  void serveHealth(const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/version" || req.path == "/version/") {
      std::string v = kKubeGitVersion;
      auto dot1 = v.find('.'), dot2 = v.find('.', dot1 + 1);
      return sendJson(res, 200,
                      {{"major", v.substr(1, dot1 - 1)},
                       {"minor", v.substr(dot1 + 1, dot2 - dot1 - 1)},
                       {"gitVersion", v},
                       {"gitCommit", "0000000000000000000000000000000000000000"},
                       {"gitTreeState", "clean"},
                       {"buildDate", "2026-11-25T00:00:00Z"},
                       {"goVersion", "c++20"},
                       {"compiler", "g++"},
                       {"platform", "linux/amd64"}});
    }
    res.status = 200;
    if (req.has_param("verbose")) {
      std::string base = req.path.substr(1);
      res.set_content("[+]ping ok\n[+]etcd ok\n[+]poststarthook/start-controllers ok\n" + base + " check passed\n",
                      "text/plain; charset=utf-8");
    } else {
      res.set_content("ok", "text/plain; charset=utf-8");
    }
  }
};

ApiServer::ApiServer(Registry& reg, ApiServerOptions opts) : impl_(std::make_unique<Impl>(reg, std::move(opts))) {}

ApiServer::~ApiServer() { stop(); }

void ApiServer::servePodSubresources(std::shared_ptr<PodSubresources> backend) {
  impl_->podSubresources = std::move(backend);
}

void ApiServer::start() {
  auto& I = *impl_;
  I.srv = std::make_unique<httplib::SSLServer>(I.opts.certFile.c_str(), I.opts.keyFile.c_str());
  if (!I.srv->is_valid()) throw std::runtime_error("cannot load the serving certificate " + I.opts.certFile);
  // TLS 1.3 suites in our order, AES-128-GCM first: it seals and opens a third cheaper than
  // AES-256 on a CPU with AES instructions (port-forward and exec streams pay it per byte),
  // while a client that puts ChaCha20 first (no AES instructions on its side) still gets it.
  if (SSL_CTX* ctx = I.srv->ssl_context()) {
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
  }
  // Bodies over the limit get a Status 413 from the handler; far larger ones are cut by httplib.
  I.srv->set_payload_max_length(I.opts.maxBodyBytes * 4);
  // Each read waits at most this long; the first request's head also has its own deadline
  // from the accept (conn_gate.h).
  I.srv->set_read_timeout(15, 0);
  I.srv->set_write_timeout(60, 0);
  I.srv->set_keep_alive_max_count(100000);
  I.srv->set_tcp_nodelay(true);  // small JSON answers must not wait for delayed ACKs
  I.srv->set_keep_alive_timeout(30);
  auto h = [this](const httplib::Request& req, httplib::Response& res) {
    impl_->handle(req, res);
    setTcpCork(corkableFd(req, res), true);
  };
  I.srv->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    setTcpCork(corkableFd(req, res), false);
  });
  // httplib would gzip/brotli every JSON answer a client accepts compressed; on loopback that only
  // costs CPU, and a compressor holds back the events of a watch stream. Answers go uncompressed.
  // Requests without a body (GET, OPTIONS) are answered here: httplib's routes are regexes
  // (".*" below), matched with std::regex on every request. Requests with a body go on to
  // the routes, since httplib reads the body only after this handler.
  size_t maxBody = I.opts.maxBodyBytes;
  I.srv->set_pre_routing_handler([this, h, maxBody](const httplib::Request& req, httplib::Response& res) {
    if (req.ssl) impl_->gate->requestHeadRead(SSL_get_fd(req.ssl));
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    if (refuseBeforeBody(req, res, maxBody)) return httplib::Server::HandlerResponse::Handled;
    if (req.method != "GET" && req.method != "OPTIONS") return httplib::Server::HandlerResponse::Unhandled;
    h(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  I.srv->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // already a Status
        statusForBareError(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  I.srv->Get(".*", h);
  I.srv->Post(".*", h);
  I.srv->Put(".*", h);
  I.srv->Patch(".*", h);
  I.srv->Delete(".*", h);
  I.srv->Options(".*", h);
  // httplib binds and listens (with a backlog of 5: a hundred clients connecting at once
  // would have SYNs dropped and retry seconds later, so listen again with the system's
  // maximum); the gate accepts and hands connections to httplib's per-connection code.
  auto listenFd = std::make_shared<int>(-1);
  I.srv->set_socket_options([listenFd](socket_t s) {
    httplib::default_socket_options(s);
    *listenFd = s;
  });
  if (!I.srv->bind_to_port(I.opts.bindAddress, I.opts.port) || *listenFd < 0)
    throw std::runtime_error("cannot listen on " + I.opts.bindAddress + ":" + std::to_string(I.opts.port));
  ::listen(*listenFd, SOMAXCONN);
  I.listenFd = *listenFd;
  httplib::SSLServer* srv = I.srv.get();
  I.gate = std::make_unique<ConnectionGate>(I.listenFd, I.opts.connections,
                                            [srv](int fd) { serveHttplibConnection(*srv, fd); });
  I.gate->start();
  I.running = true;
}

void ApiServer::stop() {
  if (!impl_ || !impl_->running) return;
  impl_->running = false;
  shutdownTakenOverConnections();  // port-forwards and execs hold handler threads stop() waits for
  // httplib's keep-alive and streaming loops end when the server has no listening socket.
  int fd = takeHttplibListenSocket(*impl_->srv);
  impl_->gate->stop();
  if (fd >= 0) ::close(fd);
}

}  // namespace k1s
