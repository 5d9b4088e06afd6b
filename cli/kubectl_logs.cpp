// `k1s logs`: a pod's container logs from the pods/log subresource, for
// POD, TYPE/NAME (a controller's or service's pod, chosen like kubectl) or
// -l SELECTOR (several pods, followed concurrently with -f).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "cli/kubectl_verbs.h"
#include "common/meta.h"

namespace k1s::cli {

namespace {

const char* kUsage =
    "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument "
    "for the logs command\nSee 'k1s logs -h' for help and examples";

// One container's log to fetch.
struct LogSource {
  std::string pod, container;
};

// labelSelector text for a workload's spec.selector, or a Service's map.
std::string selectorText(const Json& sel, bool plainMap) {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ",") + part; };
  Json labels = plainMap ? sel : sel.value("matchLabels", Json::object());
  for (auto& [k, v] : labels.items()) add(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  if (!plainMap)
    for (auto& e : sel.value("matchExpressions", Json::array())) {
      std::string op = e.value("operator", ""), key = e.value("key", ""), vals;
      for (auto& v : e.value("values", Json::array())) vals += (vals.empty() ? "" : ",") + v.get<std::string>();
      if (op == "In") add(key + " in (" + vals + ")");
      if (op == "NotIn") add(key + " notin (" + vals + ")");
      if (op == "Exists") add(key);
      if (op == "DoesNotExist") add("!" + key);
    }
  return s;
}

bool podReady(const Json& pod) {
  for (auto& c : pod.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

int restarts(const Json& pod) {
  int n = 0;
  for (auto& cs : pod.value("status", Json::object()).value("containerStatuses", Json::array()))
    n = std::max(n, cs.value("restartCount", 0));
  return n;
}

// kubectl's podutils.ByLogging: scheduled before unscheduled, running before
// unknown before pending, ready before not, more restarts first, older first.
bool betterForLogs(const Json& a, const Json& b) {
  bool sa = !a["spec"].value("nodeName", "").empty(), sb = !b["spec"].value("nodeName", "").empty();
  if (sa != sb) return sa;
  auto rank = [](const Json& p) {
    std::string ph = p.value("status", Json::object()).value("phase", "");
    return ph == "Running" ? 0 : ph == "Unknown" ? 1 : ph == "Pending" ? 2 : 3;
  };
  if (rank(a) != rank(b)) return rank(a) < rank(b);
  if (podReady(a) != podReady(b)) return podReady(a);
  if (restarts(a) != restarts(b)) return restarts(a) > restarts(b);
  return metaOf(a).value("creationTimestamp", "") < metaOf(b).value("creationTimestamp", "");
}

Json listPods(Kubectl& k, const std::string& ns, const std::string& selector) {
  return k.client().get("/api/v1/namespaces/" + ns + "/pods" + queryString({{"labelSelector", selector}}));
}

// The pod behind TYPE/NAME: the object itself for pods, else the best pod
// matching its selector, waiting up to --pod-running-timeout for one.
Json podFor(Kubectl& k, const std::string& type, const std::string& name, const std::string& ns) {
  auto& r = k.resolve(type);
  auto reply = k.client().request("GET", r.itemPath(ns, name));
  if (reply.status == 404)
    throw CliError("error: error from server (NotFound): " + r.groupResource() + " \"" + name +
                   "\" not found in namespace \"" + ns + "\"");
  throwForReply(reply);
  Json obj = Json::parse(reply.body);
  if (r.kind == "Pod") return obj;
  std::string selector;
  if (r.kind == "Service") {
    selector = selectorText(obj["spec"].value("selector", Json::object()), true);
    if (selector.empty()) throw CliError("error: cannot attach to *v1.Service: selector is empty");
  } else if (obj.contains("spec") && obj["spec"].contains("selector")) {
    selector = selectorText(obj["spec"]["selector"], false);
  } else {
    throw CliError("error: cannot get the logs from " + r.kindPrefix() + ": selector for " + r.kindPrefix() +
                   " not implemented");
  }
  double timeout = 20;
  if (k.args.has("pod-running-timeout")) {
    try {
      timeout = parseGoDuration(k.args.get("pod-running-timeout"));
    } catch (const std::exception& e) {
      throw CliError(std::string("error: invalid argument \"") + k.args.get("pod-running-timeout") +
                     "\" for \"--pod-running-timeout\" flag: " + e.what());
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long long>(timeout * 1000));
  while (true) {
    Json pods = listPods(k, ns, selector).value("items", Json::array());
    if (!pods.empty()) {
      std::vector<Json> v(pods.begin(), pods.end());
      std::sort(v.begin(), v.end(), betterForLogs);
      if (v.size() > 1) k.err << "Found " << v.size() << " pods, using pod/" << nameOf(v[0]) << "\n";
      return v[0];
    }
    if (std::chrono::steady_clock::now() >= deadline) throw CliError("error: timed out waiting for the condition");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::vector<std::string> containerNames(const Json& pod, const char* field) {
  std::vector<std::string> names;
  for (auto& c : pod.value("spec", Json::object()).value(field, Json::array())) names.push_back(c.value("name", ""));
  return names;
}

// The containers to read: -c, every one with --all-containers (init first),
// else the default container (saying so when there was a choice).
std::vector<LogSource> sourcesFor(Kubectl& k, const Json& pod, bool announceDefault) {
  std::string name = nameOf(pod);
  auto init = containerNames(pod, "initContainers"), main = containerNames(pod, "containers");
  if (k.args.has("container")) {
    // kubectl looks the container up in the pod itself; only then does it ask the server.
    std::string c = k.args.get("container");
    auto eph = containerNames(pod, "ephemeralContainers");
    auto in = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), c) != v.end(); };
    if (!in(main) && !in(init) && !in(eph))
      throw CliError("error: container " + c + " is not valid for pod " + name);
    return {{name, c}};
  }
  std::vector<LogSource> out;
  if (k.args.flag("all-containers")) {
    for (auto& c : init) out.push_back({name, c});
    for (auto& c : main) out.push_back({name, c});
    for (auto& c : containerNames(pod, "ephemeralContainers")) out.push_back({name, c});
    return out;
  }
  if (main.empty()) throw CliError("error: pod " + name + " has no containers");
  std::string chosen = main[0];
  std::string annotated = metaOf(pod).value("annotations", Json::object()).value("kubectl.kubernetes.io/default-container", "");
  if (!annotated.empty() && std::find(main.begin(), main.end(), annotated) != main.end()) {
    chosen = annotated;
  } else if (main.size() > 1 && announceDefault) {
    std::string all;
    for (auto& c : main) all += (all.empty() ? "" : ", ") + c;
    for (auto& c : init) all += ", " + c + " (init)";
    k.err << "Defaulted container \"" << chosen << "\" out of: " << all << "\n";
  }
  return {{name, chosen}};
}

struct LogOptions {
  std::vector<std::pair<std::string, std::string>> query;  // without container
  bool follow = false, prefix = false, ignoreErrors = false;
};

LogOptions logOptions(Kubectl& k, bool selectorMode) {
  auto& a = k.args;
  LogOptions o;
  o.follow = a.flag("follow");
  o.prefix = a.flag("prefix");
  o.ignoreErrors = a.flag("ignore-errors");
  if (a.has("since") && a.has("since-time"))
    throw CliError("error: at most one of `sinceTime` or `sinceSeconds` may be specified");
  if (o.follow) o.query.emplace_back("follow", "true");
  if (a.flag("previous")) o.query.emplace_back("previous", "true");
  if (a.flag("timestamps")) o.query.emplace_back("timestamps", "true");
  if (a.has("since")) {
    double secs;
    try {
      secs = parseGoDuration(a.get("since"));
    } catch (const std::exception& e) {
      throw CliError("error: invalid argument \"" + a.get("since") + "\" for \"--since\" flag: " + e.what() +
                     "\nSee 'k1s logs --help' for usage.");
    }
    // kubectl rounds up to whole seconds and never sends 0.
    long long s = static_cast<long long>(secs);
    if (s < secs) ++s;
    if (s <= 0) throw CliError("error: --since must be greater than 0");
    o.query.emplace_back("sinceSeconds", std::to_string(s));
  }
  if (a.has("since-time")) {
    if (parseRfc3339(a.get("since-time")) < 0)
      throw CliError("error: --since-time must be a timestamp in RFC3339 format (e.g. 2006-01-02T15:04:05Z)");
    o.query.emplace_back("sinceTime", a.get("since-time"));
  }
  // Without a selector all lines; with one, the last 10 unless --tail says otherwise.
  long long tail = selectorMode ? 10 : -1;
  if (a.has("tail")) {
    try {
      tail = std::stoll(a.get("tail"));
    } catch (const std::exception&) {
      throw CliError("error: invalid argument \"" + a.get("tail") + "\" for \"--tail\" flag: strconv.ParseInt: "
                     "parsing \"" + a.get("tail") + "\": invalid syntax");
    }
  }
  if (tail >= 0) o.query.emplace_back("tailLines", std::to_string(tail));
  if (a.has("limit-bytes")) o.query.emplace_back("limitBytes", a.get("limit-bytes"));
  return o;
}

// Streams one container's log to `out` (each line prefixed when asked).
// Returns the error text ("" on success).
std::string streamLog(RestClient& client, const std::string& ns, const LogSource& src, const LogOptions& o,
                      std::ostream& out, std::mutex& outMutex) {
  auto q = o.query;
  q.insert(q.begin(), {"container", src.container});
  std::string path = "/api/v1/namespaces/" + ns + "/pods/" + src.pod + "/log" + queryString(q);
  std::string prefix = o.prefix ? "[pod/" + src.pod + "/" + src.container + "] " : "";
  int status = 0;
  std::string errorBody, partial;
  auto emit = [&](const std::string& text) {
    std::lock_guard<std::mutex> lock(outMutex);
    out << text;
    out.flush();
  };
  status = client.stream(
      path, "application/json, */*", [&](int s, const std::string&) { status = s; },
      [&](const char* data, size_t len) {
        if (status < 200 || status >= 300) {
          errorBody.append(data, len);
          return true;
        }
        if (prefix.empty()) {
          emit(std::string(data, len));
          return true;
        }
        // With prefixes only whole lines are written, so concurrent streams do not interleave mid-line.
        partial.append(data, len);
        std::string lines;
        size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
          lines += prefix + partial.substr(0, nl + 1);
          partial.erase(0, nl + 1);
        }
        if (!lines.empty()) emit(lines);
        return true;
      });
  if (!partial.empty()) emit(prefix + partial + "\n");
  if (status >= 200 && status < 300) return "";
  try {
    throwForReply({status, errorBody, "application/json"});
  } catch (const StatusError& e) {
    return formatStatusError(e.status);  // "Error from server (BadRequest): previous terminated container ..."
  }
  return "error: unexpected reply " + std::to_string(status);
}

}  // namespace

int cmdLogs(Kubectl& k) {
  auto& a = k.args;
  auto& pos = a.positional;
  bool selectorMode = a.has("selector");
  if (selectorMode && !pos.empty()) throw CliError("error: only a selector (-l) or a POD name is allowed\nSee 'k1s logs -h' for help and examples");
  if (!selectorMode && pos.empty()) throw CliError(kUsage);
  if (pos.size() > 2) throw CliError(kUsage);
  if (pos.size() == 2) {  // the old `logs POD CONTAINER` form
    if (a.has("container")) throw CliError("error: only one of -c or an inline [CONTAINER] arg is allowed");
    a.values["container"] = {pos[1]};
  }
  if (a.flag("all-containers") && a.has("container"))
    throw CliError("error: --all-containers=true should not be specified with container name " + a.get("container"));
  std::string ns = k.ns();
  LogOptions opts = logOptions(k, selectorMode);

  std::vector<LogSource> sources;
  if (selectorMode) {
    Json pods = listPods(k, ns, a.get("selector")).value("items", Json::array());
    if (pods.empty()) {
      k.err << "No resources found in " << ns << " namespace.\n";
      return 0;
    }
    for (auto& p : pods)
      for (auto& s : sourcesFor(k, p, false)) sources.push_back(s);
  } else {
    std::string arg = pos[0], type = "pod", name = arg;
    if (auto slash = arg.find('/'); slash != std::string::npos) {
      type = arg.substr(0, slash);
      name = arg.substr(slash + 1);
      if (type.empty() || name.empty())
        throw CliError("error: arguments in resource/name form must have a single resource and name");
    }
    Json pod = podFor(k, type, name, ns);
    sources = sourcesFor(k, pod, true);
  }

  int maxRequests = a.has("max-log-requests") ? std::stoi(a.get("max-log-requests")) : 5;
  if (opts.follow && sources.size() > static_cast<size_t>(maxRequests))
    throw CliError("error: you are attempting to follow " + std::to_string(sources.size()) +
                   " log streams, but maximum allowed concurrency is " + std::to_string(maxRequests) +
                   ", use --max-log-requests to increase the limit");

  std::mutex outMutex;
  std::vector<std::string> errors(sources.size());
  if (!opts.follow || sources.size() == 1) {
    // One after the other, in order, as kubectl does without -f.
    for (size_t i = 0; i < sources.size(); ++i) {
      errors[i] = streamLog(k.client(), ns, sources[i], opts, k.out, outMutex);
      if (!errors[i].empty() && !opts.ignoreErrors) {
        k.err << errors[i] << "\n";
        return 1;
      }
    }
  } else {
    // Followed streams run side by side, each on its own connection.
    std::vector<std::thread> threads;
    for (size_t i = 0; i < sources.size(); ++i)
      threads.emplace_back([&, i] {
        RestClient client(k.client().config());
        errors[i] = streamLog(client, ns, sources[i], opts, k.out, outMutex);
      });
    for (auto& t : threads) t.join();
  }
  int rc = 0;
  for (auto& e : errors)
    if (!e.empty()) {
      if (!opts.ignoreErrors) rc = 1;
      k.err << e << "\n";
    }
  return rc;
}

}  // namespace k1s::cli
