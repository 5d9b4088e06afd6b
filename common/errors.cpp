#include "common/errors.h"

namespace k1s {

Json ApiError::toStatus() const {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"}, {"message", what()}, {"reason", reason}, {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return s;
}

static Json nameDetails(const std::string& gr, const std::string& name) {
  // gr is "plural" or "plural.group"; details carry them separately.
  auto dot = gr.find('.');
  Json d = {{"name", name}, {"kind", gr.substr(0, dot)}};
  if (dot != std::string::npos) d["group"] = gr.substr(dot + 1);
  if (name.empty()) d.erase("name");
  return d;
}

ApiError notFound(const std::string& gr, const std::string& name) {
  return ApiError(404, "NotFound", gr + " \"" + name + "\" not found", nameDetails(gr, name));
}
ApiError alreadyExists(const std::string& gr, const std::string& name) {
  return ApiError(409, "AlreadyExists", gr + " \"" + name + "\" already exists", nameDetails(gr, name));
}
ApiError conflict(const std::string& gr, const std::string& name, const std::string& why) {
  return ApiError(409, "Conflict", "Operation cannot be fulfilled on " + gr + " \"" + name + "\": " + why,
                  nameDetails(gr, name));
}
ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                 const std::vector<StatusCause>& causes) {
  std::string qualified = group.empty() ? kind : kind + "." + group;
  std::string msg = qualified + " \"" + name + "\" is invalid: ";
  Json jc = Json::array();
  std::vector<std::string> parts;
  for (auto& c : causes) {
    jc.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
    parts.push_back(c.field.empty() ? c.message : c.field + ": " + c.message);
  }
  if (parts.size() == 1) {
    msg += parts[0];
  } else {
    msg += "[";
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    msg += "]";
  }
  Json d = {{"name", name}, {"kind", kind}, {"causes", jc}};
  if (!group.empty()) d["group"] = group;
  return ApiError(422, "Invalid", msg, d);
}
ApiError badRequest(const std::string& message) { return ApiError(400, "BadRequest", message); }
ApiError methodNotSupported(const std::string& gr, const std::string& verb) {
  return ApiError(405, "MethodNotAllowed", verb + " is not supported on resources of kind \"" + gr + "\"",
                  {{"kind", gr}});
}
ApiError gone(const std::string& message) { return ApiError(410, "Expired", message); }
ApiError forbidden(const std::string& message) { return ApiError(403, "Forbidden", message); }
ApiError unauthorized() { return ApiError(401, "Unauthorized", "Unauthorized"); }
ApiError unsupportedMediaType(const std::string& ct) {
  return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (content type \"" + ct + "\" is not supported)");
}
ApiError tooLarge(const std::string& message) { return ApiError(413, "RequestEntityTooLarge", message); }
ApiError notAcceptable(const std::string& message) { return ApiError(406, "NotAcceptable", message); }
ApiError internalError(const std::string& message) {
  return ApiError(500, "InternalError", "Internal error occurred: " + message);
}

Json successStatus(const Json& details) {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", "Success"}};
  if (!details.is_null()) s["details"] = details;
  return s;
}

}  // namespace k1s
