// API errors. Every failure that reaches a client is a Kubernetes Status
// (DESIGN rule 7); code paths throw ApiError and the HTTP layer serialises it.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

struct StatusCause {
  std::string reason;   // e.g. FieldValueInvalid, FieldValueRequired, FieldValueDuplicate
  std::string message;  // e.g. Invalid value: "Foo": a lowercase RFC 1123 ...
  std::string field;    // e.g. metadata.name, spec.template.spec.containers[0].name
};

class ApiError : public std::runtime_error {
 public:
  ApiError(int code, std::string reason, std::string message, Json details = nullptr)
      : std::runtime_error(message), code(code), reason(std::move(reason)), details(std::move(details)),
        message(std::move(message)) {}
  int code;
  std::string reason;  // NotFound, AlreadyExists, Conflict, Invalid, BadRequest, ...
  Json details;        // {name, group, kind, causes[]} or null
  // The whole message; what() stops at the first NUL byte, this does not.
  std::string message;

  Json toStatus() const;  // kind: Status, apiVersion: v1, status: Failure, ...
};

// s quoted as Go's %q (strconv.Quote) prints it, the way kube's messages quote names and values:
// "a\x00b", "\xff" for a byte that is not UTF-8, "\u00a0" for a non-printable rune.
std::string goQuote(const std::string& s);

// Constructors named after kube-apiserver's errors package. `gr` is the
// group-qualified plural as kube prints it: "pods", "deployments.apps".
ApiError notFound(const std::string& gr, const std::string& name);
ApiError alreadyExists(const std::string& gr, const std::string& name);
ApiError conflict(const std::string& gr, const std::string& name, const std::string& why);
ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                 const std::vector<StatusCause>& causes);
ApiError badRequest(const std::string& message);
ApiError methodNotSupported(const std::string& gr, const std::string& verb);
ApiError gone(const std::string& message);
ApiError forbidden(const std::string& message);
ApiError unauthorized();
ApiError unsupportedMediaType(const std::string& contentType);
ApiError tooLarge(const std::string& message);
ApiError notAcceptable(const std::string& message);
ApiError internalError(const std::string& message);

// A Status for success (used by DELETE of some kinds and deletecollection).
Json successStatus(const Json& details = nullptr);

}  // namespace k1s
