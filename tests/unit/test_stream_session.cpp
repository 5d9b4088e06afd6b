// The transport-neutral stream layer: remotecommand over channels (stdin in,
// stdout/stderr out, resize, the exit code as a Status on the error channel),
// port-forward pairs, and the request parameters.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "common/byte_stream.h"
#include "common/errors.h"
#include "common/json.h"
#include "kubelet/stream_session.h"

using namespace k1s;

namespace {

// A channel whose output is collected, input pushed by the test.
struct Collected {
  std::mutex mu;
  std::string data;
  bool closed = false;
  std::shared_ptr<QueuedChannel> ch;
  Collected()
      : ch(std::make_shared<QueuedChannel>(
            [this](const char* p, size_t n) {
              std::lock_guard<std::mutex> l(mu);
              data.append(p, n);
              return true;
            },
            [this] {
              std::lock_guard<std::mutex> l(mu);
              closed = true;
            })) {}
  std::string text() {
    std::lock_guard<std::mutex> l(mu);
    return data;
  }
};

// A "process": upper-cases stdin to stdout, reports sizes, says bye on stderr, exits with `code`.
StreamProcess fakeProcess(int code, std::vector<std::pair<int, int>>* sizes, std::shared_ptr<std::thread>& worker) {
  int in[2], out[2], err[2];
  REQUIRE(pipe(in) == 0);
  REQUIRE(pipe(out) == 0);
  REQUIRE(pipe(err) == 0);
  // No assertion on this thread (doctest's REQUIRE must stay on the test's own): a short write
  // shows up as missing output, which the test checks.
  worker = std::make_shared<std::thread>([=] {
    char buf[4096];
    ssize_t n;
    while ((n = read(in[0], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; ++i) buf[i] = char(toupper(buf[i]));
      if (write(out[1], buf, size_t(n)) != n) break;
    }
    ssize_t bye = write(err[1], "bye\n", 4);  // a short one shows as missing output
    (void)bye;
    close(in[0]);
    close(out[1]);
    close(err[1]);
  });
  StreamProcess p;
  p.stdinFd = in[1];
  p.stdoutFd = out[0];
  p.stderrFd = err[0];
  auto w = worker;
  p.wait = [w, code] {
    w->join();
    return code;
  };
  p.resize = [sizes](unsigned short c, unsigned short r) { sizes->emplace_back(c, r); };
  p.cancel = [] {};
  return p;
}

}  // namespace

TEST_CASE("stream session: remotecommand v4 pumps stdin/stdout/stderr and reports the exit code as a Status") {
  std::vector<std::pair<int, int>> sizes;
  std::shared_ptr<std::thread> worker;
  StreamProcess p = fakeProcess(3, &sizes, worker);
  Collected in, out, err, error, resize;
  RemoteCommandChannels ch{in.ch, out.ch, err.ch, error.ch, resize.ch, {}};
  ch.finished = [&] {
    in.ch->pushEnd();
    resize.ch->pushEnd();
  };
  std::string big(100 * 1024, 'a');
  in.ch->push(big.data(), big.size());
  in.ch->push("xyz", 3);
  in.ch->pushEnd();
  std::string sz = "{\"Width\":120,\"Height\":40}\n{\"Width\":80,";
  resize.ch->push(sz.data(), sz.size());
  resize.ch->push("\"Height\":24}", 12);
  int code = runRemoteCommand(p, ch, 4);
  CHECK(code == 3);
  CHECK(out.text() == std::string(100 * 1024, 'A') + "XYZ");
  CHECK(err.text() == "bye\n");
  auto st = Json::parse(error.text());
  CHECK(st["status"] == "Failure");
  CHECK(st["reason"] == "NonZeroExitCode");
  CHECK(st["details"]["causes"][0]["reason"] == "ExitCode");
  CHECK(st["details"]["causes"][0]["message"] == "3");
  CHECK((out.closed && err.closed && error.closed));
  CHECK(sizes == std::vector<std::pair<int, int>>{{120, 40}, {80, 24}});
}

TEST_CASE("stream session: exit messages per protocol version") {
  CHECK(Json::parse(remoteCommandExitMessage(0, 4))["status"] == "Success");
  CHECK(remoteCommandExitMessage(0, 2).empty());
  CHECK(remoteCommandExitMessage(7, 3).find("exit status 7") != std::string::npos);
  CHECK(Json::parse(remoteCommandExitMessage(7, 5))["details"]["causes"][0]["message"] == "7");
  CHECK(remoteCommandVersion("v4.channel.k8s.io") == 4);
  CHECK(remoteCommandVersion("channel.k8s.io") == 1);
  CHECK(remoteCommandVersion("v9.channel.k8s.io") == 0);
}

namespace {
struct FakeBackend : StreamBackend {
  int port = 0;
  StreamProcess exec(const StreamTarget&, const StreamOptions&) override { return {}; }
  StreamProcess attach(const StreamTarget&, const StreamOptions&) override { return {}; }
  void checkPortForward(const std::string&, const std::string&) override {}
  int dialPort(const std::string&, const std::string&, int p) override {
    if (p != 80) throw std::runtime_error("dial tcp4 127.0.0.1:" + std::to_string(p) + ": connect: connection refused");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
  }
};
// A listening socket on 127.0.0.1 at a free port (the "pod"), its port in `port`.
int listenLoopback(int& port) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(ls, 4) == 0);
  socklen_t len = sizeof a;
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return ls;
}
}  // namespace

