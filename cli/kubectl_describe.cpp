// describe: the text layout engine (Go's tabwriter), shared sections
// (labels, annotations, containers, events) and the pod describer.
#include "cli/kubectl_describe.h"

#include <algorithm>
#include <ctime>
#include <sstream>
#include <vector>

#include "common/meta.h"

namespace k1s::cli {

namespace {

size_t runeWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// Go's tabwriter.format: a column block is a run of consecutive lines that all
// have a terminated cell in that column; each block is sized by its widest cell.
struct GoTab {
  std::vector<std::vector<std::string>> lines;  // cells; last cell is unterminated
  std::vector<size_t> widths;
  int padding;
  std::string out;

  void writeLines(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      auto& line = lines[i];
      for (size_t j = 0; j < line.size(); ++j) {
        out += line[j];
        if (j < widths.size() && j + 1 < line.size()) out.append(widths[j] - runeWidth(line[j]), ' ');
      }
      if (i + 1 < lines.size()) out += "\n";
    }
  }

  void format(size_t line0, size_t line1) {
    size_t column = widths.size();
    for (size_t cur = line0; cur < line1; ++cur) {
      if (column + 1 >= lines[cur].size()) continue;
      writeLines(line0, cur);
      line0 = cur;
      size_t width = 0;
      for (; cur < line1; ++cur) {
        if (column + 1 >= lines[cur].size()) break;
        width = std::max(width, runeWidth(lines[cur][column]) + padding);
      }
      widths.push_back(width);
      format(line0, cur);
      widths.pop_back();
      line0 = cur;
      if (cur >= line1) break;
      --cur;  // re-examine the line that ended the block
    }
    writeLines(line0, line1);
  }
};

std::string str(const Json& j, const char* key, const std::string& def = "") {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

}  // namespace

std::string goTabwrite(const std::string& text, int padding) {
  GoTab t;
  t.padding = padding;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    std::vector<std::string> cells;
    size_t start = 0, tab;
    while ((tab = line.find('\t', start)) != std::string::npos) {
      cells.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    cells.push_back(line.substr(start));
    t.lines.push_back(std::move(cells));
  }
  t.format(0, t.lines.size());
  if (!text.empty() && text.back() == '\n') t.out += "\n";
  return t.out;
}

std::string humanDuration(long long s) {
  auto n = [](long long v) { return std::to_string(v); };
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return n(s) + "s";
  long long minutes = s / 60;
  if (minutes < 10) return s % 60 == 0 ? n(minutes) + "m" : n(minutes) + "m" + n(s % 60) + "s";
  if (minutes < 180) return n(minutes) + "m";
  long long hours = s / 3600;
  if (hours < 8) return minutes % 60 == 0 ? n(hours) + "h" : n(hours) + "h" + n(minutes % 60) + "m";
  if (hours < 48) return n(hours) + "h";
  if (hours < 24 * 8) return hours % 24 == 0 ? n(hours / 24) + "d" : n(hours / 24) + "d" + n(hours % 24) + "h";
  if (hours < 24 * 365 * 2) return n(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    long long dy = (hours / 24) % 365;
    return dy == 0 ? n(hours / 24 / 365) + "y" : n(hours / 24 / 365) + "y" + n(dy) + "d";
  }
  return n(hours / 24 / 365) + "y";
}

std::string describeTime(const std::string& rfc3339) {
  long long t = parseRfc3339(rfc3339);
  if (t < 0) return "<unknown>";
  time_t tt = static_cast<time_t>(t);
  struct tm tmv {};
  localtime_r(&tt, &tmv);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tmv);
  return buf;
}

static std::string since(const std::string& ts, long long now) {
  long long t = parseRfc3339(ts);
  return t < 0 ? "<unknown>" : humanDuration(now - t);
}

