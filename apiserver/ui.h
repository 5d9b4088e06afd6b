// The built-in lab page at /ui/: one static HTML+JS file compiled into the binary. It holds no
// cluster data (its script reads the API with the learner's token), so it is served without auth.
#pragma once

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace k1s {

// Answers /ui and /ui/... (true) or leaves the request alone (false).
bool serveUi(const httplib::Request& req, httplib::Response& res);

}  // namespace k1s
