#include "apiserver/httplib_private.h"

#include <atomic>

namespace k1s {

namespace {

// The access rule: a friend defined inside a template that is explicitly instantiated with
// a pointer to a private member returns that pointer to whoever calls it by its tag.
template <class Tag, typename Tag::type Member>
struct PrivateMember {
  friend typename Tag::type get(Tag) { return Member; }
};

struct ProcessAndClose {
  using type = bool (httplib::SSLServer::*)(socket_t);
  friend type get(ProcessAndClose);
};
template struct PrivateMember<ProcessAndClose, &httplib::SSLServer::process_and_close_socket>;

struct ListenSocket {
  using type = std::atomic<socket_t> httplib::Server::*;
  friend type get(ListenSocket);
};
template struct PrivateMember<ListenSocket, &httplib::Server::svr_sock_>;

}  // namespace

bool serveHttplibConnection(httplib::SSLServer& srv, int fd) {
  // A virtual call: on an SSLServer object it is SSLServer's own (TLS) version.
  return (srv.*get(ProcessAndClose{}))(fd);
}

int takeHttplibListenSocket(httplib::Server& srv) { return (srv.*get(ListenSocket{})).exchange(INVALID_SOCKET); }

}  // namespace k1s