std::string labelsMultiline(const std::string& title, const Json& labels) {
  std::string out = title + ":\t";
  if (!labels.is_object() || labels.empty()) return out + "<none>\n";
  bool first = true;
  for (auto& [k, v] : labels.items()) {
    if (!first) out += "\t";
    first = false;
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
  }
  return out;
}

std::string annotationsMultiline(const std::string& title, const Json& annotations) {
  const size_t maxLen = 140;
  std::string out = title + ":\t";
  std::vector<std::string> keys;
  if (annotations.is_object())
    for (auto& [k, v] : annotations.items())
      if (k != "kubectl.kubernetes.io/last-applied-configuration") keys.push_back(k);
  if (keys.empty()) return out + "<none>\n";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i) out += "\t";
    std::string value = annotations[keys[i]].is_string() ? annotations[keys[i]].get<std::string>() : annotations[keys[i]].dump();
    while (!value.empty() && value.back() == '\n') value.pop_back();
    if (value.size() + keys[i].size() + 2 > maxLen || value.find('\n') != std::string::npos) {
      out += keys[i] + ":\n";
      std::stringstream ss(value);
      std::string l;
      while (std::getline(ss, l)) {
        if (l.size() > maxLen - 2) l = l.substr(0, maxLen - 2) + "...";
        out += "\t  " + l + "\n";
      }
    } else {
      out += keys[i] + ": " + value + "\n";
    }
  }
  return out;
}

std::string eventsSection(const Json& eventList, long long now) {
  std::vector<Json> items;
  for (auto& e : eventList.value("items", Json::array())) items.push_back(e);
  if (items.empty()) return "Events:\t<none>\n";
  auto firstTime = [](const Json& e) {
    std::string t = str(e, "eventTime");
    return t.empty() ? str(e, "firstTimestamp") : t;
  };
  auto lastTime = [&](const Json& e) {
    std::string t = str(e, "lastTimestamp");
    return t.empty() ? firstTime(e) : t;
  };
  std::stable_sort(items.begin(), items.end(),
                   [&](const Json& a, const Json& b) { return parseRfc3339(lastTime(a)) < parseRfc3339(lastTime(b)); });
  // A lone "\n" line ends the tab block above, like kubectl's Flush before events.
  std::string out = "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n";
  for (auto& e : items) {
    std::string first = since(firstTime(e), now);
    std::string interval = first;
    int count = e.value("count", 0);
    if (e.contains("series") && e["series"].is_object()) {
      interval = since(str(e["series"], "lastObservedTime"), now) + " (x" + std::to_string(e["series"].value("count", 0)) +
                 " over " + first + ")";
    } else if (count > 1) {
      interval = since(lastTime(e), now) + " (x" + std::to_string(count) + " over " + first + ")";
    }
    std::string source = str(e.value("source", Json::object()), "component");
    if (source.empty()) source = str(e, "reportingComponent");
    std::string msg = str(e, "message");
    while (!msg.empty() && isspace(static_cast<unsigned char>(msg.back()))) msg.pop_back();
    out += "  " + str(e, "type") + "\t" + str(e, "reason") + "\t" + interval + "\t" + source + "\t" + msg + "\n";
  }
  return out;
}

std::string eventsFor(const Json& obj, const Fetch& fetch, long long now) {
  std::string uid = metaOf(obj).value("uid", "");
  std::string ns = namespaceOf(obj);
  std::string path = (ns.empty() ? "/api/v1/events" : "/api/v1/namespaces/" + ns + "/events") +
                     "?fieldSelector=involvedObject.uid%3D" + uid;
  Json list = uid.empty() ? Json() : fetch(path);
  return eventsSection(list.is_object() ? list : Json::object(), now);
}

static std::string portsText(const Json& ports, const char* field) {
  std::string out;
  for (auto& p : ports) {
    if (!out.empty()) out += ", ";
    out += std::to_string(p.value(field, 0)) + "/" + p.value("protocol", std::string("TCP"));
  }
  return out.empty() ? "<none>" : out;
}

