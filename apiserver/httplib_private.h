// Two of httplib's private members, for the API server's own accept loop (conn_gate.h).
//
// httplib (0.11, Debian 12's) offers no way to serve a connection someone else accepted:
// its accept loop hands every socket straight to a worker thread. The gate accepts
// itself, then serves a connection exactly as httplib's loop would, through httplib's
// own per-connection function, and ends its keep-alive and streaming loops on stop by
// taking back the listening socket, as httplib's stop() does. Both are private; the
// .cpp reaches them with the one access rule C++ leaves open to this (names in an
// explicit template instantiation are not access-checked). Nothing else uses it.
#pragma once
#include <httplib.h>

namespace k1s {

// Serves the connection on `fd` (TLS handshake, requests, keep-alive) and closes it.
bool serveHttplibConnection(httplib::SSLServer& srv, int fd);

// Marks the server stopped as its own stop() does: keep-alive loops and streaming answers
// see it and end. Returns the listening socket, which is now the caller's to close.
int takeHttplibListenSocket(httplib::Server& srv);

}  // namespace k1s
