#include "apiserver/http_resources.h"

#include <sstream>

#include "apiserver/discovery.h"
#include "apiserver/http_util.h"
#include "apiserver/schema.h"
#include "apiserver/table.h"
#include "apiserver/watch.h"
#include "common/log.h"
#include "common/meta.h"

namespace k1s {
namespace {

std::vector<std::string> splitPath(const std::string& p) {
  std::vector<std::string> out;
  std::stringstream ss(p);
  std::string seg;
  while (std::getline(ss, seg, '/'))
    if (!seg.empty()) out.push_back(seg);
  return out;
}

ApiError pathNotFound() { return ApiError(404, "NotFound", "the server could not find the requested resource"); }

ListOptions listOptions(const httplib::Request& req) {
  ListOptions o;
  o.labelSelector = queryParam(req, "labelSelector");
  o.fieldSelector = queryParam(req, "fieldSelector");
  o.continueToken = queryParam(req, "continue");
  o.resourceVersion = queryParam(req, "resourceVersion");
  auto lim = queryParam(req, "limit");
  auto to = queryParam(req, "timeoutSeconds");
  try {
    if (!lim.empty()) o.limit = std::stoll(lim);
    if (!to.empty()) o.timeoutSeconds = std::stoi(to);
  } catch (...) {
    throw badRequest("invalid limit or timeoutSeconds");
  }
  o.allowWatchBookmarks = queryBool(req, "allowWatchBookmarks");
  return o;
}

WriteOptions writeOptions(const httplib::Request& req) {
  WriteOptions o;
  auto dr = queryParam(req, "dryRun");
  if (!dr.empty() && dr != "All") throw badRequest("Invalid dry run value: " + dr);
  o.dryRun = dr == "All";
  o.fieldManager = queryParam(req, "fieldManager");
  o.fieldValidation = queryParam(req, "fieldValidation");
  if (!o.fieldValidation.empty() && o.fieldValidation != "Strict" && o.fieldValidation != "Warn" &&
      o.fieldValidation != "Ignore")
    throw badRequest("fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\"");
  return o;
}

DeleteOptions deleteOptions(const httplib::Request& req, size_t maxBody) {
  DeleteOptions o;
  Json body = Json::object();
  if (!req.body.empty()) body = decodeBody(req, maxBody);
  if (!body.is_object()) throw badRequest("DeleteOptions must be an object");
  if (body.contains("gracePeriodSeconds") && body["gracePeriodSeconds"].is_number_integer())
    o.gracePeriodSeconds = body["gracePeriodSeconds"].get<int64_t>();
  if (body.contains("propagationPolicy") && body["propagationPolicy"].is_string())
    o.propagationPolicy = body["propagationPolicy"].get<std::string>();
  else if (body.contains("propagationPolicy") && !body["propagationPolicy"].is_null())
    throw badRequest(std::string("json: cannot unmarshal ") + goJsonTypeWord(body["propagationPolicy"]) +
                     " into Go struct field DeleteOptions.propagationPolicy of type v1.DeletionPropagation");
  if (body.contains("orphanDependents") && body["orphanDependents"].is_boolean() &&
      body["orphanDependents"].get<bool>())
    o.propagationPolicy = "Orphan";
  if (body.contains("preconditions") && body["preconditions"].is_object()) {
    auto& p = body["preconditions"];
    if (p.contains("uid") && p["uid"].is_string()) o.preconditionUid = p["uid"].get<std::string>();
    if (p.contains("resourceVersion") && p["resourceVersion"].is_string())
      o.preconditionResourceVersion = p["resourceVersion"].get<std::string>();
  }
  if (body.contains("dryRun") && body["dryRun"].is_array() && !body["dryRun"].empty()) o.dryRun = true;
  auto g = queryParam(req, "gracePeriodSeconds");
  if (!g.empty()) {
    try {
      size_t end = 0;
      o.gracePeriodSeconds = std::stoll(g, &end);
      if (end != g.size()) throw std::invalid_argument(g);
    } catch (const std::exception&) {
      throw badRequest("strconv.ParseInt: parsing " + Json(g).dump() + ": invalid syntax");
    }
  }
  auto pp = queryParam(req, "propagationPolicy");
  if (!pp.empty()) o.propagationPolicy = pp;
  if (queryParam(req, "dryRun") == "All") o.dryRun = true;
  auto& pol = o.propagationPolicy;
  if (!pol.empty() && pol != "Orphan" && pol != "Background" && pol != "Foreground")
    throw invalid("", "DeleteOptions", "",
                  {{"FieldValueNotSupported",
                    "Unsupported value: \"" + pol + "\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
                    "propagationPolicy"}});
  return o;
}

// Warnings collected by the registry (unknown fields) become Warning headers, as kube sends them.
void sendWarnings(const std::vector<std::string>& warnings, httplib::Response& res) {
  std::string w;
  for (auto& u : warnings) {
    if (!w.empty()) w += ",";
    std::string esc;
    for (char c : u) {
      if (c == '"' || c == '\\') esc += '\\';
      esc += c;
    }
    w += "299 - \"" + esc + "\"";
  }
  if (!w.empty()) res.set_header("Warning", w);
}

Json asPartial(const Json& obj) {
  return {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", metaOf(obj)}};
}

// Re-renders a GET/LIST answer as the client asked in Accept.
Json render(const httplib::Request& req, const ResourceInfo& r, const Json& answer, bool isList) {
  if (acceptsAs(req, "Table")) {
    std::vector<Json> objs;
    if (isList) objs.assign(answer["items"].begin(), answer["items"].end());
    else objs.push_back(answer);
    auto inc = queryParam(req, "includeObject");
    Json t = toTable(r, objs, inc.empty() ? "Metadata" : inc, time(nullptr));
    t["metadata"]["resourceVersion"] = isList ? answer["metadata"].value("resourceVersion", "")
                                              : metaOf(answer).value("resourceVersion", "");
    if (isList && answer["metadata"].contains("continue")) t["metadata"]["continue"] = answer["metadata"]["continue"];
    return t;
  }
  if (acceptsAs(req, "PartialObjectMetadataList") || acceptsAs(req, "PartialObjectMetadata")) {
    if (!isList) return asPartial(answer);
    Json items = Json::array();
    for (auto& o : answer["items"]) items.push_back(asPartial(o));
    return {{"kind", "PartialObjectMetadataList"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", answer["metadata"]}, {"items", items}};
  }
  return answer;
}

void serveWatch(Registry& reg, const RequestInfo& ri, const httplib::Request& req, httplib::Response& res) {
  ListOptions lo = listOptions(req);
  if (!ri.name.empty()) {
    std::string f = "metadata.name=" + ri.name;
    lo.fieldSelector = lo.fieldSelector.empty() ? f : lo.fieldSelector + "," + f;
  }
  std::shared_ptr<Watch> w;
  try {
    w = reg.watch(*ri.res, ri.ns, lo);
  } catch (ApiError& e) {
    if (e.code != 410) throw;
    // A revision that left the event window: kube-apiserver's watch cache answers 200 with one
    // ERROR event carrying the Expired Status (client reflectors relist on it), then ends.
    res.status = 200;
    res.set_content("{\"type\":\"ERROR\",\"object\":" + e.toStatus().dump() + "}\n", "application/json;stream=watch");
    return;
  }
  auto* stream = dynamic_cast<StoreWatchStream*>(w.get());
  if (!stream) throw internalError("watch is not a store watch");
  bool table = acceptsAs(req, "Table");
  bool partial = acceptsAs(req, "PartialObjectMetadata") || acceptsAs(req, "PartialObjectMetadataList");
  const ResourceInfo* r = ri.res;
  auto first = std::make_shared<bool>(true);
  const httplib::Request* reqp = &req;
  res.status = 200;
  res.set_chunked_content_provider(
      "application/json;stream=watch",
      [w, stream, table, partial, r, first, reqp](size_t, httplib::DataSink& sink) {
        StoreWatchStream::Event e;
        if (stream->nextShared(e, std::chrono::milliseconds(1000))) {
          std::string line = "{\"type\":\"" + e.type + "\",\"object\":";
          if (e.type != "BOOKMARK" && table) {
            Json t = toTable(*r, {*e.object}, "Metadata", time(nullptr));
            t["metadata"]["resourceVersion"] = metaOf(*e.object).value("resourceVersion", "");
            if (!*first) t.erase("columnDefinitions");
            *first = false;
            line += t.dump();
          } else if (e.type != "BOOKMARK" && partial) {
            line += asPartial(*e.object).dump();
          } else if (e.encoded) {
            line += *e.encoded;  // made once at commit, shared by every watcher
          } else {
            line += e.object->dump();
          }
          line += "}\n";
          return sink.write(line.data(), line.size());
        }
        if (w->done()) {
          sink.done();
          return true;
        }
        // Nothing to send: end the stream if the client went away.
        return !peerClosed(*reqp) && sink.is_writable();
      },
      [w](bool) { w->stop(); });
}

}  // namespace

RequestInfo parseResourcePath(const std::string& path, Json* discovery) {
  auto seg = splitPath(path);
  RequestInfo ri;
  size_t i;
  std::string group;
  if (seg[0] == "api") {
    if (seg.size() < 2) throw pathNotFound();
    ri.groupVersion = seg[1];
    i = 2;
  } else {
    if (seg.size() == 2) {  // /apis/<group>
      auto g = discoveryGroup(seg[1]);
      if (g.is_null()) throw pathNotFound();
      *discovery = g;
      return ri;
    }
    if (seg.size() < 3) throw pathNotFound();
    group = seg[1];
    ri.groupVersion = seg[1] + "/" + seg[2];
    i = 3;
  }
  if (i == seg.size()) {
    auto d = discoveryResourceList(ri.groupVersion);
    if (d.is_null()) throw pathNotFound();
    *discovery = d;
    return ri;
  }
  std::string version = ri.groupVersion.substr(ri.groupVersion.find('/') + 1);
  if (seg[i] == "watch") {
    ri.watchPrefix = true;
    ++i;
  }
  auto known = [&](const std::string& plural) {
    auto* r = findResource(group, plural);
    return r && r->version == version ? r : nullptr;
  };
  std::vector<std::string> rest(seg.begin() + i, seg.end());
  if (rest.size() >= 3 && rest[0] == "namespaces" && known(rest[2]) && known(rest[2])->namespaced) {
    ri.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) throw pathNotFound();
  ri.res = known(rest[0]);
  if (!ri.res) throw pathNotFound();
  if (rest.size() >= 2) ri.name = rest[1];
  if (rest.size() == 3) {
    ri.sub = rest[2];
    bool ok = false;
    for (auto& s : ri.res->subresources) ok |= s == ri.sub;
    if (!ok) throw pathNotFound();
  }
  if (ri.res->namespaced && !ri.name.empty() && ri.ns.empty()) throw pathNotFound();
  return ri;
}

void serveResource(Registry& reg, const ApiServerOptions& opts, const httplib::Request& req, httplib::Response& res) {
  Json discovery;
  RequestInfo ri = parseResourcePath(req.path, &discovery);
  if (!ri.res) {
    if (req.method != "GET") throw ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    return sendJson(res, 200, discovery);
  }
  const ResourceInfo& r = *ri.res;
  const std::string& m = req.method;
  bool collection = ri.name.empty();
  bool watch = ri.watchPrefix || queryBool(req, "watch");

  // The node serves pods/log, exec, attach and portforward (common/pod_subresources.h); a request
  // for one gets here only when no node serves it.
  if (ri.sub == "log" || ri.sub == "exec" || ri.sub == "attach" || ri.sub == "portforward" || ri.sub == "proxy")
    throw ApiError(503, "ServiceUnavailable", r.plural + "/" + ri.sub + " is not available yet on this node");

  if (m == "GET") {
    if (watch) return serveWatch(reg, ri, req, res);
    if (collection) return sendJson(res, 200, render(req, r, reg.list(r, ri.ns, listOptions(req)), true));
    if (ri.sub.empty()) {
      auto obj = reg.getShared(r, ri.ns, ri.name);
      bool asIs = !acceptsAs(req, "Table") && !acceptsAs(req, "PartialObjectMetadata") &&
                  !acceptsAs(req, "PartialObjectMetadataList");
      return sendJson(res, 200, asIs ? *obj : render(req, r, *obj, false));  // as is: dumped without a copy
    }
    Json obj = reg.get(r, ri.ns, ri.name, ri.sub);
    return sendJson(res, 200, ri.sub == "scale" ? obj : render(req, r, obj, false));
  }
  if (m == "POST") {
    if (!collection && ri.sub == "binding") {
      // pods/binding: the scheduler's way of setting spec.nodeName once (the registry checks it).
      Json b = decodeBody(req, opts.maxBodyBytes);
      if (!b.is_object()) throw badRequest("the body of the request is not a JSON object");
      b["metadata"]["name"] = ri.name;
      reg.update(r, ri.ns, b, "binding");
      return sendJson(res, 201, successStatus());
    }
    if (!collection && ri.sub == "eviction") {
      // pods/eviction (kubectl drain): no PodDisruptionBudgets here, so an eviction is the
      // pod's deletion with the Eviction's deleteOptions; kube answers 201 with a Status.
      Json b = decodeBody(req, opts.maxBodyBytes);
      if (!b.is_object()) throw badRequest("the body of the request is not a JSON object");
      auto& em = metaOf(b);
      if (em.contains("name") && em["name"].is_string() && em["name"] != ri.name)
        throw badRequest("name in URL does not match name in Eviction object");
      DeleteOptions d;
      if (b.contains("deleteOptions") && b["deleteOptions"].is_object()) {
        auto& od = b["deleteOptions"];
        if (od.contains("gracePeriodSeconds") && od["gracePeriodSeconds"].is_number_integer())
          d.gracePeriodSeconds = od["gracePeriodSeconds"].get<int64_t>();
        if (od.contains("preconditions") && od["preconditions"].is_object()) {
          auto& p = od["preconditions"];
          if (p.contains("uid") && p["uid"].is_string()) d.preconditionUid = p["uid"].get<std::string>();
          if (p.contains("resourceVersion") && p["resourceVersion"].is_string())
            d.preconditionResourceVersion = p["resourceVersion"].get<std::string>();
        }
        if (od.contains("dryRun") && od["dryRun"].is_array() && !od["dryRun"].empty()) d.dryRun = true;
      }
      if (queryParam(req, "dryRun") == "All") d.dryRun = true;
      reg.remove(r, ri.ns, ri.name, d);
      Json st = successStatus();
      st["code"] = 201;
      return sendJson(res, 201, st);
    }
    if (!collection) throw methodNotSupported(r.groupResource(), "create");
    WriteOptions wo = writeOptions(req);
    std::vector<std::string> warnings;
    wo.warnings = &warnings;
    Json body = decodeBody(req, opts.maxBodyBytes);
    auto created = reg.createStored(r, ri.ns, std::move(body), wo);
    sendWarnings(warnings, res);
    if (!created.encoded) return sendJson(res, 201, *created.object);
    res.status = 201;
    res.set_content(*created.encoded, "application/json");  // the text just stored: no second dump
    return;
  }
  if (m == "PUT") {
    if (collection) throw methodNotSupported(r.groupResource(), "update");
    WriteOptions wo = writeOptions(req);
    std::vector<std::string> warnings;
    wo.warnings = &warnings;
    Json body = decodeBody(req, opts.maxBodyBytes);
    if (!body.is_object()) throw badRequest("the body of the request is not a JSON object");
    auto& bodyMeta = metaOf(body);
    if (bodyMeta.is_object() && bodyMeta.contains("name") && !bodyMeta["name"].is_string() && !bodyMeta["name"].is_null())
      throw badRequest(r.kind + " in version \"" + r.version + "\" cannot be handled as a " + r.kind +
                       ": json: cannot unmarshal " + goJsonTypeWord(bodyMeta["name"]) +
                       " into Go struct field ObjectMeta.metadata.name of type string");
    std::string bodyName = bodyMeta.is_object() && bodyMeta.contains("name") && bodyMeta["name"].is_string()
                               ? bodyMeta["name"].get<std::string>()
                               : "";
    if (!bodyName.empty() && bodyName != ri.name)
      throw badRequest("the name of the object (" + bodyName + ") does not match the name on the URL (" + ri.name + ")");
    if (!body.contains("metadata") || !body["metadata"].is_object()) body["metadata"] = Json::object();
    body["metadata"]["name"] = ri.name;
    std::string sub = ri.sub == "finalize" ? "status" : ri.sub;
    if (ri.sub == "finalize") {
      // Namespace finalize writes spec.finalizers, not status.
      Json cur = reg.get(r, ri.ns, ri.name);
      cur["spec"]["finalizers"] = body.contains("spec") ? body["spec"].value("finalizers", Json::array()) : Json::array();
      return sendJson(res, 200, reg.update(r, ri.ns, cur, "", wo));
    }
    Json updated = reg.update(r, ri.ns, std::move(body), sub, wo);
    sendWarnings(warnings, res);
    return sendJson(res, 200, updated);
  }
  if (m == "PATCH") {
    if (collection) throw methodNotSupported(r.groupResource(), "patch");
    std::string ct = req.get_header_value("Content-Type");
    ct = ct.substr(0, ct.find(';'));
    PatchType pt;
    if (ct == "application/merge-patch+json") pt = PatchType::Merge;
    else if (ct == "application/json-patch+json") pt = PatchType::JSON;
    else if (ct == "application/strategic-merge-patch+json") pt = PatchType::Strategic;
    else if (ct == "application/apply-patch+yaml") pt = PatchType::Apply;
    else
      throw ApiError(415, "UnsupportedMediaType",
                     "the body of the request was in an unknown format - accepted media types include: "
                     "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                     "application/strategic-merge-patch+json");
    WriteOptions wo = writeOptions(req);
    if (pt == PatchType::Apply && wo.fieldManager.empty())
      throw invalid("meta.k8s.io", "PatchOptions", "",
                    {{"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"}});
    std::vector<std::string> warnings;
    wo.warnings = &warnings;
    Json body = decodeBody(req, opts.maxBodyBytes);
    Json out = reg.patch(r, ri.ns, ri.name, pt, body, ri.sub, wo);
    sendWarnings(warnings, res);
    return sendJson(res, 200, out);
  }
  if (m == "DELETE") {
    DeleteOptions dopt = deleteOptions(req, opts.maxBodyBytes);
    if (collection) {
      if (r.kind == "Service" || r.kind == "Namespace") throw methodNotSupported(r.groupResource(), "deletecollection");
      return sendJson(res, 200, reg.removeCollection(r, ri.ns, listOptions(req), dopt));
    }
    if (!ri.sub.empty()) throw methodNotSupported(r.groupResource() + "/" + ri.sub, "delete");
    return sendJson(res, 200, reg.remove(r, ri.ns, ri.name, dopt));
  }
  throw ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

}  // namespace k1s
