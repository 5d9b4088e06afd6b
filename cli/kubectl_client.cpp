#include "cli/kubectl_client.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/yaml.h"

namespace k1s::cli {

static bool readable(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

std::string chooseKubeconfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = getenv("KUBECONFIG"); env && *env) {
    // KUBECONFIG is a ':'-separated list; we read the first file that exists
    // instead of merging them all.
    std::stringstream ss(env);
    std::string part;
    while (std::getline(ss, part, ':'))
      if (readable(part)) return part;
  }
  if (readable("/var/lib/k1s/kubeconfig.yaml")) return "/var/lib/k1s/kubeconfig.yaml";
  if (const char* home = getenv("HOME"); home && *home) {
    std::string p = std::string(home) + "/.kube/config";
    if (readable(p)) return p;
  }
  return "";
}

std::string base64Decode(const std::string& in) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    if (c == '=') break;
    auto pos = alphabet.find(static_cast<char>(c));
    if (pos == std::string::npos) continue;  // whitespace and line breaks
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

static const Json* namedEntry(const Json& list, const std::string& name, const char* field) {
  if (!list.is_array()) return nullptr;
  for (auto& e : list)
    if (e.is_object() && e.value("name", "") == name && e.contains(field)) return &e[field];
  return nullptr;
}

ConnectionConfig parseKubeconfig(const std::string& text, const std::string& contextName) {
  ConnectionConfig cfg;
  Json doc = parseYaml(text);
  if (!doc.is_object()) return cfg;
  std::string ctxName = contextName.empty() ? doc.value("current-context", "") : contextName;
  // namedEntry points into these lists, so they must outlive its results.
  const Json contexts = doc.value("contexts", Json::array());
  const Json clusters = doc.value("clusters", Json::array());
  const Json users = doc.value("users", Json::array());
  const Json* ctx = namedEntry(contexts, ctxName, "context");
  if (!ctx) {
    if (!contextName.empty()) throw CliError("error: context was not found for specified context: " + contextName);
    return cfg;
  }
  cfg.namespace_ = ctx->value("namespace", "");
  if (auto* cl = namedEntry(clusters, ctx->value("cluster", ""), "cluster"); cl && cl->is_object()) {
    cfg.server = cl->value("server", "");
    cfg.insecure = cl->value("insecure-skip-tls-verify", false);
    if (cl->contains("certificate-authority-data"))
      cfg.caPem = base64Decode(cl->value("certificate-authority-data", ""));
    else if (cl->contains("certificate-authority")) {
      std::ifstream f(cl->value("certificate-authority", ""));
      cfg.caPem.assign(std::istreambuf_iterator<char>(f), {});
    }
  }
  if (auto* u = namedEntry(users, ctx->value("user", ""), "user"); u && u->is_object()) {
    cfg.token = u->value("token", "");
    if (cfg.token.empty() && u->contains("tokenFile")) {
      std::ifstream f(u->value("tokenFile", ""));
      std::getline(f, cfg.token);
    }
  }
  return cfg;
}

ConnectionConfig loadConnection(const ConnectionFlags& flags) {
  ConnectionConfig cfg;
  std::string path = chooseKubeconfigPath(flags.kubeconfig);
  if (!path.empty()) {
    std::ifstream f(path);
    if (!f) throw CliError("error: stat " + path + ": no such file or directory");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    try {
      cfg = parseKubeconfig(text, flags.context);
    } catch (const CliError&) {
      throw;
    } catch (const std::exception& e) {
      throw CliError("error: error loading config file \"" + path + "\": " + e.what());
    }
  }
  if (!flags.server.empty()) cfg.server = flags.server;
  if (!flags.token.empty()) cfg.token = flags.token;
  if (flags.insecure) cfg.insecure = true;
  if (!flags.namespace_.empty()) cfg.namespace_ = flags.namespace_;
  // kubectl's default when nothing is configured.
  if (cfg.server.empty()) cfg.server = "http://localhost:8080";
  return cfg;
}

