// `k1s proxy`: plain HTTP on 127.0.0.1:8001 forwarding every request to the
// API server with the kubeconfig's credentials. GETs are relayed as they
// arrive so watches and followed logs stream through.
#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "cli/kubectl_verbs.h"

namespace k1s::cli {

namespace {

// Hands an upstream streaming reply from its reader thread to the HTTP
// worker that writes it to the downstream client.
struct Relay {
  std::mutex m;
  std::condition_variable cv;
  bool started = false, done = false, cancelled = false;
  int status = 0;
  std::string contentType;
  std::deque<std::string> chunks;
};

void relayGet(const ConnectionConfig& cfg, const httplib::Request& req, httplib::Response& res) {
  auto relay = std::make_shared<Relay>();
  std::string target = req.target;
  std::string accept = req.get_header_value("Accept");
  if (accept.empty()) accept = "*/*";
  std::thread([relay, cfg, target, accept] {
    try {
      RestClient upstream(cfg);
      upstream.stream(
          target, accept,
          [&](int status, const std::string& ct) {
            std::lock_guard<std::mutex> l(relay->m);
            relay->status = status;
            relay->contentType = ct;
            relay->started = true;
            relay->cv.notify_all();
          },
          [&](const char* data, size_t len) {
            std::lock_guard<std::mutex> l(relay->m);
            relay->chunks.emplace_back(data, len);
            relay->cv.notify_all();
            return !relay->cancelled;
          });
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> l(relay->m);
      if (!relay->started) {
        relay->status = 502;
        relay->contentType = "text/plain";
        relay->chunks.emplace_back(std::string(e.what()) + "\n");
        relay->started = true;
      }
    }
    std::lock_guard<std::mutex> l(relay->m);
    relay->done = relay->started = true;
    relay->cv.notify_all();
  }).detach();

  std::unique_lock<std::mutex> l(relay->m);
  relay->cv.wait(l, [&] { return relay->started; });
  res.status = relay->status ? relay->status : 502;
  std::string ct = relay->contentType.empty() ? "application/json" : relay->contentType;
  l.unlock();
  res.set_chunked_content_provider(
      ct,
      [relay](size_t, httplib::DataSink& sink) {
        std::unique_lock<std::mutex> lk(relay->m);
        relay->cv.wait(lk, [&] { return !relay->chunks.empty() || relay->done; });
        if (!relay->chunks.empty()) {
          std::string chunk = std::move(relay->chunks.front());
          relay->chunks.pop_front();
          lk.unlock();
          return sink.write(chunk.data(), chunk.size());
        }
        sink.done();
        return true;
      },
      [relay](bool) {
        std::lock_guard<std::mutex> lk(relay->m);
        relay->cancelled = true;  // the reader stops at its next chunk
      });
}

void relayBuffered(const ConnectionConfig& cfg, const httplib::Request& req, httplib::Response& res) {
  try {
    RestClient upstream(cfg);
    std::string accept = req.get_header_value("Accept");
    auto reply = upstream.request(req.method, req.target, req.body, req.get_header_value("Content-Type"),
                                  accept.empty() ? "*/*" : accept);
    res.status = reply.status;
    res.set_content(reply.body, reply.contentType.empty() ? "application/json" : reply.contentType);
  } catch (const std::exception& e) {
    res.status = 502;
    res.set_content(std::string(e.what()) + "\n", "text/plain");
  }
}

}  // namespace

int cmdProxy(Kubectl& k) {
  std::string address = k.args.get("address", "127.0.0.1");
  int port = std::stoi(k.args.get("port", "8001"));
  // Resolve the connection once, up front, so a bad kubeconfig fails now.
  ConnectionConfig cfg = k.client().config();

  httplib::Server server;
  // Every watch holds a worker for its lifetime; leave room for many.
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  auto handler = [cfg](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET") relayGet(cfg, req, res);
    else relayBuffered(cfg, req, res);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);
  server.Options(".*", handler);
  server.set_read_timeout(24 * 3600, 0);
  server.set_write_timeout(24 * 3600, 0);

  if (port == 0) {
    port = server.bind_to_any_port(address);
    if (port < 0) throw CliError("error: listen tcp " + address + ":0: bind: address already in use");
  } else if (!server.bind_to_port(address, port)) {
    throw CliError("error: listen tcp " + address + ":" + std::to_string(port) + ": bind: address already in use");
  }
  k.out << "Starting to serve on " << address << ":" << port << "\n";
  k.out.flush();
  server.listen_after_bind();
  return 0;
}

}  // namespace k1s::cli
