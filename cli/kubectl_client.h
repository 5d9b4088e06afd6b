// The kubectl-style client's connection to the API server: kubeconfig loading
// and a small REST client over HTTPS (cpp-httplib). The CLI is a remote client
// like kubectl: it reaches the server only through this, never through the
// server's internals.
#pragma once
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/json.h"

namespace httplib {
class ClientImpl;
}

namespace k1s::cli {

// A failure already worded as kubectl prints it (the whole stderr line(s),
// e.g. `Error from server (NotFound): pods "x" not found`). Exit code 1.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An HTTP error reply carrying a Status; kept as a Status so verbs can word it
// (apply adds "error when creating ...") before it is printed.
class StatusError : public std::runtime_error {
 public:
  StatusError(int code, Json status)
      : std::runtime_error(status.value("message", std::string())), code(code), status(std::move(status)) {}
  int code;
  Json status;
  std::string reason() const { return status.value("reason", std::string()); }
};

// What the CLI needs from a kubeconfig, after flags were applied.
struct ConnectionConfig {
  std::string server;     // https://127.0.0.1:6443
  std::string caPem;      // certificate-authority-data, decoded
  std::string token;      // users[].user.token
  std::string namespace_; // context namespace ("" means default)
  bool insecure = false;  // insecure-skip-tls-verify
};

// Flags that shape the connection (global kubectl flags).
struct ConnectionFlags {
  std::string kubeconfig, context, server, token, namespace_;
  bool insecure = false;
};

// Picks the kubeconfig file: --kubeconfig, $KUBECONFIG (first readable entry),
// /var/lib/k1s/kubeconfig.yaml if readable, else ~/.kube/config.
std::string chooseKubeconfigPath(const std::string& flag);
// Parses a kubeconfig's text for its current (or named) context.
ConnectionConfig parseKubeconfig(const std::string& text, const std::string& contextName);
// Loads the kubeconfig (if any) and applies flag overrides. Throws CliError.
ConnectionConfig loadConnection(const ConnectionFlags& flags);

// Base64 (standard alphabet, padding optional).
std::string base64Decode(const std::string& in);

// Splits "https://host:port/prefix" into its parts; port defaults by scheme.
struct ServerUrl {
  std::string scheme, host, hostPort, prefix;
  int port = 0;
};
ServerUrl parseServerUrl(const std::string& url);

// Words a Status reply as kubectl's StandardErrorMessage does.
std::string formatStatusError(const Json& status);

struct HttpReply {
  int status = 0;
  std::string body;
  std::string contentType;
};

class RestClient {
 public:
  explicit RestClient(ConnectionConfig cfg);
  ~RestClient();
  const ConnectionConfig& config() const { return cfg_; }

  // Sends one request and returns the reply whatever its status. Throws
  // CliError when the server cannot be reached (kubectl's wording).
  HttpReply request(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& contentType = "", const std::string& accept = "application/json");
  // Sends and decodes a JSON reply; a non-2xx reply throws StatusError.
  Json call(const std::string& method, const std::string& path, const Json& body = nullptr,
            const std::string& contentType = "application/json", const std::string& accept = "application/json");
  Json get(const std::string& path, const std::string& accept = "application/json") {
    return call("GET", path, nullptr, "", accept);
  }
  // Streams a GET (watch, logs -f): `onData` gets each chunk as it arrives and
  // returns false to stop. `onStart` sees status and content type first.
  // Returns the HTTP status; a non-2xx body is passed to onData as well.
  int stream(const std::string& path, const std::string& accept,
             const std::function<void(int status, const std::string& contentType)>& onStart,
             const std::function<bool(const char* data, size_t len)>& onData);
  // Streams a watch: `onEvent` gets each event's type and object as its line arrives (lines that are
  // not JSON objects are skipped) and returns false to stop. A non-2xx answer throws its Status.
  void watch(const std::string& path, const std::string& accept,
             const std::function<bool(const std::string& type, const Json& object)>& onEvent);

 private:
  std::unique_ptr<httplib::ClientImpl> connect(bool longRead);
  [[noreturn]] void connectionFailed(int httplibError);
  ConnectionConfig cfg_;
  ServerUrl url_;
  std::unique_ptr<httplib::ClientImpl> http_;
};

// Throws the StatusError for a non-2xx reply (synthesising a Status when the
// body is not one, as client-go does).
void throwForReply(const HttpReply& reply);

}  // namespace k1s::cli