ServerUrl parseServerUrl(const std::string& url) {
  ServerUrl u;
  std::string rest = url;
  auto sep = rest.find("://");
  if (sep == std::string::npos) {
    u.scheme = "https";
  } else {
    u.scheme = rest.substr(0, sep);
    rest = rest.substr(sep + 3);
  }
  auto slash = rest.find('/');
  u.hostPort = rest.substr(0, slash);
  if (slash != std::string::npos) u.prefix = rest.substr(slash);
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  std::string hp = u.hostPort;
  auto colon = hp.rfind(':');
  bool bracketed = !hp.empty() && hp[0] == '[';
  if (colon != std::string::npos && (!bracketed || colon > hp.find(']'))) {
    u.host = hp.substr(0, colon);
    u.port = atoi(hp.c_str() + colon + 1);
  } else {
    u.host = hp;
    u.port = u.scheme == "http" ? 80 : 443;
  }
  if (bracketed && u.host.size() > 2) u.host = u.host.substr(1, u.host.size() - 2);
  return u;
}

std::string formatStatusError(const Json& status) {
  std::string reason = status.value("reason", "");
  std::string message = status.value("message", "");
  if (reason == "Invalid") {
    const Json details = status.value("details", Json());
    if (!details.is_object()) return "The request is invalid" + (message.empty() ? "" : ": " + message);
    std::string kind = details.value("kind", ""), name = details.value("name", "");
    std::string s = "The request is invalid";
    Json causes = details.value("causes", Json::array());
    if (!kind.empty() || !name.empty())
      s = "The " + kind + " \"" + name + "\" is invalid";
    else if (!message.empty() && causes.empty())
      s += ": " + message;
    if (causes.empty()) return s;
    std::vector<std::string> lines;
    for (auto& c : causes) {
      std::string field = c.value("field", ""), msg = c.value("message", "");
      lines.push_back(field.empty() ? msg : field + ": " + msg);
    }
    if (lines.size() == 1) return s + ": " + lines[0];
    std::string out = s + ": ";
    for (auto& l : lines) out += "\n* " + l;
    return out;
  }
  if (reason == "Unauthorized") return "error: You must be logged in to the server (" + message + ")";
  if (!reason.empty()) return "Error from server (" + reason + "): " + message;
  return "Error from server: " + message;
}

// Status reasons client-go assumes for bare HTTP codes without a Status body.
static Json synthesiseStatus(int code, const std::string& body) {
  std::string reason, message;
  switch (code) {
    case 400: reason = "BadRequest"; message = "the server rejected our request for an unknown reason"; break;
    case 401: reason = "Unauthorized"; message = "the server has asked for the client to provide credentials"; break;
    case 403: reason = "Forbidden"; message = "the server does not allow access to the requested resource"; break;
    case 404: reason = "NotFound"; message = "the server could not find the requested resource"; break;
    case 405: reason = "MethodNotAllowed"; message = "the server does not allow this method on the requested resource"; break;
    case 409: reason = "Conflict"; message = "the server reported a conflict"; break;
    case 415: reason = "UnsupportedMediaType"; message = "the server responded with the status code 415 but did not return more information"; break;
    case 422: reason = "Invalid"; message = "the server rejected our request due to an error in our request"; break;
    case 429: reason = "TooManyRequests"; message = "the server has received too many requests and has asked us to try again later"; break;
    case 503: reason = "ServiceUnavailable"; message = "the server is currently unable to handle the request"; break;
    case 504: reason = "Timeout"; message = "the server was unable to return a response in the time allotted, but may still be processing the request"; break;
    default:
      reason = code >= 500 ? "InternalError" : "Unknown";
      message = "an error on the server (\"" + body + "\") has prevented the request from succeeding";
  }
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"reason", reason},
          {"message", message}, {"code", code}};
}

void throwForReply(const HttpReply& reply) {
  if (reply.status >= 200 && reply.status < 300) return;
  Json status = Json::parse(reply.body, nullptr, false);
  if (!status.is_object() || status.value("kind", "") != "Status") status = synthesiseStatus(reply.status, reply.body);
  throw StatusError(reply.status, status);
}

RestClient::RestClient(ConnectionConfig cfg) : cfg_(std::move(cfg)), url_(parseServerUrl(cfg_.server)) {}
RestClient::~RestClient() = default;

// The CA arrives as PEM in memory (certificate-authority-data); build an
// X509_STORE from every certificate in it.
static X509_STORE* storeFromPem(const std::string& pem) {
  X509_STORE* store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
  }
  BIO_free(bio);
  return store;
}

