// The pod subresources a node serves behind the API server — log, exec, attach and
// portforward — as kube-apiserver hands them to the kubelet. The API server routes
// /api/v1/namespaces/NS/pods/NAME/SUB to this interface (after authentication); the kubelet
// implements it. The two components meet here and through the API, nowhere else.
#pragma once
#include <string>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace k1s {

class PodSubresources {
 public:
  virtual ~PodSubresources() = default;
  // Whether `sub` ("log", "exec", ...) is served here.
  virtual bool serves(const std::string& sub) const = 0;
  // Answers the request (or takes the connection over for a stream). Throws ApiError for a
  // Status answer.
  virtual void serve(const std::string& sub, const std::string& ns, const std::string& pod,
                     const httplib::Request& req, httplib::Response& res) = 0;
};

}  // namespace k1s