static std::string stateLines(const Json& state, const std::string& title) {
  const std::string ind = "    ", sub = "      ";
  if (!state.is_object() || state.empty()) return ind + title + ":\tWaiting\n";
  if (state.contains("running")) {
    return ind + title + ":\tRunning\n" + sub + "Started:\t" + describeTime(str(state["running"], "startedAt")) + "\n";
  }
  if (state.contains("waiting")) {
    std::string out = ind + title + ":\tWaiting\n";
    if (!str(state["waiting"], "reason").empty()) out += sub + "Reason:\t" + str(state["waiting"], "reason") + "\n";
    return out;
  }
  if (state.contains("terminated")) {
    auto& t = state["terminated"];
    std::string out = ind + title + ":\tTerminated\n";
    if (!str(t, "reason").empty()) out += sub + "Reason:\t" + str(t, "reason") + "\n";
    if (!str(t, "message").empty()) out += sub + "Message:\t" + str(t, "message") + "\n";
    out += sub + "Exit Code:\t" + std::to_string(t.value("exitCode", 0)) + "\n";
    if (t.contains("signal")) out += sub + "Signal:\t" + std::to_string(t.value("signal", 0)) + "\n";
    out += sub + "Started:\t" + describeTime(str(t, "startedAt")) + "\n";
    out += sub + "Finished:\t" + describeTime(str(t, "finishedAt")) + "\n";
    return out;
  }
  return ind + title + ":\tWaiting\n";
}

static std::string probeText(const Json& p) {
  std::string action;
  if (p.contains("httpGet")) {
    auto& h = p["httpGet"];
    std::string scheme = h.value("scheme", std::string("HTTP"));
    for (auto& c : scheme) c = static_cast<char>(tolower(c));
    std::string port = h.contains("port") ? (h["port"].is_string() ? h["port"].get<std::string>() : h["port"].dump()) : "";
    action = "http-get " + scheme + "://" + h.value("host", std::string("")) + ":" + port + h.value("path", std::string(""));
  } else if (p.contains("tcpSocket")) {
    auto& port = p["tcpSocket"]["port"];
    action = "tcp-socket :" + (port.is_string() ? port.get<std::string>() : port.dump());
  } else if (p.contains("exec")) {
    std::string cmd;
    for (auto& c : p["exec"].value("command", Json::array())) cmd += (cmd.empty() ? "" : " ") + c.get<std::string>();
    action = "exec [" + cmd + "]";
  } else {
    action = "unknown";
  }
  auto n = [&](const char* k, int def) { return std::to_string(p.value(k, def)); };
  return action + " delay=" + n("initialDelaySeconds", 0) + "s timeout=" + n("timeoutSeconds", 1) + "s period=" +
         n("periodSeconds", 10) + "s #success=" + n("successThreshold", 1) + " #failure=" + n("failureThreshold", 3);
}

std::string podFieldValue(const Json& pod, const std::string& path) {
  Json meta = metaOf(pod);
  for (const char* map : {"labels", "annotations"}) {
    std::string prefix = std::string("metadata.") + map + "['";
    if (path.compare(0, prefix.size(), prefix) == 0 && path.size() > prefix.size() + 2)
      return str(meta.value(map, Json::object()), path.substr(prefix.size(), path.size() - prefix.size() - 2).c_str());
  }
  if (path == "metadata.name") return str(meta, "name");
  if (path == "metadata.namespace") return str(meta, "namespace");
  if (path == "metadata.uid") return str(meta, "uid");
  Json spec = pod.value("spec", Json::object()), status = pod.value("status", Json::object());
  if (path == "spec.nodeName") return str(spec, "nodeName");
  if (path == "spec.serviceAccountName") return str(spec, "serviceAccountName");
  if (path == "status.hostIP") return str(status, "hostIP");
  if (path == "status.podIP") return str(status, "podIP");
  return "";
}