std::unique_ptr<httplib::ClientImpl> RestClient::connect(bool longRead) {
  std::unique_ptr<httplib::ClientImpl> c;
  if (url_.scheme == "http") {
    c = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
  } else {
    auto ssl = std::make_unique<httplib::SSLClient>(url_.host, url_.port);
    if (!cfg_.caPem.empty()) {
      ssl->set_ca_cert_store(storeFromPem(cfg_.caPem));  // the client owns the store
      // With no path of its own httplib adds OpenSSL's default verify paths, which parses the
      // whole system bundle (~140 certificates, 10+ ms of every k1s run). The hashed directory
      // trusts the same CAs but is only consulted when the kubeconfig's CA does not verify.
      ssl->set_ca_cert_path("", X509_get_default_cert_dir());
    }
    ssl->enable_server_certificate_verification(!cfg_.insecure);
    c = std::move(ssl);
  }
  if (!cfg_.token.empty()) c->set_bearer_token_auth(cfg_.token);
  c->set_connection_timeout(10, 0);
  // Watches and streamed logs may be idle for a long time.
  c->set_read_timeout(longRead ? 24 * 3600 : 300, 0);
  c->set_keep_alive(!longRead);
  return c;
}

void RestClient::connectionFailed(int err) {
  auto e = static_cast<httplib::Error>(err);
  if (e == httplib::Error::Connection)
    throw CliError("The connection to the server " + url_.hostPort +
                   " was refused - did you specify the right host or port?");
  if (e == httplib::Error::SSLServerVerification)
    throw CliError("Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority");
  throw CliError("Unable to connect to the server: " + httplib::to_string(e));
}

HttpReply RestClient::request(const std::string& method, const std::string& path, const std::string& body,
                              const std::string& contentType, const std::string& accept) {
  if (!http_) http_ = connect(false);
  httplib::Request req;
  req.method = method;
  req.path = url_.prefix + path;
  if (!accept.empty()) req.headers.emplace("Accept", accept);
  req.headers.emplace("User-Agent", "k1s/v0.1.0");
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.body = body;
    req.headers.emplace("Content-Type", contentType.empty() ? "application/json" : contentType);
  }
  auto res = http_->send(req);
  if (!res) connectionFailed(static_cast<int>(res.error()));
  return {res->status, res->body, res->get_header_value("Content-Type")};
}

Json RestClient::call(const std::string& method, const std::string& path, const Json& body,
                      const std::string& contentType, const std::string& accept) {
  auto reply = request(method, path, body.is_null() ? "" : body.dump(), contentType, accept);
  throwForReply(reply);
  if (reply.body.empty()) return Json::object();
  Json out = Json::parse(reply.body, nullptr, false);
  if (out.is_discarded()) throw CliError("error: the server returned a reply that is not JSON");
  return out;
}

int RestClient::stream(const std::string& path, const std::string& accept,
                       const std::function<void(int, const std::string&)>& onStart,
                       const std::function<bool(const char*, size_t)>& onData) {
  auto c = connect(true);
  httplib::Headers headers{{"Accept", accept}, {"User-Agent", "k1s/v0.1.0"}};
  int status = 0;
  auto res = c->Get(
      url_.prefix + path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        if (onStart) onStart(r.status, r.get_header_value("Content-Type"));
        return true;
      },
      [&](const char* data, size_t len) { return onData(data, len); });
  if (!res && status == 0) connectionFailed(static_cast<int>(res.error()));
  return status;
}

void RestClient::watch(const std::string& path, const std::string& accept,
                       const std::function<bool(const std::string&, const Json&)>& onEvent) {
  int status = 0;
  std::string buffer, errorBody;
  stream(
      path, accept, [&](int s, const std::string&) { status = s; },
      [&](const char* data, size_t len) {
        if (status < 200 || status >= 300) {
          errorBody.append(data, len);
          return true;
        }
        buffer.append(data, len);
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
          Json ev = Json::parse(buffer.begin(), buffer.begin() + nl, nullptr, false);
          buffer.erase(0, nl + 1);
          if (ev.is_object() && !onEvent(ev.value("type", ""), ev.value("object", Json::object()))) return false;
        }
        return true;
      });
  throwForReply({status, errorBody, "application/json"});
}

}  // namespace k1s::cli