TEST_CASE("stream session: port-forward copies both ways; a refused port is reported on the error channel") {
  FakeBackend b;
  int ls = listenLoopback(b.port);
  // The "pod": answers whatever it got, once the client half-closed.
  bool replied = false;  // checked on the test's thread after join
  std::thread server([ls, &replied] {
    int c = accept(ls, nullptr, nullptr);
    std::string got;
    char buf[1024];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0) got.append(buf, size_t(n));
    std::string reply = "got:" + got;
    replied = write(c, reply.data(), reply.size()) == ssize_t(reply.size());
    close(c);
  });
  Collected data, error;
  data.ch->push("ping", 4);
  data.ch->pushEnd();
  runPortForward(b, "ns", "web", 80, *data.ch, *error.ch);
  server.join();
  close(ls);
  CHECK(replied);
  CHECK(data.text() == "got:ping");
  CHECK(data.closed);
  CHECK(error.closed);
  CHECK(error.text().empty());

  Collected data2, error2;
  runPortForward(b, "ns", "web", 81, *data2.ch, *error2.ch);
  CHECK(error2.text() == "error forwarding port 81 to pod web: dial tcp4 127.0.0.1:81: connect: connection refused");
  CHECK((error2.closed && data2.closed));
}

TEST_CASE("stream session: port-forward hands the pod's bytes to the transport with room for its headers") {
  FakeBackend b;
  int ls = listenLoopback(b.port);
  std::string body(3 << 20, '\0');  // several pod reads
  for (size_t i = 0; i < body.size(); ++i) body[i] = char(i * 13 + (i >> 11));
  bool wrote = false;  // checked on the test's thread after join
  std::thread pod([ls, &body, &wrote] {
    int c = accept(ls, nullptr, nullptr);
    wrote = write(c, body.data(), body.size()) == ssize_t(body.size());
    close(c);
  });
  // The transport: writes a "header" over the whole room it is lent, then takes the bytes.
  // The client's side ends once everything arrived (so neither direction waits on the other).
  std::mutex mu;
  std::string got;
  size_t inPlaceWrites = 0;
  QueuedChannel* self = nullptr;
  auto take = [&](const char* p, size_t n) {
    std::lock_guard<std::mutex> l(mu);
    got.append(p, n);
    if (got.size() == body.size()) self->pushEnd();
    return true;
  };
  auto data = std::make_shared<QueuedChannel>(take, nullptr, size_t(1) << 20, [&](char* p, size_t n, size_t room) {
    CHECK(room >= kFrameHeadroom);
    memset(p - room, 0x55, room);
    ++inPlaceWrites;
    return take(p, n);
  });
  self = data.get();
  Collected error;
  runPortForward(b, "ns", "web", 80, *data, *error.ch);
  pod.join();
  CHECK(wrote);
  close(ls);
  CHECK(got.size() == body.size());
  CHECK(got == body);
  CHECK(inPlaceWrites > 0);
  CHECK(error.text().empty());
}

TEST_CASE("stream session: request parameters as kube parses them") {
  httplib::Request req;
  req.params.emplace("command", "sh");
  req.params.emplace("command", "-c");
  req.params.emplace("command", "exit 3");
  req.params.emplace("stdin", "true");
  req.params.emplace("tty", "1");
  req.params.emplace("container", "c1");
  auto r = parseStreamRequest("exec", "ns", "p", req);
  CHECK(r.options.command == std::vector<std::string>{"sh", "-c", "exit 3"});
  CHECK((r.options.stdin && r.options.tty && r.options.stdout && r.options.stderr));
  CHECK(r.target.container == "c1");

  httplib::Request none;
  try {
    parseStreamRequest("exec", "ns", "p", none);
    FAIL("no command accepted");
  } catch (const ApiError& e) {
    CHECK(e.code == 400);
    CHECK(std::string(e.what()) == "you must specify at least 1 command");
  }
  httplib::Request quiet;
  quiet.params.emplace("stdout", "false");
  quiet.params.emplace("stderr", "false");
  CHECK_THROWS_AS(parseStreamRequest("attach", "ns", "p", quiet), ApiError);
  httplib::Request bad;
  bad.params.emplace("stdin", "maybe");
  CHECK_THROWS_AS(parseStreamRequest("attach", "ns", "p", bad), ApiError);

  httplib::Request pf;
  pf.params.emplace("ports", "80,8080");
  pf.params.emplace("ports", "9090");
  CHECK(parseStreamRequest("portforward", "ns", "p", pf).ports == std::vector<int>{80, 8080, 9090});
  httplib::Request pfBad;
  pfBad.params.emplace("ports", "70000");
  CHECK_THROWS_AS(parseStreamRequest("portforward", "ns", "p", pfBad), ApiError);
}