std::string containersSection(const std::string& title, const Json& containers, const Json& statuses,
                              bool inTemplate, const Json& pod) {
  const std::string ind = "    ";
  std::string out = (inTemplate ? "  " : "") + title + ":\n";
  for (auto& c : containers) {
    std::string name = str(c, "name");
    out += (inTemplate ? "   " : "  ") + name + ":\n";
    Json st;
    for (auto& s : statuses)
      if (str(s, "name") == name) st = s;
    if (!st.is_null() && !str(st, "containerID").empty()) out += ind + "Container ID:\t" + str(st, "containerID") + "\n";
    out += ind + "Image:\t" + str(c, "image") + "\n";
    if (!st.is_null()) out += ind + "Image ID:\t" + str(st, "imageID") + "\n";
    Json ports = c.value("ports", Json::array());
    out += ind + "Port:\t" + portsText(ports, "containerPort") + "\n";
    out += ind + "Host Port:\t" + portsText(ports, "hostPort") + "\n";
    for (const char* key : {"command", "args"}) {
      Json list = c.value(key, Json::array());
      if (list.empty()) continue;
      out += ind + (std::string(key) == "command" ? "Command:" : "Args:") + "\n";
      for (auto& a : list) out += ind + "  " + (a.is_string() ? a.get<std::string>() : a.dump()) + "\n";
    }
    if (!st.is_null()) {
      out += stateLines(st.value("state", Json::object()), "State");
      if (st.contains("lastState") && !st["lastState"].empty()) out += stateLines(st["lastState"], "Last State");
      out += ind + "Ready:\t" + std::string(st.value("ready", false) ? "True" : "False") + "\n";
      out += ind + "Restart Count:\t" + std::to_string(st.value("restartCount", 0)) + "\n";
    }
    Json res = c.value("resources", Json::object());
    for (const char* kind : {"limits", "requests"}) {
      Json m = res.value(kind, Json::object());
      if (m.empty()) continue;
      out += ind + (std::string(kind) == "limits" ? "Limits:" : "Requests:") + "\n";
      for (auto& [k, v] : m.items()) out += ind + "  " + k + ":\t" + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
    }
    if (c.contains("livenessProbe")) out += ind + "Liveness:\t" + probeText(c["livenessProbe"]) + "\n";
    if (c.contains("readinessProbe")) out += ind + "Readiness:\t" + probeText(c["readinessProbe"]) + "\n";
    if (c.contains("startupProbe")) out += ind + "Startup:\t" + probeText(c["startupProbe"]) + "\n";
    Json env = c.value("env", Json::array());
    if (env.empty()) {
      out += ind + "Environment:\t<none>\n";
    } else {
      out += ind + "Environment:\n";
      for (auto& e : env) {
        std::string value = str(e, "value");
        if (e.contains("valueFrom")) {
          auto& vf = e["valueFrom"];
          if (vf.contains("fieldRef"))
            value = (pod.is_null() ? "" : podFieldValue(pod, str(vf["fieldRef"], "fieldPath"))) + " (" +
                    str(vf["fieldRef"], "apiVersion", "v1") + ":" + str(vf["fieldRef"], "fieldPath") + ")";
          else if (vf.contains("configMapKeyRef"))
            value = "<set to the key '" + str(vf["configMapKeyRef"], "key") + "' of config map '" +
                    str(vf["configMapKeyRef"], "name") + "'>\tOptional: " +
                    (vf["configMapKeyRef"].value("optional", false) ? "true" : "false");
          else if (vf.contains("secretKeyRef"))
            value = "<set to the key '" + str(vf["secretKeyRef"], "key") + "' in secret '" +
                    str(vf["secretKeyRef"], "name") + "'>\tOptional: " +
                    (vf["secretKeyRef"].value("optional", false) ? "true" : "false");
        }
        out += ind + "  " + str(e, "name") + ":\t" + value + "\n";
      }
    }
    Json mounts = c.value("volumeMounts", Json::array());
    if (mounts.empty()) {
      out += ind + "Mounts:\t<none>\n";
    } else {
      out += ind + "Mounts:\n";
      for (auto& m : mounts) {
        std::string flags = m.value("readOnly", false) ? "ro" : "rw";
        if (!str(m, "subPath").empty()) flags += ",path=\"" + str(m, "subPath") + "\"";
        out += ind + "  " + str(m, "mountPath") + " from " + str(m, "name") + " (" + flags + ")\n";
      }
    }
  }
  return out;
}

static std::string volumesSection(const Json& volumes, const std::string& indent) {
  if (volumes.empty()) return indent + "Volumes:\t<none>\n";
  std::string out = indent + "Volumes:\n";
  for (auto& v : volumes) {
    out += indent + "  " + str(v, "name") + ":\n";
    std::string i2 = indent + "    ";
    if (v.contains("configMap")) {
      out += i2 + "Type:\tConfigMap (a volume populated by a ConfigMap)\n" + i2 + "Name:\t" + str(v["configMap"], "name") +
             "\n" + i2 + "Optional:\t" + (v["configMap"].value("optional", false) ? "true" : "false") + "\n";
    } else if (v.contains("secret")) {
      out += i2 + "Type:\tSecret (a volume populated by a Secret)\n" + i2 + "SecretName:\t" + str(v["secret"], "secretName") +
             "\n" + i2 + "Optional:\t" + (v["secret"].value("optional", false) ? "true" : "false") + "\n";
    } else if (v.contains("emptyDir")) {
      out += i2 + "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n" + i2 + "Medium:\t" +
             str(v["emptyDir"], "medium") + "\n" + i2 + "SizeLimit:\t" + str(v["emptyDir"], "sizeLimit", "<unset>") + "\n";
    } else if (v.contains("hostPath")) {
      out += i2 + "Type:\tHostPath (bare host directory volume)\n" + i2 + "Path:\t" + str(v["hostPath"], "path") + "\n" +
             i2 + "HostPathType:\t" + str(v["hostPath"], "type") + "\n";
    } else if (v.contains("projected")) {
      out += i2 + "Type:\tProjected (a volume that contains injected data from multiple sources)\n";
    } else {
      out += i2 + "Type:\t<unknown>\n";
    }
  }
  return out;
}

static std::string tolerationsMultiline(const std::string& title, const Json& tolerations) {
  std::string out = title + ":\t";
  if (!tolerations.is_array() || tolerations.empty()) return out + "<none>\n";
  bool first = true;
  for (auto& t : tolerations) {
    if (!first) out += "\t";
    first = false;
    std::string s = str(t, "key");
    if (!str(t, "value").empty()) s += "=" + str(t, "value");
    if (!str(t, "effect").empty()) s += ":" + str(t, "effect");
    if (str(t, "operator") == "Exists" && str(t, "value").empty()) s += " op=Exists";
    if (t.contains("tolerationSeconds") && !t["tolerationSeconds"].is_null())
      s += " for " + t["tolerationSeconds"].dump() + "s";
    out += s + "\n";
  }
  return out;
}

std::string podTemplateSection(const Json& tmpl, long long now) {
  Json meta = tmpl.value("metadata", Json::object());
  Json spec = tmpl.value("spec", Json::object());
  std::string out = "Pod Template:\n";
  out += labelsMultiline("  Labels", meta.value("labels", Json::object()));
  if (!meta.value("annotations", Json::object()).empty())
    out += annotationsMultiline("  Annotations", meta["annotations"]);
  if (!str(spec, "serviceAccountName").empty()) out += "  Service Account:\t" + str(spec, "serviceAccountName") + "\n";
  if (!spec.value("initContainers", Json::array()).empty())
    out += containersSection("Init Containers", spec["initContainers"], Json::array(), true, nullptr);
  out += containersSection("Containers", spec.value("containers", Json::array()), Json::array(), true, nullptr);
  out += volumesSection(spec.value("volumes", Json::array()), "  ");
  out += labelsMultiline("  Node-Selectors", spec.value("nodeSelector", Json::object()));
  out += tolerationsMultiline("  Tolerations", spec.value("tolerations", Json::array()));
  return out;
}

static std::string qosClass(const Json& pod) {
  std::string q = str(pod.value("status", Json::object()), "qosClass");
  return q.empty() ? "BestEffort" : q;
}

std::string describePod(const Json& pod, const Fetch& fetch, long long now) {
  Json meta = metaOf(pod), spec = pod.value("spec", Json::object()), status = pod.value("status", Json::object());
  std::string out;
  out += "Name:\t" + str(meta, "name") + "\n";
  out += "Namespace:\t" + str(meta, "namespace") + "\n";
  if (spec.contains("priority")) out += "Priority:\t" + spec["priority"].dump() + "\n";
  if (!str(spec, "priorityClassName").empty()) out += "Priority Class Name:\t" + str(spec, "priorityClassName") + "\n";
  if (!str(spec, "runtimeClassName").empty()) out += "Runtime Class Name:\t" + str(spec, "runtimeClassName") + "\n";
  out += "Service Account:\t" + str(spec, "serviceAccountName") + "\n";
  std::string node = str(spec, "nodeName");
  out += "Node:\t" + (node.empty() ? "<none>" : node + "/" + str(status, "hostIP")) + "\n";
  if (!str(status, "startTime").empty()) out += "Start Time:\t" + describeTime(str(status, "startTime")) + "\n";
  out += labelsMultiline("Labels", meta.value("labels", Json::object()));
  out += annotationsMultiline("Annotations", meta.value("annotations", Json::object()));
  if (!str(meta, "deletionTimestamp").empty()) {
    out += "Status:\tTerminating (lasts " + since(str(meta, "deletionTimestamp"), now) + ")\n";
    out += "Termination Grace Period:\t" + std::to_string(meta.value("deletionGracePeriodSeconds", 0)) + "s\n";
  } else {
    out += "Status:\t" + str(status, "phase") + "\n";
  }
  if (!str(status, "reason").empty()) out += "Reason:\t" + str(status, "reason") + "\n";
  if (!str(status, "message").empty()) out += "Message:\t" + str(status, "message") + "\n";
  out += "IP:\t" + str(status, "podIP") + "\n";
  Json ips = status.value("podIPs", Json::array());
  if (ips.empty()) {
    out += "IPs:\t<none>\n";
  } else {
    out += "IPs:\n";
    for (auto& ip : ips) out += "  IP:\t" + str(ip, "ip") + "\n";
  }
  Json ctrl = controllerRef(pod);
  if (ctrl.is_object()) out += "Controlled By:\t" + str(ctrl, "kind") + "/" + str(ctrl, "name") + "\n";
  if (!spec.value("initContainers", Json::array()).empty())
    out += containersSection("Init Containers", spec["initContainers"], status.value("initContainerStatuses", Json::array()),
                             false, pod);
  out += containersSection("Containers", spec.value("containers", Json::array()),
                           status.value("containerStatuses", Json::array()), false, pod);
  Json conds = status.value("conditions", Json::array());
  if (!conds.empty()) {
    out += "Conditions:\n  Type\tStatus\n";
    for (auto& c : conds) out += "  " + str(c, "type") + " \t" + str(c, "status") + " \n";
  }
  out += volumesSection(spec.value("volumes", Json::array()), "");
  out += "QoS Class:\t" + qosClass(pod) + "\n";
  out += labelsMultiline("Node-Selectors", spec.value("nodeSelector", Json::object()));
  out += tolerationsMultiline("Tolerations", spec.value("tolerations", Json::array()));
  out += eventsFor(pod, fetch, now);
  return out;
}

}  // namespace k1s::cli
